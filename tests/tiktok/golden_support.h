// Shared helpers of the golden tests: loading Segment's golden cases and preset catalog from the
// reference data (tests/reference_dir.h), and turning a case into a destination configuration.
#pragma once

#include <boost/json.hpp>
#include <string>
#include <vector>

#include "config/config.h"

namespace sluice::tiktok::testing {

struct GoldenCase {
  std::string name;              // "001_add_to_cart_basic"
  boost::json::object input;     // the case
  boost::json::object expected;  // what Segment did
};

std::vector<std::string> goldenCaseNames();
GoldenCase loadGoldenCase(const std::string& name);

// The extra cases written with the oracle for behaviours the golden set does not cover
// (tests/tiktok/cases/, same format; SLUICE_SOURCE_DIR or the compiled-in source folder).
std::vector<std::string> extraCaseNames();
GoldenCase loadExtraCase(const std::string& name);

// Segment's current presets: name -> {"subscribe": FQL, "mapping": {...}}.
const boost::json::object& segmentPresets();

// How a case becomes a configuration: a preset that is one of the product's documented presets
// with the same trigger -> `presets: [name]`; any other Segment preset -> a subscription with that
// preset's trigger and mapping; `preset: null, mapping: null` -> all of Segment's presets as
// subscriptions (Segment enables its whole current catalog there); a custom mapping -> one
// subscription.
config::DestinationConfig configForCase(const GoldenCase& golden);

}  // namespace sluice::tiktok::testing
