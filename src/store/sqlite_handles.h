// Owning handles for SQLite's C objects, shared by every SQLite file of the project (the event
// log, the delivery state, the alerts' volume history, the incident log).
#pragma once

#include <sqlite3.h>

#include <memory>

namespace sluice::store {

struct SqliteDbCloser {
  void operator()(sqlite3* db) const { sqlite3_close_v2(db); }
};
struct SqliteStmtFinalizer {
  void operator()(sqlite3_stmt* stmt) const { sqlite3_finalize(stmt); }
};
using SqliteDbPtr = std::unique_ptr<sqlite3, SqliteDbCloser>;
using SqliteStmtPtr = std::unique_ptr<sqlite3_stmt, SqliteStmtFinalizer>;

}  // namespace sluice::store
