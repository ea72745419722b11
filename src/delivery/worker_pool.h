// A fixed set of threads that run the parts of one CPU-bound job at a time, while the thread that
// started the job does other work: start() hands part i to pool thread i and returns at once,
// wait() returns when every part is done. The dispatcher maps one chunk of events this way while
// it reads the next chunk and sends what the previous one gave.
#pragma once

#include <condition_variable>
#include <cstddef>
#include <cstdint>
#include <functional>
#include <mutex>
#include <thread>
#include <vector>

namespace sluice::delivery {

class WorkerPool {
 public:
  // `threads` pool threads, one per part of a job; 0 is taken as 1.
  explicit WorkerPool(size_t threads);
  ~WorkerPool();  // waits for a started job, then joins the pool's threads
  WorkerPool(const WorkerPool&) = delete;
  WorkerPool& operator=(const WorkerPool&) = delete;

  size_t threads() const { return workers_.size(); }

  // Calls part(0), ..., part(threads() - 1) concurrently, each once on its own pool thread, and
  // returns without waiting. One job at a time: a job still running is waited for first.
  // `part` must not throw; what it reads and writes belongs to the job until wait() returns.
  void start(std::function<void(size_t part)> part);

  // Returns when every part of the job last started has returned (at once when none is running).
  // Everything the parts wrote is visible to the caller afterwards.
  void wait();

 private:
  void workerMain(size_t part);

  std::mutex mutex_;
  std::condition_variable startJob_;
  std::condition_variable jobDone_;
  std::function<void(size_t)> job_;  // GUARDED_BY(mutex_)
  uint64_t generation_ = 0;          // GUARDED_BY(mutex_): jobs started
  size_t running_ = 0;               // GUARDED_BY(mutex_): pool threads still in the current job
  bool stopping_ = false;            // GUARDED_BY(mutex_)
  std::vector<std::thread> workers_;
};

}  // namespace sluice::delivery
