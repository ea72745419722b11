// Fakes for dispatcher tests: an in-memory feed and a codec whose behaviour is readable from the
// events themselves.
#pragma once

#include <algorithm>
#include <atomic>
#include <cstdint>
#include <functional>
#include <memory>
#include <optional>
#include <string>
#include <vector>

#include "delivery/codec.h"
#include "delivery/dispatcher.h"
#include "delivery/http_client_fake.h"
#include "store/delivery_state.h"

namespace sluice::delivery::testing {

// Events held in memory; commit() remembers the highest committed seq.
class MemoryFeed final : public EventFeed {
 public:
  void add(store::StoredEvent event) { events_.push_back(std::move(event)); }
  Result<size_t> read(size_t max, std::vector<store::StoredEvent>& out) override {
    if (next_ == failReadAt) {
      failReadAt = SIZE_MAX;
      return fail(ErrorCode::kIo, "disk I/O error");
    }
    size_t n = 0;
    for (; next_ < events_.size() && n < max; ++next_, ++n) {
      store::fillSlot(out, n) = events_[next_];
    }
    return n;
  }
  bool finished() const override { return false; }
  Result<void> commit(store::Seq seq) override {
    committed = seq;
    return ok();
  }
  Result<store::StoredEvent> fetch(store::Seq seq) override {
    for (const auto& e : events_) {
      if (e.seq == seq) return e;
    }
    return fail(ErrorCode::kNotFound, "no such event");
  }
  size_t readCount() const { return next_; }
  store::Seq committed = 0;
  size_t failReadAt = SIZE_MAX;  // the read starting at this event fails, once

 private:
  std::vector<store::StoredEvent> events_;
  size_t next_ = 0;
};

// The event's `name` is its batch key; `type` "bad" fails mapping, "double" yields two items,
// source "other" is not fed. An item is `"<messageId>"`; a body is `[item,item,...]`. With
// `forkable` set it forks mappers (for parallel mapping) that count their map() calls in
// `forkMaps`.
class FakeCodec final : public DestinationCodec {
 public:
  bool feeds(std::string_view source) const override { return source != "other"; }
  std::unique_ptr<DestinationCodec> forkMapper() const override {
    if (!forkable) return nullptr;
    auto fork = std::make_unique<FakeCodec>(*this);
    fork->isFork = true;
    return fork;
  }
  MapOutcome map(const store::StoredEvent& event, EpochMs) override {
    if (isFork) forkMaps->fetch_add(1, std::memory_order_relaxed);
    MapOutcome out;
    if (event.type == "bad") {
      out.error = "price must be a number";
      return out;
    }
    out.items.push_back(MappedItem{"\"" + event.messageId + "\"", event.name});
    if (event.type == "double") out.items.push_back(MappedItem{"\"" + event.messageId + "-2\"",
                                                               event.name});
    return out;
  }
  HttpPost request(std::string_view key, const std::vector<std::string_view>& items) override {
    HttpPost post;
    post.url = "http://127.0.0.1:1/track";
    post.headers = {{"Access-Token", token}, {"X-Key", std::string(key)}};
    post.body = "[";
    for (size_t i = 0; i < items.size(); ++i) {
      if (i) post.body += ',';
      post.body += items[i];
    }
    post.body += ']';
    return post;
  }
  // Bodies: {"code":N,"message":"..."}; 0 delivered, 40100 throttled, 50000 retry, 40105 pause,
  // 40002 dead. HTTP 5xx without a code: retry.
  ReplyClass classify(int status, std::string_view body) override {
    ReplyClass c;
    const auto pos = body.find("\"code\":");
    const int code = pos == std::string_view::npos ? -1 : std::atoi(body.data() + pos + 7);
    c.code = code < 0 ? 0 : code;
    const auto m = body.find("\"message\":\"");
    if (m != std::string_view::npos) {
      const auto end = body.find('"', m + 11);
      c.message = std::string(body.substr(m + 11, end - m - 11));
    }
    if (status >= 500 || code == 50000) {
      c.verdict = Verdict::kRetry;
    } else if (code == 0) {
      c.verdict = Verdict::kDelivered;
    } else if (code == 40100) {
      c.verdict = Verdict::kRetry;
      c.throttled = true;
    } else if (code == 40105) {
      c.verdict = Verdict::kPause;
    } else {
      c.verdict = Verdict::kDead;
    }
    return c;
  }
  std::string token = "secret-token";
  bool forkable = false;
  bool isFork = false;
  std::shared_ptr<std::atomic<size_t>> forkMaps = std::make_shared<std::atomic<size_t>>(0);
};

inline store::StoredEvent makeEvent(store::Seq seq, std::string key, EpochMs timeMs,
                                    std::string type = "track", std::string source = "web") {
  store::StoredEvent e;
  e.seq = seq;
  e.source = std::move(source);
  e.messageId = "m" + std::to_string(seq);
  e.type = std::move(type);
  e.name = std::move(key);
  e.receivedAtMs = timeMs;
  e.timestampMs = timeMs;
  e.json = "{\"messageId\":\"" + e.messageId + "\"}";
  return e;
}

// Counts the items of a fake body.
inline size_t itemCount(const std::string& body) {
  return body.size() <= 2 ? 0 : static_cast<size_t>(std::count(body.begin(), body.end(), ',')) + 1;
}

// A delivery state whose record() fails while `failures` is above zero (each failure counts it
// down), as on a full disk; everything else goes to the state it wraps.
class FailingRecords final : public store::DeliveryState {
 public:
  explicit FailingRecords(std::unique_ptr<store::DeliveryState> inner) : inner_(std::move(inner)) {}

  std::atomic<int> failures{0};

  Result<void> record(const std::vector<store::DeadLetter>& dead,
                      const std::vector<store::ExpiredEvent>& expired) override {
    if (failures.load() > 0) {
      failures.fetch_sub(1);
      return fail(ErrorCode::kIo, "database or disk is full");
    }
    return inner_->record(dead, expired);
  }
  Result<std::vector<store::DeadLetter>> listDeadLetters(std::string_view destination, size_t max,
                                                         int64_t afterId) override {
    return inner_->listDeadLetters(destination, max, afterId);
  }
  Result<store::DeadLetter> deadLetter(std::string_view destination, int64_t id) override {
    return inner_->deadLetter(destination, id);
  }
  Result<uint64_t> dropDeadLetters(std::string_view destination,
                                   const std::vector<int64_t>& ids) override {
    return inner_->dropDeadLetters(destination, ids);
  }
  Result<uint64_t> countDeadLetters(std::string_view destination) override {
    return inner_->countDeadLetters(destination);
  }
  Result<void> scanDeadLetters(
      std::string_view destination, const store::EventTimeRange& range,
      const std::function<bool(const store::DeadLetter&)>& visit) override {
    return inner_->scanDeadLetters(destination, range, visit);
  }
  Result<void> scanExpired(std::string_view destination, const store::EventTimeRange& range,
                           const std::function<bool(const store::ExpiredEvent&)>& visit) override {
    return inner_->scanExpired(destination, range, visit);
  }
  Result<uint64_t> countExpired(std::string_view destination) override {
    return inner_->countExpired(destination);
  }
  Result<void> setPaused(std::string_view destination,
                         std::optional<store::PauseState> state) override {
    return inner_->setPaused(destination, std::move(state));
  }
  Result<std::optional<store::PauseState>> pauseState(std::string_view destination) override {
    return inner_->pauseState(destination);
  }

 private:
  std::unique_ptr<store::DeliveryState> inner_;
};

}  // namespace sluice::delivery::testing
