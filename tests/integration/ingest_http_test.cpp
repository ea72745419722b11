// The real `sluice serve` against a raw HTTP client: good events are stored (checked with
// `sluice log export`), every kind of bad input gets its exact status and a JSON error.
#include <gtest/gtest.h>
#include <zlib.h>

#include <algorithm>
#include <filesystem>
#include <fstream>
#include <memory>
#include <set>
#include <string>
#include <vector>

#include "integration/harness.h"

namespace sluice::testing {
namespace {

class IngestHttpTest : public ::testing::Test {
 protected:
  static void SetUpTestSuite() {
    dir_ = new TempDir();
    server_ = new SluiceServer(dir_->path());
    ASSERT_TRUE(server_->start()) << server_->stderrText();
  }
  static void TearDownTestSuite() {
    delete server_;
    delete dir_;
    server_ = nullptr;
    dir_ = nullptr;
  }
  void SetUp() override { ASSERT_TRUE(server_ && server_->running()); }

  static std::optional<RawResponse> post(std::string_view path, std::string_view body,
                                         std::string_view contentType = "application/json",
                                         std::vector<std::pair<std::string, std::string>> more =
                                             {}) {
    std::vector<std::pair<std::string, std::string>> headers = {
        {"Authorization", basicAuth("test-write-key")}};
    if (!contentType.empty()) headers.emplace_back("Content-Type", std::string(contentType));
    for (auto& header : more) headers.push_back(std::move(header));
    return server_->request("POST", path, headers, body);
  }

  // Expects `status` and a JSON error whose text contains `fragment`.
  static void expectError(const std::optional<RawResponse>& reply, int status,
                          std::string_view fragment) {
    ASSERT_TRUE(reply);
    EXPECT_EQ(reply->status, status) << reply->body;
    EXPECT_EQ(reply->header("content-type"), "application/json");
    EXPECT_NE(reply->body.find(R"("success":false)"), std::string::npos) << reply->body;
    EXPECT_NE(reply->body.find(fragment), std::string::npos)
        << "'" << fragment << "' not in " << reply->body;
  }

  static std::set<std::string> storedMessageIds() {
    std::set<std::string> ids;
    for (const auto& line : server_->exportLog()) ids.insert(jsonField(line, "messageId"));
    return ids;
  }

  static TempDir* dir_;
  static SluiceServer* server_;
};

TempDir* IngestHttpTest::dir_ = nullptr;
SluiceServer* IngestHttpTest::server_ = nullptr;

std::string track(std::string_view messageId, std::string_view extra = {}) {
  return R"({"type":"track","event":"Order Completed","userId":"u1","messageId":")" +
         std::string(messageId) + "\"" + std::string(extra) + "}";
}

// {"a":{"a":...1...}} with `levels` objects.
std::string nested(int levels) {
  std::string text;
  for (int i = 0; i < levels; ++i) text += R"({"a":)";
  return text + "1" + std::string(static_cast<size_t>(levels), '}');
}

std::string gzip(std::string_view text) {
  z_stream stream{};
  deflateInit2(&stream, Z_DEFAULT_COMPRESSION, Z_DEFLATED, 15 + 16, 8, Z_DEFAULT_STRATEGY);
  std::string out(deflateBound(&stream, text.size()) + 32, '\0');
  stream.next_in = reinterpret_cast<Bytef*>(const_cast<char*>(text.data()));
  stream.avail_in = static_cast<uInt>(text.size());
  stream.next_out = reinterpret_cast<Bytef*>(out.data());
  stream.avail_out = static_cast<uInt>(out.size());
  deflate(&stream, Z_FINISH);
  out.resize(stream.total_out);
  deflateEnd(&stream);
  return out;
}

TEST_F(IngestHttpTest, HealthAndReadiness) {
  auto health = server_->request("GET", "/healthz");
  ASSERT_TRUE(health);
  EXPECT_EQ(health->status, 200);
  auto ready = server_->request("GET", "/readyz");
  ASSERT_TRUE(ready);
  EXPECT_EQ(ready->status, 200);
  EXPECT_EQ(ready->body, R"({"ready":true})");
}

TEST_F(IngestHttpTest, GoodEventsAreStored) {
  auto single = post("/v1/track", track("good-track-1"));
  ASSERT_TRUE(single);
  EXPECT_EQ(single->status, 200) << single->body;
  EXPECT_EQ(single->body, R"({"success":true})");

  auto compressed = server_->request("POST", "/v1/track",
                                     {{"Authorization", basicAuth("test-write-key")},
                                      {"Content-Type", "application/json"},
                                      {"Content-Encoding", "gzip"}},
                                     gzip(track("good-gzip-1")));
  ASSERT_TRUE(compressed);
  EXPECT_EQ(compressed->status, 200) << compressed->body;

  std::string batch = R"({"batch":[)" + track("good-batch-1") + "," +
                      R"({"type":"identify","userId":"u2","messageId":"good-batch-2","traits":{"email":"a@b.c"}},)" +
                      R"({"type":"page","anonymousId":"a3","name":"Home","messageId":"good-batch-3"}]})";
  auto batched = post("/v1/batch", batch);
  ASSERT_TRUE(batched);
  EXPECT_EQ(batched->status, 200) << batched->body;

  // The write key in the body instead of Basic auth.
  auto inBody = server_->request(
      "POST", "/v1/track", {{"Content-Type", "application/json"}},
      track("good-body-key-1", R"(,"writeKey":"test-write-key")"));
  ASSERT_TRUE(inBody);
  EXPECT_EQ(inBody->status, 200) << inBody->body;

  auto ids = storedMessageIds();
  for (const char* id : {"good-track-1", "good-gzip-1", "good-batch-1", "good-batch-2",
                         "good-batch-3", "good-body-key-1"}) {
    EXPECT_TRUE(ids.count(id)) << id << " not exported";
  }
}

TEST_F(IngestHttpTest, TruncatedJson) {
  std::string body = track("bad-truncated");
  body.resize(body.size() / 2);
  expectError(post("/v1/track", body), 400, "JSON");
}

TEST_F(IngestHttpTest, WrongTypes) {
  expectError(post("/v1/track", track("bad-type-1", R"(,"properties":"not an object")")), 400,
              "properties");
  expectError(post("/v1/track", R"({"type":"track","event":42,"userId":"u"})"), 400, "event");
  expectError(post("/v1/batch", R"({"batch":{"type":"track"}})"), 400, "batch");
  expectError(post("/v1/track", R"(["an","array"])"), 400, "object");
  expectError(post("/v1/batch", R"({"batch":[{"type":"nonsense","userId":"u"}]})"), 400,
              "type");
}

TEST_F(IngestHttpTest, MissingIdentifiersAndType) {
  expectError(post("/v1/track", R"({"type":"track","event":"E"})"), 400, "userId");
  expectError(post("/v1/batch", R"({"batch":[{"event":"E","userId":"u"}]})"), 400, "type");
}

TEST_F(IngestHttpTest, HugeStringOverTheEventLimit) {
  std::string huge(40 * 1024, 'x');
  expectError(post("/v1/track", track("bad-huge", R"(,"properties":{"blob":")" + huge + "\"}")),
              400, "limit");
}

TEST_F(IngestHttpTest, DeepNesting) {
  expectError(post("/v1/track", track("bad-deep", R"(,"properties":)" + nested(200))), 400,
              "deep");
}

TEST_F(IngestHttpTest, InvalidUtf8) {
  std::string body = track("bad-utf8", ",\"properties\":{\"name\":\"caf\xC3\x28\"}");
  expectError(post("/v1/track", body), 400, "UTF-8");
}

TEST_F(IngestHttpTest, WrongContentType) {
  expectError(post("/v1/track", track("bad-ctype"), "application/xml"), 415, "Content-Type");
}

TEST_F(IngestHttpTest, OversizedBodies) {
  // Over Segment's 500 KB request limit but within what the server reads: ingest's 400.
  std::string padding(520 * 1024, 'p');
  expectError(post("/v1/track", track("bad-big-1", R"(,"properties":{"p":")" + padding + "\"}")),
              400, "limit");
  // Far over: the server refuses it from its Content-Length, before the body is sent.
  RawConnection connection;
  ASSERT_TRUE(connection.connect(server_->port()));
  ASSERT_TRUE(connection.send("POST /v1/track HTTP/1.1\r\nHost: x\r\nContent-Type: "
                              "application/json\r\nContent-Length: 2097152\r\n\r\n"));
  expectError(connection.read(), 413, "too large");
  // Too many events in a batch.
  std::string batch = R"({"batch":[)";
  for (int i = 0; i < 2501; ++i) {
    if (i > 0) batch += ",";
    batch += R"({"type":"track","event":"E","userId":"u"})";
  }
  batch += "]}";
  expectError(post("/v1/batch", batch), 400, "2500");
}

TEST_F(IngestHttpTest, BadGzip) {
  expectError(post("/v1/track", "this is not gzip", "application/json",
                   {{"Content-Encoding", "gzip"}}),
              400, "gzip");
  std::string truncated = gzip(track("bad-gzip-truncated"));
  truncated.resize(truncated.size() - 10);
  expectError(post("/v1/track", truncated, "application/json", {{"Content-Encoding", "gzip"}}),
              400, "gzip");
}

TEST_F(IngestHttpTest, WrongOrMissingKey) {
  expectError(server_->post("/v1/track", track("bad-key-1"), "wrong-key"), 401, "write key");
  expectError(server_->request("POST", "/v1/track", {{"Content-Type", "application/json"}},
                               track("bad-key-2")),
              401, "write key");
  expectError(server_->request("POST", "/v1/track",
                               {{"Content-Type", "application/json"},
                                {"Authorization", "Bearer something"}},
                               track("bad-key-3")),
              401, "Authorization");
}

TEST_F(IngestHttpTest, PartlyInvalidBatchStoresTheValidEvents) {
  std::string batch = R"({"batch":[)" + track("partial-1") + R"(,{"type":"track","userId":"u"},)" +
                      track("partial-3") + "]}";
  auto reply = post("/v1/batch", batch);
  ASSERT_TRUE(reply);
  EXPECT_EQ(reply->status, 200) << reply->body;
  EXPECT_NE(reply->body.find(R"("accepted":2)"), std::string::npos) << reply->body;
  EXPECT_NE(reply->body.find(R"("index":1)"), std::string::npos) << reply->body;
  auto ids = storedMessageIds();
  EXPECT_TRUE(ids.count("partial-1"));
  EXPECT_TRUE(ids.count("partial-3"));
}

TEST_F(IngestHttpTest, WrongMethodAndUnknownPath) {
  auto get = server_->request("GET", "/v1/track");
  ASSERT_TRUE(get);
  EXPECT_EQ(get->status, 405);
  expectError(server_->request("GET", "/nothing/here"), 404, "no such endpoint");
}

// Each case runs in a process of its own (and a server of its own), so this one sends the refused
// requests itself, then one good event that shows the export sees what was stored.
TEST_F(IngestHttpTest, RejectedInputIsNotStored) {
  const std::vector<std::pair<int, std::optional<RawResponse>>> refused = {
      {400, post("/v1/track", track("bad-type-1", R"(,"properties":"not an object")"))},
      {400, post("/v1/track", track("bad-huge", R"(,"properties":{"blob":")" +
                                                    std::string(40 * 1024, 'x') + "\"}"))},
      {400, post("/v1/track", track("bad-deep", R"(,"properties":)" + nested(200)))},
      {400, post("/v1/track", track("bad-utf8", ",\"properties\":{\"name\":\"caf\xC3\x28\"}"))},
      {415, post("/v1/track", track("bad-ctype"), "application/xml")},
      {400, post("/v1/track", track("bad-big-1", R"(,"properties":{"p":")" +
                                                     std::string(520 * 1024, 'p') + "\"}"))},
      {401, server_->post("/v1/track", track("bad-key-1"), "wrong-key")},
      {401, server_->request("POST", "/v1/track", {{"Content-Type", "application/json"}},
                             track("bad-key-2"))},
  };
  for (size_t i = 0; i < refused.size(); ++i) {
    ASSERT_TRUE(refused[i].second) << "request " << i;
    EXPECT_EQ(refused[i].second->status, refused[i].first) << "request " << i;
  }
  auto good = post("/v1/track", track("good-after-refused"));
  ASSERT_TRUE(good);
  ASSERT_EQ(good->status, 200) << good->body;

  auto ids = storedMessageIds();
  EXPECT_TRUE(ids.count("good-after-refused"));
  for (const char* id : {"bad-type-1", "bad-huge", "bad-deep", "bad-utf8", "bad-ctype",
                         "bad-big-1", "bad-key-1", "bad-key-2"}) {
    EXPECT_FALSE(ids.count(id)) << id << " was stored";
  }
}

// Operators tell sluice's threads apart in top -H, ps -L and perf by their names.
TEST_F(IngestHttpTest, ThreadsAreNamedForWhatTheyDo) {
  const std::vector<std::string> expected = {"http-io-accept", "http-io-0",  "http-io-1",
                                             "store-writer",   "store-sync", "store-ckpt",
                                             "retention"};
  const std::string tasks = "/proc/" + std::to_string(server_->pid()) + "/task";
  std::set<std::string> names;
  // A thread names itself when it first runs, which on a busy machine may be a moment after
  // the server is ready.
  waitFor(
      [&] {
        names.clear();
        std::error_code error;
        for (const auto& task : std::filesystem::directory_iterator(tasks, error)) {
          std::ifstream in(task.path() / "comm");
          std::string name;
          if (std::getline(in, name)) names.insert(name);
        }
        return std::all_of(expected.begin(), expected.end(),
                           [&](const std::string& name) { return names.count(name) > 0; });
      },
      10'000);
  for (const std::string& name : expected) {
    EXPECT_TRUE(names.count(name)) << name << " is not among the threads' names";
  }
}

}  // namespace
}  // namespace sluice::testing
