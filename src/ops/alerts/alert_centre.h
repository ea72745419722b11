// The alert centre: every alert of the process (volume drops, delivery alerts, canary failures) by
// key, with one notification when an alert starts and one when it resolves. Conditions sampled
// repeatedly go through observe(), which adds hysteresis (an alert starts only once its condition
// held for a while, resolves only once it has been clear for a while), so a flapping condition
// gives one alert, not a stream of messages. Every transition is logged (spdlog); messages never
// hold secrets (callers build them from names, counts and TikTok codes only). Thread-safe.
#pragma once

#include <boost/json/object.hpp>
#include <cstdint>
#include <deque>
#include <map>
#include <mutex>
#include <string>
#include <utility>
#include <vector>

#include "core/clock.h"

namespace sluice::ops::alerts {

class AlertState;

enum class Severity { kWarning, kCritical };
const char* severityName(Severity severity);  // "warning", "critical"

// What an alert is about. kind: "volume_drop", "paused", "backlog_age", "error_rate", "canary",
// "storage"... `event` is empty for destination-wide alerts, `destination` too for an alert of the
// whole process (storage).
struct AlertSpec {
  std::string kind;
  std::string destination;
  std::string event;
  Severity severity = Severity::kWarning;
  std::string message;
};

struct Alert {
  uint64_t id = 0;  // increasing within the process; a restored alert keeps its own
  AlertSpec spec;
  EpochMs startedMs = 0;
  EpochMs resolvedMs = 0;  // 0 while active
  std::string resolvedMessage;
  bool active() const { return resolvedMs == 0; }
};

// Told about every start (alert.active()) and resolution, in order: called under the centre's
// lock, on the thread that caused the transition, so it must not block (queue the work) nor call
// back into the centre.
class AlertNotifier {
 public:
  virtual ~AlertNotifier() = default;
  virtual void notify(const Alert& alert) = 0;
};

// One alert as JSON: id, kind, destination, event, severity, message, started_ms, resolved_ms
// (null while active) and resolved_message. The dashboard's lists and the JSON webhook share it.
boost::json::object alertToJson(const Alert& alert);

// The key of a spec: "kind/destination/event".
std::string alertKey(const AlertSpec& spec);

class AlertCentre {
 public:
  // `clock` must outlive the centre. Keeps the last `recentLimit` resolved alerts.
  explicit AlertCentre(const Clock& clock, size_t recentLimit = 100);

  // Notified of every transition (may be null); must outlive the centre. Set before use.
  void setNotifier(AlertNotifier* notifier) { notifier_ = notifier; }
  // Where active alerts are kept across restarts (may be null): a row written at every start,
  // deleted at every resolution, under the centre's lock (a failure is logged, the alert goes on).
  // Must outlive the centre. Set before use.
  void setState(AlertState* state) { state_ = state; }
  // Takes back the alerts that were active when the process stopped (AlertState::load()), as
  // active, without a notification: a condition that still holds updates them, one that is clear
  // resolves them (one "resolved" message). New ids continue after theirs. Before use.
  void restore(const std::vector<std::pair<std::string, Alert>>& active);

  // Starts the alert now unless the same key is active (then only its message is updated).
  // Returns true when it started.
  bool raise(const AlertSpec& spec);
  // Resolves the active alert with this key now; `message` says why (may be empty). Returns true
  // when one was active.
  bool resolve(const std::string& key, const std::string& message = "");

  // A condition sampled repeatedly: the alert starts once `holds` has been true at every
  // observation for at least `raiseAfterMs` (0: at once), and resolves once it has been false at
  // every observation for at least `resolveAfterMs`.
  void observe(const AlertSpec& spec, bool holds, int64_t raiseAfterMs, int64_t resolveAfterMs);

  // Alerts raised and resolved by another part (the canary): the key is the caller's own.
  bool raiseExternal(const std::string& key, const AlertSpec& spec);
  bool resolveExternal(const std::string& key, const std::string& message = "");

  // Resolves every active alert of `destination` and forgets its conditions (it was removed).
  void resolveDestination(const std::string& destination, const std::string& message);

  std::vector<Alert> active() const;  // oldest first
  std::vector<Alert> recent() const;  // resolved, newest first
  // `{"active":[...],"recent":[...]}`, each alert as {id, kind, destination, event, severity,
  // message, started_ms, resolved_ms (null while active)}.
  std::string json() const;

 private:
  struct Condition {
    EpochMs heldSince = -1;   // -1: not holding
    EpochMs clearSince = -1;  // -1: not clear
  };
  bool raiseLocked(const std::string& key, const AlertSpec& spec, Alert* started);
  bool resolveLocked(const std::string& key, const std::string& message, Alert* resolved);
  void announce(const Alert& alert);  // mutex_ held

  const Clock& clock_;
  const size_t recentLimit_;
  AlertNotifier* notifier_ = nullptr;
  AlertState* state_ = nullptr;
  mutable std::mutex mutex_;
  uint64_t nextId_ = 1;                          // GUARDED_BY(mutex_)
  std::map<std::string, Alert> active_;          // GUARDED_BY(mutex_)
  std::deque<Alert> recent_;                     // GUARDED_BY(mutex_), newest first
  std::map<std::string, Condition> conditions_;  // GUARDED_BY(mutex_)
};

}  // namespace sluice::ops::alerts
