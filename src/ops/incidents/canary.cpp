#include "ops/incidents/canary.h"

#include <simdjson.h>
#include <spdlog/spdlog.h>

#include <algorithm>
#include <chrono>
#include <memory>
#include <optional>
#include <span>
#include <utility>

#include "core/thread_name.h"
#include "core/time.h"
#include "delivery/tiktok_codec.h"
#include "tiktok/destination.h"

namespace sluice::ops::incidents {
namespace {

// The canary's only subscription: a ViewContent whose id, time, user and page come from the event.
constexpr const char* kCanaryMapping =
    R"({"event":"ViewContent","event_id":{"@path":"$.messageId"},)"
    R"("timestamp":{"@path":"$.timestamp"},"external_id":{"@path":"$.userId"},)"
    R"("url":{"@path":"$.context.page.url"},"description":{"@path":"$.properties.description"}})";

std::string canaryEventJson(EpochMs nowMs, const std::string& eventId) {
  return R"({"type":"track","event":"sluice canary","messageId":")" + eventId +
         R"(","userId":"sluice-canary","timestamp":")" + formatIsoTime(nowMs) +
         R"(","context":{"page":{"url":"https://sluice.invalid/canary"}},)"
         R"("properties":{"description":"sluice canary: a test event, not a conversion"}})";
}

}  // namespace

Result<delivery::HttpPost> buildCanaryRequest(const config::DestinationConfig& destination,
                                              EpochMs nowMs, const std::string& eventId) {
  if (destination.settings.testEventCode.empty()) {
    return fail(ErrorCode::kInvalidArgument,
                "destination " + destination.name + ": the canary needs a test_event_code");
  }
  config::DestinationConfig canary = destination;
  canary.presets = {"none"};
  config::SubscriptionConfig subscription;
  subscription.name = "sluice canary";
  subscription.mappingJson = kCanaryMapping;
  canary.subscriptions = {subscription};
  auto built = tiktok::Destination::create(canary);
  if (!built) return fail(built.error());
  simdjson::dom::parser parser;
  const std::string json = canaryEventJson(nowMs, eventId);
  simdjson::dom::element root;
  if (parser.parse(json).get(root) != simdjson::SUCCESS) {
    return fail(ErrorCode::kInternal, "the canary event is not valid JSON");
  }
  auto item = built->transform(root, 0, nowMs);
  if (!item) return fail(item.error());
  delivery::HttpPost post;
  post.url = destination.settings.apiUrl;
  post.headers = {{"Content-Type", "application/json"},
                  {"Access-Token", destination.settings.accessToken}};
  post.body = built->buildBody(std::span<const tiktok::TikTokEvent>(&*item, 1));
  post.timeout = std::chrono::milliseconds(destination.flow.requestTimeoutMs);
  return post;
}

CanaryResult judgeCanary(const config::DestinationConfig& destination, EpochMs timeMs,
                         const delivery::HttpOutcome& outcome) {
  CanaryResult result;
  result.destination = destination.name;
  result.timeMs = timeMs;
  result.latencyMs = outcome.latency.count() / 1000;
  if (outcome.error != delivery::TransportError::kNone) {
    result.ok = false;
    result.verdict = delivery::verdictName(delivery::Verdict::kRetry);
    result.code = delivery::transportErrorName(outcome.error);
    result.message = outcome.errorMessage;
    return result;
  }
  auto codec = delivery::makeTikTokCodec(destination);
  if (!codec) {
    result.verdict = "error";
    result.code = "config";
    result.message = codec.error().message;
    return result;
  }
  const delivery::ReplyClass reply = (*codec)->classify(outcome.status, outcome.body);
  result.ok = reply.verdict == delivery::Verdict::kDelivered;
  result.verdict = delivery::verdictName(reply.verdict);
  result.code = reply.code != 0 || (outcome.status >= 200 && outcome.status < 300)
                    ? std::to_string(reply.code)
                    : "http_" + std::to_string(outcome.status);
  result.message = reply.message;
  return result;
}

CanaryRunner::CanaryRunner(ClientFactory makeClient, IncidentStore& store, const Clock& clock)
    : makeClient_(std::move(makeClient)), store_(store), clock_(clock) {}

CanaryRunner::CanaryRunner(delivery::HttpClient& client, IncidentStore& store, const Clock& clock)
    : sharedClient_(&client), store_(store), clock_(clock) {}

delivery::HttpClient& CanaryRunner::clientFor(const config::DestinationConfig& destination) {
  if (sharedClient_ != nullptr) return *sharedClient_;
  std::unique_ptr<delivery::HttpClient>& client = clients_[destination.flow.connectTimeoutMs];
  if (!client) client = makeClient_(std::chrono::milliseconds(destination.flow.connectTimeoutMs));
  return *client;
}

CanaryRunner::~CanaryRunner() { stop(); }

void CanaryRunner::setListener(Listener listener) {
  std::lock_guard lock(mutex_);
  listener_ = std::move(listener);
}

void CanaryRunner::configure(const std::vector<config::DestinationConfig>& destinations) {
  std::lock_guard lock(mutex_);
  std::map<std::string, Watched> next;
  const EpochMs now = clock_.nowMs();
  for (const auto& d : destinations) {
    if (!d.enabled || !d.canaryEnabled) continue;
    Watched w;
    w.config = d;
    w.dueMs = now;
    if (auto it = watched_.find(d.name); it != watched_.end() && it->second.lastRunMs != 0) {
      w.lastRunMs = it->second.lastRunMs;
      w.dueMs = w.lastRunMs + d.canaryIntervalMs;
    }
    next.emplace(d.name, std::move(w));
  }
  watched_ = std::move(next);
  wake_.notify_all();
}

Result<CanaryResult> CanaryRunner::runNow(const config::DestinationConfig& destination) {
  std::lock_guard run(runMutex_);
  const EpochMs sentMs = clock_.nowMs();
  std::string eventId;
  {
    std::lock_guard lock(mutex_);
    eventId = "sluice-canary-" + destination.name + "-" + std::to_string(sentMs) + "-" +
              std::to_string(++sequence_);
  }
  CanaryResult result;
  auto request = buildCanaryRequest(destination, sentMs, eventId);
  if (!request) {
    result.destination = destination.name;
    result.timeMs = sentMs;
    result.verdict = "error";
    result.code = "build";
    result.message = request.error().message;
  } else {
    // The reply may come after we stop waiting: the shared state outlives this frame.
    struct Waiter {
      std::mutex mutex;
      std::condition_variable done;
      std::optional<delivery::HttpOutcome> outcome;
    };
    auto waiter = std::make_shared<Waiter>();
    clientFor(destination).post(std::move(*request), [waiter](delivery::HttpOutcome outcome) {
      std::lock_guard lock(waiter->mutex);
      waiter->outcome = std::move(outcome);
      waiter->done.notify_all();
    });
    const auto limit = std::chrono::milliseconds(destination.flow.connectTimeoutMs +
                                                 destination.flow.requestTimeoutMs + 5'000);
    delivery::HttpOutcome outcome;
    // Waits in slices so that stop() does not wait for a slow reply.
    const auto deadline = std::chrono::steady_clock::now() + limit;
    bool answered = false;
    while (!answered && std::chrono::steady_clock::now() < deadline) {
      {
        std::lock_guard lock(mutex_);
        if (stopping_) return fail(ErrorCode::kCancelled, "stopping");
      }
      std::unique_lock lock(waiter->mutex);
      answered = waiter->done.wait_for(lock, std::chrono::milliseconds(100),
                                       [&] { return waiter->outcome.has_value(); });
      if (answered) outcome = *waiter->outcome;
    }
    if (!answered) {
      outcome.error = delivery::TransportError::kTimeout;
      outcome.errorMessage = "no reply within " + humanDuration(limit.count());
      outcome.latency = std::chrono::duration_cast<std::chrono::microseconds>(limit);
    }
    result = judgeCanary(destination, sentMs, outcome);
  }
  Listener listener;
  {
    std::lock_guard lock(mutex_);
    last_[destination.name] = result;
    if (auto it = watched_.find(destination.name); it != watched_.end()) {
      it->second.lastRunMs = sentMs;
      it->second.dueMs = sentMs + it->second.config.canaryIntervalMs;
    }
    listener = listener_;
  }
  auto id = store_.recordCanary(result);
  if (id) result.id = *id;
  if (result.ok) {
    spdlog::debug("canary {}: ok in {} ms", destination.name, result.latencyMs);
  } else {
    spdlog::warn("canary {}: failed ({} {}: {})", destination.name, result.verdict, result.code,
                 result.message);
  }
  if (listener) listener(result);
  if (!id) return fail(id.error());
  return result;
}

int CanaryRunner::runDue() {
  std::vector<config::DestinationConfig> due;
  {
    std::lock_guard lock(mutex_);
    const EpochMs now = clock_.nowMs();
    for (const auto& [name, w] : watched_) {
      if (w.dueMs <= now) due.push_back(w.config);
    }
  }
  for (const auto& d : due) {
    auto r = runNow(d);
    if (!r && r.error().code != ErrorCode::kCancelled) {
      spdlog::error("canary {}: {}", d.name, r.error().message);
    }
  }
  return static_cast<int>(due.size());
}

void CanaryRunner::start() {
  {
    std::lock_guard lock(mutex_);
    stopping_ = false;
  }
  if (!thread_.joinable()) thread_ = std::thread([this] { threadMain(); });
}

void CanaryRunner::stop() {
  {
    std::lock_guard lock(mutex_);
    stopping_ = true;
  }
  wake_.notify_all();
  if (thread_.joinable()) thread_.join();
}

std::map<std::string, CanaryResult> CanaryRunner::lastResults() const {
  std::lock_guard lock(mutex_);
  return last_;
}

void CanaryRunner::threadMain() {
  nameThisThread("canary");
  for (;;) {
    runDue();
    std::unique_lock lock(mutex_);
    int64_t waitMs = 1'000;
    const EpochMs now = clock_.nowMs();
    for (const auto& [name, w] : watched_) {
      waitMs = std::min<int64_t>(waitMs, std::max<int64_t>(w.dueMs - now, 10));
    }
    if (wake_.wait_for(lock, std::chrono::milliseconds(waitMs), [this] { return stopping_; })) {
      return;
    }
  }
}

}  // namespace sluice::ops::incidents
