// Forward pass and full training step (forward, softmax cross-entropy, backward, Adam) against the
// raw Eigen GEMMs of the same shapes, so "step FLOP rate / GEMM FLOP rate" is read off one run.
// Every benchmark reports GFLOP/s of the same FLOP count (the step's matrix products), so the
// rates compare directly.

#include <benchmark/benchmark.h>

#include "neuroplast/neuroplast.hpp"
#include "support/step.hpp"

namespace np = neuroplast;
using np::Index;

namespace {

struct Shape {
  std::vector<Index> sizes;
  Index batch;
};

const Shape kShapes[] = {{{784, 128, 10}, 64}, {{784, 1024, 1024, 10}, 256}};

// FLOPs of the products of a forward pass (2·m·n·k each).
double forward_flops(const Shape& s) {
  double f = 0;
  for (std::size_t l = 0; l + 1 < s.sizes.size(); ++l)
    f += 2.0 * static_cast<double>(s.sizes[l + 1] * s.sizes[l] * s.batch);
  return f;
}

// A training step adds dW = dZ Xᵀ for every layer and dX = Wᵀ dZ for all but the first.
double step_flops(const Shape& s) {
  const double fwd = forward_flops(s);
  const double first = 2.0 * static_cast<double>(s.sizes[1] * s.sizes[0] * s.batch);
  return 3 * fwd - first;
}

void set_rate(benchmark::State& state, double flops) {
  state.counters["GFLOP/s"] =
      benchmark::Counter(flops * 1e-9, benchmark::Counter::kIsIterationInvariantRate);
}

np::Matrix<float> random_batch(const Shape& s) {
  return np::Matrix<float>::Random(s.sizes.front(), s.batch);
}

std::vector<int> labels_for(const Shape& s) {
  std::vector<int> y(static_cast<std::size_t>(s.batch));
  for (std::size_t i = 0; i < y.size(); ++i)
    y[i] = static_cast<int>(i % static_cast<std::size_t>(s.sizes.back()));
  return y;
}

void bm_forward(benchmark::State& state) {
  const Shape& s = kShapes[state.range(0)];
  np::Mlp<float, np::Relu> net(s.sizes, 1);
  const auto X = random_batch(s);
  np::Workspace<float> ws;
  for (auto _ : state) benchmark::DoNotOptimize(net.forward_train(X, ws).data());
  set_rate(state, forward_flops(s));
}

void bm_train_step(benchmark::State& state) {
  const Shape& s = kShapes[state.range(0)];
  np::Mlp<float, np::Relu> net(s.sizes, 1);
  const auto X = random_batch(s);
  const auto y = labels_for(s);
  np::Workspace<float> ws;
  np::Adam<float> opt{.learning_rate = 1e-4f};
  for (auto _ : state) np::bench::train_step(net, opt, X, y, ws);
  set_rate(state, step_flops(s));
}

// The products alone, as a user of plain Eigen would write them, on preallocated matrices.
struct RawProducts {
  std::vector<np::Matrix<float>> w, a, dz, dw;
  np::Matrix<float> x;
  explicit RawProducts(const Shape& s) : x(random_batch(s)) {
    for (std::size_t l = 0; l + 1 < s.sizes.size(); ++l) {
      w.push_back(np::Matrix<float>::Random(s.sizes[l + 1], s.sizes[l]) * 0.05f);
      a.push_back(np::Matrix<float>::Zero(s.sizes[l + 1], s.batch));
      dz.push_back(np::Matrix<float>::Random(s.sizes[l + 1], s.batch));
      dw.push_back(np::Matrix<float>::Zero(s.sizes[l + 1], s.sizes[l]));
    }
  }
  void forward() {
    for (std::size_t l = 0; l < w.size(); ++l) a[l].noalias() = w[l] * (l == 0 ? x : a[l - 1]);
  }
  void backward() {
    for (std::size_t l = w.size(); l-- > 0;) {
      dw[l].noalias() = dz[l] * (l == 0 ? x : a[l - 1]).transpose();
      if (l > 0) a[l - 1].noalias() = w[l].transpose() * dz[l];
    }
  }
};

void bm_raw_gemm_forward(benchmark::State& state) {
  const Shape& s = kShapes[state.range(0)];
  RawProducts p(s);
  for (auto _ : state) {
    p.forward();
    benchmark::ClobberMemory();
  }
  set_rate(state, forward_flops(s));
}

void bm_raw_gemm_step(benchmark::State& state) {
  const Shape& s = kShapes[state.range(0)];
  RawProducts p(s);
  for (auto _ : state) {
    p.forward();
    p.backward();
    benchmark::ClobberMemory();
  }
  set_rate(state, step_flops(s));
}

void shape_args(benchmark::internal::Benchmark* b) {
  b->ArgName("shape")->Arg(0)->Arg(1)->Unit(benchmark::kMicrosecond);
}

}  // namespace

// shape 0: 784-128-10, batch 64; shape 1: 784-1024-1024-10, batch 256 (float, one thread).
BENCHMARK(bm_raw_gemm_forward)->Apply(shape_args);
BENCHMARK(bm_forward)->Apply(shape_args);
BENCHMARK(bm_raw_gemm_step)->Apply(shape_args);
BENCHMARK(bm_train_step)->Apply(shape_args);
