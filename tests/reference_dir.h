// Where the tests find Segment's reference data: the golden cases (segment-golden/) and the
// field definitions and presets of Report Web Event (segment-reportWebEvent.json). A copy lives
// in tests/reference so that a clone tests on its own; SLUICE_REFERENCE_DIR points elsewhere,
// for example at a newer copy of the team's reference folder.
#pragma once

#include <cstdlib>
#include <filesystem>

namespace sluice::testing {

inline std::filesystem::path referenceDir() {
  if (const char* dir = std::getenv("SLUICE_REFERENCE_DIR"); dir && *dir) return dir;
  return SLUICE_TEST_REFERENCE_DIR;
}

}  // namespace sluice::testing
