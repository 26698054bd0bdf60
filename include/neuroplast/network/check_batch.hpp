#pragma once
/// \file
/// The checks every inference entry point makes on its batch and on the logits it returns, in one
/// place so that each answers a bad batch, an empty (moved-from) network or a non-finite answer
/// with the same message.

#include "neuroplast/core/error.hpp"
#include "neuroplast/core/types.hpp"

namespace neuroplast::detail {

/// Throws Error (prefixed `where`) when a network has `inputs` = 0: only a moved-from network
/// has (every constructor refuses a zero size). A batch of 0 rows would pass the row check of
/// `check_batch` and give logits of 0 rows, and a file of it could not be loaded back.
inline void check_not_empty(Index inputs, const char* where) {
  if (inputs == 0) {
    fail(where, ": the network is empty (it was moved from); assign a network to it first");
  }
}

/// Throws Error (prefixed `where`) unless `X` is a non-empty batch of `inputs` rows (features ×
/// batch, samples are columns) and the network is not empty (`check_not_empty`); with `finite`,
/// NumericError when `X` holds NaN or infinity. `what` names the batch in the messages (the
/// argument's name at the entry point).
template <class Derived>
void check_batch(const Eigen::DenseBase<Derived>& X, Index inputs, const char* where, bool finite,
                 const char* what = "input") {
  check_not_empty(inputs, where);
  if (X.rows() != inputs) {
    fail(where, ": ", what, " has ", X.rows(), " features (rows) but the network expects ", inputs,
         " inputs; samples are columns: pass features × batch");
  }
  if (X.cols() == 0) fail(where, ": ", what, " is empty (0 columns, no samples)");
  if (finite && !all_finite(X))
    fail<NumericError>(where, ": ", what, " contains NaN or infinity; clean the data");
}

/// Throws NumericError (prefixed `where`) when `logits` (outputs × batch) holds NaN or infinity,
/// so that `forward(X)` and `predict` never answer with a silent NaN. `nonfinite_layer()` returns
/// the first dense layer whose weights or bias are not finite, or -1: called only on failure, it
/// tells parameters written outside training from inputs too large for finite parameters.
/// (The workspace passes `forward(X, ws)` are not checked: their callers, the trainer among them,
/// check the losses they compute, in lockstep across processes.)
template <class Derived, class FindLayer>
void check_logits(const Eigen::DenseBase<Derived>& logits, const char* where,
                  FindLayer&& nonfinite_layer) {
  if (all_finite(logits)) return;
  Index sample = 0;
  while (sample + 1 < logits.cols() && all_finite(logits.col(sample))) ++sample;
  const Index layer = nonfinite_layer();
  if (layer >= 0) {
    fail<NumericError>(where, ": the logits hold NaN or infinity because dense layer ", layer,
                       "'s weights or bias are not finite (changed outside training?); restore "
                       "them, or load a saved network");
  }
  fail<NumericError>(where, ": the logits of sample ", sample,
                     " (column) overflowed although every weight and bias is finite; the input "
                     "is too large for this network: scale it as the training data was "
                     "(StandardScaler)");
}

}  // namespace neuroplast::detail
