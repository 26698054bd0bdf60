#pragma once
/// \file
/// Eigen aliases used across neuroplast. Samples are columns: a batch is `features × batch`.

#include <Eigen/Core>
#include <cmath>
#include <concepts>
#include <cstdint>
#include <sstream>
#include <string>
#include <vector>

namespace neuroplast {

/// Scalar types neuroplast is instantiated for.
template <class T>
concept Scalar = std::same_as<T, float> || std::same_as<T, double>;

/// Dense column-major matrix; a batch of samples is `features × batch`.
template <class T>
using Matrix = Eigen::Matrix<T, Eigen::Dynamic, Eigen::Dynamic>;

/// Dense column vector.
template <class T>
using Vector = Eigen::Matrix<T, Eigen::Dynamic, 1>;

/// Signed index type of Eigen, used for every size and index.
using Index = Eigen::Index;

/// Mutable view of the active block of a capacity buffer (column-major, outer stride = capacity).
template <class T>
using MatrixView = Eigen::Map<Matrix<T>, Eigen::Unaligned, Eigen::OuterStride<>>;

/// Read-only view of the active block of a capacity buffer.
template <class T>
using ConstMatrixView = Eigen::Map<const Matrix<T>, Eigen::Unaligned, Eigen::OuterStride<>>;

/// Read-only reference to any matrix-like input (a Matrix, a block of one, a view, or an
/// expression, which is evaluated once into a temporary).
template <class T>
using MatrixRef = Eigen::Ref<const Matrix<T>>;

/// Mutable view of a contiguous vector (bias, per-neuron statistics).
template <class T>
using VectorView = Eigen::Map<Vector<T>>;

/// Read-only view of a contiguous vector.
template <class T>
using ConstVectorView = Eigen::Map<const Vector<T>>;

namespace detail {

/// "{5, 7, 3}" — how sizes appear in error messages and progress lines.
inline std::string format_sizes(const std::vector<Index>& sizes) {
  std::ostringstream os;
  os << '{';
  for (std::size_t i = 0; i < sizes.size(); ++i) os << (i ? ", " : "") << sizes[i];
  os << '}';
  return os.str();
}

/// True when every coefficient is finite. x·0 is 0 for finite x and NaN for NaN and ±∞, so one
/// vectorised sum answers it; Eigen's `allFinite()` tests coefficient by coefficient, which made
/// the input check of an inference pass cost 12% of the pass (784-128-10, batch 64).
template <class Derived>
bool all_finite(const Eigen::DenseBase<Derived>& m) {
  using S = typename Derived::Scalar;
  if (m.size() == 0) return true;
  return !std::isnan(static_cast<double>((m.derived().array() * S(0)).sum()));
}

/// The row of the largest coefficient of each column of `m` (the first on ties): the class a
/// network predicts from each column of logits.
template <class Derived>
std::vector<int> argmax_per_column(const Eigen::MatrixBase<Derived>& m) {
  std::vector<int> out(static_cast<std::size_t>(m.cols()));
  for (Index c = 0; c < m.cols(); ++c) {
    Index best = 0;
    m.col(c).maxCoeff(&best);
    out[static_cast<std::size_t>(c)] = static_cast<int>(best);
  }
  return out;
}

/// "3 × 64" — how shapes appear in error messages.
inline std::string format_shape(Index rows, Index cols) {
  std::ostringstream os;
  os << rows << " × " << cols;
  return os.str();
}

}  // namespace detail
}  // namespace neuroplast
