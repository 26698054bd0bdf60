#pragma once
/// \file
/// Activation functions as stateless policy types: `Dense<T, Relu>`, `Mlp<T, Tanh>`.
///
/// Each policy maps pre-activations z to a = f(z) and gives f'(z) in terms of the *output* a, so a
/// layer keeps only its output for the backward pass (one buffer per layer instead of two).

#include <concepts>
#include <string_view>

#include "neuroplast/core/types.hpp"

namespace neuroplast {

/// Rectified linear unit, f(z) = max(z, 0); f'(z) = 1 if z > 0 else 0 (0 at the kink).
struct Relu {
  static constexpr std::string_view name = "relu";
  static constexpr bool relu_family = true;  ///< He initialisation suits it
  template <class D>
  static auto apply(const Eigen::ArrayBase<D>& z) {
    return z.cwiseMax(typename D::Scalar(0));
  }
  template <class D>
  static auto derivative(const Eigen::ArrayBase<D>& a) {
    return (a > typename D::Scalar(0)).template cast<typename D::Scalar>();
  }
};

/// Leaky ReLU with slope 0.01 for z < 0: f(z) = z if z > 0 else 0.01 z.
struct LeakyRelu {
  static constexpr std::string_view name = "leaky_relu";
  static constexpr bool relu_family = true;
  static constexpr double slope = 0.01;
  template <class D>
  static auto apply(const Eigen::ArrayBase<D>& z) {
    using S = typename D::Scalar;
    return z.cwiseMax(S(slope) * z);
  }
  template <class D>
  static auto derivative(const Eigen::ArrayBase<D>& a) {
    using S = typename D::Scalar;
    return (a > S(0)).template cast<S>() * S(1 - slope) + S(slope);
  }
};

/// Hyperbolic tangent; f'(z) = 1 − a².
struct Tanh {
  static constexpr std::string_view name = "tanh";
  static constexpr bool relu_family = false;
  template <class D>
  static auto apply(const Eigen::ArrayBase<D>& z) {
    return z.tanh();
  }
  template <class D>
  static auto derivative(const Eigen::ArrayBase<D>& a) {
    return typename D::Scalar(1) - a.square();
  }
};

/// Logistic sigmoid 1 / (1 + e^−z); f'(z) = a (1 − a).
struct Sigmoid {
  static constexpr std::string_view name = "sigmoid";
  static constexpr bool relu_family = false;
  template <class D>
  static auto apply(const Eigen::ArrayBase<D>& z) {
    return z.logistic();
  }
  template <class D>
  static auto derivative(const Eigen::ArrayBase<D>& a) {
    return a * (typename D::Scalar(1) - a);
  }
};

/// f(z) = z. The output layer of every Mlp uses it (the network returns logits).
struct Identity {
  static constexpr std::string_view name = "identity";
  static constexpr bool relu_family = false;
  template <class D>
  static const D& apply(const Eigen::ArrayBase<D>& z) {
    return z.derived();
  }
  template <class D>
  static auto derivative(const Eigen::ArrayBase<D>& a) {
    return D::Constant(a.rows(), a.cols(), typename D::Scalar(1));
  }
};

/// What a type must provide to be used as an activation policy: a `name`, `relu_family` (chooses
/// He or Glorot initialisation), `apply(z)` and `derivative(a)` on Eigen arrays.
template <class A>
concept Activation = requires(const Eigen::ArrayXXd& x) {
  { A::name } -> std::convertible_to<std::string_view>;
  { A::relu_family } -> std::convertible_to<bool>;
  A::apply(x);
  A::derivative(x);
};

}  // namespace neuroplast
