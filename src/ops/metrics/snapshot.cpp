#include "ops/metrics/snapshot.h"

#include <sys/statvfs.h>

#include <algorithm>
#include <filesystem>

#include "delivery/delivery_service.h"

namespace sluice::ops::metrics {

Result<StoreUsage> measureStore(const std::string& path) {
  namespace fs = std::filesystem;
  StoreUsage usage;
  std::error_code ec;
  fs::recursive_directory_iterator it(path, fs::directory_options::skip_permission_denied, ec);
  if (ec) return fail(ErrorCode::kIo, "cannot list '" + path + "': " + ec.message());
  for (; it != fs::recursive_directory_iterator(); it.increment(ec)) {
    if (ec) break;  // a file removed while listing (WAL checkpoint): count what was seen
    std::error_code fileError;
    if (it->is_regular_file(fileError)) {
      const auto size = it->file_size(fileError);
      if (!fileError) usage.sizeBytes += size;
    }
  }
  struct statvfs filesystem {};
  if (statvfs(path.c_str(), &filesystem) != 0) {
    return fail(ErrorCode::kIo, "cannot statvfs '" + path + "'");
  }
  usage.freeBytes = static_cast<uint64_t>(filesystem.f_bavail) * filesystem.f_frsize;
  usage.capacityBytes = static_cast<uint64_t>(filesystem.f_blocks) * filesystem.f_frsize;
  return usage;
}

Result<DestinationSnapshot> backlogOf(store::EventLog& log, store::Seq committedSeq,
                                      EpochMs nowMs) {
  DestinationSnapshot out;
  auto last = log.lastSeq();
  if (!last) return fail(last.error());
  out.backlogEvents = *last > committedSeq ? *last - committedSeq : 0;
  if (out.backlogEvents == 0) return out;
  auto oldest = log.readAfter(committedSeq, 1);
  if (!oldest) return fail(oldest.error());
  if (!oldest->empty()) {
    out.backlogAgeSeconds =
        static_cast<double>(std::max<int64_t>(0, nowMs - oldest->front().receivedAtMs)) / 1000.0;
  }
  return out;
}

Snapshot takeSnapshot(store::EventLog& log, delivery::DeliveryService& delivery,
                      const std::string& storagePath, const Clock& clock) {
  Snapshot snapshot;
  const EpochMs now = clock.nowMs();
  for (auto& [name, stats] : delivery.stats()) {
    DestinationSnapshot destination;
    if (auto backlog = backlogOf(log, stats.committedSeq, now)) destination = std::move(*backlog);
    destination.stats = std::move(stats);
    snapshot.destinations.emplace(name, std::move(destination));
  }
  if (auto usage = measureStore(storagePath)) snapshot.store = *usage;
  snapshot.flushes = log.flushStats();
  return snapshot;
}

}  // namespace sluice::ops::metrics
