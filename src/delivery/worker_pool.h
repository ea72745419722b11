// A fixed set of threads that run the parts of one CPU-bound job at a time: part 0 on the caller's
// thread, parts 1..threads-1 on the pool's own threads, and run() returns when every part is done.
// The dispatcher maps a chunk of events this way, one even slice per part.
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
  // `threads` parts per job, the caller's thread included; 0 is taken as 1 (no pool threads: run()
  // calls part 0 on the caller's thread only).
  explicit WorkerPool(size_t threads);
  ~WorkerPool();  // joins the pool's threads
  WorkerPool(const WorkerPool&) = delete;
  WorkerPool& operator=(const WorkerPool&) = delete;

  size_t threads() const { return workers_.size() + 1; }

  // Calls part(0), ..., part(threads() - 1), each exactly once and concurrently, and returns when
  // all have returned. One run() at a time (the pool belongs to one caller thread); `part` must
  // not throw.
  void run(const std::function<void(size_t part)>& part);

 private:
  void workerMain(size_t part);

  std::mutex mutex_;
  std::condition_variable startJob_;
  std::condition_variable jobDone_;
  const std::function<void(size_t)>* job_ = nullptr;  // GUARDED_BY(mutex_)
  uint64_t generation_ = 0;                           // GUARDED_BY(mutex_): jobs started
  size_t running_ = 0;  // GUARDED_BY(mutex_): pool threads still in the current job
  bool stopping_ = false;  // GUARDED_BY(mutex_)
  std::vector<std::thread> workers_;
};

}  // namespace sluice::delivery
