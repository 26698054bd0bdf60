// Training step of 784-1024-1024-10 (float, batch 256) with each kind of dropout on both hidden
// layers, against no dropout, side by side. Batch-shared dropout leaves the dropped neurons out of
// the products, so at rate p it should cost about (1 − p) of the products' time.

#include <benchmark/benchmark.h>

#include "neuroplast/neuroplast.hpp"
#include "support/step.hpp"

namespace np = neuroplast;
using np::Index;

namespace {

void bm_train_step(benchmark::State& state, np::Dropout dropout) {
  np::Mlp<float, np::Relu> net({784, 1024, 1024, 10}, 1);
  for (Index h = 0; h < net.hidden_layer_count(); ++h) net.set_dropout(h, dropout);
  const np::Matrix<float> X = np::Matrix<float>::Random(784, 256);
  const std::vector<int> y = np::bench::cyclic_labels(256, 10);
  np::Workspace<float> ws;
  np::Adam<float> opt{.learning_rate = 1e-4f};
  for (auto _ : state) np::bench::train_step(net, opt, X, y, ws);
}

}  // namespace

BENCHMARK_CAPTURE(bm_train_step, none, np::Dropout{})->Unit(benchmark::kMillisecond);
BENCHMARK_CAPTURE(bm_train_step, bernoulli_0_5, np::Dropout{.rate = 0.5})
    ->Unit(benchmark::kMillisecond);
BENCHMARK_CAPTURE(bm_train_step, gaussian_0_5,
                  np::Dropout{.kind = np::DropoutKind::gaussian, .rate = 0.5})
    ->Unit(benchmark::kMillisecond);
BENCHMARK_CAPTURE(bm_train_step, drop_connect_0_5,
                  np::Dropout{.kind = np::DropoutKind::drop_connect, .rate = 0.5})
    ->Unit(benchmark::kMillisecond);
BENCHMARK_CAPTURE(bm_train_step, batch_shared_0_25,
                  np::Dropout{.kind = np::DropoutKind::batch_shared, .rate = 0.25})
    ->Unit(benchmark::kMillisecond);
BENCHMARK_CAPTURE(bm_train_step, batch_shared_0_5,
                  np::Dropout{.kind = np::DropoutKind::batch_shared, .rate = 0.5})
    ->Unit(benchmark::kMillisecond);
