#include "ingest/api.h"

#include <algorithm>
#include <cctype>
#include <iterator>
#include <mutex>
#include <utility>

#include "core/json_text.h"
#include "ingest/auth.h"
#include "ingest/client_address.h"
#include "ingest/probe.h"
#include "ingest/request_parser.h"

namespace sluice::ingest {

namespace {

constexpr int64_t kDefaultRetryAfterSeconds = 5;
constexpr std::string_view kDefaultAllowedHeaders =
    "Authorization, Content-Type, Content-Encoding, X-Retry-Count, SentAt, AnonymousId";

// Serialises calls to an injected Random shared by the server's threads.
class LockedRandom final : public Random {
 public:
  LockedRandom(Random& inner, std::mutex& mutex) : inner_(inner), mutex_(mutex) {}
  uint64_t next() override {
    std::lock_guard lock(mutex_);
    return inner_.next();
  }

 private:
  Random& inner_;
  std::mutex& mutex_;
};

std::string lowerCase(std::string_view text) {
  std::string out(text);
  for (char& c : out) c = static_cast<char>(std::tolower(static_cast<unsigned char>(c)));
  return out;
}

// A header value echoed back (Origin, requested headers): printable ASCII only, bounded.
std::string safeHeaderValue(std::string_view text) {
  std::string out;
  for (char c : text.substr(0, 512)) {
    if (c >= 0x20 && c < 0x7F) out.push_back(c);
  }
  return out;
}

std::string_view routeLabel(Route route) {
  switch (route) {
    case Route::kBatch: return "batch";
    case Route::kWebhook: return "webhook";
    default: return routeEventType(route);
  }
}

// The media type of a Content-Type header, lower-cased, without parameters.
std::string mediaType(std::string_view contentType) {
  std::string_view type = contentType.substr(0, contentType.find(';'));
  while (!type.empty() && type.front() == ' ') type.remove_prefix(1);
  while (!type.empty() && type.back() == ' ') type.remove_suffix(1);
  return lowerCase(type);
}

// The value of `name` in a query string, percent-decoded, or empty.
std::string queryValue(std::string_view query, std::string_view name) {
  while (!query.empty()) {
    size_t amp = query.find('&');
    std::string_view pair = query.substr(0, amp);
    query = amp == std::string_view::npos ? std::string_view{} : query.substr(amp + 1);
    size_t eq = pair.find('=');
    if (pair.substr(0, eq) != name || eq == std::string_view::npos) continue;
    std::string value;
    std::string_view raw = pair.substr(eq + 1);
    auto hexValue = [](char c) -> int {
      if (c >= '0' && c <= '9') return c - '0';
      if (c >= 'a' && c <= 'f') return c - 'a' + 10;
      if (c >= 'A' && c <= 'F') return c - 'A' + 10;
      return -1;
    };
    for (size_t i = 0; i < raw.size(); ++i) {
      if (raw[i] == '%' && i + 2 < raw.size() && hexValue(raw[i + 1]) >= 0 &&
          hexValue(raw[i + 2]) >= 0) {
        value.push_back(static_cast<char>(hexValue(raw[i + 1]) * 16 + hexValue(raw[i + 2])));
        i += 2;
      } else {
        value.push_back(raw[i] == '+' ? ' ' : raw[i]);
      }
    }
    return value;
  }
  return {};
}

void appendRejected(std::string& body, const std::vector<RejectedEvent>& rejected) {
  body.append(",\"rejected\":[");
  for (size_t i = 0; i < rejected.size(); ++i) {
    if (i > 0) body.push_back(',');
    body.append("{\"index\":");
    body.append(std::to_string(rejected[i].index));
    body.append(",\"reason\":");
    appendJsonString(body, rejected[i].reason);
    body.push_back('}');
  }
  body.push_back(']');
}

}  // namespace

std::string_view rejectionKind(std::string_view reason) {
  // The parser's reasons (request_parser.cpp, EventProcessor::process); keep in step with them.
  auto has = [reason](std::string_view part) {
    return reason.find(part) != std::string_view::npos;
  };
  if (has("bytes; the limit is")) return "too_large";
  if (has("nested deeper")) return "too_deep";
  if (has("not a JSON object")) return "not_object";
  if (reason.rfind("missing ", 0) == 0 || has(" needs ")) return "missing_field";
  if (has(" must be ") || has("not a valid") || has("unknown type") || has("longer than")) {
    return "invalid_field";
  }
  return "other";
}

struct Api::Impl {
  Impl(const config::Config& config, store::EventLog& log, const Clock& clock, Random* random)
      : config(config),
        log(log),
        clock(clock),
        keys(config.sources),
        webhookHeader(lowerCase(config.server.webhookHeader)),
        random(random) {
    if (auto parsed = AddressSet::parse(config.server.trustedProxies)) trusted = std::move(*parsed);
  }

  // Answers and reports to the probe.
  struct Exchange {
    Route route;
    int64_t startNs;
    std::vector<std::pair<std::string, std::string>> cors;
    http::Responder respond;
  };

  // Answers once: the exchange's CORS headers are moved into the response.
  void finish(Exchange& exchange, http::Response response, size_t accepted, size_t rejected) {
    response.headers.insert(response.headers.end(), std::make_move_iterator(exchange.cors.begin()),
                            std::make_move_iterator(exchange.cors.end()));
    exchange.cors.clear();
    if (probe != nullptr) {
      probe->requestDone(routeLabel(exchange.route), response.status, accepted, rejected,
                         clock.monotonicNs() - exchange.startNs);
    }
    exchange.respond(std::move(response));
  }

  static http::Response errorResponse(int status, std::string_view message) {
    http::Response response;
    response.status = status;
    response.body = "{\"success\":false,\"error\":";
    appendJsonString(response.body, message);
    response.body.push_back('}');
    return response;
  }

  static http::Response unavailable(std::string_view message, int64_t retryAfterMs) {
    http::Response response = errorResponse(503, message);
    int64_t seconds = retryAfterMs > 0 ? (retryAfterMs + 999) / 1000 : kDefaultRetryAfterSeconds;
    response.headers.emplace_back("Retry-After", std::to_string(std::max<int64_t>(1, seconds)));
    return response;
  }

  // Keeps a request that could not be parsed at all (its source is known), then answers 400.
  void quarantineRequest(Exchange exchange, size_t source, EpochMs receivedAtMs,
                         std::string reason, std::string_view body) {
    store::AppendRequest request;
    request.rejected.push_back(store::QuarantinedEvent{
        0, config.sources[source].name, receivedAtMs, reason,
        boundedText(redact(body, config.sources[source].writeKey), kMaxQuarantinePayloadBytes)});
    http::Response response = errorResponse(400, reason);
    if (!log.writeHealth().writable) {
      reportEvents(source, 0, 0, {kRejectedMalformedRequest});
      finish(exchange, std::move(response), 0, 1);
      return;
    }
    auto shared = std::make_shared<Exchange>(std::move(exchange));
    log.append(std::move(request), [this, shared, source, response = std::move(response)](
                                       Result<store::AppendOutcome>) mutable {
      reportEvents(source, 0, 0, {kRejectedMalformedRequest});
      finish(*shared, std::move(response), 0, 1);
    });
  }

  // Tells the probe (if any) the fate of one request's events from `source`.
  void reportEvents(size_t source, size_t stored, size_t duplicates,
                    const std::vector<std::string_view>& rejectedKinds) {
    if (probe != nullptr) {
      probe->eventsDone(config.sources[source].name, stored, duplicates, rejectedKinds);
    }
  }

  // `text` with every occurrence of the write key replaced, so no secret is kept in quarantine.
  static std::string redact(std::string_view text, std::string_view key) {
    std::string out(text.substr(0, kMaxQuarantinePayloadBytes + key.size()));
    if (key.empty()) return out;
    for (size_t at = out.find(key); at != std::string::npos; at = out.find(key, at + 10)) {
      out.replace(at, key.size(), "[redacted]");
    }
    return out;
  }

  void handle(http::Request&& request, http::Responder respond) {
    Exchange exchange{Route::kTrack, clock.monotonicNs(), {}, std::move(respond)};
    std::string_view origin = request.header("origin");
    if (!origin.empty()) {
      exchange.cors.emplace_back("Access-Control-Allow-Origin", safeHeaderValue(origin));
      exchange.cors.emplace_back("Access-Control-Allow-Credentials", "true");
      exchange.cors.emplace_back("Vary", "Origin");
    } else {
      exchange.cors.emplace_back("Access-Control-Allow-Origin", "*");
    }

    auto route = routeForPath(request.path);
    if (!route) {
      finish(exchange, errorResponse(404, "no such ingestion route"), 0, 0);
      return;
    }
    exchange.route = *route;
    if (request.method == "OPTIONS") {
      http::Response response;
      response.status = 204;
      response.contentType = "text/plain";
      std::string_view asked = request.header("access-control-request-headers");
      response.headers.emplace_back("Access-Control-Allow-Methods", "POST, OPTIONS");
      response.headers.emplace_back(
          "Access-Control-Allow-Headers",
          asked.empty() ? std::string(kDefaultAllowedHeaders) : safeHeaderValue(asked));
      response.headers.emplace_back("Access-Control-Max-Age", "86400");
      finish(exchange, std::move(response), 0, 0);
      return;
    }
    if (request.method != "POST") {
      http::Response response = errorResponse(405, "use POST");
      response.headers.emplace_back("Allow", "POST, OPTIONS");
      finish(exchange, std::move(response), 0, 0);
      return;
    }

    // Credentials carried outside the body: the webhook header, Basic auth, the beacon query.
    std::string presented;
    if (*route == Route::kWebhook) presented = std::string(request.header(webhookHeader));
    if (presented.empty()) {
      std::string_view authorization = request.header("authorization");
      if (!authorization.empty()) {
        auto user = basicAuthUser(authorization);
        if (!user) {
          finish(exchange,
                 errorResponse(401, "malformed Authorization header: use Basic with the write key "
                                    "as user name"),
                 0, 0);
          return;
        }
        presented = std::move(*user);
      }
    }
    if (presented.empty() && isBeaconPath(request.path)) {
      presented = queryValue(request.query, "writeKey");
    }
    std::optional<size_t> source;
    if (!presented.empty()) {
      source = keys.match(presented);
      if (!source) {
        finish(exchange, errorResponse(401, "invalid write key"), 0, 0);
        return;
      }
    }

    std::string media = mediaType(request.header("content-type"));
    if (!media.empty() && media != "application/json" && media != "text/plain") {
      finish(exchange,
             errorResponse(415, "unsupported Content-Type (use application/json or text/plain)"),
             0, 0);
      return;
    }

    const EpochMs receivedAtMs = clock.nowMs();
    std::string body;
    std::string_view encoding = request.header("content-encoding");
    std::string lowerEncoding = lowerCase(encoding);
    if (lowerEncoding.empty() || lowerEncoding == "identity") {
      body = std::move(request.body);
    } else {
      auto decoded = decodeBody(request.body, encoding, kMaxRequestBytes);
      if (!decoded) {
        if (decoded.error().code == ErrorCode::kNotFound) {
          finish(exchange, errorResponse(415, decoded.error().message), 0, 0);
        } else if (source) {
          quarantineRequest(std::move(exchange), *source, receivedAtMs, decoded.error().message,
                            request.body);
        } else {
          finish(exchange, errorResponse(400, decoded.error().message), 0, 0);
        }
        return;
      }
      body = std::move(*decoded);
    }

    std::string ip =
        clientAddress(request.peerAddress, request.header("x-forwarded-for"), trusted);
    thread_local DefaultRandom threadRandom;
    LockedRandom locked(random != nullptr ? *random : threadRandom, randomMutex);
    Random& idSource = random != nullptr ? static_cast<Random&>(locked) : threadRandom;
    ParseContext context{*route, receivedAtMs, ip, &idSource};
    auto parsed = parseRequest(body, context);
    if (!parsed) {
      if (source) {
        quarantineRequest(std::move(exchange), *source, receivedAtMs, parsed.error().message,
                          body);
      } else {
        finish(exchange, errorResponse(400, parsed.error().message), 0, 0);
      }
      return;
    }
    if (!source) {
      if (parsed->writeKey.empty()) {
        finish(exchange,
               errorResponse(401, "missing write key (HTTP Basic user name or 'writeKey')"), 0, 0);
        return;
      }
      source = keys.match(parsed->writeKey);
      if (!source) {
        finish(exchange, errorResponse(401, "invalid write key"), 0, 0);
        return;
      }
    }
    store(std::move(exchange), *source, receivedAtMs, std::move(*parsed));
  }

  void store(Exchange exchange, size_t source, EpochMs receivedAtMs, ParsedRequest parsed) {
    const bool single = exchange.route != Route::kBatch;
    const size_t accepted = parsed.events.size();
    const size_t rejected = parsed.rejected.size();

    http::Response response;
    if (accepted == 0 && rejected > 0) {
      const RejectedEvent& first = parsed.rejected.front();
      response = errorResponse(400, first.reason);
      if (!single) {
        response.body.pop_back();
        response.body.append(",\"index\":" + std::to_string(first.index));
        appendRejected(response.body, parsed.rejected);
        response.body.push_back('}');
      }
    } else if (single) {
      response.body = "{\"success\":true}";
    } else {
      response.body = "{\"success\":true,\"accepted\":" + std::to_string(accepted);
      if (rejected > 0) appendRejected(response.body, parsed.rejected);
      response.body.push_back('}');
    }
    if (accepted == 0 && rejected == 0) {
      finish(exchange, std::move(response), 0, 0);
      return;
    }

    store::WriteHealth health = log.writeHealth();
    if (!health.writable) {
      reportEvents(source, 0, 0,
                   std::vector<std::string_view>(accepted + rejected, kRejectedStoreUnavailable));
      finish(exchange,
             unavailable("the event log cannot take writes now; retry later",
                         health.retryAfterMs),
             0, 0);
      return;
    }

    const std::string& sourceName = config.sources[source].name;
    store::AppendRequest append;
    append.events.reserve(accepted);
    for (auto& event : parsed.events) {
      append.events.push_back(store::NewEvent{sourceName, std::move(event.messageId),
                                              std::move(event.type), std::move(event.name),
                                              receivedAtMs, event.timestampMs,
                                              std::move(event.json)});
    }
    std::vector<std::string_view> rejectedKinds;
    if (probe != nullptr) {
      rejectedKinds.reserve(rejected);
      for (const auto& reject : parsed.rejected) {
        rejectedKinds.push_back(rejectionKind(reject.reason));
      }
    }
    append.rejected.reserve(rejected);
    for (auto& reject : parsed.rejected) {
      std::string reason = single ? reject.reason
                                  : "batch index " + std::to_string(reject.index) + ": " +
                                        reject.reason;
      append.rejected.push_back(store::QuarantinedEvent{0, sourceName, receivedAtMs,
                                                        std::move(reason),
                                                        std::move(reject.payload)});
    }
    auto shared = std::make_shared<Exchange>(std::move(exchange));
    log.append(std::move(append), [this, shared, source, response = std::move(response), accepted,
                                   rejected, rejectedKinds = std::move(rejectedKinds)](
                                      Result<store::AppendOutcome> outcome) mutable {
      if (!outcome && response.status == 200) {
        // Nothing of this request is stored: the client must retry.
        reportEvents(source, 0, 0,
                     std::vector<std::string_view>(accepted + rejected, kRejectedStoreUnavailable));
        finish(*shared,
               unavailable("the event log could not store the events; retry later", 0), 0, 0);
        return;
      }
      reportEvents(source, outcome ? outcome->stored : 0, outcome ? outcome->duplicates : 0,
                   rejectedKinds);
      finish(*shared, std::move(response), accepted, rejected);
    });
  }

  const config::Config config;
  store::EventLog& log;
  const Clock& clock;
  KeyMatcher keys;
  AddressSet trusted;
  std::string webhookHeader;
  Random* random;
  std::mutex randomMutex;
  IngestProbe* probe = nullptr;
};

Api::Api(const config::Config& config, store::EventLog& log, const Clock& clock, Random* random)
    : impl_(std::make_unique<Impl>(config, log, clock, random)) {}

Api::~Api() = default;

void Api::setProbe(IngestProbe* probe) { impl_->probe = probe; }

bool Api::handles(std::string_view method, std::string_view path) const {
  return (method == "POST" || method == "OPTIONS") && routeForPath(path).has_value();
}

void Api::handle(http::Request&& request, http::Responder respond) {
  impl_->handle(std::move(request), std::move(respond));
}

}  // namespace sluice::ingest
