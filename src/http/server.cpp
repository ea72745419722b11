// The only translation unit of sluice that includes Beast's server side.
#include "http/server.h"

#include <algorithm>
#include <array>
#include <atomic>
#include <boost/asio/dispatch.hpp>
#include <boost/asio/executor_work_guard.hpp>
#include <boost/asio/io_context.hpp>
#include <boost/asio/ip/tcp.hpp>
#include <boost/asio/post.hpp>
#include <boost/asio/steady_timer.hpp>
#include <boost/asio/write.hpp>
#include <boost/beast/core.hpp>
#include <boost/beast/http.hpp>
#include <cctype>
#include <chrono>
#include <mutex>
#include <optional>
#include <shared_mutex>
#include <thread>
#include <unordered_map>
#include <vector>

#include "core/json_text.h"
#include "core/thread_name.h"

namespace sluice::http {

namespace asio = boost::asio;
namespace beast = boost::beast;
namespace bhttp = boost::beast::http;
using tcp = asio::ip::tcp;

// ---- Router ------------------------------------------------------------------------------------

void Router::add(std::string path, Handler handler) {
  routes_[std::move(path)] = std::move(handler);
}

void Router::setFallback(Handler handler) { fallback_ = std::move(handler); }

const Handler& Router::find(std::string_view path) const {
  auto it = routes_.find(std::string(path));
  if (it != routes_.end()) return it->second;
  return fallback_;
}

Response jsonError(int status, std::string_view message) {
  Response response;
  response.status = status;
  response.body = R"({"success":false,"error":)";
  appendJsonString(response.body, message);
  response.body += "}";
  return response;
}

namespace {

constexpr std::string_view kContinue = "HTTP/1.1 100 Continue\r\n\r\n";
// The largest read buffer a connection gets for a request body (see Session::readBody).
constexpr std::uint64_t kBodyReadBytes = 64 * 1024;

class Session;

// Each I/O thread runs an io_context of its own, and each connection lives on one of them, so a
// connection's handlers never run concurrently and need no strand. The concrete executor type
// (rather than Beast's tcp_stream, whose executor is type-erased) spares every handler the erased
// executor's copies.
using Executor = asio::io_context::executor_type;
using Socket = asio::basic_stream_socket<tcp, Executor>;
using Stream = beast::basic_stream<tcp, Executor>;

// State shared by the server and its sessions. Sessions can outlive the Server when a handler still
// holds a Responder; `alive` (guarded by `aliveMutex`) tells such late Responders to do nothing.
struct Shared {
  ServerOptions options;
  Router router;
  std::shared_mutex aliveMutex;
  bool alive = true;  // GUARDED_BY(aliveMutex)
  std::atomic<bool> stopping{false};
  std::atomic<size_t> connections{0};
  std::atomic<size_t> inFlight{0};
  std::mutex sessionsMutex;
  std::unordered_map<Session*, std::weak_ptr<Session>> sessions;  // GUARDED_BY(sessionsMutex)
};

// One connection. All members are used on the connection's I/O thread only, except detach() (after
// the I/O threads have been joined).
class Session : public std::enable_shared_from_this<Session> {
 public:
  Session(Socket socket, std::shared_ptr<Shared> shared)
      : stream_(std::in_place, std::move(socket)), shared_(std::move(shared)) {
    shared_->connections.fetch_add(1, std::memory_order_relaxed);
    beast::error_code ec;
    auto endpoint = stream_->socket().remote_endpoint(ec);
    if (!ec) peer_ = endpoint.address().to_string();
    stream_->socket().set_option(tcp::no_delay(true), ec);
  }

  ~Session() {
    {
      std::lock_guard lock(shared_->sessionsMutex);
      shared_->sessions.erase(this);
    }
    if (state_ == State::kHandling) shared_->inFlight.fetch_sub(1, std::memory_order_relaxed);
    shared_->connections.fetch_sub(1, std::memory_order_relaxed);
  }

  void start() {
    {
      std::lock_guard lock(shared_->sessionsMutex);
      shared_->sessions.emplace(this, weak_from_this());
    }
    asio::dispatch(stream_->get_executor(), [self = shared_from_this()] { self->readRequest(); });
  }

  // Closes the connection if it is waiting for a request. A request partly received (read by the
  // server, or still in the kernel's receive buffer) is read to its end (within the read timeout)
  // and, like a request being handled, gets its reply first; then the connection closes. Used by
  // Server::stop().
  void closeIfIdle() {
    asio::post(stream_->get_executor(),
               [self = shared_from_this()] { self->closeIfStillIdle(/*lookAgain=*/true); });
  }

  // Destroys the socket while the io_context still exists. Only once no I/O thread runs.
  void detach() { stream_.reset(); }

  // Called through a Responder from any thread.
  void respond(uint64_t requestId, Response response) {
    std::shared_lock lock(shared_->aliveMutex);
    if (!shared_->alive || !stream_) return;
    asio::dispatch(stream_->get_executor(), [self = shared_from_this(), requestId,
                                             response = std::move(response)]() mutable {
      self->onResponse(requestId, std::move(response));
    });
  }

 private:
  enum class State { kReading, kHandling, kWriting, kClosed };

  void closeIfStillIdle(bool lookAgain) {
    if (state_ != State::kReading || !stream_) return;
    if (bytesWaiting() || (parser_ && parser_->is_header_done())) return;
    // A read may have taken bytes from the kernel already (at its start, or in the reactor) with
    // its completion queued behind this handler: look once more after that completion.
    if (lookAgain) {
      asio::post(stream_->get_executor(),
                 [self = shared_from_this()] { self->closeIfStillIdle(/*lookAgain=*/false); });
      return;
    }
    close();
  }

  // Bytes of a next request, read into buffer_ or still in the kernel's receive buffer.
  bool bytesWaiting() {
    boost::system::error_code ec;
    return buffer_.size() > 0 || stream_->socket().available(ec) > 0;
  }

  void readRequest() {
    // Stopping: a request already sent is answered; a connection with nothing sent is closed.
    if (shared_->stopping.load(std::memory_order_acquire) && !bytesWaiting()) return close();
    state_ = State::kReading;
    parser_.emplace();
    parser_->body_limit(shared_->options.bodyLimitBytes);
    parser_->header_limit(static_cast<std::uint32_t>(shared_->options.headerLimitBytes));
    stream_->expires_after(std::chrono::milliseconds(shared_->options.readTimeoutMs));
    bhttp::async_read_header(
        *stream_, buffer_, *parser_,
        [self = shared_from_this()](beast::error_code ec, size_t) { self->onHeader(ec); });
  }

  void onHeader(beast::error_code ec) {
    if (ec) return onReadError(ec);
    if (parser_->is_done()) return dispatchRequest();
    const auto& header = parser_->get();
    auto expect = header[bhttp::field::expect];
    if (beast::iequals(expect, "100-continue") && header.version() >= 11) {
      // Through the stream, so that the read timeout armed for this request bounds it too.
      asio::async_write(*stream_, asio::buffer(kContinue.data(), kContinue.size()),
                        [self = shared_from_this()](beast::error_code ec, size_t) {
                          if (ec) return self->close();
                          self->readBody();
                        });
      return;
    }
    readBody();
  }

  void readBody() {
    if (state_ != State::kReading) return;
    // Beast sizes each socket read by the buffer's free capacity (at least 512 bytes), and the
    // parser empties the buffer after every read, so a buffer left at its header-sized capacity
    // reads a large body ~600 bytes per recvmsg. Bodies that do not fit get a read buffer of up
    // to kBodyReadBytes; it stays with the connection.
    auto length = parser_->content_length();
    if (!length || *length > buffer_.capacity() - buffer_.size()) {
      buffer_.reserve(std::min<std::uint64_t>(length.value_or(kBodyReadBytes) + buffer_.size(),
                                              kBodyReadBytes));
    }
    bhttp::async_read(*stream_, buffer_, *parser_,
                      [self = shared_from_this()](beast::error_code ec, size_t) {
                        if (ec) return self->onReadError(ec);
                        self->dispatchRequest();
                      });
  }

  void onReadError(beast::error_code ec) {
    if (state_ != State::kReading) return;
    if (ec == bhttp::error::body_limit) {
      return sendErrorAndClose(413, "request body too large");
    }
    if (ec == bhttp::error::header_limit) {
      return sendErrorAndClose(431, "request headers too large");
    }
    if (ec.category() == bhttp::make_error_code(bhttp::error::end_of_stream).category() &&
        ec != bhttp::error::end_of_stream && ec != bhttp::error::partial_message) {
      return sendErrorAndClose(400, "malformed HTTP request");
    }
    close();  // end of stream, timeout, reset, cancelled
  }

  void dispatchRequest() {
    state_ = State::kHandling;
    shared_->inFlight.fetch_add(1, std::memory_order_relaxed);
    stream_->expires_never();
    auto message = parser_->release();
    parser_.reset();
    version_ = message.version();
    keepAlive_ = message.keep_alive();
    head_ = message.method() == bhttp::verb::head;

    Request request;
    request.method = std::string(message.method_string());
    request.target = std::string(message.target());
    auto question = request.target.find('?');
    if (question == std::string::npos) {
      request.path = request.target;
    } else {
      request.path = request.target.substr(0, question);
      request.query = request.target.substr(question + 1);
    }
    request.headers.reserve(16);
    for (const auto& field : message) {
      std::string name(field.name_string());
      std::transform(name.begin(), name.end(), name.begin(),
                     [](unsigned char c) { return static_cast<char>(std::tolower(c)); });
      request.headers.emplace_back(std::move(name), std::string(field.value()));
    }
    request.body = std::move(message.body());
    request.peerAddress = peer_;

    const uint64_t id = ++requestId_;
    const Handler& handler = shared_->router.find(request.path);
    Responder responder = [self = shared_from_this(), id](Response response) {
      self->respond(id, std::move(response));
    };
    if (!handler) {
      responder(jsonError(404, "not found"));
      return;
    }
    handler(std::move(request), std::move(responder));
  }

  void onResponse(uint64_t requestId, Response response) {
    if (requestId != requestId_ || state_ != State::kHandling) return;  // late or repeated
    if (response.dropConnection) return close();  // close() ends the in-flight count too
    shared_->inFlight.fetch_sub(1, std::memory_order_relaxed);
    const bool keep = keepAlive_ && !shared_->stopping.load(std::memory_order_acquire);
    write(std::move(response), keep);
  }

  void sendErrorAndClose(int status, std::string_view message) {
    version_ = 11;
    head_ = false;
    linger_ = true;
    write(jsonError(status, message), false);
  }

  // After an error reply to a request whose body was not read: stops sending, then reads and
  // discards what the client still sends (bounded in bytes and time) before closing, so that
  // closing with unread data does not reset the connection before the client has read the reply.
  void lingerThenClose() {
    if (state_ == State::kClosed || !stream_) return;
    beast::error_code ignored;
    stream_->socket().shutdown(tcp::socket::shutdown_send, ignored);
    stream_->expires_after(std::chrono::milliseconds(kLingerMs));
    discard();
  }

  void discard() {
    stream_->async_read_some(asio::buffer(discard_),
                             [self = shared_from_this()](beast::error_code ec, size_t n) {
                               self->discarded_ += n;
                               if (ec || self->discarded_ > kLingerMaxBytes) return self->close();
                               self->discard();
                             });
  }

  // The reply, serialised by hand: the status line, the content type, the handler's headers,
  // Content-Length and, when the connection's persistence is not its HTTP version's default,
  // Connection, in one buffer; then the body (moved, not copied), in the same gathered write. A 204
  // or 304 has neither a length nor a body, a reply to HEAD its length but no body (RFC 9110
  // 6.4.1, 9.3.2). A status a final reply cannot have becomes 500; a header that a handler may not
  // set (framing, a second content type) or cannot (CR, LF or NUL in it) is left out.
  void write(Response response, bool keepAlive) {
    state_ = State::kWriting;
    const int status = response.status >= 200 && response.status <= 999 ? response.status : 500;
    const auto known = bhttp::int_to_status(static_cast<unsigned>(status));
    out_.clear();
    out_ += version_ >= 11 ? "HTTP/1.1 " : "HTTP/1.0 ";
    out_ += std::to_string(status);
    out_ += ' ';
    if (known != bhttp::status::unknown) out_ += bhttp::obsolete_reason(known);
    out_ += "\r\n";
    auto field = [this](std::string_view name, std::string_view value) {
      out_ += name;
      out_ += ": ";
      out_ += value;
      out_ += "\r\n";
    };
    if (!response.contentType.empty()) field("Content-Type", response.contentType);
    for (const auto& [name, value] : response.headers) {
      if (allowedHeader(name, value, !response.contentType.empty())) field(name, value);
    }
    const bool bodyless = status == 204 || status == 304;
    if (!bodyless) field("Content-Length", std::to_string(response.body.size()));
    if (version_ >= 11 && !keepAlive) field("Connection", "close");
    if (version_ < 11 && keepAlive) field("Connection", "keep-alive");
    out_ += "\r\n";
    body_.clear();
    if (!bodyless && !head_) body_ = std::move(response.body);
    stream_->expires_after(std::chrono::milliseconds(shared_->options.writeTimeoutMs));
    const std::array<asio::const_buffer, 2> buffers{asio::buffer(out_), asio::buffer(body_)};
    asio::async_write(*stream_, buffers,
                      [self = shared_from_this(), keepAlive](beast::error_code ec, size_t) {
                        self->body_ = std::string();  // a large body is not kept with the session
                        if (!ec && self->linger_) return self->lingerThenClose();
                        if (ec || !keepAlive) return self->close();
                        self->readRequest();
                      });
  }

  // Whether a handler's header may go out: not one that frames the message (the server writes
  // those), not a second content type, nothing that could end the line or the header early.
  static bool allowedHeader(std::string_view name, std::string_view value, bool hasContentType) {
    if (name.empty() || name.find_first_of(std::string_view(":\r\n\0", 4)) != name.npos ||
        value.find_first_of(std::string_view("\r\n\0", 3)) != value.npos) {
      return false;
    }
    for (std::string_view framing : {"content-length", "transfer-encoding", "connection"}) {
      if (beast::iequals(name, framing)) return false;
    }
    return !(hasContentType && beast::iequals(name, "content-type"));
  }

  void close() {
    if (state_ == State::kClosed || !stream_) return;
    if (state_ == State::kHandling) shared_->inFlight.fetch_sub(1, std::memory_order_relaxed);
    state_ = State::kClosed;
    beast::error_code ec;
    stream_->socket().shutdown(tcp::socket::shutdown_send, ec);
    stream_->socket().close(ec);
  }

  std::optional<Stream> stream_;
  std::shared_ptr<Shared> shared_;
  beast::flat_buffer buffer_;
  std::optional<bhttp::request_parser<bhttp::string_body>> parser_;
  std::string out_;    // the status line and headers of the reply being written
  std::string body_;   // its body
  bool head_ = false;  // the request being answered is a HEAD
  std::string peer_;
  State state_ = State::kReading;
  uint64_t requestId_ = 0;
  unsigned version_ = 11;
  bool keepAlive_ = true;
  bool linger_ = false;
  size_t discarded_ = 0;
  std::array<char, 4096> discard_;

  static constexpr int64_t kLingerMs = 2000;
  static constexpr size_t kLingerMaxBytes = 4 << 20;
};

// An I/O thread: names itself and runs `ioc` until it is stopped. A handler that throws is
// dropped and the others go on (for the acceptor: the next accept is armed before a session is
// made).
void runContext(asio::io_context* ioc, const std::string& name) {
  nameThisThread(name);
  for (;;) {
    try {
      ioc->run();
      return;
    } catch (const std::exception&) {
    }
  }
}

}  // namespace

// ---- Server ------------------------------------------------------------------------------------

// One io_context per I/O thread (concurrency hint 1: Asio then queues what a thread posts to
// itself without locking), and one more for the acceptor, which hands connections to the others in
// turn: a long handler on an I/O thread holds up that thread's connections, never new ones.
// Members are destroyed in reverse order: the acceptor before its context, and that context (with
// an accept cancelled by stop() still queued, whose socket belongs to an I/O context) before the
// I/O contexts.
struct Server::Impl {
  std::shared_ptr<Shared> shared = std::make_shared<Shared>();
  std::vector<std::unique_ptr<asio::io_context>> contexts;
  asio::io_context acceptContext{1};
  std::vector<asio::executor_work_guard<Executor>> work;
  tcp::acceptor acceptor{acceptContext};
  asio::steady_timer acceptRetry{acceptContext};
  size_t nextContext = 0;  // used on the acceptor's thread only
  std::vector<std::thread> threads;
  std::string host;
  uint16_t port = 0;
  std::mutex stopMutex;
  bool stopped = false;  // GUARDED_BY(stopMutex)

  explicit Impl(int threadCount) {
    for (int i = 0; i < std::max(1, threadCount); ++i) {
      contexts.push_back(std::make_unique<asio::io_context>(1));
    }
  }

  void accept() {
    auto& target = *contexts[nextContext++ % contexts.size()];
    acceptor.async_accept(target.get_executor(), [this](beast::error_code ec, Socket socket) {
      if (ec == asio::error::operation_aborted || !acceptor.is_open()) return;
      if (ec) {  // out of descriptors and the like: try again shortly instead of spinning
        acceptRetry.expires_after(std::chrono::milliseconds(20));
        acceptRetry.async_wait([this](beast::error_code waitEc) {
          if (!waitEc) accept();
        });
        return;
      }
      accept();  // the next connection is awaited whatever becomes of this one
      if (shared->stopping.load() ||
          shared->connections.load(std::memory_order_relaxed) >= shared->options.maxConnections) {
        beast::error_code ignored;
        socket.close(ignored);
      } else {
        std::make_shared<Session>(std::move(socket), shared)->start();
      }
    });
  }

  std::vector<std::shared_ptr<Session>> liveSessions() {
    std::vector<std::shared_ptr<Session>> out;
    std::lock_guard lock(shared->sessionsMutex);
    out.reserve(shared->sessions.size());
    for (auto& [raw, weak] : shared->sessions) {
      if (auto session = weak.lock()) out.push_back(std::move(session));
    }
    return out;
  }

  void stop() {
    std::lock_guard stopLock(stopMutex);
    if (stopped) return;
    stopped = true;
    shared->stopping.store(true, std::memory_order_release);
    asio::post(acceptContext, [this] {
      beast::error_code ignored;
      acceptor.close(ignored);
      acceptRetry.cancel();
    });
    for (auto& session : liveSessions()) session->closeIfIdle();
    const auto deadline =
        std::chrono::steady_clock::now() + std::chrono::milliseconds(shared->options.stopGraceMs);
    while (shared->connections.load() > 0 && std::chrono::steady_clock::now() < deadline) {
      std::this_thread::sleep_for(std::chrono::milliseconds(2));
    }
    work.clear();
    acceptContext.stop();
    for (auto& context : contexts) context->stop();
    for (auto& thread : threads) {
      if (thread.joinable()) thread.join();
    }
    {
      std::unique_lock lock(shared->aliveMutex);
      shared->alive = false;
    }
    for (auto& session : liveSessions()) session->detach();
    beast::error_code ignored;
    acceptor.close(ignored);
  }
};

Server::Server(std::unique_ptr<Impl> impl) : impl_(std::move(impl)) {}

Server::~Server() {
  if (impl_) impl_->stop();
}

Result<std::unique_ptr<Server>> Server::start(const ServerOptions& options, Router router) {
  int threads =
      options.threads > 0 ? options.threads : static_cast<int>(std::thread::hardware_concurrency());
  threads = std::max(1, threads);
  auto impl = std::make_unique<Impl>(threads);
  impl->shared->options = options;
  impl->shared->router = std::move(router);

  beast::error_code ec;
  auto address = asio::ip::make_address(options.host, ec);
  if (ec) return fail(ErrorCode::kInvalidArgument, "bad listen address '" + options.host + "'");
  tcp::endpoint endpoint(address, options.port);
  auto& acceptor = impl->acceptor;
  const std::string where = options.host + ":" + std::to_string(options.port);
  acceptor.open(endpoint.protocol(), ec);
  if (ec)
    return fail(ErrorCode::kUnavailable, "cannot open socket for " + where + ": " + ec.message());
  acceptor.set_option(asio::socket_base::reuse_address(true), ec);
  acceptor.bind(endpoint, ec);
  if (ec) return fail(ErrorCode::kUnavailable, "cannot bind " + where + ": " + ec.message());
  acceptor.listen(asio::socket_base::max_listen_connections, ec);
  if (ec) return fail(ErrorCode::kUnavailable, "cannot listen on " + where + ": " + ec.message());
  impl->port = acceptor.local_endpoint(ec).port();
  impl->host = address.is_v6() ? "[" + options.host + "]" : options.host;

  for (auto& context : impl->contexts) impl->work.push_back(asio::make_work_guard(*context));
  impl->work.push_back(asio::make_work_guard(impl->acceptContext));
  impl->accept();
  impl->threads.emplace_back(runContext, &impl->acceptContext, options.threadName + "-accept");
  for (size_t i = 0; i < impl->contexts.size(); ++i) {
    impl->threads.emplace_back(runContext, impl->contexts[i].get(),
                               options.threadName + "-" + std::to_string(i));
  }
  return std::unique_ptr<Server>(new Server(std::move(impl)));
}

uint16_t Server::port() const { return impl_->port; }

std::string Server::address() const { return impl_->host + ":" + std::to_string(impl_->port); }

void Server::stop() { impl_->stop(); }

size_t Server::openConnections() const { return impl_->shared->connections.load(); }

size_t Server::inFlightRequests() const { return impl_->shared->inFlight.load(); }

}  // namespace sluice::http
