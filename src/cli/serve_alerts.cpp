// Wires src/ops/alerts into `sluice serve`: once the log and delivery run, a sampler reads every
// destination's figures (DeliveryService::stats(), the backlog behind its cursor and the age of
// its oldest undelivered event) every alerts.sample_interval; the volume history and the active
// alerts (restored at start) live in <storage.path>/ops-history.db; webhooks go out through their
// own HTTP client. SIGHUP applies the new alerts settings.
#include <spdlog/spdlog.h>

#include <filesystem>
#include <memory>
#include <string>
#include <vector>

#include "cli/serve_app.h"
#include "cli/serve_ops.h"
#include "delivery/delivery_service.h"
#include "ops/alerts/alerts_service.h"

namespace sluice::cli {
namespace {

using ops::alerts::AlertsSettings;

AlertsSettings alertsSettings(const config::AlertsConfig& c) {
  AlertsSettings s;
  s.sampleIntervalMs = c.sampleIntervalMs;
  s.resolveAfterMs = c.resolveAfterMs;
  s.pausedEnabled = c.paused;
  s.backlogMaxAgeMs = c.backlogAgeMs;
  s.errorRateAbove = c.errorRate;
  s.errorRateWindowMs = c.errorRateWindowMs;
  s.errorRateMinRequests = static_cast<uint64_t>(c.errorRateMinRequests);
  ops::alerts::DropSettings& d = s.volumeDrop;
  d.enabled = c.volumeDrop.enabled;
  d.below = c.volumeDrop.below;
  d.forMs = c.volumeDrop.forMs;
  d.recoverAbove = c.volumeDrop.recoverAbove;
  d.recoverForMs = c.volumeDrop.recoverForMs;
  d.rateWindowMs = c.volumeDrop.rateWindowMs;
  d.movingAverageMs = c.volumeDrop.movingAverageMs;
  d.minBaselineEvents = static_cast<double>(c.volumeDrop.minEvents);
  d.historyDays = c.volumeDrop.historyDays;
  d.minHistoryDays = std::min(3, c.volumeDrop.historyDays);
  s.webhookOptions.attempts = c.webhookAttempts;
  s.webhookOptions.timeoutMs = c.webhookTimeoutMs;
  for (const config::WebhookConfig& w : c.webhooks) {
    ops::alerts::WebhookTarget target;
    target.url = w.url;
    target.format = w.format == "slack" ? ops::alerts::WebhookFormat::kSlack
                                        : ops::alerts::WebhookFormat::kJson;
    target.headers.assign(w.headers.begin(), w.headers.end());
    s.webhooks.push_back(std::move(target));
  }
  return s;
}

// The HTTP client is declared first so that it outlives the service (members are destroyed in
// reverse order).
struct AlertsParts {
  std::unique_ptr<delivery::BeastHttpClient> client;
  std::unique_ptr<ops::alerts::AlertsService> service;
};

std::string canaryKey(const std::string& destination) { return "canary/" + destination; }

// A canary alert is resolved by the canary's next success; a destination whose canary is off
// (or that is disabled) will not have one, so its alert (restored from before a restart) ends here.
void resolveCanariesTurnedOff(ops::alerts::AlertsView& alerts, const config::Config& config) {
  for (const config::DestinationConfig& d : config.destinations) {
    if (!d.enabled || !d.canaryEnabled) {
      alerts.resolveExternal(canaryKey(d.name), "the canary is turned off");
    }
  }
}

CanaryCallback canaryAlerts(std::shared_ptr<ops::alerts::AlertsView> alerts) {
  return [alerts](const std::string& destination, bool ok, const std::string& message) {
    const std::string key = canaryKey(destination);
    if (ok) {
      alerts->resolveExternal(key, "the canary passed");
    } else {
      alerts->raiseExternal(
          key, ops::alerts::AlertSpec{"canary", destination, "", ops::alerts::Severity::kCritical,
                                      "canary event to " + destination + " failed: " + message});
    }
  };
}

}  // namespace

AlertsWiring addAlerts(ServeApp& app) {
  auto parts = std::make_shared<AlertsParts>();
  parts->client = delivery::makeBeastHttpClient();
  parts->service = std::make_unique<ops::alerts::AlertsService>(
      app.clock(), alertsSettings(app.config().alerts), parts->client.get());
  const std::string historyPath =
      (std::filesystem::path(app.config().storage.path) / "ops-history.db").string();
  ServeApp::Component component;
  component.name = "alerts";
  component.start = [parts, &app, historyPath]() -> Result<void> {
    auto history = ops::alerts::VolumeHistory::open(historyPath, app.clock().nowMs());
    if (!history) return fail(history.error());
    auto state = ops::alerts::AlertState::open(historyPath);
    if (!state) return fail(state.error());
    if (auto restored = parts->service->restore(std::move(*state)); !restored) return restored;
    resolveCanariesTurnedOff(*parts->service, app.config());
    store::EventLog* log = &app.log();
    delivery::DeliveryService* delivery = &app.delivery();
    parts->service->start(
        std::move(*history),
        [log, delivery] {
          std::vector<ops::alerts::DestinationSample> samples;
          const auto last = log->lastSeq();
          for (auto& [name, stats] : delivery->stats()) {
            ops::alerts::DestinationSample sample;
            sample.name = name;
            if (last && *last > stats.committedSeq) {
              sample.backlog = *last - stats.committedSeq;
              auto next = log->readAfter(stats.committedSeq, 1);
              if (next && !next->empty()) sample.oldestUndeliveredMs = next->front().receivedAtMs;
            }
            sample.stats = std::move(stats);
            samples.push_back(std::move(sample));
          }
          return samples;
        },
        [log] {
          // A failure counts until a write succeeds, also while the next append may try the disk.
          const store::WriteHealth health = log->writeHealth();
          if (!health.writable) return ops::alerts::StorageSample{false, health.reason};
          return ops::alerts::StorageSample{health.failure.empty(), health.failure};
        });
    spdlog::info("alerts: {} webhook(s), volume history in {}", app.config().alerts.webhooks.size(),
                 historyPath);
    return ok();
  };
  component.reload = [parts](const config::Config& config) {
    parts->service->reload(alertsSettings(config.alerts));
    resolveCanariesTurnedOff(*parts->service, config);
  };
  component.stop = [parts] { parts->service->stop(); };
  app.addComponent(std::move(component));
  // The view shares the parts' lifetime.
  std::shared_ptr<ops::alerts::AlertsView> view(parts, parts->service.get());
  AlertsWiring wiring;
  wiring.json = [view] { return view->alertsJson(); };
  wiring.onCanary = canaryAlerts(view);
  wiring.view = view;
  return wiring;
}

}  // namespace sluice::cli
