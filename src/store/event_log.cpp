#include "store/event_log.h"

#include <future>
#include <utility>

namespace sluice::store {

Result<AppendOutcome> EventLog::appendSync(AppendRequest request) {
  std::promise<Result<AppendOutcome>> promise;
  std::future<Result<AppendOutcome>> future = promise.get_future();
  append(std::move(request),
         [&promise](Result<AppendOutcome> outcome) { promise.set_value(std::move(outcome)); });
  return future.get();
}

Result<size_t> EventLog::readAfterInto(Seq after, size_t max, std::vector<StoredEvent>& out) {
  auto events = readAfter(after, max);
  if (!events) return fail(events.error());
  for (size_t i = 0; i < events->size(); ++i) fillSlot(out, i) = std::move((*events)[i]);
  return events->size();
}

}  // namespace sluice::store
