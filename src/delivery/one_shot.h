// Runs one destination's mapping and delivery over a finite feed (replay of a time range, retry of
// dead letters) until every event has a fate, for the `replay` and `dlq retry` commands.
#pragma once

#include <atomic>
#include <cstdint>
#include <functional>
#include <memory>

#include "config/config.h"
#include "core/clock.h"
#include "core/result.h"
#include "delivery/dispatcher.h"
#include "delivery/http_client.h"
#include "store/delivery_state.h"

namespace sluice::delivery {

struct OneShotOptions {
  int64_t timeoutMs = 10 * 60'000;  // give up (kUnavailable) when not done by then
  int64_t progressIntervalMs = 250;
  // Called every progressIntervalMs and once at the end with the dispatcher's counters.
  std::function<void(const DispatcherStats&)> progress;
  HttpClient* client = nullptr;  // null: a Beast client with the destination's timeouts
  // When set, the run stops early (kCancelled) once it reads true, e.g. at server shutdown.
  const std::atomic<bool>* cancel = nullptr;
};

// Delivers every event of `feed` to `destination` (its mapping, token and flow settings) and
// returns the final counters. Dead letters and expiries go to `state`. Fails with kUnavailable on
// timeout (the destination was down or paused throughout), kCancelled when options.cancel was set,
// kInvalidArgument when the destination's mapping does not compile.
Result<DispatcherStats> runOneShot(const config::DestinationConfig& destination,
                                   std::unique_ptr<EventFeed> feed, store::DeliveryState& state,
                                   const OneShotOptions& options,
                                   const Clock& clock = SystemClock::instance());

}  // namespace sluice::delivery
