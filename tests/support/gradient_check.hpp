#pragma once
// The one finite-difference gradient checker every test uses: central differences of the loss
// with respect to every weight and bias of a network, compared with the analytic gradients of
// Mlp::backward.

#include <algorithm>
#include <cmath>
#include <sstream>
#include <string>

#include "neuroplast/neuroplast.hpp"

namespace neuroplast::testing {

struct GradientCheck {
  double max_error = 0;  // max over entries of |analytic − numeric| / max(1, |analytic|, |numeric|)
  std::string worst;     // where the max occurred
  Index checked = 0;     // entries compared
  bool masked_gradients_zero = true;
};

// `loss(logits, grad_or_null) -> T` evaluates the loss for the fixed batch X.
template <class Net, class LossFn>
GradientCheck check_gradients(Net& net, const Matrix<typename Net::scalar>& X, LossFn loss,
                              double h = 1e-6) {
  using T = typename Net::scalar;
  Workspace<T> ws;
  const auto logits = net.forward_train(X, ws);
  auto g = ws.output_gradient();
  loss(logits, &g);
  net.backward(X, ws);

  auto value = [&] {
    Workspace<T> w2;
    const auto out = net.forward_train(X, w2);
    return static_cast<double>(loss(out, static_cast<MatrixView<T>*>(nullptr)));
  };
  GradientCheck result;
  auto compare = [&](double analytic, T& param, const std::string& where) {
    const T saved = param;
    param = static_cast<T>(saved + h);
    const double up = value();
    param = static_cast<T>(saved - h);
    const double down = value();
    param = saved;
    const double numeric = (up - down) / (2 * h);
    const double err =
        std::abs(analytic - numeric) / std::max({1.0, std::abs(analytic), std::abs(numeric)});
    ++result.checked;
    if (err > result.max_error) {
      result.max_error = err;
      std::ostringstream os;
      os << where << " analytic " << analytic << " numeric " << numeric;
      result.worst = os.str();
    }
  };
  for (Index l = 0; l < net.layer_count(); ++l) {
    const Matrix<T> gw = net.weight_gradient(l);
    const Vector<T> gb = net.bias_gradient(l);
    const Matrix<T> mask = net.connection_mask(l);
    auto W = net.weights(l);
    for (Index c = 0; c < W.cols(); ++c) {
      for (Index r = 0; r < W.rows(); ++r) {
        if (mask(r, c) == T(0)) {
          // A pruned connection must be 0 and get no gradient; perturbing it would break the mask.
          if (gw(r, c) != T(0) || W(r, c) != T(0)) result.masked_gradients_zero = false;
          continue;
        }
        std::ostringstream where;
        where << "W" << l << "(" << r << "," << c << ")";
        compare(static_cast<double>(gw(r, c)), W(r, c), where.str());
      }
    }
    auto b = net.bias(l);
    for (Index r = 0; r < b.size(); ++r) {
      std::ostringstream where;
      where << "b" << l << "(" << r << ")";
      compare(static_cast<double>(gb(r)), b(r), where.str());
    }
  }
  return result;
}

}  // namespace neuroplast::testing
