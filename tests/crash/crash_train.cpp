// The child of the crash test (tests/crash/crash_test.sh): trains a small network under one policy
// with a trainer checkpoint after every epoch, resuming from the checkpoint when one exists, and
// at the end writes a fingerprint of the result. The driver kills it with SIGKILL at random
// moments and checks that the fingerprint equals an uninterrupted run's.
//
//   crash_train run <policy> <checkpoint> <fingerprint>   train (resume if the checkpoint exists)
//   crash_train check <checkpoint>                        exit 0 when absent or readable
//
// Policies: static, dropin, dropout, neuroplastic. Epochs are fits of one epoch each, so a run
// killed after any epoch continues exactly as the library promises for split fits.

#include <cmath>
#include <cstdio>
#include <filesystem>
#include <sstream>
#include <string>
#include <vector>

#include "neuroplast/neuroplast.hpp"

namespace np = neuroplast;
using Net = np::Mlp<double, np::Relu>;
using Opt = np::Adam<double>;

namespace {

constexpr int kEpochs = 120;

np::Dataset<double> spirals(np::Index n, std::uint64_t seed) {
  np::Rng rng(seed);
  np::Matrix<double> X(2, n);
  std::vector<int> y(static_cast<std::size_t>(n));
  for (np::Index i = 0; i < n; ++i) {
    const int label = static_cast<int>(i % 2);
    const double t = 0.5 + 3.0 * static_cast<double>(i / 2) / static_cast<double>(n / 2);
    const double angle = 2.5 * t + (label == 1 ? M_PI : 0.0);
    X(0, i) = t * std::cos(angle) + 0.1 * rng.normal();
    X(1, i) = t * std::sin(angle) + 0.1 * rng.normal();
    y[static_cast<std::size_t>(i)] = label;
  }
  return {std::move(X), std::move(y)};
}

// Everything a run ends with, exactly: parameters and optimizer state (the network file with its
// state planes), the optimizer's step count, and the history without its wall-clock times. Doubles
// are written in hexadecimal, so equal text means equal bits.
template <class Trainer>
void write_fingerprint(Trainer& trainer, Net& net, const std::string& path) {
  const std::string model = path + ".npl";
  np::save(net, model);
  const std::vector<unsigned char> bytes = np::read_file(model, "crash_train");
  std::ostringstream out;
  out << std::hexfloat;
  out << "model bytes " << bytes.size() << " crc " << np::crc32(bytes) << "\n";
  out << "optimizer steps " << trainer.optimizer().steps << " lr "
      << trainer.optimizer().learning_rate << "\n";
  for (const np::EpochRecord& e : trainer.history().epochs) {
    out << "epoch " << e.epoch << " " << e.train_loss << " " << e.validation_loss << " "
        << e.validation_accuracy << " sizes";
    for (const np::Index s : e.sizes) out << " " << s;
    out << " active " << e.active_parameter_count << "\n";
  }
  for (const np::StructuralEvent& e : trainer.history().events) {
    out << "event " << e.epoch << " " << np::event_name(e.kind) << " " << e.layer << " " << e.count
        << " " << e.reason << "\n";
  }
  const std::string text = out.str();
  np::write_file_atomically(path,
                            std::span<const unsigned char>(
                                reinterpret_cast<const unsigned char*>(text.data()), text.size()),
                            "crash_train");
}

template <class Policy>
int run(Policy policy, const std::string& checkpoint, const std::string& fingerprint) {
  const auto train = spirals(400, 1), validation = spirals(200, 2);
  Net net({2, 3, 3, 2}, 5);
  np::Trainer trainer(net, Opt{.learning_rate = 0.01}, std::move(policy),
                      np::TrainOptions{.epochs = 1,
                                       .batch_size = 16,
                                       .seed = 9,
                                       .checkpoint = {.path = checkpoint, .every = 1}});
  if (std::filesystem::exists(checkpoint)) trainer.resume(checkpoint);
  while (static_cast<int>(trainer.history().epochs.size()) < kEpochs)
    trainer.fit(train, validation);
  write_fingerprint(trainer, net, fingerprint);
  return 0;
}

}  // namespace

int main(int argc, char** argv) {
  try {
    const std::vector<std::string> args(argv + 1, argv + argc);
    if (args.size() == 2 && args[0] == "check") {
      if (!std::filesystem::exists(args[1])) return 0;
      const auto c = np::load_checkpoint<double, np::Relu, Opt>(args[1]);
      return c.trainer ? 0 : 1;
    }
    if (args.size() == 4 && args[0] == "run") {
      const std::string& policy = args[1];
      if (policy == "static") return run(np::StaticPolicy{}, args[2], args[3]);
      if (policy == "dropin") return run(np::DropinPolicy{}, args[2], args[3]);
      if (policy == "dropout") return run(np::DropoutPolicy{}, args[2], args[3]);
      if (policy == "neuroplastic") return run(np::NeuroplasticPolicy{}, args[2], args[3]);
      std::fprintf(stderr, "crash_train: unknown policy '%s'\n", policy.c_str());
      return 2;
    }
    std::fprintf(stderr,
                 "usage: crash_train run <static|dropin|dropout|neuroplastic> <checkpoint> "
                 "<fingerprint> | crash_train check <checkpoint>\n");
    return 2;
  } catch (const std::exception& e) {
    std::fprintf(stderr, "crash_train: %s\n", e.what());
    return 1;
  }
}
