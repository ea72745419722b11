// The active alerts, kept on disk so that a restart neither forgets an alert that was firing (and
// never sends its "resolved" message) nor sends a second "started" message for it. A table
// `active_alerts` in <storage.path>/ops-history.db (the volume history's file, its own
// connection): a row is written when an alert starts and deleted when it resolves.
#pragma once

#include <memory>
#include <mutex>
#include <string>
#include <utility>
#include <vector>

#include "core/result.h"
#include "ops/alerts/alert_centre.h"
#include "store/sqlite_handles.h"

namespace sluice::ops::alerts {

class AlertState {
 public:
  // Opens (creating) the table in the SQLite file at `path` (WAL). Fails with kIo.
  static Result<std::unique_ptr<AlertState>> open(const std::string& path);

  // The active alerts with their keys, oldest first.
  Result<std::vector<std::pair<std::string, Alert>>> load();
  // Records `alert` (active) under `key`, replacing a row with that key.
  Result<void> save(const std::string& key, const Alert& alert);
  // Deletes the row of `key` (none: ok).
  Result<void> remove(const std::string& key);

 private:
  explicit AlertState(store::SqliteDbPtr db) : db_(std::move(db)) {}
  Result<void> exec(const std::string& what, const char* sql);
  store::SqliteDbPtr db_;
  std::mutex mutex_;  // one statement at a time on the connection
};

}  // namespace sluice::ops::alerts
