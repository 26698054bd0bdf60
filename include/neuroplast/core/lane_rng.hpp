#pragma once
/// \file
/// Eight random streams stepped together in one SIMD register, and the bulk normal and uniform
/// transforms `Rng::fill_normal` and `Rng::fill_uniform` run on them.
///
/// Why a second generator: growing one neuron of a 2048-wide layer draws 2048 fan-in variates, and
/// the scalar path (one xoshiro256** step per pair, a serial dependency chain, then a
/// general-purpose log, sin and cos) spends about 2 ns on each — ten times the cost of writing the
/// grown row. Here the eight lanes advance in parallel, and Box–Muller runs on whole registers with
/// polynomials that only have to cover the inputs it can see (a log on (0, 1], a sine and cosine on
/// [-π/4, π/4]).
///
/// The lane count and every operation are fixed, so a seed gives the same numbers whatever the
/// instruction set: the compiler maps the 8-lane vectors to AVX2, to two SSE registers, or to
/// scalar code. Floating-point contraction (FMA) is the compiler's choice, as for the rest of the
/// library, so the last bit may differ between builds with and without FMA.

#include <cmath>
#include <cstddef>
#include <cstdint>
#include <cstring>
#if defined(__SSE__)
#include <immintrin.h>
#endif

namespace neuroplast::detail {

/// The eight lanes live in packs of SIMD width: one 32-byte vector with AVX2, two 16-byte vectors
/// otherwise (GCC splits a 32-byte vector it cannot hold into scalar code for some operations).
/// Every operation is lane-wise, so the numbers do not depend on the split. GCC and Clang vector
/// extensions; helpers take packs by reference and are always inlined, because a 32-byte vector
/// passed by value has an ABI that depends on whether AVX is enabled, which GCC warns about.
namespace lanes {
inline constexpr int kCount = 8;
#if defined(__AVX2__)
inline constexpr int kPackSize = 8;
#else
inline constexpr int kPackSize = 4;
#endif
inline constexpr int kPacks = kCount / kPackSize;
typedef std::uint32_t Words __attribute__((vector_size(4 * kPackSize)));
typedef std::int32_t Ints __attribute__((vector_size(4 * kPackSize)));
typedef float Floats __attribute__((vector_size(4 * kPackSize)));

/// Marks the lane helpers inline and always inlined (see above: the vector ABI).
#define NEUROPLAST_LANES_INLINE inline __attribute__((always_inline))

/// In-place square root of every lane (correctly rounded on every path, so results agree).
NEUROPLAST_LANES_INLINE void sqrt_in_place(Floats& x) noexcept {
#if defined(__AVX2__)
  __m256 v;
  std::memcpy(&v, &x, sizeof v);
  v = _mm256_sqrt_ps(v);
#elif defined(__SSE__)
  __m128 v;
  std::memcpy(&v, &x, sizeof v);
  v = _mm_sqrt_ps(v);
#endif
#if defined(__AVX2__) || defined(__SSE__)
  std::memcpy(&x, &v, sizeof v);
#else
  for (int i = 0; i < kPackSize; ++i) x[i] = std::sqrt(x[i]);
#endif
}

/// ln(x) in place for x in [2^-24, 1] (normal floats only: no zero, subnormal, inf or NaN
/// handling, which Box–Muller's inputs never need). The mantissa m is reduced to [√½, √2) and ln m
/// summed as a short atanh series; relative error below 3e-7, tested on every input a fill can
/// produce.
NEUROPLAST_LANES_INLINE void log_in_place(Floats& x) noexcept {
  const auto bits = (Words)x;
  Ints exponent = (Ints)(bits >> 23) - 127;
  const Words mantissa_bits = (bits & 0x7fffffu) | 0x3f800000u;
  const Ints above = (Floats)mantissa_bits > 1.41421356f;  // -1: the mantissa moves to [√½, 1)
  const auto halved = (Words)((Floats)mantissa_bits * 0.5f);
  const auto m = (Floats)(((Words)above & halved) | (~(Words)above & mantissa_bits));
  exponent -= above;
  // ln m = 2 atanh(t) = 2 (t + t³/3 + t⁵/5 + t⁷/7 + …), t = (m − 1)/(m + 1) in ±0.1716: the
  // omitted terms are below 1e-7 of the sum. One division replaces the five extra multiply-adds
  // of a polynomial in m − 1, 15% of the whole normal fill.
  const Floats t = (m - 1.0f) / (m + 1.0f);
  const Floats t2 = t * t;
  Floats p = t2 * (1.0f / 7) + 0.2f;
  p = p * t2 + (1.0f / 3);
  p = p * t2 + 1.0f;
  x = (t + t) * p + __builtin_convertvector(exponent, Floats) * 0.693147181f;
}

/// sin and cos of θ in [-π/4, π/4] (minimax polynomials; absolute error below 1e-7, tested on
/// every angle a fill can produce).
NEUROPLAST_LANES_INLINE void sincos(const Floats& theta, Floats& s, Floats& c) noexcept {
  const Floats z = theta * theta;
  Floats ps = z * -1.9515295891e-4f + 8.3321608736e-3f;
  ps = ps * z - 1.6666654611e-1f;
  s = theta + theta * z * ps;
  Floats pc = z * 2.443315711809948e-5f - 1.388731625493765e-3f;
  pc = pc * z + 4.166664568298827e-2f;
  c = (z * pc - 0.5f) * z + 1.0f;
}
}  // namespace lanes

/// Eight xoshiro128+ streams, one per lane, seeded from one 64-bit value through splitmix64.
/// Only the top 24 bits of each output are used (the low bits of the + scrambler are its weak
/// ones). A fill takes one draw from its parent `Rng` and runs its own LaneRng, so the parent
/// stream advances by one number per fill whatever its size.
class LaneRng {
 public:
  using Pack = lanes::Words[lanes::kPacks];

  explicit LaneRng(std::uint64_t seed) noexcept {
    std::uint32_t words[4][lanes::kCount];
    for (int w = 0; w < 4; w += 2) {
      for (int l = 0; l < lanes::kCount; ++l) {
        std::uint64_t z = (seed += 0x9e3779b97f4a7c15ULL);
        z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9ULL;
        z = (z ^ (z >> 27)) * 0x94d049bb133111ebULL;
        z ^= z >> 31;
        // Two consecutive splitmix64 outputs are never both zero, so no lane starts (and stays)
        // at the all-zero state.
        words[w][l] = static_cast<std::uint32_t>(z);
        words[w + 1][l] = static_cast<std::uint32_t>(z >> 32);
      }
    }
    for (int w = 0; w < 4; ++w) std::memcpy(state_[w], words[w], sizeof words[w]);
  }

  /// One 32-bit output per lane.
  NEUROPLAST_LANES_INLINE void next(Pack& out) noexcept {
    for (int h = 0; h < lanes::kPacks; ++h) {
      lanes::Words& s0 = state_[0][h];
      lanes::Words& s1 = state_[1][h];
      lanes::Words& s2 = state_[2][h];
      lanes::Words& s3 = state_[3][h];
      out[h] = s0 + s3;
      const lanes::Words t = s1 << 9;
      s2 ^= s0;
      s3 ^= s1;
      s1 ^= s2;
      s0 ^= s3;
      s2 ^= t;
      s3 = (s3 << 11) | (s3 >> 21);
    }
  }

  /// Sixteen normal variates (mean, stddev) from two steps: eight Box–Muller pairs, the first
  /// values of the pairs in out[0, 8), the second in out[8, 16). The radius comes from
  /// u1 = (top 24 bits + 1)·2^-24 in (0, 1]; the angle from the second word: bits 31 and 30 pick
  /// the signs, bit 29 swaps sine and cosine, bits 8–28 place θ in [-π/4, π/4). Reflections and
  /// the swap map that quarter circle onto the whole circle uniformly, so (r·cos, r·sin) is a
  /// pair of independent standard normals as in textbook Box–Muller.
  NEUROPLAST_LANES_INLINE void normal16(float* out, float mean, float stddev) noexcept {
    Pack radius_bits, angle_bits;
    next(radius_bits);
    next(angle_bits);
    for (int h = 0; h < lanes::kPacks; ++h) {
      using lanes::Floats, lanes::Ints, lanes::Words;
      Floats r =
          __builtin_convertvector((Ints)(radius_bits[h] >> 8), Floats) * 0x1.0p-24f + 0x1.0p-24f;
      lanes::log_in_place(r);
      r *= -2.0f * stddev * stddev;
      lanes::sqrt_in_place(r);
      const Words& bits = angle_bits[h];
      const Floats theta = __builtin_convertvector((Ints)((bits >> 8) & 0x1fffffu), Floats) *
                               static_cast<float>(0x1.0p-21 * 1.5707963267948966) -
                           0.785398163f;
      Floats s, c;
      lanes::sincos(theta, s, c);
      const auto swap = (Words)((Ints)(bits << 2) >> 31);
      const Words x = ((swap & (Words)s) | (~swap & (Words)c)) ^ (bits & 0x80000000u);
      const Words y = ((swap & (Words)c) | (~swap & (Words)s)) ^ ((bits << 1) & 0x80000000u);
      const Floats first = r * (Floats)x + mean;
      const Floats second = r * (Floats)y + mean;
      std::memcpy(out + h * lanes::kPackSize, &first, sizeof first);
      std::memcpy(out + lanes::kCount + h * lanes::kPackSize, &second, sizeof second);
    }
  }

  /// Eight uniform floats in [low, low + width): the top 24 bits of one step.
  NEUROPLAST_LANES_INLINE void uniform8(float* out, float low, float width) noexcept {
    Pack bits;
    next(bits);
    for (int h = 0; h < lanes::kPacks; ++h) {
      const lanes::Floats u = __builtin_convertvector((lanes::Ints)(bits[h] >> 8), lanes::Floats) *
                                  (0x1.0p-24f * width) +
                              low;
      std::memcpy(out + h * lanes::kPackSize, &u, sizeof u);
    }
  }

  /// Eight uniform doubles in [0, 1) with 53 random bits: the top 26 bits of one step and the
  /// top 27 of the next.
  NEUROPLAST_LANES_INLINE void unit_doubles8(double* out) noexcept {
    Pack high, low;
    next(high);
    next(low);
    for (int l = 0; l < lanes::kCount; ++l) {
      const int h = l / lanes::kPackSize, i = l % lanes::kPackSize;
      const std::uint64_t bits =
          (static_cast<std::uint64_t>(high[h][i] >> 6) << 27) | (low[h][i] >> 5);
      out[l] = static_cast<double>(bits) * 0x1.0p-53;
    }
  }

 private:
  lanes::Words state_[4][lanes::kPacks];
};

/// Runs `block(buffer)` — which writes `Width` values — until `n` values are in `out`; the last,
/// partial block goes through a buffer so the output is the prefix of the full stream.
///
/// Growth writes its new rows into capacity that is rarely in cache, and the stores of a block
/// then wait for their lines to arrive. Asking for the lines a few blocks ahead, for writing, hides
/// that wait behind the arithmetic: growing one neuron of a 2048-wide layer went from 2.0 µs to
/// 1.5 µs (bench_growth).
template <std::size_t Width, class V, class Block>
NEUROPLAST_LANES_INLINE void fill_in_blocks(V* out, std::size_t n, Block&& block) noexcept {
  constexpr std::size_t ahead = 256 / sizeof(V);  // four cache lines
  std::size_t done = 0;
  for (; n - done >= Width; done += Width) {
    if (n - done > ahead) __builtin_prefetch(out + done + ahead, 1);
    block(out + done);
  }
  if (done < n) {
    V tail[Width];
    block(tail);
    std::memcpy(out + done, tail, (n - done) * sizeof(V));
  }
}

}  // namespace neuroplast::detail
