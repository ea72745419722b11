// The client's IP address for context.ip: the connection's peer, or the X-Forwarded-For entry
// added by a trusted proxy.
#pragma once

#include <array>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "core/result.h"

namespace sluice::ingest {

// A set of addresses and CIDR blocks (IPv4 and IPv6; IPv4-mapped IPv6 addresses match IPv4
// entries). Thread-safe after construction.
class AddressSet {
 public:
  // Fails (kInvalidArgument, naming the entry) when an entry is neither an address nor a CIDR.
  static Result<AddressSet> parse(const std::vector<std::string>& entries);

  bool contains(std::string_view address) const;
  bool empty() const { return blocks_.empty(); }

 private:
  struct Block {
    std::array<unsigned char, 16> bytes{};  // IPv4 as IPv4-mapped IPv6
    int prefixBits = 128;
  };
  std::vector<Block> blocks_;
};

// The client address: `peer` unless `peer` is in `trusted`; then the right-most X-Forwarded-For
// entry that is not itself trusted (or the left-most when all are). Entries that are not IP
// addresses end the walk. Brackets and ports are not expected in X-Forwarded-For.
std::string clientAddress(std::string_view peer, std::string_view forwardedFor,
                          const AddressSet& trusted);

}  // namespace sluice::ingest
