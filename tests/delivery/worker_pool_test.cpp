// WorkerPool: every part runs exactly once per job, each on its own pool thread; start() returns
// at once and wait() only when all parts have finished.
#include "delivery/worker_pool.h"

#include <gtest/gtest.h>

#include <atomic>
#include <chrono>
#include <set>
#include <thread>
#include <vector>

namespace sluice::delivery {
namespace {

TEST(WorkerPool, EveryPartRunsOncePerJobOnItsOwnPoolThread) {
  WorkerPool pool(3);
  ASSERT_EQ(pool.threads(), 3u);
  for (int job = 0; job < 500; ++job) {
    std::vector<std::atomic<int>> calls(3);
    std::vector<std::thread::id> ids(3);
    pool.start([&](size_t part) {
      calls.at(part).fetch_add(1);
      ids[part] = std::this_thread::get_id();
    });
    pool.wait();
    for (size_t part = 0; part < 3; ++part) EXPECT_EQ(calls[part].load(), 1) << "part " << part;
    std::set<std::thread::id> distinct(ids.begin(), ids.end());
    EXPECT_EQ(distinct.size(), 3u);
    EXPECT_EQ(distinct.count(std::this_thread::get_id()), 0u);  // none on the caller's thread
  }
}

TEST(WorkerPool, StartReturnsAtOnceAndWaitForTheSlowestPart) {
  WorkerPool pool(2);
  std::atomic<bool> release{false};
  std::atomic<int> done{0};
  pool.start([&](size_t part) {
    if (part == 1) {
      // Bounded: the caller releases it right after start() returns.
      for (int i = 0; i < 5'000 && !release.load(); ++i) {
        std::this_thread::sleep_for(std::chrono::milliseconds(1));
      }
    }
    done.fetch_add(1);
  });
  EXPECT_LT(done.load(), 2);  // start() did not wait for part 1
  release = true;
  pool.wait();
  EXPECT_EQ(done.load(), 2);
  pool.wait();  // nothing running: returns at once
}

TEST(WorkerPool, AJobNotWaitedForEndsBeforeTheNextStartsAndBeforeDestruction) {
  std::atomic<int> firstJobDone{0};
  std::atomic<int> secondJobDone{0};
  // What each part of the second job saw of the first; the parts of one job run concurrently, so
  // each reads only the first job's counter.
  std::atomic<int> seenBySecondJob[2] = {-1, -1};
  {
    WorkerPool pool(2);
    pool.start([&](size_t) {
      std::this_thread::sleep_for(std::chrono::milliseconds(20));
      firstJobDone.fetch_add(1);
    });
    pool.start([&](size_t part) {
      seenBySecondJob[part] = firstJobDone.load();
      secondJobDone.fetch_add(1);
    });
  }  // the second job was not waited for: the destructor ends it
  EXPECT_EQ(seenBySecondJob[0].load(), 2);  // both parts of the first job were done
  EXPECT_EQ(seenBySecondJob[1].load(), 2);
  EXPECT_EQ(firstJobDone.load(), 2);
  EXPECT_EQ(secondJobDone.load(), 2);
}

TEST(WorkerPool, ZeroThreadsIsOne) {
  WorkerPool pool(0);
  EXPECT_EQ(pool.threads(), 1u);
  std::vector<size_t> parts;
  pool.start([&](size_t part) { parts.push_back(part); });
  pool.wait();
  EXPECT_EQ(parts, std::vector<size_t>{0});
}

}  // namespace
}  // namespace sluice::delivery
