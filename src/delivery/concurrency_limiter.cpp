#include "delivery/concurrency_limiter.h"

#include <algorithm>
#include <cmath>

namespace sluice::delivery {

namespace {

constexpr double kBaselineWeight = 0.05;  // long-term average: slow
constexpr double kRecentWeight = 0.3;     // short-term average: quick
constexpr double kRisingBaselineWeight = 0.01;

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
  if (inFlight_ >= currentLimitLocked()) return std::nullopt;
  ++inFlight_;
  return ConcurrencyPermit{generation_, inFlight_};
}

void ConcurrencyLimiter::decreaseLocked(double factor, uint64_t permitGeneration) {
  // Requests that started before the last cut report on the old limit: one cut per window.
  if (permitGeneration != generation_) return;
  limit_ = std::max(static_cast<double>(options_.minLimit),
                    std::floor(currentLimitLocked() * factor + 1e-9));
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
  if (baselineUs_ <= 0) baselineUs_ = recentUs_ = std::max(us, 1.0);
  recentUs_ += kRecentWeight * (us - recentUs_);
  double threshold = options_.latencyTolerance * baselineUs_ +
                     static_cast<double>(options_.latencySlack.count());
  if (recentUs_ > threshold) {
    // While latency is high the baseline drifts up only slowly: a lasting new normal is accepted
    // after a few hundred replies, a passing slowdown is not.
    baselineUs_ += kRisingBaselineWeight * (us - baselineUs_);
    decreaseLocked(options_.latencyBackoff, permit.generation);
    return;
  }
  baselineUs_ += kBaselineWeight * (us - baselineUs_);
  int used = std::max(inFlightBefore, permit.inFlightAtAcquire);
  if (2 * used >= currentLimitLocked()) {
    limit_ = std::min(static_cast<double>(options_.maxLimit),
                      limit_ + 1.0 / static_cast<double>(currentLimitLocked()));
  }
}

int ConcurrencyLimiter::currentLimitLocked() const {
  // The epsilon keeps 9 additions of 1/9 from rounding down to 9.999... -> 9.
  return static_cast<int>(limit_ + 1e-9);
}

int ConcurrencyLimiter::limit() const {
  std::lock_guard lock(mutex_);
  return currentLimitLocked();
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
