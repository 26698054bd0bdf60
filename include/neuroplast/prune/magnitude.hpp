#pragma once
/// \file
/// Magnitude criteria: a neuron (or a connection) matters as much as its weights are large.
/// No data needed, the cheapest criteria there are.

#include <string_view>
#include <type_traits>

#include "neuroplast/prune/criterion.hpp"

namespace neuroplast {

namespace detail {

/// Σ|w| (P = 1) or √Σw² (P = 2) over the fan-in row j of W(h) and, with `fan_out`, the fan-out
/// column j of W(h+1), for every neuron j of every hidden layer h.
template <int P, Network Net>
NeuronScores<scalar_of<Net>> magnitude_scores(const Net& net, bool fan_out) {
  using T = scalar_of<Net>;
  NeuronScores<T> scores;
  scores.reserve(static_cast<std::size_t>(net.hidden_layer_count()));
  for (Index h = 0; h < net.hidden_layer_count(); ++h) {
    const auto in = net.weights(h);
    const auto out = net.weights(h + 1);
    Vector<T> s;
    if constexpr (P == 1) {
      s = in.cwiseAbs().rowwise().sum();
      if (fan_out) s += out.cwiseAbs().colwise().sum().transpose();
    } else {
      s = in.rowwise().squaredNorm();
      if (fan_out) s += out.colwise().squaredNorm().transpose();
      s = s.cwiseSqrt();
    }
    scores.push_back(std::move(s));
  }
  return scores;
}

/// |w| for every connection of every dense layer.
template <Network Net>
ConnectionScores<scalar_of<Net>> weight_magnitudes(const Net& net) {
  using T = scalar_of<Net>;
  ConnectionScores<T> scores;
  scores.reserve(static_cast<std::size_t>(net.layer_count()));
  for (Index l = 0; l < net.layer_count(); ++l) scores.emplace_back(net.weights(l).cwiseAbs());
  return scores;
}

}  // namespace detail

/// L1 magnitude. Neuron j of hidden layer h scores
///
///     s_j = Σ_i |W(h)_ji| + Σ_k |W(h+1)_kj|
///
/// (its fan-in row plus, with `include_fan_out`, its fan-out column; the bias is not counted).
/// Pruned connections hold 0 and add nothing. A single connection scores |w|.
///
/// The fan-out matters: a neuron with a large fan-in but a fan-out near 0 barely reaches the next
/// layer. The two sums are added as they are, so with 784 inputs and 10 outputs the fan-in
/// dominates; set `include_fan_out = false` for the fan-in alone.
struct MagnitudeL1 {
  static constexpr std::string_view name = "magnitude_l1";  ///< the criterion's name
  static constexpr bool needs_data = false;                 ///< scores come from the network alone

  bool include_fan_out = true;  ///< add the fan-out column of W(h+1) to the fan-in row of W(h)

  /// Scores of every hidden neuron; the dataset is ignored (may be null).
  template <Network Net>
  NeuronScores<scalar_of<Net>> neuron_scores(const Net& net,
                                             const Dataset<scalar_of<Net>>* = nullptr) const {
    return detail::magnitude_scores<1>(net, include_fan_out);
  }
  /// |w| of every connection; the dataset is ignored (may be null).
  template <Network Net>
  ConnectionScores<scalar_of<Net>> connection_scores(
      const Net& net, const Dataset<scalar_of<Net>>* = nullptr) const {
    return detail::weight_magnitudes(net);
  }
};

/// L2 magnitude: the Euclidean norm of the neuron's weights taken together,
///
///     s_j = √( Σ_i W(h)_ji² + Σ_k W(h+1)_kj² )
///
/// (the fan-out term only with `include_fan_out`; no bias). A single connection scores |w|.
struct MagnitudeL2 {
  static constexpr std::string_view name = "magnitude_l2";  ///< the criterion's name
  static constexpr bool needs_data = false;                 ///< scores come from the network alone

  bool include_fan_out = true;  ///< include the fan-out column of W(h+1) in the norm

  /// Scores of every hidden neuron; the dataset is ignored (may be null).
  template <Network Net>
  NeuronScores<scalar_of<Net>> neuron_scores(const Net& net,
                                             const Dataset<scalar_of<Net>>* = nullptr) const {
    return detail::magnitude_scores<2>(net, include_fan_out);
  }
  /// |w| of every connection; the dataset is ignored (may be null).
  template <Network Net>
  ConnectionScores<scalar_of<Net>> connection_scores(
      const Net& net, const Dataset<scalar_of<Net>>* = nullptr) const {
    return detail::weight_magnitudes(net);
  }
};

}  // namespace neuroplast
