#pragma once
/// \file
/// A column-major matrix with spare capacity in both dimensions, like std::vector for matrices.

#include <algorithm>
#include <cstring>
#include <vector>

#include "neuroplast/core/axis_edit.hpp"
#include "neuroplast/core/error.hpp"
#include "neuroplast/core/types.hpp"

namespace neuroplast {

/// A `rows × cols` matrix living in the top-left corner of a `row_capacity × col_capacity`
/// column-major buffer. Compute runs on `view()`, a strided Eigen map of the active block.
///
/// Growing within capacity writes only the new rows or columns and never moves the buffer, so
/// `data()` stays valid. Growing past capacity reallocates geometrically (×1.5, rows rounded up to
/// a whole cache line of scalars) and copies the active block once. Shrinking never reallocates.
template <Scalar T>
class GrowableMatrix {
 public:
  GrowableMatrix() = default;

  /// A zero-filled `rows × cols` matrix with exactly that capacity (rows rounded to a cache line).
  GrowableMatrix(Index rows, Index cols) { reshape_zero(rows, cols); }

  Index rows() const noexcept { return rows_; }
  Index cols() const noexcept { return cols_; }
  Index row_capacity() const noexcept { return row_cap_; }
  Index col_capacity() const noexcept { return col_cap_; }
  /// Start of the buffer; stable across edits that stay within capacity.
  T* data() noexcept { return buffer_.data(); }
  const T* data() const noexcept { return buffer_.data(); }

  /// The active block, `rows() × cols()`, outer stride `row_capacity()`.
  MatrixView<T> view() noexcept {
    return MatrixView<T>(buffer_.data(), rows_, cols_, Eigen::OuterStride<>(row_cap_));
  }
  ConstMatrixView<T> view() const noexcept {
    return ConstMatrixView<T>(buffer_.data(), rows_, cols_, Eigen::OuterStride<>(row_cap_));
  }

  /// Ensures room for `rows × cols` without changing the active block; never shrinks.
  void reserve(Index rows, Index cols) {
    if (rows <= row_cap_ && cols <= col_cap_) return;
    reallocate(std::max(rows, row_cap_), std::max(cols, col_cap_));
  }

  /// Makes the active block `rows × cols` with unspecified contents (workspaces). Reallocates only
  /// when the request exceeds capacity, and then geometrically, so alternating batch sizes settle.
  void reshape_uninitialized(Index rows, Index cols) {
    if (rows > row_cap_ || cols > col_cap_) {
      reallocate_discarding(rows > row_cap_ ? grown(row_cap_, rows) : row_cap_,
                            cols > col_cap_ ? grown(col_cap_, cols) : col_cap_);
    }
    rows_ = rows;
    cols_ = cols;
  }

  /// Makes the matrix `rows × cols` and all zero, keeping capacity if it suffices.
  void reshape_zero(Index rows, Index cols) {
    reshape_uninitialized(rows, cols);
    view().setZero();
  }

  /// Applies a neuron-axis edit along `dim`. Grown slots are zero; see AxisEdit for the cost model.
  void apply(const AxisEdit& edit, Dim dim) {
    const bool along_rows = dim == Dim::rows;
    eigen_assert(edit.old_size() == (along_rows ? rows_ : cols_));
    switch (edit.kind()) {
      case AxisEdit::Kind::grow: {
        const Index n = edit.new_size();
        if (along_rows) {
          if (n > row_cap_) reallocate(grown(row_cap_, n), col_cap_);
          rows_ = n;
          view().bottomRows(edit.added()).setZero();
        } else {
          if (n > col_cap_) reallocate(row_cap_, grown(col_cap_, n));
          cols_ = n;
          view().rightCols(edit.added()).setZero();
        }
        break;
      }
      case AxisEdit::Kind::remove: {
        auto v = view();
        for (auto [from, to] : edit.moves()) {
          if (along_rows) {
            v.row(to) = v.row(from);
          } else {
            v.col(to) = v.col(from);
          }
        }
        (along_rows ? rows_ : cols_) = edit.new_size();
        break;
      }
      case AxisEdit::Kind::permute: {
        const Matrix<T> old = view();
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
  std::size_t allocated_bytes() const noexcept { return buffer_.capacity() * sizeof(T); }

 private:
  // A cache line of scalars, so every column starts on a fresh line when the buffer is aligned.
  static constexpr Index kRowQuantum = 64 / static_cast<Index>(sizeof(T));

  static Index round_rows(Index rows) {
    return (rows + kRowQuantum - 1) / kRowQuantum * kRowQuantum;
  }
  static Index grown(Index capacity, Index needed) {
    return std::max(needed, capacity + capacity / 2);
  }

  void reallocate(Index row_cap, Index col_cap) {
    row_cap = round_rows(row_cap);
    std::vector<T, Eigen::aligned_allocator<T>> fresh(static_cast<std::size_t>(row_cap * col_cap));
    for (Index c = 0; c < cols_; ++c) {
      std::copy_n(buffer_.data() + c * row_cap_, rows_, fresh.data() + c * row_cap);
    }
    buffer_.swap(fresh);
    row_cap_ = row_cap;
    col_cap_ = col_cap;
  }

  void reallocate_discarding(Index row_cap, Index col_cap) {
    row_cap = round_rows(row_cap);
    buffer_.assign(static_cast<std::size_t>(row_cap * col_cap), T(0));
    row_cap_ = row_cap;
    col_cap_ = col_cap;
  }

  std::vector<T, Eigen::aligned_allocator<T>> buffer_;
  Index rows_ = 0;
  Index cols_ = 0;
  Index row_cap_ = 0;
  Index col_cap_ = 0;
};

}  // namespace neuroplast
