#pragma once
/// \file
/// What an optimizer is, and the checks they share.

#include <cmath>
#include <concepts>
#include <string_view>

#include "neuroplast/core/error.hpp"
#include "neuroplast/core/param.hpp"

namespace neuroplast {

/// An optimizer updates a network from the gradients of its last backward pass. Its per-parameter
/// state lives in each Param's state planes (bound to the neuron axes), never keyed by address, so
/// any structural edit keeps it in step. `validate()` throws Error on a bad hyper-parameter.
template <class O, class Net>
concept OptimizerFor = requires(O& opt, const O& copt, Net& net) {
  { O::name } -> std::convertible_to<std::string_view>;
  copt.validate();
  opt.step(net);
};

namespace detail {

/// Throws unless `lo <= value < hi` (or `<= hi` with `closed`), naming optimizer and field.
inline void check_range(std::string_view optimizer, std::string_view field, double value, double lo,
                        double hi, bool closed_high = false) {
  const bool ok = std::isfinite(value) && value >= lo && (closed_high ? value <= hi : value < hi);
  if (!ok) {
    fail(optimizer, ": ", field, " = ", value, " is invalid; it must lie in [", lo, ", ", hi,
         closed_high ? "]" : ")");
  }
}

/// Throws unless `value > 0` and finite.
inline void check_positive(std::string_view optimizer, std::string_view field, double value) {
  if (!(std::isfinite(value) && value > 0)) {
    fail(optimizer, ": ", field, " = ", value, " is invalid; it must be a positive finite number");
  }
}

/// Stamps `step` on every row/column born since the last step (see Param::row_birth).
inline void stamp_births(std::vector<std::int64_t>& births, std::int64_t step) {
  for (auto& b : births)
    if (b == kUnbornStep) b = step;
}

}  // namespace detail
}  // namespace neuroplast
