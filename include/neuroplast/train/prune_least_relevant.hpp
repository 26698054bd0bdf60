#pragma once
/// \file
/// Algorithm 3's pruning step: mask the weights LRP finds useless, then remove the dead neurons.

#include <algorithm>
#include <cmath>
#include <vector>

#include "neuroplast/core/error.hpp"
#include "neuroplast/data/dataset.hpp"
#include "neuroplast/network/network.hpp"
#include "neuroplast/relevance/aggregate.hpp"

namespace neuroplast {

/// Prunes, in every dense layer, the `fraction` of its still-active connections with the smallest
/// mean absolute LRP connection relevance over (the first `max_samples` of) a validation set, then
/// removes the hidden neurons left without inputs or outputs (`remove_dead_neurons`, respecting
/// each layer's minimum width). Ties are broken by the smaller |weight|. Connections of frozen
/// neurons (plasticity 0) are not candidates, and frozen neurons are not removed.
struct PruneLeastRelevant {
  double fraction = 0.2;     ///< share of each layer's active connections pruned, in (0, 1)
  lrp::Composite rule = {};  ///< LRP rules the relevance is computed with
  Index max_samples = 512;   ///< first samples the relevance is averaged over (0 = all)
  bool remove_dead = true;   ///< remove the neurons the pruning leaves dead

  /// Throws Error unless `fraction` lies in (0, 1) and `max_samples` ≥ 0.
  void validate() const {
    if (!(fraction > 0 && fraction < 1)) {
      detail::fail("PruneLeastRelevant: fraction = ", fraction, " must lie in (0, 1)");
    }
    if (max_samples < 0) detail::fail("PruneLeastRelevant: max_samples must be ≥ 0");
  }

  /// Connections pruned and neurons removed by one application.
  struct Result {
    Index connections = 0;                 ///< connections pruned, over all layers
    std::vector<Index> neurons_removed{};  ///< per hidden layer
  };

  /// Prunes `net`, judging relevance on `data`. Throws Error for an invalid setting.
  template <EditableNetwork Net, class T>
  Result apply(Net& net, const Dataset<T>& data) const {
    validate();
    const auto stats = lrp::aggregate(
        net, data, rule, lrp::AggregateOptions{.max_samples = max_samples, .connections = true});
    Result result;
    for (Index l = 0; l < net.layer_count(); ++l) {
      const Matrix<T>& relevance = stats.connection_mean_abs[static_cast<std::size_t>(l)];
      const Matrix<T> mask = net.connection_mask(l);
      const Matrix<T> w = net.weights(l);
      const Vector<T> plasticity = net.plasticity(l);
      std::vector<std::pair<std::pair<T, T>, Index>> active;  // ((relevance, |w|), flat index)
      for (Index c = 0; c < mask.cols(); ++c)
        for (Index r = 0; r < mask.rows(); ++r)
          if (mask(r, c) != T(0) && plasticity(r) != T(0))
            active.push_back({{relevance(r, c), std::abs(w(r, c))}, c * mask.rows() + r});
      const auto k =
          static_cast<std::size_t>(std::floor(fraction * static_cast<double>(active.size())));
      if (k == 0) continue;
      // Only which k are smallest matters, not their order: a selection, O(n) instead of
      // O(n log k). The index makes every key distinct, so the set is the one a sort would pick.
      std::nth_element(active.begin(), active.begin() + static_cast<std::ptrdiff_t>(k - 1),
                       active.end());
      Matrix<T> cut = Matrix<T>::Ones(mask.rows(), mask.cols());
      for (std::size_t i = 0; i < k; ++i)
        cut(active[i].second % mask.rows(), active[i].second / mask.rows()) = T(0);
      net.prune_connections(l, cut);
      result.connections += static_cast<Index>(k);
    }
    result.neurons_removed.assign(static_cast<std::size_t>(net.hidden_layer_count()), 0);
    if (remove_dead) {
      for (Index h = 0; h < net.hidden_layer_count(); ++h) {
        const auto map = net.remove_dead_neurons(h);
        result.neurons_removed[static_cast<std::size_t>(h)] =
            static_cast<Index>(std::count(map.begin(), map.end(), Index{-1}));
      }
    }
    return result;
  }
};

}  // namespace neuroplast
