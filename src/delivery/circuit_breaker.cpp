#include "delivery/circuit_breaker.h"

#include <algorithm>

namespace sluice::delivery {

const char* breakerStateName(BreakerState state) {
  switch (state) {
    case BreakerState::kClosed: return "closed";
    case BreakerState::kOpen: return "open";
    case BreakerState::kHalfOpen: return "half-open";
    case BreakerState::kPaused: return "paused";
  }
  return "unknown";
}

namespace {
CircuitBreakerOptions sanitize(CircuitBreakerOptions o) {
  o.failureThreshold = std::max(o.failureThreshold, 1);
  o.probeIntervalMs = std::max<int64_t>(o.probeIntervalMs, 1);
  o.pausedProbeIntervalMs = std::max<int64_t>(o.pausedProbeIntervalMs, 1);
  return o;
}
}  // namespace

CircuitBreaker::CircuitBreaker(CircuitBreakerOptions options, const Clock& clock)
    : clock_(clock), options_(sanitize(options)) {}

int64_t CircuitBreaker::nowMsLocked() const { return clock_.monotonicNs() / 1'000'000; }

BreakerPermit CircuitBreaker::allowRequest() {
  std::lock_guard lock(mutex_);
  if (state_ == BreakerState::kClosed) return BreakerPermit::kNormal;
  int64_t now = nowMsLocked();
  if (now < nextProbeAtMs_) return BreakerPermit::kDenied;
  if (state_ == BreakerState::kPaused) {
    nextProbeAtMs_ = now + options_.pausedProbeIntervalMs;
  } else {
    state_ = BreakerState::kHalfOpen;
    nextProbeAtMs_ = now + options_.probeIntervalMs;
  }
  ++probeCount_;
  return BreakerPermit::kProbe;
}

void CircuitBreaker::recordSuccess() {
  std::lock_guard lock(mutex_);
  state_ = BreakerState::kClosed;
  failures_ = 0;
  pauseReason_.clear();
}

void CircuitBreaker::recordFailure() {
  std::lock_guard lock(mutex_);
  ++failures_;
  switch (state_) {
    case BreakerState::kClosed:
      if (failures_ >= options_.failureThreshold) {
        state_ = BreakerState::kOpen;
        nextProbeAtMs_ = nowMsLocked() + options_.probeIntervalMs;
        ++openCount_;
      }
      break;
    case BreakerState::kHalfOpen:
      state_ = BreakerState::kOpen;
      nextProbeAtMs_ = nowMsLocked() + options_.probeIntervalMs;
      break;
    case BreakerState::kOpen:
    case BreakerState::kPaused:
      break;
  }
}

void CircuitBreaker::pause(std::string reason) {
  std::lock_guard lock(mutex_);
  state_ = BreakerState::kPaused;
  pauseReason_ = std::move(reason);
  nextProbeAtMs_ = nowMsLocked() + options_.pausedProbeIntervalMs;
}

void CircuitBreaker::resume() {
  std::lock_guard lock(mutex_);
  if (state_ == BreakerState::kClosed) return;
  state_ = BreakerState::kHalfOpen;
  pauseReason_.clear();
  nextProbeAtMs_ = nowMsLocked();
}

void CircuitBreaker::reconfigure(CircuitBreakerOptions options) {
  std::lock_guard lock(mutex_);
  options_ = sanitize(options);
}

BreakerState CircuitBreaker::state() const {
  std::lock_guard lock(mutex_);
  return state_;
}

std::string CircuitBreaker::pauseReason() const {
  std::lock_guard lock(mutex_);
  return pauseReason_;
}

int CircuitBreaker::consecutiveFailures() const {
  std::lock_guard lock(mutex_);
  return failures_;
}

int64_t CircuitBreaker::msUntilNextProbe() const {
  std::lock_guard lock(mutex_);
  if (state_ == BreakerState::kClosed) return 0;
  return std::max<int64_t>(0, nextProbeAtMs_ - nowMsLocked());
}

uint64_t CircuitBreaker::openCount() const {
  std::lock_guard lock(mutex_);
  return openCount_;
}

uint64_t CircuitBreaker::probeCount() const {
  std::lock_guard lock(mutex_);
  return probeCount_;
}

}  // namespace sluice::delivery
