// The Beast HTTP client against small blocking servers on 127.0.0.1 written here: keep-alive reuse,
// timeouts, refused and reset connections, TLS verification (a self-signed certificate made with
// the openssl CLI at test time) and an HTTP CONNECT proxy.
#include <gtest/gtest.h>
#include <sys/socket.h>

#include <atomic>
#include <boost/asio/ip/tcp.hpp>
#include <boost/asio/ssl.hpp>
#include <boost/beast/core.hpp>
#include <boost/beast/http.hpp>
#include <chrono>
#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <future>
#include <mutex>
#include <thread>
#include <vector>

#include "delivery/http_client.h"
#include "reserved_port.h"

namespace sluice::delivery {
namespace {

namespace asio = boost::asio;
namespace beast = boost::beast;
namespace bhttp = beast::http;
using tcp = asio::ip::tcp;
using namespace std::chrono_literals;

// What the test server does with one request.
struct Action {
  int status = 200;
  std::string body = "{\"code\":0}";
  std::chrono::milliseconds delay{0};
  bool partial = false;      // send the head and half the body, then close
  bool silentClose = false;  // close without any reply
  bool closeAfter = false;   // close after replying, without saying "Connection: close"
  std::vector<std::pair<std::string, std::string>> headers;
};

struct SeenRequest {
  std::string target;
  std::string host;
  std::string body;
  std::string contentType;
};

// A blocking HTTP/1.1 server with one thread per connection, optionally TLS.
class TestServer {
 public:
  using Handler = std::function<Action(const SeenRequest&)>;

  explicit TestServer(Handler handler, asio::ssl::context* tls = nullptr)
      : handler_(std::move(handler)), tls_(tls), acceptor_(ioc_) {
    tcp::endpoint endpoint(asio::ip::make_address("127.0.0.1"), 0);
    acceptor_.open(endpoint.protocol());
    acceptor_.set_option(tcp::acceptor::reuse_address(true));
    acceptor_.bind(endpoint);
    acceptor_.listen();
    port_ = acceptor_.local_endpoint().port();
    acceptThread_ = std::thread([this] { acceptLoop(); });
  }

  ~TestServer() {
    stopping_ = true;
    ::shutdown(acceptor_.native_handle(), SHUT_RDWR);
    acceptThread_.join();
    {
      std::lock_guard lock(mutex_);
      for (int fd : fds_) ::shutdown(fd, SHUT_RDWR);
    }
    for (auto& t : connectionThreads_) t.join();
  }

  uint16_t port() const { return port_; }
  int connections() const { return connections_; }
  int requests() const { return requests_; }
  std::vector<SeenRequest> seen() const {
    std::lock_guard lock(mutex_);
    return seen_;
  }

 private:
  void acceptLoop() {
    while (!stopping_) {
      tcp::socket socket(ioc_);
      boost::system::error_code ec;
      acceptor_.accept(socket, ec);
      if (ec || stopping_) return;
      ++connections_;
      std::lock_guard lock(mutex_);
      fds_.push_back(socket.native_handle());
      connectionThreads_.emplace_back([this, s = std::move(socket)]() mutable {
        if (tls_) {
          asio::ssl::stream<tcp::socket> stream(std::move(s), *tls_);
          boost::system::error_code hec;
          stream.handshake(asio::ssl::stream_base::server, hec);
          if (!hec) serve(stream);
        } else {
          serve(s);
        }
      });
    }
  }

  template <class Stream>
  void serve(Stream& stream) {
    beast::flat_buffer buffer;
    for (int i = 0; i < 10'000 && !stopping_; ++i) {
      bhttp::request<bhttp::string_body> req;
      boost::system::error_code ec;
      bhttp::read(stream, buffer, req, ec);
      if (ec) return;
      ++requests_;
      SeenRequest seen{std::string(req.target()), std::string(req[bhttp::field::host]), req.body(),
                       std::string(req[bhttp::field::content_type])};
      {
        std::lock_guard lock(mutex_);
        seen_.push_back(seen);
      }
      Action action = handler_(seen);
      if (action.delay.count() > 0) std::this_thread::sleep_for(action.delay);
      if (action.silentClose) return;
      if (action.partial) {
        std::string head = "HTTP/1.1 200 OK\r\nContent-Length: 100\r\n\r\n0123456789";
        asio::write(stream, asio::buffer(head), ec);
        return;
      }
      bhttp::response<bhttp::string_body> res{static_cast<bhttp::status>(action.status), 11};
      res.set(bhttp::field::content_type, "application/json");
      for (const auto& [name, value] : action.headers) res.set(name, value);
      res.body() = action.body;
      res.keep_alive(req.keep_alive());
      res.prepare_payload();
      bhttp::write(stream, res, ec);
      if (ec || !res.keep_alive() || action.closeAfter) return;
    }
  }

  Handler handler_;
  asio::ssl::context* tls_;
  asio::io_context ioc_;
  tcp::acceptor acceptor_;
  uint16_t port_ = 0;
  std::atomic<bool> stopping_{false};
  std::atomic<int> connections_{0};
  std::atomic<int> requests_{0};
  std::thread acceptThread_;
  mutable std::mutex mutex_;
  std::vector<int> fds_;                       // GUARDED_BY(mutex_)
  std::vector<std::thread> connectionThreads_;  // GUARDED_BY(mutex_) (joined after accept stops)
  std::vector<SeenRequest> seen_;              // GUARDED_BY(mutex_)
};

// Posts and waits for the outcome (bounded).
HttpOutcome postAndWait(HttpClient& client, HttpPost req) {
  auto promise = std::make_shared<std::promise<HttpOutcome>>();
  auto future = promise->get_future();
  client.post(std::move(req), [promise](HttpOutcome o) { promise->set_value(std::move(o)); });
  if (future.wait_for(20s) != std::future_status::ready) {
    ADD_FAILURE() << "no outcome within 20 s";
    return {};
  }
  return future.get();
}

HttpPost postTo(const std::string& url, std::chrono::milliseconds timeout = 5'000ms) {
  HttpPost req;
  req.url = url;
  req.headers = {{"Content-Type", "application/json"}, {"Access-Token", "secret-token"}};
  req.body = "{\"event_source\":\"web\"}";
  req.timeout = timeout;
  return req;
}

HttpClientOptions localOptions() {
  HttpClientOptions o;
  o.useEnvironmentProxy = false;
  o.connectTimeout = 2'000ms;
  return o;
}

TEST(HttpClient, PostsAndReadsReply) {
  TestServer server([](const SeenRequest&) {
    Action a;
    a.status = 429;
    a.body = "{\"code\":40100}";
    a.headers = {{"Retry-After", "7"}};
    return a;
  });
  auto client = makeBeastHttpClient(localOptions());
  std::string url = "http://127.0.0.1:" + std::to_string(server.port()) + "/open_api/v1.3/event/track/?x=1";
  HttpOutcome out = postAndWait(*client, postTo(url));
  EXPECT_EQ(TransportError::kNone, out.error) << out.errorMessage;
  EXPECT_EQ(429, out.status);
  EXPECT_EQ("{\"code\":40100}", out.body);
  EXPECT_EQ("7", out.header("retry-after"));
  EXPECT_GT(out.latency.count(), 0);
  auto seen = server.seen();
  ASSERT_EQ(1u, seen.size());
  EXPECT_EQ("/open_api/v1.3/event/track/?x=1", seen[0].target);
  EXPECT_EQ("127.0.0.1:" + std::to_string(server.port()), seen[0].host);
  EXPECT_EQ("{\"event_source\":\"web\"}", seen[0].body);
  EXPECT_EQ("application/json", seen[0].contentType);
}

TEST(HttpClient, ReusesKeepAliveConnections) {
  TestServer server([](const SeenRequest&) { return Action{}; });
  auto client = makeBeastHttpClient(localOptions());
  std::string url = "http://127.0.0.1:" + std::to_string(server.port()) + "/";
  for (int i = 0; i < 20; ++i) {
    HttpOutcome out = postAndWait(*client, postTo(url));
    ASSERT_EQ(200, out.status) << out.errorMessage;
  }
  EXPECT_EQ(1, server.connections());
  EXPECT_EQ(20, server.requests());
  EXPECT_EQ(1u, client->stats().connectionsOpened);
  EXPECT_EQ(19u, client->stats().connectionsReused);
}

TEST(HttpClient, ConcurrentRequestsOpenSeveralConnectionsThenReuseThem) {
  TestServer server([](const SeenRequest&) {
    Action a;
    a.delay = 200ms;  // the four posts of a round overlap, even on a busy machine
    return a;
  });
  auto client = makeBeastHttpClient(localOptions());
  std::string url = "http://127.0.0.1:" + std::to_string(server.port()) + "/";
  for (int round = 0; round < 3; ++round) {
    std::vector<std::future<HttpOutcome>> futures;
    for (int i = 0; i < 4; ++i) {
      futures.push_back(std::async(std::launch::async, [&] { return postAndWait(*client, postTo(url)); }));
    }
    for (auto& f : futures) EXPECT_EQ(200, f.get().status);
  }
  EXPECT_EQ(12, server.requests());
  EXPECT_LE(server.connections(), 4);
  EXPECT_GE(server.connections(), 2);
}

TEST(HttpClient, RetriesOnceWhenAKeptConnectionWasClosedByTheServer) {
  TestServer server([](const SeenRequest&) {
    Action a;
    a.closeAfter = true;  // closes without announcing it
    return a;
  });
  auto client = makeBeastHttpClient(localOptions());
  std::string url = "http://127.0.0.1:" + std::to_string(server.port()) + "/";
  for (int i = 0; i < 3; ++i) {
    HttpOutcome out = postAndWait(*client, postTo(url));
    EXPECT_EQ(200, out.status) << out.errorMessage;
    std::this_thread::sleep_for(20ms);  // let the close arrive
  }
  EXPECT_EQ(3, server.requests());
  EXPECT_EQ(3, server.connections());
}

TEST(HttpClient, RequestTimeout) {
  TestServer server([](const SeenRequest&) {
    Action a;
    a.delay = 1'500ms;
    return a;
  });
  auto client = makeBeastHttpClient(localOptions());
  std::string url = "http://127.0.0.1:" + std::to_string(server.port()) + "/";
  HttpOutcome out = postAndWait(*client, postTo(url, 200ms));
  EXPECT_EQ(TransportError::kTimeout, out.error);
  EXPECT_EQ(0, out.status);
  EXPECT_GE(out.latency, 190ms);
  EXPECT_LT(out.latency, 1'400ms);
}

TEST(HttpClient, ConnectionRefused) {
  const sluice::testing::ReservedPort refusing(sluice::testing::ReservedPort::Mode::kRefuses);
  auto client = makeBeastHttpClient(localOptions());
  HttpOutcome out = postAndWait(*client, postTo(refusing.url()));
  EXPECT_EQ(TransportError::kConnect, out.error);
  EXPECT_EQ(0, out.status);
  EXPECT_STREQ("connect", transportErrorName(out.error));
}

TEST(HttpClient, ResetMidReply) {
  TestServer server([](const SeenRequest&) {
    Action a;
    a.partial = true;
    return a;
  });
  auto client = makeBeastHttpClient(localOptions());
  HttpOutcome out =
      postAndWait(*client, postTo("http://127.0.0.1:" + std::to_string(server.port()) + "/"));
  EXPECT_EQ(TransportError::kReset, out.error);
  EXPECT_EQ(0, out.status);
}

TEST(HttpClient, ClosedWithoutReplyOnAFreshConnectionIsAReset) {
  TestServer server([](const SeenRequest&) {
    Action a;
    a.silentClose = true;
    return a;
  });
  auto client = makeBeastHttpClient(localOptions());
  HttpOutcome out =
      postAndWait(*client, postTo("http://127.0.0.1:" + std::to_string(server.port()) + "/"));
  EXPECT_EQ(TransportError::kReset, out.error);
  EXPECT_EQ(1, server.requests());  // not retried: the connection was new
}

TEST(HttpClient, InvalidUrls) {
  auto client = makeBeastHttpClient(localOptions());
  EXPECT_EQ(TransportError::kInvalid, postAndWait(*client, postTo("not a url")).error);
  EXPECT_EQ(TransportError::kInvalid, postAndWait(*client, postTo("ftp://127.0.0.1/")).error);
}

TEST(HttpClient, DestroyingTheClientCancelsPendingRequests) {
  TestServer server([](const SeenRequest&) {
    Action a;
    a.delay = 500ms;
    return a;
  });
  auto client = makeBeastHttpClient(localOptions());
  auto promise = std::make_shared<std::promise<HttpOutcome>>();
  auto future = promise->get_future();
  client->post(postTo("http://127.0.0.1:" + std::to_string(server.port()) + "/"),
               [promise](HttpOutcome o) { promise->set_value(std::move(o)); });
  std::this_thread::sleep_for(100ms);
  client.reset();
  ASSERT_EQ(std::future_status::ready, future.wait_for(0s));
  EXPECT_EQ(TransportError::kCancelled, future.get().error);
}

// ---- TLS and proxy ------------------------------------------------------------------------------

// A self-signed certificate for localhost, 127.0.0.1 and proxied.test, made once per test run.
class TlsFiles {
 public:
  TlsFiles() {
    dir_ = std::filesystem::temp_directory_path() /
           ("sluice-http-client-test-" + std::to_string(::getpid()));
    std::filesystem::create_directories(dir_);
    std::string cmd = "openssl req -x509 -newkey ec -pkeyopt ec_paramgen_curve:prime256v1 -nodes"
                      " -keyout " + key() + " -out " + cert() +
                      " -days 1 -subj /CN=sluice-test"
                      " -addext subjectAltName=DNS:localhost,IP:127.0.0.1,DNS:proxied.test"
                      " >/dev/null 2>&1";
    ok_ = std::system(cmd.c_str()) == 0 && std::filesystem::exists(cert());
  }
  ~TlsFiles() {
    std::error_code ec;
    std::filesystem::remove_all(dir_, ec);
  }
  bool ok() const { return ok_; }
  std::string cert() const { return (dir_ / "cert.pem").string(); }
  std::string key() const { return (dir_ / "key.pem").string(); }

  std::unique_ptr<asio::ssl::context> serverContext() const {
    auto ctx = std::make_unique<asio::ssl::context>(asio::ssl::context::tls_server);
    ctx->use_certificate_chain_file(cert());
    ctx->use_private_key_file(key(), asio::ssl::context::pem);
    return ctx;
  }

 private:
  std::filesystem::path dir_;
  bool ok_ = false;
};

const TlsFiles& tlsFiles() {
  static TlsFiles files;
  return files;
}

TEST(HttpClientTls, SelfSignedCertificateFailsVerification) {
  ASSERT_TRUE(tlsFiles().ok()) << "openssl CLI could not make a certificate";
  auto ctx = tlsFiles().serverContext();
  TestServer server([](const SeenRequest&) { return Action{}; }, ctx.get());
  auto client = makeBeastHttpClient(localOptions());  // system store only
  HttpOutcome out =
      postAndWait(*client, postTo("https://127.0.0.1:" + std::to_string(server.port()) + "/"));
  EXPECT_EQ(TransportError::kTls, out.error);
  EXPECT_NE(std::string::npos, out.errorMessage.find("certificate verify failed"))
      << out.errorMessage;
  EXPECT_EQ(0, server.requests());
}

TEST(HttpClientTls, TrustedCertificateWorksAndConnectionsAreReused) {
  ASSERT_TRUE(tlsFiles().ok());
  auto ctx = tlsFiles().serverContext();
  TestServer server([](const SeenRequest&) { return Action{}; }, ctx.get());
  HttpClientOptions options = localOptions();
  options.extraCaFile = tlsFiles().cert();
  auto client = makeBeastHttpClient(options);
  for (const char* host : {"localhost", "127.0.0.1", "localhost", "127.0.0.1"}) {
    HttpOutcome out = postAndWait(
        *client, postTo(std::string("https://") + host + ":" + std::to_string(server.port()) + "/"));
    EXPECT_EQ(TransportError::kNone, out.error) << host << ": " << out.errorMessage;
    EXPECT_EQ(200, out.status);
  }
  EXPECT_EQ(4, server.requests());
  EXPECT_EQ(2, server.connections());  // one pool per host name
}

// A CONNECT proxy that tunnels every request to 127.0.0.1:targetPort whatever host is asked for,
// and remembers the CONNECT lines it saw.
class ConnectProxy {
 public:
  explicit ConnectProxy(uint16_t targetPort) : targetPort_(targetPort), acceptor_(ioc_) {
    tcp::endpoint endpoint(asio::ip::make_address("127.0.0.1"), 0);
    acceptor_.open(endpoint.protocol());
    acceptor_.bind(endpoint);
    acceptor_.listen();
    port_ = acceptor_.local_endpoint().port();
    thread_ = std::thread([this] { run(); });
  }
  ~ConnectProxy() {
    stopping_ = true;
    ::shutdown(acceptor_.native_handle(), SHUT_RDWR);
    thread_.join();
    std::lock_guard lock(mutex_);
    for (int fd : fds_) ::shutdown(fd, SHUT_RDWR);
    for (auto& t : pipes_) t.join();
  }
  uint16_t port() const { return port_; }
  std::vector<std::string> connectLines() const {
    std::lock_guard lock(mutex_);
    return lines_;
  }

 private:
  void run() {
    while (!stopping_) {
      auto client = std::make_shared<tcp::socket>(ioc_);
      boost::system::error_code ec;
      acceptor_.accept(*client, ec);
      if (ec || stopping_) return;
      beast::flat_buffer buffer;
      bhttp::request<bhttp::empty_body> req;
      bhttp::read(*client, buffer, req, ec);
      if (ec) continue;
      auto upstream = std::make_shared<tcp::socket>(ioc_);
      upstream->connect(tcp::endpoint(asio::ip::make_address("127.0.0.1"), targetPort_), ec);
      std::string reply = ec ? "HTTP/1.1 502 Bad Gateway\r\nContent-Length: 0\r\n\r\n"
                             : "HTTP/1.1 200 Connection established\r\n\r\n";
      asio::write(*client, asio::buffer(reply), ec);
      std::lock_guard lock(mutex_);
      lines_.push_back(std::string(req.method_string()) + " " + std::string(req.target()));
      fds_.push_back(client->native_handle());
      fds_.push_back(upstream->native_handle());
      auto pipe = [](std::shared_ptr<tcp::socket> from, std::shared_ptr<tcp::socket> to) {
        char data[16384];
        for (;;) {
          boost::system::error_code rec;
          size_t n = from->read_some(asio::buffer(data), rec);
          if (rec) break;
          asio::write(*to, asio::buffer(data, n), rec);
          if (rec) break;
        }
        ::shutdown(to->native_handle(), SHUT_WR);
      };
      pipes_.emplace_back(pipe, client, upstream);
      pipes_.emplace_back(pipe, upstream, client);
    }
  }

  uint16_t targetPort_;
  asio::io_context ioc_;
  tcp::acceptor acceptor_;
  uint16_t port_ = 0;
  std::atomic<bool> stopping_{false};
  std::thread thread_;
  mutable std::mutex mutex_;
  std::vector<std::string> lines_;   // GUARDED_BY(mutex_)
  std::vector<int> fds_;             // GUARDED_BY(mutex_)
  std::vector<std::thread> pipes_;   // GUARDED_BY(mutex_)
};

TEST(HttpClientProxy, TunnelsHttpsThroughConnectAndVerifiesTheRealHost) {
  ASSERT_TRUE(tlsFiles().ok());
  auto ctx = tlsFiles().serverContext();
  TestServer server([](const SeenRequest&) { return Action{}; }, ctx.get());
  ConnectProxy proxy(server.port());
  HttpClientOptions options = localOptions();
  options.extraCaFile = tlsFiles().cert();
  options.httpsProxy = "http://127.0.0.1:" + std::to_string(proxy.port());
  auto client = makeBeastHttpClient(options);
  std::string port = std::to_string(server.port());

  // proxied.test exists only behind the proxy; the certificate names it.
  for (int i = 0; i < 3; ++i) {
    HttpOutcome out = postAndWait(*client, postTo("https://proxied.test:" + port + "/track"));
    EXPECT_EQ(200, out.status) << out.errorMessage;
  }
  ASSERT_EQ(1u, proxy.connectLines().size());  // one tunnel, kept alive
  EXPECT_EQ("CONNECT proxied.test:" + port, proxy.connectLines()[0]);
  EXPECT_EQ("proxied.test:" + port, server.seen().at(0).host);

  // A host the certificate does not name fails verification even through the tunnel.
  HttpOutcome wrong = postAndWait(*client, postTo("https://other.test:" + port + "/"));
  EXPECT_EQ(TransportError::kTls, wrong.error) << wrong.errorMessage;
  EXPECT_EQ(2u, proxy.connectLines().size());
}

TEST(HttpClientProxy, LoopbackAndNoProxyHostsGoDirect) {
  ASSERT_TRUE(tlsFiles().ok());
  auto ctx = tlsFiles().serverContext();
  TestServer server([](const SeenRequest&) { return Action{}; }, ctx.get());
  ConnectProxy proxy(server.port());
  HttpClientOptions options = localOptions();
  options.extraCaFile = tlsFiles().cert();
  options.httpsProxy = "127.0.0.1:" + std::to_string(proxy.port());
  options.noProxy = "example.com, .test";
  auto client = makeBeastHttpClient(options);
  std::string port = std::to_string(server.port());
  EXPECT_EQ(200, postAndWait(*client, postTo("https://127.0.0.1:" + port + "/")).status);
  EXPECT_EQ(200, postAndWait(*client, postTo("https://localhost:" + port + "/")).status);
  // proxied.test matches ".test" in NO_PROXY: direct, so its name does not resolve.
  EXPECT_EQ(TransportError::kConnect,
            postAndWait(*client, postTo("https://proxied.test:" + port + "/")).error);
  EXPECT_TRUE(proxy.connectLines().empty());
}

TEST(HttpClientProxy, ProxyFromEnvironment) {
  ASSERT_TRUE(tlsFiles().ok());
  auto ctx = tlsFiles().serverContext();
  TestServer server([](const SeenRequest&) { return Action{}; }, ctx.get());
  ConnectProxy proxy(server.port());
  std::string proxyUrl = "http://127.0.0.1:" + std::to_string(proxy.port());
  ::setenv("HTTPS_PROXY", proxyUrl.c_str(), 1);
  ::setenv("NO_PROXY", "", 1);
  HttpClientOptions options = localOptions();
  options.useEnvironmentProxy = true;
  options.extraCaFile = tlsFiles().cert();
  auto client = makeBeastHttpClient(options);
  ::unsetenv("HTTPS_PROXY");
  ::unsetenv("NO_PROXY");
  HttpOutcome out = postAndWait(
      *client, postTo("https://proxied.test:" + std::to_string(server.port()) + "/"));
  EXPECT_EQ(200, out.status) << out.errorMessage;
  EXPECT_EQ(1u, proxy.connectLines().size());
}

}  // namespace
}  // namespace sluice::delivery
