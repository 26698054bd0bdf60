// Pruning criteria and selection (issue 4): magnitude, mean activation, Taylor (against finite
// differences of the loss), the Taylor accumulator across structural edits, LRP relevance,
// per-layer and global selection by fraction and threshold, minimum widths, errors.

#include <catch2/catch.hpp>
#include <numeric>

#include "neuroplast/neuroplast.hpp"
#include "support/fixtures.hpp"

using namespace neuroplast;
using neuroplast::testing::random_batch;

namespace {

std::vector<int> labels_for(Index n, Index classes) {
  std::vector<int> y(static_cast<std::size_t>(n));
  for (Index i = 0; i < n; ++i)
    y[static_cast<std::size_t>(i)] = static_cast<int>((i * 7) % classes);
  return y;
}

template <class Net>
void randomise_biases(Net& net, std::uint64_t seed) {
  Rng rng(seed);
  for (Index l = 0; l < net.layer_count(); ++l)
    for (Index r = 0; r < net.bias(l).size(); ++r) net.bias(l)(r) = rng.normal(0.0, 0.3);
}

// Mean loss of the network over the whole dataset, in one batch.
template <class Net>
double mean_loss(const Net& net, const Dataset<double>& data, LossKind kind) {
  const Matrix<double> logits = net.forward(data.features());
  if (kind == LossKind::softmax_cross_entropy)
    return SoftmaxCrossEntropy::evaluate(logits, Targets<double>{.labels = data.labels()});
  if (data.has_targets()) {
    return MeanSquaredError::evaluate(
        logits, Targets<double>{.values = data.targets().data(), .stride = data.targets().rows()});
  }
  return MeanSquaredError::evaluate(logits, Targets<double>{.labels = data.labels()});
}

// d/dt L at t = 1, by central difference, where `scale(t)` scales some parameters by t (t = 1
// restores them exactly).
template <class Net, class Scale>
double scaling_derivative(Net& net, const Dataset<double>& data, LossKind kind, Scale&& scale,
                          double eps = 1e-5) {
  scale(1 + eps);
  const double up = mean_loss(net, data, kind);
  scale(1 - eps);
  const double down = mean_loss(net, data, kind);
  scale(1.0);
  return (up - down) / (2 * eps);
}

// d/dt L at t = 1 when `value` is scaled by t.
template <class Net>
double derivative_along(Net& net, double& value, const Dataset<double>& data, LossKind kind) {
  return scaling_derivative(net, data, kind, [&, saved = value](double t) { value = saved * t; });
}

// d/dt L at t = 1 when the fan-out column j of W(h+1) is scaled by t, i.e. when what the next
// layer receives from neuron j of hidden layer h is scaled by t.
template <class Net>
double fan_out_derivative(Net& net, Index h, Index j, const Dataset<double>& data, LossKind kind) {
  auto column = net.weights(h + 1).col(j);
  const Vector<double> saved = column;
  return scaling_derivative(net, data, kind, [&](double t) { column = saved * t; });
}

// One training-style forward/backward on samples [first, first + count) of `data`.
template <class Net>
void backward_on(Net& net, const Dataset<double>& data, Index first, Index count) {
  Workspace<double> ws;
  const Matrix<double> X = data.features().middleCols(first, count);
  const std::vector<int> y(data.labels().begin() + first, data.labels().begin() + first + count);
  const auto logits = net.forward_train(X, ws);
  auto g = ws.output_gradient();
  SoftmaxCrossEntropy::evaluate(logits, Targets<double>{.labels = y}, &g);
  net.backward(X, ws);
}

// Σ_k W(h+1)_kj · ∂L/∂W(h+1)_kj of the last backward pass, per neuron j of hidden layer h: the
// signed per-batch Taylor term, written out independently of TaylorAccumulator.
template <class Net>
Vector<double> signed_taylor_term(const Net& net, Index h) {
  const Matrix<double> w = net.weights(h + 1);
  const Matrix<double> g = net.weight_gradient(h + 1);
  return w.cwiseProduct(g).colwise().sum().transpose();
}

double max_relative(const Matrix<double>& a, const Matrix<double>& b) {
  return (a - b).cwiseAbs().maxCoeff() / std::max(1e-300, b.cwiseAbs().maxCoeff());
}

}  // namespace

// -------------------------------------------------------------------------------------------------
// Criteria

TEST_CASE("criteria are checked by concepts", "[prune][criteria]") {
  STATIC_REQUIRE(NeuronCriterion<MagnitudeL1, Mlp<double, Relu>>);
  STATIC_REQUIRE(NeuronCriterion<MagnitudeL2, Mlp<float, Tanh>>);
  STATIC_REQUIRE(NeuronCriterion<MeanActivation, Mlp<double, Relu>>);
  STATIC_REQUIRE(NeuronCriterion<Taylor, Mlp<float, Relu>>);
  STATIC_REQUIRE(NeuronCriterion<TaylorAccumulator<double>, Mlp<double, Sigmoid>>);
  STATIC_REQUIRE(NeuronCriterion<LrpRelevance, Mlp<double, Relu>>);
  STATIC_REQUIRE(ConnectionCriterion<MagnitudeL1, Mlp<double, Relu>>);
  STATIC_REQUIRE(ConnectionCriterion<Taylor, Mlp<double, Relu>>);
  STATIC_REQUIRE(ConnectionCriterion<LrpRelevance, Mlp<float, Relu>>);
  STATIC_REQUIRE_FALSE(ConnectionCriterion<MeanActivation, Mlp<double, Relu>>);
  STATIC_REQUIRE_FALSE(NeuronCriterion<int, Mlp<double, Relu>>);
  STATIC_REQUIRE_FALSE(NeuronCriterion<PruneSelection, Mlp<double, Relu>>);
}

TEST_CASE("magnitude criteria add a neuron's fan-in row and fan-out column", "[prune][criteria]") {
  Mlp<double, Relu> net({2, 3, 2}, 1);
  net.weights(0) << 1, -2,  //
      0.5, 0.5,             //
      -3, 1;
  net.weights(1) << 1, 0, -1,  //
      2, 0.25, 0;

  SECTION("L1") {
    // fan-in  Σ|W0_j·|: n0 = 1 + 2 = 3, n1 = 0.5 + 0.5 = 1, n2 = 3 + 1 = 4
    // fan-out Σ|W1_·j|: n0 = 1 + 2 = 3, n1 = 0 + 0.25 = 0.25, n2 = 1 + 0 = 1
    const auto s = neuron_scores(net, MagnitudeL1{});
    REQUIRE(s.size() == 1);
    CHECK(s[0].isApprox(Vector<double>{{6, 1.25, 5}}));
    const auto in_only = neuron_scores(net, MagnitudeL1{.include_fan_out = false});
    CHECK(in_only[0].isApprox(Vector<double>{{3, 1, 4}}));
  }
  SECTION("L2") {
    // n0: √(1 + 4 + 1 + 4) = √10, n1: √(0.25 + 0.25 + 0 + 0.0625) = 0.75, n2: √(9 + 1 + 1 + 0)
    const auto s = neuron_scores(net, MagnitudeL2{});
    CHECK(s[0].isApprox(Vector<double>{{std::sqrt(10.0), 0.75, std::sqrt(11.0)}}));
    const auto in_only = neuron_scores(net, MagnitudeL2{.include_fan_out = false});
    CHECK(in_only[0].isApprox(Vector<double>{{std::sqrt(5.0), std::sqrt(0.5), std::sqrt(10.0)}}));
  }
  SECTION("single connections score |w|, pruned ones 0") {
    Matrix<double> mask = Matrix<double>::Ones(3, 2);
    mask(2, 0) = 0;
    net.prune_connections(0, mask);
    const auto c = connection_scores(net, MagnitudeL2{});
    REQUIRE(c.size() == 2);
    Matrix<double> expected(3, 2);
    expected << 1, 2, 0.5, 0.5, 0, 1;
    CHECK(c[0] == expected);
    CHECK(c[1] == Matrix<double>(net.weights(1)).cwiseAbs());
    // The pruned weight no longer counts in its neuron's score: n2 fan-in is now |1| only.
    CHECK(neuron_scores(net, MagnitudeL1{})[0](2) == Approx(1 + 1));
  }
  SECTION("the lowest-scoring neuron is the one removed") {
    const auto result = prune_neurons(net, MagnitudeL1{}, {.fraction = 0.34});  // ⌊0.34·3⌋ = 1
    CHECK(result.removed[0] == std::vector<Index>{1});
    CHECK(result.new_index[0] == std::vector<Index>{0, -1, 1});  // neuron 2 moved into slot 1
    CHECK(net.width(0) == 2);
    CHECK(net.weights(0).row(1) == Matrix<double>{{-3, 1}});
  }
}

TEST_CASE("mean activation is the mean |a| over the dataset, in any batching",
          "[prune][criteria]") {
  Mlp<double, Relu> net({2, 3, 2}, 2);
  net.weights(0) << 1, 0,  //
      0, 1,                //
      1, -1;
  net.bias(0) << 0, 0, 0.5;
  Matrix<double> X(2, 4);
  X << 1, -1, 2, 0,  //
      2, 0, -1, 0;
  const Dataset<double> data{X, {0, 1, 0, 1}};
  // n0 = relu(x1):           1, 0, 2, 0                      → 3/4 = 0.75
  // n1 = relu(x2):           2, 0, 0, 0                      → 2/4 = 0.5
  // n2 = relu(x1 − x2 + ½):  relu(−½), relu(−½), 3.5, ½      → 4/4 = 1
  const Vector<double> expected{{0.75, 0.5, 1.0}};
  CHECK(neuron_scores(net, MeanActivation{}, data)[0].isApprox(expected));
  CHECK(neuron_scores(net, MeanActivation{.batch_size = 3}, data)[0].isApprox(expected));
  // The first two samples only: n0 = ½, n1 = 1, n2 = 0.
  CHECK(neuron_scores(net, MeanActivation{.batch_size = 1, .max_samples = 2}, data)[0].isApprox(
      Vector<double>{{0.5, 1.0, 0.0}}));

  const auto result = prune_neurons(net, MeanActivation{}, {.fraction = 0.34}, data);
  CHECK(result.removed[0] == std::vector<Index>{1});
  CHECK(net.width(0) == 2);
}

TEST_CASE("mean activation counts negative activations by magnitude", "[prune][criteria]") {
  Mlp<double, Tanh> net({1, 2, 1}, 3);
  net.weights(0) << 1, 0.1;
  const Dataset<double> data{Matrix<double>{{2.0, -2.0}}, {0, 0}};
  // n0 = tanh(±2): mean |a| = tanh 2 (its signed mean would be 0); n1 = tanh(±0.2) → tanh 0.2.
  const auto s = neuron_scores(net, MeanActivation{}, data)[0];
  CHECK(s(0) == Approx(std::tanh(2.0)));
  CHECK(s(1) == Approx(std::tanh(0.2)));
}

TEST_CASE("Taylor neuron scores are the derivative of the loss along the neuron's output",
          "[prune][taylor]") {
  // Scaling column j of W(h+1) by t scales what the next layer receives from neuron j, so
  // d/dt L(t) at t = 1 is Σ_n ∂L/∂a_j(x_n) · a_j(x_n), whose magnitude the criterion reports.
  Mlp<double, Tanh> net({4, 6, 5, 3}, 11);
  randomise_biases(net, 12);
  const Dataset<double> data{random_batch(4, 10, 13), labels_for(10, 3)};
  for (const Index batch : {Index{4}, Index{256}}) {  // 4 + 4 + 2: batches weighted by size
    const auto s = neuron_scores(net, Taylor{.batch_size = batch}, data);
    for (Index h = 0; h < 2; ++h) {
      for (Index j = 0; j < net.width(h); ++j) {
        const double fd = fan_out_derivative(net, h, j, data, LossKind::softmax_cross_entropy);
        INFO("batch " << batch << ", hidden layer " << h << ", neuron " << j);
        CHECK(s[static_cast<std::size_t>(h)](j) ==
              Approx(std::abs(fd)).epsilon(1e-7).margin(1e-10));
      }
    }
  }
}

TEST_CASE("Taylor scores the inference function, dropout scaling included", "[prune][taylor]") {
  // Under the paper's convention inference multiplies by (1 − p); the scores must be those of the
  // function `forward` computes.
  Mlp<double, Tanh> net({4, 5, 4, 3}, 16);
  randomise_biases(net, 17);
  net.set_dropout(0, Dropout{.rate = 0.3, .convention = DropoutConvention::paper});
  net.set_dropout(1, Dropout{.kind = DropoutKind::drop_connect,
                             .rate = 0.2,
                             .convention = DropoutConvention::paper});
  REQUIRE(net.inference_scale(1) != 1.0);
  const Dataset<double> data{random_batch(4, 6, 18), labels_for(6, 3)};
  const auto s = neuron_scores(net, Taylor{}, data);
  const auto c = connection_scores(net, Taylor{}, data);
  for (Index h = 0; h < 2; ++h) {
    for (Index j = 0; j < net.width(h); ++j) {
      const double fd = fan_out_derivative(net, h, j, data, LossKind::softmax_cross_entropy);
      CHECK(s[static_cast<std::size_t>(h)](j) == Approx(std::abs(fd)).epsilon(1e-7).margin(1e-10));
      const double fc =
          derivative_along(net, net.weights(h + 1)(0, j), data, LossKind::softmax_cross_entropy);
      CHECK(c[static_cast<std::size_t>(h + 1)](0, j) ==
            Approx(std::abs(fc)).epsilon(1e-7).margin(1e-10));
    }
  }
}

TEST_CASE("Taylor with mean squared error on regression targets", "[prune][taylor]") {
  Mlp<double, Sigmoid> net({3, 4, 2}, 21);
  randomise_biases(net, 22);
  const Dataset<double> data{random_batch(3, 7, 23), random_batch(2, 7, 24)};
  const auto s =
      neuron_scores(net, Taylor{.loss = LossKind::mean_squared_error, .batch_size = 3}, data);
  for (Index j = 0; j < 4; ++j) {
    const double fd = fan_out_derivative(net, 0, j, data, LossKind::mean_squared_error);
    CHECK(s[0](j) == Approx(std::abs(fd)).epsilon(1e-7));
  }
}

TEST_CASE("Taylor connection scores are |w · dL/dw|", "[prune][taylor]") {
  Mlp<double, Tanh> net({3, 4, 3, 2}, 31);
  randomise_biases(net, 32);
  const Dataset<double> data{random_batch(3, 9, 33), labels_for(9, 2)};
  const auto c = connection_scores(net, Taylor{.batch_size = 4}, data);
  REQUIRE(c.size() == 3);
  for (Index l = 0; l < 3; ++l) {
    for (Index r = 0; r < net.weights(l).rows(); ++r) {
      for (Index k = 0; k < net.weights(l).cols(); ++k) {
        const double fd =
            derivative_along(net, net.weights(l)(r, k), data, LossKind::softmax_cross_entropy);
        INFO("layer " << l << ", weight (" << r << ", " << k << ")");
        CHECK(c[static_cast<std::size_t>(l)](r, k) ==
              Approx(std::abs(fd)).epsilon(1e-7).margin(1e-10));
      }
    }
  }
}

TEST_CASE("Taylor's per-sample aggregations add the samples' own changes", "[prune][taylor]") {
  Mlp<double, Tanh> net({3, 4, 2}, 41);
  randomise_biases(net, 42);
  const Matrix<double> X = random_batch(3, 5, 43);
  const std::vector<int> y = labels_for(5, 2);
  const Dataset<double> data{X, y};
  const Taylor mean_abs{.batch_size = 2, .aggregation = TaylorAggregation::mean_abs};
  const Taylor mean_square{.batch_size = 2, .aggregation = TaylorAggregation::mean_square};
  // Expected, with t_n = d/dt ℓ_n the change of the loss of sample n alone:
  // mean_abs (1/N) Σ_n |t_n|, mean_square (1/N) Σ_n t_n².
  Vector<double> abs_sum = Vector<double>::Zero(4), square_sum = Vector<double>::Zero(4);
  Matrix<double> abs_sum_c = Matrix<double>::Zero(2, 4), square_sum_c = Matrix<double>::Zero(2, 4);
  for (Index n = 0; n < 5; ++n) {
    const Dataset<double> one{X.col(n), std::vector<int>{y[static_cast<std::size_t>(n)]}};
    for (Index j = 0; j < 4; ++j) {
      const double t = fan_out_derivative(net, 0, j, one, LossKind::softmax_cross_entropy);
      abs_sum(j) += std::abs(t) / 5;
      square_sum(j) += t * t / 5;
      for (Index k = 0; k < 2; ++k) {
        const double tc =
            derivative_along(net, net.weights(1)(k, j), one, LossKind::softmax_cross_entropy);
        abs_sum_c(k, j) += std::abs(tc) / 5;
        square_sum_c(k, j) += tc * tc / 5;
      }
    }
  }
  CHECK(max_relative(neuron_scores(net, mean_abs, data)[0], abs_sum) < 1e-7);
  CHECK(max_relative(neuron_scores(net, mean_square, data)[0], square_sum) < 1e-7);
  CHECK(max_relative(connection_scores(net, mean_abs, data)[1], abs_sum_c) < 1e-7);
  CHECK(max_relative(connection_scores(net, mean_square, data)[1], square_sum_c) < 1e-7);
  // Never below the magnitude of the sum.
  const auto signed_sum = neuron_scores(net, Taylor{}, data);
  CHECK((neuron_scores(net, mean_abs, data)[0].array() >= signed_sum[0].array() - 1e-15).all());
}

TEST_CASE("TaylorAccumulator fed by training batches equals Taylor on the same batches",
          "[prune][taylor]") {
  Mlp<double, Tanh> net({4, 6, 5, 3}, 51);
  randomise_biases(net, 52);
  const Dataset<double> data{random_batch(4, 10, 53), labels_for(10, 3)};
  TaylorAccumulator<double> acc(
      {.aggregation = TaylorAggregation::abs_of_sum, .connections = true});
  for (Index first = 0; first < 10; first += 4) {
    const Index count = std::min<Index>(4, 10 - first);
    backward_on(net, data, first, count);
    acc.add(net, count);
  }
  CHECK(acc.batches() == 3);
  CHECK(acc.samples() == 10);
  const auto expected = neuron_scores(net, Taylor{.batch_size = 4}, data);
  const auto got = neuron_scores(net, acc);
  for (std::size_t h = 0; h < 2; ++h) CHECK(max_relative(got[h], expected[h]) < 1e-12);
  const auto expected_c = connection_scores(net, Taylor{.batch_size = 4}, data);
  const auto got_c = connection_scores(net, acc);
  for (std::size_t l = 0; l < 3; ++l) CHECK(max_relative(got_c[l], expected_c[l]) < 1e-12);
  // It is a criterion in its own right.
  const auto result = prune_neurons(net, acc, {.fraction = 0.2});
  CHECK(result.count() == 1 + 1);  // ⌊0.2·6⌋ + ⌊0.2·5⌋
}

TEST_CASE("TaylorAccumulator aggregates per batch: mean |t_b| or mean t_b²", "[prune][taylor]") {
  Mlp<double, Tanh> net({4, 6, 3}, 56);
  randomise_biases(net, 57);
  const Dataset<double> data{random_batch(4, 10, 58), labels_for(10, 3)};
  TaylorAccumulator<double> abs_acc({.aggregation = TaylorAggregation::mean_abs});
  TaylorAccumulator<double> square_acc({.connections = true});  // mean_square is the default
  // Each batch's |t_b| independently: Taylor{} (abs of the sum) on that batch alone.
  Vector<double> expected_abs = Vector<double>::Zero(6), expected_square = expected_abs;
  Matrix<double> expected_square_c = Matrix<double>::Zero(6, 4);
  for (Index first = 0; first < 10; first += 4) {
    const Index count = std::min<Index>(4, 10 - first);
    std::vector<Index> ids(static_cast<std::size_t>(count));
    std::iota(ids.begin(), ids.end(), first);
    const auto batch = data.subset(ids);
    const Vector<double> t = neuron_scores(net, Taylor{}, batch)[0];
    const Matrix<double> tc = connection_scores(net, Taylor{}, batch)[0];
    expected_abs += count * t / 10;
    expected_square += count * t.cwiseAbs2() / 10;
    expected_square_c += count * tc.cwiseAbs2() / 10;
    backward_on(net, data, first, count);
    abs_acc.add(net, count);
    square_acc.add(net, count);
  }
  CHECK(max_relative(neuron_scores(net, abs_acc)[0], expected_abs) < 1e-12);
  CHECK(max_relative(neuron_scores(net, square_acc)[0], expected_square) < 1e-12);
  CHECK(max_relative(connection_scores(net, square_acc)[0], expected_square_c) < 1e-12);
}

TEST_CASE("TaylorAccumulator follows removals, growth and inserted layers", "[prune][taylor]") {
  Mlp<double, Tanh> net({3, 5, 4, 2}, 61);
  randomise_biases(net, 62);
  const Dataset<double> data{random_batch(3, 8, 63), labels_for(8, 2)};
  TaylorAccumulator<double> acc(
      {.aggregation = TaylorAggregation::abs_of_sum, .connections = true});
  // Phase 1: two batches of 4 on the original network.
  Vector<double> phase1 = Vector<double>::Zero(5);
  for (Index first : {Index{0}, Index{4}}) {
    backward_on(net, data, first, 4);
    acc.add(net, 4);
    phase1 += 4 * signed_taylor_term(net, 0);
  }
  const auto s1 = neuron_scores(net, acc);
  const auto c1 = connection_scores(net, acc);
  CHECK(s1[0].isApprox((phase1 / 8).cwiseAbs()));

  SECTION("removal: every survivor keeps its score, wherever it moved") {
    const auto map = net.remove_neurons(0, {1, 3});
    const auto s2 = neuron_scores(net, acc);
    const auto c2 = connection_scores(net, acc);
    REQUIRE(s2[0].size() == 3);
    CHECK(s2[1] == s1[1]);
    for (Index j = 0; j < 5; ++j) {
      const Index to = map[static_cast<std::size_t>(j)];
      if (to < 0) continue;
      CHECK(s2[0](to) == s1[0](j));
      CHECK(c2[0].row(to) == c1[0].row(j));  // fan-in connections moved with the neuron
      CHECK(c2[1].col(to) == c1[1].col(j));  // and the fan-out ones
    }
    CHECK(c2[2] == c1[2]);
  }

  SECTION("growth: new neurons start at 0 and average over the batches they saw") {
    net.grow_neurons(0, 1, init::He{});
    const auto s2 = neuron_scores(net, acc);
    REQUIRE(s2[0].size() == 6);
    CHECK(s2[0].head(5) == s1[0]);
    CHECK(s2[0](5) == 0);
    CHECK(connection_scores(net, acc)[0].row(5).isZero());
    // Phase 2: one batch of 2 on the grown network.
    backward_on(net, data, 0, 2);
    acc.add(net, 2);
    const Vector<double> phase2 = 2 * signed_taylor_term(net, 0);
    const auto s3 = neuron_scores(net, acc);
    for (Index j = 0; j < 5; ++j) CHECK(s3[0](j) == Approx(std::abs(phase1(j) + phase2(j)) / 10));
    CHECK(s3[0](5) == Approx(std::abs(phase2(5)) / 2));
  }

  SECTION("an inserted layer starts at 0, the layers around it keep their sums") {
    net.insert_layer(0, init::Identity{});
    const auto s2 = neuron_scores(net, acc);
    const auto c2 = connection_scores(net, acc);
    REQUIRE(s2.size() == 3);
    CHECK(s2[0] == s1[0]);
    CHECK(s2[1].isZero());
    CHECK(s2[2] == s1[1]);
    REQUIRE(c2.size() == 4);
    CHECK(c2[0] == c1[0]);
    CHECK(c2[1].isZero());  // the new layer
    CHECK(c2[2].isZero());  // old dense layer 1 now reads the new neurons: new connections
    CHECK(c2[3] == c1[2]);
  }
}

TEST_CASE("TaylorAccumulator replays the network's journal exactly as it re-keys by neuron ids",
          "[prune][taylor]") {
  Mlp<double, Tanh> net({3, 6, 5, 2}, 71);
  randomise_biases(net, 72);
  const Dataset<double> data{random_batch(3, 8, 73), labels_for(8, 2)};
  TaylorAccumulator<double> acc({.connections = true});
  backward_on(net, data, 0, 4);
  acc.add(net, 4);
  const std::uint64_t at_add = net.journal().stamp();
  // A twin in the same state, with a copy of the accumulator: both follow the same edits, but the
  // twin's journal forgets the accumulator's state (more identity edits than it keeps), so its
  // accumulator must match neurons by id instead of replaying the edits.
  Mlp<double, Tanh> twin = net;
  TaylorAccumulator<double> twin_acc = acc;
  auto edit_both = [&](auto&& edit) {
    edit(net);
    edit(twin);
  };
  edit_both([](auto& n) { n.remove_neurons(0, {4, 1}); });
  edit_both([](auto& n) { n.grow_neurons(1, 2, init::He{}); });
  edit_both([](auto& n) { n.edit_axis(0, AxisEdit::permute({3, 0, 2, 1})); });
  for (std::size_t i = 0; i <= EditJournal::kCapacity; ++i)
    twin.edit_axis(1, AxisEdit::permute({0, 1, 2, 3, 4, 5, 6}));
  REQUIRE(net.journal().since(at_add).has_value());
  REQUIRE_FALSE(twin.journal().since(at_add).has_value());
  for (Index first : {Index{4}, Index{0}}) {
    backward_on(net, data, first, 4);
    backward_on(twin, data, first, 4);
    acc.add(net, 4);
    twin_acc.add(twin, 4);
  }
  edit_both([](auto& n) { n.remove_neurons(1, {0}); });
  const auto scores = neuron_scores(net, acc);
  CHECK(scores == neuron_scores(twin, twin_acc));
  CHECK(connection_scores(net, acc) == connection_scores(twin, twin_acc));
  // The neuron that was index 0 of layer 0 (moved to 1 by the permutation) kept its sums; the
  // grown ones of layer 1 score only the batches they saw.
  REQUIRE(scores[0].size() == 4);
  REQUIRE(scores[1].size() == 6);
  CHECK(scores[0].minCoeff() > 0);
}

TEST_CASE("a network's journal names the edits since a state, and forgets other histories",
          "[network][journal]") {
  Mlp<double, Relu> net({2, 4, 3}, 1);
  const std::uint64_t start = net.journal().stamp();
  CHECK(net.journal().since(start)->empty());
  net.grow_neurons(0, 2, init::He{});
  net.remove_neurons(0, {0});
  const auto edits = net.journal().since(start);
  REQUIRE(edits.has_value());
  REQUIRE(edits->size() == 2);
  CHECK((*edits)[0].edit.kind() == AxisEdit::Kind::grow);
  CHECK((*edits)[0].edit.new_size() == 6);
  CHECK((*edits)[1].edit.removed() == std::vector<Index>{0});
  CHECK((*edits)[1].after == net.journal().stamp());
  // A copy shares the state; after each edits on its own, neither knows the other's new state.
  Mlp<double, Relu> copy = net;
  CHECK(copy.journal().stamp() == net.journal().stamp());
  net.remove_neurons(0, {1});
  copy.remove_neurons(0, {2});
  CHECK(net.journal().stamp() != copy.journal().stamp());
  CHECK_FALSE(net.journal().since(copy.journal().stamp()).has_value());
  CHECK(copy.journal().since(start)->size() == 3);
  // A layer edit starts a new history, and a fresh network has a stamp of its own.
  net.insert_layer(0, init::Identity{});
  CHECK_FALSE(net.journal().since(start).has_value());
  CHECK(Mlp<double, Relu>({2, 4, 3}, 1).journal().stamp() != start);
}

TEST_CASE("TaylorAccumulator refuses what it cannot account for", "[prune][taylor][errors]") {
  Mlp<double, Relu> net({3, 4, 2}, 71);
  const Dataset<double> data{random_batch(3, 4, 72), labels_for(4, 2)};
  TaylorAccumulator<double> acc;
  CHECK_THROWS_WITH(
      acc.add(net, 4),
      Catch::Contains("no backward pass since it was built; call add once per batch"));
  backward_on(net, data, 0, 4);
  CHECK_THROWS_WITH(acc.add(net, 0), Catch::Contains("samples = 0"));
  acc.add(net, 4);
  CHECK_THROWS_WITH(acc.add(net, 4), Catch::Contains("no backward pass since the last add"));
  CHECK_THROWS_WITH(connection_scores(net, acc),
                    Catch::Contains("does not track connections; construct it with "
                                    "{.connections = true}"));
  Mlp<double, Relu> other({5, 4, 2}, 73);
  CHECK_THROWS_WITH(neuron_scores(other, acc),
                    Catch::Contains("the network has 5 inputs and 2 outputs (sizes {5, 4, 2}) but "
                                    "the scores were accumulated for 3 inputs and 2 outputs; call "
                                    "reset()"));
  acc.reset();
  CHECK(acc.batches() == 0);
  // Reset, it scores nothing (all zeros would prune arbitrary neurons) until it sees a batch.
  CHECK_THROWS_WITH(neuron_scores(other, acc), Catch::Contains("no batch has been accumulated"));
}

TEST_CASE("LRP relevance scores neurons by mean |R_j|", "[prune][criteria][lrp]") {
  // One hidden layer, no biases, LRP-ε with ε → 0 at the output: the relevance of hidden neuron
  // j for target t is R_j = w_tj a_j · z_t / (z_t + ε) ≈ w_tj a_j.
  Mlp<double, Relu> net({2, 3, 2}, 81);
  net.weights(0) << 1, 0,  //
      0, 1,                //
      1, 1;
  net.weights(1) << 1, 2, -1,  //
      0.5, -1, 1;
  Matrix<double> X(2, 2);
  X << 1, 2,  //
      2, 1;
  const Dataset<double> data{X, {0, 1}};
  // x = (1, 2): a = (1, 2, 3), z = (1 + 4 − 3, 0.5 − 2 + 3) = (2, 1.5), class 0:
  //   R = (1·1, 2·2, −1·3) = (1, 4, −3)
  // x = (2, 1): a = (2, 1, 3), z = (2 + 2 − 3, 1 − 1 + 3) = (1, 3), class 1:
  //   R = (0.5·2, −1·1, 1·3) = (1, −1, 3)
  // mean |R| = ((1 + 1)/2, (4 + 1)/2, (3 + 3)/2) = (1, 2.5, 3)
  const LrpRelevance criterion{.rule = lrp::Composite::uniform(lrp::Epsilon{1e-12})};
  const auto s = neuron_scores(net, criterion, data);
  CHECK(s[0].isApprox(Vector<double>{{1, 2.5, 3}}, 1e-9));
  const auto stats = lrp::aggregate(net, data, criterion.rule);
  CHECK(s[0] == stats.neuron_mean_abs[0]);
  const auto c = connection_scores(net, criterion, data);
  CHECK(c[1] == lrp::aggregate(net, data, criterion.rule).connection_mean_abs[1]);
  const auto result = prune_neurons(net, criterion, {.fraction = 0.34}, data);
  CHECK(result.removed[0] == std::vector<Index>{0});
}

TEST_CASE("data-driven criteria check their data", "[prune][criteria][errors]") {
  Mlp<double, Relu> net({2, 3, 2}, 91);
  const Dataset<double> wrong{random_batch(3, 4, 92), labels_for(4, 2)};
  CHECK_THROWS_WITH(neuron_scores(net, MeanActivation{}, wrong),
                    Catch::Contains("MeanActivation: samples have 3 features but the network "
                                    "expects 2 inputs (sizes {2, 3, 2})"));
  CHECK_THROWS_WITH(neuron_scores(net, Taylor{}, wrong),
                    Catch::Contains("Taylor: samples have 3 features"));
  CHECK_THROWS_WITH(neuron_scores(net, LrpRelevance{}, wrong),
                    Catch::Contains("LrpRelevance: samples have 3 features"));
  CHECK_THROWS_WITH(prune_neurons(net, Taylor{}, {}, wrong), Catch::Contains("3 features"));
  CHECK(net.width(0) == 3);
  CHECK_THROWS_WITH(MeanActivation{}.neuron_scores(net, nullptr),
                    Catch::Contains("no dataset was given"));
  const Dataset<double> regression{random_batch(2, 4, 93), random_batch(2, 4, 94)};
  CHECK_THROWS_WITH(neuron_scores(net, Taylor{}, regression),
                    Catch::Contains("Taylor: softmax cross-entropy needs class labels but the "
                                    "dataset has real-valued targets; use .loss = "
                                    "LossKind::mean_squared_error"));
  const Dataset<double> three_classes{random_batch(2, 3, 95), {0, 1, 2}};
  CHECK_THROWS_WITH(
      neuron_scores(net, Taylor{}, three_classes),
      Catch::Contains("Taylor: labels go up to 2 but the network has only 2 outputs"));
  const Dataset<double> ok{random_batch(2, 4, 96), labels_for(4, 2)};
  CHECK_THROWS_WITH(neuron_scores(net, MeanActivation{.batch_size = 0}, ok),
                    Catch::Contains("batch_size = 0"));
}

// -------------------------------------------------------------------------------------------------
// Selection

TEST_CASE("neuron selection per layer and global, by fraction", "[prune][selection]") {
  Mlp<double, Relu> net({2, 4, 4, 2}, 101);
  // Normalised by the layer mean: layer 0 (mean 2.5) → 0.4, 0.8, 1.2, 1.6;
  //                               layer 1 (mean 40)  → 0.25, 0.5, 0.75, 2.5.
  const NeuronScores<double> scores{Vector<double>{{1, 2, 3, 4}},
                                    Vector<double>{{10, 20, 30, 100}}};
  using V = std::vector<Index>;

  SECTION("per layer: ⌊fraction · width⌋ of each layer") {
    auto s = select_neurons(net, scores, {.fraction = 0.25});
    CHECK(s.neurons == std::vector<V>{{0}, {0}});
    s = select_neurons(net, scores, {.fraction = 0.5});
    CHECK(s.neurons == std::vector<V>{{0, 1}, {0, 1}});
    CHECK(s.count() == 4);
    s = select_neurons(net, scores, {.fraction = 0.2});  // ⌊0.8⌋ = 0
    CHECK(s.count() == 0);
    s = select_neurons(net, scores, {});  // default: 0.2
    CHECK(s.count() == 0);
  }
  SECTION("global: ⌊fraction · all⌋ lowest normalised scores") {
    // ⌊0.25·8⌋ = 2: 0.25 (layer 1, n0), 0.4 (layer 0, n0)
    auto s = select_neurons(net, scores, {.fraction = 0.25, .scope = PruneScope::global});
    CHECK(s.neurons == std::vector<V>{{0}, {0}});
    // ⌊0.5·8⌋ = 4: 0.25 (1, n0), 0.4 (0, n0), 0.5 (1, n1), 0.75 (1, n2)
    s = select_neurons(net, scores, {.fraction = 0.5, .scope = PruneScope::global});
    CHECK(s.neurons == std::vector<V>{{0}, {0, 1, 2}});
  }
  SECTION("global on raw scores lets the small-scale layer lose most") {
    // Raw: 1, 2, 3, 4 (layer 0) come before 10 (layer 1); layer 0 keeps one neuron (min width 1).
    const auto s = select_neurons(
        net, scores,
        {.fraction = 0.5, .scope = PruneScope::global, .normalization = ScoreNormalization::none});
    CHECK(s.neurons == std::vector<V>{{0, 1, 2}, {0}});
    CHECK(s.held_back == V{1, 0});
  }
  SECTION("other normalisations") {
    // layer max: layer 0 → 0.25, 0.5, 0.75, 1; layer 1 → 0.1, 0.2, 0.3, 1
    auto s = select_neurons(net, scores,
                            {.fraction = 0.25,
                             .scope = PruneScope::global,
                             .normalization = ScoreNormalization::layer_max});
    CHECK(s.neurons == std::vector<V>{{}, {0, 1}});
    // layer L2: layer 0 ÷ √30 → 0.183, 0.365, …; layer 1 ÷ √11400 → 0.094, 0.187, …
    s = select_neurons(net, scores,
                       {.fraction = 0.375,
                        .scope = PruneScope::global,
                        .normalization = ScoreNormalization::layer_l2});
    CHECK(s.neurons == std::vector<V>{{0}, {0, 1}});
  }
  SECTION("only the listed layers") {
    const auto s = select_neurons(net, scores, {.fraction = 0.5, .layers = {1}});
    CHECK(s.neurons == std::vector<V>{{}, {0, 1}});
  }
  SECTION("ties go to the higher index, which moves nothing when removed") {
    const NeuronScores<double> flat{Vector<double>::Ones(4), Vector<double>::Ones(4)};
    const auto s = select_neurons(net, flat, {.fraction = 0.5});
    CHECK(s.neurons == std::vector<V>{{2, 3}, {2, 3}});
  }
}

TEST_CASE("neuron selection by threshold, with a fraction as a cap", "[prune][selection]") {
  Mlp<double, Relu> net({2, 4, 4, 2}, 102);
  const NeuronScores<double> scores{Vector<double>{{1, 2, 3, 4}},
                                    Vector<double>{{10, 20, 30, 100}}};
  using V = std::vector<Index>;
  // Normalised 0.4, 0.8, 1.2, 1.6 and 0.25, 0.5, 0.75, 2.5; below 0.6: {0} and {0, 1}.
  for (auto scope : {PruneScope::per_layer, PruneScope::global}) {
    const auto s = select_neurons(net, scores, {.threshold = 0.6, .scope = scope});
    CHECK(s.neurons == std::vector<V>{{0}, {0, 1}});
  }
  // Below 1.0: {0, 1} and {0, 1, 2}, at most ⌊0.25·4⌋ = 1 per layer: the lowest.
  auto s = select_neurons(net, scores, {.fraction = 0.25, .threshold = 1.0});
  CHECK(s.neurons == std::vector<V>{{0}, {0}});
  // Raw threshold 15: all of layer 0 qualifies but one neuron must stay.
  s = select_neurons(net, scores, {.threshold = 15, .normalization = ScoreNormalization::none});
  CHECK(s.neurons == std::vector<V>{{0, 1, 2}, {0}});
  CHECK(s.held_back == V{1, 0});
  s = select_neurons(net, scores, {.threshold = 0});  // nothing is below 0
  CHECK(s.count() == 0);
}

TEST_CASE("neuron selection respects minimum widths", "[prune][selection][errors]") {
  Mlp<double, Relu> net({2, 4, 4, 2}, 103);
  const NeuronScores<double> scores{Vector<double>{{1, 2, 3, 4}},
                                    Vector<double>{{10, 20, 30, 100}}};
  using V = std::vector<Index>;
  net.set_min_width(1, 3);
  SECTION("per layer: clamped, reported, or refused") {
    auto s = select_neurons(net, scores, {.fraction = 0.5});
    CHECK(s.neurons == std::vector<V>{{0, 1}, {0}});
    CHECK(s.held_back == V{0, 1});
    CHECK_THROWS_WITH(
        select_neurons(net, scores, {.fraction = 0.5, .at_min_width = AtMinWidth::error}),
        Catch::Contains("would remove 2 of the 4 neurons of hidden layer 1, leaving fewer than "
                        "its minimum width 3 (set_min_width)"));
  }
  SECTION("global: the quota is filled from layers that can still lose neurons") {
    // Wanted (⌊0.5·8⌋ = 4): 0.25 (1, n0), 0.4 (0, n0), 0.5 (1, n1), 0.75 (1, n2). Layer 1 may lose
    // only one, so 0.8 (0, n1) and 1.2 (0, n2) come in instead.
    const auto s = select_neurons(net, scores, {.fraction = 0.5, .scope = PruneScope::global});
    CHECK(s.neurons == std::vector<V>{{0, 1, 2}, {0}});
    CHECK(s.held_back == V{0, 2});
  }
  SECTION("prune_neurons applies the clamped selection") {
    const auto r = prune_neurons(net, MagnitudeL1{}, {.threshold = 10});  // everything qualifies
    CHECK(net.width(0) == 1);
    CHECK(net.width(1) == 3);
    CHECK(r.held_back == V{1, 3});
    CHECK(r.count() == 3 + 1);
  }
}

TEST_CASE("selection errors name what is wrong and how to fix it", "[prune][selection][errors]") {
  Mlp<double, Relu> net({2, 4, 3, 2}, 104);
  const NeuronScores<double> scores{Vector<double>::Ones(4), Vector<double>::Ones(3)};
  CHECK_THROWS_WITH(select_neurons(net, scores, {.fraction = 1.0}),
                    Catch::Contains("select_neurons: fraction = 1 is outside [0, 1)"));
  CHECK_THROWS_WITH(select_neurons(net, scores, {.fraction = -0.1}),
                    Catch::Contains("fraction = -0.1 is outside [0, 1)"));
  CHECK_THROWS_WITH(select_neurons(net, scores, {.fraction = std::nan("")}),
                    Catch::Contains("is outside [0, 1)"));
  CHECK_THROWS_WITH(select_neurons(net, scores, {.threshold = -1}),
                    Catch::Contains("threshold = -1 is invalid; it must be finite and ≥ 0"));
  CHECK_THROWS_WITH(select_neurons(net, NeuronScores<double>{scores[0]}, {}),
                    Catch::Contains("1 score vectors for a network with 2 hidden layers"));
  CHECK_THROWS_WITH(
      select_neurons(net, NeuronScores<double>{scores[0], Vector<double>::Ones(4)}, {}),
      Catch::Contains("scores[1] has 4 entries but hidden layer 1 has 3 neurons"));
  NeuronScores<double> bad = scores;
  bad[1](2) = std::nan("");
  CHECK_THROWS_WITH(select_neurons(net, bad, {}), Catch::Contains("scores[1](2) is nan"));
  bad[1](2) = -0.5;
  CHECK_THROWS_WITH(select_neurons(net, bad, {}),
                    Catch::Contains("scores[1](2) = -0.5 is negative"));
  CHECK_NOTHROW(select_neurons(net, bad, {.normalization = ScoreNormalization::none}));
  CHECK_THROWS_WITH(select_neurons(net, scores, {.layers = {2}}),
                    Catch::Contains("layers lists hidden layer 2, which does not exist (the "
                                    "network has 2 hidden layers: 0..1)"));
  CHECK_THROWS_WITH(select_neurons(net, scores, {.layers = {1, 1}}),
                    Catch::Contains("layers lists hidden layer 1 twice"));
  CHECK_THROWS_WITH(select_connections(net, ConnectionScores<double>{Matrix<double>::Ones(4, 2)}),
                    Catch::Contains("1 score matrices for a network with 3 dense layers"));
  CHECK_THROWS_WITH(select_connections(net, ConnectionScores<double>{Matrix<double>::Ones(4, 2),
                                                                     Matrix<double>::Ones(4, 3),
                                                                     Matrix<double>::Ones(2, 3)}),
                    Catch::Contains("scores[1] is 4 × 3 but weights(1) is 3 × 4"));
  CHECK_THROWS_WITH(remove_selected_neurons(net, NeuronSelection{.neurons = {{0}, {7}}}),
                    Catch::Contains("neuron 7 does not exist in hidden layer 1"));
  CHECK(net.width(0) == 4);  // checked before anything was removed
}

TEST_CASE("connection pruning masks the lowest |w| among the active connections",
          "[prune][selection][connections]") {
  Mlp<double, Relu> net({2, 3, 2}, 111);
  net.weights(0) << 0.1, -2,  //
      0.5, -0.05,             //
      3, 1;
  net.weights(1) << 1, -0.2, 0.3,  //
      -4, 0.01, 2;

  SECTION("per layer, by fraction, repeatedly") {
    // ⌊0.5·6⌋ = 3 per layer. Layer 0: 0.05 (1,1), 0.1 (0,0), 0.5 (1,0).
    //                        Layer 1: 0.01 (1,1), 0.2 (0,1), 0.3 (0,2).
    auto r = prune_connections_by(net, MagnitudeL1{}, {.fraction = 0.5});
    CHECK(r.pruned == std::vector<Index>{3, 3});
    Matrix<double> m0(3, 2), m1(2, 3);
    m0 << 0, 1, 0, 0, 1, 1;
    m1 << 1, 0, 0, 1, 0, 1;
    CHECK(net.connection_mask(0) == m0);
    CHECK(net.connection_mask(1) == m1);
    CHECK(net.weights(0)(1, 1) == 0);
    // Again: ⌊0.5·3⌋ = 1 of the remaining active ones: |1| (2,1) and |1| (0,0).
    r = prune_connections_by(net, MagnitudeL1{}, {.fraction = 0.5});
    CHECK(r.count() == 2);
    CHECK(net.connection_mask(0)(2, 1) == 0);
    CHECK(net.connection_mask(1)(0, 0) == 0);
    // Hidden neuron 1 lost its whole fan-in (and fan-out): remove_dead_neurons takes it.
    const auto map = net.remove_dead_neurons(0);
    CHECK(map == std::vector<Index>{0, -1, 1});
  }
  SECTION("by raw threshold, and only in the listed layers") {
    const auto masks =
        select_connections(net, connection_scores(net, MagnitudeL1{}),
                           {.threshold = 0.25, .normalization = ScoreNormalization::none});
    CHECK(masks[0](0, 0) == 0);
    CHECK(masks[0](1, 1) == 0);
    CHECK((masks[0].array() == 0).count() == 2);
    CHECK((masks[1].array() == 0).count() == 2);
    const auto r = prune_connections_by(
        net, MagnitudeL1{},
        {.threshold = 0.25, .normalization = ScoreNormalization::none, .layers = {1}});
    CHECK(r.pruned == std::vector<Index>{0, 2});
  }
  SECTION("a layer keeps at least one connection") {
    const auto r = prune_connections_by(
        net, MagnitudeL1{}, {.threshold = 100, .normalization = ScoreNormalization::none});
    CHECK(r.pruned == std::vector<Index>{5, 5});
    CHECK(net.connection_mask(0)(2, 0) == 1);  // |3|, the largest
    CHECK(net.connection_mask(1)(1, 0) == 1);  // |−4|
  }
  SECTION("global, normalised by each layer's mean over its active connections") {
    // Layer 0 mean |w| = 6.65/6 = 1.108, layer 1 mean = 7.51/6 = 1.252. Normalised lowest:
    // 0.01/1.252 = 0.008 (1: 1,1), 0.05/1.108 = 0.045 (0: 1,1), 0.1/1.108 = 0.090 (0: 0,0),
    // then 0.2/1.252 = 0.160 (1: 0,1).
    const auto r =
        prune_connections_by(net, MagnitudeL1{}, {.fraction = 0.25, .scope = PruneScope::global});
    CHECK(r.pruned == std::vector<Index>{2, 1});  // ⌊0.25·12⌋ = 3
    CHECK(net.connection_mask(1)(1, 1) == 0);
    CHECK(net.connection_mask(0)(1, 1) == 0);
    CHECK(net.connection_mask(0)(0, 0) == 0);
  }
}

TEST_CASE("Taylor connection pruning on data", "[prune][selection][connections][taylor]") {
  Mlp<float, Relu> net({4, 8, 3}, 121);
  const Dataset<float> data{random_batch(4, 16, 122).cast<float>(), labels_for(16, 3)};
  const auto scores = connection_scores(net, Taylor{}, data);
  const auto r = prune_connections_by(net, Taylor{}, {.fraction = 0.5}, data);
  CHECK(r.pruned == std::vector<Index>{16, 12});
  // What was pruned scored no higher than anything kept, layer by layer.
  for (Index l = 0; l < 2; ++l) {
    const Matrix<float> mask = net.connection_mask(l);
    const Matrix<float>& s = scores[static_cast<std::size_t>(l)];
    float max_pruned = 0;
    float min_kept = std::numeric_limits<float>::infinity();
    for (Index i = 0; i < s.size(); ++i) {
      if (mask(i) == 0)
        max_pruned = std::max(max_pruned, s(i));
      else
        min_kept = std::min(min_kept, s(i));
    }
    CHECK(max_pruned <= min_kept);
  }
}

TEST_CASE("a TaylorAccumulator without a batch refuses to score", "[prune][taylor][errors]") {
  Mlp<double, Relu> net({3, 6, 2}, 7);
  const TaylorAccumulator<double> empty;
  CHECK_THROWS_WITH(neuron_scores(net, empty), Catch::Contains("no batch has been accumulated"));
  CHECK_THROWS_WITH(prune_neurons(net, empty, {.fraction = 0.5}),
                    Catch::Contains("no batch has been accumulated"));
  CHECK(net.sizes() == std::vector<Index>{3, 6, 2});
}
