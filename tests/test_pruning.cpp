// Structural pruning in the network (issue 4): masked ≡ removed, dead-neuron removal, minimum
// widths, removal cost proportional to what is removed.

#include <catch2/catch.hpp>

#include "neuroplast/neuroplast.hpp"
#include "support/fixtures.hpp"

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
