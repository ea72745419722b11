#include "ingest/json_copy.h"

#include <bit>
#include <charconv>
#include <cstdint>

#ifdef __SSE2__
#include <emmintrin.h>
#endif

#include "core/json_text.h"

namespace sluice::ingest {

namespace {

using simdjson::dom::array;
using simdjson::dom::element;
using simdjson::dom::element_type;
using simdjson::dom::object;

constexpr size_t kNone = std::string_view::npos;

// Inside a string of validated JSON: the index of the next '"' or '\\' at or after `pos` (or of a
// control character, which such text does not hold), or text.size().
size_t findStringStop(std::string_view text, size_t pos) {
#ifdef __SSE2__
  const __m128i quote = _mm_set1_epi8('"');
  const __m128i backslash = _mm_set1_epi8('\\');
  while (pos + 16 <= text.size()) {
    const __m128i chunk = _mm_loadu_si128(reinterpret_cast<const __m128i*>(text.data() + pos));
    const __m128i stops =
        _mm_or_si128(_mm_cmpeq_epi8(chunk, quote), _mm_cmpeq_epi8(chunk, backslash));
    const auto mask = static_cast<unsigned>(_mm_movemask_epi8(stops));
    if (mask != 0) return pos + static_cast<size_t>(std::countr_zero(mask));
    pos += 16;
  }
#endif
  return findJsonEscape(text, pos);
}

bool isSpace(char c) { return c == ' ' || c == '\n' || c == '\r' || c == '\t'; }

bool isNumberChar(char c) {
  return (c >= '0' && c <= '9') || c == '-' || c == '+' || c == '.' || c == 'e' || c == 'E';
}

// Whether std::to_chars would write the double nearest to the number `text` (JSON syntax, with a
// fraction and no exponent) exactly as `text`: at most 15 significant digits (so no other decimal
// of that many digits or fewer has the same nearest double, and the shortest form has these
// digits), no trailing zero in the fraction, and fixed notation no longer than scientific (always
// so with a non-zero integer part; "0.00ddd" needs at most two zeros after the point).
bool isShortestDecimal(std::string_view text) {
  if (!text.empty() && text.front() == '-') text.remove_prefix(1);
  const size_t point = text.find('.');
  if (point == std::string_view::npos || point + 1 >= text.size() || text.back() == '0') {
    return false;
  }
  const std::string_view whole = text.substr(0, point);
  const std::string_view fraction = text.substr(point + 1);
  for (char c : fraction) {
    if (c < '0' || c > '9') return false;  // an exponent
  }
  if (whole != "0") return whole.size() + fraction.size() <= 15;
  const size_t zeros = fraction.find_first_not_of('0');
  return zeros <= 2 && fraction.size() - zeros <= 15;
}

// Appends the shortest form std::to_chars gives for `value` (what the DOM writer writes).
template <typename T>
void appendNumber(std::string& out, T value) {
  char buffer[32];
  auto end = std::to_chars(buffer, buffer + sizeof buffer, value).ptr;
  out.append(buffer, end);
}

// Appends one code point (from a \u escape) as appendJsonString writes it.
void appendCodePoint(std::string& out, uint32_t codePoint) {
  if (codePoint < 0x80) {
    const char c = static_cast<char>(codePoint);
    appendJsonStringContent(out, std::string_view(&c, 1));
    return;
  }
  char utf8[4];
  size_t length = 0;
  if (codePoint < 0x800) {
    utf8[length++] = static_cast<char>(0xC0 | (codePoint >> 6));
  } else if (codePoint < 0x10000) {
    utf8[length++] = static_cast<char>(0xE0 | (codePoint >> 12));
    utf8[length++] = static_cast<char>(0x80 | ((codePoint >> 6) & 0x3F));
  } else {
    utf8[length++] = static_cast<char>(0xF0 | (codePoint >> 18));
    utf8[length++] = static_cast<char>(0x80 | ((codePoint >> 12) & 0x3F));
    utf8[length++] = static_cast<char>(0x80 | ((codePoint >> 6) & 0x3F));
  }
  utf8[length++] = static_cast<char>(0x80 | (codePoint & 0x3F));
  out.append(utf8, length);
}

// The 4 hex digits at `at` of `text`, or false.
bool hex4(std::string_view text, size_t at, uint32_t& value) {
  if (at + 4 > text.size()) return false;
  value = 0;
  for (size_t k = 0; k < 4; ++k) {
    const char c = text[at + k];
    uint32_t digit;
    if (c >= '0' && c <= '9') {
      digit = static_cast<uint32_t>(c - '0');
    } else if (c >= 'a' && c <= 'f') {
      digit = static_cast<uint32_t>(c - 'a' + 10);
    } else if (c >= 'A' && c <= 'F') {
      digit = static_cast<uint32_t>(c - 'A' + 10);
    } else {
      return false;
    }
    value = (value << 4) | digit;
  }
  return true;
}

}  // namespace

bool appendDomValue(std::string& out, element value, size_t depth, size_t maxDepth) {
  switch (value.type()) {
    case element_type::OBJECT: {
      if (depth > maxDepth) return false;
      out.push_back('{');
      bool first = true;
      for (auto field : object(value)) {
        if (!first) out.push_back(',');
        first = false;
        appendJsonString(out, field.key);
        out.push_back(':');
        if (!appendDomValue(out, field.value, depth + 1, maxDepth)) return false;
      }
      out.push_back('}');
      return true;
    }
    case element_type::ARRAY: {
      if (depth > maxDepth) return false;
      out.push_back('[');
      bool first = true;
      for (element item : array(value)) {
        if (!first) out.push_back(',');
        first = false;
        if (!appendDomValue(out, item, depth + 1, maxDepth)) return false;
      }
      out.push_back(']');
      return true;
    }
    case element_type::STRING:
      appendJsonString(out, value.get_string().value_unsafe());
      return true;
    case element_type::INT64:
      appendNumber(out, value.get_int64().value_unsafe());
      return true;
    case element_type::UINT64:
      appendNumber(out, value.get_uint64().value_unsafe());
      return true;
    case element_type::DOUBLE:
      appendNumber(out, value.get_double().value_unsafe());
      return true;
    case element_type::BOOL:
      out.append(value.get_bool().value_unsafe() ? "true" : "false");
      return true;
    case element_type::NULL_VALUE:
      out.append("null");
      return true;
  }
  return true;
}

size_t JsonSource::skipSpace(size_t pos) const {
  while (pos < text_.size() && isSpace(text_[pos])) ++pos;
  return pos;
}

size_t JsonSource::stringEnd(size_t pos) const {
  while (true) {
    pos = findStringStop(text_, pos);
    if (pos >= text_.size()) return kNone;
    if (text_[pos] == '"') return pos + 1;
    if (text_[pos] != '\\') return kNone;  // a raw control character: not valid JSON
    pos += 2;
  }
}

JsonSource::Copy JsonSource::copyValue(std::string& out, size_t& pos, size_t depth,
                                       size_t maxDepth) const {
  const char* s = text_.data();
  const size_t n = text_.size();
  size_t i = skipSpace(pos);
  size_t run = i;  // the start of the text read but not yet appended
  size_t level = 0;
  auto flush = [&](size_t end) { out.append(s + run, end - run); };
  while (i < n) {
    const char c = s[i];
    switch (c) {
      case '"': {
        ++i;
        while (true) {
          i = findStringStop(text_, i);
          if (i >= n) return Copy::kFallback;  // unterminated
          if (s[i] == '"') {
            ++i;
            break;
          }
          // A raw control character, or a backslash that ends the text.
          if (s[i] != '\\' || i + 1 >= n) return Copy::kFallback;
          const char escape = s[i + 1];
          if (escape == '"' || escape == '\\' || escape == 'b' || escape == 'f' || escape == 'n' ||
              escape == 'r' || escape == 't') {
            i += 2;  // compact JSON writes these the same way
            continue;
          }
          if (escape == '/') {
            flush(i);
            out.push_back('/');
          } else if (escape == 'u') {
            uint32_t codePoint;
            if (!hex4(text_, i + 2, codePoint)) return Copy::kFallback;
            size_t next = i + 6;
            if (codePoint >= 0xD800 && codePoint < 0xDC00) {
              uint32_t low;
              if (next + 2 > n || s[next] != '\\' || s[next + 1] != 'u' ||
                  !hex4(text_, next + 2, low) || low < 0xDC00 || low > 0xDFFF) {
                return Copy::kFallback;
              }
              codePoint = 0x10000 + ((codePoint - 0xD800) << 10) + (low - 0xDC00);
              next += 6;
            } else if (codePoint >= 0xDC00 && codePoint <= 0xDFFF) {
              return Copy::kFallback;
            }
            flush(i);
            appendCodePoint(out, codePoint);
            i = next - 2;
          } else {
            return Copy::kFallback;
          }
          i += 2;
          run = i;
        }
        break;
      }
      case '{':
      case '[':
        if (depth + level > maxDepth) return Copy::kTooDeep;
        ++level;
        ++i;
        continue;
      case '}':
      case ']':
        if (level == 0) return Copy::kFallback;
        --level;
        ++i;
        break;
      case ',':
      case ':':
        if (level == 0) return Copy::kFallback;
        ++i;
        continue;
      case ' ':
      case '\n':
      case '\r':
      case '\t':
        flush(i);
        i = skipSpace(i);
        run = i;
        continue;
      case 't':
      case 'n':
        if (text_.substr(i, 4) != (c == 't' ? "true" : "null")) return Copy::kFallback;
        i += 4;
        break;
      case 'f':
        if (text_.substr(i, 5) != "false") return Copy::kFallback;
        i += 5;
        break;
      default: {
        if (c != '-' && (c < '0' || c > '9')) return Copy::kFallback;
        const size_t start = i;
        bool integer = true;
        while (i < n && isNumberChar(s[i])) {
          if (s[i] == '.' || s[i] == 'e' || s[i] == 'E') integer = false;
          ++i;
        }
        if (integer) {
          // simdjson reads "-0" as the integer 0; every other valid integer is written as sent.
          if (i - start == 2 && s[start] == '-' && s[start + 1] == '0') {
            flush(start);
            out.push_back('0');
            run = i;
          }
          break;
        }
        if (isShortestDecimal(text_.substr(start, i - start))) break;  // written as sent
        double value;
        auto [end, error] = std::from_chars(s + start, s + i, value);
        if (error != std::errc() || end != s + i) return Copy::kFallback;
        flush(start);
        appendNumber(out, value);
        run = i;
        break;
      }
    }
    if (level == 0) {
      flush(i);
      pos = i;
      return Copy::kOk;
    }
  }
  return Copy::kFallback;
}

bool JsonSource::skipValue(size_t& pos) const {
  const size_t n = text_.size();
  size_t i = skipSpace(pos);
  size_t level = 0;
  while (i < n) {
    const char c = text_[i];
    if (c == '"') {
      i = stringEnd(i + 1);
      if (i == kNone) return false;
    } else if (c == '{' || c == '[') {
      ++level;
      ++i;
      continue;
    } else if (c == '}' || c == ']') {
      if (level == 0) return false;
      --level;
      ++i;
    } else if (c == ',' || c == ':' || isSpace(c)) {
      if (level == 0) return false;
      ++i;
      continue;
    } else if (isNumberChar(c) || (c >= 'a' && c <= 'z')) {
      while (i < n && (isNumberChar(text_[i]) || (text_[i] >= 'a' && text_[i] <= 'z'))) ++i;
    } else {
      return false;
    }
    if (level == 0) {
      pos = i;
      return true;
    }
  }
  return false;
}

JsonSource::Step JsonSource::nextMember(size_t& pos, bool first, std::string_view& rawKey) const {
  const size_t n = text_.size();
  size_t i = skipSpace(pos);
  if (i >= n) return Step::kBad;
  if (first) {
    if (text_[i] != '{') return Step::kBad;
    i = skipSpace(i + 1);
    if (i < n && text_[i] == '}') {
      pos = i + 1;
      return Step::kEnd;
    }
  } else {
    if (text_[i] == '}') {
      pos = i + 1;
      return Step::kEnd;
    }
    if (text_[i] != ',') return Step::kBad;
    i = skipSpace(i + 1);
  }
  if (i >= n || text_[i] != '"') return Step::kBad;
  const size_t end = stringEnd(i + 1);
  if (end == kNone) return Step::kBad;
  rawKey = text_.substr(i + 1, end - i - 2);
  i = skipSpace(end);
  if (i >= n || text_[i] != ':') return Step::kBad;
  pos = skipSpace(i + 1);
  return Step::kItem;
}

JsonSource::Step JsonSource::nextElement(size_t& pos, bool first) const {
  const size_t n = text_.size();
  size_t i = skipSpace(pos);
  if (i >= n) return Step::kBad;
  if (first) {
    if (text_[i] != '[') return Step::kBad;
    i = skipSpace(i + 1);
  } else if (text_[i] == ',') {
    i = skipSpace(i + 1);
  } else if (text_[i] != ']') {
    return Step::kBad;
  }
  if (i < n && text_[i] == ']') {
    pos = i + 1;
    return Step::kEnd;
  }
  pos = i;
  return i < n ? Step::kItem : Step::kBad;
}

}  // namespace sluice::ingest
