// neuroplast against LibTorch (Debian's libtorch-dev), side by side in one process: the Adam
// training step (also with dropout), inference, and adding or removing neurons of a trained
// network. Every case runs at 1 and 2
// threads with both libraries set to the same count, each neuroplast run directly followed by its
// LibTorch twin, so drift on a shared machine hits both alike. After the runs a table pairs them:
// LibTorch time / neuroplast time, i.e. how many times faster neuroplast is.
//
// Built only with -DNEUROPLAST_BENCH_LIBTORCH=ON (bench/CMakeLists.txt). LibTorch's float GEMM
// is whatever libblas.so.3 the system resolves; the program prints which one, because Debian's
// reference BLAS would make this a comparison against a strawman.

#include <benchmark/benchmark.h>
#include <link.h>
#include <torch/torch.h>
#include <unistd.h>

#include <algorithm>
#include <cmath>
#include <filesystem>
#include <iomanip>
#include <iostream>
#include <map>
#include <sstream>
#include <string>
#include <string_view>
#include <vector>

#include "neuroplast/core/threading.hpp"
#include "neuroplast/neuroplast.hpp"
#include "support/edits.hpp"
#include "support/step.hpp"

namespace np = neuroplast;
using np::Index;

namespace {

constexpr double kLearningRate = 1e-3;

struct Shape {
  std::vector<Index> sizes;
  Index batch;  // of the training step
};

const Shape kShapes[] = {{{64, 64, 10}, 32}, {{784, 128, 10}, 64}, {{784, 1024, 1024, 10}, 256}};
const Index kInferenceBatches[] = {1, 64, 256};
const int kThreadCounts[] = {1, 2};

// Growth: hidden layer 0 of 2048-2048-2048-10 sits between two 2048 × 2048 matrices, so a new
// neuron has 2048 fan-in weights (a row of W(0)) and 2048 fan-out weights (a column of W(1)).
const std::vector<Index> kGrowSizes{2048, 2048, 2048, 10};
constexpr Index kGrowLayer = 0;
constexpr Index kGrowWidth = 2048;
constexpr Index kGrowCapacity = kGrowWidth + 4096;
const Index kGrowBy[] = {1, 16, 64};

// Dropout and removal run on the largest training shape.
const Shape& kBig = kShapes[2];
constexpr double kDropout = 0.5;
const Index kRemove[] = {1, 64};

// Both libraries get the same thread budget; neuroplast's applies to its matrix products,
// LibTorch's to its intra-op (OpenMP) pool, which an OpenMP build of OpenBLAS follows too.
void use_threads(int threads) {
  torch::set_num_threads(threads);
  np::set_thread_count(threads);
}

std::string shape_name(const std::vector<Index>& sizes) {
  std::string name;
  for (const Index s : sizes) {
    if (!name.empty()) name += '-';
    name += std::to_string(s);
  }
  return name;
}

// ---------------------------------------------------------------------------------------------
// LibTorch side

// What a LibTorch user writes: Linear layers with ReLU between them. A plain loop rather than
// nn::Sequential spares the type-erased dispatch per layer, and the ReLU runs in place (autograd
// allows it: Linear's backward needs its input, not its output), both in LibTorch's favour.
class TorchMlp {
 public:
  explicit TorchMlp(const std::vector<Index>& sizes) {
    for (std::size_t l = 0; l + 1 < sizes.size(); ++l) layers_.emplace_back(sizes[l], sizes[l + 1]);
  }

  torch::Tensor forward(torch::Tensor x) {
    for (std::size_t l = 0; l < layers_.size(); ++l) {
      x = layers_[l]->forward(x);
      if (l + 1 < layers_.size()) {
        torch::relu_(x);
        if (dropout > 0) x = torch::dropout(x, dropout, /*train=*/true);
      }
    }
    return x;
  }

  double dropout = 0;  ///< inverted Bernoulli dropout after every hidden layer, in training

  torch::nn::Linear& layer(std::size_t l) { return layers_[l]; }

  // Weight and bias of every layer, in layer order.
  std::vector<torch::Tensor> parameters() const {
    std::vector<torch::Tensor> p;
    for (const torch::nn::Linear& layer : layers_) {
      p.push_back(layer->weight);
      p.push_back(layer->bias);
    }
    return p;
  }

 private:
  std::vector<torch::nn::Linear> layers_;
};

// Samples are rows in LibTorch and columns in neuroplast: the same bytes in memory.
torch::Tensor torch_batch(Index inputs, Index batch) {
  return torch::rand({batch, inputs}).mul_(2).sub_(1);
}

// The labels of np::bench::cyclic_labels, as the int64 class indices cross_entropy takes.
torch::Tensor torch_labels(Index batch, Index classes) {
  return torch::arange(batch, torch::kLong).remainder_(classes);
}

void torch_train_step(TorchMlp& net, torch::optim::Adam& opt, const torch::Tensor& X,
                      const torch::Tensor& y) {
  opt.zero_grad();
  torch::Tensor loss = torch::nn::functional::cross_entropy(net.forward(X), y);
  loss.backward();
  opt.step();
}

// LibTorch's optimizers key their per-parameter state by the address of the tensor's
// implementation (as torch/optim/serialize.h does).
std::string state_key(const torch::Tensor& p) {
  return c10::guts::to_string(p.unsafeGetTensorImpl());
}

// What a PyTorch user does to add k neurons to hidden layer 0: concatenate new rows onto W(0) and
// b(0) and new columns onto W(1), make them the parameters, build a new Adam over the new
// parameter list and carry the old moments over, with zeros concatenated for the new entries. The
// parameters of the other layers keep their tensors and share their state.
torch::optim::Adam torch_grow_first_hidden(TorchMlp& net, torch::optim::Adam& opt, Index k) {
  torch::NoGradGuard no_grad;  // parameter surgery, as under torch.no_grad() in Python
  const std::vector<torch::Tensor> old = net.parameters();
  const Index fan_in = old[0].size(1);
  const Index fan_out = old[2].size(0);
  // Appends k zero neurons to W(0) (rows), b(0) (entries) or W(1) (columns), by parameter index.
  const auto append_zeros = [&](std::size_t i, const torch::Tensor& t) {
    if (i == 0) return torch::cat({t, torch::zeros({k, fan_in})}, 0);
    if (i == 1) return torch::cat({t, torch::zeros({k})}, 0);
    return torch::cat({t, torch::zeros({fan_out, k})}, 1);
  };

  std::vector<torch::Tensor> grown = old;
  // He-normal fan-in (as init::ZeroFanOut draws for ReLU), zero bias and fan-out.
  grown[0] = torch::cat({old[0], torch::empty({k, fan_in}).normal_(0.0, std::sqrt(2.0 / fan_in))});
  grown[1] = append_zeros(1, old[1]);
  grown[2] = append_zeros(2, old[2]);
  for (std::size_t i = 0; i < 3; ++i) grown[i].requires_grad_();

  torch::optim::Adam fresh(grown, torch::optim::AdamOptions(kLearningRate));
  for (std::size_t i = 0; i < old.size(); ++i) {
    const auto& state =
        static_cast<const torch::optim::AdamParamState&>(*opt.state().at(state_key(old[i])));
    auto carried = std::make_unique<torch::optim::AdamParamState>(state);  // shares the moments
    if (i < 3) {
      carried->exp_avg(append_zeros(i, state.exp_avg()));
      carried->exp_avg_sq(append_zeros(i, state.exp_avg_sq()));
    }
    fresh.state()[state_key(grown[i])] = std::move(carried);
  }
  return fresh;
}

void torch_step(benchmark::State& state, const Shape& shape, int threads) {
  use_threads(threads);
  torch::manual_seed(1);
  TorchMlp net(shape.sizes);
  const torch::Tensor X = torch_batch(shape.sizes.front(), shape.batch);
  const torch::Tensor y = torch_labels(shape.batch, shape.sizes.back());
  torch::optim::Adam opt(net.parameters(), torch::optim::AdamOptions(kLearningRate));
  for (auto _ : state) torch_train_step(net, opt, X, y);
}

// InferenceMode, not NoGradGuard: it also skips version counting and view tracking, and measured
// a little faster (the better of the two is LibTorch's fair figure).
void torch_inference(benchmark::State& state, const std::vector<Index>& sizes, Index batch,
                     int threads) {
  use_threads(threads);
  torch::manual_seed(1);
  TorchMlp net(sizes);
  const torch::Tensor X = torch_batch(sizes.front(), batch);
  c10::InferenceMode inference;
  for (auto _ : state) benchmark::DoNotOptimize(net.forward(X).data_ptr());
}

// Every iteration grows from the same trained tensors, which costs what growing the previous
// iteration's result would, without sizes drifting upwards. Dropping the grown tensors at the end
// of the iteration stands for freeing the old ones, which a real replacement does. LibTorch's CPU
// allocator is plain posix_memalign, so whether those 16 MiB blocks come back as fresh pages or
// reused ones is up to glibc's heap, as it is in a PyTorch program: expect more spread here.
void torch_grow(benchmark::State& state, Index k, int threads) {
  use_threads(threads);
  torch::manual_seed(1);
  TorchMlp net(kGrowSizes);
  torch::optim::Adam opt(net.parameters(), torch::optim::AdamOptions(kLearningRate));
  torch_train_step(net, opt, torch_batch(kGrowWidth, 4), torch_labels(4, kGrowSizes.back()));

  // Once, untimed: the carried state must be the grown optimizer's (keys found, shapes that an
  // Adam step accepts), or the timed loop would measure something cheaper than real growth.
  {
    torch::optim::Adam grown = torch_grow_first_hidden(net, opt, k);
    const auto& params = grown.param_groups().front().params();
    if (grown.state().size() != params.size()) {
      state.SkipWithError("growth did not carry Adam's state over");
      return;
    }
    for (const torch::Tensor& p : params) p.mutable_grad() = torch::ones_like(p);
    grown.step();
  }

  for (auto _ : state) {
    torch::optim::Adam grown = torch_grow_first_hidden(net, opt, k);
    benchmark::DoNotOptimize(grown.state().size());
  }
}

// The training step with Bernoulli dropout (p = 0.5) after both hidden layers.
void torch_dropout_step(benchmark::State& state, int threads) {
  use_threads(threads);
  torch::manual_seed(1);
  TorchMlp net(kBig.sizes);
  net.dropout = kDropout;
  const torch::Tensor X = torch_batch(kBig.sizes.front(), kBig.batch);
  const torch::Tensor y = torch_labels(kBig.batch, kBig.sizes.back());
  torch::optim::Adam opt(net.parameters(), torch::optim::AdamOptions(kLearningRate));
  for (auto _ : state) torch_train_step(net, opt, X, y);
}

// What a PyTorch user does to remove neurons of hidden layer 0: index_select the kept rows of W(0)
// and b(0) and the kept columns of W(1), make them the parameters, build a new Adam and carry the
// moments over, selected the same way.
torch::optim::Adam torch_remove_first_hidden(TorchMlp& net, torch::optim::Adam& opt,
                                             const torch::Tensor& kept) {
  torch::NoGradGuard no_grad;
  const std::vector<torch::Tensor> old = net.parameters();
  const auto select = [&](std::size_t i, const torch::Tensor& t) {
    return t.index_select(i < 2 ? 0 : 1, kept);
  };
  std::vector<torch::Tensor> kept_params = old;
  for (std::size_t i = 0; i < 3; ++i) kept_params[i] = select(i, old[i]).requires_grad_();
  torch::optim::Adam fresh(kept_params, torch::optim::AdamOptions(kLearningRate));
  for (std::size_t i = 0; i < old.size(); ++i) {
    const auto& state =
        static_cast<const torch::optim::AdamParamState&>(*opt.state().at(state_key(old[i])));
    auto carried = std::make_unique<torch::optim::AdamParamState>(state);
    if (i < 3) {
      carried->exp_avg(select(i, state.exp_avg()));
      carried->exp_avg_sq(select(i, state.exp_avg_sq()));
    }
    fresh.state()[state_key(kept_params[i])] = std::move(carried);
  }
  return fresh;
}

// The neurons a removal benchmark removes: k distinct ones, reproducibly.
std::vector<Index> neurons_to_remove(Index width, Index k) {
  return np::bench::random_neurons(width, k, 20 + static_cast<std::uint64_t>(k));
}

// As torch_grow: every iteration removes from the same trained tensors.
void torch_remove(benchmark::State& state, Index k, int threads) {
  use_threads(threads);
  torch::manual_seed(1);
  TorchMlp net(kBig.sizes);
  torch::optim::Adam opt(net.parameters(), torch::optim::AdamOptions(kLearningRate));
  torch_train_step(net, opt, torch_batch(kBig.sizes.front(), 4), torch_labels(4, 10));
  const std::vector<Index> removed = neurons_to_remove(kBig.sizes[1], k);
  std::vector<std::int64_t> kept;
  for (Index i = 0; i < kBig.sizes[1]; ++i)
    if (std::find(removed.begin(), removed.end(), i) == removed.end()) kept.push_back(i);
  const torch::Tensor index = torch::tensor(kept, torch::kLong);
  for (auto _ : state) {
    torch::optim::Adam smaller = torch_remove_first_hidden(net, opt, index);
    benchmark::DoNotOptimize(smaller.state().size());
  }
}

// ---------------------------------------------------------------------------------------------
// neuroplast side

void np_step(benchmark::State& state, const Shape& shape, int threads) {
  use_threads(threads);
  np::Mlp<float, np::Relu> net(shape.sizes, 1);
  const np::Matrix<float> X = np::Matrix<float>::Random(shape.sizes.front(), shape.batch);
  const std::vector<int> y = np::bench::cyclic_labels(shape.batch, shape.sizes.back());
  np::Workspace<float> ws;
  np::Adam<float> opt{.learning_rate = static_cast<float>(kLearningRate)};
  for (auto _ : state) np::bench::train_step(net, opt, X, y, ws);
}

void np_inference(benchmark::State& state, const std::vector<Index>& sizes, Index batch,
                  int threads) {
  use_threads(threads);
  np::Mlp<float, np::Relu> net(sizes, 1);
  const np::Matrix<float> X = np::Matrix<float>::Random(sizes.front(), batch);
  np::Workspace<float> ws;
  for (auto _ : state) benchmark::DoNotOptimize(net.forward(X, ws).data());
}

void np_dropout_step(benchmark::State& state, int threads) {
  use_threads(threads);
  np::Mlp<float, np::Relu> net(kBig.sizes, 1);
  for (Index h = 0; h < net.hidden_layer_count(); ++h)
    net.set_dropout(h, np::Dropout{.kind = np::DropoutKind::bernoulli, .rate = kDropout});
  const np::Matrix<float> X = np::Matrix<float>::Random(kBig.sizes.front(), kBig.batch);
  const std::vector<int> y = np::bench::cyclic_labels(kBig.batch, kBig.sizes.back());
  np::Workspace<float> ws;
  np::Adam<float> opt{.learning_rate = static_cast<float>(kLearningRate)};
  for (auto _ : state) np::bench::train_step(net, opt, X, y, ws);
}

// remove_neurons with Adam state; between iterations (untimed) k neurons are appended again, so
// every iteration removes k of the layer's original width.
void np_remove(benchmark::State& state, Index k, int threads) {
  use_threads(threads);
  np::Mlp<float, np::Relu> net(kBig.sizes, 1);
  {
    const np::Matrix<float> X = np::Matrix<float>::Random(kBig.sizes.front(), 4);
    np::Workspace<float> ws;
    np::Adam<float> opt{.learning_rate = static_cast<float>(kLearningRate)};
    np::bench::train_step(net, opt, X, np::bench::cyclic_labels(4, 10), ws);
  }
  const std::vector<Index> removed = neurons_to_remove(kBig.sizes[1], k);
  for (auto _ : state) {
    benchmark::DoNotOptimize(net.remove_neurons(0, removed));
    state.PauseTiming();
    net.edit_axis(0, np::AxisEdit::grow(kBig.sizes[1] - k, k));
    state.ResumeTiming();
  }
}

// Capacity reserved up front, as a program that plans to grow does; growth then never reallocates.
void np_grow(benchmark::State& state, Index k, int threads) {
  use_threads(threads);
  np::Mlp<float, np::Relu> net(kGrowSizes, 1);
  net.reserve(kGrowLayer, kGrowCapacity);
  {
    // One step, so every parameter has Adam state for growth to extend.
    const np::Matrix<float> X = np::Matrix<float>::Random(kGrowWidth, 4);
    np::Workspace<float> ws;
    np::Adam<float> opt{.learning_rate = static_cast<float>(kLearningRate)};
    np::bench::train_step(net, opt, X, np::bench::cyclic_labels(4, kGrowSizes.back()), ws);
  }
  for (auto _ : state) {
    if (net.width(kGrowLayer) + k > net.capacity(kGrowLayer)) {
      state.PauseTiming();
      np::bench::shrink_to(net, kGrowLayer, kGrowWidth);
      state.ResumeTiming();
    }
    benchmark::DoNotOptimize(net.grow_neurons(kGrowLayer, k, np::init::ZeroFanOut{}));
  }
}

// ---------------------------------------------------------------------------------------------
// Registration, the pairing reporter and main

constexpr std::string_view kNeuroplast = "neuroplast";
constexpr std::string_view kLibTorch = "libtorch";

// Names are <case>/threads:<t>/<library>; the table pairs the two libraries of each case and t.
template <class Np, class Torch>
void register_pair(const std::string& name, int threads, benchmark::TimeUnit unit, Np np_run,
                   Torch torch_run) {
  const std::string prefix = name + "/threads:" + std::to_string(threads) + "/";
  benchmark::RegisterBenchmark((prefix + std::string(kNeuroplast)).c_str(), np_run)
      ->UseRealTime()
      ->Unit(unit);
  benchmark::RegisterBenchmark((prefix + std::string(kLibTorch)).c_str(), torch_run)
      ->UseRealTime()
      ->Unit(unit);
}

void register_benchmarks() {
  for (const Shape& shape : kShapes) {
    for (const int t : kThreadCounts) {
      register_pair(
          "step/" + shape_name(shape.sizes) + "/b" + std::to_string(shape.batch), t,
          benchmark::kMicrosecond, [&shape, t](benchmark::State& s) { np_step(s, shape, t); },
          [&shape, t](benchmark::State& s) { torch_step(s, shape, t); });
    }
  }
  for (const Shape& shape : kShapes) {
    for (const Index batch : kInferenceBatches) {
      for (const int t : kThreadCounts) {
        const std::vector<Index>& sizes = shape.sizes;
        register_pair(
            "inference/" + shape_name(sizes) + "/b" + std::to_string(batch), t,
            benchmark::kMicrosecond,
            [&sizes, batch, t](benchmark::State& s) { np_inference(s, sizes, batch, t); },
            [&sizes, batch, t](benchmark::State& s) { torch_inference(s, sizes, batch, t); });
      }
    }
  }
  for (const Index k : kGrowBy) {
    for (const int t : kThreadCounts) {
      register_pair(
          "grow/" + shape_name(kGrowSizes) + "/k" + std::to_string(k), t, benchmark::kMicrosecond,
          [k, t](benchmark::State& s) { np_grow(s, k, t); },
          [k, t](benchmark::State& s) { torch_grow(s, k, t); });
    }
  }
  for (const int t : kThreadCounts) {
    register_pair(
        "step-dropout-0.5/" + shape_name(kBig.sizes) + "/b" + std::to_string(kBig.batch), t,
        benchmark::kMicrosecond, [t](benchmark::State& s) { np_dropout_step(s, t); },
        [t](benchmark::State& s) { torch_dropout_step(s, t); });
  }
  for (const Index k : kRemove) {
    for (const int t : kThreadCounts) {
      register_pair(
          "remove/" + shape_name(kBig.sizes) + "/k" + std::to_string(k), t, benchmark::kMicrosecond,
          [k, t](benchmark::State& s) { np_remove(s, k, t); },
          [k, t](benchmark::State& s) { torch_remove(s, k, t); });
    }
  }
}

// The console output of every run as usual, plus each run's real time kept for the closing table:
// the median aggregate when there are repetitions, else the run itself.
class PairingReporter : public benchmark::ConsoleReporter {
 public:
  using ConsoleReporter::ConsoleReporter;

  void ReportRuns(const std::vector<Run>& runs) override {
    ConsoleReporter::ReportRuns(runs);
    for (const Run& run : runs) {
      if (run.error_occurred) continue;
      const bool median = run.run_type == Run::RT_Aggregate && run.aggregate_name == "median";
      if (run.run_type == Run::RT_Aggregate && !median) continue;
      // The registered name, without the "/real_time" UseRealTime() appends.
      const std::string& name = run.run_name.function_name;
      const auto lib = name.rfind('/');
      const auto threads = name.rfind("/threads:", lib);
      if (lib == std::string::npos || threads == std::string::npos) continue;
      const std::string_view library = std::string_view(name).substr(lib + 1);
      if (library != kNeuroplast && library != kLibTorch) continue;
      const std::string key = name.substr(0, lib);
      auto [row, added] = rows_.try_emplace(key);
      if (added) order_.push_back(key);
      Time& time = library == kNeuroplast ? row->second.np : row->second.torch;
      if (time.from_median && !median) continue;
      time.seconds = run.GetAdjustedRealTime() / benchmark::GetTimeUnitMultiplier(run.time_unit);
      time.from_median = median;
    }
  }

  void print_table(std::ostream& out, const std::string& setup) const {
    if (order_.empty()) return;
    out << "\nneuroplast against " << setup << "\nreal time"
        << (any_median() ? ", median of the repetitions" : "")
        << "; ratio = LibTorch / neuroplast, > 1 means neuroplast is faster\n\n";
    out << std::left << std::setw(42) << "case" << std::right << std::setw(8) << "threads"
        << std::setw(14) << "neuroplast" << std::setw(14) << "LibTorch" << std::setw(10) << "ratio"
        << "\n";
    for (const std::string& key : order_) {
      const Row& row = rows_.at(key);
      const auto threads = key.rfind("/threads:");
      out << std::left << std::setw(42) << key.substr(0, threads) << std::right << std::setw(8)
          << key.substr(threads + 9) << std::setw(14) << format(row.np) << std::setw(14)
          << format(row.torch) << std::setw(10);
      if (row.np.seconds > 0 && row.torch.seconds > 0) {
        std::ostringstream ratio;
        ratio << std::fixed << std::setprecision(2) << row.torch.seconds / row.np.seconds;
        out << ratio.str();
      } else {
        out << "-";
      }
      out << "\n";
    }
  }

 private:
  struct Time {
    double seconds = 0;  // 0: not run (filtered out or failed)
    bool from_median = false;
  };
  struct Row {
    Time np, torch;
  };

  bool any_median() const {
    for (const auto& [key, row] : rows_)
      if (row.np.from_median || row.torch.from_median) return true;
    return false;
  }

  // Three significant digits in the largest unit that keeps the value ≥ 1.
  static std::string format(const Time& t) {
    if (t.seconds <= 0) return "-";
    const char* unit = "s";
    double v = t.seconds;
    for (const char* smaller : {"ms", "us", "ns"}) {
      if (v >= 1) break;
      v *= 1e3;
      unit = smaller;
    }
    std::ostringstream s;
    s << std::fixed << std::setprecision(v < 10 ? 2 : v < 100 ? 1 : 0) << v << " " << unit;
    return s.str();
  }

  std::map<std::string, Row> rows_;
  std::vector<std::string> order_;  // first-seen order, which is registration order
};

// The file behind libblas.so.3 once LibTorch has loaded it (Debian picks it by alternatives).
std::string loaded_blas() {
  std::string found;
  dl_iterate_phdr(
      [](dl_phdr_info* info, std::size_t, void* out) {
        const std::string_view name = info->dlpi_name ? info->dlpi_name : "";
        if (name.find("libblas.so") != std::string_view::npos) {
          std::error_code ec;
          const auto real = std::filesystem::canonical(std::filesystem::path(name), ec);
          *static_cast<std::string*>(out) = ec ? std::string(name) : real.string();
        }
        return 0;
      },
      &found);
  return found;
}

}  // namespace

int main(int argc, char** argv) {
  benchmark::Initialize(&argc, argv);
  if (benchmark::ReportUnrecognizedArguments(argc, argv)) return 1;
  register_benchmarks();

  // Next to Google Benchmark's own context (on stderr): what LibTorch computes with.
  const std::string blas = loaded_blas();
  const std::string setup =
      std::string("LibTorch ") + TORCH_VERSION + ", BLAS: " + (blas.empty() ? "none found" : blas);
  std::cerr << setup << "\n";
  // Debian's reference BLAS (/usr/lib/<triplet>/blas/) is unoptimised Fortran, and the pthreads
  // build of OpenBLAS keeps its own thread count rather than following torch::set_num_threads.
  if (blas.find("/blas/") != std::string::npos)
    std::cerr << "warning: LibTorch runs on the reference BLAS; for a fair comparison "
                 "apt-get install libopenblas0-openmp\n";
  if (blas.find("openblas-pthread") != std::string::npos)
    std::cerr << "warning: OpenBLAS (pthreads) ignores the thread count of each run; "
                 "libopenblas0-openmp follows it\n";

  PairingReporter reporter(isatty(STDOUT_FILENO) ? benchmark::ConsoleReporter::OO_ColorTabular
                                                 : benchmark::ConsoleReporter::OO_Tabular);
  benchmark::RunSpecifiedBenchmarks(&reporter);
  reporter.print_table(std::cout, setup);
  benchmark::Shutdown();
  return 0;
}
