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

}  // namespace sluice::store
