// Writing JSON strings by hand, shared by every module that writes JSON text (stored events,
// TikTok request bodies, replies, summaries). Pure, no allocation beyond `out`'s growth.
#pragma once

#include <cstddef>
#include <string>
#include <string_view>

namespace sluice {

// Appends `text` as a quoted JSON string, escaped as JavaScript's JSON.stringify escapes it: '"'
// and '\\', \b \f \n \r \t, the other bytes below 0x20 as \u00xx (lower-case hex); every other
// byte, UTF-8 included, is copied as is. `text` should be valid UTF-8 (JSON requires it).
void appendJsonString(std::string& out, std::string_view text);

// The same without the quotes: `text` as the inside of a JSON string literal.
void appendJsonStringContent(std::string& out, std::string_view text);

// The index of the first byte at or after `from` that a JSON string must escape (below 0x20, '"'
// or '\\'), or text.size() when there is none (also when `from` >= text.size()).
size_t findJsonEscape(std::string_view text, size_t from);

}  // namespace sluice
