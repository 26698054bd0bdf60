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
  static constexpr std::string_view name = "sgd";
  T learning_rate = T(0.01);
  T momentum = T(0);
  T weight_decay = T(0);
  bool nesterov = false;
  std::int64_t steps = 0;  ///< steps taken so far

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
  void update(Param<T>& p, T decay) const {
    if (!p.row_plasticity.empty()) {
      update_scaled(p, decay);
      return;
    }
    auto w = p.value.view();
    auto g = p.grad.view();
    if (momentum == T(0)) {
      if (decay != T(0)) {
        w -= learning_rate * (g + decay * w);
      } else {
        w -= learning_rate * g;
      }
    } else {
      auto v = p.state_for(name, 1)[0].view();
      if (decay != T(0)) {
        v = momentum * v + g + decay * w;
      } else {
        v = momentum * v + g;
      }
      if (nesterov) {
        w -= learning_rate * (g + decay * w + momentum * v);
      } else {
        w -= learning_rate * v;
      }
    }
    detail::reapply_mask(p);
  }

  // The same update row by row, each row's step scaled by its plasticity (× 1 is exact, so a row
  // at 1 moves as above); a frozen row is skipped, velocity included.
  void update_scaled(Param<T>& p, T decay) const {
    auto w = p.value.view();
    auto g = p.grad.view();
    auto* velocity = momentum == T(0) ? nullptr : &p.state_for(name, 1)[0];
    for (Index r = 0; r < w.rows(); ++r) {
      const T s = p.row_plasticity[static_cast<std::size_t>(r)];
      if (s == T(0)) continue;
      auto wr = w.row(r);
      auto gr = g.row(r);
      const T rate = s * learning_rate;
      if (velocity == nullptr) {
        if (decay != T(0)) {
          wr -= rate * (gr + decay * wr);
        } else {
          wr -= rate * gr;
        }
        continue;
      }
      auto vr = velocity->view().row(r);
      if (decay != T(0)) {
        vr = momentum * vr + gr + decay * wr;
      } else {
        vr = momentum * vr + gr;
      }
      if (nesterov) {
        wr -= rate * (gr + decay * wr + momentum * vr);
      } else {
        wr -= rate * vr;
      }
    }
    detail::reapply_mask(p);
  }
};

}  // namespace neuroplast
