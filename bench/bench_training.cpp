// Inference and full training step (forward, softmax cross-entropy, backward, Adam) against the
// raw Eigen GEMMs of the same shapes, so "step FLOP rate / GEMM FLOP rate" is read off one run.
// Every benchmark reports GFLOP/s of the same FLOP count (the step's matrix products), so the
// rates compare directly. Each runs on 1 and on 2 threads (neuroplast::set_thread_count; the raw
// GEMM rows are plain single-threaded Eigen, the reference rate of one core).

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

// The training shapes of the performance issue: sizes and the batch a step trains on.
const Shape kShapes[] = {{{64, 64, 10}, 32}, {{784, 128, 10}, 64}, {{784, 1024, 1024, 10}, 256}};

Shape with_batch(const Shape& s, Index batch) { return {s.sizes, batch}; }

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

// Inference with a reused workspace: `forward(X, ws)` (input check, no dropout bookkeeping).
void bm_inference(benchmark::State& state) {
  const Shape s = with_batch(kShapes[state.range(0)], state.range(1));
  np::set_thread_count(static_cast<int>(state.range(2)));
  np::Mlp<float, np::Relu> net(s.sizes, 1);
  const auto X = random_batch(s);
  np::Workspace<float> ws;
  for (auto _ : state) benchmark::DoNotOptimize(net.forward(X, ws).data());
  set_rate(state, forward_flops(s));
}

void bm_train_step(benchmark::State& state) {
  const Shape& s = kShapes[state.range(0)];
  np::set_thread_count(static_cast<int>(state.range(1)));
  np::Mlp<float, np::Relu> net(s.sizes, 1);
  const auto X = random_batch(s);
  const auto y = labels_for(s);
  np::Workspace<float> ws;
  np::Adam<float> opt{.learning_rate = 1e-4f};
  for (auto _ : state) np::bench::train_step(net, opt, X, y, ws);
  set_rate(state, step_flops(s));
}

// One Adam step alone on 784-1024-1024-10 (one thread) with per-neuron plasticity: range(0) = 0
// none set (the unscaled path), 1 every neuron at 0.5 (the per-row path, nothing skipped), 2 half
// of every layer's neurons frozen, 3 every neuron frozen. Frozen rows are skipped, moments
// included, so the step's time should fall with the frozen share.
void bm_adam_step_plasticity(benchmark::State& state) {
  np::set_thread_count(1);
  np::Mlp<float, np::Relu> net({784, 1024, 1024, 10}, 1);
  const auto mode = state.range(0);
  for (Index l = 0; l < net.layer_count() && mode > 0; ++l) {
    np::Vector<float> p = np::Vector<float>::Constant(net.sizes()[l + 1], mode == 1 ? 0.5f : 0.0f);
    if (mode == 2) p.tail(p.size() / 2).setOnes();
    net.set_plasticity(l, p);
  }
  net.for_each_param([](np::Param<float>& p, np::ParamKind) { p.grad.view().setConstant(1e-3f); });
  np::Adam<float> opt{.learning_rate = 1e-4f};
  for (auto _ : state) {
    opt.step(net);
    benchmark::ClobberMemory();
  }
  state.SetLabel(mode == 0   ? "no plasticity"
                 : mode == 1 ? "all at 0.5"
                 : mode == 2 ? "half frozen"
                             : "all frozen");
}

// The whole training step of 784-1024-1024-10 at batch 256 (one thread) with plasticity: range(0)
// = 0 none set, 1 every neuron at 0.5, 2 half of every layer frozen. What the bookkeeping costs a
// step (target: at most 3%).
void bm_train_step_plasticity(benchmark::State& state) {
  const Shape& s = kShapes[2];
  np::set_thread_count(1);
  np::Mlp<float, np::Relu> net(s.sizes, 1);
  const auto mode = state.range(0);
  for (Index l = 0; l < net.layer_count() && mode > 0; ++l) {
    np::Vector<float> p = np::Vector<float>::Constant(net.sizes()[l + 1], 0.5f);
    if (mode == 2) p.head(p.size() / 2).setZero();
    net.set_plasticity(l, p);
  }
  const auto X = random_batch(s);
  const auto y = labels_for(s);
  np::Workspace<float> ws;
  np::Adam<float> opt{.learning_rate = 1e-4f};
  for (auto _ : state) np::bench::train_step(net, opt, X, y, ws);
  set_rate(state, step_flops(s));
  state.SetLabel(mode == 0 ? "no plasticity" : mode == 1 ? "all at 0.5" : "half frozen");
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
  const Shape s = with_batch(kShapes[state.range(0)], state.range(1));
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

void step_args(benchmark::internal::Benchmark* b) {
  b->ArgNames({"shape", "threads"})->Unit(benchmark::kMicrosecond)->UseRealTime();
  for (int shape = 0; shape < 3; ++shape)
    for (int threads : {1, 2}) b->Args({shape, threads});
}

void raw_step_args(benchmark::internal::Benchmark* b) {
  b->ArgName("shape")->DenseRange(0, 2)->Unit(benchmark::kMicrosecond);
}

void inference_args(benchmark::internal::Benchmark* b) {
  b->ArgNames({"shape", "batch", "threads"})->Unit(benchmark::kMicrosecond)->UseRealTime();
  for (int shape = 0; shape < 3; ++shape)
    for (int batch : {1, 64, 256})
      for (int threads : {1, 2}) b->Args({shape, batch, threads});
}

void raw_forward_args(benchmark::internal::Benchmark* b) {
  b->ArgNames({"shape", "batch"})->Unit(benchmark::kMicrosecond);
  for (int shape = 0; shape < 3; ++shape)
    for (int batch : {1, 64, 256}) b->Args({shape, batch});
}

}  // namespace

// shape 0: 64-64-10 (step batch 32), 1: 784-128-10 (batch 64), 2: 784-1024-1024-10 (batch 256);
// float.
BENCHMARK(bm_raw_gemm_forward)->Apply(raw_forward_args);
BENCHMARK(bm_inference)->Apply(inference_args);
BENCHMARK(bm_raw_gemm_step)->Apply(raw_step_args);
BENCHMARK(bm_train_step)->Apply(step_args);
BENCHMARK(bm_train_step_plasticity)->DenseRange(0, 2)->Unit(benchmark::kMillisecond)->UseRealTime();
BENCHMARK(bm_adam_step_plasticity)->DenseRange(0, 3)->Unit(benchmark::kMillisecond);
