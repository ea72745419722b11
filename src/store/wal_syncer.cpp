#include "store/wal_syncer.h"

#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cerrno>
#include <chrono>
#include <cstring>
#include <utility>

#include "core/thread_name.h"

namespace sluice::store {

namespace {

// A descriptor of the WAL at `path`, for flushing it.
Result<int> openWal(const std::string& path) {
  const int fd = ::open(path.c_str(), O_RDWR | O_CLOEXEC);
  if (fd < 0) {
    return fail(ErrorCode::kIo, "event log: cannot open " + path + ": " + std::strerror(errno));
  }
  return fd;
}

}  // namespace

Result<std::unique_ptr<WalSyncer>> WalSyncer::open(const std::string& walPath, SyncFunction sync) {
  // The same inode SQLite writes: fdatasync flushes a file's dirty pages whichever descriptor it
  // is called on. SQLite never replaces a WAL while a connection has the database open (it only
  // rewrites and truncates it); the log closes its connections only to reopen after a failed
  // flush, and recover() then checks that the file at the path is still this one.
  auto fd = openWal(walPath);
  if (!fd) return fail(fd.error());
  if (!sync) sync = syncFileData;
  return std::unique_ptr<WalSyncer>(new WalSyncer(*fd, walPath, std::move(sync)));
}

WalSyncer::WalSyncer(int fd, std::string path, SyncFunction sync)
    : fd_(fd), path_(std::move(path)), sync_(std::move(sync)) {
  thread_ = std::thread([this] { loop(); });
}

WalSyncer::~WalSyncer() {
  stop();
  ::close(fd_);
}

Result<void> WalSyncer::flushNow() { return flush(); }

void WalSyncer::submit(Completion done) {
  {
    std::lock_guard lock(mutex_);
    if (!stopping_) {
      queue_.push_back(std::move(done));
      wake_.notify_one();
      return;
    }
  }
  done(fail(ErrorCode::kUnavailable, "event log is closed"));
}

std::optional<Error> WalSyncer::failure() const {
  std::lock_guard lock(mutex_);
  return failure_;
}

bool WalSyncer::flushingWithNothingQueued() const {
  std::lock_guard lock(mutex_);
  return busy_ && queue_.empty();
}

FlushStats WalSyncer::stats() const {
  std::lock_guard lock(mutex_);
  return stats_;
}

void WalSyncer::stop() {
  {
    std::lock_guard lock(mutex_);
    stopping_ = true;
    wake_.notify_one();
  }
  if (thread_.joinable()) thread_.join();
}

Result<void> WalSyncer::recover() {
  std::unique_lock lock(mutex_);
  idle_.wait(lock, [this] { return queue_.empty() && !busy_; });
  // The WAL SQLite now writes may be another file than the one open here (a connection that
  // closed last removed it): flushing the old one would acknowledge nothing.
  struct stat held {};
  struct stat named {};
  if (::fstat(fd_, &held) != 0 || ::stat(path_.c_str(), &named) != 0 ||
      held.st_dev != named.st_dev || held.st_ino != named.st_ino) {
    auto fd = openWal(path_);
    if (!fd) return fail(fd.error());
    ::close(fd_);
    fd_ = *fd;
  }
  lock.unlock();
  return flush(true);
}

Result<void> WalSyncer::flush(bool retry) {
  {
    std::lock_guard lock(mutex_);
    if (failure_ && !retry) return fail(*failure_);
  }
  const auto start = std::chrono::steady_clock::now();
  const int error = sync_(fd_);
  const std::chrono::duration<double> took = std::chrono::steady_clock::now() - start;
  std::lock_guard lock(mutex_);
  ++stats_.flushes;
  stats_.seconds += took.count();
  if (error == 0) {
    if (retry) failure_.reset();
    return ok();
  }
  ++stats_.failures;
  if (!failure_ || retry) {
    failure_ =
        Error{ErrorCode::kUnavailable,
              "storage failure: flushing " + path_ + " to disk failed (" + std::strerror(error) +
                  "); writes are refused until the event log has reopened from disk"};
  }
  return fail(*failure_);
}

void WalSyncer::loop() {
  nameThisThread("store-sync");
  std::vector<Completion> batch;
  std::unique_lock lock(mutex_);
  while (true) {
    wake_.wait(lock, [this] { return stopping_ || !queue_.empty(); });
    if (queue_.empty()) return;  // stopping, and everything submitted has run
    batch.swap(queue_);
    busy_ = true;
    lock.unlock();
    // Every completion in `batch` was submitted after its transaction committed, so its frames
    // were written before this flush begins.
    const Result<void> flushed = flush();
    for (Completion& done : batch) done(flushed);
    batch.clear();
    lock.lock();
    busy_ = false;
    if (queue_.empty()) {
      idle_.notify_all();
      if (onIdle_) {
        lock.unlock();
        onIdle_();
        lock.lock();
      }
    }
  }
}

}  // namespace sluice::store
