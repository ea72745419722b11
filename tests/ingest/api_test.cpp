#include "ingest/api.h"

#include <zlib.h>

#include <atomic>
#include <boost/json.hpp>
#include <chrono>
#include <gmock/gmock.h>
#include <gtest/gtest.h>
#include <optional>
#include <thread>

#include "ingest/auth.h"
#include "ingest/client_address.h"
#include "ingest/fake_event_log.h"
#include "ingest/probe.h"

namespace sluice::ingest {
namespace {

namespace json = boost::json;
using ::testing::HasSubstr;

constexpr std::string_view kWebKey = "web-write-key-123";
constexpr std::string_view kServerKey = "server-write-key-456";

std::string base64(std::string_view text) {
  static constexpr char kAlphabet[] =
      "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";
  std::string out;
  size_t i = 0;
  for (; i + 2 < text.size(); i += 3) {
    uint32_t n = (uint8_t(text[i]) << 16) | (uint8_t(text[i + 1]) << 8) | uint8_t(text[i + 2]);
    for (int shift : {18, 12, 6, 0}) out.push_back(kAlphabet[(n >> shift) & 63]);
  }
  if (i + 1 == text.size()) {
    uint32_t n = uint8_t(text[i]) << 16;
    out += {kAlphabet[(n >> 18) & 63], kAlphabet[(n >> 12) & 63], '=', '='};
  } else if (i + 2 == text.size()) {
    uint32_t n = (uint8_t(text[i]) << 16) | (uint8_t(text[i + 1]) << 8);
    out += {kAlphabet[(n >> 18) & 63], kAlphabet[(n >> 12) & 63], kAlphabet[(n >> 6) & 63], '='};
  }
  return out;
}

std::string basic(std::string_view key) { return "Basic " + base64(std::string(key) + ":"); }

std::string gzip(std::string_view data) {
  z_stream stream{};
  deflateInit2(&stream, Z_DEFAULT_COMPRESSION, Z_DEFLATED, 15 + 16, 8, Z_DEFAULT_STRATEGY);
  std::string out(deflateBound(&stream, data.size()) + 64, '\0');
  stream.next_in = reinterpret_cast<Bytef*>(const_cast<char*>(data.data()));
  stream.avail_in = static_cast<uInt>(data.size());
  stream.next_out = reinterpret_cast<Bytef*>(out.data());
  stream.avail_out = static_cast<uInt>(out.size());
  deflate(&stream, Z_FINISH);
  out.resize(stream.total_out);
  deflateEnd(&stream);
  return out;
}

std::string headerOf(const http::Response& response, std::string_view name) {
  for (const auto& [key, value] : response.headers) {
    if (key == name) return value;
  }
  return {};
}

class RecordingProbe final : public IngestProbe {
 public:
  void requestDone(std::string_view route, int status, size_t accepted, size_t rejected,
                   int64_t) override {
    std::lock_guard lock(mutex_);
    last = std::string(route) + " " + std::to_string(status) + " " + std::to_string(accepted) +
           " " + std::to_string(rejected);
  }
  void eventsDone(std::string_view source, size_t stored, size_t duplicates,
                  const std::vector<std::string_view>& rejectedKinds) override {
    std::lock_guard lock(mutex_);
    events = std::string(source) + " " + std::to_string(stored) + " " + std::to_string(duplicates);
    for (auto kind : rejectedKinds) events += " " + std::string(kind);
  }
  std::string last;
  std::string events;  // the last eventsDone(): "source stored duplicates kind..."

 private:
  std::mutex mutex_;
};

class ApiTest : public ::testing::Test {
 protected:
  ApiTest() {
    config_.sources.push_back(config::SourceConfig{"web", std::string(kWebKey), {}});
    config_.sources.push_back(config::SourceConfig{"server", std::string(kServerKey), {}});
    config_.server.trustedProxies = {"10.0.0.0/8", "fd00::/8"};
    config_.server.webhookHeader = "X-Sluice-Write-Key";
    api_ = std::make_unique<Api>(config_, log_, clock_, &random_);
    api_->setProbe(&probe_);
  }

  http::Request request(std::string path, std::string body,
                        std::vector<std::pair<std::string, std::string>> headers = {}) {
    http::Request request;
    request.method = "POST";
    request.target = path;
    if (auto q = path.find('?'); q != std::string::npos) {
      request.query = path.substr(q + 1);
      path.resize(q);
    }
    request.path = path;
    request.body = std::move(body);
    request.headers = std::move(headers);
    request.peerAddress = "198.51.100.7";
    return request;
  }

  // Sends a request and returns the response, which must have been given synchronously.
  http::Response send(http::Request request) {
    std::optional<http::Response> answer;
    api_->handle(std::move(request), [&](http::Response response) { answer = std::move(response); });
    EXPECT_TRUE(answer.has_value());
    return answer.value_or(http::Response{});
  }
  http::Response post(std::string path, std::string body, std::string_view key = kWebKey) {
    return send(request(std::move(path), std::move(body), {{"authorization", basic(key)}}));
  }

  static json::object body(const http::Response& response) {
    return json::parse(response.body).as_object();
  }

  config::Config config_;
  testing::FakeEventLog log_;
  FakeClock clock_{1'717'243'230'000};
  testing::CountingRandom random_;
  RecordingProbe probe_;
  std::unique_ptr<Api> api_;
};

TEST_F(ApiTest, HandlesIngestionRoutesOnly) {
  EXPECT_TRUE(api_->handles("POST", "/v1/track"));
  EXPECT_TRUE(api_->handles("POST", "/v1/t"));
  EXPECT_TRUE(api_->handles("OPTIONS", "/v1/b"));
  EXPECT_TRUE(api_->handles("POST", "/v1/webhook"));
  EXPECT_FALSE(api_->handles("GET", "/v1/track"));
  EXPECT_FALSE(api_->handles("POST", "/healthz"));
}

TEST_F(ApiTest, TrackWithBasicAuthIsStored) {
  auto response = post("/v1/track", R"({"event":"Signed Up","userId":"u1"})");
  EXPECT_EQ(response.status, 200);
  EXPECT_EQ(response.body, R"({"success":true})");
  EXPECT_EQ(response.contentType, "application/json");
  auto events = log_.events();
  ASSERT_EQ(events.size(), 1u);
  EXPECT_EQ(events[0].source, "web");
  EXPECT_EQ(events[0].type, "track");
  EXPECT_EQ(events[0].name, "Signed Up");
  EXPECT_EQ(events[0].receivedAtMs, 1'717'243'230'000);
  auto event = json::parse(events[0].json).as_object();
  EXPECT_EQ(event.at("context").at("ip"), "198.51.100.7");
  EXPECT_EQ(event.at("messageId").as_string(), events[0].messageId.c_str());
  EXPECT_EQ(probe_.last, "track 200 1 0");
}

TEST_F(ApiTest, EveryShortPathOfTheBrowserLibrary) {
  struct Case {
    std::string path, body, type;
  };
  for (const auto& c : std::vector<Case>{
           {"/v1/t", R"({"event":"E","anonymousId":"a"})", "track"},
           {"/v1/p", R"({"anonymousId":"a","name":"Home"})", "page"},
           {"/v1/i", R"({"userId":"u","traits":{}})", "identify"},
           {"/v1/s", R"({"anonymousId":"a"})", "screen"},
           {"/v1/g", R"({"userId":"u","groupId":"g"})", "group"},
           {"/v1/a", R"({"userId":"u","previousId":"p"})", "alias"}}) {
    // analytics-next sends text/plain with the write key both in Basic auth and the body.
    std::string body = c.body;
    body.insert(1, "\"writeKey\":\"" + std::string(kWebKey) + "\",");
    auto response = send(request(c.path, body,
                                 {{"content-type", "text/plain"},
                                  {"authorization", basic(kWebKey)}}));
    EXPECT_EQ(response.status, 200) << c.path << " " << response.body;
    ASSERT_FALSE(log_.events().empty());
    EXPECT_EQ(log_.events().back().type, c.type);
    EXPECT_EQ(log_.events().back().json.find(kWebKey), std::string::npos);
  }
}

TEST_F(ApiTest, WriteKeyInTheBody) {
  auto response = send(request("/v1/batch",
                               R"({"writeKey":"server-write-key-456","batch":[)"
                               R"({"type":"track","event":"E","userId":"u"}]})",
                               {{"content-type", "application/json;charset=UTF-8"}}));
  EXPECT_EQ(response.status, 200) << response.body;
  EXPECT_EQ(response.body, R"({"success":true,"accepted":1})");
  ASSERT_EQ(log_.events().size(), 1u);
  EXPECT_EQ(log_.events()[0].source, "server");
}

TEST_F(ApiTest, WrongOrMissingKeyIs401) {
  auto wrong = post("/v1/track", R"({"event":"E","userId":"u"})", "nope");
  EXPECT_EQ(wrong.status, 401);
  EXPECT_EQ(body(wrong).at("success"), false);
  EXPECT_EQ(body(wrong).at("error"), "invalid write key");
  auto missing = send(request("/v1/track", R"({"event":"E","userId":"u"})"));
  EXPECT_EQ(missing.status, 401);
  EXPECT_THAT(missing.body, HasSubstr("missing write key"));
  auto wrongBody = send(request("/v1/track", R"({"event":"E","userId":"u","writeKey":"x"})"));
  EXPECT_EQ(wrongBody.status, 401);
  auto malformed =
      send(request("/v1/track", R"({"event":"E","userId":"u"})", {{"authorization", "Bearer x"}}));
  EXPECT_EQ(malformed.status, 401);
  // A wrong Basic key is not rescued by a right key in the body.
  auto mixed = send(request("/v1/track",
                            R"({"event":"E","userId":"u","writeKey":"web-write-key-123"})",
                            {{"authorization", basic("wrong")}}));
  EXPECT_EQ(mixed.status, 401);
  EXPECT_TRUE(log_.events().empty());
  EXPECT_TRUE(log_.quarantine().empty());
  EXPECT_EQ(wrong.body.find(kWebKey), std::string::npos);
}

TEST_F(ApiTest, WebhookTakesOneEventOfAnyTypeWithTheConfiguredHeader) {
  auto response = send(request("/v1/webhook",
                               R"({"type":"identify","userId":"u","messageId":"seg-9"})",
                               {{"x-sluice-write-key", std::string(kServerKey)}}));
  EXPECT_EQ(response.status, 200) << response.body;
  ASSERT_EQ(log_.events().size(), 1u);
  EXPECT_EQ(log_.events()[0].source, "server");
  EXPECT_EQ(log_.events()[0].messageId, "seg-9");
  EXPECT_EQ(log_.events()[0].type, "identify");
  // Basic auth works there too; the header elsewhere is not a credential.
  EXPECT_EQ(post("/v1/webhook", R"({"type":"page","anonymousId":"a"})").status, 200);
  EXPECT_EQ(send(request("/v1/track", R"({"event":"E","userId":"u"})",
                         {{"x-sluice-write-key", std::string(kServerKey)}}))
                .status,
            401);
  EXPECT_EQ(send(request("/v1/webhook", R"({"type":"page","anonymousId":"a"})",
                         {{"x-sluice-write-key", "bad"}}))
                .status,
            401);
  auto noType = post("/v1/webhook", R"({"userId":"u"})");
  EXPECT_EQ(noType.status, 400);
  EXPECT_EQ(body(noType).at("error"), "missing 'type'");
}

TEST_F(ApiTest, RudderStackBeaconCarriesTheKeyInTheQuery) {
  auto response = send(request("/beacon/v1/batch?writeKey=web-write-key-123",
                               R"({"batch":[{"type":"track","event":"E","anonymousId":"a"}],)"
                               R"("sentAt":"2024-06-01T12:00:30.000Z"})",
                               {{"content-type", "text/plain;charset=UTF-8"}}));
  EXPECT_EQ(response.status, 200) << response.body;
  // Not on other routes.
  EXPECT_EQ(send(request("/v1/batch?writeKey=web-write-key-123",
                         R"({"batch":[{"type":"track","event":"E","anonymousId":"a"}]})"))
                .status,
            401);
}

TEST_F(ApiTest, ContentTypes) {
  auto html = send(request("/v1/track", R"({"event":"E","userId":"u"})",
                           {{"authorization", basic(kWebKey)}, {"content-type", "text/html"}}));
  EXPECT_EQ(html.status, 415);
  EXPECT_EQ(send(request("/v1/track", R"({"event":"E","userId":"u"})",
                         {{"authorization", basic(kWebKey)}, {"content-type", "Application/JSON"}}))
                .status,
            200);
}

TEST_F(ApiTest, GzipBodies) {
  auto ok = send(request("/v1/track", gzip(R"({"event":"E","userId":"u"})"),
                         {{"authorization", basic(kWebKey)}, {"content-encoding", "gzip"}}));
  EXPECT_EQ(ok.status, 200) << ok.body;
  // A gzip header (with its NUL flags byte), then bytes that are not deflate data.
  const std::string garbage("\x1f\x8b\x08\x00garbage", 11);
  auto corrupt = send(request("/v1/track", garbage,
                              {{"authorization", basic(kWebKey)}, {"content-encoding", "gzip"}}));
  EXPECT_EQ(corrupt.status, 400);
  EXPECT_THAT(body(corrupt).at("error").as_string().c_str(), HasSubstr("invalid gzip"));
  auto bomb = send(request("/v1/track", gzip(std::string(20 << 20, ' ')),
                           {{"authorization", basic(kWebKey)}, {"content-encoding", "gzip"}}));
  EXPECT_EQ(bomb.status, 400);
  EXPECT_THAT(bomb.body, HasSubstr("after decompression"));
  auto brotli = send(request("/v1/track", "x",
                             {{"authorization", basic(kWebKey)}, {"content-encoding", "br"}}));
  EXPECT_EQ(brotli.status, 415);
  EXPECT_EQ(log_.events().size(), 1u);
  ASSERT_EQ(log_.quarantine().size(), 2u);  // the corrupt body and the bomb
  // Kept as sent, its invalid UTF-8 (0x8b) replaced.
  EXPECT_EQ(log_.quarantine()[0].payload, std::string("\x1f\xef\xbf\xbd\x08\x00garbage", 13));
}

TEST_F(ApiTest, PartialBatchIsStoredAndTheRestQuarantined) {
  auto response = post("/v1/batch",
                       R"({"batch":[{"type":"track","event":"A","userId":"u"},)"
                       R"({"type":"track","userId":"u","writeKey":"web-write-key-123"},)"
                       R"({"type":"identify","userId":"u"},{"type":"bogus","userId":"u"}]})");
  EXPECT_EQ(response.status, 200);
  auto reply = body(response);
  EXPECT_EQ(reply.at("success"), true);
  EXPECT_EQ(reply.at("accepted"), 2);
  auto rejected = reply.at("rejected").as_array();
  ASSERT_EQ(rejected.size(), 2u);
  EXPECT_EQ(rejected[0].at("index"), 1);
  EXPECT_EQ(rejected[0].at("reason"), "track needs 'event' (a non-empty string)");
  EXPECT_EQ(rejected[1].at("index"), 3);
  EXPECT_EQ(rejected[1].at("reason"), "unknown type 'bogus'");
  EXPECT_EQ(log_.events().size(), 2u);
  auto quarantine = log_.quarantine();
  ASSERT_EQ(quarantine.size(), 2u);
  EXPECT_EQ(quarantine[0].source, "web");
  EXPECT_EQ(quarantine[0].reason, "batch index 1: track needs 'event' (a non-empty string)");
  EXPECT_EQ(quarantine[0].payload, R"({"type":"track","userId":"u"})");
  EXPECT_EQ(quarantine[1].payload, R"({"type":"bogus","userId":"u"})");
  EXPECT_EQ(probe_.last, "batch 200 2 2");
  EXPECT_EQ(probe_.events, "web 2 0 missing_field invalid_field");
}

TEST_F(ApiTest, ProbeHearsTheFateOfEventsBySource) {
  post("/v1/track", R"({"event":"E","userId":"u"})", kServerKey);
  EXPECT_EQ(probe_.events, "server 1 0");
  post("/v1/track", R"({"event":"E","writeKey":"x","userId")");
  EXPECT_EQ(probe_.events, "web 0 0 malformed_request");
  probe_.events.clear();
  EXPECT_EQ(send(request("/v1/track", R"({"event":"E","userId":"u"})")).status, 401);
  EXPECT_EQ(probe_.events, "");  // no source known
  log_.setHealth(store::WriteHealth{false, "disk below the free-space floor", 30'000});
  post("/v1/batch", R"({"batch":[{"type":"track","event":"A","userId":"u"},5]})");
  EXPECT_EQ(probe_.events, "web 0 0 store_unavailable store_unavailable");
  log_.setHealth(store::WriteHealth{});
  log_.setFailure(Error{ErrorCode::kIo, "fsync failed"});
  post("/v1/track", R"({"event":"E","userId":"u"})");
  EXPECT_EQ(probe_.events, "web 0 0 store_unavailable");
}

TEST(RejectionKindTest, BoundedKindsOfTheParsersReasons) {
  EXPECT_EQ(rejectionKind("event is 32769 bytes; the limit is 32768"), "too_large");
  EXPECT_EQ(rejectionKind("nested deeper than 64 levels"), "too_deep");
  EXPECT_EQ(rejectionKind("event is not a JSON object"), "not_object");
  EXPECT_EQ(rejectionKind("missing 'userId' or 'anonymousId'"), "missing_field");
  EXPECT_EQ(rejectionKind("alias needs 'previousId'"), "missing_field");
  EXPECT_EQ(rejectionKind("'userId' must be a string or a number"), "invalid_field");
  EXPECT_EQ(rejectionKind("'timestamp' is not a valid date"), "invalid_field");
  EXPECT_EQ(rejectionKind("unknown type 'bogus'"), "invalid_field");
  EXPECT_EQ(rejectionKind("'messageId' longer than 1024 bytes"), "invalid_field");
  EXPECT_EQ(rejectionKind("something new"), "other");
}

TEST_F(ApiTest, EntirelyInvalidBatchIs400WithIndex) {
  auto response = post("/v1/batch", R"({"batch":[{"type":"track","event":"A"},5]})");
  EXPECT_EQ(response.status, 400);
  auto reply = body(response);
  EXPECT_EQ(reply.at("success"), false);
  EXPECT_EQ(reply.at("error"), "missing 'userId' or 'anonymousId'");
  EXPECT_EQ(reply.at("index"), 0);
  EXPECT_EQ(reply.at("rejected").as_array().size(), 2u);
  EXPECT_EQ(log_.quarantine().size(), 2u);
  EXPECT_TRUE(log_.events().empty());
}

TEST_F(ApiTest, InvalidSingleEventIs400AndQuarantined) {
  auto response = post("/v1/track", R"({"userId":"u"})");
  EXPECT_EQ(response.status, 400);
  EXPECT_EQ(response.body,
            R"J({"success":false,"error":"track needs 'event' (a non-empty string)"})J");
  ASSERT_EQ(log_.quarantine().size(), 1u);
  EXPECT_EQ(log_.quarantine()[0].reason, "track needs 'event' (a non-empty string)");
}

TEST_F(ApiTest, UnparseableBodyIsQuarantinedWhenTheSourceIsKnown) {
  auto response = post("/v1/track", R"({"event":"E","writeKey":"web-write-key-123","userId")");
  EXPECT_EQ(response.status, 400);
  EXPECT_THAT(body(response).at("error").as_string().c_str(), HasSubstr("invalid JSON"));
  ASSERT_EQ(log_.quarantine().size(), 1u);
  EXPECT_THAT(log_.quarantine()[0].reason, HasSubstr("invalid JSON"));
  // The raw body is kept, with the write key redacted.
  EXPECT_EQ(log_.quarantine()[0].payload, R"({"event":"E","writeKey":"[redacted]","userId")");
  // Without a credential outside the body there is no source: 400, nothing kept.
  auto anonymous = send(request("/v1/track", "{oops"));
  EXPECT_EQ(anonymous.status, 400);
  EXPECT_EQ(log_.quarantine().size(), 1u);
  auto badUtf8 = post("/v1/track", "{\"event\":\"\xff\",\"userId\":\"u\"}");
  EXPECT_EQ(badUtf8.status, 400);
  EXPECT_EQ(body(badUtf8).at("error"), "body is not valid UTF-8");
  EXPECT_EQ(log_.quarantine()[1].payload, "{\"event\":\"\xEF\xBF\xBD\",\"userId\":\"u\"}");
}

TEST_F(ApiTest, LimitsAnswer400) {
  std::string tooMany = R"({"batch":[)";
  for (int i = 0; i < 2501; ++i) tooMany += (i ? "," : "") + std::string(R"({"type":"x"})");
  tooMany += "]}";
  auto response = post("/v1/batch", tooMany);
  EXPECT_EQ(response.status, 400);
  EXPECT_EQ(body(response).at("error"), "batch has 2501 events; the limit is 2500");
  std::string huge = R"({"event":"E","userId":"u","p":")" + std::string(600'000, 'x') + "\"}";
  auto big = post("/v1/track", huge);
  EXPECT_EQ(big.status, 400);
  EXPECT_THAT(big.body, HasSubstr("the limit is 512000"));
  EXPECT_EQ(log_.quarantine().size(), 2u);
  EXPECT_LE(log_.quarantine()[1].payload.size(), 64u << 10);
}

TEST_F(ApiTest, RepliesOnlyAfterTheAppendCompletes) {
  log_.setHold(true);
  std::optional<http::Response> answer;
  api_->handle(request("/v1/track", R"({"event":"E","userId":"u"})",
                       {{"authorization", basic(kWebKey)}}),
               [&](http::Response response) { answer = std::move(response); });
  EXPECT_FALSE(answer.has_value());
  EXPECT_EQ(log_.release(), 1u);
  ASSERT_TRUE(answer.has_value());
  EXPECT_EQ(answer->status, 200);
}

TEST_F(ApiTest, StoreUnavailableIs503WithRetryAfter) {
  log_.setHealth(store::WriteHealth{false, "disk below the free-space floor", 30'000});
  auto response = post("/v1/track", R"({"event":"E","userId":"u"})");
  EXPECT_EQ(response.status, 503);
  EXPECT_EQ(headerOf(response, "Retry-After"), "30");
  EXPECT_EQ(body(response).at("success"), false);
  EXPECT_EQ(log_.appendCalls(), 0u);

  log_.setHealth(store::WriteHealth{});
  log_.setFailure(Error{ErrorCode::kIo, "fsync failed"});
  auto failed = post("/v1/track", R"({"event":"E","userId":"u"})");
  EXPECT_EQ(failed.status, 503);
  EXPECT_EQ(headerOf(failed, "Retry-After"), "5");
  EXPECT_TRUE(log_.events().empty());
}

TEST_F(ApiTest, CorsPreflightAndHeaders) {
  auto preflight = request("/v1/t", "", {{"origin", "https://shop.example"},
                                         {"access-control-request-headers",
                                          "content-type,authorization"}});
  preflight.method = "OPTIONS";
  auto response = send(std::move(preflight));
  EXPECT_EQ(response.status, 204);
  EXPECT_EQ(headerOf(response, "Access-Control-Allow-Origin"), "https://shop.example");
  EXPECT_EQ(headerOf(response, "Access-Control-Allow-Methods"), "POST, OPTIONS");
  EXPECT_EQ(headerOf(response, "Access-Control-Allow-Headers"), "content-type,authorization");
  EXPECT_EQ(headerOf(response, "Access-Control-Allow-Credentials"), "true");
  EXPECT_EQ(headerOf(response, "Access-Control-Max-Age"), "86400");
  EXPECT_EQ(headerOf(response, "Vary"), "Origin");
  // A preflight that names no headers is allowed the ones Segment's libraries send.
  auto plain = request("/v1/t", "", {{"origin", "https://shop.example"}});
  plain.method = "OPTIONS";
  const std::string allowed = headerOf(send(std::move(plain)), "Access-Control-Allow-Headers");
  for (const char* header : {"Content-Type", "Authorization", "Content-Encoding"}) {
    EXPECT_NE(allowed.find(header), std::string::npos) << allowed;
  }
  // The origin is echoed, and caches are told that the answer depends on it.
  auto posted = send(request("/v1/t", R"({"event":"E","userId":"u"})",
                             {{"authorization", basic(kWebKey)}, {"origin", "https://a.example"}}));
  EXPECT_EQ(posted.status, 200);
  EXPECT_EQ(headerOf(posted, "Access-Control-Allow-Origin"), "https://a.example");
  EXPECT_EQ(headerOf(posted, "Vary"), "Origin");
  // Without an Origin (a server-side library): any origin, and no credentials.
  auto server = send(request("/v1/t", R"({"event":"E","userId":"u"})",
                             {{"authorization", basic(kWebKey)}}));
  EXPECT_EQ(server.status, 200);
  EXPECT_EQ(headerOf(server, "Access-Control-Allow-Origin"), "*");
  EXPECT_EQ(headerOf(server, "Access-Control-Allow-Credentials"), "");
  auto get = request("/v1/track", "");
  get.method = "GET";
  auto refused = send(std::move(get));
  EXPECT_EQ(refused.status, 405);
  EXPECT_EQ(headerOf(refused, "Allow"), "POST, OPTIONS");
}

TEST_F(ApiTest, ClientAddressFromTrustedProxiesOnly) {
  auto viaProxy = request("/v1/track", R"({"event":"E","userId":"u"})",
                          {{"authorization", basic(kWebKey)},
                           {"x-forwarded-for", "192.0.2.44, 10.1.2.3"}});
  viaProxy.peerAddress = "10.0.0.5";
  EXPECT_EQ(send(std::move(viaProxy)).status, 200);
  auto spoofed = request("/v1/track", R"({"event":"E","userId":"u"})",
                         {{"authorization", basic(kWebKey)}, {"x-forwarded-for", "192.0.2.44"}});
  spoofed.peerAddress = "198.51.100.7";
  EXPECT_EQ(send(std::move(spoofed)).status, 200);
  auto events = log_.events();
  ASSERT_EQ(events.size(), 2u);
  EXPECT_EQ(json::parse(events[0].json).at("context").at("ip"), "192.0.2.44");
  EXPECT_EQ(json::parse(events[1].json).at("context").at("ip"), "198.51.100.7");
}

TEST_F(ApiTest, ConcurrentRequestsWithCompletionsOnAnotherThread) {
  log_.setHold(true);
  std::atomic<bool> stop{false};
  std::thread storeThread([&] {
    while (!stop.load()) {
      log_.release();
      std::this_thread::sleep_for(std::chrono::microseconds(200));
    }
    log_.release();
  });
  constexpr int kThreads = 4;
  constexpr int kRequests = 200;
  std::atomic<int> ok{0};
  std::atomic<int> answered{0};
  std::vector<std::thread> clients;
  for (int t = 0; t < kThreads; ++t) {
    clients.emplace_back([&, t] {
      for (int i = 0; i < kRequests; ++i) {
        std::string body = R"({"batch":[{"type":"track","event":"E","userId":"u)" +
                           std::to_string(t) + "-" + std::to_string(i) +
                           R"("},{"type":"page","anonymousId":"a"}]})";
        api_->handle(request("/v1/batch", body, {{"authorization", basic(kServerKey)}}),
                     [&](http::Response response) {
                       if (response.status == 200) ok.fetch_add(1);
                       answered.fetch_add(1);
                     });
      }
    });
  }
  for (auto& client : clients) client.join();
  auto deadline = std::chrono::steady_clock::now() + std::chrono::seconds(10);
  while (answered.load() < kThreads * kRequests && std::chrono::steady_clock::now() < deadline) {
    std::this_thread::sleep_for(std::chrono::milliseconds(1));
  }
  stop = true;
  storeThread.join();
  EXPECT_EQ(ok.load(), kThreads * kRequests);
  auto events = log_.events();
  EXPECT_EQ(events.size(), size_t{2 * kThreads * kRequests});
  std::set<std::string> ids;
  for (const auto& event : events) ids.insert(event.messageId);
  EXPECT_EQ(ids.size(), events.size());
}

TEST(KeyMatcherTest, MatchesEachSourceAndNothingElse) {
  std::vector<config::SourceConfig> sources = {{"a", "key-a", {}}, {"b", "key-b", {}}};
  KeyMatcher matcher(sources);
  EXPECT_EQ(matcher.match("key-a"), 0u);
  EXPECT_EQ(matcher.match("key-b"), 1u);
  EXPECT_EQ(matcher.match("key-c"), std::nullopt);
  EXPECT_EQ(matcher.match("key-a "), std::nullopt);
  EXPECT_EQ(matcher.match(""), std::nullopt);
}

TEST(BasicAuthTest, DecodesTheUserName) {
  EXPECT_EQ(basicAuthUser(basic("abc")), "abc");
  EXPECT_EQ(basicAuthUser("basic " + base64("key:password")), "key");
  EXPECT_EQ(basicAuthUser("Basic " + base64("k")), "k");
  EXPECT_EQ(basicAuthUser("Bearer abc"), std::nullopt);
  EXPECT_EQ(basicAuthUser("Basic a*b"), std::nullopt);
  EXPECT_EQ(basicAuthUser("Basic"), std::nullopt);
}

TEST(ClientAddressTest, PeersProxiesAndCidrs) {
  auto trusted = AddressSet::parse({"10.0.0.0/8", "192.168.1.1", "2001:db8::/32"});
  ASSERT_TRUE(trusted);
  EXPECT_TRUE(trusted->contains("10.200.3.4"));
  EXPECT_FALSE(trusted->contains("11.0.0.1"));
  EXPECT_TRUE(trusted->contains("192.168.1.1"));
  EXPECT_FALSE(trusted->contains("192.168.1.2"));
  EXPECT_TRUE(trusted->contains("2001:db8:1::5"));
  EXPECT_TRUE(trusted->contains("::ffff:10.1.1.1"));
  EXPECT_FALSE(trusted->contains("not an ip"));
  EXPECT_FALSE(AddressSet::parse({"10.0.0.0/33"}));
  EXPECT_FALSE(AddressSet::parse({"example.com"}));

  EXPECT_EQ(clientAddress("203.0.113.1", "1.2.3.4", *trusted), "203.0.113.1");
  EXPECT_EQ(clientAddress("10.0.0.1", "1.2.3.4", *trusted), "1.2.3.4");
  EXPECT_EQ(clientAddress("10.0.0.1", "9.9.9.9, 1.2.3.4, 10.0.0.2", *trusted), "1.2.3.4");
  EXPECT_EQ(clientAddress("10.0.0.1", "10.0.0.3,10.0.0.2", *trusted), "10.0.0.3");
  EXPECT_EQ(clientAddress("10.0.0.1", "", *trusted), "10.0.0.1");
  EXPECT_EQ(clientAddress("10.0.0.1", "garbage", *trusted), "10.0.0.1");
  EXPECT_EQ(clientAddress("::ffff:203.0.113.1", "", *trusted), "203.0.113.1");
  EXPECT_EQ(clientAddress("2001:db8::1", "2001:db9::7", *trusted), "2001:db9::7");
}

}  // namespace
}  // namespace sluice::ingest
