// Small helpers for writing JSON text by hand (replies and enriched events).
#pragma once

#include <cstddef>
#include <string>
#include <string_view>

namespace sluice::ingest {

// Appends `text` as a JSON string literal (quotes included). `text` must be valid UTF-8; it is
// copied as is except for the characters JSON requires to be escaped.
void appendJsonString(std::string& out, std::string_view text);

// The same without the quotes: `text` as the inside of a JSON string literal.
void appendJsonStringContent(std::string& out, std::string_view text);

// The index of the first byte at or after `from` that a JSON string must escape (below 0x20, '"'
// or '\\'), or text.size() when there is none.
size_t findJsonEscape(std::string_view text, size_t from);

}  // namespace sluice::ingest
