#include "delivery/dispatcher.h"

#include <spdlog/spdlog.h>

#include <algorithm>
#include <chrono>
#include <utility>

#include "core/thread_name.h"

namespace sluice::delivery {

const char* verdictName(Verdict verdict) {
  switch (verdict) {
    case Verdict::kDelivered:
      return "delivered";
    case Verdict::kRetry:
      return "retry";
    case Verdict::kPause:
      return "pause";
    case Verdict::kDead:
      return "dead";
  }
  return "unknown";
}

// ---- feeds ----------------------------------------------------------------------------------

namespace {
Result<store::StoredEvent> fetchFromLog(store::EventLog& log, store::Seq seq) {
  if (seq == 0) return fail(ErrorCode::kNotFound, "no event 0");
  auto events = log.readAfter(seq - 1, 1);
  if (!events) return fail(events.error());
  if (events->empty() || events->front().seq != seq) {
    return fail(ErrorCode::kNotFound, "event " + std::to_string(seq) + " is no longer in the log");
  }
  return std::move(events->front());
}
}  // namespace

Result<std::unique_ptr<LogFeed>> LogFeed::open(store::EventLog& log, std::string cursorName) {
  auto start = log.cursor(cursorName);
  if (!start) return fail(start.error());
  return std::unique_ptr<LogFeed>(new LogFeed(log, std::move(cursorName), *start));
}

Result<size_t> LogFeed::read(size_t max, std::vector<store::StoredEvent>& out) {
  auto n = log_.readAfterInto(readSeq_, max, out);
  if (n && *n > 0) readSeq_ = out[*n - 1].seq;
  return n;
}

Result<void> LogFeed::commit(store::Seq seq) { return log_.setCursor(cursorName_, seq); }

Result<store::StoredEvent> LogFeed::fetch(store::Seq seq) { return fetchFromLog(log_, seq); }

ListFeed::ListFeed(std::vector<store::StoredEvent> events) : events_(std::move(events)) {
  std::sort(events_.begin(), events_.end(),
            [](const auto& a, const auto& b) { return a.seq < b.seq; });
  events_.erase(std::unique(events_.begin(), events_.end(),
                            [](const auto& a, const auto& b) { return a.seq == b.seq; }),
                events_.end());
}

Result<size_t> ListFeed::read(size_t max, std::vector<store::StoredEvent>& out) {
  size_t n = 0;
  for (; next_ < events_.size() && n < max; ++next_, ++n) store::fillSlot(out, n) = events_[next_];
  return n;
}

Result<store::StoredEvent> ListFeed::fetch(store::Seq seq) {
  auto it = std::lower_bound(events_.begin(), events_.end(), seq,
                             [](const auto& e, store::Seq s) { return e.seq < s; });
  if (it == events_.end() || it->seq != seq) {
    return fail(ErrorCode::kNotFound, "event " + std::to_string(seq) + " not in the list");
  }
  return *it;
}

Result<std::unique_ptr<RangeFeed>> RangeFeed::open(store::EventLog& log, store::TimeRange range) {
  auto last = log.lastSeq();
  if (!last) return fail(last.error());
  store::Seq first = 0;
  auto scanned = log.scan(range, std::nullopt, [&](const store::StoredEvent& e) {
    first = e.seq;
    return false;
  });
  if (!scanned) return fail(scanned.error());
  return std::unique_ptr<RangeFeed>(new RangeFeed(log, range, first, *last));
}

Result<size_t> RangeFeed::read(size_t max, std::vector<store::StoredEvent>& out) {
  size_t n = 0;
  while (!done_ && n == 0) {
    auto events = log_.readAfter(position_, max);
    if (!events) return fail(events.error());
    if (events->empty()) {
      done_ = true;
      break;
    }
    for (auto& e : *events) {
      if (e.seq > last_) {
        done_ = true;
        break;
      }
      position_ = e.seq;
      if (e.receivedAtMs >= range_.sinceMs && e.receivedAtMs < range_.untilMs) {
        store::fillSlot(out, n++) = std::move(e);
      }
    }
    if (position_ >= last_) done_ = true;
  }
  return n;
}

Result<store::StoredEvent> RangeFeed::fetch(store::Seq seq) { return fetchFromLog(log_, seq); }

// ---- dispatcher ---------------------------------------------------------------------------

CircuitBreakerOptions Dispatcher::breakerOptions(const DispatcherOptions& o) {
  CircuitBreakerOptions b;
  b.failureThreshold = o.breakerFailureThreshold;
  b.probeIntervalMs = o.breakerProbeIntervalMs;
  b.pausedProbeIntervalMs = o.pausedProbeIntervalMs;
  return b;
}

namespace {
ConcurrencyLimiterOptions limiterOptions(const DispatcherOptions& o) {
  ConcurrencyLimiterOptions l;
  l.initialLimit = o.initialConcurrency;
  l.minLimit = o.minConcurrency;
  l.maxLimit = o.maxConcurrency;
  return l;
}
// Bursts: a second's worth of requests (at least one), and events for a few full bodies.
double requestBurst(const DispatcherOptions& o) { return std::max(1.0, o.maxRequestsPerSecond); }
double eventBurst(const DispatcherOptions& o) {
  return std::max<double>(o.maxEvents, o.maxEventsPerSecond);
}
}  // namespace

Dispatcher::Dispatcher(DispatcherOptions options, std::unique_ptr<DestinationCodec> codec,
                       std::unique_ptr<EventFeed> feed, HttpClient& client,
                       store::DeliveryState& state, const Clock& clock, Random& random,
                       DispatcherListener* listener)
    : options_(std::move(options)),
      codec_(std::move(codec)),
      feed_(std::move(feed)),
      client_(client),
      state_(state),
      clock_(clock),
      listener_(listener),
      backoff_(static_cast<uint64_t>(std::max<int64_t>(1, options_.backoffBaseMs)),
               static_cast<uint64_t>(std::max(options_.backoffBaseMs, options_.backoffCapMs)),
               random),
      requestBucket_(options_.maxRequestsPerSecond, requestBurst(options_), clock),
      eventBucket_(options_.maxEventsPerSecond, eventBurst(options_), clock),
      limiter_(limiterOptions(options_)),
      budget_(options_.retryBudgetRatio, options_.minRetriesPerWindow, options_.retryBudgetWindowMs,
              clock),
      breaker_(breakerOptions(options_), clock),
      pending_(std::make_shared<Pending>()) {
  resetMappers();
  // A destination paused before a restart: probe once at once; it stays "paused" (alerting)
  // until a request succeeds.
  auto paused = state_.pauseState(options_.destination);
  if (paused && paused->has_value()) {
    paused_ = true;
    pauseReason_ = (*paused)->reason;
    breaker_.pause(pauseReason_);
    breaker_.resume();
  }
  publishStats();
}

Dispatcher::~Dispatcher() { stop(); }

void Dispatcher::start() {
  if (started_) return;
  started_ = true;
  thread_ = std::thread([this] { threadMain(); });
}

void Dispatcher::stop() {
  {
    std::lock_guard lock(pending_->mutex);
    if (pending_->stopping && !thread_.joinable()) return;
    pending_->stopping = true;
  }
  pending_->wake.notify_all();
  if (thread_.joinable()) thread_.join();
}

void Dispatcher::threadMain() {
  nameThisThread("dlv-" + options_.destination);
  for (;;) {
    int64_t delayMs = runOnce();
    std::unique_lock lock(pending_->mutex);
    if (pending_->stopping) break;
    if (!pending_->completions.empty() || pending_->reconfig) continue;
    int64_t waitMs = delayMs < 0 ? 1000 : std::max<int64_t>(delayMs, 1);
    pending_->wake.wait_for(lock, std::chrono::milliseconds(waitMs), [&] {
      return pending_->stopping || !pending_->completions.empty() || pending_->reconfig;
    });
    if (pending_->stopping) break;
  }
  // Let requests in flight finish (their items then need no resend after a restart).
  const auto graceEnd =
      std::chrono::steady_clock::now() + std::chrono::milliseconds(options_.stopGraceMs);
  while (!inFlight_.empty() && std::chrono::steady_clock::now() < graceEnd) {
    takeCompletions();
    std::unique_lock lock(pending_->mutex);
    pending_->wake.wait_for(lock, std::chrono::milliseconds(10),
                            [&] { return !pending_->completions.empty(); });
  }
  takeCompletions();
  flushAndCommit(true);
  publishStats();
}

int64_t Dispatcher::runOnce() {
  bool stopping;
  {
    std::lock_guard lock(pending_->mutex);
    stopping = pending_->stopping;
  }
  applyReconfig();
  takeCompletions();
  if (!stopping && !feedError_) {
    if (auto r = readFeed(); !r) {
      spdlog::error("delivery {}: cannot read events: {}", options_.destination,
                    r.error().toString());
    }
  }
  closeLingeringBatches(feed_->finished());
  int64_t delay = stopping ? -1 : sendReady();
  flushAndCommit(false);
  publishStats();

  auto consider = [&](int64_t ms) {
    if (ms < 0) return;
    delay = delay < 0 ? ms : std::min(delay, ms);
  };
  const int64_t now = nowNs();
  if (!retries_.empty())
    consider(std::max<int64_t>(0, (retries_.begin()->first - now + 999'999) / 1'000'000));
  for (const auto& [key, batch] : open_) {
    consider(std::max<int64_t>(
        0, (batch.openedNs + options_.lingerMs * 1'000'000 - now + 999'999) / 1'000'000));
  }
  if (feedError_) {
    feedError_ = false;  // try again after a pause
    consider(1000);
  } else if (!feed_->finished() && outstandingItems_ < options_.maxOutstandingItems) {
    consider(readCutShort_ ? 0 : options_.pollMs);  // cut short: more is there to read now
  }
  if (committedSeq_ < counters_.committedSeq || !pendingDead_.empty() || !pendingExpired_.empty())
    consider(options_.commitIntervalMs);
  if (!unfinished_.empty() && unfinished_.begin()->second == 0) consider(options_.commitIntervalMs);
  return delay;
}

void Dispatcher::applyReconfig() {
  std::optional<std::pair<DispatcherOptions, std::unique_ptr<DestinationCodec>>> next;
  {
    std::lock_guard lock(pending_->mutex);
    next.swap(pending_->reconfig);
  }
  if (!next) return;
  const std::string name = options_.destination;
  options_ = std::move(next->first);
  options_.destination = name;
  if (next->second) codec_ = std::move(next->second);
  resetMappers();
  requestBucket_.reconfigure(options_.maxRequestsPerSecond, requestBurst(options_));
  eventBucket_.reconfigure(options_.maxEventsPerSecond, eventBurst(options_));
  breaker_.reconfigure(breakerOptions(options_));
  if (breaker_.state() != BreakerState::kClosed) breaker_.resume();
  // Bodies waiting for a retry go out again now (the reload may have fixed their cause).
  for (auto& [due, batch] : retries_) ready_.push_back(std::move(batch));
  retries_.clear();
  spdlog::info("delivery {}: configuration reloaded", options_.destination);
}

void Dispatcher::reconfigure(DispatcherOptions options, std::unique_ptr<DestinationCodec> codec) {
  {
    std::lock_guard lock(pending_->mutex);
    pending_->reconfig.emplace(std::move(options), std::move(codec));
  }
  pending_->wake.notify_all();
}

void Dispatcher::takeCompletions() {
  std::deque<Completion> done;
  {
    std::lock_guard lock(pending_->mutex);
    done.swap(pending_->completions);
  }
  for (auto& c : done) handleCompletion(std::move(c));
}

void Dispatcher::resetMappers() {
  mapPool_.reset();  // joins the old pool's threads first
  mappers_.clear();
  for (size_t i = 0; i < options_.mapThreads; ++i) {
    auto fork = codec_->forkMapper();
    if (!fork) {
      mappers_.clear();
      return;
    }
    mappers_.push_back(std::move(fork));
  }
  if (!mappers_.empty()) mapPool_ = std::make_unique<WorkerPool>(mappers_.size());
}

void Dispatcher::startMapping(MapSlot& slot) {
  slot.outcomes.clear();
  slot.outcomes.resize(slot.count);
  // Events [begin, end) of the slot mapped with `codec`.
  auto mapRange = [&slot](DestinationCodec& codec, size_t begin, size_t end) {
    for (size_t i = begin; i < end; ++i) {
      if (codec.feeds(slot.events[i].source))
        slot.outcomes[i] = codec.map(slot.events[i], slot.now);
    }
  };
  if (!mapPool_) {
    mapRange(*codec_, 0, slot.count);
    return;
  }
  // Below this many events per slice, a pool thread is left out of the chunk.
  constexpr size_t kMinSlice = 64;
  const size_t parts = std::min(mapPool_->threads(), std::max<size_t>(1, slot.count / kMinSlice));
  mapPool_->start([this, &slot, mapRange, parts](size_t part) {
    if (part >= parts) return;
    mapRange(*mappers_[part], slot.count * part / parts, slot.count * (part + 1) / parts);
  });
}

Result<void> Dispatcher::readFeed() {
  // Replies taken in below free room for more reading; the time bound hands control back to
  // runOnce() (commits, stats, reconfiguration, stop) even while a long backlog keeps it busy.
  constexpr int64_t kReadSliceNs = 50'000'000;
  const int64_t until = nowNs() + kReadSliceNs;
  readCutShort_ = false;
  // With a map pool, chunk N is mapped while chunk N + 1 is read and chunk N - 1 is turned into
  // items and sent. Every chunk read is mapped and taken before this returns.
  MapSlot* mapping = nullptr;
  size_t next = 0;
  Result<void> result = ok();
  for (;;) {
    const size_t held = outstandingItems_ + (mapping ? mapping->count : 0);
    if (held >= options_.maxOutstandingItems || feed_->finished()) break;
    const size_t want = std::min(options_.readChunk, options_.maxOutstandingItems - held);
    MapSlot& slot = slots_[next];
    auto read = feed_->read(want, slot.events);
    if (!read) {
      feedError_ = true;
      result = fail(read.error());
      break;
    }
    if (*read == 0) break;
    slot.count = *read;
    slot.now = clock_.nowMs();
    if (!mapPool_) {
      startMapping(slot);
      takeMapped(slot);
    } else {
      if (mapping) mapPool_->wait();
      startMapping(slot);
      if (mapping) takeMapped(*mapping);
      mapping = &slot;
      next ^= 1;
    }
    if (*read < want) break;
    if (nowNs() >= until) {
      readCutShort_ = true;
      break;
    }
  }
  if (mapping) {
    mapPool_->wait();
    takeMapped(*mapping);
  }
  return result;
}

void Dispatcher::takeMapped(MapSlot& slot) {
  for (size_t i = 0; i < slot.count; ++i) {
    const store::StoredEvent& event = slot.events[i];
    ++counters_.eventsRead;
    lastReadSeq_ = std::max(lastReadSeq_, event.seq);
    size_t& unfinished = unfinishedCount(event.seq);
    // Empty for an event the codec is not fed (startMapping): skipped below, as one that matched
    // no subscription.
    MapOutcome& mapped = slot.outcomes[i];
    const bool tooOld = event.timestampMs < slot.now - options_.maxEventAgeMs;
    if (!mapped.error.empty()) {
      if (tooOld) {
        if (mapped.items.empty()) recordEventFate(event, false, "", "", "");
      } else {
        recordEventFate(event, true, "", "mapping", mapped.error);
        ++counters_.byEventName[kUnmappedEventName].dead;
      }
    }
    if (mapped.items.empty()) {
      if (mapped.error.empty()) ++counters_.eventsSkipped;
      continue;
    }
    if (tooOld) {
      for (auto& item : mapped.items) {
        ++counters_.byEventName[item.eventName].expired;
        recordEventFate(event, false, item.json, "", "");
      }
      continue;
    }
    unfinished = mapped.items.size();
    for (auto& item : mapped.items) addItem(std::move(item), event);
  }
  // Full batches leave now, and replies are taken in, so that the requests (and the
  // destination's work on them) overlap the reading and mapping of the next chunk.
  takeCompletions();
  sendReady();
}

Dispatcher::Unfinished::iterator Dispatcher::unfinishedAtOrAfter(store::Seq seq) {
  return std::lower_bound(unfinished_.begin(), unfinished_.end(), seq,
                          [](const auto& entry, store::Seq s) { return entry.first < s; });
}

size_t& Dispatcher::unfinishedCount(store::Seq seq) {
  if (unfinished_.empty() || unfinished_.back().first < seq) {
    return unfinished_.emplace_back(seq, 0).second;
  }
  auto it = unfinishedAtOrAfter(seq);
  if (it == unfinished_.end() || it->first != seq) it = unfinished_.emplace(it, seq, 0);
  return it->second;
}

void Dispatcher::addItem(MappedItem item, const store::StoredEvent& event) {
  OpenBatch& batch = open_[item.batchKey];
  if (batch.items.empty()) batch.openedNs = nowNs();
  ++counters_.byEventName[item.eventName].mapped;
  batch.items.push_back(
      Item{event.seq, event.timestampMs, std::move(item.json), std::move(item.eventName)});
  ++outstandingItems_;
  if (batch.items.size() >= static_cast<size_t>(std::max(1, options_.maxEvents))) {
    ready_.push_back(Batch{item.batchKey, std::move(batch.items), 0, false});
    open_.erase(item.batchKey);
  }
}

void Dispatcher::closeLingeringBatches(bool all) {
  const int64_t now = nowNs();
  for (auto it = open_.begin(); it != open_.end();) {
    if (all || now - it->second.openedNs >= options_.lingerMs * 1'000'000) {
      ready_.push_back(Batch{it->first, std::move(it->second.items), 0, false});
      it = open_.erase(it);
    } else {
      ++it;
    }
  }
}

int64_t Dispatcher::sendReady() {
  for (;;) {
    const int64_t now = nowNs();
    const bool retryDue = !retries_.empty() && retries_.begin()->first <= now;
    if (!retryDue && ready_.empty()) return -1;
    if (limiter_.inFlight() >= limiter_.limit()) return -1;  // a reply will wake us

    // Items too old by now are expired rather than sent.
    Batch* candidate = retryDue ? &retries_.begin()->second : &ready_.front();
    const EpochMs oldest = clock_.nowMs() - options_.maxEventAgeMs;
    if (std::any_of(candidate->items.begin(), candidate->items.end(),
                    [&](const Item& i) { return i.eventTimeMs < oldest; })) {
      std::vector<Item> keep;
      std::vector<Item> expired;
      for (auto& i : candidate->items) {
        (i.eventTimeMs < oldest ? expired : keep).push_back(std::move(i));
      }
      candidate->items = std::move(keep);
      for (const Item& i : expired) expire(i);
      itemsFinished(expired);
      if (candidate->items.empty()) {
        if (retryDue) {
          retries_.erase(retries_.begin());
        } else {
          ready_.pop_front();
        }
        continue;
      }
    }

    const double n = static_cast<double>(candidate->items.size());
    const int64_t tokenWait =
        std::max(requestBucket_.msUntilAvailable(1), eventBucket_.msUntilAvailable(n));
    if (tokenWait > 0) return tokenWait;

    const BreakerPermit permit = breaker_.allowRequest();
    if (permit == BreakerPermit::kDenied) return std::max<int64_t>(1, breaker_.msUntilNextProbe());
    const bool probe = permit == BreakerPermit::kProbe;
    if (retryDue && !probe) {
      if (!budget_.tryRetry()) {
        ++counters_.budgetDenied;
        Batch held = std::move(retries_.begin()->second);
        retries_.erase(retries_.begin());
        retries_.emplace(now + options_.backoffBaseMs * 1'000'000, std::move(held));
        continue;
      }
    } else if (!retryDue) {
      budget_.recordRequest();
    }
    auto concurrency = limiter_.tryAcquire();
    if (!concurrency) return -1;
    requestBucket_.tryTake(1);
    eventBucket_.tryTake(n);
    Batch batch;
    if (retryDue) {
      batch = std::move(retries_.begin()->second);
      retries_.erase(retries_.begin());
    } else {
      batch = std::move(ready_.front());
      ready_.pop_front();
    }
    send(std::move(batch), probe, *concurrency);
  }
}

void Dispatcher::send(Batch batch, bool probe, ConcurrencyPermit permit) {
  std::vector<std::string_view> views;
  views.reserve(batch.items.size());
  for (const Item& i : batch.items) views.emplace_back(i.json);
  HttpPost request = codec_->request(batch.key, views);
  request.timeout = std::chrono::milliseconds(options_.requestTimeoutMs);
  ++counters_.requestsSent;
  if (batch.isRetry()) ++counters_.retriesSent;
  if (batch.sentBefore) counters_.itemsRetried += batch.items.size();
  if (probe) ++counters_.probesSent;
  ++batch.attempts;
  batch.sentBefore = true;
  const uint64_t id = nextRequestId_++;
  inFlight_.emplace(id, InFlight{std::move(batch), permit, probe});
  client_.post(std::move(request), [pending = pending_, id](HttpOutcome outcome) {
    {
      std::lock_guard lock(pending->mutex);
      pending->completions.push_back(Completion{id, std::move(outcome)});
    }
    pending->wake.notify_all();
  });
}

void Dispatcher::scheduleRetry(Batch batch, uint64_t delayMs) {
  retries_.emplace(nowNs() + static_cast<int64_t>(delayMs) * 1'000'000, std::move(batch));
}

void Dispatcher::handleCompletion(Completion completion) {
  auto it = inFlight_.find(completion.id);
  if (it == inFlight_.end()) return;
  InFlight flight = std::move(it->second);
  inFlight_.erase(it);
  const HttpOutcome& outcome = completion.outcome;

  if (outcome.error != TransportError::kNone) {
    const bool cancelled = outcome.error == TransportError::kCancelled;
    limiter_.release(flight.permit, cancelled ? RequestOutcome::kIgnore : RequestOutcome::kError,
                     outcome.latency);
    if (!cancelled) breaker_.recordFailure();
    ++counters_.retryReplies;
    if (!cancelled) countReply(transportErrorName(outcome.error), outcome.latency);
    spdlog::debug("delivery {}: request failed ({}), will retry", options_.destination,
                  transportErrorName(outcome.error));
    scheduleRetry(std::move(flight.batch), cancelled ? 0 : backoff_.nextBackOffMs());
    return;
  }

  ReplyClass reply = codec_->classify(outcome.status, outcome.body);
  countReply(reply.code != 0 || (outcome.status >= 200 && outcome.status < 300)
                 ? std::to_string(reply.code)
                 : "http_" + std::to_string(outcome.status),
             outcome.latency);
  switch (reply.verdict) {
    case Verdict::kDelivered: {
      limiter_.release(flight.permit, RequestOutcome::kOk, outcome.latency);
      const bool recovering =
          breaker_.state() != BreakerState::kClosed || backoff_.attempts() > 0 || paused_;
      breaker_.recordSuccess();
      backoff_.reset();
      if (paused_) setPaused(false, "");
      counters_.itemsDelivered += flight.batch.items.size();
      counters_.lastDeliveredMs = clock_.nowMs();
      for (const Item& i : flight.batch.items) ++counters_.byEventName[i.eventName].delivered;
      itemsFinished(flight.batch.items);
      if (recovering) {
        // The destination works again: what waited for a retry is backlog now, not a retry storm.
        for (auto& [due, batch] : retries_) {
          batch.attempts = 0;
          ready_.push_back(std::move(batch));
        }
        retries_.clear();
      }
      break;
    }
    case Verdict::kRetry: {
      limiter_.release(flight.permit,
                       reply.throttled ? RequestOutcome::kThrottled : RequestOutcome::kError,
                       outcome.latency);
      if (!reply.throttled) breaker_.recordFailure();
      ++counters_.retryReplies;
      const auto retryAfter = parseRetryAfterMs(outcome.header("retry-after"), clock_.nowMs());
      const uint64_t delay = retryDelayMs(backoff_.nextBackOffMs(), retryAfter);
      spdlog::debug("delivery {}: {} ({} {}), retry in {} ms", options_.destination, outcome.status,
                    reply.code, reply.message, delay);
      scheduleRetry(std::move(flight.batch), delay);
      break;
    }
    case Verdict::kPause: {
      limiter_.release(flight.permit, RequestOutcome::kIgnore, outcome.latency);
      std::string reason = std::to_string(reply.code) + " " + reply.message;
      breaker_.pause(reason);
      setPaused(true, reason);
      scheduleRetry(std::move(flight.batch), 0);
      break;
    }
    case Verdict::kDead: {
      limiter_.release(flight.permit, RequestOutcome::kOk, outcome.latency);
      breaker_.recordSuccess();
      if (paused_) setPaused(false, "");
      Batch& batch = flight.batch;
      if (batch.items.size() > 1) {
        ++counters_.splits;
        const size_t half = batch.items.size() / 2;
        Batch first{batch.key, {}, 0, true};
        Batch second{batch.key, {}, 0, true};
        for (size_t i = 0; i < batch.items.size(); ++i) {
          (i < half ? first : second).items.push_back(std::move(batch.items[i]));
        }
        ready_.push_front(std::move(second));
        ready_.push_front(std::move(first));
      } else {
        for (const Item& i : batch.items) deadLetter(i, "rejected", reply.code, reply.message);
        itemsFinished(batch.items);
      }
      break;
    }
  }
}

void Dispatcher::itemsFinished(const std::vector<Item>& items) {
  for (const Item& i : items) {
    auto it = unfinishedAtOrAfter(i.seq);
    if (it != unfinished_.end() && it->first == i.seq && it->second > 0) --it->second;
    if (outstandingItems_ > 0) --outstandingItems_;
  }
}

void Dispatcher::deadLetter(const Item& item, std::string reason, int code, std::string message) {
  store::DeadLetter d;
  d.destination = options_.destination;
  d.seq = item.seq;
  d.eventTimeMs = item.eventTimeMs;
  d.itemJson = item.json;
  d.reason = std::move(reason);
  d.code = code;
  d.message = std::move(message);
  if (auto event = feed_->fetch(item.seq)) {
    d.source = event->source;
    d.messageId = event->messageId;
    d.receivedAtMs = event->receivedAtMs;
    d.eventJson = std::move(event->json);
  }
  spdlog::warn("delivery {}: event {} dead-lettered: {} {}", options_.destination, item.seq, d.code,
               d.message);
  pendingDead_.push_back(std::move(d));
  ++counters_.itemsDead;
  ++counters_.byEventName[item.eventName].dead;
}

void Dispatcher::expire(const Item& item) {
  store::ExpiredEvent e;
  e.destination = options_.destination;
  e.seq = item.seq;
  e.eventTimeMs = item.eventTimeMs;
  e.itemJson = item.json;
  if (auto event = feed_->fetch(item.seq)) {
    e.source = event->source;
    e.messageId = event->messageId;
    e.receivedAtMs = event->receivedAtMs;
    e.eventJson = std::move(event->json);
  }
  pendingExpired_.push_back(std::move(e));
  ++counters_.itemsExpired;
  ++counters_.byEventName[item.eventName].expired;
}

void Dispatcher::recordEventFate(const store::StoredEvent& event, bool dead, std::string itemJson,
                                 std::string reason, std::string message) {
  if (dead) {
    store::DeadLetter d;
    d.destination = options_.destination;
    d.seq = event.seq;
    d.source = event.source;
    d.messageId = event.messageId;
    d.eventTimeMs = event.timestampMs;
    d.receivedAtMs = event.receivedAtMs;
    d.eventJson = event.json;
    d.itemJson = std::move(itemJson);
    d.reason = std::move(reason);
    d.message = std::move(message);
    spdlog::warn("delivery {}: event {} cannot be mapped: {}", options_.destination, event.seq,
                 d.message);
    pendingDead_.push_back(std::move(d));
    ++counters_.itemsDead;
  } else {
    store::ExpiredEvent e;
    e.destination = options_.destination;
    e.seq = event.seq;
    e.source = event.source;
    e.messageId = event.messageId;
    e.eventTimeMs = event.timestampMs;
    e.receivedAtMs = event.receivedAtMs;
    e.eventJson = event.json;
    e.itemJson = std::move(itemJson);
    pendingExpired_.push_back(std::move(e));
    ++counters_.itemsExpired;
  }
}

void Dispatcher::flushAndCommit(bool force) {
  if (!pendingDead_.empty() || !pendingExpired_.empty()) {
    auto recorded = state_.record(pendingDead_, pendingExpired_);
    if (!recorded) {
      spdlog::error("delivery {}: cannot record dead letters / expired events: {}",
                    options_.destination, recorded.error().toString());
      return;  // the cursor must not pass them: try again on the next step
    }
    pendingDead_.clear();
    pendingExpired_.clear();
  }
  store::Seq finished = committedSeq_;
  while (!unfinished_.empty() && unfinished_.front().second == 0) {
    finished = unfinished_.front().first;
    unfinished_.pop_front();
  }
  if (unfinished_.empty()) finished = std::max(finished, lastReadSeq_);
  counters_.committedSeq = std::max(counters_.committedSeq, finished);
  const int64_t now = nowNs();
  if (counters_.committedSeq > committedSeq_ &&
      (force || now - lastCommitNs_ >= options_.commitIntervalMs * 1'000'000)) {
    if (auto r = feed_->commit(counters_.committedSeq); r) {
      committedSeq_ = counters_.committedSeq;
      lastCommitNs_ = now;
    } else {
      spdlog::error("delivery {}: cannot move the cursor: {}", options_.destination,
                    r.error().toString());
    }
  }
}

void Dispatcher::setPaused(bool paused, const std::string& reason) {
  if (paused) {
    if (paused_ && pauseReason_ == reason) return;
    paused_ = true;
    pauseReason_ = reason;
    spdlog::error(
        "ALERT delivery {}: destination paused: {}; events wait in the log, probing "
        "every {} ms; fix the token or permissions and reload (SIGHUP)",
        options_.destination, reason, options_.pausedProbeIntervalMs);
    if (auto r = state_.setPaused(options_.destination, store::PauseState{reason, 0}); !r) {
      spdlog::error("delivery {}: {}", options_.destination, r.error().toString());
    }
    if (listener_) listener_->onPaused(options_.destination, reason);
  } else {
    if (!paused_) return;
    paused_ = false;
    pauseReason_.clear();
    spdlog::info("delivery {}: destination resumed", options_.destination);
    if (auto r = state_.setPaused(options_.destination, std::nullopt); !r) {
      spdlog::error("delivery {}: {}", options_.destination, r.error().toString());
    }
    if (listener_) listener_->onResumed(options_.destination);
  }
}

bool Dispatcher::drained() const { return drained_.load(); }

void Dispatcher::countReply(const std::string& key, std::chrono::microseconds latency) {
  ++counters_.replies[key];
  const double ms = static_cast<double>(latency.count()) / 1000.0;
  counters_.latencySumMs += ms;
  size_t bucket = 0;
  while (bucket < kRequestLatencyBoundsMs.size() &&
         ms > static_cast<double>(kRequestLatencyBoundsMs[bucket])) {
    ++bucket;
  }
  ++counters_.latencyBuckets[bucket];
}

void Dispatcher::publishStats() {
  counters_.outstandingItems = outstandingItems_;
  counters_.paused = paused_;
  counters_.pauseReason = pauseReason_;
  counters_.breaker = breaker_.state();
  counters_.concurrencyLimit = limiter_.limit();
  drained_.store(feed_->finished() && outstandingItems_ == 0 && inFlight_.empty() &&
                 pendingDead_.empty() && pendingExpired_.empty() &&
                 (unfinished_.empty() || std::all_of(unfinished_.begin(), unfinished_.end(),
                                                     [](const auto& e) { return e.second == 0; })));
  std::lock_guard lock(statsMutex_);
  published_ = counters_;
}

DispatcherStats Dispatcher::stats() const {
  std::lock_guard lock(statsMutex_);
  return published_;
}

}  // namespace sluice::delivery
