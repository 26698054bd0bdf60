#pragma once
/// \file
/// The targets of a run of consecutive samples of a dataset, as a loss reads them.

#include <span>

#include "neuroplast/data/dataset.hpp"
#include "neuroplast/loss/targets.hpp"

namespace neuroplast {

/// Labels and/or real-valued targets of samples [first, first + count) of `data`, viewed in place
/// (no copy; `data` must outlive the result).
template <Scalar T>
Targets<T> batch_targets(const Dataset<T>& data, Index first, Index count) {
  Targets<T> t;
  if (data.has_labels()) {
    t.labels = std::span<const int>(data.labels())
                   .subspan(static_cast<std::size_t>(first), static_cast<std::size_t>(count));
  }
  if (data.has_targets()) {
    t.values = data.targets().data() + first * data.targets().rows();
    t.stride = data.targets().rows();
  }
  return t;
}

}  // namespace neuroplast
