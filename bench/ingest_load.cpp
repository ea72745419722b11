// Load generator for sluice's ingestion API: keep-alive connections driven by one epoll loop per
// thread (--threads, default 1), so that on a small machine the generator takes little CPU and its
// own scheduling adds little to the latencies it measures. Every request carries fresh messageIds
// so that de-duplication never short-cuts the store.
//
//   ingest_load --port P [--path /v1/track|/v1/batch] [--events-per-request N] [--event-bytes B]
//               [--connections C] [--duration-s S] [--rate R] [--key K] [--threads T]
//
// --rate 0 (default): closed loop, each connection sends its next request when the reply arrives
// (maximum throughput). --rate R > 0: open loop, R requests/s due at a constant pace, each sent on
// whichever connection is idle (as a client's connection pool does) and waiting while all are
// busy; latency is measured from the time a request was due, not from when it was sent (no
// coordinated omission). Prints one line of figures.
#include <arpa/inet.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <sys/epoll.h>
#include <sys/socket.h>
#include <unistd.h>

#include <algorithm>
#include <atomic>
#include <cerrno>
#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <memory>
#include <string>
#include <thread>
#include <vector>

namespace {

using Clock = std::chrono::steady_clock;

struct Options {
  int port = 8080;
  std::string path = "/v1/track";
  int eventsPerRequest = 1;
  int eventBytes = 1000;
  int connections = 16;
  double durationS = 10;
  double rate = 0;
  std::string key = "bench-write-key";
  int threads = 1;
};

std::string base64(const std::string& in) {
  static constexpr char kAlphabet[] =
      "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";
  std::string out;
  unsigned value = 0;
  int bits = -6;
  for (unsigned char c : in) {
    value = (value << 8) + c;
    bits += 8;
    while (bits >= 0) {
      out.push_back(kAlphabet[(value >> bits) & 0x3F]);
      bits -= 6;
    }
  }
  if (bits > -6) out.push_back(kAlphabet[((value << 8) >> (bits + 8)) & 0x3F]);
  while (out.size() % 4) out.push_back('=');
  return out;
}

// One event of about `bytes` bytes with the given messageId.
void appendEvent(std::string& out, const std::string& messageId, int bytes) {
  const size_t start = out.size();
  out += R"({"type":"track","event":"Order Completed","userId":"user-)";
  out += messageId.substr(0, 12);
  out += R"(","messageId":")";
  out += messageId;
  out += R"(","timestamp":"2026-01-15T10:00:00.000Z","context":{"ip":"203.0.113.9",)"
         R"("userAgent":"Mozilla/5.0 (X11; Linux x86_64) bench","page":{"url":)"
         R"("https://shop.example/checkout?step=3"}},"properties":{"order_id":"o-)";
  out += messageId;
  out += R"(","currency":"USD","value":129.95,"products":[{"product_id":"sku-1","price":)"
         R"(79.95,"quantity":1},{"product_id":"sku-2","price":50,"quantity":1}],"note":")";
  const size_t used = out.size() - start + 3;
  if (static_cast<size_t>(bytes) > used) out.append(static_cast<size_t>(bytes) - used, 'x');
  out += "\"}}";
}

struct Tally {
  uint64_t ok = 0;
  uint64_t failed = 0;  // non-200 or broken connection
  std::vector<uint32_t> latencyUs;
};

// One keep-alive connection: at most one request outstanding, written and read without blocking.
class Connection {
 public:
  Connection(const Options& options, int index) : options_(options) {
    std::snprintf(prefix_, sizeof(prefix_), "%08x-%04x-", static_cast<unsigned>(::getpid()), index);
    auth_ = "Basic " + base64(options.key + ":");
    batch_ = options.path.find("batch") != std::string::npos;
  }
  ~Connection() { close(); }
  Connection(const Connection&) = delete;
  Connection& operator=(const Connection&) = delete;

  bool busy() const { return busy_; }

  // Builds and starts sending the next request, whose latency counts from `due` (when it was
  // due, which in rate mode may be before now). False when the connection cannot be opened or
  // broke (then fail() counts the request).
  bool start(int epoll, Clock::time_point due) {
    busy_ = true;
    sentAt_ = due;
    if (fd_ < 0 && !open(epoll)) return false;
    body_.clear();
    if (batch_) body_ += R"({"batch":[)";
    for (int i = 0; i < options_.eventsPerRequest; ++i) {
      if (i > 0) body_ += ",";
      appendEvent(body_, std::string(prefix_) + std::to_string(counter_++), options_.eventBytes);
    }
    if (batch_) body_ += "]}";
    out_ = "POST " + options_.path + " HTTP/1.1\r\nHost: 127.0.0.1\r\nAuthorization: " + auth_ +
           "\r\nContent-Type: application/json\r\nContent-Length: " + std::to_string(body_.size()) +
           "\r\n\r\n";
    out_ += body_;
    sent_ = 0;
    return write(epoll);
  }

  // Handles readiness; records a finished request in `tally`. False when the connection broke.
  bool onReady(int epoll, uint32_t events, Clock::time_point start, Tally& tally) {
    if ((events & EPOLLOUT) != 0 && sent_ < out_.size() && !write(epoll)) return fail(tally);
    if ((events & (EPOLLIN | EPOLLERR | EPOLLHUP)) == 0) return true;
    char chunk[16384];
    bool closed = false;
    for (;;) {
      ssize_t n = ::recv(fd_, chunk, sizeof(chunk), 0);
      if (n > 0) {
        in_.append(chunk, static_cast<size_t>(n));
        continue;
      }
      if (n < 0 && (errno == EAGAIN || errno == EWOULDBLOCK)) break;
      if (n < 0 && errno == EINTR) continue;
      closed = true;  // by the server, or broken
      break;
    }
    int status = 0;
    bool closeAfter = false;
    if (!busy_ || !takeResponse(status, closeAfter)) return closed ? fail(tally) : true;
    const auto done = Clock::now();
    if (status == 200) {
      ++tally.ok;
    } else {
      ++tally.failed;
    }
    if (done >= start) {
      tally.latencyUs.push_back(static_cast<uint32_t>(
          std::chrono::duration_cast<std::chrono::microseconds>(done - sentAt_).count()));
    }
    finish();
    if (closeAfter || closed) close();
    return true;
  }

  // Gives up on the outstanding request (counted as failed) and the connection.
  bool fail(Tally& tally) {
    if (busy_) ++tally.failed;
    finish();
    close();
    return false;
  }

 private:
  bool open(int epoll) {
    fd_ = ::socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
    sockaddr_in address{};
    address.sin_family = AF_INET;
    address.sin_port = htons(static_cast<uint16_t>(options_.port));
    address.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    if (fd_ < 0 || ::connect(fd_, reinterpret_cast<sockaddr*>(&address), sizeof(address)) != 0) {
      close();
      return false;
    }
    int one = 1;
    ::setsockopt(fd_, IPPROTO_TCP, TCP_NODELAY, &one, sizeof(one));
    ::fcntl(fd_, F_SETFL, ::fcntl(fd_, F_GETFL) | O_NONBLOCK);
    epoll_event event{};
    event.events = EPOLLIN;
    event.data.ptr = this;
    ::epoll_ctl(epoll, EPOLL_CTL_ADD, fd_, &event);
    in_.clear();
    return true;
  }
  void close() {
    if (fd_ >= 0) ::close(fd_);  // also leaves the epoll set
    fd_ = -1;
    writable_ = false;
  }
  void finish() { busy_ = false; }

  // Sends what the socket takes; asks for EPOLLOUT while some is left.
  bool write(int epoll) {
    while (sent_ < out_.size()) {
      ssize_t n = ::send(fd_, out_.data() + sent_, out_.size() - sent_, MSG_NOSIGNAL);
      if (n > 0) {
        sent_ += static_cast<size_t>(n);
        continue;
      }
      if (n < 0 && errno == EINTR) continue;
      if (n < 0 && (errno == EAGAIN || errno == EWOULDBLOCK)) break;
      return false;
    }
    const bool wantWrite = sent_ < out_.size();
    if (wantWrite != writable_) {
      epoll_event event{};
      event.events = EPOLLIN | (wantWrite ? EPOLLOUT : 0u);
      event.data.ptr = this;
      ::epoll_ctl(epoll, EPOLL_CTL_MOD, fd_, &event);
      writable_ = wantWrite;
    }
    return true;
  }

  // Takes one whole response (with a Content-Length) off the front of in_, if it has arrived.
  bool takeResponse(int& status, bool& closeAfter) {
    const size_t end = in_.find("\r\n\r\n");
    if (end == std::string::npos) return false;
    size_t length = 0;
    size_t at = in_.find("Content-Length: ");
    if (at == std::string::npos || at > end) at = in_.find("content-length: ");
    if (at != std::string::npos && at < end)
      length = std::strtoul(in_.c_str() + at + 16, nullptr, 10);
    if (in_.size() < end + 4 + length) return false;
    status = std::atoi(in_.c_str() + 9);
    closeAfter = in_.find("Connection: close") < end;
    in_.erase(0, end + 4 + length);
    return true;
  }

  const Options& options_;
  char prefix_[32];
  std::string auth_;
  bool batch_ = false;
  Clock::time_point sentAt_;
  uint64_t counter_ = 0;
  int fd_ = -1;
  bool busy_ = false;
  bool writable_ = false;  // EPOLLOUT requested
  std::string body_;
  std::string out_;
  size_t sent_ = 0;
  std::string in_;
};

// Runs connections [first, last) on one epoll loop until `end`, then waits (at most 10 s) for the
// requests still outstanding. In rate mode the loop sends its share of the rate.
void runLoop(const Options& options, int first, int last, Clock::time_point start,
             Clock::time_point end, Tally& tally) {
  const int epoll = ::epoll_create1(EPOLL_CLOEXEC);
  std::vector<std::unique_ptr<Connection>> connections;
  std::vector<Connection*> idle;  // rate mode: the pool's idle connections, the last freed on top
  for (int c = first; c < last; ++c) {
    connections.push_back(std::make_unique<Connection>(options, c));
    idle.push_back(connections.back().get());
  }
  const double share = options.rate * (last - first) / options.connections;
  const auto interval = std::chrono::duration_cast<Clock::duration>(
      std::chrono::duration<double>(share > 0 ? 1.0 / share : 0));
  auto nextDue = start;  // rate mode: when the next request is due
  tally.latencyUs.reserve(1 << 20);
  const auto drainUntil = end + std::chrono::seconds(10);
  std::vector<epoll_event> events(256);
  for (;;) {
    const auto now = Clock::now();
    if (now >= drainUntil) break;
    // Rate mode sends every request due before `end`, late ones too; the closed loop stops there.
    const bool sending = options.rate > 0 ? nextDue < end : now < end;
    auto wakeAt = now < end ? end : drainUntil;
    if (sending && options.rate > 0) {
      // Every request due by now goes out on an idle connection; the rest wait for a reply.
      while (!idle.empty() && nextDue <= now && nextDue < end) {
        Connection* connection = idle.back();
        if (connection->start(epoll, nextDue)) {
          idle.pop_back();
        } else {
          connection->fail(tally);  // cannot connect, or broke: this request is lost
        }
        nextDue += interval;
      }
      if (!idle.empty() && nextDue < end) wakeAt = std::min(wakeAt, nextDue);
    } else if (sending) {
      for (auto& connection : connections) {
        if (connection->busy()) continue;
        if (!connection->start(epoll, now)) {
          connection->fail(tally);  // cannot connect, or broke: the next try in 10 ms
          wakeAt = std::min(wakeAt, now + std::chrono::milliseconds(10));
        }
      }
    }
    const bool outstanding = options.rate > 0
                                 ? idle.size() < connections.size()
                                 : std::any_of(connections.begin(), connections.end(),
                                               [](const auto& c) { return c->busy(); });
    if (!sending && !outstanding) break;
    // A timeout to the nanosecond: in rate mode the next request is often due in less than a
    // millisecond, and a timeout of 0 ms would spin a core that the server needs.
    const int64_t waitNs =
        options.rate > 0 || !outstanding
            ? std::clamp<int64_t>(std::chrono::nanoseconds(wakeAt - now).count(), 0, 1'000'000'000)
            : 1'000'000'000;
    const timespec timeout{static_cast<time_t>(waitNs / 1'000'000'000), waitNs % 1'000'000'000};
    const int n =
        ::epoll_pwait2(epoll, events.data(), static_cast<int>(events.size()), &timeout, nullptr);
    for (int i = 0; i < n; ++i) {
      auto* connection = static_cast<Connection*>(events[static_cast<size_t>(i)].data.ptr);
      const bool wasBusy = connection->busy();
      connection->onReady(epoll, events[static_cast<size_t>(i)].events, start, tally);
      if (options.rate > 0 && wasBusy && !connection->busy()) idle.push_back(connection);
    }
  }
  for (auto& connection : connections) {
    if (connection->busy()) connection->fail(tally);  // no reply within the drain time
  }
  ::close(epoll);
}

double percentile(const std::vector<uint32_t>& sorted, double p) {
  if (sorted.empty()) return 0;
  size_t index = static_cast<size_t>(p / 100.0 * static_cast<double>(sorted.size() - 1) + 0.5);
  return sorted[std::min(index, sorted.size() - 1)] / 1000.0;
}

}  // namespace

int main(int argc, char** argv) {
  Options options;
  for (int i = 1; i + 1 < argc; i += 2) {
    std::string flag = argv[i];
    std::string value = argv[i + 1];
    if (flag == "--port")
      options.port = std::atoi(value.c_str());
    else if (flag == "--path")
      options.path = value;
    else if (flag == "--events-per-request")
      options.eventsPerRequest = std::atoi(value.c_str());
    else if (flag == "--event-bytes")
      options.eventBytes = std::atoi(value.c_str());
    else if (flag == "--connections")
      options.connections = std::atoi(value.c_str());
    else if (flag == "--duration-s")
      options.durationS = std::atof(value.c_str());
    else if (flag == "--rate")
      options.rate = std::atof(value.c_str());
    else if (flag == "--key")
      options.key = value;
    else if (flag == "--threads")
      options.threads = std::atoi(value.c_str());
    else {
      std::fprintf(stderr, "unknown flag %s\n", flag.c_str());
      return 2;
    }
  }
  options.threads = std::clamp(options.threads, 1, std::max(1, options.connections));
  std::vector<Tally> tallies(static_cast<size_t>(options.threads));
  std::vector<std::thread> threads;
  const auto start = Clock::now() + std::chrono::milliseconds(50);
  const auto end = start + std::chrono::duration_cast<Clock::duration>(
                               std::chrono::duration<double>(options.durationS));
  for (int t = 0; t < options.threads; ++t) {
    const int first = options.connections * t / options.threads;
    const int last = options.connections * (t + 1) / options.threads;
    threads.emplace_back([&, t, first, last] {
      runLoop(options, first, last, start, end, tallies[static_cast<size_t>(t)]);
    });
  }
  for (auto& thread : threads) thread.join();
  const double elapsed = std::chrono::duration<double>(Clock::now() - start).count();
  Tally total;
  for (auto& tally : tallies) {
    total.ok += tally.ok;
    total.failed += tally.failed;
    total.latencyUs.insert(total.latencyUs.end(), tally.latencyUs.begin(), tally.latencyUs.end());
  }
  std::sort(total.latencyUs.begin(), total.latencyUs.end());
  std::printf(
      "path=%s connections=%d rate=%s ok=%llu failed=%llu seconds=%.2f requests/s=%.0f "
      "events/s=%.0f latency_ms p50=%.2f p90=%.2f p99=%.2f p99.9=%.2f max=%.2f\n",
      options.path.c_str(), options.connections,
      options.rate > 0 ? std::to_string(static_cast<long>(options.rate)).c_str() : "max",
      static_cast<unsigned long long>(total.ok), static_cast<unsigned long long>(total.failed),
      elapsed, total.ok / elapsed, total.ok * options.eventsPerRequest / elapsed,
      percentile(total.latencyUs, 50), percentile(total.latencyUs, 90),
      percentile(total.latencyUs, 99), percentile(total.latencyUs, 99.9),
      total.latencyUs.empty() ? 0.0 : total.latencyUs.back() / 1000.0);
  return total.ok > 0 ? 0 : 1;
}
