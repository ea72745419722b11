#include "tiktok/pii.h"

#include <locale.h>
// SHA256_Init/Update/Final are deprecated in OpenSSL 3 in favour of EVP, but they are still
// provided, use the same SHA-NI code, and neither allocate nor go through the provider: 64 ns per
// short input against 180-230 ns for EVP_DigestInit_ex2/Update/Final (or EVP_MD_CTX_copy_ex, or
// EVP_Digest) on the same core, which is 6 hashes per event on the mapping path.
#define OPENSSL_SUPPRESS_DEPRECATED
#include <openssl/sha.h>
#include <wctype.h>

#include <array>
#include <cstdint>
#include <cstring>

namespace sluice::tiktok {
namespace {

// Decodes one UTF-8 code point at text[i]; advances i. Invalid bytes decode as themselves.
uint32_t decodeUtf8(std::string_view text, size_t& i) {
  auto byte = [&](size_t k) { return static_cast<unsigned char>(text[k]); };
  unsigned char c = byte(i);
  if (c < 0x80) {
    ++i;
    return c;
  }
  int len = (c >= 0xF0) ? 4 : (c >= 0xE0) ? 3 : (c >= 0xC0) ? 2 : 1;
  if (len == 1 || i + static_cast<size_t>(len) > text.size()) {
    ++i;
    return 0xFFFFFFFFu;  // a stray byte: copied through unchanged by callers
  }
  uint32_t cp = c & (0x7F >> len);
  for (int k = 1; k < len; ++k) {
    unsigned char cc = byte(i + static_cast<size_t>(k));
    if ((cc & 0xC0) != 0x80) {
      ++i;
      return 0xFFFFFFFFu;
    }
    cp = (cp << 6) | (cc & 0x3F);
  }
  i += static_cast<size_t>(len);
  return cp;
}

void encodeUtf8(std::string& out, uint32_t cp) {
  if (cp < 0x80) {
    out += static_cast<char>(cp);
  } else if (cp < 0x800) {
    out += static_cast<char>(0xC0 | (cp >> 6));
    out += static_cast<char>(0x80 | (cp & 0x3F));
  } else if (cp < 0x10000) {
    out += static_cast<char>(0xE0 | (cp >> 12));
    out += static_cast<char>(0x80 | ((cp >> 6) & 0x3F));
    out += static_cast<char>(0x80 | (cp & 0x3F));
  } else {
    out += static_cast<char>(0xF0 | (cp >> 18));
    out += static_cast<char>(0x80 | ((cp >> 12) & 0x3F));
    out += static_cast<char>(0x80 | ((cp >> 6) & 0x3F));
    out += static_cast<char>(0x80 | (cp & 0x3F));
  }
}

// JavaScript's white space and line terminators (what /\s/ and trim() match).
bool isJsSpace(uint32_t cp) {
  switch (cp) {
    case 0x09:
    case 0x0A:
    case 0x0B:
    case 0x0C:
    case 0x0D:
    case 0x20:
    case 0xA0:
    case 0x1680:
    case 0x2028:
    case 0x2029:
    case 0x202F:
    case 0x205F:
    case 0x3000:
    case 0xFEFF:
      return true;
    default:
      return cp >= 0x2000 && cp <= 0x200A;
  }
}

locale_t utf8Locale() {
  static const locale_t locale = newlocale(LC_CTYPE_MASK, "C.UTF-8", static_cast<locale_t>(0));
  return locale;
}

bool isHex(char c) {
  return (c >= '0' && c <= '9') || (c >= 'a' && c <= 'f') || (c >= 'A' && c <= 'F');
}

}  // namespace

void appendSha256Hex(std::string& out, std::string_view input) {
  // The two hex digits of every byte value.
  static constexpr auto kHexPairs = [] {
    constexpr char kHex[] = "0123456789abcdef";
    std::array<char, 512> pairs{};
    for (size_t b = 0; b < 256; ++b) {
      pairs[2 * b] = kHex[b >> 4];
      pairs[2 * b + 1] = kHex[b & 15];
    }
    return pairs;
  }();
  unsigned char digest[SHA256_DIGEST_LENGTH];
  SHA256_CTX ctx;
  SHA256_Init(&ctx);
  SHA256_Update(&ctx, input.data(), input.size());
  SHA256_Final(digest, &ctx);
  char hex[2 * SHA256_DIGEST_LENGTH];
  for (size_t k = 0; k < SHA256_DIGEST_LENGTH; ++k) {
    std::memcpy(hex + 2 * k, &kHexPairs[2 * size_t{digest[k]}], 2);
  }
  out.append(hex, sizeof hex);
}

std::string sha256Hex(std::string_view input) {
  std::string out;
  out.reserve(64);
  appendSha256Hex(out, input);
  return out;
}

bool isSha256Hex(std::string_view text) {
  if (text.size() != 64) return false;
  for (char c : text) {
    if (!isHex(c)) return false;
  }
  return true;
}

namespace {

void appendJsLowerCase(std::string& out, std::string_view text) {
  size_t i = 0;
  while (i < text.size()) {
    unsigned char c = static_cast<unsigned char>(text[i]);
    if (c < 0x80) {
      out += static_cast<char>((c >= 'A' && c <= 'Z') ? c + 32 : c);
      ++i;
      continue;
    }
    size_t start = i;
    uint32_t cp = decodeUtf8(text, i);
    if (cp == 0xFFFFFFFFu) {
      out.append(text.data() + start, i - start);
      continue;
    }
    locale_t locale = utf8Locale();
    uint32_t lower =
        locale ? static_cast<uint32_t>(towlower_l(static_cast<wint_t>(cp), locale)) : cp;
    encodeUtf8(out, lower);
  }
}

void appendWithoutJsWhitespace(std::string& out, std::string_view text) {
  size_t i = 0;
  while (i < text.size()) {
    size_t start = i;
    uint32_t cp = decodeUtf8(text, i);
    if (!isJsSpace(cp)) out.append(text.data() + start, i - start);
  }
}

// Per-thread buffers for normalised text, so that hashing allocates nothing once warm. Each call
// of an append function below uses them and leaves them free again.
std::string& scratch(int which) {
  thread_local std::string buffers[2];
  buffers[which].clear();
  return buffers[which];
}

// `normalized` itself when it already is a digest ("smart hashing"), else its SHA-256.
void appendDigestOf(std::string& out, std::string_view normalized) {
  if (isSha256Hex(normalized)) {
    out += normalized;
  } else {
    appendSha256Hex(out, normalized);
  }
}

void appendNormalizedPhone(std::string& out, std::string_view phone,
                           std::string_view defaultRegion) {
  if (!defaultRegion.empty()) {
    std::string e164 = formatE164(phone, defaultRegion);
    if (!e164.empty()) {
      out += e164;
      return;
    }
  }
  size_t start = out.size();
  out += '+';
  for (char c : phone) {
    if (c >= '0' && c <= '9') out += c;
  }
  if (out.size() - start > 15) out.resize(start + 15);
}

}  // namespace

std::string jsLowerCase(std::string_view text) {
  std::string out;
  out.reserve(text.size());
  appendJsLowerCase(out, text);
  return out;
}

std::string_view jsTrim(std::string_view text) {
  size_t begin = 0;
  while (begin < text.size()) {
    size_t next = begin;
    if (!isJsSpace(decodeUtf8(text, next))) break;
    begin = next;
  }
  size_t end = text.size();
  while (end > begin) {
    // Step back to the start of the previous code point.
    size_t start = end - 1;
    while (start > begin && (static_cast<unsigned char>(text[start]) & 0xC0) == 0x80) --start;
    size_t probe = start;
    if (!isJsSpace(decodeUtf8(text, probe))) break;
    end = start;
  }
  return text.substr(begin, end - begin);
}

std::string removeJsWhitespace(std::string_view text) {
  std::string out;
  out.reserve(text.size());
  appendWithoutJsWhitespace(out, text);
  return out;
}

bool appendHashedEmail(std::string& out, std::string_view email) {
  std::string_view trimmed = jsTrim(email);
  if (trimmed.empty()) return false;
  std::string& lower = scratch(0);
  appendJsLowerCase(lower, trimmed);
  appendDigestOf(out, lower);
  return true;
}

std::optional<std::string> hashEmail(std::string_view email) {
  std::string out;
  if (!appendHashedEmail(out, email)) return std::nullopt;
  return out;
}

std::string normalizePhone(std::string_view phone, std::string_view defaultRegion) {
  std::string out;
  appendNormalizedPhone(out, phone, defaultRegion);
  return out;
}

bool appendHashedPhone(std::string& out, std::string_view phone, std::string_view defaultRegion) {
  if (jsTrim(phone).empty()) return false;
  if (isSha256Hex(phone)) {
    out += phone;  // case kept, as Segment
    return true;
  }
  std::string& normalized = scratch(0);
  appendNormalizedPhone(normalized, phone, defaultRegion);
  appendSha256Hex(out, normalized);
  return true;
}

std::optional<std::string> hashPhone(std::string_view phone, std::string_view defaultRegion) {
  std::string out;
  if (!appendHashedPhone(out, phone, defaultRegion)) return std::nullopt;
  return out;
}

bool appendHashedExternalId(std::string& out, std::string_view id) {
  if (jsTrim(id).empty()) return false;
  std::string& lower = scratch(0);
  appendJsLowerCase(lower, id);
  appendDigestOf(out, lower);
  return true;
}

std::optional<std::string> hashExternalId(std::string_view id) {
  std::string out;
  if (!appendHashedExternalId(out, id)) return std::nullopt;
  return out;
}

void appendHashedNamePart(std::string& out, std::string_view value) {
  std::string& compact = scratch(0);
  appendWithoutJsWhitespace(compact, value);
  std::string& cleaned = scratch(1);
  appendJsLowerCase(cleaned, compact);
  if (cleaned.empty()) return;
  appendDigestOf(out, cleaned);
}

std::string hashNamePart(std::string_view value) {
  std::string out;
  appendHashedNamePart(out, value);
  return out;
}

void appendNormalizedLocation(std::string& out, std::string_view value) {
  for (char c : value) {
    if (c >= 'A' && c <= 'Z') {
      out += static_cast<char>(c + 32);
    } else if ((c >= 'a' && c <= 'z') || (c >= '0' && c <= '9')) {
      out += c;
    }
  }
}

std::string normalizeLocation(std::string_view value) {
  std::string out;
  out.reserve(value.size());
  appendNormalizedLocation(out, value);
  return out;
}

}  // namespace sluice::tiktok
