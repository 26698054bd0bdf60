#pragma once
/// \file
/// The machinery shared by every LRP rule: one dense layer's relevance step for a whole batch,
/// written as matrix products.
///
/// Every rule of `rules.hpp` splits the contribution z_ij of input i to output j (for sample n)
/// into a few *terms*, z_ij = Σ_k ρ_k(w_ji) φ_k(a_i), where ρ_k modifies the weights (W, W⁺, W⁻,
/// W + γW⁺, W², the mask) and φ_k the inputs (a, a⁺, a⁻, a − c, 1). Terms are grouped by the
/// denominator that normalises them (αβ has two groups, the others one). With the scaled
/// relevance S_g = c_g · R / (z_g ± ε) of each group (`outputs × batch`), a layer step is
///
///     R_in = Σ_k φ_k(A) ⊙ (ρ_k(W)ᵀ S_g(k))                      (inputs × batch)
///     Σ_n R_ij(n) = Σ_k ρ_k(w_ji) · (S_g(k) φ_k(A)ᵀ)_ji          (outputs × inputs)
///
/// one matrix product per term. The terms of each rule are chosen so that for any (i, j, n) at most
/// one of them is nonzero (they split by the signs of w_ji and a_i), hence also
/// Σ_n |R_ij(n)| = Σ_k |ρ_k(w_ji)| · (|S_g(k)| |φ_k(A)|ᵀ)_ji, again one product per term.
/// Terms whose input part is identically zero for this batch (a⁻ after a ReLU) are skipped.

#include <array>
#include <cmath>
#include <cstddef>
#include <type_traits>
#include <utility>

#include "neuroplast/core/error.hpp"
#include "neuroplast/core/gemm.hpp"
#include "neuroplast/core/types.hpp"
#include "neuroplast/relevance/rules.hpp"

namespace neuroplast::lrp::detail {

/// Row-major dense matrix: the storage order of `Mlp::weights(l)`, so modified weights and
/// per-connection sums line up with the weights element by element.
template <Scalar T>
using RowMatrix = Eigen::Matrix<T, Eigen::Dynamic, Eigen::Dynamic, Eigen::RowMajor>;

/// A read-only weight matrix as the network hands it out (a strided row-major view), or an owned
/// RowMatrix, without a copy.
template <Scalar T>
using WeightRef = Eigen::Ref<const RowMatrix<T>, 0, Eigen::OuterStride<>>;

// Every product of the pass goes through the library's GEMM (core/gemm.hpp) rather than Eigen's
// own product, which runs on one thread: large layers use the worker pool, and the results do not
// depend on the thread count.
using neuroplast::detail::add_product_to;

/// What φ_k does to the inputs of the layer.
enum class InputPart {
  all,       ///< a
  positive,  ///< a⁺ = max(a, 0)
  negative,  ///< a⁻ = min(a, 0)
  shifted,   ///< a − shift
  ones       ///< 1 (rules that ignore the input)
};

/// One dense layer seen by a batch.
template <Scalar T>
struct LayerData {
  WeightRef<T> w;                 ///< W, `outputs × inputs`
  Eigen::Ref<const Vector<T>> b;  ///< b, `outputs`
  const Matrix<T>* mask;          ///< connection mask, `outputs × inputs`; set for Flat only
  MatrixRef<T> a;                 ///< layer inputs, `inputs × batch`
  const Matrix<T>& lin;           ///< W a without the bias, `outputs × batch`
  bool a_nonnegative;      ///< every input ≥ 0 (after ReLU, pixels): φ = a⁻ terms vanish
  GemmWorkspace<T>* gemm;  ///< packing buffers of the pass's products (never null)
};

/// One term ρ_k(W) φ_k(A) of a rule's decomposition.
template <Scalar T>
struct Term {
  const RowMatrix<T>* weights = nullptr;  ///< ρ_k(W); nullptr = the layer's own W
  InputPart input = InputPart::all;       ///< φ_k
  T shift = 0;                            ///< for InputPart::shifted
  int group = 0;                          ///< which denominator normalises it
};

/// A denominator z_g and how the relevance is scaled by it: S = coefficient · R / (z_g ± ε).
template <Scalar T>
struct Group {
  Matrix<T> denominator;  ///< `outputs × batch`, or `outputs × 1` when independent of the input
  T coefficient = 1;      ///< α or −β for αβ, else 1
  T epsilon = 0;          ///< added with the sign of the denominator (sign(0) = +1)
};

/// A rule applied to one layer: up to four terms in up to two groups. Terms point into `weights`,
/// so a decomposition is built in place and never copied or moved.
template <Scalar T>
struct Decomposition {
  Decomposition() = default;
  Decomposition(const Decomposition&) = delete;
  Decomposition& operator=(const Decomposition&) = delete;

  std::array<RowMatrix<T>, 2> weights;  ///< modified weights owned by the decomposition
  std::array<Term<T>, 4> terms;
  int term_count = 0;
  std::array<Group<T>, 2> groups;
  int group_count = 0;

  void add_term(const RowMatrix<T>* w, InputPart input, int group, T shift = 0) {
    terms[static_cast<std::size_t>(term_count++)] = Term<T>{w, input, shift, group};
  }
  Group<T>& add_group(T coefficient, T epsilon) {
    Group<T>& g = groups[static_cast<std::size_t>(group_count++)];
    g.coefficient = coefficient;
    g.epsilon = epsilon;
    return g;
  }
};

/// Calls `f` with the weights of a term (the layer's own W or a modified copy).
template <Scalar T, class F>
decltype(auto) with_weights(const Term<T>& term, const LayerData<T>& data, F&& f) {
  if (term.weights == nullptr) return f(data.w);
  return f(*term.weights);
}

/// φ(A) of a term; returns `a` itself when unmodified, else fills and returns `buffer`.
template <Scalar T>
const Matrix<T>& input_part(const Term<T>& term, const MatrixRef<T>& a, Matrix<T>& buffer) {
  switch (term.input) {
    case InputPart::positive: buffer = a.cwiseMax(T(0)); break;
    case InputPart::negative: buffer = a.cwiseMin(T(0)); break;
    case InputPart::shifted: buffer = a.array() - term.shift; break;
    case InputPart::all:
    case InputPart::ones: buffer = a; break;  // callers never ask for these two
  }
  return buffer;
}

// -------------------------------------------------------------------------------------------------
// Decompositions, one per rule. Each fills the terms and computes the group denominators.

/// ρ(W) φ(A) for a term whose input part is a matrix, added into `z` (`outputs × batch`).
template <Scalar T>
void add_product(const Term<T>& term, const LayerData<T>& data, Matrix<T>& z) {
  const auto add = [&](const auto& phi) {
    with_weights(term, data, [&](const auto& w) {
      add_product_to<false, false>(z.data(), z.outerStride(), w, phi, *data.gemm);
    });
  };
  if (term.input == InputPart::all) {
    add(data.a);
    return;
  }
  Matrix<T> buffer;
  add(input_part(term, data.a, buffer));
}

/// Denominator of a group: the sum of its terms' products (plus whatever the rule adds).
template <Scalar T>
void sum_terms(Decomposition<T>& d, const LayerData<T>& data, int group) {
  Matrix<T>& z = d.groups[static_cast<std::size_t>(group)].denominator;
  z.setZero(data.w.rows(), data.a.cols());
  for (int k = 0; k < d.term_count; ++k) {
    const Term<T>& t = d.terms[static_cast<std::size_t>(k)];
    if (t.group == group) add_product(t, data, z);
  }
}

/// ε: the layer's own pre-activations z = W a + b.
template <Scalar T>
void decompose(const Epsilon& r, const LayerData<T>& data, Decomposition<T>& d) {
  Group<T>& g = d.add_group(T(1), static_cast<T>(r.epsilon));
  g.denominator = data.lin.colwise() + data.b;
  d.add_term(nullptr, InputPart::all, 0);
}

/// αβ (and z⁺ = αβ with α = 1, β = 0): positive contributions w⁺a⁺ + w⁻a⁻ and negative ones
/// w⁺a⁻ + w⁻a⁺, each with its own denominator. The negative denominator gets its own product
/// rather than z − z⁺: that difference cancels badly in float when the negative part is small.
template <Scalar T>
void decompose_alpha_beta(T alpha, T beta, const LayerData<T>& data, Decomposition<T>& d) {
  d.weights[0] = data.w.cwiseMax(T(0));
  // W⁻ serves only the negative part and, for signed inputs, the a⁻ terms of the positive part.
  if (beta != T(0) || !data.a_nonnegative) d.weights[1] = data.w.cwiseMin(T(0));
  const RowMatrix<T>* wp = &d.weights[0];
  const RowMatrix<T>* wn = &d.weights[1];
  d.add_group(alpha, T(0));
  if (data.a_nonnegative) {
    d.add_term(wp, InputPart::all, 0);
  } else {
    d.add_term(wp, InputPart::positive, 0);
    d.add_term(wn, InputPart::negative, 0);
  }
  if (beta != T(0)) {
    d.add_group(-beta, T(0));
    if (data.a_nonnegative) {
      d.add_term(wn, InputPart::all, 1);
    } else {
      d.add_term(wp, InputPart::negative, 1);
      d.add_term(wn, InputPart::positive, 1);
    }
  }
  for (int g = 0; g < d.group_count; ++g) sum_terms(d, data, g);
}

template <Scalar T>
void decompose(const ZPlus&, const LayerData<T>& data, Decomposition<T>& d) {
  decompose_alpha_beta(T(1), T(0), data, d);
}

template <Scalar T>
void decompose(const AlphaBeta& r, const LayerData<T>& data, Decomposition<T>& d) {
  decompose_alpha_beta(static_cast<T>(r.alpha), static_cast<T>(r.beta), data, d);
}

/// γ: z_ij + γ max(0, z_ij), i.e. weights W + γW⁺ where a > 0 and W + γW⁻ where a < 0; the bias
/// becomes b + γb⁺.
template <Scalar T>
void decompose(const Gamma& r, const LayerData<T>& data, Decomposition<T>& d) {
  const T gamma = static_cast<T>(r.gamma);
  d.weights[0] = data.w + gamma * data.w.cwiseMax(T(0));
  d.add_group(T(1), T(0));
  if (data.a_nonnegative) {
    d.add_term(&d.weights[0], InputPart::all, 0);
  } else {
    d.weights[1] = data.w + gamma * data.w.cwiseMin(T(0));
    d.add_term(&d.weights[0], InputPart::positive, 0);
    d.add_term(&d.weights[1], InputPart::negative, 0);
  }
  sum_terms(d, data, 0);
  const Vector<T> bias = data.b + gamma * data.b.cwiseMax(T(0));
  d.groups[0].denominator.colwise() += bias;
}

/// w²: z_ij = w_ji², one denominator per output neuron.
template <Scalar T>
void decompose(const WSquare&, const LayerData<T>& data, Decomposition<T>& d) {
  d.weights[0] = data.w.cwiseAbs2();
  d.add_group(T(1), T(0)).denominator = d.weights[0].rowwise().sum();
  d.add_term(&d.weights[0], InputPart::ones, 0);
}

/// flat: z_ij = 1 on active connections, so the denominator counts each neuron's fan-in.
template <Scalar T>
void decompose(const Flat&, const LayerData<T>& data, Decomposition<T>& d) {
  if (data.mask != nullptr) {
    d.weights[0] = *data.mask;
  } else {
    d.weights[0].setOnes(data.w.rows(), data.w.cols());
  }
  d.add_group(T(1), T(0)).denominator = d.weights[0].rowwise().sum();
  d.add_term(&d.weights[0], InputPart::ones, 0);
}

/// z^B: w⁺(a − low) + w⁻(a − high), every term ≥ 0 inside the box. Two products instead of
/// W a − low·Σw⁺ − high·Σw⁻, which would cancel when an input sits on its bound.
template <Scalar T>
void decompose(const ZBox& r, const LayerData<T>& data, Decomposition<T>& d) {
  d.weights[0] = data.w.cwiseMax(T(0));
  d.weights[1] = data.w.cwiseMin(T(0));
  d.add_group(T(1), T(0));
  d.add_term(&d.weights[0], InputPart::shifted, 0, static_cast<T>(r.low));
  d.add_term(&d.weights[1], InputPart::shifted, 0, static_cast<T>(r.high));
  sum_terms(d, data, 0);
}

// -------------------------------------------------------------------------------------------------
// The layer step

/// S = c · R / (z ± ε) for one group, 0 where the stabilised denominator is 0 (a neuron with no
/// contributions of that kind keeps its relevance: it is absorbed, not spread as NaN).
template <Scalar T>
Matrix<T> scaled_relevance(const Group<T>& g, const Matrix<T>& r) {
  const T eps = g.epsilon;
  const T c = g.coefficient;
  const Index rows = r.rows();
  const bool per_neuron = g.denominator.cols() == 1 && r.cols() != 1;
  Matrix<T> s(rows, r.cols());
  // Branch-free loops over contiguous columns, so the compiler vectorises them: this division
  // costs as much as a tenth of an ε explanation when it runs one coefficient at a time.
  // z + 0 turns −0 into +0, giving sign(0) = +1 for both zeros; a zero denominator divides by 1
  // and is then multiplied by 0.
  for (Index n = 0; n < r.cols(); ++n) {
    const T* rel = r.col(n).data();
    const T* z = g.denominator.col(per_neuron ? 0 : n).data();
    T* out = s.col(n).data();
    for (Index j = 0; j < rows; ++j) {
      const T den = z[j] + std::copysign(eps, z[j] + T(0));
      const T zero = static_cast<T>(den == T(0));
      out[j] = (T(1) - zero) * (c * rel[j] / (den + zero));
    }
  }
  return s;
}

/// The scaled relevance of every group, `outputs × batch` each.
template <Scalar T>
using Scaled = std::array<Matrix<T>, 2>;

template <Scalar T>
Scaled<T> scale(const Decomposition<T>& d, const Matrix<T>& r_out) {
  Scaled<T> s;
  for (int g = 0; g < d.group_count; ++g)
    s[static_cast<std::size_t>(g)] = scaled_relevance(d.groups[static_cast<std::size_t>(g)], r_out);
  return s;
}

/// R_in = Σ_k φ_k(A) ⊙ (ρ_k(W)ᵀ S_g(k)), `inputs × batch`.
template <Scalar T>
Matrix<T> relevance_in(const Decomposition<T>& d, const LayerData<T>& data, const Scaled<T>& s) {
  Matrix<T> r_in;
  Matrix<T> c(data.w.cols(), data.a.cols());
  Matrix<T> buffer;
  for (int k = 0; k < d.term_count; ++k) {
    const Term<T>& t = d.terms[static_cast<std::size_t>(k)];
    const Matrix<T>& sg = s[static_cast<std::size_t>(t.group)];
    with_weights(t, data, [&](const auto& w) {
      add_product_to<true, false>(c.data(), c.outerStride(), w, sg, *data.gemm, true);
    });
    // The first term writes, later ones add: one pass less for the common single-term rules.
    const auto put = [&](const auto& value) {
      if (k == 0) {
        r_in = value;
      } else {
        r_in += value;
      }
    };
    switch (t.input) {
      case InputPart::ones: put(c); break;
      case InputPart::all: put((data.a.array() * c.array()).matrix()); break;
      default: put((input_part(t, data.a, buffer).array() * c.array()).matrix()); break;
    }
  }
  return r_in;
}

/// Per-connection relevance summed over the batch: `sum` += Σ_n R_ij(n) and `abs_sum` +=
/// Σ_n |R_ij(n)|, both `outputs × inputs` (row-major like the weights), either may be null.
template <Scalar T>
void add_connection_relevance(const Decomposition<T>& d, const LayerData<T>& data,
                              const Scaled<T>& s, std::type_identity_t<RowMatrix<T>>* sum,
                              std::type_identity_t<RowMatrix<T>>* abs_sum) {
  const Index outputs = data.w.rows();
  const Index inputs = data.w.cols();
  if (sum != nullptr && sum->size() == 0) sum->setZero(outputs, inputs);
  if (abs_sum != nullptr && abs_sum->size() == 0) abs_sum->setZero(outputs, inputs);
  RowMatrix<T> p(outputs, inputs);
  Matrix<T> buffer, abs_s, abs_phi;
  // p = S φᵀ; the row-major p is the column-major pᵀ = φ Sᵀ.
  const auto product = [&](const auto& s_part, const auto& phi_part) {
    add_product_to<false, true>(p.data(), p.outerStride(), phi_part, s_part, *data.gemm, true);
  };
  for (int k = 0; k < d.term_count; ++k) {
    const Term<T>& t = d.terms[static_cast<std::size_t>(k)];
    const Matrix<T>& sg = s[static_cast<std::size_t>(t.group)];
    // p = S φ(A)ᵀ sums S_j(n) φ(a_i(n)) over the batch; for φ = 1 that is a row sum of S.
    const auto accumulate = [&](const auto& phi) {
      with_weights(t, data, [&](const auto& w) {
        if (sum != nullptr) {
          if constexpr (std::is_same_v<std::decay_t<decltype(phi)>, std::nullptr_t>) {
            p = sg.rowwise().sum().replicate(1, inputs);
          } else {
            product(sg, phi);
          }
          sum->array() += w.array() * p.array();
        }
        if (abs_sum != nullptr) {
          if constexpr (std::is_same_v<std::decay_t<decltype(phi)>, std::nullptr_t>) {
            p = sg.cwiseAbs().rowwise().sum().replicate(1, inputs);
          } else {
            abs_s = sg.cwiseAbs();
            abs_phi = phi.cwiseAbs();
            product(abs_s, abs_phi);
          }
          abs_sum->array() += w.array().abs() * p.array();
        }
      });
    };
    switch (t.input) {
      case InputPart::ones: accumulate(nullptr); break;
      case InputPart::all: accumulate(data.a); break;
      default: accumulate(input_part(t, data.a, buffer)); break;
    }
  }
}

}  // namespace neuroplast::lrp::detail
