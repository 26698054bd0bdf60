#pragma once
/// \file
/// A small, fast, reproducible random number generator (xoshiro256**, seeded by splitmix64).
/// The standard distributions are implementation-defined; these are not, so a seed gives the same
/// numbers with every standard library.

#include <algorithm>
#include <array>
#include <cmath>
#include <cstdint>
#include <numbers>
#include <span>
#include <type_traits>
#include <utility>

#include "neuroplast/core/types.hpp"

namespace neuroplast {

namespace detail {
// __extension__ keeps -Wpedantic quiet about the GCC/Clang 128-bit integer.
__extension__ typedef unsigned __int128 uint128;
}  // namespace detail

/// Reproducible pseudo-random stream. Copyable (a copy continues the same sequence); `split()`
/// derives an independent stream, so components seeded from one parent do not share numbers.
class Rng {
 public:
  /// Seeds the four state words from `seed` through splitmix64 (any seed, 0 included, is fine).
  explicit Rng(std::uint64_t seed = 0) noexcept { reseed(seed); }

  /// Restarts the stream as if freshly constructed with `seed`.
  void reseed(std::uint64_t seed) noexcept {
    for (auto& word : state_) word = splitmix64(seed);
    has_spare_normal_ = false;
  }

  /// Next raw 64-bit value.
  std::uint64_t next() noexcept {
    const std::uint64_t result = rotl(state_[1] * 5, 7) * 9;
    const std::uint64_t t = state_[1] << 17;
    state_[2] ^= state_[0];
    state_[3] ^= state_[1];
    state_[1] ^= state_[2];
    state_[0] ^= state_[3];
    state_[2] ^= t;
    state_[3] = rotl(state_[3], 45);
    return result;
  }

  /// Uniform double in [0, 1) with 53 random bits.
  double uniform() noexcept { return static_cast<double>(next() >> 11) * 0x1.0p-53; }

  /// Uniform double in [low, high).
  double uniform(double low, double high) noexcept { return low + (high - low) * uniform(); }

  /// Uniform integer in [0, n) without modulo bias (Lemire's multiply-and-reject). `n` must be > 0.
  std::uint64_t below(std::uint64_t n) noexcept {
    detail::uint128 m = static_cast<detail::uint128>(next()) * n;
    auto low = static_cast<std::uint64_t>(m);
    if (low < n) {
      const std::uint64_t threshold = (0 - n) % n;
      while (low < threshold) {
        m = static_cast<detail::uint128>(next()) * n;
        low = static_cast<std::uint64_t>(m);
      }
    }
    return static_cast<std::uint64_t>(m >> 64);
  }

  /// Standard normal variate (Box–Muller; the second value of each pair is kept for the next call).
  double normal() noexcept {
    if (has_spare_normal_) {
      has_spare_normal_ = false;
      return spare_normal_;
    }
    double u1 = uniform();
    while (u1 <= 0.0) u1 = uniform();
    const double u2 = uniform();
    const double radius = std::sqrt(-2.0 * std::log(u1));
    const double angle = 2.0 * std::numbers::pi * u2;
    spare_normal_ = radius * std::sin(angle);
    has_spare_normal_ = true;
    return radius * std::cos(angle);
  }

  /// Normal variate with the given mean and standard deviation.
  double normal(double mean, double stddev) noexcept { return mean + stddev * normal(); }

  /// True with probability `p`.
  bool bernoulli(double p) noexcept { return uniform() < p; }

  /// Fills `out` with normal variates (mean, stddev), Box–Muller on blocks of uniforms so Eigen's
  /// vectorised log, sqrt, sin and cos do the work: an order of magnitude faster than `normal()`
  /// in a loop, which matters when a layer of millions of weights is initialised or grown.
  /// Computed in T's precision. Deterministic for a seed (its numbers differ from `normal()`'s).
  template <class T>
  void fill_normal(std::span<T> out, double mean, double stddev) noexcept {
    constexpr std::size_t half = 64;
    Eigen::Array<T, half, 1> u1, u2;
    std::size_t done = 0;
    while (done < out.size()) {
      if constexpr (std::is_same_v<T, float>) {
        // One 64-bit draw gives both 24-bit uniforms of a pair.
        for (std::size_t i = 0; i < half; ++i) {
          const std::uint64_t bits = next();
          u1[static_cast<Index>(i)] =
              (static_cast<float>(bits >> 40) + 1.0f) * 0x1.0p-24f;  // (0, 1]
          u2[static_cast<Index>(i)] =
              static_cast<float>((bits >> 8) & 0xffffffu) * 0x1.0p-24f;  // [0, 1)
        }
      } else {
        for (std::size_t i = 0; i < half; ++i) {
          u1[static_cast<Index>(i)] =
              (static_cast<double>(next() >> 11) + 1.0) * 0x1.0p-53;                  // (0, 1]
          u2[static_cast<Index>(i)] = static_cast<double>(next() >> 11) * 0x1.0p-53;  // [0, 1)
        }
      }
      const Eigen::Array<T, half, 1> radius = (T(-2) * u1.log()).sqrt() * static_cast<T>(stddev);
      const Eigen::Array<T, half, 1> angle = static_cast<T>(2 * std::numbers::pi) * u2;
      const Eigen::Array<T, half, 1> first = radius * angle.cos() + static_cast<T>(mean);
      const Eigen::Array<T, half, 1> second = radius * angle.sin() + static_cast<T>(mean);
      const std::size_t n1 = std::min(half, out.size() - done);
      std::copy_n(first.data(), n1, out.data() + done);
      done += n1;
      const std::size_t n2 = std::min(half, out.size() - done);
      std::copy_n(second.data(), n2, out.data() + done);
      done += n2;
    }
  }

  /// Fills `out` with uniform variates in [low, high).
  template <class T>
  void fill_uniform(std::span<T> out, double low, double high) noexcept {
    for (auto& x : out) x = static_cast<T>(uniform(low, high));
  }

  /// Fisher–Yates shuffle of any contiguous range.
  template <class V>
  void shuffle(std::span<V> values) noexcept {
    for (std::size_t i = values.size(); i > 1; --i) std::swap(values[i - 1], values[below(i)]);
  }

  /// The complete state, for checkpoints: restoring it with `set_state` continues the stream
  /// exactly where it was.
  struct State {
    std::array<std::uint64_t, 4> words{};
    double spare_normal = 0.0;
    bool has_spare_normal = false;
  };
  State state() const noexcept { return {state_, spare_normal_, has_spare_normal_}; }
  void set_state(const State& s) noexcept {
    state_ = s.words;
    spare_normal_ = s.spare_normal;
    has_spare_normal_ = s.has_spare_normal;
  }

  /// An independent child stream; advances this stream by one draw.
  Rng split() noexcept { return Rng(next()); }

 private:
  static std::uint64_t rotl(std::uint64_t x, int k) noexcept { return (x << k) | (x >> (64 - k)); }
  static std::uint64_t splitmix64(std::uint64_t& x) noexcept {
    std::uint64_t z = (x += 0x9e3779b97f4a7c15ULL);
    z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9ULL;
    z = (z ^ (z >> 27)) * 0x94d049bb133111ebULL;
    return z ^ (z >> 31);
  }

  std::array<std::uint64_t, 4> state_{};
  double spare_normal_ = 0.0;
  bool has_spare_normal_ = false;
};

}  // namespace neuroplast
