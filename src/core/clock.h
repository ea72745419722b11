// Time and randomness come in through these interfaces so that retries, backoff, retention and
// alerts are tested deterministically with a fake clock and fixed randomness.
#pragma once

#include <cstdint>
#include <mutex>
#include <random>

namespace sluice {

// Milliseconds since the Unix epoch, UTC.
using EpochMs = int64_t;

class Clock {
 public:
  virtual ~Clock() = default;
  // Wall-clock time; may jump.
  virtual EpochMs nowMs() const = 0;
  // Monotonic time in nanoseconds from an arbitrary origin; never goes backwards.
  virtual int64_t monotonicNs() const = 0;
};

// The real clocks of the machine. Thread-safe.
class SystemClock final : public Clock {
 public:
  EpochMs nowMs() const override;
  int64_t monotonicNs() const override;
  // A process-wide instance.
  static SystemClock& instance();
};

// A clock that moves only when told to. Thread-safe.
class FakeClock final : public Clock {
 public:
  explicit FakeClock(EpochMs startMs = 1'717'243'200'000) : nowMs_(startMs) {}
  EpochMs nowMs() const override;
  int64_t monotonicNs() const override;
  void advanceMs(int64_t ms);
  void setMs(EpochMs ms);

 private:
  mutable std::mutex mutex_;
  EpochMs nowMs_;            // GUARDED_BY(mutex_)
  int64_t monotonicNs_ = 0;  // GUARDED_BY(mutex_)
};

// Uniform random numbers.
class Random {
 public:
  virtual ~Random() = default;
  // A uniformly distributed 64-bit value.
  virtual uint64_t next() = 0;
  // A value uniformly distributed in [0, bound); 0 when bound is 0.
  uint64_t below(uint64_t bound) { return bound == 0 ? 0 : next() % bound; }
};

// A seeded Mersenne Twister. Not thread-safe: one per thread or owner.
class DefaultRandom final : public Random {
 public:
  DefaultRandom();
  explicit DefaultRandom(uint64_t seed) : engine_(seed) {}
  uint64_t next() override { return engine_(); }

 private:
  std::mt19937_64 engine_;
};

}  // namespace sluice
