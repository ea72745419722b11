#include "core/time.h"

#include <cctype>
#include <cmath>
#include <cstdio>

namespace sluice {
namespace {

// Days since 1970-01-01 of a proleptic Gregorian date (Howard Hinnant's civil algorithm).
int64_t daysFromCivil(int64_t y, unsigned m, unsigned d) {
  y -= m <= 2;
  const int64_t era = (y >= 0 ? y : y - 399) / 400;
  const unsigned yoe = static_cast<unsigned>(y - era * 400);
  const unsigned doy = (153 * (m + (m > 2 ? -3 : 9)) + 2) / 5 + d - 1;
  const unsigned doe = yoe * 365 + yoe / 4 - yoe / 100 + doy;
  return era * 146097 + static_cast<int64_t>(doe) - 719468;
}

void civilFromDays(int64_t z, int64_t& y, unsigned& m, unsigned& d) {
  z += 719468;
  const int64_t era = (z >= 0 ? z : z - 146096) / 146097;
  const unsigned doe = static_cast<unsigned>(z - era * 146097);
  const unsigned yoe = (doe - doe / 1460 + doe / 36524 - doe / 146096) / 365;
  y = static_cast<int64_t>(yoe) + era * 400;
  const unsigned doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
  const unsigned mp = (5 * doy + 2) / 153;
  d = doy - (153 * mp + 2) / 5 + 1;
  m = mp < 10 ? mp + 3 : mp - 9;
  y += m <= 2;
}

bool isLeap(int64_t y) { return (y % 4 == 0 && y % 100 != 0) || y % 400 == 0; }

unsigned daysInMonth(int64_t y, unsigned m) {
  static constexpr unsigned kDays[] = {31, 28, 31, 30, 31, 30, 31, 31, 30, 31, 30, 31};
  return m == 2 && isLeap(y) ? 29 : kDays[m - 1];
}

// Reads exactly `n` digits at `pos`.
bool readDigits(std::string_view s, size_t& pos, size_t n, int64_t& out) {
  if (pos + n > s.size()) return false;
  out = 0;
  for (size_t i = 0; i < n; ++i) {
    const char c = s[pos + i];
    if (c < '0' || c > '9') return false;
    out = out * 10 + (c - '0');
  }
  pos += n;
  return true;
}

}  // namespace

std::optional<EpochMs> parseIsoTime(std::string_view s) {
  size_t pos = 0;
  int64_t year, month, day;
  if (!readDigits(s, pos, 4, year) || pos >= s.size() || s[pos++] != '-') return std::nullopt;
  if (!readDigits(s, pos, 2, month) || pos >= s.size() || s[pos++] != '-') return std::nullopt;
  if (!readDigits(s, pos, 2, day)) return std::nullopt;
  if (month < 1 || month > 12 || day < 1 || day > daysInMonth(year, static_cast<unsigned>(month))) {
    return std::nullopt;
  }
  int64_t hour = 0, minute = 0, second = 0, millis = 0, offsetMinutes = 0;
  if (pos < s.size()) {
    if (s[pos] != 'T' && s[pos] != 't' && s[pos] != ' ') return std::nullopt;
    ++pos;
    if (!readDigits(s, pos, 2, hour) || pos >= s.size() || s[pos++] != ':') return std::nullopt;
    if (!readDigits(s, pos, 2, minute)) return std::nullopt;
    if (pos < s.size() && s[pos] == ':') {
      ++pos;
      if (!readDigits(s, pos, 2, second)) return std::nullopt;
      if (pos < s.size() && (s[pos] == '.' || s[pos] == ',')) {
        ++pos;
        size_t digits = 0;
        int64_t scale = 100;
        while (pos < s.size() && std::isdigit(static_cast<unsigned char>(s[pos]))) {
          if (digits < 3) millis += (s[pos] - '0') * scale, scale /= 10;
          ++digits, ++pos;
        }
        if (digits == 0) return std::nullopt;
      }
    }
    if (hour > 23 || minute > 59 || second > 60) return std::nullopt;
    if (pos < s.size()) {
      const char z = s[pos];
      if (z == 'Z' || z == 'z') {
        ++pos;
      } else if (z == '+' || z == '-') {
        ++pos;
        int64_t oh, om = 0;
        if (!readDigits(s, pos, 2, oh)) return std::nullopt;
        if (pos < s.size() && s[pos] == ':') ++pos;
        if (pos < s.size() && !readDigits(s, pos, 2, om)) return std::nullopt;
        if (oh > 23 || om > 59) return std::nullopt;
        offsetMinutes = (z == '+' ? 1 : -1) * (oh * 60 + om);
      }
    }
    if (pos != s.size()) return std::nullopt;
  }
  const int64_t days = daysFromCivil(year, static_cast<unsigned>(month), static_cast<unsigned>(day));
  const int64_t secs = days * 86400 + hour * 3600 + minute * 60 + second - offsetMinutes * 60;
  return secs * 1000 + millis;
}

std::string formatIsoTime(EpochMs ms) {
  int64_t days = ms >= 0 ? ms / 86'400'000 : -((-ms + 86'399'999) / 86'400'000);
  int64_t rem = ms - days * 86'400'000;
  int64_t y;
  unsigned m, d;
  civilFromDays(days, y, m, d);
  if (y >= 0 && y <= 9999) {
    // The common case, written digit by digit (snprintf costs ~10x more; ingest formats a
    // timestamp per event).
    const auto h = static_cast<unsigned>(rem / 3'600'000);
    const auto min = static_cast<unsigned>(rem / 60'000 % 60);
    const auto sec = static_cast<unsigned>(rem / 1000 % 60);
    const auto milli = static_cast<unsigned>(rem % 1000);
    const auto year = static_cast<unsigned>(y);
    std::string text = "0000-00-00T00:00:00.000Z";
    const struct {
      size_t end;  // just past the field's last digit
      unsigned value;
    } fields[] = {{4, year}, {7, m}, {10, d}, {13, h}, {16, min}, {19, sec}, {23, milli}};
    for (auto [end, value] : fields) {
      for (size_t at = end; value > 0; value /= 10) {
        text[--at] = static_cast<char>('0' + value % 10);
      }
    }
    return text;
  }
  char buf[96];
  std::snprintf(buf, sizeof buf, "%04lld-%02u-%02uT%02lld:%02lld:%02lld.%03lldZ",
                static_cast<long long>(y), m, d, static_cast<long long>(rem / 3'600'000),
                static_cast<long long>(rem / 60'000 % 60), static_cast<long long>(rem / 1000 % 60),
                static_cast<long long>(rem % 1000));
  return buf;
}

std::optional<int64_t> parseDurationMs(std::string_view s) {
  if (s.empty()) return std::nullopt;
  double total = 0;
  size_t pos = 0;
  while (pos < s.size()) {
    size_t start = pos;
    while (pos < s.size() && (std::isdigit(static_cast<unsigned char>(s[pos])) || s[pos] == '.')) ++pos;
    if (pos == start) return std::nullopt;
    double value = 0;
    if (std::sscanf(std::string(s.substr(start, pos - start)).c_str(), "%lf", &value) != 1) {
      return std::nullopt;
    }
    size_t unitStart = pos;
    while (pos < s.size() && std::isalpha(static_cast<unsigned char>(s[pos]))) ++pos;
    const std::string_view unit = s.substr(unitStart, pos - unitStart);
    double scale;
    if (unit == "ms") scale = 1;
    else if (unit == "s") scale = 1000;
    else if (unit == "m") scale = 60'000;
    else if (unit == "h") scale = 3'600'000;
    else if (unit == "d") scale = 86'400'000;
    else if (unit == "w") scale = 604'800'000;
    else return std::nullopt;
    total += value * scale;
  }
  if (!std::isfinite(total) || total < 0 || total > 9.2e18) return std::nullopt;
  return static_cast<int64_t>(std::llround(total));
}

std::optional<EpochMs> parseTimeArgument(std::string_view s, EpochMs nowMs) {
  if (s == "now") return nowMs;
  if (!s.empty() && s.front() == '-') {
    if (auto d = parseDurationMs(s.substr(1))) return nowMs - *d;
    return std::nullopt;
  }
  constexpr std::string_view kAgo = " ago";
  if (s.size() > kAgo.size() && s.substr(s.size() - kAgo.size()) == kAgo) {
    if (auto d = parseDurationMs(s.substr(0, s.size() - kAgo.size()))) return nowMs - *d;
    return std::nullopt;
  }
  bool allDigits = !s.empty();
  for (char c : s) allDigits = allDigits && std::isdigit(static_cast<unsigned char>(c));
  if (allDigits && s.size() <= 16) {
    const int64_t n = std::stoll(std::string(s));
    return n < 100'000'000'000 ? n * 1000 : n;  // seconds until year 5138, else milliseconds
  }
  return parseIsoTime(s);
}

}  // namespace sluice
