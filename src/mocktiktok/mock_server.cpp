#include "mocktiktok/mock_server.h"

#include <algorithm>
#include <chrono>
#include <condition_variable>
#include <map>
#include <mutex>
#include <thread>

#include "core/thread_name.h"
#include "http/server.h"

namespace sluice::mocktiktok {

namespace {

using SteadyTime = std::chrono::steady_clock::time_point;

// Sends responses at given times, on its own thread.
class ReplyTimer {
 public:
  ReplyTimer()
      : thread_([this] {
          nameThisThread("mock-replies");
          run();
        }) {}
  ~ReplyTimer() { flushAndStop(); }

  void at(SteadyTime when, http::Responder responder, http::Response response) {
    std::lock_guard lock(mutex_);
    if (stopped_) return;
    pending_.emplace(when, Entry{std::move(responder), std::move(response)});
    wake_.notify_one();
  }

  // Sends every pending response now and stops the thread.
  void flushAndStop() {
    std::multimap<SteadyTime, Entry> rest;
    {
      std::lock_guard lock(mutex_);
      if (stopped_) return;
      stopped_ = true;
      rest.swap(pending_);
      wake_.notify_one();
    }
    thread_.join();
    for (auto& [when, entry] : rest) entry.responder(std::move(entry.response));
  }

 private:
  struct Entry {
    http::Responder responder;
    http::Response response;
  };

  void run() {
    std::unique_lock lock(mutex_);
    while (!stopped_) {
      if (pending_.empty()) {
        wake_.wait(lock);
        continue;
      }
      auto first = pending_.begin();
      if (first->first > std::chrono::steady_clock::now()) {
        wake_.wait_until(lock, first->first);
        continue;
      }
      Entry entry = std::move(first->second);
      pending_.erase(first);
      lock.unlock();
      entry.responder(std::move(entry.response));
      lock.lock();
    }
  }

  std::mutex mutex_;
  std::condition_variable wake_;
  std::multimap<SteadyTime, Entry> pending_;  // GUARDED_BY(mutex_)
  bool stopped_ = false;                      // GUARDED_BY(mutex_)
  std::thread thread_;
};

}  // namespace

struct MockServer::Impl {
  std::unique_ptr<MockTikTok> mock;
  ReplyTimer timer;
  std::unique_ptr<http::Server> server;
  MockServerOptions options;
  bool stopped = false;
};

Result<std::unique_ptr<MockServer>> MockServer::start(const Clock& clock,
                                                      MockServerOptions options) {
  auto impl = std::make_unique<Impl>();
  impl->options = options;
  auto mock = MockTikTok::create(clock, options.mock, options.scenario);
  if (!mock) return fail(mock.error());
  impl->mock = std::move(*mock);

  http::Router router;
  Impl* raw = impl.get();
  router.setFallback([raw](http::Request&& request, http::Responder responder) {
    Decision decision = raw->mock->handle(request);
    auto now = std::chrono::steady_clock::now();
    switch (decision.kind) {
      case Decision::Kind::kRespond:
        responder(std::move(decision.response));
        return;
      case Decision::Kind::kRespondLater:
        raw->timer.at(now + std::chrono::milliseconds(decision.delayMs), std::move(responder),
                      std::move(decision.response));
        return;
      case Decision::Kind::kHold:
        raw->timer.at(now + std::chrono::milliseconds(raw->options.holdMs), std::move(responder),
                      http::Response{504, "text/html", {}, "<html><body>504</body></html>"});
        return;
      case Decision::Kind::kDrop: {
        http::Response dropped;
        dropped.dropConnection = true;  // the connection closes with no reply
        responder(std::move(dropped));
        return;
      }
    }
  });

  http::ServerOptions serverOptions;
  serverOptions.host = options.host;
  serverOptions.port = options.port;
  serverOptions.threads = options.threads;
  serverOptions.bodyLimitBytes = 16 * 1024 * 1024;  // 1,000 generous events fit
  serverOptions.stopGraceMs = 1'000;
  serverOptions.threadName = "mock-io";
  serverOptions.readTimeoutMs = std::max<int64_t>(30'000, options.holdMs + 5'000);
  auto server = http::Server::start(serverOptions, std::move(router));
  if (!server) return fail(server.error());
  impl->server = std::move(*server);
  return std::unique_ptr<MockServer>(new MockServer(std::move(impl)));
}

MockServer::MockServer(std::unique_ptr<Impl> impl) : impl_(std::move(impl)) {}

MockServer::~MockServer() { stop(); }

void MockServer::stop() {
  if (impl_->stopped) return;
  impl_->stopped = true;
  impl_->timer.flushAndStop();
  impl_->server->stop();
}

uint16_t MockServer::port() const { return impl_->server->port(); }
std::string MockServer::address() const { return impl_->server->address(); }
std::string MockServer::trackUrl() const { return "http://" + address() + std::string(kTrackPath); }
MockTikTok& MockServer::mock() { return *impl_->mock; }

}  // namespace sluice::mocktiktok
