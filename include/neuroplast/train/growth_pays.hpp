#pragma once
/// \file
/// When to stop growing, by default: when growth has stopped paying for itself.

#include <algorithm>
#include <cmath>
#include <limits>
#include <vector>

#include "neuroplast/core/error.hpp"
#include "neuroplast/train/history.hpp"

namespace neuroplast {

/// Stops growth once each of the last `patience` growth steps failed to improve the best
/// validation score (training loss without a validation set) by a margin. A growth step is every
/// growth event of one epoch (a policy may grow several layers at once); step i at epoch t_i pays
/// when the best score in (t_i, t_{i+1}] (t_{i+1}: the next step, or now, but no later than
/// t_i plus the epochs after `since` up to t_i) beats the best score up to t_i by
///
/// - a relative loss gain of `min_gain` beyond the trend: best loss after < best loss before ×
///   (1 − trend − min_gain), where the trend is the relative gain of the best loss over an equally
///   long stretch ending at t_i, slowed down geometrically when that stretch decelerated
///   (`decelerated_trend`); unless the accuracy before was already 100% (a lower loss then
///   only sharpens confidence), or
/// - an accuracy gain of `min_accuracy_gain` (absolute, classification with a validation set)
///   beyond the accuracy's trend, while the best loss did not worsen. That trend, like the loss's,
///   is relative: the error rate (1 − accuracy) shrinks after the step by the factor it shrank by
///   over the stretch before (`accuracy_trend`).
///
/// The trend is what training alone would have gained: a network still learning steadily improves
/// after any step, and crediting that to growth grew digits from 64-2-2-10 to 4096-4096 (every
/// step "paid" 7-14% of validation loss, as much as the same epochs had gained before it).
///
/// A step also pays while the best loss before it is still within `min_learned` (relative) of the
/// loss of chance (`stuck`): a network stuck on its initial plateau cannot show what growth does.
///
/// AutoGrow's stopping rule in spirit: a layer stops when adding to it no longer helps. Unlike
/// "the last epochs are below the best", single noisy epochs cannot end growth, and a network
/// that already fits stops after `patience` growth steps (it never stops before growing).
/// Only epochs after `since` count (a policy passes the epoch of new data).
///
/// With `grow_while_paying`, a growth step that paid is followed by the next one as soon as it
/// has had its window (one trigger window after it), without waiting for the trigger: sizing
/// becomes a doubling search that continues while each doubling beats the trend and falls back
/// to the trigger once one does not. Growth that waits for stagnation comes late: on a small
/// data set the cross-entropy of a separable training set keeps falling by a constant factor
/// per window and the trigger may never fire again, and a network that grows late has few
/// windows left (digits stopped at 32-32, 97.3%, where 128-128 reaches 98.3%; studies of growth
/// timing find growing before convergence better than after it). A network that classifies every
/// judged sample right is not grown this way (`paying`).
///
/// A policy also takes a growth step, without waiting for the trigger, once the network overfits:
/// the validation loss has not reached a new best for `overfit_windows` trigger windows since the
/// last structural event while the training loss still falls (`overfits`). A network that fits
/// its training set can still generalise better when wider (digits from 64-2-2-10: 97.2% at
/// 27-27, 98.3% at 315-315); such a step is judged like any other, so a network that already
/// fits ends growth after `patience` steps that did not pay.
struct GrowthPays {
  int patience = 2;                 ///< consecutive growth steps without gain that end growth
  double min_gain = 0.02;           ///< relative loss improvement that counts as a gain
  double min_accuracy_gain = 0.01;  ///< validation accuracy gain that counts (0.01 = 1 point)
  double min_learned = 0.2;         ///< steps count once the loss fell this much below chance
  int overfit_windows = 3;          ///< windows without a new best validation loss that grow
  bool grow_while_paying = true;    ///< grow again one window after a step that paid (`paying`)
  bool stop_when_fit = true;        ///< growth due on a network that `fits` ends the phase instead

  /// Throws Error unless patience ≥ 1 and both margins are ≥ 0 (min_gain < 1).
  void validate() const {
    if (patience < 1) detail::fail("GrowthPays: patience = ", patience, " must be ≥ 1");
    if (!(min_gain >= 0 && min_gain < 1))
      detail::fail("GrowthPays: min_gain = ", min_gain, " must lie in [0, 1)");
    if (!(min_accuracy_gain >= 0))
      detail::fail("GrowthPays: min_accuracy_gain = ", min_accuracy_gain, " must be ≥ 0");
    if (!(min_learned >= 0 && min_learned < 1))
      detail::fail("GrowthPays: min_learned = ", min_learned, " must lie in [0, 1)");
    if (overfit_windows < 1)
      detail::fail("GrowthPays: overfit_windows = ", overfit_windows, " must be ≥ 1");
  }

  /// Whether the validation loss of the epochs after `since` last reached its best at least
  /// `overfit_windows` × `window` epochs before the last epoch. False without a validation loss,
  /// and while fewer epochs than that have passed since `since`.
  bool overfits(const History& h, int since, int window) const {
    if (h.epochs.empty() || std::isnan(h.epochs.back().validation_loss)) return false;
    double best = std::numeric_limits<double>::infinity();
    int best_epoch = since;
    for (const EpochRecord& e : h.epochs) {
      if (e.epoch <= since || !(e.validation_loss < best)) continue;
      best = e.validation_loss;
      best_epoch = e.epoch;
    }
    const int patience_epochs = overfit_windows * std::max(window, 1);
    return best_epoch > since && h.epochs.back().epoch - best_epoch >= patience_epochs;
  }

  /// Whether growth step `step` of `steps` (epochs) paid, judged on the epochs of `h` after
  /// `since`. `chance`: the judged loss of the best constant prediction
  /// (`constant_prediction_loss`), which the initial plateau is measured from (`stuck`); NaN
  /// measures it from the first epoch's loss.
  bool paid(const History& h, int since, const std::vector<int>& steps, std::size_t step,
            double chance = std::numeric_limits<double>::quiet_NaN()) const {
    const int at = steps[step];
    // The counterfactual: how much the best scores improved in a stretch as long as the one being
    // judged, ending at the step. Training alone keeps improving them; growth pays only when it
    // beats that trend by the margin. The judged stretch is therefore no longer than the epochs
    // after `since` before the step: judged over more, the trend would lack epochs to measure
    // and fall to 0, and a step that did not pay in its window would "pay" once enough later
    // training had piled up behind it (50 Gaussian classes: a step at epoch 31 that gained no
    // more than the trend was judged again at epoch 62 against a trend of 0, and the policy
    // doubled a network that already classified 99.9% of the validation set right).
    const int first = first_epoch_after(h, since, at);
    const int until = std::min(step + 1 < steps.size() ? steps[step + 1] : h.epochs.back().epoch,
                               std::max(at + (at - first), at + 1));
    const int trend_until = at - (until - at);
    constexpr double inf = std::numeric_limits<double>::infinity();
    double loss_before = inf, loss_after = inf, acc_before = -inf, acc_after = -inf;
    double loss_earlier = inf, acc_earlier = -inf;
    double first_loss = std::nan("");
    for (const EpochRecord& e : h.epochs) {
      if (e.epoch <= since || e.epoch > until) continue;
      const bool before = e.epoch <= at;
      const double loss = e.judged_loss();
      if (std::isnan(first_loss)) first_loss = loss;
      double& l = before ? loss_before : loss_after;
      l = std::min(l, loss);
      if (e.epoch <= trend_until) loss_earlier = std::min(loss_earlier, loss);
      if (!std::isnan(e.validation_accuracy)) {
        double& a = before ? acc_before : acc_after;
        a = std::max(a, e.validation_accuracy);
        if (e.epoch <= trend_until) acc_earlier = std::max(acc_earlier, e.validation_accuracy);
      }
    }
    if (loss_after == inf) return true;  // nothing trained since: too early to judge
    // A network whose loss is not yet `min_learned` below chance (`stuck`) is on its initial
    // plateau (two spirals stays at chance for hundreds of epochs): growth cannot be judged yet,
    // and stopping there would leave it too small for good.
    if (loss_before > (1 - min_learned) * plateau_reference(first_loss, chance)) return true;
    const double loss_trend =
        loss_earlier < inf ? decelerated_trend(h, since, trend_until, at, loss_earlier, loss_before)
                           : 0;
    const double acc_trend = acc_earlier > -inf ? accuracy_trend(acc_earlier, acc_before) : 0;
    // Once the judged samples are all classified right, a lower loss only sharpens confidence:
    // no reason to grow.
    const bool perfect = acc_before >= 1.0;
    if (!perfect && loss_after < loss_before * (1 - loss_trend - min_gain)) return true;
    // An accuracy gain counts only while the loss did not worsen: on a small validation set one
    // sample more or less moves the accuracy by more than any sensible margin.
    return acc_after > -inf && acc_after > acc_before + acc_trend + min_accuracy_gain &&
           loss_after <= loss_before;
  }

  /// The accuracy gain that training alone would have made over a stretch as long as the one
  /// before it, in which the best accuracy rose from `earlier` to `before`: the error rate shrinks
  /// again by the factor it shrank by, (1 − before)²/(1 − earlier) afterwards, a gain of
  /// (before − earlier)·(1 − before)/(1 − earlier); 0 when `earlier` is already 1. Why not the
  /// same gain again in points: a network leaving its plateau gains tens of points per stretch,
  /// and the next step was asked to beat a trend beyond 100%. Digits under SGD with momentum from
  /// 64-1-1-10: at 4-4 the accuracy rose from 10% to 72.5% in the 21 epochs before a step, so the
  /// step had to reach 135%; it reached 92.8% (the relative trend asks for 91.6% + 1 point), was
  /// judged not to pay, and with the next step growth ended at 16-16 and was rolled back to
  /// 8-8, 92.2% on the test set where fixed networks reach 96–97% (docs/results.md, the seventh
  /// probe). Never more than the plain difference, since (1 − before)/(1 − earlier) ≤ 1.
  static double accuracy_trend(double earlier, double before) {
    if (!(earlier < 1)) return 0;
    return (before - earlier) * (1 - before) / (1 - earlier);
  }

  /// The first epoch of `h` after `since`, or `fallback` when there is none.
  static int first_epoch_after(const History& h, int since, int fallback) {
    for (const EpochRecord& e : h.epochs)
      if (e.epoch > since) return e.epoch;
    return fallback;
  }

  /// The relative gain of the best judged loss that training alone would have made over the
  /// epochs (at, 2·at − trend_until], from the stretch (trend_until, at] before it, whose best
  /// losses after `since` are `earlier` (up to trend_until) and `before` (up to at), as `paid`
  /// finds them in `h`. Learning slows down: when the second half of the stretch gained less than
  /// the first (relative gains g_a > g_b ≥ 0; halves of ⌊L/2⌋ and ⌈L/2⌉ epochs for a stretch of
  /// L), the gains are extrapolated as a geometric series, g_b·r and g_b·r² for the two halves
  /// of the judged stretch with r = g_b / g_a; otherwise (and for stretches shorter than two
  /// epochs) the stretch's own gain, (earlier − before) / earlier, as if it went on unchanged.
  /// The plain extrapolation overstates a slowing curve and asks growth to beat a gain that
  /// training would not have made: Fashion-MNIST's seed 2 stopped at 64-64, two doublings in a
  /// row judged against the trend of its first, fastest epochs (Algorithm 3 ended that seed at
  /// 86.55%; with this rule at 88.23%). A second half that gained nothing (a noisy validation
  /// loss can do that) leaves `min_gain` alone as the bar. Only the loss trend slows down; the
  /// accuracy trend of `paid` stays the stretch's own.
  static double decelerated_trend(const History& h, int since, int trend_until, int at,
                                  double earlier, double before) {
    const double plain = (earlier - before) / earlier;
    if (at - trend_until < 2) return plain;
    const int middle = trend_until + (at - trend_until) / 2;
    double mid = std::numeric_limits<double>::infinity();
    for (const EpochRecord& e : h.epochs)
      if (e.epoch > since && e.epoch <= middle) mid = std::min(mid, e.judged_loss());
    const double first = (earlier - mid) / earlier, second = (mid - before) / mid;
    if (!(first > 0 && second >= 0 && second < first)) return plain;
    const double r = second / first;
    return std::min(plain, 1 - (1 - second * r) * (1 - second * r * r));
  }

  /// Whether the network is still on its initial plateau: its best loss (validation, else
  /// training) after `since` has not fallen `min_learned` below `chance`, the loss of the best
  /// constant prediction (`constant_prediction_loss`: what a network reaches that has learned
  /// nothing from the features), or below the first epoch's loss when `chance` is not a positive
  /// number. The first epoch is no plateau on large data: Fashion-MNIST's 860 steps take
  /// 784-16-10 from the 2.30 of chance to 0.51, and measured from there the network counted as
  /// stuck through its sixth epoch, each of its first two growth steps doubling the wait for the
  /// next (`plateau_steps`).
  bool stuck(const History& h, int since = 0,
             double chance = std::numeric_limits<double>::quiet_NaN()) const {
    double first = std::nan(""), best = std::numeric_limits<double>::infinity();
    for (const EpochRecord& e : h.epochs) {
      if (e.epoch <= since) continue;
      const double loss = e.judged_loss();
      if (std::isnan(first)) first = loss;
      best = std::min(best, loss);
    }
    return !std::isnan(first) && best > (1 - min_learned) * plateau_reference(first, chance);
  }

  /// The loss the initial plateau is measured from: `chance` when it is a positive number, else
  /// the first epoch's loss.
  static double plateau_reference(double first_loss, double chance) {
    return chance > 0 && std::isfinite(chance) ? chance : first_loss;
  }

  /// Epochs (after `since`) at which the network grew, one entry per epoch.
  static std::vector<int> growth_steps(const History& h, int since) {
    std::vector<int> steps;
    for (const StructuralEvent& e : h.events)
      if (e.grows() && e.epoch > since && (steps.empty() || steps.back() != e.epoch))
        steps.push_back(e.epoch);
    return steps;
  }

  /// Whether a policy should grow now without waiting for its trigger: `grow_while_paying` is
  /// set, the last structural event (at `last_event_epoch`) was a growth step after `since`, it
  /// has had its window (`window` epochs, h's last epoch at least that far after it), it paid
  /// (`paid`), and the network does not yet classify every judged sample right (its best
  /// validation accuracy after `since` is below 100%; regression and runs without a validation
  /// set are never perfect). Each step that paid thus leads to the next; the first that did not
  /// hands the timing back to the trigger. `chance` as for `paid`.
  bool paying(const History& h, int since, int last_event_epoch, int window,
              double chance = std::numeric_limits<double>::quiet_NaN()) const {
    if (!grow_while_paying || h.epochs.empty()) return false;
    if (h.epochs.back().epoch - last_event_epoch < std::max(window, 1)) return false;
    const std::vector<int> steps = growth_steps(h, since);
    if (steps.empty() || steps.back() != last_event_epoch) return false;
    if (fits(h, since)) return false;
    return paid(h, since, steps, steps.size() - 1, chance);
  }

  /// Whether the network classified every judged sample right (validation accuracy 100%) in an
  /// epoch after `since`. Never for regression or without a validation set. With `stop_when_fit`
  /// a policy whose growth is due on such a network (counted from its last structural event)
  /// ends the growth phase instead: no growth step taken then can pay (a lower loss of a perfect
  /// classifier does not count, and its accuracy cannot rise), so each would only spend a window
  /// before `patience` of them end the phase anyway. Blobs from 20-2-2-10 classified every
  /// validation sample right at 8 per layer and grew on to 32-32 (2 058 parameters, 8 × the
  /// best fixed network's), using the whole run, so Algorithm 3 never began pruning.
  static bool fits(const History& h, int since) {
    return std::any_of(h.epochs.begin(), h.epochs.end(), [&](const EpochRecord& e) {
      return e.epoch > since && e.validation_accuracy >= 1.0;
    });
  }

  /// Whether every epoch of `h` after `since` classified every judged sample right (validation
  /// accuracy 100%), and there is at least one such epoch. With `stop_when_fit`, a policy whose
  /// network has done so for a whole trigger window since its last structural event ends the
  /// growth phase without waiting for the trigger, which may never fire: the cross-entropy of a
  /// separable set keeps falling by a constant factor per window. Blobs from 20-2-2-10 was
  /// perfect from epoch 20 of 120 on, stayed in the growth phase until epoch 111, and left
  /// Algorithm 3 time for two prunings (404–558 active parameters, 2 × the best fixed network's;
  /// ending there: 88–99). A single perfect epoch is not enough: two spirals, judged on its
  /// training set, first reaches 100% while its loss is still high, and pruning a network that
  /// has only just learned undid prunings a settled one takes.
  static bool fits_throughout(const History& h, int since) {
    bool any = false;
    for (const EpochRecord& e : h.epochs) {
      if (e.epoch <= since) continue;
      if (!(e.validation_accuracy >= 1.0)) return false;
      any = true;
    }
    return any;
  }

  /// Whether the last `patience` growth steps after `since` all failed to pay. Call it when the
  /// growth trigger fires again: the last step has then had its window to show a gain. `chance`
  /// as for `paid`.
  bool stalled(const History& h, int since = 0,
               double chance = std::numeric_limits<double>::quiet_NaN()) const {
    if (h.epochs.empty()) return false;
    const std::vector<int> steps = growth_steps(h, since);
    if (steps.size() < static_cast<std::size_t>(patience)) return false;
    for (std::size_t i = steps.size() - static_cast<std::size_t>(patience); i < steps.size(); ++i)
      if (paid(h, since, steps, i, chance)) return false;
    return true;
  }
};

}  // namespace neuroplast
