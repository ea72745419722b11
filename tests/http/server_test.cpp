#include "http/server.h"

#include <gtest/gtest.h>

#include <atomic>
#include <chrono>
#include <condition_variable>
#include <functional>
#include <mutex>
#include <thread>
#include <vector>

#include "http/raw_client.h"

namespace sluice::http {
namespace {

using sluice::testing::buildRequest;
using sluice::testing::RawConnection;
using sluice::testing::roundTrip;
using namespace std::chrono_literals;

// Echoes what the server parsed, so tests see the Request a handler receives.
Handler echoHandler() {
  return [](Request&& request, Responder respond) {
    Response response;
    response.contentType = "text/plain";
    response.body = request.method + "|" + request.path + "|" + request.query + "|" +
                    std::string(request.header("x-test")) + "|" + request.peerAddress + "|" +
                    request.body;
    response.headers.emplace_back("X-Reply", "yes");
    respond(std::move(response));
  };
}

std::unique_ptr<Server> startServer(Router router, ServerOptions options = {}) {
  options.host = "127.0.0.1";
  options.port = 0;
  if (options.threads == 0) options.threads = 2;
  auto server = Server::start(options, std::move(router));
  EXPECT_TRUE(server.has_value()) << (server ? "" : server.error().toString());
  return server ? std::move(*server) : nullptr;
}

// Holds the responders of requests that a test answers later.
struct Parked {
  std::mutex mutex;
  std::condition_variable changed;
  std::vector<Responder> responders;

  Handler handler() {
    return [this](Request&&, Responder respond) {
      std::lock_guard lock(mutex);
      responders.push_back(std::move(respond));
      changed.notify_all();
    };
  }
  bool waitFor(size_t count) {
    std::unique_lock lock(mutex);
    return changed.wait_for(lock, 5s, [&] { return responders.size() >= count; });
  }
  Responder take() {
    std::lock_guard lock(mutex);
    Responder out = std::move(responders.front());
    responders.erase(responders.begin());
    return out;
  }
};

Response text(int status, std::string body) {
  Response response;
  response.status = status;
  response.contentType = "text/plain";
  response.body = std::move(body);
  return response;
}

// Waits (up to 10 s) until the server has accepted exactly `count` connections.
bool awaitOpenConnections(const Server& server, size_t count) {
  for (int i = 0; i < 2'000 && server.openConnections() < count; ++i) {
    std::this_thread::sleep_for(5ms);
  }
  return server.openConnections() == count;
}

// A handler that holds its I/O thread until released (or for 10 s), then answers "late".
class Blocker {
 public:
  // Releases the handler when it goes. Declared after the server, so that a test ending early
  // does not keep the server's stop() waiting for the handler.
  struct ReleaseAtEnd {
    Blocker* blocker;
    ~ReleaseAtEnd() { blocker->release(); }
  };

  ReleaseAtEnd releaseAtEnd() { return ReleaseAtEnd{this}; }

  Handler handler() {
    return [this](Request&&, Responder respond) {
      std::unique_lock lock(mutex_);
      entered_ = true;
      changed_.notify_all();
      changed_.wait_for(lock, 10s, [&] { return released_; });
      respond(text(200, "late"));
    };
  }
  bool waitEntered() {
    std::unique_lock lock(mutex_);
    return changed_.wait_for(lock, 5s, [&] { return entered_; });
  }
  void release() {
    std::lock_guard lock(mutex_);
    released_ = true;
    changed_.notify_all();
  }

 private:
  std::mutex mutex_;
  std::condition_variable changed_;
  bool entered_ = false;
  bool released_ = false;
};

TEST(ServerTest, RoutesByExactPathAndParsesTheRequest) {
  Router router;
  router.add("/echo", echoHandler());
  auto server = startServer(std::move(router));
  ASSERT_TRUE(server);
  EXPECT_GT(server->port(), 0);
  EXPECT_EQ(server->address(), "127.0.0.1:" + std::to_string(server->port()));

  auto reply =
      roundTrip(server->port(), buildRequest("POST", "/echo?a=1&b=2", {{"X-Test", "v"}}, "hello"));
  ASSERT_TRUE(reply);
  EXPECT_EQ(reply->status, 200);
  EXPECT_EQ(reply->body, "POST|/echo|a=1&b=2|v|127.0.0.1|hello");
  EXPECT_EQ(reply->header("x-reply"), "yes");
  EXPECT_EQ(reply->header("content-type"), "text/plain");

  auto missing = roundTrip(server->port(), buildRequest("GET", "/echo/more"));
  ASSERT_TRUE(missing);
  EXPECT_EQ(missing->status, 404);
  EXPECT_EQ(missing->body, R"({"success":false,"error":"not found"})");
  EXPECT_EQ(missing->header("content-type"), "application/json");
}

TEST(ServerTest, FallbackHandlesUnroutedPaths) {
  Router router;
  router.add("/a", echoHandler());
  router.setFallback(
      [](Request&& request, Responder respond) { respond(text(418, "fallback " + request.path)); });
  auto server = startServer(std::move(router));
  ASSERT_TRUE(server);
  auto reply = roundTrip(server->port(), buildRequest("GET", "/zzz?q"));
  ASSERT_TRUE(reply);
  EXPECT_EQ(reply->status, 418);
  EXPECT_EQ(reply->body, "fallback /zzz");
}

TEST(ServerTest, KeepAliveServesManyRequestsOnOneConnection) {
  Router router;
  router.add("/echo", echoHandler());
  auto server = startServer(std::move(router));
  ASSERT_TRUE(server);
  RawConnection connection;
  ASSERT_TRUE(connection.connect(server->port()));
  for (int i = 0; i < 20; ++i) {
    ASSERT_TRUE(connection.send(buildRequest("POST", "/echo", {}, "n" + std::to_string(i))));
    auto reply = connection.read();
    ASSERT_TRUE(reply) << i;
    EXPECT_EQ(reply->body, "POST|/echo|||127.0.0.1|n" + std::to_string(i));
  }
  // Two pipelined requests are answered in order.
  ASSERT_TRUE(connection.send(buildRequest("POST", "/echo", {}, "p1") +
                              buildRequest("POST", "/echo", {}, "p2")));
  auto first = connection.read();
  auto second = connection.read();
  ASSERT_TRUE(first && second);
  EXPECT_EQ(first->body, "POST|/echo|||127.0.0.1|p1");
  EXPECT_EQ(second->body, "POST|/echo|||127.0.0.1|p2");
  EXPECT_EQ(server->openConnections(), 1u);
}

TEST(ServerTest, ConnectionCloseAndHttp10AreHonoured) {
  Router router;
  router.add("/echo", echoHandler());
  auto server = startServer(std::move(router));
  ASSERT_TRUE(server);
  RawConnection connection;
  ASSERT_TRUE(connection.connect(server->port()));
  ASSERT_TRUE(connection.send(buildRequest("GET", "/echo", {{"Connection", "close"}})));
  auto reply = connection.read();
  ASSERT_TRUE(reply);
  EXPECT_EQ(reply->status, 200);
  EXPECT_TRUE(connection.waitClosed(2000));

  RawConnection old;
  ASSERT_TRUE(old.connect(server->port()));
  ASSERT_TRUE(old.send("GET /echo HTTP/1.0\r\n\r\n"));
  auto oldReply = old.read();
  ASSERT_TRUE(oldReply);
  EXPECT_EQ(oldReply->status, 200);
  EXPECT_TRUE(old.waitClosed(2000));
}

TEST(ServerTest, RepliesCarryTheirHeadersLengthAndPersistenceAndNoBodyWhenNoneIsAllowed) {
  Router router;
  router.add("/created", [](Request&&, Responder respond) {
    Response response = text(201, "made");
    response.headers.emplace_back("Retry-After", "7");
    response.headers.emplace_back("X-Two", "a b");
    respond(std::move(response));
  });
  router.add("/empty", [](Request&&, Responder respond) {
    respond(text(204, "a body a 204 may not carry"));
  });
  auto server = startServer(std::move(router));
  ASSERT_TRUE(server);

  RawConnection connection;
  ASSERT_TRUE(connection.connect(server->port()));
  ASSERT_TRUE(connection.send(buildRequest("GET", "/created")));
  auto created = connection.read();
  ASSERT_TRUE(created);
  EXPECT_EQ(created->status, 201);
  EXPECT_EQ(created->reason, "Created");
  EXPECT_EQ(created->header("content-type"), "text/plain");
  EXPECT_EQ(created->header("retry-after"), "7");
  EXPECT_EQ(created->header("x-two"), "a b");
  EXPECT_EQ(created->header("content-length"), "4");
  EXPECT_EQ(created->header("connection"), "");  // HTTP/1.1 keeps the connection by default
  EXPECT_EQ(created->body, "made");
  // The same connection: a 204 has neither a length nor a body, and the next reply follows it.
  ASSERT_TRUE(connection.send(buildRequest("GET", "/empty") + buildRequest("GET", "/created")));
  auto empty = connection.read();
  ASSERT_TRUE(empty);
  EXPECT_EQ(empty->status, 204);
  EXPECT_EQ(empty->header("content-length"), "");
  EXPECT_EQ(empty->body, "");
  auto next = connection.read();
  ASSERT_TRUE(next);
  EXPECT_EQ(next->status, 201);
  EXPECT_EQ(next->body, "made");

  // HTTP/1.0 asking to keep the connection is told so, and it stays open.
  RawConnection old;
  ASSERT_TRUE(old.connect(server->port()));
  ASSERT_TRUE(old.send("GET /created HTTP/1.0\r\nConnection: keep-alive\r\n\r\n"));
  auto kept = old.read();
  ASSERT_TRUE(kept);
  EXPECT_EQ(kept->header("connection"), "keep-alive");
  ASSERT_TRUE(old.send("GET /created HTTP/1.0\r\n\r\n"));
  auto last = old.read();
  ASSERT_TRUE(last);
  EXPECT_EQ(last->body, "made");
  EXPECT_TRUE(old.waitClosed(2000));
}

TEST(ServerTest, HeadGetsNoBodyAndHandlersCannotFrameTheReplyNorSplitAHeader) {
  Router router;
  router.add("/page", [](Request&&, Responder respond) {
    Response response = text(200, "abcdef");
    response.headers.emplace_back("Content-Length", "999");
    response.headers.emplace_back("connection", "close");
    response.headers.emplace_back("Content-Type", "text/html");
    response.headers.emplace_back("X-Split", "a\r\nInjected: yes");
    response.headers.emplace_back("X-Kept", "ok");
    respond(std::move(response));
  });
  router.add("/interim", [](Request&&, Responder respond) { respond(text(150, "odd")); });
  auto server = startServer(std::move(router));
  ASSERT_TRUE(server);

  RawConnection connection;
  ASSERT_TRUE(connection.connect(server->port()));
  ASSERT_TRUE(connection.send("HEAD /page HTTP/1.1\r\nHost: x\r\n\r\n" +
                              buildRequest("GET", "/page")));
  auto head = connection.readHead();
  ASSERT_TRUE(head);
  EXPECT_EQ(head->status, 200);
  EXPECT_EQ(head->header("content-length"), "6");
  EXPECT_EQ(head->header("content-type"), "text/plain");
  EXPECT_EQ(head->header("x-split"), "");
  EXPECT_EQ(head->header("injected"), "");
  EXPECT_EQ(head->header("x-kept"), "ok");
  EXPECT_EQ(head->header("connection"), "");
  // The reply to HEAD had no body: the next bytes are the reply to GET.
  auto page = connection.read();
  ASSERT_TRUE(page);
  EXPECT_EQ(page->status, 200);
  EXPECT_EQ(page->body, "abcdef");
  size_t lengths = 0;
  for (const auto& [name, value] : page->headers) lengths += name == "content-length";
  EXPECT_EQ(lengths, 1u);

  // A 1xx is not a final reply: the client would wait for another.
  ASSERT_TRUE(connection.send(buildRequest("GET", "/interim")));
  auto interim = connection.read();
  ASSERT_TRUE(interim);
  EXPECT_EQ(interim->status, 500);
  EXPECT_EQ(interim->body, "odd");
}

TEST(ServerTest, HandlersMayAnswerLaterFromAnotherThreadAndOnlyOnce) {
  Parked parked;
  Router router;
  router.add("/later", parked.handler());
  auto server = startServer(std::move(router));
  ASSERT_TRUE(server);
  RawConnection connection;
  ASSERT_TRUE(connection.connect(server->port()));
  ASSERT_TRUE(connection.send(buildRequest("POST", "/later", {}, "x")));
  ASSERT_TRUE(parked.waitFor(1));
  EXPECT_EQ(server->inFlightRequests(), 1u);
  Responder respond = parked.take();
  std::thread answer([&] {
    std::this_thread::sleep_for(30ms);
    respond(text(202, "first"));
    respond(text(500, "second"));  // ignored
  });
  auto reply = connection.read();
  answer.join();
  ASSERT_TRUE(reply);
  EXPECT_EQ(reply->status, 202);
  EXPECT_EQ(reply->body, "first");
  EXPECT_EQ(server->inFlightRequests(), 0u);

  // The connection still works and the repeated answer did not leak into the next request.
  ASSERT_TRUE(connection.send(buildRequest("POST", "/later", {}, "y")));
  ASSERT_TRUE(parked.waitFor(1));
  parked.take()(text(200, "next"));
  auto next = connection.read();
  ASSERT_TRUE(next);
  EXPECT_EQ(next->status, 200);
  EXPECT_EQ(next->body, "next");
}

// The store answers a whole flush at once from its own thread: the server gathers such replies
// and hands them to its I/O threads together. Each must still reach its own connection, once.
TEST(ServerTest, ABurstOfAnswersFromAnotherThreadEachReachTheirOwnConnection) {
  Parked parked;
  Router router;
  router.add("/later", [&parked](Request&& request, Responder respond) {
    std::string body = request.body;
    parked.handler()(std::move(request),
                     [body = std::move(body), respond = std::move(respond)](Response response) {
                       response.body += ":" + body;  // which request this answer was for
                       respond(std::move(response));
                     });
  });
  auto server = startServer(std::move(router));
  ASSERT_TRUE(server);
  constexpr int kClients = 40;
  for (int round = 0; round < 2; ++round) {  // the second burst follows an emptied queue
    std::vector<RawConnection> connections(kClients);
    for (int i = 0; i < kClients; ++i) {
      ASSERT_TRUE(connections[i].connect(server->port()));
      ASSERT_TRUE(connections[i].send(buildRequest("POST", "/later", {}, std::to_string(i))));
    }
    ASSERT_TRUE(parked.waitFor(kClients));
    std::vector<Responder> responders;
    for (int i = 0; i < kClients; ++i) responders.push_back(parked.take());
    std::thread answer([&] {
      for (int i = kClients - 1; i >= 0; --i) {
        responders[i](text(200, "r" + std::to_string(round)));
        responders[i](text(500, "again"));  // ignored
      }
    });
    answer.join();
    for (int i = 0; i < kClients; ++i) {
      auto reply = connections[i].read();
      ASSERT_TRUE(reply) << i;
      EXPECT_EQ(reply->status, 200);
      EXPECT_EQ(reply->body.substr(reply->body.find(':') + 1), std::to_string(i));
      EXPECT_EQ(reply->body.substr(0, 2), "r" + std::to_string(round));
    }
    EXPECT_EQ(server->inFlightRequests(), 0u);
  }
}

TEST(ServerTest, OversizedBodiesGet413BeforeTheBodyIsRead) {
  Router router;
  router.add("/echo", echoHandler());
  ServerOptions options;
  options.bodyLimitBytes = 1000;
  auto server = startServer(std::move(router), options);
  ASSERT_TRUE(server);

  // Announced by Content-Length: refused without sending the body.
  RawConnection connection;
  ASSERT_TRUE(connection.connect(server->port()));
  ASSERT_TRUE(connection.send("POST /echo HTTP/1.1\r\nHost: x\r\nContent-Length: 5000\r\n\r\n"));
  auto reply = connection.read();
  ASSERT_TRUE(reply);
  EXPECT_EQ(reply->status, 413);
  EXPECT_EQ(reply->body, R"({"success":false,"error":"request body too large"})");
  EXPECT_TRUE(connection.waitClosed(2000));

  // Chunked: refused once the limit is crossed.
  RawConnection chunked;
  ASSERT_TRUE(chunked.connect(server->port()));
  std::string chunk(600, 'a');
  std::string request = "POST /echo HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: chunked\r\n\r\n";
  for (int i = 0; i < 2; ++i) request += "258\r\n" + chunk + "\r\n";
  request += "0\r\n\r\n";
  ASSERT_TRUE(chunked.send(request));
  auto chunkedReply = chunked.read();
  ASSERT_TRUE(chunkedReply);
  EXPECT_EQ(chunkedReply->status, 413);

  // At the limit: accepted.
  auto fits = roundTrip(server->port(), buildRequest("POST", "/echo", {}, std::string(1000, 'b')));
  ASSERT_TRUE(fits);
  EXPECT_EQ(fits->status, 200);
}

TEST(ServerTest, A413ReachesAClientThatSendsTheWholeOversizedBody) {
  Router router;
  router.add("/echo", echoHandler());
  ServerOptions options;
  options.bodyLimitBytes = 1000;
  auto server = startServer(std::move(router), options);
  ASSERT_TRUE(server);
  RawConnection connection;
  ASSERT_TRUE(connection.connect(server->port()));
  // 3 MB sent in full before reading: the server must drain it rather than reset the connection.
  ASSERT_TRUE(connection.send(buildRequest("POST", "/echo", {}, std::string(3 << 20, 'z'))));
  auto reply = connection.read();
  ASSERT_TRUE(reply);
  EXPECT_EQ(reply->status, 413);
  EXPECT_TRUE(connection.waitClosed(5000));
}

TEST(ServerTest, HugeHeadersGet431AndGarbageGets400) {
  Router router;
  router.add("/echo", echoHandler());
  ServerOptions options;
  options.headerLimitBytes = 2048;
  auto server = startServer(std::move(router), options);
  ASSERT_TRUE(server);
  auto big =
      roundTrip(server->port(), buildRequest("GET", "/echo", {{"X-Big", std::string(4096, 'h')}}));
  ASSERT_TRUE(big);
  EXPECT_EQ(big->status, 431);

  auto garbage = roundTrip(server->port(), "NOT AN HTTP REQUEST\r\n\r\n");
  ASSERT_TRUE(garbage);
  EXPECT_EQ(garbage->status, 400);
  EXPECT_EQ(garbage->body, R"({"success":false,"error":"malformed HTTP request"})");

  auto badLength =
      roundTrip(server->port(), "POST /echo HTTP/1.1\r\nHost: x\r\nContent-Length: abc\r\n\r\n");
  ASSERT_TRUE(badLength);
  EXPECT_EQ(badLength->status, 400);
}

TEST(ServerTest, ExpectContinueGetsAnInterimReply) {
  Router router;
  router.add("/echo", echoHandler());
  auto server = startServer(std::move(router));
  ASSERT_TRUE(server);
  RawConnection connection;
  ASSERT_TRUE(connection.connect(server->port()));
  ASSERT_TRUE(connection.send(
      "POST /echo HTTP/1.1\r\nHost: x\r\nExpect: 100-continue\r\nContent-Length: 4\r\n\r\n"));
  auto interim = connection.readHead(2000);
  ASSERT_TRUE(interim);
  EXPECT_EQ(interim->status, 100);
  ASSERT_TRUE(connection.send("body"));
  auto reply = connection.read();
  ASSERT_TRUE(reply);
  EXPECT_EQ(reply->status, 200);
  EXPECT_EQ(reply->body, "POST|/echo|||127.0.0.1|body");
}

TEST(ServerTest, SlowClientsAreDisconnected) {
  Router router;
  router.add("/echo", echoHandler());
  ServerOptions options;
  options.readTimeoutMs = 300;
  auto server = startServer(std::move(router), options);
  ASSERT_TRUE(server);
  RawConnection slow;
  ASSERT_TRUE(slow.connect(server->port()));
  ASSERT_TRUE(slow.send("POST /echo HTTP/1.1\r\nHost: x\r\n"));
  auto start = std::chrono::steady_clock::now();
  // Trickling bytes does not extend the deadline: a header line every 100 ms for 1.5 s, and the
  // connection is still closed about 300 ms after the request began (a deadline re-armed by
  // each read would close it only ~300 ms after the trickle ends, at 1.8 s).
  for (int i = 0; i < 15 && slow.send("X-A: b\r\n"); ++i) std::this_thread::sleep_for(100ms);
  EXPECT_TRUE(slow.waitClosed(3000));
  EXPECT_LT(std::chrono::steady_clock::now() - start, 1'200ms);

  RawConnection idle;
  ASSERT_TRUE(idle.connect(server->port()));
  EXPECT_TRUE(idle.waitClosed(3000));
}

// A handler that runs long on its I/O thread holds up that thread's connections only: new
// connections are still accepted (the acceptor has a thread of its own) and served on the others.
TEST(ServerTest, ALongHandlerDoesNotHoldUpNewConnections) {
  Blocker blocker;
  Router router;
  router.add("/block", blocker.handler());
  router.add("/echo", echoHandler());
  auto server = startServer(std::move(router));  // two I/O threads
  ASSERT_TRUE(server);
  const auto releaseAtEnd = blocker.releaseAtEnd();

  RawConnection blocked;
  ASSERT_TRUE(blocked.connect(server->port()));
  ASSERT_TRUE(blocked.send(buildRequest("GET", "/block")));
  ASSERT_TRUE(blocker.waitEntered());
  // Connections are handed to the I/O threads in turn: of the next two, one is on the free one.
  std::vector<RawConnection> next(2);
  for (auto& connection : next) {
    ASSERT_TRUE(connection.connect(server->port()));
    ASSERT_TRUE(connection.send(buildRequest("GET", "/echo")));
  }
  int answered = 0;
  for (auto& connection : next) answered += connection.read(1000).has_value() ? 1 : 0;
  EXPECT_EQ(answered, 1);
  blocker.release();
  auto late = blocked.read();
  ASSERT_TRUE(late);
  EXPECT_EQ(late->body, "late");
}

TEST(ServerTest, StopLetsInFlightRequestsFinishAndClosesIdleConnections) {
  Parked parked;
  Router router;
  router.add("/later", parked.handler());
  router.add("/echo", echoHandler());
  auto server = startServer(std::move(router));
  ASSERT_TRUE(server);
  const uint16_t port = server->port();

  RawConnection idle;
  ASSERT_TRUE(idle.connect(port));
  ASSERT_TRUE(idle.send(buildRequest("GET", "/echo")));
  ASSERT_TRUE(idle.read());  // now idle, kept alive

  RawConnection busy;
  ASSERT_TRUE(busy.connect(port));
  ASSERT_TRUE(busy.send(buildRequest("POST", "/later", {}, "x")));
  ASSERT_TRUE(parked.waitFor(1));

  std::atomic<bool> stopped{false};
  std::thread stopper([&] {
    server->stop();
    stopped = true;
  });
  EXPECT_TRUE(idle.waitClosed(2000));
  std::this_thread::sleep_for(100ms);
  EXPECT_FALSE(stopped.load());  // still waiting for the in-flight request
  parked.take()(text(200, "done"));
  auto reply = busy.read();
  stopper.join();
  ASSERT_TRUE(reply);
  EXPECT_EQ(reply->status, 200);
  EXPECT_EQ(reply->body, "done");
  EXPECT_EQ(reply->header("connection"), "close");
  EXPECT_TRUE(busy.waitClosed(2000));

  // Nothing of this server answers any more (another test's server may have the port by now,
  // but it does not echo).
  RawConnection refused;
  std::optional<testing::RawResponse> late;
  if (refused.connect(port, "127.0.0.1", 500) && refused.send(buildRequest("GET", "/echo"))) {
    late = refused.read(500);
  }
  EXPECT_FALSE(late && late->body.rfind("GET|/echo|", 0) == 0) << late->body;
}

TEST(ServerTest, StopLetsAPartlyReceivedRequestFinish) {
  Router router;
  router.add("/echo", echoHandler());
  auto server = startServer(std::move(router));
  ASSERT_TRUE(server);
  RawConnection partial;
  ASSERT_TRUE(partial.connect(server->port()));
  ASSERT_TRUE(partial.send("POST /echo HTTP/1.1\r\nHost: x\r\nContent-Length: 6\r\n\r\nabc"));
  // Once the connection is accepted, the header and half the body are the server's, whether it
  // has read them yet or they wait in its receive buffer (sent on loopback), and even if its
  // first read begins only after stop().
  ASSERT_TRUE(awaitOpenConnections(*server, 1));
  std::jthread stopper([&] { server->stop(); });  // joined however the test ends
  std::this_thread::sleep_for(100ms);
  ASSERT_TRUE(partial.send("def"));
  auto reply = partial.read();
  stopper.join();
  ASSERT_TRUE(reply);
  EXPECT_EQ(reply->status, 200);
  EXPECT_EQ(reply->body, "POST|/echo|||127.0.0.1|abcdef");
  EXPECT_EQ(reply->header("connection"), "close");
}

// Requests that arrive while their I/O thread is busy wait unread in the kernel's receive buffer
// when stop() comes: on a kept-alive connection (stop()'s sweep finds it waiting for a request)
// and on a connection accepted meanwhile (its first read begins after stop()). Neither connection
// is idle: both requests are read and answered before the connections close.
TEST(ServerTest, StopAnswersRequestsThatArrivedWhileTheirThreadWasBusy) {
  Blocker blocker;
  Router router;
  router.add("/block", blocker.handler());
  router.add("/echo", echoHandler());
  ServerOptions options;
  options.threads = 1;
  auto server = startServer(std::move(router), options);
  ASSERT_TRUE(server);
  const auto releaseAtEnd = blocker.releaseAtEnd();

  RawConnection kept;
  ASSERT_TRUE(kept.connect(server->port()));
  ASSERT_TRUE(kept.send(buildRequest("GET", "/echo")));
  ASSERT_TRUE(kept.read());  // idle now, kept alive
  RawConnection blocked;
  ASSERT_TRUE(blocked.connect(server->port()));
  ASSERT_TRUE(blocked.send(buildRequest("GET", "/block")));
  ASSERT_TRUE(blocker.waitEntered());
  // The only I/O thread is held: these wait in the kernel, unread.
  const std::string half = "POST /echo HTTP/1.1\r\nHost: x\r\nContent-Length: 6\r\n\r\nabc";
  ASSERT_TRUE(kept.send(half));
  RawConnection fresh;
  ASSERT_TRUE(fresh.connect(server->port()));
  ASSERT_TRUE(fresh.send(half));
  ASSERT_TRUE(awaitOpenConnections(*server, 3));  // accepted (by the acceptor's own thread)
  std::jthread stopper([&] { server->stop(); });  // joined however the test ends
  std::this_thread::sleep_for(100ms);  // stop() has asked the connections to close if idle
  blocker.release();
  for (RawConnection* connection : {&kept, &fresh}) {
    ASSERT_TRUE(connection->send("def"));
    auto reply = connection->read();
    ASSERT_TRUE(reply);
    EXPECT_EQ(reply->status, 200);
    EXPECT_EQ(reply->body, "POST|/echo|||127.0.0.1|abcdef");
    EXPECT_EQ(reply->header("connection"), "close");
  }
  stopper.join();
  auto late = blocked.read();
  ASSERT_TRUE(late);
  EXPECT_EQ(late->body, "late");
}

TEST(ServerTest, StopIsBoundedWhenAHandlerNeverAnswersAndLateAnswersAreIgnored) {
  Parked parked;
  Router router;
  router.add("/later", parked.handler());
  ServerOptions options;
  options.stopGraceMs = 200;
  auto server = startServer(std::move(router), options);
  ASSERT_TRUE(server);
  RawConnection busy;
  ASSERT_TRUE(busy.connect(server->port()));
  ASSERT_TRUE(busy.send(buildRequest("POST", "/later", {}, "x")));
  ASSERT_TRUE(parked.waitFor(1));
  auto start = std::chrono::steady_clock::now();
  server.reset();  // stops and destroys
  EXPECT_LT(std::chrono::steady_clock::now() - start, 2s);
  parked.take()(text(200, "too late"));  // must not crash or write
  EXPECT_TRUE(busy.waitClosed(2000));
}

TEST(ServerTest, BindingATakenPortFails) {
  auto first = startServer(Router{});
  ASSERT_TRUE(first);
  ServerOptions options;
  options.port = first->port();
  auto second = Server::start(options, Router{});
  ASSERT_FALSE(second.has_value());
  EXPECT_EQ(second.error().code, ErrorCode::kUnavailable);
  options.host = "not-an-address";
  options.port = 0;
  auto bad = Server::start(options, Router{});
  ASSERT_FALSE(bad.has_value());
  EXPECT_EQ(bad.error().code, ErrorCode::kInvalidArgument);
}

TEST(ServerTest, ManyConcurrentClients) {
  std::atomic<int> handled{0};
  Router router;
  router.add("/count", [&](Request&& request, Responder respond) {
    ++handled;
    // Half answer inline, half from another thread.
    if (request.body.size() % 2 == 0) {
      respond(text(200, request.body));
    } else {
      std::thread([respond = std::move(respond), body = request.body] {
        respond(text(200, body));
      }).detach();
    }
  });
  auto server = startServer(std::move(router));
  ASSERT_TRUE(server);
  constexpr int kClients = 8;
  constexpr int kRequests = 200;
  std::atomic<int> good{0};
  std::vector<std::thread> clients;
  for (int c = 0; c < kClients; ++c) {
    clients.emplace_back([&, c] {
      RawConnection connection;
      if (!connection.connect(server->port())) return;
      for (int i = 0; i < kRequests; ++i) {
        std::string body = std::to_string(c) + ":" + std::to_string(i);
        if (!connection.send(buildRequest("POST", "/count", {}, body))) return;
        auto reply = connection.read();
        if (reply && reply->status == 200 && reply->body == body) ++good;
      }
    });
  }
  for (auto& client : clients) client.join();
  EXPECT_EQ(good.load(), kClients * kRequests);
  EXPECT_EQ(handled.load(), kClients * kRequests);
  EXPECT_EQ(server->inFlightRequests(), 0u);
}

TEST(JsonErrorTest, EscapesTheMessage) {
  auto response = jsonError(400, "bad \"x\"\n\x01");
  EXPECT_EQ(response.status, 400);
  EXPECT_EQ(response.contentType, "application/json");
  EXPECT_EQ(response.body, R"({"success":false,"error":"bad \"x\"\n\u0001"})");
}

}  // namespace
}  // namespace sluice::http
