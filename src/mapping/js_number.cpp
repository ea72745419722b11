#include "mapping/js_number.h"

#include <charconv>
#include <cmath>
#include <cstdint>
#include <limits>

namespace sluice::mapping {

namespace {

// The shortest round-trip digits of a positive non-integral `v` below 1e9 with at most 3 decimals
// (prices, amounts), without the general shortest-digits search; false for any other value.
// Why this is the shortest form: below 1e9, a d-decimal string (d <= 3) that reads back as `v` lies
// within 10^d * ulp(v) / 2 < 1e-4 of v * 10^d, and the product computed in double is within 2e-4
// of the exact one, so the rounded product is the only d-decimal candidate. Tried with d = 1, 2, 3
// in turn, the first that reads back (n / 10^d is correctly rounded, as parsing is) has the fewest
// decimals, its last digit is not 0 (else d - 1 would have read back, or, for d = 1, an integer,
// which `v` is not), and a form with more decimals has at least as many significant digits; the
// general search gives the same digits.
bool shortDecimalDigits(double v, char* digits, int& k, int& n) {
  if (!(v < 1e9)) return false;
  double scale = 1;
  for (int d = 1; d <= 3; ++d) {
    scale *= 10;
    double scaled = std::nearbyint(v * scale);
    if (scaled / scale != v) continue;
    auto res = std::to_chars(digits, digits + 24, static_cast<int64_t>(scaled));
    k = static_cast<int>(res.ptr - digits);
    n = k - d;  // 0 or negative for v < 1: that many zeros follow the point
    return true;
  }
  return false;
}

}  // namespace

void appendJsNumber(std::string& out, double v) {
  if (std::isnan(v)) {
    out += "NaN";
    return;
  }
  if (std::isinf(v)) {
    out += v < 0 ? "-Infinity" : "Infinity";
    return;
  }
  if (v == 0) {
    out += '0';
    return;
  }
  // Fast path: integers that print the same in every notation.
  if (std::fabs(v) < 1e15 && v == std::trunc(v)) {
    char buf[24];
    auto res = std::to_chars(buf, buf + sizeof buf, static_cast<int64_t>(v));
    out.append(buf, res.ptr);
    return;
  }
  if (v < 0) {
    out += '-';
    v = -v;
  }
  // Shortest round-trip digits, `k` of them, with the decimal point `n` digits from their start.
  char digits[24];
  int k = 0;
  int n = 0;
  if (!shortDecimalDigits(v, digits, k, n)) {
    // d[.ddd]e[+-]x
    char buf[40];
    auto res = std::to_chars(buf, buf + sizeof buf, v, std::chars_format::scientific);
    std::string_view sci(buf, static_cast<size_t>(res.ptr - buf));
    size_t epos = sci.find('e');
    for (size_t i = 0; i < epos; ++i) {
      if (sci[i] != '.') digits[k++] = sci[i];
    }
    int exp10 = 0;
    std::from_chars(sci.data() + epos + (sci[epos + 1] == '+' ? 2 : 1), sci.data() + sci.size(),
                    exp10);
    n = exp10 + 1;
  }
  if (k <= n && n <= 21) {
    out.append(digits, static_cast<size_t>(k));
    out.append(static_cast<size_t>(n - k), '0');
  } else if (0 < n && n <= 21) {
    out.append(digits, static_cast<size_t>(n));
    out += '.';
    out.append(digits + n, static_cast<size_t>(k - n));
  } else if (-6 < n && n <= 0) {
    out += "0.";
    out.append(static_cast<size_t>(-n), '0');
    out.append(digits, static_cast<size_t>(k));
  } else {
    out += digits[0];
    if (k > 1) {
      out += '.';
      out.append(digits + 1, static_cast<size_t>(k - 1));
    }
    out += 'e';
    out += (n - 1) < 0 ? '-' : '+';
    char ebuf[8];
    auto eres = std::to_chars(ebuf, ebuf + sizeof ebuf, std::abs(n - 1));
    out.append(ebuf, eres.ptr);
  }
}

std::string jsNumberToString(double v) {
  std::string s;
  appendJsNumber(s, v);
  return s;
}

namespace {

bool isJsSpace(char c) {
  return c == ' ' || c == '\t' || c == '\n' || c == '\r' || c == '\v' || c == '\f';
}

double parseRadix(std::string_view digits, int radix) {
  if (digits.empty()) return std::numeric_limits<double>::quiet_NaN();
  double value = 0;
  for (char c : digits) {
    int d;
    if (c >= '0' && c <= '9') {
      d = c - '0';
    } else if (c >= 'a' && c <= 'z') {
      d = c - 'a' + 10;
    } else if (c >= 'A' && c <= 'Z') {
      d = c - 'A' + 10;
    } else {
      return std::numeric_limits<double>::quiet_NaN();
    }
    if (d >= radix) return std::numeric_limits<double>::quiet_NaN();
    value = value * radix + d;
  }
  return value;
}

}  // namespace

double jsStringToNumber(std::string_view s) {
  constexpr double kNaN = std::numeric_limits<double>::quiet_NaN();
  while (!s.empty() && isJsSpace(s.front())) s.remove_prefix(1);
  while (!s.empty() && isJsSpace(s.back())) s.remove_suffix(1);
  if (s.empty()) return 0;
  if (s.size() > 2 && s[0] == '0') {
    char p = s[1];
    if (p == 'x' || p == 'X') return parseRadix(s.substr(2), 16);
    if (p == 'o' || p == 'O') return parseRadix(s.substr(2), 8);
    if (p == 'b' || p == 'B') return parseRadix(s.substr(2), 2);
  }
  bool negative = false;
  std::string_view body = s;
  if (body[0] == '+' || body[0] == '-') {
    negative = body[0] == '-';
    body.remove_prefix(1);
  }
  if (body == "Infinity") {
    return negative ? -std::numeric_limits<double>::infinity()
                    : std::numeric_limits<double>::infinity();
  }
  // Validate the StrDecimalLiteral shape; from_chars alone would accept "inf", "nan", hex floats.
  size_t i = 0;
  size_t int_digits = 0;
  size_t frac_digits = 0;
  while (i < body.size() && body[i] >= '0' && body[i] <= '9') ++i, ++int_digits;
  if (i < body.size() && body[i] == '.') {
    ++i;
    while (i < body.size() && body[i] >= '0' && body[i] <= '9') ++i, ++frac_digits;
  }
  if (int_digits + frac_digits == 0) return kNaN;
  if (i < body.size() && (body[i] == 'e' || body[i] == 'E')) {
    ++i;
    if (i < body.size() && (body[i] == '+' || body[i] == '-')) ++i;
    size_t exp_digits = 0;
    while (i < body.size() && body[i] >= '0' && body[i] <= '9') ++i, ++exp_digits;
    if (exp_digits == 0) return kNaN;
  }
  if (i != body.size()) return kNaN;
  double value = 0;
  auto res = std::from_chars(body.data(), body.data() + body.size(), value);
  if (res.ec == std::errc::result_out_of_range) {
    // Overflow -> Infinity, underflow -> 0, as JavaScript rounds.
    bool big = false;
    for (char c : body) {
      if (c == 'e' || c == 'E') break;
      if (c >= '1' && c <= '9') {
        big = true;
        break;
      }
    }
    size_t e = body.find_first_of("eE");
    if (e != std::string_view::npos && body[e + 1] == '-') big = false;
    value = big ? std::numeric_limits<double>::infinity() : 0.0;
  } else if (res.ec != std::errc()) {
    return kNaN;
  }
  return negative ? -value : value;
}

}  // namespace sluice::mapping
