// Mlp: construction, accessors, forward against a hand computation, errors, axis edits that keep
// every bound tensor in step, capacity, and connection masks.

#include <catch2/catch.hpp>

#include "neuroplast/neuroplast.hpp"
#include "support/fixtures.hpp"

using namespace neuroplast;
using namespace neuroplast::testing;

namespace {

// One Adam step of `net` on a fixed batch with softmax cross-entropy.
}  // namespace

TEST_CASE("Mlp reports the API.md shapes and counts", "[network]") {
  Mlp<double, Relu> net({5, 7, 6, 3}, 42);
  CHECK(net.sizes() == std::vector<Index>{5, 7, 6, 3});
  CHECK(net.layer_count() == 3);
  CHECK(net.hidden_layer_count() == 2);
  CHECK(net.parameter_count() == 5 * 7 + 7 + 7 * 6 + 6 + 6 * 3 + 3);
  CHECK(net.weights(1).rows() == 6);
  CHECK(net.weights(1).cols() == 7);
  CHECK(net.bias(2).size() == 3);
  CHECK(net.connection_mask(0).isOnes());
  CHECK(net.bias(0).isZero());
}

TEST_CASE("forward equals the layer-by-layer formula", "[network]") {
  Mlp<double, Tanh> net({4, 5, 3, 2}, 1);
  net.bias(0).setConstant(0.1);
  net.bias(2).setConstant(-0.2);
  const Matrix<double> X = random_batch(4, 7, 2);
  Matrix<double> h0 = (net.weights(0) * X).colwise() + Vector<double>(net.bias(0));
  h0 = h0.array().tanh();
  Matrix<double> h1 =
      ((net.weights(1) * h0).colwise() + Vector<double>(net.bias(1))).array().tanh();
  const Matrix<double> expected = (net.weights(2) * h1).colwise() + Vector<double>(net.bias(2));
  CHECK(relative_difference(net.forward(X), expected) < 1e-14);
  const auto pred = net.predict(X);
  for (Index c = 0; c < X.cols(); ++c) {
    Index best;
    expected.col(c).maxCoeff(&best);
    CHECK(pred[static_cast<std::size_t>(c)] == best);
  }
}

TEST_CASE("initialisation is deterministic and scaled for the activation", "[network][init]") {
  Mlp<float, Relu> a({300, 400, 10}, 7), b({300, 400, 10}, 7), c({300, 400, 10}, 8);
  CHECK(Matrix<float>(a.weights(0)) == Matrix<float>(b.weights(0)));
  CHECK(Matrix<float>(a.weights(0)) != Matrix<float>(c.weights(0)));
  // He normal: std √(2/300) ≈ 0.0816 over 120000 draws (relative standard error 0.2%).
  const Matrix<double> w = a.weights(0).cast<double>();
  const double stddev = std::sqrt(w.array().square().mean());
  CHECK(stddev == Approx(std::sqrt(2.0 / 300)).epsilon(0.01));
  // Glorot uniform on the output layer: all within ±√(6/(400+10)).
  CHECK(a.weights(1).cwiseAbs().maxCoeff() <= std::sqrt(6.0f / 410.0f));
  Mlp<double, Tanh> t({300, 400, 10}, 7);
  CHECK(t.weights(0).cwiseAbs().maxCoeff() <= std::sqrt(6.0 / 700.0));
}

TEST_CASE("bad construction and bad indices throw clear errors", "[network][errors]") {
  CHECK_THROWS_WITH((Mlp<double, Relu>({5}, 1)),
                    Catch::Contains("at least the inputs and the outputs"));
  CHECK_THROWS_WITH((Mlp<double, Relu>({5, 0, 3}, 1)), Catch::Contains("sizes[1] = 0"));
  Mlp<double, Relu> net({5, 7, 3}, 1);
  CHECK_THROWS_WITH(
      net.weights(2),
      Catch::Contains("weights: layer 2 does not exist (the network has 2 dense layers: 0..1)"));
  CHECK_THROWS_AS(net.bias(-1), Error);
  CHECK_THROWS_AS(net.connection_mask(5), Error);
  CHECK_THROWS_WITH(
      net.reserve(1, 10),
      Catch::Contains("hidden layer 1 does not exist (the network has 1 hidden layers: 0..0)"));
  CHECK_THROWS_WITH(
      net.forward(Matrix<double>::Zero(4, 2)),
      Catch::Contains("input has 4 features (rows) but the network expects 5 inputs"));
  CHECK_THROWS_WITH(net.forward(Matrix<double>::Zero(5, 0)), Catch::Contains("empty"));
  Matrix<double> bad = Matrix<double>::Zero(5, 2);
  bad(3, 1) = std::numeric_limits<double>::quiet_NaN();
  CHECK_THROWS_AS(net.forward(bad), NumericError);
}

TEST_CASE("a refused prune leaves the network exactly as it was", "[network][mask][errors]") {
  Mlp<double, Relu> net({3, 4, 2}, 5);
  const Matrix<double> before = net.weights(0);
  CHECK_THROWS_WITH(net.prune_connections(0, Matrix<double>::Ones(3, 4)),
                    Catch::Contains("mask is 3 × 4 but weights(0) is 4 × 3"));
  Matrix<double> two = Matrix<double>::Ones(4, 3);
  two(1, 1) = 2;
  CHECK_THROWS_WITH(net.prune_connections(0, two), Catch::Contains("entries other than 0 and 1"));
  CHECK(Matrix<double>(net.weights(0)) == before);
  CHECK(net.connection_mask(0).isOnes());
}

TEST_CASE("pruned connections are zero and stay zero through Adam with weight decay",
          "[network][mask]") {
  Mlp<double, Relu> net({4, 6, 3}, 11);
  Matrix<int> mask = Matrix<int>::Ones(6, 4);
  mask(0, 0) = 0;
  mask(2, 3) = 0;
  mask.row(5).setZero();
  net.prune_connections(0, mask);  // any Eigen expression, converted to the scalar type
  CHECK(net.weights(0)(0, 0) == 0);
  CHECK(net.weights(0).row(5).isZero());
  const Matrix<double> X = random_batch(4, 16, 3);
  std::vector<int> labels(16);
  for (std::size_t i = 0; i < labels.size(); ++i) labels[i] = static_cast<int>(i % 3);
  AdamW<double> opt{.learning_rate = 0.05, .weight_decay = 0.1};
  for (int step = 0; step < 50; ++step) train_step(net, opt, X, labels);
  CHECK(net.weights(0)(0, 0) == 0);
  CHECK(net.weights(0)(2, 3) == 0);
  CHECK(net.weights(0).row(5).isZero());
  CHECK(net.weight_gradient(0)(0, 0) == 0);
  // An Array expression (here of bools) is a mask too: the smallest surviving weight of row 1.
  const double cut = net.weights(0).row(1).cwiseAbs().minCoeff();
  net.prune_connections(0, net.weights(0).array().abs() > cut);
  CHECK(net.connection_mask(0).row(1).sum() == 3);
  CHECK(net.connection_mask(0)(0, 0) == 0);
  CHECK(net.weights(0)(2, 3) == 0);
  const auto& state = net.layer_params(0).weight_param().state;
  REQUIRE(state.size() == 2);
  CHECK(state[0].view()(0, 0) == 0);
  CHECK(state[1].view()(2, 3) == 0);
  CHECK(net.weights(0)(1, 1) != 0);
  // A user write into a masked entry is undone by apply_masks().
  net.weights(0)(0, 0) = 5;
  net.apply_masks();
  CHECK(net.weights(0)(0, 0) == 0);
}

TEST_CASE("axis edits keep the network's function and every bound tensor in step",
          "[network][axis]") {
  Mlp<double, Relu> net({4, 6, 5, 3}, 21);
  const Matrix<double> X = random_batch(4, 9, 4);
  const Matrix<double> before = net.forward(X);

  SECTION("growing with zero fan-in and fan-out changes nothing") {
    net.edit_axis(0, AxisEdit::grow(6, 3));
    CHECK(net.sizes() == std::vector<Index>{4, 9, 5, 3});
    CHECK(relative_difference(net.forward(X), before) < 1e-14);
    CHECK(net.neuron_ids(0).size() == 9);
    CHECK(net.neuron_ids(0)[6] != net.neuron_ids(0)[0]);
  }
  SECTION("permuting a hidden axis changes nothing but the summation order") {
    const auto ids = net.neuron_ids(1);
    net.edit_axis(1, AxisEdit::permute({4, 2, 0, 1, 3}));
    CHECK(relative_difference(net.forward(X), before) < 1e-14);
    CHECK(net.neuron_ids(1)[0] == ids[4]);
  }
  SECTION("removing a neuron whose fan-out is zero changes nothing") {
    net.weights(1).col(2).setZero();  // neuron 2 of hidden layer 0 feeds nothing
    const Matrix<double> silent = net.forward(X);
    const auto ids = net.neuron_ids(0);
    const auto map = net.remove_neurons(0, {2});
    CHECK(net.sizes() == std::vector<Index>{4, 5, 5, 3});
    CHECK(map[2] == -1);
    CHECK(map[5] == 2);
    CHECK(net.neuron_ids(0)[2] == ids[5]);
    CHECK(relative_difference(net.forward(X), silent) < 1e-14);
  }
  SECTION("a stale edit is refused") {
    CHECK_THROWS_WITH(net.edit_axis(0, AxisEdit::grow(5, 1)),
                      Catch::Contains("edit is for an axis of 5 neurons but hidden layer 0 has 6"));
    CHECK(net.sizes() == std::vector<Index>{4, 6, 5, 3});
  }
}

TEST_CASE("optimizer state follows a permutation of the axis", "[network][axis][optim]") {
  // Train two copies; permute one's hidden axis midway. The permuted copy must keep training
  // exactly like the original, up to the permutation: state moved with its neurons.
  Mlp<double, Tanh> a({3, 5, 2}, 8);
  const Matrix<double> X = random_batch(3, 10, 6);
  std::vector<int> labels{0, 1, 1, 0, 1, 0, 0, 1, 1, 0};
  Adam<double> opt_a{.learning_rate = 0.01};
  for (int i = 0; i < 5; ++i) train_step(a, opt_a, X, labels);
  Mlp<double, Tanh> b = a;
  Adam<double> opt_b = opt_a;
  const std::vector<Index> order{3, 0, 4, 1, 2};
  b.edit_axis(0, AxisEdit::permute(order));
  for (int i = 0; i < 5; ++i) {
    train_step(a, opt_a, X, labels);
    train_step(b, opt_b, X, labels);
  }
  for (Index i = 0; i < 5; ++i) {
    const Index from = order[static_cast<std::size_t>(i)];
    CHECK((b.weights(0).row(i) - a.weights(0).row(from)).cwiseAbs().maxCoeff() < 1e-13);
    CHECK((b.weights(1).col(i) - a.weights(1).col(from)).cwiseAbs().maxCoeff() < 1e-13);
    CHECK(std::abs(b.bias(0)(i) - a.bias(0)(from)) < 1e-13);
  }
}

TEST_CASE("reserve keeps storage in place while the axis grows", "[network][capacity]") {
  Mlp<float, Relu> net({8, 4, 3}, 2);
  net.reserve(0, 64);
  CHECK(net.capacity(0) >= 64);
  const float* w0 = net.weights(0).data();
  const float* w1 = net.weights(1).data();
  for (Index k = 4; k < 64; k += 6) net.edit_axis(0, AxisEdit::grow(net.sizes()[1], 6));
  CHECK(net.sizes()[1] == 64);
  CHECK(net.weights(0).data() == w0);
  CHECK(net.weights(1).data() == w1);
  net.edit_axis(0, AxisEdit::grow(64, 1));  // past capacity: moves, values kept
  CHECK(net.weights(0).data() != w0);
  CHECK(net.capacity(0) >= 96);
}

TEST_CASE("backward and full_weight_gradient need the training pass they go back through",
          "[network][errors]") {
  Mlp<double, Relu> net({3, 4, 2}, 5);
  Workspace<double> ws;
  const Matrix<double> X = random_batch(3, 6, 1);
  const auto steps = net.training_steps();
  CHECK_THROWS_WITH(net.backward(X, ws), Catch::Contains("holds no training pass"));
  CHECK_THROWS_WITH(net.full_weight_gradient(0, X, ws), Catch::Contains("holds no training pass"));
  net.forward_train(X, ws);
  CHECK_THROWS_WITH(net.full_weight_gradient(0, X, ws), Catch::Contains("holds no backward pass"));
  CHECK_THROWS_WITH(net.backward(random_batch(3, 5, 2), ws),
                    Catch::Contains("X is 3 × 5 but the forward_train pass was over 3 × 6"));
  net.forward(X, ws);  // an inference pass replaces the training pass
  CHECK_THROWS_WITH(net.backward(X, ws), Catch::Contains("holds no training pass"));
  net.forward_train(X, ws);
  net.grow_neurons(0, 2, init::ZeroFanOut{});
  CHECK_THROWS_WITH(net.backward(X, ws), Catch::Contains("edited after the forward_train pass"));
  CHECK(net.training_steps() == steps);  // no refused pass counted
  net.forward_train(X, ws);
  ws.output_gradient().setOnes();
  net.backward(X, ws);
  CHECK(net.training_steps() == steps + 1);
  const Matrix<double> g = net.full_weight_gradient(1, X, ws);
  CHECK(g.isApprox(ws.delta(1) * Matrix<double>(ws.activation(0)).transpose()));
  CHECK_THROWS_AS(net.full_weight_gradient(2, X, ws), Error);
}

TEST_CASE("edits refuse what no axis can take and accept what changes nothing",
          "[network][errors]") {
  Mlp<double, Relu> net({3, 4, 2}, 5);
  const Matrix<double> w0 = net.weights(0);
  CHECK_THROWS_WITH(net.edit_axis(0, AxisEdit::permute({0, 0, 3, 1})),
                    Catch::Contains("not a permutation"));
  CHECK_THROWS_WITH(AxisEdit::permute({0, 4, 1, 2}), Catch::Contains("not a permutation"));
  CHECK_THROWS_WITH(AxisEdit::remove(4, {7}), Catch::Contains("neuron 7 is not on an axis of 4"));
  CHECK_THROWS_WITH(AxisEdit::remove(4, {1, 1}), Catch::Contains("listed twice"));
  CHECK_THROWS_WITH(AxisEdit::remove(4, {0, 1, 2, 3}), Catch::Contains("would empty the axis"));
  CHECK_THROWS_WITH(AxisEdit::grow(4, -2), Catch::Contains("count = -2"));
  CHECK_THROWS_WITH(net.reserve(0, -5), Catch::Contains("neurons = -5"));
  CHECK_THROWS_WITH(net.grow_neurons(0, std::numeric_limits<Index>::max(), init::ZeroFanOut{}),
                    Catch::Contains("fewer than 2^31 neurons"));
  CHECK(net.sizes() == std::vector<Index>{3, 4, 2});
  CHECK(Matrix<double>(net.weights(0)) == w0);
  net.edit_axis(0, AxisEdit::permute({3, 2, 1, 0}));  // a valid edit still goes through
  CHECK(net.weights(0).row(0) == w0.row(3));
  // Grown pruned connections are ranked by their scores: a NaN has no rank.
  Matrix<double> mask = Matrix<double>::Ones(4, 3);
  mask(0, 0) = mask(1, 1) = 0;
  net.prune_connections(0, mask);
  Matrix<double> scores = Matrix<double>::Ones(4, 3);
  scores(1, 1) = std::numeric_limits<double>::quiet_NaN();
  CHECK_THROWS_WITH(net.grow_connections(0, 1, scores),
                    Catch::Contains("pruned connection (1, 1) of layer 0 is NaN"));
  CHECK(net.connection_mask(0)(0, 0) == 0);
}

TEST_CASE("a moved-from network is empty, not sizes without storage", "[network][errors]") {
  Mlp<double, Relu> a({3, 4, 2}, 5);
  const Matrix<double> X = random_batch(3, 2, 1);
  const Matrix<double> expected = a.forward(X);
  Mlp<double, Relu> b = std::move(a);
  CHECK(b.forward(X) == expected);
  CHECK(a.input_size() == 0);  // NOLINT(bugprone-use-after-move): what a moved-from one does
  CHECK_THROWS_AS(a.forward(X), Error);
  // A batch of 0 rows matches its 0 inputs: still refused (predict used to abort on 0 logits).
  const Matrix<double> none(0, 2);
  Workspace<double> ws;
  CHECK_THROWS_WITH(a.forward(none), Catch::Contains("forward: the network is empty"));
  CHECK_THROWS_WITH(a.forward(none, ws), Catch::Contains("forward: the network is empty"));
  CHECK_THROWS_WITH(a.predict(none), Catch::Contains("predict: the network is empty"));
  CHECK_THROWS_WITH(InferenceSnapshot<double>(a),
                    Catch::Contains("InferenceSnapshot: the network is empty"));
  a = b;  // and it can be assigned to
  CHECK(a.forward(X) == expected);
  GrowableMatrix<double> m(3, 2);
  GrowableMatrix<double> n(std::move(m));
  CHECK(m.rows() == 0);  // NOLINT(bugprone-use-after-move)
  CHECK(m.cols() == 0);
  CHECK(n.rows() == 3);
}

TEST_CASE("non-finite inputs and parameters are refused where they would become NaN answers",
          "[network][errors]") {
  Mlp<double, Relu> net({3, 4, 2}, 5);
  Matrix<double> X = random_batch(3, 4, 1);
  X(1, 2) = std::numeric_limits<double>::quiet_NaN();
  Workspace<double> ws;
  CHECK_THROWS_AS(net.forward_sampled(X, ws), NumericError);
  net.grow_neurons(0, 2, init::ZeroFanOut{});
  const Vector<double> bias = net.bias(0);
  CHECK_THROWS_WITH(centre_new_biases(net, 0, 2, X), Catch::Contains("centre_new_biases"));
  CHECK(Vector<double>(net.bias(0)) == bias);
  net.weights(1)(0, 0) = std::numeric_limits<double>::infinity();
  CHECK_THROWS_AS(InferenceSnapshot<double>(net), NumericError);
}

TEST_CASE("forward and predict answer non-finite logits with NumericError saying why",
          "[network][errors]") {
  Mlp<float, Relu> net({3, 4, 2}, 5);
  net.weights(0).setConstant(0.5f);  // three inputs of 3e38 then sum past float's 3.4e38
  const Matrix<float> X = random_batch(3, 4, 1).cast<float>();
  const Matrix<float> logits = net.forward(X);
  const InferenceSnapshot<float> snapshot(net);
  // Finite parameters, an input too large for float: the logits of that sample overflow.
  Matrix<float> huge = X;
  huge.col(2).setConstant(3e38f);
  CHECK_THROWS_MATCHES(net.forward(huge), NumericError,
                       WhatHas({"forward: the logits of sample 2 (column) overflowed"}));
  CHECK_THROWS_MATCHES(net.predict(huge), NumericError,
                       WhatHas({"predict: the logits of sample 2"}));
  CHECK_THROWS_MATCHES(snapshot.forward(huge), NumericError,
                       WhatHas({"InferenceSnapshot::forward: the logits of sample 2"}));
  CHECK_THROWS_AS(snapshot.predict(huge), NumericError);
  // A parameter written as NaN outside training: the message names its layer.
  const float kept = net.bias(1)(1);
  net.bias(1)(1) = std::numeric_limits<float>::quiet_NaN();
  CHECK_THROWS_MATCHES(net.forward(X), NumericError,
                       WhatHas({"forward: the logits hold NaN or infinity because the bias of "
                                "layer 1 is not finite"}));
  CHECK_THROWS_MATCHES(net.predict(X), NumericError,
                       WhatHas({"predict", "the bias of layer 1 is not finite"}));
  // The workspace pass leaves the check to its caller (the trainer checks its losses).
  Workspace<float> ws;
  CHECK_FALSE(Matrix<float>(net.forward(X, ws)).allFinite());
  net.bias(1)(1) = kept;
  CHECK(net.forward(X) == logits);
}
