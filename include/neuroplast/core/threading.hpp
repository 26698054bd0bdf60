#pragma once
/// \file
/// How many threads neuroplast's matrix products may use, and the small worker pool that runs
/// their pieces.
///
/// Only matrix products and optimizer updates are split, and only when each thread gets enough
/// work to pay for waking another thread (the rule below): small layers always run on the calling
/// thread, so a second thread never makes a small network slower. Workers wait by spinning for a
/// few microseconds (the products of one training step follow each other closely) and then sleep in
/// the kernel, so an idle pool does not burn a core as OpenMP's default spin-waiting does.

#include <algorithm>
#include <atomic>
#include <chrono>
#include <cstdint>
#include <cstdlib>
#include <thread>
#include <vector>

#include "neuroplast/core/types.hpp"

#if defined(__x86_64__) || defined(_M_X64)
#include <immintrin.h>
#endif

namespace neuroplast {

namespace detail {

// The setting behind thread_count(): NEUROPLAST_NUM_THREADS if set, else the hardware threads.
inline std::atomic<int>& thread_count_setting() {
  static std::atomic<int> n = [] {
    if (const char* env = std::getenv("NEUROPLAST_NUM_THREADS")) {
      const int v = std::atoi(env);
      if (v >= 1) return v;
    }
    return std::max(1, static_cast<int>(std::thread::hardware_concurrency()));
  }();
  return n;
}

// The setting behind adaptive_split(): off when NEUROPLAST_ADAPTIVE_SPLIT is 0.
inline std::atomic<bool>& adaptive_split_setting() {
  static std::atomic<bool> on = [] {
    const char* env = std::getenv("NEUROPLAST_ADAPTIVE_SPLIT");
    return env == nullptr || std::atoi(env) != 0;
  }();
  return on;
}

inline void cpu_relax() noexcept {
#if defined(__x86_64__) || defined(_M_X64)
  _mm_pause();
#endif
}

// Spins on `ready` for about `spin` before giving up; true when it became ready while spinning.
template <class Ready>
bool spin_until(Ready ready, std::chrono::microseconds spin) {
  const auto until = std::chrono::steady_clock::now() + spin;
  for (int i = 0;; ++i) {
    if (ready()) return true;
    cpu_relax();
    if ((i & 63) == 63 && std::chrono::steady_clock::now() > until) return false;
  }
}

/// Decides from measured time whether splitting operations over the workers pays on this machine
/// right now. On an idle machine it does; when another process keeps a core busy, a split
/// operation waits for the share whose core was taken (up to a scheduler time slice, which is
/// milliseconds), and the caller alone is faster. The chooser times windows of operations (at
/// least `kWindowNs` long and `kWindowRegions` operations) in its preferred mode and, now and
/// then, one window in the other mode (a probe), and prefers whichever costs less time per unit
/// of work. A probe that confirms the preference doubles the windows until the next one (up to
/// `kMaxBetween`), so a settled machine rarely pays for probing; one that overturns it switches
/// at once. Only where the pieces run changes, never the pieces: both modes give the same bits.
class SplitChooser {
 public:
  static constexpr double kWindowNs = 2e6;       ///< a window lasts at least 2 ms …
  static constexpr int kWindowRegions = 16;      ///< … and 16 operations
  static constexpr int kMaxBetween = 256;        ///< most windows between two probes
  static constexpr double kSwitchMargin = 0.97;  ///< a probe must cost 3% less to switch

  /// Whether the next operation is split over the workers.
  bool split() const noexcept { return probing_ != prefer_split_; }
  /// Whether operations are split outside probes.
  bool prefers_split() const noexcept { return prefer_split_; }

  /// Records an operation of `work` units (any unit proportional to its time for its kind) that
  /// took `ns` nanoseconds in the current mode (`split()`), and closes the window once it is
  /// long enough.
  void record(double ns, double work) noexcept {
    ns_ += ns;
    work_ += work;
    if (++regions_ < kWindowRegions || ns_ < kWindowNs || !(work_ > 0)) return;
    const double rate = ns_ / work_;
    const bool mode = split();
    ns_ = work_ = 0;
    regions_ = 0;
    if (!probing_) {
      // The preferred mode's cost follows the machine: an average of the recent windows.
      rate_[mode] = known_[mode] ? 0.5 * (rate_[mode] + rate) : rate;
      known_[mode] = true;
      probing_ = --until_probe_ <= 0;
      return;
    }
    probing_ = false;
    if (rate < kSwitchMargin * rate_[prefer_split_]) {
      prefer_split_ = mode;
      rate_[mode] = rate;
      known_[mode] = true;
      between_ = 1;
    } else {
      between_ = std::min(2 * between_, kMaxBetween);
    }
    until_probe_ = between_;
  }

 private:
  bool prefer_split_ = true;
  bool probing_ = false;
  int between_ = 1;                 // windows in the preferred mode between two probes
  int until_probe_ = 1;             // … left before the next one
  double rate_[2] = {0, 0};         // ns per unit of work: [alone, split]
  bool known_[2] = {false, false};  // whether rate_ holds a measurement
  double ns_ = 0, work_ = 0;        // the current window's time and work …
  int regions_ = 0;                 // … and operations
};

/// The process-wide workers that run the pieces of a split operation. `run(n, task, work)` runs
/// task(0 … n−1) and returns when all are done: task(0) on the caller and the others on workers
/// while splitting pays (SplitChooser), all on the caller otherwise. One parallel region at a
/// time: a caller that finds the pool busy (another thread of the user's is in an operation)
/// runs its pieces alone, so independent user threads never wait on each other.
class WorkerPool {
 public:
  static WorkerPool& instance() {
    static WorkerPool pool;
    return pool;
  }

  WorkerPool(const WorkerPool&) = delete;
  WorkerPool& operator=(const WorkerPool&) = delete;

  ~WorkerPool() {
    stop_.store(true, std::memory_order_relaxed);
    generation_.fetch_add(1 << 16, std::memory_order_release);
    generation_.notify_all();
    for (std::thread& t : workers_) t.join();
  }

  /// Runs task(i) for every i in [0, n). `work` is the operation's cost in a unit proportional to
  /// its time (flops for a product, entries for an element-wise pass), which the chooser compares
  /// between running split and running alone.
  template <class Task>
  void run(int n, const Task& task, double work) {
    run(n, task, work, [&] {
      for (int i = 0; i < n; ++i) task(i);
    });
  }

  /// The same, but `alone()` instead of the n tasks in turn whenever they would all run on the
  /// caller; it must do exactly what they do together. Why: a product's shares computed one after
  /// the other repack what one undivided product packs once (784-128-10 at batch 256 with a core
  /// busy, where the pool runs products alone: 4% slower than the undivided products).
  template <class Task, class Alone>
  void run(int n, const Task& task, double work, const Alone& alone) {
    n = std::min(n, 0xffff);
    if (n < 2 || busy_.test_and_set(std::memory_order_acquire)) {
      alone();
      return;
    }
    if (!adaptive_split_setting().load(std::memory_order_relaxed)) {
      split(n, task);
      busy_.clear(std::memory_order_release);
      return;
    }
    const auto start = std::chrono::steady_clock::now();
    if (chooser_.split()) {
      split(n, task);
    } else {
      alone();
    }
    const auto took = std::chrono::steady_clock::now() - start;
    chooser_.record(static_cast<double>(std::chrono::nanoseconds(took).count()), work);
    busy_.clear(std::memory_order_release);
  }

 private:
  static constexpr std::chrono::microseconds kSpin{50};

  WorkerPool() = default;

  template <class Task>
  void split(int n, const Task& task) {
    ensure_workers(n - 1);
    context_ = const_cast<void*>(static_cast<const void*>(&task));
    call_ = [](void* c, int i) { (*static_cast<const Task*>(c))(i); };
    pending_.store(n - 1, std::memory_order_relaxed);
    // The task count travels in the generation word: a worker not needed this time may wake only
    // after the next region began, and must judge by the region it actually sees.
    const std::uint64_t next = ((generation_.load(std::memory_order_relaxed) >> 16) + 1) << 16;
    generation_.store(next | static_cast<std::uint64_t>(n), std::memory_order_release);
    generation_.notify_all();
    task(0);
    if (!spin_until([&] { return pending_.load(std::memory_order_acquire) == 0; }, kSpin)) {
      for (int left; (left = pending_.load(std::memory_order_acquire)) != 0;)
        pending_.wait(left, std::memory_order_acquire);
    }
  }

  void ensure_workers(int n) {
    while (static_cast<int>(workers_.size()) < n) {
      const int index = static_cast<int>(workers_.size()) + 1;
      // The worker must start from the generation before the region that needs it: reading it on
      // its own thread could already see that region and then wait for the next one forever.
      const std::uint64_t before = generation_.load(std::memory_order_relaxed);
      workers_.emplace_back([this, index, before] { work(index, before); });
    }
  }

  void work(int index, std::uint64_t seen) {
    for (;;) {
      if (!spin_until([&] { return generation_.load(std::memory_order_acquire) != seen; }, kSpin)) {
        generation_.wait(seen, std::memory_order_acquire);
      }
      seen = generation_.load(std::memory_order_acquire);
      if (stop_.load(std::memory_order_relaxed)) return;
      if (index < static_cast<int>(seen & 0xffff)) {
        call_(context_, index);
        if (pending_.fetch_sub(1, std::memory_order_acq_rel) == 1) pending_.notify_one();
      }
    }
  }

  std::vector<std::thread> workers_;  // only touched by the caller holding busy_
  std::atomic_flag busy_ = ATOMIC_FLAG_INIT;
  std::atomic<std::uint64_t> generation_{0};
  std::atomic<int> pending_{0};
  std::atomic<bool> stop_{false};
  SplitChooser chooser_;  // only touched by the caller holding busy_
  // Published by the generation_ store in split(), read by the workers it names after its
  // acquire; the next region waits for those workers, so they never see these change under them.
  void* context_ = nullptr;
  void (*call_)(void*, int) = nullptr;
};

}  // namespace detail

/// Threads a large matrix product may use, the caller's included (≥ 1). Default: the
/// `NEUROPLAST_NUM_THREADS` environment variable if set, else
/// `std::thread::hardware_concurrency()`.
inline int thread_count() { return detail::thread_count_setting().load(std::memory_order_relaxed); }

/// Sets the thread count for every later product, process-wide; 1 runs everything on the calling
/// thread. Values below 1 count as 1.
inline void set_thread_count(int n) {
  detail::thread_count_setting().store(std::max(1, n), std::memory_order_relaxed);
}

/// Whether the worker pool decides by measured time whether splitting an operation pays (true,
/// the default): on a machine where another process keeps a core busy, the caller alone is often
/// faster than waiting for the share whose core was taken, and the pool then runs operations on
/// the caller until a probe finds splitting faster again (detail::SplitChooser). False splits
/// every operation the threading rule splits, always (benchmarks of the split itself, tests).
/// Default: true, unless the environment variable `NEUROPLAST_ADAPTIVE_SPLIT` is 0. Results are
/// the same bits either way.
inline bool adaptive_split() {
  return detail::adaptive_split_setting().load(std::memory_order_relaxed);
}

/// Sets `adaptive_split()`, process-wide.
inline void set_adaptive_split(bool on) {
  detail::adaptive_split_setting().store(on, std::memory_order_relaxed);
}

/// The threading rule for matrix products (C = A·B, `m × k` times `k × n`): split over
/// min(thread_count(), 2·m·n·k / kMinFlopsPerThread) threads. 2 MFLOP take about 20 µs on one
/// Zen 4 core at Eigen's GEMM rate, several times what handing a piece to a worker costs.
inline constexpr double kMinFlopsPerThread = 2e6;

/// The rule for matrix-vector products (batch 1): min(thread_count(), m·k /
/// kMinGemvEntriesPerThread) threads. They are bound by reading the matrix, so what counts is its
/// size: from 64 Ki entries per thread (256 KiB of floats) two threads read it faster than one.
inline constexpr double kMinGemvEntriesPerThread = 65536;

/// The rule for element-wise passes (optimizer updates, and a layer's bias, activation and its
/// derivative): min(thread_count(), entries / kMinEntriesPerThread) threads. 32 Ki entries of an
/// Adam update take about 10 µs on one core, several times what handing a piece to a worker
/// costs; and a pass that follows a split product finds half its operands in the other core's
/// cache, so running it on one thread costs more than its own work (784-128-10's Adam update of
/// 100 352 weights, on 2 threads with a busy machine: 73–100 µs alone, 40–47 µs split).
inline constexpr double kMinEntriesPerThread = 32768;

/// How many threads an operation of `work` units gets when each thread needs `per_thread` units.
inline int threads_for(double work, double per_thread) {
  const int allowed = thread_count();
  if (allowed <= 1) return 1;
  return std::clamp(static_cast<int>(work / per_thread), 1, allowed);
}

namespace detail {

/// Calls `body(begin, end)` on disjoint row ranges covering [0, rows) of a `rows × cols` plane,
/// split over threads by the element-wise rule. `body` must only touch its own rows.
template <class Body>
void parallel_rows(Index rows, Index cols, const Body& body) {
  const int threads = static_cast<int>(std::min<Index>(
      rows,
      threads_for(static_cast<double>(rows) * static_cast<double>(cols), kMinEntriesPerThread)));
  const auto part = [&](int t) {
    const Index r0 = rows * t / threads, r1 = rows * (t + 1) / threads;
    if (r1 > r0) body(r0, r1);
  };
  WorkerPool::instance().run(threads, part, static_cast<double>(rows) * static_cast<double>(cols));
}

}  // namespace detail

}  // namespace neuroplast
