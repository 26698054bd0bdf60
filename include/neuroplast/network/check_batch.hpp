#pragma once
/// \file
/// The checks every inference entry point makes on its batch and on the logits it returns, and
/// the search for a non-finite parameter that the trainer's messages share, in one place so that
/// each answers a bad batch, an empty (moved-from) network or a non-finite answer alike.

#include <string>

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

/// "the weights of layer l are not finite" (or its bias) for the first such layer of `net`, or
/// "" when every parameter is finite.
template <class Net>
std::string first_non_finite_parameter(const Net& net) {
  for (Index l = 0; l < net.layer_count(); ++l) {
    if (!all_finite(net.weights(l))) return message("the weights of layer ", l, " are not finite");
    if (!all_finite(net.bias(l))) return message("the bias of layer ", l, " is not finite");
  }
  return {};
}

/// Throws NumericError (prefixed `where`) when `logits` (outputs × batch) hold NaN or infinity,
/// so that `forward(X)` and `predict` never answer with a silent NaN: naming the non-finite
/// parameter `parameter_fault()` describes (as `first_non_finite_parameter`: written outside
/// training), else the first sample whose logits overflowed (an input too large for finite
/// parameters). The parameters are read only on failure. (The workspace passes `forward(X, ws)`
/// are not checked: their callers, the trainer among them, check the losses they compute, in
/// lockstep across processes.)
template <class Derived, class ParameterFault>
void check_logits(const Eigen::DenseBase<Derived>& logits, const char* where,
                  ParameterFault&& parameter_fault) {
  if (all_finite(logits)) return;
  const std::string parameter = parameter_fault();
  if (!parameter.empty()) {
    fail<NumericError>(where, ": the logits hold NaN or infinity because ", parameter,
                       " (changed outside training?); restore them, or load a saved network");
  }
  Index sample = 0;
  while (sample + 1 < logits.cols() && all_finite(logits.col(sample))) ++sample;
  fail<NumericError>(where, ": the logits of sample ", sample,
                     " (column) overflowed although every weight and bias is finite; the input "
                     "is too large for this network: scale it as the training data was "
                     "(StandardScaler)");
}

}  // namespace neuroplast::detail
