#pragma once
/// \file
/// Stochastic gradient descent with optional (Nesterov) momentum and L2 weight decay.

#include <cstdint>
#include <string_view>

#include "neuroplast/layers/dense.hpp"
#include "neuroplast/optim/optimizer.hpp"

namespace neuroplast {

/// SGD: g' = g + weight_decay·w (weights only, not biases); with momentum μ > 0 the velocity
/// v ← μ v + g' and w ← w − lr·v (Nesterov: w ← w − lr·(g' + μ v)); without momentum w ← w − lr·g'.
/// The velocity is one state plane per parameter, bound to its neuron axes.
template <Scalar T>
struct Sgd {
  static constexpr std::string_view name = "sgd";  ///< identifies the optimizer in checkpoints
  T learning_rate = T(0.01);                       ///< step size lr, > 0
  T momentum = T(0);                               ///< μ, in [0, 1) (0 = plain SGD)
  T weight_decay = T(0);                           ///< L2 coefficient on weights, in [0, 1]
  bool nesterov = false;                           ///< Nesterov momentum; needs μ > 0
  std::int64_t steps = 0;                          ///< steps taken so far

  /// Throws Error on a non-positive learning rate, momentum outside [0, 1) or negative decay.
  void validate() const {
    detail::check_positive(name, "learning_rate", learning_rate);
    detail::check_range(name, "momentum", momentum, 0.0, 1.0);
    detail::check_range(name, "weight_decay", weight_decay, 0.0, 1.0, true);
    if (nesterov && momentum == T(0)) detail::fail("sgd: nesterov = true needs momentum > 0");
  }

  /// One update of every parameter of `net` from its current gradients.
  template <class Net>
  void step(Net& net) {
    ++steps;
    net.for_each_param([&](Param<T>& p, ParamKind kind) {
      update(p, kind == ParamKind::weight ? weight_decay : T(0));
    });
  }

 private:
  // Row by row where plasticity is set (each row's step scaled by it, × 1 being exact; a frozen
  // row skipped, velocity included), else the whole tensor at once.
  void update(Param<T>& p, T decay) const {
    auto w = p.value.view();
    auto g = p.grad.view();
    auto* velocity = momentum == T(0) ? nullptr : &p.state_for(name, 1)[0];
    const auto step = [&](auto&& wb, const auto& gb, auto* vb, T rate) {
      if (vb == nullptr) {
        if (decay != T(0)) {
          wb -= rate * (gb + decay * wb);
        } else {
          wb -= rate * gb;
        }
        return;
      }
      auto& v = *vb;
      if (decay != T(0)) {
        v = momentum * v + gb + decay * wb;
      } else {
        v = momentum * v + gb;
      }
      if (nesterov) {
        wb -= rate * (gb + decay * wb + momentum * v);
      } else {
        wb -= rate * v;
      }
    };
    if (p.computes_sparse()) {
      // Entry by entry over the active connections only, with the same arithmetic.
      const auto& rs = p.active.row_start;
      const auto& cs = p.active.row_cols;
      auto vel = velocity != nullptr ? velocity->view() : w;
      for (Index r = 0; r < w.rows(); ++r) {
        const T s = p.plasticity(r);
        if (s == T(0)) continue;
        for (auto k = rs[static_cast<std::size_t>(r)]; k < rs[static_cast<std::size_t>(r) + 1];
             ++k) {
          const Index c = cs[static_cast<std::size_t>(k)];
          step(w(r, c), g(r, c), velocity != nullptr ? &vel(r, c) : static_cast<T*>(nullptr),
               s * learning_rate);
        }
      }
    } else if (p.row_plasticity.empty()) {
      if (velocity == nullptr) {
        step(w, g, static_cast<decltype(w)*>(nullptr), learning_rate);
      } else {
        auto v = velocity->view();
        step(w, g, &v, learning_rate);
      }
    } else {
      for (Index r = 0; r < w.rows(); ++r) {
        const T s = p.row_plasticity[static_cast<std::size_t>(r)];
        if (s == T(0)) continue;
        auto wr = w.row(r);
        if (velocity == nullptr) {
          step(wr, g.row(r), static_cast<decltype(wr)*>(nullptr), s * learning_rate);
        } else {
          auto vr = velocity->view().row(r);
          step(wr, g.row(r), &vr, s * learning_rate);
        }
      }
    }
  }
};

}  // namespace neuroplast
