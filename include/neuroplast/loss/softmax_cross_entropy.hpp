#pragma once
/// \file
/// Softmax followed by cross-entropy, fused so it stays finite for any finite logits.

#include <cmath>
#include <string_view>

#include "neuroplast/core/error.hpp"
#include "neuroplast/loss/targets.hpp"

namespace neuroplast {

/// L = (1/B) Σ_columns [ log Σ_k e^{z_k} − z_y ], with gradient (softmax(z) − onehot(y)) / B.
/// Each column is shifted by its maximum first, so large logits cannot overflow.
struct SoftmaxCrossEntropy {
  static constexpr std::string_view name = "softmax_cross_entropy";  ///< as LossKind spells it

  /// `logits`: `classes × batch`; `targets.labels`: one label per column in [0, classes).
  template <class Logits, class T, class Grad = MatrixView<T>>
  static T evaluate(const Eigen::MatrixBase<Logits>& logits, const Targets<T>& targets,
                    Grad* grad = nullptr) {
    const Index classes = logits.rows();
    const Index batch = logits.cols();
    if (static_cast<Index>(targets.labels.size()) != batch) {
      detail::fail("softmax_cross_entropy: ", targets.labels.size(), " labels for a batch of ",
                   batch, " columns; pass one label per sample");
    }
    const T inv_batch = T(1) / static_cast<T>(batch);
    T total = 0;
    for (Index c = 0; c < batch; ++c) {
      const int y = targets.labels[static_cast<std::size_t>(c)];
      if (y < 0 || y >= classes) {
        detail::fail("softmax_cross_entropy: label ", y, " of sample ", c, " is outside [0, ",
                     classes, "); the network has ", classes, " outputs");
      }
      const auto z = logits.col(c);
      const T shift = z.maxCoeff();
      if (grad != nullptr) {
        auto g = grad->col(c);
        g.array() = (z.array() - shift).exp();
        const T sum = g.sum();
        total += std::log(sum) + shift - z(y);
        g *= inv_batch / sum;
        g(y) -= inv_batch;
      } else {
        const T sum = (z.array() - shift).exp().sum();
        total += std::log(sum) + shift - z(y);
      }
    }
    return total * inv_batch;
  }
};

}  // namespace neuroplast
