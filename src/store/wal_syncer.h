// Makes committed transactions durable off the writer thread: the event log commits with
// synchronous=NORMAL (COMMIT writes the WAL frames but does not wait for the disk), hands the
// transaction's completion to the syncer, and goes on with the next transaction while the syncer
// flushes the WAL file. A completion runs only after a flush that began after it was submitted has
// succeeded, so everything its transaction wrote is on disk by then (one flush covers every
// transaction committed before it began: group commit, with the disk and the writer busy at once).
//
// A failed flush sticks: the kernel may already have dropped the pages it could not write, and a
// WAL is replayed only up to its first missing frame, so no later transaction can be called
// durable either. Every completion from then on gets the error until recover(), which the log
// calls once it has reopened its files as the disk holds them.
#pragma once

#include <condition_variable>
#include <functional>
#include <memory>
#include <mutex>
#include <optional>
#include <string>
#include <thread>
#include <vector>

#include "core/result.h"
#include "store/event_log.h"
#include "store/file_sync.h"

namespace sluice::store {

class WalSyncer {
 public:
  using Completion = std::function<void(Result<void>)>;

  // Opens `walPath` (which must exist: the WAL of a database in WAL mode, created by SQLite) and
  // starts the syncer thread. `sync` empty means fdatasync.
  static Result<std::unique_ptr<WalSyncer>> open(const std::string& walPath, SyncFunction sync);

  ~WalSyncer();
  WalSyncer(const WalSyncer&) = delete;
  WalSyncer& operator=(const WalSyncer&) = delete;

  // Flushes the WAL now, on the calling thread (used once on open, before anything is read).
  Result<void> flushNow();

  // Runs `done` on the syncer thread once a flush that began after this call has finished: with
  // ok(), or with the error of that flush or of an earlier failed one. Completions run in the order
  // they were submitted and must not block. After stop() `done` runs at once with kUnavailable.
  void submit(Completion done);

  // Whether a flush is under way with no completion waiting for the next one: a transaction
  // committed now would start the next flush alone.
  bool flushingWithNothingQueued() const;

  // `idle` runs on the syncer thread (without the syncer's lock held) each time it has run every
  // completion it took and none is waiting. Set once, before the first submit().
  void onIdle(std::function<void()> idle) { onIdle_ = std::move(idle); }

  // The error of the first failed flush since open or the last recover(), if one failed.
  std::optional<Error> failure() const;

  // After a failed flush, once the WAL was reopened from disk: waits until every completion
  // submitted so far has run (with the failure), opens the WAL again if the file at its path is
  // another one now, flushes it on the calling thread and, if that succeeds, forgets the failure.
  // The caller submits nothing meanwhile.
  Result<void> recover();

  // How many flushes ran (flushNow() included), how many failed, and how long they took.
  FlushStats stats() const;

  // Flushes what was submitted, runs every completion, and joins the thread. Idempotent; not to be
  // called from two threads at once.
  void stop();

 private:
  WalSyncer(int fd, std::string path, SyncFunction sync);
  void loop();
  // One flush; records and returns the first failure (at once when one is recorded, unless
  // `retry`).
  Result<void> flush(bool retry = false);

  int fd_;  // replaced only by recover(), under mutex_ while the loop is idle
  const std::string path_;
  const SyncFunction sync_;

  mutable std::mutex mutex_;
  std::condition_variable wake_;
  std::condition_variable idle_;   // the loop has run every completion it took
  std::vector<Completion> queue_;  // GUARDED_BY(mutex_)
  bool busy_ = false;              // GUARDED_BY(mutex_): running a batch taken from queue_
  bool stopping_ = false;          // GUARDED_BY(mutex_)
  std::optional<Error> failure_;   // GUARDED_BY(mutex_)
  FlushStats stats_;               // GUARDED_BY(mutex_)
  std::function<void()> onIdle_;
  std::thread thread_;
};

}  // namespace sluice::store
