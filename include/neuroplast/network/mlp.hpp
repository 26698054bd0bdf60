#pragma once
/// \file
/// A multi-layer perceptron of any depth whose hidden layers can grow, shrink and be re-wired.

#include <algorithm>
#include <cmath>
#include <concepts>
#include <cstdint>
#include <limits>
#include <string>
#include <utility>
#include <vector>

#include "neuroplast/core/axis_edit.hpp"
#include "neuroplast/core/error.hpp"
#include "neuroplast/layers/dropout.hpp"
#include "neuroplast/network/check_batch.hpp"
#include "neuroplast/network/connection_edits.hpp"
#include "neuroplast/network/edit_record.hpp"
#include "neuroplast/network/initializers.hpp"
#include "neuroplast/network/layer_stack.hpp"
#include "neuroplast/network/neuron_axis.hpp"
#include "neuroplast/network/neuron_edits.hpp"
#include "neuroplast/network/passes.hpp"
#include "neuroplast/network/workspace.hpp"

namespace neuroplast {

/// A multi-layer perceptron: dense layers with activation `Act` on every hidden layer and a linear
/// output layer (the network returns logits).
///
/// `sizes()` = {inputs, hidden_0, …, hidden_{H−1}, outputs}. Dense layer l maps `sizes()[l]` to
/// `sizes()[l+1]`, so it has weights `sizes()[l+1] × sizes()[l]`. Hidden layer h is the neuron axis
/// between dense layers h and h+1: the rows of W(h) and b(h) and the columns of W(h+1), together
/// with every gradient, optimizer moment, mask and plasticity bound to them, and the axis's
/// NeuronAxis (ids, minimum width, dropout). Every neuron edit goes through one private door
/// (`apply_axis_edit`, public as `edit_axis`) that applies the same AxisEdit to all of these; layer
/// edits insert or erase one (layer, axis) pair. The passes live in network/passes.hpp, the
/// dropout engine in network/dropout_engine.hpp, the edits' checks in network/neuron_edits.hpp
/// and network/connection_edits.hpp, storage and read access in network/layer_stack.hpp.
///
/// Initialisation is deterministic for a seed: hidden layers use He normal (std √(2/fan_in)) for
/// the ReLU family and Glorot uniform (±√(6/(fan_in+fan_out))) otherwise; the output layer uses
/// Glorot uniform; biases start at 0.
///
/// `Layer` is the layer type: `Layer<T, Act>` computes every hidden layer and `Layer<T, Identity>`
/// the output layer. Any `EditableLayer` template (layers/editable_layer.hpp) will do; `Dense` by
/// default. The file formats (`save`, checkpoints) are written for `Dense` layers.
template <Scalar T, Activation Act = Relu, template <class, class> class Layer = Dense>
  requires EditableLayerOf<Layer<T, Act>, T, Act> &&
      EditableLayerOf<Layer<T, Identity>, T, Identity>
class Mlp : public LayerStack<T, Act, Layer> {
  using Base = LayerStack<T, Act, Layer>;
  using Base::apply_axis_edit;
  using Base::axis_of;
  using Base::check_hidden;
  using Base::check_input;
  using Base::log;
  using Base::params;

 public:
  using scalar = T;        ///< element type of every tensor
  using activation = Act;  ///< activation of the hidden layers
  // Named here so the edits below can call them unqualified; public, as in LayerStack.
  using Base::layer_count;
  using Base::min_width;
  using Base::width;

  /// Builds a network with the given layer sizes (inputs, hidden…, outputs), at least two entries,
  /// all ≥ 1, initialised from `seed`. Throws Error otherwise.
  explicit Mlp(std::vector<Index> sizes, std::uint64_t seed = 0) : Base(std::move(sizes), seed) {}

  /// Sets the plasticity of dense layer l's neurons to `values` (`sizes()[l+1]` entries in
  /// [0, 1]). Throws Error, changing nothing, for a bad layer, size or value.
  void set_plasticity(Index l, const Vector<T>& values) {
    DenseParams<T>& d = params(l, "set_plasticity");
    if (values.size() != d.outputs()) {
      detail::fail("set_plasticity: ", values.size(), " values for dense layer ", l, " of ",
                   d.outputs(), " neurons; pass one per neuron (sizes()[", l + 1,
                   "]) or one scalar for all");
    }
    for (Index i = 0; i < values.size(); ++i) {
      if (!(values(i) >= T(0) && values(i) <= T(1))) {
        detail::fail("set_plasticity: value ", values(i), " for neuron ", i, " of dense layer ", l,
                     " is outside [0, 1] (0 = frozen, 1 = learns as usual)");
      }
    }
    d.set_plasticity(values);
  }
  /// Sets every neuron of dense layer l to plasticity `value` in [0, 1].
  void set_plasticity(Index l, T value) {
    set_plasticity(l, Vector<T>::Constant(params(l, "set_plasticity").outputs(), value));
  }
  /// Freezes every neuron dense layer l has now (plasticity 0); neurons grown later learn.
  void freeze(Index l) { set_plasticity(l, Vector<T>::Zero(params(l, "freeze").outputs())); }

  // Inference and training passes (network/passes.hpp) --------------------------------------

  /// Logits for a batch: `X` is `sizes()[0] × batch`, the result `sizes().back() × batch`.
  /// Throws Error on a wrong row count, an empty batch or an empty (moved-from) network,
  /// NumericError on a non-finite input and on logits that are not finite (a weight or bias
  /// written as NaN or infinity, or an input too large), naming which.
  Matrix<T> forward(const MatrixRef<T>& X) const { return checked_logits(X, "forward"); }
  /// As `forward(X)`, reusing `ws` for every intermediate: no allocation once `ws` has seen a batch
  /// of this size. The returned view points into `ws` and lives until its next use. Its logits
  /// are not checked for finiteness (the loops that call it check the losses they compute).
  ConstMatrixView<T> forward(const MatrixRef<T>& X, Workspace<T>& ws) const {
    detail::check_batch(X, this->input_size(), "forward", true);
    detail::forward_pass(*this, X, ws, detail::Pass::inference);
    return ws.output();
  }
  /// Monte Carlo dropout: like `forward(X, ws)` but with fresh dropout masks drawn from
  /// `ws.rng()`, as in training. Averaging several calls estimates the predictive mean and spread
  /// (Gal & Ghahramani). `forward` itself never applies dropout masks.
  ConstMatrixView<T> forward_sampled(const MatrixRef<T>& X, Workspace<T>& ws) const {
    detail::check_batch(X, this->input_size(), "forward_sampled", true);
    detail::forward_pass(*this, X, ws, detail::Pass::sampled);
    return ws.output();
  }
  /// Index of the largest logit of each column of `X`; throws as `forward(X)`.
  std::vector<int> predict(const MatrixRef<T>& X) const {
    return detail::argmax_per_column(checked_logits(X, "predict"));
  }
  /// Training forward pass: like `forward(X, ws)` and also shapes the gradient buffers. The input
  /// is not checked for finiteness (a Dataset is checked once when built). Allocation-free in
  /// steady state.
  ConstMatrixView<T> forward_train(const MatrixRef<T>& X, Workspace<T>& ws) const {
    check_input(X, "forward_train");
    detail::forward_pass(*this, X, ws, detail::Pass::training);
    return ws.output();
  }
  /// Backward pass after `forward_train(X, ws)` and after the loss wrote dLoss/dlogits into
  /// `ws.output_gradient()`. Sets every layer's weight and bias gradient (masked entries 0).
  /// Throws Error, changing nothing, when `ws` holds no training pass over this `X` of the network
  /// as it is now (no forward_train, another pass since, another batch, or an edit since).
  void backward(const MatrixRef<T>& X, Workspace<T>& ws) {
    detail::check_training_pass(*this, X, ws, "backward", false);
    ++this->steps_;
    detail::backward_pass(*this, X, ws);
  }
  /// `backward(X, ws)`, calling `layer_done(l)` (an `Index` of layers) as soon as layer l's
  /// gradients are final, from the last layer to the first: where a data-parallel trainer
  /// starts summing a layer's gradients while the layers below are still computed.
  template <std::invocable<Index> LayerDone>
  void backward(const MatrixRef<T>& X, Workspace<T>& ws, LayerDone&& layer_done) {
    detail::check_training_pass(*this, X, ws, "backward", false);
    ++this->steps_;
    detail::backward_pass(*this, X, ws, std::forward<LayerDone>(layer_done));
  }

  // Dropout (layers/dropout.hpp, network/dropout_engine.hpp) ---------------------------------

  /// Dropout for hidden layer h in training (and in `forward_sampled`); see layers/dropout.hpp.
  /// `Dropout{}` (rate 0) turns it off; per-neuron rates of the layer are cleared. Throws Error for
  /// a bad layer or rate.
  void set_dropout(Index h, const Dropout& d) {
    NeuronAxis& a = axis_of(h, "set_dropout");
    d.validate("set_dropout");
    a.dropout = d;
    a.dropout_rates.clear();  // per-neuron rates belong to the old setting
  }
  /// Per-neuron Bernoulli rates for hidden layer h (one per neuron, each in [0, 1)), e.g. from
  /// `relevance_guided_rates`: neuron j is dropped with probability rates[j] instead of the
  /// layer's rate. Needs Bernoulli dropout in the inverted convention on that layer (a per-neuron
  /// inference scale would not fold into the next product). The rates follow every structural
  /// edit of the layer; grown neurons get the layer's rate. An empty vector clears them.
  void set_dropout_rates(Index h, std::vector<double> rates) {
    NeuronAxis& a = axis_of(h, "set_dropout_rates");
    detail::check_dropout_rates(h, a.size(), a.dropout, rates);
    a.dropout_rates = std::move(rates);
  }
  /// Turns dropout off on every layer.
  void clear_dropout() {
    for (auto& hl : this->hidden_) {
      hl.axis.dropout = Dropout{};
      hl.axis.dropout_rates.clear();
    }
  }

  // Connections (network/connection_edits.hpp) -----------------------------------------------

  /// ANDs a 0/1 mask (any Eigen expression of the shape of `weights(l)`) into `connection_mask(l)`
  /// and zeroes the pruned weights with their gradients and optimizer state. Returns the record
  /// (count: connections newly pruned), logged when it pruned any. Throws Error (leaving the
  /// network unchanged) on a bad layer, a wrong shape, or entries other than 0 and 1.
  template <class D>
  EditRecord prune_connections(Index l, const Eigen::DenseBase<D>& mask) {
    DenseParams<T>& d = params(l, "prune_connections");
    const Index before = d.pruned_count();
    detail::prune_connections(d, l, mask);
    const Index pruned = d.pruned_count() - before;
    EditRecord record{.kind = EventKind::prune_connections, .layer = l, .count = pruned};
    if (pruned > 0) return log(record);
    record.step = this->steps_;
    return record;
  }
  /// Re-establishes "masked weights are 0" in every layer (after writing into `weights(l)`).
  void apply_masks() {
    for (Index l = 0; l < layer_count(); ++l) params(l, "apply_masks").apply_mask();
  }
  /// Connection-level dropin (as in drop-and-grow sparse training): re-activates up to `count` of
  /// the pruned connections of dense layer l, those with the largest `scores` (any Eigen
  /// expression of the shape of `weights(l)`, e.g. |dLoss/dW| from `full_weight_gradient`). The
  /// connections come back with weight 0 and fresh optimizer state. Returns the record; its count
  /// is the number re-activated (fewer than `count` when fewer are pruned). Throws Error for a bad
  /// layer, count < 1 or a wrong shape.
  template <class D>
  EditRecord grow_connections(Index l, Index count, const Eigen::DenseBase<D>& scores) {
    const Index grown = detail::grow_connections(params(l, "grow_connections"), l, count, scores);
    return log({.kind = EditKind::grow_connections, .layer = l, .count = grown});
  }
  /// dLoss/dW(l) at every position, pruned ones included, from the last `backward(X, ws)` — the
  /// score connection dropin ranks pruned connections by. `X` is the batch of that pass. Throws
  /// Error for a bad layer, or when `ws` holds no backward pass over this `X` of the network as
  /// it is now.
  Matrix<T> full_weight_gradient(Index l, const MatrixRef<T>& X, Workspace<T>& ws) const {
    const DenseParams<T>& layer = params(l, "full_weight_gradient");
    detail::check_training_pass(*this, X, ws, "full_weight_gradient", true);
    return detail::full_weight_gradient(layer, l, X, ws);
  }

  // Neurons (network/neuron_axis.hpp, network/neuron_edits.hpp) ------------------------------

  /// Reserves room for `neurons` neurons in hidden layer h (rows of W(h), b(h), columns of W(h+1),
  /// in every plane), so growth up to that width never reallocates. The memory is committed at
  /// once (its pages faulted in), so later growth costs only its writes; reserve what the layer
  /// may grow to, not more. Growth past capacity reallocates geometrically instead.
  void reserve(Index h, Index neurons) {
    check_hidden(h, "reserve");
    if (neurons < 0) {
      detail::fail("reserve: neurons = ", neurons, " for hidden layer ", h,
                   "; pass the width to make room for (≥ 0)");
    }
    DenseParams<T>& in = params(h, "reserve");
    DenseParams<T>& out = params(h + 1, "reserve");
    in.reserve(in.inputs(), neurons);
    out.reserve(neurons, out.outputs());
    axis_of(h, "reserve").ids.reserve(static_cast<std::size_t>(neurons));
  }
  /// Sets the minimum width of hidden layer h (≥ 1): `remove_neurons` and `remove_dead_neurons`
  /// refuse to go below it. Throws Error for a bad layer or width < 1.
  void set_min_width(Index h, Index neurons) {
    NeuronAxis& a = axis_of(h, "set_min_width");
    if (neurons < 1) {
      detail::fail("set_min_width: minimum width ", neurons, " for hidden layer ", h,
                   " must be ≥ 1");
    }
    a.min_width = neurons;
  }

  /// Low-level structural edit of hidden layer h, applied to every tensor bound to that axis and
  /// to its NeuronAxis: the one door every neuron edit goes through. Grown neurons have all-zero
  /// fan-in, fan-out and bias (initialisers then write them); use `edit.new_index()` for where
  /// removed or permuted neurons went. The edit must be valid for the axis (`grow_neurons` and
  /// `remove_neurons` validate with messages naming the layer).
  void edit_axis(Index h, const AxisEdit& edit) {
    check_hidden(h, "edit_axis");
    if (edit.old_size() != width(h)) {
      detail::fail("edit_axis: edit is for an axis of ", edit.old_size(),
                   " neurons but hidden layer ", h, " has ", width(h));
    }
    apply_axis_edit(h, edit, GrowValues::zero);
  }

  /// Dropin (neurogenesis): appends `count` ≥ 0 neurons to hidden layer h, with their fan-in (a
  /// row of W(h)), bias, and fan-out (a column of W(h+1)) written by `init` (see
  /// network/initializers.hpp: init::ZeroFanOut, He, Glorot, Net2Wider; grow/init.hpp:
  /// GradMax). Every tensor bound to the axis grows with it: gradients, masks (new connections
  /// active), optimizer state (zero, with the new entries' age counted from the optimizer's next
  /// step: optim/adam.hpp). Within `capacity(h)` nothing is reallocated and only the new rows and
  /// columns are written. Throws Error, leaving the network unchanged, for a bad layer, count < 0,
  /// or an initialiser that cannot apply (its `validate`). An exception from the initialiser's
  /// `initialise` removes the new neurons again and puts back the generator and the next neuron
  /// id, then propagates; what a custom initialiser wrote outside the new neurons' entries before
  /// throwing is not undone. Returns (and logs) the record of the edit; `count` = 0 changes
  /// nothing and logs nothing.
  template <class Init>
  EditRecord grow_neurons(Index h, Index count, const Init& init) {
    static_assert(
        NeuronInitializer<Init, Mlp>,
        "grow_neurons: the initialiser must be a neuron initialiser (init::ZeroFanOut, He, Glorot, "
        "Net2Wider, GradMax); init::Identity initialises whole layers: use insert_layer");
    check_hidden(h, "grow_neurons");
    if (count < 0 || count > std::numeric_limits<std::int32_t>::max() - width(h)) {
      detail::fail("grow_neurons: count = ", count, " for hidden layer ", h,
                   "; pass the number of neurons to add (0 adds none; a layer holds fewer than ",
                   "2^31 neurons)");
    }
    if (count == 0) {  // nothing to add: not an edit, not logged (as an empty removal)
      return {.kind = EditKind::grow_neurons,
              .layer = h,
              .count = 0,
              .first = width(h),
              .initializer = Init::name,
              .step = this->steps_};
    }
    init.validate(*this, h, count);
    const Index old = width(h);
    DenseParams<T>& out = params(h + 1, "grow_neurons");
    // A frozen neuron of the next layer must not change, whatever the initialiser writes
    // (Net2Wider halves a fan-out column, GradMax folds into the bias): its row and bias are put
    // back afterwards, and the new neurons do not feed it.
    const bool frozen_out = out.has_frozen();
    const Matrix<T> kept_w = frozen_out ? Matrix<T>(out.weights()) : Matrix<T>();
    const Vector<T> kept_b = frozen_out ? Vector<T>(out.bias()) : Vector<T>();
    // An initialiser that throws after the grow leaves the network as it was: the new neurons go
    // again, and the generator and the next neuron id are put back, so that a retried or another
    // grow draws and numbers its neurons as if the failed one had never happened. (The journal
    // keeps the grow and its undo, which cancel for state catching up through it.)
    const Rng rng_before = this->rng_;
    const std::uint64_t next_id_before = this->next_neuron_id_;
    apply_axis_edit(h, AxisEdit::grow(old, count), GrowValues::caller);
    GrowthSite<Mlp> site{*this, params(h, "grow_neurons"), out, h, old, count, this->rng_};
    try {
      init.initialise(site);
      for (Index i = 0; frozen_out && i < out.outputs(); ++i) {
        if (out.weight_param().plasticity(i) != T(0)) continue;
        out.weights().row(i).head(old) = kept_w.row(i);
        out.weights().row(i).tail(count).setZero();
        out.bias()(i) = kept_b(i);
      }
    } catch (...) {
      std::vector<Index> added(static_cast<std::size_t>(count));
      for (Index j = 0; j < count; ++j) added[static_cast<std::size_t>(j)] = old + j;
      apply_axis_edit(h, AxisEdit::remove(old + count, std::move(added)), GrowValues::zero);
      this->rng_ = rng_before;
      this->next_neuron_id_ = next_id_before;
      throw;
    }
    return log({.kind = EditKind::grow_neurons,
                .layer = h,
                .count = count,
                .first = old,
                .initializer = Init::name});
  }

  /// Structural pruning: removes the neurons `indices` of hidden layer h with their fan-in, bias,
  /// fan-out, gradients, masks and optimizer state, at a cost proportional to how many are removed
  /// (the last neurons move into the freed slots). Returns the old → new index map (−1 = removed);
  /// `neuron_ids(h)` follows the moves. An empty `indices` changes nothing and logs nothing (the
  /// map is the identity). Throws Error, leaving the network unchanged, for a bad layer, an index
  /// out of range, a duplicate, or a request that would empty the layer.
  std::vector<Index> remove_neurons(Index h, std::vector<Index> indices) {
    check_hidden(h, "remove_neurons");
    if (indices.empty()) {
      std::vector<Index> same(static_cast<std::size_t>(width(h)));
      for (std::size_t j = 0; j < same.size(); ++j) same[j] = static_cast<Index>(j);
      return same;
    }
    const auto count = static_cast<Index>(indices.size());
    detail::check_removal(h, width(h), min_width(h), indices);
    const AxisEdit edit = AxisEdit::remove(width(h), std::move(indices));
    apply_axis_edit(h, edit, GrowValues::zero);
    log({.kind = EditKind::remove_neurons, .layer = h, .count = count});
    return edit.new_index();
  }

  /// Removes every neuron of hidden layer h that a connection mask has cut off: a fully pruned
  /// fan-in (it outputs the constant f(b), which is folded into the next layer's bias first, so
  /// the function is unchanged) or a fully pruned fan-out (it reaches nothing). Never goes below
  /// `min_width(h)`: the dead neurons with the highest index are kept then. Frozen neurons stay,
  /// and so does a neuron whose removal would change a frozen one (detail::may_remove_neuron).
  /// Returns the old → new index map (empty when nothing was removed).
  std::vector<Index> remove_dead_neurons(Index h) {
    check_hidden(h, "remove_dead_neurons");
    std::vector<Index> dead = detail::take_dead_neurons<Act>(
        params(h, "remove_dead_neurons"), params(h + 1, "remove_dead_neurons"), min_width(h));
    if (dead.empty()) return {};
    return remove_neurons(h, std::move(dead));
  }

  // Layers -------------------------------------------------------------------------------------

  /// Inserts a new hidden layer after hidden layer h, as wide as it: the new dense layer maps
  /// hidden layer h to itself, and the old layer h+1 now reads the new one. With
  /// `init::Identity{}` (weights I, zero bias) a ReLU network's function is unchanged (for other
  /// activations f(f(x)) ≠ f(x) in general, so it changes); `init::He{}` and `init::Glorot{}` give
  /// a random layer. Throws Error for a bad layer.
  template <class LayerInit>
  EditRecord insert_layer(Index h, const LayerInit& init) {
    check_hidden(h, "insert_layer");
    const Index w = width(h);
    auto fresh = detail::make_inserted_layer<typename Base::hidden_layer>(w, init, this->rng_);
    this->hidden_.insert(this->hidden_.begin() + static_cast<std::ptrdiff_t>(h + 1),
                         {std::move(fresh), NeuronAxis::fresh(w, this->next_neuron_id_)});
    this->journal_.restart();  // the axes after h are renumbered: no AxisEdit describes that
    return log({.kind = EditKind::insert_layer,
                .layer = h + 1,
                .count = 1,
                .initializer = LayerInit::name});
  }

  /// Removes hidden layer h together with the dense layer that computes it (dense layer h), so
  /// dense layer h+1 reads what dense layer h read. Only possible when dense layer h is square
  /// (its input is as wide as hidden layer h); the function changes unless that layer was an
  /// identity. Throws Error otherwise, leaving the network unchanged.
  EditRecord remove_layer(Index h) {
    check_hidden(h, "remove_layer");
    const DenseParams<T>& d = params(h, "remove_layer");
    if (d.inputs() != d.outputs()) {
      detail::fail("remove_layer: hidden layer ", h, " has ", d.outputs(),
                   " neurons but its input has ", d.inputs(),
                   "; only a layer as wide as its input can be removed (the next layer's fan-in "
                   "must still fit)");
    }
    this->hidden_.erase(this->hidden_.begin() + static_cast<std::ptrdiff_t>(h));
    this->journal_.restart();
    return log({.kind = EditKind::remove_layer, .layer = h, .count = 1});
  }

 private:
  // `forward(X)` and `predict`: the workspace pass, then its logits checked (check_logits), with
  // `where` naming the call in every message.
  Matrix<T> checked_logits(const MatrixRef<T>& X, const char* where) const {
    detail::check_batch(X, this->input_size(), where, true);
    Workspace<T> ws;
    detail::forward_pass(*this, X, ws, detail::Pass::inference);
    Matrix<T> logits = ws.output();
    detail::check_logits(logits, where, [&] { return detail::first_non_finite_parameter(*this); });
    return logits;
  }
};

}  // namespace neuroplast
