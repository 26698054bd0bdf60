#pragma once
/// \file
/// Data-dependent biases for new neurons: each new neuron starts at the median of its
/// pre-activation on real samples, so a ReLU is not born dead and tanh/sigmoid start steep.

#include <algorithm>
#include <vector>

#include "neuroplast/core/error.hpp"
#include "neuroplast/data/dataset.hpp"
#include "neuroplast/network/network.hpp"
#include "neuroplast/network/workspace.hpp"

namespace neuroplast {

/// Sets the bias of the `count` newest neurons of hidden layer `h` (the last `count` rows of dense
/// layer h) to minus the median of their pre-activation on the samples `X` (`inputs × n`,
/// n ≥ 1), so that each is active on half of them.
///
/// Why: with a random fan-in and a zero bias, the pre-activation of a neuron behind a ReLU layer
/// is w·a with a ≥ 0 — when the inputs share a large common component, w·a has the same sign on
/// nearly every sample, and about half of the new neurons never fire. A dead neuron passes no
/// gradient to its fan-in or fan-out and never learns (two spirals: 635 of 710 new neurons of
/// the second layer dead). Centred, each new neuron is a hinge through the middle of the data.
///
/// The network's function changes only through the new neurons' fan-out: after a zero-fan-out
/// growth (init::ZeroFanOut) it is unchanged. Throws Error when `h` or `count` is out of range or
/// `X` does not fit the network or holds a value that is not finite.
template <EditableNetwork Net>
void centre_new_biases(Net& net, Index h, Index count, const MatrixRef<typename Net::scalar>& X) {
  using T = typename Net::scalar;
  if (h < 0 || h >= net.hidden_layer_count())
    detail::fail("centre_new_biases: hidden layer ", h, " out of range [0, ",
                 net.hidden_layer_count(), ")");
  if (count < 0 || count > net.width(h))
    detail::fail("centre_new_biases: count = ", count, " must lie in [0, ", net.width(h),
                 "] (the width of hidden layer ", h, ")");
  if (X.rows() != net.sizes().front() || X.cols() < 1)
    detail::fail("centre_new_biases: samples are ", X.rows(), " × ", X.cols(), ", need ",
                 net.sizes().front(), " × n with n ≥ 1");
  detail::require_finite(X, "centre_new_biases", "sample");  // a NaN median would become a bias
  if (count == 0) return;
  Workspace<T> ws;
  Matrix<T> inputs;
  if (h > 0) {
    net.forward(X, ws);
    inputs = ws.activation(static_cast<std::size_t>(h - 1));
  }
  const MatrixRef<T> a = h > 0 ? MatrixRef<T>(inputs) : X;
  const Index first = net.width(h) - count;
  const Matrix<T> z = net.inference_scale(h) * (net.weights(h).middleRows(first, count) * a);
  auto bias = net.bias(h);
  std::vector<T> row(static_cast<std::size_t>(z.cols()));
  for (Index i = 0; i < count; ++i) {
    for (Index c = 0; c < z.cols(); ++c) row[static_cast<std::size_t>(c)] = z(i, c);
    const auto mid = row.begin() + static_cast<std::ptrdiff_t>(row.size() / 2);
    std::nth_element(row.begin(), mid, row.end());
    bias(first + i) = -*mid;
  }
}

}  // namespace neuroplast
