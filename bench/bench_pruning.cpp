// What structural pruning buys and costs, on 784-1024-1024-10 (float, batch 256, Adam state on
// every parameter), side by side in one run:
//
// (a) forward pass and training step (forward, softmax cross-entropy, backward, Adam) of the
//     original network, of the same network after removing a random 50% of the neurons of each
//     hidden layer (it keeps its 1024-neuron capacity and computes through strided views), and of
//     a network built at 784-512-512-10 (dense storage), to show the capacity costs nothing;
// (b) removing k random neurons from hidden layer 0 with `remove_neurons`, against rebuilding the
//     two affected layers without them — new W(0), b(0), W(1) and their Adam moments, the kept
//     rows and columns copied in: what index_select on every tensor plus a rebuilt optimizer does.

#include <benchmark/benchmark.h>
#include <malloc.h>

#include <algorithm>
#include <chrono>

#include "neuroplast/neuroplast.hpp"
#include "support/edits.hpp"
#include "support/step.hpp"

namespace np = neuroplast;
using np::Index;

namespace {

constexpr Index kBatch = 256;
constexpr Index kWidth = 1024;
constexpr Index kInputs = 784;
constexpr Index kOutputs = 10;

// As in bench_growth: every large allocation gets fresh pages, as the first one in a program
// does, instead of glibc recycling the blocks the previous iteration freed.
const bool pinned_mmap_threshold = mallopt(M_MMAP_THRESHOLD, 128 * 1024) == 1;

np::Matrix<float> batch() { return np::Matrix<float>::Random(kInputs, kBatch); }

std::vector<int> labels() {
  std::vector<int> y(static_cast<std::size_t>(kBatch));
  for (std::size_t i = 0; i < y.size(); ++i) y[i] = static_cast<int>(i % kOutputs);
  return y;
}

// One training step, so every parameter has Adam state the edits must carry.
void train_once(np::Mlp<float, np::Relu>& net) {
  const auto X = batch();
  const auto y = labels();
  np::Workspace<float> ws;
  np::Adam<float> opt;
  np::bench::train_step(net, opt, X, y, ws);
}

enum Variant : int { original = 0, pruned = 1, built_small = 2 };

np::Mlp<float, np::Relu> network(int variant) {
  if (variant == built_small) {
    np::Mlp<float, np::Relu> net({kInputs, kWidth / 2, kWidth / 2, kOutputs}, 1);
    train_once(net);
    return net;
  }
  np::Mlp<float, np::Relu> net({kInputs, kWidth, kWidth, kOutputs}, 1);
  train_once(net);
  if (variant == pruned) {
    for (Index h = 0; h < 2; ++h)
      net.remove_neurons(
          h, np::bench::random_neurons(kWidth, kWidth / 2, 10 + static_cast<std::uint64_t>(h)));
  }
  return net;
}

void label(benchmark::State& state, const np::Mlp<float, np::Relu>& net) {
  static const char* const names[] = {"original", "pruned 50%", "built small"};
  state.SetLabel(std::string(names[state.range(0)]) + " " + np::detail::format_sizes(net.sizes()));
}

void bm_forward(benchmark::State& state) {
  auto net = network(static_cast<int>(state.range(0)));
  const auto X = batch();
  np::Workspace<float> ws;
  for (auto _ : state) benchmark::DoNotOptimize(net.forward_train(X, ws).data());
  label(state, net);
}

void bm_train_step(benchmark::State& state) {
  auto net = network(static_cast<int>(state.range(0)));
  const auto X = batch();
  const auto y = labels();
  np::Workspace<float> ws;
  np::Adam<float> opt{.learning_rate = 1e-4f};
  for (auto _ : state) np::bench::train_step(net, opt, X, y, ws);
  label(state, net);
}

double seconds_since(std::chrono::steady_clock::time_point start) {
  return std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count();
}

// remove_neurons on hidden layer 0, timed alone (manual time). Between iterations, untimed, k
// zero neurons are appended again (a grow edit within capacity) so every iteration removes k of
// 1024; the values differ from the first iteration's, which does not matter for the cost.
void bm_remove_neurons(benchmark::State& state) {
  const Index k = state.range(0);
  auto net = network(original);
  const auto indices = np::bench::random_neurons(kWidth, k, 20 + static_cast<std::uint64_t>(k));
  for (auto _ : state) {
    const auto start = std::chrono::steady_clock::now();
    benchmark::DoNotOptimize(net.remove_neurons(0, indices));
    state.SetIterationTime(seconds_since(start));
    net.edit_axis(0, np::AxisEdit::grow(kWidth - k, k));
  }
  state.counters["fresh_pages"] = pinned_mmap_threshold;
}

// The same removal by rebuilding: W(0) (1024 × 784), b(0) and W(1) (1024 × 1024), each with its
// two Adam moments, reallocated without the k neurons — kept rows of W(0) and b(0), kept columns
// of W(1) — replacing the old tensors (their memory is freed, as a rebuild frees it).
void bm_rebuild_layers(benchmark::State& state) {
  const Index k = state.range(0);
  using M = Eigen::Matrix<float, Eigen::Dynamic, Eigen::Dynamic, Eigen::RowMajor>;
  const std::vector<M> w_in(3, M::Random(kWidth, kInputs)), w_out(3, M::Random(kWidth, kWidth));
  const std::vector<np::Vector<float>> bias(3, np::Vector<float>::Random(kWidth));
  auto gone = np::bench::random_neurons(kWidth, k, 20 + static_cast<std::uint64_t>(k));
  std::sort(gone.begin(), gone.end());
  std::vector<Index> keep;
  for (Index j = 0, g = 0; j < kWidth; ++j) {
    if (g < k && gone[static_cast<std::size_t>(g)] == j) {
      ++g;
    } else {
      keep.push_back(j);
    }
  }
  std::vector<M> new_in(3), new_out(3);
  std::vector<np::Vector<float>> new_bias(3);
  for (auto _ : state) {
    const auto start = std::chrono::steady_clock::now();
    for (std::size_t plane = 0; plane < 3; ++plane) {
      // Fresh tensors moved in, so the old ones are freed (assigning into a matrix of the same
      // size would reuse its memory, which a rebuild does not).
      new_in[plane] = M(w_in[plane](keep, Eigen::all));
      new_bias[plane] = np::Vector<float>(bias[plane](keep));
      new_out[plane] = M(w_out[plane](Eigen::all, keep));
      benchmark::DoNotOptimize(new_in[plane].data());
      benchmark::DoNotOptimize(new_bias[plane].data());
      benchmark::DoNotOptimize(new_out[plane].data());
    }
    state.SetIterationTime(seconds_since(start));
  }
  state.counters["fresh_pages"] = pinned_mmap_threshold;
}

void variant_args(benchmark::internal::Benchmark* b) {
  b->ArgName("net")->Arg(original)->Arg(pruned)->Arg(built_small)->Unit(benchmark::kMillisecond);
}

void k_args(benchmark::internal::Benchmark* b) {
  b->ArgName("k")->Arg(1)->Arg(64)->Arg(512)->Unit(benchmark::kMicrosecond)->UseManualTime();
}

}  // namespace

BENCHMARK(bm_forward)->Apply(variant_args);
BENCHMARK(bm_train_step)->Apply(variant_args);
BENCHMARK(bm_remove_neurons)->Apply(k_args);
BENCHMARK(bm_rebuild_layers)->Apply(k_args);
