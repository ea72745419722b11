// The fake TikTok on a real socket: MockTikTok behind the http::Server, with a timer thread that
// sends slow replies late and answers held (timeout-mode) requests with 504 after a hold limit.
#pragma once

#include <cstdint>
#include <memory>
#include <string>

#include "core/clock.h"
#include "core/result.h"
#include "mocktiktok/mock_tiktok.h"

namespace sluice::mocktiktok {

struct MockServerOptions {
  std::string host = "127.0.0.1";
  uint16_t port = 0;        // 0: any free port
  int threads = 2;          // server I/O threads
  int64_t holdMs = 120'000;  // timeout mode: held requests get a 504 after this
  MockOptions mock;
  Scenario scenario;
};

class MockServer {
 public:
  // Starts listening. `clock` drives the scenario (SystemClock in production, FakeClock in tests);
  // reply delays always use real time.
  static Result<std::unique_ptr<MockServer>> start(const Clock& clock, MockServerOptions options);
  ~MockServer();  // stop()

  uint16_t port() const;
  std::string address() const;       // host:port
  std::string trackUrl() const;      // http://host:port/open_api/v1.3/event/track/
  MockTikTok& mock();

  // Answers every delayed and held request at once, then stops the server. Idempotent.
  void stop();

 private:
  struct Impl;
  explicit MockServer(std::unique_ptr<Impl> impl);
  std::unique_ptr<Impl> impl_;
};

}  // namespace sluice::mocktiktok
