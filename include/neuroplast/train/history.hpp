#pragma once
/// \file
/// What a training run records: per-epoch metrics and every structural event.

#include <algorithm>
#include <cmath>
#include <cstdint>
#include <limits>
#include <string>
#include <vector>

#include "neuroplast/core/types.hpp"
#include "neuroplast/network/edit_record.hpp"

namespace neuroplast {

/// Metrics of one epoch. Validation figures are NaN when `fit` had no validation set, and the
/// accuracies are NaN for datasets without labels.
struct EpochRecord {
  int epoch = 0;  ///< 1-based
  double train_loss =
      std::numeric_limits<double>::quiet_NaN();  ///< mean loss over the epoch's batches
  /// Mean loss over the validation set, after the epoch.
  double validation_loss = std::numeric_limits<double>::quiet_NaN();
  double validation_accuracy = std::numeric_limits<double>::quiet_NaN();  ///< in [0, 1]
  std::vector<Index> sizes{};        ///< network sizes at the end of the epoch
  Index parameter_count = 0;         ///< at the end of the epoch
  Index active_parameter_count = 0;  ///< without pruned connections, at the end of the epoch
  double seconds = 0;                ///< wall time of the epoch, evaluation included

  /// The loss decisions are judged by: the validation loss, or the training loss when the epoch
  /// had no validation set.
  double judged_loss() const { return std::isnan(validation_loss) ? train_loss : validation_loss; }

  /// What "the best epoch" maximises: the validation accuracy, among equal accuracies the lower
  /// validation loss; else minus the validation loss, else minus the training loss.
  ///
  /// The tie-break matters on small validation sets, where the accuracy soon saturates: without
  /// it the first epoch at 100% (validation loss 0.39 on wine) was "best" over a later one at
  /// loss 0.02, and a rollback to it threw the training since away. The loss enters as
  /// 1e-10 × loss / (1 + loss) < 1e-10, less than one sample's share of the accuracy for any
  /// validation set below 10⁹ samples, so it only ever orders equal accuracies.
  double best_epoch_score() const {
    if (!std::isnan(validation_accuracy)) {
      const double loss = std::isnan(validation_loss) ? 0 : std::max(validation_loss, 0.0);
      return validation_accuracy - 1e-10 * (std::isinf(loss) ? 1 : loss / (1 + loss));
    }
    return !std::isnan(validation_loss) ? -validation_loss : -train_loss;
  }
};

/// One minibatch step, as `TrainOptions::on_batch_end` reports it (not kept in the History).
struct BatchRecord {
  int epoch = 0;          ///< 1-based epoch the batch belongs to
  Index batch = 0;        ///< 0-based index of the batch within its epoch
  Index batches = 0;      ///< batches in this epoch
  Index samples = 0;      ///< samples in this batch (the last one may be smaller)
  double loss = 0;        ///< mean loss over the batch, before the optimizer step
  std::int64_t step = 0;  ///< optimizer steps taken so far, this one included
  /// Global gradient norm before clipping (`gradient_norm`); NaN when clipping is off.
  double gradient_norm = std::numeric_limits<double>::quiet_NaN();
};

/// One structural change: what, where, how much and why.
struct StructuralEvent {
  int epoch = 0;  ///< epoch after which it happened (1-based; 0 = before training)
  EventKind kind = EventKind::grow_neurons;  ///< what changed
  Index layer = -1;      ///< hidden layer (neuron edits) or dense layer (connection edits)
  Index count = 0;       ///< neurons or connections added or removed
  std::string reason{};  ///< e.g. "loss plateau", "new data", "validation worsened"
  double trigger_value = std::numeric_limits<double>::quiet_NaN();  ///< e.g. |Δloss| that fired
  std::vector<Index> sizes_after{};  ///< network sizes right after the event

  /// Whether the event added neurons or a hidden layer: what growth criteria and learning-rate
  /// schedules count as growth (a growth step may deepen a network, GrowBy::depth).
  bool grows() const { return kind == EventKind::grow_neurons || kind == EventKind::insert_layer; }
};

/// The record of a `Trainer::fit` run (accumulated over successive fits of one Trainer).
struct History {
  std::vector<EpochRecord> epochs{};      ///< one record per epoch, in order
  std::vector<StructuralEvent> events{};  ///< structural changes, in the order they happened

  /// Best validation accuracy so far (NaN if none was measured).
  double best_validation_accuracy() const {
    double best = std::numeric_limits<double>::quiet_NaN();
    for (const auto& e : epochs)
      if (!std::isnan(e.validation_accuracy) && !(e.validation_accuracy <= best))
        best = e.validation_accuracy;
    return best;
  }
};

}  // namespace neuroplast
