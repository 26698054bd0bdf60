#pragma once
/// \file
/// A read-only copy of a trained network for serving, with the active weights of pruned layers
/// packed so that single samples gain from pruning too.

#include <cassert>
#include <cstddef>
#include <cstdint>
#include <utility>
#include <vector>

#include "neuroplast/core/error.hpp"
#include "neuroplast/core/gemm.hpp"
#include "neuroplast/core/sparse_pattern.hpp"
#include "neuroplast/core/sparse_product.hpp"
#include "neuroplast/core/types.hpp"
#include "neuroplast/layers/activation.hpp"
#include "neuroplast/layers/dense.hpp"
#include "neuroplast/network/check_batch.hpp"
#include "neuroplast/network/mlp.hpp"

namespace neuroplast {

/// Whether an InferenceSnapshot computes a layer whose active weights (`density` of all, 0..1)
/// it holds packed on them for a batch of `batch` samples. A single sample reads the packed
/// weights contiguously and fetches its inputs: under AVX2 into vectors of eight (lane by lane or
/// with the gather instruction, whichever this processor runs faster: `detail::gather_fetch_pays`),
/// faster than the dense matrix-vector product up to a density of a quarter (784-1024-1024-10
/// on this project's 2-core AMD EPYC, one thread: 4.2–4.8 × at 10%, 2.4 × at 20% where the dense
/// weights come from memory; 1.6–2.0 × at 10% on a host that keeps them cached; 4.2–4.6 × at 10%
/// on an Intel Xeon with the gather); without AVX2 one at a time, up to a tenth. A batch follows
/// the network's own rule (`sparse_product_pays`), whose crossovers were measured with the weights
/// read from the dense plane, which packed weights only beat.
inline bool packed_product_pays(double density, Index batch) {
#if defined(__AVX2__)
  constexpr double single_sample = 0.25;
#else
  constexpr double single_sample = 0.10;
#endif
  return batch <= 1 ? density <= single_sample : sparse_product_pays(density, batch);
}

/// A read-only copy of a network's inference (`forward`): the same outputs, computed from copies
/// of its weights, biases and inference scales (dropout), taken when the snapshot is built; later
/// training or edits of the network do not reach it. Build one to serve a trained, pruned
/// network.
///
/// The network's own `forward` keeps the weights of a pruned layer in their dense plane, where
/// training updates them, and its sparse products read the active ones from there: at 10%
/// density they still touch most of the plane's cache lines, so a single sample runs at the dense
/// speed. The snapshot stores each pruned layer's active weights packed in the order of its
/// SparsePattern (a layer pruned to at most `kMaxSparseDensity`), next to a dense copy, and picks
/// per call (`packed_product_pays`): 784-1024-1024-10 with 90% of its connections pruned answers a
/// single sample 3.1–4.7× faster than the unpruned network on one thread, about 3–3.9× on two,
/// where the dense weights come from memory; 1.6–2.0× (1.8× on two threads) where the cache holds
/// them (docs/performance.md).
///
/// Results: a layer computed densely gives the network's bits; a packed layer sums in another
/// order (within rounding: 1e-6 relative in float), except for a batch on which the network also
/// takes its sparse path, where the sums are the same and so are the bits.
///
/// `T`, `Act`: the network's scalar and hidden activation (the output layer is linear).
template <Scalar T, Activation Act = Relu>
class InferenceSnapshot {
 public:
  using scalar = T;  ///< element type of every tensor

  /// Intermediate buffers of `forward(X, ws)`: one per layer and the products' scratch. Reused,
  /// they make inference allocation-free once they have seen a batch of a size.
  struct Workspace {
    std::vector<Matrix<T>> outputs{};  ///< each layer's output, `sizes()[l + 1] × batch`
    GemmWorkspace<T> gemm{};           ///< the products' packing and transposition buffers
  };

  /// Copies the inference of `net`. Only an Mlp of `Dense` layers with this scalar and hidden
  /// activation converts: the snapshot computes as `Dense` does, so a network of another layer
  /// type or activation would be answered wrongly, not refused. Throws NumericError when a weight
  /// or bias is not finite (every answer would be NaN; `save` refuses such a network too).
  explicit InferenceSnapshot(const Mlp<T, Act, Dense>& net) {
    detail::check_not_empty(net.input_size(), "InferenceSnapshot");
    const Index count = net.layer_count();
    assert(count >= 1);  // an Mlp always has its output layer
    for (Index l = 0; l < count; ++l) {
      const DenseParams<T>& d = net.layer_params(l);
      if (!d.weights().allFinite() || !d.bias().allFinite()) {
        detail::fail<NumericError>("InferenceSnapshot: dense layer ", l,
                                   " holds a weight or bias that is not finite; a network with "
                                   "non-finite parameters cannot be served (retrain or reload it)");
      }
    }
    layers_.reserve(static_cast<std::size_t>(count));
    for (Index l = 0; l < count; ++l) {
      const DenseParams<T>& d = net.layer_params(l);
      const Param<T>& p = d.weight_param();
      Layer layer{.weights = RowMatrix(d.weights()),
                  .bias = Vector<T>(d.bias()),
                  .alpha = net.inference_scale(l)};
      if (p.computes_sparse()) {
        // The products of inference read the pattern by rows only: its column index would be
        // half again the packed copy's size for nothing.
        layer.pattern = p.active;
        layer.pattern.col_start = {};
        layer.pattern.col_rows = {};
        layer.packed.reserve(static_cast<std::size_t>(p.active.nonzeros()));
        const auto w = d.weights();
        for (Index r = 0; r < p.active.rows; ++r) {
          for (auto k = p.active.row_start[static_cast<std::size_t>(r)];
               k < p.active.row_start[static_cast<std::size_t>(r) + 1]; ++k)
            layer.packed.push_back(w(r, p.active.row_cols[static_cast<std::size_t>(k)]));
        }
      }
      layers_.push_back(std::move(layer));
    }
  }

  /// Dense layers: the network's `layer_count()`.
  Index layer_count() const noexcept { return static_cast<Index>(layers_.size()); }

  /// {inputs, widths of the hidden layers…, outputs}, as the network's `sizes()` when built.
  std::vector<Index> sizes() const {
    std::vector<Index> s{layers_.front().weights.cols()};
    for (const Layer& l : layers_) s.push_back(l.weights.rows());
    return s;
  }

  /// Whether dense layer l holds its active weights packed (it was pruned to at most
  /// `kMaxSparseDensity`); whether a call uses them is `packed_product_pays`'s choice per batch.
  bool packed(Index l) const {
    check_layer(l);
    return !layers_[static_cast<std::size_t>(l)].pattern.empty();
  }

  /// The logits of the batch `X` (`sizes()[0] × batch`, samples are columns): `sizes().back() ×
  /// batch`, what the network's `forward(X)` gave when the snapshot was built. Throws Error on a
  /// wrong row count or an empty batch, NumericError on NaN or infinity in `X` or in the logits
  /// (an input too large for the network).
  Matrix<T> forward(const MatrixRef<T>& X) const {
    Workspace ws;
    Matrix<T> logits(forward(X, ws));
    // The parameters are finite (the constructor checks): only an input can overflow.
    detail::check_logits(logits, "InferenceSnapshot::forward", [] { return std::string(); });
    return logits;
  }

  /// As `forward(X)`, every intermediate in `ws`. The returned view points into `ws` and lives
  /// until its next use. Safe to call from several threads at once with a workspace each.
  ConstMatrixView<T> forward(const MatrixRef<T>& X, Workspace& ws) const {
    detail::check_batch(X, layers_.front().weights.cols(), "InferenceSnapshot::forward", true);
    ws.outputs.resize(layers_.size());
    const Index batch = X.cols();
    for (std::size_t l = 0; l < layers_.size(); ++l) {
      const Layer& layer = layers_[l];
      Matrix<T>& out = ws.outputs[l];
      if (out.rows() != layer.weights.rows() || out.cols() != batch)
        out.resize(layer.weights.rows(), batch);
      const MatrixRef<T> in = l == 0 ? MatrixRef<T>(X) : MatrixRef<T>(ws.outputs[l - 1]);
      const bool use_packed =
          !layer.pattern.empty() && packed_product_pays(layer.pattern.density(), batch);
      MatrixView<T> view(out.data(), out.rows(), out.cols(), Eigen::OuterStride<>(out.rows()));
      const auto run = [&](auto act) {
        detail::dense_forward<decltype(act)>(
            layer.weights.data(), layer.weights.cols(), layer.weights.rows(), layer.weights.cols(),
            layer.bias.data(), in, view, layer.alpha, ws.gemm,
            use_packed ? &layer.pattern : nullptr, use_packed ? layer.packed.data() : nullptr);
      };
      if (l + 1 < layers_.size()) {
        run(Act{});
      } else {
        run(Identity{});
      }
    }
    const Matrix<T>& last = ws.outputs.back();
    return ConstMatrixView<T>(last.data(), last.rows(), last.cols(),
                              Eigen::OuterStride<>(last.rows()));
  }

  /// Index of the largest logit of each column of `X`, as the network's `predict`.
  std::vector<int> predict(const MatrixRef<T>& X) const {
    return detail::argmax_per_column(forward(X));
  }

 private:
  using RowMatrix = Eigen::Matrix<T, Eigen::Dynamic, Eigen::Dynamic, Eigen::RowMajor>;
  struct Layer {
    RowMatrix weights;        // `outputs × inputs`
    Vector<T> bias;           // `outputs`
    T alpha = T(1);           // inference scale
    SparsePattern pattern{};  // the active connections, when packed (empty: dense only)
    std::vector<T> packed{};  // their weights, in the pattern's order
  };

  void check_layer(Index l) const {
    if (l < 0 || l >= layer_count()) {
      detail::fail("InferenceSnapshot: layer ", l, " does not exist (the snapshot has ",
                   layer_count(), " dense layers)");
    }
  }

  std::vector<Layer> layers_;
};

}  // namespace neuroplast
