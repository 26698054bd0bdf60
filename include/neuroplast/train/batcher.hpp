#pragma once
/// \file
/// How a trainer turns datasets into batches: the epoch's sample order, the batch buffers
/// (features and targets copied from a training set and, with rehearsal, a replay memory), and
/// the check that a dataset fits the network it trains (loss/check_dataset.hpp).

#include <numeric>
#include <span>
#include <utility>
#include <vector>

#include "neuroplast/core/error.hpp"
#include "neuroplast/core/growable_matrix.hpp"
#include "neuroplast/core/rng.hpp"
#include "neuroplast/data/dataset.hpp"
#include "neuroplast/loss/check_dataset.hpp"
#include "neuroplast/loss/loss_function.hpp"
#include "neuroplast/loss/targets.hpp"

namespace neuroplast {

/// Batch buffers and the epoch's sample order. Allocation-free once it has seen a batch of a
/// size (the buffers keep their capacity).
template <Scalar T>
class Batcher {
 public:
  /// Where sample i of a batch comes from: a dataset and its column there.
  using Sample = std::pair<const Dataset<T>*, Index>;

  /// A new order of the `n` training samples for an epoch: shuffled from `rng` when `shuffle`,
  /// else 0 … n − 1.
  void shuffle(Index n, bool shuffle, Rng& rng) {
    order_.resize(static_cast<std::size_t>(n));
    std::iota(order_.begin(), order_.end(), Index{0});
    if (shuffle) rng.shuffle(std::span<Index>(order_));
  }

  /// The training sample at position `i` of this epoch's order.
  Index order(Index i) const { return order_[static_cast<std::size_t>(i)]; }

  /// Copies `count` samples into the batch buffers (`width` ≥ count columns; the rest are zero,
  /// for a process whose share of a batch is empty) — sample i is `source(i)`, a Sample — and
  /// returns their targets: labels, or the target values of `data`'s kind. The targets point
  /// into this batcher until its next `gather`.
  template <class Source>
  Targets<T> gather(const Dataset<T>& data, Index count, Index width, Source&& source) {
    x_.reshape_uninitialized(data.feature_count(), width);
    auto X = x_.view();
    X.rightCols(width - count).setZero();
    labels_.clear();
    labels_.reserve(static_cast<std::size_t>(width));
    for (Index i = 0; i < count; ++i) {
      const auto [set, src] = source(i);
      X.col(i) = set->features().col(src);
      if (set->has_labels()) labels_.push_back(set->labels()[static_cast<std::size_t>(src)]);
    }
    Targets<T> targets{.labels = std::span<const int>(labels_)};
    if (data.has_targets()) {
      t_.reshape_uninitialized(data.targets().rows(), width);
      auto Y = t_.view();
      Y.rightCols(width - count).setZero();
      for (Index i = 0; i < count; ++i) {
        const auto [set, src] = source(i);
        Y.col(i) = set->targets().col(src);
      }
      targets.values = t_.data();
      targets.stride = t_.outer_stride();
    }
    return targets;
  }

  /// The features of the last gathered batch, `features × width`.
  auto features() { return x_.view(); }

 private:
  GrowableMatrix<T> x_;
  GrowableMatrix<T> t_;
  std::vector<int> labels_;
  std::vector<Index> order_;
};

}  // namespace neuroplast
