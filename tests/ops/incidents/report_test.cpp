// The JSON and Markdown forms of the incident log.
#include "ops/incidents/report.h"

#include <gtest/gtest.h>

#include <boost/json/parse.hpp>

#include "core/time.h"

namespace sluice::ops::incidents {
namespace {

Incident closedIncident() {
  Incident i;
  i.id = 7;
  i.destination = "tiktok";
  i.state = IncidentState::kClosed;
  i.startMs = *parseIsoTime("2026-01-15T10:00:00Z");
  i.recoveredMs = i.startMs + 3'600'000;
  i.endMs = i.recoveredMs + 125'000;
  i.drainMs = 125'000;
  i.lastSampleMs = i.endMs + 5'000;
  i.codes = {{"http_500", 120}, {"40100", 3}};
  i.itemsDelayed = 51'234;
  i.itemsDead = 2;
  i.itemsExpired = 17;
  i.maxBacklogEvents = 48'000;
  i.maxBacklogAgeMs = 3'610'000;
  i.timeline = {{i.startMs, "degraded: circuit breaker open"},
                {i.recoveredMs, "delivery healthy again; backlog 48000 events"},
                {i.endMs, "backlog drained (2m 05s after recovery); closed"}};
  return i;
}

TEST(ReportTest, JsonHasEveryFigure) {
  Incident open = closedIncident();
  open.id = 8;
  open.state = IncidentState::kDegraded;
  open.startMs = closedIncident().endMs + 60'000;
  open.endMs = 0;
  open.recoveredMs = 0;
  CanaryResult canary{1, "tiktok", open.startMs, false, "pause", "40105", "Invalid token", 87};
  const EpochMs now = open.startMs + 30'000;
  const auto root = boost::json::parse(incidentsJson({closedIncident(), open}, {canary}, now));
  const auto& incidents = root.at("incidents").as_array();
  ASSERT_EQ(incidents.size(), 2u);
  const auto& c = incidents[0].as_object();
  EXPECT_EQ(c.at("id").as_int64(), 7);
  EXPECT_EQ(c.at("state").as_string(), "closed");
  EXPECT_EQ(c.at("start").as_string(), "2026-01-15T10:00:00.000Z");
  EXPECT_EQ(c.at("time_to_drain_ms").as_int64(), 125'000);
  EXPECT_EQ(c.at("duration_ms").as_int64(), 3'725'000);
  EXPECT_EQ(c.at("codes").at("http_500").as_int64(), 120);
  EXPECT_EQ(c.at("events_delayed").as_int64(), 51'234);
  EXPECT_EQ(c.at("events_dead").as_int64(), 2);
  EXPECT_EQ(c.at("events_expired").as_int64(), 17);
  EXPECT_EQ(c.at("max_backlog_events").as_int64(), 48'000);
  EXPECT_EQ(c.at("max_backlog_age_ms").as_int64(), 3'610'000);
  EXPECT_EQ(c.at("timeline").as_array().size(), 3u);
  const auto& o = incidents[1].as_object();
  EXPECT_EQ(o.at("state").as_string(), "degraded");
  EXPECT_TRUE(o.at("end").is_null());
  EXPECT_TRUE(o.at("time_to_drain_ms").is_null());
  EXPECT_EQ(o.at("duration_ms").as_int64(), 30'000);
  const auto& results = root.at("canary").as_array();
  ASSERT_EQ(results.size(), 1u);
  EXPECT_EQ(results[0].at("code").as_string(), "40105");
  EXPECT_FALSE(results[0].at("ok").as_bool());
}

TEST(ReportTest, MarkdownIsTheTimelineAndImpactAssessment) {
  MarkdownOptions options;
  options.nowMs = closedIncident().endMs + 3'600'000;
  options.configPath = "/etc/sluice.yaml";
  const std::string md = incidentsMarkdown({closedIncident()}, {}, options);
  EXPECT_NE(md.find("# Delivery incidents"), std::string::npos);
  EXPECT_NE(md.find("1 incident, 0 open"), std::string::npos) << md;
  EXPECT_NE(md.find("## Summary"), std::string::npos);
  EXPECT_NE(md.find("| 7 | tiktok | closed | 2026-01-15T10:00:00.000Z | "
                    "2026-01-15T11:02:05.000Z | 1h 02m | 40100 x3, http_500 x120 | 51234 | 2 | "
                    "17 | 48000 events, 1h 00m old | 2m 05s |"),
            std::string::npos)
      << md;
  EXPECT_NE(md.find("- 2026-01-15T10:00:00.000Z: degraded: circuit breaker open"),
            std::string::npos);
  EXPECT_NE(md.find("| http_500 | 120 | HTTP 500 server error (retried) |"), std::string::npos)
      << md;
  EXPECT_NE(md.find("| 40100 | 3 | TikTok rate limit (retried) |"), std::string::npos) << md;
  EXPECT_NE(md.find("sluice export --config /etc/sluice.yaml --destination tiktok --what expired"),
            std::string::npos);
  EXPECT_NE(md.find("sluice dlq list --config /etc/sluice.yaml --destination tiktok"),
            std::string::npos);
  EXPECT_NE(md.find("Time to drain after recovery: 2m 05s"), std::string::npos);

  const std::string none = incidentsMarkdown({}, {}, options);
  EXPECT_NE(none.find("0 incidents, 0 open"), std::string::npos);
  EXPECT_EQ(none.find("## Summary"), std::string::npos);
}

TEST(ReportTest, ReplyMeanings) {
  EXPECT_EQ(replyMeaning("40105"), "access token invalid (destination paused)");
  EXPECT_EQ(replyMeaning("http_503"), "HTTP 503 server error (retried)");
  EXPECT_EQ(replyMeaning("51000"), "TikTok server error (retried)");
  EXPECT_EQ(replyMeaning("timeout"), "no reply in time (retried)");
  EXPECT_EQ(replyMeaning("40002"), "invalid event (dead-lettered)");
  EXPECT_EQ(humanDuration(4'200), "4.2s");
  EXPECT_EQ(humanDuration(185'000), "3m 05s");
}

}  // namespace
}  // namespace sluice::ops::incidents
