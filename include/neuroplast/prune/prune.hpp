#pragma once
/// \file
/// One-call structural and unstructured pruning: score with a criterion, select, apply.
///
///     auto removed = np::prune_neurons(net, np::Taylor{}, {.fraction = 0.2}, validation);
///     np::prune_connections_by(net, np::MagnitudeL1{}, {.fraction = 0.5});

#include <algorithm>
#include <type_traits>
#include <vector>

#include "neuroplast/prune/criterion.hpp"
#include "neuroplast/prune/selection.hpp"

namespace neuroplast {

/// What structural pruning removed.
struct NeuronPruneResult {
  /// Per hidden layer: the old indices of the removed neurons, ascending.
  std::vector<std::vector<Index>> removed{};
  /// Per hidden layer: the old → new index map `remove_neurons` returned (−1 = removed), or empty
  /// when nothing was removed from that layer.
  std::vector<std::vector<Index>> new_index{};
  /// Per hidden layer: how many more the selection wanted but `min_width` kept.
  std::vector<Index> held_back{};

  /// Neurons removed in all layers.
  Index count() const noexcept {
    Index n = 0;
    for (const auto& v : removed) n += static_cast<Index>(v.size());
    return n;
  }
};

/// What unstructured pruning masked.
struct ConnectionPruneResult {
  std::vector<Index> pruned{};  ///< per dense layer: connections newly pruned

  /// Connections newly pruned in all layers.
  Index count() const noexcept {
    Index n = 0;
    for (const Index p : pruned) n += p;
    return n;
  }
};

/// Removes the neurons of a selection (from `select_neurons`) with `net.remove_neurons`, layer by
/// layer (each layer's indices refer to that layer before its own removal; layers do not affect
/// each other's indices). Every layer is checked before any is edited, so an invalid selection
/// (wrong layer count, index out of range, duplicate, or a layer below its minimum width) throws
/// Error and leaves the network unchanged.
template <EditableNetwork Net>
NeuronPruneResult remove_selected_neurons(Net& net, const NeuronSelection& selection) {
  constexpr const char* who = "remove_selected_neurons";
  const Index hidden = net.hidden_layer_count();
  if (static_cast<Index>(selection.neurons.size()) != hidden) {
    detail::fail(who, ": the selection has ", selection.neurons.size(),
                 " layers but the network has ", hidden, " hidden layers; select on this network");
  }
  for (Index h = 0; h < hidden; ++h) {
    std::vector<Index> sorted = selection.neurons[static_cast<std::size_t>(h)];
    std::sort(sorted.begin(), sorted.end());
    const Index w = net.width(h);
    for (std::size_t i = 0; i < sorted.size(); ++i) {
      if (sorted[i] < 0 || sorted[i] >= w) {
        detail::fail(who, ": neuron ", sorted[i], " does not exist in hidden layer ", h,
                     " (neurons 0..", w - 1, "); select on the network as it is now");
      }
      if (i > 0 && sorted[i] == sorted[i - 1]) {
        detail::fail(who, ": neuron ", sorted[i], " of hidden layer ", h, " is listed twice");
      }
    }
    const Index left = w - static_cast<Index>(sorted.size());
    if (!sorted.empty() && left < std::max<Index>(net.min_width(h), 1)) {
      detail::fail(who, ": removing ", sorted.size(), " of the ", w, " neurons of hidden layer ", h,
                   " would leave ", left, ", below its minimum width ",
                   std::max<Index>(net.min_width(h), 1), " (set_min_width)");
    }
  }
  NeuronPruneResult result;
  result.removed.resize(static_cast<std::size_t>(hidden));
  result.new_index.resize(static_cast<std::size_t>(hidden));
  result.held_back = selection.held_back;
  result.held_back.resize(static_cast<std::size_t>(hidden), 0);
  for (Index h = 0; h < hidden; ++h) {
    const auto& picked = selection.neurons[static_cast<std::size_t>(h)];
    if (picked.empty()) continue;
    auto& removed = result.removed[static_cast<std::size_t>(h)];
    removed = picked;
    std::sort(removed.begin(), removed.end());
    result.new_index[static_cast<std::size_t>(h)] = net.remove_neurons(h, removed);
  }
  return result;
}

/// Structural pruning in one call, for criteria that need no data (MagnitudeL1, MagnitudeL2,
/// TaylorAccumulator): scores every hidden neuron, selects (see PruneSelection; default: the
/// lowest 20% of each layer) and removes the selected neurons with everything bound to them
/// (fan-in, bias, fan-out, gradients, masks, optimizer state). Throws Error, leaving the network
/// unchanged, as `select_neurons` does.
template <class C, EditableNetwork Net>
NeuronPruneResult prune_neurons(Net& net, const C& criterion,
                                const PruneSelection& selection = {}) {
  using T = scalar_of<Net>;
  static_assert(NeuronCriterion<C, Net>,
                "prune_neurons: the criterion is not a neuron criterion; use MagnitudeL1, "
                "MagnitudeL2, MeanActivation, Taylor, TaylorAccumulator or LrpRelevance, or give "
                "the type `name`, `needs_data` and `neuron_scores(net, const Dataset<T>*) const`");
  static_assert(!detail::criterion_needs_data<C>(),
                "prune_neurons: this criterion scores neurons on data; pass a Dataset: "
                "prune_neurons(net, criterion, selection, data)");
  if constexpr (NeuronCriterion<C, Net>) {
    const NeuronScores<T> scores = criterion.neuron_scores(net, nullptr);
    return remove_selected_neurons(net, select_neurons(net, scores, selection));
  } else {
    return {};
  }
}

/// As above, scoring on `data` (MeanActivation, Taylor, LrpRelevance; `feature_count()` must be
/// `sizes()[0]`). Throws Error, leaving the network unchanged, when the data does not fit.
template <class C, EditableNetwork Net>
NeuronPruneResult prune_neurons(Net& net, const C& criterion, const PruneSelection& selection,
                                const Dataset<scalar_of<Net>>& data) {
  using T = scalar_of<Net>;
  static_assert(NeuronCriterion<C, Net>,
                "prune_neurons: the criterion is not a neuron criterion; use MagnitudeL1, "
                "MagnitudeL2, MeanActivation, Taylor, TaylorAccumulator or LrpRelevance, or give "
                "the type `name`, `needs_data` and `neuron_scores(net, const Dataset<T>*) const`");
  if constexpr (NeuronCriterion<C, Net>) {
    const NeuronScores<T> scores = criterion.neuron_scores(net, &data);
    return remove_selected_neurons(net, select_neurons(net, scores, selection));
  } else {
    return {};
  }
}

namespace detail {

template <EditableNetwork Net>
ConnectionPruneResult apply_connection_masks(Net& net,
                                             const std::vector<Matrix<scalar_of<Net>>>& masks) {
  using T = scalar_of<Net>;
  ConnectionPruneResult result;
  for (Index l = 0; l < net.layer_count(); ++l) {
    const auto& mask = masks[static_cast<std::size_t>(l)];
    const Index before = net.layer_params(l).pruned_count();
    const Index after = static_cast<Index>((mask.array() == T(0)).count());
    if (after > before) net.prune_connections(l, mask);
    result.pruned.push_back(after - before);
  }
  return result;
}

}  // namespace detail

/// Unstructured pruning in one call, for criteria that need no data (MagnitudeL1/L2 score |w|,
/// TaylorAccumulator with connection tracking): scores every connection, selects among the active
/// ones (see PruneSelection; `layers` lists dense layers) and masks the selected with
/// `net.prune_connections`, which zeroes them with their gradients and optimizer state; training
/// keeps them at 0. Neurons left with no fan-in or fan-out can then go with
/// `net.remove_dead_neurons(h)`. Throws Error as `select_connections`.
template <class C, EditableNetwork Net>
ConnectionPruneResult prune_connections_by(Net& net, const C& criterion,
                                           const PruneSelection& selection = {}) {
  using T = scalar_of<Net>;
  static_assert(ConnectionCriterion<C, Net>,
                "prune_connections_by: the criterion cannot score single connections; use "
                "MagnitudeL1 or MagnitudeL2 (|w|), Taylor, TaylorAccumulator or LrpRelevance");
  static_assert(!detail::criterion_needs_data<C>(),
                "prune_connections_by: this criterion scores connections on data; pass a "
                "Dataset: prune_connections_by(net, criterion, selection, data)");
  if constexpr (ConnectionCriterion<C, Net>) {
    const ConnectionScores<T> scores = criterion.connection_scores(net, nullptr);
    return detail::apply_connection_masks(net, select_connections(net, scores, selection));
  } else {
    return {};
  }
}

/// As above, scoring on `data` (Taylor, LrpRelevance).
template <class C, EditableNetwork Net>
ConnectionPruneResult prune_connections_by(Net& net, const C& criterion,
                                           const PruneSelection& selection,
                                           const Dataset<scalar_of<Net>>& data) {
  using T = scalar_of<Net>;
  static_assert(ConnectionCriterion<C, Net>,
                "prune_connections_by: the criterion cannot score single connections; use "
                "MagnitudeL1 or MagnitudeL2 (|w|), Taylor, TaylorAccumulator or LrpRelevance");
  if constexpr (ConnectionCriterion<C, Net>) {
    const ConnectionScores<T> scores = criterion.connection_scores(net, &data);
    return detail::apply_connection_masks(net, select_connections(net, scores, selection));
  } else {
    return {};
  }
}

}  // namespace neuroplast
