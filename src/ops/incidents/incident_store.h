// The incident log's storage: `<storage.path>/incidents.db`, its own SQLite file (WAL,
// synchronous=NORMAL: a lost last sample costs nothing, the next one rewrites it), so that
// incidents survive restarts and `sluice incidents` can read them while the server runs.
#pragma once

#include <cstdint>
#include <functional>
#include <memory>
#include <mutex>
#include <optional>
#include <string>
#include <vector>

#include "core/result.h"
#include "ops/incidents/incident.h"

struct sqlite3;

namespace sluice::ops::incidents {

// Which incidents to list: of one destination (empty: all), ending at or after `sinceMs` or still
// open, at most `limit` (the newest ones), returned oldest first.
struct IncidentQuery {
  std::string destination;
  EpochMs sinceMs = INT64_MIN;
  size_t limit = 1000;
};

// Thread-safe (one connection behind a mutex).
class IncidentStore {
 public:
  // The file name under the storage directory.
  static constexpr const char* kFileName = "incidents.db";

  // Opens (creating the directory, file and tables when `create`) `<directory>/incidents.db`.
  // kNotFound when !create and there is no such file; kIo on any other failure.
  static Result<std::unique_ptr<IncidentStore>> open(const std::string& directory,
                                                     bool create = true);
  ~IncidentStore();
  IncidentStore(const IncidentStore&) = delete;
  IncidentStore& operator=(const IncidentStore&) = delete;

  // Inserts `incident` (its timeline too) and returns its new id.
  Result<int64_t> insert(const Incident& incident);
  // Rewrites the incident `incident.id` (figures and state) and appends the timeline entries past
  // the `storedTimeline` first ones.
  Result<void> update(const Incident& incident, size_t storedTimeline);
  // The incidents still open (degraded or draining), oldest first, with their timelines.
  Result<std::vector<Incident>> openIncidents();
  Result<std::vector<Incident>> list(const IncidentQuery& query);

  Result<int64_t> recordCanary(const CanaryResult& result);
  // The last `limit` canary results of `destination` (empty: every destination), newest first.
  Result<std::vector<CanaryResult>> canaryResults(const std::string& destination, size_t limit);

 private:
  struct DbCloser {
    void operator()(sqlite3* db) const;
  };
  explicit IncidentStore(sqlite3* db) : db_(db) {}
  Result<std::vector<Incident>> selectLocked(const std::string& where,
                                             const std::vector<std::string>& textArgs,
                                             std::optional<int64_t> intArg, size_t limit);
  Result<void> writeTimelineLocked(int64_t id, const std::vector<TimelineEntry>& entries,
                                   size_t from);
  Error errorLocked(const std::string& what);
  // Runs `body` in one IMMEDIATE transaction: committed when it succeeds, rolled back otherwise.
  Result<void> inTransactionLocked(const std::function<Result<void>()>& body);
  // Runs `sql` (an INSERT or UPDATE of every incident column, bound by bindIncident(), then the
  // row id as parameter 14 when `whereId` is given) once.
  Result<void> writeIncidentLocked(const char* sql, const Incident& incident,
                                   std::optional<int64_t> whereId, const std::string& what);

  std::mutex mutex_;
  std::unique_ptr<sqlite3, DbCloser> db_;  // GUARDED_BY(mutex_)
};

}  // namespace sluice::ops::incidents
