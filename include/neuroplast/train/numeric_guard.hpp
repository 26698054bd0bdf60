#pragma once
/// \file
/// The trainer's numeric guard: where a non-finite value came from, for the message of a
/// NumericError, and the point a rollback returns to (`NumericErrorAction::rollback`).

#include <cstddef>
#include <optional>
#include <string>

#include "neuroplast/core/error.hpp"
#include "neuroplast/core/types.hpp"
#include "neuroplast/network/check_batch.hpp"
#include "neuroplast/train/checkpoint_store.hpp"

namespace neuroplast {

namespace detail {

/// For a non-finite loss after a forward pass into `ws`: the first non-finite parameter, else
/// the first layer whose output overflowed, else the loss itself.
template <class Net, class Workspace>
std::string locate_non_finite_loss(const Net& net, const Workspace& ws) {
  std::string where = first_non_finite_parameter(net);
  if (!where.empty()) return where;
  for (Index l = 0; l < net.layer_count(); ++l) {
    if (!all_finite(ws.activation(static_cast<std::size_t>(l))))
      return message("the output of layer ", l, " overflowed");
  }
  return "every layer's output is finite: the loss itself overflowed";
}

}  // namespace detail

/// Where a rollback returns to: the trainer's whole state at the end of the last epoch it checked
/// finite (or at the start of the fit), as a checkpoint would hold it. Empty unless armed.
template <class Net, class Opt, class Policy>
class NumericGuard {
 public:
  /// The state a rollback restores.
  using Point = ResumePoint<Net, Opt, Policy>;

  /// Whether a good state is kept (a rollback is possible).
  bool armed() const noexcept { return good_.has_value(); }
  /// Keeps `point` as the good state, reusing the storage of the previous one.
  void keep(Point point) {
    if (!good_) {
      good_.emplace(std::move(point));
      return;
    }
    *good_ = std::move(point);
  }
  /// The good state (armed only).
  Point& good() { return *good_; }
  /// Forgets the good state (the fit is over).
  void disarm() noexcept { good_.reset(); }

 private:
  std::optional<Point> good_;
};

}  // namespace neuroplast
