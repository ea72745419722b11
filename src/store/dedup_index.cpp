#include "store/dedup_index.h"

#include <sys/mman.h>

#include <algorithm>
#include <bit>
#include <cstdlib>
#include <cstring>
#include <new>

namespace sluice::store {
namespace {

constexpr size_t kMinCapacity = 1024;
constexpr size_t kHugePage = 2u << 20;
// How far ahead putAll() prefetches.
constexpr size_t kPrefetchDistance = 16;
// Rebuild when more than 7 slots in 10 are taken.
bool overLoaded(size_t used, size_t capacity) { return used * 10 > capacity * 7; }

// Spreads the bits of a 64-bit value (a bijection, so distinct keys stay distinct).
uint64_t mix(uint64_t x) {
  x ^= x >> 31;
  x *= 0x7fb5d329728ea185ULL;
  x ^= x >> 27;
  x *= 0x81dadef4bc2dd44dULL;
  x ^= x >> 33;
  return x;
}

}  // namespace

uint64_t dedupKey(std::string_view source, std::string_view messageId) {
  // FNV-1a over source, a 0 byte, messageId; then mixed. Stable across builds and platforms.
  uint64_t h = 0xcbf29ce484222325ULL;
  auto feed = [&h](std::string_view bytes) {
    for (unsigned char c : bytes) {
      h ^= c;
      h *= 0x100000001b3ULL;
    }
  };
  feed(source);
  feed(std::string_view("\0", 1));
  feed(messageId);
  h = mix(h);
  return h == 0 ? 1 : h;
}

DedupIndex::DedupIndex() { rebuild(kMinCapacity); }

size_t DedupIndex::home(uint64_t key) const { return static_cast<size_t>(mix(key)) & mask_; }

void DedupIndex::FreeSlots::operator()(Slot* slots) const { std::free(slots); }

DedupIndex::SlotArray DedupIndex::allocate(size_t capacity) {
  const size_t bytes = capacity * sizeof(Slot);
  const bool huge = bytes >= kHugePage;
  const size_t alignment = huge ? kHugePage : 64;
  const size_t rounded = (bytes + alignment - 1) / alignment * alignment;
  void* memory = std::aligned_alloc(alignment, rounded);
  if (memory == nullptr) throw std::bad_alloc();  // as any container would
  if (huge) ::madvise(memory, rounded, MADV_HUGEPAGE);  // advice only: failure is harmless
  std::memset(memory, 0, bytes);
  return SlotArray(static_cast<Slot*>(memory));
}

Seq DedupIndex::find(uint64_t key) const {
  for (size_t i = home(key);; i = (i + 1) & mask_) {
    const Slot& slot = slots_[i];
    if (slot.key == 0) return 0;
    if (slot.key == key) return slot.seq > floor_ ? slot.seq : 0;
  }
}

void DedupIndex::putAll(const std::vector<std::pair<uint64_t, Seq>>& entries) {
  for (size_t i = 0; i < entries.size(); ++i) {
    if (i + kPrefetchDistance < entries.size()) {
      __builtin_prefetch(&slots_[home(entries[i + kPrefetchDistance].first)], 1);
    }
    put(entries[i].first, entries[i].second);
  }
}

void DedupIndex::reserve(size_t entries) {
  const size_t capacity = std::max(kMinCapacity, std::bit_ceil(entries * 10 / 7 + 1));
  if (capacity > capacity_) rebuild(capacity);
}

void DedupIndex::put(uint64_t key, Seq seq) {
  if (overLoaded(used_ + 1, capacity_)) {
    size_t live = 0;
    for (size_t i = 0; i < capacity_; ++i) {
      live += slots_[i].key != 0 && slots_[i].seq > floor_;
    }
    // Room for the live entries at most half full; never smaller than now unless mostly expired.
    size_t capacity = std::max(kMinCapacity, std::bit_ceil((live + 1) * 2));
    rebuild(capacity);
  }
  for (size_t i = home(key);; i = (i + 1) & mask_) {
    Slot& slot = slots_[i];
    if (slot.key == key) {
      slot.seq = seq;
      return;
    }
    if (slot.key == 0) {
      slot = Slot{key, seq};
      ++used_;
      return;
    }
  }
}

void DedupIndex::setFloor(Seq floor) { floor_ = std::max(floor_, floor); }

void DedupIndex::clear() {
  slots_ = allocate(kMinCapacity);
  capacity_ = kMinCapacity;
  mask_ = kMinCapacity - 1;
  used_ = 0;
  floor_ = 0;
}

void DedupIndex::rebuild(size_t capacity) {
  SlotArray old = std::move(slots_);
  const size_t oldCapacity = old ? capacity_ : 0;
  slots_ = allocate(capacity);
  capacity_ = capacity;
  mask_ = capacity - 1;
  used_ = 0;
  for (size_t j = 0; j < oldCapacity; ++j) {
    const Slot& slot = old[j];
    if (slot.key == 0 || slot.seq <= floor_) continue;
    for (size_t i = home(slot.key);; i = (i + 1) & mask_) {
      if (slots_[i].key == 0) {
        slots_[i] = slot;
        ++used_;
        break;
      }
    }
  }
}

DedupTimeline::DedupTimeline(int64_t windowMs)
    : grainMs_(std::clamp<int64_t>(windowMs / 10'000, 1, 1'000)) {}

void DedupTimeline::note(EpochMs nowMs, Seq lastSeq) {
  if (!stretches_.empty() && stretches_.back().lastSeenMs / grainMs_ == nowMs / grainMs_) {
    stretches_.back().lastSeenMs = std::max(stretches_.back().lastSeenMs, nowMs);
    stretches_.back().lastSeq = std::max(stretches_.back().lastSeq, lastSeq);
    return;
  }
  stretches_.push_back(Stretch{nowMs, lastSeq});
}

Seq DedupTimeline::advance(EpochMs cutoffMs) {
  while (!stretches_.empty() && stretches_.front().lastSeenMs <= cutoffMs) {
    floor_ = std::max(floor_, stretches_.front().lastSeq);
    stretches_.pop_front();
  }
  return floor_;
}

void DedupTimeline::clear() {
  stretches_.clear();
  floor_ = 0;
}

}  // namespace sluice::store
