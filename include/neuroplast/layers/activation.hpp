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

namespace detail {

/// The step 1 if a > 0 else 0 (NaN included), elementwise: the ReLU family's derivative. Why a
/// functor: Eigen 3.4 evaluates `(a > 0).cast<S>()` one entry at a time (a comparison gives bools,
/// and bools have no packets), and that pass took 4.5 µs of a 300 µs 784-128-10 training step at
/// batch 64, on the caller's thread while the other one waits. A compare and an AND with 1 give
/// the same values eight at a time.
template <class S>
struct PositiveStep {
  S operator()(const S& a) const { return a > S(0) ? S(1) : S(0); }
  template <class Packet>
  Packet packetOp(const Packet& a) const {
    using namespace Eigen::internal;
    return pand(pcmp_lt(pzero(a), a), pset1<Packet>(S(1)));
  }
};

}  // namespace detail

/// Rectified linear unit, f(z) = max(z, 0); f'(z) = 1 if z > 0 else 0 (0 at the kink).
struct Relu {
  static constexpr std::string_view name = "relu";  ///< stored in network files
  static constexpr bool relu_family = true;         ///< He initialisation suits it
  /// f(z), elementwise on a pre-activation array z (any shape).
  template <class D>
  static auto apply(const Eigen::ArrayBase<D>& z) {
    return z.cwiseMax(typename D::Scalar(0));
  }
  /// f'(z) from the output a = f(z), elementwise, same shape as `a`.
  template <class D>
  static auto derivative(const Eigen::ArrayBase<D>& a) {
    return a.unaryExpr(detail::PositiveStep<typename D::Scalar>{});
  }
};

/// Leaky ReLU with slope 0.01 for z < 0: f(z) = z if z > 0 else 0.01 z.
struct LeakyRelu {
  static constexpr std::string_view name = "leaky_relu";  ///< stored in network files
  static constexpr bool relu_family = true;               ///< He initialisation suits it
  static constexpr double slope = 0.01;                   ///< f(z) = slope·z for z < 0
  /// f(z), elementwise on a pre-activation array z (any shape).
  template <class D>
  static auto apply(const Eigen::ArrayBase<D>& z) {
    using S = typename D::Scalar;
    return z.cwiseMax(S(slope) * z);
  }
  /// f'(z) from the output a = f(z), elementwise, same shape as `a`.
  template <class D>
  static auto derivative(const Eigen::ArrayBase<D>& a) {
    using S = typename D::Scalar;
    return a.unaryExpr(detail::PositiveStep<S>{}) * S(1 - slope) + S(slope);
  }
};

/// Hyperbolic tangent; f'(z) = 1 − a².
struct Tanh {
  static constexpr std::string_view name = "tanh";  ///< stored in network files
  static constexpr bool relu_family = false;        ///< Glorot initialisation suits it
  /// f(z), elementwise on a pre-activation array z (any shape).
  template <class D>
  static auto apply(const Eigen::ArrayBase<D>& z) {
    return z.tanh();
  }
  /// f'(z) from the output a = f(z), elementwise, same shape as `a`.
  template <class D>
  static auto derivative(const Eigen::ArrayBase<D>& a) {
    return typename D::Scalar(1) - a.square();
  }
};

/// Logistic sigmoid 1 / (1 + e^−z); f'(z) = a (1 − a).
struct Sigmoid {
  static constexpr std::string_view name = "sigmoid";  ///< stored in network files
  static constexpr bool relu_family = false;           ///< Glorot initialisation suits it
  /// f(z), elementwise on a pre-activation array z (any shape).
  template <class D>
  static auto apply(const Eigen::ArrayBase<D>& z) {
    return z.logistic();
  }
  /// f'(z) from the output a = f(z), elementwise, same shape as `a`.
  template <class D>
  static auto derivative(const Eigen::ArrayBase<D>& a) {
    return a * (typename D::Scalar(1) - a);
  }
};

/// f(z) = z. The output layer of every Mlp uses it (the network returns logits).
struct Identity {
  static constexpr std::string_view name = "identity";  ///< stored in network files
  static constexpr bool relu_family = false;            ///< Glorot initialisation suits it
  /// f(z) = z: `z` itself, no copy.
  template <class D>
  static const D& apply(const Eigen::ArrayBase<D>& z) {
    return z.derived();
  }
  /// f'(z) from the output a = f(z), elementwise, same shape as `a`.
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

/// \cond
// Eigen vectorises `detail::PositiveStep` where the scalar type has packet comparisons.
template <class S>
struct Eigen::internal::functor_traits<neuroplast::detail::PositiveStep<S>> {
  enum { Cost = 2, PacketAccess = packet_traits<S>::HasCmp };
};
/// \endcond
