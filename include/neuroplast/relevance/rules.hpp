#pragma once
/// \file
/// LRP propagation rules for dense layers as small value types, and `Composite`, which assigns a
/// rule to the input, hidden and output layers of an Mlp. The formulas are in `docs/lrp.md`.
///
/// Notation used in every comment of this module: dense layer l computes z_j = Σ_i w_ji a_i + b_j
/// from its inputs a (W is `outputs × inputs`, as `Mlp::weights(l)`). A rule redistributes the
/// relevance R_j of each output neuron j over the inputs i in proportion to contributions z_ij:
/// R_i = Σ_j z_ij / z_j · R_j. Rules differ in how they form z_ij and z_j.

#include <cmath>
#include <concepts>
#include <type_traits>
#include <variant>

#include "neuroplast/core/error.hpp"
#include "neuroplast/core/types.hpp"

namespace neuroplast::lrp {

/// LRP-ε: z_ij = w_ji a_i, z_j = Σ_i z_ij + b_j, and the denominator is stabilised as
/// z_j + ε·sign(z_j) with sign(0) = +1. The bias and the stabiliser absorb relevance; with zero
/// biases and ε → 0 relevance is conserved (LRP-0, which equals gradient × input on bias-free
/// ReLU networks). `epsilon` ≥ 0.
struct Epsilon {
  double epsilon = 1e-6;  ///< stabiliser added to |z_j|; 0 gives LRP-0
};

/// LRP-z⁺: only positive contributions, z_ij = max(0, w_ji a_i) (= w⁺_ji a_i for a ≥ 0), bias
/// ignored. Equals `AlphaBeta{1, 0}`. Relevance keeps the sign of the relevance it came from.
struct ZPlus {};

/// LRP-αβ: positive and negative contributions are normalised separately,
/// R_i = Σ_j (α z⁺_ij / z⁺_j − β z⁻_ij / z⁻_j) R_j with z⁺_ij = max(0, w_ji a_i),
/// z⁻_ij = min(0, w_ji a_i), bias ignored. Requires α − β = 1 (conservation) and β ≥ 0.
struct AlphaBeta {
  double alpha = 2;  ///< weight of the positive part
  double beta = 1;   ///< weight of the negative part
};

/// LRP-γ: positive contributions boosted, z_ij = w_ji a_i + γ max(0, w_ji a_i)
/// (= (w_ji + γ w⁺_ji) a_i for a ≥ 0), bias treated alike (b_j + γ b⁺_j). `gamma` ≥ 0; γ = 0 is
/// LRP-0 and γ → ∞ approaches z⁺.
struct Gamma {
  double gamma = 0.25;  ///< boost of the positive contributions
};

/// LRP-w²: z_ij = w_ji², independent of the input; bias ignored. Meant for the input layer when
/// the inputs are not bounded.
struct WSquare {};

/// LRP-flat: z_ij = 1 for every active connection (connection mask 1), so each neuron spreads its
/// relevance uniformly over its fan-in; independent of the input and the weights.
struct Flat {};

/// LRP-z^B (box rule) for inputs known to lie in [low, high]:
/// z_ij = w_ji a_i − low·w⁺_ji − high·w⁻_ji, bias ignored. Every z_ij ≥ 0 for inputs inside the
/// box, so the rule is stable. Meant for the input layer; the defaults fit pixels scaled to [0, 1]
/// (as `load_fashion_mnist` returns them). Requires low < high.
struct ZBox {
  double low = 0;   ///< lower bound of every input feature
  double high = 1;  ///< upper bound of every input feature
};

/// Any one of the basic rules; what each slot of a `Composite` holds. Default: `Epsilon{}`.
using AnyRule = std::variant<Epsilon, ZPlus, AlphaBeta, Gamma, WSquare, Flat, ZBox>;

/// One basic per-layer rule type.
template <class R>
concept LayerRule = std::same_as<R, Epsilon> || std::same_as<R, ZPlus> ||
    std::same_as<R, AlphaBeta> || std::same_as<R, Gamma> || std::same_as<R, WSquare> ||
    std::same_as<R, Flat> || std::same_as<R, ZBox>;

/// Assigns a rule to each kind of dense layer of an Mlp:
///
/// - `input`: dense layer 0, which maps the input features to the first hidden layer;
/// - `hidden`: dense layers 1 … L−2, between two hidden layers;
/// - `output`: dense layer L−1, which produces the logits.
///
/// With a single dense layer (no hidden layer) `input` applies. The defaults are the usual recipe
/// for ReLU networks: ε at the output, z⁺ in the middle (stable, positive evidence only), and ε at
/// the input, which works for inputs of any range; for bounded inputs such as pixels prefer
/// `.input = ZBox{0, 1}`.
struct Composite {
  AnyRule input = Epsilon{};   ///< rule of dense layer 0
  AnyRule hidden = ZPlus{};    ///< rule of dense layers 1 … L−2
  AnyRule output = Epsilon{};  ///< rule of the last dense layer

  /// The same rule for every layer.
  static Composite uniform(const AnyRule& rule) { return {rule, rule, rule}; }

  /// The rule of dense layer `l` of a network with `layer_count` dense layers.
  const AnyRule& for_layer(Index l, Index layer_count) const noexcept {
    if (l == 0) return input;
    if (l + 1 == layer_count) return output;
    return hidden;
  }
};

/// What `explain` and its relatives accept: a basic rule (used for every layer), an `AnyRule`, or a
/// `Composite`.
template <class R>
concept Rule = LayerRule<R> || std::same_as<R, AnyRule> || std::same_as<R, Composite>;

namespace detail {

using neuroplast::detail::fail;

inline void validate(const Epsilon& r, const char* who, const char* slot) {
  if (!(r.epsilon >= 0) || !std::isfinite(r.epsilon)) {
    fail(who, ": ", slot, "Epsilon{.epsilon = ", r.epsilon,
         "} is invalid; epsilon must be finite and ≥ 0 (e.g. 1e-6, or 0 for "
         "LRP-0)");
  }
}
inline void validate(const ZPlus&, const char*, const char*) {}
inline void validate(const AlphaBeta& r, const char* who, const char* slot) {
  if (!std::isfinite(r.alpha) || !std::isfinite(r.beta) || !(r.beta >= 0) ||
      std::abs(r.alpha - r.beta - 1) > 1e-9) {
    fail(who, ": ", slot, "AlphaBeta{.alpha = ", r.alpha, ", .beta = ", r.beta,
         "} is invalid; it needs alpha − beta = 1 and beta ≥ 0 to conserve "
         "relevance (e.g. {2, 1} or {1, 0})");
  }
}
inline void validate(const Gamma& r, const char* who, const char* slot) {
  if (!(r.gamma >= 0) || !std::isfinite(r.gamma)) {
    fail(who, ": ", slot, "Gamma{.gamma = ", r.gamma,
         "} is invalid; gamma must be finite and ≥ 0 (e.g. 0.25)");
  }
}
inline void validate(const WSquare&, const char*, const char*) {}
inline void validate(const Flat&, const char*, const char*) {}
inline void validate(const ZBox& r, const char* who, const char* slot) {
  if (!std::isfinite(r.low) || !std::isfinite(r.high) || !(r.low < r.high)) {
    fail(who, ": ", slot, "ZBox{.low = ", r.low, ", .high = ", r.high,
         "} is invalid; low must be below high (pass the range of the input "
         "features, e.g. ZBox{0, 1} for pixels scaled to [0, 1])");
  }
}
inline void validate(const AnyRule& r, const char* who, const char* slot) {
  std::visit([&](const auto& rule) { validate(rule, who, slot); }, r);
}
inline void validate(const Composite& c, const char* who, const char*) {
  validate(c.input, who, "Composite.input: ");
  validate(c.hidden, who, "Composite.hidden: ");
  validate(c.output, who, "Composite.output: ");
}

/// Throws Error naming `who` when the rule (every slot of a composite) is invalid.
template <Rule R>
void validate_rule(const R& rule, const char* who) {
  validate(rule, who, "");
}

/// The rule of dense layer l, as an `AnyRule` (visited once per layer, never per element).
template <Rule R>
AnyRule rule_for_layer(const R& rule, Index l, Index layer_count) {
  if constexpr (std::same_as<R, Composite>) {
    return rule.for_layer(l, layer_count);
  } else {
    return AnyRule(rule);
  }
}

}  // namespace detail
}  // namespace neuroplast::lrp
