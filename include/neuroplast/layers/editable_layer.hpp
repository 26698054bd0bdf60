#pragma once
/// \file
/// What a layer type must provide for a network to hold it: the concept `EditableLayer`.

#include <concepts>

#include "neuroplast/core/axis_edit.hpp"
#include "neuroplast/core/gemm.hpp"
#include "neuroplast/core/param.hpp"
#include "neuroplast/core/types.hpp"
#include "neuroplast/layers/activation.hpp"
#include "neuroplast/layers/dense.hpp"

namespace neuroplast {

namespace detail {
/// The narrowest callable `for_each_param` must accept: `f(Param<T>&, ParamKind)`.
template <Scalar T>
struct ParamVisitorArchetype {
  void operator()(Param<T>&, ParamKind) const {}
};
}  // namespace detail

/// A layer a network can hold (`Mlp<T, Act, Layer>`, network/layer_stack.hpp) and edit in place:
/// a map from `inputs()` to `outputs()` neurons whose parameters are a weight matrix
/// (`outputs × inputs`, with its mask, gradient, optimizer state and plasticity) and a bias
/// (`outputs`) — it derives from `DenseParams<scalar>`, which is what LRP, the pruning criteria,
/// the optimizers' per-neuron plasticity and the file formats read — and whose function is
/// `f(W x + b)` with `f = activation` (the function LRP explains and the exporters write). What a
/// layer type chooses is how it computes and what else it keeps:
///
/// - `L(inputs, outputs)` builds it with zero parameters (the network initialises them), `L()` an
///   empty one;
/// - `apply_output_edit(edit, values)` / `apply_input_edit(edit, values)` apply an `AxisEdit` of
///   its output / input neuron axis to every per-neuron tensor it holds — DenseParams' planes and
///   anything of its own (statistics, extra parameters): the network calls these, and only these,
///   for every grow, removal and permutation, through the layer's own type;
/// - `forward(in, out, alpha, gemm, substitute)` computes `out = f(alpha · W in + b)` for a batch
///   (`in`: `inputs × batch`, `out`: `outputs × batch`), or with `substitute`'s weights and biases
///   when the dropout engine hands it a gathered or masked operand (then `in` has `cols` rows and
///   `out` `rows` rows; see `DenseOperand`);
/// - `backward(in, out, delta, delta_in, alpha, gemm, substitute, into)` turns dLoss/d`out` in
///   `delta` into dLoss/dz, writes the weight and bias gradients (into `into` when substituted)
///   and, when `delta_in` is not null, dLoss/d`in`;
/// - `for_each_param(f)` calls `f(Param<T>&, ParamKind)` for every trainable tensor, so the
///   optimizers update, and checkpoints keep the state of, whatever the layer trains.
///
/// `Dense<T, Act>` (layers/dense.hpp) is the reference; a layer type usually derives from it and
/// replaces what it changes (examples/custom_layer.cpp keeps per-neuron statistics that follow
/// every edit). The network calls every member through the layer's own type: no virtual dispatch.
template <class L>
concept EditableLayer = Scalar<typename L::scalar> && Activation<typename L::activation> &&
    std::derived_from<L, DenseParams<typename L::scalar>> && std::copyable<L> &&
    std::default_initializable<L> && std::constructible_from<L, Index, Index> &&
    requires(L& layer, const L& read, const AxisEdit& edit, GrowValues values,
             const MatrixRef<typename L::scalar>& in, MatrixView<typename L::scalar> out,
             const ConstMatrixView<typename L::scalar>& computed,
             MatrixView<typename L::scalar>* delta_in, typename L::scalar alpha,
             GemmWorkspace<typename L::scalar>& gemm,
             const DenseOperand<typename L::scalar>* substitute,
             const DenseGradient<typename L::scalar>* into,
             detail::ParamVisitorArchetype<typename L::scalar> visit) {
  layer.apply_output_edit(edit, values);
  layer.apply_input_edit(edit, values);
  read.forward(in, out, alpha, gemm, substitute);
  layer.backward(in, computed, out, delta_in, alpha, gemm, substitute, into);
  layer.for_each_param(visit);
};

/// An EditableLayer with element type `T` and activation `Act`: what `Mlp<T, Act, Layer>` needs of
/// `Layer<T, Act>` (and of `Layer<T, Identity>` for its output layer).
template <class L, class T, class Act>
concept EditableLayerOf = EditableLayer<L> && std::same_as<typename L::scalar, T> &&
    std::same_as<typename L::activation, Act>;

}  // namespace neuroplast
