// The embedded event log: SQLite in WAL mode under one directory; every acknowledged write is in
// the WAL on disk (the writer commits, a syncer thread flushes the WAL, then acknowledges).
// See README.md in this folder for the file layout, the schema, and the durability guarantees.
#pragma once

#include <cstdint>
#include <functional>
#include <memory>
#include <optional>
#include <string>

#include "core/clock.h"
#include "core/result.h"
#include "store/event_log.h"
#include "store/file_sync.h"

namespace sluice::store {

// Free bytes available to an unprivileged writer on the file system holding `directory`, or
// nullopt when that cannot be determined.
using FreeSpaceFunction = std::function<std::optional<uint64_t>(const std::string& directory)>;

// The real free-space probe (statvfs: f_bavail * f_frsize).
std::optional<uint64_t> statvfsFreeBytes(const std::string& directory);

struct SqliteLogOptions {
  // The directory that holds the log: `events.db` and its -wal/-shm files.
  std::string directory;
  // When false, opening fails with kNotFound unless the log already exists (for read-only tools).
  bool createIfMissing = true;
  // Opens for reading only (export tools next to a running server): no writer, no checkpoints, no
  // migration (a log of another schema version is refused); appends and cursor changes fail with
  // kUnavailable. Implies createIfMissing = false.
  bool readOnly = false;
  // Below this free disk space appends are refused (kResourceExhausted) and writeHealth() says so.
  uint64_t minFreeBytes = 512ull << 20;
  // The same (source, messageId) appended again within this window is acknowledged but not
  // stored. 0 disables de-duplication.
  int64_t dedupWindowMs = 24LL * 3'600'000;
  // The window keeps at most the keys of the newest this many events (their seqs), so memory stays
  // bounded whatever the traffic: 16 bytes per table slot, 1.4 to 2.9 slots per key (10 million:
  // 230-460 MB at most). Older keys leave the window early. 0: no cap.
  uint64_t dedupMaxEvents = 10'000'000;
  // Time for dedup windows, retention and retry hints; nullptr means SystemClock::instance().
  // Must outlive the log.
  Clock* clock = nullptr;
  // How free space is measured; empty means statvfsFreeBytes. Tests inject a fake.
  FreeSpaceFunction freeSpace;
  // How the WAL is flushed to disk after commits (and by a read-only log catching up); empty
  // means fdatasync. Tests inject failures and delays.
  SyncFunction walSync;
  // Free space is measured at most this often (monotonic clock).
  int64_t freeSpaceCheckIntervalMs = 200;
  // Retry-After hints given while not writable.
  int64_t diskFullRetryAfterMs = 5'000;
  int64_t ioErrorRetryAfterMs = 1'000;
  // After a failed flush of the WAL, writes are refused until the log has closed its connections
  // and opened them again, so that SQLite reads the WAL as the disk holds it: first this long
  // after the failure, then at doubling intervals (at most a minute) while that fails.
  int64_t recoveryDelayMs = 2'000;
  // The writer begins a transaction at most this often (microseconds); appends arriving meanwhile
  // join it. 0: as soon as the writer is free. Fewer, larger commits write fewer WAL pages and wake
  // fewer threads, and each append may wait up to this long more: at 20,000 single-event requests
  // a second, 1 ms halved the bytes written and took a quarter off sluice's CPU, but its p50 rose
  // by 0.5 ms and clients holding few connections saw a longer tail (BENCHMARKS.md).
  int64_t commitIntervalUs = 0;
  // While the WAL is being flushed and no committed transaction waits for the next flush, the
  // writer holds a new transaction back until that flush ends (at most gatherMaxWaitMs), or until
  // this many events are queued: the small commits that would all have waited for the next flush
  // become one, which writes the pages every commit rewrites (the last leaf, the span and the
  // de-duplication rows, the header) once instead of once each. The price: the next flush begins
  // only once that transaction is written (the disk waits for the writer, where before the writer
  // had written during the flush). At 20,000 single-event requests a second: 13-23% fewer bytes
  // written and 8-11% less CPU, p50 within 0.05 ms and p99 within ~1 ms (BENCHMARKS.md). Larger
  // queues go at once, so big batches keep writing while the disk flushes. 0: commit at once.
  size_t gatherWhileFlushingEvents = 256;
  // The longest a transaction is held back so (a bound for a flush that hangs).
  int64_t gatherMaxWaitMs = 100;
  // Upper bound of events written in one transaction (group commit takes whole requests, so one
  // large request may exceed it).
  size_t maxEventsPerTransaction = 20'000;
  // Rows deleted per transaction by applyRetention(), interleaved with appends.
  int retentionChunkRows = 5'000;
  // Quarantined payloads longer than this are truncated.
  size_t maxQuarantinePayloadBytes = 512 * 1024;
  // The page size of a new log (a power of two from 512 to 65,536); a log keeps the page size it
  // was created with. 8 KB: 9-25% more /v1/batch events/s than 4 KB, single events within noise
  // (BENCHMARKS.md).
  int pageSize = 8'192;
  // The WAL is checkpointed (passively, off the writer thread) once it holds this many bytes of
  // pages; at four times as many the writer finishes the checkpoint and restarts the WAL itself, so
  // that sustained writes cannot grow it without bound. 8 MB: smaller copies, each flushed to disk
  // sooner, halved the p99 of acknowledgements against 32 MB (BENCHMARKS.md).
  int64_t checkpointBytes = 8 << 20;
  // For tests: caps the database size (PRAGMA max_page_count) to provoke SQLITE_FULL. 0: no cap.
  int64_t maxPageCountForTesting = 0;
};

// Opens (creating when allowed) the log under options.directory, migrating its schema when it was
// written by an older version. Opening does no full scans, so it is fast whatever the log's size.
// Returns an error (and no log) when the directory or the database cannot be used.
Result<std::unique_ptr<EventLog>> openSqliteLog(const SqliteLogOptions& options);

// The database file inside a log directory: events, de-duplication keys, cursors, quarantine.
std::string sqliteLogFile(const std::string& directory);

// The schema version this build writes (stored in PRAGMA user_version).
inline constexpr int kSqliteLogSchemaVersion = 3;

}  // namespace sluice::store
