#pragma once
/// \file
/// Feature standardisation fitted on the training set and applied unchanged to every other set.

#include <cmath>
#include <string>

#include "neuroplast/core/error.hpp"
#include "neuroplast/core/types.hpp"
#include "neuroplast/data/dataset.hpp"

namespace neuroplast {

/// Maps each feature x to (x − mean) / sd with the mean and standard deviation of the samples it
/// was fitted on (`fit`); a feature that was constant there is only centred (sd taken as 1), so a
/// constant pixel does not become a division by zero. Fit it on the training set alone and apply
/// the same scaler to validation, test and inference data: statistics from held-out data would
/// leak it into training.
template <Scalar T>
struct StandardScaler {
  Vector<T> mean{};  ///< per feature, `feature_count`
  Vector<T> sd{};    ///< per feature, `feature_count`; 1 for a feature constant when fitted

  /// The scaler of `features` (`feature_count × n`, n ≥ 1). Throws Error on an empty matrix, a
  /// value that is not finite, or a feature whose spread overflows the scalar type.
  static StandardScaler fit(const MatrixRef<T>& features) {
    if (features.rows() == 0 || features.cols() == 0) {
      detail::fail("StandardScaler::fit: features are ",
                   detail::format_shape(features.rows(), features.cols()),
                   "; need at least one feature and one sample (features × samples)");
    }
    detail::require_finite(features, "StandardScaler::fit", "feature");
    StandardScaler s;
    // Accumulated in double: a float sum of 60 000 pixels loses the digits the variance needs.
    const Eigen::MatrixXd x = features.template cast<double>();
    const Eigen::VectorXd m = x.rowwise().mean();
    const Eigen::VectorXd var = (x.colwise() - m).array().square().rowwise().mean();
    s.mean = m.template cast<T>();
    s.sd = var.unaryExpr([](double v) { return v > 0 ? std::sqrt(v) : 1.0; }).template cast<T>();
    for (Index f = 0; f < s.sd.size(); ++f) {
      if (!std::isfinite(static_cast<double>(s.sd(f)))) {
        detail::fail("StandardScaler::fit: feature ", f, "'s standard deviation overflows (values ",
                     "near the scalar type's largest); rescale that feature first");
      }
    }
    return s;
  }

  /// The scaler fitted on the features of `data`.
  static StandardScaler fit(const Dataset<T>& data) { return fit(data.features()); }

  /// Features with `mean.size()` rows, standardised. Throws Error on another row count or an
  /// unfitted scaler.
  Matrix<T> transform(const MatrixRef<T>& features) const {
    require_fits(features.rows(), "transform");
    return ((features.colwise() - mean).array().colwise() / sd.array()).matrix();
  }

  /// `data` with standardised features and the same labels or targets.
  Dataset<T> transform(const Dataset<T>& data) const {
    Matrix<T> x = transform(data.features());
    if (data.has_labels()) return Dataset<T>(std::move(x), data.labels());
    return Dataset<T>(std::move(x), data.targets());
  }

  /// Undoes `transform`: features in the original units.
  Matrix<T> inverse_transform(const Matrix<T>& features) const {
    require_fits(features.rows(), "inverse_transform");
    return ((features.array().colwise() * sd.array()).matrix().colwise() + mean);
  }

 private:
  void require_fits(Index rows, const char* who) const {
    if (mean.size() == 0) detail::fail("StandardScaler::", who, ": the scaler was never fitted");
    if (rows != mean.size()) {
      detail::fail("StandardScaler::", who, ": data have ", rows, " features but the scaler was ",
                   "fitted on ", mean.size(), "; use the scaler of the same kind of data");
    }
  }
};

}  // namespace neuroplast
