#pragma once
// The training step every benchmark times: forward, softmax cross-entropy, backward, optimizer.

#include <benchmark/benchmark.h>

#include <vector>

#include "neuroplast/neuroplast.hpp"

namespace neuroplast::bench {

// One full training step of `net` on the batch (X, y), reusing `ws`.
template <class Net, class Opt>
void train_step(Net& net, Opt& opt, const Matrix<typename Net::scalar>& X,
                const std::vector<int>& y, Workspace<typename Net::scalar>& ws) {
  using T = typename Net::scalar;
  const auto logits = net.forward_train(X, ws);
  auto g = ws.output_gradient();
  benchmark::DoNotOptimize(SoftmaxCrossEntropy::evaluate(logits, Targets<T>{.labels = y}, &g));
  net.backward(X, ws);
  opt.step(net);
}

// Labels 0, 1, …, classes − 1, 0, … for a batch.
inline std::vector<int> cyclic_labels(Index n, Index classes) {
  std::vector<int> y(static_cast<std::size_t>(n));
  for (std::size_t i = 0; i < y.size(); ++i)
    y[i] = static_cast<int>(i % static_cast<std::size_t>(classes));
  return y;
}

}  // namespace neuroplast::bench
