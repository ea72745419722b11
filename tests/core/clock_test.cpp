#include "core/clock.h"

#include <gtest/gtest.h>

namespace sluice {
namespace {

TEST(FakeClock, MovesOnlyWhenTold) {
  FakeClock clock(1000);
  EXPECT_EQ(clock.nowMs(), 1000);
  const int64_t mono = clock.monotonicNs();
  clock.advanceMs(250);
  EXPECT_EQ(clock.nowMs(), 1250);
  EXPECT_EQ(clock.monotonicNs() - mono, 250'000'000);
}

TEST(FakeClock, SettingTheWallClockBackDoesNotRewindMonotonic) {
  FakeClock clock(5000);
  clock.setMs(9000);
  const int64_t mono = clock.monotonicNs();
  clock.setMs(1000);
  EXPECT_EQ(clock.nowMs(), 1000);
  EXPECT_EQ(clock.monotonicNs(), mono);
}

TEST(DefaultRandom, SeededSequenceIsReproducible) {
  DefaultRandom a(42), b(42);
  for (int i = 0; i < 10; ++i) EXPECT_EQ(a.next(), b.next());
  EXPECT_EQ(a.below(0), 0u);
  EXPECT_LT(a.below(7), 7u);
}

}  // namespace
}  // namespace sluice
