// A loopback TCP port reserved for the object's lifetime, for tests of unreachable servers:
// - kRefuses: the socket is bound but never listens, so the kernel answers every connection
//   with a reset ("connection refused").
// - kNeverAccepts: the socket listens but never accepts, so connections complete in the kernel's
//   backlog and then get no answer (a TLS handshake or a request waits until its timeout).
// While the object lives no other process (another test running in parallel) can bind the port.
// A port taken from a listener that was then closed is not enough: a server started by another
// test may get it and answer instead.
#pragma once

#include <arpa/inet.h>
#include <gtest/gtest.h>
#include <netinet/in.h>
#include <sys/socket.h>
#include <unistd.h>

#include <cstdint>
#include <string>

namespace sluice::testing {

class ReservedPort {
 public:
  enum class Mode { kRefuses, kNeverAccepts };

  // `port` 0: any free port. A given port (kNeverAccepts only) is taken even while connections
  // of an earlier listener on it linger in TIME_WAIT; when it cannot be taken, port() is 0.
  explicit ReservedPort(Mode mode, uint16_t port = 0) {
    fd_ = ::socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
    sockaddr_in address{};
    address.sin_family = AF_INET;
    address.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    address.sin_port = htons(port);
    socklen_t size = sizeof address;
    const int reuse = 1;
    // A socket that only binds would not keep other SO_REUSEADDR sockets off the port.
    if (port != 0 && mode != Mode::kNeverAccepts) {
      ADD_FAILURE() << "a given port is reserved only by a listening socket";
      return;
    }
    if (fd_ >= 0 && port != 0) ::setsockopt(fd_, SOL_SOCKET, SO_REUSEADDR, &reuse, sizeof reuse);
    if (fd_ < 0 || ::bind(fd_, reinterpret_cast<sockaddr*>(&address), size) != 0 ||
        (mode == Mode::kNeverAccepts && ::listen(fd_, 16) != 0) ||
        ::getsockname(fd_, reinterpret_cast<sockaddr*>(&address), &size) != 0) {
      if (port == 0) ADD_FAILURE() << "cannot reserve a loopback port";
      return;
    }
    port_ = ntohs(address.sin_port);
  }
  ~ReservedPort() {
    if (fd_ >= 0) ::close(fd_);
  }
  ReservedPort(const ReservedPort&) = delete;
  ReservedPort& operator=(const ReservedPort&) = delete;

  uint16_t port() const { return port_; }
  // "http://127.0.0.1:<port>" followed by `path`.
  std::string url(const std::string& path = "/") const {
    return "http://127.0.0.1:" + std::to_string(port_) + path;
  }

 private:
  int fd_ = -1;
  uint16_t port_ = 0;
};

}  // namespace sluice::testing
