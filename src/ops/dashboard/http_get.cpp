#include "ops/dashboard/http_get.h"

#include <netdb.h>
#include <poll.h>
#include <sys/socket.h>
#include <unistd.h>

#include <cerrno>
#include <charconv>
#include <chrono>
#include <cstring>
#include <memory>
#include <optional>

namespace sluice::ops::dashboard {
namespace {

using SteadyTime = std::chrono::steady_clock::time_point;

int remainingMs(SteadyTime deadline) {
  auto left = std::chrono::duration_cast<std::chrono::milliseconds>(
      deadline - std::chrono::steady_clock::now());
  return left.count() > 0 ? static_cast<int>(left.count()) : 0;
}

struct FdCloser {
  int fd = -1;
  ~FdCloser() {
    if (fd >= 0) ::close(fd);
  }
};

std::string lowerCase(std::string_view text) {
  std::string out(text);
  for (char& c : out) {
    if (c >= 'A' && c <= 'Z') c = static_cast<char>(c - 'A' + 'a');
  }
  return out;
}

}  // namespace

Result<ParsedUrl> parseHttpUrl(std::string_view url) {
  constexpr std::string_view kScheme = "http://";
  if (url.substr(0, kScheme.size()) != kScheme) {
    return fail(ErrorCode::kInvalidArgument,
                "expected an http:// URL, got '" + std::string(url) + "'");
  }
  std::string_view rest = url.substr(kScheme.size());
  const size_t slash = rest.find('/');
  std::string_view authority = rest.substr(0, slash);
  ParsedUrl out;
  out.path = slash == std::string_view::npos ? "/" : std::string(rest.substr(slash));
  std::string_view port;
  if (!authority.empty() && authority.front() == '[') {
    const size_t close = authority.find(']');
    if (close == std::string_view::npos) {
      return fail(ErrorCode::kInvalidArgument, "bad IPv6 address in '" + std::string(url) + "'");
    }
    out.host = std::string(authority.substr(1, close - 1));
    std::string_view after = authority.substr(close + 1);
    if (!after.empty()) {
      if (after.front() != ':') {
        return fail(ErrorCode::kInvalidArgument, "bad address in '" + std::string(url) + "'");
      }
      port = after.substr(1);
    }
  } else {
    const size_t colon = authority.find(':');
    out.host = std::string(authority.substr(0, colon));
    if (colon != std::string_view::npos) port = authority.substr(colon + 1);
  }
  if (out.host.empty()) {
    return fail(ErrorCode::kInvalidArgument, "no host in '" + std::string(url) + "'");
  }
  if (!port.empty()) {
    unsigned value = 0;
    auto [end, ec] = std::from_chars(port.data(), port.data() + port.size(), value);
    if (ec != std::errc() || end != port.data() + port.size() || value == 0 || value > 65535) {
      return fail(ErrorCode::kInvalidArgument, "bad port in '" + std::string(url) + "'");
    }
    out.port = static_cast<uint16_t>(value);
  }
  return out;
}

Result<HttpGetReply> parseHttpResponse(std::string_view raw) {
  const size_t headerEnd = raw.find("\r\n\r\n");
  if (raw.substr(0, 5) != "HTTP/" || headerEnd == std::string_view::npos) {
    return fail(ErrorCode::kInvalidArgument, "not an HTTP response");
  }
  HttpGetReply reply;
  const size_t space = raw.find(' ');
  if (space == std::string_view::npos || space + 4 > raw.size()) {
    return fail(ErrorCode::kInvalidArgument, "no status in the HTTP response");
  }
  auto [end, ec] = std::from_chars(raw.data() + space + 1, raw.data() + space + 4, reply.status);
  if (ec != std::errc() || end != raw.data() + space + 4) {
    return fail(ErrorCode::kInvalidArgument, "bad status in the HTTP response");
  }
  bool chunked = false;
  std::optional<size_t> contentLength;
  std::string_view headers = raw.substr(0, headerEnd);
  size_t lineStart = headers.find("\r\n");
  while (lineStart != std::string_view::npos) {
    lineStart += 2;
    const size_t lineEnd = headers.find("\r\n", lineStart);
    std::string_view line =
        headers.substr(lineStart, lineEnd == std::string_view::npos ? std::string_view::npos
                                                                    : lineEnd - lineStart);
    const size_t colon = line.find(':');
    if (colon != std::string_view::npos) {
      const std::string name = lowerCase(line.substr(0, colon));
      std::string_view value = line.substr(colon + 1);
      while (!value.empty() && value.front() == ' ') value.remove_prefix(1);
      if (name == "transfer-encoding" && lowerCase(value).find("chunked") != std::string::npos) {
        chunked = true;
      } else if (name == "content-length") {
        size_t length = 0;
        auto [e, err] = std::from_chars(value.data(), value.data() + value.size(), length);
        if (err == std::errc()) contentLength = length;
      }
    }
    lineStart = lineEnd;
  }
  std::string_view body = raw.substr(headerEnd + 4);
  if (!chunked) {
    if (contentLength) {
      if (body.size() < *contentLength) {
        return fail(ErrorCode::kInvalidArgument, "the HTTP response was cut short");
      }
      body = body.substr(0, *contentLength);
    }
    reply.body = std::string(body);
    return reply;
  }
  for (;;) {
    const size_t sizeEnd = body.find("\r\n");
    if (sizeEnd == std::string_view::npos) {
      return fail(ErrorCode::kInvalidArgument, "bad chunked body");
    }
    size_t size = 0;
    auto [e, err] = std::from_chars(body.data(), body.data() + sizeEnd, size, 16);
    if (err != std::errc() || body.size() < sizeEnd + 2 + size) {
      return fail(ErrorCode::kInvalidArgument, "bad chunked body");
    }
    if (size == 0) break;
    reply.body.append(body.substr(sizeEnd + 2, size));
    body = body.substr(std::min(body.size(), sizeEnd + 2 + size + 2));
  }
  return reply;
}

Result<HttpGetReply> httpGet(std::string_view url, std::string_view bearerToken,
                             int64_t timeoutMs) {
  auto parsed = parseHttpUrl(url);
  if (!parsed) return fail(parsed.error());
  const SteadyTime deadline =
      std::chrono::steady_clock::now() + std::chrono::milliseconds(timeoutMs);
  const std::string where = parsed->host + ":" + std::to_string(parsed->port);

  addrinfo hints{};
  hints.ai_family = AF_UNSPEC;
  hints.ai_socktype = SOCK_STREAM;
  addrinfo* found = nullptr;
  if (int rc =
          ::getaddrinfo(parsed->host.c_str(), std::to_string(parsed->port).c_str(), &hints, &found);
      rc != 0) {
    return fail(ErrorCode::kUnavailable,
                "cannot resolve " + parsed->host + ": " + ::gai_strerror(rc));
  }
  std::unique_ptr<addrinfo, decltype(&::freeaddrinfo)> addresses(found, &::freeaddrinfo);
  FdCloser socket;
  std::string lastError = "no address";
  for (addrinfo* a = addresses.get(); a != nullptr && socket.fd < 0; a = a->ai_next) {
    int fd = ::socket(a->ai_family, a->ai_socktype | SOCK_NONBLOCK | SOCK_CLOEXEC, a->ai_protocol);
    if (fd < 0) continue;
    FdCloser candidate{fd};
    if (::connect(fd, a->ai_addr, a->ai_addrlen) != 0 && errno != EINPROGRESS) {
      lastError = std::strerror(errno);
      continue;
    }
    pollfd p{fd, POLLOUT, 0};
    if (::poll(&p, 1, remainingMs(deadline)) <= 0) {
      lastError = "connection timed out";
      continue;
    }
    int error = 0;
    socklen_t length = sizeof error;
    ::getsockopt(fd, SOL_SOCKET, SO_ERROR, &error, &length);
    if (error != 0) {
      lastError = std::strerror(error);
      continue;
    }
    socket.fd = fd;
    candidate.fd = -1;
  }
  if (socket.fd < 0)
    return fail(ErrorCode::kUnavailable, "cannot connect to " + where + ": " + lastError);

  std::string request = "GET " + parsed->path + " HTTP/1.1\r\nHost: " + where +
                        "\r\nAccept: application/json\r\nConnection: close\r\n";
  if (!bearerToken.empty()) request += "Authorization: Bearer " + std::string(bearerToken) + "\r\n";
  request += "\r\n";
  size_t sent = 0;
  while (sent < request.size()) {
    pollfd p{socket.fd, POLLOUT, 0};
    if (::poll(&p, 1, remainingMs(deadline)) <= 0) {
      return fail(ErrorCode::kUnavailable, "timed out sending to " + where);
    }
    ssize_t n = ::send(socket.fd, request.data() + sent, request.size() - sent, MSG_NOSIGNAL);
    if (n < 0 && errno != EAGAIN && errno != EINTR) {
      return fail(ErrorCode::kUnavailable, "cannot send to " + where + ": " + std::strerror(errno));
    }
    if (n > 0) sent += static_cast<size_t>(n);
  }
  std::string raw;
  char buffer[16 * 1024];
  constexpr size_t kMaxResponseBytes = 64 << 20;
  for (;;) {
    pollfd p{socket.fd, POLLIN, 0};
    if (::poll(&p, 1, remainingMs(deadline)) <= 0) {
      return fail(ErrorCode::kUnavailable, "no complete answer from " + where + " in time");
    }
    ssize_t n = ::recv(socket.fd, buffer, sizeof buffer, 0);
    if (n == 0) break;
    if (n < 0) {
      if (errno == EAGAIN || errno == EINTR) continue;
      return fail(ErrorCode::kUnavailable,
                  "cannot read from " + where + ": " + std::strerror(errno));
    }
    raw.append(buffer, static_cast<size_t>(n));
    if (raw.size() > kMaxResponseBytes) {
      return fail(ErrorCode::kResourceExhausted, "the answer from " + where + " is too large");
    }
  }
  auto reply = parseHttpResponse(raw);
  if (!reply) return fail(ErrorCode::kUnavailable, where + ": " + reply.error().message);
  return reply;
}

}  // namespace sluice::ops::dashboard
