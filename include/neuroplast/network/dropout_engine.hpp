#pragma once
/// \file
/// The dropout engine of a training pass: the masks and multipliers of every DropoutKind, and the
/// gathered weights that let a product skip dropped neurons. Used by network/passes.hpp.

#include <cmath>
#include <cstdint>
#include <span>
#include <type_traits>
#include <vector>

#include "neuroplast/core/rng.hpp"
#include "neuroplast/core/types.hpp"
#include "neuroplast/layers/dense.hpp"
#include "neuroplast/layers/dropout.hpp"
#include "neuroplast/network/workspace.hpp"

namespace neuroplast::detail {

template <Scalar T>
using LayerScratch = typename Workspace<T>::LayerScratch;

/// Entries are 0 with probability p and `keep` otherwise; 32 random bits per entry.
template <Scalar T, class M>
void fill_bernoulli(M&& m, double p, T keep, Rng& rng) {
  const auto threshold = static_cast<std::uint64_t>(p * 4294967296.0);
  std::uint64_t bits = 0;
  int left = 0;
  for (Index o = 0; o < (std::decay_t<M>::IsRowMajor ? m.rows() : m.cols()); ++o) {
    for (Index i = 0; i < (std::decay_t<M>::IsRowMajor ? m.cols() : m.rows()); ++i) {
      if (left == 0) {
        bits = rng.next();
        left = 2;
      }
      const std::uint64_t u = bits & 0xffffffffu;
      bits >>= 32;
      --left;
      (std::decay_t<M>::IsRowMajor ? m(o, i) : m(i, o)) = u >= threshold ? keep : T(0);
    }
  }
}

/// Batch-shared dropout: each neuron kept with probability 1 − p, at least one.
template <Scalar T>
void sample_kept(LayerScratch<T>& sc, Index width, double p, Rng& rng) {
  sc.kept.clear();
  sc.kept.reserve(static_cast<std::size_t>(width));
  for (Index j = 0; j < width; ++j)
    if (rng.uniform() >= p) sc.kept.push_back(j);
  if (sc.kept.empty())
    sc.kept.push_back(static_cast<Index>(rng.below(static_cast<std::uint64_t>(width))));
  sc.compact_out = true;
}

// Copies the kept rows (this layer's batch-shared dropout) and kept columns (the previous
// layer's) of W and the kept biases: the product then skips what was dropped.
template <Scalar T>
void gather_weights(LayerScratch<T>& sc, const DenseParams<T>& d,
                    const std::vector<Index>* in_kept) {
  const auto w = d.weights();
  const auto b = d.bias();
  const Index rows = sc.compact_out ? static_cast<Index>(sc.kept.size()) : w.rows();
  const Index cols = in_kept != nullptr ? static_cast<Index>(in_kept->size()) : w.cols();
  sc.w.reshape_uninitialized(rows, cols);
  sc.bias.reshape_uninitialized(rows, 1);
  auto g = sc.w.view();
  for (Index r = 0; r < rows; ++r) {
    const Index src = sc.compact_out ? sc.kept[static_cast<std::size_t>(r)] : r;
    sc.bias.data()[r] = b(src);
    if (in_kept == nullptr) {
      g.row(r) = w.row(src);
    } else {
      for (Index c = 0; c < cols; ++c) g(r, c) = w(src, (*in_kept)[static_cast<std::size_t>(c)]);
    }
  }
  if (!sc.compact_out) {
    sc.bias.reshape_uninitialized(0, 1);  // the full bias is read from the layer
  }
  sc.weights = LayerScratch<T>::Weights::substituted;
}

// DropConnect: W ∘ M·s with M ~ Bernoulli(1 − p) per weight (s = 1/(1−p) when inverted).
template <Scalar T>
void mask_connections(LayerScratch<T>& sc, const DenseParams<T>& d, const Dropout& own, double p,
                      Rng& rng) {
  const bool gathered = sc.weights == LayerScratch<T>::Weights::substituted;
  const Index rows = gathered ? sc.w.rows() : d.outputs();
  const Index cols = gathered ? sc.w.cols() : d.inputs();
  if (!gathered) {
    sc.w.reshape_uninitialized(rows, cols);
    sc.w.view() = d.weights();
  }
  sc.wmult.reshape_uninitialized(rows, cols);
  const T keep = own.convention == DropoutConvention::inverted ? static_cast<T>(1 / (1 - p)) : T(1);
  fill_bernoulli<T>(sc.wmult.view(), p, keep, rng);
  sc.w.view().array() *= sc.wmult.view().array();
  sc.weights = LayerScratch<T>::Weights::substituted;
  sc.drop_connect = true;
}

// Bernoulli or Gaussian multipliers for every output of the batch; the next layer reads
// output ∘ multipliers, the backward pass multiplies the incoming gradient by them. In a
// windowed pass (Workspace::set_sample_window) they are drawn for the whole batch of `total`
// and columns [first, first + cols) are used.
template <Scalar T>
void multiply_outputs(LayerScratch<T>& sc, const MatrixView<T>& out, const Dropout& own, double p,
                      const std::vector<double>& rates, Rng& rng, Index first, Index total) {
  sc.mult.reshape_uninitialized(out.rows(), out.cols());
  sc.dropped.reshape_uninitialized(out.rows(), out.cols());
  const bool windowed = total > 0;
  if (windowed) sc.window_mult.reshape_uninitialized(out.rows(), total);
  auto m = windowed ? sc.window_mult.view() : sc.mult.view();
  if (own.kind == DropoutKind::gaussian) {
    for (Index c = 0; c < m.cols(); ++c)
      rng.fill_normal(std::span<T>(&m(0, c), static_cast<std::size_t>(m.rows())), 1.0,
                      std::sqrt(p / (1 - p)));
  } else if (!rates.empty()) {
    // Relevance-guided: neuron j (row j) drops with its own rate, kept values scaled by 1/(1 −
    // p_j). The schedule scales every rate by the same ramp factor.
    const double ramp = own.rate > 0 ? p / own.rate : 1.0;
    for (Index j = 0; j < m.rows(); ++j) {
      const double pj = rates[static_cast<std::size_t>(j)] * ramp;
      fill_bernoulli<T>(m.row(j), pj, static_cast<T>(1 / (1 - pj)), rng);
    }
  } else {
    const T keep =
        own.convention == DropoutConvention::inverted ? static_cast<T>(1 / (1 - p)) : T(1);
    fill_bernoulli<T>(m, p, keep, rng);
  }
  if (windowed) sc.mult.view() = m.middleCols(first, out.cols());
  sc.dropped.view() = out.cwiseProduct(sc.mult.view());
  sc.multiplied = true;
}

// Writes the gradient of the substituted weights back into the layer's gradient planes: zero
// for dropped neurons, the gathered entries elsewhere. `in_kept`: the previous layer's kept
// neurons when it used batch-shared dropout.
template <Scalar T, class D>
void scatter_gradients(LayerScratch<T>& sc, D& d, const std::vector<Index>* in_kept) {
  auto grad = d.weight_param().grad.view();
  VectorView<T> grad_b(d.bias_param().grad.data(), d.outputs());
  const auto g = sc.grad.view();
  const ConstVectorView<T> gb(sc.bias_grad.data(), g.rows());
  if (!sc.compact_out && in_kept == nullptr) {
    grad = g;
    grad_b = gb;
    return;
  }
  grad.setZero();
  grad_b.setZero();
  for (Index r = 0; r < g.rows(); ++r) {
    const Index dst = sc.compact_out ? sc.kept[static_cast<std::size_t>(r)] : r;
    grad_b(dst) = gb(r);
    if (in_kept == nullptr) {
      grad.row(dst) = g.row(r);
    } else {
      for (Index c = 0; c < g.cols(); ++c)
        grad(dst, (*in_kept)[static_cast<std::size_t>(c)]) = g(r, c);
    }
  }
}

}  // namespace neuroplast::detail
