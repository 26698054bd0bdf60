#pragma once
/// \file
/// A trainable tensor and every plane of data that shares its shape.

#include <cstdint>
#include <string_view>
#include <vector>

#include "neuroplast/core/axis_edit.hpp"
#include "neuroplast/core/growable_matrix.hpp"

namespace neuroplast {

/// Marks a row or column born after the optimizer's last step; the optimizer stamps its own step
/// count there on its next step (see Param::row_birth).
inline constexpr std::int64_t kUnbornStep = -1;

/// A trainable tensor (a weight matrix `out × in` or a bias `out × 1`) bundled with every plane of
/// the same shape: its gradient, its connection mask (weights only) and the optimizer's state
/// (Adam's m and v, SGD's velocity). Its rows are the neuron axis of the layer's outputs and its
/// columns the axis of the layer's inputs, so one `apply(edit, dim)` keeps all planes in step.
///
/// Invariant: where `mask` is 0, `value`, `grad` and every state plane are exactly 0. Optimizers
/// re-establish it after each update, so a masked connection never drifts.
template <Scalar T>
struct Param {
  GrowableMatrix<T> value;  ///< the parameters
  GrowableMatrix<T> grad;   ///< dLoss/dvalue of the last backward pass
  GrowableMatrix<T> mask;   ///< 1 = active, 0 = pruned; empty for biases (no connections to prune)
  std::vector<GrowableMatrix<T>>
      state;                     ///< optimizer planes, created by the optimizer on first use
  std::string_view state_owner;  ///< which optimizer kind owns `state` ("" = none yet)
  /// Optimizer step count before each row (column) neuron existed: 0 for neurons present from the
  /// start, kUnbornStep for neurons grown since the last step. Adam uses it for per-parameter bias
  /// correction, so a neuron grown mid-training starts its moments like a fresh parameter.
  std::vector<std::int64_t> row_birth;
  std::vector<std::int64_t> col_birth;
  bool masked = false;  ///< some mask entry is 0; lets dense layers skip all mask work

  Param() = default;

  /// A zero `rows × cols` tensor; `with_mask` adds an all-ones connection mask.
  Param(Index rows, Index cols, bool with_mask)
      : value(rows, cols),
        grad(rows, cols),
        row_birth(static_cast<std::size_t>(rows), 0),
        col_birth(static_cast<std::size_t>(cols), 0) {
    if (with_mask) {
      mask = GrowableMatrix<T>(rows, cols);
      mask.view().setOnes();
    }
  }

  Index rows() const noexcept { return value.rows(); }
  Index cols() const noexcept { return value.cols(); }
  bool has_mask() const noexcept { return mask.rows() > 0; }

  /// Applies a neuron-axis edit to every plane. Grown entries are 0 in every plane except the mask,
  /// where new connections start active (1); their birth is kUnbornStep.
  void apply(const AxisEdit& edit, Dim dim) {
    value.apply(edit, dim);
    grad.apply(edit, dim);
    for (auto& plane : state) plane.apply(edit, dim);
    if (has_mask()) {
      mask.apply(edit, dim);
      if (edit.kind() == AxisEdit::Kind::grow) {
        if (dim == Dim::rows) {
          mask.view().bottomRows(edit.added()).setOnes();
        } else {
          mask.view().rightCols(edit.added()).setOnes();
        }
      }
    }
    edit.apply(dim == Dim::rows ? row_birth : col_birth, kUnbornStep);
    if (edit.kind() == AxisEdit::Kind::remove && masked) refresh_masked();
  }

  /// Reserves capacity in every plane.
  void reserve(Index rows, Index cols) {
    value.reserve(rows, cols);
    grad.reserve(rows, cols);
    if (has_mask()) mask.reserve(rows, cols);
    for (auto& plane : state) plane.reserve(rows, cols);
  }

  /// Returns `count` state planes owned by `owner`, creating zeroed ones (and discarding another
  /// optimizer's) when the owner changes. Births restart at 0 because the new owner counts anew.
  std::vector<GrowableMatrix<T>>& state_for(std::string_view owner, std::size_t count) {
    if (owner != state_owner || state.size() != count) {
      state.assign(count, GrowableMatrix<T>());
      for (auto& plane : state) {
        plane.reserve(value.row_capacity(), value.col_capacity());
        plane.reshape_zero(rows(), cols());
      }
      state_owner = owner;
      std::fill(row_birth.begin(), row_birth.end(), 0);
      std::fill(col_birth.begin(), col_birth.end(), 0);
    }
    return state;
  }

  /// Zeroes value, gradient and state where the mask is 0 (the Param invariant).
  void apply_mask() {
    if (!masked) return;
    const auto m = mask.view();
    value.view().array() *= m.array();
    grad.view().array() *= m.array();
    for (auto& plane : state) plane.view().array() *= m.array();
  }

  /// Recomputes `masked` after the mask changed.
  void refresh_masked() { masked = has_mask() && (mask.view().array() == T(0)).any(); }

  /// True when some row or column is younger than the optimizer's steps (per-parameter bias
  /// correction needed).
  bool has_young_neurons() const noexcept {
    auto young = [](const std::vector<std::int64_t>& b) {
      return std::any_of(b.begin(), b.end(), [](std::int64_t s) { return s != 0; });
    };
    return young(row_birth) || young(col_birth);
  }
};

}  // namespace neuroplast
