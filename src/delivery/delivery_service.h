// The delivery side of `sluice serve`: one Dispatcher per enabled destination, each with its own
// thread, HTTPS client and flow control (destinations never share a queue or a lock on the hot
// path), reading the event log from the cursor named after the destination.
#pragma once

#include <map>
#include <memory>
#include <mutex>
#include <string>
#include <vector>

#include "config/config.h"
#include "core/clock.h"
#include "core/result.h"
#include "delivery/dispatcher.h"
#include "store/delivery_state.h"
#include "store/event_log.h"

namespace sluice::delivery {

// The dispatcher settings of a configured destination.
DispatcherOptions dispatcherOptions(const config::DestinationConfig& destination);

class DeliveryService {
 public:
  // `log` and `clock` must outlive the service.
  DeliveryService(store::EventLog& log, const Clock& clock = SystemClock::instance());
  ~DeliveryService();  // stop()s

  // Told about every dispatcher's pauses and resumptions (alerts, metrics); must outlive the
  // service. Before start().
  void setListener(DispatcherListener* listener) { listener_ = listener; }

  // Opens the delivery state under config.storage.path and starts a dispatcher for every enabled
  // destination. On error nothing is left running.
  Result<void> start(const config::Config& config);

  // Applies a reloaded configuration (SIGHUP): changed destinations get their new token and
  // settings (paused ones probe at once), new ones start, removed or disabled ones stop (their
  // cursors stay, so their events are kept). A destination whose new settings do not compile keeps
  // its old ones; the error says which.
  Result<void> reload(const config::Config& config);

  // Stops every dispatcher (requests in flight get a bounded grace period). Idempotent.
  void stop();

  // A snapshot of every running dispatcher's counters, by destination name.
  std::map<std::string, DispatcherStats> stats() const;

  store::DeliveryState* state() { return state_.get(); }

 private:
  struct Running {
    std::unique_ptr<HttpClient> client;
    std::unique_ptr<DefaultRandom> random;
    std::unique_ptr<Dispatcher> dispatcher;
  };
  Result<Running> startOne(const config::DestinationConfig& destination);

  store::EventLog& log_;
  const Clock& clock_;
  DispatcherListener* listener_ = nullptr;
  std::unique_ptr<store::DeliveryState> state_;
  mutable std::mutex mutex_;
  std::map<std::string, Running> running_;  // GUARDED_BY(mutex_)
};

}  // namespace sluice::delivery
