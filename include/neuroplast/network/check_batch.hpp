#pragma once
/// \file
/// The input check every inference entry point makes, in one place so that each answers a bad
/// batch with the same message.

#include "neuroplast/core/error.hpp"
#include "neuroplast/core/types.hpp"

namespace neuroplast::detail {

/// Throws Error (prefixed `where`) unless `X` is a non-empty batch of `inputs` rows (features ×
/// batch, samples are columns); with `finite`, NumericError when `X` holds NaN or infinity.
/// `what` names the batch in the messages (the argument's name at the entry point).
template <class Derived>
void check_batch(const Eigen::DenseBase<Derived>& X, Index inputs, const char* where, bool finite,
                 const char* what = "input") {
  if (X.rows() != inputs) {
    fail(where, ": ", what, " has ", X.rows(), " features (rows) but the network expects ", inputs,
         " inputs; samples are columns: pass features × batch");
  }
  if (X.cols() == 0) fail(where, ": ", what, " is empty (0 columns, no samples)");
  if (finite && !all_finite(X))
    fail<NumericError>(where, ": ", what, " contains NaN or infinity; clean the data");
}

}  // namespace neuroplast::detail
