// The dispatcher of one destination: reads events from a feed (the log from the destination's
// cursor, or a replay range), maps them, packs items into request bodies, sends them under the
// destination's flow control, judges the replies, and records the fate of every event before the
// cursor moves past it. See README.md in this folder for the semantics.
#pragma once

#include <array>
#include <atomic>
#include <condition_variable>
#include <cstdint>
#include <deque>
#include <functional>
#include <map>
#include <memory>
#include <mutex>
#include <optional>
#include <span>
#include <string>
#include <thread>
#include <unordered_map>
#include <vector>

#include "core/clock.h"
#include "core/result.h"
#include "delivery/backoff.h"
#include "delivery/circuit_breaker.h"
#include "delivery/codec.h"
#include "delivery/concurrency_limiter.h"
#include "delivery/http_client.h"
#include "delivery/retry_budget.h"
#include "delivery/token_bucket.h"
#include "delivery/worker_pool.h"
#include "store/delivery_state.h"
#include "store/event_log.h"

namespace sluice::delivery {

// Where a dispatcher's events come from. Called from the dispatcher's thread only.
class EventFeed {
 public:
  virtual ~EventFeed() = default;
  // Up to `max` events following those returned before, in ascending seq, into the first N
  // elements of `out`; returns N (0: nothing now). `out` grows when too short and never shrinks:
  // later elements are left for reuse (EventLog::readAfterInto()), so the caller passes the same
  // vector each time and reads only the first N.
  virtual Result<size_t> read(size_t max, std::vector<store::StoredEvent>& out) = 0;
  // True once read() will never return anything again (finite feeds: replay, dead-letter retry).
  virtual bool finished() const = 0;
  // Every event up to and including `seq` has a durable fate. The log feed moves its cursor.
  virtual Result<void> commit(store::Seq seq) = 0;
  // The event at `seq` again (for dead letters and expiries found after its read).
  virtual Result<store::StoredEvent> fetch(store::Seq seq) = 0;
};

// The log from a named cursor: read() follows readAfter(), commit() is setCursor().
class LogFeed final : public EventFeed {
 public:
  // Reads the cursor `cursorName` of `log` (which must outlive the feed).
  static Result<std::unique_ptr<LogFeed>> open(store::EventLog& log, std::string cursorName);
  Result<size_t> read(size_t max, std::vector<store::StoredEvent>& out) override;
  bool finished() const override { return false; }
  Result<void> commit(store::Seq seq) override;
  Result<store::StoredEvent> fetch(store::Seq seq) override;
  store::Seq position() const { return readSeq_; }

 private:
  LogFeed(store::EventLog& log, std::string cursorName, store::Seq start)
      : log_(log), cursorName_(std::move(cursorName)), readSeq_(start) {}
  store::EventLog& log_;
  std::string cursorName_;
  store::Seq readSeq_;
};

// A fixed list of events (dead letters to retry), given in any order.
class ListFeed final : public EventFeed {
 public:
  explicit ListFeed(std::vector<store::StoredEvent> events);
  Result<size_t> read(size_t max, std::vector<store::StoredEvent>& out) override;
  bool finished() const override { return next_ >= events_.size(); }
  Result<void> commit(store::Seq) override { return ok(); }
  Result<store::StoredEvent> fetch(store::Seq seq) override;

 private:
  std::vector<store::StoredEvent> events_;  // sorted by seq, unique
  size_t next_ = 0;
};

// The events received in [since, until) as the log holds them when the feed opens (replay).
class RangeFeed final : public EventFeed {
 public:
  static Result<std::unique_ptr<RangeFeed>> open(store::EventLog& log, store::TimeRange range);
  Result<size_t> read(size_t max, std::vector<store::StoredEvent>& out) override;
  bool finished() const override { return done_; }
  Result<void> commit(store::Seq) override { return ok(); }
  Result<store::StoredEvent> fetch(store::Seq seq) override;
  // The seq span scanned (for a progress bar): first and last seq that may be in the range.
  store::Seq firstSeq() const { return first_; }
  store::Seq lastSeq() const { return last_; }
  store::Seq position() const { return position_; }

 private:
  RangeFeed(store::EventLog& log, store::TimeRange range, store::Seq first, store::Seq last)
      : log_(log),
        range_(range),
        first_(first),
        last_(last),
        position_(first ? first - 1 : 0),
        done_(first == 0) {}
  store::EventLog& log_;
  store::TimeRange range_;
  store::Seq first_;
  store::Seq last_;
  store::Seq position_;
  bool done_;
};

struct DispatcherOptions {
  std::string destination;  // the destination's name (dead letters, logs, cursor)
  int maxEvents = 1000;     // items per request body
  int64_t lingerMs = 250;   // a partial body waits at most this long for more items
  int64_t maxEventAgeMs = 7LL * 86'400'000;  // older events are expired, not sent
  double maxRequestsPerSecond = 200;
  double maxEventsPerSecond = 200'000;
  int initialConcurrency = 4;
  int minConcurrency = 1;
  int maxConcurrency = 32;
  int64_t backoffBaseMs = 500;
  int64_t backoffCapMs = 5 * 60'000;
  double retryBudgetRatio = 0.2;
  int minRetriesPerWindow = 3;  // retries always allowed per budget window
  int64_t retryBudgetWindowMs = 10'000;
  int64_t requestTimeoutMs = 15'000;
  int breakerFailureThreshold = 5;
  int64_t breakerProbeIntervalMs = 30'000;
  int64_t pausedProbeIntervalMs = 60'000;
  // Memory bound: items held (open, queued, in flight, waiting for retry) at most this many;
  // reading stops while it is reached, so an outage never grows memory.
  size_t maxOutstandingItems = 20'000;
  size_t readChunk = 2'000;  // events per read of the feed
  // Threads that map a chunk of events, each an even slice, while the dispatcher's thread reads
  // the next chunk and sends what the previous one gave; items keep the events' order. Needs a
  // codec that can fork mappers (DestinationCodec::forkMapper); 0, or a codec that cannot, maps
  // on the dispatcher's thread, one chunk after the other.
  size_t mapThreads = 1;
  int64_t pollMs = 20;             // how often an idle dispatcher looks for new events
  int64_t commitIntervalMs = 100;  // the cursor is written at most this often
  int64_t stopGraceMs = 5'000;     // stop(): how long in-flight requests may take to finish
};

// Items by the destination's event name ("CompletePayment"...); events that could not be mapped
// count under kUnmappedEventName.
struct EventNameCounts {
  uint64_t mapped = 0;  // items built (sent later, or expired)
  uint64_t delivered = 0;
  uint64_t dead = 0;
  uint64_t expired = 0;
};
inline constexpr const char* kUnmappedEventName = "(unmapped)";

// Upper bounds (ms) of the request latency histogram buckets; a last bucket holds the rest.
inline constexpr std::array<int64_t, 12> kRequestLatencyBoundsMs = {
    5, 10, 25, 50, 100, 250, 500, 1000, 2500, 5000, 10000, 30000};

// Counters, for metrics, progress bars and tests. Cumulative since the dispatcher started.
struct DispatcherStats {
  uint64_t eventsRead = 0;
  uint64_t eventsSkipped = 0;  // not fed to this destination, or no subscription matched
  uint64_t itemsDelivered = 0;
  uint64_t itemsDead = 0;  // dead letters written (mapping failures and rejections)
  uint64_t itemsExpired = 0;
  uint64_t requestsSent = 0;  // every request, including retries and probes
  uint64_t retriesSent = 0;   // requests re-sending a body that failed (retries, probes)
  // Events (items) sent again: the items of every request whose body, or the body it was split
  // from, had been sent before (retries, probes, bodies re-queued once the destination recovered,
  // halves of a split). An item sent three times counts twice.
  uint64_t itemsRetried = 0;
  uint64_t probesSent = 0;
  uint64_t splits = 0;          // bodies split in two to isolate a rejected item
  uint64_t retryReplies = 0;    // replies (or transport errors) judged "retry"
  uint64_t budgetDenied = 0;    // retries held back by the retry budget
  store::Seq committedSeq = 0;  // everything up to here has a durable fate
  size_t outstandingItems = 0;
  bool paused = false;
  std::string pauseReason;
  BreakerState breaker = BreakerState::kClosed;
  int concurrencyLimit = 0;
  int64_t lastDeliveredMs = 0;  // wall clock of the last delivered reply, 0 when none yet
  std::map<std::string, EventNameCounts> byEventName;
  // Replies by outcome: the body code ("0", "40100"...), "http_<status>" when the body has no
  // code, or the transport error ("timeout", "connect"...).
  std::map<std::string, uint64_t> replies;
  // Request latency (send to reply) histogram: counts per kRequestLatencyBoundsMs bucket + one.
  std::array<uint64_t, kRequestLatencyBoundsMs.size() + 1> latencyBuckets{};
  double latencySumMs = 0;
};

// Told about pauses and resumptions (alerts, metrics). Called on the dispatcher's thread.
class DispatcherListener {
 public:
  virtual ~DispatcherListener() = default;
  virtual void onPaused(const std::string& destination, const std::string& reason) = 0;
  virtual void onResumed(const std::string& destination) = 0;
};

class Dispatcher {
 public:
  // Everything passed by reference must outlive the dispatcher. `state` receives dead letters and
  // expiries; `listener` may be null.
  Dispatcher(DispatcherOptions options, std::unique_ptr<DestinationCodec> codec,
             std::unique_ptr<EventFeed> feed, HttpClient& client, store::DeliveryState& state,
             const Clock& clock, Random& random, DispatcherListener* listener = nullptr);
  ~Dispatcher();
  Dispatcher(const Dispatcher&) = delete;
  Dispatcher& operator=(const Dispatcher&) = delete;

  // Runs the dispatcher on its own thread until stop().
  void start();
  // Stops reading, waits (at most stopGraceMs) for requests in flight, records what is final,
  // commits the cursor and joins the thread. Idempotent.
  void stop();

  // One step (what the thread does in a loop): takes replies, reads the feed, sends what may be
  // sent, commits. Returns the delay in ms after which the next step has work (timers), or -1 when
  // only a reply or new events can make progress. For tests driving a FakeClock; do not mix with
  // start().
  int64_t runOnce();

  // True when a finite feed is exhausted and every event it gave has a durable fate.
  bool drained() const;

  // Replaces the codec and settings (configuration reload): new token, rates, batch sizes. A paused
  // or open destination probes again at once. Thread-safe; applied on the dispatcher's next step.
  void reconfigure(DispatcherOptions options, std::unique_ptr<DestinationCodec> codec);

  DispatcherStats stats() const;

 private:
  struct Item {
    store::Seq seq = 0;
    EpochMs eventTimeMs = 0;
    std::string json;
    std::string eventName;
  };
  struct Batch {
    std::string key;
    std::vector<Item> items;
    int attempts = 0;         // sends so far (reset when the destination recovers)
    bool sentBefore = false;  // its items were sent before (itemsRetried)
    bool isRetry() const { return attempts > 0; }
  };
  struct OpenBatch {
    std::vector<Item> items;
    int64_t openedNs = 0;
  };
  struct Completion {
    uint64_t id = 0;
    HttpOutcome outcome;
  };
  struct InFlight {
    Batch batch;
    ConcurrencyPermit permit;
    bool probe = false;
  };
  struct Pending {  // what the other threads hand to the dispatcher's thread
    std::mutex mutex;
    std::condition_variable wake;
    std::deque<Completion> completions;
    std::optional<std::pair<DispatcherOptions, std::unique_ptr<DestinationCodec>>> reconfig;
    bool stopping = false;
  };

  void applyReconfig();
  void takeCompletions();
  void handleCompletion(Completion completion);
  // A chunk of events read from the feed and what mapping made of it.
  struct MapSlot {
    std::vector<store::StoredEvent> events;  // the feed's reads (EventFeed::read), reused
    size_t count = 0;                        // events of this chunk: the first `count`
    std::vector<MapOutcome> outcomes;        // one per event, in order; reused
    EpochMs now = 0;                         // the clock when the chunk was read
  };
  Result<void> readFeed();
  // Maps the slot's events into its outcomes (empty for events the codec is not fed): on the
  // map pool, returning at once (mapPool_->wait() ends it), or on this thread without a pool.
  void startMapping(MapSlot& slot);
  // Turns a mapped slot's outcomes into items, dead letters and expired events, then takes in
  // replies and sends the full bodies.
  void takeMapped(MapSlot& slot);
  // The map pool and one forked mapper per pool thread, for options_.mapThreads and the current
  // codec; no pool when mapping stays on the dispatcher's thread. Never called while mapping.
  void resetMappers();
  void addItem(MappedItem item, const store::StoredEvent& event);
  // The unfinished count of event `seq`, added at 0 when absent. The reference stays valid until
  // the entry is removed (deque: appending keeps references).
  size_t& unfinishedCount(store::Seq seq);
  // In seq order (feeds give increasing seqs; the deque allocates per block, not per event).
  using Unfinished = std::deque<std::pair<store::Seq, size_t>>;
  // The first entry of unfinished_ with a seq >= `seq` (binary search).
  Unfinished::iterator unfinishedAtOrAfter(store::Seq seq);
  void closeLingeringBatches(bool all);
  int64_t sendReady();  // returns ms until sending may continue, or -1
  void send(Batch batch, bool probe, ConcurrencyPermit permit);
  void scheduleRetry(Batch batch, uint64_t delayMs);
  void itemsFinished(const std::vector<Item>& items);
  void deadLetter(const Item& item, std::string reason, int code, std::string message);
  void expire(const Item& item);
  void recordEventFate(const store::StoredEvent& event, bool dead, std::string itemJson,
                       std::string reason, std::string message);
  void flushAndCommit(bool force);
  void setPaused(bool paused, const std::string& reason);
  void countReply(const std::string& key, std::chrono::microseconds latency);
  void publishStats();
  int64_t nowNs() const { return clock_.monotonicNs(); }
  static CircuitBreakerOptions breakerOptions(const DispatcherOptions& o);
  void threadMain();

  DispatcherOptions options_;
  std::unique_ptr<DestinationCodec> codec_;
  // Mapping beside the dispatcher's thread: the pool's part i maps with mappers_[i]; codec_ stays
  // the dispatcher's own (request bodies, replies).
  std::vector<std::unique_ptr<DestinationCodec>> mappers_;
  // Two chunks: one read while the other is mapped. Belong to the pool from startMapping() until
  // mapPool_->wait() returns.
  std::array<MapSlot, 2> slots_;
  // Declared after what its threads use, so that it is destroyed (its threads joined) first.
  std::unique_ptr<WorkerPool> mapPool_;
  std::unique_ptr<EventFeed> feed_;
  HttpClient& client_;
  store::DeliveryState& state_;
  const Clock& clock_;
  DispatcherListener* listener_;

  JitteredExponentialBackOff backoff_;
  TokenBucket requestBucket_;
  TokenBucket eventBucket_;
  ConcurrencyLimiter limiter_;
  RetryBudget budget_;
  CircuitBreaker breaker_;

  // Owned by the dispatcher's thread (no lock): the events read and not yet final, by seq, with the
  // number of their items not yet final.
  Unfinished unfinished_;
  store::Seq lastReadSeq_ = 0;
  store::Seq committedSeq_ = 0;
  int64_t lastCommitNs_ = 0;
  std::unordered_map<std::string, OpenBatch> open_;
  std::deque<Batch> ready_;
  std::multimap<int64_t, Batch> retries_;  // by due time (monotonic ns)
  std::unordered_map<uint64_t, InFlight> inFlight_;
  uint64_t nextRequestId_ = 1;
  size_t outstandingItems_ = 0;
  std::vector<store::DeadLetter> pendingDead_;
  std::vector<store::ExpiredEvent> pendingExpired_;
  bool paused_ = false;
  std::string pauseReason_;
  bool feedError_ = false;
  bool readCutShort_ = false;  // readFeed() stopped at its time bound with events left to read
  DispatcherStats counters_;

  std::shared_ptr<Pending> pending_;
  mutable std::mutex statsMutex_;
  DispatcherStats published_;  // GUARDED_BY(statsMutex_)
  std::atomic<bool> drained_{false};
  std::thread thread_;
  bool started_ = false;
};

}  // namespace sluice::delivery
