#include "delivery/backoff.h"

#include <algorithm>
#include <charconv>
#include <cstring>
#include <ctime>

namespace sluice::delivery {

JitteredExponentialBackOff::JitteredExponentialBackOff(uint64_t baseMs, uint64_t capMs,
                                                       Random& random)
    : baseMs_(std::max<uint64_t>(baseMs, 1)),
      capMs_(std::max(capMs, std::max<uint64_t>(baseMs, 1))),
      random_(random) {}

uint64_t JitteredExponentialBackOff::nextBackOffMs() {
  // base * 2^attempt without overflow: once the doubling passes the cap, the cap applies.
  uint64_t ceiling = baseMs_;
  for (uint32_t i = 0; i < attempt_ && ceiling < capMs_; ++i) ceiling *= 2;
  ceiling = std::min(ceiling, capMs_);
  if (attempt_ < UINT32_MAX) ++attempt_;
  return random_.below(ceiling + 1);
}

namespace {

constexpr uint64_t kMaxRetryAfterMs = 24ull * 3600 * 1000;

std::string_view trim(std::string_view s) {
  while (!s.empty() && (s.front() == ' ' || s.front() == '\t')) s.remove_prefix(1);
  while (!s.empty() && (s.back() == ' ' || s.back() == '\t')) s.remove_suffix(1);
  return s;
}

bool parseInt(std::string_view s, int* out) {
  if (s.empty()) return false;
  auto [ptr, ec] = std::from_chars(s.data(), s.data() + s.size(), *out);
  return ec == std::errc() && ptr == s.data() + s.size();
}

// IMF-fixdate: "Sun, 06 Nov 1994 08:49:37 GMT".
std::optional<EpochMs> parseImfFixdate(std::string_view s) {
  if (s.size() != 29 || s[3] != ',' || s[4] != ' ' || s[7] != ' ' || s[11] != ' ' ||
      s[16] != ' ' || s[19] != ':' || s[22] != ':' || s.substr(25) != " GMT") {
    return std::nullopt;
  }
  static constexpr const char* kMonths[] = {"Jan", "Feb", "Mar", "Apr", "May", "Jun",
                                            "Jul", "Aug", "Sep", "Oct", "Nov", "Dec"};
  int month = -1;
  for (int i = 0; i < 12; ++i) {
    if (s.substr(8, 3) == kMonths[i]) month = i;
  }
  int day, year, hour, minute, second;
  if (month < 0 || !parseInt(s.substr(5, 2), &day) || !parseInt(s.substr(12, 4), &year) ||
      !parseInt(s.substr(17, 2), &hour) || !parseInt(s.substr(20, 2), &minute) ||
      !parseInt(s.substr(23, 2), &second)) {
    return std::nullopt;
  }
  if (day < 1 || day > 31 || hour > 23 || minute > 59 || second > 60) return std::nullopt;
  // Days from civil (Howard Hinnant's algorithm), year/month/day -> days since 1970-01-01.
  int y = year - (month < 2 ? 1 : 0);
  int m = month + 1;
  int era = (y >= 0 ? y : y - 399) / 400;
  int yoe = y - era * 400;
  int doy = (153 * (m + (m > 2 ? -3 : 9)) + 2) / 5 + day - 1;
  int doe = yoe * 365 + yoe / 4 - yoe / 100 + doy;
  int64_t days = static_cast<int64_t>(era) * 146097 + doe - 719468;
  return ((days * 24 + hour) * 60 + minute) * 60'000LL + second * 1000LL;
}

}  // namespace

std::optional<uint64_t> parseRetryAfterMs(std::string_view value, EpochMs nowMs) {
  value = trim(value);
  if (value.empty()) return std::nullopt;
  if (value.front() >= '0' && value.front() <= '9') {
    uint64_t seconds = 0;
    auto [ptr, ec] = std::from_chars(value.data(), value.data() + value.size(), seconds);
    if (ptr != value.data() + value.size()) return std::nullopt;
    if (ec == std::errc::result_out_of_range || seconds > kMaxRetryAfterMs / 1000) {
      return kMaxRetryAfterMs;
    }
    if (ec != std::errc()) return std::nullopt;
    return seconds * 1000;
  }
  auto at = parseImfFixdate(value);
  if (!at) return std::nullopt;
  if (*at <= nowMs) return 0;
  return std::min<uint64_t>(static_cast<uint64_t>(*at - nowMs), kMaxRetryAfterMs);
}

}  // namespace sluice::delivery
