// Explaining a batch with LRP against the forward pass of the same batch, side by side in one run:
// 784-1024-1024-10, batch 256, float, one thread. The budget is explain ≤ 3 × forward for
// the ε rule; the other rules are listed to show what their extra products cost.

#include <benchmark/benchmark.h>

#include "neuroplast/neuroplast.hpp"

namespace np = neuroplast;
namespace lrp = neuroplast::lrp;

namespace {

const std::vector<np::Index> kSizes{784, 1024, 1024, 10};
constexpr np::Index kBatch = 256;

// Inputs in [0, 1] like pixels, so every rule (z^B included) sees data it was made for.
np::Matrix<float> pixel_batch() {
  return (np::Matrix<float>::Random(kSizes.front(), kBatch).array() + 1.0f) * 0.5f;
}

void bm_forward(benchmark::State& state) {
  const np::Mlp<float, np::Relu> net(kSizes, 1);
  const auto X = pixel_batch();
  np::Workspace<float> ws;
  for (auto _ : state) benchmark::DoNotOptimize(net.forward(X, ws).data());
}

template <class Rule>
void bm_explain(benchmark::State& state, Rule rule) {
  const np::Mlp<float, np::Relu> net(kSizes, 1);
  const auto X = pixel_batch();
  for (auto _ : state) {
    const auto e = lrp::explain_batch(net, X, rule);
    benchmark::DoNotOptimize(e.input.data());
  }
}

void bm_connection_statistics(benchmark::State& state) {
  // All statistics over one batch: neurons, inputs, and every connection of every layer.
  const np::Mlp<float, np::Relu> net(kSizes, 1);
  const np::Dataset<float> data(pixel_batch(), std::vector<int>(kBatch, 0));
  for (auto _ : state) {
    const auto stats = lrp::aggregate(net, data, lrp::Epsilon{});
    benchmark::DoNotOptimize(stats.connection_mean_abs.front().data());
  }
}

}  // namespace

BENCHMARK(bm_forward)->Unit(benchmark::kMillisecond);
BENCHMARK_CAPTURE(bm_explain, epsilon, lrp::Epsilon{})->Unit(benchmark::kMillisecond);
BENCHMARK_CAPTURE(bm_explain, zplus, lrp::ZPlus{})->Unit(benchmark::kMillisecond);
BENCHMARK_CAPTURE(bm_explain, alpha_beta, lrp::AlphaBeta{})->Unit(benchmark::kMillisecond);
BENCHMARK_CAPTURE(bm_explain, gamma, lrp::Gamma{})->Unit(benchmark::kMillisecond);
BENCHMARK_CAPTURE(bm_explain, composite_default, lrp::Composite{})->Unit(benchmark::kMillisecond);
BENCHMARK_CAPTURE(bm_explain, composite_zbox_zplus_epsilon,
                  lrp::Composite{
                      .input = lrp::ZBox{0, 1}, .hidden = lrp::ZPlus{}, .output = lrp::Epsilon{}})
    ->Unit(benchmark::kMillisecond);
BENCHMARK(bm_connection_statistics)->Unit(benchmark::kMillisecond);
