#pragma once
/// \file
/// Gradient clipping by global norm: one bound on the length of the whole update direction, so a
/// single bad batch cannot throw the network far (the usual remedy for exploding gradients).

#include <cmath>

#include "neuroplast/core/error.hpp"
#include "neuroplast/core/param.hpp"
#include "neuroplast/layers/dense.hpp"

namespace neuroplast {

/// The L2 norm of all gradients of `net` taken together. Pruned (masked) weights do not count:
/// backward leaves their gradients exactly 0 (the Param invariant).
template <class Net>
double gradient_norm(Net& net) {
  double sum = 0;
  net.for_each_param([&]<class T>(Param<T>& p, ParamKind) {
    sum += static_cast<double>(p.grad.view().squaredNorm());
  });
  return std::sqrt(sum);
}

/// Scales every gradient of `net` by max_norm / ‖g‖ when the global norm ‖g‖ (`gradient_norm`)
/// exceeds `max_norm` (> 0), so that afterwards ‖g‖ = max_norm; leaves them untouched otherwise.
/// Returns ‖g‖ before clipping. The direction of the update is kept; only its length is bounded.
/// Throws Error, changing nothing, unless `max_norm` is finite and > 0.
template <class Net>
double clip_gradient_norm(Net& net, double max_norm) {
  if (!(max_norm > 0 && std::isfinite(max_norm))) {
    detail::fail("clip_gradient_norm: max_norm = ", max_norm,
                 " must be finite and > 0 (the longest gradient let through)");
  }
  const double norm = gradient_norm(net);
  if (norm > max_norm && norm > 0) {
    net.for_each_param(
        [&]<class T>(Param<T>& p, ParamKind) { p.grad.view() *= static_cast<T>(max_norm / norm); });
  }
  return norm;
}

}  // namespace neuroplast
