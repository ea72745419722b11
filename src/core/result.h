// Errors on the data path: every fallible function returns Result<T>; nothing throws.
#pragma once

#include <string>
#include <utility>

#include <tl/expected.hpp>

namespace sluice {

// What kind of failure an Error is. Callers branch on the code, never on the message.
enum class ErrorCode {
  kInvalidArgument,   // the caller's input is malformed (bad event, bad configuration value)
  kNotFound,          // a named thing does not exist
  kAlreadyExists,     // a unique thing exists already
  kUnauthenticated,   // missing or wrong credentials
  kResourceExhausted, // a limit was hit (size, count, disk space, rate)
  kUnavailable,       // a dependency cannot serve now; retrying later may succeed
  kIo,                // an I/O operation failed
  kInternal,          // a broken invariant inside sluice
  kCancelled,         // the operation was stopped (shutdown)
};

const char* errorCodeName(ErrorCode code);

// An error: a code and a human-readable message that never contains secrets.
struct Error {
  ErrorCode code = ErrorCode::kInternal;
  std::string message;

  std::string toString() const;
};

template <typename T>
using Result = tl::expected<T, Error>;

// Builds the unexpected side of a Result: `return fail(ErrorCode::kIo, "disk full");`.
inline tl::unexpected<Error> fail(ErrorCode code, std::string message) {
  return tl::unexpected<Error>(Error{code, std::move(message)});
}
inline tl::unexpected<Error> fail(Error error) { return tl::unexpected<Error>(std::move(error)); }

// The success value of Result<void>.
inline Result<void> ok() { return {}; }

}  // namespace sluice
