#pragma once
/// \file
/// Adam and AdamW with per-parameter bias correction that survives growth.

#include <algorithm>
#include <cmath>
#include <cstdint>
#include <string_view>
#include <tuple>
#include <type_traits>
#include <utility>
#include <vector>

#include "neuroplast/core/threading.hpp"
#include "neuroplast/layers/dense.hpp"
#include "neuroplast/optim/optimizer.hpp"

namespace neuroplast {

namespace detail {

/// The Adam update shared by Adam and AdamW. With t the age of a parameter in steps,
///   m ← β1 m + (1−β1) g,  v ← β2 v + (1−β2) g²,
///   w ← w − lr · (m / (1−β1^t)) / (√(v / (1−β2^t)) + ε).
/// A parameter's age counts from the step its row or column neuron was born (the younger of the
/// two), so a grown neuron's entries start as a fresh network's do (m = v = 0, their own bias
/// correction), while the existing parameters move exactly as if nothing had grown.
///
/// Why fresh state and not the tensor's: an earlier version gave new entries the tensor's mean v
/// and age, so that the tiny fan-in gradients of a zero-fan-out neuron would not become ±lr
/// steps. It made grown networks learn about 3× slower than fresh ones of the same size (digits,
/// 64-32-32-10 grown from 2-2: 60 epochs from loss 0.28 to 0.08; a fresh network needs 20): v
/// forgets at β2 = 0.999, so for about a thousand steps every new fan-in weight moved by a small
/// fraction of its gradient's due. New ReLUs that die from fresh state are replaced at the next
/// growth step (`GrowBy::replace_dead`).
template <Scalar T>
class AdamCore {
 public:
  static void update(Param<T>& p, std::int64_t t, T lr, T beta1, T beta2, T eps, T l2, T decoupled,
                     std::vector<T>& scratch) {
    // Ages are at least 1: a fresh optimizer (steps restarting at 0) on a network that already
    // has Adam state must not see parameters "born" in its future.
    auto& s = p.state_for("adam", 2);
    stamp_births(p.row_birth, t - 1);
    stamp_births(p.col_birth, t - 1);
    auto w = p.value.view();
    auto g = p.grad.view();
    auto m = s[0].view();
    auto v = s[1].view();
    const bool young = p.has_young_neurons();
    const Index cols = w.cols();
    T c1 = 0, c2 = 0;
    if (!young) {
      std::tie(c1, c2) = corrections(static_cast<T>(t), beta1, beta2);
    } else {
      // Correction factors shrink with age, so an entry's factor is the larger of its row's and
      // its column's (the younger neuron decides): the columns' factors once, the rows' per row.
      scratch.resize(static_cast<std::size_t>(2 * cols));
      for (Index j = 0; j < cols; ++j) {
        std::tie(scratch[static_cast<std::size_t>(j)],
                 scratch[static_cast<std::size_t>(cols + j)]) =
            corrections(age(t, p.col_birth[static_cast<std::size_t>(j)]), beta1, beta2);
      }
    }
    const Eigen::Map<const Eigen::Array<T, 1, Eigen::Dynamic>> col_c1(scratch.data(),
                                                                      young ? cols : 0),
        col_c2(scratch.data() + (young ? cols : 0), young ? cols : 0);
    // All four planes in one trip through memory: blocks of rows small enough to stay in L1 while
    // the moments and then the weights are updated (three separate passes stream 10 planes).
    const Index block = std::max<Index>(1, 2048 / std::max<Index>(1, cols));
    // Rows [i, i + n) in one trip through memory, the step scaled by `s` (a row's plasticity;
    // × 1 is exact, so plasticity 1 moves a row as if none were set).
    const bool active_only = p.computes_sparse();
    const auto update_rows = [&](Index i, Index n, T s) {
      if (active_only) {
        update_active(p, i, n, s, t, lr, beta1, beta2, eps, l2, decoupled, c1, c2, young, scratch);
        return;
      }
      auto wb = w.middleRows(i, n).array();
      auto gb = g.middleRows(i, n).array();
      auto mb = m.middleRows(i, n).array();
      auto vb = v.middleRows(i, n).array();
      if (l2 != T(0)) gb += l2 * wb;  // L2 penalty (Adam); the gradient plane is scratch now
      mb = beta1 * mb + (T(1) - beta1) * gb;
      vb = beta2 * vb + (T(1) - beta2) * gb.square();
      if (decoupled != T(0)) wb *= T(1) - s * lr * decoupled;  // AdamW: not scaled by moments
      if (!young) {
        wb -= (s * lr * c1) * mb / (c2 * vb.sqrt() + eps);
      } else {
        for (Index r = i; r < i + n; ++r) {
          const auto [r1, r2] =
              corrections(age(t, p.row_birth[static_cast<std::size_t>(r)]), beta1, beta2);
          w.row(r).array() -= s * lr * col_c1.max(r1) * m.row(r).array() /
                              (col_c2.max(r2) * v.row(r).array().sqrt() + eps);
        }
      }
    };
    const std::vector<T>& plasticity = p.row_plasticity;
    detail::parallel_rows(w.rows(), cols, [&](Index begin, Index end) {
      if (plasticity.empty()) {
        for (Index i = begin; i < end; i += block) update_rows(i, std::min(block, end - i), T(1));
        return;
      }
      // Row by row, each with its plasticity; a frozen row is skipped, moments included.
      for (Index r = begin; r < end; ++r) {
        const T s = plasticity[static_cast<std::size_t>(r)];
        if (s != T(0)) update_rows(r, 1, s);
      }
    });
  }

 private:
  // The age at step t of a neuron born at step `birth`, at least 1 (see `update`).
  static T age(std::int64_t t, std::int64_t birth) {
    return static_cast<T>(std::max<std::int64_t>(1, t - birth));
  }

  // Adam's bias-correction factors for a parameter `steps` old: 1 / (1 − β1^steps) for m and
  // 1 / √(1 − β2^steps) for v.
  static std::pair<T, T> corrections(T steps, T beta1, T beta2) {
    return {T(1) / (T(1) - std::pow(beta1, steps)),
            T(1) / std::sqrt(T(1) - std::pow(beta2, steps))};
  }

  // The update of rows [i, i + n) of a pruned `p` over its active connections only, with the
  // dense update's arithmetic (`scratch` holds the columns' correction factors when `young`).
  // Each row's active entries are gathered in chunks into small contiguous arrays, updated there
  // as the dense update updates a block (vectorised: the square root and the division dominate),
  // and scattered back.
  static void update_active(Param<T>& p, Index i, Index n, T s, std::int64_t t, T lr, T beta1,
                            T beta2, T eps, T l2, T decoupled, T c1, T c2, bool young,
                            const std::vector<T>& scratch) {
    constexpr Index chunk = 64;
    using Chunk = Eigen::Array<T, Eigen::Dynamic, 1, 0, chunk, 1>;
    auto w = p.value.view();
    auto g = p.grad.view();
    auto m = p.state[0].view();
    auto v = p.state[1].view();
    const auto cols = static_cast<std::size_t>(w.cols());
    const auto& rs = p.active.row_start;
    const auto& cs = p.active.row_cols;
    Chunk wb, gb, mb, vb, f1, f2;
    for (Index r = i; r < i + n; ++r) {
      T r1 = c1, r2 = c2;
      if (young) {
        std::tie(r1, r2) =
            corrections(age(t, p.row_birth[static_cast<std::size_t>(r)]), beta1, beta2);
      }
      const auto row_end = rs[static_cast<std::size_t>(r) + 1];
      for (auto k0 = rs[static_cast<std::size_t>(r)]; k0 < row_end; k0 += chunk) {
        const auto len = std::min<Index>(chunk, row_end - k0);
        const std::int32_t* c = cs.data() + k0;
        for (Chunk* a : {&wb, &gb, &mb, &vb}) a->resize(len);
        for (Index e = 0; e < len; ++e) {
          wb(e) = w(r, c[e]);
          gb(e) = g(r, c[e]);
          mb(e) = m(r, c[e]);
          vb(e) = v(r, c[e]);
        }
        if (l2 != T(0)) gb += l2 * wb;
        mb = beta1 * mb + (T(1) - beta1) * gb;
        vb = beta2 * vb + (T(1) - beta2) * gb.square();
        if (decoupled != T(0)) wb *= T(1) - s * lr * decoupled;
        if (!young) {
          wb -= (s * lr * c1) * mb / (c2 * vb.sqrt() + eps);
        } else {
          f1.resize(len);
          f2.resize(len);
          for (Index e = 0; e < len; ++e) {
            f1(e) = std::max(scratch[static_cast<std::size_t>(c[e])], r1);
            f2(e) = std::max(scratch[cols + static_cast<std::size_t>(c[e])], r2);
          }
          wb -= s * lr * f1 * mb / (f2 * vb.sqrt() + eps);
        }
        for (Index e = 0; e < len; ++e) {
          w(r, c[e]) = wb(e);
          m(r, c[e]) = mb(e);
          v(r, c[e]) = vb(e);
        }
      }
    }
  }
};

template <class O>
void validate_adam(const O& o) {
  check_positive(O::name, "learning_rate", o.learning_rate);
  check_range(O::name, "beta1", o.beta1, 0.0, 1.0);
  check_range(O::name, "beta2", o.beta2, 0.0, 1.0);
  check_positive(O::name, "epsilon", o.epsilon);
  check_range(O::name, "weight_decay", o.weight_decay, 0.0, 1.0, true);
}

/// One step of Adam or AdamW `o` over every parameter of `net`; weight decay applies to weights
/// only, as an L2 term in the gradient (Adam) or decoupled from it (AdamW).
template <class O, class Net>
void adam_step(O& o, Net& net, bool decoupled) {
  using T = std::decay_t<decltype(o.learning_rate)>;
  ++o.steps;
  net.for_each_param([&](Param<T>& p, ParamKind kind) {
    const T decay = kind == ParamKind::weight ? o.weight_decay : T(0);
    AdamCore<T>::update(p, o.steps, o.learning_rate, o.beta1, o.beta2, o.epsilon,
                        decoupled ? T(0) : decay, decoupled ? decay : T(0), o.scratch_);
  });
}

}  // namespace detail

/// Adam (Kingma & Ba) with optional L2 weight decay added to the gradient of weights (not biases).
/// Two state planes per parameter (m, v), bound to the neuron axes; see detail::AdamCore for the
/// update and how grown neurons are bias-corrected.
template <Scalar T>
struct Adam {
  static constexpr std::string_view name = "adam";  ///< identifies the optimizer in checkpoints
  T learning_rate = T(1e-3);                        ///< step size, > 0
  T beta1 = T(0.9);                                 ///< decay of the first moment m, in [0, 1)
  T beta2 = T(0.999);                               ///< decay of the second moment v, in [0, 1)
  T epsilon = T(1e-8);                              ///< added to √v̂ in the denominator, > 0
  T weight_decay = T(0);   ///< L2 coefficient added to weight gradients, in [0, 1]
  std::int64_t steps = 0;  ///< steps taken so far

  /// Throws Error on a non-positive learning rate or epsilon, betas outside [0, 1), bad decay.
  void validate() const { detail::validate_adam(*this); }

  /// One update of every parameter of `net` from its current gradients.
  template <class Net>
  void step(Net& net) {
    detail::adam_step(*this, net, false);
  }

  std::vector<T> scratch_{};  ///< reused per-row correction factors (implementation detail)
};

/// AdamW (Loshchilov & Hutter): Adam with decoupled weight decay w ← w (1 − lr·weight_decay) on
/// weights (not biases), applied before the moment step.
template <Scalar T>
struct AdamW {
  static constexpr std::string_view name = "adamw";  ///< identifies the optimizer in checkpoints
  T learning_rate = T(1e-3);                         ///< step size, > 0
  T beta1 = T(0.9);                                  ///< decay of the first moment m, in [0, 1)
  T beta2 = T(0.999);                                ///< decay of the second moment v, in [0, 1)
  T epsilon = T(1e-8);                               ///< added to √v̂ in the denominator, > 0
  T weight_decay = T(0.01);  ///< w ← w (1 − lr·weight_decay), in [0, 1]
  std::int64_t steps = 0;    ///< steps taken so far

  /// Throws Error on a non-positive learning rate or epsilon, betas outside [0, 1), bad decay.
  void validate() const { detail::validate_adam(*this); }

  /// One update of every parameter of `net` from its current gradients.
  template <class Net>
  void step(Net& net) {
    detail::adam_step(*this, net, true);
  }

  std::vector<T> scratch_{};  ///< reused per-row correction factors (implementation detail)
};

}  // namespace neuroplast
