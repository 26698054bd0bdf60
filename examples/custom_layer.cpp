// A layer type written outside the library (docs/extending.md, "A layer type"): a dense layer
// that records how active each of its neurons has been in training. Its statistics are
// per-neuron state the network knows nothing about, yet they follow growth and pruning, because
// the network hands every structural edit of an axis to the layer as one AxisEdit.
//
//   ./custom_layer            trains a growing network of such layers and prunes the quietest

#include <algorithm>
#include <cmath>
#include <cstdio>
#include <vector>

#include "neuroplast/neuroplast.hpp"

namespace np = neuroplast;

/// A Dense layer that keeps, for each output neuron, the sum of its mean activation over the
/// training batches it has seen and their number: its mean activity since it was born.
template <class T, class Act>
class ActivityDense : public np::Dense<T, Act> {
 public:
  ActivityDense() = default;
  ActivityDense(np::Index inputs, np::Index outputs)
      : np::Dense<T, Act>(inputs, outputs),
        sum_(static_cast<std::size_t>(outputs), 0.0),
        batches_(static_cast<std::size_t>(outputs), 0) {}

  /// Mean activation of output neuron j over the training batches since it was born (0 before
  /// its first).
  double activity(np::Index j) const {
    const auto i = static_cast<std::size_t>(j);
    return batches_[i] == 0 ? 0.0 : sum_[i] / static_cast<double>(batches_[i]);
  }

  /// The output axis changed (grown, pruned, permuted): the statistics follow the same edit as
  /// the weights. New neurons start with no batches seen.
  void apply_output_edit(const np::AxisEdit& edit, np::GrowValues values = np::GrowValues::zero) {
    np::Dense<T, Act>::apply_output_edit(edit, values);
    edit.apply(sum_, 0.0);
    edit.apply(batches_, std::int64_t{0});
  }

  /// Backward runs once per training batch, with this layer's activations in `out`: the place to
  /// record them. (A batch under batch-shared dropout computes only the kept rows; it is skipped.)
  void backward(const np::MatrixRef<T>& in, const np::ConstMatrixView<T>& out,
                np::MatrixView<T> delta, np::MatrixView<T>* delta_in, T alpha,
                np::GemmWorkspace<T>& gemm, const np::DenseOperand<T>* substitute = nullptr,
                const np::DenseGradient<T>* into = nullptr) {
    if (out.rows() == this->outputs()) {
      for (np::Index j = 0; j < out.rows(); ++j) {
        sum_[static_cast<std::size_t>(j)] += static_cast<double>(out.row(j).mean());
        ++batches_[static_cast<std::size_t>(j)];
      }
    }
    np::Dense<T, Act>::backward(in, out, delta, delta_in, alpha, gemm, substitute, into);
  }

 private:
  std::vector<double> sum_;
  std::vector<std::int64_t> batches_;
};

using Net = np::Mlp<float, np::Relu, ActivityDense>;

/// The activity of every neuron of hidden layer h, in order.
std::vector<double> activities(const Net& net, np::Index h) {
  std::vector<double> a;
  net.visit_layer(h, [&](const auto& layer) {
    for (np::Index j = 0; j < layer.outputs(); ++j) a.push_back(layer.activity(j));
  });
  return a;
}

/// Prints each hidden layer's width and the range of its neurons' activity.
void report(const Net& net, const char* when) {
  std::printf("%s: %ld hidden layers\n", when, static_cast<long>(net.hidden_layer_count()));
  for (np::Index h = 0; h < net.hidden_layer_count(); ++h) {
    const std::vector<double> a = activities(net, h);
    std::printf("  hidden layer %ld: %zu neurons, mean activity %.4f to %.4f\n",
                static_cast<long>(h), a.size(), *std::min_element(a.begin(), a.end()),
                *std::max_element(a.begin(), a.end()));
  }
}

int main() {
  // A 4 × 4 checkerboard on [−1, 1]², 1 000 points: a 2-2 network cannot fit it.
  np::Rng rng(7);
  np::Matrix<float> X(2, 1000);
  std::vector<int> y(1000);
  for (np::Index i = 0; i < X.cols(); ++i) {
    const double a = rng.uniform(-1, 1);
    const double b = rng.uniform(-1, 1);
    X(0, i) = static_cast<float>(a);
    X(1, i) = static_cast<float>(b);
    y[static_cast<std::size_t>(i)] =
        (static_cast<int>(std::floor(2 * (a + 1))) + static_cast<int>(std::floor(2 * (b + 1)))) % 2;
  }
  const np::Dataset<float> all(X, y);
  const auto [train, validation] = all.split(0.8, 1);

  // Every algorithm takes this network as it takes Mlp<float>: the default growth policy sizes it.
  Net net({2, 2, 2, 2}, 3);
  np::Trainer trainer(net, np::Adam<float>{.learning_rate = 0.01f}, np::DropinPolicy{},
                      np::TrainOptions{.epochs = 200, .batch_size = 32, .seed = 5});
  const np::History history = trainer.fit(train, validation);
  report(net, "after growth");
  std::printf("  validation accuracy %.2f%%, %zu structural events\n",
              100 * trainer.evaluate(validation).accuracy, history.events.size());
  int failures = 0;
  if (net.width(0) <= 2) {
    std::printf("FAILED: the network did not grow\n");
    ++failures;
  }

  // The statistics moved with every growth step and every dead neuron replaced. Use them: remove
  // the neurons of hidden layer 0 that were least active; the others keep their own figures.
  const std::vector<double> before = activities(net, 0);
  std::vector<np::Index> quiet;
  std::vector<double> kept;
  for (std::size_t j = 0; j < before.size(); ++j) {
    if (before[j] < 0.01 && quiet.size() + 1 < before.size()) {
      quiet.push_back(static_cast<np::Index>(j));
    } else {
      kept.push_back(before[j]);
    }
  }
  if (!quiet.empty()) net.remove_neurons(0, quiet);
  std::printf("removed %zu quiet neurons of hidden layer 0\n", quiet.size());
  report(net, "after pruning");
  std::printf("  validation accuracy %.2f%%\n", 100 * trainer.evaluate(validation).accuracy);
  // Removal moves survivors from the end into the freed slots: compare as multisets.
  std::vector<double> after = activities(net, 0);
  std::sort(after.begin(), after.end());
  std::sort(kept.begin(), kept.end());
  if (after != kept) {
    std::printf("FAILED: the surviving neurons' statistics did not follow the edit\n");
    ++failures;
  }
  return failures == 0 ? 0 : 1;
}
