// Access to the operator's endpoints (dashboard, admin API, metrics): open when no admin token is
// configured (the server then listens on loopback only; `sluice serve` refuses otherwise), else the
// request must present the token as `Authorization: Bearer TOKEN`, or as the `sluice_admin` cookie
// that the dashboard's login sets. Tokens are compared in constant time.
#pragma once

#include <string_view>

#include "http/message.h"

namespace sluice::http {

// True when `request` may use the admin endpoints under `adminToken` (empty: no token required).
bool adminAuthorized(const Request& request, std::string_view adminToken);

// The 401 reply for a request that is not authorized (no token or cookie echoed back).
Response adminUnauthorized();

// The name of the cookie holding the admin token.
inline constexpr std::string_view kAdminCookie = "sluice_admin";

}  // namespace sluice::http
