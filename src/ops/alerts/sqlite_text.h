// Text columns and text parameters of the alerts' SQLite statements (volume history, alert state).
#pragma once

#include <sqlite3.h>

#include <string>
#include <string_view>

namespace sluice::ops::alerts {

// Column `column` of the current row as a string (empty for NULL).
inline std::string columnText(sqlite3_stmt* stmt, int column) {
  const auto* text = reinterpret_cast<const char*>(sqlite3_column_text(stmt, column));
  return text ? std::string(text, static_cast<size_t>(sqlite3_column_bytes(stmt, column)))
              : std::string();
}

// Binds `text` (copied by SQLite) to parameter `index`.
inline void bindText(sqlite3_stmt* stmt, int index, std::string_view text) {
  sqlite3_bind_text(stmt, index, text.data(), static_cast<int>(text.size()), SQLITE_TRANSIENT);
}

}  // namespace sluice::ops::alerts
