#pragma once
/// \file
/// The policy interface of the Trainer, and the policy that changes nothing.

#include <concepts>
#include <optional>
#include <string_view>
#include <utility>

#include "neuroplast/core/types.hpp"
#include "neuroplast/loss/loss_function.hpp"

namespace neuroplast {

/// What the Trainer hands a policy: the network (editable), the history so far, the datasets,
/// the epoch that just ended, the network of the best epoch so far (when the policy asked for
/// snapshots), a flag to stop training early, and whether this fit trains no further epoch.
/// Policies record structural changes with `record`, which stamps the epoch and the sizes after
/// the change.
template <class Net, class Data, class Hist>
struct EpochContext {
  Net& net;                   ///< the network being trained
  Hist& history;              ///< every epoch and structural event so far
  const Data& train;          ///< the training set
  const Data* validation;     ///< null when `fit` got no validation set
  int epoch;                  ///< 1-based epoch that just ended (0 before the first)
  const Net* best = nullptr;  ///< best epoch's network, if the policy keeps snapshots
  /// A network the policy may keep and return to later (e.g. the last pruning it accepted); the
  /// trainer owns it, rolls it back with everything else and writes it into checkpoints. Null
  /// where no trainer provides one.
  std::optional<Net>* saved = nullptr;
  bool stop = false;  ///< set to end training after this epoch
  /// True in `on_epoch_end` when no epoch of this fit follows (its last epoch, or early stopping
  /// ends it now): a change made now would be returned untrained. The library's policies then
  /// defer their decision to the start of the next fit (see DropinPolicy).
  bool final_epoch = false;
  /// Epochs this fit trains after the one that just ended (0 with `final_epoch`; in
  /// `on_fit_begin`, all of the fit's epochs): a policy can leave out a change that would not get
  /// the epochs to be judged.
  int epochs_left = 0;
  /// Optimizer steps in one epoch of this fit (0 outside a fit): lets policies count windows in
  /// steps rather than epochs.
  Index steps_per_epoch = 0;
  /// The loss the run minimises (`TrainOptions::loss`): lets policies relate a loss to the data,
  /// e.g. to the loss of the best constant prediction (`constant_prediction_loss`).
  LossFunction loss = LossKind::softmax_cross_entropy;

  /// The data structural decisions are judged on: the validation set, else the training set.
  const Data& judge() const { return validation != nullptr ? *validation : train; }

  /// Appends `e` to the history with this epoch and the network's current sizes.
  template <class Event>
  void record(Event e) {
    e.epoch = epoch;
    e.sizes_after = net.sizes();
    history.events.push_back(std::move(e));
  }
};

/// A training policy decides what happens to the network's structure between epochs. It is a
/// value type with a `name` and `on_epoch_end(context)`; optionally `on_fit_begin(context)`
/// (before the first epoch of each fit), `on_new_data(context)` (Trainer::notify_new_data) and
/// `keeps_best_snapshot()` (the trainer then keeps the best epoch's network in `context.best`).
template <class P, class Context>
concept TrainingPolicy = requires(P& policy, Context& context) {
  { P::name } -> std::convertible_to<std::string_view>;
  policy.on_epoch_end(context);
};

/// Plain training: the structure never changes.
struct StaticPolicy {
  static constexpr std::string_view name = "static";  ///< identifies the policy in checkpoints
  /// Does nothing.
  template <class Context>
  void on_epoch_end(Context&) {}
};

}  // namespace neuroplast
