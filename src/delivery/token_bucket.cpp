#include "delivery/token_bucket.h"

#include <algorithm>
#include <cmath>

namespace sluice::delivery {

namespace {
// Absorbs floating-point error in the refill arithmetic (tryTake and msUntilAvailable agree on it).
constexpr double kEpsilon = 1e-6;
}  // namespace

TokenBucket::TokenBucket(double ratePerSecond, double burst, const Clock& clock)
    : clock_(clock),
      rate_(ratePerSecond),
      burst_(std::max(burst, 1.0)),
      tokens_(std::max(burst, 1.0)),
      lastNs_(clock.monotonicNs()) {}

void TokenBucket::refillLocked() const {
  int64_t now = clock_.monotonicNs();
  if (now > lastNs_) {
    tokens_ = std::min(burst_, tokens_ + rate_ * static_cast<double>(now - lastNs_) / 1e9);
    lastNs_ = now;
  }
}

bool TokenBucket::tryTake(double n) {
  std::lock_guard lock(mutex_);
  if (rate_ <= 0) return true;
  refillLocked();
  double needed = std::min(n, burst_);
  if (tokens_ + kEpsilon < needed) return false;
  tokens_ -= n;
  return true;
}

int64_t TokenBucket::msUntilAvailable(double n) const {
  std::lock_guard lock(mutex_);
  if (rate_ <= 0) return 0;
  refillLocked();
  double missing = std::min(n, burst_) - tokens_ - kEpsilon;
  if (missing <= 0) return 0;
  return static_cast<int64_t>(std::ceil(missing * 1000.0 / rate_));
}

void TokenBucket::reconfigure(double ratePerSecond, double burst) {
  std::lock_guard lock(mutex_);
  refillLocked();
  rate_ = ratePerSecond;
  burst_ = std::max(burst, 1.0);
  tokens_ = std::min(tokens_, burst_);
}

double TokenBucket::available() const {
  std::lock_guard lock(mutex_);
  if (rate_ > 0) refillLocked();
  return tokens_;
}

}  // namespace sluice::delivery
