#pragma once
/// \file
/// How a Trainer spreads its work over processes: `SingleProcess` (the default) or a
/// data-parallel strategy such as `mpi::DataParallel` (neuroplast/mpi.hpp).

#include <concepts>
#include <cstddef>
#include <cstdint>
#include <span>
#include <string>

#include "neuroplast/core/types.hpp"

namespace neuroplast {

/// The Trainer's default: one process does everything. Costs nothing (the trainer's loop takes
/// its serial path at compile time).
struct SingleProcess {
  static constexpr bool distributed = false;  ///< not a DistributedStrategy
};

/// A data-parallel strategy: `size()` processes train one network in lockstep, each on its share
/// of every global batch, every one holding the same full datasets. The Trainer needs from it:
///
/// - `rank()` in [0, size()) and `size()`;
/// - `sum(values)` for spans of float and of double: the element-wise sum over every process,
///   in place, **bit-identical on every process** (so every process takes the same step and
///   makes the same decisions; an all-reduce whose rounding differs between processes would let
///   them drift apart);
/// - `agree_on_failure(failed, message)`: collective; when any process passes `failed = true`,
///   returns the message of the lowest such rank on every process (empty when none failed), so
///   every process can throw the same error and none is left waiting in a collective;
/// - `same_everywhere(hash)`: collective; true when every process passed the same value (the
///   lockstep check);
/// - `check_every`: steps between lockstep checks (0 = never).
template <class P>
concept DistributedStrategy = P::distributed &&
    requires(P& p, std::span<float> f, std::span<double> d, std::string m) {
  { p.rank() } -> std::convertible_to<int>;
  { p.size() } -> std::convertible_to<int>;
  p.sum(f);
  p.sum(d);
  { p.agree_on_failure(true, m) } -> std::convertible_to<std::string>;
  { p.same_everywhere(std::uint64_t{}) } -> std::convertible_to<bool>;
  { p.check_every } -> std::convertible_to<std::int64_t>;
};

/// A DistributedStrategy whose sums can run while backward goes on (`mpi::DataParallel`). The
/// Trainer packs each layer's gradients, as backward finishes them (last layer first), into
/// buckets of at least `bucket_bytes` and starts summing each bucket at once; it needs:
///
/// - `start_sum(values)` for spans of float and of double: starts the sum of `values` over every
///   process, in place; the span must stay valid and untouched until `finish_sums()`, and every
///   process must start the same sums in the same order;
/// - `progress_sums()`: lets started sums advance (called between layers; cheap);
/// - `finish_sums()`: returns once every started sum is complete, each holding the same bits on
///   every process (as `sum` would have given);
/// - `bucket_bytes`: the least a bucket holds before it is started (0: every layer on its own;
///   the largest `std::size_t`: one bucket, started after the whole backward pass).
template <class P>
concept OverlappingSums = DistributedStrategy<P> &&
    requires(P& p, std::span<float> f, std::span<double> d) {
  p.start_sum(f);
  p.start_sum(d);
  p.progress_sums();
  p.finish_sums();
  { p.bucket_bytes } -> std::convertible_to<std::size_t>;
};

/// A strategy the Trainer accepts: SingleProcess or a DistributedStrategy.
template <class P>
concept ParallelStrategy = std::same_as<P, SingleProcess> || DistributedStrategy<P>;

/// The samples [begin, end) of a batch of `batch` samples that process `rank` of `size` computes:
/// contiguous shares whose sizes differ by at most one.
struct Share {
  Index begin = 0;                                     ///< first sample of the share
  Index end = 0;                                       ///< one past its last sample
  Index size() const noexcept { return end - begin; }  ///< samples in the share
};

/// Process `rank`'s share of a batch of `batch` samples split over `size` processes.
inline Share share_of(Index batch, int rank, int size) {
  const auto at = [&](int r) { return batch * r / size; };
  return {at(rank), at(rank + 1)};
}

}  // namespace neuroplast
