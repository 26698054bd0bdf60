#pragma once
/// \file
/// The loss a model reaches without looking at the features: the reference "chance" level of a
/// loss on a dataset.

#include <cmath>
#include <limits>
#include <vector>

#include "neuroplast/core/error.hpp"
#include "neuroplast/core/types.hpp"
#include "neuroplast/data/dataset.hpp"
#include "neuroplast/loss/batch_targets.hpp"
#include "neuroplast/loss/loss_function.hpp"
#include "neuroplast/loss/loss_kind.hpp"

namespace neuroplast {

/// The mean loss `kind` of the best constant prediction on `data` for a network with `outputs`
/// outputs: what a model that ignores the features reaches, so a loss far below it has been
/// learned from them, whatever the first epoch reached.
/// - softmax cross-entropy on labels: the entropy of the class frequencies p, −Σ p_c ln p_c
///   (ln C for C balanced classes), reached by logits ln p;
/// - mean squared error on labels (one-hot targets): (1/K) Σ_k p_k (1 − p_k) over the K =
///   `outputs` classes, reached by predicting p;
/// - mean squared error on real targets (`outputs × size()`): the mean over the outputs of the
///   targets' variance (population, 1/n), reached by predicting their means.
///
/// `outputs` matters only for labels (real targets bring their own rows). NaN for an empty
/// dataset. Throws Error when `outputs` < 1, when a label lies outside [0, `outputs`), or for
/// cross-entropy on a dataset with real-valued targets.
template <Scalar T>
double constant_prediction_loss(LossKind kind, const Dataset<T>& data, Index outputs) {
  if (outputs < 1) {
    detail::fail("constant_prediction_loss: outputs = ", outputs, " must be ≥ 1");
  }
  const Index n = data.size();
  if (n == 0) return std::numeric_limits<double>::quiet_NaN();
  const auto samples = static_cast<double>(n);
  if (data.has_targets()) {
    if (kind != LossKind::mean_squared_error) {
      detail::fail(
          "constant_prediction_loss: the dataset has real-valued targets, which only "
          "mean_squared_error can use");
    }
    const Matrix<T>& t = data.targets();
    double total = 0;
    for (Index k = 0; k < t.rows(); ++k) {
      // Two passes in double: the targets may sit far from 0 (prices, years).
      double mean = 0;
      for (Index i = 0; i < n; ++i) mean += static_cast<double>(t(k, i));
      mean /= samples;
      double squares = 0;
      for (Index i = 0; i < n; ++i) {
        const double d = static_cast<double>(t(k, i)) - mean;
        squares += d * d;
      }
      total += squares / samples;
    }
    return total / static_cast<double>(t.rows());
  }
  std::vector<double> count(static_cast<std::size_t>(outputs), 0.0);
  for (const int y : data.labels()) {
    if (y < 0 || y >= outputs) {
      detail::fail("constant_prediction_loss: label ", y, " lies outside [0, ", outputs,
                   "); the network has ", outputs, " outputs");
    }
    count[static_cast<std::size_t>(y)] += 1;
  }
  double total = 0;
  for (const double c : count) {
    const double p = c / samples;
    if (kind == LossKind::mean_squared_error) {
      total += p * (1 - p);
    } else if (p > 0) {
      total -= p * std::log(p);
    }
  }
  return kind == LossKind::mean_squared_error ? total / static_cast<double>(outputs) : total;
}

/// As above for any LossFunction: a built-in kind as above; a loss of one's own at zero outputs
/// (real targets bring their own row count), the neutral constant, which no better constant
/// need be known for: for cross-entropy it is ln C, for the squared error the mean square of the
/// targets, both at or above the best constant's loss.
template <Scalar T>
double constant_prediction_loss(const LossFunction& loss, const Dataset<T>& data, Index outputs) {
  if (const auto kind = loss.kind()) return constant_prediction_loss(*kind, data, outputs);
  if (outputs < 1) {
    detail::fail("constant_prediction_loss: outputs = ", outputs, " must be ≥ 1");
  }
  const Index n = data.size();
  if (n == 0) return std::numeric_limits<double>::quiet_NaN();
  const Index rows = data.has_targets() ? data.targets().rows() : outputs;
  const Matrix<T> zero = Matrix<T>::Zero(rows, n);
  return static_cast<double>(
      loss.evaluate(zero, batch_targets(data, 0, n), static_cast<MatrixView<T>*>(nullptr)));
}

}  // namespace neuroplast
