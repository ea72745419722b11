// Flushing a file's data to stable storage, as a replaceable function: the event log's options
// take one so that tests can inject failures and delays (SqliteLogOptions::walSync).
#pragma once

#include <functional>

namespace sluice::store {

// Flushes a file's data to stable storage: 0, or an errno value. The real one is syncFileData().
using SyncFunction = std::function<int(int fd)>;

// fdatasync(fd): 0, or the errno value it failed with.
int syncFileData(int fd);

}  // namespace sluice::store
