// Names the calling thread, so that `top -H`, `ps -L`, perf and gdb tell sluice's threads apart
// (the HTTP I/O threads, the store's writer, syncer and checkpointer, each destination's
// dispatcher, ...). Linux keeps at most 15 bytes of a name; a longer one is cut to its first 15.
// Best effort: a name the system refuses leaves the thread's name as it was.
#pragma once

#include <string_view>

namespace sluice {

void nameThisThread(std::string_view name);

}  // namespace sluice
