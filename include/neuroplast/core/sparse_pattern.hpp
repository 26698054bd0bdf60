#pragma once
/// \file
/// The positions of a pruned weight matrix's active connections, indexed by row and by column, so
/// that products can skip the pruned ones.

#include <cassert>
#include <cstdint>
#include <limits>
#include <vector>

#include "neuroplast/core/types.hpp"

namespace neuroplast {

/// Densities (active ÷ all connections) at or below which a masked weight matrix keeps a
/// SparsePattern. Above it every product takes the dense path, so the pattern is not worth its
/// memory or its rebuild after each edit. The per-call choice is `sparse_product_pays`
/// (core/sparse_product.hpp); this bound is the largest density at which it ever picks sparse.
inline constexpr double kMaxSparseDensity = 0.25;

/// The active entries of a `rows × cols` 0/1 mask, twice: row by row (compressed rows: the
/// columns of row r are `row_cols[row_start[r] .. row_start[r + 1])`, ascending) and column by
/// column (the rows of column c are `col_rows[col_start[c] .. col_start[c + 1])`, ascending).
/// Only positions are stored; the values stay in the dense weight plane, so optimizer updates
/// never invalidate a pattern, only mask changes and neuron-axis edits do (Param rebuilds it).
/// Indices are 32-bit: a matrix with 2^31 entries or more never gets a pattern.
struct SparsePattern {
  Index rows = 0;                       ///< rows of the mask it was built from
  Index cols = 0;                       ///< columns of the mask it was built from
  std::vector<std::int32_t> row_start;  ///< `rows + 1` offsets into row_cols
  std::vector<std::int32_t> row_cols;   ///< column of each active entry, row by row
  std::vector<std::int32_t> col_start;  ///< `cols + 1` offsets into col_rows
  std::vector<std::int32_t> col_rows;   ///< row of each active entry, column by column

  /// Whether there is a pattern (a default or cleared one has none).
  bool empty() const noexcept { return row_start.empty(); }
  /// Active entries.
  Index nonzeros() const noexcept { return static_cast<Index>(row_cols.size()); }
  /// Active ÷ all entries (1 for an empty matrix).
  double density() const noexcept {
    return rows * cols == 0 ? 1.0
                            : static_cast<double>(nonzeros()) / static_cast<double>(rows * cols);
  }

  /// Drops the pattern: products take the dense path.
  void clear() noexcept {
    rows = cols = 0;
    row_start.clear();
    row_cols.clear();
    col_start.clear();
    col_rows.clear();
  }

  /// Builds the pattern of `mask` (any Eigen expression, entries 0 or 1) when its density is at
  /// most `max_density`, else clears it. Returns whether a pattern was built. `nonzero`: the
  /// mask's nonzero entries when the caller knows them (Param counts its MaskBits), saving a pass
  /// over the mask; counted here when negative.
  template <class M>
  bool build(const M& mask, double max_density = kMaxSparseDensity, Index nonzero = -1) {
    const Index r = mask.rows(), c = mask.cols();
    // A wrong count would overrun the index arrays below.
    assert(nonzero < 0 || nonzero == static_cast<Index>((mask.array() != 0).count()));
    const Index active = nonzero >= 0 ? nonzero : static_cast<Index>((mask.array() != 0).count());
    if (r * c == 0 || r * c >= std::numeric_limits<std::int32_t>::max() ||
        static_cast<double>(active) > max_density * static_cast<double>(r * c)) {
      clear();
      return false;
    }
    rows = r;
    cols = c;
    row_start.assign(static_cast<std::size_t>(r + 1), 0);
    col_start.assign(static_cast<std::size_t>(c + 1), 0);
    row_cols.resize(static_cast<std::size_t>(active));
    col_rows.resize(static_cast<std::size_t>(active));
    std::size_t k = 0;
    for (Index i = 0; i < r; ++i) {
      for (Index j = 0; j < c; ++j) {
        if (mask(i, j) == 0) continue;
        row_cols[k++] = static_cast<std::int32_t>(j);
        ++col_start[static_cast<std::size_t>(j + 1)];
      }
      row_start[static_cast<std::size_t>(i + 1)] = static_cast<std::int32_t>(k);
    }
    for (std::size_t j = 0; j < static_cast<std::size_t>(c); ++j) col_start[j + 1] += col_start[j];
    // Rows visited in ascending order fill each column's rows ascending.
    std::vector<std::int32_t> next(col_start.begin(), col_start.end() - 1);
    for (Index i = 0; i < r; ++i) {
      for (auto p = row_start[static_cast<std::size_t>(i)];
           p < row_start[static_cast<std::size_t>(i + 1)]; ++p) {
        const auto j = static_cast<std::size_t>(row_cols[static_cast<std::size_t>(p)]);
        col_rows[static_cast<std::size_t>(next[j]++)] = static_cast<std::int32_t>(i);
      }
    }
    return true;
  }
};

}  // namespace neuroplast
