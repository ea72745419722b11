// Retries of dead letters asked for from the dashboard, run in the background one job at a time,
// like `sluice dlq retry`: the raw events are mapped again with the destination's current
// configuration and sent; once every event has a new fate (delivered, or a new dead letter), the
// old entries are dropped. A job that times out or is stopped keeps its entries. Thread-safe.
#pragma once

#include <atomic>
#include <condition_variable>
#include <cstdint>
#include <deque>
#include <mutex>
#include <optional>
#include <set>
#include <string>
#include <thread>
#include <utility>
#include <vector>

#include "config/config.h"
#include "core/clock.h"
#include "core/result.h"
#include "store/delivery_state.h"

namespace sluice::ops::dashboard {

struct RetryJob {
  int64_t id = 0;
  std::string destination;
  size_t queued = 0;       // dead letters in the job
  std::string state;       // "queued", "running", "done", "failed"
  uint64_t delivered = 0;  // items, once done
  uint64_t dead = 0;       // items dead again (new entries)
  uint64_t expired = 0;
  std::string error;  // when failed
  EpochMs submittedMs = 0;
  EpochMs finishedMs = 0;
};

struct DlqRetrierOptions {
  int64_t timeoutMs = 10 * 60'000;  // a job not finished by then fails (its entries are kept)
  size_t maxPerJob = 10'000;        // "all" takes at most this many (oldest first)
  size_t keepJobs = 20;             // finished jobs remembered for jobs()
};

class DlqRetrier {
 public:
  // `state` and `clock` must outlive the retrier. Starts the worker thread.
  DlqRetrier(store::DeliveryState& state, const Clock& clock, DlqRetrierOptions options = {});
  ~DlqRetrier();  // stop()s
  DlqRetrier(const DlqRetrier&) = delete;
  DlqRetrier& operator=(const DlqRetrier&) = delete;

  // Queues a retry of the dead letters `ids` of `destination` (every one, up to maxPerJob, when
  // `all`). Entries already in a queued or running job are left out. Returns the job (state
  // "queued"; `queued` may be 0 when there was nothing to retry, and no job then runs). Fails with
  // kNotFound for an id the destination does not have, kUnavailable after stop().
  Result<RetryJob> submit(const config::DestinationConfig& destination,
                          const std::vector<int64_t>& ids, bool all);

  // The queued, running and recently finished jobs, newest first.
  std::vector<RetryJob> jobs() const;

  // Cancels the running job (its entries are kept), drops the queued ones, joins. Idempotent.
  void stop();

 private:
  struct Work {
    RetryJob job;
    config::DestinationConfig destination;
    std::vector<store::DeadLetter> letters;
  };
  void run();
  void finish(const Work& work, RetryJob done);

  store::DeliveryState& state_;
  const Clock& clock_;
  const DlqRetrierOptions options_;
  mutable std::mutex mutex_;
  std::condition_variable wake_;
  std::deque<Work> queue_;                          // GUARDED_BY(mutex_)
  std::deque<RetryJob> finished_;                   // GUARDED_BY(mutex_), newest first
  std::optional<RetryJob> running_;                 // GUARDED_BY(mutex_)
  std::set<std::pair<std::string, int64_t>> busy_;  // GUARDED_BY(mutex_)
  int64_t nextId_ = 1;                              // GUARDED_BY(mutex_)
  bool stopping_ = false;                           // GUARDED_BY(mutex_)
  std::atomic<bool> cancel_{false};
  std::thread thread_;
};

}  // namespace sluice::ops::dashboard
