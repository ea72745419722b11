// Metrics hooks of the ingestion API, kept out of its logic (the ops module implements them).
#pragma once

#include <cstddef>
#include <cstdint>
#include <string_view>
#include <vector>

namespace sluice::ingest {

class IngestProbe {
 public:
  virtual ~IngestProbe() = default;

  // One request answered: its route ("track", ..., "batch", "webhook"), the HTTP status, how many
  // events were accepted (stored or duplicates) and rejected (quarantined), and the time from
  // arrival to the reply on the monotonic clock. Called from any thread; must not block.
  virtual void requestDone(std::string_view route, int status, size_t accepted, size_t rejected,
                           int64_t latencyNs) = 0;

  // The events of one request whose source (write key) is known, once their fate is: `stored`
  // written as new, `duplicates` acknowledged but already stored, one rejection kind (see
  // rejectionKind()) per event quarantined or refused. A request whose body could not be parsed
  // counts as one event rejected as "malformed_request"; events refused because the store could
  // not take them (503, the client retries) are rejected as "store_unavailable". Not called for
  // requests refused before their source is known (401) or for their format (415). Called from any
  // thread, before requestDone() of the same request; must not block.
  virtual void eventsDone(std::string_view source, size_t stored, size_t duplicates,
                          const std::vector<std::string_view>& rejectedKinds) {
    (void)source, (void)stored, (void)duplicates, (void)rejectedKinds;
  }
};

// The bounded kind of a rejection reason given by the parser (for metrics labels):
// "not_object", "missing_field", "invalid_field", "too_large", "too_deep", or "other".
std::string_view rejectionKind(std::string_view reason);

inline constexpr std::string_view kRejectedMalformedRequest = "malformed_request";
inline constexpr std::string_view kRejectedStoreUnavailable = "store_unavailable";

}  // namespace sluice::ingest
