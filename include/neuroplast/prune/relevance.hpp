#pragma once
/// \file
/// LRP relevance as a pruning criterion: neurons and connections that carry little relevance for
/// the network's decisions go first (the paper's "useless weight positions", Algorithm 3).

#include <string_view>
#include <type_traits>

#include "neuroplast/prune/criterion.hpp"
#include "neuroplast/relevance/aggregate.hpp"

namespace neuroplast {

/// Mean absolute LRP relevance over a dataset (see `lrp::aggregate` and docs/lrp.md). Neuron j of
/// hidden layer h scores
///
///     s_j = (1/N) Σ_n |R_j(x_n)|
///
/// and connection w_ji of dense layer l scores (1/N) Σ_n |R_ji(x_n)|, the relevance flowing
/// through it, over the first N samples (`max_samples`, 0 = all), each explained for `target`
/// (by default its predicted class) with `rule`.
struct LrpRelevance {
  static constexpr std::string_view name = "lrp_relevance";  ///< the criterion's name
  static constexpr bool needs_data = true;                   ///< scores are computed on a dataset

  lrp::Composite rule{};   ///< rules per layer kind (default ε / z⁺ / ε)
  Index batch_size = 256;  ///< samples per relevance pass
  Index max_samples = 0;   ///< use the first max_samples samples; 0 = all
  lrp::TargetSource target = lrp::TargetSource::predicted;  ///< class explained per sample

  /// Scores of every hidden neuron on `data`. Throws Error when `data` is null or does not fit,
  /// or for an invalid rule.
  template <Network Net>
  NeuronScores<scalar_of<Net>> neuron_scores(const Net& net,
                                             const Dataset<scalar_of<Net>>* data) const {
    detail::scoring_samples(net, data, batch_size, max_samples, "LrpRelevance");
    return lrp::aggregate(net, *data, rule, options(false)).neuron_mean_abs;
  }

  /// Scores of every connection on `data` (element l of the shape of `weights(l)`; pruned
  /// connections score 0). Throws as neuron_scores.
  template <Network Net>
  ConnectionScores<scalar_of<Net>> connection_scores(const Net& net,
                                                     const Dataset<scalar_of<Net>>* data) const {
    detail::scoring_samples(net, data, batch_size, max_samples, "LrpRelevance");
    return lrp::aggregate(net, *data, rule, options(true)).connection_mean_abs;
  }

 private:
  lrp::AggregateOptions options(bool connections) const {
    return {.batch_size = batch_size,
            .max_samples = max_samples,
            .connections = connections,
            .target = target};
  }
};

}  // namespace neuroplast
