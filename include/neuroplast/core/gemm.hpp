#pragma once
/// \file
/// Matrix products that never allocate: Eigen's GEMM kernel with packing buffers we keep.
///
/// Eigen's expression `C.noalias() += A * B` packs blocks of A and B into scratch buffers that it
/// takes from the stack up to 128 KiB and from the heap beyond, on every call. Training steps of
/// ordinary MLPs (784-128-10 at batch 64 already) cross that line, so they would allocate in every
/// step. GemmWorkspace owns those buffers and hands them to the same kernel, so a step allocates
/// only when a product larger than any before it appears.

#include <algorithm>
#include <cmath>
#include <limits>
#include <memory>
#include <type_traits>
#include <utility>
#include <vector>

#include "neuroplast/core/threading.hpp"
#include "neuroplast/core/types.hpp"

namespace neuroplast {

namespace detail {

// Eigen's cache blocking and packing buffers for one thread's share of a product.
template <Scalar T>
class GemmBlocking : public Eigen::internal::level3_blocking<T, T> {
 public:
  // Uses the blocking chosen for the whole product, so that every thread's share sums over k in
  // the same blocks as the undivided product: results do not depend on the thread count.
  void prepare(Index kc, Index mc, Index nc) {
    this->m_kc = kc;
    this->m_mc = mc;
    this->m_nc = nc;
    if (static_cast<Index>(a_.size()) < kc * mc) a_.resize(static_cast<std::size_t>(kc * mc));
    if (static_cast<Index>(b_.size()) < kc * nc) b_.resize(static_cast<std::size_t>(kc * nc));
    this->m_blockA = a_.data();
    this->m_blockB = b_.data();
  }

 private:
  std::vector<T, Eigen::aligned_allocator<T>> a_;
  std::vector<T, Eigen::aligned_allocator<T>> b_;
};

}  // namespace detail

/// Reusable packing buffers for `gemm`, one set per thread a product is split over. Use one
/// workspace per calling thread; cheap to default-construct.
template <Scalar T>
class GemmWorkspace {
 public:
  GemmWorkspace() = default;
  /// An empty workspace: the buffers are scratch, never copied.
  GemmWorkspace(const GemmWorkspace&) : GemmWorkspace() {}  // buffers are scratch: never shared
  /// Keeps this workspace's own buffers: nothing is copied.
  GemmWorkspace& operator=(const GemmWorkspace&) { return *this; }

  /// Buffers of thread `t` (0 = the caller), created on first use.
  detail::GemmBlocking<T>& thread(std::size_t t) {
    while (threads_.size() <= t) threads_.push_back(std::make_unique<detail::GemmBlocking<T>>());
    return *threads_[t];
  }

  /// Scratch matrix `which` (0 or 1) of `rows × cols`, column-major, for the transposed operands
  /// of sparse products (core/sparse_product.hpp); grows only when a larger one is asked for.
  Eigen::Map<Matrix<T>, Eigen::Aligned16> sparse_buffer(int which, Index rows, Index cols) {
    auto& b = sparse_[static_cast<std::size_t>(which)];
    if (static_cast<Index>(b.size()) < rows * cols) b.resize(static_cast<std::size_t>(rows * cols));
    return Eigen::Map<Matrix<T>, Eigen::Aligned16>(b.data(), rows, cols);
  }

 private:
  std::vector<std::unique_ptr<detail::GemmBlocking<T>>> threads_;
  std::vector<T, Eigen::aligned_allocator<T>> sparse_[2];
};

/// How `gemm` reads an operand: as stored, or transposed.
enum class Op { none, transpose };

namespace detail {

// Pointer to element (i, j) of op(M) for M stored column-major with outer stride ld.
template <Op O, Scalar T>
const T* op_at(const T* p, Index ld, Index i, Index j) {
  return O == Op::none ? p + i + j * ld : p + j + i * ld;
}

// Split points of [0, n) into `parts` pieces, each a multiple of `granule` except the last.
inline Index split_point(Index n, int parts, int part, Index granule) {
  if (part >= parts) return n;
  const Index units = (n + granule - 1) / granule;
  return std::min(n, units * part / parts * granule);
}

/// Block hooks from two callables `(r0, r1, c0, c1)`: `gemm`'s `hooks` (`block_hooks`).
template <class Before, class After>
struct BlockHooks {
  Before before_block;  ///< called before a block's product
  After after_block;    ///< called after it
  void before(Index r0, Index r1, Index c0, Index c1) const { before_block(r0, r1, c0, c1); }
  void after(Index r0, Index r1, Index c0, Index c1) const { after_block(r0, r1, c0, c1); }
};

/// `BlockHooks` calling `before` and `after` (a function, since Clang before 17 deduces no
/// aggregate's template arguments).
template <class Before, class After>
BlockHooks<Before, After> block_hooks(Before before, After after) {
  return {std::move(before), std::move(after)};
}

/// Rows of C that a split by rows keeps together: Eigen's row panel for floats under AVX (3
/// packets of 8; 2 panels for doubles). Inside a call the kernel takes whole panels first and then
/// the rows left over by narrower paths, whose sums run differently (two accumulators per element
/// instead of one), so a call that starts at a multiple of this computes each of its rows the way
/// the undivided product does.
inline constexpr Index kGemmRowPanel = 24;

/// Where the shares of a product split by rows meet: the cut runs through the row panel starting
/// at `row`, at column `col` (a multiple of 8), or along the panel's top edge when `col` is 0.
struct GemmRowCut {
  Index row = 0;  ///< first row of the panel the cut runs through (m: the end of C)
  Index col = 0;  ///< columns before it belong to the share above the cut
};

/// A share whose nearest whole-panel cut is off by at most this part of a share's work keeps
/// whole panels; further off, the panel holding the ideal cut is split between two shares by its
/// columns. Why: a panel split by columns is packed by both threads (for k = 784, about what 4 rows
/// of the product at batch 64 cost), while a whole-panel cut can be off by up to 12 rows: a
/// 784-128 layer's forward product split 72 / 56 rows took 72 µs on the larger share where 64
/// would do (docs/performance.md).
inline constexpr double kGemmRowCutTolerance = 0.04;

/// Cut `part` of `parts` (0 … parts) through an `m × n` C split by rows into shares of equal work.
inline GemmRowCut gemm_row_cut(Index m, Index n, int parts, int part) {
  if (part <= 0) return {};
  if (part >= parts) return {.row = m};
  const double share = static_cast<double>(m) / parts;
  const double target = share * part;  // in rows of n columns
  const Index nearest =
      std::min(m, static_cast<Index>(std::llround(target / kGemmRowPanel)) * kGemmRowPanel);
  if (std::abs(static_cast<double>(nearest) - target) <= kGemmRowCutTolerance * share)
    return {.row = nearest};
  const Index row = static_cast<Index>(target / kGemmRowPanel) * kGemmRowPanel;
  const double height = static_cast<double>(std::min(kGemmRowPanel, m - row));
  const Index col = static_cast<Index>(std::llround((target - static_cast<double>(row)) / height *
                                                    static_cast<double>(n) / 8.0)) *
                    8;
  if (col <= 0) return {.row = row};
  if (col >= n) return {.row = std::min(m, row + kGemmRowPanel)};
  return {.row = row, .col = col};
}

/// Calls `run(r0, r1, c0, c1)` for the blocks of C (at most three) that share `part` of `parts`
/// of a product split by rows computes: the rest of the panel its upper cut runs through, the
/// whole panels between its cuts, and the start of the panel its lower cut runs through. Every
/// block starts at a row panel and its columns at a multiple of 8, so every element is summed as
/// in the undivided product; together the shares cover C once.
template <class Run>
void for_each_row_block(Index m, Index n, int parts, int part, const Run& run) {
  const GemmRowCut a = gemm_row_cut(m, n, parts, part);
  const GemmRowCut b = gemm_row_cut(m, n, parts, part + 1);
  const auto panel_end = [m](Index row) { return std::min(m, row + kGemmRowPanel); };
  if (a.row == b.row) {
    if (b.col > a.col) run(a.row, panel_end(a.row), a.col, b.col);
    return;
  }
  Index whole = a.row;
  if (a.col > 0) {
    run(a.row, panel_end(a.row), a.col, n);
    whole = panel_end(a.row);
  }
  if (b.row > whole) run(whole, b.row, Index{0}, n);
  if (b.col > 0) run(b.row, panel_end(b.row), Index{0}, b.col);
}

/// The epilogue of a `gemm` that has none.
struct NoEpilogue {
  void operator()(Index /*c0*/, Index /*c1*/) const noexcept {}
};

/// The block hooks of a `gemm` that has none.
struct NoBlockHooks {
  void before(Index /*r0*/, Index /*r1*/, Index /*c0*/, Index /*c1*/) const noexcept {}
  void after(Index /*r0*/, Index /*r1*/, Index /*c0*/, Index /*c1*/) const noexcept {}
};

/// Bytes of C that one call of the kernel writes when `gemm` splits its columns into blocks
/// (`gemm_block_columns`): what a pass over a block just after its product finds in L2.
inline constexpr Index kGemmBlockBytes = Index{512} * 1024;

/// Columns of an `m`-row C per block of about `kGemmBlockBytes`, a multiple of 8 (two of Eigen's
/// register blocks, so a block boundary never changes which kernel path computes an element).
template <Scalar T>
Index gemm_block_columns(Index m) {
  const Index per_column = std::max<Index>(m, 1) * static_cast<Index>(sizeof(T));
  return std::max<Index>(8, kGemmBlockBytes / per_column / 8 * 8);
}

/// L1 data cache, in bytes, that `gemm_depth` sizes the kernel's passes for: the L1 of current
/// x86 cores (Intel since Ice Lake, AMD since Zen 5); on a 32 KiB L1 a pass spills a little into
/// L2.
inline constexpr Index kGemmDepthL1Bytes = Index{48} * 1024;

/// The depth kc of one pass of Eigen's kernel over C for a product of inner dimension `k`: what
/// Eigen chooses on a machine whose L1 data cache holds `kGemmDepthL1Bytes`, whatever this
/// machine's holds (Eigen's rule: a register panel of A and one of B fit in L1, kc a multiple of
/// 8, the passes as even as their count allows). Why: each element of C is summed pass by pass
/// along k, so the passes' boundaries decide its rounding, and Eigen sizes them from the cache it
/// detects: the same program formed other sums for every product with k beyond the detected
/// cache's depth (Fashion-MNIST's 784 inputs: 2 passes of 400 here, 3 of about 264 with a 32 KiB
/// L1). Fixed, every machine with the same instruction set forms the same sums
/// (tests/test_core.cpp sets Eigen's cache sizes to other machines' and compares bits).
template <Scalar T>
constexpr Index gemm_depth(Index k) {
  using Traits = Eigen::internal::gebp_traits<T, T>;
  Index l1 = kGemmDepthL1Bytes;
#ifdef EIGEN_VECTORIZE_AVX512
  l1 *= 4;  // Eigen's own adjustment for its AVX-512 kernels
#endif
  constexpr Index peel = 8;
  constexpr auto panel = static_cast<Index>((Traits::mr + Traits::nr) * sizeof(T));
  constexpr auto tile = static_cast<Index>(Traits::mr * Traits::nr * sizeof(T));
  const Index max_kc = std::max<Index>(((l1 - tile) / panel) & ~(peel - 1), 1);
  if (k <= max_kc) return k;
  const Index rest = k % max_kc;
  return rest == 0 ? max_kc : max_kc - peel * ((max_kc - 1 - rest) / (peel * (k / max_kc + 1)));
}

}  // namespace detail

/// C += alpha · op(A) · op(B) for column-major operands given by pointer and outer stride, or
/// C = alpha · op(A) · op(B) with `overwrite`. op(A) is `m × k`, op(B) is `k × n`, C is `m × n`.
/// Allocation-free once `ws` has seen a product of this size (and thread count). A single column
/// (n = 1) goes to Eigen's matrix-vector kernel, which is faster. Products big enough for the
/// threading rule (core/threading.hpp) are split into column or row blocks of C over the worker
/// pool (which side: see the body); the result is bit-identical to the undivided product, and on
/// any machine with the same instruction set (`detail::gemm_depth`). With `overwrite` each share
/// clears its own block of C just before accumulating into it: the clearing runs on every thread of
/// the product, not before it on the caller's alone (the weight gradient of a 784-1024-1024-10 step
/// is 7.4 MB to clear), and the result is the same as clearing C first.
///
/// `epilogue(c0, c1)`, when given, is called once for every block of whole columns c0 … c1 − 1 of
/// C as soon as they hold the result, on the thread that computed them (blocks of different
/// threads concurrently, so it must only touch those columns); together the blocks cover C once.
/// Such a product is split by columns, and each share runs in blocks of about `kGemmBlockBytes`
/// of C, cleared (with `overwrite`) just before and passed to the epilogue just after their
/// product, while they are still in cache. Why: the weight gradient of a pruned layer is masked
/// after its product; as a separate pass over a 1024 × 1024 gradient that took 7–17% of the
/// product's time (read back from L3), in blocks of 512 KiB 1–5% (`neuroplast_bench_sparse`,
/// `bm_weight_gradient`; docs/performance.md). Without an epilogue a share is one kernel call:
/// Eigen packs the other operand once per call, and blocks alone gained nothing (−3 to +3%).
///
/// `hooks.before(r0, r1, c0, c1)` and `hooks.after(r0, r1, c0, c1)`, when given, are called on
/// the computing thread just before and just after each block (rows r0 … r1 − 1, columns c0 … c1
/// − 1) of C that one kernel call computes (before the clearing, after the epilogue); the blocks
/// cover C once, but how C is cut into them depends on the thread count. They change nothing about
/// the split. Why: a layer's bias, activation and activation derivative are element-wise passes
/// over the rows of a product; run on the thread that computes (or reads) those rows, they neither
/// wait on one thread while the other idles nor fetch the other core's half of C from its cache
/// (784-128-10's training step at batch 64, docs/performance.md).
template <Op OpA, Op OpB, Scalar T, class Epilogue = detail::NoEpilogue,
          class Hooks = detail::NoBlockHooks>
void gemm(Index m, Index n, Index k, const T* a, Index lda, const T* b, Index ldb, T* c, Index ldc,
          T alpha, GemmWorkspace<T>& ws, bool overwrite = false, const Epilogue& epilogue = {},
          const Hooks& hooks = {}) {
  constexpr bool has_epilogue = !std::is_same_v<Epilogue, detail::NoEpilogue>;
  const auto clear = [&](Index r0, Index r1, Index c0, Index c1) {
    if (overwrite)
      for (Index j = c0; j < c1; ++j) std::fill_n(c + r0 + j * ldc, r1 - r0, T(0));
  };
  if (m == 0 || n == 0) return;
  if (k == 0) {
    hooks.before(Index{0}, m, Index{0}, n);
    clear(0, m, 0, n);
    epilogue(Index{0}, n);
    hooks.after(Index{0}, m, Index{0}, n);
    return;
  }
  using Eigen::ColMajor;
  using Eigen::RowMajor;
  constexpr int a_order = OpA == Op::none ? ColMajor : RowMajor;
  constexpr int b_order = OpB == Op::none ? ColMajor : RowMajor;
  const int threads =
      threads_for(2.0 * static_cast<double>(m) * static_cast<double>(n) * static_cast<double>(k),
                  kMinFlopsPerThread);
  if (n == 1 && OpB == Op::none) {
    using AMap = Eigen::Map<const Eigen::Matrix<T, Eigen::Dynamic, Eigen::Dynamic, a_order>, 0,
                            Eigen::OuterStride<>>;
    // Rows of C in blocks of whole cache lines; each row's sum is formed the same either way.
    const int gemv_threads =
        threads_for(static_cast<double>(m) * static_cast<double>(k), kMinGemvEntriesPerThread);
    const int parts = m >= 64 * gemv_threads ? gemv_threads : 1;
    const auto rows = [&](int part) {
      const Index r0 = detail::split_point(m, parts, part, 16);
      const Index r1 = detail::split_point(m, parts, part + 1, 16);
      if (r1 <= r0) return;
      hooks.before(r0, r1, Index{0}, Index{1});
      clear(r0, r1, 0, 1);
      Eigen::Map<Vector<T>> cv(c + r0, r1 - r0);
      const Eigen::Map<const Vector<T>> bv(b, k);
      cv.noalias() +=
          alpha * AMap(detail::op_at<OpA>(a, lda, r0, 0), r1 - r0, k, Eigen::OuterStride<>(lda)) *
          bv;
      if constexpr (!has_epilogue) hooks.after(r0, r1, Index{0}, Index{1});
    };
    detail::WorkerPool::instance().run(parts, rows,
                                       static_cast<double>(m) * static_cast<double>(k));
    if constexpr (has_epilogue) {
      epilogue(Index{0}, Index{1});
      hooks.after(Index{0}, m, Index{0}, Index{1});
    }
    return;
  }
  Index kc = k, mc = m, nc = n;
  Eigen::internal::computeProductBlockingSizes<T, T>(kc, mc, nc, Index{1});
  kc = detail::gemm_depth<T>(k);  // the passes along k, independent of this machine's cache
  using Product = Eigen::internal::general_matrix_matrix_product<Index, T, a_order, false, T,
                                                                 b_order, false, ColMajor, 1>;
  // Each thread packs all of the operand along the side of C it does not split. Packing a
  // transposed (row-major) operand is the slow packing, so a product with one transposed operand
  // splits along that operand's side and each thread packs only its share of it: B's (columns of
  // C) for the weight gradient in·dZᵀ, A's (rows) for the forward product W·in with W stored
  // row-major. Otherwise the larger side of C is split, duplicating the smaller packing. Measured
  // on two threads (Zen 4, best of 3, 20 shapes of the forward, input-gradient and weight-gradient
  // products): the weight gradient of a 784-128 layer at batch 64 took 64 µs split by columns
  // against 80 µs by rows, of 256-256 at batch 32 22 against 42 µs, of 1024-1024 at batch 64 654
  // against 719 µs; the one product it made slower, 784-128's at batch 256, by 2% (262 against
  // 256 µs; docs/performance.md). Split points are multiples of Eigen's register blocks (3
  // packets of rows, 4 columns) so every element goes through the same kernel path as in the
  // undivided product; by rows, a share may also end inside a panel, split by its columns
  // (detail::for_each_row_block).
  const bool by_columns = has_epilogue || (OpA == OpB ? n > m : OpB == Op::transpose);
  // Blocks of columns per kernel call, for an epilogue only (above): a block is whole columns, and
  // its boundary a multiple of 8 columns like a share's, so the bits are the same.
  const Index block =
      has_epilogue ? detail::gemm_block_columns<T>(m) : std::numeric_limits<Index>::max();
  // Share `part` of `parts`; one share of one is the undivided product, which gives the same bits.
  const auto share = [&](int parts, int part) {
    detail::GemmBlocking<T>& blocking = ws.thread(static_cast<std::size_t>(part));
    blocking.prepare(kc, mc, nc);
    const auto run = [&](Index r0, Index r1, Index c0, Index c1) {
      hooks.before(r0, r1, c0, c1);
      clear(r0, r1, c0, c1);
      Product::run(r1 - r0, c1 - c0, k, detail::op_at<OpA>(a, lda, r0, 0), lda,
                   detail::op_at<OpB>(b, ldb, 0, c0), ldb, c + r0 + c0 * ldc, 1, ldc, alpha,
                   blocking, nullptr);
      epilogue(c0, c1);  // only by columns, whole columns: an epilogue forces that split
      hooks.after(r0, r1, c0, c1);
    };
    if (!by_columns) {
      detail::for_each_row_block(m, n, parts, part, run);
      return;
    }
    const Index c0 = detail::split_point(n, parts, part, 8);
    const Index c1 = detail::split_point(n, parts, part + 1, 8);
    for (Index b0 = c0, b1 = c0; b0 < c1; b0 = b1) {
      b1 = b0 + std::min(block, c1 - b0);
      run(0, m, b0, b1);
    }
  };
  const auto whole = [&] { share(1, 0); };
  if (threads < 2) {
    whole();
    return;
  }
  // Every share's buffers before waking workers, even when the pool then runs the whole product
  // on the caller: a step after many run alone must not allocate when the pool splits again.
  for (int t = 0; t < threads; ++t) ws.thread(static_cast<std::size_t>(t)).prepare(kc, mc, nc);
  detail::WorkerPool::instance().run(
      threads, [&](int part) { share(threads, part); },
      2.0 * static_cast<double>(m) * static_cast<double>(n) * static_cast<double>(k), whole);
}

namespace detail {

/// C += op(A) op(B) through `gemm` (C = op(A) op(B) with `overwrite`), where op transposes when
/// `TransA` / `TransB` is set. `c` points at a column-major `m × n` block with outer stride `ldc`;
/// A and B are dense Eigen operands of either storage order with unit inner stride (a row-major
/// matrix is the column-major storage of its transpose, which picks each Op). For callers that
/// hold Eigen matrices rather than pointers; the relevance pass multiplies through it so that its
/// products follow the threading rule and give the same bits on any thread count.
template <bool TransA, bool TransB, class AM, class BM, Scalar T>
void add_product_to(T* c, Index ldc, const AM& a, const BM& b, GemmWorkspace<T>& ws,
                    bool overwrite = false) {
  constexpr Op op_a = TransA != static_cast<bool>(AM::IsRowMajor) ? Op::transpose : Op::none;
  constexpr Op op_b = TransB != static_cast<bool>(BM::IsRowMajor) ? Op::transpose : Op::none;
  const Index m = TransA ? a.cols() : a.rows();
  const Index k = TransA ? a.rows() : a.cols();
  const Index n = TransB ? b.rows() : b.cols();
  gemm<op_a, op_b>(m, n, k, a.data(), a.outerStride(), b.data(), b.outerStride(), c, ldc, T(1), ws,
                   overwrite);
}

}  // namespace detail

}  // namespace neuroplast
