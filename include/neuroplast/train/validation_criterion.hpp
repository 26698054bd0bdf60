#pragma once
/// \file
/// "Criterion(val) consistently decreases": when the validation performance has got worse.

#include <cmath>
#include <limits>
#include <string_view>
#include <variant>

#include "neuroplast/core/error.hpp"
#include "neuroplast/train/growth_pays.hpp"
#include "neuroplast/train/history.hpp"

namespace neuroplast {

namespace detail {

// "Consistently worse": each of the last `patience` epochs (after `since`) is worse by more than
// `min_delta` than the best epoch before that window (and after `since`). `value` maps an epoch to
// a score where higher is better.
template <class Value>
bool consistently_worse(const History& h, int since, int patience, double min_delta, Value value) {
  std::size_t first = 0;
  while (first < h.epochs.size() && h.epochs[first].epoch <= since) ++first;
  const std::size_t n = h.epochs.size() - first;
  if (patience < 1 || n < static_cast<std::size_t>(patience) + 1) return false;
  const std::size_t window = h.epochs.size() - static_cast<std::size_t>(patience);
  double best = -std::numeric_limits<double>::infinity();
  for (std::size_t i = first; i < window; ++i) best = std::max(best, value(h.epochs[i]));
  for (std::size_t i = window; i < h.epochs.size(); ++i)
    if (!(value(h.epochs[i]) < best - min_delta)) return false;
  return true;
}

inline void check_patience(std::string_view who, int patience, double min_delta) {
  if (patience < 1) fail(who, ": patience = ", patience, " must be ≥ 1");
  if (!(min_delta >= 0)) fail(who, ": min_delta = ", min_delta, " must be ≥ 0");
}

}  // namespace detail

/// Validation accuracy "consistently decreases" when each of the last `patience` epochs is below
/// the best accuracy of the epochs before them by more than `min_delta`. Without a validation set
/// the training loss is used instead (lower is better).
struct ValidationAccuracy {
  int patience = 3;        ///< epochs in a row that must be worse, ≥ 1
  double min_delta = 0.0;  ///< how much worse than the best counts as worse, ≥ 0

  /// Throws Error unless `patience` ≥ 1 and `min_delta` ≥ 0.
  void validate() const { detail::check_patience("ValidationAccuracy", patience, min_delta); }
  /// Whether the criterion has worsened, counting only epochs after `since`.
  bool worsened(const History& h, int since = 0) const {
    return detail::consistently_worse(h, since, patience, min_delta, [](const EpochRecord& e) {
      return std::isnan(e.validation_accuracy) ? -e.train_loss : e.validation_accuracy;
    });
  }
};

/// Validation loss "consistently increases" when each of the last `patience` epochs is above the
/// best loss of the epochs before them by more than `min_delta` (training loss without a
/// validation set).
struct ValidationLoss {
  int patience = 3;        ///< epochs in a row that must be worse, ≥ 1
  double min_delta = 0.0;  ///< how much worse than the best counts as worse, ≥ 0

  /// Throws Error unless `patience` ≥ 1 and `min_delta` ≥ 0.
  void validate() const { detail::check_patience("ValidationLoss", patience, min_delta); }
  /// Whether the criterion has worsened, counting only epochs after `since`.
  bool worsened(const History& h, int since = 0) const {
    return detail::consistently_worse(h, since, patience, min_delta,
                                      [](const EpochRecord& e) { return -e.judged_loss(); });
  }
};

/// The criterion that ends a growth phase, chosen per policy: GrowthPays (default: growth stopped
/// paying, judged when the trigger fires) or the paper's "validation consistently worsens", by
/// accuracy or by loss (judged after every epoch).
using ValidationCriterion = std::variant<GrowthPays, ValidationAccuracy, ValidationLoss>;

namespace detail {

/// Whether an epoch-wise criterion (the paper's) has worsened since `since`; GrowthPays never
/// has (it judges growth steps, see `growth_stalled`).
inline bool criterion_worsened(const ValidationCriterion& c, const History& h, int since) {
  return std::visit(
      [&](const auto& v) {
        if constexpr (requires { v.worsened(h, since); }) {
          return v.worsened(h, since);
        } else {
          return false;
        }
      },
      c);
}

/// Whether growth stopped paying under GrowthPays (false for the epoch-wise criteria); `chance`
/// as for `GrowthPays::paid`.
inline bool growth_stalled(const ValidationCriterion& c, const History& h, int since,
                           double chance) {
  const auto* g = std::get_if<GrowthPays>(&c);
  return g != nullptr && g->stalled(h, since, chance);
}

/// Whether growth due now should end the phase because the network already classifies every
/// judged sample right (`GrowthPays::fits` since `since`, with `stop_when_fit`; false for the
/// epoch-wise criteria).
inline bool growth_fits(const ValidationCriterion& c, const History& h, int since) {
  const auto* g = std::get_if<GrowthPays>(&c);
  return g != nullptr && g->stop_when_fit && GrowthPays::fits(h, since);
}

/// Whether the growth phase should end because the network classified every judged sample right
/// in every epoch after `since` (`GrowthPays::fits_throughout`, with `stop_when_fit`; false for
/// the epoch-wise criteria).
inline bool growth_fits_throughout(const ValidationCriterion& c, const History& h, int since) {
  const auto* g = std::get_if<GrowthPays>(&c);
  return g != nullptr && g->stop_when_fit && GrowthPays::fits_throughout(h, since);
}

/// Whether the network overfits under GrowthPays (`GrowthPays::overfits`; false for the
/// epoch-wise criteria, under which only the trigger grows).
inline bool growth_overfits(const ValidationCriterion& c, const History& h, int since, int window) {
  const auto* g = std::get_if<GrowthPays>(&c);
  return g != nullptr && g->overfits(h, since, window);
}

/// Whether the last growth step paid and the next is due without the trigger under GrowthPays
/// (`GrowthPays::paying`; false for the epoch-wise criteria); `chance` as for `GrowthPays::paid`.
inline bool growth_paying(const ValidationCriterion& c, const History& h, int since,
                          int last_event_epoch, int window, double chance) {
  const auto* g = std::get_if<GrowthPays>(&c);
  return g != nullptr && g->paying(h, since, last_event_epoch, window, chance);
}

inline void validate_criterion(const ValidationCriterion& c) {
  std::visit([](const auto& v) { v.validate(); }, c);
}

}  // namespace detail

}  // namespace neuroplast
