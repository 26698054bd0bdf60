// The experiments of docs/results.md: Algorithms 1-3 of the paper against fixed MLPs on
// Fashion-MNIST, over several seeds, and a class-incremental sequence.
//
//   experiments table [--seeds 3] [--epochs 15] [--out results]   accuracy / size / events / time
//   experiments incremental [--seeds 3] [--epochs 3] [--out results]  5 tasks of 2 classes
//   experiments growth_timing [--seeds 3] [--epochs 30]   networks grown early, late and by
//                                                          doublings against fresh ones
//
// Writes Markdown tables to standard output, and CSV histories and SVG plots to --out.

#include <chrono>
#include <cmath>
#include <cstdio>
#include <filesystem>
#include <iostream>
#include <map>
#include <string>
#include <vector>

#include "neuroplast/neuroplast.hpp"
#include "support/cli.hpp"
#include "support/stats.hpp"
#include "support/svg_plot.hpp"

namespace np = neuroplast;
using np::Index;
namespace ex = neuroplast::examples;

namespace {

struct Settings {
  std::string mode = "table";
  int seeds = 3;
  int epochs = 15;
  bool epochs_given = false;
  std::string out = "results";
};

struct Run {
  std::string method;
  int seed = 0;
  double test_accuracy = 0;
  Index parameters = 0;
  Index active_parameters = 0;
  int growth_events = 0;
  int prune_events = 0;
  double seconds = 0;
  std::vector<Index> sizes;
  np::History history;
};

struct Data {
  np::Dataset<float> train, validation, test;
};

const np::TrainOptions& base_options() {
  static const np::TrainOptions o{.epochs = 15, .batch_size = 64};
  return o;
}

np::LossPlateau plateau() {
  return np::LossPlateau{.delta = 0.03, .relative = true, .cooldown = 1, .min_epochs = 3};
}

template <class Policy>
Run train(const std::string& method, std::vector<Index> sizes, Policy policy, const Data& d,
          int seed, int epochs) {
  np::Mlp<float, np::Relu> net(sizes, static_cast<std::uint64_t>(seed));
  np::TrainOptions options = base_options();
  options.epochs = epochs;
  options.seed = static_cast<std::uint64_t>(seed);
  const auto started = std::chrono::steady_clock::now();
  np::Trainer trainer(net, np::Adam<float>{.learning_rate = 1e-3f}, std::move(policy), options);
  Run r;
  r.history = trainer.fit(d.train, d.validation);
  r.seconds = std::chrono::duration<double>(std::chrono::steady_clock::now() - started).count();
  r.method = method;
  r.seed = seed;
  r.test_accuracy = trainer.evaluate(d.test).accuracy;
  r.parameters = net.parameter_count();
  r.active_parameters = net.active_parameter_count();
  r.sizes = net.sizes();
  for (const auto& e : r.history.events) {
    if (e.grows()) ++r.growth_events;
    if (e.kind == np::EventKind::prune_connections) ++r.prune_events;
  }
  std::fprintf(
      stderr, "  %-22s seed %d: test %.2f%%  sizes %s  active params %lld  events %d/%d  %.0f s\n",
      method.c_str(), seed, 100 * r.test_accuracy, np::detail::format_sizes(r.sizes).c_str(),
      static_cast<long long>(r.active_parameters), r.growth_events, r.prune_events, r.seconds);
  return r;
}

std::vector<ex::Marker> markers(const np::History& h) {
  std::vector<ex::Marker> m;
  for (const auto& e : h.events) {
    const bool grow = e.grows();
    m.push_back({.x = static_cast<double>(e.epoch),
                 .label = np::event_name(e.kind),
                 .color = grow ? "#d62728" : "#2ca02c"});
  }
  return m;
}

void plot(const std::string& path, const std::string& heading,
          const std::vector<const Run*>& runs) {
  static const char* colors[] = {"#1f77b4", "#ff7f0e", "#9467bd", "#8c564b", "#e377c2", "#17becf"};
  ex::Chart acc{.title = "validation accuracy", .y_label = "accuracy"};
  ex::Chart loss{.title = "training loss", .y_label = "loss"};
  ex::Chart width{.title = "hidden layer widths", .y_label = "neurons"};
  std::size_t i = 0;
  for (const Run* r : runs) {
    const std::string color = colors[i++ % 6];
    ex::Series a{.name = r->method, .color = color}, l{.name = r->method, .color = color};
    for (const auto& e : r->history.epochs) {
      a.y.push_back(e.validation_accuracy);
      l.y.push_back(e.train_loss);
    }
    acc.series.push_back(a);
    loss.series.push_back(l);
    const std::size_t hidden = r->history.epochs.front().sizes.size() - 2;
    for (std::size_t h = 0; h < hidden; ++h) {
      ex::Series w{.name = r->method + " h" + std::to_string(h), .color = color};
      for (const auto& e : r->history.epochs)
        w.y.push_back(h + 1 < e.sizes.size() - 1 ? static_cast<double>(e.sizes[h + 1])
                                                 : std::nan(""));
      width.series.push_back(w);
    }
    if (!r->history.events.empty()) {
      const auto m = markers(r->history);
      acc.markers.insert(acc.markers.end(), m.begin(), m.end());
      width.markers.insert(width.markers.end(), m.begin(), m.end());
    }
  }
  ex::write_svg(path, {acc, loss, width}, heading);
}

using ex::mean;
using ex::stddev;

void table(const Settings& s, const Data& d) {
  std::vector<Run> runs;
  for (int seed = 1; seed <= s.seeds; ++seed) {
    std::fprintf(stderr, "seed %d\n", seed);
    runs.push_back(train("fixed 784-32-10", {784, 32, 10}, np::StaticPolicy{}, d, seed, s.epochs));
    runs.push_back(
        train("fixed 784-128-10", {784, 128, 10}, np::StaticPolicy{}, d, seed, s.epochs));
    runs.push_back(
        train("fixed 784-512-10", {784, 512, 10}, np::StaticPolicy{}, d, seed, s.epochs));
    runs.push_back(train("Alg. 1 dropin from 32", {784, 32, 10},
                         np::DropinPolicy{.trigger = plateau(),
                                          .selector = np::LrpLayerSelector{},
                                          .grow = np::GrowBy{.neurons = 32},
                                          .criterion = np::ValidationAccuracy{.patience = 4},
                                          .bounds = np::GrowthBounds{.max_width = 512},
                                          .rollback_to_best = false,
                                          .early_stop_windows = 0},
                         d, seed, s.epochs));
    runs.push_back(train("Alg. 2 dropout 0.3, 512", {784, 512, 10},
                         np::DropoutPolicy{.dropout = np::Dropout{.rate = 0.3}}, d, seed,
                         s.epochs));
    runs.push_back(train("Alg. 3 neuroplastic", {784, 64, 64, 10},
                         np::NeuroplasticPolicy{.trigger = plateau(),
                                                .selector = np::LrpLayerSelector{},
                                                .grow = np::GrowBy{.neurons = 32},
                                                .prune = np::PruneLeastRelevant{.fraction = 0.3},
                                                .criterion = np::ValidationAccuracy{.patience = 3},
                                                .bounds = np::GrowthBounds{.max_width = 512},
                                                .max_prune_events = 3},
                         d, seed, s.epochs));
  }
  std::map<std::string, std::vector<const Run*>> by_method;
  std::vector<std::string> order;
  for (const auto& r : runs) {
    if (!by_method.count(r.method)) order.push_back(r.method);
    by_method[r.method].push_back(&r);
    std::string file = r.method;
    for (char& c : file)
      if (!std::isalnum(static_cast<unsigned char>(c))) c = '_';
    // Tidy files any tool reads: one row per epoch (sizes as columns), one JSON line per event.
    const std::string base = s.out + "/" + file + "_seed" + std::to_string(r.seed);
    np::write_history_csv(base + ".csv", r.history);
    np::write_events_jsonl(base + "_events.jsonl", r.history);
  }
  std::printf(
      "| method | test accuracy (%%) | final sizes (seed 1) | parameters | active parameters | "
      "growth events | prune events | training time (s) |\n");
  std::printf("|---|---|---|---|---|---|---|---|\n");
  for (const auto& m : order) {
    std::vector<double> acc, params, active, grow, prune, secs;
    for (const Run* r : by_method[m]) {
      acc.push_back(100 * r->test_accuracy);
      params.push_back(static_cast<double>(r->parameters));
      active.push_back(static_cast<double>(r->active_parameters));
      grow.push_back(r->growth_events);
      prune.push_back(r->prune_events);
      secs.push_back(r->seconds);
    }
    std::printf(
        "| %s | %.2f ± %.2f | %s | %.0f ± %.0f | %.0f ± %.0f | %.1f ± %.1f | %.1f ± %.1f | %.1f ± "
        "%.1f |\n",
        m.c_str(), mean(acc), stddev(acc),
        np::detail::format_sizes(by_method[m].front()->sizes).c_str(), mean(params), stddev(params),
        mean(active), stddev(active), mean(grow), stddev(grow), mean(prune), stddev(prune),
        mean(secs), stddev(secs));
  }
  const auto seed1 = [&](const std::string& m) { return by_method[m].front(); };
  plot(s.out + "/algorithm1.svg",
       "Algorithm 1 (dropin from 32) vs fixed MLPs, Fashion-MNIST, seed 1",
       {seed1("Alg. 1 dropin from 32"), seed1("fixed 784-32-10"), seed1("fixed 784-512-10")});
  plot(s.out + "/algorithm3.svg",
       "Algorithm 3 (neuroplastic) vs fixed 784-128-10, Fashion-MNIST, seed 1",
       {seed1("Alg. 3 neuroplastic"), seed1("fixed 784-128-10")});
  plot(s.out + "/algorithm2.svg",
       "Algorithm 2 (dropout 0.3) vs the same fixed MLP, Fashion-MNIST, seed 1",
       {seed1("Alg. 2 dropout 0.3, 512"), seed1("fixed 784-512-10")});
}

// Class-incremental: tasks {0,1}, {2,3}, ..., {8,9}, each trained for `epochs` epochs on its own
// data only. After each task: mean accuracy over the classes seen so far (per-task accuracies on
// the test set, averaged), and forgetting = mean over earlier tasks of (best − current accuracy).
template <class Policy>
std::pair<double, double> incremental(const std::string& method, std::vector<Index> sizes,
                                      Policy policy, const Data& d, int seed, int epochs,
                                      np::History* out) {
  np::Mlp<float, np::Relu> net(sizes, static_cast<std::uint64_t>(seed));
  np::TrainOptions options = base_options();
  options.epochs = epochs;
  options.seed = static_cast<std::uint64_t>(seed);
  np::Trainer trainer(net, np::Adam<float>{.learning_rate = 1e-3f}, std::move(policy), options);
  std::vector<double> best(5, 0.0), current(5, 0.0);
  double average = 0;
  for (int t = 0; t < 5; ++t) {
    const std::vector<int> classes{2 * t, 2 * t + 1};
    const auto task = d.train.with_classes(classes);
    const auto val = d.validation.with_classes(classes);
    trainer.notify_new_data(task);
    trainer.fit(task, val);
    average = 0;
    for (int u = 0; u <= t; ++u) {
      const std::vector<int> seen{2 * u, 2 * u + 1};
      current[static_cast<std::size_t>(u)] = trainer.evaluate(d.test.with_classes(seen)).accuracy;
      best[static_cast<std::size_t>(u)] =
          std::max(best[static_cast<std::size_t>(u)], current[static_cast<std::size_t>(u)]);
      average += current[static_cast<std::size_t>(u)];
    }
    average /= t + 1;
  }
  double forgetting = 0;
  for (int u = 0; u < 4; ++u)
    forgetting += best[static_cast<std::size_t>(u)] - current[static_cast<std::size_t>(u)];
  forgetting /= 4;
  std::fprintf(stderr, "  %-28s seed %d: average accuracy %.2f%%, forgetting %.2f%%, sizes %s\n",
               method.c_str(), seed, 100 * average, 100 * forgetting,
               np::detail::format_sizes(net.sizes()).c_str());
  if (out != nullptr) *out = trainer.history();
  return {average, forgetting};
}

void incremental_table(const Settings& s, const Data& d) {
  std::map<std::string, std::vector<std::pair<double, double>>> results;
  const std::vector<std::string> order{"fixed 784-64-10", "fixed 784-256-10",
                                       "Alg. 1 dropin from 64 (+48 per task)"};
  for (int seed = 1; seed <= s.seeds; ++seed) {
    results[order[0]].push_back(
        incremental(order[0], {784, 64, 10}, np::StaticPolicy{}, d, seed, s.epochs, nullptr));
    results[order[1]].push_back(
        incremental(order[1], {784, 256, 10}, np::StaticPolicy{}, d, seed, s.epochs, nullptr));
    results[order[2]].push_back(
        incremental(order[2], {784, 64, 10},
                    np::DropinPolicy{.trigger = np::LossPlateau{.delta = 1e-9},
                                     .selector = np::LrpLayerSelector{},
                                     .grow = np::GrowBy{.neurons = 48},
                                     .criterion = np::ValidationAccuracy{},
                                     .rollback_to_best = false,
                                     .early_stop_windows = 0},
                    d, seed, s.epochs, nullptr));
  }
  std::printf(
      "\n| method (5 tasks of 2 classes, %d epochs each) | average accuracy over seen classes (%%) "
      "| forgetting (%%) |\n",
      s.epochs);
  std::printf("|---|---|---|\n");
  for (const auto& m : order) {
    std::vector<double> a, f;
    for (auto [x, y] : results[m]) {
      a.push_back(100 * x);
      f.push_back(100 * y);
    }
    std::printf("| %s | %.2f ± %.2f | %.2f ± %.2f |\n", m.c_str(), mean(a), stddev(a), mean(f),
                stddev(f));
  }
}

// ---- growth_timing: is a grown network worse than a fresh one, or only later? ---------------

// Grows every hidden layer on a fixed schedule as the policies' default growth step does (zero
// fan-out, each new bias centred on 1 024 validation samples) and records the test accuracy after
// every epoch past `record_after`. `at` > 0: to `width` after epoch `at`; `doubling`: double
// after every second epoch until `width`; neither: a fresh network.
struct GrowthSchedule {
  static constexpr std::string_view name = "growth_schedule";
  int at = 0;
  bool doubling = false;
  Index width = 1024;
  int record_after = 0;
  const np::Dataset<float>* test = nullptr;
  std::vector<double>* accuracy = nullptr;

  template <class Ctx>
  void on_epoch_end(Ctx& ctx) {
    if (ctx.epoch > record_after) {
      accuracy->push_back(
          100 * np::task_accuracy(ctx.net, *test, {}, np::ContinualProtocol::class_incremental));
    }
    const bool now = doubling ? ctx.epoch % 2 == 0 : ctx.epoch == at;
    if (!now || ctx.final_epoch) return;
    const auto& judged = ctx.judge().features();
    for (Index h = 0; h < ctx.net.hidden_layer_count(); ++h) {
      const Index k = std::min(doubling ? 2 * ctx.net.width(h) : width, width) - ctx.net.width(h);
      if (k < 1) continue;
      ctx.net.grow_neurons(h, k, np::init::ZeroFanOut{});
      np::centre_new_biases(ctx.net, h, k, judged.leftCols(std::min<Index>(judged.cols(), 1024)));
    }
  }
};

// Fresh networks of 1 024 neurons per hidden layer against 16-wide ones grown to that width after
// the first epoch, after 40% of the epochs, and by doublings; one and two hidden layers. The
// test accuracy is averaged over the last third of the epochs, where a single epoch's reading
// moves by half a point (docs/results.md, "Where Fashion-MNIST's gap comes from").
void growth_timing_table(const Settings& s, const Data& d) {
  const int late = std::max(2, s.epochs * 2 / 5);
  struct Variant {
    std::string name;
    std::vector<Index> sizes;
    GrowthSchedule schedule;
  };
  const std::vector<Variant> variants = {
      {"fresh 784-1024-10", {784, 1024, 10}, {}},
      {"784-16-10 grown after epoch 1", {784, 16, 10}, {.at = 1}},
      {"784-16-10 grown after epoch " + std::to_string(late), {784, 16, 10}, {.at = late}},
      {"784-16-10 doubled every 2 epochs", {784, 16, 10}, {.doubling = true}},
      {"fresh 784-1024-1024-10", {784, 1024, 1024, 10}, {}},
      {"784-16-16-10 grown after epoch 1", {784, 16, 16, 10}, {.at = 1}},
      {"784-16-16-10 doubled every 2 epochs", {784, 16, 16, 10}, {.doubling = true}},
  };
  const int from = s.epochs - s.epochs / 3;  // the last third: epochs from+1 … epochs
  std::printf(
      "| run | test accuracy (%%), mean of epochs %d–%d, per seed | dead neurons of the "
      "first hidden layer at the end, per seed |\n|---|---|---|\n",
      from + 1, s.epochs);
  for (const Variant& v : variants) {
    std::string accuracies, dead;
    for (int seed = 1; seed <= s.seeds; ++seed) {
      std::vector<double> accuracy;
      GrowthSchedule schedule = v.schedule;
      schedule.record_after = from;
      schedule.test = &d.test;
      schedule.accuracy = &accuracy;
      np::Mlp<float, np::Relu> net(v.sizes, static_cast<std::uint64_t>(seed));
      np::TrainOptions options = base_options();
      options.epochs = s.epochs;
      options.seed = static_cast<std::uint64_t>(seed);
      np::Trainer trainer(net, np::Adam<float>{.learning_rate = 1e-3f}, schedule, options);
      trainer.fit(d.train, d.validation);
      const auto scores = np::MeanActivation{.max_samples = 1024}.neuron_scores(net, &d.validation);
      const auto zero = (scores.front().array() == 0.0f).count();
      char text[16];
      std::snprintf(text, sizeof text, "%.2f", mean(accuracy));
      accuracies += (seed > 1 ? " / " : "") + std::string(text);
      dead +=
          (seed > 1 ? " / " : "") + std::to_string(zero) + " of " + std::to_string(net.width(0));
      std::fprintf(stderr, "  %-36s seed %d: %.2f%%\n", v.name.c_str(), seed, mean(accuracy));
    }
    std::printf("| %s | %s | %s |\n", v.name.c_str(), accuracies.c_str(), dead.c_str());
  }
}

Settings parse(int argc, char** argv) {
  Settings s;
  int i = 1;
  if (argc > 1 && argv[1][0] != '-') s.mode = argv[i++];
  for (; i < argc; i += 2) {
    const std::string flag = argv[i];
    if (flag == "--help" || flag == "-h") {
      std::cout << "usage: experiments [table|incremental|growth_timing] [--seeds 3] "
                   "[--epochs 15; growth_timing: 30] [--out docs/results]\n";
      std::exit(0);
    }
    if (flag != "--seeds" && flag != "--epochs" && flag != "--out")
      throw np::Error("unknown option " + flag + " (see --help)");
    if (i + 1 >= argc) throw np::Error("missing value after " + flag + " (see --help)");
    const std::string value = argv[i + 1];
    if (flag == "--seeds") {
      s.seeds = neuroplast::examples::parse_number<int>(flag, value, 1);
    } else if (flag == "--epochs") {
      s.epochs = neuroplast::examples::parse_number<int>(flag, value, 1);
      s.epochs_given = true;
    } else {
      s.out = value;
    }
  }
  if (s.mode != "table" && s.mode != "incremental" && s.mode != "growth_timing") {
    throw np::Error("mode must be table, incremental or growth_timing, not '" + s.mode +
                    "' (see --help)");
  }
  if (s.mode == "growth_timing" && !s.epochs_given) s.epochs = 30;
  if (s.mode == "growth_timing" && s.epochs < 3)
    throw np::Error("growth_timing needs --epochs 3 or more (it averages the last third)");
  return s;
}

}  // namespace

int main(int argc, char** argv) try {
  const Settings s = parse(argc, argv);
  std::filesystem::create_directories(s.out);
  // growth_timing splits as the growth suite does, so that its runs are the suite's.
  auto [train, validation] = np::load_fashion_mnist<float>(np::Split::train)
                                 .split(55000.0 / 60000.0, s.mode == "growth_timing" ? 51 : 1);
  const Data d{train, validation, np::load_fashion_mnist<float>(np::Split::test)};
  if (s.mode == "table") {
    table(s, d);
  } else if (s.mode == "incremental") {
    incremental_table(s, d);
  } else {
    growth_timing_table(s, d);
  }
  return 0;
} catch (const std::exception& e) {
  std::cerr << "experiments: " << e.what() << '\n';
  return 1;
}
