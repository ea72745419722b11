// Process-wide logging for the subcommands: human-readable lines by default, JSON lines on request.
// Log messages must never contain secrets (access tokens, write keys, admin tokens).
#pragma once

#include <string>

#include "core/result.h"

namespace sluice::cli {

// Configures the default spdlog logger on stderr. `level`: trace, debug, info, warn, error;
// `format`: text or json. Returns an error for an unknown level or format.
Result<void> setupLogging(const std::string& level, const std::string& format);

}  // namespace sluice::cli
