#pragma once
/// \file
/// A structural edit of one neuron axis, defined once and applied to every tensor bound to it.

#include <algorithm>
#include <utility>
#include <vector>

#include "neuroplast/core/error.hpp"
#include "neuroplast/core/types.hpp"

namespace neuroplast {

/// Which dimension of a matrix a neuron axis runs along.
enum class Dim { rows, cols };

/// One structural edit of a neuron axis of `old_size` neurons: grow `count` new neurons at the end,
/// remove a set, or permute. Each tensor bound to the axis (weights, biases, gradients, optimizer
/// moments, masks, per-neuron statistics) applies the same edit along its own dimension, so they
/// cannot fall out of step.
///
/// Removal costs in proportion to what is removed: the surviving neurons at the end of the axis are
/// moved into the freed slots (`moves()`), everything else stays where it is. `new_index()` maps
/// each old index to its new one (or -1 when removed).
class AxisEdit {
 public:
  /// What the edit does: append neurons, remove a set, or reorder.
  enum class Kind { grow, remove, permute };

  /// Appends `count` ≥ 0 neurons after the existing `old_size`. Contents of the new slots are
  /// zeroed. Throws Error for a negative count.
  static AxisEdit grow(Index old_size, Index count) {
    if (count < 0) detail::fail("AxisEdit::grow: count = ", count, "; it must be ≥ 0");
    AxisEdit e(Kind::grow, old_size);
    e.new_size_ = old_size + count;
    return e;
  }

  /// Removes the neurons at `indices` (any order; distinct, in range, and leaving at least one
  /// neuron). Throws Error otherwise (a network validates first, with a message naming the layer).
  static AxisEdit remove(Index old_size, std::vector<Index> indices) {
    AxisEdit e(Kind::remove, old_size);
    std::sort(indices.begin(), indices.end());
    for (std::size_t i = 0; i < indices.size(); ++i) {
      if (indices[i] < 0 || indices[i] >= old_size)
        detail::fail("AxisEdit::remove: neuron ", indices[i], " is not on an axis of ", old_size);
      if (i > 0 && indices[i] == indices[i - 1])
        detail::fail("AxisEdit::remove: neuron ", indices[i], " is listed twice");
    }
    if (!indices.empty() && static_cast<Index>(indices.size()) >= old_size)
      detail::fail("AxisEdit::remove: removing all ", old_size, " neurons would empty the axis");
    e.new_size_ = old_size - static_cast<Index>(indices.size());
    // Holes below the new size are filled by the survivors above it, taken in increasing order.
    std::size_t next_removed_above = static_cast<std::size_t>(
        std::lower_bound(indices.begin(), indices.end(), e.new_size_) - indices.begin());
    Index source = e.new_size_;
    for (Index hole : indices) {
      if (hole >= e.new_size_) break;
      while (next_removed_above < indices.size() && indices[next_removed_above] == source) {
        ++next_removed_above;
        ++source;
      }
      e.moves_.emplace_back(source, hole);
      ++source;
    }
    e.removed_ = std::move(indices);
    return e;
  }

  /// Reorders the axis: new position i holds old neuron `order[i]`. Throws Error unless `order`
  /// is a permutation of 0 … order.size() − 1.
  static AxisEdit permute(std::vector<Index> order) {
    std::vector<bool> seen(order.size(), false);
    for (const Index i : order) {
      if (i < 0 || i >= static_cast<Index>(order.size()) || seen[static_cast<std::size_t>(i)]) {
        detail::fail("AxisEdit::permute: the order is not a permutation of 0 … ",
                     static_cast<Index>(order.size()) - 1, " (", i,
                     " is out of range or repeated)");
      }
      seen[static_cast<std::size_t>(i)] = true;
    }
    AxisEdit e(Kind::permute, static_cast<Index>(order.size()));
    e.new_size_ = e.old_size_;
    e.order_ = std::move(order);
    return e;
  }

  Kind kind() const noexcept { return kind_; }           ///< grow, remove or permute
  Index old_size() const noexcept { return old_size_; }  ///< neurons on the axis before the edit
  Index new_size() const noexcept { return new_size_; }  ///< neurons on the axis after the edit
  /// Number of neurons added by a grow edit (0 otherwise).
  Index added() const noexcept { return kind_ == Kind::grow ? new_size_ - old_size_ : 0; }
  /// Removed indices, sorted (remove edits only).
  const std::vector<Index>& removed() const noexcept { return removed_; }
  /// (from, to) slot moves that compact a remove edit.
  const std::vector<std::pair<Index, Index>>& moves() const noexcept { return moves_; }
  /// New position i holds old neuron order()[i] (permute edits only).
  const std::vector<Index>& order() const noexcept { return order_; }

  /// For every old index, its index after the edit, or -1 if it was removed.
  std::vector<Index> new_index() const {
    std::vector<Index> map(static_cast<std::size_t>(old_size_));
    for (Index i = 0; i < old_size_; ++i) map[static_cast<std::size_t>(i)] = i;
    if (kind_ == Kind::remove) {
      for (Index r : removed_) map[static_cast<std::size_t>(r)] = -1;
      for (auto [from, to] : moves_) map[static_cast<std::size_t>(from)] = to;
    } else if (kind_ == Kind::permute) {
      for (Index i = 0; i < new_size_; ++i)
        map[static_cast<std::size_t>(order_[static_cast<std::size_t>(i)])] = i;
    }
    return map;
  }

  /// Applies the edit to a contiguous per-neuron vector (ids, statistics), filling grown slots with
  /// `fill`. The one implementation of the edit for 1-D data, so std::vectors bound to an axis
  /// follow exactly the same rules as matrices.
  template <class V>
  void apply(std::vector<V>& values, const V& fill = V{}) const {
    switch (kind_) {
      case Kind::grow: values.resize(static_cast<std::size_t>(new_size_), fill); break;
      case Kind::remove:
        for (auto [from, to] : moves_)
          values[static_cast<std::size_t>(to)] = values[static_cast<std::size_t>(from)];
        values.resize(static_cast<std::size_t>(new_size_));
        break;
      case Kind::permute: {
        std::vector<V> old = values;
        for (std::size_t i = 0; i < order_.size(); ++i)
          values[i] = old[static_cast<std::size_t>(order_[i])];
        break;
      }
    }
  }

 private:
  AxisEdit(Kind kind, Index old_size) : kind_(kind), old_size_(old_size), new_size_(old_size) {}

  Kind kind_;
  Index old_size_;
  Index new_size_;
  std::vector<Index> removed_;
  std::vector<std::pair<Index, Index>> moves_;
  std::vector<Index> order_;
};

}  // namespace neuroplast
