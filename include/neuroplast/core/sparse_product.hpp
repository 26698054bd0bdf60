#pragma once
/// \file
/// Products of a pruned weight matrix that visit only its active connections, and the rule that
/// says when they beat the dense GEMM.
///
/// The weights stay in their dense row-major plane; a SparsePattern says where the active ones
/// are, so optimizer updates never invalidate it. For a batch, inputs are transposed so that each
/// active weight scales a block of samples held in registers; Eigen's GEMM runs at a far higher
/// rate per multiply-add, so sparse pays only well below half density. Measured on the 2-core AMD
/// EPYC (AVX2) this project runs on, 1024 × 1024 float (bench/bench_sparse.cpp; the full table is
/// in docs/performance.md), sparse ÷ dense time of a training pass on one thread: batch 64 at 10%
/// density 0.32, at 20% 0.49, at 30% 0.92; batch 256 at 20% 0.64, at 30% 0.89; batch 16 at 10%
/// 0.73 (but 1.30 for the forward pass on two threads); batch 1 at 2% 0.57, at 5% 1.00: Eigen's
/// matrix-vector product streams a cached matrix faster than a gather over a twentieth of it.
/// These crossovers predate the kernels' speed-ups of 2026-12-05 (blocks of 64 samples, packet
/// transposes, four gradient dot products at a time), which only made the sparse side faster, so
/// the rule errs towards the dense path.

#include <algorithm>
#include <chrono>
#include <cstddef>
#include <cstdint>
#include <type_traits>
#include <vector>

#if defined(__AVX2__)
#include <immintrin.h>
#endif

#include "neuroplast/core/gemm.hpp"
#include "neuroplast/core/sparse_pattern.hpp"
#include "neuroplast/core/threading.hpp"
#include "neuroplast/core/types.hpp"

namespace neuroplast {

/// Whether a product of a weight matrix whose active connections are `density` of all (0..1)
/// with a batch of `batch` samples runs faster on its SparsePattern than as a dense GEMM: below
/// the crossovers measured above, for inference and training passes on one and two threads, so
/// that the sparse path is never the slower one.
inline bool sparse_product_pays(double density, Index batch) {
  if (batch <= 1) return density <= 0.03;
  if (batch < 32) return density <= 0.05;
  if (batch < 128) return density <= 0.22;
  return density <= 0.17;
}

namespace detail {

// Runs body(r0, r1) over `parts` disjoint ranges of [0, n) on the worker pool (or here, when
// the pool is taken or splitting does not pay); `work` is the operation's cost for the pool's
// SplitChooser. Each range's results depend only on its own indices, so the split does not change
// a bit.
template <class Body>
void parallel_ranges(Index n, int parts, double work, const Body& body) {
  parts = static_cast<int>(std::clamp<Index>(parts, 1, std::max<Index>(n, 1)));
  const auto part = [&](int t) {
    const Index r0 = n * t / parts, r1 = n * (t + 1) / parts;
    if (r1 > r0) body(r0, r1);
  };
  WorkerPool::instance().run(parts, part, work);
}

// The cost of a sparse product of `p` over a batch of `batch`: its flops, and for a single sample
// four matrix entries per active connection (its index, its weight and the gathered input are
// three dependent loads), so that a sparse product splits as early as the dense one it replaces.
inline double sparse_work(const SparsePattern& p, Index batch) {
  const auto active = static_cast<double>(p.nonzeros());
  return batch == 1 ? 4.0 * active : 2.0 * active * static_cast<double>(batch);
}

// Threads for a sparse product of `p` over a batch of `batch`: the GEMM rule on its flops, and
// for a single sample the matrix-vector rule, both on `sparse_work`.
inline int sparse_threads(const SparsePattern& p, Index batch) {
  return threads_for(sparse_work(p, batch),
                     batch == 1 ? kMinGemvEntriesPerThread : kMinFlopsPerThread);
}

// Σ weight(k) x[cols[k]] over k in [k, count) of one compressed row, in four independent sums (a
// single chain of dependent additions runs at the adder's latency, not its throughput).
// `weight(k)` is the k-th active weight: gathered from the dense plane or read from a packed copy.
template <Scalar T, class Weight>
T scalar_row_dot(const std::int32_t* cols, std::int32_t k, std::int32_t count, Weight weight,
                 const T* x) {
  T a0 = 0, a1 = 0, a2 = 0, a3 = 0;
  for (; k + 4 <= count; k += 4) {
    a0 += weight(k) * x[cols[k]];
    a1 += weight(k + 1) * x[cols[k + 1]];
    a2 += weight(k + 2) * x[cols[k + 2]];
    a3 += weight(k + 3) * x[cols[k + 3]];
  }
  for (; k < count; ++k) a0 += weight(k) * x[cols[k]];
  return (a0 + a1) + (a2 + a3);
}

// Σ w[c] x[c] over the columns c of one compressed row (w: the row of the dense plane).
template <Scalar T>
T sparse_row_dot(const std::int32_t* cols, std::int32_t count, const T* w, const T* x) {
  return scalar_row_dot(
      cols, 0, count, [&](std::int32_t k) { return w[cols[k]]; }, x);
}

// How `packed_row_dot` fetches the inputs of a vector of connections under AVX2: `lanes` loads
// them one by one into the vector's lanes, `gather` with the gather instruction. Both fill the
// same lanes with the same values, so the products are the same bit for bit; which is faster
// depends on the processor (`gather_fetch_pays`).
enum class InputFetch { lanes, gather };

#if defined(__AVX2__)
// The inputs x[c[0]], …, x[c[lanes − 1]] in one vector: eight floats or four doubles.
inline __m256 inputs_at(const float* x, const std::int32_t* c) {
  return _mm256_set_ps(x[c[7]], x[c[6]], x[c[5]], x[c[4]], x[c[3]], x[c[2]], x[c[1]], x[c[0]]);
}
inline __m256d inputs_at(const double* x, const std::int32_t* c) {
  return _mm256_set_pd(x[c[3]], x[c[2]], x[c[1]], x[c[0]]);
}
// (The masked form with every lane set is the same instruction; GCC 12 warns, wrongly, that the
// unmasked double one reads an uninitialised register.)
inline __m256 inputs_gathered(const float* x, const std::int32_t* c) {
  return _mm256_mask_i32gather_ps(_mm256_setzero_ps(), x,
                                  _mm256_loadu_si256(reinterpret_cast<const __m256i*>(c)),
                                  _mm256_castsi256_ps(_mm256_set1_epi32(-1)), 4);
}
inline __m256d inputs_gathered(const double* x, const std::int32_t* c) {
  return _mm256_mask_i32gather_pd(_mm256_setzero_pd(), x,
                                  _mm_loadu_si128(reinterpret_cast<const __m128i*>(c)),
                                  _mm256_castsi256_pd(_mm256_set1_epi64x(-1)), 8);
}
// values[i] · x[c[i]] in lane i < n (0 < n < 8, or 4 for doubles), 0 in the others; nothing at
// or past c + n or values + n is read (the masked loads and gather skip those lanes).
inline __m256 partial_term(const std::int32_t* c, const float* values, std::int32_t n,
                           const float* x) {
  const __m256i m =
      _mm256_cmpgt_epi32(_mm256_set1_epi32(n), _mm256_setr_epi32(0, 1, 2, 3, 4, 5, 6, 7));
  const __m256 inputs = _mm256_mask_i32gather_ps(
      _mm256_setzero_ps(), x, _mm256_maskload_epi32(c, m), _mm256_castsi256_ps(m), 4);
  return _mm256_mul_ps(_mm256_maskload_ps(values, m), inputs);
}
inline __m256d partial_term(const std::int32_t* c, const double* values, std::int32_t n,
                            const double* x) {
  const __m128i m = _mm_cmpgt_epi32(_mm_set1_epi32(n), _mm_setr_epi32(0, 1, 2, 3));
  const __m256i wide = _mm256_cvtepi32_epi64(m);  // each lane's all-ones or zero, 64 bits wide
  const __m256d inputs = _mm256_mask_i32gather_pd(_mm256_setzero_pd(), x, _mm_maskload_epi32(c, m),
                                                  _mm256_castsi256_pd(wide), 8);
  return _mm256_mul_pd(_mm256_maskload_pd(values, wide), inputs);
}
#endif

// GCC warns that a SIMD type's alignment attribute is dropped when it is a template argument;
// Eigen's own headers silence this for the same uses.
#if defined(__GNUC__) && !defined(__clang__)
#pragma GCC diagnostic push
#pragma GCC diagnostic ignored "-Wignored-attributes"
#endif

// Σ values[k] x[cols[k]] over one compressed row whose weights are packed (`values` holds the
// row's active weights in the order of `cols`), as the packed copy of an InferenceSnapshot stores
// them. Reading a tenth of the weights contiguously instead of gathering them from the dense
// plane, whose cache lines a tenth of the entries still mostly covers, is what lets a single
// sample gain from pruning. Under AVX2 the inputs are fetched into vectors of eight floats or
// four doubles (`fetch`: lane by lane or with the gather instruction, the same bits), which feed
// two independent sums; the last count mod 8 (or 4) connections go into one more vector whose
// other lanes stay 0, read with a masked gather that touches neither the inputs nor the weights
// past the row (one instruction instead of a scalar tail: 13% of a 10%-dense 784-1024-1024-10
// single-sample pass, where rows hold about 100 connections). Without AVX2, four scalar sums, as
// `sparse_row_dot`.
template <Scalar T, InputFetch fetch = InputFetch::lanes>
T packed_row_dot(const std::int32_t* cols, const T* values, std::int32_t count, const T* x) {
#if defined(__AVX2__)
  if constexpr (std::is_same_v<T, float> || std::is_same_v<T, double>) {
    namespace ei = Eigen::internal;
    using Packet = decltype(inputs_at(x, cols));
    constexpr std::int32_t lanes = sizeof(Packet) / sizeof(T);
    const auto term = [&](std::int32_t at) {
      if constexpr (fetch == InputFetch::gather) {
        return ei::pmul(ei::ploadu<Packet>(values + at), inputs_gathered(x, cols + at));
      } else {
        return ei::pmul(ei::ploadu<Packet>(values + at), inputs_at(x, cols + at));
      }
    };
    std::int32_t k = 0;
    Packet a0 = ei::pset1<Packet>(T(0)), a1 = a0;
    for (; k + 2 * lanes <= count; k += 2 * lanes) {
      a0 = ei::padd(a0, term(k));
      a1 = ei::padd(a1, term(k + lanes));
    }
    if (k + lanes <= count) {
      a0 = ei::padd(a0, term(k));
      k += lanes;
    }
    if (k < count) a1 = ei::padd(a1, partial_term(cols + k, values + k, count - k, x));
    return ei::predux(ei::padd(a0, a1));
  }
#endif
  return scalar_row_dot(
      cols, 0, count, [&](std::int32_t i) { return values[i]; }, x);
}
#if defined(__GNUC__) && !defined(__clang__)
#pragma GCC diagnostic pop
#endif

// Whether `packed_row_dot` fetches its inputs faster with the gather instruction than lane by
// lane on this processor: measured once per process and scalar type, on a synthetic layer of 128
// rows with 100 active connections each among 1 024 inputs (a tenth, the density of the pruned
// networks docs/performance.md measures), the best of five alternating runs of each, and the gather
// taken only when it is at least a tenth faster. It differs by vendor and generation: the lanes won
// by 1.45–1.8 × on this project's AMD EPYC (a gather there is many micro-operations, and Intel
// parts with the gather-data-sampling mitigation are slow at it too), the gather by 1.2 × on an
// Intel Xeon of 2026 (family 6, model 207). Both give the same bits, so a wrong pick on a busy
// machine costs time, never a result. The measurement takes about 0.2 ms.
template <Scalar T>
bool gather_fetch_pays() {
#if defined(__AVX2__)
  if constexpr (std::is_same_v<T, float> || std::is_same_v<T, double>) {
    static const bool pays = [] {
      constexpr std::int32_t inputs = 1024, rows = 128, per_row = 100;
      std::vector<T> x(static_cast<std::size_t>(inputs));
      for (std::size_t i = 0; i < x.size(); ++i) x[i] = static_cast<T>(i % 7) / 4;
      std::vector<std::int32_t> cols(static_cast<std::size_t>(rows * per_row));
      std::vector<T> values(cols.size());
      std::uint32_t state = 12345;
      for (std::size_t k = 0; k < cols.size(); ++k) {
        state = state * 1664525u + 1013904223u;  // one column in each run of ten, ascending
        cols[k] = static_cast<std::int32_t>(k % per_row) * 10 +
                  static_cast<std::int32_t>((state >> 24) % 10);
        values[k] = T(1) / static_cast<T>(k % per_row + 1);
      }
      T sink = 0;
      const auto time = [&](auto dot) {
        const auto start = std::chrono::steady_clock::now();
        for (int pass = 0; pass < 4; ++pass) {
          for (std::size_t at = 0; at < cols.size(); at += per_row)
            sink += dot(cols.data() + at, values.data() + at, per_row, x.data());
        }
        return std::chrono::steady_clock::now() - start;
      };
      auto lanes = std::chrono::steady_clock::duration::max(), gather = lanes;
      for (int round = 0; round < 5; ++round) {
        lanes = std::min(
            lanes, time([](auto... a) { return packed_row_dot<T, InputFetch::lanes>(a...); }));
        gather = std::min(
            gather, time([](auto... a) { return packed_row_dot<T, InputFetch::gather>(a...); }));
      }
      volatile T keep = sink;  // the sums must be computed for the times to mean anything
      static_cast<void>(keep);
      return gather * 10 <= lanes * 9;
    }();
    return pays;
  }
#endif
  return false;
}

// Samples of a batch handled together by the sparse kernels: 256 bytes, so a block of the
// accumulator stays in eight AVX registers while a row's connections are summed into it. Eight
// independent multiply-add chains hide the adder's latency, which four did not: with 128 bytes,
// a 10%-dense 1024 × 1024 forward pass at batch 64 took 1.5 × as long on one thread.
template <Scalar T>
inline constexpr Index kSparseBlock = static_cast<Index>(256 / sizeof(T));

// GCC warns that a SIMD type's alignment attribute is dropped when it is a template argument;
// Eigen's own headers silence this for the same uses.
#if defined(__GNUC__) && !defined(__clang__)
#pragma GCC diagnostic push
#pragma GCC diagnostic ignored "-Wignored-attributes"
#endif

// dst(j0 .. j0 + P, i0 + m) = op(src(i0 + m, j0 .. j0 + P)) for m < P, a P × P block moved with
// P packet loads, an in-register transpose and P packet stores (P: Eigen's packet size for T;
// 8 floats under AVX). `op(packet, j0)` is the entry-wise operation of `transpose_into` on a packet
// of dst's rows j0 .. j0 + P, with the same arithmetic as on a single entry, so that the result is
// the same bit for bit as the entry-by-entry loop's (tests/test_pruning.cpp checks it): pruned
// networks must train to the same bits whichever kernel moved an entry.
template <Scalar T, class PacketOp>
void transpose_packet_block(const T* src, Index lds, T* dst, Index ldd, Index i0, Index j0,
                            const PacketOp& op) {
  using Packet = typename Eigen::internal::packet_traits<T>::type;
  constexpr int P = Eigen::internal::packet_traits<T>::size;
  Eigen::internal::PacketBlock<Packet, P> block;
  for (int k = 0; k < P; ++k)
    block.packet[k] = Eigen::internal::ploadu<Packet>(src + i0 + (j0 + k) * lds);
  Eigen::internal::ptranspose(block);
  for (int m = 0; m < P; ++m)
    Eigen::internal::pstoreu(dst + j0 + (i0 + m) * ldd, op(block.packet[m], j0));
}

// dst = alpha · srcᵀ (+ bias, one entry per row of dst) for a column-major `rows × cols` src
// (outer stride lds) and a column-major `cols × rows` dst (outer stride ldd), in square tiles so
// that both sides are read and written a cache line at a time; split over threads by src's
// columns (each thread writes its own rows of dst) under the element-wise rule. Within a tile,
// blocks of P × P entries (P: the packet size) go through registers (`transpose_packet_block`;
// entry by entry, the transposes took 11% of a 10%-dense 784-1024-1024-10 training step), the
// tile's ragged edges entry by entry.
template <Scalar T>
void transpose_into(const T* src, Index rows, Index cols, Index lds, T* dst, Index ldd,
                    T alpha = T(1), const T* bias = nullptr) {
  using Packet = typename Eigen::internal::packet_traits<T>::type;
  constexpr Index P = Eigen::internal::packet_traits<T>::size;
  constexpr Index tile = std::max<Index>(16, P);
  const double entries = static_cast<double>(rows) * static_cast<double>(cols);
  const int threads = threads_for(entries, kMinEntriesPerThread);
  // The entry-wise operation is chosen once, outside the loops, so they stay branch-free.
  const auto run = [&](auto op, auto packet_op) {
    parallel_ranges(cols, threads, entries, [&](Index c0, Index c1) {
      for (Index j0 = c0; j0 < c1; j0 += tile) {
        const Index j1 = std::min(c1, j0 + tile);
        for (Index i0 = 0; i0 < rows; i0 += tile) {
          const Index i1 = std::min(rows, i0 + tile);
          // Full packet blocks first; what is left of the tile, a band of fewer than P columns
          // of dst and one of fewer than P rows, entry by entry.
          const Index jp = P > 1 ? j0 + (j1 - j0) / P * P : j0;
          const Index ip = P > 1 ? i0 + (i1 - i0) / P * P : i0;
          if constexpr (P > 1) {
            for (Index i = i0; i < ip; i += P)
              for (Index j = j0; j < jp; j += P)
                transpose_packet_block(src, lds, dst, ldd, i, j, packet_op);
          }
          const auto entries_in = [&](Index ia, Index ib, Index ja, Index jb) {
            // Along the side with the smaller stride innermost: the other side's rows, a power
            // of two apart (1024 floats), would otherwise share a cache set and evict each other
            // (5-10× slower).
            if (ldd > lds) {
              for (Index i = ia; i < ib; ++i)
                for (Index j = ja; j < jb; ++j) dst[j + i * ldd] = op(src[i + j * lds], j);
            } else {
              for (Index j = ja; j < jb; ++j)
                for (Index i = ia; i < ib; ++i) dst[j + i * ldd] = op(src[i + j * lds], j);
            }
          };
          entries_in(i0, ip, jp, j1);
          entries_in(ip, i1, j0, j1);
        }
      }
    });
  };
  namespace ei = Eigen::internal;
  const Packet a = ei::pset1<Packet>(alpha);
  if (bias != nullptr) {
    run([&](T x, Index j) { return alpha * x + bias[j]; },
        [&](const Packet& x, Index j) {
          return ei::padd(ei::pmul(a, x), ei::ploadu<Packet>(bias + j));
        });
  } else if (alpha != T(1)) {
    run([&](T x, Index) { return alpha * x; },
        [&](const Packet& x, Index) { return ei::pmul(a, x); });
  } else {
    run([](T x, Index) { return x; }, [](const Packet& x, Index) { return x; });
  }
}

// g[c] = alpha · d · in_t(:, c) for the `count` columns c of one compressed row, d and each
// in_t column `n` long. Four columns at a time share the loads of d and keep independent sums,
// each summed in the order of Eigen's dot product of dynamic vectors (two packet sums over
// alternate packets from index 0, added, then a last odd packet, then Eigen's horizontal sum), so
// the gradient is the same bit for bit as `d.dot(column)` gives, which is what the remaining
// columns and batches that are not a multiple of two packets use. One dot at a time spent most of
// its time in the horizontal sum's dependent shuffles and in the loop's bookkeeping.
template <Scalar T>
void sparse_gradient_row(const std::int32_t* cols, std::int32_t count, const T* d, const T* in_t,
                         Index ld_in, Index n, T alpha, T* g) {
  namespace ei = Eigen::internal;
  using Packet = typename ei::packet_traits<T>::type;
  constexpr Index P = ei::packet_traits<T>::size;
  using Vec = Eigen::Map<const Eigen::Matrix<T, Eigen::Dynamic, 1>>;
  std::int32_t k = 0;
  if constexpr (P > 1) {
    constexpr int G = 4;
    if (n % P == 0 && n >= 2 * P) {
      for (; k + G <= count; k += G) {
        const T* x[G];
        Packet r0[G], r1[G];
        Packet a0 = ei::ploadu<Packet>(d), a1 = ei::ploadu<Packet>(d + P);
        for (int j = 0; j < G; ++j) {
          x[j] = in_t + static_cast<Index>(cols[k + j]) * ld_in;
          r0[j] = ei::pmul(a0, ei::ploadu<Packet>(x[j]));
          r1[j] = ei::pmul(a1, ei::ploadu<Packet>(x[j] + P));
        }
        Index i = 2 * P;
        for (; i + 2 * P <= n; i += 2 * P) {
          a0 = ei::ploadu<Packet>(d + i);
          a1 = ei::ploadu<Packet>(d + i + P);
          for (int j = 0; j < G; ++j) {
            r0[j] = ei::padd(r0[j], ei::pmul(a0, ei::ploadu<Packet>(x[j] + i)));
            r1[j] = ei::padd(r1[j], ei::pmul(a1, ei::ploadu<Packet>(x[j] + i + P)));
          }
        }
        for (int j = 0; j < G; ++j) r0[j] = ei::padd(r0[j], r1[j]);
        if (i < n) {
          a0 = ei::ploadu<Packet>(d + i);
          for (int j = 0; j < G; ++j)
            r0[j] = ei::padd(r0[j], ei::pmul(a0, ei::ploadu<Packet>(x[j] + i)));
        }
        for (int j = 0; j < G; ++j) g[cols[k + j]] = alpha * ei::predux(r0[j]);
      }
    }
  }
  for (; k < count; ++k)
    g[cols[k]] = alpha * Vec(d, n).dot(Vec(in_t + static_cast<Index>(cols[k]) * ld_in, n));
}
#if defined(__GNUC__) && !defined(__clang__)
#pragma GCC diagnostic pop
#endif

// acc[0, n) += w · x[0, n) for n = kSparseBlock<T> (a register-resident block) or fewer.
template <Scalar T, Index N>
struct BatchBlock {
  using Array = Eigen::Array<T, N == 0 ? Eigen::Dynamic : N, 1>;
  using Map = Eigen::Map<const Array>;
};

// For every row r in [r0, r1): out_t(b0 .. b0 + n, r) = Σ over r's active columns c of
// w(r, c) · in_t(b0 .. b0 + n, c), with n = N (compile-time) or `n` when N = 0 (a batch's tail).
// `Packed`: w holds the active weights in the pattern's order (w[k] for row_cols[k]), not the
// dense plane.
template <Index N, bool Packed = false, Scalar T>
void sparse_rows_block(const SparsePattern& p, const T* w, Index ldw, const T* in_t, Index ld_in,
                       T* out_t, Index ld_out, Index b0, Index n, Index r0, Index r1) {
  using Array = typename BatchBlock<T, N>::Array;
  using Map = typename BatchBlock<T, N>::Map;
  const auto* rs = p.row_start.data();
  const auto* cols = p.row_cols.data();
  for (Index r = r0; r < r1; ++r) {
    Array acc = Array::Zero(N == 0 ? n : N);
    const T* wr = w + r * ldw;
    for (auto k = rs[r]; k < rs[r + 1]; ++k) {
      const Index c = cols[k];
      acc += (Packed ? w[k] : wr[c]) * Map(in_t + b0 + c * ld_in, N == 0 ? n : N);
    }
    Eigen::Map<Array>(out_t + b0 + r * ld_out, N == 0 ? n : N) = acc;
  }
}

// For every row r in [r0, r1): din_t(b0 .., c) += w(r, c) · dz_t(b0 .., r) over r's active columns
// c in [c0, c1) (a thread's share of the input neurons: each column is summed by one thread, over
// rows in ascending order, as with one thread).
template <Index N, Scalar T>
void sparse_scatter_block(const SparsePattern& p, const T* w, Index ldw, const T* dz_t, Index ld_dz,
                          T* din_t, Index ld_din, Index b0, Index n, Index c0, Index c1) {
  using Array = typename BatchBlock<T, N>::Array;
  using Map = typename BatchBlock<T, N>::Map;
  const auto* rs = p.row_start.data();
  const auto* cols = p.row_cols.data();
  const bool all = c0 == 0 && c1 == p.cols;
  for (Index r = 0; r < p.rows; ++r) {
    const std::int32_t* first = cols + rs[r];
    const std::int32_t* last = cols + rs[r + 1];
    if (!all) {
      first = std::lower_bound(first, last, static_cast<std::int32_t>(c0));
      last = std::lower_bound(first, last, static_cast<std::int32_t>(c1));
    }
    if (first == last) continue;
    const Array d = Map(dz_t + b0 + r * ld_dz, N == 0 ? n : N);
    const T* wr = w + r * ldw;
    for (const std::int32_t* k = first; k != last; ++k) {
      Eigen::Map<Array> out(din_t + b0 + *k * ld_din, N == 0 ? n : N);
      out += wr[*k] * d;
    }
  }
}

// Runs kernel<N>(…, b0, n, …) over the batch in blocks of kSparseBlock samples, then at most one
// block each of a half and a quarter of that, the tail with the dynamic-size kernel (several
// times slower per sample: batch 16 would otherwise run on it entirely).
template <Scalar T, class Kernel>
void over_batch_blocks(Index batch, const Kernel& kernel) {
  constexpr Index block = kSparseBlock<T>;
  Index b0 = 0;
  for (; b0 + block <= batch; b0 += block)
    kernel(std::integral_constant<Index, block>{}, b0, block);
  const auto smaller = [&](auto size) {
    if (b0 + size() > batch) return;
    kernel(size, b0, size());
    b0 += size();
  };
  smaller(std::integral_constant<Index, block / 2>{});
  smaller(std::integral_constant<Index, block / 4>{});
  if (b0 < batch) kernel(std::integral_constant<Index, 0>{}, b0, batch - b0);
}

/// out = bias + alpha · W in, over the active connections of the row-major `W` (`p.rows ×
/// p.cols`, outer stride `ldw`) only. `in`: `p.cols × batch`; `out`: `p.rows × batch`, not
/// aliasing `in`. For a batch, the input is transposed once so that each active weight scales a
/// contiguous block of samples held in registers. With `packed`, `w` holds only the active
/// weights, in the pattern's order (`p.nonzeros()` of them; `ldw` is not used).
template <Scalar T>
void sparse_forward_product(const SparsePattern& p, const T* w, Index ldw, const T* bias,
                            const MatrixRef<T>& in, MatrixView<T> out, T alpha,
                            GemmWorkspace<T>& ws, bool packed = false) {
  const Index batch = in.cols();
  const int threads = sparse_threads(p, batch);
  const double work = sparse_work(p, batch);
  const auto* rs = p.row_start.data();
  const auto* cols = p.row_cols.data();
  if (batch == 1) {
    const T* x = in.data();
    T* y = out.data();
    const bool gather = packed && gather_fetch_pays<T>();
    parallel_ranges(p.rows, threads, work, [&](Index r0, Index r1) {
      for (Index r = r0; r < r1; ++r) {
        const auto count = rs[r + 1] - rs[r];
        const T* v = w + rs[r];
        y[r] = bias[r] +
               alpha * (!packed  ? sparse_row_dot(cols + rs[r], count, w + r * ldw, x)
                        : gather ? packed_row_dot<T, InputFetch::gather>(cols + rs[r], v, count, x)
                                 : packed_row_dot<T, InputFetch::lanes>(cols + rs[r], v, count, x));
      }
    });
    return;
  }
  auto in_t = ws.sparse_buffer(0, batch, p.cols);
  auto out_t = ws.sparse_buffer(1, batch, p.rows);
  transpose_into(in.data(), p.cols, batch, in.outerStride(), in_t.data(), batch);
  parallel_ranges(p.rows, threads, work, [&](Index r0, Index r1) {
    over_batch_blocks<T>(batch, [&](auto size, Index b0, Index n) {
      constexpr Index N = decltype(size)::value;
      if (packed) {
        sparse_rows_block<N, true>(p, w, ldw, in_t.data(), batch, out_t.data(), batch, b0, n, r0,
                                   r1);
      } else {
        sparse_rows_block<N>(p, w, ldw, in_t.data(), batch, out_t.data(), batch, b0, n, r0, r1);
      }
    });
  });
  transpose_into(out_t.data(), batch, p.rows, batch, out.data(), out.outerStride(), alpha, bias);
}

/// The products of a backward pass over the active connections only. `dz`: dLoss/dz of the
/// layer, `p.rows × batch`; `in`: its input, `p.cols × batch`. Writes alpha · dz inᵀ into the
/// active entries of the row-major `grad_w` (stride `ldg`) and leaves its pruned entries as
/// they are (zero, by the Param invariant); when `delta_in` is given, writes dLoss/d`in` =
/// alpha · Wᵀ dz into it (`p.cols × batch`).
template <Scalar T>
void sparse_backward_product(const SparsePattern& p, const T* w, Index ldw, const MatrixRef<T>& in,
                             const MatrixRef<T>& dz, T* grad_w, Index ldg, MatrixView<T>* delta_in,
                             T alpha, GemmWorkspace<T>& ws) {
  const Index batch = in.cols();
  const int threads = sparse_threads(p, batch);
  const double work = sparse_work(p, batch);
  auto in_t = ws.sparse_buffer(0, batch, p.cols);
  auto dz_t = ws.sparse_buffer(1, batch, p.rows);
  transpose_into(in.data(), p.cols, batch, in.outerStride(), in_t.data(), batch);
  transpose_into(dz.data(), p.rows, batch, dz.outerStride(), dz_t.data(), batch);
  const auto* rs = p.row_start.data();
  const auto* cols = p.row_cols.data();
  parallel_ranges(p.rows, threads, work, [&](Index r0, Index r1) {
    for (Index r = r0; r < r1; ++r) {
      sparse_gradient_row(cols + rs[r], rs[r + 1] - rs[r], dz_t.data() + r * batch, in_t.data(),
                          batch, batch, alpha, grad_w + r * ldg);
    }
  });
  if (delta_in == nullptr) return;
  // The input is no longer needed: its transpose's buffer takes dLoss/d(in)ᵀ, scattered row by
  // row of W (read contiguously), each thread owning a range of input neurons.
  auto din_t = in_t;
  din_t.setZero();
  parallel_ranges(p.cols, threads, work, [&](Index c0, Index c1) {
    over_batch_blocks<T>(batch, [&](auto size, Index b0, Index n) {
      sparse_scatter_block<decltype(size)::value>(p, w, ldw, dz_t.data(), batch, din_t.data(),
                                                  batch, b0, n, c0, c1);
    });
  });
  transpose_into(din_t.data(), batch, p.cols, batch, delta_in->data(), delta_in->outerStride(),
                 alpha);
}

}  // namespace detail

}  // namespace neuroplast
