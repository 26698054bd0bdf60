// Data-parallel throughput under MPI, side by side in one run: the same training steps on one
// process and on every process of the job (1 thread each) — gradients in one sum after backward
// (the default) and in per-layer buckets summed non-blocking during backward — and the time of
// the gradient reduction alone, blocking and non-blocking. Run it as
//
//   mpirun -np 2 neuroplast_bench_mpi [--repeats 5]
//
// (as root: add --allow-run-as-root; on fewer cores than processes: --oversubscribe). While
// process 0 times the single-process run, the others wait without spinning, so it has a core.
// Last, the cost of a structural event (LRP pruning, growth) on one process and on all.

#include <mpi.h>

#include <algorithm>
#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <limits>
#include <span>
#include <string>
#include <string_view>
#include <thread>
#include <utility>
#include <vector>

#include "neuroplast/mpi.hpp"
#include "neuroplast/neuroplast.hpp"

namespace np = neuroplast;
using np::Index;

namespace {

struct Shape {
  std::vector<Index> sizes;
  Index batch;
  int steps;  // steps per timed epoch
};

double seconds_since(std::chrono::steady_clock::time_point t) {
  return std::chrono::duration<double>(std::chrono::steady_clock::now() - t).count();
}

np::Dataset<float> make_data(const Shape& s) {
  np::Rng rng(3);
  const Index n = s.batch * s.steps;
  np::Matrix<float> X(s.sizes.front(), n);
  for (Index c = 0; c < n; ++c)
    for (Index r = 0; r < X.rows(); ++r) X(r, c) = static_cast<float>(rng.uniform());
  std::vector<int> y(static_cast<std::size_t>(n));
  for (Index i = 0; i < n; ++i) y[static_cast<std::size_t>(i)] = static_cast<int>(i % 10);
  return np::Dataset<float>(std::move(X), std::move(y));
}

// Seconds per step of one epoch of `s` (best of `repeats`), under `Trainer<…, Parallel>`: from
// the end of its first batch to the end of its last, over the steps between. A fit's one-time
// start (under MPI the processes' agreement on data, network and options, which hashes the
// training set) is not a step: counted per step, it took 1.5–2 ms of each of the 6 steps of the
// large shape's epoch on two processes, and a training run pays it once.
template <class Parallel>
double step_seconds(const Shape& s, const np::Dataset<float>& data, int repeats, Parallel p) {
  double best = 1e300;
  std::vector<std::chrono::steady_clock::time_point> ends;
  np::Mlp<float, np::Relu> net(s.sizes, 1);
  np::TrainOptions options{.epochs = 1, .batch_size = s.batch, .seed = 1};
  options.on_batch_end = [&](const np::BatchRecord&) {
    ends.push_back(std::chrono::steady_clock::now());
  };
  np::Trainer trainer(net, np::Adam<float>{.learning_rate = 1e-4f}, np::StaticPolicy{}, options, p);
  trainer.fit(data);  // warm-up: buffers, Adam state, first-touch of pages
  for (int r = 0; r < repeats; ++r) {
    ends.clear();
    trainer.fit(data);
    const double seconds = std::chrono::duration<double>(ends.back() - ends.front()).count();
    best = std::min(best, seconds / static_cast<double>(ends.size() - 1));
  }
  return best;
}

// The other processes wait here while process 0 works alone: a non-blocking barrier polled with
// sleeps, so they leave its core alone (a blocking MPI call would spin on one).
void wait_quietly(MPI_Comm comm) {
  MPI_Request request;
  MPI_Ibarrier(comm, &request);
  int done = 0;
  while (!done) {
    MPI_Test(&request, &done, MPI_STATUS_IGNORE);
    if (!done) std::this_thread::sleep_for(std::chrono::milliseconds(2));
  }
}

// Times one structural event of each kind, made at the end of the first epoch by every process
// alike: Algorithm 3's pruning step (LRP relevance of every connection over the validation set,
// the least relevant fifth masked, dead neurons removed) and a growth step of every hidden layer
// by a quarter of its width (the edit, the optimizer's state following it).
struct TimedEvents {
  static constexpr std::string_view name = "timed_events";
  double* prune_seconds = nullptr;
  double* grow_seconds = nullptr;

  template <class Context>
  void on_epoch_end(Context& ctx) {
    if (ctx.epoch != 1) return;
    auto t = std::chrono::steady_clock::now();
    const auto pruned = np::PruneLeastRelevant{}.apply(ctx.net, ctx.judge());
    *prune_seconds = seconds_since(t);
    ctx.record(
        np::StructuralEvent{.kind = np::EventKind::prune_connections, .count = pruned.connections});
    t = std::chrono::steady_clock::now();
    for (Index h = 0; h < ctx.net.hidden_layer_count(); ++h) {
      const Index k = std::max<Index>(ctx.net.width(h) / 4, 1);
      ctx.net.grow_neurons(h, k, np::init::ZeroFanOut{});
      ctx.record(np::StructuralEvent{.kind = np::EventKind::grow_neurons, .layer = h, .count = k});
    }
    *grow_seconds = seconds_since(t);
  }
};

// The best of `repeats` times of a pruning and of a growth event (seconds), each on a fresh
// network trained for one epoch first, under `Trainer<…, Parallel>`.
template <class Parallel>
std::pair<double, double> event_seconds(const Shape& s, const np::Dataset<float>& data, int repeats,
                                        Parallel p) {
  double prune = 1e300, grow = 1e300;
  for (int r = 0; r < repeats; ++r) {
    double pruned = 0, grown = 0;
    np::Mlp<float, np::Relu> net(s.sizes, 1);
    np::Trainer trainer(net, np::Adam<float>{.learning_rate = 1e-4f},
                        TimedEvents{.prune_seconds = &pruned, .grow_seconds = &grown},
                        np::TrainOptions{.epochs = 2, .batch_size = s.batch, .seed = 1}, p);
    trainer.fit(data, data);
    prune = std::min(prune, pruned);
    grow = std::min(grow, grown);
  }
  return {prune, grow};
}

// Runs `f` on process 0 alone while the others wait without spinning, then lines them all up.
template <class F>
void alone_then_together(int rank, F&& f) {
  if (rank == 0) {
    f();
    MPI_Request release;  // the barrier the others wait in
    MPI_Ibarrier(MPI_COMM_WORLD, &release);
    MPI_Wait(&release, MPI_STATUS_IGNORE);
  } else {
    wait_quietly(MPI_COMM_WORLD);
  }
  MPI_Barrier(MPI_COMM_WORLD);
}

}  // namespace

int main(int argc, char** argv) {
  MPI_Init(&argc, &argv);
  np::set_thread_count(1);
  int repeats = 5;
  if (argc == 3 && std::strcmp(argv[1], "--repeats") == 0)
    repeats = std::max(1, std::atoi(argv[2]));
  const np::mpi::DataParallel dp{.comm = MPI_COMM_WORLD, .check_every = 0};
  const int rank = dp.rank(), size = dp.size();
  const Shape shapes[] = {{{784, 1024, 1024, 10}, 512, 12}, {{784, 128, 10}, 256, 20}};
  if (rank == 0)
    std::printf(
        "%d processes, 1 thread each; seconds per step (first to last batch end), best of %d "
        "epochs\n\n"
        "| shape, global batch | 1 process | %d processes | speed-up | %d processes, per-layer "
        "buckets | speed-up | reduction (gradients, MB) | its share of the step | the same sum "
        "non-blocking |\n|---|---|---|---|---|---|---|---|---|\n",
        size, repeats, size, size);
  for (const Shape& s : shapes) {
    const np::Dataset<float> data = make_data(s);
    double one = 0;
    alone_then_together(rank, [&] { one = step_seconds(s, data, repeats, np::SingleProcess{}); });
    const double many = step_seconds(s, data, repeats, dp);
    // The same with per-layer buckets of 1 MiB, each summed non-blocking as backward finishes it.
    np::mpi::DataParallel buckets = dp;
    buckets.bucket_bytes = std::size_t{1} << 20;
    const double many_buckets = step_seconds(s, data, repeats, buckets);
    // The reduction alone, on a buffer of the gradients' size.
    Index count = 0;
    for (std::size_t l = 0; l + 1 < s.sizes.size(); ++l) count += s.sizes[l + 1] * (s.sizes[l] + 1);
    std::vector<float> buffer(static_cast<std::size_t>(count), 1.0f);
    double reduce = 1e300;
    for (int r = 0; r < 3 * repeats; ++r) {
      MPI_Barrier(MPI_COMM_WORLD);
      const auto t = std::chrono::steady_clock::now();
      dp.sum(std::span<float>(buffer));
      reduce = std::min(reduce, seconds_since(t));
    }
    double started = 1e300;  // the same sum, non-blocking, waited for at once
    for (int r = 0; r < 3 * repeats; ++r) {
      MPI_Barrier(MPI_COMM_WORLD);
      const auto t = std::chrono::steady_clock::now();
      buckets.start_sum(std::span<float>(buffer));
      buckets.finish_sums();
      started = std::min(started, seconds_since(t));
    }
    if (rank == 0) {
      std::printf(
          "| %s, %lld | %.2f ms | %.2f ms | %.2fx | %.2f ms | %.2fx | %.2f ms (%.1f MB) | %.0f%% "
          "| %.2f ms |\n",
          np::detail::format_sizes(s.sizes).c_str(), static_cast<long long>(s.batch), 1e3 * one,
          1e3 * many, one / many, 1e3 * many_buckets, one / many_buckets, 1e3 * reduce,
          4.0 * static_cast<double>(count) / 1e6, 100 * reduce / many, 1e3 * started);
      std::fflush(stdout);
    }
  }
  // A structural event, on one process and on all of them: every process makes the same edit
  // from the same full validation set, so it should cost each what it costs one.
  {
    const Shape s{shapes[0].sizes, shapes[0].batch, 6};  // a validation set of 3 072 samples
    const np::Dataset<float> data = make_data(s);
    std::pair<double, double> one{};
    alone_then_together(rank, [&] { one = event_seconds(s, data, repeats, np::SingleProcess{}); });
    const auto many = event_seconds(s, data, repeats, dp);
    double slowest[2] = {many.first, many.second};  // an edit is done when every process is done
    MPI_Allreduce(MPI_IN_PLACE, slowest, 2, MPI_DOUBLE, MPI_MAX, MPI_COMM_WORLD);
    if (rank == 0) {
      std::printf(
          "\nStructural events on %s (validation set %lld samples), best of %d\n\n"
          "| event | 1 process | %d processes (slowest) | ratio |\n|---|---|---|---|\n"
          "| LRP pruning (a fifth of the connections, relevance over 512 samples) | %.1f ms | "
          "%.1f ms | %.2fx |\n"
          "| growth of every hidden layer by a quarter of its width | %.2f ms | %.2f ms | %.2fx "
          "|\n",
          np::detail::format_sizes(s.sizes).c_str(), static_cast<long long>(data.size()), repeats,
          size, 1e3 * one.first, 1e3 * slowest[0], slowest[0] / one.first, 1e3 * one.second,
          1e3 * slowest[1], slowest[1] / one.second);
    }
  }
  MPI_Finalize();
  return 0;
}
