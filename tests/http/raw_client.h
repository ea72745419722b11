// A deliberately plain HTTP/1.1 client on POSIX sockets for tests: it sends exactly the bytes it is
// given (so tests can send malformed, partial or slow requests) and parses one response at a time.
// Every call is bounded by a timeout. Test-only code; not thread-safe per connection.
#pragma once

#include <cstdint>
#include <optional>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

namespace sluice::testing {

struct RawResponse {
  int status = 0;
  std::string reason;
  std::vector<std::pair<std::string, std::string>> headers;  // names lower-cased
  std::string body;

  // The first header named `name` (lower-case), or empty.
  std::string header(std::string_view name) const;
};

class RawConnection {
 public:
  RawConnection() = default;
  ~RawConnection();
  RawConnection(RawConnection&& other) noexcept;
  RawConnection& operator=(RawConnection&& other) noexcept;
  RawConnection(const RawConnection&) = delete;
  RawConnection& operator=(const RawConnection&) = delete;

  // Connects to host:port (IPv4 literal). False on failure.
  bool connect(uint16_t port, const std::string& host = "127.0.0.1", int timeoutMs = 2000);
  bool connected() const { return fd_ >= 0; }

  // Sends all of `data`. False on a socket error.
  bool send(std::string_view data);

  // Reads one response (Content-Length, chunked, or until close). nullopt on timeout, on a
  // connection closed before a complete response, or on unparsable bytes.
  std::optional<RawResponse> read(int timeoutMs = 5000);

  // Reads the bytes of an interim response such as "HTTP/1.1 100 Continue" (status line and
  // headers only). nullopt on timeout.
  std::optional<RawResponse> readHead(int timeoutMs = 5000);

  // True when the peer closes the connection (or resets it) within the timeout and sends nothing
  // more meanwhile than what it had sent before.
  bool waitClosed(int timeoutMs);

  void close();

 private:
  bool fill(int64_t deadlineMs);  // reads more bytes into buffer_; false on close/timeout/error
  std::optional<RawResponse> parseHead(int64_t deadlineMs);

  int fd_ = -1;
  std::string buffer_;
  bool eof_ = false;
};

// "METHOD path HTTP/1.1" with Host, the given headers, Content-Length (when a body is given or
// the method is POST) and the body.
std::string buildRequest(std::string_view method, std::string_view path,
                         const std::vector<std::pair<std::string, std::string>>& headers = {},
                         std::string_view body = {});

// Opens a connection, sends `request`, reads one response, closes. nullopt on any failure.
std::optional<RawResponse> roundTrip(uint16_t port, std::string_view request, int timeoutMs = 5000);

}  // namespace sluice::testing
