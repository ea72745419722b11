// Retry delays: full-jitter exponential backoff, and how a server's Retry-After combines with it.
#pragma once

#include <cstdint>
#include <optional>
#include <string_view>

#include "core/clock.h"

namespace sluice::delivery {

// Produces the delay before each successive retry of one unit of work (a batch, a probe series).
class BackOffStrategy {
 public:
  virtual ~BackOffStrategy() = default;
  // The delay before the next attempt, in milliseconds. Each call counts as one more attempt.
  virtual uint64_t nextBackOffMs() = 0;
  // Forgets the attempts made so far (call after a success); the next delay is a first one again.
  virtual void reset() = 0;
};

// Full jitter (AWS Architecture Blog, "Exponential Backoff And Jitter"): attempt n (0-based since the
// last reset) waits a uniformly random time in [0, min(capMs, baseMs * 2^n)], both ends included.
// With a Random whose next() always returns r, attempt n waits r % (min(cap, base * 2^n) + 1).
// Requires baseMs >= 1 and capMs >= baseMs (values are clamped to satisfy this). Not thread-safe:
// one instance per retried unit of work; `random` must outlive it.
class JitteredExponentialBackOff final : public BackOffStrategy {
 public:
  JitteredExponentialBackOff(uint64_t baseMs, uint64_t capMs, Random& random);
  uint64_t nextBackOffMs() override;
  void reset() override { attempt_ = 0; }
  // The number of delays handed out since the last reset.
  uint32_t attempts() const { return attempt_; }

 private:
  uint64_t baseMs_;
  uint64_t capMs_;
  Random& random_;
  uint32_t attempt_ = 0;
};

// How a caller honours a reply's Retry-After: it waits at least what the server asked for, and at
// least its own backoff, i.e. max(retryAfterMs, backoffMs). An absent Retry-After counts as 0.
// The backoff's attempt counter advances either way (call nextBackOffMs() for every retry).
inline uint64_t retryDelayMs(uint64_t backoffMs, std::optional<uint64_t> retryAfterMs) {
  return retryAfterMs && *retryAfterMs > backoffMs ? *retryAfterMs : backoffMs;
}

// Parses a Retry-After header value: delay-seconds ("120") or an HTTP-date
// ("Fri, 31 Dec 1999 23:59:59 GMT", IMF-fixdate only) relative to nowMs. Returns the delay in
// milliseconds (0 for a date in the past), or nullopt for an empty or malformed value. Delays are
// capped at 24 hours so that a hostile header cannot park a destination forever.
std::optional<uint64_t> parseRetryAfterMs(std::string_view value, EpochMs nowMs);

}  // namespace sluice::delivery
