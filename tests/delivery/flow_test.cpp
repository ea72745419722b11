// Flow-control primitives with a fake clock and fixed randomness.
#include <gtest/gtest.h>

#include <vector>

#include "core/clock.h"
#include "delivery/backoff.h"
#include "delivery/circuit_breaker.h"
#include "delivery/concurrency_limiter.h"
#include "delivery/retry_budget.h"
#include "delivery/token_bucket.h"

namespace sluice::delivery {
namespace {

using std::chrono::microseconds;
using std::chrono::milliseconds;

// Returns the same value every time.
class FixedRandom final : public Random {
 public:
  explicit FixedRandom(uint64_t value) : value_(value) {}
  uint64_t next() override { return value_; }

 private:
  uint64_t value_;
};

// Returns the given values in turn.
class SequenceRandom final : public Random {
 public:
  explicit SequenceRandom(std::vector<uint64_t> values) : values_(std::move(values)) {}
  uint64_t next() override { return values_[i_++ % values_.size()]; }

 private:
  std::vector<uint64_t> values_;
  size_t i_ = 0;
};

// ---- backoff ------------------------------------------------------------------------------------

TEST(JitteredExponentialBackOff, FullJitterWithFixedRandom) {
  FixedRandom random(27);
  JitteredExponentialBackOff backoff(25, 30, random);
  // Ceilings: min(30, 25) = 25, then 30, 30 ...: 27 % 26 = 1, 27 % 31 = 27.
  EXPECT_EQ(1u, backoff.nextBackOffMs());
  EXPECT_EQ(27u, backoff.nextBackOffMs());
  EXPECT_EQ(27u, backoff.nextBackOffMs());
  EXPECT_EQ(3u, backoff.attempts());
}

TEST(JitteredExponentialBackOff, CeilingDoublesUpToCap) {
  // A random equal to the ceiling returns the ceiling itself (value % (ceiling + 1)).
  std::vector<uint64_t> ceilings = {100, 200, 400, 800, 1000, 1000};
  SequenceRandom random(ceilings);
  JitteredExponentialBackOff backoff(100, 1000, random);
  for (uint64_t ceiling : ceilings) EXPECT_EQ(ceiling, backoff.nextBackOffMs());
}

TEST(JitteredExponentialBackOff, ResetStartsOver) {
  FixedRandom random(1'000'000);
  JitteredExponentialBackOff backoff(10, 100'000, random);
  EXPECT_EQ(1'000'000u % 11, backoff.nextBackOffMs());
  EXPECT_EQ(1'000'000u % 21, backoff.nextBackOffMs());
  backoff.reset();
  EXPECT_EQ(0u, backoff.attempts());
  EXPECT_EQ(1'000'000u % 11, backoff.nextBackOffMs());
}

TEST(JitteredExponentialBackOff, ManyAttemptsDoNotOverflow) {
  FixedRandom random(UINT64_MAX);
  JitteredExponentialBackOff backoff(500, 300'000, random);
  for (int i = 0; i < 200; ++i) EXPECT_LE(backoff.nextBackOffMs(), 300'000u);
  EXPECT_EQ(UINT64_MAX % 300'001, backoff.nextBackOffMs());
}

TEST(JitteredExponentialBackOff, StaysWithinRangeWithRealRandomness) {
  DefaultRandom random(42);
  JitteredExponentialBackOff backoff(50, 5'000, random);
  uint64_t maxSeen = 0;
  for (int attempt = 0; attempt < 1000; ++attempt) {
    uint64_t ceiling = std::min<uint64_t>(5'000, attempt < 20 ? 50ull << attempt : 5'000);
    uint64_t delay = backoff.nextBackOffMs();
    EXPECT_LE(delay, ceiling);
    maxSeen = std::max(maxSeen, delay);
  }
  EXPECT_GT(maxSeen, 4'000u);  // the whole range is used
}

TEST(RetryDelay, RetryAfterIsAFloor) {
  EXPECT_EQ(700u, retryDelayMs(700, std::nullopt));
  EXPECT_EQ(700u, retryDelayMs(700, 500));
  EXPECT_EQ(2'000u, retryDelayMs(700, 2'000));
}

TEST(ParseRetryAfter, SecondsAndDates) {
  EpochMs now = 784'111'777'000;  // Sun, 06 Nov 1994 08:49:37 GMT
  EXPECT_EQ(120'000u, parseRetryAfterMs("120", now));
  EXPECT_EQ(0u, parseRetryAfterMs(" 0 ", now));
  EXPECT_EQ(10'000u, parseRetryAfterMs("Sun, 06 Nov 1994 08:49:47 GMT", now));
  EXPECT_EQ(0u, parseRetryAfterMs("Sun, 06 Nov 1994 08:49:00 GMT", now));
  EXPECT_EQ(24u * 3600 * 1000, parseRetryAfterMs("99999999999999999999999", now));
  EXPECT_EQ(std::nullopt, parseRetryAfterMs("", now));
  EXPECT_EQ(std::nullopt, parseRetryAfterMs("-5", now));
  EXPECT_EQ(std::nullopt, parseRetryAfterMs("12s", now));
  EXPECT_EQ(std::nullopt, parseRetryAfterMs("Sun, 06 Foo 1994 08:49:47 GMT", now));
}

// ---- token bucket -------------------------------------------------------------------------------

TEST(TokenBucket, StartsFullAndRefillsAtRate) {
  FakeClock clock;
  TokenBucket bucket(10, 5, clock);  // 10/s, burst 5
  for (int i = 0; i < 5; ++i) EXPECT_TRUE(bucket.tryTake());
  EXPECT_FALSE(bucket.tryTake());
  EXPECT_EQ(100, bucket.msUntilAvailable());
  clock.advanceMs(99);
  EXPECT_FALSE(bucket.tryTake());
  EXPECT_EQ(1, bucket.msUntilAvailable());
  clock.advanceMs(1);
  EXPECT_TRUE(bucket.tryTake());
  EXPECT_FALSE(bucket.tryTake());
  clock.advanceMs(10'000);  // never more than the burst
  EXPECT_NEAR(5.0, bucket.available(), 1e-6);
}

TEST(TokenBucket, LongRunRateHolds) {
  FakeClock clock;
  TokenBucket bucket(200, 20, clock);
  int taken = 0;
  for (int ms = 0; ms < 10'000; ++ms) {
    while (bucket.tryTake()) ++taken;
    clock.advanceMs(1);
  }
  // 10 s at 200/s plus the initial burst.
  EXPECT_GE(taken, 2'000);
  EXPECT_LE(taken, 2'020);
}

TEST(TokenBucket, RequestLargerThanBurstWaitsForFullBucketThenGoesIntoDebt) {
  FakeClock clock;
  TokenBucket bucket(500, 500, clock);  // events/s: 500, a batch of 1,000
  EXPECT_TRUE(bucket.tryTake(1000));
  EXPECT_NEAR(-500.0, bucket.available(), 1e-6);
  EXPECT_FALSE(bucket.tryTake(1000));
  EXPECT_EQ(2000, bucket.msUntilAvailable(1000));  // back to full (500) from -500 at 500/s
  clock.advanceMs(1999);
  EXPECT_FALSE(bucket.tryTake(1000));
  clock.advanceMs(1);
  EXPECT_TRUE(bucket.tryTake(1000));
}

TEST(TokenBucket, UnlimitedAndReconfigure) {
  FakeClock clock;
  TokenBucket bucket(0, 1, clock);
  for (int i = 0; i < 10'000; ++i) ASSERT_TRUE(bucket.tryTake());
  EXPECT_EQ(0, bucket.msUntilAvailable(1e9));
  bucket.reconfigure(1, 2);
  EXPECT_TRUE(bucket.tryTake());
  EXPECT_FALSE(bucket.tryTake(2));
  EXPECT_EQ(2000, bucket.msUntilAvailable(2));  // the bucket kept 1 token; both refill at 1/s
}

// ---- concurrency limiter ------------------------------------------------------------------------

ConcurrencyLimiterOptions limiterOptions() {
  ConcurrencyLimiterOptions o;
  o.initialLimit = 8;
  o.minLimit = 1;
  o.maxLimit = 20;
  return o;
}

TEST(ConcurrencyLimiter, RefusesBeyondLimit) {
  ConcurrencyLimiter limiter(limiterOptions());
  std::vector<ConcurrencyPermit> permits;
  for (int i = 0; i < 8; ++i) {
    auto p = limiter.tryAcquire();
    ASSERT_TRUE(p);
    permits.push_back(*p);
  }
  EXPECT_FALSE(limiter.tryAcquire());
  EXPECT_EQ(8, limiter.inFlight());
  limiter.release(permits.back(), RequestOutcome::kIgnore, microseconds(0));
  EXPECT_TRUE(limiter.tryAcquire());
}

TEST(ConcurrencyLimiter, ThrottlingHalvesOncePerWindow) {
  ConcurrencyLimiter limiter(limiterOptions());
  std::vector<ConcurrencyPermit> permits;
  for (int i = 0; i < 8; ++i) permits.push_back(*limiter.tryAcquire());
  // A whole window of throttled replies: one cut, not eight.
  for (auto& p : permits) limiter.release(p, RequestOutcome::kThrottled, microseconds(1000));
  EXPECT_EQ(4, limiter.limit());
  // The next window is cut again.
  permits.clear();
  for (int i = 0; i < 4; ++i) permits.push_back(*limiter.tryAcquire());
  for (auto& p : permits) limiter.release(p, RequestOutcome::kThrottled, microseconds(1000));
  EXPECT_EQ(2, limiter.limit());
  // Never below the minimum.
  for (int round = 0; round < 10; ++round) {
    auto p = limiter.tryAcquire();
    ASSERT_TRUE(p);
    limiter.release(*p, RequestOutcome::kThrottled, microseconds(1000));
  }
  EXPECT_EQ(1, limiter.limit());
}

TEST(ConcurrencyLimiter, ErrorsCutLessThanThrottling) {
  ConcurrencyLimiter limiter(limiterOptions());
  auto p = limiter.tryAcquire();
  limiter.release(*p, RequestOutcome::kError, microseconds(1000));
  EXPECT_EQ(6, limiter.limit());  // 8 * 0.75
}

// Runs `rounds` full windows of healthy replies at the given latency; returns the limit.
int healthyRounds(ConcurrencyLimiter& limiter, int rounds, microseconds latency) {
  for (int r = 0; r < rounds; ++r) {
    std::vector<ConcurrencyPermit> permits;
    while (auto p = limiter.tryAcquire()) permits.push_back(*p);
    for (auto& p : permits) limiter.release(p, RequestOutcome::kOk, latency);
  }
  return limiter.limit();
}

TEST(ConcurrencyLimiter, GrowsAdditivelyWhenHealthyAndUsed) {
  ConcurrencyLimiter limiter(limiterOptions());
  // A round of `limit` replies adds about one.
  EXPECT_EQ(9, healthyRounds(limiter, 1, microseconds(2000)));
  EXPECT_EQ(10, healthyRounds(limiter, 1, microseconds(2000)));
  EXPECT_EQ(20, healthyRounds(limiter, 50, microseconds(2000)));  // capped at max
}

TEST(ConcurrencyLimiter, DoesNotGrowWhenTheLimitIsNotUsed) {
  ConcurrencyLimiter limiter(limiterOptions());
  for (int i = 0; i < 1000; ++i) {
    auto p = limiter.tryAcquire();  // one at a time: far below half the limit
    limiter.release(*p, RequestOutcome::kOk, microseconds(2000));
  }
  EXPECT_EQ(8, limiter.limit());
}

TEST(ConcurrencyLimiter, BacksOffWhenLatencyRises) {
  ConcurrencyLimiter limiter(limiterOptions());
  int grown = healthyRounds(limiter, 5, microseconds(20'000));
  EXPECT_EQ(13, grown);
  EXPECT_NEAR(20'000, limiter.latencyBaseline().count(), 1);
  // Latency jumps to 10x: the limit falls within a few windows.
  int after = healthyRounds(limiter, 5, microseconds(200'000));
  EXPECT_LT(after, grown);
  // Sustained high latency becomes the new baseline and growth resumes.
  int low = after;
  for (int round = 0; round < 400; ++round) {
    low = std::min(low, healthyRounds(limiter, 1, microseconds(200'000)));
  }
  EXPECT_GT(limiter.limit(), low);
  EXPECT_GT(limiter.latencyBaseline().count(), 100'000);
}

TEST(ConcurrencyLimiter, SmallLatencyNoiseIsIgnored) {
  ConcurrencyLimiter limiter(limiterOptions());
  healthyRounds(limiter, 3, microseconds(300));
  int before = limiter.limit();
  // 300 us -> 3 ms is 10x but within the 5 ms slack.
  EXPECT_GT(healthyRounds(limiter, 3, microseconds(3'000)), before);
}

// ---- retry budget -------------------------------------------------------------------------------

TEST(RetryBudget, AllowsRatioOfRequests) {
  FakeClock clock;
  RetryBudget budget(0.2, 0, 10'000, clock);
  EXPECT_FALSE(budget.canRetry());  // no requests, no minimum
  for (int i = 0; i < 50; ++i) budget.recordRequest();
  int granted = 0;
  while (budget.tryRetry() && granted < 1000) ++granted;
  EXPECT_EQ(10, granted);
  EXPECT_EQ(10, budget.retriesInWindow());
  budget.recordRequest();  // 51 * 0.2 = 10.2: still no 11th retry
  EXPECT_FALSE(budget.canRetry());
  for (int i = 0; i < 4; ++i) budget.recordRequest();  // 55 * 0.2 = 11
  EXPECT_TRUE(budget.canRetry());
}

TEST(RetryBudget, MinimumPerWindowWithoutTraffic) {
  FakeClock clock;
  RetryBudget budget(0.1, 3, 10'000, clock);
  EXPECT_TRUE(budget.tryRetry());
  EXPECT_TRUE(budget.tryRetry());
  EXPECT_TRUE(budget.tryRetry());
  EXPECT_FALSE(budget.tryRetry());
  // The window slides: after 10 s the old retries no longer count.
  clock.advanceMs(9'000);
  EXPECT_FALSE(budget.canRetry());
  clock.advanceMs(1'000);
  EXPECT_TRUE(budget.canRetry());
}

TEST(RetryBudget, WindowSlidesInSteps) {
  FakeClock clock;
  RetryBudget budget(0.5, 0, 1'000, clock);
  for (int i = 0; i < 10; ++i) budget.recordRequest();  // t = 0
  clock.advanceMs(500);
  for (int i = 0; i < 10; ++i) budget.recordRequest();  // t = 500
  EXPECT_EQ(20, budget.requestsInWindow());
  clock.advanceMs(500);  // t = 1000: the first ten have left the window
  EXPECT_EQ(10, budget.requestsInWindow());
  clock.advanceMs(500);
  EXPECT_EQ(0, budget.requestsInWindow());
}

TEST(RetryBudget, OutageTrafficStaysBounded) {
  // Steady inbound load of 100 new batches/s, every attempt failing for a minute: the requests sent
  // (first attempts + retries) never exceed (1 + ratio) x first attempts plus the minimum.
  FakeClock clock;
  RetryBudget budget(0.2, 10, 10'000, clock);
  int64_t firsts = 0, retries = 0;
  for (int ms = 0; ms < 60'000; ms += 10) {
    budget.recordRequest();
    ++firsts;
    // Every failed batch wants a retry right away; the budget decides.
    for (int i = 0; i < 5; ++i) {
      if (budget.tryRetry()) ++retries;
    }
    clock.advanceMs(10);
  }
  EXPECT_LE(retries, firsts * 2 / 10 + 6 * 10);
  EXPECT_GE(retries, firsts * 2 / 10 - 10);
}

// ---- circuit breaker ----------------------------------------------------------------------------

CircuitBreakerOptions breakerOptions() {
  CircuitBreakerOptions o;
  o.failureThreshold = 3;
  o.probeIntervalMs = 1'000;
  o.pausedProbeIntervalMs = 10'000;
  return o;
}

TEST(CircuitBreaker, OpensAfterConsecutiveFailures) {
  FakeClock clock;
  CircuitBreaker breaker(breakerOptions(), clock);
  EXPECT_EQ(BreakerPermit::kNormal, breaker.allowRequest());
  breaker.recordFailure();
  breaker.recordFailure();
  breaker.recordSuccess();  // resets the count
  breaker.recordFailure();
  breaker.recordFailure();
  EXPECT_EQ(BreakerState::kClosed, breaker.state());
  breaker.recordFailure();
  EXPECT_EQ(BreakerState::kOpen, breaker.state());
  EXPECT_EQ(1u, breaker.openCount());
  EXPECT_EQ(BreakerPermit::kDenied, breaker.allowRequest());
  EXPECT_EQ(1'000, breaker.msUntilNextProbe());
}

TEST(CircuitBreaker, OneProbePerIntervalThenClosesOnSuccess) {
  FakeClock clock;
  CircuitBreaker breaker(breakerOptions(), clock);
  for (int i = 0; i < 3; ++i) breaker.recordFailure();
  clock.advanceMs(999);
  EXPECT_EQ(BreakerPermit::kDenied, breaker.allowRequest());
  clock.advanceMs(1);
  EXPECT_EQ(BreakerPermit::kProbe, breaker.allowRequest());
  EXPECT_EQ(BreakerState::kHalfOpen, breaker.state());
  EXPECT_EQ(BreakerPermit::kDenied, breaker.allowRequest());  // only one probe
  breaker.recordSuccess();
  EXPECT_EQ(BreakerState::kClosed, breaker.state());
  EXPECT_EQ(BreakerPermit::kNormal, breaker.allowRequest());
}

TEST(CircuitBreaker, FailedProbeReopensAndRestartsInterval) {
  FakeClock clock;
  CircuitBreaker breaker(breakerOptions(), clock);
  for (int i = 0; i < 3; ++i) breaker.recordFailure();
  clock.advanceMs(1'000);
  ASSERT_EQ(BreakerPermit::kProbe, breaker.allowRequest());
  clock.advanceMs(300);
  breaker.recordFailure();
  EXPECT_EQ(BreakerState::kOpen, breaker.state());
  EXPECT_EQ(1'000, breaker.msUntilNextProbe());
  clock.advanceMs(999);
  EXPECT_EQ(BreakerPermit::kDenied, breaker.allowRequest());
  clock.advanceMs(1);
  EXPECT_EQ(BreakerPermit::kProbe, breaker.allowRequest());
}

TEST(CircuitBreaker, LostProbeDoesNotWedge) {
  FakeClock clock;
  CircuitBreaker breaker(breakerOptions(), clock);
  for (int i = 0; i < 3; ++i) breaker.recordFailure();
  clock.advanceMs(1'000);
  ASSERT_EQ(BreakerPermit::kProbe, breaker.allowRequest());
  clock.advanceMs(1'000);  // no result ever came
  EXPECT_EQ(BreakerPermit::kProbe, breaker.allowRequest());
  EXPECT_EQ(2u, breaker.probeCount());
}

TEST(CircuitBreaker, ProbesDuringAnOutageAreRare) {
  FakeClock clock;
  CircuitBreaker breaker(breakerOptions(), clock);
  int sent = 0;
  // A dispatcher asking every 10 ms for 60 s while every request fails.
  for (int ms = 0; ms < 60'000; ms += 10) {
    if (breaker.allowRequest() != BreakerPermit::kDenied) {
      ++sent;
      breaker.recordFailure();
    }
    clock.advanceMs(10);
  }
  EXPECT_EQ(3 + 59, sent);  // threshold, then one probe per second
}

TEST(CircuitBreaker, PausedProbesSlowlyAndResumes) {
  FakeClock clock;
  CircuitBreaker breaker(breakerOptions(), clock);
  breaker.pause("40105 invalid access token");
  EXPECT_EQ(BreakerState::kPaused, breaker.state());
  EXPECT_EQ("40105 invalid access token", breaker.pauseReason());
  EXPECT_EQ(BreakerPermit::kDenied, breaker.allowRequest());
  clock.advanceMs(9'999);
  EXPECT_EQ(BreakerPermit::kDenied, breaker.allowRequest());
  clock.advanceMs(1);
  EXPECT_EQ(BreakerPermit::kProbe, breaker.allowRequest());
  EXPECT_EQ(BreakerState::kPaused, breaker.state());
  EXPECT_EQ(BreakerPermit::kDenied, breaker.allowRequest());
  breaker.recordFailure();  // e.g. a 500 on the probe: still paused
  breaker.pause("40105 invalid access token");
  EXPECT_EQ(BreakerState::kPaused, breaker.state());
  clock.advanceMs(10'000);
  EXPECT_EQ(BreakerPermit::kProbe, breaker.allowRequest());
  breaker.recordSuccess();  // the token was fixed
  EXPECT_EQ(BreakerState::kClosed, breaker.state());
  EXPECT_EQ("", breaker.pauseReason());
}

TEST(CircuitBreaker, ResumeAllowsImmediateProbe) {
  FakeClock clock;
  CircuitBreaker breaker(breakerOptions(), clock);
  breaker.pause("40001 no permission");
  breaker.resume();  // SIGHUP with a new token
  EXPECT_EQ(BreakerState::kHalfOpen, breaker.state());
  EXPECT_EQ(0, breaker.msUntilNextProbe());
  EXPECT_EQ(BreakerPermit::kProbe, breaker.allowRequest());
  EXPECT_EQ(BreakerPermit::kDenied, breaker.allowRequest());
  breaker.recordFailure();
  EXPECT_EQ(BreakerState::kOpen, breaker.state());
}

TEST(CircuitBreaker, StateNames) {
  EXPECT_STREQ("closed", breakerStateName(BreakerState::kClosed));
  EXPECT_STREQ("open", breakerStateName(BreakerState::kOpen));
  EXPECT_STREQ("half-open", breakerStateName(BreakerState::kHalfOpen));
  EXPECT_STREQ("paused", breakerStateName(BreakerState::kPaused));
}

}  // namespace
}  // namespace sluice::delivery
