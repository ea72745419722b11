// Reads, at scrape time, what the metrics expose about delivery and storage from the running
// server: every dispatcher's counters, each destination's backlog and its age, the store's size
// and the free disk. Read-only; safe from any thread while the log and delivery are running.
#pragma once

#include <string>

#include "core/clock.h"
#include "core/result.h"
#include "ops/metrics/metrics.h"
#include "store/event_log.h"

namespace sluice::delivery {
class DeliveryService;
}

namespace sluice::ops::metrics {

// The bytes of every regular file under `path` (recursively) and the free and total bytes of its
// filesystem. Fails when `path` cannot be read.
Result<StoreUsage> measureStore(const std::string& path);

// Backlog of one destination whose cursor is at `committedSeq`: events after it and the age (at
// `nowMs`) of the first of them.
Result<DestinationSnapshot> backlogOf(store::EventLog& log, store::Seq committedSeq, EpochMs nowMs);

// Everything above for the running server. Figures that cannot be read are left out (and the
// destination keeps its counters).
Snapshot takeSnapshot(store::EventLog& log, delivery::DeliveryService& delivery,
                      const std::string& storagePath, const Clock& clock);

}  // namespace sluice::ops::metrics
