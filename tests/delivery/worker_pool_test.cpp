// WorkerPool: every part runs exactly once per job, on distinct threads, and run() returns only
// when all have finished.
#include "delivery/worker_pool.h"

#include <gtest/gtest.h>

#include <atomic>
#include <chrono>
#include <set>
#include <thread>
#include <vector>

namespace sluice::delivery {
namespace {

TEST(WorkerPool, EveryPartRunsOncePerJobOnItsOwnThread) {
  WorkerPool pool(3);
  ASSERT_EQ(pool.threads(), 3u);
  for (int job = 0; job < 500; ++job) {
    std::vector<std::atomic<int>> calls(3);
    std::vector<std::thread::id> ids(3);
    pool.run([&](size_t part) {
      calls.at(part).fetch_add(1);
      ids[part] = std::this_thread::get_id();
    });
    for (size_t part = 0; part < 3; ++part) EXPECT_EQ(calls[part].load(), 1) << "part " << part;
    EXPECT_EQ(ids[0], std::this_thread::get_id());  // part 0 on the caller's thread
    EXPECT_EQ(std::set<std::thread::id>(ids.begin(), ids.end()).size(), 3u);
  }
}

TEST(WorkerPool, RunWaitsForTheSlowestPart) {
  WorkerPool pool(2);
  std::atomic<bool> slowDone{false};
  pool.run([&](size_t part) {
    if (part == 1) {
      std::this_thread::sleep_for(std::chrono::milliseconds(50));
      slowDone = true;
    }
  });
  EXPECT_TRUE(slowDone.load());
}

TEST(WorkerPool, OneThreadRunsPartZeroOnTheCaller) {
  for (size_t threads : {0u, 1u}) {
    WorkerPool pool(threads);
    EXPECT_EQ(pool.threads(), 1u);
    std::vector<size_t> parts;
    std::thread::id ran;
    pool.run([&](size_t part) {
      parts.push_back(part);
      ran = std::this_thread::get_id();
    });
    EXPECT_EQ(ran, std::this_thread::get_id());
    EXPECT_EQ(parts, std::vector<size_t>{0});
  }
}

}  // namespace
}  // namespace sluice::delivery
