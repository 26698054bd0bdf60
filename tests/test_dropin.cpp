// Dropin (issue 3): neurons, connections and layers added in place. Function preservation,
// gradients after growth, optimizer state of old and new parameters, capacity, records, errors.

#include <catch2/catch.hpp>

#include "support/fixtures.hpp"
#include "support/gradient_check.hpp"

using namespace neuroplast;
using namespace neuroplast::testing;
using neuroplast::testing::check_gradients;

namespace {

template <class Net>
auto sce(const std::vector<int>& y) {
  return [&y](const auto& logits, MatrixView<double>* g) {
    return SoftmaxCrossEntropy::evaluate(logits, Targets<double>{.labels = y}, g);
  };
}

const std::vector<std::vector<Index>> kShapes = {{5, 7, 3}, {5, 7, 6, 3}, {4, 6, 5, 4, 3}};

}  // namespace

TEMPLATE_TEST_CASE("function-preserving growth leaves forward unchanged", "[dropin][grow]", Relu,
                   Tanh, Sigmoid) {
  for (const auto& shape : kShapes) {
    for (Index h = 0; h + 2 < static_cast<Index>(shape.size()); ++h) {
      Mlp<double, TestType> net(shape, 3);
      randomise_biases(net, 4);
      const Matrix<double> X = random_batch(shape[0], 11, 5);
      const Matrix<double> before = net.forward(X);
      INFO("shape " << detail::format_sizes(shape) << " hidden layer " << h);
      SECTION("ZeroFanOut") {
        net.grow_neurons(h, 4, init::ZeroFanOut{});
        CHECK(relative_difference(net.forward(X), before) <= 1e-12);
        CHECK(net.weights(h).bottomRows(4).cwiseAbs().maxCoeff() > 0);  // random fan-in
      }
      SECTION("Net2Wider, random sources, with symmetry-breaking noise") {
        net.grow_neurons(h, 5, init::Net2Wider{.noise = 0.1});
        CHECK(relative_difference(net.forward(X), before) <= 1e-12);
      }
      SECTION("Net2Wider, given sources including a repeated one") {
        net.grow_neurons(h, 3, init::Net2Wider{.sources = {1, 1, 0}});
        CHECK(relative_difference(net.forward(X), before) <= 1e-12);
        const Index w = shape[static_cast<std::size_t>(h + 1)];
        CHECK(net.weights(h).row(w) == net.weights(h).row(1));  // copied fan-in
        CHECK(net.weights(h + 1).col(w).isApprox(
            net.weights(h + 1).col(1)));  // equal shares of a third
      }
      SECTION("GradMax (fan-out from the gradient, constant output folded into the next bias)") {
        const auto y = labels_for(X.cols(), shape.back());
        net.grow_neurons(h, 2, init::GradMax<double>{.inputs = &X, .labels = y});
        CHECK(relative_difference(net.forward(X), before) <= 1e-12);
      }
      if constexpr (std::is_same_v<TestType, Relu>) {
        SECTION("Identity layer insertion") {
          net.insert_layer(h, init::Identity{});
          CHECK(net.layer_count() == static_cast<Index>(shape.size()));
          CHECK(relative_difference(net.forward(X), before) <= 1e-12);
        }
      }
    }
  }
}

TEST_CASE("centred biases: each new neuron is active on half of the samples, function kept",
          "[dropin][grow]") {
  // Inputs with a large common component: behind a ReLU layer, w·a then has one sign on nearly
  // every sample, which is what kills new neurons with a zero bias.
  Mlp<double, Relu> net({6, 8, 5, 3}, 21);
  Matrix<double> X = random_batch(6, 41, 22);
  X.array() += 3.0;
  for (Index h = 0; h < 2; ++h) {
    INFO("hidden layer " << h);
    const Matrix<double> before = net.forward(X);
    net.grow_neurons(h, 7, init::ZeroFanOut{});
    centre_new_biases(net, h, 7, X);
    CHECK(relative_difference(net.forward(X), before) <= 1e-12);
    Workspace<double> ws;
    net.forward(X, ws);
    const auto a = ws.activation(static_cast<std::size_t>(h));
    for (Index i = a.rows() - 7; i < a.rows(); ++i) {
      const auto active = (a.row(i).array() > 0).count();
      CHECK(active == 20);  // 41 samples: 20 above the median, the median itself at 0
    }
  }
  // Old neurons keep their biases.
  const Vector<double> b0 = net.bias(0);
  centre_new_biases(net, 0, 0, X);
  CHECK(Vector<double>(net.bias(0)) == b0);
  CHECK_THROWS_WITH(centre_new_biases(net, 2, 1, X),
                    Catch::Contains("hidden layer 2 out of range"));
  CHECK_THROWS_WITH(centre_new_biases(net, 0, 16, X), Catch::Contains("count = 16 must lie in"));
  CHECK_THROWS_WITH(centre_new_biases(net, 0, 1, Matrix<double>(Matrix<double>::Zero(5, 3))),
                    Catch::Contains("samples are 5 × 3, need 6 × n"));
  CHECK(Vector<double>(net.bias(0)) == b0);
}

TEST_CASE("He and Glorot growth changes the function with the documented scales",
          "[dropin][grow]") {
  Mlp<double, Relu> net({400, 300, 200, 10}, 1);
  const Matrix<double> X = random_batch(400, 3, 2);
  const Matrix<double> before = net.forward(X);
  net.grow_neurons(0, 100, init::He{});
  CHECK(net.sizes() == std::vector<Index>{400, 400, 200, 10});
  CHECK(relative_difference(net.forward(X), before) > 1e-6);
  const Matrix<double> fan_in = net.weights(0).bottomRows(100);
  const Matrix<double> fan_out = net.weights(1).rightCols(100);
  // 40000 and 20000 draws: relative standard error of the std under 0.5%.
  CHECK(std::sqrt(fan_in.array().square().mean()) == Approx(std::sqrt(2.0 / 400)).epsilon(0.02));
  CHECK(std::sqrt(fan_out.array().square().mean()) == Approx(std::sqrt(2.0 / 400)).epsilon(0.02));
  net.grow_neurons(1, 50, init::Glorot{});
  CHECK(net.weights(1).bottomRows(50).cwiseAbs().maxCoeff() <= std::sqrt(6.0 / (400 + 250)));
  CHECK(net.weights(2).rightCols(50).cwiseAbs().maxCoeff() <= std::sqrt(6.0 / (250 + 10)));
  CHECK(net.bias(1).tail(50).isZero());
}

TEST_CASE("gradients are exact after every kind of growth", "[dropin][gradients]") {
  const Matrix<double> X = random_batch(4, 6, 9);
  const auto y = labels_for(6, 3);
  auto grown = [&](auto&& edit) {
    Mlp<double, Tanh> net({4, 5, 4, 3}, 12);
    randomise_biases(net, 13);
    edit(net);
    // Train a little so that zero fan-outs become non-zero and every weight matters.
    Adam<double> opt{.learning_rate = 0.05};
    for (int i = 0; i < 3; ++i) train_step(net, opt, X, y);
    const auto r = check_gradients(net, X, sce<decltype(net)>(y));
    INFO(r.worst);
    CHECK(r.max_error < 1e-6);
    CHECK(r.masked_gradients_zero);
  };
  grown([](auto& n) { n.grow_neurons(0, 3, init::ZeroFanOut{}); });
  grown([](auto& n) { n.grow_neurons(1, 2, init::He{}); });
  grown([](auto& n) { n.grow_neurons(1, 2, init::Glorot{}); });
  grown([](auto& n) { n.grow_neurons(0, 2, init::Net2Wider{.noise = 0.05}); });
  grown([&](auto& n) { n.grow_neurons(1, 2, init::GradMax<double>{.inputs = &X, .labels = y}); });
  grown([](auto& n) { n.insert_layer(0, init::Identity{}); });
  grown([](auto& n) {
    Matrix<double> mask = Matrix<double>::Ones(5, 4);
    mask.row(2).setZero();
    n.prune_connections(0, mask);
    n.grow_neurons(0, 2, init::ZeroFanOut{});  // masks grow too: new connections active
    CHECK(n.connection_mask(0).bottomRows(2).isOnes());
    CHECK(n.connection_mask(0).row(2).isZero());
  });
}

TEST_CASE("an Adam step after growth moves old parameters exactly as in a twin that never grew",
          "[dropin][optim]") {
  const Matrix<double> X = random_batch(4, 8, 21);
  const auto y = labels_for(8, 3);
  Mlp<double, Relu> grown({4, 6, 5, 3}, 22);
  Adam<double> opt_grown{.learning_rate = 0.01};
  for (int i = 0; i < 10; ++i) train_step(grown, opt_grown, X, y);
  Mlp<double, Relu> twin = grown;
  Adam<double> opt_twin = opt_grown;

  grown.grow_neurons(0, 3, init::ZeroFanOut{});
  const Matrix<double> new_fan_out_before = grown.weights(1).rightCols(3);
  CHECK(new_fan_out_before.isZero());
  const auto& w1 = grown.layer_params(1).weight_param();
  CHECK(w1.state[0].view().rightCols(3).isZero());  // no state until the optimizer's next step
  CHECK(w1.state[1].view().rightCols(3).isZero());
  train_step(grown, opt_grown, X, y);
  train_step(twin, opt_twin, X, y);
  // Old parameters: identical up to the summation order of the products (the new neurons add
  // exact zeros to every sum at this step).
  for (Index l = 0; l < 3; ++l) {
    const Matrix<double> old_w =
        grown.weights(l).topLeftCorner(twin.weights(l).rows(), twin.weights(l).cols());
    CHECK(relative_difference(old_w, twin.weights(l)) < 1e-13);
    CHECK(relative_difference(grown.bias(l).head(twin.bias(l).size()), twin.bias(l)) < 1e-13);
  }
  // New parameters start fresh at their own age 1: bias-corrected m̂ = g and v̂ = g², so the
  // first step is lr·g/(|g| + ε) by hand — not the ≈3× larger step the global step count 11
  // would give with uncorrected zero moments.
  const double lr = 0.01;
  const Matrix<double> moved = grown.weights(1).rightCols(3) - new_fan_out_before;
  Index checked = 0;
  for (Index c = 0; c < moved.cols(); ++c) {
    for (Index r = 0; r < moved.rows(); ++r) {
      const double g = grown.weight_gradient(1)(r, 6 + c);
      CHECK(moved(r, c) == Approx(-lr * g / (std::abs(g) + 1e-8)).epsilon(1e-9).margin(1e-15));
      CHECK(w1.state[1].view()(r, 6 + c) == Approx(0.001 * g * g).epsilon(1e-12).margin(1e-300));
      checked += std::abs(g) > 1e-6;
    }
  }
  CHECK(checked > 0);
  CHECK(w1.col_birth ==
        std::vector<std::int64_t>{0, 0, 0, 0, 0, 0, 10, 10, 10});  // born at step 10
}

TEST_CASE("a grown neuron's connections pruned before the next step keep zero Adam state",
          "[dropin][optim]") {
  // The soak test once found state at a masked weight of a grown neuron: it must stay exactly 0.
  const Matrix<double> X = random_batch(4, 8, 23);
  const auto y = labels_for(8, 3);
  Mlp<double, Relu> net({4, 6, 3}, 24);
  Adam<double> opt{.learning_rate = 0.01};
  for (int i = 0; i < 5; ++i) train_step(net, opt, X, y);
  net.grow_neurons(0, 2, init::He{});
  Matrix<double> mask = Matrix<double>::Ones(8, 4);
  mask(6, 1) = mask(7, 3) = 0;  // two connections of the new neurons
  net.prune_connections(0, mask);
  train_step(net, opt, X, y);
  const auto& w = net.layer_params(0).weight_param();
  for (const auto& plane : w.state) {
    CHECK(plane.view()(6, 1) == 0);
    CHECK(plane.view()(7, 3) == 0);
  }
  CHECK(net.weights(0)(6, 1) == 0);
  CHECK(net.weights(0)(7, 3) == 0);
  CHECK(w.state[1].view()(6, 0) > 0);  // the unpruned ones took their first step
}

TEST_CASE("growth within capacity keeps storage, past capacity it reallocates and keeps values",
          "[dropin][capacity]") {
  Mlp<double, Relu> net({6, 8, 5, 3}, 31);
  const Matrix<double> X = random_batch(6, 4, 32);
  Adam<double> opt;
  train_step(net, opt, X, labels_for(4, 3));
  net.reserve(1, 40);
  const double* in_w = net.weights(1).data();
  const double* out_w = net.weights(2).data();
  const double* moment = net.layer_params(2).weight_param().state[0].data();
  const Matrix<double> before = net.forward(X);
  for (int i = 0; i < 7; ++i) net.grow_neurons(1, 5, init::ZeroFanOut{});
  CHECK(net.width(1) == 40);
  CHECK(net.weights(1).data() == in_w);
  CHECK(net.weights(2).data() == out_w);
  CHECK(net.layer_params(2).weight_param().state[0].data() == moment);
  net.grow_neurons(1, 1, init::ZeroFanOut{});  // past capacity
  CHECK(net.weights(1).data() != in_w);
  CHECK(net.capacity(1) >= 60);  // geometric: ×1.5
  CHECK(relative_difference(net.forward(X), before) <= 1e-12);
  CHECK(net.neuron_ids(1).size() == 41);
}

TEST_CASE("insert_layer and remove_layer", "[dropin][layers]") {
  Mlp<double, Relu> net({4, 6, 3}, 41);
  randomise_biases(net, 42);
  const Matrix<double> X = random_batch(4, 5, 43);
  const Matrix<double> before = net.forward(X);
  const auto record = net.insert_layer(0, init::Identity{});
  CHECK(record.kind == EditKind::insert_layer);
  CHECK(record.layer == 1);
  CHECK(net.sizes() == std::vector<Index>{4, 6, 6, 3});
  CHECK(Matrix<double>(net.weights(1)).isIdentity());
  CHECK(relative_difference(net.forward(X), before) <= 1e-12);
  net.remove_layer(1);  // the identity layer: function restored exactly
  CHECK(net.sizes() == std::vector<Index>{4, 6, 3});
  CHECK(relative_difference(net.forward(X), before) <= 1e-12);
  CHECK_THROWS_WITH(net.remove_layer(0),
                    Catch::Contains("hidden layer 0 has 6 neurons but its input has 4"));
  CHECK(net.sizes() == std::vector<Index>{4, 6, 3});
  net.insert_layer(0, init::He{});
  CHECK(relative_difference(net.forward(X), before) > 1e-6);
  CHECK_THROWS_WITH(net.insert_layer(3, init::Identity{}),
                    Catch::Contains("insert_layer: hidden layer 3 does not exist"));
}

TEST_CASE("connection dropin re-activates the pruned connections with the largest gradient",
          "[dropin][connections]") {
  Mlp<double, Relu> net({5, 6, 3}, 51);
  Matrix<double> mask = Matrix<double>::Ones(6, 5);
  mask.leftCols(3).setZero();  // 18 pruned connections
  net.prune_connections(0, mask);
  const Matrix<double> X = random_batch(5, 10, 52);
  const auto y = labels_for(10, 3);
  Workspace<double> ws;
  const auto logits = net.forward_train(X, ws);
  auto g = ws.output_gradient();
  SoftmaxCrossEntropy::evaluate(logits, Targets<double>{.labels = y}, &g);
  net.backward(X, ws);
  const Matrix<double> full = net.full_weight_gradient(0, X, ws).cwiseAbs();
  CHECK(net.weight_gradient(0).leftCols(3).isZero());  // masked in the ordinary gradient
  CHECK(full.leftCols(3).cwiseAbs().maxCoeff() > 0);   // but not in the full one
  // The 4 largest pruned scores, found independently.
  std::vector<std::pair<double, std::pair<Index, Index>>> pruned;
  for (Index r = 0; r < 6; ++r)
    for (Index c = 0; c < 3; ++c) pruned.push_back({full(r, c), {r, c}});
  std::sort(pruned.rbegin(), pruned.rend());
  const auto record = net.grow_connections(0, 4, full);
  CHECK(record.count == 4);
  CHECK(record.kind == EditKind::grow_connections);
  const Matrix<double> after = net.connection_mask(0);
  CHECK(after.leftCols(3).sum() == 4);
  for (int i = 0; i < 4; ++i) CHECK(after(pruned[i].second.first, pruned[i].second.second) == 1);
  CHECK(net.weights(0)(pruned[0].second.first, pruned[0].second.second) ==
        0);  // re-activated at zero
  // Asking for more than are pruned re-activates what there is.
  CHECK(net.grow_connections(0, 100, full).count == 14);
  CHECK(net.connection_mask(0).isOnes());
  CHECK(net.grow_connections(0, 1, full).count == 0);
}

TEST_CASE("growth and removal are recorded with layer, count, initialiser and step",
          "[dropin][records]") {
  Mlp<double, Relu> net({3, 4, 2}, 61);
  const Matrix<double> X = random_batch(3, 4, 62);
  Adam<double> opt;
  for (int i = 0; i < 3; ++i) train_step(net, opt, X, labels_for(4, 2));
  const EditRecord r = net.grow_neurons(0, 2, init::ZeroFanOut{});
  CHECK(r.kind == EditKind::grow_neurons);
  CHECK(r.layer == 0);
  CHECK(r.count == 2);
  CHECK(r.first == 4);
  CHECK(r.initializer == "zero_fan_out");
  CHECK(r.step == 3);
  const auto map = net.remove_neurons(0, {0, 5});
  CHECK(map == std::vector<Index>{-1, 1, 2, 3, 0, -1});
  REQUIRE(net.edit_log().size() == 2);
  CHECK(net.edit_log()[1].kind == EditKind::remove_neurons);
  CHECK(net.edit_log()[1].count == 2);
}

TEST_CASE("refused edits throw and leave the network exactly as it was", "[dropin][errors]") {
  Mlp<double, Relu> net({3, 4, 4, 2}, 71);
  const Matrix<double> w0 = net.weights(0), w1 = net.weights(1);
  auto unchanged = [&] {
    CHECK(net.sizes() == std::vector<Index>{3, 4, 4, 2});
    CHECK(Matrix<double>(net.weights(0)) == w0);
    CHECK(Matrix<double>(net.weights(1)) == w1);
    CHECK(net.edit_log().empty());
  };
  CHECK_THROWS_WITH(
      net.grow_neurons(2, 1, init::ZeroFanOut{}),
      Catch::Contains(
          "grow_neurons: hidden layer 2 does not exist (the network has 2 hidden layers: 0..1)"));
  // Nothing to add or remove is not an error, and not an edit either.
  const EditRecord none = net.grow_neurons(0, 0, init::ZeroFanOut{});
  CHECK(none.count == 0);
  CHECK(none.first == 4);
  CHECK(net.remove_neurons(1, {}) == std::vector<Index>{0, 1, 2, 3});
  unchanged();
  CHECK_THROWS_WITH(net.grow_neurons(0, -3, init::He{}), Catch::Contains("count = -3"));
  CHECK_THROWS_WITH(net.grow_neurons(0, 2, init::Net2Wider{.sources = {7, 0}}),
                    Catch::Contains("source neuron 7 does not exist in hidden layer 0"));
  CHECK_THROWS_WITH(net.grow_neurons(0, 2, init::Net2Wider{.sources = {1}}),
                    Catch::Contains("1 sources for 2 new neurons"));
  CHECK_THROWS_WITH(net.grow_neurons(0, 1, init::GradMax<double>{}),
                    Catch::Contains("GradMax needs a batch"));
  const Matrix<double> X = Matrix<double>::Zero(3, 2);
  const std::vector<int> one{0};
  CHECK_THROWS_WITH(net.grow_neurons(0, 1, init::GradMax<double>{.inputs = &X, .labels = one}),
                    Catch::Contains("1 labels for a batch of 2"));
  CHECK_THROWS_WITH(net.remove_neurons(1, {4}),
                    Catch::Contains("neuron 4 does not exist in hidden layer 1"));
  CHECK_THROWS_WITH(net.remove_neurons(1, {1, 2, 1}),
                    Catch::Contains("neuron 1 of hidden layer 1 is listed twice"));
  CHECK_THROWS_WITH(net.remove_neurons(1, {0, 1, 2, 3}), Catch::Contains("would empty it"));
  CHECK_THROWS_WITH(net.grow_connections(0, 1, Matrix<double>::Ones(3, 4)),
                    Catch::Contains("scores are 3 × 4"));
  CHECK_THROWS_WITH(net.grow_connections(0, 0, Matrix<double>::Ones(4, 3)),
                    Catch::Contains("count = 0"));
  CHECK_THROWS_AS(net.insert_layer(-1, init::Identity{}), Error);
  unchanged();
}

namespace {

// A neuron initialiser whose `initialise` draws from the network's generator and then fails (a
// custom initialiser that only finds out it cannot apply while it writes).
struct FailsWhileWriting {
  static constexpr std::string_view name = "fails_while_writing";
  void validate(const Mlp<double, Relu>& /*net*/, Index /*h*/, Index /*count*/) const {}
  void initialise(GrowthSite<Mlp<double, Relu>>& site) const {
    auto fan_in = site.new_fan_in();
    for (Index r = 0; r < fan_in.rows(); ++r)
      for (Index c = 0; c < fan_in.cols(); ++c) fan_in(r, c) = site.rng.normal();
    throw Error("fails_while_writing: cannot apply");
  }
};

}  // namespace

TEST_CASE("a grow whose initialiser throws leaves the network as if it had never been tried",
          "[dropin][errors]") {
  // The new neurons go again, and the generator and the neuron ids are put back: a later grow
  // draws the same weights and gives the same ids as in a twin that never tried.
  Mlp<double, Relu> net({3, 4, 4, 2}, 71);
  Mlp<double, Relu> twin = net;
  CHECK_THROWS_WITH(net.grow_neurons(0, 3, FailsWhileWriting{}),
                    Catch::Contains("fails_while_writing: cannot apply"));
  CHECK(net.sizes() == twin.sizes());
  CHECK(Matrix<double>(net.weights(0)) == Matrix<double>(twin.weights(0)));
  CHECK(Matrix<double>(net.weights(1)) == Matrix<double>(twin.weights(1)));
  CHECK(net.neuron_ids(0) == twin.neuron_ids(0));
  CHECK(net.edit_log().empty());
  net.grow_neurons(0, 2, init::He{});
  twin.grow_neurons(0, 2, init::He{});
  CHECK(Matrix<double>(net.weights(0)) == Matrix<double>(twin.weights(0)));
  CHECK(Matrix<double>(net.bias(0)) == Matrix<double>(twin.bias(0)));
  CHECK(net.neuron_ids(0) == twin.neuron_ids(0));
  const Matrix<double> X = Matrix<double>::Random(3, 5);
  CHECK(net.forward(X) == twin.forward(X));
}
