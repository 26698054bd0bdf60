#pragma once
/// \file
/// Initialisers for new neurons (dropin) and new layers, except GradMax (grow/init.hpp), which
/// runs the network's passes.
///
/// A neuron initialiser writes every entry of the new neurons of hidden layer h: their fan-in rows
/// of W(h) (`count × fan_in`), their biases, and their fan-out columns of W(h+1)
/// (`fan_out × count`). It receives a GrowthSite after the axis has been extended.

#include <cmath>
#include <limits>
#include <span>
#include <string_view>
#include <vector>

#include "neuroplast/core/error.hpp"
#include "neuroplast/core/rng.hpp"
#include "neuroplast/layers/dense.hpp"

namespace neuroplast {

/// Where new neurons go: hidden layer `hidden_layer` grew from `old_width` by `count`. `in` is
/// dense layer h (new rows), `out` dense layer h+1 (new columns), `net` the whole network.
template <class Net>
struct GrowthSite {
  using T = typename Net::scalar;  ///< the network's scalar type
  Net& net;                        ///< the network being grown
  DenseParams<T>& in;              ///< dense layer h; the new neurons are its last `count` rows
  DenseParams<T>& out;  ///< dense layer h+1; the new neurons are its last `count` columns
  Index hidden_layer;   ///< h, the hidden layer that grew
  Index old_width;      ///< width of hidden layer h before growth
  Index count;          ///< number of new neurons
  Rng& rng;             ///< the network's generator, for random initialisers

  /// Inputs of dense layer h: the length of each new neuron's fan-in row.
  Index fan_in() const { return in.inputs(); }
  /// Outputs of dense layer h+1: the length of each new neuron's fan-out column.
  Index fan_out() const { return out.outputs(); }
  /// Width of hidden layer h after growth, `old_width + count`.
  Index new_width() const { return old_width + count; }
  /// Fan-in of the new neurons, `count × fan_in` (contiguous rows).
  auto new_fan_in() { return in.weights().bottomRows(count); }
  /// Biases of the new neurons, `count`.
  auto new_bias() { return in.bias().tail(count); }
  /// Fan-out of the new neurons, `fan_out × count`.
  auto new_fan_out() { return out.weights().rightCols(count); }

  // The new slots come out of spare capacity, which storage keeps zero (GrowableMatrix), so zeros
  // are written only when that does not hold. For the fan-out — a strided column per neuron in
  // row-major storage — this is the difference between touching fan_out cache lines and none.

  /// Sets the new fan-out to zero.
  void zero_fan_out() {
    if (!out.weight_param().value.spare_is_zero()) new_fan_out().setZero();
  }
  /// Sets the new fan-in to zero.
  void zero_fan_in() {
    if (!in.weight_param().value.spare_is_zero()) new_fan_in().setZero();
  }
  /// Sets the new biases to zero.
  void zero_bias() {
    if (!in.bias_param().value.spare_is_zero()) new_bias().setZero();
  }
};

namespace init {
namespace detail {

// Fills a block of any Eigen matrix or map run by contiguous run (rows of a row-major block,
// columns of a column-major one), so the bulk generators of Rng do the work; short or strided runs
// through a contiguous temporary.
template <class Block, class Fill>
void fill_runs(Block&& b, Fill&& fill) {
  using B = std::decay_t<Block>;
  using S = typename B::Scalar;
  if (b.size() == 0) return;
  const Index runs = B::IsRowMajor ? b.rows() : b.cols();
  const Index length = B::IsRowMajor ? b.cols() : b.rows();
  // The bulk generators work in blocks of 128 numbers: short runs (the fan-out column of one new
  // neuron is 1 number per row) are drawn in one go and scattered, not a block per run.
  if (b.innerStride() == 1 && length >= 128) {
    for (Index i = 0; i < runs; ++i) {
      S* start = B::IsRowMajor ? &b(i, 0) : &b(0, i);
      fill(std::span<S>(start, static_cast<std::size_t>(length)));
    }
  } else {
    Matrix<S> tmp(b.rows(), b.cols());
    fill(std::span<S>(tmp.data(), static_cast<std::size_t>(tmp.size())));
    b = tmp;
  }
}

/// Normal(0, stddev) entries.
template <class Block>
void fill_normal(Block&& b, Rng& rng, double stddev) {
  fill_runs(b, [&](auto run) { rng.fill_normal(run, 0.0, stddev); });
}

/// Uniform(−limit, limit) entries.
template <class Block>
void fill_uniform(Block&& b, Rng& rng, double limit) {
  fill_runs(b, [&](auto run) { rng.fill_uniform(run, -limit, limit); });
}

}  // namespace detail

/// Random fan-in, zero fan-out, zero bias: the network's function is unchanged at the moment of
/// growth, and the new neurons still learn (their fan-out receives gradient at once, their fan-in
/// as soon as the fan-out is non-zero). The fan-in follows the network's own initialisation
/// (He for the ReLU family, Glorot otherwise), times `scale`.
struct ZeroFanOut {
  static constexpr std::string_view name = "zero_fan_out";  ///< recorded in edits and files
  double scale = 1.0;  ///< factor on the fan-in's standard deviation (He) or limit (Glorot), ≥ 0

  /// Throws Error unless `scale` is finite and ≥ 0.
  template <class Net>
  void validate(const Net&, Index, Index) const {
    if (!(std::isfinite(scale) && scale >= 0))
      neuroplast::detail::fail("init::ZeroFanOut: scale = ", scale, " must be ≥ 0");
  }
  /// Writes the new fan-in rows, zero biases and zero fan-out columns of `site`.
  template <class Net>
  void initialise(GrowthSite<Net>& site) const {
    fan_in(site);
    site.zero_bias();
    site.zero_fan_out();
  }

 private:
  template <class Net>
  void fan_in(GrowthSite<Net>& site) const {
    const auto n = static_cast<double>(site.fan_in());
    if (Net::activation::relu_family) {
      detail::fill_normal(site.new_fan_in(), site.rng, scale * std::sqrt(2.0 / n));
    } else {
      detail::fill_uniform(site.new_fan_in(), site.rng,
                           scale * std::sqrt(6.0 / (n + static_cast<double>(site.new_width()))));
    }
  }
};

/// He (Kaiming) normal fan-in and fan-out, zero bias: fan-in std √(2/fan_in), fan-out std
/// √(2/new_width) (the fan-in of the next layer after growth). Changes the function.
struct He {
  static constexpr std::string_view name = "he";  ///< recorded in edits and files
  /// Accepts every growth: He has no parameters.
  template <class Net>
  void validate(const Net&, Index, Index) const {}
  /// Writes the new fan-in rows, zero biases and fan-out columns of `site`.
  template <class Net>
  void initialise(GrowthSite<Net>& site) const {
    detail::fill_normal(site.new_fan_in(), site.rng,
                        std::sqrt(2.0 / static_cast<double>(site.fan_in())));
    site.zero_bias();
    detail::fill_normal(site.new_fan_out(), site.rng,
                        std::sqrt(2.0 / static_cast<double>(site.new_width())));
  }
};

/// Glorot (Xavier) uniform fan-in and fan-out, zero bias: fan-in ±√(6/(fan_in + new_width)),
/// fan-out ±√(6/(new_width + fan_out)). Changes the function.
struct Glorot {
  static constexpr std::string_view name = "glorot";  ///< recorded in edits and files
  /// Accepts every growth: Glorot has no parameters.
  template <class Net>
  void validate(const Net&, Index, Index) const {}
  /// Writes the new fan-in rows, zero biases and fan-out columns of `site`.
  template <class Net>
  void initialise(GrowthSite<Net>& site) const {
    const auto w = static_cast<double>(site.new_width());
    detail::fill_uniform(site.new_fan_in(), site.rng,
                         std::sqrt(6.0 / (static_cast<double>(site.fan_in()) + w)));
    site.zero_bias();
    detail::fill_uniform(site.new_fan_out(), site.rng,
                         std::sqrt(6.0 / (w + static_cast<double>(site.fan_out()))));
  }
};

/// Net2WiderNet: each new neuron copies an existing one (its fan-in and bias), and the source's
/// fan-out is divided among the source and its copies, so the function is unchanged. Sources are
/// `sources` (one per new neuron, may repeat) or, when empty, drawn uniformly at random. With
/// `noise` > 0 the split is uneven — shares 1/c (1 + noise·ε), ε standard normal, renormalised to
/// sum to 1 — which keeps the function but breaks the symmetry between copies, so they learn
/// different features.
struct Net2Wider {
  static constexpr std::string_view name = "net2wider";  ///< recorded in edits and files
  std::vector<Index> sources{};  ///< source neuron of each new neuron; empty = uniformly at random
  double noise = 0.0;            ///< unevenness of the fan-out split, ≥ 0 (0 = even shares)

  /// Throws Error unless `noise` is finite and ≥ 0 and `sources` is empty or holds `count`
  /// neurons of hidden layer h, each in 0 … `width` − 1 (the layer's width before growth).
  template <class Net>
  void validate(const Net&, Index h, Index count, Index width) const {
    if (!(std::isfinite(noise) && noise >= 0))
      neuroplast::detail::fail("init::Net2Wider: noise = ", noise, " must be ≥ 0");
    if (sources.empty()) return;
    if (static_cast<Index>(sources.size()) != count) {
      neuroplast::detail::fail(
          "init::Net2Wider: ", sources.size(), " sources for ", count,
          " new neurons; give one source per new neuron, or none for random sources");
    }
    for (Index s : sources) {
      if (s < 0 || s >= width) {
        neuroplast::detail::fail("init::Net2Wider: source neuron ", s,
                                 " does not exist in hidden layer ", h, " (neurons 0..", width - 1,
                                 ")");
      }
    }
  }
  /// As above, with the current width of hidden layer h in `net`.
  template <class Net>
  void validate(const Net& net, Index h, Index count) const {
    validate(net, h, count, net.sizes()[static_cast<std::size_t>(h + 1)]);
  }

  /// Copies each source's fan-in row and bias into its new neurons and splits its fan-out column.
  template <class Net>
  void initialise(GrowthSite<Net>& site) const {
    using T = typename Net::scalar;
    std::vector<Index> src = sources;
    if (src.empty()) {
      for (Index j = 0; j < site.count; ++j)
        src.push_back(
            static_cast<Index>(site.rng.below(static_cast<std::uint64_t>(site.old_width))));
    }
    auto w_in = site.in.weights();
    auto b = site.in.bias();
    auto w_out = site.out.weights();
    // Group each source with its copies; split the source's original fan-out among the group.
    std::vector<std::vector<Index>> groups(static_cast<std::size_t>(site.old_width));
    for (Index j = 0; j < site.count; ++j) {
      const Index s = src[static_cast<std::size_t>(j)];
      const Index neuron = site.old_width + j;
      w_in.row(neuron) = w_in.row(s);
      b(neuron) = b(s);
      groups[static_cast<std::size_t>(s)].push_back(neuron);
    }
    for (Index s = 0; s < site.old_width; ++s) {
      auto& group = groups[static_cast<std::size_t>(s)];
      if (group.empty()) continue;
      group.insert(group.begin(), s);
      const auto c = static_cast<double>(group.size());
      std::vector<double> share(group.size(), 1.0 / c);
      if (noise > 0) {
        double total = 0;
        for (auto& x : share) total += (x *= 1.0 + noise * site.rng.normal());
        for (auto& x : share) x /= total;
      }
      const Vector<T> original = w_out.col(s);
      for (std::size_t i = 0; i < group.size(); ++i)
        w_out.col(group[i]) = original * static_cast<T>(share[i]);
    }
  }
};

/// A new layer that computes the identity: weights I (times `scale`), zero bias. Inserted after a
/// ReLU layer it leaves the network's function unchanged (ReLU(I·a) = a for a ≥ 0).
struct Identity {
  static constexpr std::string_view name = "identity";  ///< recorded in edits and files
  double scale = 1.0;                                   ///< factor on the identity weights
};

}  // namespace init

/// A neuron initialiser: `name`, `validate(net, h, count)` (throws Error before anything changes)
/// and `initialise(GrowthSite&)` (writes every new entry; if it must throw, before it writes
/// anything outside them: `Mlp::grow_neurons` then undoes the growth, not such writes).
template <class I, class Net>
concept NeuronInitializer = requires(const I& init, const Net& net, GrowthSite<Net>& site) {
  { I::name } -> std::convertible_to<std::string_view>;
  init.validate(net, Index{0}, Index{1});
  init.initialise(site);
};

}  // namespace neuroplast
