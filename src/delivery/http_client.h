// The HTTP(S) client that delivery sends TikTok requests through. Only this interface and plain
// values here: the Beast/OpenSSL implementation lives in one .cpp (http_client_beast.cpp), and tests
// use FakeHttpClient (http_client_fake.h).
#pragma once

#include <chrono>
#include <cstdint>
#include <functional>
#include <memory>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

namespace sluice::delivery {

using HttpHeaders = std::vector<std::pair<std::string, std::string>>;

// Why a request got no HTTP reply.
enum class TransportError {
  kNone,       // a reply arrived (any status)
  kConnect,    // DNS failure, connection refused or unreachable, proxy refused the tunnel
  kTimeout,    // connect or request deadline passed
  kTls,        // TLS handshake failed, including certificate or host name verification
  kReset,      // the connection closed or reset before a complete reply
  kInvalid,    // the request itself is unusable (bad URL, unsupported scheme)
  kCancelled,  // the client shut down before the reply
};
const char* transportErrorName(TransportError error);  // "none", "connect", "timeout", ...

struct HttpPost {
  std::string url;      // http://host[:port]/path or https://...
  HttpHeaders headers;  // sent as given (Content-Type, Access-Token, ...); Host is added
  std::string body;
  // Deadline for the whole exchange after the connection is ready (send + wait + read). A request
  // that fails on a reused keep-alive connection before any reply byte arrived (the server closed
  // the idle connection) is sent once more on a fresh connection.
  std::chrono::milliseconds timeout{15'000};
};

struct HttpOutcome {
  int status = 0;       // HTTP status; 0 when error != kNone
  std::string body;
  HttpHeaders headers;  // reply headers, names lower-cased (e.g. "retry-after")
  std::chrono::microseconds latency{0};  // from post() to completion, including queueing/connect
  TransportError error = TransportError::kNone;
  std::string errorMessage;  // human-readable, never contains request headers or body

  // The first header named `name` (lower-case), or an empty view.
  std::string_view header(std::string_view name) const {
    for (const auto& [key, value] : headers) {
      if (key == name) return value;
    }
    return {};
  }
};

using HttpDone = std::function<void(HttpOutcome)>;

class HttpClient {
 public:
  virtual ~HttpClient() = default;
  // Sends `req` asynchronously. `done` is called exactly once with the reply or the transport
  // error: for the Beast client on the client's own thread, never inside post()'s frame (except
  // kCancelled during shutdown). `done` must not block for long. Thread-safe: post() may be called
  // from any thread. Destroying the client completes pending requests with kCancelled (on the
  // destroying thread) before it returns. DNS lookups are bounded only by the system resolver.
  virtual void post(HttpPost req, HttpDone done) = 0;
};

struct HttpClientOptions {
  std::chrono::milliseconds connectTimeout{5'000};  // DNS + TCP (+ proxy CONNECT) + TLS handshake
  int maxIdlePerHost = 64;                          // keep-alive connections kept per host:port
  std::chrono::milliseconds idleTimeout{60'000};    // idle kept connections are closed after this
  std::string userAgent = "sluice";
  // Extra trusted CA certificates (PEM file), in addition to the system store. Empty = none.
  std::string extraCaFile;
  // Verify certificates and host names (on by default; the only reason to turn it off is a test).
  bool verifyPeer = true;
  // Proxy for https URLs, "http://host:port". Empty: taken from HTTPS_PROXY / https_proxy when
  // useEnvironmentProxy. NO_PROXY / no_proxy (comma-separated hosts, ".suffix" or "suffix" domain
  // matches, "*") is honoured; 127.0.0.1, ::1 and localhost never go through the proxy.
  std::string httpsProxy;
  bool useEnvironmentProxy = true;
  std::string noProxy;  // added to NO_PROXY from the environment
};

// Counters of the Beast client, for metrics and tests.
struct HttpClientStats {
  uint64_t connectionsOpened = 0;  // TCP connections established (including through a proxy)
  uint64_t requestsSent = 0;
  uint64_t connectionsReused = 0;  // requests sent on an already used keep-alive connection
};

// The real client: Boost.Beast + OpenSSL with its own io_context thread (one thread encrypts far
// more than TikTok's rate limits let through), a keep-alive pool per scheme+host+port, certificate and host name verification against the system store (plus
// extraCaFile), SNI, and HTTP CONNECT tunnelling through an https proxy.
class BeastHttpClient : public HttpClient {
 public:
  virtual HttpClientStats stats() const = 0;
};
std::unique_ptr<BeastHttpClient> makeBeastHttpClient(HttpClientOptions options = {});

}  // namespace sluice::delivery
