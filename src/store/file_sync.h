// A file's data and the page cache: flushing it to stable storage, as a replaceable function (the
// event log's options take one so that tests can inject failures and delays,
// SqliteLogOptions::walSync), and dropping its cached pages so that the next read is from the disk.
#pragma once

#include <functional>
#include <string>

namespace sluice::store {

// Flushes a file's data to stable storage: 0, or an errno value. The real one is syncFileData().
using SyncFunction = std::function<int(int fd)>;

// fdatasync(fd): 0, or the errno value it failed with.
int syncFileData(int fd);

// Asks the kernel to drop the cached pages of the file at `path` (posix_fadvise DONTNEED), so that
// the next read of them comes from the disk: clean pages go; dirty ones are written back and stay.
// Best effort: false when the file exists but cannot be opened or the kernel refuses; true when it
// did so or there is no such file.
bool dropCachedPages(const std::string& path);

}  // namespace sluice::store
