// What growth costs: adding k neurons to a hidden layer of 2048-2048-2048-10 (float, with Adam
// state) in place, against (a) reallocating and copying every affected tensor — what a PyTorch user
// does with torch.cat and a rebuilt optimizer — and (b) the floor: writing the k × (fan_in +
// fan_out + 1) new values once. Hidden layer 0 sits between two 2048 × 2048 matrices (fan-out
// 2048, the performance issue's case); hidden layer 1 feeds the 10 outputs. Run side by side; read
// the ratios.

#include <benchmark/benchmark.h>
#include <malloc.h>

#include "neuroplast/neuroplast.hpp"
#include "support/edits.hpp"
#include "support/step.hpp"

namespace np = neuroplast;
using np::Index;

namespace {

constexpr Index kWidth = 2048;
constexpr Index kOutputs = 10;

// Fan-out of hidden layer h in 2048-2048-2048-10.
Index fan_out(Index h) { return h == 0 ? kWidth : kOutputs; }

// A trained-once network, so every parameter has Adam state.
np::Mlp<float, np::Relu> make_network(Index layer, Index reserve) {
  np::Mlp<float, np::Relu> net({kWidth, kWidth, kWidth, kOutputs}, 1);
  if (reserve > 0) net.reserve(layer, reserve);
  const np::Matrix<float> X = np::Matrix<float>::Random(kWidth, 4);
  const std::vector<int> y{0, 1, 2, 3};
  np::Workspace<float> ws;
  np::Adam<float> opt;
  np::bench::train_step(net, opt, X, y, ws);
  return net;
}

// glibc raises its mmap threshold after a large block is freed, so a loop that allocates the same
// large size every iteration reuses memory that is already faulted in, while a growing buffer
// always gets fresh pages. Pinning the threshold makes every large allocation fresh, as the first
// allocation in a real program is, so both sides of a comparison allocate alike.
const bool pinned_mmap_threshold = mallopt(M_MMAP_THRESHOLD, 128 * 1024) == 1;

void bytes_written(benchmark::State& state, Index k, Index fan_out_size, int planes) {
  state.SetBytesProcessed(static_cast<std::int64_t>(state.iterations()) * k *
                          (kWidth + fan_out_size + 1) * planes *
                          static_cast<std::int64_t>(sizeof(float)));
}

// Times `grow(net)` adding k neurons to the layer within reserved capacity, shrinking back
// (untimed) whenever the capacity is used up.
template <class Grow>
void grow_within_capacity(benchmark::State& state, Grow&& grow) {
  const Index layer = state.range(0), k = state.range(1);
  auto net = make_network(layer, kWidth + 4096);
  for (auto _ : state) {
    if (net.width(layer) + k > net.capacity(layer)) {
      state.PauseTiming();
      np::bench::shrink_to(net, layer, kWidth);
      state.ResumeTiming();
    }
    grow(net, layer, k);
    benchmark::ClobberMemory();
  }
  bytes_written(state, k, fan_out(layer), 3);
}

// In place, within capacity: ZeroFanOut draws the random fan-in; zero fan-out, bias and Adam
// moments come from spare capacity that storage keeps zero.
void bm_grow_in_place(benchmark::State& state) {
  grow_within_capacity(state, [](auto& net, Index layer, Index k) {
    benchmark::DoNotOptimize(net.grow_neurons(layer, k, np::init::ZeroFanOut{}));
  });
}

// The storage mechanism alone: a grow edit with zero-filled values (no random numbers).
void bm_grow_edit_only(benchmark::State& state) {
  grow_within_capacity(state, [](auto& net, Index layer, Index k) {
    net.edit_axis(layer, np::AxisEdit::grow(net.width(layer), k));
  });
}

// In place with a function-changing initialiser: He writes random fan-in *and* fan-out, so the
// fan-out's strided column is written (one cache line per row of the next matrix).
void bm_grow_in_place_he(benchmark::State& state) {
  grow_within_capacity(state, [](auto& net, Index layer, Index k) {
    benchmark::DoNotOptimize(net.grow_neurons(layer, k, np::init::He{}));
  });
}

// (a) Reallocate and copy: new W(h), b(h), W(h+1) and their two Adam moments at the new size, old
// values copied in, new ones written — torch.cat on each tensor plus a rebuilt optimizer.
void bm_reallocate_and_copy(benchmark::State& state) {
  const Index layer = state.range(0), k = state.range(1);
  const Index outputs = fan_out(layer);
  using M = Eigen::Matrix<float, Eigen::Dynamic, Eigen::Dynamic, Eigen::RowMajor>;
  std::vector<M> w_in(3, M::Random(kWidth, kWidth)), w_out(3, M::Random(outputs, kWidth));
  std::vector<np::Vector<float>> bias(3, np::Vector<float>::Random(kWidth));
  np::Rng rng(1);
  for (auto _ : state) {
    for (int plane = 0; plane < 3; ++plane) {
      M grown_in(kWidth + k, kWidth);
      grown_in.topRows(kWidth) = w_in[static_cast<std::size_t>(plane)];
      M grown_out(outputs, kWidth + k);
      grown_out.leftCols(kWidth) = w_out[static_cast<std::size_t>(plane)];
      np::Vector<float> grown_bias(kWidth + k);
      grown_bias.head(kWidth) = bias[static_cast<std::size_t>(plane)];
      if (plane == 0) {
        np::init::detail::fill_normal(grown_in.bottomRows(k), rng, 0.03);
      } else {
        grown_in.bottomRows(k).setZero();
      }
      grown_out.rightCols(k).setZero();
      grown_bias.tail(k).setZero();
      benchmark::DoNotOptimize(grown_in.data());
      benchmark::DoNotOptimize(grown_out.data());
      benchmark::DoNotOptimize(grown_bias.data());
    }
  }
  bytes_written(state, k, outputs, 3);
}

// Growth cost against layer width (the plot in docs/performance.md): one neuron added to hidden
// layer 0 of w-w-w-10, between two w × w matrices, with Adam state, in place within capacity...
void bm_width_grow_in_place(benchmark::State& state) {
  const Index width = state.range(0);
  np::Mlp<float, np::Relu> net({width, width, width, kOutputs}, 1);
  net.reserve(0, width + 1024);
  np::Workspace<float> ws;
  np::Adam<float> opt;
  np::bench::train_step(net, opt, np::Matrix<float>::Random(width, 4), {0, 1, 2, 3}, ws);
  for (auto _ : state) {
    if (net.width(0) == net.capacity(0)) {
      state.PauseTiming();
      np::bench::shrink_to(net, 0, width);
      state.ResumeTiming();
    }
    benchmark::DoNotOptimize(net.grow_neurons(0, 1, np::init::ZeroFanOut{}));
  }
}

// ...and by reallocating W(0), b(0), W(1) and both moments and copying (torch.cat + rebuild).
void bm_width_reallocate_and_copy(benchmark::State& state) {
  const Index width = state.range(0);
  using M = Eigen::Matrix<float, Eigen::Dynamic, Eigen::Dynamic, Eigen::RowMajor>;
  std::vector<M> w_in(3, M::Random(width, width)), w_out(3, M::Random(width, width));
  std::vector<np::Vector<float>> bias(3, np::Vector<float>::Random(width));
  np::Rng rng(1);
  for (auto _ : state) {
    for (std::size_t plane = 0; plane < 3; ++plane) {
      M grown_in(width + 1, width), grown_out(width, width + 1);
      np::Vector<float> grown_bias(width + 1);
      grown_in.topRows(width) = w_in[plane];
      grown_out.leftCols(width) = w_out[plane];
      grown_bias.head(width) = bias[plane];
      if (plane == 0) {
        np::init::detail::fill_normal(grown_in.bottomRows(1), rng, 0.03);
      } else {
        grown_in.bottomRows(1).setZero();
      }
      grown_out.rightCols(1).setZero();
      grown_bias.tail(1).setZero();
      benchmark::DoNotOptimize(grown_in.data());
      benchmark::DoNotOptimize(grown_out.data());
      benchmark::DoNotOptimize(grown_bias.data());
    }
  }
}

// (b) The floor: k × (fan_in + fan_out + 1) fresh values written into preallocated memory.
void bm_floor_write_values(benchmark::State& state) {
  const Index layer = state.range(0), k = state.range(1);
  std::vector<float> values(static_cast<std::size_t>(k * (kWidth + fan_out(layer) + 1)));
  for (auto _ : state) {
    std::fill(values.begin(), values.end(), 0.5f);
    benchmark::ClobberMemory();
  }
  bytes_written(state, k, fan_out(layer), 1);
}

// (b, memory) The same writes to memory that is not in cache, as growth's are: the writes walk
// through a 256 MiB buffer, like new rows appended to a large capacity buffer.
void bm_floor_write_fresh_memory(benchmark::State& state) {
  const Index layer = state.range(0), k = state.range(1);
  const auto run = static_cast<std::size_t>(k * (kWidth + fan_out(layer) + 1));
  std::vector<float> arena(std::size_t{64} << 20, 1.0f);
  std::size_t at = 0;
  for (auto _ : state) {
    if (at + run > arena.size()) at = 0;
    std::fill_n(arena.begin() + static_cast<std::ptrdiff_t>(at), run, 0.5f);
    at += run;
    benchmark::ClobberMemory();
  }
  bytes_written(state, k, fan_out(layer), 1);
}

// (b') The same floor with the random numbers ZeroFanOut draws for the fan-in.
void bm_floor_random_fan_in(benchmark::State& state) {
  const Index layer = state.range(0), k = state.range(1);
  std::vector<float> values(static_cast<std::size_t>(k * (kWidth + fan_out(layer) + 1)));
  np::Rng rng(1);
  for (auto _ : state) {
    rng.fill_normal(std::span<float>(values.data(), static_cast<std::size_t>(k * kWidth)), 0.0,
                    0.03);
    std::fill(values.begin() + k * kWidth, values.end(), 0.0f);
    benchmark::ClobberMemory();
  }
  bytes_written(state, k, fan_out(layer), 1);
}

// Amortised: hidden layer 1 of 2048-64-…: grow 64 → 2048 one neuron at a time with no reserve
// (geometric reallocation), against writing the final layer's parameters and moments once.
void bm_grow_64_to_2048_one_at_a_time(benchmark::State& state) {
  for (auto _ : state) {
    state.PauseTiming();
    np::Mlp<float, np::Relu> net({kWidth, kWidth, 64, kOutputs}, 2);
    for (np::Index l = 0; l < net.layer_count(); ++l)
      net.layer_params(l).weight_param().state_for("adam", 2);
    state.ResumeTiming();
    for (Index w = 64; w < kWidth; ++w) net.grow_neurons(1, 1, np::init::ZeroFanOut{});
    benchmark::DoNotOptimize(net.weights(1).data());
  }
  state.counters["fresh_pages"] = pinned_mmap_threshold;
}

// Writing the final layer's parameters and Adam moments once, as plain Eigen matrices: what it
// costs without growth.
void bm_write_final_layer_once(benchmark::State& state) {
  using M = Eigen::Matrix<float, Eigen::Dynamic, Eigen::Dynamic, Eigen::RowMajor>;
  np::Rng rng(1);
  for (auto _ : state) {
    M w(kWidth, kWidth), m(kWidth, kWidth), v(kWidth, kWidth);
    np::init::detail::fill_normal(w, rng, 0.03);
    m.setZero();
    v.setZero();
    M out(kOutputs, kWidth), out_m(kOutputs, kWidth), out_v(kOutputs, kWidth);
    out.setZero();
    out_m.setZero();
    out_v.setZero();
    benchmark::DoNotOptimize(w.data());
    benchmark::DoNotOptimize(out.data());
  }
  state.counters["fresh_pages"] = pinned_mmap_threshold;
}

// The same, in neuroplast's own storage (capacity buffers, huge pages for large ones): isolates
// what growing one neuron at a time costs beyond the storage itself.
void bm_write_final_layer_once_same_storage(benchmark::State& state) {
  np::Rng rng(1);
  for (auto _ : state) {
    np::ParamMatrix<float> w(kWidth, kWidth), m(kWidth, kWidth), v(kWidth, kWidth);
    np::init::detail::fill_normal(w.view(), rng, 0.03);
    np::ParamMatrix<float> out(kOutputs, kWidth), out_m(kOutputs, kWidth), out_v(kOutputs, kWidth);
    benchmark::DoNotOptimize(w.data());
    benchmark::DoNotOptimize(out.data());
  }
  state.counters["fresh_pages"] = pinned_mmap_threshold;
}

void k_args(benchmark::internal::Benchmark* b) {
  b->ArgNames({"layer", "k"})->Unit(benchmark::kMicrosecond);
  for (int layer : {0, 1})
    for (int k : {1, 16, 64}) b->Args({layer, k});
}

// Growth within capacity runs a fixed 4096 / k iterations, which fill the reserved 4096 neurons
// once: no run pays for shrinking back (clearing 4096 neurons' worth of planes) between timed
// iterations, which would make a run take minutes of untimed work.
const bool capacity_benchmarks_registered = [] {
  const std::pair<const char*, void (*)(benchmark::State&)> families[] = {
      {"bm_grow_edit_only", bm_grow_edit_only},
      {"bm_grow_in_place", bm_grow_in_place},
      {"bm_grow_in_place_he", bm_grow_in_place_he}};
  for (const auto& [name, run] : families)
    for (int layer : {0, 1})
      for (int k : {1, 16, 64}) {
        benchmark::RegisterBenchmark(name, run)
            ->ArgNames({"layer", "k"})
            ->Args({layer, k})
            ->Iterations(4096 / k)
            ->Unit(benchmark::kMicrosecond);
      }
  return true;
}();

}  // namespace

BENCHMARK(bm_floor_write_values)->Apply(k_args);
BENCHMARK(bm_floor_write_fresh_memory)->Apply(k_args);
BENCHMARK(bm_floor_random_fan_in)->Apply(k_args);
BENCHMARK(bm_reallocate_and_copy)->Apply(k_args);
BENCHMARK(bm_width_grow_in_place)
    ->ArgName("width")
    ->RangeMultiplier(2)
    ->Range(256, 4096)
    ->Unit(benchmark::kMicrosecond);
BENCHMARK(bm_width_reallocate_and_copy)
    ->ArgName("width")
    ->RangeMultiplier(2)
    ->Range(256, 4096)
    ->Unit(benchmark::kMicrosecond);
BENCHMARK(bm_grow_64_to_2048_one_at_a_time)->Unit(benchmark::kMillisecond);
BENCHMARK(bm_write_final_layer_once)->Unit(benchmark::kMillisecond);
BENCHMARK(bm_write_final_layer_once_same_storage)->Unit(benchmark::kMillisecond);
