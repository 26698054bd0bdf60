#pragma once
/// \file
/// Selection: which neurons or connections to prune, given their scores. Per layer or across
/// layers (global), by fraction, by threshold, or both, never below a layer's minimum width.

#include <algorithm>
#include <cmath>
#include <cstdint>
#include <limits>
#include <optional>
#include <string_view>
#include <type_traits>
#include <vector>

#include "neuroplast/prune/criterion.hpp"

namespace neuroplast {

/// Where a fraction or threshold applies.
enum class PruneScope {
  per_layer,  ///< each layer on its own: a fraction removes that share of every layer
  global,     ///< all layers ranked together by normalised score: weak layers lose more
};

/// How scores are made comparable before ranking and thresholding. Raw scores of different layers
/// are not comparable (a layer with 784 inputs has larger fan-in norms than one with 64, and
/// activations and gradients differ in scale from layer to layer), so by default each score is
/// divided by its layer's mean: a normalised score of 0.3 means "30% of this layer's average
/// importance" in every layer.
enum class ScoreNormalization {
  none,        ///< raw scores (compare across layers only if they share a scale)
  layer_mean,  ///< score / mean score of its layer (default)
  layer_max,   ///< score / largest score of its layer
  layer_l2,    ///< score / √(Σ scores² of its layer), as Molchanov et al. (2017) normalise
};

/// What selection does when a layer would go below `Mlp::min_width(h)`.
enum class AtMinWidth {
  clamp,  ///< remove only what the minimum allows; the rest is reported as `held_back`
  error,  ///< throw Error naming the layer instead
};

/// How to select what to prune: `PruneSelection{.fraction = 0.2, .scope = PruneScope::global}`.
///
/// - `fraction` alone: the ⌊fraction · n⌋ lowest-scoring, n being the layer's neurons (per layer)
///   or all candidate neurons together (global);
/// - `threshold` alone: every one whose normalised score is below the threshold (strictly);
/// - both: those below the threshold, at most ⌊fraction · n⌋ (the lowest);
/// - neither: fraction 0.2.
///
/// Ties are broken towards the higher index (removing the last neurons of a layer moves nothing),
/// then, in global scope, towards the lower layer. For connections, n counts only the active
/// (not yet pruned) connections of a layer, so repeated pruning by a fraction removes that share
/// of what remains.
struct PruneSelection {
  std::optional<double> fraction{};          ///< share to remove, in [0, 1)
  std::optional<double> threshold{};         ///< normalised score below which to remove, ≥ 0
  PruneScope scope = PruneScope::per_layer;  ///< rank within each layer or over all together
  ScoreNormalization normalization = ScoreNormalization::layer_mean;  ///< scaling before ranking
  /// Layers to prune: hidden layers for neurons, dense layers for connections; empty = all.
  std::vector<Index> layers{};
  AtMinWidth at_min_width = AtMinWidth::clamp;  ///< neurons only (connections always clamp)

  /// The fraction used when neither `fraction` nor `threshold` is given.
  static constexpr double default_fraction = 0.2;

  /// Throws Error naming `who` for a fraction outside [0, 1) or a negative or non-finite
  /// threshold.
  void validate(std::string_view who) const {
    if (fraction && !(std::isfinite(*fraction) && *fraction >= 0 && *fraction < 1)) {
      detail::fail(who, ": fraction = ", *fraction,
                   " is outside [0, 1); it is the share to remove (e.g. 0.2), and removing all ",
                   "of a layer is never allowed");
    }
    if (threshold && !(std::isfinite(*threshold) && *threshold >= 0)) {
      detail::fail(who, ": threshold = ", *threshold,
                   " is invalid; it must be finite and ≥ 0 (scores are importances ≥ 0, compared "
                   "after normalisation: 0.5 = half the layer's mean by default)");
    }
  }
};

/// The neurons a selection picked: `neurons[h]` lists the indices (ascending) to remove from
/// hidden layer h, `held_back[h]` how many more it would have picked without `min_width(h)`.
struct NeuronSelection {
  std::vector<std::vector<Index>> neurons{};  ///< per hidden layer, ascending
  std::vector<Index> held_back{};             ///< per hidden layer

  /// Neurons selected in all layers.
  Index count() const noexcept {
    Index n = 0;
    for (const auto& v : neurons) n += static_cast<Index>(v.size());
    return n;
  }
};

namespace detail {

/// One candidate for pruning: its normalised score, layer, and index in the layer (a neuron, or
/// a row-major flat index for a connection).
struct PruneCandidate {
  double score = 0;
  Index layer = 0;
  Index index = 0;
};

/// Lower score first; on ties the lower layer, then the higher index (removal of the last
/// neurons of a layer moves nothing). A total order, so results never depend on the sort.
inline bool prune_before(const PruneCandidate& a, const PruneCandidate& b) noexcept {
  if (a.score != b.score) return a.score < b.score;
  if (a.layer != b.layer) return a.layer < b.layer;
  return a.index > b.index;
}

/// Divides the scores of `c[first, last)` (one layer) as `kind` says; a layer whose scores are all
/// 0 stays 0.
inline void normalise_layer(std::vector<PruneCandidate>& c, std::size_t first, std::size_t last,
                            ScoreNormalization kind) {
  if (kind == ScoreNormalization::none || first == last) return;
  double factor = 0;
  for (std::size_t i = first; i < last; ++i) {
    const double s = c[i].score;
    if (kind == ScoreNormalization::layer_mean) factor += s;
    if (kind == ScoreNormalization::layer_max) factor = std::max(factor, s);
    if (kind == ScoreNormalization::layer_l2) factor += s * s;
  }
  if (kind == ScoreNormalization::layer_mean) factor /= static_cast<double>(last - first);
  if (kind == ScoreNormalization::layer_l2) factor = std::sqrt(factor);
  for (std::size_t i = first; i < last; ++i) c[i].score = factor > 0 ? c[i].score / factor : 0.0;
}

/// The layers a selection applies to, checked against `count` layers of `kind` ("hidden layer",
/// "dense layer"); ascending.
inline std::vector<Index> selected_layers(const PruneSelection& s, Index count, const char* kind,
                                          std::string_view who) {
  std::vector<Index> layers = s.layers;
  if (layers.empty()) {
    for (Index l = 0; l < count; ++l) layers.push_back(l);
    return layers;
  }
  std::sort(layers.begin(), layers.end());
  for (std::size_t i = 0; i < layers.size(); ++i) {
    if (layers[i] < 0 || layers[i] >= count) {
      fail(who, ": layers lists ", kind, " ", layers[i], ", which does not exist (the network has ",
           count, " ", kind, "s: 0..", count - 1, ")");
    }
    if (i > 0 && layers[i] == layers[i - 1]) {
      fail(who, ": layers lists ", kind, " ", layers[i], " twice");
    }
  }
  return layers;
}

/// Throws Error naming `who` unless `v` is finite (and ≥ 0 when normalised).
inline void check_score(double v, bool normalised, std::string_view who, Index layer,
                        const char* where) {
  if (!std::isfinite(v)) {
    fail(who, ": scores[", layer, "]", where, " is ", v, "; scores must be finite");
  }
  if (normalised && v < 0) {
    fail(who, ": scores[", layer, "]", where, " = ", v,
         " is negative; scores are importances ≥ 0 (take |score|), or set .normalization = "
         "ScoreNormalization::none to rank signed scores");
  }
}

/// Picks from normalised candidates grouped by layer: group k is `c[groups[k].first,
/// groups[k].second)` and its candidates have `layer` = k. `caps[k]` is the most group k may lose.
/// Returns what each group loses (indices into its layer, ascending) and, in `wanted`, what it
/// would have lost without caps.
inline std::vector<std::vector<Index>> pick(
    std::vector<PruneCandidate>& c, const std::vector<std::pair<std::size_t, std::size_t>>& groups,
    const std::vector<Index>& caps, const PruneSelection& s, std::vector<Index>& wanted) {
  const double threshold = s.threshold.value_or(std::numeric_limits<double>::infinity());
  // Plain values rather than an optional: GCC's -Wmaybe-uninitialized misfires on the latter.
  const bool by_fraction = s.fraction.has_value() || !s.threshold.has_value();
  const double fraction = s.fraction.value_or(s.default_fraction);
  const auto quota_of = [&](std::size_t n) -> std::size_t {
    if (!by_fraction) return n;
    return static_cast<std::size_t>(std::floor(fraction * static_cast<double>(n)));
  };
  std::vector<std::vector<Index>> picked(groups.size());
  wanted.assign(groups.size(), 0);

  if (s.scope == PruneScope::per_layer) {
    for (std::size_t k = 0; k < groups.size(); ++k) {
      const auto [first, last] = groups[k];
      const auto begin = c.begin() + static_cast<std::ptrdiff_t>(first);
      const auto end = c.begin() + static_cast<std::ptrdiff_t>(last);
      const auto below = static_cast<std::size_t>(
          std::count_if(begin, end, [&](const PruneCandidate& x) { return x.score < threshold; }));
      // Under the total order, the candidates below the threshold are a prefix of the sorted
      // layer, so the chosen ones are its `take` smallest: a partial selection suffices.
      const std::size_t want = std::min(quota_of(last - first), below);
      const std::size_t take =
          std::min(want, static_cast<std::size_t>(std::max<Index>(caps[k], 0)));
      wanted[k] = static_cast<Index>(want);
      std::nth_element(begin, begin + static_cast<std::ptrdiff_t>(take), end, prune_before);
      for (auto it = begin; it != begin + static_cast<std::ptrdiff_t>(take); ++it)
        picked[k].push_back(it->index);
    }
  } else {
    std::size_t total = 0;
    for (const auto& [first, last] : groups) total += last - first;
    const std::size_t quota = quota_of(total);
    std::sort(c.begin(), c.end(), prune_before);
    // One walk up the ranking computes both what is wanted (the first `quota` below the
    // threshold) and what is taken (the same, skipping layers that reached their cap).
    std::vector<Index> taken(groups.size(), 0);
    std::size_t wanted_total = 0;
    std::size_t taken_total = 0;
    for (const PruneCandidate& x : c) {
      if (x.score >= threshold) break;
      const auto k = static_cast<std::size_t>(x.layer);  // `layer` holds the group here
      if (wanted_total < quota) {
        ++wanted[k];
        ++wanted_total;
      }
      if (taken_total < quota && taken[k] < caps[k]) {
        ++taken[k];
        ++taken_total;
        picked[k].push_back(x.index);
      }
      if (wanted_total == quota && taken_total == quota) break;
    }
  }
  for (auto& p : picked) std::sort(p.begin(), p.end());
  return picked;
}

}  // namespace detail

/// Chooses the neurons to remove from `scores` (one vector per hidden layer, `width(h)` entries,
/// higher = more important; from `neuron_scores`). Scores are normalised per layer first
/// (`selection.normalization`), then selected per layer or globally, by fraction and/or
/// threshold. No layer goes below `net.min_width(h)` (at least 1): with `AtMinWidth::clamp` the
/// rest is reported in `held_back`, with `AtMinWidth::error` it throws. Throws Error for an
/// invalid selection, a score count or size that does not match the network, or a non-finite (or,
/// when normalising, negative) score. The network is not changed.
template <Network Net>
NeuronSelection select_neurons(const Net& net, const NeuronScores<scalar_of<Net>>& scores,
                               const PruneSelection& selection = {}) {
  constexpr const char* who = "select_neurons";
  selection.validate(who);
  const Index hidden = net.hidden_layer_count();
  if (static_cast<Index>(scores.size()) != hidden) {
    detail::fail(who, ": ", scores.size(), " score vectors for a network with ", hidden,
                 " hidden layers (sizes ", detail::format_sizes(net.sizes()),
                 "); pass one per hidden layer, as neuron_scores returns them");
  }
  for (Index h = 0; h < hidden; ++h) {
    const Index n = scores[static_cast<std::size_t>(h)].size();
    if (n != net.width(h)) {
      detail::fail(who, ": scores[", h, "] has ", n, " entries but hidden layer ", h, " has ",
                   net.width(h), " neurons; score the network as it is now");
    }
  }
  const std::vector<Index> layers = detail::selected_layers(selection, hidden, "hidden layer", who);
  const bool normalised = selection.normalization != ScoreNormalization::none;

  // In the candidate list, `layer` holds the position k in `layers` (the group), so the global
  // walk indexes its counters directly; ties still go to the lower layer.
  std::vector<detail::PruneCandidate> candidates;
  std::vector<std::pair<std::size_t, std::size_t>> groups;
  std::vector<Index> caps;
  for (std::size_t k = 0; k < layers.size(); ++k) {
    const Index h = layers[k];
    const auto& s = scores[static_cast<std::size_t>(h)];
    const std::size_t first = candidates.size();
    for (Index j = 0; j < s.size(); ++j) {
      const auto v = static_cast<double>(s(j));
      if (!std::isfinite(v) || (normalised && v < 0)) {
        detail::check_score(v, normalised, who, h, detail::message("(", j, ")").c_str());
      }
      candidates.push_back({v, static_cast<Index>(k), j});
    }
    detail::normalise_layer(candidates, first, candidates.size(), selection.normalization);
    groups.emplace_back(first, candidates.size());
    caps.push_back(net.width(h) - std::max<Index>(net.min_width(h), 1));
  }

  std::vector<Index> wanted;
  auto picked = detail::pick(candidates, groups, caps, selection, wanted);

  NeuronSelection result;
  result.neurons.resize(static_cast<std::size_t>(hidden));
  result.held_back.assign(static_cast<std::size_t>(hidden), 0);
  for (std::size_t k = 0; k < layers.size(); ++k) {
    const Index h = layers[k];
    const auto held = std::max<Index>(0, wanted[k] - static_cast<Index>(picked[k].size()));
    if (held > 0 && selection.at_min_width == AtMinWidth::error) {
      detail::fail(who, ": the selection would remove ", wanted[k], " of the ", net.width(h),
                   " neurons of hidden layer ", h, ", leaving fewer than its minimum width ",
                   std::max<Index>(net.min_width(h), 1),
                   " (set_min_width); lower the fraction or threshold, or use .at_min_width = "
                   "AtMinWidth::clamp to remove what the minimum allows");
    }
    result.held_back[static_cast<std::size_t>(h)] = held;
    result.neurons[static_cast<std::size_t>(h)] = std::move(picked[k]);
  }
  return result;
}

/// Chooses connections to prune from `scores` (one matrix per dense layer, shape of
/// `weights(l)`; from `connection_scores`) and returns the resulting connection masks, one per
/// dense layer (1 = keep, 0 = pruned, including what was pruned before), ready for
/// `net.prune_connections(l, masks[l])`. Only active connections are candidates; normalisation
/// uses their scores alone, and a fraction counts them alone. A layer always keeps at least one
/// active connection. Throws Error as `select_neurons` (with a wrong shape instead of a wrong
/// size). The network is not changed.
template <Network Net>
std::vector<Matrix<scalar_of<Net>>> select_connections(
    const Net& net, const ConnectionScores<scalar_of<Net>>& scores,
    const PruneSelection& selection = {}) {
  using T = scalar_of<Net>;
  constexpr const char* who = "select_connections";
  selection.validate(who);
  const Index dense = net.layer_count();
  if (static_cast<Index>(scores.size()) != dense) {
    detail::fail(who, ": ", scores.size(), " score matrices for a network with ", dense,
                 " dense layers (sizes ", detail::format_sizes(net.sizes()),
                 "); pass one per dense layer, as connection_scores returns them");
  }
  std::vector<Matrix<T>> masks;
  for (Index l = 0; l < dense; ++l) {
    const auto& s = scores[static_cast<std::size_t>(l)];
    const auto w = net.weights(l);
    if (s.rows() != w.rows() || s.cols() != w.cols()) {
      detail::fail(who, ": scores[", l, "] is ", detail::format_shape(s.rows(), s.cols()),
                   " but weights(", l, ") is ", detail::format_shape(w.rows(), w.cols()),
                   "; score the network as it is now");
    }
    masks.push_back(net.connection_mask(l));
  }
  const std::vector<Index> layers = detail::selected_layers(selection, dense, "dense layer", who);
  const bool normalised = selection.normalization != ScoreNormalization::none;

  std::vector<detail::PruneCandidate> candidates;
  std::vector<std::pair<std::size_t, std::size_t>> groups;
  std::vector<Index> caps;
  for (std::size_t k = 0; k < layers.size(); ++k) {
    const Index l = layers[k];
    const auto& s = scores[static_cast<std::size_t>(l)];
    const auto& mask = masks[static_cast<std::size_t>(l)];
    const std::size_t first = candidates.size();
    for (Index r = 0; r < s.rows(); ++r) {
      for (Index c = 0; c < s.cols(); ++c) {
        if (mask(r, c) == T(0)) continue;
        const auto v = static_cast<double>(s(r, c));
        if (!std::isfinite(v) || (normalised && v < 0)) {
          detail::check_score(v, normalised, who, l, detail::message("(", r, ", ", c, ")").c_str());
        }
        candidates.push_back({v, static_cast<Index>(k), r * s.cols() + c});
      }
    }
    detail::normalise_layer(candidates, first, candidates.size(), selection.normalization);
    groups.emplace_back(first, candidates.size());
    caps.push_back(static_cast<Index>(candidates.size() - first) - 1);
  }

  std::vector<Index> wanted;
  const auto picked = detail::pick(candidates, groups, caps, selection, wanted);
  for (std::size_t k = 0; k < layers.size(); ++k) {
    auto& mask = masks[static_cast<std::size_t>(layers[k])];
    for (const Index flat : picked[k]) mask(flat / mask.cols(), flat % mask.cols()) = T(0);
  }
  return masks;
}

}  // namespace neuroplast
