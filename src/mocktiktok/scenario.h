// Scenarios of the fake TikTok: how it behaves over time (normal, HTTP 500s, token errors,
// throttling, timeouts, slow replies, dropped requests). Pure values and parsing; no I/O.
#pragma once

#include <cstdint>
#include <string>
#include <string_view>
#include <vector>

#include "core/result.h"

namespace sluice::mocktiktok {

enum class Mode {
  kOk,          // validate and answer as TikTok does
  kHttpStatus,  // answer with HTTP `status` and a non-JSON body (a load balancer's error page)
  kCode,        // answer HTTP 200 with TikTok body `code` (40001, 40100, 40105, 50000, ...)
  kTimeout,     // never answer (the request is held until the client gives up)
  kSlow,        // answer normally after `delayMs`
  kDrop,        // give no answer and close (approximated: see README.md)
};

struct Phase {
  int64_t durationMs = 0;  // 0: until the end of time
  Mode mode = Mode::kOk;
  int status = 200;        // kHttpStatus
  int code = 0;            // kCode
  int64_t delayMs = 0;     // kSlow
  // When set, the phase applies only to requests whose Access-Token equals `token` (or, with
  // `exceptToken`, only to those whose token differs); other requests are served normally.
  std::string token;
  std::string exceptToken;
};

struct Scenario {
  std::vector<Phase> phases;  // empty: always ok
  bool loop = false;          // after the last phase, start again (else: ok for ever)
};

// Parses a scenario from YAML or JSON, either a list of phases or {loop: bool, phases: [...]}.
// A phase: {duration: 30s, mode: ok|http500|http502|http<NNN>|code:40100|timeout|slow:2s|drop,
//           token: T, except_token: T}. `duration` takes the units of parseDurationMs (ms, s, m,
// h) or a number of milliseconds; a phase without duration lasts for ever.
// Errors are kInvalidArgument with the phase index and the offending value.
Result<Scenario> parseScenario(std::string_view text);

// Parses one mode string ("http500", "code:40105", "slow:2s", ...) into `phase`.
Result<void> parseMode(std::string_view text, Phase* phase);

// A short description of a phase's mode ("http500", "code:40105", "slow:2000ms", ...).
std::string modeName(const Phase& phase);

// The phase in force `elapsedMs` after the scenario started, or nullptr when none (ok).
// *index receives the phase's index (or -1).
const Phase* phaseAt(const Scenario& scenario, int64_t elapsedMs, int* index);

}  // namespace sluice::mocktiktok
