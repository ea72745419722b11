#include "cli/logging.h"

#include <spdlog/sinks/stdout_color_sinks.h>
#include <spdlog/spdlog.h>

namespace sluice::cli {

Result<void> setupLogging(const std::string& level, const std::string& format) {
  const auto parsed = spdlog::level::from_str(level);
  if (parsed == spdlog::level::off && level != "off") {
    return fail(ErrorCode::kInvalidArgument, "unknown log level '" + level + "'");
  }
  auto logger = spdlog::stderr_color_mt("sluice");
  if (format == "json") {
    // One JSON object per line; %v is the message, escaped by the callers' structured helpers.
    logger->set_pattern(R"({"time":"%Y-%m-%dT%H:%M:%S.%eZ","level":"%l","msg":"%v"})",
                        spdlog::pattern_time_type::utc);
  } else if (format == "text") {
    logger->set_pattern("%Y-%m-%dT%H:%M:%S.%eZ %^%-5l%$ %v", spdlog::pattern_time_type::utc);
  } else {
    spdlog::drop("sluice");
    return fail(ErrorCode::kInvalidArgument, "unknown log format '" + format + "' (text or json)");
  }
  logger->set_level(parsed);
  spdlog::set_default_logger(logger);
  return ok();
}

}  // namespace sluice::cli
