// A token bucket rate limiter, used per destination for requests/s and events/s.
#pragma once

#include <cstdint>
#include <mutex>

#include "core/clock.h"

namespace sluice::delivery {

// Tokens refill continuously at `ratePerSecond` up to `burst`; the bucket starts full. Time comes
// from clock.monotonicNs(). Thread-safe. `clock` must outlive the bucket.
//
// A request for more tokens than `burst` (a 1,000-event batch against an events/s bucket of burst
// 500) is never refused forever: it is granted once the bucket is full, and the bucket then goes
// into debt (negative tokens) that later refills pay back. So the long-run rate always holds.
class TokenBucket {
 public:
  // ratePerSecond <= 0 means "unlimited" (every take succeeds). burst is clamped to >= 1.
  TokenBucket(double ratePerSecond, double burst, const Clock& clock);

  // Takes n tokens if available now (see the class comment for n > burst) and returns true;
  // otherwise takes nothing and returns false.
  bool tryTake(double n = 1);

  // Milliseconds until tryTake(n) would succeed if nobody else took tokens meanwhile; 0 if it would
  // succeed now. Rounded up, so waiting this long is always enough.
  int64_t msUntilAvailable(double n = 1) const;

  // Changes the rate and burst (configuration reload). Current tokens are kept, clamped to burst.
  void reconfigure(double ratePerSecond, double burst);

  // Tokens available now (may be negative while in debt). For metrics and tests.
  double available() const;

 private:
  void refillLocked() const;  // REQUIRES(mutex_)

  const Clock& clock_;
  mutable std::mutex mutex_;
  double rate_;              // GUARDED_BY(mutex_) tokens per second; <= 0 = unlimited
  double burst_;             // GUARDED_BY(mutex_)
  mutable double tokens_;    // GUARDED_BY(mutex_)
  mutable int64_t lastNs_;   // GUARDED_BY(mutex_)
};

}  // namespace sluice::delivery
