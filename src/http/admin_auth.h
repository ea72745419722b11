// Access to the operator's endpoints (dashboard, admin API, metrics): open when no admin token is
// configured (the server then listens on loopback only; `sluice serve` refuses otherwise), else the
// request must present the token as `Authorization: Bearer TOKEN`, or as the `sluice_admin` cookie
// that the dashboard's login sets. Tokens are compared in constant time. Every protected route
// goes through adminCheck(), which counts wrong tokens per client address (AdminThrottle).
#pragma once

#include <cstdint>
#include <optional>
#include <string_view>

#include "http/message.h"

namespace sluice::http {

class AdminThrottle;

// True when `request` may use the admin endpoints under `adminToken` (empty: no token required).
bool adminAuthorized(const Request& request, std::string_view adminToken);

// The 401 reply for a request that is not authorized (no token or cookie echoed back).
Response adminUnauthorized();

// The 429 reply to an address that must wait `waitMs` (> 0) before its next attempt, with
// Retry-After in whole seconds (rounded up).
Response adminThrottled(int64_t waitMs);

// The check of every admin-protected route: nullopt when `request` may go on, else the reply to
// send. A request that presents a token (any Authorization header, or a non-empty `sluice_admin`
// cookie) first reserves an attempt for its peer address in `throttle`: while the address has
// none left the answer is adminThrottled() and the token is not compared at all; a right token
// gives the attempt back, a wrong one uses it up (401). A request presenting nothing is not
// counted (401: it guesses nothing). With an empty `adminToken` every request may go on.
std::optional<Response> adminCheck(const Request& request, std::string_view adminToken,
                                   AdminThrottle& throttle);

// The name of the cookie holding the admin token.
inline constexpr std::string_view kAdminCookie = "sluice_admin";

}  // namespace sluice::http
