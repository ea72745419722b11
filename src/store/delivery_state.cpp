// SQLite implementation of DeliveryState: one connection, guarded by a mutex (dead letters and
// expiries are rare next to deliveries, so contention does not matter here).
#include "store/delivery_state.h"

#include <sqlite3.h>

#include <filesystem>
#include <mutex>
#include <utility>

#include "store/sqlite_handles.h"

namespace sluice::store {
namespace {

using DbPtr = SqliteDbPtr;
using StmtPtr = SqliteStmtPtr;

constexpr const char* kSchema = R"sql(
CREATE TABLE IF NOT EXISTS dead_letters (
  id INTEGER PRIMARY KEY AUTOINCREMENT,
  destination TEXT NOT NULL,
  seq INTEGER NOT NULL,
  source TEXT NOT NULL,
  message_id TEXT NOT NULL,
  event_time_ms INTEGER NOT NULL,
  received_at_ms INTEGER NOT NULL,
  event_json TEXT NOT NULL,
  item_json TEXT NOT NULL,
  reason TEXT NOT NULL,
  code INTEGER NOT NULL,
  message TEXT NOT NULL,
  created_ms INTEGER NOT NULL);
CREATE INDEX IF NOT EXISTS dead_letters_dest ON dead_letters(destination, id);
CREATE TABLE IF NOT EXISTS expired (
  id INTEGER PRIMARY KEY AUTOINCREMENT,
  destination TEXT NOT NULL,
  seq INTEGER NOT NULL,
  source TEXT NOT NULL,
  message_id TEXT NOT NULL,
  event_time_ms INTEGER NOT NULL,
  received_at_ms INTEGER NOT NULL,
  event_json TEXT NOT NULL,
  item_json TEXT NOT NULL,
  expired_at_ms INTEGER NOT NULL);
CREATE INDEX IF NOT EXISTS expired_dest ON expired(destination, id);
CREATE TABLE IF NOT EXISTS paused (
  destination TEXT PRIMARY KEY,
  reason TEXT NOT NULL,
  since_ms INTEGER NOT NULL);
)sql";

class SqliteDeliveryState final : public DeliveryState {
 public:
  SqliteDeliveryState(DbPtr db, const Clock& clock) : db_(std::move(db)), clock_(clock) {}

  Result<void> record(const std::vector<DeadLetter>& dead,
                      const std::vector<ExpiredEvent>& expired) override {
    if (dead.empty() && expired.empty()) return ok();
    std::lock_guard lock(mutex_);
    if (auto r = execLocked("BEGIN IMMEDIATE"); !r) return r;
    auto rollback = [&](Error error) -> Result<void> {
      execLocked("ROLLBACK");
      return fail(std::move(error));
    };
    const EpochMs now = clock_.nowMs();
    if (!dead.empty()) {
      auto stmt = prepareLocked(
          "INSERT INTO dead_letters(destination, seq, source, message_id, event_time_ms, "
          "received_at_ms, event_json, item_json, reason, code, message, created_ms) "
          "VALUES(?,?,?,?,?,?,?,?,?,?,?,?)");
      if (!stmt) return rollback(stmt.error());
      for (const DeadLetter& d : dead) {
        sqlite3_stmt* s = stmt->get();
        sqlite3_reset(s);
        bindText(s, 1, d.destination);
        sqlite3_bind_int64(s, 2, static_cast<int64_t>(d.seq));
        bindText(s, 3, d.source);
        bindText(s, 4, d.messageId);
        sqlite3_bind_int64(s, 5, d.eventTimeMs);
        sqlite3_bind_int64(s, 6, d.receivedAtMs);
        bindText(s, 7, d.eventJson);
        bindText(s, 8, d.itemJson);
        bindText(s, 9, d.reason);
        sqlite3_bind_int(s, 10, d.code);
        bindText(s, 11, d.message);
        sqlite3_bind_int64(s, 12, d.createdMs ? d.createdMs : now);
        if (sqlite3_step(s) != SQLITE_DONE) return rollback(errorLocked("insert dead letter"));
      }
    }
    if (!expired.empty()) {
      auto stmt = prepareLocked(
          "INSERT INTO expired(destination, seq, source, message_id, event_time_ms, "
          "received_at_ms, event_json, item_json, expired_at_ms) VALUES(?,?,?,?,?,?,?,?,?)");
      if (!stmt) return rollback(stmt.error());
      for (const ExpiredEvent& e : expired) {
        sqlite3_stmt* s = stmt->get();
        sqlite3_reset(s);
        bindText(s, 1, e.destination);
        sqlite3_bind_int64(s, 2, static_cast<int64_t>(e.seq));
        bindText(s, 3, e.source);
        bindText(s, 4, e.messageId);
        sqlite3_bind_int64(s, 5, e.eventTimeMs);
        sqlite3_bind_int64(s, 6, e.receivedAtMs);
        bindText(s, 7, e.eventJson);
        bindText(s, 8, e.itemJson);
        sqlite3_bind_int64(s, 9, e.expiredAtMs ? e.expiredAtMs : now);
        if (sqlite3_step(s) != SQLITE_DONE) return rollback(errorLocked("insert expired event"));
      }
    }
    if (auto r = execLocked("COMMIT"); !r) return rollback(r.error());
    return ok();
  }

  Result<std::vector<DeadLetter>> listDeadLetters(std::string_view destination, size_t max,
                                                  int64_t afterId) override {
    std::lock_guard lock(mutex_);
    auto stmt = prepareLocked(std::string(kDeadColumns) +
                              " WHERE destination = ? AND id > ? ORDER BY id LIMIT ?");
    if (!stmt) return fail(stmt.error());
    bindText(stmt->get(), 1, destination);
    sqlite3_bind_int64(stmt->get(), 2, afterId);
    sqlite3_bind_int64(stmt->get(), 3, static_cast<int64_t>(max));
    std::vector<DeadLetter> out;
    int rc;
    while ((rc = sqlite3_step(stmt->get())) == SQLITE_ROW) out.push_back(readDead(stmt->get()));
    if (rc != SQLITE_DONE) return fail(errorLocked("list dead letters"));
    return out;
  }

  Result<DeadLetter> deadLetter(std::string_view destination, int64_t id) override {
    std::lock_guard lock(mutex_);
    auto stmt = prepareLocked(std::string(kDeadColumns) + " WHERE destination = ? AND id = ?");
    if (!stmt) return fail(stmt.error());
    bindText(stmt->get(), 1, destination);
    sqlite3_bind_int64(stmt->get(), 2, id);
    int rc = sqlite3_step(stmt->get());
    if (rc == SQLITE_ROW) return readDead(stmt->get());
    if (rc == SQLITE_DONE) {
      return fail(ErrorCode::kNotFound, "no dead letter " + std::to_string(id) + " for " +
                                            std::string(destination));
    }
    return fail(errorLocked("read dead letter"));
  }

  Result<uint64_t> dropDeadLetters(std::string_view destination,
                                   const std::vector<int64_t>& ids) override {
    std::lock_guard lock(mutex_);
    if (ids.empty()) {
      auto stmt = prepareLocked("DELETE FROM dead_letters WHERE destination = ?");
      if (!stmt) return fail(stmt.error());
      bindText(stmt->get(), 1, destination);
      if (sqlite3_step(stmt->get()) != SQLITE_DONE) return fail(errorLocked("drop dead letters"));
      return static_cast<uint64_t>(sqlite3_changes(db_.get()));
    }
    if (auto r = execLocked("BEGIN IMMEDIATE"); !r) return fail(r.error());
    auto stmt = prepareLocked("DELETE FROM dead_letters WHERE destination = ? AND id = ?");
    if (!stmt) {
      execLocked("ROLLBACK");
      return fail(stmt.error());
    }
    uint64_t dropped = 0;
    for (int64_t id : ids) {
      sqlite3_reset(stmt->get());
      bindText(stmt->get(), 1, destination);
      sqlite3_bind_int64(stmt->get(), 2, id);
      if (sqlite3_step(stmt->get()) != SQLITE_DONE) {
        Error error = errorLocked("drop dead letter");
        execLocked("ROLLBACK");
        return fail(std::move(error));
      }
      dropped += static_cast<uint64_t>(sqlite3_changes(db_.get()));
    }
    if (auto r = execLocked("COMMIT"); !r) {
      execLocked("ROLLBACK");
      return fail(r.error());
    }
    return dropped;
  }

  Result<uint64_t> countDeadLetters(std::string_view destination) override {
    return countLocked("SELECT COUNT(*) FROM dead_letters WHERE destination = ?", destination);
  }
  Result<uint64_t> countExpired(std::string_view destination) override {
    return countLocked("SELECT COUNT(*) FROM expired WHERE destination = ?", destination);
  }

  Result<void> scanDeadLetters(std::string_view destination, const EventTimeRange& range,
                               const std::function<bool(const DeadLetter&)>& visit) override {
    return scanLocked<DeadLetter>(std::string(kDeadColumns), destination, range, visit,
                                  &SqliteDeliveryState::readDead);
  }

  Result<void> scanExpired(std::string_view destination, const EventTimeRange& range,
                           const std::function<bool(const ExpiredEvent&)>& visit) override {
    return scanLocked<ExpiredEvent>(std::string(kExpiredColumns), destination, range, visit,
                                    &SqliteDeliveryState::readExpired);
  }

  Result<void> setPaused(std::string_view destination, std::optional<PauseState> state) override {
    std::lock_guard lock(mutex_);
    auto stmt = state ? prepareLocked(
                            "INSERT INTO paused(destination, reason, since_ms) VALUES(?,?,?) "
                            "ON CONFLICT(destination) DO UPDATE SET reason = excluded.reason")
                      : prepareLocked("DELETE FROM paused WHERE destination = ?");
    if (!stmt) return fail(stmt.error());
    bindText(stmt->get(), 1, destination);
    if (state) {
      bindText(stmt->get(), 2, state->reason);
      sqlite3_bind_int64(stmt->get(), 3, state->sinceMs ? state->sinceMs : clock_.nowMs());
    }
    if (sqlite3_step(stmt->get()) != SQLITE_DONE) return fail(errorLocked("set paused"));
    return ok();
  }

  Result<std::optional<PauseState>> pauseState(std::string_view destination) override {
    std::lock_guard lock(mutex_);
    auto stmt = prepareLocked("SELECT reason, since_ms FROM paused WHERE destination = ?");
    if (!stmt) return fail(stmt.error());
    bindText(stmt->get(), 1, destination);
    int rc = sqlite3_step(stmt->get());
    if (rc == SQLITE_DONE) return std::optional<PauseState>();
    if (rc != SQLITE_ROW) return fail(errorLocked("read paused"));
    return std::optional<PauseState>(
        PauseState{columnText(stmt->get(), 0), sqlite3_column_int64(stmt->get(), 1)});
  }

 private:
  static constexpr const char* kDeadColumns =
      "SELECT id, destination, seq, source, message_id, event_time_ms, received_at_ms, event_json, "
      "item_json, reason, code, message, created_ms FROM dead_letters";
  static constexpr const char* kExpiredColumns =
      "SELECT id, destination, seq, source, message_id, event_time_ms, received_at_ms, event_json, "
      "item_json, expired_at_ms FROM expired";

  static DeadLetter readDead(sqlite3_stmt* s) {
    DeadLetter d;
    d.id = sqlite3_column_int64(s, 0);
    d.destination = columnText(s, 1);
    d.seq = static_cast<Seq>(sqlite3_column_int64(s, 2));
    d.source = columnText(s, 3);
    d.messageId = columnText(s, 4);
    d.eventTimeMs = sqlite3_column_int64(s, 5);
    d.receivedAtMs = sqlite3_column_int64(s, 6);
    d.eventJson = columnText(s, 7);
    d.itemJson = columnText(s, 8);
    d.reason = columnText(s, 9);
    d.code = sqlite3_column_int(s, 10);
    d.message = columnText(s, 11);
    d.createdMs = sqlite3_column_int64(s, 12);
    return d;
  }

  static ExpiredEvent readExpired(sqlite3_stmt* s) {
    ExpiredEvent e;
    e.id = sqlite3_column_int64(s, 0);
    e.destination = columnText(s, 1);
    e.seq = static_cast<Seq>(sqlite3_column_int64(s, 2));
    e.source = columnText(s, 3);
    e.messageId = columnText(s, 4);
    e.eventTimeMs = sqlite3_column_int64(s, 5);
    e.receivedAtMs = sqlite3_column_int64(s, 6);
    e.eventJson = columnText(s, 7);
    e.itemJson = columnText(s, 8);
    e.expiredAtMs = sqlite3_column_int64(s, 9);
    return e;
  }

  // Scans in pages of 500 rows so the mutex is not held while `visit` runs on a huge table.
  template <typename T>
  Result<void> scanLocked(const std::string& select, std::string_view destination,
                          const EventTimeRange& range, const std::function<bool(const T&)>& visit,
                          T (*read)(sqlite3_stmt*)) {
    int64_t afterId = 0;
    for (;;) {
      std::vector<T> page;
      {
        std::lock_guard lock(mutex_);
        auto stmt = prepareLocked(select +
                                  " WHERE destination = ? AND id > ? AND event_time_ms >= ? AND "
                                  "event_time_ms < ? ORDER BY id LIMIT 500");
        if (!stmt) return fail(stmt.error());
        bindText(stmt->get(), 1, destination);
        sqlite3_bind_int64(stmt->get(), 2, afterId);
        sqlite3_bind_int64(stmt->get(), 3, range.sinceMs);
        sqlite3_bind_int64(stmt->get(), 4, range.untilMs);
        int rc;
        while ((rc = sqlite3_step(stmt->get())) == SQLITE_ROW) page.push_back(read(stmt->get()));
        if (rc != SQLITE_DONE) return fail(errorLocked("scan"));
      }
      if (page.empty()) return ok();
      for (const T& row : page) {
        if (!visit(row)) return ok();
      }
      afterId = page.back().id;
    }
  }

  Result<uint64_t> countLocked(const char* sql, std::string_view destination) {
    std::lock_guard lock(mutex_);
    auto stmt = prepareLocked(sql);
    if (!stmt) return fail(stmt.error());
    bindText(stmt->get(), 1, destination);
    if (sqlite3_step(stmt->get()) != SQLITE_ROW) return fail(errorLocked("count"));
    return static_cast<uint64_t>(sqlite3_column_int64(stmt->get(), 0));
  }

  Result<StmtPtr> prepareLocked(const std::string& sql) {
    sqlite3_stmt* raw = nullptr;
    if (sqlite3_prepare_v2(db_.get(), sql.c_str(), -1, &raw, nullptr) != SQLITE_OK) {
      return fail(errorLocked("prepare"));
    }
    return StmtPtr(raw);
  }

  Result<void> execLocked(const char* sql) {
    if (sqlite3_exec(db_.get(), sql, nullptr, nullptr, nullptr) != SQLITE_OK) {
      return fail(errorLocked(sql));
    }
    return ok();
  }

  Error errorLocked(std::string_view what) {
    return Error{ErrorCode::kIo,
                 "delivery state: " + std::string(what) + ": " + sqlite3_errmsg(db_.get())};
  }

  std::mutex mutex_;
  DbPtr db_;  // GUARDED_BY(mutex_)
  const Clock& clock_;
};

}  // namespace

Result<std::unique_ptr<DeliveryState>> openSqliteDeliveryState(const std::string& directory,
                                                               const Clock& clock) {
  std::error_code ec;
  std::filesystem::create_directories(directory, ec);
  if (ec) return fail(ErrorCode::kIo, "cannot create " + directory + ": " + ec.message());
  const std::string path = (std::filesystem::path(directory) / "delivery.db").string();
  sqlite3* raw = nullptr;
  int rc = sqlite3_open_v2(path.c_str(), &raw,
                           SQLITE_OPEN_READWRITE | SQLITE_OPEN_CREATE | SQLITE_OPEN_FULLMUTEX,
                           nullptr);
  DbPtr db(raw);
  if (rc != SQLITE_OK) {
    return fail(ErrorCode::kIo, "cannot open " + path + ": " +
                                    (raw ? sqlite3_errmsg(raw) : sqlite3_errstr(rc)));
  }
  sqlite3_busy_timeout(db.get(), 10'000);
  for (const char* sql : {"PRAGMA journal_mode=WAL", "PRAGMA synchronous=FULL", kSchema}) {
    char* message = nullptr;
    if (sqlite3_exec(db.get(), sql, nullptr, nullptr, &message) != SQLITE_OK) {
      std::string text = message ? message : "unknown error";
      sqlite3_free(message);
      return fail(ErrorCode::kIo, "cannot initialise " + path + ": " + text);
    }
  }
  return std::unique_ptr<DeliveryState>(new SqliteDeliveryState(std::move(db), clock));
}

}  // namespace sluice::store
