#include "store/file_sync.h"

#include <fcntl.h>
#include <unistd.h>

#include <cerrno>

namespace sluice::store {

int syncFileData(int fd) { return ::fdatasync(fd) == 0 ? 0 : errno; }

bool dropCachedPages(const std::string& path) {
  const int fd = ::open(path.c_str(), O_RDONLY | O_CLOEXEC);
  if (fd < 0) return errno == ENOENT;
  const bool dropped = ::posix_fadvise(fd, 0, 0, POSIX_FADV_DONTNEED) == 0;
  ::close(fd);
  return dropped;
}

}  // namespace sluice::store
