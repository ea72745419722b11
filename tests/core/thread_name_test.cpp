#include "core/thread_name.h"

#include <gtest/gtest.h>

#include <fstream>
#include <string>
#include <thread>

namespace sluice {
namespace {

// The calling thread's name as the kernel reports it (what top -H, ps -L and perf show).
std::string kernelName() {
  std::ifstream in("/proc/thread-self/comm");
  std::string name;
  std::getline(in, name);
  return name;
}

std::string nameOnAThread(const std::string& name) {
  std::string seen;
  std::thread([&] {
    nameThisThread(name);
    seen = kernelName();
  }).join();
  return seen;
}

TEST(ThreadNameTest, NamesTheCallingThreadOnly) {
  const std::string before = kernelName();
  EXPECT_EQ(nameOnAThread("store-writer"), "store-writer");
  EXPECT_EQ(kernelName(), before);
}

TEST(ThreadNameTest, ALongNameKeepsItsFirstFifteenBytes) {
  EXPECT_EQ(nameOnAThread("dlv-tiktok-eu-production"), "dlv-tiktok-eu-p");
  EXPECT_EQ(nameOnAThread("exactly-15-byte"), "exactly-15-byte");
}

}  // namespace
}  // namespace sluice
