// The in-memory index of the de-duplication window: which (source, messageId) pairs the log has
// stored recently, and under which sequence number. The writer thread of the SQLite log owns one;
// its durable copy is the `dedup_keys` table (see README.md), from which it is rebuilt on open.
//
// Keys are 64-bit hashes (dedupKey). A hash says "maybe seen": the log confirms a hit against the
// stored event before calling anything a duplicate, so a collision can never drop an event.
#pragma once

#include <cstddef>
#include <cstdint>
#include <deque>
#include <memory>
#include <utility>
#include <string_view>
#include <vector>

#include "core/clock.h"
#include "store/event_log.h"

namespace sluice::store {

// A stable 64-bit hash of the pair (the same in every build: it is stored on disk). Never 0.
uint64_t dedupKey(std::string_view source, std::string_view messageId);

// Open addressing with linear probing over (key, seq) slots. Entries whose seq is at or below the
// floor (setFloor) count as absent and are dropped when the table is next rebuilt, so the window
// moves without per-entry deletes. Memory: 16 bytes per slot, 1.4 to 2.9 slots per live entry.
// Not thread-safe.
class DedupIndex {
 public:
  DedupIndex();

  // The seq recorded for `key` above the floor, or 0.
  Seq find(uint64_t key) const;
  // Records `key` -> `seq` (seq > 0), replacing an earlier entry of the same key.
  void put(uint64_t key, Seq seq);
  // put() for each pair in order, prefetching slots ahead (for loading many at once).
  void putAll(const std::vector<std::pair<uint64_t, Seq>>& entries);
  // Sizes the table for `entries` live entries, so that loading them never rebuilds it.
  void reserve(size_t entries);
  // Entries with seq <= floor are expired. The floor only rises.
  void setFloor(Seq floor);
  Seq floor() const { return floor_; }

  void clear();
  size_t slotsUsed() const { return used_; }
  size_t memoryBytes() const { return capacity_ * sizeof(Slot); }

 private:
  struct Slot {
    uint64_t key;  // 0: empty
    Seq seq;
  };
  struct FreeSlots {
    void operator()(Slot* slots) const;
  };
  using SlotArray = std::unique_ptr<Slot[], FreeSlots>;
  // Zeroed slots; large tables are asked to live in huge pages, since every probe is a random
  // access and TLB misses would dominate.
  static SlotArray allocate(size_t capacity);
  size_t home(uint64_t key) const;
  void rebuild(size_t capacity);

  SlotArray slots_;
  size_t capacity_ = 0;
  size_t mask_ = 0;
  size_t used_ = 0;  // slots holding a key, expired or not
  Seq floor_ = 0;
};

// When each stretch of sequence numbers was first seen, so that the window's floor can be found
// for any cutoff time: every seq at or below advance(cutoff) was first seen at or before the
// cutoff. Stretches are a grain of a ten-thousandth of the window long (1 ms to 1 s), so an entry
// may outlive the window by up to that grain, never expire early, and the timeline holds at most
// about 10,000 stretches (86,400 for a day-long window). Not thread-safe.
class DedupTimeline {
 public:
  explicit DedupTimeline(int64_t windowMs);

  // Seqs up to `lastSeq` were first seen at `nowMs`. Calls come in seq order.
  void note(EpochMs nowMs, Seq lastSeq);
  // Forgets the stretches first seen at or before `cutoffMs` and returns the highest seq among
  // them (or the previous answer when none is that old).
  Seq advance(EpochMs cutoffMs);
  void clear();

 private:
  struct Stretch {
    EpochMs lastSeenMs;
    Seq lastSeq;
  };
  int64_t grainMs_;
  std::deque<Stretch> stretches_;
  Seq floor_ = 0;
};

}  // namespace sluice::store
