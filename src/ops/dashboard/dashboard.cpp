#include "ops/dashboard/dashboard.h"

#include <boost/json.hpp>
#include <charconv>

#include "core/thread_name.h"
#include "core/time.h"
#include "delivery/circuit_breaker.h"
#include "delivery/delivery_service.h"
#include "http/admin_auth.h"
#include "ops/dashboard/embedded_files.h"

namespace sluice::ops::dashboard {
namespace {

namespace json = boost::json;

constexpr std::string_view kDestinationsPrefix = "/api/destinations/";
constexpr const char* kEmptyList = R"({"active":[],"recent":[]})";
constexpr size_t kDefaultPageSize = 50;
constexpr size_t kMaxPageSize = 500;

// Headers of every answer: the page loads only its own files (no inline script, no third party),
// nothing may frame it, and nothing is cached.
void securityHeaders(http::Response& response) {
  response.headers.emplace_back(
      "Content-Security-Policy",
      "default-src 'none'; script-src 'self'; style-src 'self'; img-src 'self' data:; "
      "connect-src 'self'; base-uri 'none'; form-action 'self'; frame-ancestors 'none'");
  response.headers.emplace_back("X-Content-Type-Options", "nosniff");
  response.headers.emplace_back("X-Frame-Options", "DENY");
  response.headers.emplace_back("Referrer-Policy", "no-referrer");
  response.headers.emplace_back("Cache-Control", "no-store");
}

http::Response jsonReply(int status, std::string body) {
  http::Response response;
  response.status = status;
  response.body = std::move(body);
  return response;
}

http::Response jsonValueReply(int status, const json::value& value) {
  return jsonReply(status, json::serialize(value));
}

http::Response fileReply(int status, std::string_view name) {
  http::Response response;
  response.status = status;
  const EmbeddedFile* file = findEmbeddedFile(name);
  if (file == nullptr) return http::jsonError(404, "no such file");
  response.contentType = std::string(contentTypeFor(name));
  response.body = std::string(file->text());
  return response;
}

http::Response methodNotAllowed(std::string_view allowed) {
  auto response = http::jsonError(405, "method not allowed");
  response.headers.emplace_back("Allow", std::string(allowed));
  return response;
}

int hexValue(char c) {
  if (c >= '0' && c <= '9') return c - '0';
  if (c >= 'a' && c <= 'f') return c - 'a' + 10;
  if (c >= 'A' && c <= 'F') return c - 'A' + 10;
  return -1;
}

std::string percentDecode(std::string_view text) {
  std::string out;
  for (size_t i = 0; i < text.size(); ++i) {
    if (text[i] == '%' && i + 2 < text.size() && hexValue(text[i + 1]) >= 0 &&
        hexValue(text[i + 2]) >= 0) {
      out.push_back(static_cast<char>(hexValue(text[i + 1]) * 16 + hexValue(text[i + 2])));
      i += 2;
    } else if (text[i] == '+') {
      out.push_back(' ');
    } else {
      out.push_back(text[i]);
    }
  }
  return out;
}

// The decoded value of `name` in a query string, or nullopt.
std::optional<std::string> queryParam(std::string_view query, std::string_view name) {
  while (!query.empty()) {
    const size_t end = query.find('&');
    std::string_view pair = query.substr(0, end);
    query = end == std::string_view::npos ? std::string_view() : query.substr(end + 1);
    const size_t eq = pair.find('=');
    if (percentDecode(pair.substr(0, eq)) == name) {
      return eq == std::string_view::npos ? std::string() : percentDecode(pair.substr(eq + 1));
    }
  }
  return std::nullopt;
}

std::optional<int64_t> parseInt(std::string_view text) {
  int64_t value = 0;
  auto [end, ec] = std::from_chars(text.data(), text.data() + text.size(), value);
  if (text.empty() || ec != std::errc() || end != text.data() + text.size()) return std::nullopt;
  return value;
}

bool isJsonContentType(std::string_view type) { return type.substr(0, 16) == "application/json"; }

// The mapped item as JSON when it parses, else null; and its TikTok event name.
std::pair<json::value, std::string> parsedItem(const std::string& itemJson) {
  if (itemJson.empty()) return {nullptr, ""};
  boost::system::error_code ec;
  json::value item = json::parse(itemJson, ec);
  if (ec) return {nullptr, ""};
  std::string event;
  if (const auto* object = item.if_object()) {
    if (const auto* name = object->if_contains("event"); name && name->is_string()) {
      event = std::string(name->as_string());
    }
  }
  return {std::move(item), event};
}

json::object jobJson(const RetryJob& job) {
  json::object o;
  o["id"] = job.id;
  o["destination"] = job.destination;
  o["queued"] = job.queued;
  o["state"] = job.state;
  o["delivered"] = job.delivered;
  o["dead"] = job.dead;
  o["expired"] = job.expired;
  o["error"] = job.error;
  o["submitted_at_ms"] = job.submittedMs;
  o["finished_at_ms"] = job.finishedMs;
  return o;
}

}  // namespace

Dashboard::Dashboard(store::EventLog& log, delivery::DeliveryService& delivery,
                     config::Config config, const Clock& clock, http::AdminThrottle& throttle,
                     DashboardOptions options, DashboardProviders providers)
    : log_(log),
      delivery_(delivery),
      clock_(clock),
      options_(options),
      providers_(std::move(providers)),
      history_(options.historyMinutes),
      throttle_(throttle),
      config_(std::move(config)) {}

Dashboard::~Dashboard() { stop(); }

Result<void> Dashboard::start() {
  auto last = log_.lastSeq();
  if (!last) return fail(last.error());
  if (delivery_.state() == nullptr) {
    return fail(ErrorCode::kUnavailable, "delivery is not running");
  }
  {
    std::lock_guard lock(receivedMutex_);
    countedSeq_ = *last;
    countingSinceMs_ = clock_.nowMs();
    if (providers_.storedBySource) storedAtStart_ = providers_.storedBySource();
  }
  retrier_ = std::make_unique<DlqRetrier>(*delivery_.state(), clock_, options_.retry);
  sampleNow();
  sampler_ = std::thread([this] { samplerLoop(); });
  return ok();
}

void Dashboard::reload(const config::Config& config) {
  std::lock_guard lock(configMutex_);
  config_ = config;
}

void Dashboard::setListenAddress(std::string address) {
  std::lock_guard lock(configMutex_);
  listenAddress_ = std::move(address);
}

void Dashboard::stop() {
  {
    std::lock_guard lock(stopMutex_);
    stopping_ = true;
  }
  wake_.notify_all();
  if (sampler_.joinable()) sampler_.join();
  if (retrier_) retrier_->stop();
}

void Dashboard::samplerLoop() {
  nameThisThread("dash-sampler");
  std::unique_lock lock(stopMutex_);
  for (;;) {
    if (wake_.wait_for(lock, std::chrono::milliseconds(options_.sampleIntervalMs),
                       [this] { return stopping_; })) {
      return;
    }
    lock.unlock();
    sampleNow();
    countReceived();
    lock.lock();
  }
}

void Dashboard::sampleNow() {
  std::lock_guard lock(sampleMutex_);
  history_.sample(clock_.nowMs(), delivery_.stats());
}

void Dashboard::countReceived() {
  if (providers_.storedBySource) {
    // Ingestion's own counts: no log reads, and no lag however fast events arrive.
    std::map<std::string, uint64_t> now = providers_.storedBySource();
    std::lock_guard lock(receivedMutex_);
    for (const auto& [source, count] : now) {
      auto start = storedAtStart_.find(source);
      const uint64_t before = start == storedAtStart_.end() ? 0 : start->second;
      receivedBySource_[source] = count > before ? count - before : 0;
    }
    return;
  }
  // countedSeq_ moves only here (the sampler thread); the lock is held only to add the counts, so
  // a summary never waits for the log reads.
  store::Seq seq;
  {
    std::lock_guard lock(receivedMutex_);
    seq = countedSeq_;
  }
  std::map<std::string, uint64_t> counted;
  size_t read = 0;
  while (read < options_.maxEventsPerSample) {
    const size_t chunk = std::min<size_t>(2'000, options_.maxEventsPerSample - read);
    auto events = log_.readAfter(seq, chunk);
    if (!events || events->empty()) break;
    for (const auto& event : *events) {
      ++counted[event.source];
      seq = event.seq;
    }
    read += events->size();
    if (events->size() < chunk) break;
  }
  std::lock_guard lock(receivedMutex_);
  countedSeq_ = seq;
  for (const auto& [source, count] : counted) receivedBySource_[source] += count;
}

std::optional<config::DestinationConfig> Dashboard::destination(std::string_view name) const {
  std::lock_guard lock(configMutex_);
  const config::DestinationConfig* found = config_.findDestination(name);
  if (found == nullptr) return std::nullopt;
  return *found;
}

std::string Dashboard::summaryJson() {
  const EpochMs now = clock_.nowMs();
  std::map<std::string, delivery::DispatcherStats> stats;
  {
    std::lock_guard lock(sampleMutex_);
    stats = delivery_.stats();
    history_.sample(now, stats);
  }
  config::Config config;
  std::string listen;
  {
    std::lock_guard lock(configMutex_);
    config = config_;
    listen = listenAddress_.empty() ? config::formatListen(config.server) : listenAddress_;
  }
  const auto lastSeq = log_.lastSeq();
  json::object root;
  root["now_ms"] = now;
  root["listen"] = listen;
  json::array destinations;
  for (const auto& d : config.destinations) {
    json::object o;
    o["name"] = d.name;
    o["type"] = d.type;
    o["enabled"] = d.enabled;
    auto it = stats.find(d.name);
    if (it == stats.end()) {
      o["status"] = d.enabled ? "stopped" : "disabled";
      destinations.push_back(std::move(o));
      continue;
    }
    const delivery::DispatcherStats& s = it->second;
    uint64_t mapped = 0;
    json::object byEvent;
    for (const auto& [event, counts] : s.byEventName) {
      mapped += counts.mapped;
      byEvent[event] = {{"mapped", counts.mapped},
                        {"delivered", counts.delivered},
                        {"dead", counts.dead},
                        {"expired", counts.expired}};
    }
    // Backlog: events after the cursor; the age of the oldest one not yet delivered.
    uint64_t backlog = 0;
    json::value oldestMs = nullptr;
    int64_t oldestAgeMs = 0;
    if (lastSeq && *lastSeq > s.committedSeq) {
      backlog = *lastSeq - s.committedSeq;
      if (auto oldest = log_.readAfter(s.committedSeq, 1); oldest && !oldest->empty()) {
        oldestMs = oldest->front().receivedAtMs;
        oldestAgeMs = std::max<int64_t>(0, now - oldest->front().receivedAtMs);
      }
    }
    json::object errors;
    uint64_t errorTotal = 0;
    for (const auto& [code, count] : s.replies) {
      if (code == "0" || code == "20001") continue;
      errors[code] = count;
      errorTotal += count;
    }
    const uint64_t recentRetries =
        history_.retryRepliesSince(d.name, now - options_.recentErrorsWindowMs);
    json::array reasons;
    if (s.breaker != delivery::BreakerState::kClosed &&
        s.breaker != delivery::BreakerState::kPaused) {
      reasons.push_back(
          json::value(std::string("circuit breaker ") + delivery::breakerStateName(s.breaker)));
    }
    if (recentRetries > 0) {
      reasons.push_back(json::value(std::to_string(recentRetries) +
                                    " replies to retry in the last " +
                                    config::formatDurationMs(options_.recentErrorsWindowMs)));
    }
    if (oldestAgeMs > options_.degradedBacklogAgeMs) {
      reasons.push_back(json::value("oldest undelivered event older than " +
                                    config::formatDurationMs(options_.degradedBacklogAgeMs)));
    }
    o["status"] = s.paused ? "paused" : (reasons.empty() ? "healthy" : "degraded");
    o["status_reasons"] = std::move(reasons);
    o["pause_reason"] = s.pauseReason;
    o["mapped"] = mapped;
    o["delivered"] = s.itemsDelivered;
    o["dead"] = s.itemsDead;
    o["expired"] = s.itemsExpired;
    o["events_read"] = s.eventsRead;
    o["events_skipped"] = s.eventsSkipped;
    o["requests"] = s.requestsSent;
    o["retried"] = s.itemsRetried;
    o["retry_requests"] = s.retriesSent;
    o["retry_budget_denied"] = s.budgetDenied;
    o["backlog"] = {
        {"events", backlog}, {"oldest_received_at_ms", oldestMs}, {"oldest_age_ms", oldestAgeMs}};
    o["breaker"] = delivery::breakerStateName(s.breaker);
    o["concurrency"] = s.concurrencyLimit;
    o["outstanding_items"] = s.outstandingItems;
    o["last_delivered_at_ms"] =
        s.lastDeliveredMs > 0 ? json::value(s.lastDeliveredMs) : json::value(nullptr);
    o["errors"] = std::move(errors);
    o["errors_total"] = errorTotal;
    o["by_event_name"] = std::move(byEvent);
    if (delivery_.state() != nullptr) {
      if (auto count = delivery_.state()->countDeadLetters(d.name)) o["dead_letters"] = *count;
    }
    destinations.push_back(std::move(o));
  }
  root["destinations"] = std::move(destinations);
  json::array sources;
  {
    std::lock_guard lock(receivedMutex_);
    for (const auto& source : config.sources) {
      auto it = receivedBySource_.find(source.name);
      sources.push_back({{"name", source.name},
                         {"received", it == receivedBySource_.end() ? uint64_t{0} : it->second}});
    }
    root["received_since_ms"] = countingSinceMs_;
  }
  root["sources"] = std::move(sources);
  return json::serialize(root);
}

std::optional<std::string> Dashboard::seriesJson(std::string_view name, EpochMs sinceMs) {
  if (!destination(name)) return std::nullopt;
  sampleNow();
  const EpochMs now = clock_.nowMs();
  ThroughputSeries series = history_.series(name, sinceMs, now);
  json::object root;
  root["destination"] = name;
  root["minute_ms"] = kMinuteMs;
  json::array minutes;
  for (EpochMs m : series.minutes) minutes.push_back(m);
  root["minutes"] = std::move(minutes);
  json::array events;
  for (const auto& [event, counts] : series.byEventName) {
    json::array mapped, delivered, dead;
    for (const MinuteCounts& c : counts) {
      mapped.push_back(c.mapped);
      delivered.push_back(c.delivered);
      dead.push_back(c.dead);
    }
    events.push_back({{"event", event},
                      {"mapped", std::move(mapped)},
                      {"delivered", std::move(delivered)},
                      {"dead", std::move(dead)}});
  }
  root["series"] = std::move(events);
  json::array retries;
  for (uint64_t r : series.retryReplies) retries.push_back(r);
  root["retry_replies"] = std::move(retries);
  return json::serialize(root);
}

std::string Dashboard::retriesJson() const {
  json::array jobs;
  if (retrier_) {
    for (const RetryJob& job : retrier_->jobs()) jobs.push_back(jobJson(job));
  }
  json::object root;
  root["jobs"] = std::move(jobs);
  return json::serialize(root);
}

const std::vector<std::string>& Dashboard::routes() {
  static const std::vector<std::string> kRoutes = {
      "/",           "/dashboard.js",  "/dashboard.css", "/login.js",    "/api/summary",
      "/api/alerts", "/api/incidents", "/api/config",    "/api/retries", "/api/login",
      "/api/logout"};
  return kRoutes;
}

bool Dashboard::handles(std::string_view path) {
  if (path.substr(0, kDestinationsPrefix.size()) == kDestinationsPrefix) return true;
  for (const auto& route : routes()) {
    if (route == path) return true;
  }
  return false;
}

void Dashboard::handle(http::Request&& request, http::Responder respond) {
  http::Response response = route(request);
  securityHeaders(response);
  respond(std::move(response));
}

http::Response Dashboard::route(const http::Request& request) {
  const std::string& path = request.path;
  std::string adminToken;
  {
    std::lock_guard lock(configMutex_);
    adminToken = config_.server.adminToken;
  }
  // The stylesheet and the login script hold no data: the login page needs them.
  if (path == "/dashboard.css" || path == "/login.js") {
    return fileReply(200, path.substr(1));
  }
  if (path == "/api/login") {
    if (request.method != "POST") return methodNotAllowed("POST");
    return login(request);
  }
  if (path == "/api/logout") {
    if (request.method != "POST") return methodNotAllowed("POST");
    auto response = jsonReply(200, R"({"success":true})");
    response.headers.emplace_back(
        "Set-Cookie",
        std::string(http::kAdminCookie) + "=; Path=/; Max-Age=0; HttpOnly; SameSite=Strict");
    return response;
  }
  if (path == "/") {
    if (request.method != "GET" && request.method != "HEAD") return methodNotAllowed("GET");
    auto denied = http::adminCheck(request, adminToken, throttle_);
    if (!denied) return fileReply(200, "index.html");
    return denied->status == 401 ? fileReply(401, "login.html") : std::move(*denied);
  }
  if (auto denied = http::adminCheck(request, adminToken, throttle_)) return std::move(*denied);
  if (path == "/dashboard.js") return fileReply(200, "dashboard.js");
  if (path.substr(0, kDestinationsPrefix.size()) == kDestinationsPrefix) {
    return destinationRoute(request);
  }
  if (request.method != "GET") return methodNotAllowed("GET");
  if (path == "/api/summary") return jsonReply(200, summaryJson());
  if (path == "/api/retries") return jsonReply(200, retriesJson());
  if (path == "/api/alerts") {
    return jsonReply(200, providers_.alertsJson ? providers_.alertsJson() : kEmptyList);
  }
  if (path == "/api/incidents") {
    return jsonReply(200, providers_.incidentsJson ? providers_.incidentsJson() : kEmptyList);
  }
  if (path == "/api/config") {
    std::lock_guard lock(configMutex_);
    return jsonReply(200, config::maskedSummary(config_));
  }
  return http::jsonError(404, "no such endpoint: " + path);
}

http::Response Dashboard::login(const http::Request& request) {
  std::string adminToken;
  {
    std::lock_guard lock(configMutex_);
    adminToken = config_.server.adminToken;
  }
  if (!isJsonContentType(request.header("content-type"))) {
    return http::jsonError(415, "send the token as application/json");
  }
  boost::system::error_code ec;
  json::value body = json::parse(request.body, ec);
  const json::value* token = nullptr;
  if (!ec && body.is_object()) token = body.as_object().if_contains("token");
  if (token == nullptr || !token->is_string()) {
    return http::jsonError(400, "expected {\"token\":\"...\"}");
  }
  const std::string typed(token->as_string());
  if (adminToken.empty()) return jsonReply(200, R"({"success":true,"required":false})");
  // A cookie value cannot hold these; such a token works only as an Authorization header (it is
  // refused without being compared, so the answer tells nothing).
  for (unsigned char c : typed) {
    if (c <= 0x20 || c >= 0x7f || c == ';' || c == ',' || c == '"' || c == '\\') {
      return http::adminUnauthorized();
    }
  }
  // The typed token is checked like a header from the same address, so it counts against the same
  // throttle (an address that failed too often is not even checked until its bucket refills).
  http::Request probe;
  probe.peerAddress = request.peerAddress;
  probe.headers.emplace_back("authorization", "Bearer " + typed);
  if (auto denied = http::adminCheck(probe, adminToken, throttle_)) return std::move(*denied);
  auto response = jsonReply(200, R"({"success":true,"required":true})");
  response.headers.emplace_back("Set-Cookie", std::string(http::kAdminCookie) + "=" + typed +
                                                  "; Path=/; HttpOnly; SameSite=Strict");
  return response;
}

http::Response Dashboard::destinationRoute(const http::Request& request) {
  // /api/destinations/NAME/series | /dlq | /dlq/retry
  std::string_view rest = std::string_view(request.path).substr(kDestinationsPrefix.size());
  const size_t slash = rest.find('/');
  if (slash == std::string_view::npos) return http::jsonError(404, "no such endpoint");
  const std::string name = percentDecode(rest.substr(0, slash));
  const std::string_view what = rest.substr(slash + 1);
  auto found = destination(name);
  if (!found) return http::jsonError(404, "no destination named '" + name + "'");
  if (what == "series") {
    if (request.method != "GET") return methodNotAllowed("GET");
    const EpochMs now = clock_.nowMs();
    EpochMs since = now - 60 * kMinuteMs;
    if (auto text = queryParam(request.query, "since"); text && !text->empty()) {
      auto parsed = parseTimeArgument(*text, now);
      if (!parsed) return http::jsonError(400, "since: expected a time (ISO-8601, epoch, -1h)");
      since = *parsed;
    }
    return jsonReply(200, *seriesJson(name, since));
  }
  if (what == "dlq") {
    if (request.method != "GET") return methodNotAllowed("GET");
    return deadLetters(*found, request);
  }
  if (what == "dlq/retry") {
    if (request.method != "POST") return methodNotAllowed("POST");
    return retry(*found, request);
  }
  return http::jsonError(404, "no such endpoint: " + request.path);
}

http::Response Dashboard::deadLetters(const config::DestinationConfig& destination,
                                      const http::Request& request) {
  store::DeliveryState* state = delivery_.state();
  if (state == nullptr) return http::jsonError(503, "delivery is not running");
  int64_t after = 0;
  size_t limit = kDefaultPageSize;
  if (auto text = queryParam(request.query, "after"); text && !text->empty()) {
    auto value = parseInt(*text);
    if (!value || *value < 0) return http::jsonError(400, "after: expected a dead letter id");
    after = *value;
  }
  if (auto text = queryParam(request.query, "limit"); text && !text->empty()) {
    auto value = parseInt(*text);
    if (!value || *value < 1) return http::jsonError(400, "limit: expected a positive number");
    limit = std::min<size_t>(static_cast<size_t>(*value), kMaxPageSize);
  }
  auto list = state->listDeadLetters(destination.name, limit + 1, after);
  if (!list) return http::jsonError(500, "dead letters: " + list.error().message);
  auto total = state->countDeadLetters(destination.name);
  const bool more = list->size() > limit;
  if (more) list->resize(limit);
  json::array items;
  for (const store::DeadLetter& d : *list) {
    auto [item, event] = parsedItem(d.itemJson);
    items.push_back({{"id", d.id},
                     {"seq", d.seq},
                     {"source", d.source},
                     {"message_id", d.messageId},
                     {"event", event},
                     {"event_time", formatIsoTime(d.eventTimeMs)},
                     {"event_time_ms", d.eventTimeMs},
                     {"received_at_ms", d.receivedAtMs},
                     {"created_at_ms", d.createdMs},
                     {"reason", d.reason},
                     {"code", d.code},
                     {"message", d.message},
                     {"item", std::move(item)}});
  }
  json::object root;
  root["destination"] = destination.name;
  root["total"] = total ? *total : uint64_t{0};
  root["items"] = std::move(items);
  root["next_after"] = more && !list->empty() ? json::value(list->back().id) : json::value(nullptr);
  return jsonValueReply(200, root);
}

http::Response Dashboard::retry(const config::DestinationConfig& destination,
                                const http::Request& request) {
  // JSON only: a cross-site form cannot send it without the browser asking first (CSRF).
  if (!isJsonContentType(request.header("content-type"))) {
    return http::jsonError(415, "send {\"ids\":[...]} or {\"all\":true} as application/json");
  }
  if (!retrier_) return http::jsonError(503, "the dashboard is not running");
  boost::system::error_code ec;
  json::value body = json::parse(request.body, ec);
  if (ec || !body.is_object()) return http::jsonError(400, "expected a JSON object");
  const json::object& o = body.as_object();
  bool all = false;
  if (const auto* value = o.if_contains("all")) {
    if (!value->is_bool()) return http::jsonError(400, "all: expected true or false");
    all = value->as_bool();
  }
  std::vector<int64_t> ids;
  if (const auto* value = o.if_contains("ids")) {
    if (!value->is_array()) return http::jsonError(400, "ids: expected an array of ids");
    for (const auto& id : value->as_array()) {
      if (!id.is_int64() && !id.is_uint64()) {
        return http::jsonError(400, "ids: expected an array of ids");
      }
      ids.push_back(id.to_number<int64_t>());
    }
  }
  if (!all && ids.empty()) return http::jsonError(400, "give \"ids\" or \"all\":true");
  auto job = retrier_->submit(destination, ids, all);
  if (!job) {
    const int status = job.error().code == ErrorCode::kNotFound      ? 404
                       : job.error().code == ErrorCode::kUnavailable ? 503
                                                                     : 500;
    return http::jsonError(status, job.error().message);
  }
  json::object root;
  root["success"] = true;
  root["queued"] = job->queued;
  root["job"] = jobJson(*job);
  return jsonValueReply(202, root);
}

void addDashboardRoutes(http::Router& router, std::function<Dashboard*()> target) {
  auto forward = [target](http::Request&& request, http::Responder respond) {
    Dashboard* dashboard = target();
    if (dashboard == nullptr) {
      return respond(http::jsonError(503, "the dashboard is not running"));
    }
    dashboard->handle(std::move(request), std::move(respond));
  };
  for (const auto& path : Dashboard::routes()) router.add(path, forward);
  // The router matches exact paths: /api/destinations/NAME/... go through the fallback, and
  // every other path to the fallback in place before.
  http::Handler previous = router.find("");
  router.setFallback([forward, previous](http::Request&& request, http::Responder respond) {
    if (std::string_view(request.path).substr(0, kDestinationsPrefix.size()) ==
        kDestinationsPrefix) {
      return forward(std::move(request), std::move(respond));
    }
    if (!previous) return respond(http::jsonError(404, "no such endpoint: " + request.path));
    previous(std::move(request), std::move(respond));
  });
}

}  // namespace sluice::ops::dashboard
