#include "delivery/concurrency_limiter.h"

#include <algorithm>
#include <cmath>

namespace sluice::delivery {

namespace {

constexpr double kBaselineWeight = 0.05;  // long-term average: slow
constexpr double kRecentWeight = 0.3;     // short-term average: quick

ConcurrencyLimiterOptions sanitize(ConcurrencyLimiterOptions o) {
  o.minLimit = std::max(o.minLimit, 1);
  o.maxLimit = std::max(o.maxLimit, o.minLimit);
  o.initialLimit = std::clamp(o.initialLimit, o.minLimit, o.maxLimit);
  auto factor = [](double f) { return (f > 0 && f <= 1) ? f : 0.5; };
  o.throttleBackoff = factor(o.throttleBackoff);
  o.errorBackoff = factor(o.errorBackoff);
  o.latencyBackoff = factor(o.latencyBackoff);
  if (o.latencyTolerance < 1) o.latencyTolerance = 1;
  return o;
}

}  // namespace

ConcurrencyLimiter::ConcurrencyLimiter(ConcurrencyLimiterOptions options)
    : options_(sanitize(options)), limit_(options_.initialLimit) {}

std::optional<ConcurrencyPermit> ConcurrencyLimiter::tryAcquire() {
  std::lock_guard lock(mutex_);
  if (inFlight_ >= static_cast<int>(limit_)) return std::nullopt;
  ++inFlight_;
  return ConcurrencyPermit{generation_};
}

void ConcurrencyLimiter::decreaseLocked(double factor, uint64_t permitGeneration) {
  // Requests that started before the last cut report on the old limit: one cut per window.
  if (permitGeneration != generation_) return;
  limit_ = std::max(static_cast<double>(options_.minLimit), std::floor(limit_ * factor));
  ++generation_;
}

void ConcurrencyLimiter::release(const ConcurrencyPermit& permit, RequestOutcome outcome,
                                 std::chrono::microseconds latency) {
  std::lock_guard lock(mutex_);
  int inFlightBefore = inFlight_;
  if (inFlight_ > 0) --inFlight_;
  switch (outcome) {
    case RequestOutcome::kIgnore:
      return;
    case RequestOutcome::kThrottled:
      decreaseLocked(options_.throttleBackoff, permit.generation);
      return;
    case RequestOutcome::kError:
      decreaseLocked(options_.errorBackoff, permit.generation);
      return;
    case RequestOutcome::kOk:
      break;
  }
  double us = static_cast<double>(std::max<int64_t>(latency.count(), 0));
  if (baselineUs_ <= 0) {
    baselineUs_ = recentUs_ = std::max(us, 1.0);
  } else {
    recentUs_ += kRecentWeight * (us - recentUs_);
    baselineUs_ += kBaselineWeight * (us - baselineUs_);
  }
  double threshold = options_.latencyTolerance * baselineUs_ +
                     static_cast<double>(options_.latencySlack.count());
  if (recentUs_ > threshold) {
    decreaseLocked(options_.latencyBackoff, permit.generation);
    return;
  }
  if (2 * inFlightBefore >= static_cast<int>(limit_)) {
    limit_ = std::min(static_cast<double>(options_.maxLimit), limit_ + 1.0 / limit_);
  }
}

int ConcurrencyLimiter::limit() const {
  std::lock_guard lock(mutex_);
  return static_cast<int>(limit_);
}

int ConcurrencyLimiter::inFlight() const {
  std::lock_guard lock(mutex_);
  return inFlight_;
}

std::chrono::microseconds ConcurrencyLimiter::latencyBaseline() const {
  std::lock_guard lock(mutex_);
  return std::chrono::microseconds(static_cast<int64_t>(baselineUs_));
}

}  // namespace sluice::delivery
