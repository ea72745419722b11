#include "ingest/json_text.h"

#include <array>
#include <bit>
#include <cstdint>
#include <cstring>

namespace sluice::ingest {

namespace {

// For each byte, whether it must be escaped inside a JSON string.
constexpr auto kEscapeTable = [] {
  std::array<bool, 256> table{};
  for (int c = 0; c < 0x20; ++c) table[c] = true;
  table['"'] = true;
  table['\\'] = true;
  return table;
}();

inline bool needsEscape(unsigned char c) { return kEscapeTable[c]; }

constexpr uint64_t kOnes = 0x0101010101010101ull;
constexpr uint64_t kHighs = 0x8080808080808080ull;

// The high bit of each of the 8 bytes of `word` that needs escaping (below 0x20, '"' or '\\') is
// set, and possibly of bytes after such a byte (borrows), never of bytes before the first one.
inline uint64_t escapeMask(uint64_t word) {
  const uint64_t below = (word - kOnes * 0x20) & ~word;
  const uint64_t quote = word ^ (kOnes * '"');
  const uint64_t backslash = word ^ (kOnes * '\\');
  const uint64_t zeroQuote = (quote - kOnes) & ~quote;
  const uint64_t zeroBackslash = (backslash - kOnes) & ~backslash;
  return (below | zeroQuote | zeroBackslash) & kHighs;
}

}  // namespace

size_t findJsonEscape(std::string_view text, size_t from) {
  size_t i = from;
  while (i + 8 <= text.size()) {
    uint64_t word;
    std::memcpy(&word, text.data() + i, 8);
    const uint64_t mask = escapeMask(word);
    if (mask != 0) {
      // In memory order the first byte is the lowest one on little-endian machines.
      if constexpr (std::endian::native == std::endian::little) {
        return i + static_cast<size_t>(std::countr_zero(mask)) / 8;
      }
      break;
    }
    i += 8;
  }
  while (i < text.size() && !needsEscape(static_cast<unsigned char>(text[i]))) ++i;
  return i;
}

void appendJsonString(std::string& out, std::string_view text) {
  if (findJsonEscape(text, 0) == text.size()) {  // the common case: nothing to escape, one copy
    out.push_back('"');
    out.append(text);
    out.push_back('"');
    return;
  }
  out.push_back('"');
  appendJsonStringContent(out, text);
  out.push_back('"');
}

void appendJsonStringContent(std::string& out, std::string_view text) {
  static constexpr char kHex[] = "0123456789abcdef";
  size_t runStart = 0;
  while (true) {
    const size_t i = findJsonEscape(text, runStart);
    out.append(text.data() + runStart, i - runStart);
    if (i == text.size()) break;
    runStart = i + 1;
    const auto c = static_cast<unsigned char>(text[i]);
    switch (c) {
      case '"': out.append("\\\""); break;
      case '\\': out.append("\\\\"); break;
      case '\n': out.append("\\n"); break;
      case '\r': out.append("\\r"); break;
      case '\t': out.append("\\t"); break;
      case '\b': out.append("\\b"); break;
      case '\f': out.append("\\f"); break;
      default: {
        const char escaped[6] = {'\\', 'u', '0', '0', kHex[c >> 4], kHex[c & 0xf]};
        out.append(escaped, sizeof escaped);
      }
    }
  }
}

}  // namespace sluice::ingest
