#pragma once
/// \file
/// The policy interface of the Trainer, and the policy that changes nothing.

#include <concepts>
#include <string_view>

namespace neuroplast {

/// What the Trainer hands a policy at the end of every epoch: the network (editable), the
/// history so far, the datasets, and a flag to stop training early. Policies that grow or prune
/// record their events in `history.events`.
template <class Net, class Data, class Hist>
struct EpochContext {
  Net& net;
  Hist& history;
  const Data& train;
  const Data* validation;  ///< null when `fit` got no validation set
  int epoch;               ///< 1-based epoch that just ended
  bool stop = false;       ///< set to end training after this epoch
};

/// A training policy decides what happens to the network's structure between epochs. It is a
/// value type with a `name` and `on_epoch_end(context)`.
template <class P, class Context>
concept TrainingPolicy = requires(P& policy, Context& context) {
  { P::name } -> std::convertible_to<std::string_view>;
  policy.on_epoch_end(context);
};

/// Plain training: the structure never changes.
struct StaticPolicy {
  static constexpr std::string_view name = "static";
  template <class Context>
  void on_epoch_end(Context&) {}
};

}  // namespace neuroplast
