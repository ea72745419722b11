// Load generator for sluice's ingestion API, on plain blocking sockets (one thread per keep-alive
// connection). Every request carries fresh messageIds so that de-duplication never short-cuts the
// store.
//
//   ingest_load --port P [--path /v1/track|/v1/batch] [--events-per-request N] [--event-bytes B]
//               [--connections C] [--duration-s S] [--rate R] [--key K]
//
// --rate 0 (default): closed loop, each connection sends its next request when the reply arrives
// (maximum throughput). --rate R > 0: constant rate of R requests/s spread over the connections;
// latency is measured from the time a request was due, not from when it was sent (no coordinated
// omission). Prints one line of figures.
#include <arpa/inet.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <sys/socket.h>
#include <unistd.h>

#include <algorithm>
#include <atomic>
#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <cstring>
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

class Connection {
 public:
  ~Connection() { close(); }
  bool open(int port) {
    close();
    fd_ = ::socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
    sockaddr_in address{};
    address.sin_family = AF_INET;
    address.sin_port = htons(static_cast<uint16_t>(port));
    address.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    if (::connect(fd_, reinterpret_cast<sockaddr*>(&address), sizeof(address)) != 0) {
      close();
      return false;
    }
    int one = 1;
    ::setsockopt(fd_, IPPROTO_TCP, TCP_NODELAY, &one, sizeof(one));
    timeval timeout{10, 0};
    ::setsockopt(fd_, SOL_SOCKET, SO_RCVTIMEO, &timeout, sizeof(timeout));
    buffer_.clear();
    return true;
  }
  void close() {
    if (fd_ >= 0) ::close(fd_);
    fd_ = -1;
  }
  bool ok() const { return fd_ >= 0; }

  bool send(const std::string& data) {
    size_t sent = 0;
    while (sent < data.size()) {
      ssize_t n = ::send(fd_, data.data() + sent, data.size() - sent, MSG_NOSIGNAL);
      if (n <= 0) return false;
      sent += static_cast<size_t>(n);
    }
    return true;
  }

  // Reads one response with a Content-Length; returns its status or -1.
  int readResponse() {
    for (;;) {
      size_t end = buffer_.find("\r\n\r\n");
      if (end != std::string::npos) {
        int status = std::atoi(buffer_.c_str() + 9);
        size_t length = 0;
        size_t at = buffer_.find("Content-Length: ");
        if (at == std::string::npos || at > end) at = buffer_.find("content-length: ");
        if (at != std::string::npos && at < end) length = std::strtoul(buffer_.c_str() + at + 16, nullptr, 10);
        while (buffer_.size() < end + 4 + length) {
          if (!fill()) return -1;
        }
        closeAfter_ = buffer_.find("Connection: close") < end;
        buffer_.erase(0, end + 4 + length);
        return status;
      }
      if (!fill()) return -1;
    }
  }
  bool closeAfter() const { return closeAfter_; }

 private:
  bool fill() {
    char chunk[16384];
    ssize_t n = ::recv(fd_, chunk, sizeof(chunk), 0);
    if (n <= 0) return false;
    buffer_.append(chunk, static_cast<size_t>(n));
    return true;
  }
  int fd_ = -1;
  std::string buffer_;
  bool closeAfter_ = false;
};

struct Tally {
  uint64_t ok = 0;
  uint64_t failed = 0;  // non-200 or broken connection
  std::vector<uint32_t> latencyUs;
};

void runConnection(const Options& options, int index, Clock::time_point start,
                   Clock::time_point end, Tally& tally) {
  Connection connection;
  const std::string auth = "Basic " + base64(options.key + ":");
  const bool batch = options.path.find("batch") != std::string::npos;
  uint64_t counter = 0;
  char prefix[32];
  std::snprintf(prefix, sizeof(prefix), "%08x-%04x-", static_cast<unsigned>(::getpid()), index);
  const double interval = options.rate > 0 ? options.connections / options.rate : 0;
  auto due = start + std::chrono::duration_cast<Clock::duration>(
                         std::chrono::duration<double>(interval * index / options.connections));
  std::string body;
  std::string request;
  tally.latencyUs.reserve(1 << 20);
  while (Clock::now() < end) {
    if (options.rate > 0) {
      if (due >= end) break;
      std::this_thread::sleep_until(due);
    }
    body.clear();
    if (batch) body += R"({"batch":[)";
    for (int i = 0; i < options.eventsPerRequest; ++i) {
      if (i > 0) body += ",";
      appendEvent(body, std::string(prefix) + std::to_string(counter++), options.eventBytes);
    }
    if (batch) body += "]}";
    request = "POST " + options.path + " HTTP/1.1\r\nHost: 127.0.0.1\r\nAuthorization: " + auth +
              "\r\nContent-Type: application/json\r\nContent-Length: " +
              std::to_string(body.size()) + "\r\n\r\n";
    request += body;
    const auto sentAt = options.rate > 0 ? due : Clock::now();
    if (!connection.ok() && !connection.open(options.port)) {
      ++tally.failed;
      std::this_thread::sleep_for(std::chrono::milliseconds(10));
      continue;
    }
    int status = connection.send(request) ? connection.readResponse() : -1;
    const auto done = Clock::now();
    if (status == 200) {
      ++tally.ok;
    } else {
      ++tally.failed;
    }
    if (status < 0 || connection.closeAfter()) connection.close();
    if (done >= start) {
      tally.latencyUs.push_back(static_cast<uint32_t>(
          std::chrono::duration_cast<std::chrono::microseconds>(done - sentAt).count()));
    }
    if (options.rate > 0) {
      due += std::chrono::duration_cast<Clock::duration>(std::chrono::duration<double>(interval));
    }
  }
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
    if (flag == "--port") options.port = std::atoi(value.c_str());
    else if (flag == "--path") options.path = value;
    else if (flag == "--events-per-request") options.eventsPerRequest = std::atoi(value.c_str());
    else if (flag == "--event-bytes") options.eventBytes = std::atoi(value.c_str());
    else if (flag == "--connections") options.connections = std::atoi(value.c_str());
    else if (flag == "--duration-s") options.durationS = std::atof(value.c_str());
    else if (flag == "--rate") options.rate = std::atof(value.c_str());
    else if (flag == "--key") options.key = value;
    else {
      std::fprintf(stderr, "unknown flag %s\n", flag.c_str());
      return 2;
    }
  }
  std::vector<Tally> tallies(static_cast<size_t>(options.connections));
  std::vector<std::thread> threads;
  const auto start = Clock::now() + std::chrono::milliseconds(50);
  const auto end = start + std::chrono::duration_cast<Clock::duration>(
                               std::chrono::duration<double>(options.durationS));
  for (int c = 0; c < options.connections; ++c) {
    threads.emplace_back(
        [&, c] { runConnection(options, c, start, end, tallies[static_cast<size_t>(c)]); });
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
