#pragma once
/// \file
/// A multi-layer perceptron of any depth whose hidden layers can grow, shrink and be re-wired.

#include <algorithm>
#include <cmath>
#include <cstdint>
#include <string>
#include <vector>

#include "neuroplast/core/axis_edit.hpp"
#include "neuroplast/core/error.hpp"
#include "neuroplast/core/rng.hpp"
#include "neuroplast/layers/dense.hpp"
#include "neuroplast/layers/dropout.hpp"
#include "neuroplast/network/edit_record.hpp"
#include "neuroplast/network/initializers.hpp"
#include "neuroplast/network/workspace.hpp"

namespace neuroplast {

namespace detail {
/// Grants serialisers (io/) access to a network's private state; specialised where it is used.
template <class Net>
struct MlpAccess;
}  // namespace detail

/// A multi-layer perceptron: dense layers with activation `Act` on every hidden layer and a linear
/// output layer (the network returns logits).
///
/// `sizes()` = {inputs, hidden_0, …, hidden_{H−1}, outputs}. Dense layer l maps `sizes()[l]` to
/// `sizes()[l+1]`, so it has weights `sizes()[l+1] × sizes()[l]`. Hidden layer h is the neuron axis
/// between dense layers h and h+1: the rows of W(h) and b(h) and the columns of W(h+1), together
/// with every gradient, optimizer moment, mask and per-neuron record bound to them. Every
/// structural edit goes through `edit_axis`, which applies it to all of these at once.
///
/// Initialisation is deterministic for a seed: hidden layers use He normal (std √(2/fan_in)) for
/// the ReLU family and Glorot uniform (±√(6/(fan_in+fan_out))) otherwise; the output layer uses
/// Glorot uniform; biases start at 0.
template <Scalar T, Activation Act = Relu>
class Mlp {
 public:
  using scalar = T;        ///< element type of every tensor
  using activation = Act;  ///< activation of the hidden layers

  /// Builds a network with the given layer sizes (inputs, hidden…, outputs), at least two entries,
  /// all ≥ 1. Throws Error otherwise.
  explicit Mlp(std::vector<Index> sizes, std::uint64_t seed = 0) : rng_(seed) {
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
      hidden_.emplace_back(sizes[l], sizes[l + 1]);
      initialise(hidden_.back(), Act::relu_family);
    }
    output_ = Dense<T, Identity>(sizes[dense_count - 1], sizes[dense_count]);
    initialise(output_, false);
    neuron_ids_.resize(hidden_.size());
    min_width_.assign(hidden_.size(), 1);
    dropout_.assign(hidden_.size(), Dropout{});
    neuron_dropout_.assign(hidden_.size(), {});
    for (std::size_t h = 0; h < hidden_.size(); ++h) {
      for (Index i = 0; i < sizes[h + 1]; ++i) neuron_ids_[h].push_back(next_neuron_id_++);
    }
  }

  /// {inputs, hidden…, outputs}.
  std::vector<Index> sizes() const {
    std::vector<Index> s;
    s.reserve(hidden_.size() + 2);
    s.push_back(layer(0).inputs());
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
    Index n = output_.parameter_count();
    for (const auto& d : hidden_) n += d.parameter_count();
    return n;
  }

  /// Parameters that still compute: `parameter_count()` minus the pruned connections.
  Index active_parameter_count() const {
    Index n = parameter_count();
    for (Index l = 0; l < layer_count(); ++l)
      n -= layer(static_cast<std::size_t>(l)).pruned_count();
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

  /// How much each neuron of dense layer l (0 … layer_count() − 1, the output layer included) may
  /// still learn: `sizes()[l+1]` values in [0, 1], all 1 unless set. Optimizers scale every update
  /// of a neuron's fan-in row of `weights(l)` and its entry of `bias(l)` by it; at 0 (frozen)
  /// both stay bit-identical under every optimizer and policy (policies neither prune nor remove
  /// a frozen neuron, and new neurons of hidden layer l−1 never feed it). Bound to the neuron axis:
  /// new neurons get 1, and it follows every edit, checkpoint and file. Throws Error for a bad l.
  Vector<T> plasticity(Index l) const { return params(l, "plasticity").plasticity(); }

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

  /// Calls `f(Param<T>&, ParamKind)` for every trainable tensor, layer by layer, weight then bias.
  template <class F>
  void for_each_param(F&& f) {
    for (auto& d : hidden_) {
      f(d.weight_param(), ParamKind::weight);
      f(d.bias_param(), ParamKind::bias);
    }
    f(output_.weight_param(), ParamKind::weight);
    f(output_.bias_param(), ParamKind::bias);
  }

  // ---------------------------------------------------------------------------------------------
  // Inference and training passes

  /// Logits for a batch: `X` is `sizes()[0] × batch`, the result `sizes().back() × batch`.
  /// Throws Error on a wrong row count, an empty batch, or a non-finite input.
  Matrix<T> forward(const MatrixRef<T>& X) const {
    Workspace<T> ws;
    return forward(X, ws);
  }

  /// As `forward(X)`, reusing `ws` for every intermediate: no allocation once `ws` has seen a batch
  /// of this size. The returned view points into `ws` and lives until its next use.
  ConstMatrixView<T> forward(const MatrixRef<T>& X, Workspace<T>& ws) const {
    check_input(X, "forward");
    if (!detail::all_finite(X)) {
      detail::fail<NumericError>(
          "forward: the input batch contains NaN or infinity; clean the data");
    }
    run_forward(X, ws, Pass::inference);
    return ws.output();
  }

  /// Monte Carlo dropout: like `forward(X, ws)` but with fresh dropout masks drawn from
  /// `ws.rng()`, as in training. Averaging several calls estimates the predictive mean and spread
  /// (Gal & Ghahramani). `forward` itself never applies dropout masks.
  ConstMatrixView<T> forward_sampled(const MatrixRef<T>& X, Workspace<T>& ws) const {
    check_input(X, "forward_sampled");
    run_forward(X, ws, Pass::sampled);
    return ws.output();
  }

  /// Index of the largest logit of each column of `X`.
  std::vector<int> predict(const MatrixRef<T>& X) const {
    const Matrix<T> logits = forward(X);
    return argmax_columns(logits);
  }

  /// Training forward pass: like `forward(X, ws)` and also shapes the gradient buffers. The input
  /// is not checked for finiteness (a Dataset is checked once when built). Allocation-free in
  /// steady state.
  ConstMatrixView<T> forward_train(const MatrixRef<T>& X, Workspace<T>& ws) const {
    check_input(X, "forward_train");
    run_forward(X, ws, Pass::training);
    return ws.output();
  }

  /// Backward pass after `forward_train(X, ws)` and after the loss wrote dLoss/dlogits into
  /// `ws.output_gradient()`. Sets every layer's weight and bias gradient (masked entries 0).
  void backward(const MatrixRef<T>& X, Workspace<T>& ws) {
    ++steps_;
    const auto last = static_cast<std::size_t>(layer_count() - 1);
    for (std::size_t l = last + 1; l-- > 0;) {
      if (l == last) {
        backward_layer<Identity>(output_, l, X, ws);
      } else {
        backward_layer<Act>(hidden_[l], l, X, ws);
      }
    }
  }

  // ---------------------------------------------------------------------------------------------
  // Dropout

  /// Dropout for hidden layer h in training (and in `forward_sampled`); see layers/dropout.hpp.
  /// `Dropout{}` (rate 0) turns it off; per-neuron rates of the layer are cleared. Throws Error for
  /// a bad layer or rate.
  void set_dropout(Index h, const Dropout& d) {
    check_hidden(h, "set_dropout");
    d.validate("set_dropout");
    dropout_[static_cast<std::size_t>(h)] = d;
    neuron_dropout_[static_cast<std::size_t>(h)]
        .clear();  // per-neuron rates belong to the old setting
  }
  /// The dropout of hidden layer h.
  const Dropout& dropout(Index h) const {
    check_hidden(h, "dropout");
    return dropout_[static_cast<std::size_t>(h)];
  }
  /// The factor inference applies to dense layer l's product W(l)·a: 1, or (1 − p) under the
  /// paper's dropout convention (for neuron dropout of the layer feeding l, and for DropConnect on
  /// layer l). Anything that recomputes the network by hand (e.g. LRP) must use it.
  T inference_scale(Index l) const {
    check_layer(l, "inference_scale");
    T alpha = T(1);
    if (l > 0) {
      const Dropout& prev = dropout_[static_cast<std::size_t>(l - 1)];
      const double p = prev.rate_at(steps_);
      const bool neuron_kind =
          prev.kind == DropoutKind::bernoulli || prev.kind == DropoutKind::batch_shared;
      if (p > 0 && neuron_kind && prev.convention == DropoutConvention::paper)
        alpha = static_cast<T>(1 - p);
    }
    if (l < hidden_layer_count()) {
      const Dropout& own = dropout_[static_cast<std::size_t>(l)];
      const double p = own.rate_at(steps_);
      if (p > 0 && own.kind == DropoutKind::drop_connect &&
          own.convention == DropoutConvention::paper) {
        alpha *= static_cast<T>(1 - p);
      }
    }
    return alpha;
  }

  /// Per-neuron Bernoulli rates for hidden layer h (one per neuron, each in [0, 1)), e.g. from
  /// `relevance_guided_rates`: neuron j is dropped with probability rates[j] instead of the
  /// layer's rate. Needs Bernoulli dropout in the inverted convention on that layer (a per-neuron
  /// inference scale would not fold into the next product). The rates follow every structural
  /// edit of the layer; grown neurons get the layer's rate. An empty vector clears them.
  void set_dropout_rates(Index h, std::vector<double> rates) {
    check_hidden(h, "set_dropout_rates");
    const Dropout& d = dropout_[static_cast<std::size_t>(h)];
    if (!rates.empty()) {
      if (static_cast<Index>(rates.size()) != width(h)) {
        detail::fail("set_dropout_rates: ", rates.size(), " rates for hidden layer ", h, " of ",
                     width(h), " neurons; give one rate per neuron");
      }
      if (d.kind != DropoutKind::bernoulli || d.convention != DropoutConvention::inverted) {
        detail::fail("set_dropout_rates: hidden layer ", h,
                     " needs Bernoulli dropout in the inverted convention for per-neuron rates "
                     "(set_dropout)");
      }
      for (double r : rates)
        if (!(r >= 0.0 && r < 1.0))
          detail::fail("set_dropout_rates: rate ", r, " is outside [0, 1)");
    }
    neuron_dropout_[static_cast<std::size_t>(h)] = std::move(rates);
  }
  /// The per-neuron rates of hidden layer h (empty when the layer's rate applies to all).
  const std::vector<double>& dropout_rates(Index h) const {
    check_hidden(h, "dropout_rates");
    return neuron_dropout_[static_cast<std::size_t>(h)];
  }

  /// Turns dropout off on every layer.
  void clear_dropout() {
    std::fill(dropout_.begin(), dropout_.end(), Dropout{});
    for (auto& r : neuron_dropout_) r.clear();
  }

  // ---------------------------------------------------------------------------------------------
  // Structure

  /// ANDs a 0/1 mask (any Eigen expression of the shape of `weights(l)`) into `connection_mask(l)`
  /// and zeroes the pruned weights with their gradients and optimizer state. Throws Error (leaving
  /// the network unchanged) on a bad layer, a wrong shape, or entries other than 0 and 1.
  template <class D>
  void prune_connections(Index l, const Eigen::MatrixBase<D>& mask) {
    DenseParams<T>& d = params(l, "prune_connections");
    if (mask.rows() != d.outputs() || mask.cols() != d.inputs()) {
      detail::fail("prune_connections: mask is ", detail::format_shape(mask.rows(), mask.cols()),
                   " but weights(", l, ") is ", detail::format_shape(d.outputs(), d.inputs()),
                   "; pass a mask of the weights' shape");
    }
    const auto m = mask.template cast<T>().eval();
    if (!((m.array() == T(0)) || (m.array() == T(1))).all()) {
      detail::fail("prune_connections: mask for layer ", l, " has entries other than 0 and 1");
    }
    Param<T>& w = d.weight_param();
    w.materialise_mask();
    w.mask.view().array() *= m.array();
    w.refresh_masked();
    w.apply_mask();
  }

  /// Re-establishes "masked weights are 0" in every layer (after writing into `weights(l)`).
  void apply_masks() {
    for (auto& d : hidden_) d.apply_mask();
    output_.apply_mask();
  }

  /// Reserves room for `neurons` neurons in hidden layer h (rows of W(h), b(h), columns of W(h+1),
  /// in every plane), so growth up to that width never reallocates. The memory is committed at
  /// once (its pages faulted in), so later growth costs only its writes; reserve what the layer
  /// may grow to, not more. Growth past capacity reallocates geometrically instead.
  void reserve(Index h, Index neurons) {
    check_hidden(h, "reserve");
    DenseParams<T>& in = params(h, "reserve");
    DenseParams<T>& out = params(h + 1, "reserve");
    in.reserve(in.inputs(), neurons);
    out.reserve(neurons, out.outputs());
    neuron_ids_[static_cast<std::size_t>(h)].reserve(static_cast<std::size_t>(neurons));
  }

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
    check_hidden(h, "neuron_ids");
    return neuron_ids_[static_cast<std::size_t>(h)];
  }

  /// Low-level structural edit of hidden layer h, applied to every tensor bound to that axis.
  /// Grown neurons have all-zero fan-in, fan-out and bias (initialisers then write them); use
  /// `edit.new_index()` for where removed or permuted neurons went. The edit must be valid for the
  /// axis (`grow_neurons` and `remove_neurons` validate with messages naming the layer).
  void edit_axis(Index h, const AxisEdit& edit) {
    check_hidden(h, "edit_axis");
    if (edit.old_size() != width(h)) {
      detail::fail("edit_axis: edit is for an axis of ", edit.old_size(),
                   " neurons but hidden layer ", h, " has ", width(h));
    }
    apply_axis_edit(h, edit, GrowValues::zero);
  }

  // ---------------------------------------------------------------------------------------------
  // Dropin and removal

  /// Dropin (neurogenesis): appends `count` ≥ 1 neurons to hidden layer h, with their fan-in (a
  /// row of W(h)), bias, and fan-out (a column of W(h+1)) written by `init` (see
  /// network/initializers.hpp: init::ZeroFanOut, He, Glorot, Net2Wider; grow/init.hpp:
  /// GradMax). Every tensor bound to the axis grows with it: gradients, masks (new connections
  /// active), optimizer state (zero, with the new entries' age counted from the optimizer's next
  /// step: optim/adam.hpp). Within `capacity(h)` nothing is reallocated and only the new rows and
  /// columns are written. Throws Error, leaving the network unchanged, for a bad layer, count < 1,
  /// or an initialiser that cannot apply. Returns (and logs) the record of the edit.
  template <class Init>
  EditRecord grow_neurons(Index h, Index count, const Init& init) {
    static_assert(
        NeuronInitializer<Init, Mlp>,
        "grow_neurons: the initialiser must be a neuron initialiser (init::ZeroFanOut, He, Glorot, "
        "Net2Wider, GradMax); init::Identity initialises whole layers: use insert_layer");
    check_hidden(h, "grow_neurons");
    if (count < 1) {
      detail::fail("grow_neurons: count = ", count, " for hidden layer ", h,
                   "; add at least one neuron");
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
    apply_axis_edit(h, AxisEdit::grow(old, count), GrowValues::caller);
    GrowthSite<Mlp> site{*this, params(h, "grow_neurons"), out, h, old, count, rng_};
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
  /// `neuron_ids(h)` follows the moves. Throws Error, leaving the network unchanged, for a bad
  /// layer, an index out of range, a duplicate, or a request that would empty the layer.
  std::vector<Index> remove_neurons(Index h, std::vector<Index> indices) {
    check_hidden(h, "remove_neurons");
    const Index w = width(h);
    if (indices.empty()) detail::fail("remove_neurons: no neurons given for hidden layer ", h);
    std::vector<Index> sorted = indices;
    std::sort(sorted.begin(), sorted.end());
    for (std::size_t i = 0; i < sorted.size(); ++i) {
      if (sorted[i] < 0 || sorted[i] >= w) {
        detail::fail("remove_neurons: neuron ", sorted[i], " does not exist in hidden layer ", h,
                     " (neurons 0..", w - 1, ")");
      }
      if (i > 0 && sorted[i] == sorted[i - 1]) {
        detail::fail("remove_neurons: neuron ", sorted[i], " of hidden layer ", h,
                     " is listed twice");
      }
    }
    if (static_cast<Index>(sorted.size()) >= w) {
      detail::fail("remove_neurons: removing ", sorted.size(), " of the ", w,
                   " neurons of hidden layer ", h, " would empty it; keep at least one");
    }
    if (w - static_cast<Index>(sorted.size()) < min_width(h)) {
      detail::fail("remove_neurons: removing ", sorted.size(), " of the ", w,
                   " neurons of hidden layer ", h, " would leave ",
                   w - static_cast<Index>(sorted.size()), ", below its minimum width ",
                   min_width(h), " (set_min_width)");
    }
    const AxisEdit edit = AxisEdit::remove(w, std::move(sorted));
    apply_axis_edit(h, edit, GrowValues::zero);
    log({.kind = EditKind::remove_neurons,
         .layer = h,
         .count = static_cast<Index>(indices.size())});
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
    const Index w = width(h);
    DenseParams<T>& in = params(h, "remove_dead_neurons");
    DenseParams<T>& out = params(h + 1, "remove_dead_neurons");
    const Matrix<T> in_mask = in.connection_mask();
    const Matrix<T> out_mask = out.connection_mask();
    std::vector<Index> dead;
    for (Index j = 0; j < w; ++j) {
      const bool no_input = (in_mask.row(j).array() == T(0)).all();
      const bool no_output = (out_mask.col(j).array() == T(0)).all();
      // A frozen neuron stays, and so does one whose folded bias would change a frozen one.
      if ((no_input || no_output) && detail::may_remove_neuron(in, out, j)) dead.push_back(j);
    }
    const Index removable =
        std::max<Index>(0, std::min<Index>(static_cast<Index>(dead.size()), w - min_width(h)));
    dead.resize(static_cast<std::size_t>(removable));
    if (dead.empty()) return {};
    for (Index j : dead) {
      if ((out_mask.col(j).array() == T(0)).all()) continue;  // reaches nothing: nothing to fold
      const Eigen::Array<T, 1, 1> constant =
          Act::apply(Eigen::Array<T, 1, 1>::Constant(in.bias()(j)));
      if (!out.has_frozen()) {
        out.bias() += out.weights().col(j) * constant(0);
        continue;
      }
      // Frozen rows read j with weight 0; skipping them keeps even a −0 bias bit-identical.
      for (Index i = 0; i < out.outputs(); ++i)
        if (out.weight_param().plasticity(i) != T(0))
          out.bias()(i) += out.weights()(i, j) * constant(0);
    }
    return remove_neurons(h, dead);
  }

  /// The fewest neurons structural pruning may leave in hidden layer h (default 1).
  Index min_width(Index h) const {
    check_hidden(h, "min_width");
    return min_width_[static_cast<std::size_t>(h)];
  }
  /// Sets the minimum width of hidden layer h (≥ 1): `remove_neurons` and `remove_dead_neurons`
  /// refuse to go below it. Throws Error for a bad layer or width < 1.
  void set_min_width(Index h, Index neurons) {
    check_hidden(h, "set_min_width");
    if (neurons < 1) {
      detail::fail("set_min_width: minimum width ", neurons, " for hidden layer ", h,
                   " must be ≥ 1");
    }
    min_width_[static_cast<std::size_t>(h)] = neurons;
  }

  /// Connection-level dropin (as in drop-and-grow sparse training): re-activates up to `count` of
  /// the pruned connections of dense layer l, those with the largest `scores` (any Eigen
  /// expression of the shape of `weights(l)`, e.g. |dLoss/dW| from `full_weight_gradient`). The
  /// connections come back with weight 0 and fresh optimizer state. Returns the record; its count
  /// is the number re-activated (fewer than `count` when fewer are pruned). Throws Error for a bad
  /// layer, count < 1 or a wrong shape.
  template <class D>
  EditRecord grow_connections(Index l, Index count, const Eigen::MatrixBase<D>& scores) {
    DenseParams<T>& d = params(l, "grow_connections");
    if (count < 1)
      detail::fail("grow_connections: count = ", count, " for layer ", l,
                   "; re-activate at least one");
    if (scores.rows() != d.outputs() || scores.cols() != d.inputs()) {
      detail::fail("grow_connections: scores are ",
                   detail::format_shape(scores.rows(), scores.cols()), " but weights(", l, ") is ",
                   detail::format_shape(d.outputs(), d.inputs()));
    }
    Param<T>& w = d.weight_param();
    Index grown = 0;
    if (w.masked) {
      std::vector<std::pair<T, Index>>
          candidates;  // (score, flat row-major index) of pruned entries
      auto mask = w.mask.view();
      for (Index r = 0; r < mask.rows(); ++r)
        for (Index c = 0; c < mask.cols(); ++c)
          if (mask(r, c) == T(0))
            candidates.emplace_back(static_cast<T>(scores(r, c)), r * mask.cols() + c);
      grown = std::min<Index>(count, static_cast<Index>(candidates.size()));
      std::partial_sort(candidates.begin(), candidates.begin() + grown, candidates.end(),
                        [](const auto& a, const auto& b) {
                          return a.first > b.first || (a.first == b.first && a.second < b.second);
                        });
      for (Index i = 0; i < grown; ++i) {
        const Index flat = candidates[static_cast<std::size_t>(i)].second;
        mask(flat / mask.cols(), flat % mask.cols()) = T(1);
      }
      w.refresh_masked();
    }
    return log({.kind = EditKind::grow_connections, .layer = l, .count = grown});
  }

  /// dLoss/dW(l) at every position, pruned ones included, from the last `backward(X, ws)` — the
  /// score connection dropin ranks pruned connections by. `X` is the batch of that pass.
  Matrix<T> full_weight_gradient(Index l, const MatrixRef<T>& X, Workspace<T>& ws) const {
    check_layer(l, "full_weight_gradient");
    const auto li = static_cast<std::size_t>(l);
    const Matrix<T> delta = ws.delta(li);
    if (delta.rows() != layer(li).outputs()) {
      detail::fail(
          "full_weight_gradient: the workspace does not hold a backward pass of this network");
    }
    if (l == 0) return delta * X.transpose();
    return delta * Matrix<T>(ws.activation(li - 1)).transpose();
  }

  /// Inserts a new hidden layer after hidden layer h, as wide as it: the new dense layer maps
  /// hidden layer h to itself, and the old layer h+1 now reads the new one. With
  /// `init::Identity{}` (weights I, zero bias) a ReLU network's function is unchanged (for other
  /// activations f(f(x)) ≠ f(x) in general, so it changes); `init::He{}` and `init::Glorot{}` give
  /// a random layer. Throws Error for a bad layer.
  template <class LayerInit>
  EditRecord insert_layer(Index h, const LayerInit& init) {
    static_assert(std::is_same_v<LayerInit, init::Identity> ||
                      std::is_same_v<LayerInit, init::He> ||
                      std::is_same_v<LayerInit, init::Glorot>,
                  "insert_layer: use init::Identity, init::He or init::Glorot for a new layer");
    check_hidden(h, "insert_layer");
    const Index w = width(h);
    Dense<T, Act> fresh(w, w);
    if constexpr (std::is_same_v<LayerInit, init::Identity>) {
      if (!std::isfinite(init.scale))
        detail::fail("insert_layer: init::Identity scale must be finite");
      fresh.weights().setIdentity();
      fresh.weights() *= static_cast<T>(init.scale);
    } else {
      Rng r = rng_.split();
      if constexpr (std::is_same_v<LayerInit, init::He>) {
        init::detail::fill_normal(fresh.weights(), r, std::sqrt(2.0 / static_cast<double>(w)));
      } else {
        init::detail::fill_uniform(fresh.weights(), r, std::sqrt(3.0 / static_cast<double>(w)));
      }
    }
    const auto at = static_cast<std::ptrdiff_t>(h + 1);
    hidden_.insert(hidden_.begin() + at, std::move(fresh));
    std::vector<std::uint64_t> ids(static_cast<std::size_t>(w));
    for (auto& id : ids) id = next_neuron_id_++;
    neuron_ids_.insert(neuron_ids_.begin() + at, std::move(ids));
    min_width_.insert(min_width_.begin() + at, 1);
    dropout_.insert(dropout_.begin() + at, Dropout{});
    neuron_dropout_.insert(neuron_dropout_.begin() + at, std::vector<double>{});
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
    hidden_.erase(hidden_.begin() + static_cast<std::ptrdiff_t>(h));
    neuron_ids_.erase(neuron_ids_.begin() + static_cast<std::ptrdiff_t>(h));
    min_width_.erase(min_width_.begin() + static_cast<std::ptrdiff_t>(h));
    dropout_.erase(dropout_.begin() + static_cast<std::ptrdiff_t>(h));
    neuron_dropout_.erase(neuron_dropout_.begin() + static_cast<std::ptrdiff_t>(h));
    return log({.kind = EditKind::remove_layer, .layer = h, .count = 1});
  }

  /// Every structural edit since construction, in order.
  const std::vector<EditRecord>& edit_log() const noexcept { return edit_log_; }
  /// Training steps (backward passes) the network has seen.
  std::int64_t training_steps() const noexcept { return steps_; }
  /// Width of hidden layer h (= sizes()[h+1]).
  Index width(Index h) const {
    check_hidden(h, "width");
    return layer(static_cast<std::size_t>(h)).outputs();
  }

  /// The network's random stream, used by initialisers of new neurons (kept, so a copied network
  /// grows exactly like the original).
  Rng& rng() noexcept { return rng_; }

 private:
  void check_input(const MatrixRef<T>& X, const char* where) const {
    if (X.rows() != input_size()) {
      detail::fail(where, ": input has ", X.rows(), " rows but the network expects ", input_size(),
                   " (samples are columns: pass features × batch)");
    }
    if (X.cols() == 0) detail::fail(where, ": the input batch is empty (0 columns)");
  }

  enum class Pass { inference, training, sampled };

  void run_forward(const MatrixRef<T>& X, Workspace<T>& ws, Pass pass) const {
    const auto layers = static_cast<std::size_t>(layer_count());
    const bool stochastic = pass != Pass::inference;
    for (std::size_t l = 0; l < layers; ++l) {
      ws.shape(layers, l, layer(l).outputs(), X.cols(), pass == Pass::training);
      auto& sc = ws.scratch(l);
      sc.alpha = T(1);
      sc.weights = Workspace<T>::LayerScratch::Weights::own;
      sc.multiplied = sc.compact_out = sc.drop_connect = false;
      // The previous hidden layer's dropout decides how this layer reads its input.
      const std::vector<Index>* in_kept = nullptr;
      if (!stochastic) sc.alpha = inference_scale(static_cast<Index>(l));
      if (stochastic && l > 0) {
        const Dropout& prev = dropout_[l - 1];
        const double p = prev.rate_at(steps_);
        if (p > 0 && prev.kind == DropoutKind::batch_shared) {
          in_kept = &ws.scratch(l - 1).kept;
          if (prev.convention == DropoutConvention::inverted)
            sc.alpha = static_cast<T>(1 / (1 - p));
        }
      }
      const Dropout own = l + 1 < layers ? dropout_[l] : Dropout{};
      const double p = own.rate_at(steps_);
      if (stochastic && p > 0 && own.kind == DropoutKind::batch_shared)
        sample_kept(sc, layer(l).outputs(), p, ws.rng());
      if (sc.compact_out || in_kept != nullptr) gather_weights(sc, layer(l), in_kept);
      if (stochastic && p > 0 && own.kind == DropoutKind::drop_connect)
        mask_connections(sc, layer(l), own, p, ws.rng());
      if (sc.compact_out)
        ws.shape(layers, l, static_cast<Index>(sc.kept.size()), X.cols(), pass == Pass::training);
      const MatrixRef<T> in = l == 0 ? MatrixRef<T>(X) : MatrixRef<T>(ws.input_of(l));
      auto out = ws.activation_buffer(l);
      const bool own_w = sc.weights == Workspace<T>::LayerScratch::Weights::own;
      const auto w = layer(l).weights();
      const T* wp = own_w ? w.data() : sc.w.data();
      const Index stride = own_w ? w.outerStride() : sc.w.outer_stride();
      const T* bias = sc.compact_out ? sc.bias.data() : layer(l).bias().data();
      const Index cols = in.rows();
      if (l + 1 == layers) {
        detail::dense_forward<Identity>(wp, stride, out.rows(), cols, bias, in, out, sc.alpha,
                                        ws.gemm());
      } else {
        detail::dense_forward<Act>(wp, stride, out.rows(), cols, bias, in, out, sc.alpha,
                                   ws.gemm());
      }
      if (stochastic && p > 0 &&
          (own.kind == DropoutKind::bernoulli || own.kind == DropoutKind::gaussian)) {
        multiply_outputs(sc, out, own, p, neuron_dropout_[l], ws.rng(), ws.window_first(),
                         ws.window_total());
      }
    }
  }

  template <class LayerAct, class D>
  void backward_layer(D& d, std::size_t l, const MatrixRef<T>& X, Workspace<T>& ws) {
    auto& sc = ws.scratch(l);
    auto delta = ws.delta(l);
    if (sc.multiplied) delta.array() *= sc.mult.view().array();  // dLoss/dA from dLoss/d(A ∘ mult)
    const MatrixRef<T> in = l == 0 ? MatrixRef<T>(X) : MatrixRef<T>(ws.input_of(l));
    MatrixView<T> delta_in_view = l == 0 ? ws.delta(0) : ws.delta(l - 1);
    MatrixView<T>* delta_in = l == 0 ? nullptr : &delta_in_view;
    Param<T>& wp = d.weight_param();
    T* grad_b = d.bias_param().grad.data();
    if (sc.weights == Workspace<T>::LayerScratch::Weights::own) {
      const auto w = d.weights();
      detail::dense_backward<LayerAct>(
          w.data(), w.outerStride(), w.rows(), w.cols(), in, ws.activation(l), delta,
          wp.grad.data(), wp.grad.outer_stride(), grad_b, delta_in, sc.alpha, ws.gemm());
    } else {
      const Index rows = delta.rows();
      const Index cols = in.rows();
      sc.grad.reshape_uninitialized(rows, cols);
      sc.bias_grad.reshape_uninitialized(rows, 1);
      detail::dense_backward<LayerAct>(
          sc.w.data(), sc.w.outer_stride(), rows, cols, in, ws.activation(l), delta, sc.grad.data(),
          sc.grad.outer_stride(), sc.bias_grad.data(), delta_in, sc.alpha, ws.gemm());
      if (sc.drop_connect) sc.grad.view().array() *= sc.wmult.view().array();
      const bool in_compact = l > 0 && ws.scratch(l - 1).compact_out;
      scatter_gradients(sc, d, in_compact ? &ws.scratch(l - 1).kept : nullptr);
    }
    if (wp.masked) wp.grad.view().array() *= wp.mask.view().array();
  }

  // Batch-shared dropout: each neuron kept with probability 1 − p, at least one.
  static void sample_kept(typename Workspace<T>::LayerScratch& sc, Index width, double p,
                          Rng& rng) {
    sc.kept.clear();
    sc.kept.reserve(static_cast<std::size_t>(width));
    for (Index j = 0; j < width; ++j)
      if (rng.uniform() >= p) sc.kept.push_back(j);
    if (sc.kept.empty())
      sc.kept.push_back(static_cast<Index>(rng.below(static_cast<std::uint64_t>(width))));
    sc.compact_out = true;
  }

  // Copies the kept rows (this layer's batch-shared dropout) and kept columns (the previous
  // layer's) of W and the kept biases: the product then skips what was dropped.
  static void gather_weights(typename Workspace<T>::LayerScratch& sc, const DenseParams<T>& d,
                             const std::vector<Index>* in_kept) {
    const auto w = d.weights();
    const auto b = d.bias();
    const Index rows = sc.compact_out ? static_cast<Index>(sc.kept.size()) : w.rows();
    const Index cols = in_kept != nullptr ? static_cast<Index>(in_kept->size()) : w.cols();
    sc.w.reshape_uninitialized(rows, cols);
    sc.bias.reshape_uninitialized(rows, 1);
    auto g = sc.w.view();
    for (Index r = 0; r < rows; ++r) {
      const Index src = sc.compact_out ? sc.kept[static_cast<std::size_t>(r)] : r;
      sc.bias.data()[r] = b(src);
      if (in_kept == nullptr) {
        g.row(r) = w.row(src);
      } else {
        for (Index c = 0; c < cols; ++c) g(r, c) = w(src, (*in_kept)[static_cast<std::size_t>(c)]);
      }
    }
    if (!sc.compact_out) {
      sc.bias.reshape_uninitialized(0, 1);  // the full bias is read from the layer
    }
    sc.weights = Workspace<T>::LayerScratch::Weights::substituted;
  }

  // DropConnect: W ∘ M·s with M ~ Bernoulli(1 − p) per weight (s = 1/(1−p) when inverted).
  static void mask_connections(typename Workspace<T>::LayerScratch& sc, const DenseParams<T>& d,
                               const Dropout& own, double p, Rng& rng) {
    const bool gathered = sc.weights == Workspace<T>::LayerScratch::Weights::substituted;
    const Index rows = gathered ? sc.w.rows() : d.outputs();
    const Index cols = gathered ? sc.w.cols() : d.inputs();
    if (!gathered) {
      sc.w.reshape_uninitialized(rows, cols);
      sc.w.view() = d.weights();
    }
    sc.wmult.reshape_uninitialized(rows, cols);
    const T keep =
        own.convention == DropoutConvention::inverted ? static_cast<T>(1 / (1 - p)) : T(1);
    fill_bernoulli(sc.wmult.view(), p, keep, rng);
    sc.w.view().array() *= sc.wmult.view().array();
    sc.weights = Workspace<T>::LayerScratch::Weights::substituted;
    sc.drop_connect = true;
  }

  // Bernoulli or Gaussian multipliers for every output of the batch; the next layer reads
  // output ∘ multipliers, the backward pass multiplies the incoming gradient by them. In a
  // windowed pass (Workspace::set_sample_window) they are drawn for the whole batch of `total`
  // and columns [first, first + cols) are used.
  static void multiply_outputs(typename Workspace<T>::LayerScratch& sc, const MatrixView<T>& out,
                               const Dropout& own, double p, const std::vector<double>& rates,
                               Rng& rng, Index first, Index total) {
    sc.mult.reshape_uninitialized(out.rows(), out.cols());
    sc.dropped.reshape_uninitialized(out.rows(), out.cols());
    const bool windowed = total > 0;
    if (windowed) sc.window_mult.reshape_uninitialized(out.rows(), total);
    auto m = windowed ? sc.window_mult.view() : sc.mult.view();
    if (own.kind == DropoutKind::gaussian) {
      for (Index c = 0; c < m.cols(); ++c)
        rng.fill_normal(std::span<T>(&m(0, c), static_cast<std::size_t>(m.rows())), 1.0,
                        std::sqrt(p / (1 - p)));
    } else if (!rates.empty()) {
      // Relevance-guided: neuron j (row j) drops with its own rate, kept values scaled by 1/(1 −
      // p_j). The schedule scales every rate by the same ramp factor.
      const double ramp = own.rate > 0 ? p / own.rate : 1.0;
      for (Index j = 0; j < m.rows(); ++j) {
        const double pj = rates[static_cast<std::size_t>(j)] * ramp;
        fill_bernoulli(m.row(j), pj, static_cast<T>(1 / (1 - pj)), rng);
      }
    } else {
      const T keep =
          own.convention == DropoutConvention::inverted ? static_cast<T>(1 / (1 - p)) : T(1);
      fill_bernoulli(m, p, keep, rng);
    }
    if (windowed) sc.mult.view() = m.middleCols(first, out.cols());
    sc.dropped.view() = out.cwiseProduct(sc.mult.view());
    sc.multiplied = true;
  }

  // Entries are 0 with probability p and `keep` otherwise; 32 random bits per entry.
  template <class M>
  static void fill_bernoulli(M&& m, double p, T keep, Rng& rng) {
    const auto threshold = static_cast<std::uint64_t>(p * 4294967296.0);
    std::uint64_t bits = 0;
    int left = 0;
    for (Index o = 0; o < (std::decay_t<M>::IsRowMajor ? m.rows() : m.cols()); ++o) {
      for (Index i = 0; i < (std::decay_t<M>::IsRowMajor ? m.cols() : m.rows()); ++i) {
        if (left == 0) {
          bits = rng.next();
          left = 2;
        }
        const std::uint64_t u = bits & 0xffffffffu;
        bits >>= 32;
        --left;
        (std::decay_t<M>::IsRowMajor ? m(o, i) : m(i, o)) = u >= threshold ? keep : T(0);
      }
    }
  }

  // Writes the gradient of the substituted weights back into the layer's gradient planes: zero
  // for dropped neurons, the gathered entries elsewhere. `in_kept`: the previous layer's kept
  // neurons when it used batch-shared dropout.
  template <class D>
  static void scatter_gradients(typename Workspace<T>::LayerScratch& sc, D& d,
                                const std::vector<Index>* in_kept) {
    auto grad = d.weight_param().grad.view();
    VectorView<T> grad_b(d.bias_param().grad.data(), d.outputs());
    const auto g = sc.grad.view();
    const ConstVectorView<T> gb(sc.bias_grad.data(), g.rows());
    if (!sc.compact_out && in_kept == nullptr) {
      grad = g;
      grad_b = gb;
      return;
    }
    grad.setZero();
    grad_b.setZero();
    for (Index r = 0; r < g.rows(); ++r) {
      const Index dst = sc.compact_out ? sc.kept[static_cast<std::size_t>(r)] : r;
      grad_b(dst) = gb(r);
      if (in_kept == nullptr) {
        grad.row(dst) = g.row(r);
      } else {
        for (Index c = 0; c < g.cols(); ++c)
          grad(dst, (*in_kept)[static_cast<std::size_t>(c)]) = g(r, c);
      }
    }
  }

  static std::vector<int> argmax_columns(const Matrix<T>& logits) {
    std::vector<int> out(static_cast<std::size_t>(logits.cols()));
    for (Index c = 0; c < logits.cols(); ++c) {
      Index best = 0;
      logits.col(c).maxCoeff(&best);
      out[static_cast<std::size_t>(c)] = static_cast<int>(best);
    }
    return out;
  }

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

  void check_layer(Index l, const char* where) const {
    if (l < 0 || l >= layer_count()) {
      detail::fail(where, ": layer ", l, " does not exist (the network has ", layer_count(),
                   " dense layers: 0..", layer_count() - 1, ")");
    }
  }

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

  const DenseParams<T>& layer(std::size_t l) const noexcept {
    return l == hidden_.size() ? static_cast<const DenseParams<T>&>(output_) : hidden_[l];
  }
  DenseParams<T>& params(Index l, const char* where) {
    check_layer(l, where);
    return static_cast<std::size_t>(l) == hidden_.size() ? static_cast<DenseParams<T>&>(output_)
                                                         : hidden_[static_cast<std::size_t>(l)];
  }
  const DenseParams<T>& params(Index l, const char* where) const {
    check_layer(l, where);
    return layer(static_cast<std::size_t>(l));
  }

  void apply_axis_edit(Index h, const AxisEdit& edit, GrowValues values) {
    params(h, "edit").apply_output_edit(edit, values);
    params(h + 1, "edit").apply_input_edit(edit, values);
    auto& ids = neuron_ids_[static_cast<std::size_t>(h)];
    edit.apply(ids);
    for (Index i = edit.old_size(); i < edit.new_size(); ++i)
      ids[static_cast<std::size_t>(i)] = next_neuron_id_++;
    // Per-neuron dropout rates are bound to the axis too; new neurons get the layer's rate.
    auto& rates = neuron_dropout_[static_cast<std::size_t>(h)];
    if (!rates.empty()) edit.apply(rates, dropout_[static_cast<std::size_t>(h)].rate);
  }

  EditRecord log(EditRecord record) {
    record.step = steps_;
    edit_log_.push_back(record);
    return record;
  }

  template <class Net>
  friend struct detail::MlpAccess;

  std::vector<Dense<T, Act>> hidden_;
  Dense<T, Identity> output_;
  std::vector<std::vector<std::uint64_t>> neuron_ids_;  // one per hidden axis, bound to it
  std::uint64_t next_neuron_id_ = 0;
  std::vector<EditRecord> edit_log_;
  std::vector<Index> min_width_;  // one per hidden layer
  std::vector<Dropout> dropout_;  // one per hidden layer
  std::vector<std::vector<double>>
      neuron_dropout_;  // per-neuron rates per hidden layer (axis-bound)
  std::int64_t steps_ = 0;
  Rng rng_;
};

}  // namespace neuroplast
