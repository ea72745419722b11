// Owning handles for SQLite's C objects, and the text helpers of their statements, shared by every
// SQLite file of the project (the event log, the delivery state, the alerts' volume history and
// state, the incident log).
#pragma once

#include <sqlite3.h>

#include <memory>
#include <string>
#include <string_view>

namespace sluice::store {

struct SqliteDbCloser {
  void operator()(sqlite3* db) const { sqlite3_close_v2(db); }
};
struct SqliteStmtFinalizer {
  void operator()(sqlite3_stmt* stmt) const { sqlite3_finalize(stmt); }
};
using SqliteDbPtr = std::unique_ptr<sqlite3, SqliteDbCloser>;
using SqliteStmtPtr = std::unique_ptr<sqlite3_stmt, SqliteStmtFinalizer>;

// Column `column` of the current row of `stmt` into `out` (empty for NULL), with at least `slack`
// bytes of spare capacity after the text. `out`'s buffer is reused when it is large enough, and
// let go when it is far larger than needed (one huge event must not pin its size in a reader's
// reused buffers for good).
inline void assignColumnText(std::string& out, sqlite3_stmt* stmt, int column, size_t slack = 0) {
  const auto* text = reinterpret_cast<const char*>(sqlite3_column_text(stmt, column));
  const auto bytes = static_cast<size_t>(sqlite3_column_bytes(stmt, column));
  constexpr size_t kKeepBytes = 8 * 1024;  // buffers up to this size are always kept
  if (out.capacity() > kKeepBytes && out.capacity() > 4 * (bytes + slack)) std::string().swap(out);
  out.clear();  // so that growing the buffer copies nothing
  if (slack > 0) out.reserve(bytes + slack);
  if (text != nullptr) out.assign(text, bytes);
}

// The same as a new string.
inline std::string columnText(sqlite3_stmt* stmt, int column, size_t slack = 0) {
  std::string out;
  assignColumnText(out, stmt, column, slack);
  return out;
}

// How bindText() hands a text to SQLite.
enum class SqliteText {
  kCopy,    // SQLite copies it: the caller's text may go away at once (temporaries)
  kBorrow,  // SQLite keeps the pointer (no copy): the text must stay valid and unchanged as long
            // as the statement is stepped with this binding
};

// Binds `text` to parameter `index` (1-based) of `stmt`.
inline void bindText(sqlite3_stmt* stmt, int index, std::string_view text,
                     SqliteText how = SqliteText::kCopy) {
  sqlite3_bind_text(stmt, index, text.data(), static_cast<int>(text.size()),
                    how == SqliteText::kCopy ? SQLITE_TRANSIENT : SQLITE_STATIC);
}

}  // namespace sluice::store
