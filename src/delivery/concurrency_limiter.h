// Adaptive concurrency: how many requests a destination may have in flight at once. AIMD in the
// style of Netflix's concurrency-limits and TCP congestion control: the limit is cut
// multiplicatively when the destination throttles, fails or slows down, and grows additively (by
// about one per limit's worth of healthy replies) while requests actually use the current limit.
#pragma once

#include <chrono>
#include <cstdint>
#include <mutex>
#include <optional>

namespace sluice::delivery {

// What happened to one request, as far as flow control cares.
enum class RequestOutcome {
  kOk,         // a reply that shows the destination is healthy (delivered, or a permanent
               // per-event rejection: the server worked)
  kThrottled,  // rate limited: HTTP 429, TikTok codes 40100 / 40132 / 61000
  kError,      // overloaded or broken: 5xx, 50000-52999, timeout, connection error
  kIgnore,     // tells nothing about capacity (cancelled at shutdown, paused token): no change
};

struct ConcurrencyLimiterOptions {
  int initialLimit = 4;
  int minLimit = 1;
  int maxLimit = 32;
  double throttleBackoff = 0.5;   // limit *= this on kThrottled
  double errorBackoff = 0.75;     // limit *= this on kError
  double latencyBackoff = 0.9;    // limit *= this when latency rises
  // Latency "rises" when the short-term average exceeds latencyTolerance x the long-term baseline
  // plus latencySlack (the slack keeps sub-millisecond local noise from counting).
  double latencyTolerance = 2.0;
  std::chrono::microseconds latencySlack{5'000};
};

// A permit for one request in flight; give it back with release(). Move-only in spirit: release
// each permit exactly once.
struct ConcurrencyPermit {
  uint64_t generation = 0;  // the limiter's decrease generation when the permit was taken
  int inFlightAtAcquire = 0;  // requests in flight just after this one was admitted
};

// Thread-safe.
//
// Contract:
//  - tryAcquire() hands out a permit while inFlight() < limit(), else nullopt.
//  - release(permit, outcome, latency) gives the permit back and adapts the limit:
//      kThrottled / kError: limit *= throttleBackoff / errorBackoff (never below minLimit);
//      kOk with latency rising (see options): limit *= latencyBackoff;
//      kOk otherwise, if the limit was used (inFlight at acquire or at release, whichever is
//        larger, at least half the limit): limit += 1 / floor(limit), so +1 per round of
//        `limit` replies, never above maxLimit.
//    A decrease happens at most once per "generation": replies to requests that were already in
//    flight when the limit was last cut do not cut it again (a burst of throttled replies to one
//    window of requests counts as one congestion signal, as in TCP).
//  - The latency baseline is a slow moving average of kOk latencies (initialised by the first one);
//    while latency counts as rising it follows even more slowly, so a lasting new normal is
//    accepted after a few hundred replies.
class ConcurrencyLimiter {
 public:
  explicit ConcurrencyLimiter(ConcurrencyLimiterOptions options = {});

  std::optional<ConcurrencyPermit> tryAcquire();
  void release(const ConcurrencyPermit& permit, RequestOutcome outcome,
               std::chrono::microseconds latency);

  // The current limit, rounded down, within [minLimit, maxLimit].
  int limit() const;
  int inFlight() const;
  // The long-term latency baseline (0 before the first kOk sample). For metrics and tests.
  std::chrono::microseconds latencyBaseline() const;

 private:
  void decreaseLocked(double factor, uint64_t permitGeneration);  // REQUIRES(mutex_)
  int currentLimitLocked() const;                                  // REQUIRES(mutex_)

  const ConcurrencyLimiterOptions options_;
  mutable std::mutex mutex_;
  double limit_;                // GUARDED_BY(mutex_)
  int inFlight_ = 0;            // GUARDED_BY(mutex_)
  uint64_t generation_ = 0;     // GUARDED_BY(mutex_)
  double baselineUs_ = 0;       // GUARDED_BY(mutex_) long-term EWMA
  double recentUs_ = 0;         // GUARDED_BY(mutex_) short-term EWMA
};

}  // namespace sluice::delivery
