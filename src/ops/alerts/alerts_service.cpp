#include "ops/alerts/alerts_service.h"

#include <spdlog/spdlog.h>

#include <algorithm>
#include <cstdio>

#include "core/thread_name.h"

namespace sluice::ops::alerts {
namespace {

std::string minutesText(int64_t ms) {
  if (ms % kMinuteMs == 0) return std::to_string(ms / kMinuteMs) + " min";
  return std::to_string(ms / 1000) + " s";
}

std::string percent(double share) {
  char buffer[32];
  std::snprintf(buffer, sizeof buffer, "%.0f%%", share * 100);
  return buffer;
}

}  // namespace

bool isErrorReply(const std::string& outcome) { return outcome != "0" && outcome != "20001"; }

AlertsService::AlertsService(const Clock& clock, AlertsSettings settings,
                             delivery::HttpClient* client)
    : clock_(clock),
      client_(client),
      centre_(clock),
      settings_(std::move(settings)),
      detector_(settings_.volumeDrop) {
  if (client_ != nullptr) {
    webhooks_ =
        std::make_unique<WebhookNotifier>(*client_, settings_.webhookOptions, settings_.webhooks);
    centre_.setNotifier(webhooks_.get());
  }
}

AlertsService::~AlertsService() { stop(); }

void AlertsService::attach(std::unique_ptr<VolumeHistory> history) {
  history_ = std::move(history);
}

Result<void> AlertsService::restore(std::unique_ptr<AlertState> state) {
  auto active = state->load();
  if (!active) return fail(active.error());
  for (const auto& [key, alert] : *active) {
    if (alert.spec.kind == "volume_drop") {
      detector_.restoreFiring(alert.spec.destination, alert.spec.event);
    }
    // The first sample resolves the alerts of destinations that are no longer running (the
    // storage alert belongs to none: it resolves by its own condition).
    if (!alert.spec.destination.empty() &&
        std::find(known_.begin(), known_.end(), alert.spec.destination) == known_.end()) {
      known_.push_back(alert.spec.destination);
    }
  }
  centre_.restore(*active);
  state_ = std::move(state);
  centre_.setState(state_.get());
  return ok();
}

void AlertsService::start(std::unique_ptr<VolumeHistory> history, SampleSource source,
                          StorageSource storage) {
  attach(std::move(history));
  source_ = std::move(source);
  storage_ = std::move(storage);
  thread_ = std::thread([this] { loop(); });
}

void AlertsService::loop() {
  nameThisThread("alerts");
  for (;;) {
    if (storage_) observeStorage(storage_());
    std::vector<DestinationSample> samples = source_();
    sampleOnce(samples);
    int64_t interval;
    {
      std::lock_guard lock(settingsMutex_);
      interval = settings_.sampleIntervalMs;
    }
    std::unique_lock lock(mutex_);
    if (wake_.wait_for(lock, std::chrono::milliseconds(interval), [&] { return stopping_; })) {
      return;
    }
  }
}

void AlertsService::stop() {
  {
    std::lock_guard lock(mutex_);
    if (stopped_) return;
    stopped_ = true;
    stopping_ = true;
  }
  wake_.notify_all();
  if (thread_.joinable()) thread_.join();
  if (history_) {
    // The open minute is written too: it is complete as far as this process is concerned.
    if (auto r = history_->flush(clock_.nowMs() + kMinuteMs); !r) {
      spdlog::warn("alerts: cannot save the volume history: {}", r.error().message);
    }
  }
  if (webhooks_) {
    webhooks_->drain(3'000);
    webhooks_->stop();
  }
}

void AlertsService::reload(AlertsSettings settings) {
  if (webhooks_) webhooks_->configure(settings.webhookOptions, settings.webhooks);
  std::lock_guard lock(settingsMutex_);
  settings_ = std::move(settings);
}

std::string AlertsService::seriesJson(const std::string& destination, EpochMs sinceMs,
                                      EpochMs untilMs) const {
  if (!history_) {
    return VolumeHistory::open("", clock_.nowMs())
        .value()
        ->seriesJson(destination, sinceMs, untilMs, clock_.nowMs());
  }
  return history_->seriesJson(destination, sinceMs, untilMs, clock_.nowMs());
}

void AlertsService::deliveryAlerts(const DestinationSample& sample, EpochMs now,
                                   const AlertsSettings& s) {
  const delivery::DispatcherStats& st = sample.stats;
  // Paused: TikTok refused the token, permission or account; events wait.
  {
    AlertSpec spec{
        "paused", sample.name, "", Severity::kCritical,
        "delivery to " + sample.name + " is paused (" +
            (st.pauseReason.empty() ? std::string("token or permission error") : st.pauseReason) +
            "); " + std::to_string(sample.backlog) +
            " events wait; fix the destination's settings and reload"};
    if (!st.paused) spec.message = "delivery to " + sample.name + " resumed";
    centre_.observe(spec, s.pausedEnabled && st.paused, 0, s.resolveAfterMs);
  }
  // Backlog age: the oldest undelivered event is older than the threshold.
  {
    const int64_t age = sample.oldestUndeliveredMs > 0 ? now - sample.oldestUndeliveredMs : 0;
    const bool old = s.backlogMaxAgeMs > 0 && sample.backlog > 0 && age > s.backlogMaxAgeMs;
    AlertSpec spec{"backlog_age", sample.name, "", Severity::kWarning,
                   std::to_string(sample.backlog) + " events wait for " + sample.name +
                       ", the oldest for " + minutesText(age / 1000 * 1000) + " (threshold " +
                       minutesText(s.backlogMaxAgeMs) + ")"};
    if (!old) spec.message = "the backlog of " + sample.name + " is younger than the threshold";
    centre_.observe(spec, old, 0, s.resolveAfterMs);
  }
  // Error rate over the window, from the cumulative reply counters.
  uint64_t requests = 0, errors = 0;
  for (const auto& [outcome, count] : st.replies) {
    requests += count;
    if (isErrorReply(outcome)) errors += count;
  }
  std::vector<ErrorPoint>& points = errorPoints_[sample.name];
  if (!points.empty() && (requests < points.back().requests || errors < points.back().errors)) {
    points.clear();  // the dispatcher restarted: its counters began again
  }
  // A paused destination has the paused alert: its pausing replies and probes are not an error
  // rate too. The window starts again when it resumes, so they do not count afterwards either.
  const bool coveredByPause = s.pausedEnabled && st.paused;
  if (coveredByPause) points.clear();
  points.push_back(ErrorPoint{now, requests, errors});
  // Keep one point at or before the window start as the reference.
  while (points.size() > 2 && points[1].atMs <= now - s.errorRateWindowMs) {
    points.erase(points.begin());
  }
  const ErrorPoint& first = points.front();
  const uint64_t windowRequests = requests - first.requests;
  const uint64_t windowErrors = errors - first.errors;
  const double rate = windowRequests > 0 ? static_cast<double>(windowErrors) / windowRequests : 0;
  const bool high = !coveredByPause && s.errorRateAbove > 0 &&
                    windowRequests >= s.errorRateMinRequests && rate > s.errorRateAbove;
  std::string codes;
  if (high) {
    // The most frequent error outcomes overall, for the message.
    std::vector<std::pair<uint64_t, std::string>> byCount;
    for (const auto& [outcome, count] : st.replies) {
      if (isErrorReply(outcome)) byCount.emplace_back(count, outcome);
    }
    std::sort(byCount.rbegin(), byCount.rend());
    for (size_t i = 0; i < byCount.size() && i < 3; ++i) {
      codes += (i ? ", " : "") + byCount[i].second;
    }
  }
  AlertSpec spec{"error_rate", sample.name, "", Severity::kWarning,
                 percent(rate) + " of the " + std::to_string(windowRequests) + " requests to " +
                     sample.name + " in the last " + minutesText(s.errorRateWindowMs) +
                     " failed (threshold " + percent(s.errorRateAbove) + ")" +
                     (codes.empty() ? "" : "; replies: " + codes)};
  centre_.observe(spec, high, 0, s.resolveAfterMs);
}

void AlertsService::observeStorage(const StorageSample& sample) {
  int64_t resolveAfterMs;
  {
    std::lock_guard lock(settingsMutex_);
    resolveAfterMs = settings_.resolveAfterMs;
  }
  AlertSpec spec{"storage", "", "", Severity::kCritical,
                 "the event log cannot write (" + sample.reason +
                     "); ingestion answers 503 (clients retry) until a write succeeds; delivery "
                     "goes on from what is stored"};
  if (sample.writable) spec.message = "the event log takes writes again";
  centre_.observe(spec, !sample.writable, 0, resolveAfterMs);
}

void AlertsService::sampleOnce(const std::vector<DestinationSample>& samples) {
  AlertsSettings s;
  {
    std::lock_guard lock(settingsMutex_);
    s = settings_;
  }
  detector_.setSettings(s.volumeDrop);
  const EpochMs now = clock_.nowMs();
  std::vector<std::string> names;
  for (const DestinationSample& sample : samples) {
    names.push_back(sample.name);
    if (history_) history_->observe(sample.name, sample.stats.byEventName, now);
    deliveryAlerts(sample, now, s);
  }
  // Destinations that are gone (removed or disabled by a reload): their alerts end.
  for (const std::string& name : known_) {
    if (std::find(names.begin(), names.end(), name) == names.end()) {
      centre_.resolveDestination(name, "the destination is no longer running");
      errorPoints_.erase(name);
      if (history_) history_->forget(name);
    }
  }
  known_ = std::move(names);
  // Once per minute: close the minute, judge the volume.
  const EpochMs minute = now - now % kMinuteMs;
  if (history_ && minute != lastMinute_) {
    lastMinute_ = minute;
    if (auto r = history_->flush(now); !r) {
      spdlog::warn("alerts: cannot save the volume history: {}", r.error().message);
    }
    for (const DropTransition& t : detector_.evaluate(*history_, now)) {
      AlertSpec spec{"volume_drop", t.destination, t.event, Severity::kCritical, t.message};
      if (t.started) {
        centre_.raise(spec);
      } else {
        centre_.resolve(alertKey(spec), t.message);
      }
    }
  }
}

}  // namespace sluice::ops::alerts
