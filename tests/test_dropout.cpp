// Dropout (Algorithm 2): kept fractions, both conventions agree in expectation, Gaussian moments,
// DropConnect, batch-shared masks, gradients under every kind, schedules, determinism, errors.

#include <catch2/catch.hpp>

#include "support/fixtures.hpp"
#include "support/gradient_check.hpp"

using namespace neuroplast;
using namespace neuroplast::testing;
using neuroplast::testing::check_gradients;

namespace {

// Monte Carlo mean of `draws` sampled forward passes against the inference output; true when every
// entry is within 5 standard errors (estimated from the same samples).
template <class Net>
bool agrees_in_expectation(const Net& net, const Matrix<double>& X, int draws) {
  Workspace<double> ws;
  ws.rng().reseed(5);
  Matrix<double> sum = Matrix<double>::Zero(net.output_size(), X.cols());
  Matrix<double> sum_sq = sum;
  for (int i = 0; i < draws; ++i) {
    const Matrix<double> y = net.forward_sampled(X, ws);
    sum += y;
    sum_sq += y.cwiseAbs2();
  }
  const Matrix<double> mean = sum / draws;
  const Matrix<double> var = (sum_sq / draws - mean.cwiseAbs2()).cwiseMax(0.0);
  const Matrix<double> se = (var / draws).cwiseSqrt();
  const Matrix<double> inference = net.forward(X);
  const double worst = ((mean - inference).cwiseAbs().array() / (se.array() + 1e-12)).maxCoeff();
  INFO("largest deviation " << worst << " standard errors");
  return worst < 5.0;
}

}  // namespace

TEST_CASE("Bernoulli dropout drops a fraction p and scales the kept by 1/(1−p)", "[dropout]") {
  Mlp<double, Relu> net({8, 100, 3}, 1);
  net.set_dropout(0, Dropout{.rate = 0.3});
  const Matrix<double> X = random_batch(8, 1000, 2);
  Workspace<double> ws;
  net.forward_train(X, ws);
  const Matrix<double> m = ws.scratch(0).mult.view();
  const double dropped = (m.array() == 0).cast<double>().mean();
  // 100 000 draws: standard error √(0.3·0.7/1e5) = 0.00145; 5σ.
  CHECK(std::abs(dropped - 0.3) < 0.0073);
  CHECK(((m.array() == 0) || (m.array() == 1.0 / 0.7)).all());
  // The paper's convention only masks in training.
  net.set_dropout(0, Dropout{.rate = 0.3, .convention = DropoutConvention::paper});
  net.forward_train(X, ws);
  const Matrix<double> mp = ws.scratch(0).mult.view();
  CHECK(((mp.array() == 0) || (mp.array() == 1)).all());
}

TEST_CASE("both conventions give the same expected activation as their inference",
          "[dropout][convention]") {
  // One hidden layer and a linear output: the logits are linear in the dropped activations, so
  // E[sampled logits] must equal the inference logits exactly in each convention.
  const Matrix<double> X = random_batch(6, 5, 3);
  for (auto convention : {DropoutConvention::inverted, DropoutConvention::paper}) {
    for (auto kind : {DropoutKind::bernoulli, DropoutKind::batch_shared, DropoutKind::gaussian}) {
      Mlp<double, Relu> net({6, 40, 3}, 4);
      net.set_dropout(0, Dropout{.kind = kind, .rate = 0.4, .convention = convention});
      INFO("convention " << static_cast<int>(convention) << " kind " << static_cast<int>(kind));
      CHECK(agrees_in_expectation(net, X, 4000));
    }
  }
  // DropConnect: linear network, so the output is linear in the masked weights.
  for (auto convention : {DropoutConvention::inverted, DropoutConvention::paper}) {
    Mlp<double, Identity> net({6, 20, 3}, 5);
    net.set_dropout(
        0, Dropout{.kind = DropoutKind::drop_connect, .rate = 0.25, .convention = convention});
    CHECK(agrees_in_expectation(net, X, 4000));
  }
}

TEST_CASE("the paper's convention scales inference by 1 − p, the inverted one does not",
          "[dropout][convention]") {
  Mlp<double, Relu> plain({4, 10, 2}, 6);
  const Matrix<double> X = random_batch(4, 3, 7);
  Mlp<double, Relu> inverted = plain;
  inverted.set_dropout(0, Dropout{.rate = 0.5});
  CHECK(inverted.forward(X) == plain.forward(X));  // dropout never touches inference
  Mlp<double, Relu> paper = plain;
  paper.set_dropout(0, Dropout{.rate = 0.5, .convention = DropoutConvention::paper});
  // Logits = W1 (0.5 h) + b1.
  const Matrix<double> expected =
      ((plain.forward(X).colwise() - Vector<double>(plain.bias(1))) * 0.5).colwise() +
      Vector<double>(plain.bias(1));
  CHECK((paper.forward(X) - expected).cwiseAbs().maxCoeff() < 1e-12);
}

TEST_CASE("Gaussian dropout multiplies by noise of mean 1 and variance p/(1−p)", "[dropout]") {
  Mlp<double, Tanh> net({5, 200, 2}, 8);
  net.set_dropout(0, Dropout{.kind = DropoutKind::gaussian, .rate = 0.2});
  Workspace<double> ws;
  net.forward_train(random_batch(5, 500, 9), ws);
  const Eigen::ArrayXXd m = Matrix<double>(ws.scratch(0).mult.view()).array();
  // 100 000 draws: standard errors 0.0016 (mean) and 0.0011 (variance 0.25, normal 4th moment).
  CHECK(std::abs(m.mean() - 1.0) < 0.008);
  CHECK(std::abs((m - m.mean()).square().mean() - 0.25) < 0.006);
}

TEST_CASE("DropConnect masks a fraction p of the weights per batch", "[dropout][dropconnect]") {
  Mlp<double, Relu> net({50, 60, 3}, 10);
  net.set_dropout(0, Dropout{.kind = DropoutKind::drop_connect, .rate = 0.5});
  Workspace<double> ws;
  net.forward_train(random_batch(50, 4, 11), ws);
  const Matrix<double> m = ws.scratch(0).wmult.view();
  REQUIRE(m.rows() == 60);
  REQUIRE(m.cols() == 50);
  // 3000 draws: standard error 0.009; 5σ.
  CHECK(std::abs((m.array() == 0).cast<double>().mean() - 0.5) < 0.046);
}

TEST_CASE("batch-shared dropout drops the same neurons for the whole batch and skips them",
          "[dropout][batch_shared]") {
  Mlp<double, Relu> net({6, 100, 4}, 12);
  net.set_dropout(0, Dropout{.kind = DropoutKind::batch_shared, .rate = 0.5});
  Workspace<double> ws;
  net.forward_train(random_batch(6, 32, 13), ws);
  const auto& kept = ws.scratch(0).kept;
  // Only the kept neurons were computed: the hidden activation has |kept| rows.
  CHECK(ws.activation(0).rows() == static_cast<Index>(kept.size()));
  CHECK(ws.activation(0).cols() == 32);
  CHECK(kept.size() > 25);
  CHECK(kept.size() < 75);
  CHECK(std::is_sorted(kept.begin(), kept.end()));
}

TEST_CASE("gradients are exact under every kind of dropout", "[dropout][gradients]") {
  const Matrix<double> X = random_batch(4, 6, 14);
  const std::vector<int> y{0, 1, 2, 0, 1, 2};
  for (auto kind : {DropoutKind::bernoulli, DropoutKind::gaussian, DropoutKind::drop_connect,
                    DropoutKind::batch_shared}) {
    for (auto convention : {DropoutConvention::inverted, DropoutConvention::paper}) {
      Mlp<double, Tanh> net({4, 7, 6, 3}, 15);
      net.set_dropout(0, Dropout{.kind = kind, .rate = 0.3, .convention = convention});
      net.set_dropout(1, Dropout{.kind = kind, .rate = 0.4, .convention = convention});
      Matrix<double> mask = Matrix<double>::Ones(6, 7);
      mask(1, 2) = 0;
      net.prune_connections(1, mask);
      // Each fresh Workspace draws the same masks (same default seed), so the loss is a fixed
      // function of the weights for the finite differences.
      const auto r = check_gradients(net, X, [&](const auto& logits, MatrixView<double>* g) {
        return SoftmaxCrossEntropy::evaluate(logits, Targets<double>{.labels = y}, g);
      });
      INFO("kind " << static_cast<int>(kind) << " convention " << static_cast<int>(convention)
                   << ": " << r.worst);
      CHECK(r.max_error < 1e-6);
      CHECK(r.masked_gradients_zero);
    }
  }
}

TEST_CASE("a scheduled rate rises from 0 to its target", "[dropout][schedule]") {
  const Dropout d{.rate = 0.5, .ramp_steps = 100};
  CHECK(d.rate_at(0) == 0.0);
  CHECK(d.rate_at(50) == Approx(0.25));
  CHECK(d.rate_at(100) == 0.5);
  CHECK(d.rate_at(1000) == 0.5);
  // In a network the schedule follows its training steps: none dropped before the first step.
  Mlp<double, Relu> net({3, 50, 2}, 16);
  net.set_dropout(0, d);
  Workspace<double> ws;
  net.forward_train(random_batch(3, 20, 17), ws);
  CHECK_FALSE(ws.scratch(0).multiplied);
}

TEST_CASE("masks are reproducible for a seed and inference stays deterministic",
          "[dropout][determinism]") {
  Mlp<double, Relu> net({5, 30, 3}, 18);
  net.set_dropout(0, Dropout{.rate = 0.5});
  const Matrix<double> X = random_batch(5, 8, 19);
  Workspace<double> a, b, c;
  a.rng().reseed(1);
  b.rng().reseed(1);
  c.rng().reseed(2);
  const Matrix<double> ya = net.forward_sampled(X, a), yb = net.forward_sampled(X, b),
                       yc = net.forward_sampled(X, c);
  CHECK(ya == yb);
  CHECK(ya != yc);
  CHECK(net.forward_sampled(X, a) != ya);  // the stream moves on: Monte Carlo dropout
  CHECK(net.forward(X) == net.forward(X));
}

TEST_CASE("dropout settings are validated and follow structural edits", "[dropout][errors]") {
  Mlp<double, Relu> net({3, 4, 4, 2}, 20);
  CHECK_THROWS_WITH(net.set_dropout(0, Dropout{.rate = 1.0}),
                    Catch::Contains("dropout rate 1 is outside [0, 1)"));
  CHECK_THROWS_WITH(net.set_dropout(0, Dropout{.rate = -0.1}), Catch::Contains("outside [0, 1)"));
  CHECK_THROWS_WITH(net.set_dropout(0, Dropout{.rate = 0.1, .ramp_steps = -5}),
                    Catch::Contains("ramp_steps = -5"));
  CHECK_THROWS_WITH(net.set_dropout(2, Dropout{.rate = 0.1}),
                    Catch::Contains("set_dropout: hidden layer 2 does not exist"));
  CHECK(net.dropout(0).rate == 0);
  net.set_dropout(1, Dropout{.rate = 0.2});
  net.insert_layer(0, init::Identity{});
  CHECK(net.dropout(1).rate == 0);    // the new layer has none
  CHECK(net.dropout(2).rate == 0.2);  // the old layer 1 moved to 2 with its setting
  net.grow_neurons(2, 3, init::ZeroFanOut{});
  Workspace<double> ws;
  net.forward_train(random_batch(3, 5, 21), ws);  // runs on the grown layer
  CHECK(ws.scratch(2).mult.rows() == 7);
  net.clear_dropout();
  CHECK(net.dropout(2).rate == 0);
}

TEST_CASE("relevance-guided rates drop less relevant neurons more often", "[dropout][relevance]") {
  Mlp<double, Relu> net({5, 12, 3}, 22);
  Rng rng(23);
  Matrix<double> X(5, 200);
  for (Index c = 0; c < X.cols(); ++c)
    for (Index r = 0; r < 5; ++r) X(r, c) = std::abs(rng.normal());
  std::vector<int> y(200);
  for (std::size_t i = 0; i < y.size(); ++i) y[i] = static_cast<int>(i % 3);
  const Dataset<double> data(X, y);
  net.set_dropout(0, Dropout{.rate = 0.3});
  const auto rates = relevance_guided_rates(net, data, 0, 0.3, 0.95);
  REQUIRE(rates.size() == 12);
  // Independently: the neuron with the largest mean |R| gets rate 0, the smallest the largest rate.
  const auto stats =
      lrp::aggregate(net, data, lrp::Composite{}, lrp::AggregateOptions{.connections = false});
  Index most = 0, least = 0;
  stats.neuron_mean_abs[0].maxCoeff(&most);
  stats.neuron_mean_abs[0].minCoeff(&least);
  CHECK(rates[static_cast<std::size_t>(most)] == 0.0);
  CHECK(*std::max_element(rates.begin(), rates.end()) == rates[static_cast<std::size_t>(least)]);
  double mean = 0;
  for (double r : rates) mean += r / 12;
  CHECK(mean <= 0.3 + 1e-12);  // the mean is the layer's rate unless the cap bites
  CHECK(mean > 0.25);

  net.set_dropout_rates(0, rates);
  // Monte Carlo: each neuron's drop frequency matches its rate (2000 samples: σ ≤ 0.011; 5σ).
  Workspace<double> ws;
  Matrix<double> Xb = X.leftCols(100);
  std::vector<double> dropped(12, 0.0);
  for (int i = 0; i < 20; ++i) {
    net.forward_train(Xb, ws);
    const Matrix<double> m = ws.scratch(0).mult.view();
    for (Index j = 0; j < 12; ++j)
      dropped[static_cast<std::size_t>(j)] += (m.row(j).array() == 0).cast<double>().sum();
  }
  for (std::size_t j = 0; j < 12; ++j) CHECK(std::abs(dropped[j] / 2000 - rates[j]) < 0.056);

  // The rates follow structural edits: removed neurons take theirs along, new ones get the layer
  // rate.
  net.remove_neurons(0, {most});
  CHECK(net.dropout_rates(0).size() == 11);
  net.grow_neurons(0, 2, init::ZeroFanOut{});
  CHECK(net.dropout_rates(0).size() == 13);
  CHECK(net.dropout_rates(0).back() == 0.3);
  // The most relevant neuron (rate 0) was removed; 0 is gone from the rates.
  CHECK(std::find(net.dropout_rates(0).begin(), net.dropout_rates(0).end(), 0.0) ==
        net.dropout_rates(0).end());

  CHECK_THROWS_WITH(net.set_dropout_rates(0, std::vector<double>(5, 0.1)),
                    Catch::Contains("5 rates for hidden layer 0 of 13"));
  CHECK_THROWS_WITH(net.set_dropout_rates(0, std::vector<double>(13, 1.0)),
                    Catch::Contains("rate 1 is outside [0, 1)"));
  net.set_dropout(0, Dropout{.kind = DropoutKind::gaussian, .rate = 0.3});
  CHECK(net.dropout_rates(0).empty());  // a new setting clears per-neuron rates
  CHECK_THROWS_WITH(net.set_dropout_rates(0, std::vector<double>(13, 0.1)),
                    Catch::Contains("needs Bernoulli dropout"));

  // The policy computes them every epoch.
  Mlp<double, Relu> fresh({5, 12, 3}, 24);
  Trainer trainer(fresh, Adam<double>{},
                  DropoutPolicy{.dropout = Dropout{.rate = 0.3}, .relevance_guided = true},
                  TrainOptions{.epochs = 2, .batch_size = 20});
  trainer.fit(data, data);
  CHECK(fresh.dropout_rates(0).size() == 12);
  CHECK(*std::min_element(fresh.dropout_rates(0).begin(), fresh.dropout_rates(0).end()) == 0.0);
}
