// Structural pruning in the network (issue 4): masked ≡ removed, dead-neuron removal, minimum
// widths, removal cost proportional to what is removed.

#include <catch2/catch.hpp>
#include <cmath>
#include <cstring>
#include <limits>
#include <type_traits>
#include <utility>
#include <vector>

#include "neuroplast/neuroplast.hpp"
#include "support/fixtures.hpp"
#include "support/kernel_checks.hpp"

using namespace neuroplast;
using namespace neuroplast::testing;

TEST_CASE("a masked neuron and the same neuron removed give the same outputs and gradients",
          "[prune][invariant]") {
  for (Index h : {Index{0}, Index{1}}) {
    Mlp<double, Tanh> masked({5, 7, 6, 3}, 81);
    Rng rng(82);
    for (Index l = 0; l < 3; ++l)
      for (Index r = 0; r < masked.bias(l).size(); ++r) masked.bias(l)(r) = rng.normal(0.0, 0.3);
    const std::vector<Index> gone{1, 4};
    // Masking a neuron = pruning its fan-in row and its fan-out column.
    Matrix<double> in_mask =
        Matrix<double>::Ones(masked.width(h), masked.sizes()[static_cast<std::size_t>(h)]);
    Matrix<double> out_mask =
        Matrix<double>::Ones(masked.sizes()[static_cast<std::size_t>(h + 2)], masked.width(h));
    for (Index j : gone) {
      in_mask.row(j).setZero();
      out_mask.col(j).setZero();
    }
    masked.prune_connections(h, in_mask);
    masked.prune_connections(h + 1, out_mask);
    Mlp<double, Tanh> removed = masked;
    const auto map = removed.remove_neurons(h, gone);
    const Matrix<double> X = random_batch(5, 9, 83);
    const std::vector<int> y{0, 1, 2, 0, 1, 2, 0, 1, 2};
    INFO("hidden layer " << h);
    CHECK(relative_difference(removed.forward(X), masked.forward(X)) < 1e-14);
    compute_gradients(masked, X, y);
    compute_gradients(removed, X, y);
    for (Index l = 0; l < 3; ++l) {
      // Map the removed network's rows (l == h) or columns (l == h + 1) back to the masked one's.
      const Matrix<double> gm = masked.weight_gradient(l);
      const Matrix<double> gr = removed.weight_gradient(l);
      const Vector<double> bm = masked.bias_gradient(l);
      const Vector<double> br = removed.bias_gradient(l);
      for (Index old = 0; old < static_cast<Index>(map.size()); ++old) {
        const Index now = map[static_cast<std::size_t>(old)];
        if (now < 0) continue;
        if (l == h) {
          CHECK((gr.row(now) - gm.row(old)).cwiseAbs().maxCoeff() < 1e-14);
          CHECK(std::abs(br(now) - bm(old)) < 1e-14);
        } else if (l == h + 1) {
          CHECK((gr.col(now) - gm.col(old)).cwiseAbs().maxCoeff() < 1e-14);
        }
      }
      if (l != h && l != h + 1) CHECK(relative_difference(gr, gm) < 1e-14);
      if (l == h + 1) CHECK((br - bm).cwiseAbs().maxCoeff() < 1e-14);
    }
  }
}

TEST_CASE("remove_dead_neurons removes cut-off neurons without changing the function",
          "[prune][dead]") {
  Mlp<double, Sigmoid> net({4, 6, 3}, 91);
  net.bias(0) << 0.5, -1, 2, 0.1, 0.3, -0.7;
  Matrix<double> in_mask = Matrix<double>::Ones(6, 4);
  in_mask.row(2).setZero();  // neuron 2: no inputs, outputs the constant sigmoid(2)
  Matrix<double> out_mask = Matrix<double>::Ones(3, 6);
  out_mask.col(4).setZero();  // neuron 4: reaches nothing
  net.prune_connections(0, in_mask);
  net.prune_connections(1, out_mask);
  const Matrix<double> X = random_batch(4, 7, 92);
  const Matrix<double> before = net.forward(X);
  const Vector<double> next_bias = net.bias(1);
  const Vector<double> fan_out_of_2 = net.weights(1).col(2);
  const auto map = net.remove_dead_neurons(0);
  CHECK(net.width(0) == 4);
  CHECK(map[2] == -1);
  CHECK(map[4] == -1);
  CHECK(relative_difference(net.forward(X), before) < 1e-14);
  // The constant output of neuron 2 went into the next bias.
  CHECK(relative_difference(net.bias(1), next_bias + fan_out_of_2 / (1 + std::exp(-2.0))) < 1e-15);
  CHECK(net.remove_dead_neurons(0).empty());  // nothing left to remove
}

TEST_CASE("minimum widths guard against layer collapse", "[prune][errors]") {
  Mlp<double, Relu> net({3, 5, 2}, 93);
  CHECK(net.min_width(0) == 1);
  net.set_min_width(0, 3);
  CHECK_THROWS_WITH(net.remove_neurons(0, {0, 1, 2}),
                    Catch::Contains("would leave 2, below its minimum width 3 (set_min_width)"));
  CHECK(net.width(0) == 5);
  net.remove_neurons(0, {0, 1});
  CHECK(net.width(0) == 3);
  CHECK_THROWS_WITH(net.set_min_width(0, 0), Catch::Contains("must be ≥ 1"));
  CHECK_THROWS_WITH(net.set_min_width(1, 2), Catch::Contains("hidden layer 1 does not exist"));
  // Dead neurons beyond the minimum width stay.
  net.prune_connections(0, Matrix<double>::Zero(3, 3));  // every neuron cut off
  CHECK(net.remove_dead_neurons(0).empty());
  CHECK(net.width(0) == 3);
}

TEST_CASE("removal moves only the survivors from the end of the layer", "[prune][cost]") {
  Mlp<double, Relu> net({3, 8, 2}, 94);
  const Matrix<double> w = net.weights(0);
  const auto map = net.remove_neurons(0, {1, 6});
  // Neuron 7 moved into slot 1; everything else below the new size stayed in place.
  CHECK(map == std::vector<Index>{0, -1, 2, 3, 4, 5, -1, 1});
  CHECK(net.weights(0).row(1) == w.row(7));
  CHECK(net.weights(0).row(5) == w.row(5));
}

TEST_CASE("SparsePattern indexes the active entries by row and by column", "[prune][sparse]") {
  Matrix<double> mask(3, 4);
  mask << 1, 0, 0, 1,  //
      0, 0, 0, 0,      //
      0, 1, 0, 1;
  SparsePattern p;
  REQUIRE(p.build(mask, 0.5));
  CHECK(p.nonzeros() == 4);
  CHECK(p.density() == 4.0 / 12.0);
  CHECK(p.row_start == std::vector<std::int32_t>{0, 2, 2, 4});
  CHECK(p.row_cols == std::vector<std::int32_t>{0, 3, 1, 3});
  CHECK(p.col_start == std::vector<std::int32_t>{0, 1, 2, 2, 4});
  CHECK(p.col_rows == std::vector<std::int32_t>{0, 2, 0, 2});
  // Denser than the bound: no pattern, products stay dense.
  CHECK_FALSE(p.build(mask, 0.3));
  CHECK(p.empty());
}

TEST_CASE("the packet kernels of the sparse products give the entry-wise results bit for bit",
          "[prune][sparse]") {
  // Pruned networks train bit-identically whichever kernel computes a product (results files and
  // resumed runs depend on it): the transposes move entries through registers, and the weight
  // gradient sums four dot products at once in the order of Eigen's dot product.
  check_packet_kernels_match_entrywise<float>();
  check_packet_kernels_match_entrywise<double>();
}

TEST_CASE("a packed row's product (a snapshot's single sample) gives the exact sum",
          "[prune][sparse][snapshot]") {
  check_packed_row_dot<float>();
  check_packed_row_dot<double>();
}

namespace {

// A random 0/1 mask of `rows × cols` with about `density` ones.
Matrix<double> random_mask(Index rows, Index cols, double density, std::uint64_t seed) {
  Rng rng(seed);
  Matrix<double> m(rows, cols);
  for (Index c = 0; c < cols; ++c)
    for (Index r = 0; r < rows; ++r) m(r, c) = rng.uniform() < density ? 1.0 : 0.0;
  return m;
}

// A 40-96-80-6 ReLU network (seed `seed`) with random biases (seed + 1) whose first two weight
// matrices are pruned at random to about `density` (seeds from seed + 2).
Mlp<double, Relu> pruned_network(std::uint64_t seed, double density) {
  Mlp<double, Relu> net({40, 96, 80, 6}, seed);
  randomise_biases(net, seed + 1);
  for (Index l = 0; l < 2; ++l)
    net.prune_connections(l, random_mask(net.width(l), net.sizes()[std::size_t(l)], density,
                                         seed + 2 + static_cast<std::uint64_t>(l)));
  return net;
}

// Whether layer l of `net` computes a batch of `batch` on its sparse pattern.
template <class Net>
bool computes_sparse(const Net& net, Index l, Index batch) {
  return net.visit_layer(l, [&](const auto& d) { return d.sparse_for(batch) != nullptr; });
}

}  // namespace

TEST_CASE("pruned layers compute on their active connections with the dense path's results",
          "[prune][sparse]") {
  // `sparse` has 98% of its hidden connections pruned, `dense` the same weights zeroed without a
  // mask: the sparse products must give what the GEMM gives on the zeros.
  Mlp<double, Relu> sparse = pruned_network(91, 0.02);
  Mlp<double, Relu> dense({40, 96, 80, 6}, 91);
  for (Index l = 0; l < 3; ++l) {
    dense.weights(l) = sparse.weights(l);
    dense.bias(l) = sparse.bias(l);
  }
  // Batches that run each kernel of the sparse products: one sample, the dynamic-size tail alone
  // (5), a half and a quarter block (48), one full block (64), and every kind at once (250).
  for (Index batch : {Index{1}, Index{5}, Index{48}, Index{64}, Index{250}}) {
    INFO("batch " << batch);
    REQUIRE(computes_sparse(sparse, 0, batch));
    REQUIRE(computes_sparse(sparse, 1, batch));
    REQUIRE_FALSE(computes_sparse(dense, 0, batch));
    const Matrix<double> X = random_batch(40, batch, 94);
    const auto y = labels_for(batch, 6);
    CHECK(relative_difference(sparse.forward(X), dense.forward(X)) < 1e-12);
    compute_gradients(sparse, X, y);
    compute_gradients(dense, X, y);
    for (Index l = 0; l < 3; ++l) {
      const Matrix<double> gs = sparse.weight_gradient(l);
      CHECK(relative_difference(
                gs, dense.weight_gradient(l).cwiseProduct(sparse.connection_mask(l))) < 1e-12);
      CHECK((gs.array() * (1 - sparse.connection_mask(l).array())).cwiseAbs().maxCoeff() == 0);
      CHECK(relative_difference(sparse.bias_gradient(l), dense.bias_gradient(l)) < 1e-12);
    }
  }
}

TEST_CASE("the density rule keeps half-pruned layers dense and follows every edit",
          "[prune][sparse]") {
  Mlp<double, Relu> net({30, 50, 40, 4}, 95);
  net.prune_connections(0, random_mask(50, 30, 0.5, 96));
  for (Index batch : {Index{1}, Index{64}, Index{256}}) CHECK_FALSE(computes_sparse(net, 0, batch));
  net.prune_connections(0, random_mask(50, 30, 0.2, 97));  // ANDed: about 10% left
  CHECK(computes_sparse(net, 0, 64));
  CHECK_FALSE(computes_sparse(net, 0, 1));
  // Growing the layer adds active connections (and zero-fan-out columns to the next layer): the
  // pattern follows the new shape, and training keeps pruned weights exactly zero.
  net.grow_neurons(0, 2, init::He{});
  CHECK(net.visit_layer(0, [](const auto& d) { return d.weight_param().active.rows; }) == 52);
  Adam<double> opt;
  const Matrix<double> X = random_batch(30, 64, 98);
  const auto y = labels_for(64, 4);
  const Matrix<double> before = net.forward(X);
  for (int step = 0; step < 3; ++step) train_step(net, opt, X, y);
  CHECK(relative_difference(net.forward(X), before) > 1e-6);  // it did learn
  const Matrix<double> mask = net.connection_mask(0);
  CHECK((net.weights(0).array() * (1 - mask.array())).cwiseAbs().maxCoeff() == 0);
  CHECK(computes_sparse(net, 0, 64));
}

namespace {

// Drops every layer's sparse pattern, so `net` computes and updates densely until its next
// mask change or edit: the reference the sparse path is compared with.
template <class Net>
void force_dense(Net& net) {
  for (Index l = 0; l < net.layer_count(); ++l)
    net.visit_layer(l, [](auto& d) { d.weight_param().active.clear(); });
}

template <class Opt>
void check_sparse_training_matches_dense(Opt opt) {
  Mlp<double, Relu> sparse({24, 64, 48, 5}, 101);
  randomise_biases(sparse, 102);
  for (Index l = 0; l < 3; ++l)
    sparse.prune_connections(
        l, random_mask(sparse.sizes()[std::size_t(l) + 1], sparse.sizes()[std::size_t(l)], 0.05,
                       103 + static_cast<std::uint64_t>(l)));
  Vector<double> plasticity = Vector<double>::Ones(64);
  plasticity(3) = 0;
  plasticity(7) = 0.5;
  sparse.set_plasticity(0, plasticity);
  Mlp<double, Relu> dense = sparse;
  force_dense(dense);
  REQUIRE(computes_sparse(sparse, 0, 32));
  REQUIRE_FALSE(computes_sparse(dense, 0, 32));
  REQUIRE(sparse.visit_layer(0, [](const auto& d) { return d.weight_param().computes_sparse(); }));
  Opt opt_dense = opt;
  const Matrix<double> frozen = sparse.weights(0).row(3);
  const Matrix<double> X = random_batch(24, 32, 104);
  const auto y = labels_for(32, 5);
  const auto steps = [&] {
    for (int s = 0; s < 4; ++s) {
      train_step(sparse, opt, X, y);
      train_step(dense, opt_dense, X, y);
    }
  };
  steps();
  // Grown neurons are young: Adam corrects them by their own age, on both paths.
  sparse.grow_neurons(0, 2, init::He{});
  dense.grow_neurons(0, 2, init::He{});
  force_dense(dense);
  steps();
  for (Index l = 0; l < 3; ++l) {
    INFO("layer " << l);
    CHECK(relative_difference(sparse.weights(l), dense.weights(l)) < 1e-12);
    CHECK(relative_difference(sparse.bias(l), dense.bias(l)) < 1e-12);
    const Matrix<double> mask = sparse.connection_mask(l);
    CHECK((sparse.weights(l).array() * (1 - mask.array())).cwiseAbs().maxCoeff() == 0);
  }
  CHECK(Matrix<double>(sparse.weights(0).row(3)) == frozen);  // frozen: untouched
}

}  // namespace

TEST_CASE("optimizers update only the active connections of a sparse layer, as the dense update",
          "[prune][sparse]") {
  SECTION("adam") { check_sparse_training_matches_dense(Adam<double>{.learning_rate = 1e-2}); }
  SECTION("adamw") {
    check_sparse_training_matches_dense(AdamW<double>{.learning_rate = 1e-2, .weight_decay = 0.1});
  }
  SECTION("adam with l2") {
    check_sparse_training_matches_dense(Adam<double>{.learning_rate = 1e-2, .weight_decay = 1e-2});
  }
  SECTION("sgd") {
    check_sparse_training_matches_dense(Sgd<double>{
        .learning_rate = 0.05, .momentum = 0.9, .weight_decay = 1e-3, .nesterov = true});
  }
  SECTION("plain sgd") { check_sparse_training_matches_dense(Sgd<double>{.learning_rate = 0.05}); }
}

TEST_CASE("an InferenceSnapshot answers as the network's forward did when it was built",
          "[prune][sparse][snapshot]") {
  // Layers 0 and 1 pruned to 5% (packed), layer 2 dense; hidden layer 0 with dropout in the
  // paper's convention, so that inference scales its outputs (the snapshot must copy the scale).
  Mlp<double, Relu> net = pruned_network(111, 0.05);
  net.set_dropout(0, Dropout{.rate = 0.25, .convention = DropoutConvention::paper});
  REQUIRE(net.inference_scale(1) != 1.0);
  const InferenceSnapshot<double, Relu> snapshot(net);
  CHECK(snapshot.layer_count() == 3);
  CHECK(snapshot.sizes() == net.sizes());
  CHECK(snapshot.packed(0));
  CHECK(snapshot.packed(1));
  CHECK_FALSE(snapshot.packed(2));
  std::vector<Matrix<double>> inputs, before;
  for (Index batch : {Index{1}, Index{5}, Index{48}, Index{64}, Index{250}}) {
    INFO("batch " << batch);
    inputs.push_back(random_batch(40, batch, 114 + static_cast<std::uint64_t>(batch)));
    before.push_back(net.forward(inputs.back()));
    const Matrix<double> got = snapshot.forward(inputs.back());
    CHECK(relative_difference(got, before.back()) < 1e-12);
    // A batch takes the same sparse products as the network's own pass: the same bits. A single
    // sample sums the packed weights in another order.
    if (batch > 1) CHECK(got == before.back());
    CHECK(snapshot.predict(inputs.back()) == net.predict(inputs.back()));
  }
  // Training and editing the network afterwards do not reach the snapshot.
  Adam<double> opt{.learning_rate = 0.05};
  train_step(net, opt, inputs[2], labels_for(48, 6));
  net.grow_neurons(1, 3, init::He{});
  InferenceSnapshot<double, Relu>::Workspace ws;
  for (std::size_t i = 0; i < inputs.size(); ++i) {
    CHECK(relative_difference(net.forward(inputs[i]), before[i]) > 1e-6);
    CHECK(relative_difference(Matrix<double>(snapshot.forward(inputs[i], ws)), before[i]) < 1e-12);
  }
}

TEST_CASE("an InferenceSnapshot of a pruned float network stays within 1e-6 of its forward",
          "[prune][sparse][snapshot]") {
  for (const double density : {0.02, 0.1, 0.2, 0.5}) {
    INFO("density " << density);
    Mlp<float, Relu> net({64, 128, 96, 10}, 121);
    for (Index l = 0; l < 3; ++l) {
      const Matrix<double> mask =
          random_mask(net.sizes()[std::size_t(l) + 1], net.sizes()[std::size_t(l)], density,
                      122 + static_cast<std::uint64_t>(l));
      net.prune_connections(l, mask.cast<float>());
    }
    const InferenceSnapshot<float, Relu> snapshot(net);
    CHECK(snapshot.packed(0) == (density <= kMaxSparseDensity));
    for (Index batch : {Index{1}, Index{3}, Index{64}}) {
      const Matrix<float> X = random_batch(64, batch, 123).cast<float>();
      CHECK(relative_difference(snapshot.forward(X).cast<double>(), net.forward(X).cast<double>()) <
            1e-6);
    }
  }
}

// A snapshot computes as Dense<T, Act> does: a network of another activation or scalar must not
// convert (it would be answered wrongly).
static_assert(std::is_constructible_v<InferenceSnapshot<float, Relu>, const Mlp<float, Relu>&>);
static_assert(!std::is_constructible_v<InferenceSnapshot<float, Relu>, const Mlp<float, Tanh>&>);
static_assert(!std::is_constructible_v<InferenceSnapshot<float, Relu>, const Mlp<double, Relu>&>);

TEST_CASE("an InferenceSnapshot refuses bad input and bad layers with the network's errors",
          "[prune][snapshot][error]") {
  Mlp<double, Relu> net({4, 6, 2}, 131);
  const InferenceSnapshot<double, Relu> snapshot(net);
  CHECK_THROWS_WITH(
      snapshot.forward(Matrix<double>::Zero(5, 2)),
      Catch::Contains("input has 5 features (rows) but the network expects 4 inputs"));
  CHECK_THROWS_WITH(snapshot.forward(Matrix<double>::Zero(4, 0)), Catch::Contains("empty"));
  Matrix<double> X = Matrix<double>::Zero(4, 3);
  X(2, 1) = std::numeric_limits<double>::quiet_NaN();
  CHECK_THROWS_AS(snapshot.forward(X), NumericError);
  CHECK_THROWS_WITH(snapshot.packed(2), Catch::Contains("layer 2 does not exist"));
  CHECK_THROWS_AS(snapshot.packed(-1), Error);
}
