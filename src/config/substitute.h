// `${...}` substitution in configuration values. Internal to the config module (and its tests).
#pragma once

#include <string>
#include <string_view>

#include "config/config.h"
#include "core/result.h"

namespace sluice::config {

// Replaces in `text`:
//   `${NAME}`            the environment variable NAME (an error when it is not set);
//   `${NAME:-default}`   NAME when it is set and not empty, else `default` (taken literally);
//   `${file:/path}`      the contents of the file, without leading and trailing white space
//                        (a relative path is taken from the working directory);
//   `$${`                a literal `${`.
// A `$` not followed by `{` is kept. NAME is `[A-Za-z_][A-Za-z0-9_]*`. Sets `*substituted` when
// anything was replaced. Error messages name the variable or file, never a value.
Result<std::string> substituteVariables(std::string_view text, const EnvLookup& env,
                                        bool* substituted = nullptr);

// The process environment (getenv).
EnvLookup processEnv();

}  // namespace sluice::config
