// Core storage: the random stream, the neuron-axis edit, capacity buffers and parameter bundles.

#include <algorithm>
#include <atomic>
#include <catch2/catch.hpp>
#include <cmath>
#include <cstdio>
#include <cstring>
#include <limits>
#include <mutex>
#include <numbers>
#include <numeric>
#include <set>
#include <thread>
#include <tuple>
#include <utility>
#include <vector>

#include "neuroplast/neuroplast.hpp"
#include "support/kernel_checks.hpp"

#if defined(__linux__)
#include <unistd.h>
#endif

using namespace neuroplast;

TEST_CASE("Rng is reproducible and its draws have the right distribution", "[core][rng]") {
  Rng a(42), b(42), c(43);
  std::vector<std::uint64_t> va, vb, vc;
  for (int i = 0; i < 100; ++i) {
    va.push_back(a.next());
    vb.push_back(b.next());
    vc.push_back(c.next());
  }
  CHECK(va == vb);
  CHECK(va != vc);

  Rng r(1);
  const int n = 200000;
  double sum = 0, sum_sq = 0, usum = 0;
  std::vector<int> counts(10, 0);
  for (int i = 0; i < n; ++i) {
    const double x = r.normal();
    sum += x;
    sum_sq += x * x;
    const double u = r.uniform();
    REQUIRE(u >= 0.0);
    REQUIRE(u < 1.0);
    usum += u;
    ++counts[r.below(10)];
  }
  // Standard errors: mean 1/√n ≈ 0.0022, variance √(2/n) ≈ 0.0032, uniform mean 0.29/√n; 5σ bounds.
  CHECK(std::abs(sum / n) < 0.012);
  CHECK(std::abs(sum_sq / n - 1.0) < 0.016);
  CHECK(std::abs(usum / n - 0.5) < 0.004);
  for (int k : counts) CHECK(std::abs(k - n / 10) < 5 * std::sqrt(n * 0.1 * 0.9));

  std::vector<int> perm(50);
  std::iota(perm.begin(), perm.end(), 0);
  Rng s1(9), s2(9);
  auto p1 = perm, p2 = perm;
  s1.shuffle(std::span<int>(p1));
  s2.shuffle(std::span<int>(p2));
  CHECK(p1 == p2);
  CHECK(p1 != perm);
  CHECK(std::set<int>(p1.begin(), p1.end()).size() == 50);
}

namespace {

// Reference xoshiro128+ for one lane, written out plainly, to check the SIMD lanes against.
struct Xoshiro128Plus {
  std::uint32_t s[4];
  std::uint32_t next() {
    const std::uint32_t result = s[0] + s[3], t = s[1] << 9;
    s[2] ^= s[0];
    s[3] ^= s[1];
    s[1] ^= s[2];
    s[0] ^= s[3];
    s[2] ^= t;
    s[3] = (s[3] << 11) | (s[3] >> 21);
    return result;
  }
};

// The eight reference lanes a LaneRng seeded with `seed` runs (splitmix64 words, two per draw).
std::vector<Xoshiro128Plus> reference_lanes(std::uint64_t seed) {
  std::vector<Xoshiro128Plus> lanes(8);
  for (int w = 0; w < 4; w += 2) {
    for (auto& lane : lanes) {
      std::uint64_t z = (seed += 0x9e3779b97f4a7c15ULL);
      z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9ULL;
      z = (z ^ (z >> 27)) * 0x94d049bb133111ebULL;
      z ^= z >> 31;
      lane.s[w] = static_cast<std::uint32_t>(z);
      lane.s[w + 1] = static_cast<std::uint32_t>(z >> 32);
    }
  }
  return lanes;
}

// Largest gap between the empirical CDF of `xs` and `cdf` (Kolmogorov–Smirnov statistic).
template <class V, class Cdf>
double ks_statistic(std::vector<V> xs, Cdf&& cdf) {
  std::sort(xs.begin(), xs.end());
  const auto n = static_cast<double>(xs.size());
  double d = 0;
  for (std::size_t i = 0; i < xs.size(); ++i) {
    const double f = cdf(static_cast<double>(xs[i]));
    d = std::max({d, f - static_cast<double>(i) / n, static_cast<double>(i + 1) / n - f});
  }
  return d;
}

double normal_cdf(double x) { return 0.5 * std::erfc(-x / std::sqrt(2.0)); }

}  // namespace

TEST_CASE("bulk normal fill: eight xoshiro128+ lanes and Box–Muller to float accuracy",
          "[core][rng]") {
  Rng parent(2024), copy(2024);
  std::vector<float> xs(1000);
  parent.fill_normal(std::span<float>(xs), 0.5, 2.0);
  // The fill consumed exactly one draw of the parent, which seeded the lanes.
  const std::uint64_t seed = copy.next();
  CHECK(parent.next() == copy.next());

  // Recompute every value in double precision from the reference lanes: the radius word gives
  // u1 = (top 24 bits + 1)·2^-24, the angle word's bits 31/30 the signs, bit 29 the sine-cosine
  // swap and bits 8–28 the angle in [-π/4, π/4).
  auto lanes = reference_lanes(seed);
  double worst = 0;
  for (std::size_t block = 0; block * 16 < xs.size(); ++block) {
    std::uint32_t radius_word[8], angle_word[8];
    for (int l = 0; l < 8; ++l) radius_word[l] = lanes[static_cast<std::size_t>(l)].next();
    for (int l = 0; l < 8; ++l) angle_word[l] = lanes[static_cast<std::size_t>(l)].next();
    for (int l = 0; l < 8; ++l) {
      const double u1 = ((radius_word[l] >> 8) + 1.0) * 0x1.0p-24;
      const double r = std::sqrt(-2.0 * std::log(u1));
      const std::uint32_t w = angle_word[l];
      const double theta =
          (w >> 8 & 0x1fffff) * (std::numbers::pi / 2) / 0x1.0p21 - std::numbers::pi / 4;
      const bool swap = (w >> 29 & 1) != 0;
      double x = swap ? std::sin(theta) : std::cos(theta);
      double y = swap ? std::cos(theta) : std::sin(theta);
      if (w >> 31) x = -x;
      if (w >> 30 & 1) y = -y;
      const std::size_t i = block * 16 + static_cast<std::size_t>(l);
      for (const auto& [at, expected] : {std::pair{i, x}, std::pair{i + 8, y}}) {
        if (at >= xs.size()) continue;
        worst = std::max(worst, std::abs(xs[at] - (0.5 + 2.0 * r * expected)) /
                                    (1.0 + std::abs(2.0 * r * expected)));
      }
    }
  }
  CHECK(worst < 2e-6);

  // A shorter fill is the prefix of a longer one from the same state (the partial last block goes
  // through a buffer), for both float and double.
  for (std::size_t n : {1u, 15u, 17u, 33u}) {
    Rng a(5), b(5);
    std::vector<float> shorter(n), longer(64);
    a.fill_normal(std::span<float>(shorter), 0.0, 1.0);
    b.fill_normal(std::span<float>(longer), 0.0, 1.0);
    CHECK(std::equal(shorter.begin(), shorter.end(), longer.begin()));
    std::vector<double> shorter_d(n), longer_d(128);
    Rng c(5), d(5);
    c.fill_normal(std::span<double>(shorter_d), 0.0, 1.0);
    d.fill_normal(std::span<double>(longer_d), 0.0, 1.0);
    CHECK(std::equal(shorter_d.begin(), shorter_d.end(), longer_d.begin()));
  }
}

TEST_CASE("the lanes' log, sine and cosine are accurate on every input a fill produces",
          "[core][rng]") {
  // Exhaustive: u1 takes the 2^24 values k·2^-24, θ the 2^21 values of the angle field.
  namespace lanes = detail::lanes;
  double worst_log = 0, worst_sin = 0, worst_cos = 0;
  for (std::uint32_t k = 1; k <= (1u << 24); k += lanes::kPackSize) {
    lanes::Floats x;
    for (int i = 0; i < lanes::kPackSize; ++i) x[i] = static_cast<float>(k + i) * 0x1.0p-24f;
    lanes::log_in_place(x);
    for (int i = 0; i < lanes::kPackSize && k + static_cast<std::uint32_t>(i) <= (1u << 24); ++i) {
      const double exact = std::log((k + static_cast<std::uint32_t>(i)) * 0x1.0p-24);
      worst_log = std::max(worst_log, exact == 0 ? std::abs(x[i]) : std::abs(x[i] / exact - 1));
    }
  }
  for (std::uint32_t k = 0; k < (1u << 21); k += lanes::kPackSize) {
    lanes::Floats theta, s, c;
    for (int i = 0; i < lanes::kPackSize; ++i) {
      theta[i] = static_cast<float>(k + static_cast<std::uint32_t>(i)) *
                     static_cast<float>(0x1.0p-21 * std::numbers::pi / 2) -
                 static_cast<float>(std::numbers::pi / 4);
    }
    lanes::sincos(theta, s, c);
    for (int i = 0; i < lanes::kPackSize; ++i) {
      worst_sin = std::max(worst_sin, std::abs(s[i] - std::sin(static_cast<double>(theta[i]))));
      worst_cos = std::max(worst_cos, std::abs(c[i] - std::cos(static_cast<double>(theta[i]))));
    }
  }
  CHECK(worst_log < 3e-7);
  CHECK(worst_sin < 1e-7);
  CHECK(worst_cos < 1e-7);
}

TEST_CASE("bulk fills have the right distributions", "[core][rng]") {
  // Kolmogorov–Smirnov at n = 65536: the 0.1% critical value is 1.95/√n ≈ 0.0076. A wrong
  // quadrant mapping, a biased radius or a lane that repeats another fails this by far.
  const std::size_t n = 65536;
  const double critical = 1.95 / std::sqrt(static_cast<double>(n));
  Rng rng(11);
  std::vector<float> xf(n);
  rng.fill_normal(std::span<float>(xf), 0.0, 1.0);
  CHECK(ks_statistic(xf, normal_cdf) < critical);
  std::vector<double> xd(n);
  rng.fill_normal(std::span<double>(xd), 0.0, 1.0);
  CHECK(ks_statistic(xd, normal_cdf) < critical);

  // The two values of a Box–Muller pair (i, i + 8 within a block of 16) are uncorrelated, and so
  // are their squares (which a shared radius without the angle's independence would correlate).
  double xy = 0, x2y2 = 0;
  for (std::size_t b = 0; b < n; b += 16) {
    for (std::size_t l = 0; l < 8; ++l) {
      const double x = xf[b + l], y = xf[b + l + 8];
      xy += x * y;
      x2y2 += (x * x - 1) * (y * y - 1);
    }
  }
  CHECK(std::abs(xy / (n / 2)) < 5 / std::sqrt(n / 2.0));
  CHECK(std::abs(x2y2 / (n / 2)) < 5 * 2 / std::sqrt(n / 2.0));

  std::vector<float> uf(n);
  rng.fill_uniform(std::span<float>(uf), -2.0, 3.0);
  CHECK(*std::min_element(uf.begin(), uf.end()) >= -2.0f);
  CHECK(*std::max_element(uf.begin(), uf.end()) <= 3.0f);
  CHECK(ks_statistic(uf, [](double x) { return (x + 2) / 5; }) < critical);
  std::vector<double> ud(n);
  rng.fill_uniform(std::span<double>(ud), -2.0, 3.0);
  CHECK(*std::min_element(ud.begin(), ud.end()) >= -2.0);
  CHECK(*std::max_element(ud.begin(), ud.end()) < 3.0);
  CHECK(ks_statistic(ud, [](double x) { return (x + 2) / 5; }) < critical);
}

TEST_CASE("AxisEdit::remove fills holes from the end of the axis", "[core][axis]") {
  // 6 neurons, remove {4, 1}: new size 4; hole 1 is filled by 5 (4 is removed itself).
  const auto e = AxisEdit::remove(6, {4, 1});
  CHECK(e.new_size() == 4);
  REQUIRE(e.moves().size() == 1);
  CHECK(e.moves()[0] == std::pair<Index, Index>{5, 1});
  CHECK(e.new_index() == std::vector<Index>{0, -1, 2, 3, -1, 1});

  const auto tail = AxisEdit::remove(6, {5, 4});
  CHECK(tail.moves().empty());
  CHECK(tail.new_index() == std::vector<Index>{0, 1, 2, 3, -1, -1});

  const auto many = AxisEdit::remove(8, {0, 2, 6});
  // survivors above the new size 5 are 5 and 7; they fill holes 0 and 2.
  CHECK(many.new_index() == std::vector<Index>{-1, 1, -1, 3, 4, 0, -1, 2});

  std::vector<char> labels{'a', 'b', 'c', 'd', 'e', 'f', 'g', 'h'};
  many.apply(labels);
  CHECK(labels == std::vector<char>{'f', 'b', 'h', 'd', 'e'});
}

TEST_CASE("AxisEdit::permute and grow on vectors", "[core][axis]") {
  const auto p = AxisEdit::permute({2, 0, 1});
  CHECK(p.new_index() == std::vector<Index>{1, 2, 0});
  std::vector<int> v{10, 20, 30};
  p.apply(v);
  CHECK(v == std::vector<int>{30, 10, 20});
  AxisEdit::grow(3, 2).apply(v, -1);
  CHECK(v == std::vector<int>{30, 10, 20, -1, -1});
}

TEST_CASE("GrowableMatrix grows in place within capacity", "[core][storage]") {
  GrowableMatrix<double> m(3, 2);
  m.view() << 1, 2, 3, 4, 5, 6;
  m.reserve(10, 10);
  const double* before = m.data();
  m.apply(AxisEdit::grow(3, 2), Dim::rows);
  m.apply(AxisEdit::grow(2, 3), Dim::cols);
  CHECK(m.data() == before);
  REQUIRE(m.rows() == 5);
  REQUIRE(m.cols() == 5);
  Matrix<double> expected = Matrix<double>::Zero(5, 5);
  expected.topLeftCorner(3, 2) << 1, 2, 3, 4, 5, 6;
  CHECK(Matrix<double>(m.view()) == expected);
}

TEST_CASE("GrowableMatrix reallocates geometrically past capacity and keeps values",
          "[core][storage]") {
  GrowableMatrix<float> m(2, 2);
  m.view() << 1, 2, 3, 4;
  const Index cap = m.col_capacity();
  m.apply(AxisEdit::grow(2, cap - 1), Dim::cols);  // one past capacity
  CHECK(m.col_capacity() >= cap + cap / 2);
  CHECK(m.view()(0, 0) == 1);
  CHECK(m.view()(1, 1) == 4);
  CHECK(m.view().rightCols(m.cols() - 2).isZero());
  // Rows are rounded up to a cache line of scalars.
  CHECK(m.row_capacity() % 16 == 0);
}

TEST_CASE("GrowableMatrix remove and permute along either dimension", "[core][storage]") {
  GrowableMatrix<double> m(4, 3);
  for (Index c = 0; c < 3; ++c)
    for (Index r = 0; r < 4; ++r) m.view()(r, c) = 10.0 * r + c;
  m.apply(AxisEdit::remove(4, {0}), Dim::rows);  // row 3 moves into slot 0
  REQUIRE(m.rows() == 3);
  CHECK(m.view().row(0) == Eigen::RowVector3d(30, 31, 32));
  CHECK(m.view().row(1) == Eigen::RowVector3d(10, 11, 12));
  m.apply(AxisEdit::permute({2, 0, 1}), Dim::cols);
  CHECK(m.view().row(0) == Eigen::RowVector3d(32, 30, 31));

  GrowableMatrix<double> w(2, 2);
  const double* p = w.data();
  w.reshape_uninitialized(1, 1);
  CHECK(w.data() == p);  // shrinking never reallocates
}

TEST_CASE("Param applies one edit to every plane and records births", "[core][param]") {
  Param<double> p(2, 3, true);
  p.value.view() << 1, 2, 3, 4, 5, 6;
  CHECK_FALSE(p.has_mask());  // no mask plane until the first prune
  p.materialise_mask();
  CHECK(p.mask.view().isOnes());
  auto& state = p.state_for("adam", 2);
  CHECK(p.col_birth == std::vector<std::int64_t>(3, kUnbornStep));  // stamped by the next step
  detail::stamp_births(p.row_birth, 0);
  detail::stamp_births(p.col_birth, 0);
  CHECK_FALSE(p.has_young_neurons());
  state[0].view().setConstant(7);
  state[1].view().setConstant(8);
  p.apply(AxisEdit::grow(3, 1), Dim::cols);
  REQUIRE(p.cols() == 4);
  CHECK(p.grad.cols() == 4);
  CHECK(p.value.view().col(3).isZero());
  CHECK(state[0].view().col(3).isZero());
  CHECK(state[1].view().leftCols(3).isConstant(8));
  CHECK(p.mask.view().col(3).isOnes());
  CHECK(p.col_birth == std::vector<std::int64_t>{0, 0, 0, kUnbornStep});
  CHECK(p.has_young_neurons());

  p.apply(AxisEdit::remove(2, {0}), Dim::rows);
  CHECK(p.rows() == 1);
  CHECK(p.value.view()(0, 0) == 4);
  CHECK(state[0].rows() == 1);
  CHECK(p.mask.rows() == 1);

  // A different optimizer discards the state and restarts every age.
  auto& sgd = p.state_for("sgd", 1);
  CHECK(sgd.size() == 1);
  CHECK(sgd[0].view().isZero());
  CHECK(p.row_birth == std::vector<std::int64_t>{kUnbornStep});
}

TEST_CASE("MaskBits multiplies by its mask bit for bit and follows every edit of a Param",
          "[core][param]") {
  testing::check_mask_bits_multiply<float>();
  testing::check_mask_bits_multiply<double>();

  // In a Param the bits are derived state: after every mask change and axis edit they must equal
  // the mask, and mask_gradient must equal the product with the mask plane.
  Param<float> p(6, 11, true);
  p.materialise_mask();
  CHECK(p.mask_bits.empty());  // all ones: nothing is masked, no bits
  for (Index r = 0; r < p.rows(); ++r) p.mask.view()(r, (3 * r) % p.cols()) = 0;
  p.refresh_masked();
  REQUIRE(p.masked);
  Rng rng(5);
  const auto check_in_step = [&](const char* after) {
    INFO("after " << after);
    REQUIRE(p.mask_bits.rows == p.rows());
    REQUIRE(p.mask_bits.cols == p.cols());
    bool same = true;
    for (Index r = 0; r < p.rows(); ++r)
      for (Index c = 0; c < p.cols(); ++c)
        same = same && p.mask_bits.test(r, c) == (p.mask.view()(r, c) != 0);
    CHECK(same);
    for (Index r = 0; r < p.rows(); ++r)
      for (Index c = 0; c < p.cols(); ++c) p.grad.view()(r, c) = float(rng.normal(0.0, 1.0));
    const Matrix<float> want = p.grad.view().array() * p.mask.view().array();
    p.mask_gradient();
    CHECK(Matrix<float>(p.grad.view()) == want);
  };
  check_in_step("pruning");
  p.apply(AxisEdit::grow(11, 6), Dim::cols);  // 17 columns: a byte and a tail
  check_in_step("growing columns");
  p.apply(AxisEdit::remove(6, {0, 4}), Dim::rows);
  check_in_step("removing rows");
  p.apply(AxisEdit::permute({3, 0, 2, 1}), Dim::rows);
  check_in_step("permuting rows");
  p.apply(AxisEdit::remove(17, {0, 3, 6, 9}), Dim::cols);
  check_in_step("removing columns");
  // With every connection active again nothing is masked: the bits go with the mask's zeros.
  p.mask.view().setOnes();
  p.refresh_masked();
  CHECK_FALSE(p.masked);
  CHECK(p.mask_bits.empty());
}

TEST_CASE("row-major planes grow rows contiguously", "[core][storage]") {
  ParamMatrix<float> m(3, 100);
  m.reserve(8, 100);
  const float* base = m.data();
  m.apply(AxisEdit::grow(3, 1), Dim::rows);
  CHECK(m.data() == base);
  // The new row starts right after the last old one (one contiguous run of the fan-in).
  CHECK(&m.view()(3, 0) == base + 3 * m.outer_stride());
  CHECK(&m.view()(3, 99) == &m.view()(3, 0) + 99);
  CHECK(m.outer_stride() % 16 == 0);
  ParamMatrix<double> bias(5, 1);
  CHECK(bias.outer_stride() == 1);  // vectors are not padded
}

namespace {

// C = C0 + alpha · op(A) op(B) with `threads` threads.
template <Op OpA, Op OpB>
Matrix<float> product(const Matrix<float>& a, const Matrix<float>& b, const Matrix<float>& c0,
                      int threads, GemmWorkspace<float>& ws) {
  const int before = thread_count();
  set_thread_count(threads);
  set_adaptive_split(false);  // split whenever the rule says so: the split is what is tested
  Matrix<float> c = c0;
  const Index k = OpA == Op::none ? a.cols() : a.rows();
  gemm<OpA, OpB>(c.rows(), c.cols(), k, a.data(), a.outerStride(), b.data(), b.outerStride(),
                 c.data(), c.outerStride(), 0.5f, ws);
  set_thread_count(before);
  set_adaptive_split(true);
  return c;
}

template <Op OpA, Op OpB>
void check_threaded_product(Index m, Index n, Index k) {
  INFO("m " << m << ", n " << n << ", k " << k << ", ops " << int(OpA) << int(OpB));
  const Matrix<float> a =
      OpA == Op::none ? Matrix<float>::Random(m, k) : Matrix<float>::Random(k, m);
  const Matrix<float> b =
      OpB == Op::none ? Matrix<float>::Random(k, n) : Matrix<float>::Random(n, k);
  const Matrix<float> c0 = Matrix<float>::Random(m, n);
  GemmWorkspace<float> ws;
  const Matrix<float> one = product<OpA, OpB>(a, b, c0, 1, ws);
  const Matrix<float> two = product<OpA, OpB>(a, b, c0, 2, ws);
  const Matrix<float> three = product<OpA, OpB>(a, b, c0, 3, ws);
  // The reference: plain Eigen, so a wrong split (a missed or doubled block) cannot hide.
  Matrix<float> expected = c0;
  const auto opa = [&]() -> Matrix<float> { return OpA == Op::none ? a : a.transpose(); };
  const auto opb = [&]() -> Matrix<float> { return OpB == Op::none ? b : b.transpose(); };
  expected.noalias() += 0.5f * opa() * opb();
  CHECK((one - expected).cwiseAbs().maxCoeff() <= 1e-4f * static_cast<float>(k));
  CHECK(std::memcmp(one.data(), two.data(), sizeof(float) * static_cast<std::size_t>(m * n)) == 0);
  CHECK(std::memcmp(one.data(), three.data(), sizeof(float) * static_cast<std::size_t>(m * n)) ==
        0);
}

}  // namespace

TEST_CASE("products split over threads are bit-identical to one thread", "[core][threads]") {
  // Shapes on both sides of the threading rule, split by columns, by rows, and matrix-vector.
  for (Index m : {10, 130, 700})
    for (Index n : {1, 37, 256})
      for (Index k : {64, 784}) {
        check_threaded_product<Op::transpose, Op::none>(m, n, k);
        check_threaded_product<Op::none, Op::transpose>(m, n, k);
        check_threaded_product<Op::none, Op::none>(m, n, k);
      }
  check_threaded_product<Op::transpose, Op::none>(1024, 1, 1024);
  // Splits by rows whose shares end inside a row panel, split there by columns: 784-128's forward
  // product at batch 64 (72 / 56 rows by whole panels), and three shares of 50 rows, two of them
  // cutting through the same panel.
  check_threaded_product<Op::transpose, Op::none>(128, 64, 784);
  check_threaded_product<Op::transpose, Op::none>(50, 256, 784);
  check_threaded_product<Op::transpose, Op::none>(260, 30, 300);
}

TEST_CASE("the ReLU family's derivative is the step a > 0, entry by entry and packet by packet",
          "[core][activation]") {
  // 37 entries: four packets of 8 floats and a scalar tail; NaN and −0 give 0 like +0.
  const auto check = [](auto scalar) {
    using S = decltype(scalar);
    Eigen::Array<S, Eigen::Dynamic, 1> a(37);
    for (Index i = 0; i < a.size(); ++i) a(i) = static_cast<S>(i % 3) - S(1);  // −1, 0, 1, …
    a(5) = std::numeric_limits<S>::quiet_NaN();
    a(7) = S(-0.0);
    a(9) = std::numeric_limits<S>::denorm_min();
    const Eigen::Array<S, Eigen::Dynamic, 1> step = Relu::derivative(a);
    const Eigen::Array<S, Eigen::Dynamic, 1> leaky = LeakyRelu::derivative(a);
    for (Index i = 0; i < a.size(); ++i) {
      INFO("entry " << i << " = " << a(i));
      const S expected = a(i) > S(0) ? S(1) : S(0);
      CHECK(step(i) == expected);
      CHECK(leaky(i) == expected * S(1 - LeakyRelu::slope) + S(LeakyRelu::slope));
      CHECK(!std::signbit(step(i)));
    }
  };
  check(0.0f);
  check(0.0);
}

TEST_CASE("a split by rows keeps row panels whole or cuts them by columns", "[core][threads]") {
  using detail::gemm_row_cut;
  // 1024 rows in two: the panel boundary at 504 is 1.6% of a share off, within the tolerance.
  CHECK(gemm_row_cut(1024, 256, 2, 1).row == 504);
  CHECK(gemm_row_cut(1024, 256, 2, 1).col == 0);
  // 128 rows in two: 48 or 72 is 12.5% off; the cut runs through rows 48–71 at column 40
  // (16 of the panel's 24 rows → 2/3 of 64 columns, rounded to a multiple of 8).
  CHECK(gemm_row_cut(128, 64, 2, 1).row == 48);
  CHECK(gemm_row_cut(128, 64, 2, 1).col == 40);
  CHECK(gemm_row_cut(128, 64, 2, 0).row == 0);
  CHECK(gemm_row_cut(128, 64, 2, 2).row == 128);
  // The blocks of all shares tile C exactly once, each starting at a panel and a multiple of 8.
  for (const auto& [m, n, parts] : std::vector<std::tuple<Index, Index, int>>{
           {128, 64, 2}, {50, 256, 3}, {260, 30, 3}, {24, 8, 4}, {1000, 64, 3}}) {
    INFO(m << " × " << n << " in " << parts);
    Eigen::MatrixXi covered = Eigen::MatrixXi::Zero(m, n);
    for (int part = 0; part < parts; ++part)
      detail::for_each_row_block(m, n, parts, part, [&](Index r0, Index r1, Index c0, Index c1) {
        CHECK(r0 % detail::kGemmRowPanel == 0);
        CHECK(c0 % 8 == 0);
        CHECK((r1 == m || r1 % detail::kGemmRowPanel == 0));
        covered.block(r0, c0, r1 - r0, c1 - c0).array() += 1;
      });
    CHECK(covered.minCoeff() == 1);
    CHECK(covered.maxCoeff() == 1);
  }
}

TEST_CASE("products give the same bits whatever cache sizes Eigen detects", "[core][gemm]") {
  // Eigen sizes its passes along k from the L1 cache it finds (48 KiB here: 2 passes of 400 for
  // k = 784; 32 KiB: 3 of 264), and each element is summed pass by pass, so the product's bits
  // would follow the machine. `gemm_depth` fixes the passes at Eigen's choice for 48 KiB: the
  // float kernel's register panels are 24 × kc and kc × 4, (48 Ki − 384) / 112 → 432 at most.
  CHECK(detail::gemm_depth<float>(100) == 100);
  CHECK(detail::gemm_depth<float>(432) == 432);
  CHECK(detail::gemm_depth<float>(784) == 400);  // 432 − 8 · ⌊(431 − 352) / 16⌋
  CHECK(detail::gemm_depth<float>(1024) == 344);  // three passes: 432 − 8 · ⌊(431 − 160) / 24⌋
  CHECK(detail::gemm_depth<float>(864) == 432);
  std::ptrdiff_t l1 = 0, l2 = 0, l3 = 0;
  Eigen::internal::manage_caching_sizes(Eigen::GetAction, &l1, &l2, &l3);
  struct Restore {
    std::ptrdiff_t l1, l2, l3;
    ~Restore() { Eigen::setCpuCacheSizes(l1, l2, l3); }
  } restore{l1, l2, l3};
  const auto run = [](Index m, Index n, Index k) {
    Rng rng(7);
    Matrix<float> a(m, k), b(k, n);
    for (float& v : a.reshaped()) v = static_cast<float>(rng.normal());
    for (float& v : b.reshaped()) v = static_cast<float>(rng.normal());
    Matrix<float> c = Matrix<float>::Zero(m, n);
    GemmWorkspace<float> ws;
    gemm<Op::none, Op::none>(m, n, k, a.data(), m, b.data(), k, c.data(), m, 1.0f, ws);
    return c;
  };
  struct Shape {
    Index m, n, k;
  };
  for (const Shape sh : {Shape{256, 64, 784}, Shape{128, 96, 1024}, Shape{64, 40, 300}}) {
    INFO("m " << sh.m << ", n " << sh.n << ", k " << sh.k);
    Eigen::setCpuCacheSizes(48 * 1024, 1024 * 1024, 32 * 1024 * 1024);
    const Matrix<float> reference = run(sh.m, sh.n, sh.k);
    for (const std::ptrdiff_t cache : {16 * 1024, 32 * 1024, 64 * 1024}) {
      INFO("L1 " << cache);
      Eigen::setCpuCacheSizes(cache, 16 * cache, 512 * cache);
      const Matrix<float> c = run(sh.m, sh.n, sh.k);
      CHECK(std::memcmp(c.data(), reference.data(),
                        sizeof(float) * static_cast<std::size_t>(c.size())) == 0);
    }
  }
}

namespace {

// C = 0.5 · op(A) op(B) by `gemm` with `overwrite` on `threads` threads, with an epilogue that
// records each block it is given and copies the block's columns (what they held when passed).
template <Op OpA, Op OpB>
Matrix<float> overwritten(const Matrix<float>& a, const Matrix<float>& b, Index m, Index n,
                          int threads, bool with_epilogue,
                          std::vector<std::pair<Index, Index>>* blocks, Matrix<float>* seen) {
  const int before = thread_count();
  set_thread_count(threads);
  set_adaptive_split(false);
  Matrix<float> c = Matrix<float>::Constant(m, n, std::nanf(""));  // overwrite must clear it all
  GemmWorkspace<float> ws;
  const Index k = OpA == Op::none ? a.cols() : a.rows();
  if (with_epilogue) {
    std::mutex guard;
    *seen = Matrix<float>::Constant(m, n, -1.0f);
    gemm<OpA, OpB>(m, n, k, a.data(), a.outerStride(), b.data(), b.outerStride(), c.data(),
                   c.outerStride(), 0.5f, ws, true, [&](Index c0, Index c1) {
                     seen->middleCols(c0, c1 - c0) = c.middleCols(c0, c1 - c0);
                     const std::lock_guard lock(guard);
                     blocks->emplace_back(c0, c1);
                   });
  } else {
    gemm<OpA, OpB>(m, n, k, a.data(), a.outerStride(), b.data(), b.outerStride(), c.data(),
                   c.outerStride(), 0.5f, ws, true);
  }
  set_thread_count(before);
  set_adaptive_split(true);
  return c;
}

}  // namespace

TEST_CASE("an overwriting product in column blocks and its epilogue give the same bits",
          "[core][threads]") {
  // 700 rows of floats: blocks of 184 columns (512 KiB / 2 800 bytes, down to a multiple of 8),
  // so 600 columns are four blocks on one thread and more on two or three. Every block must be
  // whole columns, passed once, final when passed; the result must not depend on the blocks,
  // the epilogue or the thread count. The matrix-vector product and k = 0 pass all of C at once.
  CHECK(detail::gemm_block_columns<float>(700) == 184);
  CHECK(detail::gemm_block_columns<double>(1 << 20) == 8);
  struct Shape {
    Index m, n, k;
  };
  for (const Shape sh : {Shape{700, 600, 64}, Shape{700, 1, 64}, Shape{130, 37, 784},
                         Shape{700, 600, 0}, Shape{40, 300, 16}}) {
    INFO("m " << sh.m << ", n " << sh.n << ", k " << sh.k);
    const Matrix<float> a = Matrix<float>::Random(sh.m, sh.k);
    const Matrix<float> bt = Matrix<float>::Random(sh.n, sh.k);  // op(B) = btᵀ
    const Matrix<float> b = bt.transpose();
    Matrix<float> expected = Matrix<float>::Zero(sh.m, sh.n);
    expected.noalias() += 0.5f * a * b;
    const Matrix<float> plain =
        overwritten<Op::none, Op::transpose>(a, bt, sh.m, sh.n, 1, false, nullptr, nullptr);
    CHECK((plain - expected).cwiseAbs().maxCoeff() <= 1e-4f * static_cast<float>(sh.k + 1));
    for (int threads : {1, 2, 3}) {
      INFO(threads << " threads");
      std::vector<std::pair<Index, Index>> blocks;
      Matrix<float> seen;
      const Matrix<float> c =
          overwritten<Op::none, Op::transpose>(a, bt, sh.m, sh.n, threads, true, &blocks, &seen);
      CHECK(std::memcmp(c.data(), plain.data(),
                        sizeof(float) * static_cast<std::size_t>(c.size())) == 0);
      CHECK(std::memcmp(seen.data(), c.data(),
                        sizeof(float) * static_cast<std::size_t>(c.size())) == 0);
      std::sort(blocks.begin(), blocks.end());
      Index next = 0;
      for (const auto& [c0, c1] : blocks) {
        CHECK(c0 == next);
        CHECK(c1 > c0);
        CHECK((c1 == sh.n || c1 % 8 == 0));
        if (sh.n > 1 && sh.k > 0) CHECK(c1 - c0 <= detail::gemm_block_columns<float>(sh.m));
        next = c1;
      }
      CHECK(next == sh.n);
      if (sh.m == 700 && sh.n == 600 && sh.k > 0) CHECK(blocks.size() >= 4);
      // The same with both operands as stored (which alone would split by rows when n ≤ m): an
      // epilogue splits by columns, with the same bits.
      const Matrix<float> cn =
          overwritten<Op::none, Op::none>(a, b, sh.m, sh.n, threads, true, &blocks, &seen);
      const Matrix<float> pn =
          overwritten<Op::none, Op::none>(a, b, sh.m, sh.n, threads, false, nullptr, nullptr);
      CHECK(std::memcmp(cn.data(), pn.data(),
                        sizeof(float) * static_cast<std::size_t>(cn.size())) == 0);
      CHECK((pn - expected).cwiseAbs().maxCoeff() <= 1e-4f * static_cast<float>(sh.k + 1));
    }
  }
}

TEST_CASE("threading rule and settings", "[core][threads]") {
  const int before = thread_count();
  set_thread_count(0);
  CHECK(thread_count() == 1);
  CHECK(threads_for(1e12, kMinFlopsPerThread) == 1);
  set_thread_count(4);
  CHECK(threads_for(1e5, kMinFlopsPerThread) == 1);  // small products stay on the caller
  CHECK(threads_for(2.5 * kMinFlopsPerThread, kMinFlopsPerThread) == 2);
  CHECK(threads_for(1e12, kMinFlopsPerThread) == 4);
  // Every row range handed out once, each row exactly once.
  std::vector<std::atomic<int>> hits(1000);
  detail::parallel_rows(1000, 1000, [&](Index begin, Index end) {
    for (Index r = begin; r < end; ++r) hits[static_cast<std::size_t>(r)]++;
  });
  CHECK(std::all_of(hits.begin(), hits.end(), [](const auto& h) { return h.load() == 1; }));
  set_thread_count(before);
}

namespace {

// Feeds `windows` whole windows to `chooser`, each operation costing `split_ns` when split and
// `alone_ns` otherwise (one unit of work each); returns the mode of every window.
std::vector<bool> feed(detail::SplitChooser& chooser, double split_ns, double alone_ns,
                       int windows) {
  using C = detail::SplitChooser;
  REQUIRE(std::min(split_ns, alone_ns) * C::kWindowRegions >= C::kWindowNs);
  std::vector<bool> modes;
  for (int w = 0; w < windows; ++w) {
    const bool split = chooser.split();
    modes.push_back(split);
    for (int r = 0; r < C::kWindowRegions; ++r) {
      CHECK(chooser.split() == split);  // the mode holds for a whole window
      chooser.record(split ? split_ns : alone_ns, 1.0);
    }
  }
  return modes;
}

}  // namespace

TEST_CASE("the split chooser follows the faster mode and probes ever more rarely",
          "[core][threads]") {
  using C = detail::SplitChooser;
  // An operation long enough that kWindowRegions of them, at any cost below, close a window.
  const double op = 2 * C::kWindowNs / C::kWindowRegions;
  C chooser;
  CHECK(chooser.split());
  SECTION("an idle machine: splitting stays, probes of the caller alone double their spacing") {
    const std::vector<bool> modes = feed(chooser, op, 1.8 * op, 16);
    // Window 0 split, 1 a probe alone; then 2, 4, 8 windows between probes.
    const std::vector<bool> expected{true, false, true, true, false, true, true, true,
                                     true, false, true, true, true,  true, true, true};
    CHECK(modes == expected);
    CHECK(chooser.prefers_split());
  }
  SECTION("a busy core: the first probe switches to the caller alone, and back when it frees") {
    std::vector<bool> modes = feed(chooser, 2.8 * op, op, 8);
    // Split, probe alone (switches: alone is faster), then probes of splitting after 1, 2, 4.
    CHECK(modes == std::vector<bool>{true, false, false, true, false, false, true, false});
    CHECK_FALSE(chooser.prefers_split());
    // The machine frees up: the next probe of splitting wins and it switches back at once.
    modes = feed(chooser, 0.6 * op, op, 6);
    CHECK(chooser.split());
    CHECK(chooser.prefers_split());
    CHECK(std::count(modes.begin(), modes.end(), true) >= 2);
  }
  SECTION("a probe within the margin does not switch") {
    feed(chooser, op, 0.99 * op, 10);
    CHECK(chooser.prefers_split());
  }
  SECTION("probes are at most kMaxBetween windows apart") {
    const std::vector<bool> modes = feed(chooser, op, 2 * op, 2000);
    int since = 0, longest = 0;
    for (const bool split : modes) {
      since = split ? since + 1 : 0;
      longest = std::max(longest, since);
    }
    CHECK(longest == C::kMaxBetween);
    CHECK(chooser.prefers_split());
  }
}

TEST_CASE("operations run alone while the pool is not splitting give the same bits",
          "[core][threads]") {
  // Whatever the chooser decides, every piece runs exactly once and products match the split.
  const int before = thread_count();
  set_thread_count(2);
  std::vector<std::atomic<int>> hits(1000);
  detail::WorkerPool::instance().run(
      4,
      [&](int t) {
        for (int r = 250 * t; r < 250 * (t + 1); ++r) hits[static_cast<std::size_t>(r)]++;
      },
      1000.0);
  CHECK(std::all_of(hits.begin(), hits.end(), [](const auto& h) { return h.load() == 1; }));
  set_adaptive_split(false);
  CHECK_FALSE(adaptive_split());
  const Matrix<float> a = Matrix<float>::Random(256, 256), b = Matrix<float>::Random(256, 64);
  Matrix<float> split = Matrix<float>::Zero(256, 64), alone = split;
  GemmWorkspace<float> ws;
  gemm<Op::none, Op::none>(256, 64, 256, a.data(), 256, b.data(), 256, split.data(), 256, 1.0f, ws);
  set_thread_count(1);
  gemm<Op::none, Op::none>(256, 64, 256, a.data(), 256, b.data(), 256, alone.data(), 256, 1.0f, ws);
  CHECK(split == alone);
  set_adaptive_split(true);
  set_thread_count(before);
}

TEST_CASE("the pool runs an operation's undivided form whenever it runs it on the caller",
          "[core][threads]") {
  int shares = 0, whole = 0;
  const auto task = [&](int) { ++shares; };
  const auto alone = [&] { ++whole; };
  detail::WorkerPool::instance().run(1, task, 1.0, alone);  // one share: on the caller
  CHECK(shares == 0);
  CHECK(whole == 1);
  // Split always: the shares run (the second on a worker), never the undivided form.
  const int before = thread_count();
  set_thread_count(2);
  set_adaptive_split(false);
  std::atomic<int> split_shares{0};
  detail::WorkerPool::instance().run(
      2, [&](int) { ++split_shares; }, 1.0, alone);
  set_adaptive_split(true);
  set_thread_count(before);
  CHECK(split_shares == 2);
  CHECK(whole == 1);
}

TEST_CASE("user threads sharing the worker pool get correct products", "[core][threads]") {
  // Several user threads multiply at once: one holds the pool, the others run alone.
  const int before = thread_count();
  set_thread_count(2);
  const Matrix<float> a = Matrix<float>::Random(512, 512), b = Matrix<float>::Random(512, 96);
  const Matrix<float> expected = a.transpose() * b;
  std::vector<std::thread> users;
  std::atomic<int> wrong{0};
  for (int u = 0; u < 4; ++u) {
    users.emplace_back([&] {
      GemmWorkspace<float> ws;
      for (int rep = 0; rep < 20; ++rep) {
        Matrix<float> c = Matrix<float>::Zero(512, 96);
        gemm<Op::transpose, Op::none>(512, 96, 512, a.data(), 512, b.data(), 512, c.data(), 512,
                                      1.0f, ws);
        if ((c - expected).cwiseAbs().maxCoeff() > 1e-2f) ++wrong;
      }
    });
  }
  for (auto& t : users) t.join();
  CHECK(wrong == 0);
  set_thread_count(before);
}

TEST_CASE("training on two threads is bit-identical to one thread", "[core][threads]") {
  // Products, Adam's split update (young neurons included), the element-wise passes between the
  // products (split when a layer's output batch is large enough: 1024 × 256 here) and the loss:
  // results must not depend on the thread count.
  const auto train = [](int threads, const std::vector<Index>& sizes, Index batch) {
    const int before = thread_count();
    set_thread_count(threads);
    set_adaptive_split(false);  // split whenever the rule says so: the split is what is tested
    Mlp<float, Relu> net(sizes, 3);
    Adam<float> opt{.learning_rate = 1e-3f};
    Workspace<float> ws;
    Matrix<float> X(sizes.front(), batch);
    Rng data(7);
    data.fill_normal(std::span<float>(X.data(), static_cast<std::size_t>(X.size())), 0.0, 1.0);
    std::vector<int> y(static_cast<std::size_t>(batch));
    for (std::size_t i = 0; i < y.size(); ++i) y[i] = static_cast<int>(i % 10);
    for (int step = 0; step < 6; ++step) {
      if (step == 3) net.grow_neurons(0, 5, init::He{});
      const auto logits = net.forward_train(X, ws);
      auto g = ws.output_gradient();
      SoftmaxCrossEntropy::evaluate(logits, Targets<float>{.labels = y}, &g);
      net.backward(X, ws);
      opt.step(net);
    }
    set_thread_count(before);
    set_adaptive_split(true);
    return net;
  };
  for (const auto& [sizes, batch] :
       {std::pair{std::vector<Index>{784, 256, 10}, Index{64}},
        std::pair{std::vector<Index>{64, 1024, 1024, 10}, Index{256}}}) {
    INFO("hidden width " << sizes[1] << ", batch " << batch);
    const auto one = train(1, sizes, batch), two = train(2, sizes, batch);
    for (Index l = 0; l < one.layer_count(); ++l) {
      const Matrix<float> a = one.weights(l), b = two.weights(l);
      CHECK(std::memcmp(a.data(), b.data(), sizeof(float) * static_cast<std::size_t>(a.size())) ==
            0);
      CHECK(Matrix<float>(one.bias(l)) == Matrix<float>(two.bias(l)));
    }
  }
}

TEST_CASE("reshape_zero zeroes within capacity and beyond it", "[core][storage]") {
  GrowableMatrix<float> m(3, 3);
  m.view().setConstant(5.0f);
  m.reshape_zero(2, 3);  // within capacity: written
  CHECK(m.view().isZero());
  m.view().setConstant(5.0f);
  m.reshape_zero(300, 400);  // a fresh buffer: zero without being written
  CHECK(m.view().isZero());
  m.view().setConstant(5.0f);
  m.reshape_zero(300, 400);  // the same shape again: written
  CHECK(m.view().isZero());
}

TEST_CASE("spare capacity stays zero, so zero-filled growth writes nothing", "[core][storage]") {
  for (bool row_major : {true, false}) {
    INFO((row_major ? "row-major" : "column-major"));
    const auto check = [](auto& g) {
      g.reserve(9, 11);
      g.reshape_zero(4, 6);
      g.view().setConstant(7.0f);
      CHECK(g.spare_is_zero());
      // Removing moves the tail into the holes; the vacated tail must be cleared...
      g.apply(AxisEdit::remove(6, {1, 2}), Dim::cols);
      g.apply(AxisEdit::remove(4, {0}), Dim::rows);
      CHECK(g.spare_is_zero());
      // ...because growing with zeros now skips writing them.
      g.apply(AxisEdit::grow(4, 5), Dim::cols);
      g.apply(AxisEdit::grow(3, 6), Dim::rows);
      CHECK(g.view().leftCols(4).topRows(3).isConstant(7.0f));
      CHECK(g.view().rightCols(5).isZero());
      CHECK(g.view().bottomRows(6).isZero());
      // A workspace-style shrink leaves data behind: then zeros are written again.
      g.reshape_uninitialized(2, 2);
      CHECK_FALSE(g.spare_is_zero());
      g.apply(AxisEdit::grow(2, 7), Dim::rows);
      g.apply(AxisEdit::grow(2, 9), Dim::cols);
      CHECK(g.view().bottomRows(7).isZero());
      CHECK(g.view().rightCols(7).isZero());
      // A grown null-filled slot is zero exactly when the spare was.
      GrowableMatrix<float> fresh(2, 2);
      fresh.reserve(4, 4);
      fresh.apply(AxisEdit::grow(2, 1), Dim::rows, nullptr);
      CHECK(fresh.spare_is_zero());
      CHECK(fresh.view().row(2).isZero());
    };
    if (row_major) {
      GrowableMatrix<float, Eigen::RowMajor> g;
      check(g);
    } else {
      GrowableMatrix<float> g;
      check(g);
    }
  }
  // Large buffers come from the kernel already zero.
  GrowableMatrix<double> big;
  big.reserve(1024, 1024);
  big.reshape_uninitialized(1024, 1024);
  CHECK(big.view().isZero());
}

#if defined(__linux__)
namespace {
// Resident memory of this process, from /proc/self/statm (pages × page size).
std::size_t resident_bytes() {
  std::FILE* f = std::fopen("/proc/self/statm", "r");
  REQUIRE(f != nullptr);
  unsigned long size = 0, resident = 0;
  const int read = std::fscanf(f, "%lu %lu", &size, &resident);
  std::fclose(f);
  REQUIRE(read == 2);
  return resident * static_cast<std::size_t>(sysconf(_SC_PAGESIZE));
}
}  // namespace

TEST_CASE("reserve commits its memory, growth past capacity does not", "[core][storage]") {
  // 4096 × 2048 floats = 32 MiB. After reserve the pages are resident, so growth into them later
  // does not pay for page faults. Reallocation past capacity stays lazy: its spare half is only
  // faulted in when growth reaches it.
  const std::size_t before = resident_bytes();
  GrowableMatrix<float, Eigen::RowMajor> reserved(1, 2048);
  reserved.reserve(4096, 2048);
  const std::size_t after_reserve = resident_bytes();
  CHECK(after_reserve - before >= std::size_t{30} << 20);
  CHECK(reserved.view().isZero());

  GrowableMatrix<float, Eigen::RowMajor> grown(1, 2048);
  grown.apply(AxisEdit::grow(1, 4095), Dim::rows, nullptr);  // reallocates to 4096 rows, lazily
  CHECK(resident_bytes() - after_reserve < std::size_t{8} << 20);
  CHECK(grown.view().isZero());
}
#endif
