#pragma once
// Mean and sample standard deviation over seeds, for the examples' tables.

#include <cmath>
#include <limits>
#include <vector>

namespace neuroplast::examples {

// NaN for no values.
inline double mean(const std::vector<double>& v) {
  if (v.empty()) return std::numeric_limits<double>::quiet_NaN();
  double s = 0;
  for (double x : v) s += x;
  return s / static_cast<double>(v.size());
}

// The sample standard deviation (n − 1); 0 for fewer than two values.
inline double stddev(const std::vector<double>& v) {
  if (v.size() < 2) return 0;
  const double m = mean(v);
  double s = 0;
  for (double x : v) s += (x - m) * (x - m);
  return std::sqrt(s / static_cast<double>(v.size() - 1));
}

}  // namespace neuroplast::examples
