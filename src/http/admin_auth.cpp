#include "http/admin_auth.h"

#include <openssl/crypto.h>
#include <openssl/sha.h>

#include <algorithm>
#include <array>
#include <string>

#include "http/admin_throttle.h"
#include "http/server.h"

namespace sluice::http {
namespace {

using Digest = std::array<unsigned char, SHA256_DIGEST_LENGTH>;

Digest digest(std::string_view text) {
  Digest out{};
  SHA256(reinterpret_cast<const unsigned char*>(text.data()), text.size(), out.data());
  return out;
}

// Digests have a fixed length, so the comparison time depends on neither token's length.
bool sameToken(std::string_view presented, std::string_view expected) {
  const Digest a = digest(presented);
  const Digest b = digest(expected);
  return CRYPTO_memcmp(a.data(), b.data(), a.size()) == 0;
}

// The value of cookie `name` in a Cookie header ("a=1; sluice_admin=xyz"), or empty.
std::string_view cookieValue(std::string_view header, std::string_view name) {
  while (!header.empty()) {
    const size_t end = header.find(';');
    std::string_view pair = header.substr(0, end);
    header = end == std::string_view::npos ? std::string_view() : header.substr(end + 1);
    while (!pair.empty() && pair.front() == ' ') pair.remove_prefix(1);
    const size_t eq = pair.find('=');
    if (eq != std::string_view::npos && pair.substr(0, eq) == name) return pair.substr(eq + 1);
  }
  return {};
}

}  // namespace

bool adminAuthorized(const Request& request, std::string_view adminToken) {
  if (adminToken.empty()) return true;
  constexpr std::string_view kBearer = "Bearer ";
  const std::string_view authorization = request.header("authorization");
  if (authorization.substr(0, kBearer.size()) == kBearer &&
      sameToken(authorization.substr(kBearer.size()), adminToken)) {
    return true;
  }
  const std::string_view cookie = cookieValue(request.header("cookie"), kAdminCookie);
  return !cookie.empty() && sameToken(cookie, adminToken);
}

Response adminUnauthorized() {
  Response response;
  response.status = 401;
  response.headers.emplace_back("WWW-Authenticate", "Bearer realm=\"sluice\"");
  response.body = R"({"success":false,"error":"admin token required"})";
  return response;
}

Response adminThrottled(int64_t waitMs) {
  const int64_t seconds = (std::max<int64_t>(1, waitMs) + 999) / 1000;
  Response response =
      jsonError(429, "too many wrong admin tokens; try again in " + std::to_string(seconds) + " s");
  response.headers.emplace_back("Retry-After", std::to_string(seconds));
  return response;
}

std::optional<Response> adminCheck(const Request& request, std::string_view adminToken,
                                   AdminThrottle& throttle) {
  if (adminToken.empty()) return std::nullopt;
  const bool presents = !request.header("authorization").empty() ||
                        !cookieValue(request.header("cookie"), kAdminCookie).empty();
  if (!presents) return adminUnauthorized();
  if (const int64_t waitMs = throttle.tryAttempt(request.peerAddress); waitMs > 0) {
    return adminThrottled(waitMs);
  }
  if (!adminAuthorized(request, adminToken)) return adminUnauthorized();
  throttle.succeeded(request.peerAddress);
  return std::nullopt;
}

}  // namespace sluice::http
