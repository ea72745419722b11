// The alerts of `sluice serve` in one object: a sampler that reads every destination's delivery
// figures every few seconds, feeds the volume history, the drop detector and the delivery alerts
// (paused, backlog age, error rate), and the alert centre that logs and sends webhooks. The
// dashboard and the canary see it through AlertsView.
#pragma once

#include <condition_variable>
#include <cstdint>
#include <functional>
#include <map>
#include <memory>
#include <mutex>
#include <string>
#include <thread>
#include <vector>

#include "core/clock.h"
#include "core/result.h"
#include "delivery/dispatcher.h"
#include "ops/alerts/alert_centre.h"
#include "ops/alerts/alert_state.h"
#include "ops/alerts/drop_detector.h"
#include "ops/alerts/volume_history.h"
#include "ops/alerts/webhooks.h"

namespace sluice::ops::alerts {

// What the dashboard and the canary use. Thread-safe.
class AlertsView {
 public:
  virtual ~AlertsView() = default;
  // `{"active":[...],"recent":[...]}` (see AlertCentre::json()).
  virtual std::string alertsJson() const = 0;
  // Events per minute by TikTok event name, received against delivered, over [sinceMs, untilMs)
  // (see VolumeHistory::seriesJson()).
  virtual std::string seriesJson(const std::string& destination, EpochMs sinceMs,
                                 EpochMs untilMs) const = 0;
  // Alerts owned by another part (canary failures): `key` is the caller's own; starting an active
  // key only updates its message.
  virtual void raiseExternal(const std::string& key, const AlertSpec& spec) = 0;
  virtual void resolveExternal(const std::string& key, const std::string& message = "") = 0;
};

struct AlertsSettings {
  int64_t sampleIntervalMs = 5'000;
  // Delivery alerts resolve once their condition has been clear this long (no flapping).
  int64_t resolveAfterMs = 2 * 60'000;
  bool pausedEnabled = true;
  int64_t backlogMaxAgeMs = 15 * 60'000;  // 0: no backlog alert
  double errorRateAbove = 0.25;           // share of requests not delivered; 0: no alert
  int64_t errorRateWindowMs = 5 * 60'000;
  uint64_t errorRateMinRequests = 20;  // fewer requests in the window are not judged
  DropSettings volumeDrop;
  WebhookOptions webhookOptions;
  std::vector<WebhookTarget> webhooks;
};

// One destination's figures at a sample.
struct DestinationSample {
  std::string name;
  delivery::DispatcherStats stats;
  uint64_t backlog = 0;             // events in the log after the cursor
  EpochMs oldestUndeliveredMs = 0;  // receivedAt of the first of them; 0 when none
};
using SampleSource = std::function<std::vector<DestinationSample>()>;

// The event log at a sample (EventLog::writeHealth()): not writable, or a write failed and none
// has succeeded since. Meanwhile ingestion answers 503, except to the append let through now and
// then to try the disk again.
struct StorageSample {
  bool writable = true;
  std::string reason;  // why not, when not writable (names a path or an error, never a secret)
};
using StorageSource = std::function<StorageSample()>;

class AlertsService final : public AlertsView {
 public:
  // `clock` (and `client`, when there are webhooks) must outlive the service. `history` may be
  // null until start() (then queries answer empty).
  AlertsService(const Clock& clock, AlertsSettings settings, delivery::HttpClient* client);
  ~AlertsService() override;  // stop()s

  // Takes the history (opened by the caller) and starts sampling `source` (and `storage`, when
  // given) every settings.sampleIntervalMs (real time) on a thread.
  void start(std::unique_ptr<VolumeHistory> history, SampleSource source,
             StorageSource storage = nullptr);
  // Uses `history` without a thread: the caller drives sampleOnce() (tests).
  void attach(std::unique_ptr<VolumeHistory> history);
  // Takes the alerts that were active when the process stopped from `state` and keeps every
  // later start and resolution there. A restored delivery alert resolves once its condition has
  // been clear for resolveAfterMs, a volume drop once the series recovered, one of a destination
  // that is gone at the first sample; an external one (canary) when its owner resolves it. Fails
  // (nothing restored, no state kept) when the state cannot be read. Before start()/sampleOnce().
  Result<void> restore(std::unique_ptr<AlertState> state);
  // Stops the thread, flushes the history, lets queued webhooks go out (bounded). Idempotent.
  void stop();
  // New settings (SIGHUP); webhooks apply to messages sent from now on.
  void reload(AlertsSettings settings);

  // One sampling step at clock.nowMs(): history, delivery alerts, and at a new minute the flush
  // and the drop detector.
  void sampleOnce(const std::vector<DestinationSample>& samples);
  // One sampling step of the storage alert at clock.nowMs(): it starts at the first sample where
  // the log takes no writes and resolves once it has been writable, with no failure since, for
  // resolveAfterMs. It belongs to no destination (its `destination` is empty).
  void observeStorage(const StorageSample& sample);

  AlertCentre& centre() { return centre_; }
  VolumeHistory* history() { return history_.get(); }
  WebhookNotifier* webhooks() { return webhooks_.get(); }

  // AlertsView
  std::string alertsJson() const override { return centre_.json(); }
  std::string seriesJson(const std::string& destination, EpochMs sinceMs,
                         EpochMs untilMs) const override;
  void raiseExternal(const std::string& key, const AlertSpec& spec) override {
    centre_.raiseExternal(key, spec);
  }
  void resolveExternal(const std::string& key, const std::string& message) override {
    centre_.resolveExternal(key, message);
  }

 private:
  struct ErrorPoint {
    EpochMs atMs;
    uint64_t requests;
    uint64_t errors;
  };
  void deliveryAlerts(const DestinationSample& sample, EpochMs now, const AlertsSettings& s);
  void loop();

  const Clock& clock_;
  delivery::HttpClient* client_;
  std::unique_ptr<AlertState> state_;  // declared before centre_, which keeps a pointer to it
  AlertCentre centre_;
  std::unique_ptr<WebhookNotifier> webhooks_;
  std::unique_ptr<VolumeHistory> history_;
  mutable std::mutex settingsMutex_;
  AlertsSettings settings_;  // GUARDED_BY(settingsMutex_)
  // Sampler state (sampler thread only).
  DropDetector detector_;
  EpochMs lastMinute_ = 0;
  std::map<std::string, std::vector<ErrorPoint>> errorPoints_;
  std::vector<std::string> known_;  // destinations seen at the last sample
  SampleSource source_;
  StorageSource storage_;
  std::thread thread_;
  std::mutex mutex_;
  std::condition_variable wake_;
  bool stopping_ = false;  // GUARDED_BY(mutex_)
  bool stopped_ = false;
};

// Replies that count as errors in the error rate: everything but "0" and "20001" (delivered).
bool isErrorReply(const std::string& outcome);

}  // namespace sluice::ops::alerts
