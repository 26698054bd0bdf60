#pragma once
// Checks of the library's vector kernels against their entry-wise definitions, shared by the test
// executables built for x86-64-v3 (test_network, test_core: the AVX2 paths) and the one built for
// the baseline x86-64 (test_baseline: the fallbacks), so that both paths of each kernel are held
// to the same results.

#include <catch2/catch.hpp>
#include <cmath>
#include <cstdint>
#include <cstring>
#include <limits>
#include <type_traits>
#include <utility>
#include <vector>

#include "neuroplast/core/mask_bits.hpp"
#include "neuroplast/core/rng.hpp"
#include "neuroplast/core/sparse_product.hpp"

namespace neuroplast::testing {

// The bits of `x` (float or double), so that a test can demand equality of representations.
template <class T>
auto bits_of(T x) {
  using U = std::conditional_t<sizeof(T) == 4, std::uint32_t, std::uint64_t>;
  U u;
  std::memcpy(&u, &x, sizeof u);
  return u;
}

template <class T>
void check_packet_kernels_match_entrywise() {
  Rng rng(95);
  const auto fill = [&](std::vector<T>& v) {
    for (T& x : v) x = static_cast<T>(rng.normal(0.0, 1.0));
  };
  // Transposes of every shape class: both sides a multiple of the packet size, ragged edges, and
  // tiles cut short by the thread split; with the plain copy, the scale and the scale plus bias.
  for (const auto& [rows, cols] : {std::pair<Index, Index>{64, 48}, {37, 21}, {5, 3}, {130, 70}}) {
    std::vector<T> src(static_cast<std::size_t>(rows * cols)), bias(static_cast<std::size_t>(cols));
    fill(src);
    fill(bias);
    for (int op = 0; op < 3; ++op) {
      INFO("transpose " << rows << " x " << cols << ", op " << op);
      const T alpha = op == 0 ? T(1) : T(0.37);
      const T* b = op == 2 ? bias.data() : nullptr;
      std::vector<T> dst(src.size(), T(-1)), want(src.size(), T(-2));
      detail::transpose_into(src.data(), rows, cols, rows, dst.data(), cols, alpha, b);
      // The reference: one source row at a time, which the transpose can only move entry by entry
      // (the same operation on each entry; written out here, a compiler may fuse the multiply
      // and add of a bias differently from the library's code and differ in the last bit).
      for (Index i = 0; i < rows; ++i)
        detail::transpose_into(src.data() + i, 1, cols, rows, want.data() + i * cols, cols, alpha,
                               b);
      bool same = true;
      for (std::size_t e = 0; e < src.size(); ++e)
        same = same && bits_of(dst[e]) == bits_of(want[e]);
      CHECK(same);
      // The reference is a transpose with the operation applied (the single-row call is no
      // tautology): within rounding of the fused or unfused multiply-add.
      bool close = true;
      for (Index i = 0; i < rows; ++i)
        for (Index j = 0; j < cols; ++j) {
          const T x = src[static_cast<std::size_t>(i + j * rows)];
          const T expect = b ? alpha * x + b[j] : alpha * x;
          close = close && std::abs(want[static_cast<std::size_t>(j + i * cols)] - expect) <=
                               T(1e-5) * (1 + std::abs(expect));
        }
      CHECK(close);
    }
  }
  // Weight-gradient rows: every batch length class (below one packet, odd and even packet counts,
  // not a multiple of a packet) and column counts with and without a remainder of the groups of 4.
  using Vec = Eigen::Map<const Eigen::Matrix<T, Eigen::Dynamic, 1>>;
  for (const Index n : {Index{3}, Index{8}, Index{16}, Index{24}, Index{64}, Index{100}}) {
    const Index in_cols = 40;
    std::vector<T> d(static_cast<std::size_t>(n)), in_t(static_cast<std::size_t>(n * in_cols));
    fill(d);
    fill(in_t);
    const std::vector<std::int32_t> cols{0, 3, 4, 9, 17, 18, 25, 31, 39};
    for (const std::int32_t count : {4, 7, 9}) {
      INFO("gradient row, batch " << n << ", " << count << " columns");
      std::vector<T> g(static_cast<std::size_t>(in_cols), T(0));
      const T alpha = T(0.5);
      detail::sparse_gradient_row(cols.data(), count, d.data(), in_t.data(), n, n, alpha, g.data());
      bool same = true;
      for (std::int32_t k = 0; k < count; ++k) {
        const auto c = static_cast<std::size_t>(cols[static_cast<std::size_t>(k)]);
        const T want = alpha * Vec(d.data(), n).dot(Vec(in_t.data() + c * std::size_t(n), n));
        same = same && bits_of(g[c]) == bits_of(want);
      }
      CHECK(same);
      CHECK(g[1] == T(0));  // a column not in the row is not written
    }
  }
}

// MaskBits against the 0/1 mask it packs: `multiply_rows` must give the bits of the product with
// the float mask, signed zeros and NaN included, for row lengths below, at and beyond a byte and
// a four-byte word (the vector path's steps) and rows cut anywhere (a thread's share), in a
// matrix whose outer stride exceeds its width.
template <class T>
void check_mask_bits_multiply() {
  Rng rng(131);
  for (const Index cols :
       {Index{3}, Index{8}, Index{13}, Index{32}, Index{40}, Index{64}, Index{77}}) {
    const Index rows = 5, stride = cols + 3;
    Eigen::Matrix<T, Eigen::Dynamic, Eigen::Dynamic, Eigen::RowMajor> mask(rows, cols);
    for (Index r = 0; r < rows; ++r)
      for (Index c = 0; c < cols; ++c) mask(r, c) = rng.uniform() < 0.5 ? T(0) : T(1);
    mask(0, 0) = mask(0, 1) = mask(0, 2) = T(0);
    mask(rows - 1, cols - 1) = T(1);
    MaskBits bits;
    bits.build(mask);
    REQUIRE(bits.rows == rows);
    REQUIRE(bits.cols == cols);
    REQUIRE(bits.bytes_per_row == (cols + 7) / 8);
    bool tested = true;
    for (Index r = 0; r < rows; ++r)
      for (Index c = 0; c < cols; ++c) tested = tested && bits.test(r, c) == (mask(r, c) != T(0));
    CHECK(tested);
    CHECK(bits.count() == static_cast<Index>((mask.array() != T(0)).count()));
    CHECK_FALSE(bits.all_set());
    // The same mask column-major: built entry by entry, not from memory in rows.
    MaskBits by_entry;
    by_entry.build(Eigen::Matrix<T, Eigen::Dynamic, Eigen::Dynamic>(mask));
    CHECK(by_entry.bytes == bits.bytes);
    std::vector<T> data(static_cast<std::size_t>(rows * stride));
    for (T& x : data) x = static_cast<T>(rng.normal(0.0, 1.0));
    // Pruned entries whose product with 0 is no plain +0: −0, NaN (from NaN and from ∞).
    data[0] = -T(2.5);
    data[1] = std::numeric_limits<T>::quiet_NaN();
    data[2] = std::numeric_limits<T>::infinity();
    data[static_cast<std::size_t>(stride + 1)] = -T(0);
    const std::vector<T> before = data;
    bits.multiply_rows(data.data(), stride, 0, 2);  // two shares, as split over threads
    bits.multiply_rows(data.data(), stride, 2, rows);
    bool same = true;
    for (Index r = 0; r < rows; ++r) {
      for (Index c = 0; c < stride; ++c) {
        const auto e = static_cast<std::size_t>(r * stride + c);
        const T want = c < cols ? before[e] * mask(r, c) : before[e];  // padding untouched
        same = same && bits_of(data[e]) == bits_of(want);
      }
    }
    INFO(cols << " columns");
    CHECK(same);
  }
  MaskBits none;
  CHECK(none.empty());
  for (const Index cols : {Index{8}, Index{13}}) {  // with and without a partial last byte
    MaskBits ones;
    ones.build(Eigen::Matrix<T, Eigen::Dynamic, Eigen::Dynamic, Eigen::RowMajor>::Ones(3, cols));
    CHECK(ones.all_set());
    CHECK(ones.count() == 3 * cols);
  }
}

// `packed_row_dot` (an InferenceSnapshot's single-sample product), with either way of fetching
// its inputs, against the exact sum, for every row length up to past two of the vector path's
// steps (so each of its blocks, its partial block and its scalar tail is reached) and column
// indices spread over a larger input. Small integers make every partial sum exact in float, so
// any order of summation gives the same value and a lane that reads the wrong input or weight
// cannot hide in rounding.
template <class T>
void check_packed_row_dot() {
  Rng rng(137);
  const Index inputs = 300;
  std::vector<T> x(static_cast<std::size_t>(inputs));
  for (T& v : x) v = static_cast<T>(static_cast<int>(rng.uniform() * 17) - 8);
  for (std::int32_t count = 0; count <= 70; ++count) {
    std::vector<std::int32_t> cols;
    std::vector<T> values;
    long long exact = 0;
    for (Index c = 0; c < inputs && static_cast<std::int32_t>(cols.size()) < count; ++c) {
      if (rng.uniform() * static_cast<double>(inputs - c) >=
          static_cast<double>(count - static_cast<std::int32_t>(cols.size())))
        continue;  // keeps `count` columns, each equally likely, in ascending order
      cols.push_back(static_cast<std::int32_t>(c));
      values.push_back(static_cast<T>(static_cast<int>(rng.uniform() * 17) - 8));
      exact += static_cast<long long>(values.back()) *
               static_cast<long long>(x[static_cast<std::size_t>(c)]);
    }
    REQUIRE(static_cast<std::int32_t>(cols.size()) == count);
    INFO(count << " active connections");
    CHECK(detail::packed_row_dot(cols.data(), values.data(), count, x.data()) ==
          static_cast<T>(exact));
    CHECK(detail::packed_row_dot<T, detail::InputFetch::gather>(cols.data(), values.data(), count,
                                                                x.data()) == static_cast<T>(exact));
    // With weights whose sums round, the two ways of fetching the inputs must still agree bit
    // for bit: an InferenceSnapshot picks one per processor (`gather_fetch_pays`), and its
    // answers may not depend on that pick.
    std::vector<T> rounding(values.size());
    for (T& v : rounding) v = static_cast<T>(rng.uniform() * 2 - 1) / 3;
    CHECK(detail::packed_row_dot(cols.data(), rounding.data(), count, x.data()) ==
          detail::packed_row_dot<T, detail::InputFetch::gather>(cols.data(), rounding.data(), count,
                                                                x.data()));
  }
}

}  // namespace neuroplast::testing
