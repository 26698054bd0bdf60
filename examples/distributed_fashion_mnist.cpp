// Algorithm 3 (NeuroplasticPolicy: grow, then prune by LRP) on Fashion-MNIST, data-parallel over
// every process of an MPI job: each process computes its share of every global batch, gradients
// are summed, and every process makes the same growth and pruning edits at the same step.
//
//   mpirun -np 2 distributed_fashion_mnist [--epochs 10] [--batch 256] [--start 16] [--lr 0.001]
//          [--seed 1] [--samples 0] [--checkpoint run.npl]
//   mpirun -H host1,host2 -np 2 distributed_fashion_mnist      # across machines
//   (docs/distributed.md)
//
// --samples N trains on the first N training images only (0 = all 55 000). Only process 0
// prints; the data comes from Debian's dataset-fashion-mnist package, or the directory in
// NEUROPLAST_FASHION_MNIST_DIR, and every process reads it (every process holds the full data).

#include <mpi.h>

#include <chrono>
#include <cstdio>
#include <iostream>
#include <string>
#include <string_view>
#include <vector>

#include "neuroplast/mpi.hpp"
#include "neuroplast/neuroplast.hpp"
#include "support/cli.hpp"

namespace np = neuroplast;

namespace {

struct Settings {
  int epochs = 10;
  np::Index batch = 256;
  np::Index start = 16;
  float learning_rate = 1e-3f;
  std::uint64_t seed = 1;
  np::Index samples = 0;
  std::string checkpoint;
};

Settings parse(int argc, char** argv, bool talk) {
  Settings s;
  for (int i = 1; i < argc; ++i) {
    const std::string_view flag = argv[i];
    if (flag == "--help" || flag == "-h") {
      if (talk)
        std::cout << "usage: mpirun -np P distributed_fashion_mnist [--epochs 10] [--batch 256] "
                     "[--start 16] [--lr 0.001] [--seed 1] [--samples 0] [--checkpoint PATH]\n"
                     "  --batch       the global batch, split over the P processes\n"
                     "  --start       initial hidden width (784-start-10)\n"
                     "  --samples     train on the first N training images (0 = all)\n"
                     "  --checkpoint  process 0 writes a resumable checkpoint after every epoch\n";
      throw 0;
    }
    if (i + 1 >= argc)
      throw np::Error("missing value after " + std::string(flag) + " (see --help)");
    const std::string value = argv[++i];
    namespace ex = neuroplast::examples;
    if (flag == "--epochs") {
      s.epochs = ex::parse_number<int>(flag, value, 1);
    } else if (flag == "--batch") {
      s.batch = ex::parse_number<np::Index>(flag, value, 1);
    } else if (flag == "--start") {
      s.start = ex::parse_number<np::Index>(flag, value, 1);
    } else if (flag == "--lr") {
      s.learning_rate = ex::parse_number<float>(flag, value, 0.0f);
    } else if (flag == "--seed") {
      s.seed = ex::parse_number<std::uint64_t>(flag, value, 0);
    } else if (flag == "--samples") {
      s.samples = ex::parse_number<np::Index>(flag, value, 0);
    } else if (flag == "--checkpoint") {
      s.checkpoint = value;
    } else {
      throw np::Error("unknown flag " + std::string(flag) + " (see --help)");
    }
  }
  return s;
}

int run(int argc, char** argv) {
  const np::mpi::DataParallel dp{.comm = MPI_COMM_WORLD};
  const bool talk = dp.rank() == 0;
  const Settings s = parse(argc, argv, talk);
  auto [train, validation] =
      np::load_fashion_mnist<float>(np::Split::train).split(55000.0 / 60000.0, s.seed);
  if (s.samples > 0 && s.samples < train.size()) {
    std::vector<np::Index> first(static_cast<std::size_t>(s.samples));
    for (np::Index i = 0; i < s.samples; ++i) first[static_cast<std::size_t>(i)] = i;
    train = train.subset(first);
  }
  const auto test = np::load_fashion_mnist<float>(np::Split::test);

  np::Mlp<float, np::Relu> net({784, s.start, 10}, s.seed);
  np::TrainOptions options{.epochs = s.epochs, .batch_size = s.batch, .seed = s.seed};
  options.checkpoint = {.path = s.checkpoint, .every = s.checkpoint.empty() ? 0 : 1};
  if (talk) {
    options.on_epoch_end = [](const np::EpochRecord& r) {
      std::printf("epoch %3d  loss %.4f  val_acc %6.2f%%  sizes %s  active %lld  %.1f s\n", r.epoch,
                  r.train_loss, 100 * r.validation_accuracy,
                  np::detail::format_sizes(r.sizes).c_str(),
                  static_cast<long long>(r.active_parameter_count), r.seconds);
      std::fflush(stdout);
    };
    options.on_event = [](const np::StructuralEvent& e) {
      std::printf("          %s layer %lld, %lld (%s)\n", np::event_name(e.kind),
                  static_cast<long long>(e.layer), static_cast<long long>(e.count),
                  e.reason.c_str());
    };
    std::printf("%d processes, global batch %lld (%lld per process), %lld training images\n",
                dp.size(), static_cast<long long>(s.batch),
                static_cast<long long>(s.batch / dp.size()), static_cast<long long>(train.size()));
  }
  np::Trainer trainer(net, np::Adam<float>{.learning_rate = s.learning_rate},
                      np::NeuroplasticPolicy{}, options, dp);
  const auto started = std::chrono::steady_clock::now();
  trainer.fit(train, validation);
  const double seconds =
      std::chrono::duration<double>(std::chrono::steady_clock::now() - started).count();
  const np::Evaluation e = trainer.evaluate(test);  // collective: every process evaluates a share
  if (talk) {
    std::printf("test accuracy %.2f%%, sizes %s, %lld of %lld parameters active, %.1f s\n",
                100 * e.accuracy, np::detail::format_sizes(net.sizes()).c_str(),
                static_cast<long long>(net.active_parameter_count()),
                static_cast<long long>(net.parameter_count()), seconds);
  }
  return 0;
}

}  // namespace

int main(int argc, char** argv) {
  MPI_Init(&argc, &argv);
  int status = 0;
  try {
    status = run(argc, argv);
  } catch (int) {  // --help
  } catch (const std::exception& e) {
    std::cerr << "distributed_fashion_mnist: " << e.what() << "\n";
    status = 1;
  }
  MPI_Finalize();
  return status;
}
