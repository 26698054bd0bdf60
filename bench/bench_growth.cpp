// What growth costs: adding k neurons to hidden layer 1 of 2048-2048-2048-10 (float, with Adam
// state) in place, against (a) reallocating and copying every affected tensor — what a PyTorch user
// does with torch.cat and a rebuilt optimizer — and (b) the floor: writing the k × (fan_in +
// fan_out) new values once. Run side by side; read the ratios.

#include <benchmark/benchmark.h>
#include <malloc.h>

#include "neuroplast/neuroplast.hpp"
#include "support/step.hpp"

namespace np = neuroplast;
using np::Index;

namespace {

constexpr Index kWidth = 2048;
constexpr Index kOutputs = 10;
constexpr Index kLayer =
    1;  // hidden layer 1: rows of W(1) (2048 × 2048), columns of W(2) (10 × 2048)

// A trained-once network, so every parameter has Adam state.
np::Mlp<float, np::Relu> make_network(Index reserve) {
  np::Mlp<float, np::Relu> net({kWidth, kWidth, kWidth, kOutputs}, 1);
  if (reserve > 0) net.reserve(kLayer, reserve);
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

// Shrinks hidden layer 1 back to its start (outside the timed region).
void shrink(np::Mlp<float, np::Relu>& net) {
  const Index w = net.width(kLayer);
  if (w == kWidth) return;
  std::vector<Index> tail;
  for (Index i = kWidth; i < w; ++i) tail.push_back(i);
  net.edit_axis(kLayer, np::AxisEdit::remove(w, std::move(tail)));
}

void bytes_written(benchmark::State& state, Index k, int planes) {
  state.SetBytesProcessed(static_cast<std::int64_t>(state.iterations()) * k *
                          (kWidth + kOutputs + 1) * planes *
                          static_cast<std::int64_t>(sizeof(float)));
}

// In place, within capacity: ZeroFanOut writes random fan-in, zero fan-out and bias, and Adam's
// zero moments for the new rows and columns.
void bm_grow_in_place(benchmark::State& state) {
  const Index k = state.range(0);
  auto net = make_network(kWidth + 4096);
  for (auto _ : state) {
    if (net.width(kLayer) + k > net.capacity(kLayer)) {
      state.PauseTiming();
      shrink(net);
      state.ResumeTiming();
    }
    benchmark::DoNotOptimize(net.grow_neurons(kLayer, k, np::init::ZeroFanOut{}));
  }
  bytes_written(state, k, 3);
}

// The storage mechanism alone: a grow edit with zero-filled values (no random numbers).
void bm_grow_edit_only(benchmark::State& state) {
  const Index k = state.range(0);
  auto net = make_network(kWidth + 4096);
  for (auto _ : state) {
    if (net.width(kLayer) + k > net.capacity(kLayer)) {
      state.PauseTiming();
      shrink(net);
      state.ResumeTiming();
    }
    net.edit_axis(kLayer, np::AxisEdit::grow(net.width(kLayer), k));
    benchmark::ClobberMemory();
  }
  bytes_written(state, k, 3);
}

// (a) Reallocate and copy: new W(1), b(1), W(2) and their two Adam moments at the new size, old
// values copied in, new ones written — torch.cat on each tensor plus a rebuilt optimizer.
void bm_reallocate_and_copy(benchmark::State& state) {
  const Index k = state.range(0);
  using M = Eigen::Matrix<float, Eigen::Dynamic, Eigen::Dynamic, Eigen::RowMajor>;
  std::vector<M> w_in(3, M::Random(kWidth, kWidth)), w_out(3, M::Random(kOutputs, kWidth));
  std::vector<np::Vector<float>> bias(3, np::Vector<float>::Random(kWidth));
  np::Rng rng(1);
  for (auto _ : state) {
    for (int plane = 0; plane < 3; ++plane) {
      M grown_in(kWidth + k, kWidth);
      grown_in.topRows(kWidth) = w_in[static_cast<std::size_t>(plane)];
      M grown_out(kOutputs, kWidth + k);
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
  bytes_written(state, k, 3);
}

// (b) The floor: k × (fan_in + fan_out + 1) fresh values written into preallocated memory.
void bm_floor_write_values(benchmark::State& state) {
  const Index k = state.range(0);
  std::vector<float> values(static_cast<std::size_t>(k * (kWidth + kOutputs + 1)));
  for (auto _ : state) {
    std::fill(values.begin(), values.end(), 0.5f);
    benchmark::ClobberMemory();
  }
  bytes_written(state, k, 1);
}

// (b, memory) The same writes to memory that is not in cache, as growth's are: the writes walk
// through a 256 MiB buffer, like new rows appended to a large capacity buffer.
void bm_floor_write_fresh_memory(benchmark::State& state) {
  const Index k = state.range(0);
  const auto run = static_cast<std::size_t>(k * (kWidth + kOutputs + 1));
  std::vector<float> arena(std::size_t{64} << 20, 1.0f);
  std::size_t at = 0;
  for (auto _ : state) {
    if (at + run > arena.size()) at = 0;
    std::fill_n(arena.begin() + static_cast<std::ptrdiff_t>(at), run, 0.5f);
    at += run;
    benchmark::ClobberMemory();
  }
  bytes_written(state, k, 1);
}

// (b') The same floor with the random numbers ZeroFanOut draws for the fan-in.
void bm_floor_random_fan_in(benchmark::State& state) {
  const Index k = state.range(0);
  std::vector<float> values(static_cast<std::size_t>(k * (kWidth + kOutputs + 1)));
  np::Rng rng(1);
  for (auto _ : state) {
    rng.fill_normal(std::span<float>(values.data(), static_cast<std::size_t>(k * kWidth)), 0.0,
                    0.03);
    std::fill(values.begin() + k * kWidth, values.end(), 0.0f);
    benchmark::ClobberMemory();
  }
  bytes_written(state, k, 1);
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
    for (Index w = 64; w < kWidth; ++w) net.grow_neurons(kLayer, 1, np::init::ZeroFanOut{});
    benchmark::DoNotOptimize(net.weights(kLayer).data());
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
  b->ArgName("k")->Arg(1)->Arg(16)->Arg(64)->Unit(benchmark::kMicrosecond);
}

}  // namespace

BENCHMARK(bm_floor_write_values)->Apply(k_args);
BENCHMARK(bm_floor_write_fresh_memory)->Apply(k_args);
BENCHMARK(bm_floor_random_fan_in)->Apply(k_args);
BENCHMARK(bm_grow_edit_only)->Apply(k_args);
BENCHMARK(bm_grow_in_place)->Apply(k_args);
BENCHMARK(bm_reallocate_and_copy)->Apply(k_args);
BENCHMARK(bm_grow_64_to_2048_one_at_a_time)->Unit(benchmark::kMillisecond);
BENCHMARK(bm_write_final_layer_once)->Unit(benchmark::kMillisecond);
BENCHMARK(bm_write_final_layer_once_same_storage)->Unit(benchmark::kMillisecond);
