#pragma once
/// \file
/// What a loss compares the network's outputs with, for one batch.

#include <span>

#include "neuroplast/core/types.hpp"

namespace neuroplast {

/// Targets of one batch of `batch` columns: class labels (classification) and/or real-valued
/// targets (`outputs × batch`, column-major with outer stride `stride`). A loss that needs real
/// targets and finds none uses the one-hot encoding of the labels.
template <Scalar T>
struct Targets {
  std::span<const int> labels{};  ///< one class index per column, in [0, outputs)
  const T* values = nullptr;      ///< real targets, or null
  Index stride = 0;               ///< outer stride of `values`

  bool has_values() const noexcept { return values != nullptr; }  ///< whether real targets exist
  /// Real-valued targets of the batch, `outputs × batch`.
  ConstMatrixView<T> value_view(Index outputs, Index batch) const {
    return ConstMatrixView<T>(values, outputs, batch, Eigen::OuterStride<>(stride));
  }
};

/// What a type must provide to be used as a loss: a `name`, and `evaluate(logits, targets, grad)`
/// returning the mean loss over the batch and, when `grad` is not null, writing dLoss/dlogits
/// (`outputs × batch`) into it.
template <class L, class T>
concept Loss = requires(const ConstMatrixView<T>& logits, const Targets<T>& targets,
                        MatrixView<T>* grad) {
  { L::name } -> std::convertible_to<std::string_view>;
  { L::evaluate(logits, targets, grad) } -> std::convertible_to<T>;
};

}  // namespace neuroplast
