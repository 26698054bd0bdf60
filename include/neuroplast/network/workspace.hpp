#pragma once
/// \file
/// Reusable buffers for forward and backward passes, so a steady-state step never allocates.

#include <vector>

#include "neuroplast/core/gemm.hpp"
#include "neuroplast/core/growable_matrix.hpp"

namespace neuroplast {

/// Per-layer activation and gradient buffers of an Mlp for one batch. Buffers keep their capacity,
/// so after the first batch of the largest size (and after the network stops growing) passes run
/// without heap allocation. A workspace adapts itself to any network it is used with; use one per
/// thread.
template <Scalar T>
class Workspace {
 public:
  /// Output of layer l, `sizes()[l+1] × batch`, after `Mlp::forward(X, workspace)`.
  ConstMatrixView<T> activation(std::size_t l) const { return activations_[l].view(); }
  /// dLoss/d(output of layer l); the loss writes the last one, `Mlp::backward` the others.
  MatrixView<T> delta(std::size_t l) { return deltas_[l].view(); }
  /// The network's output (logits), `outputs × batch`.
  ConstMatrixView<T> output() const { return activations_.back().view(); }
  /// Where the loss writes dLoss/dlogits, `outputs × batch`.
  MatrixView<T> output_gradient() { return deltas_.back().view(); }

  /// Shapes the buffers of layer l (output width `width`) for `batch` columns; deltas only when
  /// `for_training`. Called by the network for each layer before a pass.
  void shape(std::size_t layers, std::size_t l, Index width, Index batch, bool for_training) {
    if (activations_.size() != layers) activations_.resize(layers);
    activations_[l].reshape_uninitialized(width, batch);
    if (for_training) {
      if (deltas_.size() != layers) deltas_.resize(layers);
      deltas_[l].reshape_uninitialized(width, batch);
    }
  }

  /// Mutable output buffer of layer l (the network writes it during forward).
  MatrixView<T> activation_buffer(std::size_t l) { return activations_[l].view(); }
  /// Packing buffers of the matrix products.
  GemmWorkspace<T>& gemm() { return gemm_; }

 private:
  std::vector<GrowableMatrix<T>> activations_;
  std::vector<GrowableMatrix<T>> deltas_;
  GemmWorkspace<T> gemm_;
};

}  // namespace neuroplast
