#pragma once
/// \file
/// The loss a Trainer minimises: one of the built-in losses (`LossKind`) or a type of one's own.

#include <optional>
#include <string_view>
#include <type_traits>

#include "neuroplast/core/types.hpp"
#include "neuroplast/loss/loss_kind.hpp"
#include "neuroplast/loss/mse.hpp"
#include "neuroplast/loss/softmax_cross_entropy.hpp"
#include "neuroplast/loss/targets.hpp"

namespace neuroplast {

/// A loss as a value: `TrainOptions::loss`. Built from a `LossKind` (implicitly, so
/// `.loss = LossKind::mean_squared_error` reads as it always did) or, for a loss of one's own, from
/// a type with `name` and `evaluate(logits, targets, grad)` for float and double (concept
/// `Loss`, loss/targets.hpp) by `LossFunction::of<MyLoss>()`. A custom type may also declare
/// `static constexpr bool needs_labels = true` when it reads class labels only (the trainer then
/// refuses a dataset without them, as it does for cross-entropy).
///
/// A built-in loss is evaluated directly; a custom one through a function pointer, once per batch
/// (never per element). Policies relate a loss to the data through `constant_prediction_loss`,
/// which for a custom loss is its value at zero outputs (loss/constant_prediction.hpp).
class LossFunction {
 public:
  /// The built-in loss `kind`.
  LossFunction(LossKind kind = LossKind::softmax_cross_entropy) noexcept : kind_(kind) {}

  /// The loss computed by `L::evaluate` (see the class comment).
  template <class L>
    requires Loss<L, float> && Loss<L, double>
  static LossFunction of() noexcept {
    LossFunction f;
    f.custom_ = &kCustom<L>;
    return f;
  }

  /// The built-in kind, or nullopt for a custom loss.
  std::optional<LossKind> kind() const noexcept {
    return custom_ == nullptr ? std::optional<LossKind>(kind_) : std::nullopt;
  }
  /// "softmax_cross_entropy", "mean_squared_error" or the custom type's `name`.
  std::string_view name() const noexcept {
    if (custom_ != nullptr) return custom_->name;
    return kind_ == LossKind::mean_squared_error ? MeanSquaredError::name
                                                 : SoftmaxCrossEntropy::name;
  }
  /// Whether the loss reads class labels only (cross-entropy; a custom type's `needs_labels`).
  bool needs_labels() const noexcept {
    return custom_ != nullptr ? custom_->needs_labels : kind_ == LossKind::softmax_cross_entropy;
  }

  /// Mean loss of `logits` (`outputs × batch`) against `targets`; when `grad` is not null, writes
  /// dLoss/dlogits (`outputs × batch`, already sized) into it. Throws Error on targets the loss
  /// cannot use.
  template <class Logits, Scalar T, class Grad>
  T evaluate(const Eigen::MatrixBase<Logits>& logits, const Targets<T>& targets, Grad* grad) const {
    if (custom_ == nullptr) return evaluate_loss(kind_, logits, targets, grad);
    // A custom loss sees plain views: evaluate an expression once, view a matrix as it is.
    const auto call = [&](const ConstMatrixView<T>& z) {
      if (grad == nullptr) return custom_->call<T>(z, targets, nullptr);
      MatrixView<T> g(grad->data(), grad->rows(), grad->cols(),
                      Eigen::OuterStride<>(grad->outerStride()));
      return custom_->call<T>(z, targets, &g);
    };
    if constexpr (std::is_same_v<Logits, ConstMatrixView<T>>) {
      return call(logits.derived());
    } else {
      const Matrix<T> z = logits;
      return call(ConstMatrixView<T>(z.data(), z.rows(), z.cols(), Eigen::OuterStride<>(z.rows())));
    }
  }

  /// Same built-in kind, or same custom type.
  friend bool operator==(const LossFunction& a, const LossFunction& b) noexcept {
    return a.custom_ == b.custom_ && (a.custom_ != nullptr || a.kind_ == b.kind_);
  }

 private:
  struct Custom {
    std::string_view name;
    bool needs_labels;
    float (*f32)(const ConstMatrixView<float>&, const Targets<float>&, MatrixView<float>*);
    double (*f64)(const ConstMatrixView<double>&, const Targets<double>&, MatrixView<double>*);

    template <Scalar T>
    T call(const ConstMatrixView<T>& z, const Targets<T>& t, MatrixView<T>* g) const {
      if constexpr (std::is_same_v<T, float>) {
        return f32(z, t, g);
      } else {
        return f64(z, t, g);
      }
    }
  };

  template <class L>
  static constexpr bool declares_labels() {
    if constexpr (requires { L::needs_labels; }) {
      return static_cast<bool>(L::needs_labels);
    } else {
      return false;
    }
  }

  template <class L>
  static constexpr Custom kCustom{
      .name = L::name,
      .needs_labels = declares_labels<L>(),
      .f32 = [](const ConstMatrixView<float>& z, const Targets<float>& t,
                MatrixView<float>* g) -> float { return L::evaluate(z, t, g); },
      .f64 = [](const ConstMatrixView<double>& z, const Targets<double>& t,
                MatrixView<double>* g) -> double { return L::evaluate(z, t, g); }};

  LossKind kind_ = LossKind::softmax_cross_entropy;
  const Custom* custom_ = nullptr;  // null: the built-in `kind_`
};

}  // namespace neuroplast
