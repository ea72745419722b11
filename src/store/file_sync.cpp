#include "store/file_sync.h"

#include <unistd.h>

#include <cerrno>

namespace sluice::store {

int syncFileData(int fd) { return ::fdatasync(fd) == 0 ? 0 : errno; }

}  // namespace sluice::store
