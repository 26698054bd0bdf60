#pragma once
// Command-line helpers shared by the examples.

#include <string>
#include <string_view>
#include <vector>

#include "neuroplast/core/types.hpp"

namespace neuroplast::examples {

// "256,128" → {256, 128}; throws std::invalid_argument on a non-number.
inline std::vector<Index> parse_widths(std::string_view text) {
  std::vector<Index> widths;
  std::size_t start = 0;
  while (start <= text.size()) {
    const std::size_t comma = text.find(',', start);
    widths.push_back(std::stol(std::string(
        text.substr(start, comma == std::string_view::npos ? text.npos : comma - start))));
    if (comma == std::string_view::npos) break;
    start = comma + 1;
  }
  return widths;
}

}  // namespace neuroplast::examples
