#pragma once
/// \file
/// Data-parallel training on MPI: every process trains the same network on its share of every
/// global batch, and every structural edit happens on every process at the same step.
///
/// ```cpp
/// #include <neuroplast/mpi.hpp>   // not in neuroplast.hpp; CMake target neuroplast::mpi
/// MPI_Init(&argc, &argv);
/// neuroplast::mpi::DataParallel dp{MPI_COMM_WORLD};
/// Trainer trainer(net, opt, policy, options, dp);  // same seed and sizes on every process
/// History h = trainer.fit(train, validation);      // every process passes the same full datasets
/// ```
///
/// What is reduced and how is in docs/distributed.md. The header needs an MPI implementation
/// (`mpi.h`); the rest of neuroplast does not.

#include <mpi.h>

#include <algorithm>
#include <cstddef>
#include <cstdint>
#include <limits>
#include <span>
#include <string>
#include <tuple>
#include <type_traits>
#include <vector>

#include "neuroplast/core/error.hpp"
#include "neuroplast/train/parallel.hpp"

namespace neuroplast::mpi {

/// Throws Error naming the MPI call when `code` is not MPI_SUCCESS (with MPI's own text).
inline void check(int code, const char* call) {
  if (code == MPI_SUCCESS) return;
  char text[MPI_MAX_ERROR_STRING] = {};
  int length = 0;
  MPI_Error_string(code, text, &length);
  detail::fail("mpi: ", call, " failed: ", std::string(text, static_cast<std::size_t>(length)));
}

/// MPI's datatype for float and double.
template <class T>
MPI_Datatype datatype() {
  static_assert(std::is_same_v<T, float> || std::is_same_v<T, double>,
                "neuroplast::mpi: float or double");
  return std::is_same_v<T, float> ? MPI_FLOAT : MPI_DOUBLE;
}

/// Steps between lockstep checks by default: every 100 in builds with assertions, never without.
#ifdef NDEBUG
inline constexpr std::int64_t kDefaultCheckEvery = 0;
#else
inline constexpr std::int64_t kDefaultCheckEvery = 100;
#endif

/// The Trainer's data-parallel strategy over an MPI communicator (a DistributedStrategy, see
/// train/parallel.hpp). Every process of `comm` must build the same network from the same seed,
/// the same trainer options and policy, and pass the same full datasets; `options.batch_size` is
/// the global batch, of which process r computes samples [B·r/P, B·(r+1)/P).
///
/// Sums are a reduction to process 0 in MPI's fixed order followed by a broadcast, so every
/// process holds the same bits (an all-reduce may round differently on different processes, and
/// the processes would drift apart); with exactly two processes an all-reduce, since a + b and
/// b + a are the same bits. `check_every` > 0 compares a hash of every process's
/// parameters every that many steps and throws Error on a mismatch.
struct DataParallel {
  static constexpr bool distributed = true;       ///< a DistributedStrategy
  MPI_Comm comm = MPI_COMM_WORLD;                 ///< the processes that train together
  std::int64_t check_every = kDefaultCheckEvery;  ///< steps between lockstep checks (0 = never)
  /// Gradients a bucket holds, at least, before its sum starts (non-blocking) while backward goes
  /// on: 0 = every layer alone; the largest `std::size_t` (default) = one blocking sum after the
  /// whole backward pass. Why that default: Open MPI's non-blocking all-reduce took 3.5 × its
  /// blocking one on shared memory (6.8 against 1.9 ms for 7.5 MB, bench/bench_mpi.cpp), and with
  /// every core computing nothing is left to overlap it with, so buckets made a 784-1024-1024-10
  /// step 2–4% slower (784-128-10: 7–14%) on one machine. Try buckets of about 1 MiB
  /// (`std::size_t{1} << 20`) where the network or an MPI progress thread moves the data while the
  /// processes compute.
  std::size_t bucket_bytes = std::numeric_limits<std::size_t>::max();

  /// Sums started by `start_sum` and not finished yet (empty between steps).
  struct InFlight {
    std::vector<MPI_Request> requests;  ///< one per started piece
    /// Three or more processes: the pieces process 0 broadcasts once its reductions are complete.
    std::vector<std::tuple<void*, int, MPI_Datatype>> broadcasts;
  };
  InFlight in_flight{};  ///< what `start_sum` started and `finish_sums` has not waited for yet

  /// This process's rank in `comm`.
  int rank() const {
    int r = 0;
    check(MPI_Comm_rank(comm, &r), "MPI_Comm_rank");
    return r;
  }
  /// The number of processes in `comm`.
  int size() const {
    int n = 0;
    check(MPI_Comm_size(comm, &n), "MPI_Comm_size");
    return n;
  }

  /// In place: the element-wise sum of `values` over every process, the same bits everywhere.
  template <class T>
  void sum(std::span<T> values) const {
    if (values.empty() || size() == 1) return;
    // MPI counts are int: large buffers go in pieces.
    constexpr std::size_t piece = 1u << 30;
    for (std::size_t at = 0; at < values.size(); at += piece) {
      const int n = static_cast<int>(std::min(piece, values.size() - at));
      T* data = values.data() + at;
      if (size() == 2) {
        // Two processes add the same two numbers, and IEEE addition is commutative: an
        // all-reduce gives both the same bits, in one collective instead of two.
        check(MPI_Allreduce(MPI_IN_PLACE, data, n, datatype<T>(), MPI_SUM, comm), "MPI_Allreduce");
        continue;
      }
      if (rank() == 0) {
        check(MPI_Reduce(MPI_IN_PLACE, data, n, datatype<T>(), MPI_SUM, 0, comm), "MPI_Reduce");
      } else {
        check(MPI_Reduce(data, nullptr, n, datatype<T>(), MPI_SUM, 0, comm), "MPI_Reduce");
      }
      check(MPI_Bcast(data, n, datatype<T>(), 0, comm), "MPI_Bcast");
    }
  }

  /// Collective, non-blocking: starts the sum `sum(values)` would compute; `values` must stay
  /// valid and untouched until `finish_sums()`, and every process must start the same sums in the
  /// same order. With three or more processes the reduction to process 0 runs now and the
  /// broadcast in `finish_sums` (the same bits everywhere, as `sum` gives).
  template <class T>
  void start_sum(std::span<T> values) {
    if (values.empty() || size() == 1) return;
    constexpr std::size_t piece = 1u << 30;
    const bool two = size() == 2, root = rank() == 0;
    for (std::size_t at = 0; at < values.size(); at += piece) {
      const int n = static_cast<int>(std::min(piece, values.size() - at));
      T* data = values.data() + at;
      MPI_Request request = MPI_REQUEST_NULL;
      if (two) {
        check(MPI_Iallreduce(MPI_IN_PLACE, data, n, datatype<T>(), MPI_SUM, comm, &request),
              "MPI_Iallreduce");
      } else {
        check(MPI_Ireduce(root ? MPI_IN_PLACE : data, root ? data : nullptr, n, datatype<T>(),
                          MPI_SUM, 0, comm, &request),
              "MPI_Ireduce");
        in_flight.broadcasts.emplace_back(data, n, datatype<T>());
      }
      in_flight.requests.push_back(request);
    }
  }

  /// Lets the started sums advance without waiting for them (MPI progresses a non-blocking
  /// collective only inside MPI calls).
  void progress_sums() {
    if (in_flight.requests.empty()) return;
    int done = 0;
    check(MPI_Testall(static_cast<int>(in_flight.requests.size()), in_flight.requests.data(), &done,
                      MPI_STATUSES_IGNORE),
          "MPI_Testall");
  }

  /// Collective: returns once every started sum is complete, the same bits on every process.
  void finish_sums() {
    check(MPI_Waitall(static_cast<int>(in_flight.requests.size()), in_flight.requests.data(),
                      MPI_STATUSES_IGNORE),
          "MPI_Waitall");
    in_flight.requests.clear();
    for (const auto& [data, n, type] : in_flight.broadcasts)
      check(MPI_Bcast(data, n, type, 0, comm), "MPI_Bcast");
    in_flight.broadcasts.clear();
  }

  /// Collective. The message of the lowest-ranked process that passed `failed`, on every
  /// process; empty when none failed.
  std::string agree_on_failure(bool failed, const std::string& message) const {
    const int me = rank(), n = size();
    int mine = failed ? me : n, first = n;
    check(MPI_Allreduce(&mine, &first, 1, MPI_INT, MPI_MIN, comm), "MPI_Allreduce");
    if (first == n) return {};
    unsigned long long length = me == first ? message.size() : 0;
    check(MPI_Bcast(&length, 1, MPI_UNSIGNED_LONG_LONG, first, comm), "MPI_Bcast");
    std::string text(static_cast<std::size_t>(length), '\0');
    if (me == first) text = message;
    if (length > 0)
      check(MPI_Bcast(text.data(), static_cast<int>(length), MPI_CHAR, first, comm), "MPI_Bcast");
    return text.empty() ? "process " + std::to_string(first) + " failed" : text;
  }

  /// Collective: whether every process passed the same `value`.
  bool same_everywhere(std::uint64_t value) const {
    unsigned long long v = value, low = 0, high = 0;
    check(MPI_Allreduce(&v, &low, 1, MPI_UNSIGNED_LONG_LONG, MPI_MIN, comm), "MPI_Allreduce");
    check(MPI_Allreduce(&v, &high, 1, MPI_UNSIGNED_LONG_LONG, MPI_MAX, comm), "MPI_Allreduce");
    return low == high;
  }
};

static_assert(OverlappingSums<DataParallel>);

}  // namespace neuroplast::mpi
