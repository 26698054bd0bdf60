#pragma once
/// \file
/// A matrix with spare capacity in both dimensions, like std::vector for matrices.

#include <algorithm>
#include <cstdlib>
#include <cstring>
#include <new>
#include <utility>

#if defined(__linux__)
#include <sys/mman.h>
#endif

#include "neuroplast/core/axis_edit.hpp"
#include "neuroplast/core/error.hpp"
#include "neuroplast/core/types.hpp"

namespace neuroplast {

namespace detail {

/// Cache-line aligned storage that is *not* initialised: a fresh capacity buffer is written only
/// where data goes (the active block on reallocation, new rows when they grow), so reserving or
/// reallocating does not pay for zeroing memory nobody reads.
template <class T>
class AlignedBuffer {
 public:
  AlignedBuffer() = default;
  explicit AlignedBuffer(std::size_t n) : size_(n) {
    if (n == 0) return;
    // Buffers of 8 MiB and more sit on 2 MiB boundaries and ask for transparent huge pages:
    // growing a large layer writes fresh memory, and one fault per 2 MiB instead of per 4 KiB
    // halved the amortised cost of growing 64 → 2048 neurons (bench/bench_growth.cpp). Smaller
    // buffers stay on ordinary pages, where compaction stalls cannot cost more than they save.
    constexpr std::size_t huge = std::size_t{2} << 20;
    const bool large = n * sizeof(T) >= 4 * huge;
    const std::size_t align = large ? huge : 64;
    const std::size_t bytes = (n * sizeof(T) + align - 1) / align * align;
    data_ = static_cast<T*>(std::aligned_alloc(align, bytes));
    if (data_ == nullptr) throw std::bad_alloc();
#if defined(__linux__) && defined(MADV_HUGEPAGE)
    if (large) ::madvise(data_, bytes, MADV_HUGEPAGE);  // advisory: failure changes nothing
#endif
  }
  AlignedBuffer(AlignedBuffer&& o) noexcept
      : data_(std::exchange(o.data_, nullptr)), size_(std::exchange(o.size_, 0)) {}
  AlignedBuffer& operator=(AlignedBuffer&& o) noexcept {
    swap(o);
    return *this;
  }
  AlignedBuffer(const AlignedBuffer&) = delete;
  AlignedBuffer& operator=(const AlignedBuffer&) = delete;
  ~AlignedBuffer() { std::free(data_); }

  void swap(AlignedBuffer& o) noexcept {
    std::swap(data_, o.data_);
    std::swap(size_, o.size_);
  }
  T* data() noexcept { return data_; }
  const T* data() const noexcept { return data_; }
  std::size_t size() const noexcept { return size_; }

 private:
  T* data_ = nullptr;
  std::size_t size_ = 0;
};

}  // namespace detail

/// A `rows × cols` matrix living in the leading corner of a larger buffer. Compute runs on
/// `view()`, a strided Eigen map of the active block.
///
/// `Order` decides which dimension is contiguous. Weight planes are row-major ("output-neuron
/// major"): each output neuron's fan-in is one contiguous run, so growing the output axis writes
/// fresh contiguous memory. Activations are column-major: each sample is contiguous.
///
/// Growing within capacity writes only the new rows or columns and never moves the buffer, so
/// `data()` stays valid. Growing past capacity reallocates geometrically (×2, as std::vector; the
/// contiguous dimension is rounded up to a cache line of scalars) and copies the active block once.
/// Shrinking never reallocates. Spare capacity is uninitialised memory that is never read.
template <Scalar T, int Order = Eigen::ColMajor>
class GrowableMatrix {
 public:
  static constexpr bool row_major = Order == Eigen::RowMajor;
  using PlainMatrix = Eigen::Matrix<T, Eigen::Dynamic, Eigen::Dynamic, Order>;
  using View = Eigen::Map<PlainMatrix, Eigen::Unaligned, Eigen::OuterStride<>>;
  using ConstView = Eigen::Map<const PlainMatrix, Eigen::Unaligned, Eigen::OuterStride<>>;

  GrowableMatrix() = default;

  /// A zero-filled `rows × cols` matrix with exactly that capacity (contiguous dimension rounded).
  GrowableMatrix(Index rows, Index cols) { reshape_zero(rows, cols); }

  /// Copies the active block into a buffer of the same capacity.
  GrowableMatrix(const GrowableMatrix& o)
      : buffer_(o.buffer_.size()),
        rows_(o.rows_),
        cols_(o.cols_),
        inner_cap_(o.inner_cap_),
        outer_cap_(o.outer_cap_) {
    copy_block(o.buffer_.data(), inner_cap_, buffer_.data(), inner_cap_);
  }
  GrowableMatrix& operator=(const GrowableMatrix& o) {
    if (this != &o) {
      GrowableMatrix copy(o);
      *this = std::move(copy);
    }
    return *this;
  }
  GrowableMatrix(GrowableMatrix&&) noexcept = default;
  GrowableMatrix& operator=(GrowableMatrix&&) noexcept = default;

  Index rows() const noexcept { return rows_; }
  Index cols() const noexcept { return cols_; }
  Index row_capacity() const noexcept { return row_major ? outer_cap_ : inner_cap_; }
  Index col_capacity() const noexcept { return row_major ? inner_cap_ : outer_cap_; }
  /// Distance between consecutive rows (row-major) or columns (column-major).
  Index outer_stride() const noexcept { return inner_cap_; }
  /// Start of the buffer; stable across edits that stay within capacity.
  T* data() noexcept { return buffer_.data(); }
  const T* data() const noexcept { return buffer_.data(); }

  /// The active block, `rows() × cols()`.
  View view() noexcept {
    return View(buffer_.data(), rows_, cols_, Eigen::OuterStride<>(inner_cap_));
  }
  ConstView view() const noexcept {
    return ConstView(buffer_.data(), rows_, cols_, Eigen::OuterStride<>(inner_cap_));
  }

  /// Ensures room for `rows × cols` without changing the active block; never shrinks.
  void reserve(Index rows, Index cols) {
    if (rows <= row_capacity() && cols <= col_capacity()) return;
    reallocate(std::max(rows, row_capacity()), std::max(cols, col_capacity()), true);
  }

  /// Makes the active block `rows × cols` with unspecified contents (workspaces). Reallocates only
  /// when the request exceeds capacity, and then geometrically, so alternating batch sizes settle.
  void reshape_uninitialized(Index rows, Index cols) {
    if (rows > row_capacity() || cols > col_capacity()) {
      reallocate(rows > row_capacity() ? grown(row_capacity(), rows) : row_capacity(),
                 cols > col_capacity() ? grown(col_capacity(), cols) : col_capacity(), false);
    }
    rows_ = rows;
    cols_ = cols;
  }

  /// Makes the matrix `rows × cols` and all zero, keeping capacity if it suffices.
  void reshape_zero(Index rows, Index cols) {
    reshape_uninitialized(rows, cols);
    view().setZero();
  }

  /// Applies a neuron-axis edit along `dim`. Grown slots are set to `fill`, or left unspecified
  /// when `fill` is null (for planes the caller overwrites anyway); see AxisEdit for costs.
  void apply(const AxisEdit& edit, Dim dim, const T* fill = &kZero) {
    const bool along_rows = dim == Dim::rows;
    eigen_assert(edit.old_size() == (along_rows ? rows_ : cols_));
    switch (edit.kind()) {
      case AxisEdit::Kind::grow: {
        const Index n = edit.new_size();
        if (along_rows) {
          if (n > row_capacity()) reallocate(grown(row_capacity(), n), col_capacity(), true);
          rows_ = n;
          if (fill != nullptr) view().bottomRows(edit.added()).setConstant(*fill);
        } else {
          if (n > col_capacity()) reallocate(row_capacity(), grown(col_capacity(), n), true);
          cols_ = n;
          if (fill != nullptr) view().rightCols(edit.added()).setConstant(*fill);
        }
        break;
      }
      case AxisEdit::Kind::remove: {
        // Moves along the contiguous dimension are applied run by run (every move within one
        // contiguous run, then the next run), so each cache line is touched once, not once per
        // move; moves along the other dimension copy whole contiguous runs.
        const bool along_inner = along_rows != row_major;
        T* base = buffer_.data();
        if (along_inner) {
          for (Index o = 0; o < outer_size(); ++o) {
            T* run = base + o * inner_cap_;
            for (auto [from, to] : edit.moves()) run[to] = run[from];
          }
        } else {
          for (auto [from, to] : edit.moves()) {
            std::memcpy(base + to * inner_cap_, base + from * inner_cap_,
                        static_cast<std::size_t>(inner_size()) * sizeof(T));
          }
        }
        (along_rows ? rows_ : cols_) = edit.new_size();
        break;
      }
      case AxisEdit::Kind::permute: {
        const PlainMatrix old = view();
        auto v = view();
        for (Index i = 0; i < edit.new_size(); ++i) {
          const Index from = edit.order()[static_cast<std::size_t>(i)];
          if (along_rows) {
            v.row(i) = old.row(from);
          } else {
            v.col(i) = old.col(from);
          }
        }
        break;
      }
    }
  }

  /// Bytes held, capacity included.
  std::size_t allocated_bytes() const noexcept { return buffer_.size() * sizeof(T); }

 private:
  static constexpr T kZero = T(0);
  // A cache line of scalars, so every contiguous run starts on a fresh line.
  static constexpr Index kQuantum = 64 / static_cast<Index>(sizeof(T));

  // Vectors (a contiguous dimension of 1, such as a row-major bias) are not padded.
  static Index round_inner(Index inner) {
    return inner <= 1 ? inner : (inner + kQuantum - 1) / kQuantum * kQuantum;
  }
  static Index grown(Index capacity, Index needed) {
    return std::max(needed, capacity + capacity / 2);
  }

  Index inner_size() const noexcept { return row_major ? cols_ : rows_; }
  Index outer_size() const noexcept { return row_major ? rows_ : cols_; }

  void reallocate(Index row_cap, Index col_cap, bool keep) {
    const Index inner_cap = round_inner(row_major ? col_cap : row_cap);
    const Index outer_cap = row_major ? row_cap : col_cap;
    detail::AlignedBuffer<T> fresh(static_cast<std::size_t>(inner_cap * outer_cap));
    if (keep) copy_block(buffer_.data(), inner_cap_, fresh.data(), inner_cap);
    buffer_.swap(fresh);
    inner_cap_ = inner_cap;
    outer_cap_ = outer_cap;
  }

  // Copies the active block between buffers of (possibly) different strides.
  void copy_block(const T* from, Index from_stride, T* to, Index to_stride) const {
    const auto run = static_cast<std::size_t>(inner_size());
    if (run == 0) return;
    for (Index o = 0; o < outer_size(); ++o)
      std::memcpy(to + o * to_stride, from + o * from_stride, run * sizeof(T));
  }

  detail::AlignedBuffer<T> buffer_;
  Index rows_ = 0;
  Index cols_ = 0;
  Index inner_cap_ = 0;  // capacity of the contiguous dimension (the outer stride)
  Index outer_cap_ = 0;
};

/// Row-major ("output-neuron major") storage used for every parameter plane.
template <Scalar T>
using ParamMatrix = GrowableMatrix<T, Eigen::RowMajor>;

}  // namespace neuroplast
