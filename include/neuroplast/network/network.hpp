#pragma once
/// \file
/// What the parts above network/ (relevance, pruning, growth, the trainer) need from a network, as
/// two concepts: `Network` to read it and run it, `EditableNetwork` to change its structure. `Mlp`
/// satisfies both; a type of one's own that does (a wrapper that logs, counts or guards edits, a
/// network with other storage behind the same interface) works with every algorithm of the
/// library, and one that does not is refused at the call with the requirement it misses.

#include <concepts>
#include <cstdint>
#include <vector>

#include "neuroplast/core/param.hpp"
#include "neuroplast/core/types.hpp"
#include "neuroplast/layers/activation.hpp"
#include "neuroplast/layers/dense.hpp"
#include "neuroplast/layers/dropout.hpp"
#include "neuroplast/network/edit_record.hpp"
#include "neuroplast/network/workspace.hpp"

namespace neuroplast {

/// A network as the algorithms read it: dense layers l = 0 … `layer_count()` − 1, layer l mapping
/// `sizes()[l]` inputs to `sizes()[l+1]` outputs with weights `sizes()[l+1] × sizes()[l]` and a
/// bias of `sizes()[l+1]`; `Net::activation` on every hidden layer (the neuron axis h between
/// layers h and h+1, `width(h)` neurons) and a linear output layer. `forward(X, ws)` maps a batch
/// `X` (`sizes().front() × batch`) to logits (`sizes().back() × batch`) in inference mode.
/// `layer_params(l)` exposes every tensor bound to layer l (weights, bias, gradients, masks,
/// optimizer state), `weight_gradient(l)` dLoss/dW(l) of the last backward pass, and
/// `inference_scale(l)` the factor the conventional dropout applies to its inputs at inference
/// (1 without dropout).
template <class Net>
concept Network = Scalar<typename Net::scalar> && Activation<typename Net::activation> &&
    requires(const Net& net, Index l, const MatrixRef<typename Net::scalar>& X,
             Workspace<typename Net::scalar>& ws) {
  { net.sizes() } -> std::convertible_to<std::vector<Index>>;
  { net.layer_count() } -> std::convertible_to<Index>;
  { net.hidden_layer_count() } -> std::convertible_to<Index>;
  { net.input_size() } -> std::convertible_to<Index>;
  { net.output_size() } -> std::convertible_to<Index>;
  { net.width(l) } -> std::convertible_to<Index>;
  { net.min_width(l) } -> std::convertible_to<Index>;
  { net.parameter_count() } -> std::convertible_to<Index>;
  { net.active_parameter_count() } -> std::convertible_to<Index>;
  { net.weights(l) } -> std::convertible_to<ConstWeightView<typename Net::scalar>>;
  { net.bias(l) } -> std::convertible_to<ConstVectorView<typename Net::scalar>>;
  { net.connection_mask(l) } -> std::convertible_to<Matrix<typename Net::scalar>>;
  { net.weight_gradient(l) } -> std::convertible_to<ConstWeightView<typename Net::scalar>>;
  { net.inference_scale(l) } -> std::convertible_to<typename Net::scalar>;
  { net.layer_params(l) } -> std::same_as<const DenseParams<typename Net::scalar>&>;
  { net.neuron_ids(l) } -> std::convertible_to<const std::vector<std::uint64_t>&>;
  { net.training_steps() } -> std::convertible_to<std::int64_t>;
  { net.forward(X, ws) } -> std::convertible_to<ConstMatrixView<typename Net::scalar>>;
};

/// A Network with elements of type `T` (for the members of a class template over `T`).
template <class Net, class T>
concept NetworkOf = Network<Net> && std::same_as<typename Net::scalar, T>;

/// The element type of a Network's tensors (`Net::scalar`), for signatures that take a Net.
template <class Net>
using scalar_of = typename Net::scalar;

/// The activation of a Network's hidden layers (`Net::activation`).
template <class Net>
using activation_of = typename Net::activation;

/// A Network whose structure and training state can change, as the trainer, the policies and the
/// pruning functions change it: a training pass (`forward_train`, then `backward` filling every
/// layer's gradients), neuron removal on hidden layer h (`remove_neurons`, `remove_dead_neurons`:
/// the indices removed), connection pruning (`prune_connections(l, mask)`, mask of the shape of
/// `weights(l)`), per-layer tensors to update (`layer_params(l)`, `for_each_param(f)` calling
/// `f(Param<T>&, ParamKind)`), per-neuron plasticity (`plasticity(l)`, `set_plasticity`, one value
/// per output of layer l), dropout on hidden layer h and its minimum width. Growth takes an
/// initialiser (`grow_neurons(h, count, init)`, network/initializers.hpp) and is checked where it
/// is called. Copies are whole, independent networks (rollback and snapshots copy them).
template <class Net>
concept EditableNetwork = Network<Net> && std::copyable<Net> &&
    requires(Net& net, Index l, std::vector<Index> which, const MatrixRef<typename Net::scalar>& X,
             Workspace<typename Net::scalar>& ws, const Matrix<typename Net::scalar>& mask,
             const Vector<typename Net::scalar>& values, const Dropout& d,
             std::vector<double> rates) {
  { net.forward_train(X, ws) } -> std::convertible_to<ConstMatrixView<typename Net::scalar>>;
  net.backward(X, ws);
  { net.layer_params(l) } -> std::same_as<DenseParams<typename Net::scalar>&>;
  { net.remove_neurons(l, which) } -> std::convertible_to<std::vector<Index>>;
  { net.remove_dead_neurons(l) } -> std::convertible_to<std::vector<Index>>;
  { net.prune_connections(l, mask) } -> std::convertible_to<EditRecord>;
  { net.plasticity(l) } -> std::convertible_to<Vector<typename Net::scalar>>;
  net.set_plasticity(l, values);
  { net.dropout(l) } -> std::convertible_to<const Dropout&>;
  net.set_dropout(l, d);
  net.set_dropout_rates(l, rates);
  net.set_min_width(l, l);
  net.for_each_param([](Param<typename Net::scalar>&, ParamKind) {});
};

}  // namespace neuroplast
