#pragma once
/// \file
/// A trainable tensor and every plane of data that shares its shape.

#include <algorithm>
#include <cassert>
#include <cstdint>
#include <string_view>
#include <vector>

#include "neuroplast/core/axis_edit.hpp"
#include "neuroplast/core/growable_matrix.hpp"
#include "neuroplast/core/mask_bits.hpp"
#include "neuroplast/core/sparse_pattern.hpp"
#include "neuroplast/core/threading.hpp"

namespace neuroplast {

/// Marks a row or column born after the optimizer's last step; the optimizer stamps its own step
/// count there on its next step (see Param::row_birth).
inline constexpr std::int64_t kUnbornStep = -1;

/// What a grow edit writes into the new slots of a Param's value plane.
enum class GrowValues {
  zero,    ///< zeros (a plain structural edit)
  caller,  ///< nothing: the caller writes every new entry itself (initialisers), saving a pass
};

/// A trainable tensor (a weight matrix `out × in` or a bias `out × 1`) bundled with every plane of
/// the same shape: its gradient, its connection mask (weights only) and the optimizer's state
/// (Adam's m and v, SGD's velocity). Its rows are the neuron axis of the layer's outputs and its
/// columns the axis of the layer's inputs, so one `apply(edit, dim)` keeps all planes in step.
///
/// Planes are row-major: the fan-in of each output neuron is contiguous, so a new neuron's row is
/// written as fresh contiguous memory.
///
/// The mask is materialised on the first prune; until then every connection is active and growth
/// does not pay for a mask plane.
///
/// Invariant: where the mask is 0, `value`, `grad` and every state plane are exactly 0. Backward
/// passes mask the gradient, so an optimizer's update keeps it (the moments stay 0 and weight
/// decay scales a 0); code that writes into `value` or `grad` there restores it with `apply_mask`
/// or `mask_gradient` (the Trainer does after an `on_gradients` hook).
template <Scalar T>
struct Param {
  ParamMatrix<T> value;  ///< the parameters
  /// dLoss/dvalue of the last backward pass. Scratch: a structural edit keeps its shape in step but
  /// not its contents (unspecified until the next backward pass), so edits never copy it.
  ParamMatrix<T> grad;
  ParamMatrix<T> mask;                  ///< 1 = active, 0 = pruned; empty until first pruned
  std::vector<ParamMatrix<T>> state{};  ///< optimizer planes, created by the optimizer on first use
  std::string_view state_owner{};       ///< which optimizer kind owns `state` ("" = none yet)
  /// Optimizer step count before each row (column) neuron existed, or kUnbornStep for neurons
  /// whose state was created since the optimizer's last step. Adam uses it for per-parameter bias
  /// correction, so a neuron grown mid-training starts its moments like a fresh parameter.
  std::vector<std::int64_t> row_birth{};
  std::vector<std::int64_t> col_birth{};  ///< the same, per column neuron
  /// How much each row (output neuron) may still learn, in [0, 1]: optimizers scale the row's
  /// update by it and skip rows at 0 (frozen: bit-identical). Empty = every row at 1, so a network
  /// that never sets plasticity pays nothing for it. Bound to the row axis: grown rows get 1.
  std::vector<T> row_plasticity{};
  bool maskable = false;  ///< weights can be pruned, biases cannot
  bool masked = false;    ///< the mask exists and has a 0; lets layers skip all mask work
  /// Where the active connections are, while the mask is sparse enough for products to skip the
  /// pruned ones (density ≤ kMaxSparseDensity); empty otherwise. Rebuilt by `refresh_masked`,
  /// which every mask change and every axis edit of a masked tensor calls.
  SparsePattern active{};
  /// The mask one bit per entry while `masked` (empty otherwise): what `mask_gradient` reads, a
  /// 32nd of the mask plane's bytes. Rebuilt by `refresh_masked`, like `active`.
  MaskBits mask_bits{};

  Param() = default;

  /// A zero `rows × cols` tensor; `maskable` for weight matrices.
  Param(Index rows, Index cols, bool can_mask)
      : value(rows, cols),
        grad(rows, cols),
        row_birth(static_cast<std::size_t>(rows), kUnbornStep),
        col_birth(static_cast<std::size_t>(cols), kUnbornStep),
        maskable(can_mask) {}

  Index rows() const noexcept { return value.rows(); }        ///< rows of every plane
  Index cols() const noexcept { return value.cols(); }        ///< columns of every plane
  bool has_mask() const noexcept { return mask.rows() > 0; }  ///< whether the mask plane exists

  /// Creates the all-ones mask plane if it does not exist yet.
  void materialise_mask() {
    if (has_mask()) return;
    mask.reserve(value.row_capacity(), value.col_capacity());
    mask.reshape_uninitialized(rows(), cols());
    mask.view().setOnes();
  }

  /// Applies a neuron-axis edit to every plane. Grown entries are 0 in the state planes, 1 in the
  /// mask and in the row plasticity, as `values` says in the value plane; their birth is
  /// kUnbornStep. The gradient only takes the new shape.
  void apply(const AxisEdit& edit, Dim dim, GrowValues values = GrowValues::zero) {
    static constexpr T one = T(1);
    value.apply(edit, dim, values == GrowValues::zero ? &zero_ : nullptr);
    grad.reshape_uninitialized(value.rows(), value.cols());
    for (auto& plane : state) plane.apply(edit, dim);
    if (has_mask()) mask.apply(edit, dim, &one);
    edit.apply(dim == Dim::rows ? row_birth : col_birth, kUnbornStep);
    if (dim == Dim::rows && !row_plasticity.empty()) edit.apply(row_plasticity, one);
    if (has_mask()) refresh_masked();
  }

  /// Reserves capacity in every plane.
  void reserve(Index rows, Index cols) {
    value.reserve(rows, cols);
    grad.reserve(rows, cols);
    if (has_mask()) mask.reserve(rows, cols);
    for (auto& plane : state) plane.reserve(rows, cols);
    row_birth.reserve(static_cast<std::size_t>(rows));
    col_birth.reserve(static_cast<std::size_t>(cols));
    if (!row_plasticity.empty()) row_plasticity.reserve(static_cast<std::size_t>(rows));
  }

  /// Plasticity of row r (1 when none is set).
  T plasticity(Index r) const noexcept {
    return row_plasticity.empty() ? T(1) : row_plasticity[static_cast<std::size_t>(r)];
  }

  /// Returns `count` state planes owned by `owner`, creating zeroed ones (and discarding another
  /// optimizer's) when the owner changes. The parameter's age then restarts: every birth becomes
  /// kUnbornStep, to be stamped by the owner's next step.
  std::vector<ParamMatrix<T>>& state_for(std::string_view owner, std::size_t count) {
    if (owner != state_owner || state.size() != count) {
      state.assign(count, ParamMatrix<T>());
      for (auto& plane : state) {
        plane.reserve(value.row_capacity(), value.col_capacity());
        plane.reshape_zero(rows(), cols());
      }
      state_owner = owner;
      std::fill(row_birth.begin(), row_birth.end(), kUnbornStep);
      std::fill(col_birth.begin(), col_birth.end(), kUnbornStep);
    }
    return state;
  }

  /// Whether the tensor has a sparse pattern of its active entries: then optimizers update only
  /// those, and products visit only those where `sparse_product_pays` (the pruned entries are 0
  /// in every plane and, unvisited, stay 0; a dense update of a 90%-pruned layer spends nine
  /// tenths of its memory traffic on zeros).
  bool computes_sparse() const noexcept { return masked && !active.empty(); }

  /// Zeroes the gradient where the mask is 0 (multiplies it by the mask, reading `mask_bits`),
  /// split over threads by the element-wise rule. A dense backward pass, whose GEMM computes every
  /// entry, does the same block by block inside the product (`gemm`'s epilogue); call this after
  /// writing into a masked gradient yourself.
  void mask_gradient() {
    if (!masked) return;
    assert(mask_bits.rows == rows() && mask_bits.cols == cols());
    detail::parallel_rows(rows(), cols(), [&](Index r0, Index r1) {
      mask_bits.multiply_rows(grad.data(), grad.outer_stride(), r0, r1);
    });
  }

  /// Zeroes value, gradient and state where the mask is 0 (the Param invariant).
  void apply_mask() {
    if (!masked) return;
    const auto m = mask.view();
    value.view().array() *= m.array();
    grad.view().array() *= m.array();
    for (auto& plane : state) plane.view().array() *= m.array();
  }

  /// Recomputes `masked`, the mask's bits and the sparse pattern after the mask changed. With a
  /// pattern, the gradient plane is zeroed: sparse backward passes write only the active entries,
  /// so the pruned ones must already be 0 (the gradient is scratch between passes, so nothing is
  /// lost).
  void refresh_masked() {
    // The bits say whether anything is masked, so the mask is read once for both.
    if (has_mask()) mask_bits.build(mask.view());
    masked = has_mask() && !mask_bits.all_set();
    if (!masked) mask_bits.clear();
    if (!masked || !active.build(mask.view(), kMaxSparseDensity, mask_bits.count())) {
      active.clear();
      return;
    }
    grad.view().setZero();
  }

  /// True when some row or column is younger than the optimizer's steps (per-parameter bias
  /// correction needed).
  bool has_young_neurons() const noexcept {
    auto young = [](const std::vector<std::int64_t>& b) {
      return std::any_of(b.begin(), b.end(), [](std::int64_t s) { return s != 0; });
    };
    return young(row_birth) || young(col_birth);
  }

 private:
  static constexpr T zero_ = T(0);
};

}  // namespace neuroplast
