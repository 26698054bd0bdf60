#pragma once
/// \file
/// Relevance statistics over a dataset: mean and mean absolute relevance of every input feature,
/// hidden neuron and connection, computed batch by batch, and per-layer scores built from them.
///
/// The statistics are a snapshot of the network's current shape: after a structural edit compute
/// them again (they are cheap next to an epoch of training).

#include <algorithm>
#include <span>
#include <vector>

#include "neuroplast/data/dataset.hpp"
#include "neuroplast/relevance/explain.hpp"

namespace neuroplast::lrp {

/// Which class each sample is explained for.
enum class TargetSource {
  predicted,  ///< the network's predicted class (largest logit)
  label       ///< the dataset's label (classification datasets only)
};

/// How one number per hidden layer is made from the per-neuron mean absolute relevance.
enum class LayerScore {
  /// Mean over samples and over the layer's neurons of |R_j|: the relevance *load per neuron*.
  /// A layer whose few neurons each carry much of the relevance scores high; width is normalised
  /// out, so with a conserving rule (each layer's relevance sums to the same logit) a narrow
  /// bottleneck layer scores higher than a wide one. This is the default of LrpLayerSelector.
  mean_abs_per_neuron,
  /// Mean over samples of Σ_j |R_j|: the relevance mass the whole layer carries. Under a conserving
  /// rule with positive relevance all layers score alike; differences come from relevance absorbed
  /// by biases and stabilisers and from positive and negative relevance that cancel.
  total_abs
};

/// Options of `aggregate`.
struct AggregateOptions {
  Index batch_size = 256;   ///< samples per relevance pass (memory ∝ widest layer × batch)
  Index max_samples = 0;    ///< use only the first max_samples samples; 0 = all of them
  bool connections = true;  ///< also compute per-connection statistics (two products per layer)
  TargetSource target = TargetSource::predicted;  ///< which class each sample is explained for
};

/// Relevance statistics of a network over a dataset. Means are over samples; a neuron's mean
/// relevance can cancel between samples, its mean absolute relevance cannot.
template <Scalar T>
struct RelevanceStatistics {
  Index samples = 0;                       ///< samples the means are taken over
  T output_mean = 0;                       ///< mean relevance put in at the output (target logit)
  Vector<T> input_mean;                    ///< per input feature, `sizes()[0]`
  Vector<T> input_mean_abs;                ///< per input feature, `sizes()[0]`
  std::vector<Vector<T>> neuron_mean;      ///< hidden layer h: `sizes()[h+1]`
  std::vector<Vector<T>> neuron_mean_abs;  ///< hidden layer h: `sizes()[h+1]`
  std::vector<Matrix<T>> connection_mean;  ///< dense layer l: shape of `weights(l)`; empty
                                           ///< when `AggregateOptions::connections` is false
  std::vector<Matrix<T>> connection_mean_abs;  ///< dense layer l: shape of `weights(l)`

  /// One score per hidden layer (see LayerScore).
  std::vector<double> layer_scores(LayerScore kind = LayerScore::mean_abs_per_neuron) const {
    std::vector<double> scores;
    scores.reserve(neuron_mean_abs.size());
    for (const auto& m : neuron_mean_abs) {
      const double total = m.template cast<double>().sum();
      scores.push_back(kind == LayerScore::total_abs ? total
                                                     : total / static_cast<double>(m.size()));
    }
    return scores;
  }
};

namespace detail {

/// The targets of samples [first, first + count) of `data`.
template <Scalar T>
void targets_for(const Dataset<T>& data, TargetSource source, Index first, Index count,
                 std::vector<int>& out) {
  out.assign(static_cast<std::size_t>(count), -1);
  if (source == TargetSource::label) {
    const auto& labels = data.labels();
    std::copy_n(labels.begin() + first, count, out.begin());
  }
}

/// Throws unless `data` and `source` suit `net`; `who` names the caller.
template <Network Net>
void check_dataset(const Net& net, const Dataset<scalar_of<Net>>& data, TargetSource source,
                   Index batch_size, Index max_samples, const char* who) {
  if (data.size() == 0) fail(who, ": the dataset is empty; pass at least one sample");
  if (data.feature_count() != net.input_size()) {
    fail(who, ": samples have ", data.feature_count(), " features but the network expects ",
         net.input_size(), " inputs (sizes ", neuroplast::detail::format_sizes(net.sizes()), ")");
  }
  if (batch_size < 1) fail(who, ": batch_size is ", batch_size, "; it must be at least 1");
  if (max_samples < 0) {
    fail(who, ": max_samples is ", max_samples, "; use 0 for all samples or a positive count");
  }
  if (source == TargetSource::label) {
    if (!data.has_labels()) {
      fail(who, ": TargetSource::label needs class labels but the dataset has none; use ",
           "TargetSource::predicted");
    }
    if (data.class_count() > net.output_size()) {
      fail(who, ": the dataset has labels up to ", data.class_count() - 1, " but the network has ",
           net.output_size(), " outputs (0..", net.output_size() - 1, ")");
    }
  }
}

}  // namespace detail

/// Mean and mean absolute relevance of every input feature, hidden neuron and (optionally)
/// connection of `net` over `data` (its first `max_samples` samples), in batches of
/// `options.batch_size`. Throws Error on a feature count that does not match the network, an
/// invalid rule or option, or TargetSource::label on a dataset without fitting labels.
template <Network Net, Rule R>
RelevanceStatistics<scalar_of<Net>> aggregate(const Net& net, const Dataset<scalar_of<Net>>& data,
                                              const R& rule, const AggregateOptions& options = {}) {
  using T = scalar_of<Net>;
  constexpr const char* who = "lrp::aggregate";
  detail::validate_rule(rule, who);
  detail::check_dataset(net, data, options.target, options.batch_size, options.max_samples, who);
  const Index n =
      options.max_samples > 0 ? std::min(options.max_samples, data.size()) : data.size();
  const Index layers = net.layer_count();
  const auto hidden = static_cast<std::size_t>(layers - 1);

  // Sums in double: tens of thousands of float samples would otherwise lose digits.
  double output_sum = 0;
  Vector<double> input_sum = Vector<double>::Zero(net.input_size());
  Vector<double> input_abs = input_sum;
  std::vector<Vector<double>> neuron_sum(hidden), neuron_abs(hidden);
  for (std::size_t h = 0; h < hidden; ++h) {
    neuron_sum[h] = Vector<double>::Zero(net.sizes()[h + 1]);
    neuron_abs[h] = neuron_sum[h];
  }
  std::vector<detail::RowMatrix<double>> conn_sum, conn_abs;
  if (options.connections) {
    conn_sum.resize(static_cast<std::size_t>(layers));
    conn_abs.resize(static_cast<std::size_t>(layers));
  }

  std::vector<int> targets;
  detail::RowMatrix<T> batch_sum, batch_abs;
  for (Index first = 0; first < n; first += options.batch_size) {
    const Index count = std::min(options.batch_size, n - first);
    detail::targets_for(data, options.target, first, count, targets);
    const MatrixRef<T> X = data.features().middleCols(first, count);
    const auto hook = [&](Index l, const auto& d, const auto& layer, const auto& s) {
      if (!options.connections) return;
      batch_sum.resize(0, 0);
      batch_abs.resize(0, 0);
      detail::add_connection_relevance(d, layer, s, &batch_sum, &batch_abs);
      auto& total = conn_sum[static_cast<std::size_t>(l)];
      auto& total_abs = conn_abs[static_cast<std::size_t>(l)];
      if (total.size() == 0) {
        total.setZero(batch_sum.rows(), batch_sum.cols());
        total_abs.setZero(batch_sum.rows(), batch_sum.cols());
      }
      total += batch_sum.template cast<double>();
      total_abs += batch_abs.template cast<double>();
    };
    const BatchExplanation<T> e = detail::propagate(net, X, rule, targets, 0, true, hook);
    output_sum += e.output.template cast<double>().sum();
    input_sum += e.input.template cast<double>().rowwise().sum();
    input_abs += e.input.cwiseAbs().template cast<double>().rowwise().sum();
    for (std::size_t h = 0; h < hidden; ++h) {
      neuron_sum[h] += e.hidden[h].template cast<double>().rowwise().sum();
      neuron_abs[h] += e.hidden[h].cwiseAbs().template cast<double>().rowwise().sum();
    }
  }

  const auto count = static_cast<double>(n);
  RelevanceStatistics<T> stats;
  stats.samples = n;
  stats.output_mean = static_cast<T>(output_sum / count);
  stats.input_mean = (input_sum / count).template cast<T>();
  stats.input_mean_abs = (input_abs / count).template cast<T>();
  for (std::size_t h = 0; h < hidden; ++h) {
    stats.neuron_mean.push_back((neuron_sum[h] / count).template cast<T>());
    stats.neuron_mean_abs.push_back((neuron_abs[h] / count).template cast<T>());
  }
  for (std::size_t l = 0; l < conn_sum.size(); ++l) {
    stats.connection_mean.push_back((conn_sum[l] / count).template cast<T>());
    stats.connection_mean_abs.push_back((conn_abs[l] / count).template cast<T>());
  }
  return stats;
}

}  // namespace neuroplast::lrp
