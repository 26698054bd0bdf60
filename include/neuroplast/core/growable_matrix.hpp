#pragma once
/// \file
/// A matrix with spare capacity in both dimensions, like std::vector for matrices.

#include <algorithm>
#include <cerrno>
#include <cstdint>
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

/// When a buffer's memory is faulted in: on first touch (`lazy`), or all of it now (`committed`).
enum class Pages { lazy, committed };

/// Cache-line aligned storage that starts all zero. Small buffers are zeroed by hand; large ones
/// come straight from the kernel as anonymous mappings, whose pages are zero and cost nothing
/// until first touched — or, with `Pages::committed`, are faulted in at once, so that the first
/// write into them later (growth into reserved capacity) does not pay for the kernel zeroing a
/// fresh page. Zero spare capacity is what lets a growing layer skip writing the zeros of new
/// fan-out columns and optimizer moments (see GrowableMatrix).
template <class T>
class AlignedBuffer {
 public:
  AlignedBuffer() = default;
  explicit AlignedBuffer(std::size_t n, Pages pages = Pages::lazy) : size_(n) {
    if (n == 0) return;
    // Buffers of 8 MiB and more sit on 2 MiB boundaries and ask for transparent huge pages:
    // growing a large layer writes fresh memory, and one fault per 2 MiB instead of per 4 KiB
    // halved the amortised cost of growing 64 → 2048 neurons (bench/bench_growth.cpp). Smaller
    // buffers stay on ordinary pages, where compaction stalls cannot cost more than they save.
    constexpr std::size_t huge = std::size_t{2} << 20;
    const std::size_t wanted = n * sizeof(T);
#if defined(__linux__)
    if (wanted >= kMapThreshold) {
      const bool large = wanted >= 4 * huge;
      const std::size_t align = large ? huge : 4096;
      bytes_ = (wanted + align - 1) / align * align;
      // Over-map by one alignment unit and trim both ends, so the buffer starts aligned.
      const std::size_t mapped = bytes_ + (large ? huge : 0);
      void* p = ::mmap(nullptr, mapped, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
      if (p == MAP_FAILED) throw std::bad_alloc();
      auto* base = static_cast<unsigned char*>(p);
      const std::size_t lead = (align - reinterpret_cast<std::uintptr_t>(base) % align) % align;
      if (lead > 0) ::munmap(base, lead);
      if (mapped - lead > bytes_) ::munmap(base + lead + bytes_, mapped - lead - bytes_);
      data_ = reinterpret_cast<T*>(base + lead);
#if defined(MADV_HUGEPAGE)
      if (large) ::madvise(data_, bytes_, MADV_HUGEPAGE);  // advisory: failure changes nothing
#endif
      if (pages == Pages::committed) commit();
      return;
    }
#endif
    const std::size_t bytes = (wanted + 63) / 64 * 64;
    data_ = static_cast<T*>(std::aligned_alloc(64, bytes));
    if (data_ == nullptr) throw std::bad_alloc();
    std::memset(static_cast<void*>(data_), 0, bytes);
  }
  AlignedBuffer(AlignedBuffer&& o) noexcept
      : data_(std::exchange(o.data_, nullptr)),
        size_(std::exchange(o.size_, 0)),
        bytes_(std::exchange(o.bytes_, 0)) {}
  AlignedBuffer& operator=(AlignedBuffer&& o) noexcept {
    swap(o);
    return *this;
  }
  AlignedBuffer(const AlignedBuffer&) = delete;
  AlignedBuffer& operator=(const AlignedBuffer&) = delete;
  ~AlignedBuffer() { release(); }

  void swap(AlignedBuffer& o) noexcept {
    std::swap(data_, o.data_);
    std::swap(size_, o.size_);
    std::swap(bytes_, o.bytes_);
  }
  T* data() noexcept { return data_; }
  const T* data() const noexcept { return data_; }
  std::size_t size() const noexcept { return size_; }

 private:
  // From 256 KiB on, mapping fresh pages beats zeroing (glibc's malloc maps such sizes too).
  static constexpr std::size_t kMapThreshold = std::size_t{256} << 10;

#if defined(__linux__)
  // Faults every page of the mapping in (after MADV_HUGEPAGE, so large buffers get huge pages).
  void commit() {
#if defined(MADV_POPULATE_WRITE)
    if (::madvise(data_, bytes_, MADV_POPULATE_WRITE) == 0) return;
    if (errno == ENOMEM) {
      release();
      throw std::bad_alloc();
    }
#endif
    // Kernels before 5.14: write one (already zero) byte per page.
    auto* bytes = reinterpret_cast<volatile unsigned char*>(data_);
    for (std::size_t at = 0; at < bytes_; at += 4096) bytes[at] = 0;
  }
#endif

  void release() noexcept {
    if (data_ == nullptr) return;
#if defined(__linux__)
    if (bytes_ > 0) {
      ::munmap(data_, bytes_);
      return;
    }
#endif
    std::free(data_);
  }

  T* data_ = nullptr;
  std::size_t size_ = 0;
  std::size_t bytes_ = 0;  // length of the mapping; 0 = from aligned_alloc
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
/// `data()` stays valid. Growing past capacity reallocates geometrically (×1.5, like std::vector;
/// the contiguous dimension is rounded up to a cache line of scalars) and copies the active block
/// once. Shrinking never reallocates.
///
/// Spare capacity is kept zero (fresh buffers are zero, removals clear what they vacate), so
/// growth with zero-filled slots writes nothing: a new neuron's zero fan-out column and zero Adam
/// moments cost no memory traffic, however strided they are. Only `reshape_uninitialized` to a
/// smaller shape (workspaces) leaves old data in the spare; `spare_is_zero()` tells.
template <Scalar T, int Order = Eigen::ColMajor>
class GrowableMatrix {
 public:
  static constexpr bool row_major = Order == Eigen::RowMajor;  ///< storage order is row-major
  /// A dense Eigen matrix of the same scalar and storage order.
  using PlainMatrix = Eigen::Matrix<T, Eigen::Dynamic, Eigen::Dynamic, Order>;
  /// Mutable view of the active block, strided by the capacity.
  using View = Eigen::Map<PlainMatrix, Eigen::Unaligned, Eigen::OuterStride<>>;
  /// Read-only view of the active block, strided by the capacity.
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
        outer_cap_(o.outer_cap_),
        spare_zero_(true) {
    copy_block(o.buffer_.data(), inner_cap_, buffer_.data(), inner_cap_);
  }
  /// Copies `o` as the copy constructor does.
  GrowableMatrix& operator=(const GrowableMatrix& o) {
    if (this != &o) {
      GrowableMatrix copy(o);
      *this = std::move(copy);
    }
    return *this;
  }
  /// Takes the buffer; `o` is left an empty 0 × 0 matrix (not sizes without storage).
  GrowableMatrix(GrowableMatrix&& o) noexcept
      : buffer_(std::move(o.buffer_)),
        rows_(std::exchange(o.rows_, 0)),
        cols_(std::exchange(o.cols_, 0)),
        inner_cap_(std::exchange(o.inner_cap_, 0)),
        outer_cap_(std::exchange(o.outer_cap_, 0)),
        spare_zero_(std::exchange(o.spare_zero_, true)) {}
  /// Takes the buffer, as the move constructor does.
  GrowableMatrix& operator=(GrowableMatrix&& o) noexcept {
    if (this != &o) {
      buffer_ = std::move(o.buffer_);
      rows_ = std::exchange(o.rows_, 0);
      cols_ = std::exchange(o.cols_, 0);
      inner_cap_ = std::exchange(o.inner_cap_, 0);
      outer_cap_ = std::exchange(o.outer_cap_, 0);
      spare_zero_ = std::exchange(o.spare_zero_, true);
    }
    return *this;
  }

  Index rows() const noexcept { return rows_; }  ///< rows of the active block
  Index cols() const noexcept { return cols_; }  ///< columns of the active block
  /// Rows the buffer holds without reallocating.
  Index row_capacity() const noexcept { return row_major ? outer_cap_ : inner_cap_; }
  /// Columns the buffer holds without reallocating.
  Index col_capacity() const noexcept { return row_major ? inner_cap_ : outer_cap_; }
  /// Distance between consecutive rows (row-major) or columns (column-major).
  Index outer_stride() const noexcept { return inner_cap_; }
  /// Start of the buffer; stable across edits that stay within capacity.
  T* data() noexcept { return buffer_.data(); }
  /// Start of the buffer, read-only.
  const T* data() const noexcept { return buffer_.data(); }

  /// The active block, `rows() × cols()`.
  View view() noexcept {
    return View(buffer_.data(), rows_, cols_, Eigen::OuterStride<>(inner_cap_));
  }
  /// The active block, `rows() × cols()`, read-only.
  ConstView view() const noexcept {
    return ConstView(buffer_.data(), rows_, cols_, Eigen::OuterStride<>(inner_cap_));
  }

  /// Ensures room for `rows × cols` without changing the active block; never shrinks. Unlike the
  /// geometric growth past capacity, the memory is committed now (every page faulted in): who
  /// reserves wants later growth to cost only its writes, not the kernel's page zeroing (about
  /// 0.5 µs per 8 KiB row on the reference machine, twice the cost of the row itself).
  void reserve(Index rows, Index cols) {
    if (fits(rows, cols)) return;
    reallocate(std::max(rows, row_capacity()), std::max(cols, col_capacity()), true,
               detail::Pages::committed);
  }

  /// Makes the active block `rows × cols` with unspecified contents (workspaces). Reallocates only
  /// when the request exceeds capacity, and then geometrically, so alternating batch sizes settle.
  void reshape_uninitialized(Index rows, Index cols) {
    if (rows < rows_ || cols < cols_) spare_zero_ = false;
    if (!fits(rows, cols)) {
      reallocate(rows > row_capacity() ? grown(row_capacity(), rows) : row_capacity(),
                 cols > col_capacity() ? grown(col_capacity(), cols) : col_capacity(), false);
    }
    rows_ = rows;
    cols_ = cols;
  }

  /// Makes the matrix `rows × cols` and all zero, keeping capacity if it suffices. A request
  /// beyond capacity gets a fresh buffer, which is zero already and is not written again (for the
  /// moments of a large layer that is a pass over every page saved).
  void reshape_zero(Index rows, Index cols) {
    const bool fresh = !fits(rows, cols);
    reshape_uninitialized(rows, cols);
    if (!fresh) view().setZero();
  }

  /// True when every entry outside the active block is zero. Right after a grow edit with a null
  /// `fill`, it also says whether the new slots are zero.
  bool spare_is_zero() const noexcept { return spare_zero_; }

  /// Applies a neuron-axis edit along `dim`. Grown slots are set to `fill`, or left unspecified
  /// when `fill` is null (for planes the caller overwrites anyway); zeros are not written when the
  /// spare capacity already holds them. See AxisEdit for costs.
  void apply(const AxisEdit& edit, Dim dim, const T* fill = &kZero) {
    const bool along_rows = dim == Dim::rows;
    eigen_assert(edit.old_size() == (along_rows ? rows_ : cols_));
    switch (edit.kind()) {
      case AxisEdit::Kind::grow: {
        const Index n = edit.new_size();
        if (along_rows) {
          if (n > row_capacity()) reallocate(grown(row_capacity(), n), col_capacity(), true);
          rows_ = n;
          if (needs_fill(fill)) view().bottomRows(edit.added()).setConstant(*fill);
        } else {
          if (n > col_capacity()) reallocate(row_capacity(), grown(col_capacity(), n), true);
          cols_ = n;
          if (needs_fill(fill)) view().rightCols(edit.added()).setConstant(*fill);
        }
        break;
      }
      case AxisEdit::Kind::remove: {
        // Moves along the contiguous dimension are applied run by run (every move within one
        // contiguous run, then the next run), so each cache line is touched once, not once per
        // move; moves along the other dimension copy whole contiguous runs.
        // What the active block gives up is cleared to keep the spare zero (cost ∝ what was
        // removed); along the contiguous dimension in the same pass, while the run is in cache.
        const bool along_inner = along_rows != row_major;
        T* base = buffer_.data();
        const Index old = along_rows ? rows_ : cols_;
        const Index kept = edit.new_size();
        if (along_inner) {
          const Index cleared = spare_zero_ ? old - kept : 0;
          for (Index o = 0; o < outer_size(); ++o) {
            T* run = base + o * inner_cap_;
            for (auto [from, to] : edit.moves()) run[to] = run[from];
            std::fill_n(run + kept, cleared, T(0));
          }
        } else {
          for (auto [from, to] : edit.moves()) {
            std::memcpy(base + to * inner_cap_, base + from * inner_cap_,
                        static_cast<std::size_t>(inner_size()) * sizeof(T));
          }
          if (spare_zero_) {
            std::fill_n(base + kept * inner_cap_, (old - kept) * inner_cap_, T(0));
          }
        }
        (along_rows ? rows_ : cols_) = kept;
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

  bool needs_fill(const T* fill) const noexcept {
    return fill != nullptr && !(spare_zero_ && *fill == T(0));
  }
  View view_of(Index rows, Index cols) noexcept {
    return View(buffer_.data(), rows, cols, Eigen::OuterStride<>(inner_cap_));
  }

  bool fits(Index rows, Index cols) const noexcept {
    return rows <= row_capacity() && cols <= col_capacity();
  }
  Index inner_size() const noexcept { return row_major ? cols_ : rows_; }
  Index outer_size() const noexcept { return row_major ? rows_ : cols_; }

  void reallocate(Index row_cap, Index col_cap, bool keep,
                  detail::Pages pages = detail::Pages::lazy) {
    const Index inner_cap = round_inner(row_major ? col_cap : row_cap);
    const Index outer_cap = row_major ? row_cap : col_cap;
    detail::AlignedBuffer<T> fresh(static_cast<std::size_t>(inner_cap * outer_cap), pages);
    if (keep) copy_block(buffer_.data(), inner_cap_, fresh.data(), inner_cap);
    buffer_.swap(fresh);
    spare_zero_ = true;  // a fresh buffer is zero outside what was copied
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
  bool spare_zero_ = true;  // every entry outside the active block is 0
};

/// Row-major ("output-neuron major") storage used for every parameter plane.
template <Scalar T>
using ParamMatrix = GrowableMatrix<T, Eigen::RowMajor>;

}  // namespace neuroplast
