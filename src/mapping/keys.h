// Equality of short strings (JSON object keys, field names) without a call into memcmp: matching
// an event's members against wanted keys compares many keys of 4-24 bytes, where the call and
// its dispatch cost more than the comparison. Pure, header-only.
#pragma once

#include <cstdint>
#include <cstring>
#include <string_view>

namespace sluice::mapping {

// a == b, byte for byte.
inline bool sameKey(std::string_view a, std::string_view b) {
  const size_t n = a.size();
  if (n != b.size()) return false;
  const char* x = a.data();
  const char* y = b.data();
  auto word = [](const char* p) {
    uint64_t w;
    std::memcpy(&w, p, 8);
    return w;
  };
  if (n >= 8) {
    for (size_t i = 0; i + 8 < n; i += 8) {
      if (word(x + i) != word(y + i)) return false;
    }
    return word(x + n - 8) == word(y + n - 8);  // the last 8 bytes, overlapping if need be
  }
  if (n >= 4) {
    uint32_t p, q, r, s;
    std::memcpy(&p, x, 4);
    std::memcpy(&q, y, 4);
    std::memcpy(&r, x + n - 4, 4);
    std::memcpy(&s, y + n - 4, 4);
    return p == q && r == s;
  }
  for (size_t i = 0; i < n; ++i) {
    if (x[i] != y[i]) return false;
  }
  return true;
}

}  // namespace sluice::mapping
