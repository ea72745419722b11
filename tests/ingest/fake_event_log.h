// An in-memory EventLog for ingest's tests: records appends, and can hold completions back, fail
// appends, or refuse writes, so tests see exactly when and how ingest answers.
#pragma once

#include <deque>
#include <functional>
#include <mutex>
#include <utility>
#include <vector>

#include "store/event_log.h"

namespace sluice::ingest::testing {

class FakeEventLog final : public store::EventLog {
 public:
  using Done = std::function<void(Result<store::AppendOutcome>)>;

  // When held, append() queues its completion until release() runs it.
  void setHold(bool hold) {
    std::lock_guard lock(mutex_);
    hold_ = hold;
  }
  // The next appends fail with this error (and store nothing).
  void setFailure(std::optional<Error> failure) {
    std::lock_guard lock(mutex_);
    failure_ = std::move(failure);
  }
  void setHealth(store::WriteHealth health) {
    std::lock_guard lock(mutex_);
    health_ = std::move(health);
  }

  // Completes the held appends, in order. Returns how many ran.
  size_t release() {
    std::deque<std::function<void()>> pending;
    {
      std::lock_guard lock(mutex_);
      pending.swap(pending_);
    }
    for (auto& run : pending) run();
    return pending.size();
  }

  std::vector<store::NewEvent> events() const {
    std::lock_guard lock(mutex_);
    return events_;
  }
  std::vector<store::QuarantinedEvent> quarantine() const {
    std::lock_guard lock(mutex_);
    return quarantine_;
  }
  size_t appendCalls() const {
    std::lock_guard lock(mutex_);
    return appendCalls_;
  }

  void append(store::AppendRequest request, Done done) override {
    std::unique_lock lock(mutex_);
    ++appendCalls_;
    auto complete = [this, request = std::move(request), done = std::move(done),
                     failure = failure_]() mutable {
      if (failure) {
        done(fail(*failure));
        return;
      }
      store::AppendOutcome outcome;
      {
        std::lock_guard inner(mutex_);
        for (auto& event : request.events) {
          events_.push_back(std::move(event));
          ++outcome.stored;
        }
        for (auto& rejected : request.rejected) {
          rejected.id = static_cast<int64_t>(quarantine_.size() + 1);
          quarantine_.push_back(std::move(rejected));
          ++outcome.quarantined;
        }
        outcome.lastSeq = events_.size();
      }
      done(outcome);
    };
    if (hold_) {
      pending_.push_back(std::move(complete));
      return;
    }
    lock.unlock();
    complete();
  }

  Result<std::vector<store::StoredEvent>> readAfter(store::Seq, size_t) override { return {}; }
  Result<void> scan(const store::TimeRange&, std::optional<std::string>,
                    const std::function<bool(const store::StoredEvent&)>&) override {
    return ok();
  }
  Result<store::Seq> lastSeq() override { return events().size(); }
  Result<uint64_t> count() override { return events().size(); }
  Result<store::Seq> cursor(std::string_view) override { return store::Seq{0}; }
  Result<void> setCursor(std::string_view, store::Seq) override { return ok(); }
  Result<void> dropCursor(std::string_view) override { return ok(); }
  Result<uint64_t> applyRetention(EpochMs) override { return uint64_t{0}; }
  Result<std::vector<store::QuarantinedEvent>> listQuarantine(size_t, int64_t) override {
    return quarantine();
  }
  store::WriteHealth writeHealth() override {
    std::lock_guard lock(mutex_);
    return health_;
  }
  void close() override {}

 private:
  mutable std::mutex mutex_;
  bool hold_ = false;
  std::optional<Error> failure_;
  store::WriteHealth health_;
  std::deque<std::function<void()>> pending_;
  std::vector<store::NewEvent> events_;
  std::vector<store::QuarantinedEvent> quarantine_;
  size_t appendCalls_ = 0;
};

// A Random that counts up from a seed, so assigned messageIds are predictable.
class CountingRandom final : public Random {
 public:
  explicit CountingRandom(uint64_t start = 1) : next_(start) {}
  uint64_t next() override { return next_++; }

 private:
  uint64_t next_;
};

}  // namespace sluice::ingest::testing
