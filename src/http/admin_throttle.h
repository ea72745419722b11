// Throttling of failed admin-token attempts per client address, shared by every route behind the
// admin token (the dashboard's login and API, /metrics; see adminCheck() in admin_auth.h): each
// address has a small token bucket (`burst` attempts, one more every `refillMs`); an attempt takes
// a token, a successful one gives it back, so only failures use up the bucket. An address without
// a token is told how long to wait (429 with Retry-After) and its attempt is not checked at all, so
// the admin token cannot be guessed faster than the refill rate from one address, whichever route
// it tries. IPv6 addresses count by their /64 network (one host usually holds a whole /64).
// Thread-safe.
#pragma once

#include <cstdint>
#include <map>
#include <mutex>
#include <string>

#include "core/clock.h"

namespace sluice::http {

struct AdminThrottleOptions {
  double burst = 5;              // failed attempts an address may make in a row
  int64_t refillMs = 12'000;     // then one more every refillMs (5 a minute)
  size_t maxAddresses = 10'000;  // addresses remembered at most (memory bound)
};

class AdminThrottle {
 public:
  // `clock` (monotonicNs) must outlive the throttle.
  explicit AdminThrottle(const Clock& clock, AdminThrottleOptions options = {});

  // Reserves an attempt for `address` (the connection's peer address): returns 0 when it may try
  // now (a token is taken), else the milliseconds until it may (nothing is taken; > 0).
  int64_t tryAttempt(const std::string& address);
  // The attempt reserved by tryAttempt() succeeded: its token is given back.
  void succeeded(const std::string& address);

  // The key `address` is counted under: the address itself, or "<first 4 groups>::/64" for IPv6
  // (IPv4-mapped IPv6 addresses count as their IPv4 address).
  static std::string addressKey(const std::string& address);

 private:
  struct Bucket {
    double tokens = 0;
    int64_t updatedNs = 0;
  };
  double tokensAt(const Bucket& bucket, int64_t nowNs) const;  // refilled up to nowNs
  void makeRoomLocked(int64_t nowNs);                          // REQUIRES(mutex_)

  const Clock& clock_;
  const AdminThrottleOptions options_;
  std::mutex mutex_;
  std::map<std::string, Bucket> buckets_;  // GUARDED_BY(mutex_), by addressKey()
};

}  // namespace sluice::http
