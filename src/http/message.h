// Plain HTTP request and response values exchanged between the Beast server (http/server.h) and the
// handlers of other modules (ingest, ops). No Beast types here, so handlers compile without Asio.
#pragma once

#include <functional>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

namespace sluice::http {

struct Request {
  std::string method;   // "POST"
  std::string target;   // "/v1/track?x=1" as received
  std::string path;     // "/v1/track" (target without the query)
  std::string query;    // "x=1"
  std::vector<std::pair<std::string, std::string>> headers;  // names lower-cased
  std::string body;     // already bounded by the server's limit; not decompressed
  std::string peerAddress;  // the connection's remote IP address

  // The first header named `name` (lower-case), or an empty view.
  std::string_view header(std::string_view name) const {
    for (const auto& [key, value] : headers) {
      if (key == name) return value;
    }
    return {};
  }
};

struct Response {
  int status = 200;
  std::string contentType = "application/json";
  // Extra headers (Retry-After, ...). The server writes Content-Length and Connection itself and
  // leaves out any header here that frames the message (Content-Length, Transfer-Encoding,
  // Connection), a Content-Type when `contentType` is set, and any with CR, LF or NUL in it.
  std::vector<std::pair<std::string, std::string>> headers;
  std::string body;
  // Close the connection without writing a reply (everything above is ignored): how a fake peer
  // plays a dropped connection. The client sees the connection end before any response.
  bool dropConnection = false;
};

// Completes a request. Must be called exactly once, from any thread.
using Responder = std::function<void(Response)>;

// A route handler. It may answer synchronously or later (after an fsync), from any thread.
using Handler = std::function<void(Request&&, Responder)>;

}  // namespace sluice::http
