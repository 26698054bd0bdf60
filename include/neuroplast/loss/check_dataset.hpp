#pragma once
/// \file
/// The checks that a dataset fits a network under a loss: the whole of it, what the trainer runs
/// before it trains or evaluates, and its targets, what a criterion that differentiates the loss
/// (Taylor) runs once its sampling has checked the features.

#include <string_view>

#include "neuroplast/core/error.hpp"
#include "neuroplast/core/types.hpp"
#include "neuroplast/data/dataset.hpp"
#include "neuroplast/loss/loss_function.hpp"
#include "neuroplast/loss/loss_kind.hpp"

namespace neuroplast {

/// Throws Error, naming `where`, unless the targets of `data` fit `net` (anything with
/// `output_size()`) under `loss`: labels where the loss needs them (cross-entropy, a custom loss's
/// `needs_labels`) and below the output count, or one target row per output.
template <class Net, Scalar T>
void check_targets(const Dataset<T>& data, const Net& net, const LossFunction& loss,
                   std::string_view where) {
  if (loss.needs_labels() && !data.has_labels()) {
    if (loss == LossKind::softmax_cross_entropy) {
      detail::fail(where,
                   ": softmax cross-entropy needs class labels but the dataset has real-valued "
                   "targets; use .loss = LossKind::mean_squared_error for them");
    }
    detail::fail(where, ": the loss ", loss.name(),
                 " needs class labels but the dataset has real-valued targets");
  }
  if (data.has_labels() && data.class_count() > net.output_size()) {
    detail::fail(where, ": labels go up to ", data.class_count() - 1, " but the network has only ",
                 net.output_size(), " outputs; build it with at least ", data.class_count(),
                 " outputs");
  }
  if (data.has_targets() && data.targets().rows() != net.output_size()) {
    detail::fail(where, ": targets have ", data.targets().rows(), " rows but the network has ",
                 net.output_size(), " outputs");
  }
}

/// Throws Error, naming `where`, unless `data` can train or evaluate `net` (anything with
/// `input_size()`, `output_size()` and `sizes()`) under `loss`: not empty, one feature per input,
/// and targets that fit (`check_targets`).
template <class Net, Scalar T>
void check_dataset(const Dataset<T>& data, const Net& net, const LossFunction& loss,
                   std::string_view where) {
  if (data.size() == 0) detail::fail(where, ": the dataset is empty");
  if (data.feature_count() != net.input_size()) {
    detail::fail(where, ": samples have ", data.feature_count(),
                 " features but the network expects ", net.input_size(), " inputs (sizes ",
                 detail::format_sizes(net.sizes()), ")");
  }
  check_targets(data, net, loss, where);
}

}  // namespace neuroplast
