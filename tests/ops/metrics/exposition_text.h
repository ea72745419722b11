// Reading samples back from the Prometheus text exposition, for the metrics tests.
#pragma once

#include <optional>
#include <string>

namespace sluice::testing {

// The value of the sample written exactly as `series` (name and labels), or nullopt.
inline std::optional<double> valueOf(const std::string& text, const std::string& series) {
  size_t at = 0;
  while ((at = text.find(series + " ", at)) != std::string::npos) {
    if (at == 0 || text[at - 1] == '\n') {
      size_t end = text.find('\n', at);
      return std::stod(text.substr(at + series.size() + 1, end - at - series.size() - 1));
    }
    at += series.size();
  }
  return std::nullopt;
}

}  // namespace sluice::testing
