// Wires src/ops/incidents into `sluice serve`: the incident monitor (samples delivery every
// incidents.sample_interval into <storage.path>/incidents.db) and the canary runner (its own HTTPS
// clients, with the destinations' connect timeouts), started after the log and delivery and
// stopped before them.
#include <spdlog/spdlog.h>

#include <chrono>
#include <memory>
#include <mutex>
#include <string>
#include <utility>

#include "cli/serve_app.h"
#include "cli/serve_ops.h"
#include "delivery/delivery_service.h"
#include "delivery/http_client.h"
#include "ops/incidents/canary.h"
#include "ops/incidents/incident_store.h"
#include "ops/incidents/monitor.h"
#include "ops/incidents/report.h"

namespace sluice::cli {
namespace {

// What the component, the JSON function and the canary listener share (kept alive by all three).
struct IncidentsPart {
  std::mutex mutex;
  const Clock* clock = nullptr;
  std::unique_ptr<ops::incidents::IncidentStore> store;  // set by start(), kept until destroyed
  std::unique_ptr<ops::incidents::IncidentMonitor> monitor;
  std::unique_ptr<ops::incidents::CanaryRunner> canary;
};

}  // namespace

std::function<std::string()> addIncidents(ServeApp& app, CanaryCallback onCanary) {
  auto part = std::make_shared<IncidentsPart>();
  part->clock = &app.clock();
  ServeApp::Component component;
  component.name = "incidents";
  component.start = [part, &app, onCanary]() -> Result<void> {
    const config::Config& config = app.config();
    auto store = ops::incidents::IncidentStore::open(config.storage.path);
    if (!store) return fail(store.error());
    std::lock_guard lock(part->mutex);
    part->store = std::move(*store);
    delivery::DeliveryService* service = &app.delivery();
    part->monitor = std::make_unique<ops::incidents::IncidentMonitor>(
        *part->store, app.log(), [service] { return service->stats(); }, app.clock(),
        config.incidents);
    if (auto r = part->monitor->start(); !r) return r;
    // The canary's clients connect with the destination's own connect_timeout, as its dispatcher.
    auto makeClient = [](std::chrono::milliseconds connectTimeout) {
      delivery::HttpClientOptions options;
      options.userAgent = "sluice-canary";
      options.connectTimeout = connectTimeout;
      return std::unique_ptr<delivery::HttpClient>(delivery::makeBeastHttpClient(options));
    };
    part->canary =
        std::make_unique<ops::incidents::CanaryRunner>(makeClient, *part->store, app.clock());
    if (onCanary) {
      part->canary->setListener([onCanary](const ops::incidents::CanaryResult& result) {
        onCanary(result.destination, result.ok,
                 result.ok ? "canary ok" : "canary failed: " + result.code + " " + result.message);
      });
    }
    part->canary->configure(config.destinations);
    part->canary->start();
    return ok();
  };
  component.reload = [part](const config::Config& config) {
    std::lock_guard lock(part->mutex);
    if (part->monitor) part->monitor->reconfigure(config.incidents);
    if (part->canary) part->canary->configure(config.destinations);
  };
  component.stop = [part] {
    std::lock_guard lock(part->mutex);
    if (part->canary) part->canary->stop();
    if (part->monitor) part->monitor->stop();
    part->canary.reset();
    part->monitor.reset();
  };
  app.addComponent(std::move(component));
  return [part]() -> std::string {
    std::lock_guard lock(part->mutex);
    if (!part->store) return R"({"incidents":[],"canary":[]})";
    ops::incidents::IncidentQuery query;
    query.limit = 100;
    auto json = ops::incidents::incidentsJson(*part->store, query, part->clock->nowMs());
    if (!json) {
      spdlog::error("incident log: {}", json.error().message);
      return R"({"incidents":[],"canary":[],"error":"the incident log cannot be read"})";
    }
    return *json;
  };
}

}  // namespace sluice::cli
