#pragma once
/// \file
/// What a pruning criterion is: a small value type that scores every hidden neuron (and, for
/// unstructured pruning, every connection) of an Mlp. Higher scores mean more important; pruning
/// removes the lowest. The criteria themselves live in magnitude.hpp, mean_activation.hpp,
/// taylor.hpp and relevance.hpp; selection.hpp turns scores into what to remove.

#include <algorithm>
#include <concepts>
#include <span>
#include <string_view>
#include <type_traits>
#include <vector>

#include "neuroplast/core/error.hpp"
#include "neuroplast/core/types.hpp"
#include "neuroplast/data/dataset.hpp"
#include "neuroplast/loss/batch_targets.hpp"
#include "neuroplast/loss/check_dataset.hpp"
#include "neuroplast/loss/loss_function.hpp"
#include "neuroplast/network/network.hpp"

namespace neuroplast {

/// Importance of every hidden neuron: element h is a vector of `width(h)` scores for hidden layer
/// h (higher = more important).
template <Scalar T>
using NeuronScores = std::vector<Vector<T>>;

/// Importance of every connection: element l has the shape of `weights(l)`,
/// `sizes()[l+1] × sizes()[l]` (higher = more important).
template <Scalar T>
using ConnectionScores = std::vector<Matrix<T>>;

/// A neuron criterion for a Network `Net` (elements `T = scalar_of<Net>`): a type with
///
/// - `static constexpr std::string_view name`,
/// - `static constexpr bool needs_data` (true when the scores are computed on a dataset),
/// - `NeuronScores<T> neuron_scores(const Net&, const Dataset<T>*) const`, which may be given a
///   null dataset when `needs_data` is false.
///
/// MagnitudeL1, MagnitudeL2, MeanActivation, Taylor, TaylorAccumulator and LrpRelevance are, for
/// every Network.
template <class C, class Net>
concept NeuronCriterion = Network<Net> &&
    requires(const C& c, const Net& net, const Dataset<scalar_of<Net>>* data) {
  { C::name } -> std::convertible_to<std::string_view>;
  { C::needs_data } -> std::convertible_to<bool>;
  { c.neuron_scores(net, data) } -> std::same_as<NeuronScores<scalar_of<Net>>>;
};

/// A connection criterion for a Network `Net`: as NeuronCriterion, with
/// `ConnectionScores<T> connection_scores(const Net&, const Dataset<T>*) const`.
/// MagnitudeL1 and MagnitudeL2 (both |w|), Taylor, TaylorAccumulator (when it tracks connections)
/// and LrpRelevance are.
template <class C, class Net>
concept ConnectionCriterion = Network<Net> &&
    requires(const C& c, const Net& net, const Dataset<scalar_of<Net>>* data) {
  { C::name } -> std::convertible_to<std::string_view>;
  { C::needs_data } -> std::convertible_to<bool>;
  { c.connection_scores(net, data) } -> std::same_as<ConnectionScores<scalar_of<Net>>>;
};

namespace detail {

/// `C::needs_data`, or false for a type that is not a criterion at all (so that a failed concept
/// check reports one readable static_assert rather than a cascade).
template <class C>
constexpr bool criterion_needs_data() {
  if constexpr (requires { C::needs_data; }) {
    return static_cast<bool>(C::needs_data);
  } else {
    return false;
  }
}

/// The samples a data-driven criterion uses (the first `max_samples` of `data`, 0 = all). Throws
/// Error naming `who` when there is no dataset, it is empty, it does not fit the network, or the
/// batching options are invalid.
template <Network Net>
Index scoring_samples(const Net& net, const Dataset<scalar_of<Net>>* data, Index batch_size,
                      Index max_samples, std::string_view who) {
  if (data == nullptr) {
    fail(who, ": this criterion scores neurons on data but no dataset was given; pass one, e.g. ",
         "prune_neurons(net, criterion, selection, data)");
  }
  if (data->size() == 0) fail(who, ": the dataset is empty; pass at least one sample");
  if (data->feature_count() != net.input_size()) {
    fail(who, ": samples have ", data->feature_count(), " features but the network expects ",
         net.input_size(), " inputs (sizes ", format_sizes(net.sizes()),
         "); score on data of the network's input size (samples are columns)");
  }
  if (batch_size < 1) fail(who, ": batch_size = ", batch_size, "; it must be at least 1");
  if (max_samples < 0) {
    fail(who, ": max_samples = ", max_samples, "; use 0 for all samples or a positive count");
  }
  return max_samples > 0 ? std::min(max_samples, data->size()) : data->size();
}

/// Calls `f(first, count, X)` for consecutive batches of the first `n` samples, `X` being a view
/// of the features of samples [first, first + count) (no copy).
template <Scalar T, class F>
void for_each_scoring_batch(const Dataset<T>& data, Index n, Index batch_size, F&& f) {
  for (Index first = 0; first < n; first += batch_size) {
    const Index count = std::min(batch_size, n - first);
    const MatrixRef<T> X = data.features().middleCols(first, count);
    f(first, count, X);
  }
}

/// dLoss/dlogits of the mean loss of samples [first, first + count) into `grad`
/// (`outputs × count`); `logits` are the network's outputs for those samples.
template <Scalar T>
void loss_gradient(const LossFunction& loss, const ConstMatrixView<T>& logits,
                   const Dataset<T>& data, Index first, Index count, Matrix<T>& grad) {
  grad.resize(logits.rows(), logits.cols());
  loss.evaluate(logits, batch_targets(data, first, count), &grad);
}

}  // namespace detail

/// Scores of every hidden neuron of `net` by a criterion that needs no data (MagnitudeL1,
/// MagnitudeL2, TaylorAccumulator): element h has `width(h)` entries.
template <class C, Network Net>
NeuronScores<scalar_of<Net>> neuron_scores(const Net& net, const C& criterion) {
  static_assert(NeuronCriterion<C, Net>,
                "neuron_scores: the criterion is not a neuron criterion; use MagnitudeL1, "
                "MagnitudeL2, MeanActivation, Taylor, TaylorAccumulator or LrpRelevance, or give "
                "the type `name`, `needs_data` and `neuron_scores(net, const Dataset<T>*) const`");
  static_assert(!detail::criterion_needs_data<C>(),
                "neuron_scores: this criterion scores neurons on data; pass a Dataset: "
                "neuron_scores(net, criterion, data)");
  // The if constexpr keeps a failed check to its one static_assert message.
  if constexpr (NeuronCriterion<C, Net>) {
    return criterion.neuron_scores(net, nullptr);
  } else {
    return {};
  }
}

/// Scores of every hidden neuron of `net` by any criterion, on `data` (`feature_count()` must be
/// `sizes()[0]`; criteria that need no data ignore it).
template <class C, Network Net>
NeuronScores<scalar_of<Net>> neuron_scores(const Net& net, const C& criterion,
                                           const Dataset<scalar_of<Net>>& data) {
  static_assert(NeuronCriterion<C, Net>,
                "neuron_scores: the criterion is not a neuron criterion; use MagnitudeL1, "
                "MagnitudeL2, MeanActivation, Taylor, TaylorAccumulator or LrpRelevance, or give "
                "the type `name`, `needs_data` and `neuron_scores(net, const Dataset<T>*) const`");
  if constexpr (NeuronCriterion<C, Net>) {
    return criterion.neuron_scores(net, &data);
  } else {
    return {};
  }
}

/// Scores of every connection of `net` by a criterion that needs no data: element l has the
/// shape of `weights(l)`.
template <class C, Network Net>
ConnectionScores<scalar_of<Net>> connection_scores(const Net& net, const C& criterion) {
  static_assert(ConnectionCriterion<C, Net>,
                "connection_scores: the criterion cannot score single connections; use "
                "MagnitudeL1 or MagnitudeL2 (|w|), Taylor, TaylorAccumulator or LrpRelevance");
  static_assert(!detail::criterion_needs_data<C>(),
                "connection_scores: this criterion scores connections on data; pass a Dataset: "
                "connection_scores(net, criterion, data)");
  if constexpr (ConnectionCriterion<C, Net>) {
    return criterion.connection_scores(net, nullptr);
  } else {
    return {};
  }
}

/// Scores of every connection of `net` by any connection criterion, on `data`.
template <class C, Network Net>
ConnectionScores<scalar_of<Net>> connection_scores(const Net& net, const C& criterion,
                                                   const Dataset<scalar_of<Net>>& data) {
  static_assert(ConnectionCriterion<C, Net>,
                "connection_scores: the criterion cannot score single connections; use "
                "MagnitudeL1 or MagnitudeL2 (|w|), Taylor, TaylorAccumulator or LrpRelevance");
  if constexpr (ConnectionCriterion<C, Net>) {
    return criterion.connection_scores(net, &data);
  } else {
    return {};
  }
}

}  // namespace neuroplast
