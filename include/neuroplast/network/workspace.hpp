#pragma once
/// \file
/// Reusable buffers for forward and backward passes, so a steady-state step never allocates.

#include <vector>

#include "neuroplast/core/gemm.hpp"
#include "neuroplast/core/growable_matrix.hpp"
#include "neuroplast/core/rng.hpp"

namespace neuroplast {

/// Per-layer activation and gradient buffers of an Mlp for one batch. Buffers keep their capacity,
/// so after the first batch of the largest size (and after the network stops growing) passes run
/// without heap allocation. A workspace adapts itself to any network it is used with; use one per
/// thread.
template <Scalar T>
class Workspace {
 public:
  /// What one dense layer did in the last pass, for its backward pass (dropout bookkeeping).
  struct LayerScratch {
    /// Which weights the pass used: the layer's own, or the substituted `w`.
    enum class Weights : unsigned char { own, substituted };
    Weights weights = Weights::own;  ///< own weights, or `w` (DropConnect-masked and/or gathered)
    bool multiplied = false;         ///< output multiplied elementwise by `mult` into `dropped`
    bool compact_out = false;        ///< output rows are only the `kept` neurons
    bool drop_connect = false;       ///< `wmult` multiplies the weights
    T alpha = T(1);                  ///< scale folded into the layer's product
    std::vector<Index> kept{};       ///< kept output neurons (batch-shared dropout)
    GrowableMatrix<T, Eigen::RowMajor> w{};      ///< substituted weights
    GrowableMatrix<T, Eigen::RowMajor> wmult{};  ///< DropConnect multipliers (0 or the scale)
    GrowableMatrix<T, Eigen::RowMajor> grad{};   ///< gradient w.r.t. `w`, before scattering
    GrowableMatrix<T> bias{};                    ///< gathered bias
    GrowableMatrix<T> bias_grad{};               ///< its gradient
    GrowableMatrix<T> mult{};                    ///< elementwise output multipliers
    GrowableMatrix<T> window_mult{};             ///< a whole batch's multipliers (windowed pass)
    GrowableMatrix<T> dropped{};                 ///< output ∘ mult: the next layer's input
    Index outputs = -1;  ///< the layer's outputs in the pass (a later edit makes it stale)
    Index inputs = -1;   ///< the layer's inputs in the pass
  };

  /// The stream dropout masks are drawn from; seed it for reproducible masks.
  Rng& rng() noexcept { return rng_; }
  /// The stream dropout masks are drawn from, read-only.
  const Rng& rng() const noexcept { return rng_; }
  /// Declares the next training passes' samples to be the columns [first, first + their count)
  /// of a batch of `total` samples (total = 0, the default: a pass is its whole batch). Per-sample
  /// dropout multipliers are then drawn for the whole batch and the window's columns used, so a
  /// process of a data-parallel run draws for its samples what one process would, and every
  /// process's stream stays in step with the others'.
  void set_sample_window(Index first, Index total) {
    window_first_ = first;
    window_total_ = total;
  }
  Index window_first() const noexcept { return window_first_; }  ///< `first` of the window
  Index window_total() const noexcept { return window_total_; }  ///< `total` (0 = no window)

  /// Scratch of dense layer l.
  LayerScratch& scratch(std::size_t l) { return scratch_[l]; }
  /// Scratch of dense layer l, read-only.
  const LayerScratch& scratch(std::size_t l) const { return scratch_[l]; }
  /// The input of dense layer l as the last pass fed it (`X` for l = 0 is not stored here).
  ConstMatrixView<T> input_of(std::size_t l) const {
    const auto& prev = scratch_[l - 1];
    return prev.multiplied ? prev.dropped.view() : activations_[l - 1].view();
  }
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
    if (scratch_.size() != layers) scratch_.resize(layers);
    activations_[l].reshape_uninitialized(width, batch);
    if (for_training) {
      if (deltas_.size() != layers) deltas_.resize(layers);
      deltas_[l].reshape_uninitialized(width, batch);
    }
  }

  /// Records the pass that just filled the buffers: a training pass of `batch` samples (−1 for
  /// any other pass, whose buffers a backward pass cannot go through), with no backward pass yet.
  /// Called by the network's passes.
  void record_pass(Index batch) {
    trained_batch_ = batch;
    backward_done_ = false;
  }
  /// Records that a backward pass went through the last training pass.
  void record_backward() { backward_done_ = true; }
  /// Samples of the last pass if it was a training pass, else −1.
  Index trained_batch() const noexcept { return trained_batch_; }
  /// Whether a backward pass went through the last training pass.
  bool backward_done() const noexcept { return backward_done_; }
  /// Layers the buffers are shaped for.
  std::size_t layers() const noexcept { return activations_.size(); }

  /// Mutable output buffer of layer l (the network writes it during forward).
  MatrixView<T> activation_buffer(std::size_t l) { return activations_[l].view(); }
  /// Packing buffers of the matrix products.
  GemmWorkspace<T>& gemm() { return gemm_; }

 private:
  std::vector<GrowableMatrix<T>> activations_;
  std::vector<GrowableMatrix<T>> deltas_;
  GemmWorkspace<T> gemm_;
  std::vector<LayerScratch> scratch_;
  Rng rng_{0x6e657572'6f706c61ULL};
  Index window_first_ = 0;
  Index window_total_ = 0;
  Index trained_batch_ = -1;
  bool backward_done_ = false;
};

}  // namespace neuroplast
