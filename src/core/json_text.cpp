#include "core/json_text.h"

#include <array>
#if defined(__SSE2__)
#include <emmintrin.h>
#endif

namespace sluice {

namespace {

// The bytes that need an escape: control characters, '"' and '\\'.
constexpr auto kEscaped = [] {
  std::array<bool, 256> escaped{};
  for (size_t c = 0; c < 0x20; ++c) escaped[c] = true;
  escaped['"'] = escaped['\\'] = true;
  return escaped;
}();

#if defined(__SSE2__)
// Bit i set when byte i of `bytes` needs an escape.
unsigned escapeMask(__m128i bytes) {
  // min(b, 0x1F) == b exactly for b <= 0x1F (unsigned)
  const __m128i hit = _mm_or_si128(_mm_or_si128(_mm_cmpeq_epi8(bytes, _mm_set1_epi8('"')),
                                                _mm_cmpeq_epi8(bytes, _mm_set1_epi8('\\'))),
                                   _mm_cmpeq_epi8(_mm_min_epu8(bytes, _mm_set1_epi8(0x1F)), bytes));
  return static_cast<unsigned>(_mm_movemask_epi8(hit));
}
#endif

// The first byte of [p, end) that needs an escape, or end. The strings written are mostly free of
// them (ids, URLs, user agents, event names): where SSE2 is available, 16 bytes are checked at a
// time, the last 16 (or, for 8-15 bytes, the first and last 8) overlapping the bytes already
// checked.
const char* findEscape(const char* p, const char* end) {
#if defined(__SSE2__)
  auto load = [](const char* q) { return _mm_loadu_si128(reinterpret_cast<const __m128i*>(q)); };
  if (end - p >= 16) {
    for (; end - p > 16; p += 16) {
      if (unsigned mask = escapeMask(load(p))) return p + __builtin_ctz(mask);
    }
    const char* last = end - 16;
    const unsigned mask = escapeMask(load(last)) >> (p - last);  // the bytes from p on
    return mask ? p + __builtin_ctz(mask) : end;
  }
  if (end - p >= 8) {
    auto load8 = [](const char* q) { return _mm_loadl_epi64(reinterpret_cast<const __m128i*>(q)); };
    const unsigned mask = escapeMask(_mm_unpacklo_epi64(load8(p), load8(end - 8)));
    if (mask == 0) return end;
    if (mask & 0xFF) return p + __builtin_ctz(mask);
    return end - 8 + __builtin_ctz(mask >> 8);
  }
#endif
  while (p < end && !kEscaped[static_cast<unsigned char>(*p)]) ++p;
  return p;
}

}  // namespace

size_t findJsonEscape(std::string_view text, size_t from) {
  if (from >= text.size()) return text.size();
  const char* begin = text.data();
  return static_cast<size_t>(findEscape(begin + from, begin + text.size()) - begin);
}

void appendJsonStringContent(std::string& out, std::string_view text) {
  static constexpr char kHex[] = "0123456789abcdef";
  const char* run = text.data();
  const char* const end = run + text.size();
  for (const char* p = findEscape(run, end); p != end; p = findEscape(run, end)) {
    out.append(run, static_cast<size_t>(p - run));
    run = p + 1;
    const unsigned char c = static_cast<unsigned char>(*p);
    switch (c) {
      case '"':
        out += "\\\"";
        break;
      case '\\':
        out += "\\\\";
        break;
      case '\b':
        out += "\\b";
        break;
      case '\f':
        out += "\\f";
        break;
      case '\n':
        out += "\\n";
        break;
      case '\r':
        out += "\\r";
        break;
      case '\t':
        out += "\\t";
        break;
      default: {
        const char escaped[6] = {'\\', 'u', '0', '0', kHex[c >> 4], kHex[c & 15]};
        out.append(escaped, sizeof escaped);
      }
    }
  }
  out.append(run, static_cast<size_t>(end - run));
}

void appendJsonString(std::string& out, std::string_view text) {
  out += '"';
  appendJsonStringContent(out, text);
  out += '"';
}

}  // namespace sluice
