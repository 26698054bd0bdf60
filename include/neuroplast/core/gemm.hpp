#pragma once
/// \file
/// Matrix products that never allocate: Eigen's GEMM kernel with packing buffers we keep.
///
/// Eigen's expression `C.noalias() += A * B` packs blocks of A and B into scratch buffers that it
/// takes from the stack up to 128 KiB and from the heap beyond, on every call. Training steps of
/// ordinary MLPs (784-128-10 at batch 64 already) cross that line, so they would allocate in every
/// step. GemmWorkspace owns those buffers and hands them to the same kernel, so a step allocates
/// only when a product larger than any before it appears.

#include <vector>

#include "neuroplast/core/types.hpp"

namespace neuroplast {

/// Reusable packing buffers for `gemm`. One per thread; cheap to default-construct.
template <Scalar T>
class GemmWorkspace : public Eigen::internal::level3_blocking<T, T> {
 public:
  GemmWorkspace() = default;
  GemmWorkspace(const GemmWorkspace&) : GemmWorkspace() {}  // buffers are scratch: never shared
  GemmWorkspace& operator=(const GemmWorkspace&) { return *this; }

  /// Chooses Eigen's cache blocking for an `m × n × k` product and makes room for it.
  void prepare(Index m, Index n, Index k) {
    Index kc = k, mc = m, nc = n;
    Eigen::internal::computeProductBlockingSizes<T, T>(kc, mc, nc, Index{1});
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

/// How `gemm` reads an operand: as stored, or transposed.
enum class Op { none, transpose };

/// C += alpha · op(A) · op(B) for column-major operands given by pointer and outer stride.
/// op(A) is `m × k`, op(B) is `k × n`, C is `m × n`. Allocation-free once `ws` has seen a product
/// of this size. A single column (n = 1) goes to Eigen's matrix-vector kernel, which is faster.
template <Op OpA, Op OpB, Scalar T>
void gemm(Index m, Index n, Index k, const T* a, Index lda, const T* b, Index ldb, T* c, Index ldc,
          T alpha, GemmWorkspace<T>& ws) {
  if (m == 0 || n == 0 || k == 0) return;
  using Eigen::ColMajor;
  using Eigen::RowMajor;
  constexpr int a_order = OpA == Op::none ? ColMajor : RowMajor;
  constexpr int b_order = OpB == Op::none ? ColMajor : RowMajor;
  if (n == 1 && OpB == Op::none) {
    using AMap = Eigen::Map<const Eigen::Matrix<T, Eigen::Dynamic, Eigen::Dynamic, a_order>, 0,
                            Eigen::OuterStride<>>;
    Eigen::Map<Vector<T>> cv(c, m);
    const Eigen::Map<const Vector<T>> bv(b, k);
    cv.noalias() += alpha * AMap(a, m, k, Eigen::OuterStride<>(lda)) * bv;
    return;
  }
  ws.prepare(m, n, k);
  Eigen::internal::general_matrix_matrix_product<Index, T, a_order, false, T, b_order, false,
                                                 ColMajor, 1>::run(m, n, k, a, lda, b, ldb, c, 1,
                                                                   ldc, alpha, ws, nullptr);
}

}  // namespace neuroplast
