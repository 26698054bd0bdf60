#pragma once
/// \file
/// `LrpLayerSelector`: where to grow, by the paper's rule "the layer with the largest LRP value
/// exceeds the threshold defined by the average LRP value".
///
/// Definition (see docs/lrp.md for the reasoning):
///
/// - the LRP value of hidden layer h is its score over the first `max_samples` samples of the
///   given data (a validation sample), by default the mean over samples and neurons of |R_j|, the
///   relevance load per neuron (`lrp::LayerScore`);
/// - the threshold is `factor` × the mean of the scores of all hidden layers;
/// - the selected layer is the top-scoring one (the first on ties) if its score is strictly above
///   the threshold; otherwise none is (std::nullopt): relevance is spread evenly, so no layer
///   stands out as the place to grow;
/// - a network with a single hidden layer always selects it (it is the only place to grow; the
///   comparison with an average of one value is empty), and one without hidden layers selects
///   none.

#include <algorithm>
#include <cmath>
#include <numeric>
#include <optional>
#include <span>
#include <vector>

#include "neuroplast/relevance/aggregate.hpp"

namespace neuroplast {

/// Chooses the hidden layer to grow by LRP relevance; default-constructible, all fields optional:
/// `LrpLayerSelector{.factor = 1.2, .max_samples = 512}`.
struct LrpLayerSelector {
  /// Rules used to explain. Only the hidden and output slots matter here: hidden relevance does
  /// not depend on the input layer's rule.
  lrp::Composite rule = {};
  /// How a layer's neuron relevances become its score.
  lrp::LayerScore score = lrp::LayerScore::mean_abs_per_neuron;
  /// The top layer must score above factor × mean of all scores (≥ 0; 1 = the paper's rule).
  double factor = 1.0;
  /// Samples used (the first ones of the data); 0 = all.
  Index max_samples = 1024;
  /// Samples per relevance pass.
  Index batch_size = 256;
  /// Which class each sample is explained for.
  lrp::TargetSource target = lrp::TargetSource::predicted;

  /// Score of every hidden layer of `net` on `data` (empty without hidden layers). Throws Error on
  /// invalid settings or data that does not fit the network.
  template <Network Net>
  std::vector<double> scores(const Net& net, const Dataset<scalar_of<Net>>& data) const {
    using T = scalar_of<Net>;
    constexpr const char* who = "LrpLayerSelector::scores";
    validate(who);
    lrp::detail::validate_rule(rule, who);
    lrp::detail::check_dataset(net, data, target, batch_size, max_samples, who);
    const auto hidden = static_cast<std::size_t>(net.hidden_layer_count());
    if (hidden == 0) return {};
    const Index n = max_samples > 0 ? std::min(max_samples, data.size()) : data.size();
    std::vector<double> abs_sum(hidden, 0.0);
    std::vector<int> targets;
    for (Index first = 0; first < n; first += batch_size) {
      const Index count = std::min(batch_size, n - first);
      lrp::detail::targets_for(data, target, first, count, targets);
      const MatrixRef<T> X = data.features().middleCols(first, count);
      // Down to hidden layer 0 only: the input layer's relevance is not needed here.
      const auto e = lrp::detail::propagate(net, X, rule, targets, 1, true);
      for (std::size_t h = 0; h < hidden; ++h)
        abs_sum[h] += static_cast<double>(e.hidden[h].cwiseAbs().template cast<double>().sum());
    }
    const std::vector<Index> sizes = net.sizes();
    for (std::size_t h = 0; h < hidden; ++h) {
      abs_sum[h] /= static_cast<double>(n);
      if (score == lrp::LayerScore::mean_abs_per_neuron)
        abs_sum[h] /= static_cast<double>(sizes[h + 1]);
    }
    return abs_sum;
  }

  /// The rule applied to given scores (one per hidden layer): the index of the top layer if it
  /// scores above `factor` × the mean, a single layer always, otherwise std::nullopt.
  std::optional<Index> choose(std::span<const double> layer_scores) const {
    validate("LrpLayerSelector::choose");
    if (layer_scores.empty()) return std::nullopt;
    if (layer_scores.size() == 1) return Index{0};
    const auto top = std::max_element(layer_scores.begin(), layer_scores.end());
    if (*top > threshold(layer_scores)) return static_cast<Index>(top - layer_scores.begin());
    return std::nullopt;
  }

  /// factor × the mean of the scores (0 for no scores).
  double threshold(std::span<const double> layer_scores) const {
    if (layer_scores.empty()) return 0;
    const double sum = std::accumulate(layer_scores.begin(), layer_scores.end(), 0.0);
    return factor * sum / static_cast<double>(layer_scores.size());
  }

  /// The hidden layer to grow in `net`, judged on `data` (use a validation sample), or
  /// std::nullopt when no layer stands out. Throws as `scores`.
  template <Network Net>
  std::optional<Index> select(const Net& net, const Dataset<scalar_of<Net>>& data) const {
    const std::vector<double> s = scores(net, data);
    return choose(s);
  }

 private:
  void validate(const char* who) const {
    if (!(factor >= 0) || !std::isfinite(factor)) {
      detail::fail(who, ": factor is ", factor,
                   "; it must be finite and ≥ 0 (1 = grow when the top layer is above the mean)");
    }
  }
};

}  // namespace neuroplast
