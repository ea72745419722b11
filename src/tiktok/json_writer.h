// A small JSON writer producing exactly what JavaScript's JSON.stringify produces for the same
// values: numbers in ECMAScript's shortest form (`49.99`, `1e+21`, `0.000001`, `1e-7`), strings
// escaped as JSON.stringify escapes them (UTF-8 passed through). Used for TikTok request bodies so
// that they match Segment's byte for byte where the values agree. Pure, no I/O.
#pragma once

#include <boost/json/value.hpp>
#include <cstdint>
#include <string>
#include <string_view>

#include "core/json_text.h"  // appendJsonString(): strings escaped as JSON.stringify does

namespace sluice::tiktok {

// Appends `value` formatted as ECMAScript's Number::toString does; NaN and infinities as `null`
// (as JSON.stringify writes them).
void appendJsNumber(std::string& out, double value);

// Appends any JSON value. Integers beyond 2^53 are written as JavaScript would print the nearest
// double, since that is what a JavaScript JSON parser (Segment's) would have produced.
void appendJsonValue(std::string& out, const boost::json::value& value);

// Formats a number as ECMAScript's String(number) would (used when a number is coerced to a
// string).
std::string jsNumberToString(double value);

// The JavaScript number for a JSON number value (int64, uint64 or double).
double jsonNumberAsDouble(const boost::json::value& value);

}  // namespace sluice::tiktok
