// The C++ run the Python tests compare with bit for bit: trains a float ReLU network on the
// samples a test wrote, with the optimizer and policy named on the command line, and writes the
// final parameters and every epoch's losses.
//
//   python_reference_run <data.bin> <policy> <optimizer> <epochs> <out.bin>
//
// data.bin: int64 n, features, classes, hidden; n × features float32 (sample after sample); n
// int32 labels; then as many validation samples as training samples, the same way.
// out.bin: int64 layer count, sizes; per dense layer the weights (row after row) and biases as
// float32; int64 epoch count; per epoch train loss and validation loss as float64.

#include <cstdint>
#include <cstdio>
#include <fstream>
#include <iostream>
#include <stdexcept>
#include <string>
#include <tuple>
#include <vector>

#include "neuroplast/neuroplast.hpp"

namespace np = neuroplast;

namespace {

template <class V>
void read(std::istream& in, V* v, std::size_t n = 1) {
  in.read(reinterpret_cast<char*>(v), static_cast<std::streamsize>(n * sizeof(V)));
  if (!in) throw std::runtime_error("reference_run: the data file is truncated");
}

np::Dataset<float> read_set(std::istream& in, std::int64_t n, std::int64_t features) {
  np::Matrix<float> X(features, n);
  read(in, X.data(), static_cast<std::size_t>(n * features));
  std::vector<std::int32_t> y(static_cast<std::size_t>(n));
  read(in, y.data(), y.size());
  return np::Dataset<float>(std::move(X), std::vector<int>(y.begin(), y.end()));
}

template <class Policy, class Opt>
np::History train(np::Mlp<float, np::Relu>& net, Opt opt, Policy policy, int epochs,
                  const np::Dataset<float>& train, const np::Dataset<float>& validation) {
  np::Trainer trainer(net, opt, std::move(policy),
                      np::TrainOptions{.epochs = epochs, .batch_size = 16, .seed = 5});
  return trainer.fit(train, validation);
}

template <class Opt>
np::History with_policy(const std::string& policy, np::Mlp<float, np::Relu>& net, Opt opt,
                        int epochs, const np::Dataset<float>& t, const np::Dataset<float>& v) {
  if (policy == "static") return train(net, opt, np::StaticPolicy{}, epochs, t, v);
  if (policy == "dropin") return train(net, opt, np::DropinPolicy{}, epochs, t, v);
  if (policy == "neuroplastic") return train(net, opt, np::NeuroplasticPolicy{}, epochs, t, v);
  throw std::runtime_error("reference_run: unknown policy " + policy);
}

}  // namespace

int main(int argc, char** argv) try {
  if (argc != 6) {
    std::cerr << "usage: python_reference_run <data.bin> <policy> <optimizer> <epochs> <out.bin>\n";
    return 2;
  }
  std::ifstream in(argv[1], std::ios::binary);
  std::int64_t head[4];
  read(in, head, 4);
  const auto [n, features, classes, hidden] = std::tuple(head[0], head[1], head[2], head[3]);
  const np::Dataset<float> t = read_set(in, n, features);
  const np::Dataset<float> v = read_set(in, n, features);
  np::Mlp<float, np::Relu> net({features, hidden, classes}, 3);
  const std::string policy = argv[2], optimizer = argv[3];
  const int epochs = std::stoi(argv[4]);
  np::History h;
  if (optimizer == "sgd") {
    h = with_policy(policy, net, np::Sgd<float>{.learning_rate = 0.05f, .momentum = 0.9f}, epochs,
                    t, v);
  } else if (optimizer == "adam") {
    h = with_policy(policy, net, np::Adam<float>{.learning_rate = 0.01f}, epochs, t, v);
  } else if (optimizer == "adamw") {
    h = with_policy(policy, net, np::AdamW<float>{.learning_rate = 0.01f}, epochs, t, v);
  } else {
    throw std::runtime_error("reference_run: unknown optimizer " + optimizer);
  }
  std::ofstream out(argv[5], std::ios::binary);
  auto put = [&](const auto& x) { out.write(reinterpret_cast<const char*>(&x), sizeof(x)); };
  const auto sizes = net.sizes();
  put(static_cast<std::int64_t>(net.layer_count()));
  for (const np::Index s : sizes) put(static_cast<std::int64_t>(s));
  for (np::Index l = 0; l < net.layer_count(); ++l) {
    const np::Matrix<float> w = net.weights(l);
    for (np::Index i = 0; i < w.rows(); ++i)
      for (np::Index j = 0; j < w.cols(); ++j) put(w(i, j));
    for (np::Index i = 0; i < net.bias(l).size(); ++i) put(net.bias(l)(i));
  }
  put(static_cast<std::int64_t>(h.epochs.size()));
  for (const np::EpochRecord& e : h.epochs) {
    put(e.train_loss);
    put(e.validation_loss);
  }
  return out ? 0 : 1;
} catch (const std::exception& e) {
  std::cerr << e.what() << '\n';
  return 1;
}
