#include "delivery/worker_pool.h"

namespace sluice::delivery {

WorkerPool::WorkerPool(size_t threads) {
  const size_t extra = threads > 1 ? threads - 1 : 0;
  workers_.reserve(extra);
  for (size_t i = 0; i < extra; ++i) workers_.emplace_back([this, i] { workerMain(i + 1); });
}

WorkerPool::~WorkerPool() {
  {
    std::lock_guard lock(mutex_);
    stopping_ = true;
  }
  startJob_.notify_all();
  for (auto& worker : workers_) worker.join();
}

void WorkerPool::run(const std::function<void(size_t)>& part) {
  if (workers_.empty()) {
    part(0);
    return;
  }
  {
    std::lock_guard lock(mutex_);
    job_ = &part;
    running_ = workers_.size();
    ++generation_;
  }
  startJob_.notify_all();
  part(0);
  std::unique_lock lock(mutex_);
  jobDone_.wait(lock, [&] { return running_ == 0; });
  job_ = nullptr;
}

void WorkerPool::workerMain(size_t part) {
  uint64_t seen = 0;
  std::unique_lock lock(mutex_);
  for (;;) {
    startJob_.wait(lock, [&] { return stopping_ || generation_ != seen; });
    if (stopping_) return;
    seen = generation_;
    const auto* job = job_;
    lock.unlock();
    (*job)(part);
    lock.lock();
    if (--running_ == 0) jobDone_.notify_one();
  }
}

}  // namespace sluice::delivery
