#pragma once
/// \file
/// Connection-level edits of one dense layer: pruning by a 0/1 mask, re-activating the
/// best-scored pruned connections (connection dropin), and the full gradient that scores them.

#include <algorithm>
#include <cmath>
#include <utility>
#include <vector>

#include "neuroplast/core/error.hpp"
#include "neuroplast/core/types.hpp"
#include "neuroplast/layers/dense.hpp"
#include "neuroplast/network/workspace.hpp"

namespace neuroplast::detail {

/// ANDs the 0/1 `mask` (`d.outputs() × d.inputs()`) into the connection mask of dense layer `l`
/// (`d`) and zeroes the pruned weights with their gradients and optimizer state. Throws Error,
/// changing nothing, on a wrong shape or entries other than 0 and 1.
template <Scalar T, class D>
void prune_connections(DenseParams<T>& d, Index l, const Eigen::DenseBase<D>& mask) {
  if (mask.rows() != d.outputs() || mask.cols() != d.inputs()) {
    fail("prune_connections: mask is ", format_shape(mask.rows(), mask.cols()), " but weights(", l,
         ") is ", format_shape(d.outputs(), d.inputs()), "; pass a mask of the weights' shape");
  }
  const auto m = mask.template cast<T>().eval();
  if (!((m.array() == T(0)) || (m.array() == T(1))).all())
    fail("prune_connections: mask for layer ", l, " has entries other than 0 and 1");
  Param<T>& w = d.weight_param();
  w.materialise_mask();
  w.mask.view().array() *= m.array();
  w.refresh_masked();
  w.apply_mask();
}

/// Re-activates up to `count` pruned connections of dense layer `l` (`d`), those with the largest
/// `scores` (`d.outputs() × d.inputs()`; ties go to the lower row-major index), with weight 0.
/// Returns how many were re-activated. Throws Error, changing nothing, for count < 1, a wrong shape
/// or a NaN score of a pruned connection.
template <Scalar T, class D>
Index grow_connections(DenseParams<T>& d, Index l, Index count, const Eigen::DenseBase<D>& scores) {
  if (count < 1)
    fail("grow_connections: count = ", count, " for layer ", l, "; re-activate at least one");
  if (scores.rows() != d.outputs() || scores.cols() != d.inputs()) {
    fail("grow_connections: scores are ", format_shape(scores.rows(), scores.cols()),
         " but weights(", l, ") is ", format_shape(d.outputs(), d.inputs()));
  }
  Param<T>& w = d.weight_param();
  if (!w.masked) return 0;
  std::vector<std::pair<T, Index>> candidates;  // (score, flat row-major index) of pruned entries
  auto mask = w.mask.view();
  for (Index r = 0; r < mask.rows(); ++r)
    for (Index c = 0; c < mask.cols(); ++c)
      if (mask(r, c) == T(0))
        candidates.emplace_back(static_cast<T>(scores(r, c)), r * mask.cols() + c);
  // A NaN score has no rank: the sort below would order the candidates arbitrarily.
  for (const auto& [score, at] : candidates) {
    if (std::isnan(static_cast<double>(score))) {
      fail("grow_connections: the score of pruned connection (", at / mask.cols(), ", ",
           at % mask.cols(), ") of layer ", l, " is NaN; pass finite scores");
    }
  }
  const Index grown = std::min<Index>(count, static_cast<Index>(candidates.size()));
  std::partial_sort(candidates.begin(), candidates.begin() + grown, candidates.end(),
                    [](const auto& a, const auto& b) {
                      return a.first > b.first || (a.first == b.first && a.second < b.second);
                    });
  for (Index i = 0; i < grown; ++i) {
    const Index flat = candidates[static_cast<std::size_t>(i)].second;
    mask(flat / mask.cols(), flat % mask.cols()) = T(1);
  }
  w.refresh_masked();
  return grown;
}

/// dLoss/dW of dense layer `l` (`layer`) at every position, pruned ones included, from the last
/// backward pass in `ws` over the batch `X` (the caller has checked that it holds one:
/// check_training_pass): delta(l) · input(l)ᵀ, `outputs × inputs`.
template <Scalar T>
Matrix<T> full_weight_gradient(const DenseParams<T>& layer, Index l, const MatrixRef<T>& X,
                               Workspace<T>& ws) {
  const auto li = static_cast<std::size_t>(l);
  const Matrix<T> delta = ws.delta(li);
  if (delta.rows() != layer.outputs()) {  // batch-shared dropout computed only the kept rows
    fail("full_weight_gradient: layer ", l, "'s last pass computed ", delta.rows(), " of its ",
         layer.outputs(), " outputs (batch-shared dropout); score connections without it");
  }
  if (l == 0) return delta * X.transpose();
  return delta * Matrix<T>(ws.activation(li - 1)).transpose();
}

}  // namespace neuroplast::detail
