// VolumeHistory: everything kept in memory (a day of minutes, 15 days of hours per series: small),
// mirrored to SQLite at every flush so that a restart reloads it.
#include "ops/alerts/volume_history.h"

#include <sqlite3.h>

#include <algorithm>
#include <boost/json.hpp>
#include <set>
#include <utility>

#include "store/sqlite_handles.h"

namespace sluice::ops::alerts {
namespace {

using DbPtr = store::SqliteDbPtr;
using StmtPtr = store::SqliteStmtPtr;
using store::bindText;
using store::columnText;

constexpr const char* kSchema = R"sql(
CREATE TABLE IF NOT EXISTS minutes (
  destination TEXT NOT NULL, event TEXT NOT NULL, minute_ms INTEGER NOT NULL,
  received INTEGER NOT NULL, delivered INTEGER NOT NULL,
  PRIMARY KEY(destination, event, minute_ms));
CREATE TABLE IF NOT EXISTS covered_minutes (
  destination TEXT NOT NULL, minute_ms INTEGER NOT NULL, PRIMARY KEY(destination, minute_ms));
CREATE TABLE IF NOT EXISTS hours (
  destination TEXT NOT NULL, event TEXT NOT NULL, hour_ms INTEGER NOT NULL,
  received INTEGER NOT NULL, delivered INTEGER NOT NULL,
  PRIMARY KEY(destination, event, hour_ms));
CREATE TABLE IF NOT EXISTS covered_hours (
  destination TEXT NOT NULL, hour_ms INTEGER NOT NULL, minutes INTEGER NOT NULL,
  PRIMARY KEY(destination, hour_ms));
)sql";

constexpr size_t kMaxPoints = 1'500;

EpochMs floorTo(EpochMs t, int64_t step) {
  const EpochMs r = t % step;
  return r < 0 ? t - r - step : t - r;
}

VolumeCounts& operator+=(VolumeCounts& a, const VolumeCounts& b) {
  a.received += b.received;
  a.delivered += b.delivered;
  return a;
}

}  // namespace

struct VolumeHistory::Impl {
  struct Series {
    std::map<EpochMs, VolumeCounts> minutes;
    std::map<EpochMs, VolumeCounts> hours;
  };
  struct Destination {
    std::set<EpochMs> coveredMinutes;
    std::map<EpochMs, int> coveredHours;  // hour -> covered minutes
    std::map<std::string, Series> events;
    bool hasPrevious = false;
    std::map<std::string, delivery::EventNameCounts> previous;
  };

  VolumeHistoryOptions options;
  DbPtr db;  // null: memory only
  mutable std::mutex mutex;
  std::map<std::string, Destination> destinations;  // GUARDED_BY(mutex)
  std::set<std::pair<std::string, EpochMs>> dirty;  // GUARDED_BY(mutex)

  // ---- memory (mutex held)
  void coverLocked(const std::string& destination, EpochMs minute) {
    Destination& d = destinations[destination];
    if (d.coveredMinutes.insert(minute).second) ++d.coveredHours[floorTo(minute, kHourMs)];
    dirty.emplace(destination, minute);
  }
  void addLocked(const std::string& destination, const std::string& event, EpochMs minute,
                 VolumeCounts counts) {
    coverLocked(destination, minute);
    if (counts.received == 0 && counts.delivered == 0) return;
    Series& s = destinations[destination].events[event];
    s.minutes[minute] += counts;
    s.hours[floorTo(minute, kHourMs)] += counts;
  }

  // ---- file (mutex held)
  Result<StmtPtr> prepare(const char* sql) {
    sqlite3_stmt* raw = nullptr;
    if (sqlite3_prepare_v2(db.get(), sql, -1, &raw, nullptr) != SQLITE_OK) {
      return fail(ErrorCode::kIo, std::string("volume history: ") + sqlite3_errmsg(db.get()));
    }
    return StmtPtr(raw);
  }
  Result<void> exec(const char* sql) {
    if (sqlite3_exec(db.get(), sql, nullptr, nullptr, nullptr) != SQLITE_OK) {
      return fail(ErrorCode::kIo, std::string("volume history: ") + sqlite3_errmsg(db.get()));
    }
    return ok();
  }

  Result<void> load(EpochMs nowMs) {
    auto minutes = prepare(
        "SELECT destination, event, minute_ms, received, delivered FROM minutes WHERE minute_ms >= "
        "?");
    auto covered =
        prepare("SELECT destination, minute_ms FROM covered_minutes WHERE minute_ms >= ?");
    auto hours = prepare(
        "SELECT destination, event, hour_ms, received, delivered FROM hours WHERE hour_ms >= ?");
    auto coveredHours =
        prepare("SELECT destination, hour_ms, minutes FROM covered_hours WHERE hour_ms >= ?");
    if (!minutes) return fail(minutes.error());
    if (!covered) return fail(covered.error());
    if (!hours) return fail(hours.error());
    if (!coveredHours) return fail(coveredHours.error());
    const EpochMs minuteFloor = nowMs - options.minuteRetentionMs;
    const EpochMs hourFloor = nowMs - options.hourRetentionMs;
    sqlite3_bind_int64(minutes->get(), 1, minuteFloor);
    while (sqlite3_step(minutes->get()) == SQLITE_ROW) {
      sqlite3_stmt* s = minutes->get();
      destinations[columnText(s, 0)].events[columnText(s, 1)].minutes[sqlite3_column_int64(s, 2)] =
          VolumeCounts{static_cast<uint64_t>(sqlite3_column_int64(s, 3)),
                       static_cast<uint64_t>(sqlite3_column_int64(s, 4))};
    }
    sqlite3_bind_int64(covered->get(), 1, minuteFloor);
    while (sqlite3_step(covered->get()) == SQLITE_ROW) {
      destinations[columnText(covered->get(), 0)].coveredMinutes.insert(
          sqlite3_column_int64(covered->get(), 1));
    }
    sqlite3_bind_int64(hours->get(), 1, hourFloor);
    while (sqlite3_step(hours->get()) == SQLITE_ROW) {
      sqlite3_stmt* s = hours->get();
      destinations[columnText(s, 0)].events[columnText(s, 1)].hours[sqlite3_column_int64(s, 2)] =
          VolumeCounts{static_cast<uint64_t>(sqlite3_column_int64(s, 3)),
                       static_cast<uint64_t>(sqlite3_column_int64(s, 4))};
    }
    sqlite3_bind_int64(coveredHours->get(), 1, hourFloor);
    while (sqlite3_step(coveredHours->get()) == SQLITE_ROW) {
      sqlite3_stmt* s = coveredHours->get();
      destinations[columnText(s, 0)].coveredHours[sqlite3_column_int64(s, 1)] =
          sqlite3_column_int(s, 2);
    }
    return ok();
  }

  Result<void> write(const std::vector<std::pair<std::string, EpochMs>>& closed, EpochMs nowMs) {
    if (auto r = exec("BEGIN IMMEDIATE"); !r) return r;
    auto rollback = [&](Error error) -> Result<void> {
      exec("ROLLBACK");
      return fail(std::move(error));
    };
    auto minute = prepare("INSERT OR REPLACE INTO minutes VALUES(?,?,?,?,?)");
    auto coveredMinute = prepare("INSERT OR REPLACE INTO covered_minutes VALUES(?,?)");
    auto hour = prepare("INSERT OR REPLACE INTO hours VALUES(?,?,?,?,?)");
    auto coveredHour = prepare("INSERT OR REPLACE INTO covered_hours VALUES(?,?,?)");
    if (!minute || !coveredMinute || !hour || !coveredHour) {
      return rollback(Error{ErrorCode::kIo, "volume history: prepare"});
    }
    auto step = [&](sqlite3_stmt* s) -> bool {
      const bool done = sqlite3_step(s) == SQLITE_DONE;
      sqlite3_reset(s);
      return done;
    };
    auto writeCounts = [&](sqlite3_stmt* s, const std::string& dest, const std::string& event,
                           EpochMs at, VolumeCounts c) {
      bindText(s, 1, dest);
      bindText(s, 2, event);
      sqlite3_bind_int64(s, 3, at);
      sqlite3_bind_int64(s, 4, static_cast<int64_t>(c.received));
      sqlite3_bind_int64(s, 5, static_cast<int64_t>(c.delivered));
      return step(s);
    };
    std::set<std::pair<std::string, EpochMs>> hoursDone;
    for (const auto& [dest, at] : closed) {
      const Destination& d = destinations[dest];
      const EpochMs hourMs = floorTo(at, kHourMs);
      bindText(coveredMinute->get(), 1, dest);
      sqlite3_bind_int64(coveredMinute->get(), 2, at);
      bool good = step(coveredMinute->get());
      for (const auto& [event, series] : d.events) {
        if (auto it = series.minutes.find(at); it != series.minutes.end()) {
          good = good && writeCounts(minute->get(), dest, event, at, it->second);
        }
      }
      if (hoursDone.emplace(dest, hourMs).second) {
        for (const auto& [event, series] : d.events) {
          if (auto it = series.hours.find(hourMs); it != series.hours.end()) {
            good = good && writeCounts(hour->get(), dest, event, hourMs, it->second);
          }
        }
        const auto covered = d.coveredHours.find(hourMs);
        bindText(coveredHour->get(), 1, dest);
        sqlite3_bind_int64(coveredHour->get(), 2, hourMs);
        sqlite3_bind_int(coveredHour->get(), 3,
                         covered == d.coveredHours.end() ? 0 : covered->second);
        good = good && step(coveredHour->get());
      }
      if (!good) {
        return rollback(
            Error{ErrorCode::kIo, std::string("volume history: ") + sqlite3_errmsg(db.get())});
      }
    }
    const EpochMs minuteFloor = nowMs - options.minuteRetentionMs;
    const EpochMs hourFloor = nowMs - options.hourRetentionMs;
    for (const auto& [sql, floor] :
         {std::pair{"DELETE FROM minutes WHERE minute_ms < ?", minuteFloor},
          std::pair{"DELETE FROM covered_minutes WHERE minute_ms < ?", minuteFloor},
          std::pair{"DELETE FROM hours WHERE hour_ms < ?", hourFloor},
          std::pair{"DELETE FROM covered_hours WHERE hour_ms < ?", hourFloor}}) {
      auto del = prepare(sql);
      if (!del) return rollback(del.error());
      sqlite3_bind_int64(del->get(), 1, floor);
      if (!step(del->get())) return rollback(Error{ErrorCode::kIo, "volume history: delete"});
    }
    return exec("COMMIT");
  }

  void pruneMemory(EpochMs nowMs) {
    const EpochMs minuteFloor = nowMs - options.minuteRetentionMs;
    const EpochMs hourFloor = nowMs - options.hourRetentionMs;
    for (auto& [name, d] : destinations) {
      d.coveredMinutes.erase(d.coveredMinutes.begin(), d.coveredMinutes.lower_bound(minuteFloor));
      d.coveredHours.erase(d.coveredHours.begin(), d.coveredHours.lower_bound(hourFloor));
      for (auto it = d.events.begin(); it != d.events.end();) {
        Series& s = it->second;
        s.minutes.erase(s.minutes.begin(), s.minutes.lower_bound(minuteFloor));
        s.hours.erase(s.hours.begin(), s.hours.lower_bound(hourFloor));
        it = s.minutes.empty() && s.hours.empty() ? d.events.erase(it) : std::next(it);
      }
    }
  }
};

VolumeHistory::VolumeHistory(std::unique_ptr<Impl> impl) : impl_(std::move(impl)) {}
VolumeHistory::~VolumeHistory() = default;

Result<std::unique_ptr<VolumeHistory>> VolumeHistory::open(const std::string& path, EpochMs nowMs,
                                                           VolumeHistoryOptions options) {
  auto impl = std::make_unique<Impl>();
  impl->options = options;
  if (!path.empty()) {
    sqlite3* raw = nullptr;
    const int rc =
        sqlite3_open_v2(path.c_str(), &raw,
                        SQLITE_OPEN_READWRITE | SQLITE_OPEN_CREATE | SQLITE_OPEN_NOMUTEX, nullptr);
    DbPtr db(raw);
    if (rc != SQLITE_OK) {
      return fail(ErrorCode::kIo, "cannot open the volume history " + path + ": " +
                                      (raw ? sqlite3_errmsg(raw) : "out of memory"));
    }
    impl->db = std::move(db);
    sqlite3_busy_timeout(impl->db.get(), 5'000);
    for (const char* sql : {"PRAGMA journal_mode=WAL", "PRAGMA synchronous=NORMAL", kSchema}) {
      if (auto r = impl->exec(sql); !r) {
        return fail(ErrorCode::kIo,
                    "cannot open the volume history " + path + ": " + r.error().message);
      }
    }
    if (auto r = impl->load(nowMs); !r) return fail(r.error());
  }
  return std::unique_ptr<VolumeHistory>(new VolumeHistory(std::move(impl)));
}

void VolumeHistory::observe(const std::string& destination,
                            const std::map<std::string, delivery::EventNameCounts>& counts,
                            EpochMs nowMs) {
  std::lock_guard lock(impl_->mutex);
  const EpochMs minute = floorTo(nowMs, kMinuteMs);
  Impl::Destination& d = impl_->destinations[destination];
  for (const auto& [event, now] : counts) {
    VolumeCounts delta{now.mapped, now.delivered};
    if (d.hasPrevious) {
      if (auto it = d.previous.find(event); it != d.previous.end()) {
        const delivery::EventNameCounts& before = it->second;
        // A counter that went down restarted from zero: all of its value is new.
        delta.received = now.mapped >= before.mapped ? now.mapped - before.mapped : now.mapped;
        delta.delivered =
            now.delivered >= before.delivered ? now.delivered - before.delivered : now.delivered;
      }
    }
    impl_->addLocked(destination, event, minute, delta);
  }
  impl_->coverLocked(destination, minute);
  d.previous = counts;
  d.hasPrevious = true;
}

void VolumeHistory::forget(const std::string& destination) {
  std::lock_guard lock(impl_->mutex);
  if (auto it = impl_->destinations.find(destination); it != impl_->destinations.end()) {
    it->second.hasPrevious = false;
    it->second.previous.clear();
  }
}

void VolumeHistory::add(const std::string& destination, const std::string& event, EpochMs minuteMs,
                        VolumeCounts counts) {
  std::lock_guard lock(impl_->mutex);
  impl_->addLocked(destination, event, floorTo(minuteMs, kMinuteMs), counts);
}

void VolumeHistory::cover(const std::string& destination, EpochMs minuteMs) {
  std::lock_guard lock(impl_->mutex);
  impl_->coverLocked(destination, floorTo(minuteMs, kMinuteMs));
}

Result<void> VolumeHistory::flush(EpochMs nowMs) {
  std::lock_guard lock(impl_->mutex);
  const EpochMs open = floorTo(nowMs, kMinuteMs);
  std::vector<std::pair<std::string, EpochMs>> closed;
  for (auto it = impl_->dirty.begin(); it != impl_->dirty.end();) {
    if (it->second < open) {
      closed.push_back(*it);
      it = impl_->dirty.erase(it);
    } else {
      ++it;
    }
  }
  Result<void> written = ok();
  if (impl_->db && !closed.empty()) {
    written = impl_->write(closed, nowMs);
    // Not written: they stay dirty and are written at the next flush.
    if (!written) impl_->dirty.insert(closed.begin(), closed.end());
  }
  impl_->pruneMemory(nowMs);
  return written;
}

std::vector<std::string> VolumeHistory::destinations() const {
  std::lock_guard lock(impl_->mutex);
  std::vector<std::string> names;
  for (const auto& [name, d] : impl_->destinations) names.push_back(name);
  return names;
}

std::vector<std::string> VolumeHistory::events(const std::string& destination) const {
  std::lock_guard lock(impl_->mutex);
  std::vector<std::string> names;
  if (auto it = impl_->destinations.find(destination); it != impl_->destinations.end()) {
    for (const auto& [name, series] : it->second.events) names.push_back(name);
  }
  return names;
}

VolumeCounts VolumeHistory::sum(const std::string& destination, const std::string& event,
                                EpochMs fromMs, EpochMs toMs, int* covered) const {
  std::lock_guard lock(impl_->mutex);
  VolumeCounts total;
  if (covered) *covered = 0;
  auto d = impl_->destinations.find(destination);
  if (d == impl_->destinations.end()) return total;
  if (covered) {
    const auto& c = d->second.coveredMinutes;
    *covered = static_cast<int>(std::distance(c.lower_bound(fromMs), c.lower_bound(toMs)));
  }
  auto e = d->second.events.find(event);
  if (e == d->second.events.end()) return total;
  const auto& minutes = e->second.minutes;
  for (auto it = minutes.lower_bound(fromMs); it != minutes.end() && it->first < toMs; ++it) {
    total += it->second;
  }
  return total;
}

std::optional<double> VolumeHistory::hourRate(const std::string& destination,
                                              const std::string& event, EpochMs hourMs,
                                              int minCoveredMinutes) const {
  std::lock_guard lock(impl_->mutex);
  auto d = impl_->destinations.find(destination);
  if (d == impl_->destinations.end()) return std::nullopt;
  auto c = d->second.coveredHours.find(hourMs);
  if (c == d->second.coveredHours.end() || c->second < std::max(1, minCoveredMinutes)) {
    return std::nullopt;
  }
  uint64_t received = 0;
  if (auto e = d->second.events.find(event); e != d->second.events.end()) {
    if (auto h = e->second.hours.find(hourMs); h != e->second.hours.end()) {
      received = h->second.received;
    }
  }
  return static_cast<double>(received) / c->second;
}

std::string VolumeHistory::seriesJson(const std::string& destination, EpochMs sinceMs,
                                      EpochMs untilMs, EpochMs nowMs) const {
  std::lock_guard lock(impl_->mutex);
  const bool hourly = sinceMs < nowMs - impl_->options.minuteRetentionMs + kHourMs;
  const int64_t step = hourly ? kHourMs : kMinuteMs;
  EpochMs until = floorTo(untilMs + step - 1, step);
  EpochMs since = floorTo(sinceMs, step);
  if (until < since) until = since;
  if (static_cast<size_t>((until - since) / step) > kMaxPoints) {
    since = until - static_cast<int64_t>(kMaxPoints) * step;
  }
  boost::json::object out;
  out["destination"] = destination;
  out["step_ms"] = step;
  boost::json::array times;
  for (EpochMs t = since; t < until; t += step) times.emplace_back(t);
  const size_t n = times.size();
  out["minute_ms"] = std::move(times);
  boost::json::object series;
  auto d = impl_->destinations.find(destination);
  if (d != impl_->destinations.end()) {
    const Impl::Destination& dest = d->second;
    std::vector<bool> covered(n);
    for (size_t i = 0; i < n; ++i) {
      const EpochMs t = since + static_cast<int64_t>(i) * step;
      covered[i] = hourly ? dest.coveredHours.count(t) > 0 : dest.coveredMinutes.count(t) > 0;
    }
    for (const auto& [event, s] : dest.events) {
      const auto& rows = hourly ? s.hours : s.minutes;
      auto it = rows.lower_bound(since);
      if (it == rows.end() || it->first >= until) continue;  // no volume in the range
      boost::json::array received, delivered;
      for (size_t i = 0; i < n; ++i) {
        const EpochMs t = since + static_cast<int64_t>(i) * step;
        auto row = rows.find(t);
        if (row != rows.end()) {
          received.emplace_back(row->second.received);
          delivered.emplace_back(row->second.delivered);
        } else if (covered[i]) {
          received.emplace_back(0);
          delivered.emplace_back(0);
        } else {
          received.emplace_back(nullptr);
          delivered.emplace_back(nullptr);
        }
      }
      boost::json::object one;
      one["received"] = std::move(received);
      one["delivered"] = std::move(delivered);
      series[event] = std::move(one);
    }
  }
  out["series"] = std::move(series);
  return boost::json::serialize(out);
}

}  // namespace sluice::ops::alerts
