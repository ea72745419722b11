#include "delivery/worker_pool.h"

#include <string>
#include <utility>

#include "core/thread_name.h"

namespace sluice::delivery {

WorkerPool::WorkerPool(size_t threads) {
  const size_t n = threads > 0 ? threads : 1;
  workers_.reserve(n);
  for (size_t i = 0; i < n; ++i) workers_.emplace_back([this, i] { workerMain(i); });
}

WorkerPool::~WorkerPool() {
  wait();
  {
    std::lock_guard lock(mutex_);
    stopping_ = true;
  }
  startJob_.notify_all();
  for (auto& worker : workers_) worker.join();
}

void WorkerPool::start(std::function<void(size_t)> part) {
  {
    std::unique_lock lock(mutex_);
    jobDone_.wait(lock, [&] { return running_ == 0; });  // a job not waited for ends first
    job_ = std::move(part);
    running_ = workers_.size();
    ++generation_;
  }
  startJob_.notify_all();
}

void WorkerPool::wait() {
  std::unique_lock lock(mutex_);
  jobDone_.wait(lock, [&] { return running_ == 0; });
}

void WorkerPool::workerMain(size_t part) {
  nameThisThread("map-" + std::to_string(part));
  uint64_t seen = 0;
  std::unique_lock lock(mutex_);
  for (;;) {
    startJob_.wait(lock, [&] { return stopping_ || generation_ != seen; });
    if (stopping_) return;
    seen = generation_;
    // job_ is replaced only by start(), after wait() has seen every part return.
    const auto* job = &job_;
    lock.unlock();
    (*job)(part);
    lock.lock();
    if (--running_ == 0) jobDone_.notify_all();
  }
}

}  // namespace sluice::delivery
