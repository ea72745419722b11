// Writing JSON values in the compact form ingest stores, two ways that give the same bytes for the
// same value: from a simdjson DOM element (walks the tree, re-escapes every string), or straight
// from the source text of a document simdjson has already accepted (drops whitespace, copies runs
// of unchanged text; only escapes that compact JSON writes differently and non-integer numbers
// are rewritten). The compact form: no whitespace, strings with only '"', '\\' and control
// characters escaped (everything else as UTF-8), integers as sent ("-0" as "0"), other numbers in
// the shortest form std::to_chars gives for the double.
#pragma once

#include <simdjson.h>

#include <cstddef>
#include <string>
#include <string_view>

namespace sluice::ingest {

// Appends `value` as compact JSON. Returns false (leaving `out` partly written) when an object or
// array sits deeper than `maxDepth`; `depth` is the depth of `value` itself.
bool appendDomValue(std::string& out, simdjson::dom::element value, size_t depth, size_t maxDepth);

// The source text of a JSON document that simdjson has parsed without error, read by position.
// Positions are byte offsets into the text. Every method checks its bounds, so text that is not
// what was validated gives a failure, never an out-of-bounds read.
class JsonSource {
 public:
  explicit JsonSource(std::string_view text) : text_(text) {}

  enum class Copy {
    kOk,        // the value was appended; `pos` is just past it
    kTooDeep,   // an object or array deeper than `maxDepth` (as appendDomValue's false)
    kFallback,  // a form this copier does not rewrite (or unexpected text): write the DOM value
  };

  // Appends the value that starts at `pos` (after optional whitespace) in compact form. `depth` is
  // the depth of the value itself. On anything but kOk, `out` is partly written and `pos`
  // unchanged.
  Copy copyValue(std::string& out, size_t& pos, size_t depth, size_t maxDepth) const;

  // Moves `pos` past the value that starts at it (after optional whitespace). False when the text
  // there is not a value.
  bool skipValue(size_t& pos) const;

  enum class Step { kItem, kEnd, kBad };

  // Steps to the next member of an object. `pos` is at the object's '{' (first == true) or just
  // after the previous member's value. kItem: `rawKey` is the key as written (escapes not decoded)
  // and `pos` is at its value. kEnd: `pos` is just past the '}'.
  Step nextMember(size_t& pos, bool first, std::string_view& rawKey) const;

  // The same for the elements of an array: kItem leaves `pos` at the element.
  Step nextElement(size_t& pos, bool first) const;

 private:
  size_t skipSpace(size_t pos) const;
  // From just after a string's opening quote to just past its closing one; npos when unterminated.
  size_t stringEnd(size_t pos) const;

  std::string_view text_;
};

}  // namespace sluice::ingest
