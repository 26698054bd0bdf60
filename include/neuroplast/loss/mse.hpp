#pragma once
/// \file
/// Mean squared error over all outputs of a batch.

#include <string_view>

#include "neuroplast/core/error.hpp"
#include "neuroplast/loss/targets.hpp"

namespace neuroplast {

/// L = (1/(B·K)) Σ (z − t)² over the K outputs of B columns, gradient 2 (z − t) / (B·K). `t` is
/// `targets.values`, or the one-hot encoding of `targets.labels` when there are no real targets.
struct MeanSquaredError {
  static constexpr std::string_view name = "mean_squared_error";  ///< as LossKind spells it

  /// `outputs`: `outputs × batch`; `targets`: real targets of that shape, or one label per column
  /// in [0, outputs). Returns the mean loss; writes dLoss/doutputs into `grad` unless it is null.
  template <class Logits, class T, class Grad = MatrixView<T>>
  static T evaluate(const Eigen::MatrixBase<Logits>& outputs, const Targets<T>& targets,
                    Grad* grad = nullptr) {
    const Index k = outputs.rows();
    const Index batch = outputs.cols();
    const T scale = T(1) / static_cast<T>(batch * k);
    T total = 0;
    if (targets.has_values()) {
      const auto t = targets.value_view(k, batch);
      total = (outputs - t).squaredNorm();
      if (grad != nullptr) grad->noalias() = (T(2) * scale) * (outputs - t);
      return total * scale;
    }
    if (static_cast<Index>(targets.labels.size()) != batch) {
      detail::fail(
          "mean_squared_error: ", targets.labels.size(), " labels for a batch of ", batch,
          " columns and no real-valued targets; pass one label or target column per sample");
    }
    for (Index c = 0; c < batch; ++c) {
      const int y = targets.labels[static_cast<std::size_t>(c)];
      if (y < 0 || y >= k) {
        detail::fail("mean_squared_error: label ", y, " of sample ", c, " is outside [0, ", k, ")");
      }
      const auto z = outputs.col(c);
      total += z.squaredNorm() - z(y) * z(y) + (z(y) - T(1)) * (z(y) - T(1));
      if (grad != nullptr) {
        auto g = grad->col(c);
        g = (T(2) * scale) * z;
        g(y) -= T(2) * scale;
      }
    }
    return total * scale;
  }
};

}  // namespace neuroplast
