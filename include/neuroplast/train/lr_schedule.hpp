#pragma once
/// \file
/// Learning-rate schedules that know about growth. Each gives the rate of an epoch as a factor of
/// the optimizer's base rate (the rate it was built with), computed from the History alone: a run
/// resumed from a checkpoint, which carries the History, continues its schedule exactly without
/// any state of its own.

#include <algorithm>
#include <cmath>
#include <limits>
#include <numbers>
#include <variant>

#include "neuroplast/core/error.hpp"
#include "neuroplast/train/history.hpp"

namespace neuroplast {

/// The base rate throughout (the default: the trainer leaves the optimizer's rate alone).
struct ConstantRate {};

/// Step decay: epoch e (1-based) trains at gamma^⌊(e − 1 − s) / every⌋ × the base rate, where s
/// is the epoch after which the network last grew when `restart_on_growth` (else 0).
struct StepDecay {
  int every = 30;                  ///< epochs per step, ≥ 1
  double gamma = 0.1;              ///< factor per step, in (0, 1]
  bool restart_on_growth = false;  ///< count steps from the last growth
};

/// Cosine annealing from the base rate down to `min_factor` × it over `epochs` epochs, then
/// constant. With `restart_on_growth` (default) the curve starts again after every growth step:
/// new neurons are trained at a high rate, like a warm restart (SGDR) triggered by growth instead
/// of a clock, and annealed with the rest.
struct CosineDecay {
  int epochs = 100;               ///< length of the curve, ≥ 1
  double min_factor = 0.0;        ///< the rate it ends at, as a factor of the base rate, in [0, 1]
  bool restart_on_growth = true;  ///< start the curve again after every growth step
};

/// Multiplies the rate by `factor` whenever the judged loss (validation, else training) has not
/// improved by `threshold` (relative) for `patience` epochs, never below `min_factor` × the base
/// rate. With `reset_on_growth` (default), growth returns the rate to the base and forgets the
/// best loss: the grown network is a new problem, and its new neurons need a rate they can
/// learn at.
struct ReduceOnPlateau {
  int patience = 10;            ///< epochs without improvement before a reduction, ≥ 1
  double factor = 0.5;          ///< in (0, 1)
  double min_factor = 1e-3;     ///< lower bound, in (0, 1]
  double threshold = 1e-4;      ///< relative improvement that counts, ≥ 0
  bool reset_on_growth = true;  ///< growth restores the base rate and forgets the best loss
};

/// The schedules a Trainer can follow (`TrainOptions::learning_rate_schedule`).
using LearningRateSchedule = std::variant<ConstantRate, StepDecay, CosineDecay, ReduceOnPlateau>;

namespace detail {

/// Whether the network grew after epoch `epoch` (an event recorded at it: neurons or a layer).
inline bool grew_after(const History& h, int epoch) {
  return std::any_of(h.events.begin(), h.events.end(),
                     [&](const StructuralEvent& e) { return e.grows() && e.epoch == epoch; });
}

/// The last epoch before `epoch` after which the network grew (0 = none).
inline int last_growth_before(const History& h, int epoch) {
  int last = 0;
  for (const StructuralEvent& e : h.events)
    if (e.grows() && e.epoch < epoch) last = std::max(last, e.epoch);
  return last;
}

}  // namespace detail

/// Throws Error naming the schedule and the setting that is out of range.
inline void validate_schedule(const LearningRateSchedule& schedule) {
  if (const auto* s = std::get_if<StepDecay>(&schedule)) {
    if (s->every < 1) detail::fail("StepDecay: every = ", s->every, " must be ≥ 1");
    if (!(s->gamma > 0 && s->gamma <= 1))
      detail::fail("StepDecay: gamma = ", s->gamma, " must lie in (0, 1]");
  } else if (const auto* c = std::get_if<CosineDecay>(&schedule)) {
    if (c->epochs < 1) detail::fail("CosineDecay: epochs = ", c->epochs, " must be ≥ 1");
    if (!(c->min_factor >= 0 && c->min_factor <= 1))
      detail::fail("CosineDecay: min_factor = ", c->min_factor, " must lie in [0, 1]");
  } else if (const auto* r = std::get_if<ReduceOnPlateau>(&schedule)) {
    if (r->patience < 1) detail::fail("ReduceOnPlateau: patience = ", r->patience, " must be ≥ 1");
    if (!(r->factor > 0 && r->factor < 1))
      detail::fail("ReduceOnPlateau: factor = ", r->factor, " must lie in (0, 1)");
    if (!(r->min_factor > 0 && r->min_factor <= 1))
      detail::fail("ReduceOnPlateau: min_factor = ", r->min_factor, " must lie in (0, 1]");
    if (!(r->threshold >= 0))
      detail::fail("ReduceOnPlateau: threshold = ", r->threshold, " must be ≥ 0");
  }
}

/// The factor of the base rate that epoch `epoch` (1-based, about to be trained) uses, given the
/// History of the epochs before it.
inline double schedule_factor(const LearningRateSchedule& schedule, const History& h, int epoch) {
  if (const auto* s = std::get_if<StepDecay>(&schedule)) {
    const int since = s->restart_on_growth ? detail::last_growth_before(h, epoch) : 0;
    return std::pow(s->gamma, (epoch - 1 - since) / s->every);
  }
  if (const auto* c = std::get_if<CosineDecay>(&schedule)) {
    const int since = c->restart_on_growth ? detail::last_growth_before(h, epoch) : 0;
    const double t = std::min(epoch - 1 - since, c->epochs) / static_cast<double>(c->epochs);
    return c->min_factor + (1 - c->min_factor) * (1 + std::cos(std::numbers::pi * t)) / 2;
  }
  if (const auto* r = std::get_if<ReduceOnPlateau>(&schedule)) {
    // Replays the decisions over the recorded epochs: the factor is a function of the History.
    double factor = 1, best = std::numeric_limits<double>::infinity();
    int bad = 0;
    for (const EpochRecord& e : h.epochs) {
      if (e.epoch >= epoch) break;
      if (r->reset_on_growth && detail::grew_after(h, e.epoch - 1)) {
        factor = 1;
        best = std::numeric_limits<double>::infinity();
        bad = 0;
      }
      const double loss = e.judged_loss();
      if (loss < best * (1 - r->threshold) || std::isinf(best)) {
        best = loss;
        bad = 0;
      } else if (++bad >= r->patience) {
        factor = std::max(factor * r->factor, r->min_factor);
        bad = 0;
      }
    }
    if (r->reset_on_growth && detail::grew_after(h, epoch - 1)) factor = 1;
    return factor;
  }
  return 1;
}

}  // namespace neuroplast
