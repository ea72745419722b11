// PII normalisation and SHA-256 hashing, as Segment's TikTok Conversions destination does it, with
// the product's deliberate differences D4 (emails trimmed before lower-casing), D5 (blank values
// dropped) and D10 (phone numbers made E.164 with a configured default region). Pure, no I/O.
//
// Hashing: lower-case hexadecimal SHA-256 of the normalised UTF-8 text. A value that already looks
// like a SHA-256 hex digest (64 hexadecimal characters, any case) is passed through unchanged
// ("smart hashing"), so callers may send pre-hashed PII.
#pragma once

#include <optional>
#include <string>
#include <string_view>

namespace sluice::tiktok {

// The lower-case hex SHA-256 of `input` (OpenSSL's SHA256_* functions: no allocation, no shared
// state). Thread-safe.
std::string sha256Hex(std::string_view input);
void appendSha256Hex(std::string& out, std::string_view input);

// True when `text` is exactly 64 hexadecimal characters (either case).
bool isSha256Hex(std::string_view text);

// JavaScript's String.prototype.toLowerCase for UTF-8 text (simple case mapping).
std::string jsLowerCase(std::string_view text);
// JavaScript's String.prototype.trim (Unicode white space and line terminators).
std::string_view jsTrim(std::string_view text);
// Removes every character JavaScript's /\s/ matches.
std::string removeJsWhitespace(std::string_view text);

// Email: trimmed (D4), lower-cased, hashed. nullopt for a blank value (D5: dropped).
std::optional<std::string> hashEmail(std::string_view email);

// Phone: Segment keeps "+" followed by the digits, at most 15 characters; with `defaultRegion`
// (ISO 3166 code) a number that libphonenumber can read as a possible number of that region (or of
// the country its "+" prefix names) is formatted E.164 instead (D10). Hashed. nullopt when blank.
std::optional<std::string> hashPhone(std::string_view phone, std::string_view defaultRegion);
// The normalisation alone (before hashing), exposed for tests.
std::string normalizePhone(std::string_view phone, std::string_view defaultRegion);

// External id: lower-cased and hashed (not trimmed, as Segment). nullopt when blank (D5).
std::optional<std::string> hashExternalId(std::string_view id);

// First name, last name, zip code: white space removed, lower-cased, hashed; "" when that leaves
// nothing (Segment sends "" for these).
std::string hashNamePart(std::string_view value);

// City, state, country: only ASCII letters and digits kept, lower-cased; not hashed (as Segment).
std::string normalizeLocation(std::string_view value);

// The same, appending to `out` without allocating (the hot path of the item builder). The
// functions returning bool append nothing and return false for a blank value (D5).
bool appendHashedEmail(std::string& out, std::string_view email);
bool appendHashedPhone(std::string& out, std::string_view phone, std::string_view defaultRegion);
bool appendHashedExternalId(std::string& out, std::string_view id);
void appendHashedNamePart(std::string& out, std::string_view value);
void appendNormalizedLocation(std::string& out, std::string_view value);

// libphonenumber's E.164 form of `phone` read with `region`, or "" when it is not a possible
// number. Implemented in phone.cpp (the only translation unit including libphonenumber).
std::string formatE164(std::string_view phone, std::string_view region);

// Whether libphonenumber knows `region` (an ISO 3166 code such as "US"). In phone.cpp.
bool isKnownPhoneRegion(std::string_view region);

}  // namespace sluice::tiktok
