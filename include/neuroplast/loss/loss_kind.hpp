#pragma once
/// \file
/// Which loss a run minimises, and the one place that dispatches on it.

#include "neuroplast/loss/mse.hpp"
#include "neuroplast/loss/softmax_cross_entropy.hpp"
#include "neuroplast/loss/targets.hpp"

namespace neuroplast {

/// The loss a Trainer minimises (and that pruning criteria and GradMax differentiate).
enum class LossKind {
  softmax_cross_entropy,  ///< classification: logits and integer labels (SoftmaxCrossEntropy)
  mean_squared_error,     ///< regression, or one-hot labels (MeanSquaredError)
};

/// Mean loss `kind` of `logits` (`outputs × batch`) against `targets`; when `grad` is not null,
/// writes dLoss/dlogits (`outputs × batch`) into it. Throws Error on targets the loss cannot use.
template <class Logits, Scalar T, class Grad>
T evaluate_loss(LossKind kind, const Eigen::MatrixBase<Logits>& logits, const Targets<T>& targets,
                Grad* grad) {
  if (kind == LossKind::mean_squared_error)
    return MeanSquaredError::evaluate(logits, targets, grad);
  return SoftmaxCrossEntropy::evaluate(logits, targets, grad);
}

}  // namespace neuroplast
