// A retry budget: retries may be at most a set share of requests over a sliding window, so that an
// outage never multiplies the traffic sent to the destination (Finagle's RetryBudget, Envoy's
// retry_budget).
#pragma once

#include <cstdint>
#include <mutex>
#include <vector>

#include "core/clock.h"

namespace sluice::delivery {

// Thread-safe. `clock` (monotonicNs) must outlive the budget.
//
// Contract: over any window of `windowMs` (tracked in 10 slots, so the window slides in steps of
// windowMs/10), the number of retries allowed is max(minRetriesPerWindow, ratio x requests), where
// requests counts first attempts recorded with recordRequest() (not retries).
class RetryBudget {
 public:
  RetryBudget(double ratio, int minRetriesPerWindow, int64_t windowMs, const Clock& clock);

  // Records one first attempt (a new batch sent for the first time).
  void recordRequest();
  // Whether one more retry fits in the budget now. Does not consume anything.
  bool canRetry() const;
  // Records one retry (call when a retry is actually sent).
  void recordRetry();
  // canRetry() and recordRetry() in one atomic step; true if the retry was granted and recorded.
  bool tryRetry();

  // Current window's counts, for metrics and tests.
  int64_t requestsInWindow() const;
  int64_t retriesInWindow() const;

 private:
  struct Slot {
    int64_t index = -1;  // which slot-length period since the clock's origin this slot holds
    int64_t requests = 0;
    int64_t retries = 0;
  };
  void sumLocked(int64_t* requests, int64_t* retries) const;  // REQUIRES(mutex_)
  Slot& currentSlotLocked();                                  // REQUIRES(mutex_)
  bool canRetryLocked() const;                                // REQUIRES(mutex_)

  const double ratio_;
  const int minRetries_;
  const int64_t slotNs_;
  const Clock& clock_;
  mutable std::mutex mutex_;
  std::vector<Slot> slots_;  // GUARDED_BY(mutex_)
};

}  // namespace sluice::delivery
