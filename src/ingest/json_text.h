// Small helpers for writing JSON text by hand (replies and enriched events).
#pragma once

#include <string>
#include <string_view>

namespace sluice::ingest {

// Appends `text` as a JSON string literal (quotes included). `text` must be valid UTF-8; it is
// copied as is except for the characters JSON requires to be escaped.
void appendJsonString(std::string& out, std::string_view text);

}  // namespace sluice::ingest
