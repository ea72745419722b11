// The Prometheus registry of `sluice serve` and its text exposition (GET /metrics). Ingestion is
// counted as it happens through the IngestProbe this class implements; delivery, the backlog and
// the store are read at scrape time from a snapshot function, so the dispatchers' hot path does
// not know metrics exist. Names follow Prometheus conventions (README.md lists them).
#pragma once

#include <prometheus/collectable.h>
#include <prometheus/counter.h>
#include <prometheus/family.h>
#include <prometheus/histogram.h>
#include <prometheus/registry.h>

#include <cstdint>
#include <functional>
#include <map>
#include <memory>
#include <mutex>
#include <optional>
#include <set>
#include <shared_mutex>
#include <string>
#include <unordered_map>
#include <vector>

#include "delivery/dispatcher.h"
#include "http/admin_throttle.h"
#include "http/message.h"
#include "ingest/probe.h"
#include "store/event_log.h"

namespace sluice::ops::metrics {

// Bytes of the store's files and of the filesystem holding them.
struct StoreUsage {
  uint64_t sizeBytes = 0;      // every file under storage.path
  uint64_t freeBytes = 0;      // available to an unprivileged user (statvfs f_bavail)
  uint64_t capacityBytes = 0;  // the filesystem's size
};

// One destination as seen at scrape time.
struct DestinationSnapshot {
  delivery::DispatcherStats stats;
  uint64_t backlogEvents = 0;    // events in the log after the destination's cursor
  double backlogAgeSeconds = 0;  // age of the oldest of them; 0 when there is none
};

// What the scrape reads from the running server.
struct Snapshot {
  std::map<std::string, DestinationSnapshot> destinations;
  std::optional<StoreUsage> store;  // absent when it could not be measured
  store::FlushStats flushes;        // the event log's flushes to disk since start
};

// Label caps: at most this many distinct values per destination; later ones count as "other".
inline constexpr size_t kMaxEventLabels = 100;
inline constexpr size_t kMaxReplyLabels = 50;
inline constexpr const char* kOtherLabel = "other";

class Metrics final : public ingest::IngestProbe {
 public:
  Metrics();
  ~Metrics() override;
  Metrics(const Metrics&) = delete;
  Metrics& operator=(const Metrics&) = delete;

  // Creates the per-source series at zero, so rates exist before the first event. Thread-safe.
  void addSources(const std::vector<std::string>& sources);

  // Where delivery figures come from at scrape time; an empty function (the default, and after
  // stop) exposes no delivery series. Thread-safe: a scrape in progress finishes before this
  // returns, so the previous function is no longer called afterwards.
  void setSnapshotSource(std::function<Snapshot()> source);

  // IngestProbe. Thread-safe, lock-light (prometheus-cpp counters).
  void requestDone(std::string_view route, int status, size_t accepted, size_t rejected,
                   int64_t latencyNs) override;
  void eventsDone(std::string_view source, size_t stored, size_t duplicates,
                  const std::vector<std::string_view>& rejectedKinds) override;

  // Events stored per source since this object was created (what eventsDone() counted as
  // stored: duplicates and rejected events excluded). Thread-safe.
  std::map<std::string, uint64_t> storedBySource() const;

  // The families of one snapshot (exposed for tests; render() uses it).
  std::vector<prometheus::MetricFamily> collectDelivery(const Snapshot& snapshot) const;

  // The text exposition (format 0.0.4) of every family: ingestion, then the snapshot's.
  std::string render() const;

  // The admin token the handler asks for (empty: none, for loopback only). Set before serving and
  // again on a configuration reload. Thread-safe.
  void setAdminToken(std::string token);

  // The GET /metrics handler: 401 without the admin token in force (when one is set), 429 while
  // the client's address is throttled for wrong tokens (http::adminCheck with `throttle`, shared
  // with the other admin routes), else render() as text/plain; version=0.0.4. `this` and
  // `throttle` must outlive the handler.
  http::Handler handler(http::AdminThrottle& throttle);

  static constexpr const char* kContentType = "text/plain; version=0.0.4; charset=utf-8";

 private:
  // The label value kept for `value` in `(destination, kind)`: itself while fewer than `cap`
  // distinct values were admitted (admitted values stay admitted), else kOtherLabel.
  std::string capLabel(const std::string& destination, const char* kind, const std::string& value,
                       size_t cap) const;
  // The series of `family` for the labels behind `key`, made by `add` the first time a key is
  // seen: Family::Add hashes the labels (and a histogram copies its bucket bounds) on every call,
  // a few allocations per request on the ingestion path. Series are never removed, so the
  // pointers stay valid.
  template <class T, class Add>
  T& series(std::unordered_map<std::string, T*>& cache, const std::string& key, Add add);

  std::shared_ptr<prometheus::Registry> registry_;
  prometheus::Family<prometheus::Counter>& requests_;
  prometheus::Family<prometheus::Histogram>& requestDuration_;
  prometheus::Family<prometheus::Counter>& received_;
  prometheus::Family<prometheus::Counter>& stored_;
  prometheus::Family<prometheus::Counter>& duplicates_;
  prometheus::Family<prometheus::Counter>& rejected_;

  std::shared_mutex seriesMutex_;  // guards the three caches below (see series())
  std::unordered_map<std::string, prometheus::Counter*> requestSeries_;     // "route\nstatus"
  std::unordered_map<std::string, prometheus::Histogram*> durationSeries_;  // route
  std::unordered_map<std::string, prometheus::Counter*> sourceSeries_;      // "kind\nsource"

  mutable std::mutex sourceMutex_;    // held during a scrape's snapshot and by setSnapshotSource()
  std::function<Snapshot()> source_;  // GUARDED_BY(sourceMutex_)
  mutable std::mutex tokenMutex_;
  std::string adminToken_;  // GUARDED_BY(tokenMutex_)
  mutable std::mutex labelMutex_;
  mutable std::map<std::string, std::set<std::string>> admitted_;  // GUARDED_BY(labelMutex_)
};

// The ingest request latency buckets (seconds).
const prometheus::Histogram::BucketBoundaries& ingestLatencyBuckets();

}  // namespace sluice::ops::metrics
