#include "ingest/client_address.h"

#include <arpa/inet.h>

#include <cstring>

namespace sluice::ingest {

namespace {

std::string_view trim(std::string_view text) {
  while (!text.empty() && (text.front() == ' ' || text.front() == '\t')) text.remove_prefix(1);
  while (!text.empty() && (text.back() == ' ' || text.back() == '\t')) text.remove_suffix(1);
  return text;
}

// Parses an IPv4 or IPv6 address into IPv6 form (IPv4 mapped). Returns false when invalid.
bool parseAddress(std::string_view text, std::array<unsigned char, 16>& bytes, bool& isV4) {
  if (text.empty() || text.size() > 45) return false;
  char buffer[64];
  std::memcpy(buffer, text.data(), text.size());
  buffer[text.size()] = '\0';
  in_addr v4{};
  if (inet_pton(AF_INET, buffer, &v4) == 1) {
    bytes.fill(0);
    bytes[10] = 0xFF;
    bytes[11] = 0xFF;
    std::memcpy(bytes.data() + 12, &v4, 4);
    isV4 = true;
    return true;
  }
  in6_addr v6{};
  if (inet_pton(AF_INET6, buffer, &v6) == 1) {
    std::memcpy(bytes.data(), &v6, 16);
    isV4 = false;
    return true;
  }
  return false;
}

}  // namespace

Result<AddressSet> AddressSet::parse(const std::vector<std::string>& entries) {
  AddressSet set;
  for (const auto& entry : entries) {
    std::string_view text = trim(entry);
    int prefix = -1;
    if (auto slash = text.find('/'); slash != std::string_view::npos) {
      std::string_view bits = text.substr(slash + 1);
      text = text.substr(0, slash);
      prefix = 0;
      if (bits.empty() || bits.size() > 3) prefix = 1000;
      for (char c : bits) {
        if (c < '0' || c > '9') prefix = 1000;
        prefix = prefix * 10 + (c - '0');
      }
    }
    Block block;
    bool isV4 = false;
    if (!parseAddress(text, block.bytes, isV4) || prefix > (isV4 ? 32 : 128)) {
      return fail(ErrorCode::kInvalidArgument, "trusted proxy '" + entry + "' is not an address or CIDR");
    }
    block.prefixBits = prefix < 0 ? 128 : prefix + (isV4 ? 96 : 0);
    set.blocks_.push_back(block);
  }
  return set;
}

bool AddressSet::contains(std::string_view address) const {
  std::array<unsigned char, 16> bytes{};
  bool isV4 = false;
  if (!parseAddress(trim(address), bytes, isV4)) return false;
  for (const auto& block : blocks_) {
    int full = block.prefixBits / 8;
    int rest = block.prefixBits % 8;
    if (std::memcmp(bytes.data(), block.bytes.data(), full) != 0) continue;
    if (rest != 0) {
      auto mask = static_cast<unsigned char>(0xFF << (8 - rest));
      if ((bytes[full] & mask) != (block.bytes[full] & mask)) continue;
    }
    return true;
  }
  return false;
}

std::string clientAddress(std::string_view peer, std::string_view forwardedFor,
                          const AddressSet& trusted) {
  std::string client(peer);
  // An IPv4 peer seen through an IPv6 socket reads "::ffff:1.2.3.4"; report it as IPv4.
  if (client.rfind("::ffff:", 0) == 0 && client.find('.') != std::string::npos) {
    client.erase(0, 7);
  }
  if (trusted.empty() || forwardedFor.empty() || !trusted.contains(peer)) return client;
  std::string_view rest = forwardedFor;
  while (!rest.empty()) {
    size_t comma = rest.rfind(',');
    std::string_view entry = trim(comma == std::string_view::npos ? rest : rest.substr(comma + 1));
    rest = comma == std::string_view::npos ? std::string_view{} : rest.substr(0, comma);
    std::array<unsigned char, 16> bytes{};
    bool isV4 = false;
    if (!parseAddress(entry, bytes, isV4)) break;
    client.assign(entry);
    if (!trusted.contains(entry)) break;
  }
  return client;
}

}  // namespace sluice::ingest
