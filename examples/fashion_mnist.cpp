// The main demo: Algorithm 3 of the paper (neuroplasticity: grow on loss plateaus where LRP
// points, then prune the least relevant connections when validation worsens) on Fashion-MNIST,
// next to a fixed MLP trained the same way, with a table of both runs at the end.
//
//   fashion_mnist [--hidden 256,128] [--start 64,64] [--epochs 15] [--batch 64] [--lr 0.001]
//   [--seed 1]
//
// --hidden is the fixed baseline's hidden widths, --start the neuroplastic network's initial ones.
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
#include "support/cli.hpp"
#include "support/progress.hpp"

namespace np = neuroplast;

namespace {

struct Settings {
  std::vector<np::Index> hidden{256, 128};
  std::vector<np::Index> start{64, 64};
  int epochs = 15;
  np::Index batch = 64;
  float learning_rate = 1e-3f;
  std::uint64_t seed = 1;
};

Settings parse(int argc, char** argv) {
  Settings s;
  for (int i = 1; i < argc; ++i) {
    const std::string_view flag = argv[i];
    if (flag == "--help" || flag == "-h") {
      std::cout << "usage: fashion_mnist [--hidden 256,128] [--start 64,64] [--epochs 15] "
                   "[--batch 64] [--lr 0.001] [--seed 1]\n"
                   "  --hidden  hidden widths of the fixed baseline\n"
                   "  --start   initial hidden widths of the neuroplastic network\n";
      std::exit(0);
    }
    if (i + 1 >= argc)
      throw np::Error("missing value after " + std::string(flag) + " (see --help)");
    const std::string value = argv[++i];
    if (flag == "--hidden") {
      s.hidden = neuroplast::examples::parse_widths(flag, value);
    } else if (flag == "--start") {
      s.start = neuroplast::examples::parse_widths(flag, value);
    } else if (flag == "--epochs") {
      s.epochs = neuroplast::examples::parse_number<int>(flag, value, 1);
    } else if (flag == "--batch") {
      s.batch = neuroplast::examples::parse_number<np::Index>(flag, value, 1);
    } else if (flag == "--lr") {
      s.learning_rate = neuroplast::examples::parse_number<float>(flag, value, 0.0f);
    } else if (flag == "--seed") {
      s.seed = neuroplast::examples::parse_number<std::uint64_t>(flag, value);
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

  struct Row {
    std::string method;
    double accuracy;
    std::vector<np::Index> sizes;
    np::Index parameters, active;
    int grown, pruned;
    double seconds;
  };
  std::vector<Row> rows;
  auto run = [&](const std::string& method, const std::vector<np::Index>& hidden, auto policy) {
    std::vector<np::Index> sizes{train.feature_count()};
    sizes.insert(sizes.end(), hidden.begin(), hidden.end());
    sizes.push_back(10);
    np::Mlp<float, np::Relu> net(sizes, s.seed);
    std::printf("\n%s: %s\n", method.c_str(), np::detail::format_sizes(sizes).c_str());
    np::examples::ProgressBar bar;  // within an epoch, on a terminal only
    np::Trainer trainer(
        net, np::Adam<float>{.learning_rate = s.learning_rate}, std::move(policy),
        np::TrainOptions{.epochs = s.epochs,
                         .batch_size = s.batch,
                         .seed = s.seed,
                         .verbose = true,
                         .on_batch_end = [&](const np::BatchRecord& b) { bar.update(b); }});
    const auto started = std::chrono::steady_clock::now();
    const np::History h = trainer.fit(train, validation);
    const double seconds =
        std::chrono::duration<double>(std::chrono::steady_clock::now() - started).count();
    int grown = 0, pruned = 0;
    for (const auto& e : h.events) {
      grown += e.grows();
      pruned += e.kind == np::EventKind::prune_connections;
    }
    const np::Evaluation result = trainer.evaluate(test);
    std::printf("test accuracy %.2f%%\n", 100 * result.accuracy);
    rows.push_back({method, result.accuracy, net.sizes(), net.parameter_count(),
                    net.active_parameter_count(), grown, pruned, seconds});
  };
  run("fixed MLP (static baseline)", s.hidden, np::StaticPolicy{});
  run("Algorithm 3 (neuroplastic)", s.start,
      np::NeuroplasticPolicy{
          .trigger =
              np::LossPlateau{.delta = 0.03, .relative = true, .cooldown = 1, .min_epochs = 3},
          .selector = np::LrpLayerSelector{},
          .grow = np::GrowBy{.neurons = 32},
          .prune = np::PruneLeastRelevant{.fraction = 0.3},
          .criterion = np::ValidationAccuracy{.patience = 3},
          .bounds = np::GrowthBounds{.max_width = 512},
          .max_prune_events = 3});

  std::printf(
      "\n| method | test accuracy | final sizes | parameters | active parameters | grow / prune "
      "events | time |\n");
  std::printf("|---|---|---|---|---|---|---|\n");
  for (const Row& r : rows) {
    std::printf("| %s | %.2f%% | %s | %lld | %lld | %d / %d | %.1f s |\n", r.method.c_str(),
                100 * r.accuracy, np::detail::format_sizes(r.sizes).c_str(),
                static_cast<long long>(r.parameters), static_cast<long long>(r.active), r.grown,
                r.pruned, r.seconds);
  }
  return 0;
} catch (const std::exception& e) {
  std::cerr << "fashion_mnist: " << e.what() << '\n';
  return 1;
}
