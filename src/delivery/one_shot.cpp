#include "delivery/one_shot.h"

#include <algorithm>
#include <chrono>
#include <thread>

#include "delivery/delivery_service.h"
#include "delivery/tiktok_codec.h"

namespace sluice::delivery {

Result<DispatcherStats> runOneShot(const config::DestinationConfig& destination,
                                   std::unique_ptr<EventFeed> feed, store::DeliveryState& state,
                                   const OneShotOptions& options, const Clock& clock) {
  auto codec = makeTikTokCodec(destination);
  if (!codec) return fail(codec.error());
  std::unique_ptr<HttpClient> ownClient;
  HttpClient* client = options.client;
  if (client == nullptr) {
    HttpClientOptions clientOptions;
    clientOptions.connectTimeout = std::chrono::milliseconds(destination.flow.connectTimeoutMs);
    ownClient = makeBeastHttpClient(clientOptions);
    client = ownClient.get();
  }
  DefaultRandom random;
  DispatcherOptions dispatcher = dispatcherOptions(destination);
  dispatcher.lingerMs = std::min<int64_t>(dispatcher.lingerMs, 50);
  Dispatcher d(dispatcher, std::move(*codec), std::move(feed), *client, state, clock, random);
  d.start();
  const auto start = std::chrono::steady_clock::now();
  const auto deadline = start + std::chrono::milliseconds(options.timeoutMs);
  bool timedOut = false;
  bool cancelled = false;
  while (!d.drained()) {
    if (std::chrono::steady_clock::now() >= deadline) {
      timedOut = true;
      break;
    }
    if (options.cancel != nullptr && options.cancel->load()) {
      cancelled = true;
      break;
    }
    std::this_thread::sleep_for(std::chrono::milliseconds(
        std::clamp<int64_t>(options.progressIntervalMs, 10, 1000)));
    if (options.progress) options.progress(d.stats());
  }
  d.stop();
  DispatcherStats stats = d.stats();
  if (options.progress) options.progress(stats);
  if (cancelled) {
    return fail(ErrorCode::kCancelled, "stopped before the end (" +
                                           std::to_string(stats.itemsDelivered) + " delivered)");
  }
  if (timedOut) {
    return fail(ErrorCode::kUnavailable,
                "not finished after " + std::to_string(options.timeoutMs / 1000) + " s (" +
                    std::to_string(stats.itemsDelivered) + " delivered" +
                    (stats.paused ? ", destination paused: " + stats.pauseReason : "") + ")");
  }
  return stats;
}

}  // namespace sluice::delivery
