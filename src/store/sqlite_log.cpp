#include "store/sqlite_log.h"

#include <fcntl.h>
#include <sqlite3.h>
#include <sys/stat.h>
#include <sys/statvfs.h>
#include <unistd.h>

#include <algorithm>
#include <atomic>
#include <cerrno>
#include <chrono>
#include <condition_variable>
#include <cstring>
#include <deque>
#include <filesystem>
#include <future>
#include <limits>
#include <map>
#include <mutex>
#include <optional>
#include <shared_mutex>
#include <string_view>
#include <system_error>
#include <thread>
#include <utility>
#include <vector>

#include "core/thread_name.h"
#include "store/dedup_index.h"
#include "store/sqlite_handles.h"
#include "store/wal_syncer.h"

namespace sluice::store {
namespace {

// ---------------------------------------------------------------------------------------------
// Thin RAII layer over the SQLite C API.

using DbPtr = SqliteDbPtr;
using StmtPtr = SqliteStmtPtr;

// Resets a statement (and its bindings) when a use of it ends, however it ends.
class StmtUse {
 public:
  explicit StmtUse(sqlite3_stmt* stmt) : stmt_(stmt) {}
  ~StmtUse() {
    sqlite3_reset(stmt_);
    sqlite3_clear_bindings(stmt_);
  }
  StmtUse(const StmtUse&) = delete;
  StmtUse& operator=(const StmtUse&) = delete;

 private:
  sqlite3_stmt* stmt_;
};

// Errors that mean the storage itself is failing (as opposed to a bug or a bad statement).
bool isStorageFailure(int rc) {
  switch (rc & 0xff) {
    case SQLITE_IOERR:
    case SQLITE_FULL:
    case SQLITE_CORRUPT:
    case SQLITE_NOTADB:
    case SQLITE_CANTOPEN:
    case SQLITE_READONLY:
    case SQLITE_NOMEM:
    case SQLITE_BUSY:
    case SQLITE_LOCKED:
    case SQLITE_PROTOCOL:
      return true;
    default:
      return false;
  }
}

ErrorCode errorCodeFor(int rc) {
  switch (rc & 0xff) {
    case SQLITE_FULL:
      return ErrorCode::kResourceExhausted;
    case SQLITE_IOERR:
    case SQLITE_BUSY:
    case SQLITE_LOCKED:
    case SQLITE_PROTOCOL:
      return ErrorCode::kUnavailable;
    case SQLITE_CORRUPT:
    case SQLITE_NOTADB:
    case SQLITE_CANTOPEN:
    case SQLITE_READONLY:
      return ErrorCode::kIo;
    default:
      return ErrorCode::kInternal;
  }
}

// SQLite's messages name files and statements, never bound values, so they hold no event data.
Error sqliteError(sqlite3* db, int rc, std::string_view what) {
  std::string message = "event log: ";
  message += what;
  message += ": ";
  message += sqlite3_errstr(rc);
  if (db != nullptr) {
    const char* detail = sqlite3_errmsg(db);
    if (detail != nullptr && std::string_view(detail) != sqlite3_errstr(rc)) {
      message += " (";
      message += detail;
      message += ")";
    }
  }
  return Error{errorCodeFor(rc), std::move(message)};
}

// An error that carries the SQLite result code, so the writer can tell storage failures apart.
struct DbError {
  int rc = SQLITE_OK;
  Error error;
};

Result<void> exec(sqlite3* db, const char* sql) {
  char* errmsg = nullptr;
  int rc = sqlite3_exec(db, sql, nullptr, nullptr, &errmsg);
  sqlite3_free(errmsg);
  if (rc != SQLITE_OK) return fail(sqliteError(db, rc, sql));
  return ok();
}

Result<StmtPtr> prepare(sqlite3* db, std::string_view sql) {
  sqlite3_stmt* stmt = nullptr;
  int rc = sqlite3_prepare_v3(db, sql.data(), static_cast<int>(sql.size()),
                              SQLITE_PREPARE_PERSISTENT, &stmt, nullptr);
  if (rc != SQLITE_OK) {
    sqlite3_finalize(stmt);
    return fail(sqliteError(db, rc, "prepare"));
  }
  return StmtPtr(stmt);
}

// The log's texts (the events of the batch being written, literals) outlive each step: SQLite
// borrows them instead of copying (store::bindText, hidden here by this name).
void bindText(sqlite3_stmt* stmt, int index, std::string_view text) {
  store::bindText(stmt, index, text, SqliteText::kBorrow);
}

std::string columnBlob(sqlite3_stmt* stmt, int column) {
  const auto* data = static_cast<const char*>(sqlite3_column_blob(stmt, column));
  if (data == nullptr) return {};
  return std::string(data, static_cast<size_t>(sqlite3_column_bytes(stmt, column)));
}

constexpr const char* kEventColumns =
    "seq, source, message_id, type, name, received_at, timestamp, json";

// Every field of `event` from the current row (kEventColumns), reusing its strings' buffers.
void assignEventRow(sqlite3_stmt* stmt, StoredEvent& event) {
  event.seq = static_cast<Seq>(sqlite3_column_int64(stmt, 0));
  assignColumnText(event.source, stmt, 1);
  assignColumnText(event.messageId, stmt, 2);
  assignColumnText(event.type, stmt, 3);
  assignColumnText(event.name, stmt, 4);
  event.receivedAtMs = sqlite3_column_int64(stmt, 5);
  event.timestampMs = sqlite3_column_int64(stmt, 6);
  assignColumnText(event.json, stmt, 7, kStoredJsonSlack);
}

StoredEvent readEventRow(sqlite3_stmt* stmt) {
  StoredEvent event;
  assignEventRow(stmt, event);
  return event;
}

enum class OpenMode { kWriter, kReader };

Result<DbPtr> openConnection(const std::string& file, OpenMode mode, bool create) {
  int flags = SQLITE_OPEN_READWRITE | SQLITE_OPEN_NOMUTEX;
  if (create && mode == OpenMode::kWriter) flags |= SQLITE_OPEN_CREATE;
  sqlite3* raw = nullptr;
  int rc = sqlite3_open_v2(file.c_str(), &raw, flags, nullptr);
  DbPtr db(raw);
  if (rc != SQLITE_OK) return fail(sqliteError(db.get(), rc, "open " + file));
  sqlite3_extended_result_codes(db.get(), 1);
  sqlite3_busy_timeout(db.get(), 10'000);
  if (mode == OpenMode::kReader) {
    if (auto r = exec(db.get(), "PRAGMA query_only=1"); !r) return fail(r.error());
    // Checkpoints are the writer's: a reader that happens to close last (a scan, or an export in
    // another process, while the writer reopens after a failed flush) neither copies the WAL into
    // the database nor removes it.
    sqlite3_db_config(db.get(), SQLITE_DBCONFIG_NO_CKPT_ON_CLOSE, 1, nullptr);
  }
  return db;
}

// The WAL holding this many times SqliteLogOptions::checkpointBytes makes the writer restart it.
constexpr int kWalRestartFactor = 4;

// What reads get while the reader's connection is not open.
constexpr const char* kNotOpen =
    "event log is not open (closed, or reopening after a storage failure)";

// The shared memory index beside a WAL ("events.db-wal" -> "events.db-shm").
std::string shmPathOf(const std::string& walPath) {
  return walPath.substr(0, walPath.size() - 3) + "shm";
}

// Whether a process other than this one has the database open, asked through `shmFd`, a
// descriptor of its shared memory file: every connection holds a read lock on one byte of that
// file (SQLite's unix VFS, its "DMS" byte: offset (22 + 8) * 4 + 8) while it is open, and
// F_GETLK reports only other processes' locks. (The descriptor stays open as long as the log: with
// POSIX locks, closing any descriptor of a file drops every lock the process holds on it.)
bool otherProcessHasLogOpen(int shmFd) {
  if (shmFd < 0) return false;
  struct flock probe {};
  probe.l_type = F_WRLCK;
  probe.l_whence = SEEK_SET;
  probe.l_start = 128;
  probe.l_len = 1;
  return ::fcntl(shmFd, F_GETLK, &probe) == 0 && probe.l_type != F_UNLCK;
}

// The longest wait between two tries to reopen the log after a failed flush, and how soon it is
// tried again when a scan was under way.
constexpr int64_t kMaxRecoveryDelayMs = 60'000;
constexpr int64_t kScanRecheckDelayMs = 50;

// Files of the de-duplication database of schema version 1 (`dedup.db` attached as `dd`), removed
// once its state has moved into events.db (migration 1 -> 2).
constexpr const char* kLegacyDedupFiles[] = {"dedup.db", "dedup.db-wal", "dedup.db-shm"};

// The WAL of a connection's database, named by SQLite itself (it follows a symbolic link to the
// database); null if it has none. Known as soon as the connection is open, before any read.
const char* walFileOf(sqlite3* db) { return sqlite3_filename_wal(sqlite3_db_filename(db, "main")); }

// ---------------------------------------------------------------------------------------------
// Schema and migrations. Each entry migrates from version i to i + 1; user_version records the
// version reached. Never edit a released step: append a new one.

constexpr const char* kMigrations[] = {
    // 0 -> 1
    "CREATE TABLE events("
    "  seq INTEGER PRIMARY KEY,"
    "  source TEXT NOT NULL,"
    "  message_id TEXT NOT NULL,"
    "  type TEXT NOT NULL,"
    "  name TEXT NOT NULL,"
    "  received_at INTEGER NOT NULL,"
    "  timestamp INTEGER NOT NULL,"
    "  json TEXT NOT NULL);"
    "CREATE INDEX events_received_at ON events(received_at);"
    "CREATE TABLE cursors(consumer TEXT PRIMARY KEY, seq INTEGER NOT NULL);"
    "CREATE TABLE quarantine("
    "  id INTEGER PRIMARY KEY AUTOINCREMENT,"
    "  source TEXT NOT NULL,"
    "  received_at INTEGER NOT NULL,"
    "  reason TEXT NOT NULL,"
    "  payload BLOB NOT NULL);"
    "CREATE TABLE meta(key TEXT PRIMARY KEY, value INTEGER NOT NULL) WITHOUT ROWID;",
    // 1 -> 2: de-duplication keys appended beside the events (filled by fillDedupKeys()).
    "CREATE TABLE dedup_keys("
    "  seq INTEGER PRIMARY KEY,"
    "  first_seen INTEGER NOT NULL,"
    "  keys BLOB NOT NULL);",
    // 2 -> 3: time ranges per stretch of seqs instead of an index entry per event (filled from
    // that index, which it then drops, by fillSpans()).
    "CREATE TABLE spans("
    "  first_seq INTEGER PRIMARY KEY,"
    "  last_seq INTEGER NOT NULL,"
    "  oldest INTEGER NOT NULL,"
    "  newest INTEGER NOT NULL);",
};
static_assert(std::size(kMigrations) == kSqliteLogSchemaVersion);

Result<int> userVersion(sqlite3* db) {
  auto stmt = prepare(db, "PRAGMA user_version");
  if (!stmt) return fail(stmt.error());
  int rc = sqlite3_step(stmt->get());
  if (rc != SQLITE_ROW) return fail(sqliteError(db, rc, "read schema version"));
  return sqlite3_column_int(stmt->get(), 0);
}

// A `dedup_keys.keys` blob: (key, seq) pairs of 2 x 8 bytes in native byte order.
void appendKeyPair(std::string& blob, uint64_t key, Seq seq) {
  char bytes[16];
  std::memcpy(bytes, &key, 8);
  std::memcpy(bytes + 8, &seq, 8);
  blob.append(bytes, sizeof bytes);
}

// Migration 1 -> 2: the de-duplication state of the window, rebuilt from the events themselves
// (version 1 kept it in dedup.db, keyed by pair without seq): events received after `cutoffMs`,
// in rows of up to 1,000 keys stamped with the newest receivedAt among them.
Result<void> fillDedupKeys(sqlite3* db, EpochMs cutoffMs) {
  auto select = prepare(db,
                        "SELECT seq, source, message_id, received_at FROM events"
                        " WHERE received_at > ?1 AND message_id != '' ORDER BY seq");
  auto insert = prepare(db, "INSERT INTO dedup_keys(seq, first_seen, keys) VALUES (?1, ?2, ?3)");
  if (!select) return fail(select.error());
  if (!insert) return fail(insert.error());
  sqlite3_bind_int64(select->get(), 1, cutoffMs);
  std::string blob;
  Seq lastSeq = 0;
  EpochMs newestMs = 0;
  auto flush = [&]() -> Result<void> {
    if (blob.empty()) return ok();
    sqlite3_stmt* i = insert->get();
    sqlite3_bind_int64(i, 1, static_cast<sqlite3_int64>(lastSeq));
    sqlite3_bind_int64(i, 2, newestMs);
    sqlite3_bind_blob(i, 3, blob.data(), static_cast<int>(blob.size()), SQLITE_STATIC);
    const int rc = sqlite3_step(i);
    sqlite3_reset(i);
    blob.clear();
    newestMs = 0;
    if (rc != SQLITE_DONE) return fail(sqliteError(db, rc, "migrate dedup keys"));
    return ok();
  };
  int rc;
  while ((rc = sqlite3_step(select->get())) == SQLITE_ROW) {
    sqlite3_stmt* s = select->get();
    lastSeq = static_cast<Seq>(sqlite3_column_int64(s, 0));
    newestMs = std::max<EpochMs>(newestMs, sqlite3_column_int64(s, 3));
    appendKeyPair(blob, dedupKey(columnText(s, 1), columnText(s, 2)), lastSeq);
    if (blob.size() >= 1000 * 16) {
      if (auto r = flush(); !r) return r;
    }
  }
  if (rc != SQLITE_DONE) return fail(sqliteError(db, rc, "migrate dedup keys"));
  return flush();
}

// A span of the writer ends after this many seqs or this long after it began (store clock).
constexpr Seq kSpanMaxSeqs = 65'536;
constexpr EpochMs kSpanMaxMs = 1'000;

// Migration 2 -> 3: a span per 65,536 seqs (kSpanMaxSeqs) of the events already stored, with the
// oldest and newest receivedAt among them, read from the received_at index (covering: no event row
// is read), which is then dropped. Without that index (dropped by hand), from the events.
Result<void> fillSpans(sqlite3* db) {
  bool indexed = false;
  {
    auto index = prepare(db,
                         "SELECT 1 FROM sqlite_master WHERE type = 'index'"
                         " AND name = 'events_received_at' AND tbl_name = 'events'");
    if (!index) return fail(index.error());
    const int rc = sqlite3_step(index->get());
    if (rc != SQLITE_ROW && rc != SQLITE_DONE) return fail(sqliteError(db, rc, "migrate spans"));
    indexed = rc == SQLITE_ROW;
  }
  struct Span {
    Seq first = 0;
    Seq last = 0;
    EpochMs oldest = 0;
    EpochMs newest = 0;
  };
  std::map<Seq, Span> spans;
  {
    auto select = prepare(db, indexed ? "SELECT seq, received_at FROM events"
                                        " INDEXED BY events_received_at"
                                      : "SELECT seq, received_at FROM events");
    if (!select) return fail(select.error());
    sqlite3_stmt* s = select->get();
    int rc;
    while ((rc = sqlite3_step(s)) == SQLITE_ROW) {
      const auto seq = static_cast<Seq>(sqlite3_column_int64(s, 0));
      const EpochMs at = sqlite3_column_int64(s, 1);
      auto [it, added] = spans.try_emplace(seq / kSpanMaxSeqs, Span{seq, seq, at, at});
      Span& span = it->second;
      if (added) continue;
      span.first = std::min(span.first, seq);
      span.last = std::max(span.last, seq);
      span.oldest = std::min(span.oldest, at);
      span.newest = std::max(span.newest, at);
    }
    if (rc != SQLITE_DONE) return fail(sqliteError(db, rc, "migrate spans"));
  }
  auto insert = prepare(db,
                        "INSERT INTO spans(first_seq, last_seq, oldest, newest)"
                        " VALUES (?1, ?2, ?3, ?4)");
  if (!insert) return fail(insert.error());
  for (const auto& [bucket, span] : spans) {
    sqlite3_stmt* i = insert->get();
    sqlite3_bind_int64(i, 1, static_cast<sqlite3_int64>(span.first));
    sqlite3_bind_int64(i, 2, static_cast<sqlite3_int64>(span.last));
    sqlite3_bind_int64(i, 3, span.oldest);
    sqlite3_bind_int64(i, 4, span.newest);
    const int rc = sqlite3_step(i);
    sqlite3_reset(i);
    if (rc != SQLITE_DONE) return fail(sqliteError(db, rc, "migrate spans"));
  }
  return exec(db, "DROP INDEX IF EXISTS events_received_at");
}

// Brings the schema to this build's version in one transaction. `dedupCutoffMs`: the start of the
// de-duplication window, for the steps that rebuild its state.
Result<void> migrate(sqlite3* db, EpochMs dedupCutoffMs) {
  if (auto r = exec(db, "BEGIN IMMEDIATE"); !r) return r;
  auto version = userVersion(db);
  if (!version) {
    (void)exec(db, "ROLLBACK");
    return fail(version.error());
  }
  if (*version > kSqliteLogSchemaVersion) {
    (void)exec(db, "ROLLBACK");
    return fail(ErrorCode::kInternal, "event log: schema version " + std::to_string(*version) +
                                          " is newer than this build's (" +
                                          std::to_string(kSqliteLogSchemaVersion) + ")");
  }
  for (int v = *version; v < kSqliteLogSchemaVersion; ++v) {
    auto step = exec(db, kMigrations[v]);
    if (step && v == 1) step = fillDedupKeys(db, dedupCutoffMs);
    if (step && v == 2) step = fillSpans(db);
    if (!step) {
      (void)exec(db, "ROLLBACK");
      return step;
    }
  }
  if (*version != kSqliteLogSchemaVersion) {
    std::string sql = "PRAGMA user_version=" + std::to_string(kSqliteLogSchemaVersion);
    if (auto r = exec(db, sql.c_str()); !r) {
      (void)exec(db, "ROLLBACK");
      return r;
    }
  }
  return exec(db, "COMMIT");
}

// ---------------------------------------------------------------------------------------------

class SqliteLog final : public EventLog {
 public:
  explicit SqliteLog(const SqliteLogOptions& options)
      : options_(options),
        clock_(options.clock != nullptr ? options.clock : &SystemClock::instance()),
        file_(sqliteLogFile(options.directory)) {
    if (!options_.freeSpace) options_.freeSpace = statvfsFreeBytes;
    if (!options_.walSync) options_.walSync = syncFileData;
  }

  ~SqliteLog() override { close(); }

  Result<void> open();

  void append(AppendRequest request, std::function<void(Result<AppendOutcome>)> done) override;
  Result<std::vector<StoredEvent>> readAfter(Seq after, size_t max) override;
  Result<size_t> readAfterInto(Seq after, size_t max, std::vector<StoredEvent>& out) override;
  Result<void> scan(const TimeRange& range, std::optional<std::string> source,
                    const std::function<bool(const StoredEvent&)>& visit) override;
  Result<Seq> lastSeq() override;
  Result<uint64_t> count() override;
  Result<Seq> cursor(std::string_view consumer) override;
  Result<void> setCursor(std::string_view consumer, Seq seq) override;
  Result<void> dropCursor(std::string_view consumer) override;
  Result<uint64_t> applyRetention(EpochMs beforeMs) override;
  Result<std::vector<QuarantinedEvent>> listQuarantine(size_t max, int64_t beforeId) override;
  WriteHealth writeHealth() override;
  FlushStats flushStats() override {
    FlushStats stats = syncer_ ? syncer_->stats() : FlushStats{};
    stats.commits = commits_.load(std::memory_order_relaxed);
    return stats;
  }
  void close() override;

 private:
  struct PendingAppend {
    AppendRequest request;
    std::function<void(Result<AppendOutcome>)> done;
    // Its size in a transaction (and in queuedEvents_): stored and rejected events.
    size_t events() const { return request.events.size() + request.rejected.size(); }
  };
  struct CursorOp {
    std::string consumer;
    std::optional<Seq> seq;  // nullopt: drop the cursor
    std::promise<Result<void>> promise;
  };
  struct RetentionJob {
    EpochMs beforeMs = 0;
    EpochMs dedupCutoffMs = 0;
    bool started = false;
    Seq maxSeq = 0;   // events above it are still needed by some cursor
    Seq nextSeq = 0;  // phase 0: where the next chunk looks from (the spans' first seq, then on)
    // Phase 0 once the old events are gone: sweeping the spans left without events.
    bool sweepingSpans = false;
    int phase = 0;  // 0 events, 1 dedup keys, 2 quarantine, 3 done
    uint64_t deleted = 0;
    std::promise<Result<uint64_t>> promise;
  };
  // What a committed transaction owes its callers, paid on the syncer's thread once the WAL
  // holding it is on disk.
  struct Committed {
    Seq lastSeq = 0;
    std::vector<std::function<void(Result<AppendOutcome>)>> dones;
    std::vector<AppendOutcome> outcomes;
    std::vector<std::promise<Result<void>>> cursorPromises;
  };
  // What one transaction of the writer did, applied in memory only after it commits.
  struct TxnResult {
    std::vector<AppendOutcome> outcomes;
    Seq lastSeq = 0;
    int retentionPhase = 0;
    uint64_t retentionDeleted = 0;
    bool dedupKeysAdded = false;  // the timeline must learn this commit
    Seq spanFirst = 0;            // the span this commit's events went into (0: none stored)
    EpochMs spanBeganMs = 0;
  };

  Result<void> openReadOnly();
  const char* notWritableMessage() const {
    return options_.readOnly ? "event log is open read-only" : "event log is closed";
  }
  Result<void> openReader();
  // The writer's connection (creating the file if `create`), its pragmas, schema and statements,
  // and the last seq.
  Result<void> openWriter(bool create);
  // The checkpointer's connection and thread, and the writer's WAL hook.
  Result<void> openCheckpointer();
  // Stops the checkpointer and closes every connection; checkpoints (TRUNCATE) first if asked.
  void closeConnections(bool checkpoint);
  // After a failed flush, on the writer thread: closes every connection without a checkpoint,
  // opens them again (SQLite recovers the WAL as the disk holds it) and flushes. When that fails,
  // only the reader is opened again; when a scan is under way, nothing is done. Writes stay
  // refused unless it is done.
  // kBlocked: another process has the log open (see recover()).
  enum class Recovery { kDone, kFailed, kScanning, kBlocked };
  Recovery recover();
  // Asks the writer to recover() when its delay has passed (any thread).
  void scheduleRecovery();
  Result<void> readLastSeq(sqlite3* db);
  Result<void> prepareWriterStatements();
  void writerLoop();
  void checkpointLoop();
  void processBatch(std::vector<PendingAppend>& appends, std::vector<CursorOp>& cursorOps,
                    RetentionJob* retention);
  // The last seq readers may see: the last one on disk.
  Seq readableSeq() const { return durableSeq_.load(std::memory_order_acquire); }
  // Read-only, beside another process's writer that may have committed what it has not flushed
  // yet: notes the last committed seq, flushes the WAL (any descriptor of it flushes the file), and
  // lets readers see up to that seq. Needs readMutex_.
  Result<void> catchUpReadOnly();
  // Runs on the syncer's thread: acknowledges a committed transaction, or fails it.
  void finishCommitted(Committed& committed, const Result<void>& flushed);
  tl::expected<void, DbError> writeTransaction(std::vector<PendingAppend>& appends,
                                               bool appendsRefused,
                                               std::vector<CursorOp>& cursorOps,
                                               RetentionJob* retention, TxnResult& result);
  tl::expected<void, DbError> runRetentionChunk(RetentionJob& job, TxnResult& result);
  // Whether the event stored as `seq` is (source, messageId): confirms an index hit. An event no
  // longer in the log (retention) cannot be checked; the hash decides then.
  tl::expected<bool, DbError> storedPairIs(Seq seq, const NewEvent& event);
  // Rebuilds dedupIndex_ and dedupTimeline_ from the dedup_keys table (on open, and after a
  // transaction that touched them failed).
  Result<void> loadDedupState();
  // The window's floor set by dedupMaxEvents when the log's last seq is `lastSeq`.
  Seq capFloor(Seq lastSeq) const {
    const uint64_t cap = options_.dedupMaxEvents;
    return cap > 0 && lastSeq > cap ? lastSeq - cap : 0;
  }
  // Why writes are refused now, if they are (free-space floor, recent I/O error, closed).
  std::optional<Error> refusal();
  std::optional<uint64_t> freeBytes();
  void noteStorageFailure(const Error& error);
  Result<void> submitCursorOp(std::string_view consumer, std::optional<Seq> seq);
  DbError stepError(int rc, std::string_view what) {
    return DbError{rc, sqliteError(writeDb_.get(), rc, what)};
  }

  static int walHook(void* self, sqlite3* db, const char* name, int pages);

  SqliteLogOptions options_;
  int checkpointPages_ = 0;  // options_.checkpointBytes in this log's pages (set by open())
  Clock* clock_;
  const std::string file_;

  // The writer thread's connection and statements (used by that thread only, after open()).
  DbPtr writeDb_;
  StmtPtr beginStmt_, commitStmt_, rollbackStmt_, insertEventStmt_, insertDedupKeyStmt_,
      storedPairStmt_, insertQuarantineStmt_, setCursorStmt_, dropCursorStmt_, setMetaStmt_,
      minCursorStmt_, retentionSeqsStmt_, deleteEventsStmt_, sweptSpansStmt_, deleteSpansStmt_,
      upsertSpanStmt_, deleteDedupKeysStmt_, deleteQuarantineStmt_;
  std::vector<StmtPtr*> writerStatements_;  // all of the above, for close()
  // The de-duplication window in memory (writer thread only). Stale until loaded, and again after
  // a failed transaction that had already changed it.
  DedupIndex dedupIndex_;
  DedupTimeline dedupTimeline_{options_.dedupWindowMs};
  std::string txnKeys_;  // the keys of the transaction being written (a dedup_keys blob)
  // The span that new events extend (its row is rewritten with each commit), and when it began.
  // A new one begins at each open.
  Seq spanFirst_ = 0;
  EpochMs spanBeganMs_ = 0;
  bool dedupStale_ = true;

  // The queue the writer drains.
  std::mutex mutex_;
  std::condition_variable wake_;
  std::deque<PendingAppend> appends_;               // GUARDED_BY(mutex_)
  std::vector<CursorOp> cursorOps_;                 // GUARDED_BY(mutex_)
  std::deque<std::unique_ptr<RetentionJob>> retention_;  // GUARDED_BY(mutex_)
  bool stopping_ = false;                           // GUARDED_BY(mutex_)
  // When the writer next tries to recover() after a failed flush, and the delay before the next
  // try after that (doubled after each failed one).
  std::optional<std::chrono::steady_clock::time_point> recoverAt_;  // GUARDED_BY(mutex_)
  int64_t recoveryDelayMs_ = options_.recoveryDelayMs;              // GUARDED_BY(mutex_)
  std::thread writer_;
  // When the writer took its last batch, and whether that left appends queued (writer only).
  std::chrono::steady_clock::time_point lastBatchAt_;
  bool lastBatchFull_ = false;
  bool gathering_ = false;   // GUARDED_BY(mutex_): the writer waits for a flush to end (writerLoop)
  size_t queuedEvents_ = 0;  // GUARDED_BY(mutex_): events (and rejected ones) in appends_
  // Held (shared) by each scan() for its own connection; recover() runs only without one.
  std::shared_mutex scanMutex_;

  std::mutex closeMutex_;
  std::atomic<bool> closed_{false};
  std::atomic<Seq> lastSeq_{0};       // the last seq committed (the writer assigns from it)
  std::atomic<Seq> durableSeq_{0};    // the last seq on disk: what readers see
  std::atomic<uint64_t> commits_{0};  // write transactions committed since open (flushStats)

  // Flushes the WAL after commits, off the writer (null when read-only).
  std::unique_ptr<WalSyncer> syncer_;
  std::string walPath_;  // the WAL's path, as SQLite names it (set by open())
  int shmFd_ = -1;       // its shared memory index, open until close() (otherProcessHasLogOpen)
  // recover() is waiting for another process to close the log (for writeHealth()).
  std::atomic<bool> otherProcessBlocksRecovery_{false};

  // Health.
  std::mutex healthMutex_;
  bool ioFailed_ = false;           // GUARDED_BY(healthMutex_)
  ErrorCode ioCode_ = ErrorCode::kUnavailable;  // GUARDED_BY(healthMutex_)
  int64_t ioRetryAtNs_ = 0;         // GUARDED_BY(healthMutex_)
  std::string ioReason_;            // GUARDED_BY(healthMutex_)
  std::optional<uint64_t> freeBytes_;  // GUARDED_BY(healthMutex_)
  int64_t freeCheckedAtNs_ = 0;     // GUARDED_BY(healthMutex_)
  bool freeChecked_ = false;        // GUARDED_BY(healthMutex_)

  // Reads.
  std::mutex readMutex_;
  DbPtr readDb_;  // GUARDED_BY(readMutex_)
  StmtPtr readAfterStmt_, countStmt_, cursorStmt_, quarantineStmt_;  // GUARDED_BY(readMutex_)

  // Passive checkpoints off the writer thread.
  DbPtr checkpointDb_;
  std::mutex checkpointMutex_;
  std::condition_variable checkpointWake_;
  bool checkpointWanted_ = false;    // GUARDED_BY(checkpointMutex_)
  bool checkpointStopping_ = false;  // GUARDED_BY(checkpointMutex_)
  std::thread checkpointer_;
};

Result<void> SqliteLog::open() {
  std::error_code ec;
  if (options_.directory.empty()) {
    return fail(ErrorCode::kInvalidArgument, "event log: no directory given");
  }
  if (options_.readOnly) options_.createIfMissing = false;
  if (!std::filesystem::exists(file_, ec)) {
    if (!options_.createIfMissing) {
      return fail(ErrorCode::kNotFound, "event log: no log at " + file_);
    }
    std::filesystem::create_directories(options_.directory, ec);
    if (ec) {
      return fail(ErrorCode::kIo,
                  "event log: cannot create directory " + options_.directory + ": " + ec.message());
    }
  }

  if (options_.readOnly) return openReadOnly();
  if (auto r = openWriter(options_.createIfMissing); !r) return r;
  // Commits are flushed by the syncer (synchronous=NORMAL in openWriter(): COMMIT does not wait
  // for the disk). What the WAL holds now may have been committed by a process that died before
  // its flush (never acknowledged, but about to be read): it is flushed before anything reads it.
  const char* wal = walFileOf(writeDb_.get());
  if (wal == nullptr) return fail(ErrorCode::kIo, "event log: no WAL file for " + file_);
  walPath_ = wal;
  // SQLite created the shared memory index beside the WAL when the writer first read the log.
  shmFd_ = ::open(shmPathOf(walPath_).c_str(), O_RDONLY | O_CLOEXEC);
  auto syncer = WalSyncer::open(wal, options_.walSync);
  if (!syncer) return fail(syncer.error());
  syncer_ = std::move(*syncer);
  syncer_->onIdle([this] {
    std::lock_guard lock(mutex_);
    if (gathering_) wake_.notify_one();  // else the writer is not waiting for it: no wake-up
  });
  if (auto r = syncer_->flushNow(); !r) return r;
  durableSeq_.store(lastSeq_.load(), std::memory_order_release);
  if (auto r = openReader(); !r) return r;
  if (auto r = openCheckpointer(); !r) return r;
  writer_ = std::thread([this] { writerLoop(); });
  return ok();
}

Result<void> SqliteLog::openWriter(bool create) {
  std::error_code ec;
  auto db = openConnection(file_, OpenMode::kWriter, create);
  if (!db) return fail(db.error());
  writeDb_ = std::move(*db);
  sqlite3* w = writeDb_.get();
  // A WAL frame whose writeback failed before this open (a failed flush refuses every later write
  // until the log reopens: a restart, or recover()) can still be in the page cache, clean and
  // readable, though the disk never got it. SQLite's recovery would take its transaction for
  // committed, and every later one with it; once the cache let it go, the WAL on disk would end at
  // that hole. So its cached pages are dropped before the first statement below reads it, and
  // recovery reads what the disk holds (best effort; the WAL is tens of MB at most, and is read
  // again at once).
  if (const char* wal = walFileOf(w); wal != nullptr) (void)dropCachedPages(wal);
  // Takes effect only when the file is new; WAL mode then fixes it for good.
  const std::string pageSize = "PRAGMA page_size=" + std::to_string(options_.pageSize);
  for (const char* pragma :
       {pageSize.c_str(), "PRAGMA journal_mode=WAL", "PRAGMA synchronous=NORMAL",
        "PRAGMA cache_size=-65536",
        "PRAGMA temp_store=MEMORY", "PRAGMA journal_size_limit=67108864",
        "PRAGMA foreign_keys=OFF"}) {
    if (auto r = exec(w, pragma); !r) return r;
  }
  {
    // journal_mode answers with the mode in force; a file system without shared memory support
    // may refuse WAL, and we do not run without it.
    auto stmt = prepare(w, "PRAGMA journal_mode");
    if (!stmt) return fail(stmt.error());
    if (sqlite3_step(stmt->get()) != SQLITE_ROW || columnText(stmt->get(), 0) != "wal") {
      return fail(ErrorCode::kIo, "event log: WAL mode is not available for " + file_);
    }
  }
  {
    auto stmt = prepare(w, "PRAGMA page_size");
    if (!stmt) return fail(stmt.error());
    const int64_t page = sqlite3_step(stmt->get()) == SQLITE_ROW
                             ? sqlite3_column_int64(stmt->get(), 0)
                             : options_.pageSize;
    checkpointPages_ = static_cast<int>(std::max<int64_t>(1, options_.checkpointBytes / page));
  }
  if (options_.maxPageCountForTesting > 0) {
    std::string sql = "PRAGMA max_page_count=" + std::to_string(options_.maxPageCountForTesting);
    if (auto r = exec(w, sql.c_str()); !r) return r;
  }
  if (auto r = migrate(w, clock_->nowMs() - std::max<int64_t>(0, options_.dedupWindowMs)); !r) {
    return r;
  }
  for (const char* legacy : kLegacyDedupFiles) {
    std::filesystem::remove(std::filesystem::path(options_.directory) / legacy, ec);
  }
  if (auto r = prepareWriterStatements(); !r) return r;

  // The last sequence number: the rowid b-tree's maximum (O(log n)), or the recorded high-water
  // mark when retention deleted the newest events.
  return readLastSeq(w);
}

Result<void> SqliteLog::openCheckpointer() {
  auto checkpointer = openConnection(file_, OpenMode::kWriter, false);
  if (!checkpointer) return fail(checkpointer.error());
  checkpointDb_ = std::move(*checkpointer);
  // A connection learns that the file is in WAL mode only when it first reads it; until then
  // every checkpoint it is asked for does nothing (and reports -1 frames).
  if (auto r = exec(checkpointDb_.get(), "SELECT count(*) FROM sqlite_master"); !r) return r;
  // Checkpoints are ours (see walHook), not the automatic ones that would run on the writer.
  sqlite3_wal_hook(writeDb_.get(), &SqliteLog::walHook, this);
  {
    std::lock_guard lock(checkpointMutex_);
    checkpointStopping_ = false;
    checkpointWanted_ = false;
  }
  checkpointer_ = std::thread([this] { checkpointLoop(); });
  return ok();
}

void SqliteLog::closeConnections(bool checkpoint) {
  {
    std::lock_guard lock(checkpointMutex_);
    checkpointStopping_ = true;
    checkpointWake_.notify_all();
  }
  if (checkpointer_.joinable()) checkpointer_.join();
  // Without a checkpoint, the last connection to close would still copy the WAL into the database
  // (and remove the WAL) unless told not to.
  auto noCheckpointOnClose = [checkpoint](sqlite3* db) {
    if (db != nullptr && !checkpoint) {
      sqlite3_db_config(db, SQLITE_DBCONFIG_NO_CKPT_ON_CLOSE, 1, nullptr);
    }
  };
  {
    std::lock_guard lock(readMutex_);
    readAfterStmt_.reset();
    countStmt_.reset();
    cursorStmt_.reset();
    quarantineStmt_.reset();
    noCheckpointOnClose(readDb_.get());
    readDb_.reset();
  }
  noCheckpointOnClose(checkpointDb_.get());
  checkpointDb_.reset();
  if (writeDb_) {
    sqlite3_wal_hook(writeDb_.get(), nullptr, nullptr);
    if (checkpoint) {
      // Moves the WAL into the database so that the next open starts from a short log. Failure
      // is harmless: the WAL is replayed on the next open.
      sqlite3_wal_checkpoint_v2(writeDb_.get(), nullptr, SQLITE_CHECKPOINT_TRUNCATE, nullptr,
                                nullptr);
    }
    noCheckpointOnClose(writeDb_.get());
    for (StmtPtr* s : writerStatements_) s->reset();
    writerStatements_.clear();
    writeDb_.reset();
  }
}

SqliteLog::Recovery SqliteLog::recover() {
  // A scan reads through a connection of its own; while one is open SQLite would keep its view of
  // the WAL (the shared memory index) instead of reading the WAL again from disk. No scan begins
  // after a failed flush; one that began before ends first.
  std::unique_lock scans(scanMutex_, std::try_to_lock);
  if (!scans.owns_lock()) return Recovery::kScanning;
  // Another process with the log open (`sluice log export`, `sluice replay`) keeps the shared
  // memory index built before the failure, which may count frames the disk never got; SQLite
  // would trust it instead of reading the WAL again, and acknowledge new commits after a hole.
  // Such a process is waited for (asked again once this one's connections are closed, in case one
  // came meanwhile). One that opens the log after the cached pages are dropped reads the disk.
  const bool blocked = otherProcessHasLogOpen(shmFd_);
  otherProcessBlocksRecovery_.store(blocked);
  if (blocked) return Recovery::kBlocked;
  closeConnections(false);
  (void)dropCachedPages(walPath_);
  if (otherProcessHasLogOpen(shmFd_)) {
    otherProcessBlocksRecovery_.store(true);
    (void)openReader();
    return Recovery::kBlocked;
  }
  const Seq durable = durableSeq_.load(std::memory_order_acquire);
  auto reopened = [this, durable]() -> Result<void> {
    // Never created afresh: a log missing from its path (storage detached) is a failure.
    if (auto r = openWriter(false); !r) return r;
    if (lastSeq_.load() < durable) {
      return fail(ErrorCode::kIo,
                  "event log: reopened from disk, it ends at seq " +
                      std::to_string(lastSeq_.load()) + ", before the acknowledged seq " +
                      std::to_string(durable));
    }
    if (auto r = openReader(); !r) return r;
    if (auto r = openCheckpointer(); !r) return r;
    // Everything the recovered WAL holds is flushed before it is acknowledged or read beyond what
    // was durable before the failure.
    return syncer_->recover();
  }();
  if (!reopened) {
    lastSeq_.store(durable, std::memory_order_release);
    closeConnections(false);
    // Until the next try, readers go on reading what was durable before the failure (they stop at
    // durableSeq_); this connection is closed again first.
    (void)openReader();
    return Recovery::kFailed;
  }
  durableSeq_.store(lastSeq_.load(), std::memory_order_release);
  // As after an open: the de-duplication window is read again, and new events begin a span.
  dedupStale_ = true;
  spanFirst_ = 0;
  spanBeganMs_ = 0;
  return Recovery::kDone;
}

Result<void> SqliteLog::readLastSeq(sqlite3* db) {
  auto stmt = prepare(db,
                      "SELECT max(coalesce((SELECT max(seq) FROM events), 0),"
                      " coalesce((SELECT value FROM meta WHERE key = 'last_seq'), 0))");
  if (!stmt) return fail(stmt.error());
  int rc = sqlite3_step(stmt->get());
  if (rc != SQLITE_ROW) return fail(sqliteError(db, rc, "read last seq"));
  lastSeq_ = static_cast<Seq>(sqlite3_column_int64(stmt->get(), 0));
  return ok();
}

Result<void> SqliteLog::openReadOnly() {
  if (auto r = openReader(); !r) return r;
  sqlite3* r = readDb_.get();
  auto version = userVersion(r);
  if (!version) return fail(version.error());
  if (*version != kSqliteLogSchemaVersion) {
    return fail(ErrorCode::kUnavailable,
                "event log: schema version " + std::to_string(*version) +
                    " differs from this build's (" + std::to_string(kSqliteLogSchemaVersion) +
                    "); open it once read-write to migrate");
  }
  {
    std::lock_guard lock(readMutex_);
    if (auto caught = catchUpReadOnly(); !caught) return caught;
  }
  std::lock_guard lock(mutex_);
  stopping_ = true;  // no writer: appends and cursor changes are refused
  return ok();
}

Result<void> SqliteLog::catchUpReadOnly() {
  sqlite3* r = readDb_.get();
  if (auto result = readLastSeq(r); !result) return result;
  // No WAL: everything is in the database file, which SQLite flushed before removing the WAL.
  // A WAL that cannot be opened (permissions, no descriptors left) is an error, not "no WAL".
  const char* wal = walFileOf(r);
  const int fd = wal != nullptr ? ::open(wal, O_RDONLY | O_CLOEXEC) : -1;
  if (fd < 0 && wal != nullptr && errno != ENOENT) {
    return fail(ErrorCode::kIo,
                std::string("event log: cannot open ") + wal + ": " + std::strerror(errno));
  }
  if (fd >= 0) {
    const int error = options_.walSync(fd);
    ::close(fd);
    if (error != 0) {
      return fail(ErrorCode::kIo,
                  std::string("event log: flushing ") + wal + " failed: " + std::strerror(error));
    }
  }
  durableSeq_.store(lastSeq_.load(), std::memory_order_release);
  return ok();
}

Result<void> SqliteLog::openReader() {
  auto reader = openConnection(file_, OpenMode::kReader, false);
  if (!reader) return fail(reader.error());
  sqlite3* r = reader->get();
  std::string sql = std::string("SELECT ") + kEventColumns +
                    " FROM events WHERE seq > ?1 AND seq <= ?3 ORDER BY seq LIMIT ?2";
  auto s1 = prepare(r, sql);
  auto s2 = prepare(r, "SELECT count(*) FROM events");
  auto s3 = prepare(r, "SELECT seq FROM cursors WHERE consumer = ?1");
  auto s4 = prepare(r,
                    "SELECT id, source, received_at, reason, payload FROM quarantine"
                    " WHERE id < ?1 ORDER BY id DESC LIMIT ?2");
  for (auto* s : {&s1, &s2, &s3, &s4}) {
    if (!*s) return fail(s->error());
  }
  // Readers see the connection only with all of its statements.
  std::lock_guard lock(readMutex_);
  readAfterStmt_ = std::move(*s1);
  countStmt_ = std::move(*s2);
  cursorStmt_ = std::move(*s3);
  quarantineStmt_ = std::move(*s4);
  readDb_ = std::move(*reader);
  return ok();
}

Result<void> SqliteLog::prepareWriterStatements() {
  sqlite3* w = writeDb_.get();
  struct Entry {
    StmtPtr* target;
    const char* sql;
  };
  const Entry entries[] = {
      {&beginStmt_, "BEGIN IMMEDIATE"},
      {&commitStmt_, "COMMIT"},
      {&rollbackStmt_, "ROLLBACK"},
      {&insertEventStmt_,
       "INSERT INTO events(seq, source, message_id, type, name, received_at, timestamp, json)"
       " VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8)"},
      {&insertDedupKeyStmt_,
       "INSERT INTO dedup_keys(seq, first_seen, keys) VALUES (?1, ?2, ?3)"},
      {&storedPairStmt_, "SELECT source, message_id FROM events WHERE seq = ?1"},
      {&insertQuarantineStmt_,
       "INSERT INTO quarantine(source, received_at, reason, payload) VALUES (?1, ?2, ?3, ?4)"},
      {&setCursorStmt_,
       "INSERT INTO cursors(consumer, seq) VALUES (?1, ?2)"
       " ON CONFLICT(consumer) DO UPDATE SET seq = excluded.seq"},
      {&dropCursorStmt_, "DELETE FROM cursors WHERE consumer = ?1"},
      {&setMetaStmt_,
       "INSERT INTO meta(key, value) VALUES (?1, ?2)"
       " ON CONFLICT(key) DO UPDATE SET value = excluded.value"},
      {&minCursorStmt_, "SELECT count(*), min(seq) FROM cursors"},
      {&upsertSpanStmt_,
       "INSERT INTO spans(first_seq, last_seq, oldest, newest) VALUES (?1, ?2, ?3, ?4)"
       " ON CONFLICT(first_seq) DO UPDATE SET last_seq = excluded.last_seq,"
       " oldest = min(oldest, excluded.oldest), newest = max(newest, excluded.newest)"},
      // Retention: the next chunk of old events in seq order, then the same rows deleted.
      {&retentionSeqsStmt_,
       "SELECT seq FROM events WHERE seq >= ?1 AND seq <= ?2 AND received_at < ?3"
       " ORDER BY seq LIMIT ?4"},
      {&deleteEventsStmt_,
       "DELETE FROM events WHERE seq >= ?1 AND seq <= ?2 AND received_at < ?3"},
      // The sweep of emptied spans: how far the next `?3` spans from `?1` (up to `?2`) reach, then
      // those of them with no event left deleted.
      {&sweptSpansStmt_,
       "SELECT count(*), max(first_seq) FROM (SELECT first_seq FROM spans"
       " WHERE first_seq >= ?1 AND first_seq <= ?2 ORDER BY first_seq LIMIT ?3)"},
      {&deleteSpansStmt_,
       "DELETE FROM spans WHERE first_seq >= ?1 AND first_seq <= ?2 AND NOT EXISTS"
       " (SELECT 1 FROM events WHERE seq >= spans.first_seq AND seq <= spans.last_seq)"},
      // The oldest rows first (seq order is arrival order); stops at the first one still in the
      // window, so a chunk that deletes fewer than its size ends the sweep.
      {&deleteDedupKeysStmt_,
       "DELETE FROM dedup_keys WHERE seq IN (SELECT seq FROM dedup_keys ORDER BY seq LIMIT ?2)"
       " AND first_seen <= ?1"},
      {&deleteQuarantineStmt_,
       "DELETE FROM quarantine WHERE id IN (SELECT id FROM quarantine"
       " WHERE received_at < ?1 ORDER BY id LIMIT ?2)"},
  };
  for (const Entry& entry : entries) {
    auto stmt = prepare(w, entry.sql);
    if (!stmt) return fail(stmt.error());
    *entry.target = std::move(*stmt);
    writerStatements_.push_back(entry.target);
  }
  return ok();
}

int SqliteLog::walHook(void* self, sqlite3* db, const char* name, int pages) {
  auto* log = static_cast<SqliteLog*>(self);
  if (pages >= log->checkpointPages_ * kWalRestartFactor) {
    // Under sustained writes the passive checkpointer never catches up with the writer, and the
    // WAL can only start over once it has; without this it grows by the size of every write.
    // Here, on the writer (between transactions), finish the copy and restart the WAL. Most
    // frames were copied already, so this is short; it waits for readers (busy timeout).
    // After a failed flush nothing is copied into the database until the log has reopened: the
    // WAL's cached pages may not be what the disk holds (the checkpointer checks the same).
    if (log->syncer_->failure()) return SQLITE_OK;
    sqlite3_wal_checkpoint_v2(db, name, SQLITE_CHECKPOINT_RESTART, nullptr, nullptr);
    return SQLITE_OK;
  }
  if (pages >= log->checkpointPages_) {
    std::lock_guard lock(log->checkpointMutex_);
    if (!log->checkpointWanted_) {
      log->checkpointWanted_ = true;
      log->checkpointWake_.notify_one();
    }
  }
  return SQLITE_OK;
}

void SqliteLog::checkpointLoop() {
  nameThisThread("store-ckpt");
  std::unique_lock lock(checkpointMutex_);
  while (true) {
    checkpointWake_.wait(lock, [this] { return checkpointWanted_ || checkpointStopping_; });
    if (checkpointStopping_) return;
    checkpointWanted_ = false;
    lock.unlock();
    if (syncer_->failure()) {  // nothing copied after a failed flush (see walHook)
      lock.lock();
      continue;
    }
    // Passive: copies what it can without waiting for (or blocking) the writer or readers.
    int logPages = 0;
    int done = 0;
    sqlite3_wal_checkpoint_v2(checkpointDb_.get(), nullptr, SQLITE_CHECKPOINT_PASSIVE, &logPages,
                              &done);
    lock.lock();
  }
}

// ---------------------------------------------------------------------------------------------
// Writes.

void SqliteLog::append(AppendRequest request, std::function<void(Result<AppendOutcome>)> done) {
  {
    std::lock_guard lock(mutex_);
    if (!stopping_) {
      appends_.push_back(PendingAppend{std::move(request), std::move(done)});
      queuedEvents_ += appends_.back().events();
      // While the writer gathers behind a flush, only enough events end its wait.
      if (!gathering_ || queuedEvents_ >= options_.gatherWhileFlushingEvents) wake_.notify_one();
      return;
    }
  }
  done(fail(ErrorCode::kUnavailable, notWritableMessage()));
}

void SqliteLog::scheduleRecovery() {
  std::lock_guard lock(mutex_);
  if (recoverAt_) return;
  recoverAt_ = std::chrono::steady_clock::now() + std::chrono::milliseconds(recoveryDelayMs_);
  wake_.notify_one();
}

void SqliteLog::writerLoop() {
  nameThisThread("store-writer");
  std::vector<PendingAppend> appends;
  std::vector<CursorOp> cursorOps;
  std::unique_lock lock(mutex_);
  while (true) {
    const auto ready = [this] {
      return stopping_ || !appends_.empty() || !cursorOps_.empty() || !retention_.empty();
    };
    if (recoverAt_) {
      wake_.wait_until(lock, *recoverAt_, ready);
    } else {
      wake_.wait(lock, [&] { return ready() || recoverAt_.has_value(); });
    }
    if (stopping_ && appends_.empty() && cursorOps_.empty()) break;
    if (recoverAt_ && std::chrono::steady_clock::now() >= *recoverAt_) {
      lock.unlock();
      const Recovery recovery = recover();
      lock.lock();
      // Completions of transactions from before the failure may have asked again meanwhile.
      recoverAt_.reset();
      if (recovery == Recovery::kDone) {
        recoveryDelayMs_ = options_.recoveryDelayMs;
      } else {
        // A scan that began before the failure, or another process, is waited for without backing
        // off.
        if (recovery == Recovery::kFailed) {
          recoveryDelayMs_ = std::min<int64_t>(2 * recoveryDelayMs_, kMaxRecoveryDelayMs);
        }
        const int64_t delayMs = recovery == Recovery::kFailed    ? recoveryDelayMs_
                                : recovery == Recovery::kBlocked ? options_.recoveryDelayMs
                                                                 : kScanRecheckDelayMs;
        recoverAt_ = std::chrono::steady_clock::now() + std::chrono::milliseconds(delayMs);
      }
      continue;
    }
    if (!ready()) continue;
    if (options_.commitIntervalUs > 0 && !stopping_ && !lastBatchFull_) {
      // Spaced commits (SqliteLogOptions::commitIntervalUs): what arrives meanwhile joins this one.
      wake_.wait_until(lock, lastBatchAt_ + std::chrono::microseconds(options_.commitIntervalUs),
                       [this] { return stopping_; });
    }
    if (options_.gatherWhileFlushingEvents > 0 && !stopping_ && !lastBatchFull_) {
      // Gathering behind the flush under way (SqliteLogOptions::gatherWhileFlushingEvents). Only
      // this thread submits to the syncer, so once the flush is seen under way with nothing
      // queued, it stays so until it ends, which onIdle (under mutex_) then tells.
      const auto enough = [this] {
        return stopping_ || queuedEvents_ >= options_.gatherWhileFlushingEvents ||
               !syncer_->flushingWithNothingQueued();
      };
      if (!enough()) {
        gathering_ = true;
        wake_.wait_for(lock, std::chrono::milliseconds(options_.gatherMaxWaitMs), enough);
        gathering_ = false;
      }
    }
    size_t events = 0;
    while (!appends_.empty() &&
           (appends.empty() || events < options_.maxEventsPerTransaction)) {
      const size_t n = appends_.front().events();
      events += n;
      queuedEvents_ -= n;
      appends.push_back(std::move(appends_.front()));
      appends_.pop_front();
    }
    cursorOps.swap(cursorOps_);
    RetentionJob* retention = retention_.empty() ? nullptr : retention_.front().get();
    lastBatchFull_ = !appends_.empty();  // cut at maxEventsPerTransaction: the rest goes at once
    lastBatchAt_ = std::chrono::steady_clock::now();
    lock.unlock();

    processBatch(appends, cursorOps, retention);
    appends.clear();
    cursorOps.clear();

    lock.lock();
    if (retention != nullptr && retention->phase >= 3) {
      // Resolved by processBatch (finished or failed).
      retention_.pop_front();
    }
  }
  // Closing: a retention still under way is abandoned; what it deleted so far stays deleted.
  for (auto& job : retention_) {
    job->promise.set_value(fail(ErrorCode::kCancelled, "event log closed during retention"));
  }
  retention_.clear();
}

void SqliteLog::processBatch(std::vector<PendingAppend>& appends, std::vector<CursorOp>& cursorOps,
                             RetentionJob* retention) {
  if (auto failed = syncer_->failure()) {
    // Nothing more is written after a failed flush (see wal_syncer.h) until the log has reopened
    // from disk: not even cursor moves or retention, which would otherwise commit and reach the
    // disk through a checkpoint.
    scheduleRecovery();
    for (auto& pending : appends) pending.done(fail(*failed));
    for (auto& op : cursorOps) op.promise.set_value(fail(*failed));
    if (retention != nullptr) {
      retention->phase = 3;
      retention->promise.set_value(fail(*failed));
    }
    return;
  }
  // Appends are refused as a whole, before anything is written, when the store cannot take them.
  std::optional<Error> refused;
  if (!appends.empty()) refused = refusal();
  if (!appends.empty() && !refused && dedupStale_) {
    if (auto loaded = loadDedupState(); loaded) {
      dedupStale_ = false;
    } else {
      refused = loaded.error();
    }
  }

  TxnResult result;
  auto written = writeTransaction(appends, refused.has_value(), cursorOps, retention, result);
  if (!written) {
    if (isStorageFailure(written.error().rc)) noteStorageFailure(written.error().error);
    const Error& error = written.error().error;
    for (auto& pending : appends) pending.done(fail(error));
    for (auto& op : cursorOps) op.promise.set_value(fail(error));
    if (retention != nullptr) {
      retention->phase = 3;
      retention->promise.set_value(fail(error));
    }
    return;
  }

  if ((!appends.empty() && !refused) || !cursorOps.empty() || retention != nullptr) {
    // A successful write (appends, cursor moves or a retention chunk) ends any I/O error state.
    std::lock_guard lock(healthMutex_);
    ioFailed_ = false;
    ioReason_.clear();
  }
  lastSeq_.store(result.lastSeq, std::memory_order_release);
  auto committed = std::make_shared<Committed>();
  committed->lastSeq = result.lastSeq;
  for (size_t i = 0; i < appends.size(); ++i) {
    if (refused) {
      appends[i].done(fail(*refused));
    } else {
      committed->dones.push_back(std::move(appends[i].done));
    }
  }
  if (!refused) committed->outcomes = std::move(result.outcomes);
  for (auto& op : cursorOps) committed->cursorPromises.push_back(std::move(op.promise));
  if (!committed->dones.empty() || !committed->cursorPromises.empty()) {
    syncer_->submit([this, committed = std::move(committed)](const Result<void>& flushed) {
      finishCommitted(*committed, flushed);
    });
  }
  // Retention is reported as soon as its chunk commits: a deletion undone by a crash is redone.
  if (retention != nullptr) {
    retention->started = true;
    retention->phase = result.retentionPhase;
    retention->deleted += result.retentionDeleted;
    if (retention->phase >= 3) retention->promise.set_value(retention->deleted);
  }
}

void SqliteLog::finishCommitted(Committed& committed, const Result<void>& flushed) {
  if (!flushed) {
    scheduleRecovery();
    for (auto& done : committed.dones) done(fail(flushed.error()));
    for (auto& promise : committed.cursorPromises) promise.set_value(fail(flushed.error()));
    return;
  }
  if (committed.lastSeq > durableSeq_.load(std::memory_order_relaxed)) {
    durableSeq_.store(committed.lastSeq, std::memory_order_release);
  }
  for (size_t i = 0; i < committed.dones.size(); ++i) {
    AppendOutcome& outcome = committed.outcomes[i];
    outcome.lastSeq = committed.lastSeq;
    committed.dones[i](std::move(outcome));
  }
  for (auto& promise : committed.cursorPromises) promise.set_value(ok());
}

tl::expected<void, DbError> SqliteLog::writeTransaction(std::vector<PendingAppend>& appends,
                                                        bool appendsRefused,
                                                        std::vector<CursorOp>& cursorOps,
                                                        RetentionJob* retention,
                                                        TxnResult& result) {
  Seq seq = lastSeq_.load(std::memory_order_acquire);
  result.lastSeq = seq;
  bool writeAppends = !appends.empty() && !appendsRefused;
  if (!writeAppends && cursorOps.empty() && retention == nullptr) return {};

  int rc;
  {
    StmtUse use(beginStmt_.get());
    rc = sqlite3_step(beginStmt_.get());
  }
  if (rc != SQLITE_DONE) return tl::unexpected(stepError(rc, "begin"));

  auto body = [&]() -> tl::expected<void, DbError> {
    if (writeAppends) {
      const EpochMs now = clock_->nowMs();
      const bool dedup = options_.dedupWindowMs > 0;
      if (dedup) {
        dedupIndex_.setFloor(dedupTimeline_.advance(now - options_.dedupWindowMs));
        dedupIndex_.setFloor(capFloor(seq));
      }
      result.outcomes.resize(appends.size());
      Seq firstStored = 0;
      EpochMs oldest = std::numeric_limits<EpochMs>::max();
      EpochMs newest = std::numeric_limits<EpochMs>::min();
      for (size_t i = 0; i < appends.size(); ++i) {
        AppendOutcome& outcome = result.outcomes[i];
        for (const NewEvent& event : appends[i].request.events) {
          uint64_t key = 0;
          if (dedup && !event.messageId.empty()) {
            key = dedupKey(event.source, event.messageId);
            if (Seq seen = dedupIndex_.find(key); seen != 0) {
              auto same = storedPairIs(seen, event);
              if (!same) return tl::unexpected(same.error());
              if (*same) {
                ++outcome.duplicates;
                continue;
              }
            }
          }
          sqlite3_stmt* s = insertEventStmt_.get();
          StmtUse use(s);
          sqlite3_bind_int64(s, 1, static_cast<sqlite3_int64>(++seq));
          bindText(s, 2, event.source);
          bindText(s, 3, event.messageId);
          bindText(s, 4, event.type);
          bindText(s, 5, event.name);
          sqlite3_bind_int64(s, 6, event.receivedAtMs);
          sqlite3_bind_int64(s, 7, event.timestampMs);
          bindText(s, 8, event.json);
          rc = sqlite3_step(s);
          if (rc != SQLITE_DONE) return tl::unexpected(stepError(rc, "insert event"));
          ++outcome.stored;
          if (firstStored == 0) firstStored = seq;
          oldest = std::min(oldest, event.receivedAtMs);
          newest = std::max(newest, event.receivedAtMs);
          if (key != 0) {
            // In memory at once, so that a repeat later in this transaction is caught; undone by
            // a reload if the transaction fails.
            dedupIndex_.put(key, seq);
            appendKeyPair(txnKeys_, key, seq);
          }
        }
        for (const QuarantinedEvent& rejected : appends[i].request.rejected) {
          sqlite3_stmt* s = insertQuarantineStmt_.get();
          StmtUse use(s);
          bindText(s, 1, rejected.source);
          sqlite3_bind_int64(s, 2, rejected.receivedAtMs);
          bindText(s, 3, rejected.reason);
          size_t size = std::min(rejected.payload.size(), options_.maxQuarantinePayloadBytes);
          sqlite3_bind_blob(s, 4, rejected.payload.data(), static_cast<int>(size), SQLITE_STATIC);
          rc = sqlite3_step(s);
          if (rc != SQLITE_DONE) return tl::unexpected(stepError(rc, "insert quarantine"));
          ++outcome.quarantined;
        }
      }
      if (firstStored != 0) {
        // The time range of what was stored, folded into the current span's row (a new span once
        // that one is long or old enough, or the clock went back): scan() and retention find
        // events by time from these rows, not from an index entry per event.
        const bool begin = spanFirst_ == 0 || seq - spanFirst_ >= kSpanMaxSeqs ||
                           now - spanBeganMs_ >= kSpanMaxMs || now < spanBeganMs_;
        result.spanFirst = begin ? firstStored : spanFirst_;
        result.spanBeganMs = begin ? now : spanBeganMs_;
        sqlite3_stmt* u = upsertSpanStmt_.get();
        StmtUse use(u);
        sqlite3_bind_int64(u, 1, static_cast<sqlite3_int64>(result.spanFirst));
        sqlite3_bind_int64(u, 2, static_cast<sqlite3_int64>(seq));
        sqlite3_bind_int64(u, 3, oldest);
        sqlite3_bind_int64(u, 4, newest);
        rc = sqlite3_step(u);
        if (rc != SQLITE_DONE) return tl::unexpected(stepError(rc, "record span"));
      }
      if (!txnKeys_.empty()) {
        // This transaction's keys, one row (seq: the last event's).
        sqlite3_stmt* k = insertDedupKeyStmt_.get();
        StmtUse use(k);
        sqlite3_bind_int64(k, 1, static_cast<sqlite3_int64>(seq));
        sqlite3_bind_int64(k, 2, now);
        sqlite3_bind_blob(k, 3, txnKeys_.data(), static_cast<int>(txnKeys_.size()), SQLITE_STATIC);
        rc = sqlite3_step(k);
        txnKeys_.clear();
        if (rc != SQLITE_DONE) return tl::unexpected(stepError(rc, "insert dedup keys"));
        result.dedupKeysAdded = true;
      }
    }
    for (CursorOp& op : cursorOps) {
      sqlite3_stmt* s = op.seq ? setCursorStmt_.get() : dropCursorStmt_.get();
      StmtUse use(s);
      bindText(s, 1, op.consumer);
      if (op.seq) sqlite3_bind_int64(s, 2, static_cast<sqlite3_int64>(*op.seq));
      rc = sqlite3_step(s);
      if (rc != SQLITE_DONE) return tl::unexpected(stepError(rc, "cursor"));
    }
    if (retention != nullptr && retention->phase == 0 && seq > 0) {
      // The high-water mark, written with the deletions, so that sequence numbers are never reused
      // even when retention deletes the newest events (the log's last seq is the larger of it and
      // the largest seq left). Only here: written with every append, it cost a page per commit.
      sqlite3_stmt* s = setMetaStmt_.get();
      StmtUse use(s);
      bindText(s, 1, "last_seq");
      sqlite3_bind_int64(s, 2, static_cast<sqlite3_int64>(seq));
      rc = sqlite3_step(s);
      if (rc != SQLITE_DONE) return tl::unexpected(stepError(rc, "record last seq"));
    }
    if (retention != nullptr) return runRetentionChunk(*retention, result);
    return {};
  };

  auto outcome = body();
  if (outcome) {
    StmtUse use(commitStmt_.get());
    rc = sqlite3_step(commitStmt_.get());
    if (rc == SQLITE_DONE) {
      commits_.fetch_add(1, std::memory_order_relaxed);
      result.lastSeq = seq;
      if (result.dedupKeysAdded) dedupTimeline_.note(clock_->nowMs(), seq);
      if (result.spanFirst != 0) {
        spanFirst_ = result.spanFirst;
        spanBeganMs_ = result.spanBeganMs;
      }
      return {};
    }
    outcome = tl::unexpected(stepError(rc, "commit"));
  }
  if (sqlite3_get_autocommit(writeDb_.get()) == 0) {
    StmtUse use(rollbackStmt_.get());
    sqlite3_step(rollbackStmt_.get());
  }
  txnKeys_.clear();
  if (writeAppends && options_.dedupWindowMs > 0) dedupStale_ = true;
  return outcome;
}

tl::expected<bool, DbError> SqliteLog::storedPairIs(Seq seq, const NewEvent& event) {
  sqlite3_stmt* s = storedPairStmt_.get();
  StmtUse use(s);
  sqlite3_bind_int64(s, 1, static_cast<sqlite3_int64>(seq));
  const int rc = sqlite3_step(s);
  if (rc == SQLITE_DONE) return true;
  if (rc != SQLITE_ROW) return tl::unexpected(stepError(rc, "dedup check"));
  return columnText(s, 0) == event.source && columnText(s, 1) == event.messageId;
}

Result<void> SqliteLog::loadDedupState() {
  dedupIndex_.clear();
  dedupTimeline_.clear();
  if (options_.dedupWindowMs <= 0) return ok();
  const EpochMs cutoffMs = clock_->nowMs() - options_.dedupWindowMs;
  {
    // Sized once for every key there (an upper bound of those in the window): no rebuilds.
    auto total = prepare(writeDb_.get(), "SELECT coalesce(sum(length(keys)), 0) FROM dedup_keys");
    if (!total) return fail(total.error());
    if (sqlite3_step(total->get()) == SQLITE_ROW) {
      uint64_t keys = static_cast<uint64_t>(sqlite3_column_int64(total->get(), 0)) / 16;
      if (options_.dedupMaxEvents > 0) keys = std::min(keys, options_.dedupMaxEvents);
      dedupIndex_.reserve(static_cast<size_t>(keys));
    }
  }
  const Seq floor = capFloor(lastSeq_.load(std::memory_order_acquire));
  dedupIndex_.setFloor(floor);
  auto stmt = prepare(writeDb_.get(), "SELECT seq, first_seen, keys FROM dedup_keys ORDER BY seq");
  if (!stmt) return fail(stmt.error());
  sqlite3_stmt* s = stmt->get();
  std::vector<std::pair<uint64_t, Seq>> pairs;
  int rc;
  while ((rc = sqlite3_step(s)) == SQLITE_ROW) {
    const EpochMs firstSeenMs = sqlite3_column_int64(s, 1);
    if (firstSeenMs <= cutoffMs) continue;
    const auto* blob = static_cast<const char*>(sqlite3_column_blob(s, 2));
    const size_t count = static_cast<size_t>(sqlite3_column_bytes(s, 2)) / 16;
    pairs.clear();
    for (size_t i = 0; i < count; ++i) {
      std::pair<uint64_t, Seq> pair;
      std::memcpy(&pair.first, blob + i * 16, 8);
      std::memcpy(&pair.second, blob + i * 16 + 8, 8);
      if (pair.second > floor) pairs.push_back(pair);  // the cap's oldest are not loaded at all
    }
    dedupIndex_.putAll(pairs);
    dedupTimeline_.note(firstSeenMs, static_cast<Seq>(sqlite3_column_int64(s, 0)));
  }
  if (rc != SQLITE_DONE) return fail(sqliteError(writeDb_.get(), rc, "load dedup keys"));
  return ok();
}

tl::expected<void, DbError> SqliteLog::runRetentionChunk(RetentionJob& job, TxnResult& result) {
  sqlite3* w = writeDb_.get();
  result.retentionPhase = job.phase;
  Seq maxSeq = job.maxSeq;
  int rc;
  if (!job.started) {
    // Events that some consumer has not finished stay, whatever their age.
    sqlite3_stmt* s = minCursorStmt_.get();
    StmtUse use(s);
    rc = sqlite3_step(s);
    if (rc != SQLITE_ROW) return tl::unexpected(stepError(rc, "read cursors"));
    maxSeq = sqlite3_column_int64(s, 0) == 0
                 ? static_cast<Seq>(std::numeric_limits<int64_t>::max())
                 : static_cast<Seq>(sqlite3_column_int64(s, 1));
    // Only the spans holding an event older than the cutoff can hold one to delete: the seqs
    // from the first of them to the last (or to the cursors' bound) are all that is looked at.
    auto bounds = prepare(w, "SELECT min(first_seq), max(last_seq) FROM spans WHERE oldest < ?1");
    if (!bounds) return tl::unexpected(DbError{SQLITE_ERROR, bounds.error()});
    sqlite3_stmt* b = bounds->get();
    sqlite3_bind_int64(b, 1, job.beforeMs);
    rc = sqlite3_step(b);
    if (rc != SQLITE_ROW) return tl::unexpected(stepError(rc, "read spans"));
    if (sqlite3_column_type(b, 0) == SQLITE_NULL) {
      job.nextSeq = 1;
      maxSeq = 0;  // nothing is old enough
    } else {
      job.nextSeq = static_cast<Seq>(sqlite3_column_int64(b, 0));
      maxSeq = std::min(maxSeq, static_cast<Seq>(sqlite3_column_int64(b, 1)));
    }
    job.maxSeq = maxSeq;  // fixed for the whole job
  }
  const int chunk = std::max(1, options_.retentionChunkRows);
  if (result.retentionPhase == 0 && job.sweepingSpans) {
    // Spans with no event left, `chunk` of them looked at per transaction, from the first: those
    // this job emptied, and any an interrupted job left. A span keeps its bounds while some of its
    // events are left, so its times are bounds of theirs.
    int64_t looked = 0;
    Seq last = 0;
    {
      sqlite3_stmt* s = sweptSpansStmt_.get();
      StmtUse use(s);
      sqlite3_bind_int64(s, 1, static_cast<sqlite3_int64>(job.nextSeq));
      sqlite3_bind_int64(s, 2, static_cast<sqlite3_int64>(maxSeq));
      sqlite3_bind_int(s, 3, chunk);
      rc = sqlite3_step(s);
      if (rc != SQLITE_ROW) return tl::unexpected(stepError(rc, "retention (spans)"));
      looked = sqlite3_column_int64(s, 0);
      last = static_cast<Seq>(sqlite3_column_int64(s, 1));
    }
    if (looked > 0) {
      sqlite3_stmt* s = deleteSpansStmt_.get();
      StmtUse use(s);
      sqlite3_bind_int64(s, 1, static_cast<sqlite3_int64>(job.nextSeq));
      sqlite3_bind_int64(s, 2, static_cast<sqlite3_int64>(last));
      rc = sqlite3_step(s);
      if (rc != SQLITE_DONE) return tl::unexpected(stepError(rc, "retention (spans)"));
      job.nextSeq = last + 1;
    }
    if (looked < chunk) result.retentionPhase = 1;
    return {};
  }
  if (result.retentionPhase == 0) {
    // The next `chunk` old events in seq order, then exactly those rows deleted by seq range.
    int found = 0;
    Seq last = 0;
    if (job.nextSeq <= maxSeq) {
      sqlite3_stmt* s = retentionSeqsStmt_.get();
      StmtUse use(s);
      sqlite3_bind_int64(s, 1, static_cast<sqlite3_int64>(job.nextSeq));
      sqlite3_bind_int64(s, 2, static_cast<sqlite3_int64>(maxSeq));
      sqlite3_bind_int64(s, 3, job.beforeMs);
      sqlite3_bind_int(s, 4, chunk);
      while ((rc = sqlite3_step(s)) == SQLITE_ROW) {
        last = static_cast<Seq>(sqlite3_column_int64(s, 0));
        ++found;
      }
      if (rc != SQLITE_DONE) return tl::unexpected(stepError(rc, "retention (events)"));
    }
    if (found > 0) {
      sqlite3_stmt* s = deleteEventsStmt_.get();
      StmtUse use(s);
      sqlite3_bind_int64(s, 1, static_cast<sqlite3_int64>(job.nextSeq));
      sqlite3_bind_int64(s, 2, static_cast<sqlite3_int64>(last));
      sqlite3_bind_int64(s, 3, job.beforeMs);
      rc = sqlite3_step(s);
      if (rc != SQLITE_DONE) return tl::unexpected(stepError(rc, "retention (events)"));
      result.retentionDeleted = static_cast<uint64_t>(sqlite3_changes(w));
      // Younger events passed over below `last` stay younger than this job's cutoff.
      job.nextSeq = last + 1;
    }
    if (found < chunk) {
      job.sweepingSpans = true;
      job.nextSeq = 0;
    }
    return {};
  }
  if (result.retentionPhase == 1) {
    // De-duplication keys past the window (all of them when de-duplication is off).
    sqlite3_stmt* s = deleteDedupKeysStmt_.get();
    StmtUse use(s);
    sqlite3_bind_int64(s, 1,
                       options_.dedupWindowMs > 0 ? job.dedupCutoffMs
                                                  : std::numeric_limits<int64_t>::max());
    sqlite3_bind_int(s, 2, chunk);
    rc = sqlite3_step(s);
    if (rc != SQLITE_DONE) return tl::unexpected(stepError(rc, "retention (dedup keys)"));
    if (sqlite3_changes(w) < chunk) result.retentionPhase = 2;
    return {};
  }
  if (result.retentionPhase == 2) {
    sqlite3_stmt* s = deleteQuarantineStmt_.get();
    StmtUse use(s);
    sqlite3_bind_int64(s, 1, job.beforeMs);
    sqlite3_bind_int(s, 2, chunk);
    rc = sqlite3_step(s);
    if (rc != SQLITE_DONE) return tl::unexpected(stepError(rc, "retention (quarantine)"));
    if (sqlite3_changes(w) < chunk) result.retentionPhase = 3;
  }
  return {};
}

Result<void> SqliteLog::submitCursorOp(std::string_view consumer, std::optional<Seq> seq) {
  std::future<Result<void>> future;
  {
    std::lock_guard lock(mutex_);
    if (stopping_) return fail(ErrorCode::kUnavailable, notWritableMessage());
    cursorOps_.push_back(CursorOp{std::string(consumer), seq, {}});
    future = cursorOps_.back().promise.get_future();
    wake_.notify_one();
  }
  return future.get();
}

Result<void> SqliteLog::setCursor(std::string_view consumer, Seq seq) {
  if (seq > static_cast<Seq>(std::numeric_limits<int64_t>::max())) {
    return fail(ErrorCode::kInvalidArgument, "cursor out of range");
  }
  return submitCursorOp(consumer, seq);
}

Result<void> SqliteLog::dropCursor(std::string_view consumer) {
  return submitCursorOp(consumer, std::nullopt);
}

Result<uint64_t> SqliteLog::applyRetention(EpochMs beforeMs) {
  auto job = std::make_unique<RetentionJob>();
  job->beforeMs = beforeMs;
  job->dedupCutoffMs = clock_->nowMs() - options_.dedupWindowMs;
  std::future<Result<uint64_t>> future = job->promise.get_future();
  {
    std::lock_guard lock(mutex_);
    if (stopping_) return fail(ErrorCode::kUnavailable, notWritableMessage());
    retention_.push_back(std::move(job));
    wake_.notify_one();
  }
  return future.get();
}

// ---------------------------------------------------------------------------------------------
// Health.

std::optional<uint64_t> SqliteLog::freeBytes() {
  const int64_t now = clock_->monotonicNs();
  std::lock_guard lock(healthMutex_);
  if (!freeChecked_ || now - freeCheckedAtNs_ >= options_.freeSpaceCheckIntervalMs * 1'000'000) {
    freeBytes_ = options_.freeSpace(options_.directory);
    freeCheckedAtNs_ = now;
    freeChecked_ = true;
  }
  return freeBytes_;
}

void SqliteLog::noteStorageFailure(const Error& error) {
  std::lock_guard lock(healthMutex_);
  ioFailed_ = true;
  ioCode_ = error.code == ErrorCode::kResourceExhausted ? ErrorCode::kResourceExhausted
                                                         : ErrorCode::kUnavailable;
  ioReason_ = error.message;
  ioRetryAtNs_ = clock_->monotonicNs() + options_.ioErrorRetryAfterMs * 1'000'000;
}

std::optional<Error> SqliteLog::refusal() {
  if (syncer_) {
    if (auto failed = syncer_->failure()) return failed;
  }
  WriteHealth health = writeHealth();
  if (health.writable) return std::nullopt;
  {
    std::lock_guard lock(healthMutex_);
    if (ioFailed_) return Error{ioCode_, health.reason};
  }
  return Error{ErrorCode::kResourceExhausted, health.reason};
}

WriteHealth SqliteLog::writeHealth() {
  if (closed_.load()) {
    return WriteHealth{false, "event log is closed", options_.ioErrorRetryAfterMs};
  }
  if (options_.readOnly) return WriteHealth{false, "event log is open read-only", 0};
  if (syncer_) {
    if (auto failed = syncer_->failure()) {
      std::string reason = failed->message;
      if (otherProcessBlocksRecovery_.load()) {
        reason += "; reopening waits until no other process has the log open (sluice log export, "
                  "sluice replay)";
      }
      return WriteHealth{false, reason, options_.ioErrorRetryAfterMs, failed->message};
    }
  }
  std::string failure;
  {
    // After a storage failure, writes are refused for a while; the first write after that is the
    // probe, and its success clears the state.
    std::lock_guard lock(healthMutex_);
    if (ioFailed_) failure = "storage failure: " + ioReason_;
    const int64_t now = clock_->monotonicNs();
    if (ioFailed_ && now < ioRetryAtNs_) {
      int64_t remainingMs = (ioRetryAtNs_ - now + 999'999) / 1'000'000;
      return WriteHealth{false, failure, std::max<int64_t>(1, remainingMs), failure};
    }
  }
  std::optional<uint64_t> free = freeBytes();
  if (free && *free < options_.minFreeBytes) {
    return WriteHealth{false,
                       "free disk space (" + std::to_string(*free) + " bytes) is below the floor (" +
                           std::to_string(options_.minFreeBytes) + " bytes)",
                       options_.diskFullRetryAfterMs, failure};
  }
  WriteHealth health;
  health.failure = std::move(failure);
  return health;
}

// ---------------------------------------------------------------------------------------------
// Reads.

Result<std::vector<StoredEvent>> SqliteLog::readAfter(Seq after, size_t max) {
  std::vector<StoredEvent> events;
  auto n = readAfterInto(after, max, events);
  if (!n) return fail(n.error());
  events.resize(*n);
  return events;
}

Result<size_t> SqliteLog::readAfterInto(Seq after, size_t max, std::vector<StoredEvent>& out) {
  std::lock_guard lock(readMutex_);
  if (!readDb_) return fail(ErrorCode::kUnavailable, kNotOpen);
  if (max == 0) return size_t{0};
  if (out.capacity() == 0) out.reserve(std::min<size_t>(max, 4096));
  size_t n = 0;
  // Reads up to `limit` events after `from` into out[n...].
  auto read = [&](Seq from, size_t limit) -> Result<void> {
    sqlite3_stmt* s = readAfterStmt_.get();
    StmtUse use(s);
    sqlite3_bind_int64(s, 1, static_cast<sqlite3_int64>(
                                 std::min<Seq>(from, std::numeric_limits<int64_t>::max())));
    sqlite3_bind_int64(s, 2, static_cast<sqlite3_int64>(
                                 std::min<size_t>(limit, std::numeric_limits<int32_t>::max())));
    // Committed events not yet on disk are not read: nothing leaves the log before it is durable.
    sqlite3_bind_int64(s, 3, static_cast<sqlite3_int64>(readableSeq()));
    int rc;
    while ((rc = sqlite3_step(s)) == SQLITE_ROW) assignEventRow(s, fillSlot(out, n++));
    if (rc != SQLITE_DONE) return fail(sqliteError(readDb_.get(), rc, "read"));
    return ok();
  };
  if (auto r = read(after, max); !r) return fail(r.error());
  if (options_.readOnly && n < max) {
    // A short read reached the end of what was durable when this log last looked: catch up and
    // read on if more is durable now. A replay reading in chunks pays this once, at its end.
    const Seq seen = durableSeq_.load(std::memory_order_acquire);
    if (auto caught = catchUpReadOnly(); !caught) return fail(caught.error());
    if (durableSeq_.load(std::memory_order_acquire) > seen) {
      if (auto r = read(n > 0 ? out[n - 1].seq : after, max - n); !r) return fail(r.error());
    }
  }
  return n;
}

Result<void> SqliteLog::scan(const TimeRange& range, std::optional<std::string> source,
                             const std::function<bool(const StoredEvent&)>& visit) {
  if (closed_.load()) return fail(ErrorCode::kUnavailable, "event log is closed");
  if (options_.readOnly) {
    std::lock_guard lock(readMutex_);
    if (!readDb_) return fail(ErrorCode::kUnavailable, kNotOpen);
    if (auto caught = catchUpReadOnly(); !caught) return caught;
  }
  // A connection of its own: a long export neither blocks nor is blocked by other readers, and
  // `visit` may call back into the log. None while the log waits to reopen after a failed flush
  // (see recover()).
  if (auto failed = syncer_ ? syncer_->failure() : std::nullopt) {
    return fail(ErrorCode::kUnavailable,
                "event log: reopening after a storage failure; scan again later");
  }
  std::shared_lock scanning(scanMutex_);
  auto db = openConnection(file_, OpenMode::kReader, false);
  if (!db) return fail(db.error());
  sqlite3* r = db->get();

  // The seq bounds of the range: those of the spans whose time range meets it. The rows between
  // are then filtered by their own receivedAt.
  Seq lo = 0;
  Seq hi = 0;
  {
    auto stmt = prepare(r,
                        "SELECT min(first_seq), max(last_seq) FROM spans"
                        " WHERE newest >= ?1 AND oldest < ?2");
    if (!stmt) return fail(stmt.error());
    sqlite3_bind_int64(stmt->get(), 1, range.sinceMs);
    sqlite3_bind_int64(stmt->get(), 2, range.untilMs);
    int rc = sqlite3_step(stmt->get());
    if (rc != SQLITE_ROW) return fail(sqliteError(r, rc, "scan"));
    if (sqlite3_column_type(stmt->get(), 0) == SQLITE_NULL) return ok();
    lo = static_cast<Seq>(sqlite3_column_int64(stmt->get(), 0));
    hi = std::min(static_cast<Seq>(sqlite3_column_int64(stmt->get(), 1)), readableSeq());
  }

  // Then the rows between them in seq order, in chunks so that no read transaction stays open
  // for the whole scan (which would keep the WAL from being checkpointed).
  std::string sql = std::string("SELECT ") + kEventColumns +
                    " FROM events WHERE seq >= ?1 AND seq <= ?2"
                    " AND received_at >= ?3 AND received_at < ?4";
  if (source) sql += " AND source = ?6";
  sql += " ORDER BY seq LIMIT ?5";
  auto stmt = prepare(r, sql);
  if (!stmt) return fail(stmt.error());
  sqlite3_stmt* s = stmt->get();
  constexpr int kChunk = 1'000;
  Seq from = lo;
  while (from <= hi) {
    std::vector<StoredEvent> chunk;
    {
      StmtUse use(s);
      sqlite3_bind_int64(s, 1, static_cast<sqlite3_int64>(from));
      sqlite3_bind_int64(s, 2, static_cast<sqlite3_int64>(hi));
      sqlite3_bind_int64(s, 3, range.sinceMs);
      sqlite3_bind_int64(s, 4, range.untilMs);
      sqlite3_bind_int(s, 5, kChunk);
      if (source) bindText(s, 6, *source);
      int rc;
      while ((rc = sqlite3_step(s)) == SQLITE_ROW) chunk.push_back(readEventRow(s));
      if (rc != SQLITE_DONE) return fail(sqliteError(r, rc, "scan"));
    }
    if (chunk.empty()) break;
    for (const StoredEvent& event : chunk) {
      if (!visit(event)) return ok();
    }
    from = chunk.back().seq + 1;
    if (chunk.size() < static_cast<size_t>(kChunk)) break;
  }
  return ok();
}

Result<Seq> SqliteLog::lastSeq() { return durableSeq_.load(std::memory_order_acquire); }

Result<uint64_t> SqliteLog::count() {
  std::lock_guard lock(readMutex_);
  if (!readDb_) return fail(ErrorCode::kUnavailable, kNotOpen);
  sqlite3_stmt* s = countStmt_.get();
  StmtUse use(s);
  int rc = sqlite3_step(s);
  if (rc != SQLITE_ROW) return fail(sqliteError(readDb_.get(), rc, "count"));
  return static_cast<uint64_t>(sqlite3_column_int64(s, 0));
}

Result<Seq> SqliteLog::cursor(std::string_view consumer) {
  std::lock_guard lock(readMutex_);
  if (!readDb_) return fail(ErrorCode::kUnavailable, kNotOpen);
  sqlite3_stmt* s = cursorStmt_.get();
  StmtUse use(s);
  bindText(s, 1, consumer);
  int rc = sqlite3_step(s);
  if (rc == SQLITE_DONE) return Seq{0};
  if (rc != SQLITE_ROW) return fail(sqliteError(readDb_.get(), rc, "read cursor"));
  return static_cast<Seq>(sqlite3_column_int64(s, 0));
}

Result<std::vector<QuarantinedEvent>> SqliteLog::listQuarantine(size_t max, int64_t beforeId) {
  std::lock_guard lock(readMutex_);
  if (!readDb_) return fail(ErrorCode::kUnavailable, kNotOpen);
  std::vector<QuarantinedEvent> out;
  if (max == 0) return out;
  sqlite3_stmt* s = quarantineStmt_.get();
  StmtUse use(s);
  sqlite3_bind_int64(s, 1, beforeId <= 0 ? std::numeric_limits<int64_t>::max() : beforeId);
  sqlite3_bind_int64(s, 2, static_cast<sqlite3_int64>(
                               std::min<size_t>(max, std::numeric_limits<int32_t>::max())));
  int rc;
  while ((rc = sqlite3_step(s)) == SQLITE_ROW) {
    QuarantinedEvent q;
    q.id = sqlite3_column_int64(s, 0);
    q.source = columnText(s, 1);
    q.receivedAtMs = sqlite3_column_int64(s, 2);
    q.reason = columnText(s, 3);
    q.payload = columnBlob(s, 4);
    out.push_back(std::move(q));
  }
  if (rc != SQLITE_DONE) return fail(sqliteError(readDb_.get(), rc, "list quarantine"));
  return out;
}

// ---------------------------------------------------------------------------------------------

void SqliteLog::close() {
  std::lock_guard closeLock(closeMutex_);
  if (closed_.load()) return;
  {
    std::lock_guard lock(mutex_);
    stopping_ = true;
    wake_.notify_all();
  }
  if (writer_.joinable()) writer_.join();
  // The writer's last transactions are acknowledged once flushed.
  if (syncer_) syncer_->stop();
  closed_.store(true);
  // After a failed flush the WAL's cached pages may differ from what the disk holds: they are not
  // copied into the database, and the next open reads the WAL from disk.
  closeConnections(!(syncer_ && syncer_->failure()));
  if (shmFd_ >= 0) ::close(shmFd_);  // after the connections: it would drop their locks
  shmFd_ = -1;
}

}  // namespace

std::optional<uint64_t> statvfsFreeBytes(const std::string& directory) {
  struct statvfs info {};
  if (::statvfs(directory.c_str(), &info) != 0) return std::nullopt;
  return static_cast<uint64_t>(info.f_bavail) * static_cast<uint64_t>(info.f_frsize);
}

std::string sqliteLogFile(const std::string& directory) {
  return (std::filesystem::path(directory) / "events.db").string();
}

Result<std::unique_ptr<EventLog>> openSqliteLog(const SqliteLogOptions& options) {
  auto log = std::make_unique<SqliteLog>(options);
  if (auto opened = log->open(); !opened) {
    log->close();
    return fail(opened.error());
  }
  return std::unique_ptr<EventLog>(std::move(log));
}

}  // namespace sluice::store
