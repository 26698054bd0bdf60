// The C++ side of the Python overhead measurement (bench/python_overhead.py runs this program and
// the same work through the Python module, side by side, and prints the ratios): forward of one
// sample through 784-256-10, returning a new matrix as the module's forward does, and one
// training epoch on Fashion-MNIST (784-256-10, Adam 1e-3, batch 64), each on one thread.

#include <benchmark/benchmark.h>

#include "neuroplast/neuroplast.hpp"

namespace np = neuroplast;

namespace {

void bm_forward_batch1(benchmark::State& state) {
  np::set_thread_count(1);
  const np::Mlp<float, np::Relu> net({784, 256, 10}, 1);
  const np::Matrix<float> x = np::Matrix<float>::Random(784, 1);
  for (auto _ : state) {
    np::Matrix<float> logits = net.forward(x);
    benchmark::DoNotOptimize(logits.data());
  }
}

void bm_fashion_epoch(benchmark::State& state) {
  np::set_thread_count(1);
  static const np::Dataset<float> train = np::load_fashion_mnist<float>(np::Split::train);
  for (auto _ : state) {
    np::Mlp<float, np::Relu> net({784, 256, 10}, 1);
    np::Trainer trainer(net, np::Adam<float>{.learning_rate = 1e-3f}, np::StaticPolicy{},
                        np::TrainOptions{.epochs = 1, .batch_size = 64, .seed = 1});
    benchmark::DoNotOptimize(trainer.fit(train).epochs.back().train_loss);
  }
}

}  // namespace

BENCHMARK(bm_forward_batch1)->Unit(benchmark::kMicrosecond);
BENCHMARK(bm_fashion_epoch)->Unit(benchmark::kMillisecond)->Iterations(1)->Repetitions(3);
