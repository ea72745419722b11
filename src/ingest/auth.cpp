#include "ingest/auth.h"

// The one-shot SHA256() of OpenSSL 3 fetches the algorithm from the provider and allocates a
// context on every call (~0.5 us and 3 allocations per request here); SHA256_Init/Update/Final,
// deprecated but still provided, use the same code without either (as tiktok/pii.cpp does).
#define OPENSSL_SUPPRESS_DEPRECATED
#include <openssl/crypto.h>
#include <openssl/sha.h>

#include <cctype>

namespace sluice::ingest {

KeyMatcher::KeyMatcher(const std::vector<config::SourceConfig>& sources) {
  digests_.reserve(sources.size());
  for (const auto& source : sources) digests_.push_back(digest(source.writeKey));
}

KeyMatcher::Digest KeyMatcher::digest(std::string_view text) {
  Digest out{};
  SHA256_CTX context;
  SHA256_Init(&context);
  SHA256_Update(&context, text.data(), text.size());
  SHA256_Final(out.data(), &context);
  return out;
}

std::optional<size_t> KeyMatcher::match(std::string_view key) const {
  if (key.empty()) return std::nullopt;
  const Digest presented = digest(key);
  size_t found = 0;
  size_t matches = 0;
  for (size_t i = 0; i < digests_.size(); ++i) {
    // 1 when equal, 0 otherwise, without branching on the comparison.
    const size_t equal =
        static_cast<size_t>(CRYPTO_memcmp(presented.data(), digests_[i].data(), 32) == 0);
    const size_t mask = 0 - equal;  // all ones when equal
    found = (found & ~mask) | (i & mask);
    matches += equal;
  }
  if (matches == 0) return std::nullopt;
  return found;
}

std::optional<std::string> basicAuthUser(std::string_view authorization) {
  while (!authorization.empty() && authorization.front() == ' ') authorization.remove_prefix(1);
  if (authorization.size() < 6) return std::nullopt;
  for (size_t i = 0; i < 5; ++i) {
    if (std::tolower(static_cast<unsigned char>(authorization[i])) != "basic"[i]) {
      return std::nullopt;
    }
  }
  if (authorization[5] != ' ') return std::nullopt;
  std::string_view encoded = authorization.substr(6);
  while (!encoded.empty() && encoded.front() == ' ') encoded.remove_prefix(1);
  while (!encoded.empty() && encoded.back() == ' ') encoded.remove_suffix(1);
  if (encoded.size() > 4096) return std::nullopt;

  std::string decoded;
  decoded.reserve(encoded.size() * 3 / 4);
  uint32_t buffer = 0;
  int bits = 0;
  size_t padding = 0;
  for (char c : encoded) {
    int value;
    if (c >= 'A' && c <= 'Z') {
      value = c - 'A';
    } else if (c >= 'a' && c <= 'z') {
      value = c - 'a' + 26;
    } else if (c >= '0' && c <= '9') {
      value = c - '0' + 52;
    } else if (c == '+' || c == '-') {
      value = 62;
    } else if (c == '/' || c == '_') {
      value = 63;
    } else if (c == '=') {
      ++padding;
      continue;
    } else {
      return std::nullopt;
    }
    if (padding > 0) return std::nullopt;  // data after padding
    buffer = (buffer << 6) | static_cast<uint32_t>(value);
    bits += 6;
    if (bits >= 8) {
      bits -= 8;
      decoded.push_back(static_cast<char>((buffer >> bits) & 0xFF));
    }
  }
  if (padding > 2) return std::nullopt;
  size_t colon = decoded.find(':');
  if (colon != std::string::npos) decoded.resize(colon);
  return decoded;
}

}  // namespace sluice::ingest
