#include "core/thread_name.h"

#include <pthread.h>

#include <algorithm>
#include <array>

namespace sluice {

void nameThisThread(std::string_view name) {
  std::array<char, 16> buffer{};  // 15 bytes and the terminating NUL, as the kernel keeps them
  const size_t length = std::min(name.size(), buffer.size() - 1);
  std::copy_n(name.data(), length, buffer.data());
  pthread_setname_np(pthread_self(), buffer.data());
}

}  // namespace sluice
