// A small blocking HTTP/1.1 GET over a plain TCP socket, for `sluice status` (the server speaks
// plain HTTP; put TLS in front of it with a proxy). Bounded by a deadline for the whole exchange.
#pragma once

#include <cstdint>
#include <string>
#include <string_view>

#include "core/result.h"

namespace sluice::ops::dashboard {

struct HttpGetReply {
  int status = 0;
  std::string body;
};

struct ParsedUrl {
  std::string host;  // without the brackets of an IPv6 literal
  uint16_t port = 80;
  std::string path;  // "/" at least, with the query
};

// Parses `http://host[:port][/path]`; fails (kInvalidArgument) on anything else, https included.
Result<ParsedUrl> parseHttpUrl(std::string_view url);

// GETs `url`, sending `Authorization: Bearer <bearerToken>` when the token is not empty. Fails
// with kUnavailable when the server cannot be reached or does not answer in `timeoutMs`, and
// kInvalidArgument for a bad URL. The token never appears in an error message.
Result<HttpGetReply> httpGet(std::string_view url, std::string_view bearerToken,
                             int64_t timeoutMs = 10'000);

// Splits a raw HTTP/1.1 response (everything read until the connection closed) into status and
// body, decoding a chunked body. Fails (kInvalidArgument) on a malformed response.
Result<HttpGetReply> parseHttpResponse(std::string_view raw);

}  // namespace sluice::ops::dashboard
