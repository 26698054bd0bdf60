#pragma once
// Small helpers shared by the test files: reproducible batches, labels, biases, one training step.

#include <algorithm>
#include <catch2/catch.hpp>
#include <string>
#include <vector>

#include "neuroplast/neuroplast.hpp"

namespace neuroplast::testing {

// Matches an exception whose what() contains every one of the given strings:
// CHECK_THROWS_MATCHES(f(), NumericError, WhatHas({"epoch 2", "layer 1"})).
struct WhatHas : Catch::MatcherBase<std::exception> {
  std::vector<std::string> parts;
  WhatHas(std::initializer_list<std::string> p) : parts(p) {}
  bool match(const std::exception& e) const override {
    const std::string what = e.what();
    return std::all_of(parts.begin(), parts.end(),
                       [&](const std::string& p) { return what.find(p) != std::string::npos; });
  }
  std::string describe() const override {
    std::string d = "has a message containing";
    for (const auto& p : parts) d += " \"" + p + "\"";
    return d;
  }
};

// rows × cols standard normal entries, reproducible for a seed.
inline Matrix<double> random_batch(Index rows, Index cols, std::uint64_t seed) {
  Rng rng(seed);
  Matrix<double> X(rows, cols);
  for (Index c = 0; c < cols; ++c)
    for (Index r = 0; r < rows; ++r) X(r, c) = rng.normal();
  return X;
}

// Labels 0, 1, …, classes − 1, 0, 1, … for n samples.
inline std::vector<int> labels_for(Index n, Index classes) {
  std::vector<int> y(static_cast<std::size_t>(n));
  for (Index i = 0; i < n; ++i) y[static_cast<std::size_t>(i)] = static_cast<int>(i % classes);
  return y;
}

// max |a − b| relative to max |b|.
inline double relative_difference(const Matrix<double>& a, const Matrix<double>& b) {
  return (a - b).cwiseAbs().maxCoeff() / std::max(1e-300, b.cwiseAbs().maxCoeff());
}

// Normal(0, stddev) biases in every layer, drawn in order from `rng`, so tests do not rely on the
// zero-bias start.
template <class Net>
void randomise_biases(Net& net, Rng& rng, double stddev) {
  for (Index l = 0; l < net.layer_count(); ++l)
    for (Index r = 0; r < net.bias(l).size(); ++r) net.bias(l)(r) = rng.normal(0.0, stddev);
}

// The same from a stream of its own, seeded with `seed`.
template <class Net>
void randomise_biases(Net& net, std::uint64_t seed, double stddev = 0.2) {
  Rng rng(seed);
  randomise_biases(net, rng, stddev);
}

// Forward, softmax cross-entropy and backward on one batch: leaves the gradients in `net`.
template <class Net>
void compute_gradients(Net& net, const Matrix<double>& X, const std::vector<int>& y) {
  Workspace<double> ws;
  const auto logits = net.forward_train(X, ws);
  auto g = ws.output_gradient();
  SoftmaxCrossEntropy::evaluate(logits, Targets<double>{.labels = y}, &g);
  net.backward(X, ws);
}

// compute_gradients followed by one optimizer step.
template <class Net, class Opt>
void train_step(Net& net, Opt& opt, const Matrix<double>& X, const std::vector<int>& y) {
  compute_gradients(net, X, y);
  opt.step(net);
}

}  // namespace neuroplast::testing
