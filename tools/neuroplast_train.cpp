// neuroplast-train: trains a network on one's own data without writing C++.
//
//   neuroplast-train --data train.csv [--task classification|regression] [--policy dropin] ...
//
// Reads a CSV file (one sample per row; the class label, or the regression targets, in chosen
// columns) or an IDX image file with an IDX label file, standardises the features with the
// training set's statistics, holds out a validation split (or reads one), trains with any of the
// library's policies, and writes into --out: the model (model.npl, model.safetensors, model.onnx),
// the scaler (scaler.csv), the history (history.csv, events.jsonl) and a plot (history.svg). Every
// bad flag, value or file ends the program with one line on standard error naming it, and exit
// status 2 (bad command line) or 1 (bad data, failed training or writing).

#include <CLI/CLI.hpp>
#include <algorithm>
#include <cmath>
#include <cstdio>
#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <optional>
#include <sstream>
#include <string>
#include <utility>
#include <variant>
#include <vector>

#include "neuroplast/io/history_log.hpp"
#include "neuroplast/neuroplast.hpp"
#include "support/cli.hpp"
#include "support/history_plot.hpp"
#include "support/progress.hpp"

namespace np = neuroplast;
using np::Index;
using Data = np::Dataset<float>;

namespace {

struct Settings {
  std::string data, labels, validation, validation_labels;
  std::string out = "neuroplast-run";
  std::string format = "auto";
  std::string task = "classification";
  int label_column = -1;
  std::vector<int> target_columns{-1};
  bool header = false;
  char delimiter = ',';
  double validation_split = 0.2;
  std::string scaling = "standard";
  std::vector<Index> hidden{};
  std::string activation = "relu";
  std::string policy = "dropin";
  std::string optimizer = "adam";
  double learning_rate = 1e-3;
  double momentum = 0.9;
  double weight_decay = 0;
  int epochs = 100;
  Index batch = 32;
  std::uint64_t seed = 1;
  double dropout = 0.5;
  double prune_fraction = 0.3;
  Index max_width = 4096;
  double max_parameters_per_target = np::GrowthBounds{}.max_parameters_per_target;
  int early_stop_windows = np::DropinPolicy{}.early_stop_windows;
  double clip_gradient_norm = 0;
  std::string schedule = "constant";
  bool restore_best = false;
  bool quiet = false;
};

// The policies the tool offers, behind one type so that the Trainer is compiled once per
// activation and optimizer instead of once per policy as well.
struct AnyPolicy {
  static constexpr std::string_view name = "neuroplast-train";
  std::variant<np::StaticPolicy, np::DropinPolicy, np::DropoutPolicy, np::NeuroplasticPolicy> p;

  bool keeps_best_snapshot() const {
    return std::visit(
        [](const auto& q) {
          if constexpr (requires { q.keeps_best_snapshot(); }) return q.keeps_best_snapshot();
          return false;
        },
        p);
  }
  template <class Ctx>
  void on_fit_begin(Ctx& ctx) {
    std::visit(
        [&](auto& q) {
          if constexpr (requires { q.on_fit_begin(ctx); }) q.on_fit_begin(ctx);
        },
        p);
  }
  template <class Ctx>
  void on_epoch_end(Ctx& ctx) {
    std::visit([&](auto& q) { q.on_epoch_end(ctx); }, p);
  }
};

AnyPolicy make_policy(const Settings& s) {
  const np::GrowthBounds bounds{.max_width = s.max_width,
                                .max_parameters_per_target = s.max_parameters_per_target};
  if (s.policy == "static") return {np::StaticPolicy{}};
  if (s.policy == "dropout") return {np::DropoutPolicy{.dropout = np::Dropout{.rate = s.dropout}}};
  if (s.policy == "neuroplastic") {
    return {np::NeuroplasticPolicy{.prune = np::PruneLeastRelevant{.fraction = s.prune_fraction},
                                   .bounds = bounds,
                                   .early_stop_windows = s.early_stop_windows}};
  }
  return {np::DropinPolicy{.bounds = bounds, .early_stop_windows = s.early_stop_windows}};
}

np::LearningRateSchedule make_schedule(const Settings& s) {
  if (s.schedule == "step") return np::StepDecay{.every = std::max(1, s.epochs / 3)};
  if (s.schedule == "cosine") return np::CosineDecay{.epochs = s.epochs};
  if (s.schedule == "plateau") return np::ReduceOnPlateau{};
  return np::ConstantRate{};
}

bool is_idx(const Settings& s) {
  if (s.format != "auto") return s.format == "idx";
  const std::string name = std::filesystem::path(s.data).filename().string();
  return name.find("idx") != std::string::npos;
}

// Whether the first non-blank line of the CSV file at `path` holds a cell that is not a number:
// then it is a row of column names, read as the header without --header (as most CSV readers
// do). A file that cannot be opened is left to read_csv, which says so.
bool starts_with_names(const std::string& path, char delimiter) {
  std::ifstream in(path);
  std::string line;
  while (std::getline(in, line) && line.find_first_not_of(" \t\r") == std::string::npos) {
  }
  if (!line.empty() && line.back() == '\r') line.pop_back();
  if (line.empty()) return false;
  // Cells split and trimmed as read_csv splits them.
  bool names = false;
  np::detail::for_each_csv_cell(line, delimiter, [&](std::string_view cell, std::size_t) {
    if (names) return;
    if (cell.empty()) {  // an empty cell is no number
      names = true;
      return;
    }
    const std::string text(cell);
    char* end = nullptr;
    std::strtod(text.c_str(), &end);
    if (end != text.c_str() + text.size()) {
      std::fprintf(stderr,
                   "neuroplast-train: line 1 of %s holds column names ('%s'): read as "
                   "the header\n",
                   path.c_str(), text.c_str());
      names = true;
    }
  });
  return names;
}

Data read_data(const Settings& s, const std::string& path, const std::string& labels) {
  if (is_idx(s)) {
    if (s.task == "regression") np::detail::fail("--task regression needs CSV data");
    if (labels.empty()) np::detail::fail("IDX data need their labels: add --labels FILE");
    return Data(np::read_idx_images<float>(path), np::read_idx_labels(labels));
  }
  np::CsvOptions options{.delimiter = s.delimiter,
                         .label_column = s.label_column,
                         .header = s.header || starts_with_names(path, s.delimiter)};
  if (s.task == "regression") options.target_columns = s.target_columns;
  return np::read_csv<float>(path, options);
}

std::string join(const std::vector<Index>& v) {
  std::string text;
  for (const Index x : v) text += (text.empty() ? "" : "-") + std::to_string(x);
  return text;
}

void write_scaler(const std::string& path, const np::StandardScaler<float>& scaler) {
  std::ostringstream text;
  text << "feature,mean,sd\n";
  for (Index i = 0; i < scaler.mean.size(); ++i)
    text << i << ',' << np::detail::csv_number(scaler.mean(i)) << ','
         << np::detail::csv_number(scaler.sd(i)) << '\n';
  np::detail::write_text_atomically(path, text.str(), "neuroplast-train");
}

using Scaler = np::StandardScaler<float>;

template <class Act, class Opt>
int train(const Settings& s, const Data& train_set, const Data* validation, const Scaler* scaler,
          Opt optimizer) {
  std::vector<Index> sizes{train_set.feature_count()};
  const bool grows = s.policy == "dropin" || s.policy == "neuroplastic";
  const std::vector<Index> hidden =
      !s.hidden.empty() ? s.hidden : (grows ? std::vector<Index>{2, 2} : std::vector<Index>{64});
  sizes.insert(sizes.end(), hidden.begin(), hidden.end());
  const bool regression = s.task == "regression";
  sizes.push_back(regression ? train_set.targets().rows() : train_set.class_count());
  np::Mlp<float, Act> net(sizes, s.seed);
  np::examples::ProgressBar bar(!s.quiet && ::isatty(STDOUT_FILENO) != 0);
  const np::TrainOptions options{
      .epochs = s.epochs,
      .batch_size = s.batch,
      .seed = s.seed,
      .loss = regression ? np::LossKind::mean_squared_error : np::LossKind::softmax_cross_entropy,
      .verbose = !s.quiet,
      .restore_best = s.restore_best,
      .on_batch_end = [&](const np::BatchRecord& b) { bar.update(b); },
      .clip_gradient_norm = s.clip_gradient_norm,
      .learning_rate_schedule = make_schedule(s)};
  np::Trainer trainer(net, std::move(optimizer), make_policy(s), options);
  const np::History h =
      validation != nullptr ? trainer.fit(train_set, *validation) : trainer.fit(train_set);
  const auto path = [&](const char* name) {
    return (std::filesystem::path(s.out) / name).string();
  };
  if (scaler != nullptr) {
    np::save(net, *scaler, path("model.npl"));  // the scaler travels with the model
  } else {
    np::save(net, path("model.npl"));
  }
  np::save_safetensors(net, path("model.safetensors"));
  np::save_onnx(net, path("model.onnx"));
  np::write_history_csv(path("history.csv"), h);
  np::write_events_jsonl(path("events.jsonl"), h);
  np::examples::write_history_svg(path("history.svg"), h,
                                  "neuroplast-train: " + s.policy + ", " + join(net.sizes()));
  const np::Evaluation e = trainer.evaluate(validation != nullptr ? *validation : train_set);
  const char* on = validation != nullptr ? "validation" : "training";
  if (regression) {
    std::printf("%s MSE %.6g, sizes %s, %lld parameters (%lld active); wrote %s\n", on, e.loss,
                join(net.sizes()).c_str(), static_cast<long long>(net.parameter_count()),
                static_cast<long long>(net.active_parameter_count()), s.out.c_str());
  } else {
    std::printf(
        "%s accuracy %.2f%% (loss %.4g), sizes %s, %lld parameters (%lld active); wrote %s\n", on,
        100 * e.accuracy, e.loss, join(net.sizes()).c_str(),
        static_cast<long long>(net.parameter_count()),
        static_cast<long long>(net.active_parameter_count()), s.out.c_str());
  }
  return 0;
}

template <class Act>
int train_with(const Settings& s, const Data& train_set, const Data* validation,
               const Scaler* scaler) {
  const auto lr = static_cast<float>(s.learning_rate);
  const auto wd = static_cast<float>(s.weight_decay);
  if (s.optimizer == "sgd") {
    return train<Act>(
        s, train_set, validation, scaler,
        np::Sgd<float>{
            .learning_rate = lr, .momentum = static_cast<float>(s.momentum), .weight_decay = wd});
  }
  if (s.optimizer == "adamw")
    return train<Act>(s, train_set, validation, scaler,
                      np::AdamW<float>{.learning_rate = lr, .weight_decay = wd});
  return train<Act>(s, train_set, validation, scaler,
                    np::Adam<float>{.learning_rate = lr, .weight_decay = wd});
}

int run(const Settings& s) {
  Data all = read_data(s, s.data, s.labels);
  Data train_set, validation;
  bool has_validation = true;
  if (!s.validation.empty()) {
    train_set = std::move(all);
    validation = read_data(s, s.validation, s.validation_labels);
  } else if (s.validation_split > 0) {
    auto [first, second] = all.split(1 - s.validation_split, s.seed);
    train_set = std::move(first);
    validation = std::move(second);
  } else {
    train_set = std::move(all);
    has_validation = false;
  }
  if (has_validation && validation.feature_count() != train_set.feature_count()) {
    np::detail::fail("--validation: ", validation.feature_count(), " features, but --data has ",
                     train_set.feature_count());
  }
  std::filesystem::create_directories(s.out);
  std::optional<Scaler> scaler;
  if (s.scaling == "standard") {
    scaler = Scaler::fit(train_set);
    train_set = scaler->transform(train_set);
    if (has_validation) validation = scaler->transform(validation);
    write_scaler((std::filesystem::path(s.out) / "scaler.csv").string(), *scaler);
  }
  const Data* v = has_validation ? &validation : nullptr;
  const Scaler* sc = scaler ? &*scaler : nullptr;
  if (s.activation == "tanh") return train_with<np::Tanh>(s, train_set, v, sc);
  if (s.activation == "leaky_relu") return train_with<np::LeakyRelu>(s, train_set, v, sc);
  if (s.activation == "sigmoid") return train_with<np::Sigmoid>(s, train_set, v, sc);
  return train_with<np::Relu>(s, train_set, v, sc);
}

// Validators whose messages say what is wanted (CLI11's PositiveNumber prints the whole range of a
// double instead). The text is parsed by the examples' parse_number, as every example's flags are.
CLI::Validator number_check(bool integer, double min, bool inclusive) {
  const std::string what = std::string(integer ? "an integer" : "a number") +
                           (inclusive ? " ≥ " : " > ") + np::detail::csv_number(min);
  return CLI::Validator(
      [=](std::string& text) -> std::string {
        double value = 0;
        try {
          value = integer ? static_cast<double>(np::examples::parse_number<long long>("", text))
                          : np::examples::parse_number<double>("", text);
        } catch (const np::Error&) {
          return "'" + text + "' is not " + what;
        }
        const bool ok = std::isfinite(value) && (inclusive ? value >= min : value > min);
        return ok ? std::string() : "'" + text + "' is not " + what;
      },
      inclusive ? "NONNEGATIVE" : "POSITIVE");
}

}  // namespace

int main(int argc, char** argv) {
  const CLI::Validator positive_int = number_check(true, 0, false);
  const CLI::Validator positive = number_check(false, 0, false);
  const CLI::Validator non_negative = number_check(false, 0, true);
  Settings s;
  CLI::App app{
      "Trains a neuroplast network on a CSV or IDX file and writes the model, its scaler, the "
      "training history and a plot.",
      "neuroplast-train"};
  app.get_formatter()->column_width(34);
  auto* data = app.add_option("--data", s.data,
                              "Training data: a CSV file (one sample per row) or an IDX image "
                              "file (then --labels)")
                   ->required()
                   ->check(CLI::ExistingFile);
  (void)data;
  app.add_option("--labels", s.labels, "IDX label file of --data")->check(CLI::ExistingFile);
  app.add_option("--validation", s.validation,
                 "Validation data in the same format (default: --validation-split of --data)")
      ->check(CLI::ExistingFile);
  app.add_option("--validation-labels", s.validation_labels, "IDX label file of --validation")
      ->check(CLI::ExistingFile);
  app.add_option("--format", s.format, "Data format; auto: IDX when the file name contains 'idx'")
      ->check(CLI::IsMember({"auto", "csv", "idx"}))
      ->capture_default_str();
  app.add_option("--task", s.task, "Classification (softmax cross-entropy) or regression (MSE)")
      ->check(CLI::IsMember({"classification", "regression"}))
      ->capture_default_str();
  app.add_option("--label-column", s.label_column,
                 "CSV column (0-based) of the class label; -1 = the last")
      ->capture_default_str();
  app.add_option("--target-columns", s.target_columns,
                 "Regression: CSV columns (0-based) of the targets; -1 = the last")
      ->delimiter(',')
      ->capture_default_str();
  app.add_flag("--header", s.header,
               "The CSV file's first line holds column names (detected without this flag when a "
               "cell of it is not a number)");
  app.add_option("--delimiter", s.delimiter, "CSV cell separator")->capture_default_str();
  app.add_option("--validation-split", s.validation_split,
                 "Fraction of --data held out for validation when --validation is not given "
                 "(0 = none)")
      ->check(CLI::Range(0.0, 0.9))
      ->capture_default_str();
  app.add_option("--scale", s.scaling,
                 "Feature scaling, fitted on the training set (written to scaler.csv)")
      ->check(CLI::IsMember({"standard", "none"}))
      ->capture_default_str();
  app.add_option("--hidden", s.hidden,
                 "Hidden layer widths of the start network, e.g. 16,16 (default: 2,2 for the "
                 "growing policies, 64 otherwise)")
      ->delimiter(',')
      ->check(positive_int);
  app.add_option("--activation", s.activation,
                 "Hidden activation (leaky_relu: slope 0.01 below 0; model.npl records it, and "
                 "np::load takes the matching type)")
      ->check(CLI::IsMember({"relu", "tanh", "leaky_relu", "sigmoid"}))
      ->capture_default_str();
  app.add_option("--policy", s.policy,
                 "static (plain training), dropin (Algorithm 1), dropout (Algorithm 2), "
                 "neuroplastic (Algorithm 3)")
      ->check(CLI::IsMember({"static", "dropin", "dropout", "neuroplastic"}))
      ->capture_default_str();
  app.add_option("--optimizer", s.optimizer, "Optimizer")
      ->check(CLI::IsMember({"adam", "adamw", "sgd"}))
      ->capture_default_str();
  app.add_option("--lr", s.learning_rate, "Learning rate")->check(positive)->capture_default_str();
  app.add_option("--momentum", s.momentum, "SGD momentum")
      ->check(CLI::Range(0.0, 0.999999))
      ->capture_default_str();
  app.add_option("--weight-decay", s.weight_decay, "L2 (adam, sgd) or decoupled (adamw) decay")
      ->check(non_negative)
      ->capture_default_str();
  app.add_option("--epochs", s.epochs, "Passes over the training set")
      ->check(positive_int)
      ->capture_default_str();
  app.add_option("--batch", s.batch, "Samples per step")
      ->check(positive_int)
      ->capture_default_str();
  app.add_option("--seed", s.seed, "Initial weights, shuffling and the validation split")
      ->capture_default_str();
  app.add_option("--dropout", s.dropout, "dropout policy: the rate of every hidden layer")
      ->check(CLI::Range(0.0, 0.95))
      ->capture_default_str();
  app.add_option("--prune-fraction", s.prune_fraction,
                 "neuroplastic policy: fraction of each layer's connections one pruning removes")
      ->check(CLI::Range(0.01, 0.99))
      ->capture_default_str();
  app.add_option("--max-width", s.max_width, "Growing policies: no hidden layer wider")
      ->check(positive_int)
      ->capture_default_str();
  app.add_option("--max-parameters-per-target", s.max_parameters_per_target,
                 "Growing policies: at most this many parameters per training target value "
                 "(samples x outputs; 0 = no limit)")
      ->check(non_negative)
      ->capture_default_str();
  app.add_option("--early-stop-windows", s.early_stop_windows,
                 "Growing policies: once growth (dropin) or pruning (neuroplastic) has ended, end "
                 "training when validation is measurably worse than its best for this many "
                 "trigger windows, back at the best network (0 = train every epoch)")
      ->check(non_negative)
      ->capture_default_str();
  app.add_option("--clip-norm", s.clip_gradient_norm,
                 "Clip the gradient to this global L2 norm (0 = off)")
      ->check(non_negative)
      ->capture_default_str();
  app.add_option("--lr-schedule", s.schedule,
                 "constant; step (x0.1 every third of the epochs); cosine (over all epochs, "
                 "restarted by growth); plateau (x0.5 after 10 epochs without improvement, reset "
                 "by growth)")
      ->check(CLI::IsMember({"constant", "step", "cosine", "plateau"}))
      ->capture_default_str();
  app.add_flag("--restore-best", s.restore_best, "End with the best validation epoch's network");
  app.add_option("--out", s.out, "Output directory")->capture_default_str();
  app.add_flag("--quiet", s.quiet, "Print only the final line");
  try {
    app.parse(argc, argv);
  } catch (const CLI::CallForHelp& e) {
    return app.exit(e);
  } catch (const CLI::ParseError& e) {
    // One line naming the flag; CLI11's own exit() adds a second ("Run with --help ...").
    std::fprintf(stderr, "neuroplast-train: %s (see --help)\n", e.what());
    return 2;
  }
  try {
    return run(s);
  } catch (const std::exception& e) {
    std::fprintf(stderr, "neuroplast-train: %s\n", e.what());
    return 1;
  }
}
