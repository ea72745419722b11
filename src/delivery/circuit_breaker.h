// A circuit breaker per destination: while the destination is failing only one probe per interval
// goes out; a successful probe closes the circuit. A separate "paused" mode holds a destination
// whose token or permissions are wrong (TikTok 40001/40102/40104/40105/40300): its events wait, and
// probes go out at a slower interval until one succeeds or the configuration is reloaded.
#pragma once

#include <cstdint>
#include <mutex>
#include <string>

#include "core/clock.h"

namespace sluice::delivery {

enum class BreakerState {
  kClosed,    // healthy: every request allowed
  kOpen,      // failing: requests refused; one probe per probeIntervalMs
  kHalfOpen,  // a probe is out (given within the current interval); others refused
  kPaused,    // token / permission error: requests refused; one probe per pausedProbeIntervalMs
};
const char* breakerStateName(BreakerState state);  // "closed", "open", "half-open", "paused"

struct CircuitBreakerOptions {
  int failureThreshold = 5;             // consecutive failures that open the circuit (>= 1)
  int64_t probeIntervalMs = 30'000;     // open: at most one probe per interval
  int64_t pausedProbeIntervalMs = 60'000;  // paused: at most one probe per interval
};

// What allowRequest() grants.
enum class BreakerPermit {
  kDenied,  // do not send now; msUntilNextProbe() says when to ask again
  kNormal,  // closed: send as usual
  kProbe,   // send exactly one request (a small batch is wise) and report its result
};

// Thread-safe. Times come from clock.monotonicNs().
//
// Transitions:
//   closed   --failureThreshold consecutive recordFailure()-->           open
//   open     --allowRequest() once probeIntervalMs since opening / last probe--> half-open (kProbe)
//   half-open--recordSuccess()-->  closed        --recordFailure()-->  open (interval restarts)
//   half-open--another probeIntervalMs with no result--> a new probe is granted (a lost probe never
//              wedges the breaker)
//   any      --pause(reason)-->  paused (first probe after pausedProbeIntervalMs)
//   paused   --allowRequest() once per pausedProbeIntervalMs--> kProbe (state stays paused)
//   paused   --recordSuccess()--> closed;  recordFailure() or pause() keep it paused
//   paused/open/half-open --resume()--> half-open with a probe allowed immediately (SIGHUP reload)
// recordSuccess() from any state closes the circuit and resets the consecutive-failure count (a late
// success of a request sent before the circuit opened proves the destination works).
// The caller decides what counts as failure: retryable server errors, timeouts and connection errors
// do; throttling is better left to the concurrency limiter and backoff; per-event rejections are
// successes as far as the breaker is concerned (the server answered sensibly).
class CircuitBreaker {
 public:
  CircuitBreaker(CircuitBreakerOptions options, const Clock& clock);

  BreakerPermit allowRequest();
  void recordSuccess();
  void recordFailure();
  // Parks the destination. `reason` (no secrets: e.g. "40105 invalid access token") is kept for
  // status pages and alerts.
  void pause(std::string reason);
  // Leaves open/half-open/paused and lets the next allowRequest() send a probe at once.
  void resume();
  void reconfigure(CircuitBreakerOptions options);

  BreakerState state() const;
  std::string pauseReason() const;  // empty unless paused
  int consecutiveFailures() const;
  // 0 when a request (or probe) would be allowed now; otherwise ms until the next probe.
  int64_t msUntilNextProbe() const;
  // How many times the circuit opened / paused since construction (for metrics).
  uint64_t openCount() const;
  uint64_t probeCount() const;

 private:
  int64_t nowMsLocked() const;  // monotonic ms

  const Clock& clock_;
  mutable std::mutex mutex_;
  CircuitBreakerOptions options_;      // GUARDED_BY(mutex_)
  BreakerState state_ = BreakerState::kClosed;  // GUARDED_BY(mutex_)
  int failures_ = 0;                   // GUARDED_BY(mutex_)
  int64_t nextProbeAtMs_ = 0;          // GUARDED_BY(mutex_)
  std::string pauseReason_;            // GUARDED_BY(mutex_)
  uint64_t openCount_ = 0;             // GUARDED_BY(mutex_)
  uint64_t probeCount_ = 0;            // GUARDED_BY(mutex_)
};

}  // namespace sluice::delivery
