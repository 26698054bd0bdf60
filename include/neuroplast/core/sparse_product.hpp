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

#include <algorithm>
#include <cstdint>
#include <type_traits>
#include <vector>

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

// Σ w[c] x[c] over the columns c of one compressed row, in four independent sums (a single
// chain of dependent additions runs at the adder's latency, not its throughput).
template <Scalar T>
T sparse_row_dot(const std::int32_t* cols, std::int32_t count, const T* w, const T* x) {
  T a0 = 0, a1 = 0, a2 = 0, a3 = 0;
  std::int32_t k = 0;
  for (; k + 4 <= count; k += 4) {
    a0 += w[cols[k]] * x[cols[k]];
    a1 += w[cols[k + 1]] * x[cols[k + 1]];
    a2 += w[cols[k + 2]] * x[cols[k + 2]];
    a3 += w[cols[k + 3]] * x[cols[k + 3]];
  }
  for (; k < count; ++k) a0 += w[cols[k]] * x[cols[k]];
  return (a0 + a1) + (a2 + a3);
}

// Samples of a batch handled together by the sparse kernels: 128 bytes, so a block of the
// accumulator stays in four AVX registers while a row's connections are summed into it.
template <Scalar T>
inline constexpr Index kSparseBlock = static_cast<Index>(128 / sizeof(T));

// dst = alpha · srcᵀ (+ bias, one entry per row of dst) for a column-major `rows × cols` src
// (outer stride lds) and a column-major `cols × rows` dst (outer stride ldd), in square tiles so
// that both sides are read and written a cache line at a time; split over threads by src's
// columns (each thread writes its own rows of dst) under the element-wise rule.
template <Scalar T>
void transpose_into(const T* src, Index rows, Index cols, Index lds, T* dst, Index ldd,
                    T alpha = T(1), const T* bias = nullptr) {
  constexpr Index tile = 16;
  const double entries = static_cast<double>(rows) * static_cast<double>(cols);
  const int threads = threads_for(entries, kMinEntriesPerThread);
  // The entry-wise operation is chosen once, outside the loops, so they stay branch-free.
  const auto run = [&](auto op) {
    parallel_ranges(cols, threads, entries, [&](Index c0, Index c1) {
      for (Index j0 = c0; j0 < c1; j0 += tile) {
        const Index j1 = std::min(c1, j0 + tile);
        for (Index i0 = 0; i0 < rows; i0 += tile) {
          const Index i1 = std::min(rows, i0 + tile);
          // Along the side with the smaller stride innermost: the other side's rows, a power of
          // two apart (1024 floats), would otherwise share a cache set and evict each other
          // (5-10× slower).
          if (ldd > lds) {
            for (Index i = i0; i < i1; ++i)
              for (Index j = j0; j < j1; ++j) dst[j + i * ldd] = op(src[i + j * lds], j);
          } else {
            for (Index j = j0; j < j1; ++j)
              for (Index i = i0; i < i1; ++i) dst[j + i * ldd] = op(src[i + j * lds], j);
          }
        }
      }
    });
  };
  if (bias != nullptr) {
    run([&](T x, Index j) { return alpha * x + bias[j]; });
  } else if (alpha != T(1)) {
    run([&](T x, Index) { return alpha * x; });
  } else {
    run([](T x, Index) { return x; });
  }
}

// acc[0, n) += w · x[0, n) for n = kSparseBlock<T> (a register-resident block) or fewer.
template <Scalar T, Index N>
struct BatchBlock {
  using Array = Eigen::Array<T, N == 0 ? Eigen::Dynamic : N, 1>;
  using Map = Eigen::Map<const Array>;
};

// For every row r in [r0, r1): out_t(b0 .. b0 + n, r) = Σ over r's active columns c of
// w(r, c) · in_t(b0 .. b0 + n, c), with n = N (compile-time) or `n` when N = 0 (a batch's tail).
template <Index N, Scalar T>
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
      acc += wr[c] * Map(in_t + b0 + c * ld_in, N == 0 ? n : N);
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

// Runs kernel<N>(…, b0, n, …) over the batch in blocks of kSparseBlock samples, the tail with the
// dynamic-size kernel.
template <Scalar T, class Kernel>
void over_batch_blocks(Index batch, const Kernel& kernel) {
  constexpr Index block = kSparseBlock<T>;
  Index b0 = 0;
  for (; b0 + block <= batch; b0 += block)
    kernel(std::integral_constant<Index, block>{}, b0, block);
  if (b0 < batch) kernel(std::integral_constant<Index, 0>{}, b0, batch - b0);
}

/// out = bias + alpha · W in, over the active connections of the row-major `W` (`p.rows ×
/// p.cols`, outer stride `ldw`) only. `in`: `p.cols × batch`; `out`: `p.rows × batch`, not
/// aliasing `in`. For a batch, the input is transposed once so that each active weight scales a
/// contiguous block of samples held in registers.
template <Scalar T>
void sparse_forward_product(const SparsePattern& p, const T* w, Index ldw, const T* bias,
                            const MatrixRef<T>& in, MatrixView<T> out, T alpha,
                            GemmWorkspace<T>& ws) {
  const Index batch = in.cols();
  const int threads = sparse_threads(p, batch);
  const double work = sparse_work(p, batch);
  const auto* rs = p.row_start.data();
  const auto* cols = p.row_cols.data();
  if (batch == 1) {
    const T* x = in.data();
    T* y = out.data();
    parallel_ranges(p.rows, threads, work, [&](Index r0, Index r1) {
      for (Index r = r0; r < r1; ++r)
        y[r] = bias[r] + alpha * sparse_row_dot(cols + rs[r], rs[r + 1] - rs[r], w + r * ldw, x);
    });
    return;
  }
  auto in_t = ws.sparse_buffer(0, batch, p.cols);
  auto out_t = ws.sparse_buffer(1, batch, p.rows);
  transpose_into(in.data(), p.cols, batch, in.outerStride(), in_t.data(), batch);
  parallel_ranges(p.rows, threads, work, [&](Index r0, Index r1) {
    over_batch_blocks<T>(batch, [&](auto size, Index b0, Index n) {
      sparse_rows_block<decltype(size)::value>(p, w, ldw, in_t.data(), batch, out_t.data(), batch,
                                               b0, n, r0, r1);
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
      const auto d = dz_t.col(r);
      T* g = grad_w + r * ldg;
      for (auto k = rs[r]; k < rs[r + 1]; ++k) g[cols[k]] = alpha * d.dot(in_t.col(cols[k]));
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
