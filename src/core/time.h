// Parsing and formatting of times and durations. Pure functions, no I/O.
#pragma once

#include <optional>
#include <string>
#include <string_view>

#include "core/clock.h"

namespace sluice {

// Parses an ISO-8601 / RFC 3339 date-time: `2024-03-15T10:20:30.456Z`, `2024-03-15T10:20:30+02:00`,
// `2024-03-15 10:20:30Z`, fractions of any length, and a bare date `2024-03-15` (midnight UTC).
// A time without a zone is taken as UTC. Returns nullopt for anything else, or out-of-range fields.
std::optional<EpochMs> parseIsoTime(std::string_view text);

// Formats as `2024-03-15T10:20:30.456Z` (always milliseconds, always UTC).
std::string formatIsoTime(EpochMs ms);

// Parses a duration: a number followed by a unit `ms`, `s`, `m`, `h`, `d` or `w` (`7d`, `250ms`,
// `1.5h`), or several such terms (`1h30m`). Returns nullopt for anything else or a negative value.
std::optional<int64_t> parseDurationMs(std::string_view text);

// Parses a command-line time: ISO-8601 as above, epoch seconds or milliseconds (by magnitude), or a
// duration ago relative to `nowMs` written `-2h` or `2h ago`.
std::optional<EpochMs> parseTimeArgument(std::string_view text, EpochMs nowMs);

}  // namespace sluice
