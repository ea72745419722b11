// The text of `sluice status`: the dashboard's summary (GET /api/summary) and active alerts
// (GET /api/alerts) as aligned tables for a terminal.
#pragma once

#include <string>
#include <string_view>

#include "core/clock.h"
#include "core/result.h"

namespace sluice::ops::dashboard {

// Formats `summaryJson` (and the active alerts of `alertsJson`, when not empty). Ages are shown
// relative to the summary's `now_ms`. Fails (kInvalidArgument) when the text is not a summary.
Result<std::string> formatStatus(std::string_view summaryJson, std::string_view alertsJson = {});

// True when every enabled destination of the summary is "healthy".
Result<bool> allHealthy(std::string_view summaryJson);

// "850ms", "12s", "3m05s", "2h10m", "4d3h".
std::string formatAge(int64_t ms);

}  // namespace sluice::ops::dashboard
