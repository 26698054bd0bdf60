#pragma once
/// \file
/// Relevance-guided dropout rates: neurons that contribute less are dropped more often (in the
/// spirit of Excitation Dropout, with LRP relevance as the measure of contribution).

#include <algorithm>
#include <vector>

#include "neuroplast/core/error.hpp"
#include "neuroplast/data/dataset.hpp"
#include "neuroplast/network/network.hpp"
#include "neuroplast/relevance/aggregate.hpp"

namespace neuroplast {

/// Per-neuron dropout rates for hidden layer h: with s_j = R_j / max_k R_k the neuron's mean
/// absolute LRP relevance over (the first `max_samples` of) `data`, relative to the most relevant,
/// the rates are p_j = min(max_rate, base_rate · N (1 − s_j) / Σ_k (1 − s_k)). They average to
/// `base_rate` (before the cap), the most relevant neuron is never dropped, and the least relevant
/// ones are dropped most. Use with `Mlp::set_dropout_rates` on a layer with inverted Bernoulli
/// dropout. Throws Error for a bad layer or rates outside [0, 1).
template <Network Net, class T>
std::vector<double> relevance_guided_rates(const Net& net, const Dataset<T>& data, Index h,
                                           double base_rate, double max_rate = 0.9,
                                           Index max_samples = 512) {
  if (h < 0 || h >= net.hidden_layer_count()) {
    detail::fail("relevance_guided_rates: hidden layer ", h, " does not exist (the network has ",
                 net.hidden_layer_count(), " hidden layers)");
  }
  if (!(base_rate >= 0 && base_rate < 1) || !(max_rate >= base_rate && max_rate < 1)) {
    detail::fail("relevance_guided_rates: need 0 ≤ base_rate (", base_rate, ") ≤ max_rate (",
                 max_rate, ") < 1");
  }
  const auto stats =
      lrp::aggregate(net, data, lrp::Composite{},
                     lrp::AggregateOptions{.max_samples = max_samples, .connections = false});
  const Vector<T>& r = stats.neuron_mean_abs[static_cast<std::size_t>(h)];
  const auto n = static_cast<std::size_t>(r.size());
  std::vector<double> rates(n, base_rate);
  const double top = static_cast<double>(r.maxCoeff());
  if (!(top > 0)) return rates;  // no relevance anywhere: uniform
  double total = 0;
  std::vector<double> slack(n);
  for (std::size_t j = 0; j < n; ++j)
    total += slack[j] = 1.0 - static_cast<double>(r(static_cast<Index>(j))) / top;
  if (!(total > 0)) return rates;
  for (std::size_t j = 0; j < n; ++j)
    rates[j] = std::min(max_rate, base_rate * static_cast<double>(n) * slack[j] / total);
  return rates;
}

}  // namespace neuroplast
