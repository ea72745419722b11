#include "ops/alerts/alert_state.h"

#include <sqlite3.h>

#include "store/sqlite_handles.h"

namespace sluice::ops::alerts {
namespace {

using store::bindText;
using store::columnText;

constexpr const char* kSchema = R"sql(
CREATE TABLE IF NOT EXISTS active_alerts (
  key TEXT PRIMARY KEY, id INTEGER NOT NULL, kind TEXT NOT NULL, destination TEXT NOT NULL,
  event TEXT NOT NULL, severity TEXT NOT NULL, message TEXT NOT NULL, started_ms INTEGER NOT NULL);
)sql";

}  // namespace

Result<std::unique_ptr<AlertState>> AlertState::open(const std::string& path) {
  sqlite3* raw = nullptr;
  const int rc =
      sqlite3_open_v2(path.c_str(), &raw,
                      SQLITE_OPEN_READWRITE | SQLITE_OPEN_CREATE | SQLITE_OPEN_NOMUTEX, nullptr);
  store::SqliteDbPtr db(raw);
  if (rc != SQLITE_OK) {
    return fail(ErrorCode::kIo, "cannot open the alert state " + path + ": " +
                                    (raw ? sqlite3_errmsg(raw) : "out of memory"));
  }
  sqlite3_busy_timeout(db.get(), 5'000);  // the volume history writes the same file
  std::unique_ptr<AlertState> state(new AlertState(std::move(db)));
  for (const char* sql : {"PRAGMA journal_mode=WAL", "PRAGMA synchronous=NORMAL", kSchema}) {
    if (auto r = state->exec("cannot open the alert state " + path, sql); !r)
      return fail(r.error());
  }
  return state;
}

Result<void> AlertState::exec(const std::string& what, const char* sql) {
  if (sqlite3_exec(db_.get(), sql, nullptr, nullptr, nullptr) != SQLITE_OK) {
    return fail(ErrorCode::kIo, what + ": " + sqlite3_errmsg(db_.get()));
  }
  return ok();
}

Result<std::vector<std::pair<std::string, Alert>>> AlertState::load() {
  std::lock_guard lock(mutex_);
  sqlite3_stmt* raw = nullptr;
  if (sqlite3_prepare_v2(db_.get(),
                         "SELECT key, id, kind, destination, event, severity, message, started_ms "
                         "FROM active_alerts ORDER BY id",
                         -1, &raw, nullptr) != SQLITE_OK) {
    return fail(ErrorCode::kIo, std::string("alert state: ") + sqlite3_errmsg(db_.get()));
  }
  store::SqliteStmtPtr stmt(raw);
  std::vector<std::pair<std::string, Alert>> out;
  int rc;
  while ((rc = sqlite3_step(raw)) == SQLITE_ROW) {
    Alert a;
    a.id = static_cast<uint64_t>(sqlite3_column_int64(raw, 1));
    a.spec.kind = columnText(raw, 2);
    a.spec.destination = columnText(raw, 3);
    a.spec.event = columnText(raw, 4);
    a.spec.severity = columnText(raw, 5) == severityName(Severity::kCritical) ? Severity::kCritical
                                                                              : Severity::kWarning;
    a.spec.message = columnText(raw, 6);
    a.startedMs = sqlite3_column_int64(raw, 7);
    out.emplace_back(columnText(raw, 0), std::move(a));
  }
  if (rc != SQLITE_DONE) {
    return fail(ErrorCode::kIo, std::string("alert state: ") + sqlite3_errmsg(db_.get()));
  }
  return out;
}

Result<void> AlertState::save(const std::string& key, const Alert& alert) {
  std::lock_guard lock(mutex_);
  sqlite3_stmt* raw = nullptr;
  if (sqlite3_prepare_v2(db_.get(), "INSERT OR REPLACE INTO active_alerts VALUES(?,?,?,?,?,?,?,?)",
                         -1, &raw, nullptr) != SQLITE_OK) {
    return fail(ErrorCode::kIo, std::string("alert state: ") + sqlite3_errmsg(db_.get()));
  }
  store::SqliteStmtPtr stmt(raw);
  bindText(raw, 1, key);
  sqlite3_bind_int64(raw, 2, static_cast<int64_t>(alert.id));
  bindText(raw, 3, alert.spec.kind);
  bindText(raw, 4, alert.spec.destination);
  bindText(raw, 5, alert.spec.event);
  bindText(raw, 6, severityName(alert.spec.severity));
  bindText(raw, 7, alert.spec.message);
  sqlite3_bind_int64(raw, 8, alert.startedMs);
  if (sqlite3_step(raw) != SQLITE_DONE) {
    return fail(ErrorCode::kIo, std::string("alert state: ") + sqlite3_errmsg(db_.get()));
  }
  return ok();
}

Result<void> AlertState::remove(const std::string& key) {
  std::lock_guard lock(mutex_);
  sqlite3_stmt* raw = nullptr;
  if (sqlite3_prepare_v2(db_.get(), "DELETE FROM active_alerts WHERE key = ?", -1, &raw, nullptr) !=
      SQLITE_OK) {
    return fail(ErrorCode::kIo, std::string("alert state: ") + sqlite3_errmsg(db_.get()));
  }
  store::SqliteStmtPtr stmt(raw);
  bindText(raw, 1, key);
  if (sqlite3_step(raw) != SQLITE_DONE) {
    return fail(ErrorCode::kIo, std::string("alert state: ") + sqlite3_errmsg(db_.get()));
  }
  return ok();
}

}  // namespace sluice::ops::alerts
