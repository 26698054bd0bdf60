#pragma once
/// \file
/// The paper's Eq. 1: growth is triggered when the loss stops moving.

#include <cmath>

#include "neuroplast/core/error.hpp"
#include "neuroplast/train/history.hpp"

namespace neuroplast {

/// Fires at the end of epoch e when Δloss = |loss_e − loss_{e−1}| < `delta` (Eq. 1), taken as a
/// sign that the network has reached its capacity.
///
/// Options: `use_validation_loss` compares validation losses instead of training losses (when the
/// run has a validation set); `relative` compares |Δ| / |loss_{e−1}| with `delta`; `cooldown`
/// epochs must pass after the last structural event before it can fire again (so a grown network
/// has time to use its new neurons); it never fires before `min_epochs` epochs.
struct LossPlateau {
  double delta = 1e-3;               ///< fires when Δloss is below this, > 0
  bool use_validation_loss = false;  ///< compare validation losses, when there are any
  bool relative = false;             ///< compare |Δ| / |loss_{e−1}| instead of |Δ|
  int cooldown = 2;                  ///< epochs after a structural event it stays silent, ≥ 0
  int min_epochs = 2;                ///< epochs before it may fire, ≥ 2

  /// Throws Error unless delta > 0, cooldown ≥ 0 and min_epochs ≥ 2.
  void validate() const {
    if (!(delta > 0 && std::isfinite(delta)))
      detail::fail("LossPlateau: delta = ", delta, " must be > 0");
    if (cooldown < 0) detail::fail("LossPlateau: cooldown = ", cooldown, " must be ≥ 0");
    if (min_epochs < 2)
      detail::fail("LossPlateau: min_epochs = ", min_epochs,
                   " must be ≥ 2 (Δloss needs two epochs)");
  }

  /// |Δloss| (or its relative version) between the last two epochs; NaN with fewer than two.
  double change(const History& h) const {
    if (h.epochs.size() < 2) return std::nan("");
    const EpochRecord& now = h.epochs.back();
    const EpochRecord& before = h.epochs[h.epochs.size() - 2];
    const bool validation = use_validation_loss && !std::isnan(now.validation_loss);
    const double a = validation ? now.validation_loss : now.train_loss;
    const double b = validation ? before.validation_loss : before.train_loss;
    const double d = std::abs(a - b);
    return relative ? d / std::max(std::abs(b), 1e-12) : d;
  }

  /// Whether Eq. 1 holds at the end of the last epoch, given the epoch of the last structural
  /// event (0 = none yet).
  bool fires(const History& h, int last_event_epoch) const {
    if (static_cast<int>(h.epochs.size()) < min_epochs) return false;
    const int epoch = h.epochs.back().epoch;
    if (last_event_epoch > 0 && epoch - last_event_epoch <= cooldown) return false;
    const double c = change(h);
    return !std::isnan(c) && c < delta;
  }
};

}  // namespace neuroplast
