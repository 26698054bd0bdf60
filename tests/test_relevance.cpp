// Layer-wise relevance propagation: hand-computed values for every rule, conservation, LRP-0 =
// gradient × input, the sign properties of z⁺ and αβ, agreement of the batched pass with single
// samples and with a loop-based reference, connection relevance and masks, networks that just
// changed shape, aggregation, the layer selector, and every error path.

#include <catch2/catch.hpp>
#include <cmath>
#include <numeric>
#include <string>
#include <variant>
#include <vector>

#include "neuroplast/neuroplast.hpp"

using namespace neuroplast;
namespace lrp = neuroplast::lrp;

namespace {

template <class T>
Matrix<T> random_matrix(Index rows, Index cols, std::uint64_t seed, double low = -1,
                        double high = 1) {
  Rng rng(seed);
  Matrix<T> m(rows, cols);
  for (Index c = 0; c < cols; ++c)
    for (Index r = 0; r < rows; ++r) m(r, c) = static_cast<T>(rng.uniform(low, high));
  return m;
}

template <class T, class Act>
void randomise_biases(Mlp<T, Act>& net, std::uint64_t seed) {
  Rng rng(seed);
  for (Index l = 0; l < net.layer_count(); ++l) {
    auto b = net.bias(l);
    for (Index i = 0; i < b.size(); ++i) b(i) = static_cast<T>(rng.uniform(-0.5, 0.5));
  }
}

// Largest |a − b| relative to the largest |b| (at least 1e-300 so zero matrices compare).
template <class A, class B>
double relative_difference(const A& a, const B& b) {
  const Matrix<double> da = a.template cast<double>();
  const Matrix<double> db = b.template cast<double>();
  return (da - db).cwiseAbs().maxCoeff() / std::max(1e-300, db.cwiseAbs().maxCoeff());
}

// ------------------------------------------------------------------------------------------------
// The 2-3-2 network of the hand computations:
//   x = (1, 2)
//   W0 = [ 1  1 ]   b0 = [0]   z0 = W0 x + b0 = [1+2, 2−2+1, −1+2] = [3, 1, 1] = a0 (ReLU)
//        [ 2 −1 ]        [1]
//        [−1  1 ]        [0]
//   W1 = [ 1 −1  2 ]   b1 = [1]   z1 = [3−1+2+1, −3+1+1] = [5, −1]: class 0 is predicted,
//        [−1  1  1 ]        [0]   the output relevance is its logit, 5.
// Every rule below is applied to both layers unless a Composite says otherwise.

Mlp<double, Relu> hand_network() {
  Mlp<double, Relu> net({2, 3, 2});
  net.weights(0) << 1, 1, 2, -1, -1, 1;
  net.bias(0) << 0, 1, 0;
  net.weights(1) << 1, -1, 2, -1, 1, 1;
  net.bias(1) << 1, 0;
  return net;
}

Vector<double> hand_input() { return (Vector<double>(2) << 1, 2).finished(); }

Vector<double> vec(std::initializer_list<double> values) {
  Vector<double> v(static_cast<Index>(values.size()));
  Index i = 0;
  for (double x : values) v(i++) = x;
  return v;
}

void check_hand(const lrp::Explanation<double>& e, const Vector<double>& hidden,
                const Vector<double>& input) {
  CHECK(e.target == 0);
  CHECK(e.output == 5.0);
  REQUIRE(e.hidden.size() == 1);
  CHECK(relative_difference(e.hidden[0], hidden) < 1e-14);
  CHECK(relative_difference(e.input, input) < 1e-14);
}

// ------------------------------------------------------------------------------------------------
// A loop-based reference of every rule, written from the formulas in docs/lrp.md without the
// library's term decomposition: it works on one sample, one contribution z_ij at a time.

struct Reference {
  const Matrix<double>& W;  // out × in
  const Vector<double>& b;
  const Matrix<double>& mask;
  const Vector<double>& a;  // inputs of the layer
  const Vector<double>& z;  // W a + b

  static double divide(double r, double den) { return den == 0 ? 0 : r / den; }

  // R_i = Σ_j c_ij / den_j · R_j for contributions c and denominators den.
  template <class Contribution, class Denominator>
  Vector<double> spread(const Vector<double>& r, Contribution c, Denominator den) const {
    Vector<double> out = Vector<double>::Zero(W.cols());
    for (Index j = 0; j < W.rows(); ++j) {
      const double d = den(j);
      for (Index i = 0; i < W.cols(); ++i) out(i) += c(j, i) * divide(r(j), d);
    }
    return out;
  }
  template <class Contribution>
  Vector<double> normalised(const Vector<double>& r, Contribution c, double bias_part = 0) const {
    return spread(r, c, [&](Index j) {
      double s = bias_part == 0 ? 0 : bias_part * b(j);
      for (Index i = 0; i < W.cols(); ++i) s += c(j, i);
      return s;
    });
  }

  Vector<double> operator()(const lrp::Epsilon& rule, const Vector<double>& r) const {
    return spread(
        r, [&](Index j, Index i) { return W(j, i) * a(i); },
        [&](Index j) { return z(j) + (z(j) >= 0 ? rule.epsilon : -rule.epsilon); });
  }
  Vector<double> operator()(const lrp::ZPlus&, const Vector<double>& r) const {
    return (*this)(lrp::AlphaBeta{1, 0}, r);
  }
  Vector<double> operator()(const lrp::AlphaBeta& rule, const Vector<double>& r) const {
    const Vector<double> plus =
        normalised(r, [&](Index j, Index i) { return std::max(0.0, W(j, i) * a(i)); });
    const Vector<double> minus =
        normalised(r, [&](Index j, Index i) { return std::min(0.0, W(j, i) * a(i)); });
    return rule.alpha * plus - rule.beta * minus;
  }
  Vector<double> operator()(const lrp::Gamma& rule, const Vector<double>& r) const {
    const auto c = [&](Index j, Index i) {
      const double zij = W(j, i) * a(i);
      return zij + rule.gamma * std::max(0.0, zij);
    };
    return spread(r, c, [&](Index j) {
      double s = b(j) + rule.gamma * std::max(0.0, b(j));
      for (Index i = 0; i < W.cols(); ++i) s += c(j, i);
      return s;
    });
  }
  Vector<double> operator()(const lrp::WSquare&, const Vector<double>& r) const {
    return normalised(r, [&](Index j, Index i) { return W(j, i) * W(j, i); });
  }
  Vector<double> operator()(const lrp::Flat&, const Vector<double>& r) const {
    return normalised(r, [&](Index j, Index i) { return mask(j, i); });
  }
  Vector<double> operator()(const lrp::ZBox& rule, const Vector<double>& r) const {
    return normalised(r, [&](Index j, Index i) {
      const double w = W(j, i);
      return w > 0 ? w * (a(i) - rule.low) : w * (a(i) - rule.high);
    });
  }
};

// Reference explanation of one sample: a manual forward pass, then the reference rules.
template <class T, class Act>
lrp::Explanation<double> reference_explain(const Mlp<T, Act>& net, const Vector<double>& x,
                                           const lrp::Composite& rule, int target) {
  const Index layers = net.layer_count();
  std::vector<Vector<double>> in(static_cast<std::size_t>(layers)), z(in.size());
  Vector<double> a = x;
  for (Index l = 0; l < layers; ++l) {
    const Matrix<double> W = Matrix<T>(net.weights(l)).template cast<double>();
    const Vector<double> b = Vector<T>(net.bias(l)).template cast<double>();
    in[static_cast<std::size_t>(l)] = a;
    Vector<double> zl = b;
    for (Index j = 0; j < W.rows(); ++j)
      for (Index i = 0; i < W.cols(); ++i) zl(j) += W(j, i) * a(i);
    z[static_cast<std::size_t>(l)] = zl;
    a = l + 1 < layers ? Vector<double>(Act::apply(zl.array()).matrix()) : zl;
  }
  lrp::Explanation<double> e;
  Index t = target;
  if (t < 0) a.maxCoeff(&t);
  e.target = static_cast<int>(t);
  e.output = a(t);
  Vector<double> r = Vector<double>::Zero(a.size());
  r(t) = a(t);
  e.hidden.resize(static_cast<std::size_t>(layers - 1));
  for (Index l = layers - 1; l >= 0; --l) {
    const Matrix<double> W = Matrix<T>(net.weights(l)).template cast<double>();
    const Vector<double> b = Vector<T>(net.bias(l)).template cast<double>();
    const Matrix<double> mask = net.connection_mask(l).template cast<double>();
    const auto i = static_cast<std::size_t>(l);
    const Reference ref{W, b, mask, in[i], z[i]};
    r = std::visit([&](const auto& rl) { return ref(rl, r); }, rule.for_layer(l, layers));
    if (l > 0) {
      e.hidden[i - 1] = r;
    } else {
      e.input = r;
    }
  }
  return e;
}

const lrp::AnyRule kAllRules[] = {lrp::Epsilon{0.01},   lrp::ZPlus{},     lrp::AlphaBeta{},
                                  lrp::AlphaBeta{3, 2}, lrp::Gamma{0.25}, lrp::WSquare{},
                                  lrp::Flat{},          lrp::ZBox{-1, 1}};

std::string rule_name(const lrp::AnyRule& r) {
  static const char* names[] = {"Epsilon", "ZPlus", "AlphaBeta", "Gamma",
                                "WSquare", "Flat",  "ZBox"};
  return names[r.index()];
}

// Target logit of column x, for finite differences.
double logit(const Mlp<double, Relu>& net, const Vector<double>& x, Index t) {
  const Matrix<double> X = x;
  return net.forward(X)(t, 0);
}

}  // namespace

// ================================================================================================
// Hand-computed values

TEST_CASE("every rule gives the hand-computed relevances on a 2-3-2 network", "[lrp][rules]") {
  const auto net = hand_network();
  const Vector<double> x = hand_input();

  SECTION("LRP-0 (Epsilon{0})") {
    // Output layer, neuron 0: S = R/z = 5/5 = 1, so R_i = a_i w_0i = [3·1, 1·(−1), 1·2].
    // Layer 0: S_j = R_j / z0_j = [3/3, −1/1, 2/1] = [1, −1, 2];
    //   R_x0 = 1·(1·1 + 2·(−1) + (−1)·2) = −3, R_x1 = 2·(1·1 + (−1)(−1) + 1·2) = 8.
    const auto e = lrp::explain(net, x, lrp::Epsilon{0});
    check_hand(e, vec({3, -1, 2}), vec({-3, 8}));
    // Biases absorb b_j S_j: 1·1 at the output (5 → 4), 1·(−1) in layer 0 (4 → 5).
    CHECK(e.hidden[0].sum() == Approx(4));
    CHECK(e.input.sum() == Approx(5));
  }
  SECTION("Epsilon{1}") {
    // Output: S = 5/(5+1) = 5/6, R = [3, −1, 2]·5/6 = [5/2, −5/6, 5/3].
    // Layer 0: denominators z0 + 1 = [4, 2, 2], S = [(5/2)/4, (−5/6)/2, (5/3)/2] = [5/8, −5/12,
    // 5/6];
    //   R_x0 = 1·(5/8 − 2·5/12 − 5/6) = 15/24 − 20/24 − 20/24 = −25/24,
    //   R_x1 = 2·(5/8 + 5/12 + 5/6) = 2·45/24 = 15/4.
    const auto e = lrp::explain(net, x, lrp::Epsilon{1});
    check_hand(e, vec({2.5, -5.0 / 6, 5.0 / 3}), vec({-25.0 / 24, 15.0 / 4}));
  }
  SECTION("ZPlus") {
    // Output: positive contributions [3, 0, 2], z⁺ = 5, S = 1: R = [3, 0, 2].
    // Layer 0 (x ≥ 0, so W⁺): W⁺ = [1 1; 2 0; 0 1], z⁺ = [3, 2, 2], S = [3/3, 0/2, 2/2] = [1, 0,
    // 1];
    //   R_x0 = 1·(1·1 + 2·0 + 0·1) = 1, R_x1 = 2·(1·1 + 0·0 + 1·1) = 4. Conserved: 1 + 4 = 5.
    check_hand(lrp::explain(net, x, lrp::ZPlus{}), vec({3, 0, 2}), vec({1, 4}));
  }
  SECTION("AlphaBeta{2, 1}") {
    // Output: z⁺ parts [3, 0, 2] (sum 5), z⁻ parts [0, −1, 0] (sum −1);
    //   R = 2·[3,0,2]/5·5 − 1·[0,−1,0]/(−1)·5 = [6, 0, 4] − [0, 5, 0] = [6, −5, 4].
    // Layer 0, contributions w_ji x_i:
    //   n0 [1, 2]: z⁺ = 3, no negative part (β share lost); 2·[1,2]/3·6 = [4, 8].
    //   n1 [2, −2]: 2·[2,0]/2·(−5) − [0,−2]/(−2)·(−5) = [−10, 0] + [0, 5] = [−10, 5].
    //   n2 [−1, 2]: 2·[0,2]/2·4 − [−1,0]/(−1)·4 = [0, 8] − [4, 0] = [−4, 8].
    //   R_x = [4 − 10 − 4, 8 + 5 + 8] = [−10, 21].
    check_hand(lrp::explain(net, x, lrp::AlphaBeta{2, 1}), vec({6, -5, 4}), vec({-10, 21}));
  }
  SECTION("Gamma{0.5}") {
    // Output: contributions [3, −1, 2] → z + 0.5 z⁺ = [4.5, −1, 3]; bias 1 + 0.5·1 = 1.5;
    //   denominator 4.5 − 1 + 3 + 1.5 = 8, S = 5/8: R = [4.5, −1, 3]·5/8 = [2.8125, −0.625, 1.875].
    // Layer 0: n0 [1, 2] → [1.5, 3], b 0: den 4.5, S = 2.8125/4.5 = 0.625 → [0.9375, 1.875];
    //   n1 [2, −2] → [3, −2], b 1 → 1.5: den 2.5, S = −0.625/2.5 = −0.25 → [−0.75, 0.5];
    //   n2 [−1, 2] → [−1, 3], b 0: den 2, S = 1.875/2 = 0.9375 → [−0.9375, 2.8125].
    //   R_x = [0.9375 − 0.75 − 0.9375, 1.875 + 0.5 + 2.8125] = [−0.75, 5.1875].
    check_hand(lrp::explain(net, x, lrp::Gamma{0.5}), vec({2.8125, -0.625, 1.875}),
               vec({-0.75, 5.1875}));
  }
  SECTION("WSquare") {
    // Output: w² = [1, 1, 4] (sum 6): R = 5·[1, 1, 4]/6 = [5/6, 5/6, 10/3].
    // Layer 0: rows w² [1,1] (2), [4,1] (5), [1,1] (2):
    //   R_x0 = (5/6)/2 + (5/6)·4/5 + (10/3)/2 = 5/12 + 8/12 + 20/12 = 33/12,
    //   R_x1 = (5/6)/2 + (5/6)/5 + (10/3)/2 = 5/12 + 2/12 + 20/12 = 27/12.
    check_hand(lrp::explain(net, x, lrp::WSquare{}), vec({5.0 / 6, 5.0 / 6, 10.0 / 3}),
               vec({33.0 / 12, 27.0 / 12}));
  }
  SECTION("Flat") {
    // Output: 5 spread over 3 connections: [5/3, 5/3, 5/3]; layer 0: each neuron halves its
    // relevance over its two inputs: R_x = [3·(5/3)/2, 3·(5/3)/2] = [5/2, 5/2].
    check_hand(lrp::explain(net, x, lrp::Flat{}), vec({5.0 / 3, 5.0 / 3, 5.0 / 3}),
               vec({2.5, 2.5}));
  }
  SECTION("Flat with a pruned connection") {
    // Pruning W0(1,1) = −1 changes the forward: a0 = [3, 2+1, 1] = [3, 3, 1],
    //   z1 = [3 − 3 + 2 + 1, −3 + 3 + 1] = [3, 1]: class 0, R = 3. Output: [1, 1, 1].
    // Layer 0: n0 [1/2, 1/2], n1 has one input left: [1, 0], n2 [1/2, 1/2]: R_x = [2, 1].
    auto pruned = hand_network();
    Matrix<double> mask = Matrix<double>::Ones(3, 2);
    mask(1, 1) = 0;
    pruned.prune_connections(0, mask);
    const auto e = lrp::explain(pruned, x, lrp::Flat{});
    CHECK(e.output == 3.0);
    CHECK(relative_difference(e.hidden[0], vec({1, 1, 1})) < 1e-14);
    CHECK(relative_difference(e.input, vec({2, 1})) < 1e-14);
  }
  SECTION("Composite: ZBox{-1, 3} for the input layer, LRP-0 at the output") {
    // Output as LRP-0: [3, −1, 2]. Layer 0 by z^B: x − low = [2, 3], x − high = [−2, −1];
    //   n0 w = [1, 1]:  [1·2, 1·3] = [2, 3] (sum 5), R = 3  → [6/5, 9/5];
    //   n1 w = [2, −1]: [2·2, (−1)(−1)] = [4, 1] (5), R = −1 → [−4/5, −1/5];
    //   n2 w = [−1, 1]: [(−1)(−2), 1·3] = [2, 3] (5), R = 2  → [4/5, 6/5];
    //   R_x = [6/5 − 4/5 + 4/5, 9/5 − 1/5 + 6/5] = [6/5, 14/5]; bias ignored, so 4 is conserved.
    const lrp::Composite rule{.input = lrp::ZBox{-1, 3}, .output = lrp::Epsilon{0}};
    check_hand(lrp::explain(net, x, rule), vec({3, -1, 2}), vec({1.2, 2.8}));
  }
  SECTION("an explicit target") {
    // Class 1 (logit −1): R_out = −1 at neuron 1. LRP-0: S = −1/−1 = 1, R = a0 ⊙ w_1 = [−3, 1, 1].
    const auto e = lrp::explain(net, x, lrp::Epsilon{0}, 1);
    CHECK(e.target == 1);
    CHECK(e.output == -1.0);
    CHECK(relative_difference(e.hidden[0], vec({-3, 1, 1})) < 1e-14);
  }
  SECTION("connection relevance of the output layer") {
    // LRP-0, sample x: R_0i = a_i w_0i · 5/5 = [3, −1, 2]; neuron 1 has no relevance.
    const Matrix<double> c = lrp::connection_relevance(net, 1, x, lrp::Epsilon{0});
    Matrix<double> expected(2, 3);
    expected << 3, -1, 2, 0, 0, 0;
    CHECK(relative_difference(c, expected) < 1e-14);
  }
}

// ================================================================================================
// Properties

TEST_CASE("ε relevance is conserved layer by layer without biases", "[lrp][conservation]") {
  Mlp<double, Relu> net({6, 9, 8, 7, 4}, 3);
  const Matrix<double> X = random_matrix<double>(6, 5, 11);
  const auto e = lrp::explain_batch(net, X, lrp::Epsilon{1e-9});
  for (Index n = 0; n < X.cols(); ++n) {
    const double out = e.output(n);
    INFO("sample " << n << ", output relevance " << out);
    REQUIRE(std::abs(out) > 1e-3);
    CHECK(std::abs(e.input.col(n).sum() - out) <= 1e-6 * std::abs(out));
    for (const auto& h : e.hidden) CHECK(std::abs(h.col(n).sum() - out) <= 1e-6 * std::abs(out));
  }
}

TEST_CASE("with biases, the relevance lost per layer is what the biases absorb",
          "[lrp][conservation]") {
  Mlp<double, Relu> net({5, 7, 6, 3}, 5);
  randomise_biases(net, 9);
  const double eps = 1e-3;
  const lrp::Epsilon rule{eps};
  for (int sample = 0; sample < 4; ++sample) {
    const Vector<double> x = random_matrix<double>(5, 1, 100 + sample);
    const auto e = lrp::explain(net, x, rule);
    // Independently: a manual forward pass, then per layer Σ_j R_j (b_j ± ε)/(z_j ± ε), the share
    // of each neuron's relevance that the bias and the stabiliser keep.
    std::vector<Vector<double>> z;
    Vector<double> a = x;
    for (Index l = 0; l < net.layer_count(); ++l) {
      Vector<double> zl = net.bias(l);
      for (Index j = 0; j < zl.size(); ++j)
        for (Index i = 0; i < a.size(); ++i) zl(j) += net.weights(l)(j, i) * a(i);
      z.push_back(zl);
      a = l + 1 < net.layer_count() ? Vector<double>(zl.cwiseMax(0.0)) : zl;
    }
    std::vector<Vector<double>> relevance_out{e.hidden[0], e.hidden[1], Vector<double>::Zero(3)};
    relevance_out[2](e.target) = e.output;
    std::vector<double> sums_below{e.input.sum(), e.hidden[0].sum(), e.hidden[1].sum()};
    for (Index l = 0; l < net.layer_count(); ++l) {
      const auto i = static_cast<std::size_t>(l);
      double absorbed = 0;
      for (Index j = 0; j < z[i].size(); ++j) {
        const double s = z[i](j) >= 0 ? eps : -eps;
        absorbed += relevance_out[i](j) * (net.bias(l)(j) + s) / (z[i](j) + s);
      }
      INFO("sample " << sample << ", layer " << l);
      CHECK(relevance_out[i].sum() - sums_below[i] == Approx(absorbed).epsilon(1e-9).margin(1e-12));
    }
  }
}

TEST_CASE("LRP-0 on a bias-free ReLU network is gradient × input", "[lrp][gradient]") {
  Mlp<double, Relu> net({7, 10, 8, 4}, 21);
  for (int sample = 0; sample < 5; ++sample) {
    const Vector<double> x = random_matrix<double>(7, 1, 300 + sample);
    const int target = sample % 4;
    const auto e = lrp::explain(net, x, lrp::Epsilon{0}, target);
    // Central differences of the target logit; exact for a piecewise-linear function unless a
    // kink lies within h, which the tiny step makes vanishingly unlikely.
    const double h = 1e-6;
    Vector<double> grad_x(7);
    for (Index i = 0; i < 7; ++i) {
      Vector<double> up = x, down = x;
      up(i) += h;
      down(i) -= h;
      grad_x(i) = (logit(net, up, target) - logit(net, down, target)) / (2 * h) * x(i);
    }
    INFO("sample " << sample);
    CHECK(relative_difference(e.input, grad_x) < 1e-6);
  }
}

TEST_CASE("z⁺ relevance has the sign of the output relevance for non-negative inputs",
          "[lrp][zplus]") {
  Mlp<double, Relu> net({8, 12, 10, 5}, 4);
  randomise_biases(net, 2);
  const Matrix<double> X = random_matrix<double>(8, 20, 8, 0.0, 1.0);
  int positive = 0;
  for (int target = -1; target < 5; ++target) {
    const auto e = lrp::explain_batch(net, X, lrp::ZPlus{}, target);
    for (Index n = 0; n < X.cols(); ++n) {
      const double out = e.output(n);
      if (out > 0) ++positive;
      CHECK((e.input.col(n) * out).minCoeff() >= 0);
      for (const auto& h : e.hidden) CHECK((h.col(n) * out).minCoeff() >= 0);
    }
  }
  CHECK(positive > 20);  // both signs were exercised
  // z⁺ is αβ with α = 1, β = 0, for signed inputs too.
  const Matrix<double> signed_X = random_matrix<double>(8, 6, 12);
  const auto zp = lrp::explain_batch(net, signed_X, lrp::ZPlus{});
  const auto ab = lrp::explain_batch(net, signed_X, lrp::AlphaBeta{1, 0});
  CHECK(relative_difference(zp.input, ab.input) < 1e-14);
}

TEST_CASE("αβ is α times the positive part minus β times the negative part, each normalised",
          "[lrp][alphabeta]") {
  // Tanh hidden layers and signed inputs exercise all four sign combinations of w and a.
  Mlp<double, Tanh> net({6, 8, 7, 3}, 17);
  randomise_biases(net, 3);
  const Matrix<double> X = random_matrix<double>(6, 4, 5);
  for (const auto rule : {lrp::AlphaBeta{2, 1}, lrp::AlphaBeta{1.5, 0.5}}) {
    const auto e = lrp::explain_batch(net, X, rule);
    for (Index n = 0; n < X.cols(); ++n) {
      // Layer 1 step checked explicitly: R_i = α R⁺_i − β R⁻_i with Σ_i R⁺_i = Σ_i R⁻_i = Σ_j R_j
      // (every neuron here has both positive and negative contributions).
      const Vector<double> a0 = (net.weights(0) * X.col(n) + net.bias(0)).array().tanh().matrix();
      const Matrix<double> W = net.weights(1);
      const Vector<double> r_out = e.hidden[1].col(n);
      Vector<double> plus = Vector<double>::Zero(8), minus = Vector<double>::Zero(8);
      for (Index j = 0; j < W.rows(); ++j) {
        double zp = 0, zn = 0;
        for (Index i = 0; i < W.cols(); ++i) {
          zp += std::max(0.0, W(j, i) * a0(i));
          zn += std::min(0.0, W(j, i) * a0(i));
        }
        REQUIRE(zp > 0);
        REQUIRE(zn < 0);
        for (Index i = 0; i < W.cols(); ++i) {
          plus(i) += std::max(0.0, W(j, i) * a0(i)) / zp * r_out(j);
          minus(i) += std::min(0.0, W(j, i) * a0(i)) / zn * r_out(j);
        }
      }
      CHECK(plus.sum() == Approx(r_out.sum()).epsilon(1e-12));
      CHECK(minus.sum() == Approx(r_out.sum()).epsilon(1e-12));
      CHECK(relative_difference(e.hidden[0].col(n), rule.alpha * plus - rule.beta * minus) < 1e-12);
      // α − β = 1 makes the step conserve relevance.
      CHECK(e.hidden[0].col(n).sum() == Approx(r_out.sum()).epsilon(1e-12));
    }
  }
}

TEST_CASE("every rule and composite matches a loop-based reference", "[lrp][reference]") {
  // Signed inputs and LeakyRelu / Tanh activations, with biases: every term of every rule is used.
  Mlp<double, LeakyRelu> leaky({5, 7, 6, 4}, 8);
  Mlp<double, Tanh> tanh_net({5, 7, 6, 4}, 9);
  randomise_biases(leaky, 1);
  randomise_biases(tanh_net, 2);
  const Matrix<double> X = random_matrix<double>(5, 3, 13);
  const auto check_net = [&](const auto& net, const lrp::Composite& rule, const std::string& what) {
    const auto batch = lrp::explain_batch(net, X, rule);
    for (Index n = 0; n < X.cols(); ++n) {
      const auto ref = reference_explain(net, X.col(n), rule, -1);
      INFO(what << ", sample " << n);
      CHECK(batch.targets[static_cast<std::size_t>(n)] == ref.target);
      CHECK(relative_difference(batch.input.col(n), ref.input) < 1e-10);
      for (std::size_t h = 0; h < ref.hidden.size(); ++h)
        CHECK(relative_difference(batch.hidden[h].col(n), ref.hidden[h]) < 1e-10);
    }
  };
  for (const auto& rule : kAllRules) {
    check_net(leaky, lrp::Composite::uniform(rule), "leaky " + rule_name(rule));
    check_net(tanh_net, lrp::Composite::uniform(rule), "tanh " + rule_name(rule));
  }
  const lrp::Composite mixed{
      .input = lrp::ZBox{-1, 1}, .hidden = lrp::AlphaBeta{}, .output = lrp::Epsilon{0.1}};
  check_net(leaky, mixed, "composite");
  check_net(tanh_net, lrp::Composite{}, "default composite");
  // Without hidden layers the single dense layer takes the input slot.
  Mlp<double, Relu> linear({5, 4}, 3);
  const auto only = lrp::explain_batch(linear, X, lrp::Composite{.input = lrp::Flat{}});
  CHECK(relative_difference(only.input, lrp::explain_batch(linear, X, lrp::Flat{}).input) < 1e-15);
  CHECK(only.hidden.empty());
  // A Composite's slots go to the right layers: the basic rule equals its uniform composite.
  const auto plain = lrp::explain_batch(leaky, X, lrp::Gamma{0.3});
  const auto uniform = lrp::explain_batch(leaky, X, lrp::Composite::uniform(lrp::Gamma{0.3}));
  CHECK(plain.input == uniform.input);
}

TEST_CASE("the batched pass equals single explanations, for float and double", "[lrp][batch]") {
  const auto run = [](auto scalar_tag, double tolerance) {
    using T = decltype(scalar_tag);
    Mlp<T, Relu> net({6, 9, 7, 4}, 31);
    randomise_biases(net, 4);
    const Matrix<T> X = random_matrix<T>(6, 9, 21);
    const std::vector<int> targets{-1, 0, 1, 2, 3, -1, 2, -1, 0};
    for (const auto& rule : kAllRules) {
      const auto batch = lrp::explain_batch(net, X, rule, targets);
      Matrix<T> conn_sum = Matrix<T>::Zero(7, 9), conn_abs = conn_sum;
      for (Index n = 0; n < X.cols(); ++n) {
        const int t = targets[static_cast<std::size_t>(n)];
        const Vector<T> x = X.col(n);
        const auto single = lrp::explain(net, x, rule, t);
        INFO(rule_name(rule) << ", sample " << n);
        CHECK(batch.targets[static_cast<std::size_t>(n)] == single.target);
        // Float products of one column and of a batch may round differently.
        CHECK(std::abs(batch.output(n) - single.output) <= tolerance * std::abs(single.output));
        CHECK(relative_difference(batch.input.col(n), single.input) < tolerance);
        for (std::size_t h = 0; h < single.hidden.size(); ++h)
          CHECK(relative_difference(batch.hidden[h].col(n), single.hidden[h]) < tolerance);
        const Matrix<T> c = lrp::connection_relevance(net, 1, x, rule, t);
        conn_sum += c;
        conn_abs += c.cwiseAbs();
        // A connection matrix sums to the relevance it sends down, per input and per output.
        CHECK(relative_difference(Vector<T>(c.colwise().sum().transpose()), single.hidden[0]) <
              tolerance);
      }
      const auto conn = lrp::connection_relevance_batch(net, 1, X, rule, targets);
      CHECK(conn.samples == 9);
      CHECK(relative_difference(conn.mean, conn_sum / T(9)) < tolerance);
      // The batched mean |R_ij| is built from one product per term; it equals the mean of the
      // per-sample absolute values because the terms of each rule never overlap.
      CHECK(relative_difference(conn.mean_abs, conn_abs / T(9)) < tolerance);
    }
  };
  SECTION("double") { run(double{}, 1e-12); }
  SECTION("float") { run(float{}, 2e-4); }
}

TEST_CASE("explanations are bit-identical on one and two threads", "[lrp][threads]") {
  // Layers large enough for the threading rule, so the relevance pass's products are split over
  // the worker pool on two threads; every rule, hidden and input relevance and connection sums.
  Mlp<float, LeakyRelu> net({96, 384, 320, 10}, 5);
  randomise_biases(net, 6);
  const Matrix<float> X = random_matrix<float>(96, 160, 7);
  const int before = thread_count();
  const auto run = [&](int threads, const lrp::AnyRule& rule) {
    set_thread_count(threads);
    set_adaptive_split(false);  // split whenever the rule says so: the split is what is tested
    auto e = lrp::explain_batch(net, X, rule);
    auto c = lrp::connection_relevance_batch(net, 1, X, rule);
    set_adaptive_split(true);
    set_thread_count(before);
    return std::pair{std::move(e), std::move(c)};
  };
  for (const auto& rule : kAllRules) {
    INFO(rule_name(rule));
    const auto [one, conn_one] = run(1, rule);
    const auto [two, conn_two] = run(2, rule);
    CHECK(one.targets == two.targets);
    CHECK(one.output == two.output);
    CHECK(one.input == two.input);
    for (std::size_t h = 0; h < one.hidden.size(); ++h) CHECK(one.hidden[h] == two.hidden[h]);
    CHECK(conn_one.mean == conn_two.mean);
    CHECK(conn_one.mean_abs == conn_two.mean_abs);
    // And the pass still conserves what it should: a connection matrix's columns sum to the
    // relevance its layer's inputs receive (mean over the batch).
    const Vector<float> received = one.hidden[0].rowwise().mean();
    CHECK(relative_difference(Vector<float>(conn_one.mean.colwise().sum().transpose()), received) <
          1e-3);
  }
}

TEST_CASE("masked connections carry no relevance", "[lrp][mask]") {
  Mlp<double, Relu> net({6, 8, 5, 3}, 41);
  randomise_biases(net, 5);
  Rng rng(3);
  std::vector<Matrix<double>> masks;
  for (Index l = 0; l < net.layer_count(); ++l) {
    Matrix<double> m(net.weights(l).rows(), net.weights(l).cols());
    for (Index c = 0; c < m.cols(); ++c)
      for (Index r = 0; r < m.rows(); ++r) m(r, c) = rng.uniform(0, 1) < 0.3 ? 0 : 1;
    net.prune_connections(l, m);
    masks.push_back(m);
  }
  const Matrix<double> X = random_matrix<double>(6, 7, 6);
  const Dataset<double> data(X, std::vector<int>{0, 1, 2, 0, 1, 2, 0});
  for (const auto& rule : kAllRules) {
    const auto stats = lrp::aggregate(net, data, rule, {.batch_size = 3});
    for (Index l = 0; l < net.layer_count(); ++l) {
      const auto i = static_cast<std::size_t>(l);
      const auto conn = lrp::connection_relevance_batch(net, l, X, rule);
      const Matrix<double> single = lrp::connection_relevance(net, l, X.col(2), rule);
      INFO(rule_name(rule) << ", layer " << l);
      const auto pruned = (masks[i].array() == 0);
      CHECK(pruned.select(conn.mean_abs, 0.0).cwiseAbs().maxCoeff() == 0.0);
      CHECK(pruned.select(single, 0.0).cwiseAbs().maxCoeff() == 0.0);
      CHECK(pruned.select(stats.connection_mean_abs[i], 0.0).cwiseAbs().maxCoeff() == 0.0);
      // ...while active connections do carry some.
      CHECK((!pruned).select(conn.mean_abs, 0.0).maxCoeff() > 0.0);
    }
  }
}

TEST_CASE("relevance works right after the network changed shape", "[lrp][grow]") {
  Mlp<double, Relu> net({5, 6, 4, 3}, 51);
  randomise_biases(net, 6);
  const Matrix<double> X = random_matrix<double>(5, 4, 7);
  const auto before = lrp::explain_batch(net, X, lrp::Epsilon{});
  (void)lrp::explain_batch(net, X, lrp::Composite{});  // nothing may be cached across calls

  SECTION("growing with zero weights leaves the function and the old relevances unchanged") {
    net.edit_axis(0, AxisEdit::grow(6, 3));
    net.edit_axis(1, AxisEdit::grow(4, 2));
    REQUIRE(net.sizes() == std::vector<Index>{5, 9, 6, 3});
    const auto after = lrp::explain_batch(net, X, lrp::Epsilon{});
    REQUIRE(after.hidden[0].rows() == 9);
    REQUIRE(after.hidden[1].rows() == 6);
    CHECK(relative_difference(after.input, before.input) < 1e-12);
    CHECK(relative_difference(after.hidden[0].topRows(6), before.hidden[0]) < 1e-12);
    CHECK(relative_difference(after.hidden[1].topRows(4), before.hidden[1]) < 1e-12);
    // New neurons have no fan-out, so no relevance reaches them.
    CHECK(after.hidden[0].bottomRows(3).cwiseAbs().maxCoeff() == 0.0);
    CHECK(after.hidden[1].bottomRows(2).cwiseAbs().maxCoeff() == 0.0);
    const auto conn = lrp::connection_relevance_batch(net, 1, X, lrp::Epsilon{});
    CHECK(conn.mean.rows() == 6);
    CHECK(conn.mean.cols() == 9);
  }
  SECTION("after removing neurons it equals a network rebuilt at the new size") {
    net.edit_axis(0, AxisEdit::remove(6, {1, 4}));
    net.edit_axis(1, AxisEdit::remove(4, {0}));
    REQUIRE(net.sizes() == std::vector<Index>{5, 4, 3, 3});
    Mlp<double, Relu> rebuilt(net.sizes(), 99);
    for (Index l = 0; l < net.layer_count(); ++l) {
      rebuilt.weights(l) = net.weights(l);
      rebuilt.bias(l) = net.bias(l);
    }
    for (const auto& rule : kAllRules) {
      const auto a = lrp::explain_batch(net, X, rule);
      const auto b = lrp::explain_batch(rebuilt, X, rule);
      INFO(rule_name(rule));
      CHECK(relative_difference(a.input, b.input) < 1e-12);
      CHECK(relative_difference(a.hidden[1], b.hidden[1]) < 1e-12);
    }
  }
}

TEST_CASE("aggregation equals the average of single explanations", "[lrp][aggregate]") {
  Mlp<double, Tanh> net({4, 6, 5, 3}, 61);
  randomise_biases(net, 7);
  const Matrix<double> X = random_matrix<double>(4, 11, 17);
  const std::vector<int> labels{0, 1, 2, 2, 1, 0, 0, 1, 2, 1, 0};
  const Dataset<double> data(X, labels);
  for (const auto target : {lrp::TargetSource::predicted, lrp::TargetSource::label}) {
    for (const auto& rule : kAllRules) {
      // Batches of 4 over the first 10 samples: the last batch is partial.
      const auto stats =
          lrp::aggregate(net, data, rule, {.batch_size = 4, .max_samples = 10, .target = target});
      REQUIRE(stats.samples == 10);
      Vector<double> in_mean = Vector<double>::Zero(4), in_abs = in_mean;
      std::vector<Vector<double>> h_mean{Vector<double>::Zero(6), Vector<double>::Zero(5)};
      std::vector<Vector<double>> h_abs = h_mean;
      std::vector<Matrix<double>> c_mean, c_abs;
      for (Index l = 0; l < 3; ++l) {
        c_mean.push_back(Matrix<double>::Zero(net.sizes()[l + 1], net.sizes()[l]));
        c_abs.push_back(c_mean.back());
      }
      double out = 0;
      for (Index n = 0; n < 10; ++n) {
        const int t = target == lrp::TargetSource::label ? labels[static_cast<std::size_t>(n)] : -1;
        const auto e = lrp::explain(net, X.col(n), rule, t);
        out += e.output / 10;
        in_mean += e.input / 10;
        in_abs += e.input.cwiseAbs() / 10;
        for (std::size_t h = 0; h < 2; ++h) {
          h_mean[h] += e.hidden[h] / 10;
          h_abs[h] += e.hidden[h].cwiseAbs() / 10;
        }
        for (Index l = 0; l < 3; ++l) {
          const Matrix<double> c = lrp::connection_relevance(net, l, X.col(n), rule, t);
          c_mean[static_cast<std::size_t>(l)] += c / 10;
          c_abs[static_cast<std::size_t>(l)] += c.cwiseAbs() / 10;
        }
      }
      INFO(rule_name(rule));
      CHECK(stats.output_mean == Approx(out).epsilon(1e-12));
      CHECK(relative_difference(stats.input_mean, in_mean) < 1e-11);
      CHECK(relative_difference(stats.input_mean_abs, in_abs) < 1e-11);
      for (std::size_t h = 0; h < 2; ++h) {
        CHECK(relative_difference(stats.neuron_mean[h], h_mean[h]) < 1e-11);
        CHECK(relative_difference(stats.neuron_mean_abs[h], h_abs[h]) < 1e-11);
      }
      for (std::size_t l = 0; l < 3; ++l) {
        CHECK(relative_difference(stats.connection_mean[l], c_mean[l]) < 1e-11);
        CHECK(relative_difference(stats.connection_mean_abs[l], c_abs[l]) < 1e-11);
      }
      const auto scores = stats.layer_scores();
      REQUIRE(scores.size() == 2);
      CHECK(scores[0] == Approx(h_abs[0].mean()).epsilon(1e-11));
      CHECK(stats.layer_scores(lrp::LayerScore::total_abs)[1] ==
            Approx(h_abs[1].sum()).epsilon(1e-11));
    }
  }
  const auto lean = lrp::aggregate(net, data, lrp::Epsilon{}, {.connections = false});
  CHECK(lean.samples == 11);
  CHECK(lean.connection_mean.empty());
}

// ================================================================================================
// Layer selector

namespace {

// Inputs (1, 2); hidden 0 copies them (widths 2); hidden 1 repeats them `copies` times; the
// output sums hidden 1 into class 0. Every value is a small integer, so relevance is exact.
Mlp<double, Relu> copy_network(Index copies) {
  Mlp<double, Relu> net({2, 2, 2 * copies, 2});
  net.weights(0) = Matrix<double>::Identity(2, 2);
  net.bias(0).setZero();
  auto w1 = net.weights(1);
  w1.setZero();
  for (Index k = 0; k < 2 * copies; ++k) w1(k, k % 2) = 1;
  net.bias(1).setZero();
  auto w2 = net.weights(2);
  w2.setZero();
  w2.row(0).setOnes();
  net.bias(2).setZero();
  return net;
}

Dataset<double> copy_data() {
  Matrix<double> X(2, 3);
  X << 1, 1, 1, 2, 2, 2;
  return Dataset<double>(X, std::vector<int>{0, 0, 0});
}

}  // namespace

TEST_CASE("the layer selector grows the layer whose per-neuron relevance stands out",
          "[lrp][selector]") {
  const LrpLayerSelector selector{.rule = lrp::Composite::uniform(lrp::ZPlus{})};
  SECTION("a narrow layer in front of a wide one") {
    // Hidden 1 = [1, 2, 1, 2, 1, 2, 1, 2], logit 12. z⁺ conserves 12 in both hidden layers:
    // hidden 1 gets a ⊙ 12/12 = [1, 2, …] (sum 12), hidden 0 = x ⊙ 4 = [4, 8] (sum 12).
    // Per neuron: [12/2, 12/8] = [6, 1.5], mean 3.75, 6 > 3.75: hidden layer 0.
    const auto net = copy_network(4);
    const auto scores = selector.scores(net, copy_data());
    REQUIRE(scores.size() == 2);
    CHECK(scores[0] == 6.0);
    CHECK(scores[1] == 1.5);
    CHECK(selector.select(net, copy_data()) == Index{0});
    // 6 is not above 1.7 · 3.75 = 6.375.
    LrpLayerSelector strict = selector;
    strict.factor = 1.7;
    CHECK(strict.select(net, copy_data()) == std::nullopt);
    // Total relevance per layer is 12 in both: nothing stands out.
    LrpLayerSelector total = selector;
    total.score = lrp::LayerScore::total_abs;
    CHECK(total.scores(net, copy_data()) == std::vector<double>{12.0, 12.0});
    CHECK(total.select(net, copy_data()) == std::nullopt);
    // The selector's scores are the aggregate's layer scores.
    const auto stats = lrp::aggregate(net, copy_data(), lrp::ZPlus{});
    const auto from_stats = stats.layer_scores();
    CHECK(from_stats[0] == Approx(scores[0]).epsilon(1e-14));
    CHECK(from_stats[1] == Approx(scores[1]).epsilon(1e-14));
  }
  SECTION("equal layers: none is above the mean") {
    // Hidden 1 = [1, 2] copies hidden 0 = [1, 2]: both carry [1, 2] (sum 3): scores [1.5, 1.5].
    const auto net = copy_network(1);
    CHECK(selector.scores(net, copy_data()) == std::vector<double>{1.5, 1.5});
    CHECK(selector.select(net, copy_data()) == std::nullopt);
  }
  SECTION("one hidden layer is always selected, none without hidden layers") {
    Mlp<double, Relu> one({2, 3, 2}, 1);
    CHECK(LrpLayerSelector{}.select(one, copy_data()) == Index{0});
    Mlp<double, Relu> none({2, 2}, 1);
    CHECK(LrpLayerSelector{}.scores(none, copy_data()).empty());
    CHECK(LrpLayerSelector{}.select(none, copy_data()) == std::nullopt);
  }
  SECTION("the rule on given scores") {
    const LrpLayerSelector s{};
    CHECK(s.choose(std::vector<double>{1, 3, 2}) == Index{1});
    CHECK(s.threshold(std::vector<double>{1, 3, 2}) == 2.0);
    CHECK(s.choose(std::vector<double>{2, 2, 2}) == std::nullopt);
    CHECK(s.choose(std::vector<double>{0, 0}) == std::nullopt);
    CHECK(s.choose(std::vector<double>{0}) == Index{0});
    CHECK(s.choose(std::vector<double>{}) == std::nullopt);
  }
  SECTION("float networks, default settings, more samples than max_samples") {
    Mlp<float, Relu> net({6, 16, 8, 4, 3}, 2);
    const Dataset<float> data(random_matrix<float>(6, 40, 3), std::vector<int>(40, 1));
    const LrpLayerSelector s{.max_samples = 30, .batch_size = 7};
    const auto scores = s.scores(net, data);
    REQUIRE(scores.size() == 3);
    for (double v : scores) CHECK(std::isfinite(v));
    const auto stats = lrp::aggregate(net, data, s.rule, {.max_samples = 30});
    const auto expected = stats.layer_scores();
    for (std::size_t h = 0; h < 3; ++h) CHECK(scores[h] == Approx(expected[h]).epsilon(1e-5));
  }
}

// ================================================================================================
// Errors

TEST_CASE("bad arguments throw errors that say what, where and how to fix", "[lrp][errors]") {
  const auto net = hand_network();
  const Vector<double> x = hand_input();
  const auto throws_with = [](auto&& f, const std::string& text) {
    try {
      f();
    } catch (const Error& e) {
      INFO(e.what());
      CHECK(std::string(e.what()).find(text) != std::string::npos);
      return;
    }
    FAIL("no Error thrown, expected one mentioning: " << text);
  };

  // Targets.
  throws_with([&] { lrp::explain(net, x, lrp::Epsilon{}, 2); }, "target 2 of sample 0 is out of");
  throws_with([&] { lrp::explain(net, x, lrp::Epsilon{}, -2); }, "use 0..1, or −1");
  const Matrix<double> X = Matrix<double>::Ones(2, 3);
  throws_with(
      [&] {
        lrp::explain_batch(net, X, lrp::Epsilon{}, std::vector<int>{0, 1});
      },
      "2 targets given for 3 samples");
  throws_with(
      [&] {
        lrp::explain_batch(net, X, lrp::Epsilon{}, std::vector<int>{0, 5, 1});
      },
      "target 5 of sample 1");
  // Input sizes.
  throws_with([&] { lrp::explain(net, Vector<double>::Ones(3), lrp::Epsilon{}); },
              "x has 3 features (rows) but the network expects 2 inputs");
  throws_with([&] { lrp::explain_batch(net, Matrix<double>::Ones(3, 2), lrp::Epsilon{}); },
              "pass features × batch");
  throws_with([&] { lrp::explain_batch(net, Matrix<double>(2, 0), lrp::Epsilon{}); }, "empty");
  throws_with([&] { lrp::connection_relevance(net, 0, Vector<double>::Ones(5), lrp::Flat{}); },
              "x has 5 features");
  CHECK_THROWS_AS(lrp::explain(net, vec({1, NAN}), lrp::Epsilon{}), NumericError);
  // Layers.
  throws_with([&] { lrp::connection_relevance(net, 2, x, lrp::Epsilon{}); },
              "layer 2 does not exist (the network has 2 dense layers: 0..1)");
  throws_with([&] { lrp::connection_relevance_batch(net, -1, X, lrp::Epsilon{}); },
              "layer -1 does not exist");
  // Rules.
  throws_with([&] { lrp::explain(net, x, lrp::ZBox{1, 0}); }, "low must be below high");
  throws_with([&] { lrp::explain(net, x, lrp::ZBox{.low = 1, .high = 1}); }, "ZBox{.low = 1");
  throws_with([&] { lrp::explain(net, x, lrp::AlphaBeta{3, 1}); }, "alpha − beta = 1");
  throws_with([&] { lrp::explain(net, x, lrp::AlphaBeta{0, -1}); }, "beta ≥ 0");
  throws_with([&] { lrp::explain(net, x, lrp::Epsilon{-1e-3}); }, "epsilon must be finite and ≥ 0");
  throws_with([&] { lrp::explain(net, x, lrp::Gamma{-0.5}); }, "gamma must be finite and ≥ 0");
  throws_with(
      [&] {
        lrp::explain(net, x, lrp::Composite{.hidden = lrp::ZBox{2, 1}});
      },
      "Composite.hidden: ZBox");
  // Datasets and the selector.
  const Dataset<double> wrong(Matrix<double>::Ones(3, 2), std::vector<int>{0, 1});
  throws_with([&] { lrp::aggregate(net, wrong, lrp::Epsilon{}); },
              "samples have 3 features but the network expects 2 inputs");
  const Dataset<double> regression(Matrix<double>::Ones(2, 2), Matrix<double>::Ones(1, 2));
  throws_with(
      [&] {
        lrp::aggregate(net, regression, lrp::Epsilon{}, {.target = lrp::TargetSource::label});
      },
      "needs class labels");
  const Dataset<double> many_classes(Matrix<double>::Ones(2, 2), std::vector<int>{0, 4});
  throws_with(
      [&] {
        lrp::aggregate(net, many_classes, lrp::Epsilon{}, {.target = lrp::TargetSource::label});
      },
      "labels up to 4");
  throws_with([&] { lrp::aggregate(net, copy_data(), lrp::Epsilon{}, {.batch_size = 0}); },
              "batch_size is 0");
  throws_with([&] { LrpLayerSelector{.factor = -1}.select(net, copy_data()); }, "factor is -1");
}

TEST_CASE("explanations follow the paper's inference scaling of dropout", "[lrp][dropout]") {
  // With paper-convention dropout, inference multiplies the next layer's product by (1 − p); the
  // explained logit and the conservation of relevance must refer to that network.
  Mlp<double, Relu> net({4, 6, 3}, 31);
  for (Index l = 0; l < 2; ++l) net.bias(l).setZero();
  net.set_dropout(0, Dropout{.rate = 0.4, .convention = DropoutConvention::paper});
  CHECK(net.inference_scale(1) == Approx(0.6));
  CHECK(net.inference_scale(0) == 1.0);
  Vector<double> x(4);
  x << 0.5, 1.0, 0.25, 0.75;
  const Matrix<double> logits = net.forward(x);
  const auto e = lrp::explain(net, x, lrp::Epsilon{.epsilon = 1e-12});
  CHECK(e.output == Approx(logits.col(0).maxCoeff()).epsilon(1e-12));
  CHECK(e.hidden[0].sum() == Approx(e.output).epsilon(1e-6));
  CHECK(e.input.sum() == Approx(e.output).epsilon(1e-6));
}
