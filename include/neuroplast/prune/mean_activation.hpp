#pragma once
/// \file
/// Mean activation: a neuron that rarely fires (or always outputs about 0) carries little.

#include <string_view>
#include <type_traits>

#include "neuroplast/prune/criterion.hpp"

namespace neuroplast {

/// Mean absolute activation over a dataset. Neuron j of hidden layer h scores
///
///     s_j = (1/N) Σ_n |a_j(x_n)|
///
/// over the first N samples (`max_samples`, 0 = all), a_j being the neuron's output after its
/// activation function in an inference pass (`Mlp::forward`: no dropout). The absolute value
/// keeps a tanh neuron that swings between −1 and +1 from scoring 0; for ReLU it changes nothing.
/// Dead ReLU neurons score exactly 0.
///
/// Caveat: the score ignores the fan-out, so a neuron that fires strongly into near-zero weights
/// still scores high; combine with a magnitude or Taylor criterion when that matters.
struct MeanActivation {
  static constexpr std::string_view name = "mean_activation";  ///< the criterion's name
  static constexpr bool needs_data = true;                     ///< scores are computed on a dataset

  Index batch_size = 256;  ///< samples per forward pass (memory ∝ widest layer × batch)
  Index max_samples = 0;   ///< use the first max_samples samples; 0 = all

  /// Scores of every hidden neuron on `data`. Throws Error when `data` is null, does not fit the
  /// network, or the options are invalid.
  template <Network Net>
  NeuronScores<scalar_of<Net>> neuron_scores(const Net& net,
                                             const Dataset<scalar_of<Net>>* data) const {
    using T = scalar_of<Net>;
    const Index n = detail::scoring_samples(net, data, batch_size, max_samples, "MeanActivation");
    const auto hidden = static_cast<std::size_t>(net.hidden_layer_count());
    // Sums in double: tens of thousands of float samples would otherwise lose digits.
    std::vector<Vector<double>> sums(hidden);
    for (std::size_t h = 0; h < hidden; ++h) sums[h] = Vector<double>::Zero(net.sizes()[h + 1]);
    Workspace<T> ws;
    detail::for_each_scoring_batch(*data, n, batch_size, [&](Index, Index, const MatrixRef<T>& X) {
      net.forward(X, ws);
      for (std::size_t h = 0; h < hidden; ++h)
        sums[h] += ws.activation(h).cwiseAbs().rowwise().sum().template cast<double>();
    });
    NeuronScores<T> scores;
    scores.reserve(hidden);
    for (auto& s : sums) scores.push_back((s / static_cast<double>(n)).template cast<T>());
    return scores;
  }
};

}  // namespace neuroplast
