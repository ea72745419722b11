// JavaScript's number <-> string conversions, which Segment's code applies implicitly (String(n),
// Number(s), JSON.stringify). Needed wherever sluice must produce the same text or comparison as
// Segment: FQL literals, @template, @replace, @json. Pure functions.
#pragma once

#include <string>
#include <string_view>

namespace sluice::mapping {

// Appends ECMAScript's Number::toString(v) to `out`: shortest round-trip digits, plain notation
// for 1e-7 < |v| < 1e21, exponent notation (`1e+21`, `1.5e-7`) otherwise; `NaN`, `Infinity`,
// `-Infinity`; -0 prints as `0`.
void appendJsNumber(std::string& out, double v);
std::string jsNumberToString(double v);

// ECMAScript's Number(string): surrounding whitespace ignored, empty -> 0, decimal with optional
// sign/fraction/exponent, 0x/0o/0b integers, [+-]Infinity; anything else -> NaN.
double jsStringToNumber(std::string_view s);

}  // namespace sluice::mapping
