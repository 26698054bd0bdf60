// Sparse compute for pruned layers, side by side with the dense GEMM in one run:
//
// (a) one 1024 × 1024 layer (float, ReLU) whose connections are pruned at random to a density,
//     computed both ways regardless of the density rule: the forward product (inference) and a
//     training pass (forward and backward with dLoss/d(input)), at batch 1, 16, 64 and 256 — the
//     crossovers behind `sparse_product_pays` (core/sparse_product.hpp);
// (b) a 784-1024-1024-10 network with every weight matrix pruned at random to 100% (none), 50%
//     and 10% density, as a user runs it (the density rule decides): inference at batch 1, 64 and
//     256 and a training step (forward, softmax cross-entropy, backward, Adam) at batch 64 and 256;
// (c) the same networks served from an InferenceSnapshot (pruned layers' weights packed), at
//     batch 1, 64 and 256: compare with (b)'s inference, above all the unpruned network's;
// (d) the weight-gradient product of a half-pruned 1024 × 1024 layer at batch 64 and its mask:
//     the product alone (one kernel call per thread, the unpruned layer's backward pass), then
//     the mask over the whole gradient (the pruned one's before 2026-12-06), and the product in
//     `gemm`'s blocks of columns, alone and with each block masked by the epilogue (the pruned
//     layer's backward pass now).
//
// Set NEUROPLAST_NUM_THREADS to compare one and two threads.

#include <benchmark/benchmark.h>

#include <string>

#include "neuroplast/neuroplast.hpp"
#include "support/step.hpp"

namespace np = neuroplast;
using np::Index;

constexpr Index kWidth = 1024;

namespace {

// A 0/1 mask of `rows × cols` with `density` ones, at random.
np::Matrix<float> random_mask(Index rows, Index cols, double density, std::uint64_t seed) {
  np::Rng rng(seed);
  np::Matrix<float> m(rows, cols);
  for (Index c = 0; c < cols; ++c)
    for (Index r = 0; r < rows; ++r) m(r, c) = rng.uniform() < density ? 1.0f : 0.0f;
  return m;
}

np::MatrixView<float> view(np::Matrix<float>& m) {
  return {m.data(), m.rows(), m.cols(), Eigen::OuterStride<>(m.rows())};
}

enum Path : int { dense = 0, sparse = 1 };

struct Layer {
  np::Dense<float, np::Relu> d{1024, 1024};
  np::SparsePattern pattern;
  explicit Layer(double density) {
    d.weights() = np::Matrix<float>::Random(1024, 1024) * 0.05f;
    np::detail::prune_connections(d, 0, random_mask(1024, 1024, density, 7));
    pattern.build(d.connection_mask(), 1.0);
  }
  const np::SparsePattern* path(int p) const { return p == sparse ? &pattern : nullptr; }
};

void label(benchmark::State& state, int path, double density) {
  state.SetLabel(std::string(path == sparse ? "sparse" : "dense") + " density " +
                 std::to_string(static_cast<int>(density * 100 + 0.5)) + "%");
}

void bm_layer_forward(benchmark::State& state) {
  const double density = static_cast<double>(state.range(0)) / 100;
  const Index batch = state.range(1);
  const int path = static_cast<int>(state.range(2));
  Layer layer(density);
  const np::Matrix<float> X = np::Matrix<float>::Random(1024, batch);
  np::Matrix<float> Y(1024, batch);
  np::GemmWorkspace<float> ws;
  const auto w = layer.d.weights();
  for (auto _ : state) {
    np::detail::dense_forward<np::Relu>(w.data(), w.outerStride(), kWidth, kWidth,
                                        layer.d.bias().data(), np::MatrixRef<float>(X), view(Y),
                                        1.0f, ws, layer.path(path));
    benchmark::DoNotOptimize(Y.data());
  }
  label(state, path, density);
}

void bm_layer_train(benchmark::State& state) {
  const double density = static_cast<double>(state.range(0)) / 100;
  const Index batch = state.range(1);
  const int path = static_cast<int>(state.range(2));
  Layer layer(density);
  const np::Matrix<float> X = np::Matrix<float>::Random(1024, batch);
  np::Matrix<float> Y(1024, batch), delta(1024, batch), delta_in(1024, batch);
  np::GemmWorkspace<float> ws;
  const auto w = layer.d.weights();
  np::Param<float>& p = layer.d.weight_param();
  const np::Matrix<float> upstream = np::Matrix<float>::Random(1024, batch);
  for (auto _ : state) {
    np::detail::dense_forward<np::Relu>(w.data(), w.outerStride(), kWidth, kWidth,
                                        layer.d.bias().data(), np::MatrixRef<float>(X), view(Y),
                                        1.0f, ws, layer.path(path));
    delta = upstream;
    np::MatrixView<float> din = view(delta_in);
    np::detail::dense_backward<np::Relu>(
        w.data(), w.outerStride(), kWidth, kWidth, np::MatrixRef<float>(X),
        np::ConstMatrixView<float>(Y.data(), 1024, batch, Eigen::OuterStride<>(1024)), view(delta),
        p.grad.data(), p.grad.outer_stride(), layer.d.bias_param().grad.data(), &din, 1.0f, ws,
        layer.path(path));
    if (path == dense) p.grad.view().array() *= p.mask.view().array();  // as Dense::backward does
    benchmark::DoNotOptimize(delta_in.data());
  }
  label(state, path, density);
}

void layer_args(benchmark::internal::Benchmark* b) {
  b->ArgNames({"density%", "batch", "sparse"});
  for (int density : {2, 5, 10, 15, 20, 30, 50})
    for (int batch : {1, 16, 64, 256})
      for (int path : {dense, sparse}) b->Args({density, batch, path});
  b->Unit(benchmark::kMicrosecond);
}

np::Mlp<float, np::Relu> network(double density) {
  np::Mlp<float, np::Relu> net({784, 1024, 1024, 10}, 1);
  if (density < 1) {
    for (Index l = 0; l < 3; ++l) {
      net.prune_connections(l, random_mask(net.sizes()[static_cast<std::size_t>(l) + 1],
                                           net.sizes()[static_cast<std::size_t>(l)], density,
                                           11 + static_cast<std::uint64_t>(l)));
    }
  }
  return net;
}

void net_label(benchmark::State& state, const np::Mlp<float, np::Relu>& net, Index batch) {
  int sparse_layers = 0;
  for (Index l = 0; l < 3; ++l)
    sparse_layers +=
        net.visit_layer(l, [&](const auto& d) { return d.sparse_for(batch) != nullptr; });
  state.SetLabel("density " + std::to_string(state.range(0)) + "%, " +
                 std::to_string(sparse_layers) + " of 3 layers sparse");
}

void bm_net_inference(benchmark::State& state) {
  const Index batch = state.range(1);
  const auto net = network(static_cast<double>(state.range(0)) / 100);
  const np::Matrix<float> X = np::Matrix<float>::Random(784, batch);
  np::Workspace<float> ws;
  benchmark::DoNotOptimize(net.forward(X, ws).data());  // untimed: allocates the workspace
  for (auto _ : state) benchmark::DoNotOptimize(net.forward(X, ws).data());
  net_label(state, net, batch);
}

void bm_net_train_step(benchmark::State& state) {
  const Index batch = state.range(1);
  auto net = network(static_cast<double>(state.range(0)) / 100);
  const np::Matrix<float> X = np::Matrix<float>::Random(784, batch);
  const auto y = np::bench::cyclic_labels(batch, 10);
  np::Workspace<float> ws;
  np::Adam<float> opt{.learning_rate = 1e-4f};
  // Untimed: the first steps allocate the workspace and the optimizer's state and fault in their
  // pages, which would dominate a short run.
  for (int warm = 0; warm < 3; ++warm) np::bench::train_step(net, opt, X, y, ws);
  for (auto _ : state) np::bench::train_step(net, opt, X, y, ws);
  net_label(state, net, batch);
}

void bm_snapshot_inference(benchmark::State& state) {
  const Index batch = state.range(1);
  const np::InferenceSnapshot<float, np::Relu> snapshot(
      network(static_cast<double>(state.range(0)) / 100));
  const np::Matrix<float> X = np::Matrix<float>::Random(784, batch);
  np::InferenceSnapshot<float, np::Relu>::Workspace ws;
  benchmark::DoNotOptimize(snapshot.forward(X, ws).data());  // untimed: allocates the workspace
  for (auto _ : state) benchmark::DoNotOptimize(snapshot.forward(X, ws).data());
  int packed = 0;
  for (Index l = 0; l < 3; ++l) packed += snapshot.packed(l) ? 1 : 0;
  // Which way this processor fetches a packed row's inputs (picked once per process by timing
  // both, the same bits either way): reported so that runs on different hosts can be compared.
  const bool gathered = np::detail::gather_fetch_pays<float>();
  state.SetLabel("density " + std::to_string(state.range(0)) + "%, " + std::to_string(packed) +
                 " of 3 layers packed" +
                 (packed > 0 ? (gathered ? ", inputs gathered" : ", inputs by lanes") : ""));
}

enum GradientMode : int { whole = 0, whole_then_mask = 1, blocks = 2, blocks_masked = 3 };

void bm_weight_gradient(benchmark::State& state) {
  const auto mode = static_cast<GradientMode>(state.range(0));
  const Index batch = 64;
  const np::Matrix<float> in = np::Matrix<float>::Random(kWidth, batch);
  const np::Matrix<float> dz = np::Matrix<float>::Random(kWidth, batch);
  np::MaskBits bits;
  bits.build(Eigen::Matrix<float, Eigen::Dynamic, Eigen::Dynamic, Eigen::RowMajor>(
      random_mask(kWidth, kWidth, 0.5, 7)));
  np::Matrix<float> grad(kWidth, kWidth);  // column-major dWᵀ: the row-major dW of the layer
  np::GemmWorkspace<float> ws;
  const auto run = [&] {
    using np::Op;
    if (mode == whole || mode == whole_then_mask) {
      // One kernel call per thread's share of C, as a product without an epilogue is computed.
      np::gemm<Op::none, Op::transpose>(kWidth, kWidth, batch, in.data(), kWidth, dz.data(), kWidth,
                                        grad.data(), kWidth, 1.0f, ws, true);
      if (mode == whole_then_mask) bits.multiply_rows(grad.data(), kWidth, 0, kWidth);
    } else if (mode == blocks) {
      // An epilogue that does nothing: the blocks alone.
      np::gemm<Op::none, Op::transpose>(kWidth, kWidth, batch, in.data(), kWidth, dz.data(), kWidth,
                                        grad.data(), kWidth, 1.0f, ws, true, [](Index, Index) {});
    } else {
      np::gemm<Op::none, Op::transpose>(
          kWidth, kWidth, batch, in.data(), kWidth, dz.data(), kWidth, grad.data(), kWidth, 1.0f,
          ws, true, [&](Index r0, Index r1) { bits.multiply_rows(grad.data(), kWidth, r0, r1); });
    }
    benchmark::DoNotOptimize(grad.data());
  };
  run();  // untimed: the workspace's packing buffers
  for (auto _ : state) run();
  static const char* const names[] = {"one call", "one call, then the mask", "in blocks",
                                      "in blocks, each masked after its product"};
  state.SetLabel(names[mode]);
}

}  // namespace

BENCHMARK(bm_layer_forward)->Apply(layer_args);
BENCHMARK(bm_layer_train)->Apply(layer_args);
BENCHMARK(bm_net_inference)
    ->ArgNames({"density%", "batch"})
    ->ArgsProduct({{100, 50, 10}, {1, 64, 256}})
    ->Unit(benchmark::kMicrosecond);
BENCHMARK(bm_snapshot_inference)
    ->ArgNames({"density%", "batch"})
    ->ArgsProduct({{100, 50, 10}, {1, 64, 256}})
    ->Unit(benchmark::kMicrosecond);
BENCHMARK(bm_net_train_step)
    ->ArgNames({"density%", "batch"})
    ->ArgsProduct({{100, 50, 10}, {64, 256}})
    ->Unit(benchmark::kMillisecond);
BENCHMARK(bm_weight_gradient)->ArgName("mode")->DenseRange(0, 3)->Unit(benchmark::kMicrosecond);
