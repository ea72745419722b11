#include "ops/incidents/incident.h"

#include <cstdio>

namespace sluice::ops::incidents {

const char* incidentStateName(IncidentState state) {
  switch (state) {
    case IncidentState::kDegraded:
      return "degraded";
    case IncidentState::kDraining:
      return "draining";
    case IncidentState::kClosed:
      return "closed";
  }
  return "degraded";
}

std::string humanDuration(int64_t ms) {
  if (ms < 0) ms = 0;
  char buffer[64];
  if (ms < 1'000) {
    std::snprintf(buffer, sizeof buffer, "%lldms", static_cast<long long>(ms));
  } else if (ms < 60'000) {
    std::snprintf(buffer, sizeof buffer, "%.1fs", static_cast<double>(ms) / 1'000);
  } else if (ms < 3'600'000) {
    std::snprintf(buffer, sizeof buffer, "%lldm %02llds", static_cast<long long>(ms / 60'000),
                  static_cast<long long>(ms / 1'000 % 60));
  } else if (ms < 86'400'000) {
    std::snprintf(buffer, sizeof buffer, "%lldh %02lldm", static_cast<long long>(ms / 3'600'000),
                  static_cast<long long>(ms / 60'000 % 60));
  } else {
    std::snprintf(buffer, sizeof buffer, "%lldd %02lldh", static_cast<long long>(ms / 86'400'000),
                  static_cast<long long>(ms / 3'600'000 % 24));
  }
  return buffer;
}

}  // namespace sluice::ops::incidents
