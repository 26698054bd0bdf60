#pragma once
// Command-line helpers shared by the examples: every bad value gets a one-line error that names
// the flag and says what was expected.

#include <charconv>
#include <limits>
#include <string>
#include <string_view>
#include <system_error>
#include <type_traits>
#include <vector>

#include "neuroplast/core/error.hpp"
#include "neuroplast/core/types.hpp"

namespace neuroplast::examples {

// The whole of `text` as a T (an integer or floating-point type); throws neuroplast::Error naming
// `flag` when it is not one, is out of T's range, or is below `min`.
template <class T>
T parse_number(std::string_view flag, std::string_view text,
               T min = std::numeric_limits<T>::lowest()) {
  T value{};
  const char* end = text.data() + text.size();
  const auto [ptr, ec] = std::from_chars(text.data(), end, value);
  const char* kind = std::is_integral_v<T> ? "an integer" : "a number";
  if (text.empty() || ec == std::errc::invalid_argument || ptr != end)
    detail::fail(flag, ": '", text, "' is not ", kind);
  if (ec == std::errc::result_out_of_range) detail::fail(flag, ": '", text, "' is out of range");
  if (value < min) detail::fail(flag, ": ", text, " must be at least ", min);
  return value;
}

// "256,128" → {256, 128}; throws neuroplast::Error naming `flag` on anything but a comma-separated
// list of positive integers.
inline std::vector<Index> parse_widths(std::string_view flag, std::string_view text) {
  std::vector<Index> widths;
  std::size_t start = 0;
  while (true) {
    const std::size_t comma = text.find(',', start);
    const std::string_view item =
        text.substr(start, comma == std::string_view::npos ? text.npos : comma - start);
    widths.push_back(parse_number<Index>(flag, item, 1));
    if (comma == std::string_view::npos) break;
    start = comma + 1;
  }
  return widths;
}

}  // namespace neuroplast::examples
