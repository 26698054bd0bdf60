#pragma once
/// \file
/// The layer list of a network and its per-layer bookkeeping: storage, read access, and the one
/// door every neuron edit goes through. Mlp (network/mlp.hpp) adds the passes and the edits.

#include <algorithm>
#include <cmath>
#include <cstdint>
#include <vector>

#include "neuroplast/core/axis_edit.hpp"
#include "neuroplast/core/error.hpp"
#include "neuroplast/core/rng.hpp"
#include "neuroplast/layers/dense.hpp"
#include "neuroplast/layers/dropout.hpp"
#include "neuroplast/layers/editable_layer.hpp"
#include "neuroplast/network/check_batch.hpp"
#include "neuroplast/network/edit_journal.hpp"
#include "neuroplast/network/edit_record.hpp"
#include "neuroplast/network/initializers.hpp"
#include "neuroplast/network/neuron_axis.hpp"
#include "neuroplast/network/neuron_edits.hpp"

namespace neuroplast {

namespace detail {
/// Grants serialisers (io/) access to a network's private state; specialised where it is used.
template <class Net>
struct MlpAccess;
}  // namespace detail

/// The layers of an Mlp with activation `Act` on the hidden layers and a linear output layer:
/// dense layer l maps `sizes()[l]` to `sizes()[l+1]`, and hidden layer h (the neuron axis between
/// dense layers h and h+1) keeps its NeuronAxis beside the layer that computes it. The layers are
/// of type `Layer<T, Act>` (hidden) and `Layer<T, Identity>` (output), both `EditableLayer`s
/// (layers/editable_layer.hpp); `Dense` unless a network names its own. Read access here; every
/// change goes through Mlp, whose edits all reach the tensors and the bookkeeping of an axis
/// through the one protected door `apply_axis_edit`.
template <Scalar T, Activation Act, template <class, class> class Layer = Dense>
  requires EditableLayerOf<Layer<T, Act>, T, Act> &&
      EditableLayerOf<Layer<T, Identity>, T, Identity>
class LayerStack {
 public:
  using scalar = T;                         ///< element type of every tensor
  using activation = Act;                   ///< activation of the hidden layers
  using hidden_layer = Layer<T, Act>;       ///< the type of every hidden layer
  using output_layer = Layer<T, Identity>;  ///< the type of the (linear) output layer

  /// Builds a network with the given layer sizes (inputs, hidden…, outputs), at least two entries,
  /// all ≥ 1. Throws Error otherwise.
  explicit LayerStack(std::vector<Index> sizes, std::uint64_t seed = 0) : rng_(seed) {
    if (sizes.size() < 2) {
      detail::fail("Mlp: sizes ", detail::format_sizes(sizes),
                   " must list at least the inputs and the outputs, e.g. {784, 128, 10}");
    }
    for (std::size_t i = 0; i < sizes.size(); ++i) {
      if (sizes[i] < 1) {
        detail::fail("Mlp: sizes[", i, "] = ", sizes[i], " in ", detail::format_sizes(sizes),
                     "; every layer needs at least one neuron");
      }
    }
    const std::size_t dense_count = sizes.size() - 1;
    hidden_.reserve(dense_count - 1);
    for (std::size_t l = 0; l + 1 < dense_count; ++l) {
      hidden_.push_back({hidden_layer(sizes[l], sizes[l + 1]), NeuronAxis{}});
      initialise(hidden_.back().dense, Act::relu_family);
    }
    output_ = output_layer(sizes[dense_count - 1], sizes[dense_count]);
    initialise(output_, false);
    for (std::size_t h = 0; h < hidden_.size(); ++h)
      hidden_[h].axis = NeuronAxis::fresh(sizes[h + 1], next_neuron_id_);
  }

  /// {inputs, hidden…, outputs}.
  std::vector<Index> sizes() const {
    std::vector<Index> s{input_size()};
    for (std::size_t l = 0; l < static_cast<std::size_t>(layer_count()); ++l)
      s.push_back(layer(l).outputs());
    return s;
  }
  /// Number of dense layers (= hidden layers + 1).
  Index layer_count() const noexcept { return static_cast<Index>(hidden_.size()) + 1; }
  /// Number of hidden layers (editable neuron axes).
  Index hidden_layer_count() const noexcept { return static_cast<Index>(hidden_.size()); }
  Index input_size() const noexcept { return layer(0).inputs(); }   ///< `sizes().front()`
  Index output_size() const noexcept { return output_.outputs(); }  ///< `sizes().back()`

  /// Active weights plus biases; masked weights count until their neuron is removed.
  Index parameter_count() const noexcept {
    Index n = 0;
    for (std::size_t l = 0; l < static_cast<std::size_t>(layer_count()); ++l)
      n += layer(l).parameter_count();
    return n;
  }
  /// Parameters that still compute: `parameter_count()` minus the pruned connections.
  Index active_parameter_count() const {
    Index n = parameter_count();
    for (std::size_t l = 0; l < static_cast<std::size_t>(layer_count()); ++l)
      n -= layer(l).pruned_count();
    return n;
  }

  /// Weights of dense layer l, `sizes()[l+1] × sizes()[l]`. Throws Error for l out of range.
  /// Masked entries must stay 0: after writing into them, call `apply_masks()`.
  WeightView<T> weights(Index l) { return params(l, "weights").weights(); }
  /// Weights of dense layer l, `sizes()[l+1] × sizes()[l]`, read-only.
  ConstWeightView<T> weights(Index l) const { return params(l, "weights").weights(); }
  /// Bias of dense layer l, `sizes()[l+1]`.
  VectorView<T> bias(Index l) { return params(l, "bias").bias(); }
  /// Bias of dense layer l, `sizes()[l+1]`, read-only.
  ConstVectorView<T> bias(Index l) const { return params(l, "bias").bias(); }
  /// Connection mask of dense layer l, same shape as `weights(l)`: 1 = active, 0 = pruned.
  /// A copy (see DenseParams::connection_mask).
  Matrix<T> connection_mask(Index l) const {
    return params(l, "connection_mask").connection_mask();
  }
  /// dLoss/dW(l) from the last `backward` (unspecified after a structural edit until the next one).
  ConstWeightView<T> weight_gradient(Index l) const {
    return params(l, "weight_gradient").weight_gradient();
  }
  /// dLoss/db(l) from the last `backward`.
  ConstVectorView<T> bias_gradient(Index l) const {
    return params(l, "bias_gradient").bias_gradient();
  }

  /// All tensors of dense layer l (weights, bias, their gradients, masks and optimizer state).
  DenseParams<T>& layer_params(Index l) { return params(l, "layer_params"); }
  /// All tensors of dense layer l, read-only.
  const DenseParams<T>& layer_params(Index l) const { return params(l, "layer_params"); }

  /// Calls `f` with dense layer l as its own type: `hidden_layer&` (`Layer<T, Act>&`) for a hidden
  /// layer, `output_layer&` (`Layer<T, Identity>&`) for the output layer. The passes and the
  /// axis edits reach a layer this way, so a layer type's own members run without virtual calls.
  template <class F>
  decltype(auto) visit_layer(Index l, F&& f) {
    check_layer(l, "visit_layer");
    if (l == hidden_layer_count()) return f(output_);
    return f(hidden_[static_cast<std::size_t>(l)].dense);
  }
  /// Calls `f` with dense layer l as its own type, read-only.
  template <class F>
  decltype(auto) visit_layer(Index l, F&& f) const {
    check_layer(l, "visit_layer");
    if (l == hidden_layer_count()) return f(output_);
    return f(hidden_[static_cast<std::size_t>(l)].dense);
  }

  /// The per-neuron bookkeeping of hidden layer h (ids, minimum width, dropout), read-only.
  const NeuronAxis& axis(Index h) const {
    check_hidden(h, "axis");
    return hidden_[static_cast<std::size_t>(h)].axis;
  }

  /// How much each neuron of dense layer l (0 … layer_count() − 1, the output layer included) may
  /// still learn: `sizes()[l+1]` values in [0, 1], all 1 unless set. Optimizers scale every update
  /// of a neuron's fan-in row of `weights(l)` and its entry of `bias(l)` by it; at 0 (frozen)
  /// both stay bit-identical under every optimizer and policy (policies neither prune nor remove
  /// a frozen neuron, and new neurons of hidden layer l−1 never feed it). Bound to the neuron axis:
  /// new neurons get 1, and it follows every edit, checkpoint and file. Throws Error for a bad l.
  Vector<T> plasticity(Index l) const { return params(l, "plasticity").plasticity(); }

  /// Calls `f(Param<T>&, ParamKind)` for every trainable tensor, layer by layer, in each layer's
  /// own order (`EditableLayer::for_each_param`; Dense: weight then bias).
  template <class F>
  void for_each_param(F&& f) {
    for (Index l = 0; l < layer_count(); ++l)
      visit_layer(l, [&](auto& layer) { layer.for_each_param(f); });
  }

  // Per-neuron bookkeeping (network/neuron_axis.hpp) ----------------------------------------

  /// Neurons hidden layer h can hold without reallocating.
  Index capacity(Index h) const {
    check_hidden(h, "capacity");
    const Param<T>& w = params(h, "capacity").weight_param();
    const Param<T>& next = params(h + 1, "capacity").weight_param();
    return std::min(w.value.row_capacity(), next.value.col_capacity());
  }
  /// Stable identity of each neuron of hidden layer h: ids survive moves caused by removals and
  /// permutations, and new neurons get fresh ids.
  const std::vector<std::uint64_t>& neuron_ids(Index h) const {
    return axis_of(h, "neuron_ids").ids;
  }
  /// Width of hidden layer h (= sizes()[h+1]).
  Index width(Index h) const { return axis_of(h, "width").size(); }
  /// The fewest neurons structural pruning may leave in hidden layer h (default 1).
  Index min_width(Index h) const { return axis_of(h, "min_width").min_width; }
  /// The dropout of hidden layer h.
  const Dropout& dropout(Index h) const { return axis_of(h, "dropout").dropout; }
  /// The factor inference applies to dense layer l's product W(l)·a: 1, or (1 − p) under the
  /// paper's dropout convention (for neuron dropout of the layer feeding l, and for DropConnect on
  /// layer l). Anything that recomputes the network by hand (e.g. LRP) must use it.
  T inference_scale(Index l) const {
    check_layer(l, "inference_scale");
    const auto li = static_cast<std::size_t>(l);
    return detail::inference_scale<T>(
        l > 0 ? &hidden_[li - 1].axis.dropout : nullptr,
        l < hidden_layer_count() ? &hidden_[li].axis.dropout : nullptr, steps_);
  }
  /// The per-neuron rates of hidden layer h (empty when the layer's rate applies to all).
  const std::vector<double>& dropout_rates(Index h) const {
    return axis_of(h, "dropout_rates").dropout_rates;
  }
  /// Every structural edit since construction, in order.
  const std::vector<EditRecord>& edit_log() const noexcept { return edit_log_; }
  /// The recent neuron-axis edits, for per-neuron state kept outside the network (EditJournal).
  const EditJournal& journal() const noexcept { return journal_; }
  /// Training steps (backward passes) the network has seen.
  std::int64_t training_steps() const noexcept { return steps_; }
  /// The network's random stream, used by initialisers of new neurons (kept, so a copied network
  /// grows exactly like the original).
  Rng& rng() noexcept { return rng_; }

 protected:
  /// A hidden layer: the dense layer that computes it and the bookkeeping of its neuron axis, kept
  /// together so that inserting or removing a layer moves both at once.
  struct Hidden {
    hidden_layer dense;  ///< computes the layer: `width × inputs`
    NeuronAxis axis;     ///< per-neuron bookkeeping of its `width` neurons
  };

  /// Throws Error (prefixed `where`) unless `X` is a non-empty `inputs × batch` batch.
  void check_input(const MatrixRef<T>& X, const char* where) const {
    detail::check_batch(X, input_size(), where, false);
  }

  /// Draws `d`'s weights from a stream split off the network's: He normal or Glorot uniform.
  void initialise(DenseParams<T>& d, bool he) {
    Rng r = rng_.split();
    const double fan_in = static_cast<double>(d.inputs());
    const double fan_out = static_cast<double>(d.outputs());
    if (he) {
      init::detail::fill_normal(d.weights(), r, std::sqrt(2.0 / fan_in));
    } else {
      init::detail::fill_uniform(d.weights(), r, std::sqrt(6.0 / (fan_in + fan_out)));
    }
  }

  /// Throws Error (prefixed `where`) unless dense layer l exists.
  void check_layer(Index l, const char* where) const {
    if (l < 0 || l >= layer_count()) {
      detail::fail(where, ": layer ", l, " does not exist (the network has ", layer_count(),
                   " dense layers: 0..", layer_count() - 1, ")");
    }
  }
  /// Throws Error (prefixed `where`) unless hidden layer h exists.
  void check_hidden(Index h, const char* where) const {
    if (h < 0 || h >= hidden_layer_count()) {
      if (hidden_layer_count() == 0) {
        detail::fail(where, ": hidden layer ", h,
                     " does not exist (the network has no hidden layers)");
      }
      detail::fail(where, ": hidden layer ", h, " does not exist (the network has ",
                   hidden_layer_count(), " hidden layers: 0..", hidden_layer_count() - 1, ")");
    }
  }

  /// Dense layer l, unchecked.
  const DenseParams<T>& layer(std::size_t l) const noexcept {
    return l == hidden_.size() ? static_cast<const DenseParams<T>&>(output_) : hidden_[l].dense;
  }
  /// Dense layer l; Error (prefixed `where`) when it does not exist.
  DenseParams<T>& params(Index l, const char* where) {
    check_layer(l, where);
    const auto li = static_cast<std::size_t>(l);
    return li == hidden_.size() ? static_cast<DenseParams<T>&>(output_) : hidden_[li].dense;
  }
  /// Dense layer l, read-only; Error (prefixed `where`) when it does not exist.
  const DenseParams<T>& params(Index l, const char* where) const {
    check_layer(l, where);
    return layer(static_cast<std::size_t>(l));
  }
  /// Hidden layer h's NeuronAxis; Error (prefixed `where`) when it does not exist.
  NeuronAxis& axis_of(Index h, const char* where) {
    check_hidden(h, where);
    return hidden_[static_cast<std::size_t>(h)].axis;
  }
  /// Hidden layer h's NeuronAxis, read-only; Error (prefixed `where`) when it does not exist.
  const NeuronAxis& axis_of(Index h, const char* where) const {
    check_hidden(h, where);
    return hidden_[static_cast<std::size_t>(h)].axis;
  }

  /// The one door every neuron edit goes through: the same `edit` for the rows of W(h) and b(h),
  /// the columns of W(h+1) (every plane of each, and whatever else the two layers keep per neuron:
  /// each is reached as its own type) and hidden layer h's NeuronAxis. `values` says whether
  /// grown slots are zeroed or left for the caller's initialiser.
  void apply_axis_edit(Index h, const AxisEdit& edit, GrowValues values) {
    check_hidden(h, "edit");
    visit_layer(h, [&](auto& layer) { layer.apply_output_edit(edit, values); });
    visit_layer(h + 1, [&](auto& layer) { layer.apply_input_edit(edit, values); });
    axis_of(h, "edit").apply(edit, next_neuron_id_);
    journal_.record(h, edit);
  }

  /// Stamps `record` with the training step, appends it to the edit log and returns it.
  EditRecord log(EditRecord record) {
    record.step = steps_;
    edit_log_.push_back(record);
    return record;
  }

  template <class Net>
  friend struct detail::MlpAccess;

  std::vector<Hidden> hidden_;        ///< hidden layers, first to last
  output_layer output_;               ///< the linear output layer
  std::uint64_t next_neuron_id_ = 0;  ///< the id the next new neuron gets
  std::vector<EditRecord> edit_log_;  ///< every structural edit, in order
  EditJournal journal_;               ///< the recent neuron-axis edits
  std::int64_t steps_ = 0;            ///< backward passes seen
  Rng rng_;                           ///< initialises new neurons and layers
};

}  // namespace neuroplast
