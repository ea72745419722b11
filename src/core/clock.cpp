#include "core/clock.h"

#include <chrono>

namespace sluice {

EpochMs SystemClock::nowMs() const {
  using namespace std::chrono;
  return duration_cast<milliseconds>(system_clock::now().time_since_epoch()).count();
}

int64_t SystemClock::monotonicNs() const {
  using namespace std::chrono;
  return duration_cast<nanoseconds>(steady_clock::now().time_since_epoch()).count();
}

SystemClock& SystemClock::instance() {
  static SystemClock clock;
  return clock;
}

EpochMs FakeClock::nowMs() const {
  std::lock_guard lock(mutex_);
  return nowMs_;
}

int64_t FakeClock::monotonicNs() const {
  std::lock_guard lock(mutex_);
  return monotonicNs_;
}

void FakeClock::advanceMs(int64_t ms) {
  std::lock_guard lock(mutex_);
  nowMs_ += ms;
  monotonicNs_ += ms * 1'000'000;
}

void FakeClock::setMs(EpochMs ms) {
  std::lock_guard lock(mutex_);
  if (ms > nowMs_) monotonicNs_ += (ms - nowMs_) * 1'000'000;
  nowMs_ = ms;
}

DefaultRandom::DefaultRandom() : engine_(std::random_device{}()) {}

}  // namespace sluice
