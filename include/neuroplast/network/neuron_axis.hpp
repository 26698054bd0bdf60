#pragma once
/// \file
/// What a network keeps per neuron of one hidden layer besides its tensors, in one object that
/// applies the same AxisEdit as the tensors do.

#include <cstdint>
#include <vector>

#include "neuroplast/core/axis_edit.hpp"
#include "neuroplast/core/types.hpp"
#include "neuroplast/layers/dropout.hpp"

namespace neuroplast {

/// The per-neuron bookkeeping of one hidden layer of `size()` neurons. The tensors bound to the
/// axis (rows of W(h) and b(h), columns of W(h+1), their gradients, masks, optimizer state and
/// plasticity) live in the dense layers and follow an edit through `apply_output_edit` and
/// `apply_input_edit`; everything else per neuron lives here and follows it through `apply`. A
/// network edits both with the same AxisEdit in one place (`Mlp::edit_axis`), so a new per-neuron
/// field is one member here plus one line in `apply`, and cannot fall out of step.
struct NeuronAxis {
  /// Stable identity of each neuron (`size()` entries): survives moves, fresh for new neurons.
  std::vector<std::uint64_t> ids{};
  /// The fewest neurons structural pruning may leave (≥ 1).
  Index min_width = 1;
  /// Dropout applied to this layer's outputs in training (rate 0: off).
  Dropout dropout{};
  /// Per-neuron Bernoulli rates (`size()` entries), or empty when `dropout.rate` applies to all.
  std::vector<double> dropout_rates{};

  /// Neurons on the axis.
  Index size() const noexcept { return static_cast<Index>(ids.size()); }

  /// Applies `edit` (made for an axis of `size()` neurons) to every per-neuron field: new neurons
  /// take ids from `next_id` onwards (which advances) and the layer's dropout rate.
  void apply(const AxisEdit& edit, std::uint64_t& next_id) {
    edit.apply(ids);
    for (Index i = edit.old_size(); i < edit.new_size(); ++i)
      ids[static_cast<std::size_t>(i)] = next_id++;
    if (!dropout_rates.empty()) edit.apply(dropout_rates, dropout.rate);
  }

  /// A fresh axis of `width` neurons with ids from `next_id` onwards (which advances).
  static NeuronAxis fresh(Index width, std::uint64_t& next_id) {
    NeuronAxis axis;
    axis.ids.resize(static_cast<std::size_t>(width));
    for (auto& id : axis.ids) id = next_id++;
    return axis;
  }
};

}  // namespace neuroplast
