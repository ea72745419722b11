#include "http/admin_throttle.h"

#include <arpa/inet.h>

#include <algorithm>
#include <cmath>
#include <cstdio>

namespace sluice::http {

AdminThrottle::AdminThrottle(const Clock& clock, AdminThrottleOptions options)
    : clock_(clock), options_(options) {}

std::string AdminThrottle::addressKey(const std::string& address) {
  unsigned char bytes[16];
  if (address.find(':') == std::string::npos || inet_pton(AF_INET6, address.c_str(), bytes) != 1) {
    return address;
  }
  static constexpr unsigned char kMapped[12] = {0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0xff, 0xff};
  if (std::equal(bytes, bytes + 12, kMapped)) {
    char v4[INET_ADDRSTRLEN];
    if (inet_ntop(AF_INET, bytes + 12, v4, sizeof v4) != nullptr) return v4;
  }
  char key[40];
  std::snprintf(key, sizeof key, "%x:%x:%x:%x::/64", bytes[0] << 8 | bytes[1],
                bytes[2] << 8 | bytes[3], bytes[4] << 8 | bytes[5], bytes[6] << 8 | bytes[7]);
  return key;
}

double AdminThrottle::tokensAt(const Bucket& bucket, int64_t nowNs) const {
  const double refillNs = static_cast<double>(std::max<int64_t>(1, options_.refillMs)) * 1e6;
  return std::min(options_.burst,
                  bucket.tokens + static_cast<double>(nowNs - bucket.updatedNs) / refillNs);
}

void AdminThrottle::makeRoomLocked(int64_t nowNs) {
  // A full bucket says nothing an absent one would not: forget those first, then the stalest.
  for (auto it = buckets_.begin(); it != buckets_.end();) {
    it = tokensAt(it->second, nowNs) >= options_.burst ? buckets_.erase(it) : std::next(it);
  }
  while (buckets_.size() >= std::max<size_t>(1, options_.maxAddresses)) {
    auto stalest = std::min_element(buckets_.begin(), buckets_.end(), [](auto& a, auto& b) {
      return a.second.updatedNs < b.second.updatedNs;
    });
    buckets_.erase(stalest);
  }
}

int64_t AdminThrottle::tryAttempt(const std::string& address) {
  const std::string key = addressKey(address);
  const int64_t now = clock_.monotonicNs();
  std::lock_guard lock(mutex_);
  auto it = buckets_.find(key);
  if (it == buckets_.end()) {
    if (buckets_.size() >= options_.maxAddresses) makeRoomLocked(now);
    it = buckets_.emplace(key, Bucket{std::max(1.0, options_.burst), now}).first;
  }
  Bucket& bucket = it->second;
  bucket.tokens = tokensAt(bucket, now);
  bucket.updatedNs = now;
  if (bucket.tokens >= 1) {
    bucket.tokens -= 1;
    return 0;
  }
  const double missing = 1 - bucket.tokens;
  return std::max<int64_t>(
      1, static_cast<int64_t>(std::ceil(missing * static_cast<double>(options_.refillMs))));
}

void AdminThrottle::succeeded(const std::string& address) {
  std::lock_guard lock(mutex_);
  auto it = buckets_.find(addressKey(address));
  if (it != buckets_.end()) it->second.tokens = std::min(options_.burst, it->second.tokens + 1);
}

}  // namespace sluice::http
