// Trains an MLP on Fashion-MNIST and reports the test accuracy.
//
//   fashion_mnist [--hidden 256,128] [--epochs 8] [--batch 64] [--lr 0.001] [--seed 1]
//
// The data comes from Debian's dataset-fashion-mnist package (/usr/share/datasets/fashion-mnist),
// or from the directory in NEUROPLAST_FASHION_MNIST_DIR. 5000 training images are held out for
// validation.

#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <iostream>
#include <string>
#include <string_view>

#include "neuroplast/neuroplast.hpp"

namespace np = neuroplast;

namespace {

struct Settings {
  std::vector<np::Index> hidden{256, 128};
  int epochs = 8;
  np::Index batch = 64;
  float learning_rate = 1e-3f;
  std::uint64_t seed = 1;
};

std::vector<np::Index> parse_widths(std::string_view text) {
  std::vector<np::Index> widths;
  std::size_t start = 0;
  while (start <= text.size()) {
    const std::size_t comma = text.find(',', start);
    const std::string part(
        text.substr(start, comma == std::string_view::npos ? text.npos : comma - start));
    widths.push_back(std::stol(part));
    if (comma == std::string_view::npos) break;
    start = comma + 1;
  }
  return widths;
}

Settings parse(int argc, char** argv) {
  Settings s;
  for (int i = 1; i < argc; ++i) {
    const std::string_view flag = argv[i];
    if (flag == "--help" || flag == "-h") {
      std::cout << "usage: fashion_mnist [--hidden 256,128] [--epochs 8] [--batch 64] [--lr 0.001] "
                   "[--seed 1]\n";
      std::exit(0);
    }
    if (i + 1 >= argc)
      throw np::Error("missing value after " + std::string(flag) + " (see --help)");
    const std::string value = argv[++i];
    if (flag == "--hidden") {
      s.hidden = parse_widths(value);
    } else if (flag == "--epochs") {
      s.epochs = std::stoi(value);
    } else if (flag == "--batch") {
      s.batch = std::stol(value);
    } else if (flag == "--lr") {
      s.learning_rate = std::stof(value);
    } else if (flag == "--seed") {
      s.seed = std::stoull(value);
    } else {
      throw np::Error("unknown option " + std::string(flag) + " (see --help)");
    }
  }
  return s;
}

}  // namespace

int main(int argc, char** argv) try {
  const Settings s = parse(argc, argv);
  std::cout << "Loading Fashion-MNIST from " << np::default_fashion_mnist_directory() << " ...\n";
  auto [train, validation] =
      np::load_fashion_mnist<float>(np::Split::train).split(55000.0 / 60000.0, s.seed);
  const auto test = np::load_fashion_mnist<float>(np::Split::test);
  std::cout << "train " << train.size() << ", validation " << validation.size() << ", test "
            << test.size() << " images of " << train.feature_count() << " pixels\n";

  std::vector<np::Index> sizes{train.feature_count()};
  sizes.insert(sizes.end(), s.hidden.begin(), s.hidden.end());
  sizes.push_back(10);
  np::Mlp<float, np::Relu> net(sizes, s.seed);

  np::Trainer trainer(
      net, np::Adam<float>{.learning_rate = s.learning_rate}, np::StaticPolicy{},
      np::TrainOptions{.epochs = s.epochs, .batch_size = s.batch, .seed = s.seed, .verbose = true});
  const auto started = std::chrono::steady_clock::now();
  trainer.fit(train, validation);
  const double seconds =
      std::chrono::duration<double>(std::chrono::steady_clock::now() - started).count();

  const np::Evaluation result = trainer.evaluate(test);
  std::printf("test accuracy %.2f%%  (loss %.4f, %lld parameters, %.1f s of training)\n",
              100 * result.accuracy, result.loss, static_cast<long long>(net.parameter_count()),
              seconds);
  return 0;
} catch (const std::exception& e) {
  std::cerr << "fashion_mnist: " << e.what() << '\n';
  return 1;
}
