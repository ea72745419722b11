// Write-key authentication: which source a presented key belongs to, decided in constant time.
#pragma once

#include <array>
#include <cstddef>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "config/config.h"

namespace sluice::ingest {

// Matches presented write keys against the configured sources. Keys are held only as SHA-256
// digests; a presented key is hashed and compared with every source's digest with CRYPTO_memcmp,
// without an early exit, so the time taken reveals neither the key nor which source matched.
// Thread-safe after construction.
class KeyMatcher {
 public:
  explicit KeyMatcher(const std::vector<config::SourceConfig>& sources);

  // The index (in the sources given) of the source whose key is `key`, or nullopt.
  std::optional<size_t> match(std::string_view key) const;

 private:
  using Digest = std::array<unsigned char, 32>;
  static Digest digest(std::string_view text);
  std::vector<Digest> digests_;
};

// The user name of an `Authorization: Basic base64(user:password)` header, or nullopt when the
// header is not Basic or does not decode. The password is ignored (Segment's libraries send none).
std::optional<std::string> basicAuthUser(std::string_view authorization);

}  // namespace sluice::ingest
