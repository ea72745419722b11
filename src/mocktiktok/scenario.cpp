#include "mocktiktok/scenario.h"

#include <yaml-cpp/yaml.h>

#include <charconv>

#include "core/time.h"

namespace sluice::mocktiktok {

namespace {

bool parseInt(std::string_view s, int* out) {
  if (s.empty()) return false;
  auto [ptr, ec] = std::from_chars(s.data(), s.data() + s.size(), *out);
  return ec == std::errc() && ptr == s.data() + s.size();
}

std::optional<int64_t> parseDuration(std::string_view text) {
  int64_t ms = 0;
  auto [ptr, ec] = std::from_chars(text.data(), text.data() + text.size(), ms);
  if (ec == std::errc() && ptr == text.data() + text.size() && ms >= 0) return ms;
  return parseDurationMs(text);
}

Result<Phase> parsePhase(const YAML::Node& node, size_t index) {
  std::string where = "phase " + std::to_string(index) + ": ";
  if (!node.IsMap()) return fail(ErrorCode::kInvalidArgument, where + "must be a mapping");
  Phase phase;
  for (const auto& entry : node) {
    std::string key = entry.first.as<std::string>();
    if (!entry.second.IsScalar()) {
      return fail(ErrorCode::kInvalidArgument, where + "'" + key + "' must be a scalar");
    }
    std::string value = entry.second.as<std::string>();
    if (key == "duration") {
      auto ms = parseDuration(value);
      if (!ms) return fail(ErrorCode::kInvalidArgument, where + "bad duration '" + value + "'");
      phase.durationMs = *ms;
    } else if (key == "mode") {
      if (auto r = parseMode(value, &phase); !r) {
        return fail(ErrorCode::kInvalidArgument, where + r.error().message);
      }
    } else if (key == "token") {
      phase.token = value;
    } else if (key == "except_token") {
      phase.exceptToken = value;
    } else {
      return fail(ErrorCode::kInvalidArgument, where + "unknown key '" + key + "'");
    }
  }
  return phase;
}

}  // namespace

Result<void> parseMode(std::string_view text, Phase* phase) {
  std::string bad = "unknown mode '" + std::string(text) +
                    "' (ok, httpNNN, code:NNNNN, timeout, slow:DURATION, drop)";
  if (text == "ok") {
    phase->mode = Mode::kOk;
  } else if (text == "timeout") {
    phase->mode = Mode::kTimeout;
  } else if (text == "drop") {
    phase->mode = Mode::kDrop;
  } else if (text.starts_with("http")) {
    int status;
    if (!parseInt(text.substr(4), &status) || status < 100 || status > 599) {
      return fail(ErrorCode::kInvalidArgument, bad);
    }
    phase->mode = Mode::kHttpStatus;
    phase->status = status;
  } else if (text.starts_with("code:")) {
    int code;
    if (!parseInt(text.substr(5), &code) || code < 0) return fail(ErrorCode::kInvalidArgument, bad);
    phase->mode = Mode::kCode;
    phase->code = code;
  } else if (text.starts_with("slow:")) {
    auto ms = parseDuration(text.substr(5));
    if (!ms) return fail(ErrorCode::kInvalidArgument, bad);
    phase->mode = Mode::kSlow;
    phase->delayMs = *ms;
  } else {
    return fail(ErrorCode::kInvalidArgument, bad);
  }
  return ok();
}

std::string modeName(const Phase& phase) {
  switch (phase.mode) {
    case Mode::kOk: return "ok";
    case Mode::kHttpStatus: return "http" + std::to_string(phase.status);
    case Mode::kCode: return "code:" + std::to_string(phase.code);
    case Mode::kTimeout: return "timeout";
    case Mode::kSlow: return "slow:" + std::to_string(phase.delayMs) + "ms";
    case Mode::kDrop: return "drop";
  }
  return "ok";
}

Result<Scenario> parseScenario(std::string_view text) {
  YAML::Node root;
  try {
    root = YAML::Load(std::string(text));
  } catch (const YAML::Exception& e) {
    return fail(ErrorCode::kInvalidArgument, std::string("scenario is not YAML/JSON: ") + e.what());
  }
  Scenario scenario;
  try {
    YAML::Node phases = root;
    if (root.IsMap()) {
      for (const auto& entry : root) {
        std::string key = entry.first.as<std::string>();
        if (key != "loop" && key != "phases") {
          return fail(ErrorCode::kInvalidArgument, "scenario: unknown key '" + key + "'");
        }
      }
      if (root["loop"]) scenario.loop = root["loop"].as<bool>();
      phases = root["phases"];
    }
    if (!phases || phases.IsNull()) return scenario;
    if (!phases.IsSequence()) {
      return fail(ErrorCode::kInvalidArgument, "scenario: phases must be a list");
    }
    for (size_t i = 0; i < phases.size(); ++i) {
      auto phase = parsePhase(phases[i], i);
      if (!phase) return fail(phase.error());
      scenario.phases.push_back(std::move(*phase));
    }
  } catch (const YAML::Exception& e) {
    return fail(ErrorCode::kInvalidArgument, std::string("scenario: ") + e.what());
  }
  if (scenario.loop) {
    for (const Phase& p : scenario.phases) {
      if (p.durationMs == 0) {
        return fail(ErrorCode::kInvalidArgument, "scenario: a looping scenario needs durations");
      }
    }
  }
  return scenario;
}

const Phase* phaseAt(const Scenario& scenario, int64_t elapsedMs, int* index) {
  *index = -1;
  if (scenario.phases.empty()) return nullptr;
  int64_t total = 0;
  for (const Phase& p : scenario.phases) total += p.durationMs;
  if (scenario.loop && total > 0) elapsedMs %= total;
  int64_t start = 0;
  for (size_t i = 0; i < scenario.phases.size(); ++i) {
    const Phase& p = scenario.phases[i];
    if (p.durationMs == 0 || elapsedMs < start + p.durationMs) {
      *index = static_cast<int>(i);
      return &p;
    }
    start += p.durationMs;
  }
  return nullptr;
}

}  // namespace sluice::mocktiktok
