#include "delivery/retry_budget.h"

#include <algorithm>

namespace sluice::delivery {

namespace {
constexpr int kSlots = 10;
}

RetryBudget::RetryBudget(double ratio, int minRetriesPerWindow, int64_t windowMs,
                         const Clock& clock)
    : ratio_(std::max(ratio, 0.0)),
      minRetries_(std::max(minRetriesPerWindow, 0)),
      slotNs_(std::max<int64_t>(windowMs, kSlots) * 1'000'000 / kSlots),
      clock_(clock),
      slots_(kSlots) {}

RetryBudget::Slot& RetryBudget::currentSlotLocked() {
  int64_t index = clock_.monotonicNs() / slotNs_;
  Slot& slot = slots_[static_cast<size_t>(index % kSlots)];
  if (slot.index != index) slot = Slot{index, 0, 0};
  return slot;
}

void RetryBudget::sumLocked(int64_t* requests, int64_t* retries) const {
  int64_t index = clock_.monotonicNs() / slotNs_;
  *requests = *retries = 0;
  for (const Slot& slot : slots_) {
    if (slot.index > index - kSlots && slot.index <= index) {
      *requests += slot.requests;
      *retries += slot.retries;
    }
  }
}

bool RetryBudget::canRetryLocked() const {
  int64_t requests, retries;
  sumLocked(&requests, &retries);
  double allowed = std::max(static_cast<double>(minRetries_), ratio_ * static_cast<double>(requests));
  return static_cast<double>(retries + 1) <= allowed + 1e-9;
}

void RetryBudget::recordRequest() {
  std::lock_guard lock(mutex_);
  ++currentSlotLocked().requests;
}

bool RetryBudget::canRetry() const {
  std::lock_guard lock(mutex_);
  return canRetryLocked();
}

void RetryBudget::recordRetry() {
  std::lock_guard lock(mutex_);
  ++currentSlotLocked().retries;
}

bool RetryBudget::tryRetry() {
  std::lock_guard lock(mutex_);
  if (!canRetryLocked()) return false;
  ++currentSlotLocked().retries;
  return true;
}

int64_t RetryBudget::requestsInWindow() const {
  std::lock_guard lock(mutex_);
  int64_t requests, retries;
  sumLocked(&requests, &retries);
  return requests;
}

int64_t RetryBudget::retriesInWindow() const {
  std::lock_guard lock(mutex_);
  int64_t requests, retries;
  sumLocked(&requests, &retries);
  return retries;
}

}  // namespace sluice::delivery
