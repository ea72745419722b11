// The fake TikTok's validation, scenarios, recording and control API, without sockets.
#include <gtest/gtest.h>

#include <filesystem>
#include <fstream>

#include "core/clock.h"
#include "mocktiktok/mock_tiktok.h"
#include "mocktiktok/scenario.h"

namespace sluice::mocktiktok {
namespace {

const std::string kHash = std::string(64, 'a');  // a well-formed SHA-256 hex digest

std::string event(const std::string& extra = "") {
  return "{\"event\":\"Purchase\",\"event_time\":1717243200,\"event_id\":\"m1\","
         "\"user\":{\"email\":\"" + kHash + "\",\"phone\":[\"" + kHash + "\",\"\"]}" + extra + "}";
}

std::string body(const std::string& events, const std::string& source = "web") {
  return "{\"event_source\":\"" + source + "\",\"event_source_id\":\"PIXEL1\",\"data\":[" +
         events + "]}";
}

std::string many(size_t n) {
  std::string out;
  for (size_t i = 0; i < n; ++i) out += (i ? "," : "") + event();
  return out;
}

TEST(ValidateTrackBody, AcceptsAWellFormedBatch) {
  Validation v = validateTrackBody(body(many(3)), true);
  EXPECT_EQ(0, v.code) << v.message;
  EXPECT_EQ(3u, v.events);
  EXPECT_EQ("PIXEL1", v.eventSourceId);
  ASSERT_EQ(3u, v.eventJson.size());
  EXPECT_EQ(event(), v.eventJson[0]);
}

TEST(ValidateTrackBody, AcceptsExactlyAThousandRejectsMore) {
  EXPECT_EQ(0, validateTrackBody(body(many(1000)), false).code);
  Validation v = validateTrackBody(body(many(1001)), false);
  EXPECT_EQ(40002, v.code);
  EXPECT_NE(std::string::npos, v.message.find("1000")) << v.message;
}

struct BadCase {
  std::string body;
  std::string messagePart;
};

TEST(ValidateTrackBody, RejectsWhatTikTokRejects) {
  std::vector<BadCase> cases = {
      {"not json", "Invalid JSON"},
      {"[]", "JSON object"},
      {"{\"event_source_id\":\"P\",\"data\":[" + event() + "]}", "event_source"},
      {body(event(), "email"), "event_source"},
      {"{\"event_source\":\"web\",\"event_source_id\":7,\"data\":[" + event() + "]}",
       "event_source_id: not a valid string"},
      {"{\"event_source\":\"web\",\"event_source_id\":\"P\"}", "data"},
      {body(""), "data: Field may not be empty"},
      {body("{\"event_time\":1}"), "data.0.event"},
      {body("{\"event\":\"Purchase\"}"), "data.0.event_time"},
      {body("{\"event\":\"Purchase\",\"event_time\":\"2024-06-01\"}"), "event_time: not a valid"},
      {body("{\"event\":\"Purchase\",\"event_time\":1.5}"), "event_time: not a valid"},
      {body("{\"event\":\"Purchase\",\"event_time\":1,\"event_id\":5}"),
       "Invalid value for event_id: not a valid string."},
      {body("{\"event\":\"Purchase\",\"event_time\":1,\"user\":{\"email\":\"a@b.c\"}}"),
       "data.0.user.email"},
      {body("{\"event\":\"Purchase\",\"event_time\":1,\"user\":{\"phone\":[\"" + kHash +
            "\",\"+15551234567\"]}}"),
       "data.0.user.phone"},
      {body("{\"event\":\"Purchase\",\"event_time\":1,\"user\":{\"external_id\":\"" +
            std::string(64, 'A') + "\"}}"),
       "external_id"},
      {body("{\"event\":\"Purchase\",\"event_time\":1,\"user\":{\"zip_code\":12345}}"),
       "zip_code: not a valid string"},
      {body("{\"event\":\"Purchase\",\"event_time\":1,\"properties\":{\"contents\":[{"
            "\"content_id\":\"a\"},{\"content_id\":3}]}}"),
       "data.0.properties.contents.1.content_id: Not a valid string"},
      {body(event() + ",{\"event\":\"\",\"event_time\":1}"), "data.1.event"},
      {body("{\"event\":\"MyCustom\",\"event_time\":1}", "offline"), "standard names"},
  };
  for (const auto& c : cases) {
    if (c.messagePart.empty()) continue;
    Validation v = validateTrackBody(c.body, true);
    EXPECT_EQ(40002, v.code) << c.body;
    EXPECT_NE(std::string::npos, v.message.find(c.messagePart)) << c.body << " -> " << v.message;
    EXPECT_TRUE(v.eventJson.empty());
  }
}

TEST(ValidateTrackBody, CustomEventNamesAreFineOnTheWeb) {
  EXPECT_EQ(0, validateTrackBody(body("{\"event\":\"MyCustom\",\"event_time\":1}"), false).code);
  EXPECT_TRUE(isStandardEventName("CompletePayment"));
  EXPECT_FALSE(isStandardEventName("completepayment"));
}

// ---- scenarios ----------------------------------------------------------------------------------

TEST(Scenario, ParsesYamlAndJson) {
  auto yaml = parseScenario(R"(
loop: true
phases:
  - {duration: 30s, mode: http500}
  - {duration: 1m, mode: "code:40105", token: old-token}
  - {duration: 500, mode: "slow:2s"}
  - {duration: 1h, mode: timeout}
  - {duration: 2s, mode: drop, except_token: good}
  - {duration: 1s, mode: ok}
)");
  ASSERT_TRUE(yaml) << yaml.error().message;
  ASSERT_EQ(6u, yaml->phases.size());
  EXPECT_TRUE(yaml->loop);
  EXPECT_EQ(30'000, yaml->phases[0].durationMs);
  EXPECT_EQ(Mode::kHttpStatus, yaml->phases[0].mode);
  EXPECT_EQ(500, yaml->phases[0].status);
  EXPECT_EQ(Mode::kCode, yaml->phases[1].mode);
  EXPECT_EQ(40105, yaml->phases[1].code);
  EXPECT_EQ("old-token", yaml->phases[1].token);
  EXPECT_EQ(500, yaml->phases[2].durationMs);
  EXPECT_EQ(2'000, yaml->phases[2].delayMs);
  EXPECT_EQ(Mode::kTimeout, yaml->phases[3].mode);
  EXPECT_EQ("good", yaml->phases[4].exceptToken);
  EXPECT_EQ("slow:2000ms", modeName(yaml->phases[2]));

  auto json = parseScenario(R"([{"duration":"10s","mode":"code:40100"},{"mode":"ok"}])");
  ASSERT_TRUE(json) << json.error().message;
  EXPECT_FALSE(json->loop);
  EXPECT_EQ(40100, json->phases[0].code);
  EXPECT_EQ(0, json->phases[1].durationMs);
}

TEST(Scenario, RejectsBadInput) {
  for (const char* text : {"[{mode: http5000}]", "[{mode: teapot}]", "[{duration: soon}]",
                           "[{mode: ok, colour: red}]", "{loop: true, phases: [{mode: ok}]}",
                           "{phases: 3}", "[1, 2]", "{oops: 1}", "[{mode: \"code:abc\"}]"}) {
    auto s = parseScenario(text);
    EXPECT_FALSE(s) << text;
    if (!s) {
      EXPECT_EQ(ErrorCode::kInvalidArgument, s.error().code);
    }
  }
  EXPECT_TRUE(parseScenario(""));  // empty: always ok
}

TEST(Scenario, PhaseAtWalksAndLoops) {
  auto s = parseScenario("[{duration: 10s, mode: http500}, {duration: 5s, mode: timeout}]");
  ASSERT_TRUE(s);
  int index;
  EXPECT_EQ(Mode::kHttpStatus, phaseAt(*s, 0, &index)->mode);
  EXPECT_EQ(0, index);
  EXPECT_EQ(Mode::kTimeout, phaseAt(*s, 10'000, &index)->mode);
  EXPECT_EQ(1, index);
  EXPECT_EQ(nullptr, phaseAt(*s, 15'000, &index));  // ends in ok
  EXPECT_EQ(-1, index);
  s->loop = true;
  EXPECT_EQ(Mode::kHttpStatus, phaseAt(*s, 15'000, &index)->mode);
  EXPECT_EQ(Mode::kTimeout, phaseAt(*s, 29'999, &index)->mode);
}

// ---- the mock -----------------------------------------------------------------------------------

http::Request track(const std::string& requestBody, const std::string& token = "tok") {
  http::Request r;
  r.method = "POST";
  r.target = r.path = std::string(kTrackPath);
  if (!token.empty()) r.headers.emplace_back("access-token", token);
  r.headers.emplace_back("content-type", "application/json");
  r.body = requestBody;
  return r;
}

http::Request control(const std::string& method, const std::string& path,
                      const std::string& query = "", const std::string& requestBody = "") {
  http::Request r;
  r.method = method;
  r.path = path;
  r.query = query;
  r.target = path + (query.empty() ? "" : "?" + query);
  r.body = requestBody;
  return r;
}

std::unique_ptr<MockTikTok> makeMock(const Clock& clock, MockOptions options = {},
                                     Scenario scenario = {}) {
  auto mock = MockTikTok::create(clock, std::move(options), std::move(scenario));
  EXPECT_TRUE(mock);
  return std::move(*mock);
}

TEST(MockTikTok, AnswersInTikToksFormatAndRecords) {
  FakeClock clock;
  auto mock = makeMock(clock);
  Decision d = mock->handle(track(body(many(2))));
  EXPECT_EQ(Decision::Kind::kRespond, d.kind);
  EXPECT_EQ(200, d.response.status);
  EXPECT_EQ("application/json", d.response.contentType);
  EXPECT_EQ(0u, d.response.body.find("{\"code\":0,\"message\":\"OK\",\"request_id\":\""))
      << d.response.body;
  EXPECT_NE(std::string::npos, d.response.body.find("\"data\":{}}"));

  Decision bad = mock->handle(track(body("{\"event\":\"Purchase\",\"event_time\":1,\"event_id\":5}")));
  EXPECT_NE(std::string::npos,
            bad.response.body.find("{\"code\":40002,\"message\":\"Invalid value for event_id: "
                                   "not a valid string.\""))
      << bad.response.body;

  Decision noToken = mock->handle(track(body(many(1)), ""));
  EXPECT_EQ(0u, noToken.response.body.find("{\"code\":40104,"));

  MockStats s = mock->stats();
  EXPECT_EQ(3u, s.requests);
  EXPECT_EQ(2u, s.eventsAccepted);
  EXPECT_EQ(1u, s.eventsRejected);
  EXPECT_EQ(1u, s.byCode[0]);
  EXPECT_EQ(1u, s.byCode[40002]);
  EXPECT_EQ(1u, s.byCode[40104]);
  EXPECT_EQ(3u, s.byHttpStatus[200]);

  auto events = mock->events();
  ASSERT_EQ(2u, events.size());
  EXPECT_EQ(1u, events[0].seq);
  EXPECT_EQ("PIXEL1", events[0].eventSourceId);
  EXPECT_EQ(event(), events[1].json);
  EXPECT_EQ(1u, mock->events(1).size());

  Decision list = mock->handle(control("GET", "/mock/events", "since=1&limit=5"));
  EXPECT_EQ(200, list.response.status);
  EXPECT_EQ(0u, list.response.body.find("{\"accepted\":2,\"events\":[{\"seq\":2,"))
      << list.response.body;
  Decision stats = mock->handle(control("GET", "/mock/stats"));
  EXPECT_NE(std::string::npos, stats.response.body.find("\"requests\":3,\"events_accepted\":2"))
      << stats.response.body;
  EXPECT_NE(std::string::npos, stats.response.body.find("\"by_code\":{\"0\":1,\"40002\":1,\"40104\":1}"));

  mock->handle(control("POST", "/mock/reset"));
  EXPECT_EQ(0u, mock->stats().requests);
  EXPECT_TRUE(mock->events().empty());
  EXPECT_EQ(404, mock->handle(control("GET", "/nope")).response.status);
}

TEST(MockTikTok, KeepsOnlyTheLastEventsInMemory) {
  FakeClock clock;
  MockOptions options;
  options.keepEvents = 5;
  auto mock = makeMock(clock, options);
  for (int i = 0; i < 4; ++i) mock->handle(track(body(many(3))));
  auto events = mock->events();
  ASSERT_EQ(5u, events.size());
  EXPECT_EQ(8u, events.front().seq);
  EXPECT_EQ(12u, events.back().seq);
  EXPECT_EQ(12u, mock->stats().eventsAccepted);

  // Reading on from a seq: from below the oldest kept, inside the window, at its end; with a limit.
  EXPECT_EQ(5u, mock->events(3).size());
  auto after9 = mock->events(9, 2);
  ASSERT_EQ(2u, after9.size());
  EXPECT_EQ(10u, after9[0].seq);
  EXPECT_EQ(11u, after9[1].seq);
  EXPECT_EQ(3u, mock->events(9).size());
  EXPECT_TRUE(mock->events(12).empty());
  EXPECT_TRUE(mock->events(0, 0).empty());

  // reset() forgets the events but not the numbering: seqs go on growing.
  mock->reset();
  mock->handle(track(body(many(1))));
  ASSERT_EQ(1u, mock->events(12).size());
  EXPECT_EQ(13u, mock->events(12)[0].seq);
}

TEST(MockTikTok, RecordsToAJsonLinesFile) {
  FakeClock clock;
  auto path = std::filesystem::temp_directory_path() /
              ("sluice-mock-record-" + std::to_string(::getpid()) + ".jsonl");
  std::filesystem::remove(path);
  {
    MockOptions options;
    options.recordPath = path.string();
    options.keepEvents = 0;
    auto mock = makeMock(clock, options);
    mock->handle(track(body(many(2))));
    mock->handle(track(body("{\"event\":\"\"}")));  // rejected: not recorded
    EXPECT_TRUE(mock->events().empty());
  }
  std::ifstream in(path);
  std::string line;
  std::vector<std::string> lines;
  while (std::getline(in, line)) lines.push_back(line);
  ASSERT_EQ(2u, lines.size());
  EXPECT_EQ("{\"seq\":1,\"event_source\":\"web\",\"event_source_id\":\"PIXEL1\",\"event\":" +
                event() + "}",
            lines[0]);
  std::filesystem::remove(path);
  MockOptions unwritable;
  unwritable.recordPath = "/nonexistent-dir/x.jsonl";
  EXPECT_FALSE(MockTikTok::create(clock, unwritable));
}

TEST(MockTikTok, PlaysTheScenarioOverTime) {
  FakeClock clock;
  auto scenario = parseScenario(R"([
    {duration: 10s, mode: http500},
    {duration: 10s, mode: "code:40100"},
    {duration: 10s, mode: "slow:2s"},
    {duration: 10s, mode: timeout},
    {duration: 10s, mode: drop},
    {duration: 10s, mode: "http502"}])");
  ASSERT_TRUE(scenario);
  auto mock = makeMock(clock, {}, *scenario);
  std::string b = body(many(1));

  Decision d = mock->handle(track(b));
  EXPECT_EQ(500, d.response.status);
  EXPECT_EQ("text/html", d.response.contentType);
  EXPECT_EQ("http500", mock->stats().phase);

  clock.advanceMs(10'000);
  d = mock->handle(track(b));
  EXPECT_EQ(200, d.response.status);
  EXPECT_EQ(0u, d.response.body.find("{\"code\":40100,\"message\":\"Too many requests."));

  clock.advanceMs(10'000);
  d = mock->handle(track(b));
  EXPECT_EQ(Decision::Kind::kRespondLater, d.kind);
  EXPECT_EQ(2'000, d.delayMs);
  EXPECT_EQ(0u, d.response.body.find("{\"code\":0,"));

  clock.advanceMs(10'000);
  EXPECT_EQ(Decision::Kind::kHold, mock->handle(track(b)).kind);
  clock.advanceMs(10'000);
  EXPECT_EQ(Decision::Kind::kDrop, mock->handle(track(b)).kind);
  clock.advanceMs(10'000);
  EXPECT_EQ(502, mock->handle(track(b)).response.status);
  clock.advanceMs(10'000);  // the scenario has ended: ok for ever
  EXPECT_EQ(0u, mock->handle(track(b)).response.body.find("{\"code\":0,"));
  EXPECT_EQ("ok", mock->stats().phase);

  MockStats s = mock->stats();
  EXPECT_EQ(7u, s.requests);
  EXPECT_EQ(2u, s.eventsAccepted);  // the slow one and the last one
  EXPECT_EQ(2u, s.held);
  EXPECT_EQ(1u, s.byHttpStatus[500]);
  EXPECT_EQ(1u, s.byHttpStatus[502]);
  EXPECT_EQ(1u, s.byCode[40100]);
}

TEST(MockTikTok, TokenMatchedPhaseFlipsWhenTheTokenIsFixed) {
  FakeClock clock;
  auto scenario = parseScenario("[{mode: \"code:40105\", token: revoked}]");
  ASSERT_TRUE(scenario);
  auto mock = makeMock(clock, {}, *scenario);
  std::string b = body(many(1));
  EXPECT_EQ(0u, mock->handle(track(b, "revoked")).response.body.find("{\"code\":40105,"));
  EXPECT_EQ(0u, mock->handle(track(b, "fixed")).response.body.find("{\"code\":0,"));

  auto except = parseScenario("[{mode: \"code:40001\", except_token: good}]");
  ASSERT_TRUE(except);
  mock->setScenario(*except);
  Decision d = mock->handle(track(b, "other"));
  EXPECT_NE(std::string::npos, d.response.body.find("No permission to operate pixel code: PIXEL1."))
      << d.response.body;
  EXPECT_EQ(0u, mock->handle(track(b, "good")).response.body.find("{\"code\":0,"));
}

TEST(MockTikTok, ScenarioChangesAtRuntime) {
  FakeClock clock;
  auto mock = makeMock(clock);
  Decision bad = mock->handle(control("POST", "/mock/scenario", "", "[{mode: teapot}]"));
  EXPECT_EQ(400, bad.response.status);
  EXPECT_NE(std::string::npos, bad.response.body.find("unknown mode"));
  Decision good = mock->handle(
      control("POST", "/mock/scenario", "", "{\"phases\":[{\"duration\":\"5s\",\"mode\":\"http503\"}]}"));
  EXPECT_EQ(200, good.response.status);
  EXPECT_EQ(503, mock->handle(track(body(many(1)))).response.status);
  clock.advanceMs(5'000);
  EXPECT_EQ(200, mock->handle(track(body(many(1)))).response.status);
}

}  // namespace
}  // namespace sluice::mocktiktok
