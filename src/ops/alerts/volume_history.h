// Per-minute conversion volume per destination and TikTok event name: items mapped ("received" by
// the destination) and delivered, built from successive cumulative DispatcherStats snapshots and
// kept in a SQLite file so that the baselines of the volume-drop detector survive restarts.
//
// Minute rows are kept for `minuteRetentionMs` (a day and a bit); every minute is also added to
// its hour row, kept for `hourRetentionMs` (15 days). A destination's minutes and hours are
// "covered" when sluice sampled it then: a covered minute without a row for an event means that
// event had zero volume, an uncovered one means nothing is known.
#pragma once

#include <cstdint>
#include <map>
#include <memory>
#include <mutex>
#include <optional>
#include <string>
#include <vector>

#include "core/clock.h"
#include "core/result.h"
#include "delivery/dispatcher.h"

namespace sluice::ops::alerts {

inline constexpr int64_t kMinuteMs = 60'000;
inline constexpr int64_t kHourMs = 3'600'000;
inline constexpr int64_t kDayMs = 86'400'000;

struct VolumeCounts {
  uint64_t received = 0;   // items mapped for the destination
  uint64_t delivered = 0;  // items TikTok accepted
};

struct VolumeHistoryOptions {
  int64_t minuteRetentionMs = kDayMs + 2 * kHourMs;
  int64_t hourRetentionMs = 15 * kDayMs;
};

class VolumeHistory {
 public:
  // Opens (creating) the history file at `path` (WAL) and loads the rows still within the
  // retention at `nowMs`; an empty `path` keeps the history in memory only. Fails with kIo when
  // the file cannot be used.
  static Result<std::unique_ptr<VolumeHistory>> open(const std::string& path, EpochMs nowMs,
                                                     VolumeHistoryOptions options = {});
  ~VolumeHistory();
  VolumeHistory(const VolumeHistory&) = delete;
  VolumeHistory& operator=(const VolumeHistory&) = delete;

  // A snapshot of `destination`'s cumulative counters taken at `nowMs`: the increase since the
  // previous snapshot is added to the minute of `nowMs`, which becomes covered. A counter lower
  // than before means the dispatcher restarted (reload, restart): its value is the increase. The
  // first snapshot of a destination counts from zero (its dispatcher started with this process).
  void observe(const std::string& destination,
               const std::map<std::string, delivery::EventNameCounts>& counts, EpochMs nowMs);
  // Forgets the previous snapshot of a destination (it stopped); the next one counts from zero.
  void forget(const std::string& destination);

  // Adds counts to a minute directly (recorded traffic, tests) and covers it.
  void add(const std::string& destination, const std::string& event, EpochMs minuteMs,
           VolumeCounts counts);
  // Covers a minute of `destination` with no volume added.
  void cover(const std::string& destination, EpochMs minuteMs);

  // Writes every minute that ended by `nowMs` to the file (one transaction), and drops minute and
  // hour rows older than the retention. The current minute stays open in memory.
  Result<void> flush(EpochMs nowMs);

  // ---- queries (thread-safe; they see open minutes too)
  std::vector<std::string> destinations() const;
  // The event names of `destination` that had volume in the kept history.
  std::vector<std::string> events(const std::string& destination) const;
  // Sums over the minutes in [fromMs, toMs) (minute starts) for one event; `covered` receives the
  // number of covered minutes in the range.
  VolumeCounts sum(const std::string& destination, const std::string& event, EpochMs fromMs,
                   EpochMs toMs, int* covered = nullptr) const;
  // Received per minute in the hour starting at `hourMs`, averaged over its covered minutes;
  // nullopt when fewer than `minCoveredMinutes` of them were covered.
  std::optional<double> hourRate(const std::string& destination, const std::string& event,
                                 EpochMs hourMs, int minCoveredMinutes = 30) const;

  // `{"destination":...,"step_ms":60000,"minute_ms":[...],"series":{"<event>":{"received":[...],
  // "delivered":[...]}}}` over [sinceMs, untilMs): one entry per minute, or per hour (step_ms
  // 3600000) when the range reaches further back than the minute rows are kept. Zero where
  // covered with no volume, null where not covered. At most 1,500 points (the range is shortened
  // from its start).
  std::string seriesJson(const std::string& destination, EpochMs sinceMs, EpochMs untilMs,
                         EpochMs nowMs) const;

 private:
  struct Impl;
  explicit VolumeHistory(std::unique_ptr<Impl> impl);
  std::unique_ptr<Impl> impl_;
};

}  // namespace sluice::ops::alerts
