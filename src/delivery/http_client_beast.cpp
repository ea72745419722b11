// The Beast/OpenSSL HttpClient. The only translation unit of the delivery module that includes
// Asio and Beast.
#include <openssl/ssl.h>

#include <algorithm>
#include <atomic>
#include <boost/asio/as_tuple.hpp>
#include <boost/asio/co_spawn.hpp>
#include <boost/asio/detached.hpp>
#include <boost/asio/executor_work_guard.hpp>
#include <boost/asio/io_context.hpp>
#include <boost/asio/ip/tcp.hpp>
#include <boost/asio/ssl.hpp>
#include <boost/asio/use_awaitable.hpp>
#include <boost/beast/core.hpp>
#include <boost/beast/http.hpp>
#include <boost/beast/ssl.hpp>
#include <boost/url/parse.hpp>
#include <cctype>
#include <cstdlib>
#include <mutex>
#include <thread>
#include <unordered_map>

#include "core/thread_name.h"
#include "delivery/http_client.h"

namespace sluice::delivery {

const char* transportErrorName(TransportError error) {
  switch (error) {
    case TransportError::kNone: return "none";
    case TransportError::kConnect: return "connect";
    case TransportError::kTimeout: return "timeout";
    case TransportError::kTls: return "tls";
    case TransportError::kReset: return "reset";
    case TransportError::kInvalid: return "invalid";
    case TransportError::kCancelled: return "cancelled";
  }
  return "unknown";
}

namespace {

namespace asio = boost::asio;
namespace beast = boost::beast;
namespace bhttp = beast::http;
namespace ssl = asio::ssl;
using tcp = asio::ip::tcp;
using SteadyTime = std::chrono::steady_clock::time_point;

constexpr auto kNoThrow = asio::as_tuple(asio::use_awaitable);
constexpr uint64_t kReplyBodyLimit = 16 * 1024 * 1024;

std::string lower(std::string_view s) {
  std::string out(s);
  for (char& c : out) c = static_cast<char>(std::tolower(static_cast<unsigned char>(c)));
  return out;
}

std::string trim(std::string_view s) {
  while (!s.empty() && std::isspace(static_cast<unsigned char>(s.front()))) s.remove_prefix(1);
  while (!s.empty() && std::isspace(static_cast<unsigned char>(s.back()))) s.remove_suffix(1);
  return std::string(s);
}

HttpOutcome failure(TransportError error, std::string message) {
  HttpOutcome out;
  out.error = error;
  out.errorMessage = std::move(message);
  return out;
}

// Where a request goes.
struct Target {
  bool tls = false;
  std::string host;        // without IPv6 brackets
  std::string port;        // decimal
  std::string hostHeader;  // host[:port] as the Host header and CONNECT authority want it
  std::string path;        // path and query
  std::string key;         // pool key: scheme://host:port
};

bool parseTarget(const std::string& url, Target* t, std::string* error) {
  auto parsed = boost::urls::parse_absolute_uri(url);
  if (!parsed) {
    *error = "malformed URL";
    return false;
  }
  std::string scheme = lower(parsed->scheme());
  if (scheme != "http" && scheme != "https") {
    *error = "unsupported URL scheme '" + scheme + "'";
    return false;
  }
  t->tls = scheme == "https";
  bool ipv6 = parsed->host_type() == boost::urls::host_type::ipv6;
  t->host = ipv6 ? parsed->host_ipv6_address().to_string() : lower(parsed->host());
  if (t->host.empty()) {
    *error = "URL without host";
    return false;
  }
  t->port = parsed->has_port() ? std::string(parsed->port()) : (t->tls ? "443" : "80");
  std::string bracketed = ipv6 ? "[" + t->host + "]" : t->host;
  t->hostHeader = parsed->has_port() ? bracketed + ":" + t->port : bracketed;
  t->path = parsed->encoded_path().empty() ? "/" : std::string(parsed->encoded_path());
  if (parsed->has_query()) t->path += "?" + std::string(parsed->encoded_query());
  t->key = scheme + "://" + bracketed + ":" + t->port;
  return true;
}

struct ProxyAddress {
  std::string host;
  std::string port;
};

// "http://host:port", "host:port", "http://user:pass@host:port/" (credentials are not supported and
// are ignored). Returns nullopt for an empty or unusable value.
std::optional<ProxyAddress> parseProxy(std::string value) {
  value = trim(value);
  if (value.empty()) return std::nullopt;
  if (value.find("://") == std::string::npos) value = "http://" + value;
  auto parsed = boost::urls::parse_absolute_uri(value);
  if (!parsed || parsed->host().empty()) return std::nullopt;
  ProxyAddress p;
  p.host = parsed->host_type() == boost::urls::host_type::ipv6
               ? parsed->host_ipv6_address().to_string()
               : std::string(parsed->host());
  p.port = parsed->has_port() ? std::string(parsed->port()) : "80";
  return p;
}

std::string envOr(const char* upper, const char* lowerName) {
  if (const char* v = std::getenv(upper); v && *v) return v;
  if (const char* v = std::getenv(lowerName); v && *v) return v;
  return {};
}

// NO_PROXY semantics as curl and Go implement them: comma-separated entries; "*" matches all; an
// entry matches the host itself and its subdomains (a leading dot is optional); ports are ignored.
bool bypassesProxy(const std::string& host, const std::vector<std::string>& noProxy) {
  if (host == "localhost" || host == "127.0.0.1" || host == "::1") return true;
  for (std::string entry : noProxy) {
    if (entry == "*") return true;
    if (!entry.empty() && entry.front() == '[') {  // [::1]:port
      auto close = entry.find(']');
      entry = entry.substr(1, close == std::string::npos ? std::string::npos : close - 1);
    } else if (std::count(entry.begin(), entry.end(), ':') == 1) {
      entry = entry.substr(0, entry.find(':'));
    }
    if (!entry.empty() && entry.front() == '.') entry.erase(0, 1);
    if (entry.empty()) continue;
    if (host == entry) return true;
    if (host.size() > entry.size() && host.ends_with(entry) &&
        host[host.size() - entry.size() - 1] == '.') {
      return true;
    }
  }
  return false;
}

std::vector<std::string> splitList(const std::string& text) {
  std::vector<std::string> out;
  size_t start = 0;
  while (start <= text.size()) {
    size_t comma = text.find(',', start);
    if (comma == std::string::npos) comma = text.size();
    std::string item = lower(trim(std::string_view(text).substr(start, comma - start)));
    if (!item.empty()) out.push_back(item);
    start = comma + 1;
  }
  return out;
}

bool isIpLiteral(const std::string& host) {
  boost::system::error_code ec;
  asio::ip::make_address(host, ec);
  return !ec;
}

// One keep-alive connection: a TCP stream, wrapped in TLS for https.
struct Connection {
  std::unique_ptr<beast::tcp_stream> plain;
  std::unique_ptr<beast::ssl_stream<beast::tcp_stream>> tls;
  beast::flat_buffer buffer;
  SteadyTime idleSince;

  beast::tcp_stream& lowest() { return tls ? tls->next_layer() : *plain; }
};

// One post() in progress.
struct Call {
  uint64_t id = 0;
  HttpPost req;
  HttpDone done;
  SteadyTime start;
  std::atomic<bool> finished{false};
};

// What one write + read on a connection produced.
struct Exchange {
  boost::system::error_code error;
  bool gotSome = false;  // some reply bytes arrived
  bool keepAlive = false;
  HttpOutcome outcome;
};

TransportError classify(const boost::system::error_code& ec) {
  if (ec == beast::error::timeout) return TransportError::kTimeout;
  return TransportError::kReset;
}

class BeastClient final : public BeastHttpClient {
 public:
  explicit BeastClient(HttpClientOptions options)
      : options_(std::move(options)),
        sslContext_(ssl::context::tls_client),
        work_(asio::make_work_guard(ioc_)) {
    sslContext_.set_options(ssl::context::default_workarounds | ssl::context::no_sslv2 |
                            ssl::context::no_sslv3 | ssl::context::no_tlsv1 |
                            ssl::context::no_tlsv1_1);
    boost::system::error_code ec;
    sslContext_.set_default_verify_paths(ec);  // the system store
    if (!options_.extraCaFile.empty()) {
      sslContext_.load_verify_file(options_.extraCaFile, ec);
      extraCaError_ = static_cast<bool>(ec);
    }
    sslContext_.set_verify_mode(options_.verifyPeer ? ssl::verify_peer : ssl::verify_none);

    std::string proxy = options_.httpsProxy;
    if (proxy.empty() && options_.useEnvironmentProxy) proxy = envOr("HTTPS_PROXY", "https_proxy");
    proxy_ = parseProxy(proxy);
    std::string noProxy = options_.noProxy;
    if (options_.useEnvironmentProxy) noProxy += "," + envOr("NO_PROXY", "no_proxy");
    noProxy_ = splitList(noProxy);

    thread_ = std::thread([this] {
      nameThisThread("http-client");
      ioc_.run();
    });
  }

  ~BeastClient() override {
    stopping_ = true;
    work_.reset();
    ioc_.stop();
    if (thread_.joinable()) thread_.join();
    std::vector<std::shared_ptr<Call>> pending;
    {
      std::lock_guard lock(callsMutex_);
      for (auto& [id, call] : calls_) pending.push_back(call);
    }
    for (auto& call : pending) {
      finish(call, failure(TransportError::kCancelled, "client shut down"));
    }
    std::lock_guard lock(poolMutex_);
    idle_.clear();  // sockets close while the io_context still exists
  }

  void post(HttpPost req, HttpDone done) override {
    if (stopping_) {
      done(failure(TransportError::kCancelled, "client shut down"));
      return;
    }
    auto call = std::make_shared<Call>();
    call->req = std::move(req);
    call->done = std::move(done);
    call->start = std::chrono::steady_clock::now();
    {
      std::lock_guard lock(callsMutex_);
      call->id = ++nextCallId_;
      calls_.emplace(call->id, call);
    }
    asio::co_spawn(ioc_, run(call), asio::detached);
  }

  HttpClientStats stats() const override {
    HttpClientStats s;
    s.connectionsOpened = connectionsOpened_.load();
    s.requestsSent = requestsSent_.load();
    s.connectionsReused = connectionsReused_.load();
    return s;
  }

 private:
  void finish(const std::shared_ptr<Call>& call, HttpOutcome outcome) {
    if (call->finished.exchange(true)) return;
    {
      std::lock_guard lock(callsMutex_);
      calls_.erase(call->id);
    }
    outcome.latency = std::chrono::duration_cast<std::chrono::microseconds>(
        std::chrono::steady_clock::now() - call->start);
    call->done(std::move(outcome));
  }

  asio::awaitable<void> run(std::shared_ptr<Call> call) {
    HttpOutcome outcome = co_await perform(*call);
    finish(call, std::move(outcome));
  }

  std::unique_ptr<Connection> takeIdle(const std::string& key) {
    std::lock_guard lock(poolMutex_);
    auto it = idle_.find(key);
    if (it == idle_.end()) return nullptr;
    auto now = std::chrono::steady_clock::now();
    while (!it->second.empty()) {
      std::unique_ptr<Connection> conn = std::move(it->second.back());
      it->second.pop_back();
      if (now - conn->idleSince < options_.idleTimeout) return conn;
    }
    return nullptr;
  }

  void putIdle(const std::string& key, std::unique_ptr<Connection> conn) {
    if (stopping_) return;
    conn->idleSince = std::chrono::steady_clock::now();
    std::lock_guard lock(poolMutex_);
    auto& list = idle_[key];
    if (static_cast<int>(list.size()) < options_.maxIdlePerHost) list.push_back(std::move(conn));
  }

  asio::awaitable<HttpOutcome> perform(Call& call) {
    Target target;
    std::string error;
    if (!parseTarget(call.req.url, &target, &error)) {
      co_return failure(TransportError::kInvalid, error);
    }
    if (target.tls && extraCaError_) {
      co_return failure(TransportError::kTls, "cannot load the extra CA file");
    }
    bhttp::request<bhttp::string_body> request{bhttp::verb::post, target.path, 11};
    request.set(bhttp::field::host, target.hostHeader);
    request.set(bhttp::field::user_agent, options_.userAgent);
    for (const auto& [name, value] : call.req.headers) request.set(name, value);
    request.keep_alive(true);
    request.body() = std::move(call.req.body);
    request.prepare_payload();

    for (int attempt = 0; attempt < 2; ++attempt) {
      // The second attempt always opens a fresh connection.
      std::unique_ptr<Connection> conn = attempt == 0 ? takeIdle(target.key) : nullptr;
      bool reused = conn != nullptr;
      if (!conn) {
        HttpOutcome connectFailure;
        conn = co_await connect(target, &connectFailure);
        if (!conn) co_return connectFailure;
      } else {
        ++connectionsReused_;
      }
      ++requestsSent_;
      // (No co_await inside a conditional expression: GCC 12 miscompiles that.)
      Exchange ex;
      if (conn->tls) {
        ex = co_await exchange(*conn->tls, *conn, request, call.req.timeout);
      } else {
        ex = co_await exchange(*conn->plain, *conn, request, call.req.timeout);
      }
      if (!ex.error) {
        if (ex.keepAlive) putIdle(target.key, std::move(conn));
        HttpOutcome result = std::move(ex.outcome);
        co_return result;
      }
      // A kept connection the server had already closed: nothing of ours was processed.
      bool stale = reused && !ex.gotSome && ex.error != beast::error::timeout;
      if (!stale) {
        co_return failure(classify(ex.error), "request failed: " + ex.error.message());
      }
    }
    co_return failure(TransportError::kReset, "connection closed before the reply");
  }

  // Opens a connection (through the proxy when one applies). On failure returns nullptr and fills
  // *fail.
  asio::awaitable<std::unique_ptr<Connection>> connect(const Target& target, HttpOutcome* fail) {
    bool viaProxy = target.tls && proxy_ && !bypassesProxy(target.host, noProxy_);
    const std::string& host = viaProxy ? proxy_->host : target.host;
    const std::string& port = viaProxy ? proxy_->port : target.port;
    auto deadline = std::chrono::steady_clock::now() + options_.connectTimeout;

    tcp::resolver resolver(ioc_);
    auto [rec, endpoints] = co_await resolver.async_resolve(host, port, kNoThrow);
    if (rec) {
      *fail = failure(TransportError::kConnect, "cannot resolve " + host + ": " + rec.message());
      co_return nullptr;
    }
    beast::tcp_stream stream(ioc_);
    stream.expires_at(deadline);
    auto [cec, endpoint] = co_await stream.async_connect(endpoints, kNoThrow);
    if (cec) {
      *fail = failure(cec == beast::error::timeout ? TransportError::kTimeout
                                                   : TransportError::kConnect,
                      "cannot connect to " + host + ":" + port + ": " + cec.message());
      co_return nullptr;
    }
    ++connectionsOpened_;
    boost::system::error_code ignored;
    stream.socket().set_option(tcp::no_delay(true), ignored);

    if (viaProxy) {
      std::string authority = target.hostHeader.find(':') == std::string::npos ||
                                      target.hostHeader.back() == ']'
                                  ? target.hostHeader + ":" + target.port
                                  : target.hostHeader;
      bhttp::request<bhttp::empty_body> tunnel{bhttp::verb::connect, authority, 11};
      tunnel.set(bhttp::field::host, authority);
      tunnel.set(bhttp::field::user_agent, options_.userAgent);
      auto [wec, wn] = co_await bhttp::async_write(stream, tunnel, kNoThrow);
      beast::flat_buffer buffer;
      bhttp::response_parser<bhttp::empty_body> parser;
      parser.skip(true);  // a CONNECT reply has no body
      boost::system::error_code pec = wec;
      if (!pec) {
        auto [hec, hn] = co_await bhttp::async_read_header(stream, buffer, parser, kNoThrow);
        pec = hec;
      }
      if (pec) {
        *fail = failure(pec == beast::error::timeout ? TransportError::kTimeout
                                                     : TransportError::kConnect,
                        "proxy CONNECT failed: " + pec.message());
        co_return nullptr;
      }
      if (parser.get().result_int() / 100 != 2) {
        *fail = failure(TransportError::kConnect, "proxy refused the tunnel with HTTP " +
                                                      std::to_string(parser.get().result_int()));
        co_return nullptr;
      }
    }

    auto conn = std::make_unique<Connection>();
    if (!target.tls) {
      stream.expires_never();
      conn->plain = std::make_unique<beast::tcp_stream>(std::move(stream));
      co_return conn;
    }
    conn->tls =
        std::make_unique<beast::ssl_stream<beast::tcp_stream>>(std::move(stream), sslContext_);
    if (!isIpLiteral(target.host)) {
      SSL_set_tlsext_host_name(conn->tls->native_handle(), target.host.c_str());  // SNI
    }
    if (options_.verifyPeer) {
      conn->tls->set_verify_mode(ssl::verify_peer);
      conn->tls->set_verify_callback(ssl::host_name_verification(target.host));
    }
    beast::get_lowest_layer(*conn->tls).expires_at(deadline);
    auto [hec] = co_await conn->tls->async_handshake(ssl::stream_base::client, kNoThrow);
    if (hec) {
      *fail = failure(hec == beast::error::timeout ? TransportError::kTimeout : TransportError::kTls,
                      "TLS handshake with " + target.host + " failed: " + hec.message());
      co_return nullptr;
    }
    beast::get_lowest_layer(*conn->tls).expires_never();
    co_return conn;
  }

  template <class Stream>
  asio::awaitable<Exchange> exchange(Stream& stream, Connection& conn,
                                     bhttp::request<bhttp::string_body>& request,
                                     std::chrono::milliseconds timeout) {
    Exchange ex;
    conn.lowest().expires_after(timeout);
    auto [wec, wn] = co_await bhttp::async_write(stream, request, kNoThrow);
    if (wec) {
      ex.error = wec;
      co_return ex;
    }
    bhttp::response_parser<bhttp::string_body> parser;
    parser.body_limit(kReplyBodyLimit);
    auto [rec, rn] = co_await bhttp::async_read(stream, conn.buffer, parser, kNoThrow);
    ex.gotSome = parser.got_some();
    if (rec) {
      ex.error = rec;
      co_return ex;
    }
    conn.lowest().expires_never();
    auto& response = parser.get();
    ex.keepAlive = response.keep_alive();
    ex.outcome.status = response.result_int();
    for (const auto& field : response.base()) {
      ex.outcome.headers.emplace_back(lower(field.name_string()), std::string(field.value()));
    }
    ex.outcome.body = std::move(response.body());
    co_return ex;
  }

  const HttpClientOptions options_;
  asio::io_context ioc_{1};
  ssl::context sslContext_;
  asio::executor_work_guard<asio::io_context::executor_type> work_;
  bool extraCaError_ = false;
  std::optional<ProxyAddress> proxy_;
  std::vector<std::string> noProxy_;
  std::atomic<bool> stopping_{false};

  std::mutex callsMutex_;
  uint64_t nextCallId_ = 0;                                        // GUARDED_BY(callsMutex_)
  std::unordered_map<uint64_t, std::shared_ptr<Call>> calls_;      // GUARDED_BY(callsMutex_)

  std::mutex poolMutex_;
  std::unordered_map<std::string, std::vector<std::unique_ptr<Connection>>> idle_;  // GUARDED_BY

  std::atomic<uint64_t> connectionsOpened_{0};
  std::atomic<uint64_t> requestsSent_{0};
  std::atomic<uint64_t> connectionsReused_{0};
  std::thread thread_;
};

}  // namespace

std::unique_ptr<BeastHttpClient> makeBeastHttpClient(HttpClientOptions options) {
  return std::make_unique<BeastClient>(std::move(options));
}

}  // namespace sluice::delivery
