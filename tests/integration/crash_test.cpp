// Durability under kill -9: several clients send batches continuously while the server is killed
// at random moments (at least 20 times) and restarted; every event a client saw acknowledged with
// a 200 must be in the log afterwards. Also: SIGTERM lets in-flight requests finish and exits 0.
#include <gtest/gtest.h>
#include <signal.h>

#include <atomic>
#include <chrono>
#include <fstream>
#include <iostream>
#include <mutex>
#include <random>
#include <set>
#include <thread>
#include <vector>

#include "integration/harness.h"
#include "reserved_port.h"

namespace sluice::testing {
namespace {

using namespace std::chrono_literals;

// Sends batches of `eventsPerBatch` events with unique messageIds on keep-alive connections,
// reconnecting whenever the server goes away, and records what was acknowledged.
class LoadClient {
 public:
  LoadClient(int id, const SluiceServer& server, int eventsPerBatch,
             std::string writeKey = "test-write-key")
      : id_(id), server_(server), eventsPerBatch_(eventsPerBatch), writeKey_(std::move(writeKey)) {}

  void run(const std::atomic<bool>& stop) {
    RawConnection connection;
    int sequence = 0;
    while (!stop.load()) {
      if (!connection.connected() && !connection.connect(server_.port(), "127.0.0.1", 500)) {
        std::this_thread::sleep_for(5ms);
        continue;
      }
      std::vector<std::string> ids;
      std::string body = R"({"batch":[)";
      for (int i = 0; i < eventsPerBatch_; ++i) {
        ids.push_back("c" + std::to_string(id_) + "-" + std::to_string(sequence++));
        if (i > 0) body += ",";
        body += R"({"type":"track","event":"Load","userId":"u)" + std::to_string(id_) +
                R"(","messageId":")" + ids.back() + R"(","properties":{"i":)" +
                std::to_string(i) + "}}";
      }
      body += "]}";
      ++sent_;
      if (!connection.send(buildRequest("POST", "/v1/batch",
                                        {{"Authorization", basicAuth(writeKey_)},
                                         {"Content-Type", "application/json"}},
                                        body))) {
        connection.close();
        continue;
      }
      auto reply = connection.read(5000);
      if (!reply) {
        connection.close();
        ++lost_;
        continue;
      }
      // Only sluice's own answer is an acknowledgement. Anything else (another test's server on
      // the port while this one was down) closes the connection: the next one goes to port().
      if (reply->status == 200 && reply->body.rfind("{\"success\":true", 0) == 0) {
        acknowledged_.insert(acknowledged_.end(), ids.begin(), ids.end());
      } else {
        ++refused_;
        connection.close();
      }
      if (reply->header("connection") == "close") connection.close();
    }
  }

  const std::vector<std::string>& acknowledged() const { return acknowledged_; }
  int sent() const { return sent_; }
  int lost() const { return lost_; }
  int refused() const { return refused_; }

 private:
  int id_;
  const SluiceServer& server_;
  int eventsPerBatch_;
  std::string writeKey_;
  std::vector<std::string> acknowledged_;
  int sent_ = 0;
  int lost_ = 0;     // no reply (the server died meanwhile)
  int refused_ = 0;  // a reply other than 200
};

std::set<std::string> exportedIds(const SluiceServer& server) {
  std::set<std::string> ids;
  for (const auto& line : server.exportLog()) ids.insert(jsonField(line, "messageId"));
  return ids;
}

TEST(CrashTest, EveryAcknowledgedEventSurvivesKill9) {
  constexpr int kKills = 22;
  constexpr int kClients = 4;
  TempDir dir;
  std::mt19937 random(std::random_device{}());
  // A write key of this run only: while the server is down its port may go to another test's
  // server, which must refuse these clients rather than acknowledge their events.
  ServeSpec spec;
  spec.sources = {{"web", "crash-" + std::to_string(random())}};
  SluiceServer server(dir.path(), spec);
  ASSERT_TRUE(server.start()) << server.stderrText();

  std::atomic<bool> stop{false};
  std::vector<std::unique_ptr<LoadClient>> clients;
  std::vector<std::thread> threads;
  for (int c = 0; c < kClients; ++c) {
    clients.push_back(std::make_unique<LoadClient>(c, server, 20, spec.sources[0].writeKey));
    threads.emplace_back([&, c] { clients[c]->run(stop); });
  }

  std::uniform_int_distribution<int> pause(30, 250);
  const auto deadline = std::chrono::steady_clock::now() + 100s;
  int kills = 0;
  bool restarted = true;
  while (kills < kKills && std::chrono::steady_clock::now() < deadline) {
    std::this_thread::sleep_for(std::chrono::milliseconds(pause(random)));
    server.kill9();
    ++kills;
    restarted = server.start();
    if (!restarted) break;
  }
  std::this_thread::sleep_for(200ms);
  stop = true;
  for (auto& thread : threads) thread.join();
  ASSERT_TRUE(restarted) << server.stderrText();
  EXPECT_EQ(kills, kKills);
  EXPECT_EQ(server.stop(), 0);

  size_t acknowledged = 0;
  int lost = 0;
  for (const auto& client : clients) {
    acknowledged += client->acknowledged().size();
    lost += client->lost();
  }
  std::set<std::string> stored = exportedIds(server);
  size_t missing = 0;
  for (const auto& client : clients) {
    for (const auto& id : client->acknowledged()) {
      if (!stored.count(id)) {
        if (missing < 10) ADD_FAILURE() << "acknowledged but not stored: " << id;
        ++missing;
      }
    }
  }
  EXPECT_EQ(missing, 0u);
  EXPECT_GT(acknowledged, 1000u);  // the load really ran
  std::cout << "kills: " << kills << ", acknowledged events: " << acknowledged
            << ", requests without a reply: " << lost << ", stored: " << stored.size() << "\n";
}

TEST(SigtermTest, InFlightRequestsCompleteAndTheExitCodeIsZero) {
  TempDir dir;
  SluiceServer server(dir.path());
  ASSERT_TRUE(server.start()) << server.stderrText();

  // A request whose header and half of its body have arrived when SIGTERM comes.
  const std::string body = R"({"batch":[{"type":"track","event":"E","userId":"u","messageId":"term-1"}]})";
  RawConnection partial;
  ASSERT_TRUE(partial.connect(server.port()));
  std::string request = buildRequest("POST", "/v1/batch",
                                     {{"Authorization", basicAuth("test-write-key")},
                                      {"Content-Type", "application/json"}},
                                     body);
  const size_t half = request.size() - body.size() / 2;
  ASSERT_TRUE(partial.send(std::string_view(request).substr(0, half)));

  // Clients under load while the signal arrives.
  std::atomic<bool> stop{false};
  std::vector<std::unique_ptr<LoadClient>> clients;
  std::vector<std::thread> threads;
  for (int c = 0; c < 3; ++c) {
    clients.push_back(std::make_unique<LoadClient>(c, server, 50));
    threads.emplace_back([&, c] { clients[c]->run(stop); });
  }
  std::this_thread::sleep_for(300ms);
  server.signal(SIGTERM);
  std::this_thread::sleep_for(100ms);
  ASSERT_TRUE(partial.send(std::string_view(request).substr(half)));
  auto reply = partial.read(5000);
  auto status = server.waitExit(15'000);
  stop = true;
  for (auto& thread : threads) thread.join();

  ASSERT_TRUE(status.has_value()) << "sluice did not exit after SIGTERM";
  EXPECT_EQ(*status, 0) << server.stderrText();
  ASSERT_TRUE(reply);
  EXPECT_EQ(reply->status, 200) << reply->body;
  EXPECT_EQ(reply->header("connection"), "close");

  std::set<std::string> stored = exportedIds(server);
  EXPECT_TRUE(stored.count("term-1"));
  size_t acknowledged = 0;
  for (const auto& client : clients) {
    acknowledged += client->acknowledged().size();
    for (const auto& id : client->acknowledged()) EXPECT_TRUE(stored.count(id)) << id;
  }
  EXPECT_GT(acknowledged, 0u);
  EXPECT_NE(server.stderrText().find("stopped"), std::string::npos);
}

TEST(ServeCommandTest, BadConfigurationExitsWithStatus2AndNamesTheLine) {
  TempDir dir;
  const std::string path = dir.path() + "/bad.yaml";
  {
    std::ofstream out(path);
    out << "server:\n  listen: 127.0.0.1:0\nstorage:\n  path: " << dir.path()
        << "/data\nsources:\n  - name: web\n    write_kee: x\n";
  }
  auto result = runSluice({"serve", "--config", path}, 10'000);
  EXPECT_EQ(result.exitCode, 2) << result.err;
  EXPECT_NE(result.err.find("bad.yaml:7"), std::string::npos) << result.err;
}

TEST(ServeCommandTest, LogsTheBoundAddress) {
  TempDir dir;
  SluiceServer server(dir.path());
  ASSERT_TRUE(server.start()) << server.stderrText();
  EXPECT_NE(server.stderrText().find("listening on 127.0.0.1:" + std::to_string(server.port())),
            std::string::npos)
      << server.stderrText();
  EXPECT_EQ(server.stop(), 0);
}

// The harness itself: a restart whose port was taken meanwhile (by another test's server or
// client) comes up on a new port, which port() gives.
TEST(HarnessTest, ARestartWhoseOldPortWasTakenListensOnANewOne) {
  TempDir dir;
  SluiceServer server(dir.path());
  ASSERT_TRUE(server.start()) << server.stderrText();
  const uint16_t old = server.port();
  server.kill9();
  const ReservedPort taken(ReservedPort::Mode::kNeverAccepts, old);
  if (taken.port() != old) GTEST_SKIP() << "another process took port " << old << " first";
  ASSERT_TRUE(server.start()) << server.stderrText();
  EXPECT_NE(server.port(), old);
  EXPECT_NE(server.stderrText().find("cannot bind 127.0.0.1:" + std::to_string(old)),
            std::string::npos);
  auto reply = server.request("GET", "/healthz");
  ASSERT_TRUE(reply);
  EXPECT_EQ(reply->status, 200);
  EXPECT_EQ(server.stop(), 0);
}

}  // namespace
}  // namespace sluice::testing
