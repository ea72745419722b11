#include "ops/alerts/alert_centre.h"

#include <spdlog/spdlog.h>

#include <algorithm>
#include <boost/json.hpp>

#include "ops/alerts/alert_state.h"

namespace sluice::ops::alerts {
namespace {

// "kind destination[/event]" for the logs; the kind alone for an alert of no destination.
std::string subject(const AlertSpec& spec) {
  if (spec.destination.empty()) return spec.kind;
  return spec.kind + " " +
         (spec.event.empty() ? spec.destination : spec.destination + "/" + spec.event);
}

}  // namespace

boost::json::object alertToJson(const Alert& a) {
  boost::json::object o;
  o["id"] = a.id;
  o["kind"] = a.spec.kind;
  o["destination"] = a.spec.destination;
  o["event"] = a.spec.event;
  o["severity"] = severityName(a.spec.severity);
  o["message"] = a.spec.message;
  o["started_ms"] = a.startedMs;
  if (a.active()) {
    o["resolved_ms"] = nullptr;
  } else {
    o["resolved_ms"] = a.resolvedMs;
    o["resolved_message"] = a.resolvedMessage;
  }
  return o;
}

const char* severityName(Severity severity) {
  return severity == Severity::kCritical ? "critical" : "warning";
}

std::string alertKey(const AlertSpec& spec) {
  return spec.kind + "/" + spec.destination + "/" + spec.event;
}

AlertCentre::AlertCentre(const Clock& clock, size_t recentLimit)
    : clock_(clock), recentLimit_(std::max<size_t>(1, recentLimit)) {}

bool AlertCentre::raiseLocked(const std::string& key, const AlertSpec& spec, Alert* started) {
  if (auto it = active_.find(key); it != active_.end()) {
    it->second.spec.message = spec.message;
    it->second.spec.severity = spec.severity;
    return false;
  }
  Alert alert;
  alert.id = nextId_++;
  alert.spec = spec;
  alert.startedMs = clock_.nowMs();
  active_.emplace(key, alert);
  if (state_ != nullptr) {
    if (auto r = state_->save(key, alert); !r) {
      spdlog::warn("alerts: cannot record the active alert {}: {}", alert.id, r.error().message);
    }
  }
  *started = alert;
  return true;
}

bool AlertCentre::resolveLocked(const std::string& key, const std::string& message,
                                Alert* resolved) {
  auto it = active_.find(key);
  if (it == active_.end()) return false;
  Alert alert = std::move(it->second);
  active_.erase(it);
  if (state_ != nullptr) {
    if (auto r = state_->remove(key); !r) {
      spdlog::warn("alerts: cannot record the resolution of alert {}: {}", alert.id,
                   r.error().message);
    }
  }
  alert.resolvedMs = std::max<EpochMs>(clock_.nowMs(), alert.startedMs + 1);
  alert.resolvedMessage = message;
  recent_.push_front(alert);
  while (recent_.size() > recentLimit_) recent_.pop_back();
  *resolved = std::move(alert);
  return true;
}

void AlertCentre::announce(const Alert& alert) {
  if (alert.active()) {
    spdlog::warn("alert started: {} [{}] {} (id {})", subject(alert.spec),
                 severityName(alert.spec.severity), alert.spec.message, alert.id);
  } else {
    spdlog::info("alert resolved: {} after {}s{}{} (id {})", subject(alert.spec),
                 (alert.resolvedMs - alert.startedMs) / 1000,
                 alert.resolvedMessage.empty() ? "" : ": ", alert.resolvedMessage, alert.id);
  }
  if (notifier_ != nullptr) notifier_->notify(alert);
}

void AlertCentre::restore(const std::vector<std::pair<std::string, Alert>>& active) {
  std::lock_guard lock(mutex_);
  for (const auto& [key, alert] : active) {
    if (!alert.active()) continue;
    active_[key] = alert;
    nextId_ = std::max(nextId_, alert.id + 1);
    spdlog::info("alert still active from before the restart: {} (id {})", subject(alert.spec),
                 alert.id);
  }
}

bool AlertCentre::raise(const AlertSpec& spec) { return raiseExternal(alertKey(spec), spec); }

bool AlertCentre::resolve(const std::string& key, const std::string& message) {
  return resolveExternal(key, message);
}

bool AlertCentre::raiseExternal(const std::string& key, const AlertSpec& spec) {
  std::lock_guard lock(mutex_);
  Alert started;
  const bool did = raiseLocked(key, spec, &started);
  if (did) announce(started);
  return did;
}

bool AlertCentre::resolveExternal(const std::string& key, const std::string& message) {
  std::lock_guard lock(mutex_);
  Alert resolved;
  const bool did = resolveLocked(key, message, &resolved);
  if (did) announce(resolved);
  return did;
}

void AlertCentre::observe(const AlertSpec& spec, bool holds, int64_t raiseAfterMs,
                          int64_t resolveAfterMs) {
  const std::string key = alertKey(spec);
  const EpochMs now = clock_.nowMs();
  Alert changed;
  bool did = false;
  std::lock_guard lock(mutex_);
  {
    Condition& c = conditions_[key];
    const bool isActive = active_.count(key) > 0;
    if (holds) {
      c.clearSince = -1;
      if (c.heldSince < 0) c.heldSince = now;
      if (!isActive && now - c.heldSince >= raiseAfterMs) {
        did = raiseLocked(key, spec, &changed);
      } else if (isActive) {
        active_[key].spec.message = spec.message;
      }
    } else {
      c.heldSince = -1;
      if (isActive) {
        if (c.clearSince < 0) c.clearSince = now;
        if (now - c.clearSince >= resolveAfterMs) {
          did = resolveLocked(key, spec.message, &changed);
          c.clearSince = -1;
        }
      } else {
        c.clearSince = -1;
      }
    }
  }
  if (did) announce(changed);
}

void AlertCentre::resolveDestination(const std::string& destination, const std::string& message) {
  std::vector<Alert> resolved;
  std::lock_guard lock(mutex_);
  {
    std::vector<std::string> keys;
    for (const auto& [key, alert] : active_) {
      if (alert.spec.destination == destination) keys.push_back(key);
    }
    for (const auto& key : keys) {
      Alert a;
      if (resolveLocked(key, message, &a)) resolved.push_back(std::move(a));
    }
    for (auto it = conditions_.begin(); it != conditions_.end();) {
      it = it->first.find("/" + destination + "/") != std::string::npos ? conditions_.erase(it)
                                                                        : std::next(it);
    }
  }
  for (const auto& a : resolved) announce(a);
}

std::vector<Alert> AlertCentre::active() const {
  std::lock_guard lock(mutex_);
  std::vector<Alert> out;
  for (const auto& [key, alert] : active_) out.push_back(alert);
  std::sort(out.begin(), out.end(), [](const Alert& a, const Alert& b) { return a.id < b.id; });
  return out;
}

std::vector<Alert> AlertCentre::recent() const {
  std::lock_guard lock(mutex_);
  return {recent_.begin(), recent_.end()};
}

std::string AlertCentre::json() const {
  boost::json::object out;
  boost::json::array active, recent;
  for (const Alert& a : this->active()) active.push_back(alertToJson(a));
  for (const Alert& a : this->recent()) recent.push_back(alertToJson(a));
  out["active"] = std::move(active);
  out["recent"] = std::move(recent);
  return boost::json::serialize(out);
}

}  // namespace sluice::ops::alerts
