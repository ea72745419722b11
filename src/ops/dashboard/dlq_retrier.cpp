#include "ops/dashboard/dlq_retrier.h"

#include <spdlog/spdlog.h>

#include "core/thread_name.h"
#include "delivery/dispatcher.h"
#include "delivery/one_shot.h"

namespace sluice::ops::dashboard {

DlqRetrier::DlqRetrier(store::DeliveryState& state, const Clock& clock, DlqRetrierOptions options)
    : state_(state), clock_(clock), options_(options) {
  thread_ = std::thread([this] { run(); });
}

DlqRetrier::~DlqRetrier() { stop(); }

Result<RetryJob> DlqRetrier::submit(const config::DestinationConfig& destination,
                                    const std::vector<int64_t>& ids, bool all) {
  std::vector<store::DeadLetter> letters;
  if (all) {
    auto list = state_.listDeadLetters(destination.name, options_.maxPerJob);
    if (!list) return fail(list.error());
    letters = std::move(*list);
  } else {
    for (int64_t id : ids) {
      auto letter = state_.deadLetter(destination.name, id);
      if (!letter) return fail(letter.error());
      letters.push_back(std::move(*letter));
    }
  }
  std::lock_guard lock(mutex_);
  if (stopping_) return fail(ErrorCode::kUnavailable, "the server is stopping");
  Work work;
  work.job.id = nextId_++;
  work.job.destination = destination.name;
  work.job.state = "queued";
  work.job.submittedMs = clock_.nowMs();
  work.destination = destination;
  std::set<int64_t> seen;
  for (auto& letter : letters) {
    if (!seen.insert(letter.id).second) continue;
    if (!busy_.insert({destination.name, letter.id}).second) continue;
    work.letters.push_back(std::move(letter));
  }
  work.job.queued = work.letters.size();
  RetryJob job = work.job;
  if (work.letters.empty()) {
    job.state = "done";
    job.finishedMs = job.submittedMs;
    return job;
  }
  queue_.push_back(std::move(work));
  wake_.notify_all();
  return job;
}

std::vector<RetryJob> DlqRetrier::jobs() const {
  std::lock_guard lock(mutex_);
  std::vector<RetryJob> out;
  for (auto it = queue_.rbegin(); it != queue_.rend(); ++it) out.push_back(it->job);
  if (running_) out.push_back(*running_);
  out.insert(out.end(), finished_.begin(), finished_.end());
  return out;
}

void DlqRetrier::stop() {
  {
    std::lock_guard lock(mutex_);
    if (stopping_ && !thread_.joinable()) return;
    stopping_ = true;
    for (const Work& work : queue_) {
      for (const auto& letter : work.letters) busy_.erase({work.job.destination, letter.id});
    }
    queue_.clear();
  }
  cancel_ = true;
  wake_.notify_all();
  if (thread_.joinable()) thread_.join();
}

void DlqRetrier::finish(const Work& work, RetryJob done) {
  std::lock_guard lock(mutex_);
  for (const auto& letter : work.letters) busy_.erase({work.job.destination, letter.id});
  running_.reset();
  finished_.push_front(std::move(done));
  while (finished_.size() > options_.keepJobs) finished_.pop_back();
}

void DlqRetrier::run() {
  nameThisThread("dlq-retry");
  for (;;) {
    Work work;
    {
      std::unique_lock lock(mutex_);
      wake_.wait(lock, [this] { return stopping_ || !queue_.empty(); });
      if (stopping_) return;
      work = std::move(queue_.front());
      queue_.pop_front();
      work.job.state = "running";
      running_ = work.job;
    }
    std::vector<store::StoredEvent> events;
    std::vector<int64_t> ids;
    for (const auto& d : work.letters) {
      events.push_back(store::eventOf(d));
      ids.push_back(d.id);
    }
    delivery::OneShotOptions options;
    options.timeoutMs = options_.timeoutMs;
    options.cancel = &cancel_;
    auto result = delivery::runOneShot(work.destination,
                                       std::make_unique<delivery::ListFeed>(std::move(events)),
                                       state_, options, clock_);
    RetryJob done = work.job;
    done.finishedMs = clock_.nowMs();
    if (!result) {
      done.state = "failed";
      done.error = result.error().message + "; the dead letters are kept";
    } else {
      done.delivered = result->itemsDelivered;
      done.dead = result->itemsDead;
      done.expired = result->itemsExpired;
      // Every event has a new fate (delivered, or a new dead letter): the old entries go.
      if (auto dropped = state_.dropDeadLetters(work.destination.name, ids); !dropped) {
        done.state = "failed";
        done.error = dropped.error().message;
      } else {
        done.state = "done";
      }
    }
    spdlog::info("dashboard: retry of {} dead letters of {}: {} ({} delivered, {} dead again{}{})",
                 work.job.queued, work.destination.name, done.state, done.delivered, done.dead,
                 done.error.empty() ? "" : ": ", done.error);
    finish(work, std::move(done));
  }
}

}  // namespace sluice::ops::dashboard
