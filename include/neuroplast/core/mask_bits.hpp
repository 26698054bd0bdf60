#pragma once
/// \file
/// A 0/1 connection mask packed one bit per entry: what masking a weight gradient reads.

#include <bit>
#include <cstdint>
#include <cstring>
#include <type_traits>
#include <vector>

#if defined(__AVX2__)
#include <immintrin.h>
#endif

#include "neuroplast/core/types.hpp"

namespace neuroplast {

/// The nonzero entries of a `rows × cols` 0/1 mask, one bit each, row by row: bit j of byte k of
/// row r is entry (r, 8k + j), and each row starts on a byte of its own.
///
/// A dense backward pass computes every entry of a pruned layer's weight gradient and then zeroes
/// the pruned ones. Read from the float mask plane, that pass cost a half-pruned 784-1024-1024-10
/// network 6% of its training step (one thread, `perf`): the mask's 4 bytes per entry, last read a
/// step ago, weigh as much as the gradient the product has just written. This copy is a 32nd of
/// those bytes (3.3% of the step with it). Param keeps it in step with the mask
/// (`Param::refresh_masked`, which every mask change and every axis edit of a masked tensor calls).
struct MaskBits {
  Index rows = 0;                   ///< rows of the mask it was built from
  Index cols = 0;                   ///< columns of the mask it was built from
  Index bytes_per_row = 0;          ///< ⌈cols / 8⌉
  std::vector<std::uint8_t> bytes;  ///< `rows × bytes_per_row`, row by row

  /// Whether there are bits (a default or cleared one has none).
  bool empty() const noexcept { return bytes.empty(); }

  /// Drops the bits.
  void clear() noexcept {
    rows = cols = bytes_per_row = 0;
    bytes.clear();
  }

  /// Packs `mask` (any Eigen expression, `rows × cols`): a bit is set where the entry is nonzero.
  /// Branch-free, a byte at a time, and under AVX2 eight entries to a compare and a movemask for
  /// a row-major float or double matrix in memory: every axis edit of a masked tensor rebuilds
  /// the bits, and a branch on each entry of a randomly pruned mask mispredicted half the time
  /// (10 ms for a half-pruned 1024 × 1024 layer, ten times the rest of the rebuild).
  template <class M>
  void build(const M& mask) {
    rows = mask.rows();
    cols = mask.cols();
    bytes_per_row = (cols + 7) / 8;
    bytes.resize(static_cast<std::size_t>(rows * bytes_per_row));
    const Index whole = cols / 8;
    for (Index r = 0; r < rows; ++r) {
      std::uint8_t* row = bytes.data() + r * bytes_per_row;
      Index k = 0;
#if defined(__AVX2__)
      using S = typename M::Scalar;
      if constexpr (M::IsRowMajor && requires { mask.data(); } &&
                    (std::is_same_v<S, float> || std::is_same_v<S, double>)) {
        const S* from = mask.data() + r * mask.outerStride();
        for (; k < whole; ++k) row[k] = packed_byte(from + 8 * k);
      }
#endif
      for (; k < whole; ++k) {
        unsigned byte = 0;
        for (unsigned j = 0; j < 8; ++j)
          byte |= static_cast<unsigned>(mask(r, 8 * k + j) != 0) << j;
        row[k] = static_cast<std::uint8_t>(byte);
      }
      if (whole < bytes_per_row) {
        unsigned byte = 0;
        for (Index c = 8 * whole; c < cols; ++c)
          byte |= static_cast<unsigned>(mask(r, c) != 0) << (c % 8);
        row[whole] = static_cast<std::uint8_t>(byte);
      }
    }
  }

  /// Whether every entry's bit is set (the mask has no zero; true for an empty mask).
  bool all_set() const noexcept {
    const Index whole = cols / 8;
    const auto tail = static_cast<std::uint8_t>((1u << (cols % 8)) - 1);
    for (Index r = 0; r < rows; ++r) {
      const std::uint8_t* row = bytes.data() + r * bytes_per_row;
      for (Index k = 0; k < whole; ++k)
        if (row[k] != 0xFF) return false;
      if (whole < bytes_per_row && row[whole] != tail) return false;
    }
    return true;
  }

  /// How many bits are set.
  Index count() const noexcept {
    Index n = 0;
    for (const std::uint8_t byte : bytes) n += std::popcount(static_cast<unsigned>(byte));
    return n;
  }

  /// Whether entry (r, c) is set.
  bool test(Index r, Index c) const noexcept {
    return (bytes[static_cast<std::size_t>(r * bytes_per_row + c / 8)] >> (c % 8)) & 1u;
  }

  /// Multiplies entry (r, c) of rows r0 … r1 − 1 of the row-major `rows × cols` matrix at `data`
  /// (outer stride `stride`) by its bit, as 0 or 1: exactly the product with the 0/1 mask the bits
  /// were built from, signed zeros and NaN included. Under AVX2 each eight floats (two times four
  /// doubles) get lanes of 0 or 1 from a broadcast of their bits' word, an AND with the lanes'
  /// bits and a compare; GCC does not vectorise the scalar loop (it converts bit by bit), which
  /// made the pass slower than the float mask's.
  template <class T>
  void multiply_rows(T* data, Index stride, Index r0, Index r1) const {
    for (Index r = r0; r < r1; ++r) {
      T* row = data + r * stride;
      const std::uint8_t* bits = bytes.data() + r * bytes_per_row;
      const Index whole = cols / 8 * 8;
#if defined(__AVX2__)
      // Four bytes (32 entries) share one broadcast, which then is a load: broadcasting each
      // byte from a register is a shuffle-port instruction per eight entries, and made the pass
      // 1.75× slower on data in L1.
      if constexpr (std::is_same_v<T, float>) {
        Index c = 0;
        const __m256i lane = _mm256_setr_epi32(1, 2, 4, 8, 16, 32, 64, 128);
        const __m256 one = _mm256_set1_ps(1.0f);
        // The eight entries from `at`, whose bits are `lanes` of `word`.
        const auto eight = [&](Index at, __m256i word, __m256i lanes) {
          const __m256i set = _mm256_cmpeq_epi32(_mm256_and_si256(word, lanes), lanes);
          const __m256 factor = _mm256_and_ps(_mm256_castsi256_ps(set), one);
          _mm256_storeu_ps(row + at, _mm256_mul_ps(_mm256_loadu_ps(row + at), factor));
        };
        const __m256i lane1 = _mm256_slli_epi32(lane, 8), lane2 = _mm256_slli_epi32(lane, 16),
                      lane3 = _mm256_slli_epi32(lane, 24);
        for (; c + 32 <= whole; c += 32) {
          const __m256i word = _mm256_set1_epi32(static_cast<int>(word_at(bits + c / 8)));
          eight(c, word, lane);
          eight(c + 8, word, lane1);
          eight(c + 16, word, lane2);
          eight(c + 24, word, lane3);
        }
        for (; c < whole; c += 8) eight(c, _mm256_set1_epi32(bits[c / 8]), lane);
      } else if constexpr (std::is_same_v<T, double>) {
        Index c = 0;
        const __m256i low = _mm256_setr_epi64x(1, 2, 4, 8);
        const __m256d one = _mm256_set1_pd(1.0);
        // The four entries from `at`, whose bits are `lanes` of `word`.
        const auto four = [&](Index at, __m256i word, __m256i lanes) {
          const __m256i set = _mm256_cmpeq_epi64(_mm256_and_si256(word, lanes), lanes);
          const __m256d factor = _mm256_and_pd(_mm256_castsi256_pd(set), one);
          _mm256_storeu_pd(row + at, _mm256_mul_pd(_mm256_loadu_pd(row + at), factor));
        };
        for (; c + 32 <= whole; c += 32) {
          const __m256i word = _mm256_set1_epi64x(word_at(bits + c / 8));
          for (int k = 0; k < 8; ++k) four(c + 4 * k, word, _mm256_slli_epi64(low, 4 * k));
        }
        for (; c < whole; c += 8) {
          const __m256i byte = _mm256_set1_epi64x(bits[c / 8]);
          four(c, byte, low);
          four(c + 4, byte, _mm256_slli_epi64(low, 4));
        }
      } else {
        scalar(row, bits, 0, whole);
      }
#else
      scalar(row, bits, 0, whole);
#endif
      scalar(row, bits, whole, cols);
    }
  }

 private:
#if defined(__AVX2__)
  // The four bytes from `at` as one word, byte k in bits 8k … 8k + 7 (x86 is little-endian).
  static std::uint32_t word_at(const std::uint8_t* at) {
    std::uint32_t word;
    std::memcpy(&word, at, sizeof word);
    return word;
  }

  // The byte of the eight entries at `at`: bit j set where at[j] ≠ 0.
  static std::uint8_t packed_byte(const float* at) {
    const __m256 nonzero = _mm256_cmp_ps(_mm256_loadu_ps(at), _mm256_setzero_ps(), _CMP_NEQ_UQ);
    return static_cast<std::uint8_t>(_mm256_movemask_ps(nonzero));
  }
  static std::uint8_t packed_byte(const double* at) {
    const auto half = [](const double* from) {
      return _mm256_movemask_pd(
          _mm256_cmp_pd(_mm256_loadu_pd(from), _mm256_setzero_pd(), _CMP_NEQ_UQ));
    };
    return static_cast<std::uint8_t>(half(at) | (half(at + 4) << 4));
  }
#endif

  // Entries c0 … c1 − 1 of one row, one bit at a time.
  template <class T>
  static void scalar(T* row, const std::uint8_t* bits, Index c0, Index c1) {
    for (Index c = c0; c < c1; ++c) row[c] *= static_cast<T>((bits[c / 8] >> (c % 8)) & 1u);
  }
};

}  // namespace neuroplast
