// Metrics hooks of the ingestion API, kept out of its logic (the ops module implements them).
#pragma once

#include <cstddef>
#include <cstdint>
#include <string_view>

namespace sluice::ingest {

class IngestProbe {
 public:
  virtual ~IngestProbe() = default;

  // One request answered: its route ("track", ..., "batch", "webhook"), the HTTP status, how many
  // events were accepted (stored or duplicates) and rejected (quarantined), and the time from
  // arrival to the reply on the monotonic clock. Called from any thread; must not block.
  virtual void requestDone(std::string_view route, int status, size_t accepted, size_t rejected,
                           int64_t latencyNs) = 0;
};

}  // namespace sluice::ingest
