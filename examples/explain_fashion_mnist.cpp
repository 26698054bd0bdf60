// Trains a small MLP on Fashion-MNIST, then explains some test images with layer-wise relevance
// propagation and writes one PNG per image: the input and the input relevance by three rules side
// by side (ε; the default composite ε / z⁺ / ε; z^B / z⁺ / ε). Red pixels speak for the predicted
// class, blue ones against it, white is no relevance; each heatmap is scaled to its own largest
// magnitude.
//
//   explain_fashion_mnist [--out lrp_heatmaps] [--images 8] [--epochs 2] [--hidden 256,128]
//                         [--seed 1]
//
// The data comes from Debian's dataset-fashion-mnist package (/usr/share/datasets/fashion-mnist),
// or from the directory in NEUROPLAST_FASHION_MNIST_DIR.

#include <algorithm>
#include <array>
#include <cmath>
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <filesystem>
#include <iostream>
#include <string>
#include <string_view>
#include <vector>

#include "neuroplast/neuroplast.hpp"
#include "support/cli.hpp"

// stb is third-party C code; its warnings are not ours to fix.
#pragma GCC diagnostic push
#pragma GCC diagnostic ignored "-Wall"
#pragma GCC diagnostic ignored "-Wextra"
#pragma GCC diagnostic ignored "-Wpedantic"
#pragma GCC diagnostic ignored "-Wmissing-field-initializers"
#pragma GCC diagnostic ignored "-Wsign-compare"
#pragma GCC diagnostic ignored "-Wunused-parameter"
#pragma GCC diagnostic ignored "-Wunused-function"
#define STB_IMAGE_WRITE_IMPLEMENTATION
#include <stb/stb_image_write.h>
#pragma GCC diagnostic pop

namespace np = neuroplast;
namespace lrp = neuroplast::lrp;

namespace {

constexpr int kSide = 28;  // Fashion-MNIST images are 28 × 28, stored row by row
constexpr int kZoom = 8;   // each pixel becomes an 8 × 8 block
constexpr int kGap = 8;    // white pixels between panels
constexpr int kPanel = kSide * kZoom;

const std::array<const char*, 10> kClasses = {"tshirt", "trouser", "pullover", "dress", "coat",
                                              "sandal", "shirt",   "sneaker",  "bag",   "boot"};

struct Settings {
  std::string out = "lrp_heatmaps";
  int images = 8;
  int epochs = 2;
  std::vector<np::Index> hidden{256, 128};
  std::uint64_t seed = 1;
};

Settings parse(int argc, char** argv) {
  Settings s;
  for (int i = 1; i < argc; ++i) {
    const std::string_view flag = argv[i];
    if (flag == "--help" || flag == "-h") {
      std::cout << "usage: explain_fashion_mnist [--out lrp_heatmaps] [--images 8] [--epochs 2] "
                   "[--hidden 256,128] [--seed 1]\n";
      std::exit(0);
    }
    if (i + 1 >= argc)
      throw np::Error("missing value after " + std::string(flag) + " (see --help)");
    const std::string value = argv[++i];
    if (flag == "--out") {
      s.out = value;
    } else if (flag == "--images") {
      s.images = neuroplast::examples::parse_number<int>(flag, value, 1);
    } else if (flag == "--epochs") {
      s.epochs = neuroplast::examples::parse_number<int>(flag, value, 1);
    } else if (flag == "--hidden") {
      s.hidden = neuroplast::examples::parse_widths(flag, value);
    } else if (flag == "--seed") {
      s.seed = neuroplast::examples::parse_number<std::uint64_t>(flag, value);
    } else {
      throw np::Error("unknown option " + std::string(flag) + " (see --help)");
    }
  }
  return s;
}

/// An RGB canvas of `panels` square panels side by side on white.
struct Canvas {
  int width;
  int height = kPanel;
  std::vector<std::uint8_t> rgb;
  explicit Canvas(int panels)
      : width(panels * kPanel + (panels - 1) * kGap),
        rgb(static_cast<std::size_t>(width * height * 3), 255) {}

  void block(int panel, int pixel, std::array<std::uint8_t, 3> colour) {
    const int x0 = panel * (kPanel + kGap) + (pixel % kSide) * kZoom;
    const int y0 = (pixel / kSide) * kZoom;
    for (int y = y0; y < y0 + kZoom; ++y)
      for (int x = x0; x < x0 + kZoom; ++x)
        std::copy(colour.begin(), colour.end(),
                  rgb.begin() + static_cast<std::ptrdiff_t>((y * width + x) * 3));
  }

  /// Pixel intensities in [0, 1], dark on light like the clothes on paper.
  void grey(int panel, const np::Vector<float>& image) {
    for (int p = 0; p < kSide * kSide; ++p) {
      const auto v = static_cast<std::uint8_t>(std::lround(255 * (1 - image(p))));
      block(panel, p, {v, v, v});
    }
  }

  /// Relevance scaled by its largest magnitude: red positive, blue negative, white zero.
  void heatmap(int panel, const np::Vector<float>& relevance) {
    const float scale = std::max(relevance.cwiseAbs().maxCoeff(), 1e-12f);
    for (int p = 0; p < kSide * kSide; ++p) {
      const float v = std::clamp(relevance(p) / scale, -1.0f, 1.0f);
      const auto fade = static_cast<std::uint8_t>(std::lround(255 * (1 - std::abs(v))));
      block(panel, p,
            v >= 0 ? std::array<std::uint8_t, 3>{255, fade, fade}
                   : std::array<std::uint8_t, 3>{fade, fade, 255});
    }
  }
};

}  // namespace

int main(int argc, char** argv) try {
  const Settings s = parse(argc, argv);
  std::cout << "Loading Fashion-MNIST from " << np::default_fashion_mnist_directory() << " ...\n";
  auto [train, validation] =
      np::load_fashion_mnist<float>(np::Split::train).split(55000.0 / 60000.0, s.seed);
  const auto test = np::load_fashion_mnist<float>(np::Split::test);

  std::vector<np::Index> sizes{train.feature_count()};
  sizes.insert(sizes.end(), s.hidden.begin(), s.hidden.end());
  sizes.push_back(10);
  np::Mlp<float, np::Relu> net(sizes, s.seed);
  np::Trainer trainer(net, np::Adam<float>{.learning_rate = 1e-3f}, np::StaticPolicy{},
                      np::TrainOptions{.epochs = s.epochs, .seed = s.seed, .verbose = true});
  trainer.fit(train, validation);
  std::printf("test accuracy %.2f%%\n", 100 * trainer.evaluate(test).accuracy);

  // Three explanations of the same images. Plain ε is gradient × input: pixels without ink get
  // no relevance. The default composite (ε, z⁺ in the middle, ε) keeps that at the input but
  // passes only positive evidence through the hidden layers. z^B knows the pixels lie in [0, 1] and
  // also credits blank pixels whose ink would have spoken against the class.
  const np::Index count = std::min<np::Index>(s.images, test.size());
  const np::Matrix<float> X = test.features().leftCols(count);
  const auto by_epsilon = lrp::explain_batch(net, X, lrp::Epsilon{});
  const auto by_composite = lrp::explain_batch(net, X, lrp::Composite{});
  const auto by_box =
      lrp::explain_batch(net, X, lrp::Composite{.input = lrp::ZBox{0, 1}, .hidden = lrp::ZPlus{}});

  std::filesystem::create_directories(s.out);
  for (np::Index n = 0; n < count; ++n) {
    const int label = test.labels()[static_cast<std::size_t>(n)];
    const int predicted = by_epsilon.targets[static_cast<std::size_t>(n)];
    Canvas canvas(4);
    canvas.grey(0, X.col(n));
    canvas.heatmap(1, by_epsilon.input.col(n));
    canvas.heatmap(2, by_composite.input.col(n));
    canvas.heatmap(3, by_box.input.col(n));
    const std::string path = s.out + "/test" + std::to_string(n) + "_" +
                             kClasses[static_cast<std::size_t>(label)] + "_as_" +
                             kClasses[static_cast<std::size_t>(predicted)] + ".png";
    if (stbi_write_png(path.c_str(), canvas.width, canvas.height, 3, canvas.rgb.data(),
                       canvas.width * 3) == 0) {
      throw np::FileError("could not write " + path);
    }
    std::printf("%s  (logit %.2f; input relevance sums: %.2f, %.2f, %.2f)\n", path.c_str(),
                by_epsilon.output(n), by_epsilon.input.col(n).sum(),
                by_composite.input.col(n).sum(), by_box.input.col(n).sum());
  }
  std::cout << "panels: input | epsilon | composite (epsilon, z+, epsilon) | z^B, z+, epsilon; "
               "red = for the predicted class, blue = against\n";

  // Where would Algorithm 1 grow? Scores by the default LrpLayerSelector on validation data.
  const np::LrpLayerSelector selector{};
  const auto scores = selector.scores(net, validation);
  std::cout << "LRP layer scores (mean |R| per neuron):";
  for (double v : scores) std::printf(" %.4f", v);
  const auto chosen = selector.choose(scores);
  std::cout << "  -> grow "
            << (chosen ? "hidden layer " + std::to_string(*chosen) : std::string("no layer"))
            << '\n';
  return 0;
} catch (const std::exception& e) {
  std::cerr << "explain_fashion_mnist: " << e.what() << '\n';
  return 1;
}
