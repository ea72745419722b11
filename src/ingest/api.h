// The Segment-compatible ingestion API: turns HTTP requests into validated, enriched events and
// appends them to the event log, answering only once they are durable.
#pragma once

#include <memory>

#include "config/config.h"
#include "core/clock.h"
#include "http/message.h"
#include "store/event_log.h"

namespace sluice::ingest {

class IngestProbe;  // metrics hooks (ingest/probe.h); may be null

class Api {
 public:
  // `log` and `clock` (and `random` when given) must outlive the Api. `config` is copied.
  // `random` supplies assigned messageIds (calls to it are serialised by the Api); when null, each
  // thread uses its own randomly seeded generator. Invalid `server.trustedProxies` entries are
  // ignored (no proxy is trusted through them); the configuration loader reports them.
  Api(const config::Config& config, store::EventLog& log, const Clock& clock,
      Random* random = nullptr);
  ~Api();

  // Sets the metrics hooks (may be null). Call before the first request.
  void setProbe(IngestProbe* probe);

  // Whether `path` (without query) is one of the ingestion routes.
  bool handles(std::string_view method, std::string_view path) const;

  // Handles one request on an ingestion route: authenticates, decompresses, parses, validates,
  // enriches, and appends. `respond` runs after the fsync (200), or at once on a client error
  // (400/401/413/415) or when the store cannot take writes (503 with Retry-After). Thread-safe.
  void handle(http::Request&& request, http::Responder respond);

 private:
  struct Impl;
  std::unique_ptr<Impl> impl_;
};

}  // namespace sluice::ingest
