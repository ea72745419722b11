// The HTTP/1.1 server (Boost.Beast + Asio behind a pimpl: no Asio in this header). It routes each
// request by exact path to a Handler (message.h) or to a fallback, and writes the Response whenever
// the handler's Responder is called, from any thread.
//
// Per connection: keep-alive, one request at a time (pipelined requests are read after the previous
// reply), "Expect: 100-continue" honoured, a body limit (413 before the body is read when
// Content-Length announces more), a header limit (431), and a read timeout that bounds how long a
// whole request may take to arrive (slow clients are disconnected).
#pragma once

#include <cstddef>
#include <cstdint>
#include <memory>
#include <string>
#include <unordered_map>

#include "core/result.h"
#include "http/message.h"

namespace sluice::http {

struct ServerOptions {
  std::string host = "127.0.0.1";  // an IPv4 or IPv6 literal, or "0.0.0.0" / "::"
  uint16_t port = 0;               // 0: any free port (see Server::port())
  int threads = 0;                 // I/O threads; 0: one per core
  size_t bodyLimitBytes = 600 * 1024;
  size_t headerLimitBytes = 16 * 1024;
  int64_t readTimeoutMs = 30'000;  // a whole request, or an idle keep-alive wait, must end in this
  int64_t writeTimeoutMs = 30'000;
  int64_t stopGraceMs = 10'000;    // stop(): how long in-flight requests may take to finish
  size_t maxConnections = 10'000;  // further connections are closed at once
  std::string threadName =
      "http-io";  // I/O thread i is named "<threadName>-<i>" (at most 15 bytes)
};

// Maps exact paths (no query) to handlers. Not thread-safe; fill it before Server::start().
class Router {
 public:
  // Routes every method on `path` to `handler`; a later add() of the same path replaces it.
  void add(std::string path, Handler handler);
  // Handles every request no route matched. Default: 404 with a JSON error.
  void setFallback(Handler handler);

  // The handler for `path`: a route, else the fallback.
  const Handler& find(std::string_view path) const;

 private:
  std::unordered_map<std::string, Handler> routes_;
  Handler fallback_;
};

// A JSON error body `{"success":false,"error":"<message>"}` with the given status.
Response jsonError(int status, std::string_view message);

class Server {
 public:
  // Binds, listens and starts the I/O threads. Fails (kUnavailable / kInvalidArgument) when the
  // address is bad or the port is taken.
  static Result<std::unique_ptr<Server>> start(const ServerOptions& options, Router router);

  // Stops (see stop()) and releases everything. Responders called after this are ignored.
  ~Server();

  Server(const Server&) = delete;
  Server& operator=(const Server&) = delete;

  // The bound port (the real one when listening on port 0) and "host:port".
  uint16_t port() const;
  std::string address() const;

  // Graceful stop: closes the listener and idle connections, lets requests whose handler is
  // running finish and get their reply (at most options.stopGraceMs), then closes everything and
  // joins the I/O threads. Idempotent; call it from a thread that is not an I/O thread.
  void stop();

  // Connections open now, and requests whose handler has not answered yet.
  size_t openConnections() const;
  size_t inFlightRequests() const;

 private:
  struct Impl;
  explicit Server(std::unique_ptr<Impl> impl);
  std::unique_ptr<Impl> impl_;
};

}  // namespace sluice::http
