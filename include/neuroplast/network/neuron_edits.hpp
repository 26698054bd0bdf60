#pragma once
/// \file
/// The checks and computations behind a network's neuron- and layer-level edits (removal, dead
/// neurons, a new layer, the dropout settings of an axis), apart from the network that applies
/// them through its one axis edit.

#include <algorithm>
#include <cmath>
#include <cstdint>
#include <type_traits>
#include <vector>

#include "neuroplast/core/error.hpp"
#include "neuroplast/core/rng.hpp"
#include "neuroplast/core/types.hpp"
#include "neuroplast/layers/dense.hpp"
#include "neuroplast/layers/dropout.hpp"
#include "neuroplast/network/initializers.hpp"

namespace neuroplast::detail {

/// Sorts `indices` (not empty) and checks that removing them from hidden layer `h` (`width`
/// neurons, at least `min_width` to keep) is valid: each in range, none twice, at least
/// `min_width` left. Throws Error naming the layer otherwise.
inline void check_removal(Index h, Index width, Index min_width, std::vector<Index>& indices) {
  std::sort(indices.begin(), indices.end());
  for (std::size_t i = 0; i < indices.size(); ++i) {
    if (indices[i] < 0 || indices[i] >= width) {
      fail("remove_neurons: neuron ", indices[i], " does not exist in hidden layer ", h,
           " (neurons 0..", width - 1, ")");
    }
    if (i > 0 && indices[i] == indices[i - 1])
      fail("remove_neurons: neuron ", indices[i], " of hidden layer ", h, " is listed twice");
  }
  const auto left = width - static_cast<Index>(indices.size());
  if (left < 1) {
    fail("remove_neurons: removing ", indices.size(), " of the ", width,
         " neurons of hidden layer ", h, " would empty it; keep at least one");
  }
  if (left < min_width) {
    fail("remove_neurons: removing ", indices.size(), " of the ", width,
         " neurons of hidden layer ", h, " would leave ", left, ", below its minimum width ",
         min_width, " (set_min_width)");
  }
}

/// The neurons of the axis between dense layers `in` and `out` that a connection mask has cut off
/// (fully pruned fan-in or fan-out), at most `width − min_width` of them (the lowest indices),
/// none frozen or feeding a frozen neuron (may_remove_neuron). The constant f(b) a neuron without
/// fan-in outputs is folded into `out`'s bias (frozen rows untouched), so removing them leaves
/// the function unchanged.
template <class Act, Scalar T>
std::vector<Index> take_dead_neurons(const DenseParams<T>& in, DenseParams<T>& out,
                                     Index min_width) {
  const Index w = in.outputs();
  const Matrix<T> in_mask = in.connection_mask();
  const Matrix<T> out_mask = out.connection_mask();
  std::vector<Index> dead;
  for (Index j = 0; j < w; ++j) {
    const bool no_input = (in_mask.row(j).array() == T(0)).all();
    const bool no_output = (out_mask.col(j).array() == T(0)).all();
    if ((no_input || no_output) && may_remove_neuron(in, out, j)) dead.push_back(j);
  }
  const Index removable =
      std::max<Index>(0, std::min<Index>(static_cast<Index>(dead.size()), w - min_width));
  dead.resize(static_cast<std::size_t>(removable));
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
  return dead;
}

/// A new `width × width` layer of type `L` (an EditableLayer) for `insert_layer`:
/// `init::Identity` (scale · I), `init::He` or `init::Glorot` (drawn from a stream split off
/// `rng`), zero bias.
template <class L, class LayerInit>
L make_inserted_layer(Index width, const LayerInit& init, Rng& rng) {
  using T = typename L::scalar;
  static_assert(std::is_same_v<LayerInit, init::Identity> || std::is_same_v<LayerInit, init::He> ||
                    std::is_same_v<LayerInit, init::Glorot>,
                "insert_layer: use init::Identity, init::He or init::Glorot for a new layer");
  L fresh(width, width);
  if constexpr (std::is_same_v<LayerInit, init::Identity>) {
    if (!std::isfinite(init.scale)) fail("insert_layer: init::Identity scale must be finite");
    fresh.weights().setIdentity();
    fresh.weights() *= static_cast<T>(init.scale);
  } else {
    Rng r = rng.split();
    const auto w = static_cast<double>(width);
    if constexpr (std::is_same_v<LayerInit, init::He>) {
      init::detail::fill_normal(fresh.weights(), r, std::sqrt(2.0 / w));
    } else {
      init::detail::fill_uniform(fresh.weights(), r, std::sqrt(3.0 / w));
    }
  }
  return fresh;
}

/// The factor inference applies to a dense layer's product, from the dropout of the hidden layer
/// feeding it (`prev`, null for the first layer) and its own (`own`, null for the output layer)
/// at training step `step`: 1, times (1 − p) for each paper-convention dropout that scales it.
template <Scalar T>
T inference_scale(const Dropout* prev, const Dropout* own, std::int64_t step) {
  T alpha = T(1);
  if (prev != nullptr) {
    const double p = prev->rate_at(step);
    const bool neuron_kind =
        prev->kind == DropoutKind::bernoulli || prev->kind == DropoutKind::batch_shared;
    if (p > 0 && neuron_kind && prev->convention == DropoutConvention::paper)
      alpha = static_cast<T>(1 - p);
  }
  if (own != nullptr) {
    const double p = own->rate_at(step);
    if (p > 0 && own->kind == DropoutKind::drop_connect &&
        own->convention == DropoutConvention::paper)
      alpha *= static_cast<T>(1 - p);
  }
  return alpha;
}

/// Checks per-neuron dropout `rates` for hidden layer `h` of `width` neurons whose dropout is `d`:
/// empty (clears them), or one rate in [0, 1) per neuron under inverted Bernoulli dropout.
inline void check_dropout_rates(Index h, Index width, const Dropout& d,
                                const std::vector<double>& rates) {
  if (rates.empty()) return;
  if (static_cast<Index>(rates.size()) != width) {
    fail("set_dropout_rates: ", rates.size(), " rates for hidden layer ", h, " of ", width,
         " neurons; give one rate per neuron");
  }
  if (d.kind != DropoutKind::bernoulli || d.convention != DropoutConvention::inverted) {
    fail("set_dropout_rates: hidden layer ", h,
         " needs Bernoulli dropout in the inverted convention for per-neuron rates (set_dropout)");
  }
  for (double r : rates)
    if (!(r >= 0.0 && r < 1.0)) fail("set_dropout_rates: rate ", r, " is outside [0, 1)");
}

}  // namespace neuroplast::detail
