// The in-process fake TikTok for integration tests that drive the real binary (header-only, so the
// harness library itself does not depend on the fake). Link sluice_mocktiktok.
#pragma once

#include <gtest/gtest.h>

#include <memory>
#include <string>

#include "core/clock.h"
#include "mocktiktok/mock_server.h"
#include "mocktiktok/scenario.h"

namespace sluice::testing {

// A fake TikTok on a free loopback port playing `scenarioYaml` (empty: always ok); held requests
// get their 504 after 5 s. Null, with a test failure, when it cannot start.
inline std::unique_ptr<mocktiktok::MockServer> startMock(const std::string& scenarioYaml = "") {
  mocktiktok::MockServerOptions options;
  options.holdMs = 5'000;
  if (!scenarioYaml.empty()) {
    auto scenario = mocktiktok::parseScenario(scenarioYaml);
    EXPECT_TRUE(scenario) << scenario.error().toString();
    if (scenario) options.scenario = *scenario;
  }
  auto mock = mocktiktok::MockServer::start(SystemClock::instance(), options);
  EXPECT_TRUE(mock) << mock.error().toString();
  return mock ? std::move(*mock) : nullptr;
}

}  // namespace sluice::testing
