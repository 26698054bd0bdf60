#pragma once
/// \file
/// The forward and backward passes of a layered network, written against its public interface
/// (layer_count, layer_params, visit_layer, dropout, dropout_rates, inference_scale,
/// training_steps): the network owns the layers, the passes own the order and the dropout wiring.

#include <cstdint>
#include <vector>

#include "neuroplast/core/error.hpp"
#include "neuroplast/core/types.hpp"
#include "neuroplast/layers/dense.hpp"
#include "neuroplast/layers/dropout.hpp"
#include "neuroplast/network/dropout_engine.hpp"
#include "neuroplast/network/workspace.hpp"

namespace neuroplast::detail {

/// Which forward pass runs: inference (no dropout, inference scales), training (dropout, gradient
/// buffers shaped for backward) or sampled (dropout as in training: Monte Carlo dropout).
enum class Pass { inference, training, sampled };

/// The operand a substituted pass multiplies with (the scratch's weights and, for compacted
/// outputs, its gathered bias), shaped `out_rows × in_rows`.
template <Scalar T>
DenseOperand<T> substituted_operand(const LayerScratch<T>& sc, const DenseParams<T>& layer,
                                    Index out_rows, Index in_rows) {
  return {.weights = sc.w.data(),
          .stride = sc.w.outer_stride(),
          .rows = out_rows,
          .cols = in_rows,
          .bias = sc.compact_out ? sc.bias.data() : layer.bias().data()};
}

/// Forward pass of `net` over the batch `X` (`inputs × batch`), every layer's output into `ws`.
/// Dense layer l reads hidden layer l−1's output as its dropout left it, and its own dropout
/// (a hidden layer's) decides which rows it computes and how its output is multiplied.
template <class Net, Scalar T = typename Net::scalar>
void forward_pass(const Net& net, const MatrixRef<T>& X, Workspace<T>& ws, Pass pass) {
  using Weights = typename LayerScratch<T>::Weights;
  const auto layers = static_cast<std::size_t>(net.layer_count());
  const bool stochastic = pass != Pass::inference;
  const std::int64_t step = net.training_steps();
  ws.record_pass(-1);  // until this pass has filled every buffer
  for (std::size_t l = 0; l < layers; ++l) {
    const auto li = static_cast<Index>(l);
    const DenseParams<T>& layer = net.layer_params(li);
    ws.shape(layers, l, layer.outputs(), X.cols(), pass == Pass::training);
    auto& sc = ws.scratch(l);
    sc.outputs = layer.outputs();
    sc.inputs = layer.inputs();
    sc.alpha = T(1);
    sc.weights = Weights::own;
    sc.multiplied = sc.compact_out = sc.drop_connect = false;
    // The previous hidden layer's dropout decides how this layer reads its input.
    const std::vector<Index>* in_kept = nullptr;
    if (!stochastic) sc.alpha = net.inference_scale(li);
    if (stochastic && l > 0) {
      const Dropout& prev = net.dropout(li - 1);
      const double p = prev.rate_at(step);
      if (p > 0 && prev.kind == DropoutKind::batch_shared) {
        in_kept = &ws.scratch(l - 1).kept;
        if (prev.convention == DropoutConvention::inverted) sc.alpha = static_cast<T>(1 / (1 - p));
      }
    }
    const Dropout own = l + 1 < layers ? net.dropout(li) : Dropout{};
    const double p = own.rate_at(step);
    if (stochastic && p > 0 && own.kind == DropoutKind::batch_shared)
      sample_kept<T>(sc, layer.outputs(), p, ws.rng());
    if (sc.compact_out || in_kept != nullptr) gather_weights<T>(sc, layer, in_kept);
    if (stochastic && p > 0 && own.kind == DropoutKind::drop_connect)
      mask_connections<T>(sc, layer, own, p, ws.rng());
    if (sc.compact_out)
      ws.shape(layers, l, static_cast<Index>(sc.kept.size()), X.cols(), pass == Pass::training);
    const MatrixRef<T> in = l == 0 ? MatrixRef<T>(X) : MatrixRef<T>(ws.input_of(l));
    auto out = ws.activation_buffer(l);
    const bool own_w = sc.weights == Weights::own;
    const DenseOperand<T> sub =
        own_w ? DenseOperand<T>{} : substituted_operand<T>(sc, layer, out.rows(), in.rows());
    net.visit_layer(li, [&](const auto& dense) {
      dense.forward(in, out, sc.alpha, ws.gemm(), own_w ? nullptr : &sub);
    });
    if (stochastic && p > 0 &&
        (own.kind == DropoutKind::bernoulli || own.kind == DropoutKind::gaussian)) {
      multiply_outputs<T>(sc, out, own, p, net.dropout_rates(li), ws.rng(), ws.window_first(),
                          ws.window_total());
    }
  }
  if (pass == Pass::training) ws.record_pass(X.cols());
}

/// Throws Error unless `ws` holds a training pass of `net` over `X` (`inputs × batch`) that the
/// network has not been edited since (and, with `after_backward`, a backward pass through it):
/// what `backward` and `full_weight_gradient` read. `what` names the caller.
template <class Net, Scalar T = typename Net::scalar>
void check_training_pass(const Net& net, const MatrixRef<T>& X, const Workspace<T>& ws,
                         const char* what, bool after_backward) {
  if (ws.trained_batch() < 0) {
    fail(what,
         ": the workspace holds no training pass; call forward_train(X, ws) with it first "
         "(a forward or forward_sampled pass in between replaces it)");
  }
  if (after_backward && !ws.backward_done())
    fail(what, ": the workspace holds no backward pass; call backward(X, ws) after forward_train");
  const auto layers = static_cast<std::size_t>(net.layer_count());
  bool same = ws.layers() == layers;
  for (std::size_t l = 0; same && l < layers; ++l) {
    const auto& layer = net.layer_params(static_cast<Index>(l));
    same = ws.scratch(l).outputs == layer.outputs() && ws.scratch(l).inputs == layer.inputs();
  }
  if (!same) {
    fail(what,
         ": the network was edited after the forward_train pass the workspace holds; run "
         "forward_train again");
  }
  if (X.rows() != net.input_size() || X.cols() != ws.trained_batch()) {
    fail(what, ": X is ", format_shape(X.rows(), X.cols()), " but the forward_train pass was over ",
         format_shape(net.input_size(), ws.trained_batch()), "; pass the same batch");
  }
}

/// What `backward_pass` calls when a layer's gradients are final: nothing.
struct NoLayerHook {
  void operator()(Index) const noexcept {}
};

/// Backward pass of `net` after `forward_pass(net, X, ws, Pass::training)` and after the loss
/// wrote dLoss/dlogits into `ws.output_gradient()`: sets every layer's weight and bias gradient
/// (zero where masked or dropped), from the last layer to the first, and calls
/// `layer_done(l)` as soon as layer l's gradients are final (later layers never touch them).
template <class Net, Scalar T = typename Net::scalar, class LayerDone = NoLayerHook>
void backward_pass(Net& net, const MatrixRef<T>& X, Workspace<T>& ws, LayerDone&& layer_done = {}) {
  using Weights = typename LayerScratch<T>::Weights;
  for (std::size_t l = static_cast<std::size_t>(net.layer_count()); l-- > 0;) {
    auto& sc = ws.scratch(l);
    auto delta = ws.delta(l);
    if (sc.multiplied) delta.array() *= sc.mult.view().array();  // dLoss/dA from dLoss/d(A ∘ mult)
    const MatrixRef<T> in = l == 0 ? MatrixRef<T>(X) : MatrixRef<T>(ws.input_of(l));
    MatrixView<T> delta_in_view = l == 0 ? ws.delta(0) : ws.delta(l - 1);
    MatrixView<T>* delta_in = l == 0 ? nullptr : &delta_in_view;
    net.visit_layer(static_cast<Index>(l), [&](auto& dense) {
      if (sc.weights == Weights::own) {
        dense.backward(in, ws.activation(l), delta, delta_in, sc.alpha, ws.gemm());
        return;
      }
      const Index rows = delta.rows();
      const Index cols = in.rows();
      sc.grad.reshape_uninitialized(rows, cols);
      sc.bias_grad.reshape_uninitialized(rows, 1);
      const DenseOperand<T> sub = substituted_operand<T>(sc, dense, rows, cols);
      const DenseGradient<T> into{
          .weights = sc.grad.data(), .stride = sc.grad.outer_stride(), .bias = sc.bias_grad.data()};
      dense.backward(in, ws.activation(l), delta, delta_in, sc.alpha, ws.gemm(), &sub, &into);
      if (sc.drop_connect) sc.grad.view().array() *= sc.wmult.view().array();
      const bool in_compact = l > 0 && ws.scratch(l - 1).compact_out;
      scatter_gradients<T>(sc, dense, in_compact ? &ws.scratch(l - 1).kept : nullptr);
      dense.weight_param().mask_gradient();
    });
    layer_done(static_cast<Index>(l));
  }
  ws.record_backward();
}

}  // namespace neuroplast::detail
