#include "ops/metrics/metrics.h"

#include <prometheus/text_serializer.h>

#include <algorithm>
#include <limits>
#include <sstream>

#include "http/admin_auth.h"
#include "http/server.h"

namespace sluice::ops::metrics {

namespace {

using prometheus::ClientMetric;
using prometheus::MetricFamily;
using prometheus::MetricType;

const char* breakerLabel(delivery::BreakerState state) {
  switch (state) {
    case delivery::BreakerState::kClosed:
      return "closed";
    case delivery::BreakerState::kOpen:
      return "open";
    case delivery::BreakerState::kHalfOpen:
      return "half_open";
    case delivery::BreakerState::kPaused:
      return "paused";
  }
  return "closed";
}

constexpr delivery::BreakerState kBreakerStates[] = {
    delivery::BreakerState::kClosed, delivery::BreakerState::kOpen,
    delivery::BreakerState::kHalfOpen, delivery::BreakerState::kPaused};

ClientMetric sample(std::vector<ClientMetric::Label> labels, MetricType type, double value) {
  ClientMetric metric;
  metric.label = std::move(labels);
  if (type == MetricType::Counter) {
    metric.counter.value = value;
  } else {
    metric.gauge.value = value;
  }
  return metric;
}

// Families under construction, kept in a fixed order of first use.
class FamilyBuilder {
 public:
  MetricFamily& family(const std::string& name, const std::string& help, MetricType type) {
    for (auto& f : families_) {
      if (f.name == name) return f;
    }
    families_.push_back(MetricFamily{name, help, type, {}});
    return families_.back();
  }
  void add(const std::string& name, const std::string& help, MetricType type,
           std::vector<ClientMetric::Label> labels, double value) {
    std::sort(labels.begin(), labels.end());  // by name, as the registry's own families are
    family(name, help, type).metric.push_back(sample(std::move(labels), type, value));
  }
  std::vector<MetricFamily> take() { return std::move(families_); }

 private:
  std::vector<MetricFamily> families_;
};

}  // namespace

const prometheus::Histogram::BucketBoundaries& ingestLatencyBuckets() {
  // Fine below 10 ms, where acknowledgements are (a flush of the log is about a millisecond), so
  // that a p99 can be read to the millisecond; coarse above.
  static const prometheus::Histogram::BucketBoundaries kBuckets = {
      0.00025, 0.0005, 0.00075, 0.001, 0.0015, 0.002, 0.003, 0.004, 0.005, 0.0075,
      0.01,    0.025,  0.05,    0.1,   0.25,   0.5,   1,     2.5,   5};
  return kBuckets;
}

Metrics::Metrics()
    : registry_(std::make_shared<prometheus::Registry>()),
      requests_(prometheus::BuildCounter()
                    .Name("sluice_ingest_requests_total")
                    .Help("Ingestion API requests answered, by route and HTTP status.")
                    .Register(*registry_)),
      requestDuration_(prometheus::BuildHistogram()
                           .Name("sluice_ingest_request_duration_seconds")
                           .Help("Time from a request's arrival to its reply (after the fsync).")
                           .Register(*registry_)),
      received_(prometheus::BuildCounter()
                    .Name("sluice_events_received_total")
                    .Help("Events received from an authenticated source (stored, duplicate or "
                          "rejected).")
                    .Register(*registry_)),
      stored_(prometheus::BuildCounter()
                  .Name("sluice_events_stored_total")
                  .Help("Events written to the event log (fsync'd).")
                  .Register(*registry_)),
      duplicates_(prometheus::BuildCounter()
                      .Name("sluice_events_duplicate_total")
                      .Help("Events acknowledged but already stored (same source and messageId).")
                      .Register(*registry_)),
      rejected_(prometheus::BuildCounter()
                    .Name("sluice_events_rejected_total")
                    .Help("Events not stored, by reason (quarantined, or refused while the store "
                          "could not take writes).")
                    .Register(*registry_)) {}

Metrics::~Metrics() = default;

void Metrics::addSources(const std::vector<std::string>& sources) {
  for (const auto& source : sources) {
    received_.Add({{"source", source}});
    stored_.Add({{"source", source}});
    duplicates_.Add({{"source", source}});
  }
}

void Metrics::setSnapshotSource(std::function<Snapshot()> source) {
  std::lock_guard lock(sourceMutex_);
  source_ = std::move(source);
}

template <class T, class Add>
T& Metrics::series(std::unordered_map<std::string, T*>& cache, const std::string& key, Add add) {
  {
    std::shared_lock lock(seriesMutex_);
    if (auto it = cache.find(key); it != cache.end()) return *it->second;
  }
  std::unique_lock lock(seriesMutex_);
  auto [it, inserted] = cache.try_emplace(key, nullptr);
  if (inserted) it->second = &add();
  return *it->second;
}

void Metrics::requestDone(std::string_view route, int status, size_t, size_t, int64_t latencyNs) {
  const std::string routeText(route);
  const std::string statusText = std::to_string(status);
  series(requestSeries_, routeText + '\n' + statusText, [&]() -> prometheus::Counter& {
    return requests_.Add({{"route", routeText}, {"status", statusText}});
  }).Increment();
  series(durationSeries_, routeText, [&]() -> prometheus::Histogram& {
    return requestDuration_.Add({{"route", routeText}}, ingestLatencyBuckets());
  }).Observe(static_cast<double>(std::max<int64_t>(latencyNs, 0)) / 1e9);
}

void Metrics::eventsDone(std::string_view source, size_t stored, size_t duplicates,
                         const std::vector<std::string_view>& rejectedKinds) {
  const std::string sourceText(source);
  auto bySource = [&](prometheus::Family<prometheus::Counter>& family,
                      char kind) -> prometheus::Counter& {
    return series(sourceSeries_, std::string(1, kind) + '\n' + sourceText,
                  [&]() -> prometheus::Counter& {
                    return family.Add({{"source", sourceText}});
                  });
  };
  bySource(received_, 'r')
      .Increment(static_cast<double>(stored + duplicates + rejectedKinds.size()));
  if (stored > 0) bySource(stored_, 's').Increment(static_cast<double>(stored));
  if (duplicates > 0) bySource(duplicates_, 'd').Increment(static_cast<double>(duplicates));
  for (auto kind : rejectedKinds) {
    rejected_.Add({{"source", sourceText}, {"reason", std::string(kind)}}).Increment();
  }
}

std::map<std::string, uint64_t> Metrics::storedBySource() const {
  std::map<std::string, uint64_t> out;
  for (const auto& family : stored_.Collect()) {
    for (const auto& metric : family.metric) {
      for (const auto& label : metric.label) {
        if (label.name == "source") out[label.value] += static_cast<uint64_t>(metric.counter.value);
      }
    }
  }
  return out;
}

std::string Metrics::capLabel(const std::string& destination, const char* kind,
                              const std::string& value, size_t cap) const {
  std::lock_guard lock(labelMutex_);
  auto& admitted = admitted_[destination + '\n' + kind];
  if (admitted.count(value) > 0) return value;
  if (admitted.size() < cap) {
    admitted.insert(value);
    return value;
  }
  return kOtherLabel;
}

std::vector<MetricFamily> Metrics::collectDelivery(const Snapshot& snapshot) const {
  FamilyBuilder out;
  constexpr auto kCounter = MetricType::Counter;
  constexpr auto kGauge = MetricType::Gauge;
  // Created first so that they keep this order even when no destination has event names yet.
  const std::pair<const char*, const char*> kByEvent[] = {
      {"sluice_events_mapped_total", "TikTok events built from stored events, by event name."},
      {"sluice_events_delivered_total", "TikTok events accepted by TikTok, by event name."},
      {"sluice_events_dead_total",
       "Events dead-lettered (rejected by TikTok, or not mappable: event \"(unmapped)\")."},
      {"sluice_events_expired_total",
       "Events too old for the attribution window, kept for manual upload."}};
  for (const auto& [name, help] : kByEvent) out.family(name, help, kCounter);

  for (const auto& [destination, d] : snapshot.destinations) {
    const auto& s = d.stats;
    const ClientMetric::Label dest{"destination", destination};

    // By event name, capped; "other" sums the names past the cap.
    std::map<std::string, delivery::EventNameCounts> byEvent;
    for (const auto& [event, counts] : s.byEventName) {
      auto& target = byEvent[capLabel(destination, "event", event, kMaxEventLabels)];
      target.mapped += counts.mapped;
      target.delivered += counts.delivered;
      target.dead += counts.dead;
      target.expired += counts.expired;
    }
    for (const auto& [event, counts] : byEvent) {
      const std::vector<ClientMetric::Label> labels = {dest, {"event", event}};
      const double values[] = {
          static_cast<double>(counts.mapped), static_cast<double>(counts.delivered),
          static_cast<double>(counts.dead), static_cast<double>(counts.expired)};
      for (size_t i = 0; i < 4; ++i) {
        out.add(kByEvent[i].first, kByEvent[i].second, kCounter, labels, values[i]);
      }
    }

    out.add("sluice_events_read_total", "Stored events read by the destination's dispatcher.",
            kCounter, {dest}, static_cast<double>(s.eventsRead));
    out.add("sluice_events_unmatched_total",
            "Events read but not for this destination (other source, or no subscription "
            "matched).",
            kCounter, {dest}, static_cast<double>(s.eventsSkipped));
    out.add("sluice_delivery_requests_total",
            "Requests sent to the destination, including retries and probes.", kCounter, {dest},
            static_cast<double>(s.requestsSent));
    out.add("sluice_events_retried_total",
            "Events sent to the destination again (an event sent three times counts twice).",
            kCounter, {dest}, static_cast<double>(s.itemsRetried));
    out.add("sluice_delivery_retries_total", "Requests that retried a batch.", kCounter, {dest},
            static_cast<double>(s.retriesSent));
    out.add("sluice_delivery_probes_total", "Probe requests sent while the circuit was open.",
            kCounter, {dest}, static_cast<double>(s.probesSent));
    out.add("sluice_delivery_retry_replies_total",
            "Replies (or transport errors) judged retryable.", kCounter, {dest},
            static_cast<double>(s.retryReplies));
    out.add("sluice_delivery_retry_budget_denied_total", "Retries held back by the retry budget.",
            kCounter, {dest}, static_cast<double>(s.budgetDenied));
    out.add("sluice_delivery_splits_total", "Batches split in two to isolate a rejected event.",
            kCounter, {dest}, static_cast<double>(s.splits));

    std::map<std::string, uint64_t> replies;
    for (const auto& [code, count] : s.replies) {
      replies[capLabel(destination, "code", code, kMaxReplyLabels)] += count;
    }
    out.family("sluice_delivery_replies_total",
               "Replies by TikTok code (\"0\", \"40100\"...), \"http_<status>\" without a code, "
               "or the transport error.",
               kCounter);
    for (const auto& [code, count] : replies) {
      out.add("sluice_delivery_replies_total", "", kCounter, {dest, {"code", code}},
              static_cast<double>(count));
    }

    // The request latency histogram, from per-bucket counts to cumulative ones.
    ClientMetric histogram;
    histogram.label = {dest};
    uint64_t cumulative = 0;
    for (size_t i = 0; i < s.latencyBuckets.size(); ++i) {
      cumulative += s.latencyBuckets[i];
      ClientMetric::Bucket bucket;
      bucket.cumulative_count = cumulative;
      bucket.upper_bound = i < delivery::kRequestLatencyBoundsMs.size()
                               ? static_cast<double>(delivery::kRequestLatencyBoundsMs[i]) / 1000.0
                               : std::numeric_limits<double>::infinity();
      histogram.histogram.bucket.push_back(bucket);
    }
    histogram.histogram.sample_count = cumulative;
    histogram.histogram.sample_sum = s.latencySumMs / 1000.0;
    out.family("sluice_delivery_request_duration_seconds",
               "Time from sending a request to the destination to its reply.",
               MetricType::Histogram)
        .metric.push_back(std::move(histogram));

    out.add("sluice_delivery_paused",
            "1 while the destination is paused (token, permission or account error).", kGauge,
            {dest}, s.paused ? 1 : 0);
    for (auto state : kBreakerStates) {
      out.add("sluice_delivery_breaker_state",
              "The circuit breaker's state: 1 for the current one.", kGauge,
              {dest, {"state", breakerLabel(state)}}, s.breaker == state ? 1 : 0);
    }
    out.add("sluice_delivery_concurrency_limit",
            "Requests the adaptive limiter allows in flight now.", kGauge, {dest},
            s.concurrencyLimit);
    out.add("sluice_delivery_outstanding_items",
            "Events held in memory by the dispatcher (batching, in flight, waiting to retry).",
            kGauge, {dest}, static_cast<double>(s.outstandingItems));
    out.add("sluice_delivery_backlog_events",
            "Events in the log after the destination's cursor (not yet final).", kGauge, {dest},
            static_cast<double>(d.backlogEvents));
    out.add("sluice_delivery_backlog_age_seconds",
            "Age of the oldest event not yet final for the destination (0 when none).", kGauge,
            {dest}, d.backlogAgeSeconds);
    out.add("sluice_delivery_last_delivered_timestamp_seconds",
            "Unix time of the last delivered reply (0 when none since start).", kGauge, {dest},
            static_cast<double>(s.lastDeliveredMs) / 1000.0);
  }

  if (snapshot.store) {
    out.add("sluice_store_size_bytes", "Bytes of the files under storage.path.", kGauge, {},
            static_cast<double>(snapshot.store->sizeBytes));
    out.add("sluice_store_free_bytes", "Bytes free on the filesystem holding storage.path.", kGauge,
            {}, static_cast<double>(snapshot.store->freeBytes));
    out.add("sluice_store_capacity_bytes", "Size of the filesystem holding storage.path.", kGauge,
            {}, static_cast<double>(snapshot.store->capacityBytes));
  }
  out.add("sluice_store_flushes_total",
          "Flushes of the event log to disk; each acknowledges the writes committed before it.",
          kCounter, {}, static_cast<double>(snapshot.flushes.flushes));
  out.add("sluice_store_flush_failures_total",
          "Flushes of the event log that failed (writes are refused until it has reopened).", kCounter,
          {}, static_cast<double>(snapshot.flushes.failures));
  out.add("sluice_store_commits_total",
          "Write transactions the event log committed; over sluice_store_flushes_total, how many "
          "each flush made durable (group commit).",
          kCounter, {}, static_cast<double>(snapshot.flushes.commits));
  out.add("sluice_store_flush_seconds_total",
          "Time spent flushing the event log; over sluice_store_flushes_total, the mean flush.",
          kCounter, {}, snapshot.flushes.seconds);
  auto families = out.take();
  // A family without samples is not exposed (no HELP/TYPE without values).
  families.erase(std::remove_if(families.begin(), families.end(),
                                [](const MetricFamily& f) { return f.metric.empty(); }),
                 families.end());
  return families;
}

std::string Metrics::render() const {
  std::vector<MetricFamily> families = registry_->Collect();
  {
    std::lock_guard lock(sourceMutex_);
    if (source_) {
      auto delivery = collectDelivery(source_());
      families.insert(families.end(), std::make_move_iterator(delivery.begin()),
                      std::make_move_iterator(delivery.end()));
    }
  }
  std::ostringstream out;
  prometheus::TextSerializer().Serialize(out, families);
  return out.str();
}

void Metrics::setAdminToken(std::string token) {
  std::lock_guard lock(tokenMutex_);
  adminToken_ = std::move(token);
}

http::Handler Metrics::handler(http::AdminThrottle& throttle) {
  return [this, &throttle](http::Request&& request, http::Responder respond) {
    std::string adminToken;
    {
      std::lock_guard lock(tokenMutex_);
      adminToken = adminToken_;
    }
    if (auto denied = http::adminCheck(request, adminToken, throttle)) {
      return respond(std::move(*denied));
    }
    if (request.method != "GET" && request.method != "HEAD") {
      http::Response response = http::jsonError(405, "use GET");
      response.headers.emplace_back("Allow", "GET");
      return respond(std::move(response));
    }
    http::Response response;
    response.contentType = kContentType;
    response.body = render();
    respond(std::move(response));
  };
}

}  // namespace sluice::ops::metrics
