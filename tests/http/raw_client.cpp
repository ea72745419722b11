#include "http/raw_client.h"

#include <arpa/inet.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <poll.h>
#include <sys/socket.h>
#include <unistd.h>

#include <algorithm>
#include <cctype>
#include <cerrno>
#include <chrono>
#include <cstring>

namespace sluice::testing {
namespace {

int64_t nowMs() {
  return std::chrono::duration_cast<std::chrono::milliseconds>(
             std::chrono::steady_clock::now().time_since_epoch())
      .count();
}

std::string lower(std::string_view text) {
  std::string out(text);
  std::transform(out.begin(), out.end(), out.begin(),
                 [](unsigned char c) { return static_cast<char>(std::tolower(c)); });
  return out;
}

std::string_view trim(std::string_view text) {
  while (!text.empty() && (text.front() == ' ' || text.front() == '\t')) text.remove_prefix(1);
  while (!text.empty() && (text.back() == ' ' || text.back() == '\t' || text.back() == '\r')) {
    text.remove_suffix(1);
  }
  return text;
}

}  // namespace

std::string RawResponse::header(std::string_view name) const {
  for (const auto& [key, value] : headers) {
    if (key == name) return value;
  }
  return {};
}

RawConnection::~RawConnection() { close(); }

RawConnection::RawConnection(RawConnection&& other) noexcept
    : fd_(std::exchange(other.fd_, -1)), buffer_(std::move(other.buffer_)), eof_(other.eof_) {}

RawConnection& RawConnection::operator=(RawConnection&& other) noexcept {
  if (this != &other) {
    close();
    fd_ = std::exchange(other.fd_, -1);
    buffer_ = std::move(other.buffer_);
    eof_ = other.eof_;
  }
  return *this;
}

bool RawConnection::connect(uint16_t port, const std::string& host, int timeoutMs) {
  close();
  int fd = ::socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
  if (fd < 0) return false;
  sockaddr_in address{};
  address.sin_family = AF_INET;
  address.sin_port = htons(port);
  if (::inet_pton(AF_INET, host.c_str(), &address.sin_addr) != 1) {
    ::close(fd);
    return false;
  }
  int flags = ::fcntl(fd, F_GETFL, 0);
  ::fcntl(fd, F_SETFL, flags | O_NONBLOCK);
  int rc = ::connect(fd, reinterpret_cast<sockaddr*>(&address), sizeof(address));
  if (rc != 0 && errno != EINPROGRESS) {
    ::close(fd);
    return false;
  }
  if (rc != 0) {
    pollfd p{fd, POLLOUT, 0};
    if (::poll(&p, 1, timeoutMs) != 1) {
      ::close(fd);
      return false;
    }
    int error = 0;
    socklen_t length = sizeof(error);
    ::getsockopt(fd, SOL_SOCKET, SO_ERROR, &error, &length);
    if (error != 0) {
      ::close(fd);
      return false;
    }
  }
  int one = 1;
  ::setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof(one));
  fd_ = fd;
  buffer_.clear();
  eof_ = false;
  return true;
}

bool RawConnection::send(std::string_view data) {
  if (fd_ < 0) return false;
  const int64_t deadline = nowMs() + 10'000;
  while (!data.empty()) {
    ssize_t n = ::send(fd_, data.data(), data.size(), MSG_NOSIGNAL);
    if (n > 0) {
      data.remove_prefix(static_cast<size_t>(n));
      continue;
    }
    if (n < 0 && (errno == EAGAIN || errno == EWOULDBLOCK)) {
      int64_t left = deadline - nowMs();
      if (left <= 0) return false;
      pollfd p{fd_, POLLOUT, 0};
      ::poll(&p, 1, static_cast<int>(left));
      continue;
    }
    if (n < 0 && errno == EINTR) continue;
    return false;
  }
  return true;
}

bool RawConnection::fill(int64_t deadlineMs) {
  if (fd_ < 0 || eof_) return false;
  char chunk[16384];
  for (;;) {
    ssize_t n = ::recv(fd_, chunk, sizeof(chunk), 0);
    if (n > 0) {
      buffer_.append(chunk, static_cast<size_t>(n));
      return true;
    }
    if (n == 0) {
      eof_ = true;
      return false;
    }
    if (errno == EINTR) continue;
    if (errno != EAGAIN && errno != EWOULDBLOCK) {
      eof_ = true;
      return false;
    }
    int64_t left = deadlineMs - nowMs();
    if (left <= 0) return false;
    pollfd p{fd_, POLLIN, 0};
    ::poll(&p, 1, static_cast<int>(left));
  }
}

std::optional<RawResponse> RawConnection::parseHead(int64_t deadlineMs) {
  size_t end;
  while ((end = buffer_.find("\r\n\r\n")) == std::string::npos) {
    if (!fill(deadlineMs)) return std::nullopt;
  }
  std::string_view head(buffer_.data(), end);
  RawResponse response;
  size_t lineEnd = head.find("\r\n");
  std::string_view statusLine = head.substr(0, lineEnd);
  if (statusLine.substr(0, 5) != "HTTP/" || statusLine.size() < 12) return std::nullopt;
  response.status = std::atoi(std::string(statusLine.substr(9, 3)).c_str());
  if (statusLine.size() > 13) response.reason = std::string(statusLine.substr(13));
  while (lineEnd != std::string_view::npos) {
    size_t start = lineEnd + 2;
    lineEnd = head.find("\r\n", start);
    std::string_view line = head.substr(
        start, lineEnd == std::string_view::npos ? std::string_view::npos : lineEnd - start);
    size_t colon = line.find(':');
    if (colon == std::string_view::npos) continue;
    response.headers.emplace_back(lower(trim(line.substr(0, colon))),
                                  std::string(trim(line.substr(colon + 1))));
  }
  buffer_.erase(0, end + 4);
  return response;
}

std::optional<RawResponse> RawConnection::readHead(int timeoutMs) {
  return parseHead(nowMs() + timeoutMs);
}

std::optional<RawResponse> RawConnection::read(int timeoutMs) {
  const int64_t deadline = nowMs() + timeoutMs;
  auto response = parseHead(deadline);
  if (!response) return std::nullopt;
  std::string length = response->header("content-length");
  if (lower(response->header("transfer-encoding")).find("chunked") != std::string::npos) {
    for (;;) {
      size_t lineEnd;
      while ((lineEnd = buffer_.find("\r\n")) == std::string::npos) {
        if (!fill(deadline)) return std::nullopt;
      }
      size_t size = std::strtoul(buffer_.substr(0, lineEnd).c_str(), nullptr, 16);
      while (buffer_.size() < lineEnd + 2 + size + 2) {
        if (!fill(deadline)) return std::nullopt;
      }
      response->body.append(buffer_, lineEnd + 2, size);
      buffer_.erase(0, lineEnd + 2 + size + 2);
      if (size == 0) break;
    }
  } else if (!length.empty()) {
    size_t size = std::strtoul(length.c_str(), nullptr, 10);
    while (buffer_.size() < size) {
      if (!fill(deadline)) return std::nullopt;
    }
    response->body = buffer_.substr(0, size);
    buffer_.erase(0, size);
  } else if (response->status >= 200 && response->status != 204 && response->status != 304) {
    while (fill(deadline)) {
    }
    if (!eof_) return std::nullopt;
    response->body = std::move(buffer_);
    buffer_.clear();
  }
  return response;
}

bool RawConnection::waitClosed(int timeoutMs) {
  const int64_t deadline = nowMs() + timeoutMs;
  while (fill(deadline)) {
  }
  return eof_;
}

void RawConnection::close() {
  if (fd_ >= 0) ::close(fd_);
  fd_ = -1;
}

std::string buildRequest(std::string_view method, std::string_view path,
                         const std::vector<std::pair<std::string, std::string>>& headers,
                         std::string_view body) {
  std::string out;
  out.reserve(128 + body.size());
  out.append(method).append(" ").append(path).append(" HTTP/1.1\r\nHost: 127.0.0.1\r\n");
  for (const auto& [name, value] : headers)
    out.append(name).append(": ").append(value).append("\r\n");
  if (!body.empty() || method == "POST") {
    out.append("Content-Length: ").append(std::to_string(body.size())).append("\r\n");
  }
  out.append("\r\n").append(body);
  return out;
}

std::optional<RawResponse> roundTrip(uint16_t port, std::string_view request, int timeoutMs) {
  RawConnection connection;
  if (!connection.connect(port, "127.0.0.1", timeoutMs)) return std::nullopt;
  if (!connection.send(request)) return std::nullopt;
  return connection.read(timeoutMs);
}

}  // namespace sluice::testing
