// Continual learning on Split Fashion-MNIST (5 tasks of 2 classes), under both protocols, with
// the metrics of docs/continual.md: the per-task accuracy matrix, average accuracy, forgetting,
// backward and forward transfer, over several seeds.
//
//   continual_fashion_mnist [--seeds 3] [--epochs 3] [--start 64] [--buffer 1100]
//                           [--replay 0.25] [--plasticity 0.25] [--samples 0] [--out DIR]
//
// Methods, all at equal epochs per task (Adam 1e-3, batch 64):
//   fine-tune                  784-start-10 trained on each task in turn
//   replay                     fixed network of the size the growing runs end at, rehearsal
//   growth + freezing          DropinPolicy, new data freezes the old hidden neurons and grows
//   growth + freezing + replay the same with rehearsal
//   growth + plasticity + replay  old hidden neurons slowed to --plasticity instead of frozen
//   joint                      every task's data at once, the same sample passes (upper bound)
// Task-incremental (the task is known: argmax over its own classes): the growing methods also
// freeze the old tasks' output neurons, which makes their forgetting exactly zero. Class-
// incremental (one head, argmax over all ten outputs): the output layer stays plastic.
//
// Prints Markdown tables (and the seed-1 accuracy matrices); with --out writes
// continual_summary.csv (one row per protocol, method and seed), continual_matrix.csv (one row per
// accuracy-matrix entry) and continual.svg (average accuracy over the tasks seen so far).

#include <algorithm>
#include <cmath>
#include <cstdio>
#include <filesystem>
#include <fstream>
#include <iostream>
#include <map>
#include <optional>
#include <string>
#include <vector>

#include "neuroplast/neuroplast.hpp"
#include "support/cli.hpp"
#include "support/stats.hpp"
#include "support/svg_plot.hpp"

namespace np = neuroplast;
using np::Index;
using Data = np::Dataset<float>;
namespace ex = neuroplast::examples;

namespace {

struct Settings {
  int seeds = 3;
  int epochs = 3;
  Index start = 64;
  Index buffer = 1100;
  double replay = 0.25;
  double plasticity = 0.25;
  Index samples = 0;  // training images used (0 = all 55 000)
  std::string out;
};

struct Split {
  Data train, validation, test;
};

enum class Method {
  fine_tune,
  replay,
  grow_freeze,
  grow_freeze_replay,
  grow_plastic_replay,
  joint
};
const std::vector<std::pair<Method, const char*>> kMethods = {
    {Method::fine_tune, "fine-tune"},
    {Method::replay, "replay"},
    {Method::grow_freeze, "growth + freezing"},
    {Method::grow_freeze_replay, "growth + freezing + replay"},
    {Method::grow_plastic_replay, "growth + plasticity + replay"},
    {Method::joint, "joint (upper bound)"},
};

bool grows(Method m) {
  return m == Method::grow_freeze || m == Method::grow_freeze_replay ||
         m == Method::grow_plastic_replay;
}
bool replays(Method m) {
  return m == Method::replay || m == Method::grow_freeze_replay || m == Method::grow_plastic_replay;
}

struct Result {
  np::AccuracyMatrix matrix{5};
  std::vector<Index> sizes;
  Index parameters = 0;
  bool joint = false;  // only the last row is measured

  double average_accuracy() const {
    return joint ? matrix.after.bottomRows(1).mean() : matrix.average_accuracy();
  }
};

const char* protocol_name(np::ContinualProtocol p) {
  return p == np::ContinualProtocol::class_incremental ? "class-incremental" : "task-incremental";
}

template <class Trainer, class Net, class Measure>
void train_tasks(Trainer& trainer, Net& net, Method method, np::ContinualProtocol protocol,
                 const Settings& s, const Split& d, const std::vector<std::vector<int>>& tasks,
                 Measure& measure);

// One run of `method` over the tasks of `split`, its accuracy matrix measured on the test set.
Result run(Method method, np::ContinualProtocol protocol, const Settings& s, const Split& d,
           const std::vector<std::vector<int>>& tasks, std::vector<Index> sizes, int seed) {
  const auto seed64 = static_cast<std::uint64_t>(seed);
  np::Mlp<float, np::Relu> net(std::move(sizes), seed64);
  const auto T = static_cast<Index>(tasks.size());
  Result r;
  r.matrix = np::AccuracyMatrix(T);
  r.matrix.baseline.resize(T);
  auto measure = [&](Index row) {
    for (Index j = 0; j < T; ++j) {
      const auto& classes = tasks[static_cast<std::size_t>(j)];
      const double a = np::task_accuracy(net, d.test.with_classes(classes), classes, protocol);
      if (row < 0) {
        r.matrix.baseline(j) = a;
      } else {
        r.matrix.after(row, j) = a;
      }
    }
  };
  measure(-1);
  const np::TrainOptions options{.epochs = s.epochs, .batch_size = 64, .seed = seed64};
  const np::Adam<float> adam{.learning_rate = 1e-3f};
  if (method == Method::joint) {
    np::Trainer trainer(net, adam, np::StaticPolicy{}, options);
    trainer.fit(d.train, d.validation);
    measure(T - 1);
    r.joint = true;
    r.sizes = net.sizes();
    r.parameters = net.parameter_count();
    return r;
  }
  if (grows(method)) {
    // The library's defaults, except what new data does to the old hidden neurons, no early
    // stop (the protocol compares every method at equal epochs per task) and no deepening: every
    // method keeps the one hidden layer the protocol is defined on.
    const double old = method == Method::grow_plastic_replay ? s.plasticity : 0.0;
    np::GrowBy grow = np::default_growth();
    grow.depth = 0;
    np::Trainer trainer(
        net, adam,
        np::DropinPolicy{.grow = grow, .new_data = {.old_neurons = old}, .early_stop_windows = 0},
        options);
    train_tasks(trainer, net, method, protocol, s, d, tasks, measure);
  } else {
    np::Trainer trainer(net, adam, np::StaticPolicy{}, options);
    train_tasks(trainer, net, method, protocol, s, d, tasks, measure);
  }
  r.sizes = net.sizes();
  r.parameters = net.parameter_count();
  return r;
}

// Trains `tasks` in turn with `trainer` (which edits `net`), measuring after each.
template <class Trainer, class Net, class Measure>
void train_tasks(Trainer& trainer, Net& net, Method method, np::ContinualProtocol protocol,
                 const Settings& s, const Split& d, const std::vector<std::vector<int>>& tasks,
                 Measure& measure) {
  const auto T = static_cast<Index>(tasks.size());
  const auto seed64 = trainer.options().seed;
  np::ReplayBuffer<float> memory(s.buffer, seed64);
  for (Index t = 0; t < T; ++t) {
    const auto& classes = tasks[static_cast<std::size_t>(t)];
    const Data task = d.train.with_classes(classes);
    if (t > 0) {
      if (grows(method)) {
        trainer.notify_new_data(task);
        if (protocol == np::ContinualProtocol::task_incremental &&
            method != Method::grow_plastic_replay) {
          // The outputs of the tasks so far stay as they are: with the old hidden neurons
          // frozen and the new ones feeding them nothing, the old tasks' logits cannot move.
          np::Vector<float> out = net.plasticity(net.layer_count() - 1);
          for (Index u = 0; u < t; ++u)
            for (const int c : tasks[static_cast<std::size_t>(u)]) out(c) = 0;
          net.set_plasticity(net.layer_count() - 1, out);
        }
      }
      if (replays(method)) trainer.set_replay(memory.dataset(), s.replay);
    }
    trainer.fit(task, d.validation.with_classes(classes));
    if (replays(method)) memory.add(task);
    measure(t);
  }
}

Settings parse(int argc, char** argv) {
  Settings s;
  for (int i = 1; i < argc; ++i) {
    const std::string_view flag = argv[i];
    if (flag == "--help" || flag == "-h") {
      std::cout
          << "usage: continual_fashion_mnist [--seeds 3] [--epochs 3] [--start 64] "
             "[--buffer 1100] [--replay 0.25] [--plasticity 0.25] [--samples 0] [--out DIR]\n"
             "  --epochs      epochs per task (joint training: the same number over all tasks)\n"
             "  --start       initial hidden width (784-start-10)\n"
             "  --buffer      samples the replay buffer holds\n"
             "  --replay      share of every batch drawn from the buffer\n"
             "  --plasticity  what new data leaves the old hidden neurons (growth + plasticity)\n"
             "  --samples     use the first N training images (0 = all 55 000)\n"
             "  --out         write continual_summary.csv, continual_matrix.csv, continual.svg\n";
      throw 0;
    }
    if (i + 1 >= argc) throw np::Error(std::string(flag) + ": missing value (see --help)");
    const std::string_view value = argv[++i];
    if (flag == "--seeds") {
      s.seeds = ex::parse_number<int>(flag, value, 1);
    } else if (flag == "--epochs") {
      s.epochs = ex::parse_number<int>(flag, value, 1);
    } else if (flag == "--start") {
      s.start = ex::parse_number<Index>(flag, value, 1);
    } else if (flag == "--buffer") {
      s.buffer = ex::parse_number<Index>(flag, value, 1);
    } else if (flag == "--replay") {
      s.replay = ex::parse_number<double>(flag, value, 0);
    } else if (flag == "--plasticity") {
      s.plasticity = ex::parse_number<double>(flag, value, 0);
    } else if (flag == "--samples") {
      s.samples = ex::parse_number<Index>(flag, value, 0);
    } else if (flag == "--out") {
      s.out = value;
    } else {
      throw np::Error("unknown flag " + std::string(flag) + " (see --help)");
    }
  }
  return s;
}

}  // namespace

int main(int argc, char** argv) try {
  const Settings s = parse(argc, argv);
  std::cerr << "Loading Fashion-MNIST from " << np::default_fashion_mnist_directory() << " ...\n";
  auto [train, validation] =
      np::load_fashion_mnist<float>(np::Split::train).split(55000.0 / 60000.0, 1);
  if (s.samples > 0 && s.samples < train.size())
    train =
        train.split(static_cast<double>(s.samples) / static_cast<double>(train.size()), 2).first;
  const Split d{std::move(train), std::move(validation),
                np::load_fashion_mnist<float>(np::Split::test)};
  const auto tasks = np::class_split(10, 2);
  const auto T = static_cast<Index>(tasks.size());

  std::ofstream summary, matrix;
  if (!s.out.empty()) {
    std::filesystem::create_directories(s.out);
    summary.open(s.out + "/continual_summary.csv");
    matrix.open(s.out + "/continual_matrix.csv");
    summary << "protocol,method,seed,average_accuracy,forgetting,backward_transfer,"
               "forward_transfer,parameters,hidden\n";
    matrix << "protocol,method,seed,after_task,task,accuracy\n";
  }
  std::vector<ex::Chart> charts;
  for (const auto protocol :
       {np::ContinualProtocol::class_incremental, np::ContinualProtocol::task_incremental}) {
    std::map<Method, std::vector<Result>> results;
    for (int seed = 1; seed <= s.seeds; ++seed) {
      // The growing runs first: the fixed networks of replay and joint get their final size.
      std::optional<std::vector<Index>> grown;
      for (const auto& [m, name] : kMethods) {
        if (!grows(m)) continue;
        results[m].push_back(run(m, protocol, s, d, tasks, {784, s.start, 10}, seed));
        grown = results[m].back().sizes;
      }
      for (const auto& [m, name] : kMethods) {
        if (grows(m)) continue;
        const std::vector<Index> sizes =
            m == Method::fine_tune ? std::vector<Index>{784, s.start, 10} : *grown;
        results[m].push_back(run(m, protocol, s, d, tasks, sizes, seed));
      }
      for (const auto& [m, name] : kMethods) {
        const Result& r = results[m].back();
        std::fprintf(stderr, "  %s seed %d %-30s A %.2f%%\n", protocol_name(protocol), seed, name,
                     100 * r.average_accuracy());
      }
    }
    std::printf("\n### %s, %d epochs per task, %d seeds\n\n", protocol_name(protocol), s.epochs,
                s.seeds);
    std::printf(
        "| method | average accuracy (%%) | forgetting (points) | backward transfer (points) | "
        "forward transfer (points) | final sizes | parameters |\n|---|---|---|---|---|---|---|\n");
    ex::Chart chart{.title = std::string(protocol_name(protocol)) +
                             ": mean accuracy over the tasks seen so far (seed 1)",
                    .y_label = "accuracy (%)",
                    .x_label = "tasks trained"};
    const char* colors[] = {"#7f7f7f", "#1f77b4", "#ff7f0e", "#2ca02c", "#d62728", "#9467bd"};
    int color = 0;
    for (const auto& [m, name] : kMethods) {
      std::vector<double> a, f, b, fw;
      for (std::size_t k = 0; k < results[m].size(); ++k) {
        const Result& r = results[m][k];
        const bool joint = m == Method::joint;
        a.push_back(100 * r.average_accuracy());
        if (!joint) {
          f.push_back(100 * r.matrix.forgetting());
          b.push_back(100 * r.matrix.backward_transfer());
          fw.push_back(100 * r.matrix.forward_transfer());
        }
        if (summary.is_open()) {
          summary << protocol_name(protocol) << ",\"" << name << "\"," << k + 1 << ','
                  << r.average_accuracy() << ',' << (joint ? std::nan("") : r.matrix.forgetting())
                  << ',' << (joint ? std::nan("") : r.matrix.backward_transfer()) << ','
                  << (joint ? std::nan("") : r.matrix.forward_transfer()) << ',' << r.parameters
                  << ',' << r.sizes[1] << '\n';
          for (Index i = joint ? T - 1 : 0; i < T; ++i)
            for (Index j = 0; j < T; ++j)
              matrix << protocol_name(protocol) << ",\"" << name << "\"," << k + 1 << ',' << i
                     << ',' << j << ',' << r.matrix.after(i, j) << '\n';
        }
      }
      const Result& first = results[m].front();
      auto cell = [&](const std::vector<double>& v) {
        char text[64];
        if (v.empty()) return std::string("—");
        std::snprintf(text, sizeof text, "%.2f ± %.2f", ex::mean(v), ex::stddev(v));
        return std::string(text);
      };
      std::printf("| %s | %s | %s | %s | %s | %s | %lld |\n", name, cell(a).c_str(),
                  cell(f).c_str(), cell(b).c_str(), cell(fw).c_str(),
                  np::detail::format_sizes(first.sizes).c_str(),
                  static_cast<long long>(first.parameters));
      if (m != Method::joint) {
        ex::Series series{.name = name, .color = colors[color % 6]};
        for (Index i = 0; i < T; ++i) series.y.push_back(100 * first.matrix.average_accuracy(i));
        chart.series.push_back(std::move(series));
      }
      ++color;
    }
    std::printf("\nAccuracy matrices, seed 1 (row: after training task i; column: task j; %%):\n");
    for (const auto& [m, name] : kMethods) {
      if (m == Method::joint) continue;
      const auto& R = results[m].front().matrix.after;
      std::printf("\n%s\n\n| after \\ task |", name);
      for (Index j = 0; j < T; ++j) std::printf(" %lld |", static_cast<long long>(j));
      std::printf("\n|---|");
      for (Index j = 0; j < T; ++j) std::printf("---|");
      std::printf("\n");
      for (Index i = 0; i < T; ++i) {
        std::printf("| %lld |", static_cast<long long>(i));
        for (Index j = 0; j < T; ++j) std::printf(" %.1f |", 100 * R(i, j));
        std::printf("\n");
      }
    }
    charts.push_back(std::move(chart));
  }
  if (!s.out.empty())
    ex::write_svg(s.out + "/continual.svg", charts, "Split Fashion-MNIST, 5 tasks of 2 classes");
  return 0;
} catch (int) {
  return 0;
} catch (const std::exception& e) {
  std::cerr << "continual_fashion_mnist: " << e.what() << '\n';
  return 1;
}
