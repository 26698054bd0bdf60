#pragma once
/// \file
/// `lrp::explain` and `lrp::explain_batch`: relevance of every input feature and every hidden
/// neuron of an Mlp for the logit of a target class.
///
/// The relevance put in at the output is the target's logit (target −1 = the predicted class,
/// i.e. the largest logit), every other output gets 0. It is propagated down one dense layer at a
/// time with the rule of that layer (see `rules.hpp` and `docs/lrp.md`). A batch is explained with
/// one pass of matrix products, not one explanation per sample.

#include <span>
#include <type_traits>
#include <utility>
#include <variant>
#include <vector>

#include "neuroplast/core/error.hpp"
#include "neuroplast/core/types.hpp"
#include "neuroplast/network/check_batch.hpp"
#include "neuroplast/network/network.hpp"
#include "neuroplast/relevance/propagation.hpp"
#include "neuroplast/relevance/rules.hpp"

namespace neuroplast::lrp {

/// Relevance of one sample. Sums: with a conserving rule (ε → 0 and zero biases, z⁺) every layer's
/// relevance sums to `output`.
template <Scalar T>
struct Explanation {
  Vector<T> input;                ///< relevance of each input feature, `sizes()[0]`
  std::vector<Vector<T>> hidden;  ///< hidden layer h: relevance of each neuron, `sizes()[h+1]`
  T output = 0;                   ///< relevance put in at the output: the target's logit
  int target = 0;                 ///< the explained class (the predicted one when −1 was asked)
};

/// Relevance of a batch of samples (one column per sample, as everywhere in neuroplast).
template <Scalar T>
struct BatchExplanation {
  Matrix<T> input;                ///< `sizes()[0] × batch`
  std::vector<Matrix<T>> hidden;  ///< hidden layer h: `sizes()[h+1] × batch`
  Vector<T> output;               ///< `batch`: the target logit of each sample
  std::vector<int> targets;       ///< the explained class of each sample

  /// Sample `n` as an Explanation.
  Explanation<T> sample(Index n) const {
    Explanation<T> e;
    e.input = input.col(n);
    e.hidden.reserve(hidden.size());
    for (const auto& h : hidden) e.hidden.emplace_back(h.col(n));
    e.output = output(n);
    e.target = targets[static_cast<std::size_t>(n)];
    return e;
  }
};

namespace detail {

/// Activations of a batch, kept for the relevance pass. Computed here rather than taken from a
/// Workspace because the rules need W a without the bias, which a forward pass does not keep.
template <Scalar T>
struct ForwardPass {
  std::vector<Matrix<T>> lin;  ///< dense layer l: W a, `sizes()[l+1] × batch`, no bias
  std::vector<Matrix<T>> out;  ///< dense layer l: its output (f(W a + b), logits for the last)
};

template <Network Net>
ForwardPass<scalar_of<Net>> forward(const Net& net, const MatrixRef<scalar_of<Net>>& X,
                                    GemmWorkspace<scalar_of<Net>>& ws) {
  using T = scalar_of<Net>;
  using Act = activation_of<Net>;
  const Index layers = net.layer_count();
  ForwardPass<T> f;
  f.lin.resize(static_cast<std::size_t>(layers));
  f.out.resize(static_cast<std::size_t>(layers));
  for (Index l = 0; l < layers; ++l) {
    const auto i = static_cast<std::size_t>(l);
    const WeightRef<T> w = net.weights(l);
    const MatrixRef<T> in = l == 0 ? X : MatrixRef<T>(f.out[i - 1]);
    f.lin[i].resize(w.rows(), in.cols());
    add_product_to<false, false>(f.lin[i].data(), f.lin[i].outerStride(), w, in, ws, true);
    // Inference may scale the product (the paper's dropout convention): explain what it computes.
    if (const T alpha = net.inference_scale(l); alpha != T(1)) f.lin[i] *= alpha;
    const Eigen::Ref<const Vector<T>> b = net.bias(l);
    if constexpr (!std::is_same_v<Act, Identity>) {
      if (l + 1 < layers) {
        f.out[i] = Act::apply((f.lin[i].colwise() + b).array()).matrix();
        continue;
      }
    }
    f.out[i] = f.lin[i].colwise() + b;
  }
  return f;
}

template <Network Net>
void check_batch(const Net& net, const MatrixRef<scalar_of<Net>>& X, const char* who,
                 const char* what) {
  neuroplast::detail::check_batch(X, net.input_size(), who, true, what);
}

/// Throws unless every target is −1 or a valid output index; `count` targets expected.
inline void check_targets(std::span<const int> targets, Index count, Index outputs,
                          const char* who) {
  if (static_cast<Index>(targets.size()) != count) {
    fail(who, ": ", targets.size(), " targets given for ", count,
         " samples; pass one target per column (−1 = the predicted class)");
  }
  for (std::size_t n = 0; n < targets.size(); ++n) {
    if (targets[n] < -1 || targets[n] >= outputs) {
      fail(who, ": target ", targets[n], " of sample ", n, " is out of range (the network has ",
           outputs, " outputs: use 0..", outputs - 1, ", or −1 for the predicted class)");
    }
  }
}

/// Throws unless 0 ≤ l < layer_count.
template <Network Net>
void check_layer(const Net& net, Index l, const char* who) {
  if (l < 0 || l >= net.layer_count()) {
    fail(who, ": layer ", l, " does not exist (the network has ", net.layer_count(),
         " dense layers: 0..", net.layer_count() - 1, ")");
  }
}

/// Does nothing; the default per-layer hook of `propagate`.
struct NoHook {
  template <class... Args>
  void operator()(Args&&...) const noexcept {}
};

/// The relevance pass behind every public entry point; arguments already validated.
///
/// Propagates through dense layers L−1 … `lowest`, calling `hook(l, decomposition, data, scaled)`
/// at each (connection statistics use it). Relevance entering layer `lowest` from below is
/// computed only when `lowest_input` is true; layers below `lowest` are left empty (0 × 0).
template <Network Net, Rule R, class Hook = NoHook>
BatchExplanation<scalar_of<Net>> propagate(const Net& net, const MatrixRef<scalar_of<Net>>& X,
                                           const R& rule, std::span<const int> targets,
                                           Index lowest = 0, bool lowest_input = true,
                                           Hook&& hook = {}) {
  using T = scalar_of<Net>;
  const Index layers = net.layer_count();
  const Index batch = X.cols();
  GemmWorkspace<T> ws;
  const ForwardPass<T> f = forward(net, X, ws);
  const Matrix<T>& logits = f.out.back();

  BatchExplanation<T> e;
  e.hidden.resize(static_cast<std::size_t>(layers - 1));
  e.output.resize(batch);
  e.targets.resize(static_cast<std::size_t>(batch));
  Matrix<T> r = Matrix<T>::Zero(logits.rows(), batch);
  for (Index n = 0; n < batch; ++n) {
    Index t = targets[static_cast<std::size_t>(n)];
    if (t < 0) logits.col(n).maxCoeff(&t);
    e.targets[static_cast<std::size_t>(n)] = static_cast<int>(t);
    e.output(n) = logits(t, n);
    r(t, n) = logits(t, n);
  }

  for (Index l = layers - 1; l >= lowest; --l) {
    const auto i = static_cast<std::size_t>(l);
    const AnyRule layer_rule = rule_for_layer(rule, l, layers);
    Matrix<T> mask;
    if (std::holds_alternative<Flat>(layer_rule)) mask = net.connection_mask(l);
    const MatrixRef<T> a = l == 0 ? X : MatrixRef<T>(f.out[i - 1]);
    // The rules see the weights inference uses: alpha·W (alpha = 1 without paper-convention
    // dropout).
    const T alpha = net.inference_scale(l);
    RowMatrix<T> scaled;
    if (alpha != T(1)) scaled = RowMatrix<T>(net.weights(l)) * alpha;
    const WeightRef<T> w = alpha != T(1) ? WeightRef<T>(scaled) : WeightRef<T>(net.weights(l));
    const LayerData<T> data{
        w, net.bias(l), mask.size() ? &mask : nullptr, a, f.lin[i], (a.array() >= T(0)).all(), &ws};
    Decomposition<T> d;
    std::visit([&](const auto& lr) { decompose(lr, data, d); }, layer_rule);
    const Scaled<T> s = scale(d, r);
    hook(l, d, data, s);
    if (l == lowest && !lowest_input) break;
    r = relevance_in(d, data, s);
    if (l > 0) {
      e.hidden[i - 1] = r;
    } else {
      e.input = std::move(r);
    }
  }
  return e;
}

}  // namespace detail

/// Explains a batch: `X` is `sizes()[0] × batch`, `targets` holds one class per column (−1 = the
/// predicted class of that column). Returns the relevance of every input feature and hidden neuron
/// per sample. Throws Error on a wrong row count, an empty batch, a target count other than the
/// batch size, a target outside −1 … outputs−1 or an invalid rule; NumericError on NaN or infinity.
template <Network Net, Rule R>
BatchExplanation<scalar_of<Net>> explain_batch(const Net& net, const MatrixRef<scalar_of<Net>>& X,
                                               const R& rule, std::span<const int> targets) {
  constexpr const char* who = "lrp::explain_batch";
  detail::validate_rule(rule, who);
  detail::check_batch(net, X, who, "X");
  detail::check_targets(targets, X.cols(), net.output_size(), who);
  return detail::propagate(net, X, rule, targets);
}

/// Explains a batch for the same `target` in every column (default −1: each column's predicted
/// class).
template <Network Net, Rule R>
BatchExplanation<scalar_of<Net>> explain_batch(const Net& net, const MatrixRef<scalar_of<Net>>& X,
                                               const R& rule, int target = -1) {
  const std::vector<int> targets(static_cast<std::size_t>(X.cols()), target);
  return explain_batch(net, X, rule, std::span<const int>(targets));
}

/// Explains one sample `x` (`sizes()[0]`) for class `target` (−1 = the predicted class).
/// Throws as `explain_batch`.
template <Network Net, Rule R>
Explanation<scalar_of<Net>> explain(const Net& net,
                                    const Eigen::Ref<const Vector<scalar_of<Net>>>& x,
                                    const R& rule, int target = -1) {
  using T = scalar_of<Net>;
  constexpr const char* who = "lrp::explain";
  detail::validate_rule(rule, who);
  const MatrixRef<T> X(x);
  detail::check_batch(net, X, who, "x");
  const int targets[1] = {target};
  detail::check_targets(targets, 1, net.output_size(), who);
  return detail::propagate(net, X, rule, targets).sample(0);
}

}  // namespace neuroplast::lrp
