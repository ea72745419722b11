#include "ops/incidents/incident_store.h"

#include <sqlite3.h>

#include <algorithm>
#include <cstdlib>
#include <filesystem>
#include <utility>

#include "store/sqlite_handles.h"

namespace sluice::ops::incidents {
namespace {

using StmtPtr = store::SqliteStmtPtr;

constexpr const char* kSchema = R"sql(
CREATE TABLE IF NOT EXISTS incidents (
  id INTEGER PRIMARY KEY AUTOINCREMENT,
  destination TEXT NOT NULL,
  state TEXT NOT NULL,
  start_ms INTEGER NOT NULL,
  recovered_ms INTEGER NOT NULL,
  end_ms INTEGER NOT NULL,
  last_sample_ms INTEGER NOT NULL,
  drain_ms INTEGER NOT NULL,
  codes TEXT NOT NULL,
  items_delayed INTEGER NOT NULL,
  items_dead INTEGER NOT NULL,
  items_expired INTEGER NOT NULL,
  max_backlog_events INTEGER NOT NULL,
  max_backlog_age_ms INTEGER NOT NULL);
CREATE INDEX IF NOT EXISTS incidents_state ON incidents(state);
CREATE TABLE IF NOT EXISTS incident_timeline (
  id INTEGER PRIMARY KEY AUTOINCREMENT,
  incident_id INTEGER NOT NULL,
  time_ms INTEGER NOT NULL,
  text TEXT NOT NULL);
CREATE INDEX IF NOT EXISTS incident_timeline_incident ON incident_timeline(incident_id, id);
CREATE TABLE IF NOT EXISTS canary_results (
  id INTEGER PRIMARY KEY AUTOINCREMENT,
  destination TEXT NOT NULL,
  time_ms INTEGER NOT NULL,
  ok INTEGER NOT NULL,
  verdict TEXT NOT NULL,
  code TEXT NOT NULL,
  message TEXT NOT NULL,
  latency_ms INTEGER NOT NULL);
CREATE INDEX IF NOT EXISTS canary_results_dest ON canary_results(destination, id);
)sql";

constexpr const char* kIncidentColumns =
    "SELECT id, destination, state, start_ms, recovered_ms, end_ms, last_sample_ms, drain_ms, "
    "codes, items_delayed, items_dead, items_expired, max_backlog_events, max_backlog_age_ms "
    "FROM incidents";

using store::bindText;
using store::columnText;

// Codes as "key=count" lines (keys never hold '=' or a newline: codes, http_NNN, error names).
std::string encodeCodes(const std::map<std::string, uint64_t>& codes) {
  std::string out;
  for (const auto& [key, count] : codes) {
    out += key;
    out += '=';
    out += std::to_string(count);
    out += '\n';
  }
  return out;
}

std::map<std::string, uint64_t> decodeCodes(const std::string& text) {
  std::map<std::string, uint64_t> out;
  size_t start = 0;
  while (start < text.size()) {
    size_t end = text.find('\n', start);
    if (end == std::string::npos) end = text.size();
    const std::string line = text.substr(start, end - start);
    const size_t eq = line.rfind('=');
    if (eq != std::string::npos) {
      out[line.substr(0, eq)] = std::strtoull(line.c_str() + eq + 1, nullptr, 10);
    }
    start = end + 1;
  }
  return out;
}

IncidentState stateFromName(const std::string& name) {
  if (name == "closed") return IncidentState::kClosed;
  if (name == "draining") return IncidentState::kDraining;
  return IncidentState::kDegraded;
}

// Binds the figures of `incident` to parameters 1..13 (destination first).
void bindIncident(sqlite3_stmt* s, const Incident& incident) {
  bindText(s, 1, incident.destination);
  bindText(s, 2, incidentStateName(incident.state));
  sqlite3_bind_int64(s, 3, incident.startMs);
  sqlite3_bind_int64(s, 4, incident.recoveredMs);
  sqlite3_bind_int64(s, 5, incident.endMs);
  sqlite3_bind_int64(s, 6, incident.lastSampleMs);
  sqlite3_bind_int64(s, 7, incident.drainMs);
  bindText(s, 8, encodeCodes(incident.codes));
  sqlite3_bind_int64(s, 9, static_cast<int64_t>(incident.itemsDelayed));
  sqlite3_bind_int64(s, 10, static_cast<int64_t>(incident.itemsDead));
  sqlite3_bind_int64(s, 11, static_cast<int64_t>(incident.itemsExpired));
  sqlite3_bind_int64(s, 12, static_cast<int64_t>(incident.maxBacklogEvents));
  sqlite3_bind_int64(s, 13, incident.maxBacklogAgeMs);
}

}  // namespace

Result<std::unique_ptr<IncidentStore>> IncidentStore::open(const std::string& directory,
                                                           bool create) {
  const std::string path = (std::filesystem::path(directory) / kFileName).string();
  std::error_code ec;
  if (!create) {
    if (!std::filesystem::exists(path, ec)) {
      return fail(ErrorCode::kNotFound, "no incident log at " + path);
    }
  } else {
    std::filesystem::create_directories(directory, ec);
    if (ec) return fail(ErrorCode::kIo, "cannot create " + directory + ": " + ec.message());
  }
  sqlite3* raw = nullptr;
  const int flags =
      SQLITE_OPEN_READWRITE | SQLITE_OPEN_FULLMUTEX | (create ? SQLITE_OPEN_CREATE : 0);
  const int rc = sqlite3_open_v2(path.c_str(), &raw, flags, nullptr);
  std::unique_ptr<IncidentStore> store(new IncidentStore(raw));
  if (rc != SQLITE_OK) {
    return fail(ErrorCode::kIo,
                "cannot open " + path + ": " + (raw ? sqlite3_errmsg(raw) : sqlite3_errstr(rc)));
  }
  sqlite3_busy_timeout(raw, 10'000);
  for (const char* sql : {"PRAGMA journal_mode=WAL", "PRAGMA synchronous=NORMAL", kSchema}) {
    char* message = nullptr;
    if (sqlite3_exec(raw, sql, nullptr, nullptr, &message) != SQLITE_OK) {
      std::string text = message ? message : "unknown error";
      sqlite3_free(message);
      return fail(ErrorCode::kIo, "cannot initialise " + path + ": " + text);
    }
  }
  return store;
}

IncidentStore::~IncidentStore() = default;

void IncidentStore::DbCloser::operator()(sqlite3* db) const { sqlite3_close_v2(db); }

Error IncidentStore::errorLocked(const std::string& what) {
  return Error{ErrorCode::kIo, "incident log: " + what + ": " + sqlite3_errmsg(db_.get())};
}

Result<void> IncidentStore::writeTimelineLocked(int64_t id,
                                                const std::vector<TimelineEntry>& entries,
                                                size_t from) {
  if (from >= entries.size()) return ok();
  sqlite3_stmt* raw = nullptr;
  if (sqlite3_prepare_v2(db_.get(),
                         "INSERT INTO incident_timeline(incident_id, time_ms, text) VALUES(?,?,?)",
                         -1, &raw, nullptr) != SQLITE_OK) {
    return fail(errorLocked("prepare"));
  }
  StmtPtr stmt(raw);
  for (size_t i = from; i < entries.size(); ++i) {
    sqlite3_reset(raw);
    sqlite3_bind_int64(raw, 1, id);
    sqlite3_bind_int64(raw, 2, entries[i].timeMs);
    bindText(raw, 3, entries[i].text);
    if (sqlite3_step(raw) != SQLITE_DONE) return fail(errorLocked("insert timeline"));
  }
  return ok();
}

Result<void> IncidentStore::inTransactionLocked(const std::function<Result<void>()>& body) {
  sqlite3_exec(db_.get(), "BEGIN IMMEDIATE", nullptr, nullptr, nullptr);
  Result<void> done = body();
  if (done && sqlite3_exec(db_.get(), "COMMIT", nullptr, nullptr, nullptr) != SQLITE_OK) {
    done = fail(errorLocked("commit"));
  }
  if (!done) sqlite3_exec(db_.get(), "ROLLBACK", nullptr, nullptr, nullptr);
  return done;
}

Result<void> IncidentStore::writeIncidentLocked(const char* sql, const Incident& incident,
                                                std::optional<int64_t> whereId,
                                                const std::string& what) {
  sqlite3_stmt* raw = nullptr;
  if (sqlite3_prepare_v2(db_.get(), sql, -1, &raw, nullptr) != SQLITE_OK) {
    return fail(errorLocked("prepare"));
  }
  StmtPtr stmt(raw);
  bindIncident(raw, incident);
  if (whereId) sqlite3_bind_int64(raw, 14, *whereId);
  if (sqlite3_step(raw) != SQLITE_DONE) return fail(errorLocked(what));
  return ok();
}

Result<int64_t> IncidentStore::insert(const Incident& incident) {
  std::lock_guard lock(mutex_);
  int64_t id = 0;
  auto done = inTransactionLocked([&]() -> Result<void> {
    auto row = writeIncidentLocked(
        "INSERT INTO incidents(destination, state, start_ms, recovered_ms, end_ms, last_sample_ms, "
        "drain_ms, codes, items_delayed, items_dead, items_expired, max_backlog_events, "
        "max_backlog_age_ms) VALUES(?,?,?,?,?,?,?,?,?,?,?,?,?)",
        incident, std::nullopt, "insert incident");
    if (!row) return row;
    id = sqlite3_last_insert_rowid(db_.get());
    return writeTimelineLocked(id, incident.timeline, 0);
  });
  if (!done) return fail(done.error());
  return id;
}

Result<void> IncidentStore::update(const Incident& incident, size_t storedTimeline) {
  std::lock_guard lock(mutex_);
  return inTransactionLocked([&]() -> Result<void> {
    auto row = writeIncidentLocked(
        "UPDATE incidents SET destination = ?, state = ?, start_ms = ?, recovered_ms = ?, "
        "end_ms = ?, last_sample_ms = ?, drain_ms = ?, codes = ?, items_delayed = ?, "
        "items_dead = ?, items_expired = ?, max_backlog_events = ?, max_backlog_age_ms = ? "
        "WHERE id = ?",
        incident, incident.id, "update incident");
    if (!row) return row;
    return writeTimelineLocked(incident.id, incident.timeline, storedTimeline);
  });
}

Result<std::vector<Incident>> IncidentStore::selectLocked(const std::string& where,
                                                          const std::vector<std::string>& textArgs,
                                                          std::optional<int64_t> intArg,
                                                          size_t limit) {
  const std::string sql = std::string(kIncidentColumns) + " WHERE " + where +
                          " ORDER BY id DESC LIMIT " + std::to_string(limit);
  sqlite3_stmt* raw = nullptr;
  if (sqlite3_prepare_v2(db_.get(), sql.c_str(), -1, &raw, nullptr) != SQLITE_OK) {
    return fail(errorLocked("prepare"));
  }
  StmtPtr stmt(raw);
  int index = 1;
  for (const auto& text : textArgs) bindText(raw, index++, text);
  if (intArg) sqlite3_bind_int64(raw, index++, *intArg);
  std::vector<Incident> out;
  int rc;
  while ((rc = sqlite3_step(raw)) == SQLITE_ROW) {
    Incident incident;
    incident.id = sqlite3_column_int64(raw, 0);
    incident.destination = columnText(raw, 1);
    incident.state = stateFromName(columnText(raw, 2));
    incident.startMs = sqlite3_column_int64(raw, 3);
    incident.recoveredMs = sqlite3_column_int64(raw, 4);
    incident.endMs = sqlite3_column_int64(raw, 5);
    incident.lastSampleMs = sqlite3_column_int64(raw, 6);
    incident.drainMs = sqlite3_column_int64(raw, 7);
    incident.codes = decodeCodes(columnText(raw, 8));
    incident.itemsDelayed = static_cast<uint64_t>(sqlite3_column_int64(raw, 9));
    incident.itemsDead = static_cast<uint64_t>(sqlite3_column_int64(raw, 10));
    incident.itemsExpired = static_cast<uint64_t>(sqlite3_column_int64(raw, 11));
    incident.maxBacklogEvents = static_cast<uint64_t>(sqlite3_column_int64(raw, 12));
    incident.maxBacklogAgeMs = sqlite3_column_int64(raw, 13);
    out.push_back(std::move(incident));
  }
  if (rc != SQLITE_DONE) return fail(errorLocked("select incidents"));
  std::reverse(out.begin(), out.end());

  sqlite3_stmt* timelineRaw = nullptr;
  if (sqlite3_prepare_v2(db_.get(),
                         "SELECT time_ms, text FROM incident_timeline WHERE incident_id = ? "
                         "ORDER BY id",
                         -1, &timelineRaw, nullptr) != SQLITE_OK) {
    return fail(errorLocked("prepare"));
  }
  StmtPtr timeline(timelineRaw);
  for (Incident& incident : out) {
    sqlite3_reset(timelineRaw);
    sqlite3_bind_int64(timelineRaw, 1, incident.id);
    while ((rc = sqlite3_step(timelineRaw)) == SQLITE_ROW) {
      incident.timeline.push_back(
          TimelineEntry{sqlite3_column_int64(timelineRaw, 0), columnText(timelineRaw, 1)});
    }
    if (rc != SQLITE_DONE) return fail(errorLocked("select timeline"));
  }
  return out;
}

Result<std::vector<Incident>> IncidentStore::openIncidents() {
  std::lock_guard lock(mutex_);
  return selectLocked("state != 'closed'", {}, std::nullopt, 100'000);
}

Result<std::vector<Incident>> IncidentStore::list(const IncidentQuery& query) {
  std::lock_guard lock(mutex_);
  if (query.destination.empty()) {
    return selectLocked("(state != 'closed' OR end_ms >= ?)", {}, query.sinceMs, query.limit);
  }
  return selectLocked("destination = ? AND (state != 'closed' OR end_ms >= ?)", {query.destination},
                      query.sinceMs, query.limit);
}

Result<int64_t> IncidentStore::recordCanary(const CanaryResult& result) {
  std::lock_guard lock(mutex_);
  sqlite3_stmt* raw = nullptr;
  if (sqlite3_prepare_v2(db_.get(),
                         "INSERT INTO canary_results(destination, time_ms, ok, verdict, code, "
                         "message, latency_ms) VALUES(?,?,?,?,?,?,?)",
                         -1, &raw, nullptr) != SQLITE_OK) {
    return fail(errorLocked("prepare"));
  }
  StmtPtr stmt(raw);
  bindText(raw, 1, result.destination);
  sqlite3_bind_int64(raw, 2, result.timeMs);
  sqlite3_bind_int(raw, 3, result.ok ? 1 : 0);
  bindText(raw, 4, result.verdict);
  bindText(raw, 5, result.code);
  bindText(raw, 6, result.message);
  sqlite3_bind_int64(raw, 7, result.latencyMs);
  if (sqlite3_step(raw) != SQLITE_DONE) return fail(errorLocked("insert canary result"));
  return sqlite3_last_insert_rowid(db_.get());
}

Result<std::vector<CanaryResult>> IncidentStore::canaryResults(const std::string& destination,
                                                               size_t limit) {
  std::lock_guard lock(mutex_);
  const std::string sql =
      std::string(
          "SELECT id, destination, time_ms, ok, verdict, code, message, latency_ms FROM "
          "canary_results") +
      (destination.empty() ? "" : " WHERE destination = ?") + " ORDER BY id DESC LIMIT " +
      std::to_string(limit);
  sqlite3_stmt* raw = nullptr;
  if (sqlite3_prepare_v2(db_.get(), sql.c_str(), -1, &raw, nullptr) != SQLITE_OK) {
    return fail(errorLocked("prepare"));
  }
  StmtPtr stmt(raw);
  if (!destination.empty()) bindText(raw, 1, destination);
  std::vector<CanaryResult> out;
  int rc;
  while ((rc = sqlite3_step(raw)) == SQLITE_ROW) {
    CanaryResult r;
    r.id = sqlite3_column_int64(raw, 0);
    r.destination = columnText(raw, 1);
    r.timeMs = sqlite3_column_int64(raw, 2);
    r.ok = sqlite3_column_int(raw, 3) != 0;
    r.verdict = columnText(raw, 4);
    r.code = columnText(raw, 5);
    r.message = columnText(raw, 6);
    r.latencyMs = sqlite3_column_int64(raw, 7);
    out.push_back(std::move(r));
  }
  if (rc != SQLITE_DONE) return fail(errorLocked("select canary results"));
  return out;
}

}  // namespace sluice::ops::incidents
