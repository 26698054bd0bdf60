#pragma once
/// \file
/// Options of a training run.

#include <cmath>
#include <cstdint>
#include <functional>

#include "neuroplast/core/error.hpp"
#include "neuroplast/core/types.hpp"
#include "neuroplast/loss/loss_function.hpp"
#include "neuroplast/train/checkpoint_options.hpp"
#include "neuroplast/train/lr_schedule.hpp"

namespace neuroplast {

/// What a Trainer does when training hits a NaN or infinity (a NumericError).
enum class NumericErrorAction {
  stop,      ///< rethrow: the network keeps its last finite parameters
  rollback,  ///< restore the end of the last good epoch, lower the learning rate, retry the epoch
};

/// How a Trainer runs: `TrainOptions{.epochs = 30, .batch_size = 64, .seed = 1}`.
struct TrainOptions {
  int epochs = 10;         ///< passes over the training set, ≥ 1
  Index batch_size = 32;   ///< samples per step, ≥ 1 (the last batch of an epoch may be smaller)
  std::uint64_t seed = 0;  ///< shuffling (and any policy randomness) is reproducible for a seed
  /// The loss minimised: `LossKind::softmax_cross_entropy`, `LossKind::mean_squared_error`, or
  /// `LossFunction::of<MyLoss>()` (loss/loss_function.hpp).
  LossFunction loss = LossKind::softmax_cross_entropy;
  bool shuffle = true;            ///< reshuffle the training set every epoch
  bool verbose = false;           ///< print one progress line per epoch to standard output
  Index evaluation_batch = 1024;  ///< columns per forward pass when evaluating a dataset
  /// Stop when the validation loss (training loss without validation) has been worse than its
  /// best for this many consecutive epochs; 0 = never.
  int early_stopping_patience = 0;
  /// At the end of every fit, return the network to the best epoch's (highest validation
  /// accuracy, else lowest validation loss, else lowest training loss; the first of equals, but
  /// the last epoch when it equals the best), as Keras' `restore_best_weights` does, under any
  /// policy. Recorded as an EventKind::rollback
  /// event. The best epoch is kept across fits until `Trainer::notify_new_data`, after which
  /// earlier epochs, judged on other data, no longer count.
  bool restore_best = false;
  // The four hooks below: under a data-parallel strategy a hook that throws on any process ends
  // `fit` on every process with an Error carrying its message (Trainer::call_hook); in one
  // process its exception propagates unchanged. All but `on_gradients` (which changes the step:
  // every process or none) may be set on some processes only, e.g. printing from process 0.
  /// Called after every epoch with its record (after the policy ran).
  std::function<void(const struct EpochRecord&)> on_epoch_end{};
  /// Called for every structural event, as it is recorded.
  std::function<void(const struct StructuralEvent&)> on_event{};
  /// Called after every optimizer step (progress within an epoch: a progress bar, a loss log).
  std::function<void(const struct BatchRecord&)> on_batch_end{};
  /// Called after every backward pass, before gradient clipping and the optimizer step, with the
  /// batch's record (`step` is the step about to be taken; `gradient_norm` is NaN). The gradients
  /// live in the network the trainer edits (`Mlp::for_each_param`, `Param::grad`, one plane per
  /// weight matrix and bias) and may be read and replaced there: the step applies what they hold
  /// when the hook returns, masked again where connections are pruned (pruned weights stay 0
  /// because their gradients are 0). This is where a data-parallel trainer sums them across
  /// processes.
  std::function<void(const struct BatchRecord&)> on_gradients{};
  /// Before every optimizer step, scale the gradients so that their global L2 norm is at most
  /// this (`clip_gradient_norm`); 0 = no clipping.
  double clip_gradient_norm = 0;
  /// The learning rate of each epoch as a factor of the optimizer's base rate (the rate it was
  /// built with): `StepDecay`, `CosineDecay` (restarted by growth by default) or
  /// `ReduceOnPlateau` (reset by growth by default); train/lr_schedule.hpp. Default
  /// `ConstantRate`: the trainer leaves the rate alone. The trainer sets the rate before each
  /// epoch; a numeric-error rollback's reduction is kept on top of the schedule.
  LearningRateSchedule learning_rate_schedule{};
  /// Trainer checkpoints (network, optimizer, History, TrainerState) every `checkpoint.every`
  /// epochs and/or after every epoch that changed the structure; written atomically, after the
  /// policy and before `on_epoch_end`. Default: never.
  CheckpointOptions checkpoint{};
  /// On a non-finite loss or parameter: stop (rethrow) or roll back and retry.
  NumericErrorAction on_numeric_error = NumericErrorAction::stop;
  /// Rollbacks allowed in one `fit`; the next NumericError is rethrown (after restoring the last
  /// good state). Only with `NumericErrorAction::rollback`.
  int max_rollbacks = 3;
  /// Each rollback multiplies the optimizer's learning rate by this factor, in (0, 1].
  double rollback_learning_rate_factor = 0.5;

  /// Throws Error naming the field when an option is out of range.
  void validate() const {
    if (epochs < 1) detail::fail("TrainOptions: epochs = ", epochs, " must be at least 1");
    if (!(clip_gradient_norm >= 0 && std::isfinite(clip_gradient_norm))) {
      detail::fail("TrainOptions: clip_gradient_norm = ", clip_gradient_norm,
                   " must be finite and ≥ 0 (0 = no clipping)");
    }
    if (batch_size < 1)
      detail::fail("TrainOptions: batch_size = ", batch_size, " must be at least 1");
    if (early_stopping_patience < 0) {
      detail::fail("TrainOptions: early_stopping_patience = ", early_stopping_patience,
                   " must be ≥ 0");
    }
    if (evaluation_batch < 1) {
      detail::fail("TrainOptions: evaluation_batch = ", evaluation_batch, " must be at least 1");
    }
    if (checkpoint.every < 0) {
      detail::fail("TrainOptions: checkpoint.every = ", checkpoint.every,
                   " must be ≥ 0 (0 = not by epoch count)");
    }
    if (checkpoint.path.empty() && (checkpoint.every > 0 || checkpoint.on_structural_event)) {
      detail::fail(
          "TrainOptions: checkpoint.every or checkpoint.on_structural_event is set but "
          "checkpoint.path is empty; say where the checkpoint goes");
    }
    validate_schedule(learning_rate_schedule);
    if (max_rollbacks < 0)
      detail::fail("TrainOptions: max_rollbacks = ", max_rollbacks, " must be ≥ 0");
    if (!(rollback_learning_rate_factor > 0 && rollback_learning_rate_factor <= 1)) {
      detail::fail("TrainOptions: rollback_learning_rate_factor = ", rollback_learning_rate_factor,
                   " must be in (0, 1]");
    }
  }
};

}  // namespace neuroplast
