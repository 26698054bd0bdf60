// Finite-difference gradient checks: every activation, both losses, several depths, with a
// partially pruned connection mask.

#include <catch2/catch.hpp>

#include "support/fixtures.hpp"
#include "support/gradient_check.hpp"

using namespace neuroplast;
using neuroplast::testing::check_gradients;

namespace {

// A random 0/1 mask with about a third of the connections pruned.
Matrix<double> random_mask(Index rows, Index cols, Rng& rng) {
  Matrix<double> m(rows, cols);
  for (Index c = 0; c < cols; ++c)
    for (Index r = 0; r < rows; ++r) m(r, c) = rng.bernoulli(0.33) ? 0.0 : 1.0;
  return m;
}

}  // namespace

TEMPLATE_TEST_CASE("analytic gradients match central differences", "[gradients]", Relu, LeakyRelu,
                   Tanh, Sigmoid, Identity) {
  const std::vector<std::vector<Index>> shapes = {{4, 3}, {4, 5, 3}, {3, 6, 5, 4}, {5, 4, 4, 4, 2}};
  for (std::size_t s = 0; s < shapes.size(); ++s) {
    Mlp<double, TestType> net(shapes[s], 100 + s);
    Rng rng(7 + s);
    neuroplast::testing::randomise_biases(net, rng, 0.1);
    // Prune part of the first and the last layer: the mask must hold in the backward pass.
    net.prune_connections(0, random_mask(net.sizes()[1], net.sizes()[0], rng));
    const Index last = net.layer_count() - 1;
    net.prune_connections(last, random_mask(net.sizes()[last + 1], net.sizes()[last], rng));
    const Index batch = 6;
    Matrix<double> X(net.input_size(), batch);
    for (Index c = 0; c < batch; ++c)
      for (Index r = 0; r < X.rows(); ++r) X(r, c) = rng.normal();
    std::vector<int> labels(batch);
    for (auto& y : labels)
      y = static_cast<int>(rng.below(static_cast<std::uint64_t>(net.output_size())));
    Matrix<double> real_targets = Matrix<double>::Random(net.output_size(), batch);

    SECTION("softmax cross-entropy, shape " + std::to_string(s)) {
      auto loss = [&](const auto& logits, MatrixView<double>* g) {
        return SoftmaxCrossEntropy::evaluate(logits, Targets<double>{.labels = labels}, g);
      };
      const auto r = check_gradients(net, X, loss);
      INFO(r.worst);
      CHECK(r.masked_gradients_zero);
      CHECK(r.checked > 0);
      CHECK(r.max_error < 1e-6);
    }
    SECTION("mean squared error on real targets, shape " + std::to_string(s)) {
      auto loss = [&](const auto& logits, MatrixView<double>* g) {
        Targets<double> t{.values = real_targets.data(), .stride = real_targets.rows()};
        return MeanSquaredError::evaluate(logits, t, g);
      };
      const auto r = check_gradients(net, X, loss);
      INFO(r.worst);
      CHECK(r.masked_gradients_zero);
      CHECK(r.max_error < 1e-6);
    }
    SECTION("mean squared error on one-hot labels, shape " + std::to_string(s)) {
      auto loss = [&](const auto& logits, MatrixView<double>* g) {
        return MeanSquaredError::evaluate(logits, Targets<double>{.labels = labels}, g);
      };
      const auto r = check_gradients(net, X, loss);
      INFO(r.worst);
      CHECK(r.max_error < 1e-6);
    }
  }
}

TEST_CASE("the checker itself notices a wrong gradient", "[gradients]") {
  // Guards against a checker that always passes: a loss whose reported gradient is off by 10%.
  Mlp<double, Tanh> net({3, 4, 2}, 3);
  Matrix<double> X = Matrix<double>::Random(3, 5);
  std::vector<int> labels{0, 1, 1, 0, 1};
  auto wrong = [&](const auto& logits, MatrixView<double>* g) {
    const double v = SoftmaxCrossEntropy::evaluate(logits, Targets<double>{.labels = labels}, g);
    if (g != nullptr) *g *= 1.1;
    return v;
  };
  CHECK(check_gradients(net, X, wrong).max_error > 1e-3);
}

TEST_CASE("softmax cross-entropy has exact values on a hand-computed case", "[loss]") {
  // logits (1, 2, 3) with label 2: loss = log(e + e² + e³) − 3.
  Matrix<double> z(3, 1);
  z << 1, 2, 3;
  std::vector<int> y{2};
  Matrix<double> g(3, 1);
  MatrixView<double> gv(g.data(), 3, 1, Eigen::OuterStride<>(3));
  const double loss = SoftmaxCrossEntropy::evaluate(z, Targets<double>{.labels = y}, &gv);
  const double s = std::exp(1.0) + std::exp(2.0) + std::exp(3.0);
  CHECK(loss == Approx(std::log(s) - 3).epsilon(1e-14));
  CHECK(g(0) == Approx(std::exp(1.0) / s).epsilon(1e-14));
  CHECK(g(2) == Approx(std::exp(3.0) / s - 1).epsilon(1e-14));
}

TEST_CASE("softmax cross-entropy stays finite for huge logits", "[loss]") {
  Matrix<float> z(2, 1);
  z << 1000.0f, -1000.0f;
  std::vector<int> y{1};
  const float loss = SoftmaxCrossEntropy::evaluate(z, Targets<float>{.labels = y});
  CHECK(std::isfinite(loss));
  CHECK(loss == Approx(2000.0f));
}

TEST_CASE("losses reject labels outside the outputs", "[loss][errors]") {
  Matrix<double> z = Matrix<double>::Zero(3, 2);
  std::vector<int> bad{0, 3};
  CHECK_THROWS_WITH(SoftmaxCrossEntropy::evaluate(z, Targets<double>{.labels = bad}),
                    Catch::Contains("label 3 of sample 1 is outside [0, 3)"));
  CHECK_THROWS_AS(MeanSquaredError::evaluate(z, Targets<double>{.labels = bad}), Error);
  std::vector<int> short_labels{0};
  CHECK_THROWS_WITH(SoftmaxCrossEntropy::evaluate(z, Targets<double>{.labels = short_labels}),
                    Catch::Contains("1 labels for a batch of 2"));
}

TEST_CASE("mean squared error has exact values", "[loss]") {
  Matrix<double> z(2, 2);
  z << 1, 0, 2, 1;  // columns (1,2) and (0,1)
  std::vector<int> y{0, 1};
  // one-hot targets (1,0),(0,1): squared errors 0+4 and 0+0 → mean over 4 entries = 1
  CHECK(MeanSquaredError::evaluate(z, Targets<double>{.labels = y}) == Approx(1.0));
}

TEST_CASE("backward's layer hook sees each layer's final gradients, last layer first",
          "[gradients]") {
  Mlp<double, Relu> net({4, 6, 5, 3}, 11);
  Rng rng(3);
  neuroplast::testing::randomise_biases(net, rng, 0.1);
  net.prune_connections(1, random_mask(5, 6, rng));  // masked gradients are final too
  Matrix<double> X(4, 7);
  for (Index c = 0; c < X.cols(); ++c)
    for (Index r = 0; r < X.rows(); ++r) X(r, c) = rng.normal();
  const std::vector<int> labels = {0, 1, 2, 0, 1, 2, 0};
  Workspace<double> ws;
  const auto gradients = [&](Index l) {
    const auto& d = net.layer_params(l);
    return std::pair<Matrix<double>, Matrix<double>>{d.weight_param().grad.view(),
                                                     d.bias_param().grad.view()};
  };
  const auto pass = [&](auto&&... hook) {
    const auto logits = net.forward_train(X, ws);
    auto g = ws.output_gradient();
    SoftmaxCrossEntropy::evaluate(logits, Targets<double>{.labels = labels}, &g);
    net.backward(X, ws, hook...);
  };
  pass();
  std::vector<std::pair<Matrix<double>, Matrix<double>>> plain;
  for (Index l = 0; l < net.layer_count(); ++l) plain.push_back(gradients(l));

  std::vector<Index> order;
  std::vector<std::pair<Matrix<double>, Matrix<double>>> seen(3);
  pass([&](Index l) {
    order.push_back(l);
    seen[static_cast<std::size_t>(l)] = gradients(l);
  });
  CHECK(order == std::vector<Index>{2, 1, 0});
  for (Index l = 0; l < net.layer_count(); ++l) {
    INFO("layer " << l);
    const auto after = gradients(l);
    const auto& at_hook = seen[static_cast<std::size_t>(l)];
    CHECK(at_hook.first == after.first);  // nothing changed them after the hook
    CHECK(at_hook.second == after.second);
    CHECK(after.first == plain[static_cast<std::size_t>(l)].first);  // the same pass
    CHECK(after.second == plain[static_cast<std::size_t>(l)].second);
    CHECK(after.first.cwiseAbs().sum() > 0);
  }
}
