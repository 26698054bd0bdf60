#pragma once
/// \file
/// The training policies of the paper: dropin (Algorithm 1), dropout (Algorithm 2) and
/// neuroplasticity (Algorithm 3). Each is a value type with sensible defaults, driven by the
/// Trainer through `on_fit_begin`, `on_epoch_end` and `on_new_data`.

#include <algorithm>
#include <cmath>
#include <cstdint>
#include <limits>
#include <optional>
#include <string>
#include <string_view>
#include <tuple>
#include <type_traits>
#include <utility>
#include <variant>
#include <vector>

#include "neuroplast/layers/activation.hpp"
#include "neuroplast/layers/dropout.hpp"
#include "neuroplast/loss/constant_prediction.hpp"
#include "neuroplast/network/fingerprint.hpp"
#include "neuroplast/network/initializers.hpp"
#include "neuroplast/prune/mean_activation.hpp"
#include "neuroplast/regularize/relevance_guided.hpp"
#include "neuroplast/train/grow_by.hpp"
#include "neuroplast/train/layer_selectors.hpp"
#include "neuroplast/train/loss_plateau.hpp"
#include "neuroplast/train/new_data_plasticity.hpp"
#include "neuroplast/train/prune_least_relevant.hpp"
#include "neuroplast/train/stagnation.hpp"
#include "neuroplast/train/static_policy.hpp"
#include "neuroplast/train/validation_criterion.hpp"

namespace neuroplast {

namespace detail {

/// Per hidden layer, the neurons that output exactly 0 on every judged sample (at most
/// `max_samples`): dead ReLUs, which pass no gradient and never recover by themselves. Neurons
/// a removal may not touch (frozen, or read by a frozen neuron: detail::may_remove_neuron) are
/// left out.
template <class Net, class T>
std::vector<std::vector<Index>> dead_neurons(const Net& net, const Dataset<T>& data,
                                             Index max_samples) {
  const auto scores = MeanActivation{.max_samples = max_samples}.neuron_scores(net, &data);
  std::vector<std::vector<Index>> dead(scores.size());
  for (std::size_t h = 0; h < scores.size(); ++h) {
    const auto l = static_cast<Index>(h);
    for (Index j = 0; j < scores[h].size(); ++j)
      if (scores[h](j) == 0 && may_remove_neuron(net.layer_params(l), net.layer_params(l + 1), j))
        dead[h].push_back(j);
  }
  return dead;
}

/// Removes `dead` neurons of hidden layer h, keeping at least `min_width(h)` neurons, and records
/// the event. Returns how many went.
template <class Ctx>
Index remove_dead(Ctx& ctx, Index h, std::vector<Index> dead) {
  const Index spare = ctx.net.width(h) - ctx.net.min_width(h);
  if (spare <= 0 || dead.empty()) return 0;
  if (static_cast<Index>(dead.size()) > spare) dead.resize(static_cast<std::size_t>(spare));
  const auto count = static_cast<Index>(dead.size());
  ctx.net.remove_neurons(h, std::move(dead));
  ctx.record(StructuralEvent{.kind = EventKind::remove_neurons,
                             .layer = h,
                             .count = count,
                             .reason = "dead (never active): replaced by new neurons"});
  return count;
}

/// Judged samples a growth step looks at (dead-neuron scan, centred biases): the first ones of the
/// validation set (training set without one), enough to tell dead from rarely active neurons.
inline constexpr Index kGrowthSamples = 1024;

/// What a growth step did.
enum class GrowthOutcome {
  grew,           ///< at least one layer grew
  none_selected,  ///< the selector chose no layer
  at_bounds,      ///< layers were chosen, but the bounds let none of them grow
};

/// Training target values of `data` for `net` (samples × outputs): what
/// `GrowthBounds::max_parameters_per_target` counts.
template <class Net, class T>
Index training_targets(const Net& net, const Dataset<T>& data) {
  return data.size() * net.sizes().back();
}

/// Neurons hidden layer h may gain in one growth step of `p`: what `p.grow` asks for, within
/// `p.bounds` (`targets`: `training_targets` of the training set).
template <class Net, class Policy>
Index growth_allowed(const Net& net, const Policy& p, Index h, Index targets) {
  return p.bounds.allowed(net, h, p.grow.amount(net.width(h)), p.growth_events, targets);
}

/// Whether a growth step of `p` deepens the network (`GrowBy::depth`): it has at least one and
/// fewer than `p.grow.depth` hidden layers, and the step may add a layer as wide as its last one.
/// Not for an activation other than ReLU (an identity layer then changes the function: LeakyReLU
/// applied twice scales negative inputs by 10⁻⁴, not 10⁻²), nor with a neuron learning at
/// plasticity below 1 (a new layer in front of the output would learn at 1 and change what
/// protected neurons feed it: new data must leave the old functions exact), nor when the new
/// layer (width² + width parameters) exceeds `p.bounds` or `max_growth_events` are spent; and
/// only under the `EveryLayer` selector: under one that grows some layers only, the new layer
/// could stay as narrow as the one it copies for good.
template <class Ctx, class Policy>
bool deepens(const Ctx& ctx, const Policy& p) {
  using Net = std::decay_t<decltype(ctx.net)>;
  if constexpr (!std::is_same_v<activation_of<Net>, Relu> ||
                !requires(Net & n) { n.insert_layer(Index{0}, init::Identity{}); }) {
    return false;
  } else {
    const Net& net = ctx.net;
    const Index depth = net.hidden_layer_count();
    if (depth < 1 || depth >= p.grow.depth || !std::holds_alternative<EveryLayer>(p.selector))
      return false;
    for (Index l = 0; l < net.layer_count(); ++l)
      if ((net.plasticity(l).array() < 1).any()) return false;
    const Index w = net.width(depth - 1);
    return w * w + w <=
           p.bounds.parameter_room(net, p.growth_events, training_targets(net, ctx.train));
  }
}

/// The deepening of a growth step: when `deepens` says so, inserts an identity layer after the
/// last hidden layer (as wide as it, keeping its minimum width) and records the event; true when
/// it did.
template <class Ctx, class Policy>
bool deepen(Ctx& ctx, const Policy& p, const std::string& reason, double trigger_value) {
  using Net = std::decay_t<decltype(ctx.net)>;
  if constexpr (requires(Net & n) { n.insert_layer(Index{0}, init::Identity{}); }) {
    if (!deepens(ctx, p)) return false;
    Net& net = ctx.net;
    const Index h = net.hidden_layer_count() - 1;
    const Index w = net.width(h);
    net.insert_layer(h, init::Identity{});
    net.set_min_width(h + 1, net.min_width(h));
    ctx.record(StructuralEvent{.kind = EventKind::insert_layer,
                               .layer = h + 1,
                               .count = w,
                               .reason = reason + " (identity)",
                               .trigger_value = trigger_value});
    return true;
  } else {
    return false;
  }
}

/// The growth step shared by Algorithms 1 and 3: a network shallower than `p.grow.depth` first
/// gains a hidden layer (`deepen`), then the layers `p.selector` chooses each grow by `p.grow`
/// within `p.bounds` (dead neurons replaced when `p.grow.replace_dead`), one event per edit.
/// Counts one growth event and stamps the policy's last event epoch when anything grew.
template <class Ctx, class Policy>
GrowthOutcome grow_step(Ctx& ctx, Policy& p, const std::string& reason, double trigger_value) {
  require_growable(p.grow.init, ctx.train, Policy::name);  // before any edit: nothing is lost
  const bool deepened = deepen(ctx, p, reason, trigger_value);
  const std::vector<Index> layers = select_layers(p.selector, ctx.net, ctx.judge());
  if (layers.empty() && !deepened) return GrowthOutcome::none_selected;
  const Index targets = training_targets(ctx.net, ctx.train);
  std::vector<std::vector<Index>> dead;
  if (p.grow.replace_dead) dead = dead_neurons(ctx.net, ctx.judge(), kGrowthSamples);
  bool grew = deepened;
  for (const Index h : layers) {
    Index k = growth_allowed(ctx.net, p, h, targets);
    if (k < 1) continue;
    // New neurons of other layers have zero fan-out or leave this layer's inputs as they were,
    // so the dead found before any edit are still dead.
    if (!dead.empty()) k += remove_dead(ctx, h, dead[static_cast<std::size_t>(h)]);
    const std::string_view init = grow_with(ctx.net, h, k, p.grow.init, ctx.train, ctx.loss);
    if (p.grow.centres() && ctx.judge().size() > 0) {
      const auto& judged = ctx.judge().features();
      centre_new_biases(ctx.net, h, k, judged.leftCols(std::min(judged.cols(), kGrowthSamples)));
    }
    ctx.record(StructuralEvent{.kind = EventKind::grow_neurons,
                               .layer = h,
                               .count = k,
                               .reason = reason + " (" + std::string(init) + ")",
                               .trigger_value = trigger_value});
    grew = true;
  }
  if (!grew) return GrowthOutcome::at_bounds;
  ++p.growth_events;
  p.last_event_epoch = ctx.epoch;
  return GrowthOutcome::grew;
}

/// Whether `p.bounds` let no hidden layer of the network grow by what `p.grow` would add, and no
/// growth step would deepen it (`deepens`).
template <class Ctx, class Policy>
bool at_bounds(const Ctx& ctx, const Policy& p) {
  if (deepens(ctx, p)) return false;
  const Index targets = training_targets(ctx.net, ctx.train);
  for (Index h = 0; h < ctx.net.hidden_layer_count(); ++h)
    if (growth_allowed(ctx.net, p, h, targets) > 0) return false;
  return true;
}

/// Why the trigger fired at `value` (its `trigger_value`), for the event record.
inline std::string trigger_reason(const GrowthTrigger& t, double value) {
  if (const auto* s = std::get_if<Stagnation>(&t))
    return value < s->min_improvement ? "loss stagnated" : "loss slowed (the phase's first step)";
  return "loss plateau";
}

/// The epochs of the growth phase that began after epoch `since`, from then to the end of the
/// fit `ctx` belongs to (the trainer's `epochs_left`): what `Stagnation::min_phase_windows`
/// divides. A run resumed from a checkpoint ends at the same epoch, so it sees the same value.
template <class Ctx>
int phase_epochs(const Ctx& ctx, int since) {
  return std::max(0, ctx.epoch + ctx.epochs_left - since);
}

/// Epochs a pruned network trains before it is judged: the trigger's window (Stagnation; in a
/// growth phase of `phase_epochs` epochs, `detail::phase_epochs`) or its cooldown + 1
/// (LossPlateau).
inline int recovery_epochs(const GrowthTrigger& t, Index steps_per_epoch, int phase_epochs = 0) {
  if (const auto* s = std::get_if<Stagnation>(&t)) return s->window(steps_per_epoch, phase_epochs);
  return std::get<LossPlateau>(t).cooldown + 1;
}

/// `p`'s trigger window in epochs (`recovery_epochs`) in the growth phase that began after
/// `p.growth_since`: what growth steps, prunings and the early stop are judged over.
template <class Ctx, class Policy>
int phase_window(const Ctx& ctx, const Policy& p) {
  return recovery_epochs(p.trigger, ctx.steps_per_epoch, phase_epochs(ctx, p.growth_since));
}

/// One epoch of a growth phase: false once it ended (the criterion worsened; growth was due and
/// had stopped paying, was forbidden by the bounds, or met a network that classifies every
/// judged sample right (`GrowthPays::fits`); the network classified every judged sample right
/// in every epoch of the window since its last structural event (`GrowthPays::fits_throughout`);
/// or the bounds let nothing grow and the last step has had two windows), else grows when due
/// and returns true.
/// Growth is due when the trigger fires, and under GrowthPays also one window after a growth
/// step that paid (`GrowthPays::paying`) and when the network overfits (`GrowthPays::overfits`).
///
/// Under GrowthPays, a network still on its initial plateau (`GrowthPays::stuck`) keeps growing,
/// but each growth made there doubles the wait before the next (`p.plateau_steps`): a bigger
/// network gets ever longer to leave the plateau, so growth while stuck stays logarithmic in time.
template <class Ctx, class Policy>
bool growth_phase(Ctx& ctx, Policy& p) {
  const History& h = ctx.history;
  if (criterion_worsened(p.criterion, h, p.growth_since)) return false;
  // What the initial plateau is measured from: every rank of a data-parallel run holds the same
  // training set, so all compute the same value.
  const double chance = constant_prediction_loss(ctx.loss, ctx.train, ctx.net.output_size());
  const int phase = phase_epochs(ctx, p.growth_since);
  const int window = phase_window(ctx, p);
  // A network that has classified every judged sample right for a whole window since its last
  // structural event has nothing to wait for (GrowthPays::fits_throughout).
  if (ctx.epoch - std::max(p.last_event_epoch, p.growth_since) >= window &&
      growth_fits_throughout(p.criterion, h, ctx.epoch - window))
    return false;
  // The phase's first step fires at a looser threshold (Stagnation::first_step_improvement).
  const bool first_step = GrowthPays::growth_steps(h, p.growth_since).empty();
  const bool stagnated =
      trigger_fires(p.trigger, h, p.last_event_epoch, ctx.steps_per_epoch, phase, first_step);
  const bool paying = !stagnated && growth_paying(p.criterion, h, p.growth_since,
                                                  p.last_event_epoch, window, chance);
  if (!stagnated && !paying &&
      !growth_overfits(p.criterion, h, std::max(p.last_event_epoch, p.growth_since), window)) {
    // A network the bounds keep from growing (no layer may widen, none may be inserted) has
    // nothing to wait for once its last step has had the two windows a step gets: waiting for
    // the trigger, which a loss still falling slowly may never fire, kept Algorithm 3 from
    // pruning at all (iris: at the bound from epoch 184 of 300, the trigger never fired again).
    return !(p.growth_events > 0 && ctx.epoch - p.last_event_epoch >= 2 * window &&
             at_bounds(ctx, p));
  }
  const int wait = window << std::min(p.plateau_steps, 16);
  if (p.plateau_steps > 0 && ctx.epoch - p.last_event_epoch < wait) return true;
  // Growth is due on a network that classifies every judged sample right: no step can pay.
  if (growth_fits(p.criterion, h, std::max(p.last_event_epoch, p.growth_since))) return false;
  if (growth_stalled(p.criterion, h, p.growth_since, chance)) {
    // The last step has had one window. A network far too small may learn so slowly that its
    // gain shows only later (noisy spirals at 12 neurons: 1.7% in one window, 3% in two), and
    // stopping there would leave it too small for good: the last step gets a second window.
    return ctx.epoch - p.last_event_epoch < 2 * window;
  }
  const auto* pays = std::get_if<GrowthPays>(&p.criterion);
  const bool stuck = pays != nullptr && pays->stuck(h, p.growth_since, chance);
  const double value = trigger_value(p.trigger, h, p.last_event_epoch, ctx.steps_per_epoch, phase);
  const GrowthOutcome outcome =
      grow_step(ctx, p,
                stagnated ? trigger_reason(p.trigger, value)
                          : (paying ? "the last growth paid" : "validation stalled"),
                value);
  // Growth is due and nothing may grow: waiting cannot change that (only new data can, which
  // re-opens the phase), so the phase ends as if growth had stopped paying.
  if (outcome == GrowthOutcome::at_bounds) return false;
  if (outcome == GrowthOutcome::grew) p.plateau_steps = stuck ? p.plateau_steps + 1 : 0;
  return true;
}

/// The thaw of NewDataPlasticity, after an epoch of a fit that follows new data (the History has
/// a new_data event at `since`).
template <class Ctx>
void thaw_after_new_data(Ctx& ctx, const NewDataPlasticity& plasticity, int since) {
  if (plasticity.thaw_epochs == 0) return;
  const auto& events = ctx.history.events;
  if (std::none_of(events.begin(), events.end(), [&](const StructuralEvent& e) {
        return e.kind == EventKind::new_data && e.epoch == since;
      }))
    return;
  plasticity.thaw(ctx.net, ctx.epoch, since);
}

/// Whether `roll_back_to_best` can act: the policy asks for it and the trainer kept a best network.
template <class Ctx, class Policy>
bool can_roll_back_to_best(const Ctx& ctx, const Policy& p) {
  return p.rollback_to_best && ctx.best != nullptr;
}

/// Returns the network to the best epoch's, when the policy asks for it and the trainer kept one,
/// recording a rollback event with `reason`; true when it did.
template <class Ctx, class Policy>
bool roll_back_to_best(Ctx& ctx, const Policy& p,
                       std::string reason = "growth ended: back to the best epoch") {
  if (!can_roll_back_to_best(ctx, p)) return false;
  ctx.net = *ctx.best;
  ctx.record(StructuralEvent{.kind = EventKind::rollback, .reason = std::move(reason)});
  return true;
}

/// The standard error of an accuracy `p` measured on `n` samples, by Agresti and Coull's
/// adjusted estimate p̃ = (pn + 2)/(n + 4): √(p̃(1 − p̃)/(n + 4)), which stays above 0 at p = 1
/// and p = 0 (where the plain √(p(1 − p)/n) would call any difference measurable).
inline double accuracy_standard_error(double p, Index n) {
  const auto samples = static_cast<double>(std::max<Index>(n, 0));
  const double adjusted = (std::clamp(p, 0.0, 1.0) * samples + 2) / (samples + 4);
  return std::sqrt(adjusted * (1 - adjusted) / (samples + 4));
}

/// The relative standard error of a mean squared error over `n` samples with normal residuals,
/// √(2/n) (∞ for n = 0: nothing is measurable).
inline double loss_standard_error(Index n) {
  return n > 0 ? std::sqrt(2.0 / static_cast<double>(n)) : std::numeric_limits<double>::infinity();
}

/// Throws Error when `selector` names a hidden layer `net` does not have (FixedLayer), before a
/// fit or a growth step rather than at the first selection, epochs (or a deepening) later.
template <Network Net>
void validate_selector(const LayerSelector& selector, const Net& net) {
  if (const auto* fixed = std::get_if<FixedLayer>(&selector);
      fixed != nullptr && (fixed->layer < 0 || fixed->layer >= net.hidden_layer_count())) {
    fail("FixedLayer: hidden layer ", fixed->layer, " does not exist (the network has ",
         net.hidden_layer_count(), " hidden layers); pick one of them");
  }
}

/// Throws Error unless `windows` (a policy's `early_stop_windows`) is ≥ 0.
inline void validate_early_stop(std::string_view policy, int windows) {
  if (windows < 0) {
    fail(policy, ": early_stop_windows = ", windows,
         " must be ≥ 0 (trigger windows of measurably worse validation before the fit ends; 0 "
         "trains to the end)");
  }
}

/// The checks both growth policies share: trigger, growth, bounds, new-data plasticity,
/// criterion, early stopping and a selector `net` can take. `who` names the policy.
template <class Policy, Network Net>
void validate_growth(const Policy& p, const Net& net, std::string_view who) {
  validate_trigger(p.trigger);
  p.grow.validate();
  p.bounds.validate();
  p.new_data.validate();
  validate_criterion(p.criterion);
  validate_early_stop(who, p.early_stop_windows);
  validate_selector(p.selector, net);
}

/// The last epoch's `EpochRecord::best_epoch_score` (−∞ before the first epoch).
inline double last_epoch_score(const History& h) {
  return h.epochs.empty() ? -std::numeric_limits<double>::infinity()
                          : h.epochs.back().best_epoch_score();
}

/// Best `EpochRecord::best_epoch_score` over the epochs after `since` (−∞ without one).
inline double best_epoch_score(const History& h, int since) {
  double best = -std::numeric_limits<double>::infinity();
  for (const EpochRecord& e : h.epochs)
    if (e.epoch > since) best = std::max(best, e.best_epoch_score());
  return best;
}

/// Starts the watch of a policy whose phases are over (`Policy::early_stop_windows`): the
/// network now is the best so far, judged at `score` (−∞ when no epoch judged it), kept in
/// `*ctx.saved`. Nothing to watch without a validation set (the training loss cannot show
/// overfitting), with `early_stop_windows = 0`, or without a trainer's saved slot.
template <class Ctx, class Policy>
void watch_for_overfitting(Ctx& ctx, Policy& p, double score) {
  p.watch_epoch = -1;
  if (p.early_stop_windows == 0 || ctx.validation == nullptr || ctx.saved == nullptr) return;
  *ctx.saved = ctx.net;
  p.watch_score = score;
  p.watch_epoch = ctx.epoch;
}

/// Whether every epoch after `from` scored measurably worse than the kept score `kept` (an
/// `EpochRecord::best_epoch_score`): by more than its standard error on the `judged` validation
/// samples (`accuracy_standard_error`; regression: `loss_standard_error`, relative).
inline bool worse_since(const History& h, int from, double kept, Index judged) {
  if (h.epochs.empty()) return false;
  if (!std::isnan(h.epochs.back().validation_accuracy)) {
    double recent = -std::numeric_limits<double>::infinity();
    for (const EpochRecord& e : h.epochs)
      if (e.epoch > from) recent = std::max(recent, e.validation_accuracy);
    return recent < kept - accuracy_standard_error(kept, judged);
  }
  double recent = std::numeric_limits<double>::infinity();
  for (const EpochRecord& e : h.epochs)
    if (e.epoch > from) recent = std::min(recent, e.validation_loss);
  const double kept_loss = -kept;
  return recent > kept_loss + loss_standard_error(judged) * std::abs(kept_loss);
}

/// At the last epoch of a fit whose growth phase goes on: when that epoch scored measurably
/// worse than the best epoch since growth began (`worse_since`), hands back the best epoch's
/// network, as the end of the phase would (`rollback_to_best`). Why: only the end of growth undoes
/// a step that did not pay, and a fit may end first, right after a step (50 Gaussian classes in
/// 30 dimensions, from 30-2-2-50: doubled to 512-512 four epochs before the end, the network's
/// training diverged in the last three, validation accuracy 98.5% → 92.8%, and it ended at 93.5%
/// test accuracy; handed back, 98.5%). Nothing happens without a validation set, a kept best
/// network or `rollback_to_best`.
///
/// The phase goes on in the next fit from the network it was growing, not from the one handed
/// back: that network is kept in `EpochContext::saved` and `p.handed_back` holds the fingerprint
/// of the one handed back (`grow_on_after_hand_back`). Why: a run split into several fits would
/// otherwise return, at the end of each, to a best epoch that may lie far back. Three-turn
/// spirals from 2-2-2 fitted 30 epochs at a time: every fit handed back the network of epoch 4
/// (a tiny network's lucky validation accuracy, 71.7%, which nothing later matched while its loss
/// fell), the growth of each fit was undone, and after 300 epochs it stood at 2-4-4-2 with 58%
/// test accuracy where one fit of 300 epochs reaches 95.8% at 64-40. Without a saved slot the
/// hand-back counts as the last structural event and the next fit trains on from it.
template <class Ctx, class Policy>
void hand_back_best_at_fit_end(Ctx& ctx, Policy& p) {
  if (!ctx.final_epoch || !p.growing || ctx.validation == nullptr || ctx.history.epochs.empty())
    return;
  const double best = best_epoch_score(ctx.history, p.growth_since);
  if (!worse_since(ctx.history, ctx.epoch - 1, best, ctx.judge().size())) return;
  if (!can_roll_back_to_best(ctx, p)) return;
  const bool keep = ctx.saved != nullptr;
  if (keep) *ctx.saved = ctx.net;
  roll_back_to_best(ctx, p,
                    "the fit's last epoch scored measurably worse than the best epoch while "
                    "growing: that network is handed back");
  if (keep) {
    p.handed_back = network_fingerprint(ctx.net);
  } else {
    p.last_event_epoch = ctx.epoch;
  }
}

/// At the start of a fit after `hand_back_best_at_fit_end`: when the network is still the one
/// handed back (same fingerprint), the growth phase goes on from the network it was growing (and
/// its optimizer state), so the epochs of one long fit split over several make the same edits.
/// A network changed in between (loaded, edited, trained by other means) is left as it is and
/// counts as the last structural event. Either way the kept copy is dropped.
template <class Ctx, class Policy>
void grow_on_after_hand_back(Ctx& ctx, Policy& p) {
  const std::uint64_t handed_back = std::exchange(p.handed_back, 0);
  if (handed_back == 0 || ctx.saved == nullptr || !*ctx.saved) return;
  if (network_fingerprint(ctx.net) == handed_back) {
    ctx.net = std::move(**ctx.saved);
  } else {
    p.last_event_epoch = ctx.epoch;
  }
  ctx.saved->reset();
}

/// New data drops what `hand_back_best_at_fit_end` kept: the new phase starts from the network
/// the user holds.
template <class Ctx, class Policy>
void drop_hand_back(Ctx& ctx, Policy& p) {
  if (std::exchange(p.handed_back, 0) != 0 && ctx.saved != nullptr) ctx.saved->reset();
}

/// New data re-opens `p`'s growth phase (growth is judged from now on), lowers the existing
/// neurons' plasticity as `p.new_data` says and grows once now: the part of `on_new_data` both
/// growth policies share.
template <class Ctx, class Policy>
void reopen_growth(Ctx& ctx, Policy& p) {
  drop_hand_back(ctx, p);
  p.deferred = false;
  p.growing = true;
  p.growth_since = ctx.epoch;
  p.plateau_steps = 0;
  p.watch_epoch = -1;
  p.new_data.validate();
  p.new_data.protect(ctx.net);  // before growing: the new neurons learn at 1
  grow_step(ctx, p, "new data", std::nan(""));
}

/// One epoch of that watch: a new best validation score (accuracy, ties by the loss; regression:
/// the loss) replaces the kept network; once every epoch of the last `early_stop_windows` trigger
/// windows scored measurably worse than the kept one (`worse_since`), the network returns to the
/// kept one and the fit ends (`ctx.stop`), as early stopping with Keras' `restore_best_weights`
/// would. Why: growth ends once it stops paying, often with most of the run to go, and on small
/// data a network then overfits for the rest of it (boston: the validation loss rose 18% over the
/// last 115 of 300 epochs and the test MSE reached 2.8 × that of the same network trained for
/// 150). A fit that reaches its last epoch first hands back the kept network when that epoch
/// alone scored measurably worse than it; the watch goes on from there in a later fit. Why: on
/// large validation sets the score wanders within a band wider than its standard error, so the
/// patience rule rarely fires, and the last epoch is as likely a bad one as any (Fashion-MNIST,
/// seed 1: 89.28% validation accuracy at epoch 24, 88.36% at the last, epoch 30, where 0.44 points
/// is measurable; the hand-back took the test accuracy from 88.18% to 88.44%).
template <class Ctx, class Policy>
void settle_epoch(Ctx& ctx, Policy& p) {
  // Nothing trained since the watch began (it began at this epoch's end): nothing to judge.
  if (p.watch_epoch < 0 || ctx.epoch <= p.watch_epoch || ctx.saved == nullptr || !*ctx.saved ||
      ctx.history.epochs.empty())
    return;
  const double score = ctx.history.epochs.back().best_epoch_score();
  if (score > p.watch_score) {
    **ctx.saved = ctx.net;
    p.watch_score = score;
    p.watch_epoch = ctx.epoch;
    return;
  }
  const int kept = p.watch_epoch;
  const Index judged = ctx.judge().size();
  // Measurably worse: no epoch of those windows came within the validation set's standard error
  // of the kept score. A worse score within the noise decides nothing: on 120 validation samples
  // one sample is 0.8 points, and handing back the network of a lucky epoch cost noisy spirals
  // and breast cancer a test sample on average; and SGD's validation loss swings by half from
  // epoch to epoch (regression_sgd), so one window's best says little (docs/results.md).
  const int patience = p.early_stop_windows * phase_window(ctx, p);
  if (ctx.epoch - kept >= patience &&
      worse_since(ctx.history, ctx.epoch - patience, p.watch_score, judged)) {
    ctx.net = **ctx.saved;
    ctx.saved->reset();
    p.watch_epoch = -1;
    ctx.stop = true;
    ctx.record(StructuralEvent{
        .kind = EventKind::rollback,
        .reason = "validation worse than its best for " + std::to_string(ctx.epoch - kept) +
                  " epochs after the last phase: back to the best network since (kept at epoch " +
                  std::to_string(kept) + "), training ends"});
    return;
  }
  if (ctx.final_epoch && worse_since(ctx.history, ctx.epoch - 1, p.watch_score, judged)) {
    ctx.net = **ctx.saved;  // the copy stays kept: a later fit watches on from this network
    ctx.record(StructuralEvent{
        .kind = EventKind::rollback,
        .reason = "the fit's last epoch scored measurably worse than the best network since the "
                  "last phase: that one (kept at epoch " +
                  std::to_string(kept) + ") is handed back"});
  }
}

/// Runs `decide` now, or, after a fit's final epoch, sets `deferred` so the policy's
/// `on_fit_begin` runs it when the next fit begins: a change made now would go untrained.
template <class Ctx, class Decide>
void decide_or_defer(const Ctx& ctx, bool& deferred, Decide&& decide) {
  if (ctx.final_epoch) {
    deferred = true;
  } else {
    decide();
  }
}

/// Best validation loss and accuracy (training loss, NaN accuracy without validation) over the
/// epochs in (`since`, `until`].
inline std::pair<double, double> best_scores(const History& h, int since,
                                             int until = std::numeric_limits<int>::max()) {
  double loss = std::numeric_limits<double>::infinity();
  double accuracy = std::numeric_limits<double>::quiet_NaN();
  for (const EpochRecord& e : h.epochs) {
    if (e.epoch <= since || e.epoch > until) continue;
    loss = std::min(loss, e.judged_loss());
    if (!std::isnan(e.validation_accuracy) && !(e.validation_accuracy <= accuracy))
      accuracy = e.validation_accuracy;
  }
  return {loss, accuracy};
}

}  // namespace detail

/// The policies' default growth: relative stagnation over a window of steps.
inline GrowthTrigger default_growth_trigger() { return Stagnation{}; }
/// The policies' default growth amount: every selected layer doubles (at least 1 neuron), new
/// neurons with zero fan-out and centred biases, dead neurons replaced; a ReLU network with one
/// hidden layer gains a second at its first growth step (`GrowBy::depth`).
inline GrowBy default_growth() {
  return GrowBy{.neurons = 1, .fraction = 1, .replace_dead = true, .centre_bias = true, .depth = 2};
}

/// Algorithm 1, dropin. After every epoch, while the growth phase lasts: when the loss stagnates
/// (`trigger`; the paper's Eq. 1 is `LossPlateau`), the layers `selector` chooses grow by `grow`
/// within `bounds`; the phase ends when `criterion` says growth no longer pays (GrowthPays:
/// the last growth steps did not improve the best validation score, or the network overfits; or
/// the paper's "validation consistently worsens"), optionally returning the network to its best
/// epoch. New data (`Trainer::notify_new_data`) re-opens the phase and grows at once, judged from
/// then on.
///
/// Defaults (docs/training.md says why): Stagnation{} (training loss, 10% per 100 steps),
/// EveryLayer, doubling with zero fan-out and dead neurons replaced, GrowthPays{} (2 steps
/// without gain; growth due on a network that classifies every validation sample right ends it,
/// as do bounds that let nothing grow), back to the best epoch when growth ends, and the end of
/// the fit once validation is measurably worse than its best for 3 windows after that
/// (`early_stop_windows`; a fit whose last epoch alone is measurably worse hands that best back,
/// `detail::settle_epoch`). During growth, after the last epoch of a fit
/// (`EpochContext::final_epoch`) nothing changes: a grown or rolled-back network would be handed
/// back untrained, so the decision is taken when the next fit begins, from the same history (new
/// data cancels it); a long fit and the same epochs split over several fits therefore make the
/// same edits during growth (a fit that hands back its best epoch's network keeps the one it was
/// growing, and the next fit grows on from that, `detail::grow_on_after_hand_back`).
struct DropinPolicy {
  static constexpr std::string_view name = "dropin";  ///< identifies the policy in checkpoints
  GrowthTrigger trigger = default_growth_trigger();   ///< when the loss has stagnated
  LayerSelector selector = EveryLayer{};              ///< which layers grow
  GrowBy grow = default_growth();                     ///< how much they grow, and how
  ValidationCriterion criterion = GrowthPays{};       ///< when the growth phase ends
  GrowthBounds bounds{};                              ///< limits on growth
  NewDataPlasticity new_data{};  ///< what new data does to the existing neurons' plasticity
  bool rollback_to_best = true;  ///< when growth stops, return to the best epoch's network
  /// After growth ended, the fit ends once every epoch of this many trigger windows scored
  /// measurably worse than the best network since, back at that network; a fit whose last epoch
  /// scored measurably worse hands that network back too (0 = train to the end and hand back the
  /// last network; needs validation; `detail::settle_epoch`).
  int early_stop_windows = 3;

  bool growing = true;       ///< progress: false once the criterion stopped growth
  int growth_events = 0;     ///< progress: growth steps so far (one per epoch that grew)
  int last_event_epoch = 0;  ///< progress: epoch of the last structural event
  int growth_since = 0;      ///< progress: growth is judged on epochs after this one (new data)
  int plateau_steps = 0;     ///< progress: growth steps in a row made on the initial plateau
  bool deferred = false;     ///< progress: the last epoch's decision waits for the next fit
  int watch_epoch = -1;      ///< progress: epoch of the best network since growth ended (-1: none)
  double watch_score = 0;    ///< progress: its `EpochRecord::best_epoch_score`
  /// progress: fingerprint of the network the last fit handed back while growing (0: none; the
  /// network it was growing is in `EpochContext::saved`, `detail::hand_back_best_at_fit_end`)
  std::uint64_t handed_back = 0;

  /// Whether the trainer must keep the best epoch's network: with `rollback_to_best`.
  bool keeps_best_snapshot() const { return rollback_to_best; }

  /// The progress fields, in the order a trainer checkpoint stores them (io/policy_state.hpp);
  /// `self` is a DropinPolicy, const or not.
  template <class Self>
  static auto progress(Self& self) {
    return std::tie(self.growing, self.growth_events, self.last_event_epoch, self.growth_since,
                    self.plateau_steps, self.deferred, self.watch_epoch, self.watch_score,
                    self.handed_back);
  }

  /// Whether the progress counters hold values a run can reach (a checkpoint's are checked:
  /// negative epochs or counts would overflow the policy's arithmetic).
  bool progress_valid() const {
    return growth_events >= 0 && last_event_epoch >= 0 && growth_since >= 0 && plateau_steps >= 0 &&
           watch_epoch >= -1;
  }

  /// Throws Error for a setting out of range or one `net` cannot take (a FixedLayer it lacks).
  /// The trainer calls it before any change: at the start of every fit and on new data.
  template <Network Net>
  void validate(const Net& net) const {
    detail::validate_growth(*this, net, "DropinPolicy");
  }

  /// Throws Error for an invalid setting (`validate`); then takes the decision deferred from the
  /// last fit.
  template <class Ctx>
  void on_fit_begin(Ctx& ctx) {
    validate(ctx.net);
    detail::grow_on_after_hand_back(ctx, *this);
    if (std::exchange(deferred, false)) decide(ctx);
  }

  /// Thaws after new data, then grows or ends the growth phase (deferred after a final epoch,
  /// which hands back the best epoch's network when it scored measurably worse:
  /// `detail::hand_back_best_at_fit_end`); once it ended, watches for overfitting
  /// (`early_stop_windows`, also after a final epoch: what it hands back is trained).
  template <class Ctx>
  void on_epoch_end(Ctx& ctx) {
    detail::thaw_after_new_data(ctx, new_data, growth_since);
    if (!growing) return detail::settle_epoch(ctx, *this);
    detail::decide_or_defer(ctx, deferred, [&] { decide(ctx); });
    detail::hand_back_best_at_fit_end(ctx, *this);
  }

  /// New data re-opens the growth phase, grows once now and judges growth from now on.
  template <class Ctx>
  void on_new_data(Ctx& ctx) {
    detail::reopen_growth(ctx, *this);
  }

 private:
  template <class Ctx>
  void decide(Ctx& ctx) {
    if (!growing || detail::growth_phase(ctx, *this)) return;
    growing = false;
    const bool back = detail::roll_back_to_best(ctx, *this);
    detail::watch_for_overfitting(ctx, *this,
                                  back ? detail::best_epoch_score(ctx.history, growth_since)
                                       : detail::last_epoch_score(ctx.history));
  }
};

/// Algorithm 2, dropout: sets `dropout` on every hidden layer at the start of training (or
/// `per_layer[h]` where given; the setting stays on the network, so the paper's convention also
/// scales inference). No structural change. With `relevance_guided`, each layer's per-neuron rates
/// are recomputed from LRP relevance on the validation set at the start and after every epoch
/// (`relevance_guided_rates`: less relevant neurons drop more often; the layer's rate is their
/// mean); this needs Bernoulli dropout in the inverted convention.
struct DropoutPolicy {
  static constexpr std::string_view name = "dropout";  ///< identifies the policy in checkpoints
  Dropout dropout{.rate = 0.5};      ///< setting of every hidden layer `per_layer` does not cover
  std::vector<Dropout> per_layer{};  ///< setting of hidden layer h at index h, where given
  bool relevance_guided = false;     ///< per-neuron rates from LRP relevance
  double max_rate = 0.9;             ///< cap of a relevance-guided neuron's rate
  Index relevance_samples = 512;     ///< validation samples the relevance is measured on

  /// Throws Error for a setting `net` cannot take: a bad rate, a `per_layer` list longer than its
  /// hidden layers, or, with `relevance_guided`, a `max_rate` outside [rate, 1), fewer than one
  /// relevance sample, or a layer whose dropout is not Bernoulli in the inverted convention.
  template <Network Net>
  void validate(const Net& net) const {
    const Index hidden = net.hidden_layer_count();
    if (static_cast<Index>(per_layer.size()) > hidden) {
      detail::fail("DropoutPolicy: per_layer has ", per_layer.size(), " settings but the network ",
                   "has ", hidden, " hidden layers; give at most one per hidden layer");
    }
    dropout.validate("DropoutPolicy (dropout)");
    for (const Dropout& d : per_layer) d.validate("DropoutPolicy (per_layer)");
    if (!relevance_guided) return;
    if (relevance_samples < 1) {
      detail::fail("DropoutPolicy: relevance_samples = ", relevance_samples,
                   " must be ≥ 1 (validation samples the relevance is measured on)");
    }
    for (Index h = 0; h < hidden; ++h) {
      const Dropout& d = setting(h);
      if (d.rate <= 0) continue;
      if (!(max_rate >= d.rate && max_rate < 1)) {
        detail::fail("DropoutPolicy: max_rate = ", max_rate, " must lie in [", d.rate,
                     ", 1) (hidden layer ", h, "'s rate, below 1)");
      }
      if (d.kind != DropoutKind::bernoulli || d.convention != DropoutConvention::inverted) {
        detail::fail("DropoutPolicy: relevance_guided needs Bernoulli dropout in the inverted ",
                     "convention, but hidden layer ", h, "'s is not");
      }
    }
  }

  /// Checks the settings (`validate`: a refused fit leaves every layer's dropout as it was), then
  /// sets every hidden layer's dropout and, with `relevance_guided`, its per-neuron rates.
  template <class Ctx>
  void on_fit_begin(Ctx& ctx) {
    validate(ctx.net);
    for (Index h = 0; h < ctx.net.hidden_layer_count(); ++h) ctx.net.set_dropout(h, setting(h));
    refresh(ctx);
  }
  /// Recomputes the per-neuron rates, with `relevance_guided`.
  template <class Ctx>
  void on_epoch_end(Ctx& ctx) {
    refresh(ctx);
  }

 private:
  const Dropout& setting(Index h) const {
    const auto i = static_cast<std::size_t>(h);
    return i < per_layer.size() ? per_layer[i] : dropout;
  }

  template <class Ctx>
  void refresh(Ctx& ctx) const {
    if (!relevance_guided) return;
    for (Index h = 0; h < ctx.net.hidden_layer_count(); ++h) {
      const double rate = ctx.net.dropout(h).rate;
      if (rate <= 0) continue;
      ctx.net.set_dropout_rates(
          h, relevance_guided_rates(ctx.net, ctx.judge(), h, rate, max_rate, relevance_samples));
    }
  }
};

/// Algorithm 3, neuroplasticity. A growth phase as in Algorithm 1; when it ends, the pruning
/// phase begins (optionally from the best epoch's network): `prune` masks the least relevant
/// connections by LRP and removes the neurons that died.
///
/// With GrowthPays (default) the pruning is iterative: after each pruning the network trains for
/// the trigger's window (`detail::recovery_epochs`), and is pruned again while its best validation
/// accuracy since the pruning stays within `prune_accuracy_tolerance` of the reference (the best of
/// the last two windows before the pruning phase, raised to a pruned network's best validation
/// accuracy when that beats it by more than its standard error; classification, and a classifier
/// whose accuracy cannot show the cost (`accuracy_resolves`: perfect before the phase, or fewer
/// validation samples than one per tolerance) must also keep its best validation loss within
/// `prune_tolerance`; regression: its best validation loss within `prune_tolerance`, relative, of
/// the higher of the best losses of the last two windows before the phase (the loss bar of a
/// classifier too), which begins only once that loss has stopped falling measurably
/// (`settle_windows`; without validation, the training loss). A pruning that costs more is undone
/// (the network returns to what it was before it, kept in `EpochContext::saved`) and retried at
/// once with half the fraction, at most `prune_retries` times; the next failure ends the phase.
/// Why: one step of 30% is often just past what a network can spare (friedman1 recovered to 1.05 ×
/// its reference loss where the tolerance was 1.05 ×) and ending there left the network at 8 × the
/// parameters a fixed network needs, with most of the run still to go; halving finds the step the
/// network can take. With the paper's criteria, each later consistent worsening (counted from the
/// last prune) prunes again. Either way at most `max_prune_events` prunings (0 = no limit).
/// Inference always uses all remaining neurons. New data re-opens the growth phase. As in
/// DropinPolicy, a decision due after a fit's final epoch waits for the next fit: a pruning there
/// would be handed back without an epoch to recover (one such run ended at 49% test accuracy).
struct NeuroplasticPolicy {
  static constexpr std::string_view name = "neuroplastic";  ///< identifies it in checkpoints
  GrowthTrigger trigger = default_growth_trigger();         ///< when the loss has stagnated
  LayerSelector selector = EveryLayer{};                    ///< which layers grow
  GrowBy grow = default_growth();                           ///< how much they grow, and how
  PruneLeastRelevant prune{.fraction = 0.3};                ///< one pruning step
  ValidationCriterion criterion = GrowthPays{};  ///< when growth ends; also how pruning repeats
  GrowthBounds bounds{};                         ///< limits on growth; `min_width` also on pruning
  NewDataPlasticity new_data{};  ///< what new data does to the existing neurons' plasticity
  bool rollback_to_best = true;  ///< start the pruning phase from the best epoch's network
  int max_prune_events = 0;      ///< most pruning events (0 = no limit)
  int prune_retries = 2;         ///< undone prunings retried at half the fraction (GrowthPays)
  /// Relative validation-loss cost a pruning may have, at most; less on large validation sets
  /// (`loss_tolerance`). Why 10% (5% until 2026-12-06): at 5% a regression network kept 1.6–5 ×
  /// the parameters of the best fixed network while its error stayed well below that network's;
  /// at 15% a 30-sample validation set let through prunings that cost 1.7 × the error on the test
  /// set (docs/results.md, "A regression network's pruning may cost two standard errors").
  double prune_tolerance = 0.10;
  /// Validation-accuracy cost a pruning may have, at most; less on large validation sets
  /// (`accuracy_tolerance`).
  double prune_accuracy_tolerance = 0.01;
  /// After the pruning phase ended, the fit ends once every epoch of this many trigger windows
  /// scored measurably worse than the best network since, back at that network; a fit whose
  /// last epoch scored measurably worse hands that network back too (0 = train to the end and
  /// hand back the last network; needs validation; GrowthPays only: under the paper's criteria
  /// pruning never ends).
  int early_stop_windows = 3;
  /// Once growth ended, a network judged by its loss (regression) is pruned only when it no longer
  /// learns measurably: when its loss, gaining at the rate of its last trigger window, would gain
  /// less than `loss_tolerance` over this many windows (`still_learning`; 0 = prune as soon as
  /// growth ends).
  int settle_windows = 3;
  /// The last this many trigger windows of a fit belong to pruning: a growth phase still running
  /// (or a network still settling, `settle_windows`) when fewer are left ends there and the
  /// pruning phase begins, provided the fit has a window left to judge a pruning in and the
  /// phase (from its start, `growth_since`, to the fit's end) is at least twice as long as the
  /// reserve (0 = no such reserve). Why: growth that paid to the end of the fit left Algorithm 3
  /// never pruned (`multireg2_wide`, 2 500 samples of two targets from 12 inputs: still learning
  /// at epoch 120 of 120, 7.7 × the parameters of the best fixed network, now 0.63 ×;
  /// docs/results.md, "A fit keeps its last windows for pruning"). Eight windows are half of the
  /// sixteen a growth phase gets at least (`Stagnation::min_phase_windows`), room for the
  /// prunings at 30% that take a network to a tenth of its connections. Short fits (a few epochs
  /// per task after new data, a loop of one-epoch fits) never reach it: their decisions wait for
  /// the next fit as before.
  int prune_windows = 8;

  bool growing = true;        ///< progress: false once the growth phase ended
  bool pruning = true;        ///< progress: false once a pruning cost more than the tolerance
  int growth_events = 0;      ///< progress: growth steps so far
  int prune_events = 0;       ///< progress: pruning events so far
  int last_event_epoch = 0;   ///< progress: epoch of the last structural event
  int growth_since = 0;       ///< progress: growth is judged on epochs after this one (new data)
  double reference_loss = 0;  ///< progress: the loss bar prunings are judged by
  double reference_accuracy = 0;  ///< progress: the bar prunings are judged by (NaN: none)
  int plateau_steps = 0;          ///< progress: growth steps in a row made on the initial plateau
  bool deferred = false;          ///< progress: the last epoch's decision waits for the next fit
  int prune_failures = 0;  ///< progress: prunings undone; each halves the next one's fraction
  int watch_epoch = -1;    ///< progress: epoch of the best network since pruning ended (-1: none)
  double watch_score = 0;  ///< progress: its `EpochRecord::best_epoch_score`
  bool settling = false;   ///< progress: growth ended; pruning waits while the network learns
  /// progress: fingerprint of the network the last fit handed back while growing (0: none; the
  /// network it was growing is in `EpochContext::saved`, `detail::hand_back_best_at_fit_end`)
  std::uint64_t handed_back = 0;

  /// Whether the trainer must keep the best epoch's network: with `rollback_to_best`.
  bool keeps_best_snapshot() const { return rollback_to_best; }

  /// The progress fields, in the order a trainer checkpoint stores them (io/policy_state.hpp).
  template <class Self>
  static auto progress(Self& self) {
    return std::tie(self.growing, self.pruning, self.growth_events, self.prune_events,
                    self.last_event_epoch, self.growth_since, self.reference_loss,
                    self.reference_accuracy, self.plateau_steps, self.deferred, self.prune_failures,
                    self.watch_epoch, self.watch_score, self.settling, self.handed_back);
  }

  /// Whether the progress counters hold values a run can reach (a checkpoint's are checked:
  /// negative epochs or counts would overflow the policy's arithmetic).
  bool progress_valid() const {
    return growth_events >= 0 && prune_events >= 0 && last_event_epoch >= 0 && growth_since >= 0 &&
           plateau_steps >= 0 && prune_failures >= 0 && prune_failures <= 31 && watch_epoch >= -1;
  }

  /// The accuracy a pruning may cost, judged on `judged` samples: `prune_accuracy_tolerance`,
  /// or less when the validation set can resolve less, namely the standard error of the
  /// reference accuracy p on n samples (Agresti–Coull: p̃ = (pn + 2)/(n + 4), √(p̃(1 − p̃)/(n + 4)),
  /// which stays above 0 at p = 1). Why: a pruning is judged by whether it cost a measurable
  /// amount, and on 5 000 validation samples one point is twice the noise (Fashion-MNIST: 0.46
  /// points). On a few hundred samples or fewer the cap applies as before.
  double accuracy_tolerance(Index judged) const {
    return std::min(prune_accuracy_tolerance,
                    detail::accuracy_standard_error(reference_accuracy, judged));
  }

  /// Whether the validation accuracy can show that a pruning cost more than
  /// `prune_accuracy_tolerance`, judged on `judged` samples: not when the reference is perfect (a
  /// pruned network's accuracy cannot rise above it, and a perfect fit that got worse often stays
  /// perfect), nor when one sample is worth more than the tolerance (fewer than 100 samples for one
  /// point: the accuracy moves in steps larger than what it should detect). A classifier judged
  /// where it does not must keep its loss within `loss_tolerance` too. Why: wine (36 validation
  /// samples, all right) was pruned on while its validation loss rose from 0.044 to 0.078, down to
  /// 13-2-4-3 and 80% on the test split; on another seed (97% right) prunings that left the
  /// accuracy where it was went on down to 53 active parameters and lost a test sample, where
  /// the loss stops them at 535.
  bool accuracy_resolves(Index judged) const {
    return reference_accuracy < 1.0 &&
           static_cast<double>(judged) * prune_accuracy_tolerance >= 1.0;
  }

  /// The relative loss a pruning may cost, judged on `judged` samples: `prune_tolerance`, or two
  /// relative standard errors of a mean squared error over n samples with normal residuals,
  /// 2 √(2/n), when that is less (the reasoning of `accuracy_tolerance`, at two standard errors:
  /// a network's validation loss moves from window to window under the optimizer's noise on top
  /// of the sampling error of n samples, so one standard error undid prunings that cost nothing
  /// measurable; the cap of 10% binds below 800 samples, 5% is reached at 3 200).
  double loss_tolerance(Index judged) const {
    return std::min(prune_tolerance, 2 * detail::loss_standard_error(judged));
  }

  /// Whether a network judged by its loss still learns measurably after growth ended: its best
  /// validation loss (training loss without validation) of the last trigger window beats the best
  /// of the window before (epochs since growth began, growth steps included: they keep the
  /// function) by a rate that, over `settle_windows` windows, would gain more than
  /// `loss_tolerance`. Always false for a classifier (judged by accuracy, whose stale bar
  /// `judge_pruning` raises instead; its loss keeps falling long after its accuracy settled), with
  /// `settle_windows = 0`, and before a whole window since growth began. Why: a pruning is judged
  /// against a bar set before it; a network that still learns makes that bar stale, and since the
  /// pruned network keeps learning too, every pruning then looks as if it held. Friedman's function
  /// with its target in its own units (the suite's friedman1_units) and Adam at 10⁻³: on one seed
  /// growth ended while the validation loss still fell by 9% per epoch, and 63 prunings "held"
  /// down to 40 active parameters and 1.9 × the best fixed network's MSE.
  template <class Ctx>
  bool still_learning(const Ctx& ctx) const {
    if (settle_windows == 0) return false;
    const int window = window_epochs(ctx);
    // Growth keeps the network's function (zero fan-out), so the windows may span growth steps.
    const int split = ctx.epoch - window;
    if (split <= growth_since) return false;
    const double previous =
        detail::best_scores(ctx.history, std::max(growth_since, split - window), split).first;
    const auto [recent, recent_accuracy] = detail::best_scores(ctx.history, split);
    if (!std::isnan(recent_accuracy)) return false;
    const double rate = (previous - recent) / std::abs(previous);
    return rate * settle_windows > loss_tolerance(ctx.judge().size());
  }

  /// The trigger's window in epochs at the end of the epoch `ctx` describes.
  template <class Ctx>
  int window_epochs(const Ctx& ctx) const {
    return detail::phase_window(ctx, *this);
  }

  /// The share of connections the next pruning takes: `prune.fraction` halved once per undone
  /// pruning.
  double prune_fraction() const { return std::ldexp(prune.fraction, -prune_failures); }

  /// Throws Error for a setting out of range or one `net` cannot take (a FixedLayer it lacks).
  /// The trainer calls it before any change: at the start of every fit and on new data.
  template <Network Net>
  void validate(const Net& net) const {
    detail::validate_growth(*this, net, "NeuroplasticPolicy");
    prune.validate();
    if (!(prune_tolerance >= 0) || !(prune_accuracy_tolerance >= 0)) {
      detail::fail("NeuroplasticPolicy: prune_tolerance = ", prune_tolerance,
                   " and prune_accuracy_tolerance = ", prune_accuracy_tolerance, " must be ≥ 0");
    }
    if (prune_windows < 0) {
      detail::fail("NeuroplasticPolicy: prune_windows = ", prune_windows,
                   " must be ≥ 0 (trigger windows at the end of a fit kept for pruning; 0 = "
                   "none)");
    }
    if (settle_windows < 0) {
      detail::fail("NeuroplasticPolicy: settle_windows = ", settle_windows,
                   " must be ≥ 0 (trigger windows without measurable learning before pruning "
                   "begins; 0 prunes as soon as growth ends)");
    }
    if (prune_retries < 0 || prune_retries > 30) {
      detail::fail("NeuroplasticPolicy: prune_retries = ", prune_retries,
                   " must lie in [0, 30] (each retry halves the pruned fraction)");
    }
    if (max_prune_events < 0) {
      detail::fail("NeuroplasticPolicy: max_prune_events = ", max_prune_events,
                   " must be ≥ 0 (0 = no limit)");
    }
  }

  /// Throws Error for an invalid setting (`validate`); sets each hidden layer's minimum width from
  /// `bounds` (capped at its width), then takes the decision deferred from the last fit.
  template <class Ctx>
  void on_fit_begin(Ctx& ctx) {
    validate(ctx.net);
    for (Index h = 0; h < ctx.net.hidden_layer_count(); ++h)
      ctx.net.set_min_width(h, std::min(bounds.min_width, ctx.net.width(h)));
    detail::grow_on_after_hand_back(ctx, *this);
    if (std::exchange(deferred, false)) decide(ctx);
  }

  /// Grows, prunes, or undoes a costly pruning (deferred after a final epoch, except the undo and
  /// `detail::hand_back_best_at_fit_end`); once pruning ended, watches for overfitting
  /// (`early_stop_windows`, also after a final epoch).
  template <class Ctx>
  void on_epoch_end(Ctx& ctx) {
    // Undoing a costly pruning hands back a trained network, so it is not deferred: a pruning
    // judged after the last epoch is judged now.
    if (ctx.final_epoch && pruning_to_judge(ctx)) judge_pruning(ctx, false);
    detail::thaw_after_new_data(ctx, new_data, growth_since);
    if (!growing && !pruning) return detail::settle_epoch(ctx, *this);
    detail::decide_or_defer(ctx, deferred, [&] { decide(ctx); });
    detail::hand_back_best_at_fit_end(ctx, *this);
  }

  /// New data re-opens the growth phase (the network may need capacity for it) and grows now.
  template <class Ctx>
  void on_new_data(Ctx& ctx) {
    settling = false;
    pruning = true;
    prune_failures = 0;
    detail::reopen_growth(ctx, *this);
  }

 private:
  template <class Ctx>
  void decide(Ctx& ctx) {
    const bool reserved = pruning_reserved(ctx);
    if (growing) {
      if (!reserved && detail::growth_phase(ctx, *this)) return;
      growing = false;
      settling = true;
    }
    if (settling) {
      if (!reserved && still_learning(ctx)) return;
      settling = false;
      const int window = window_epochs(ctx);
      const bool back = detail::roll_back_to_best(ctx, *this);
      // The bars come from the last windows before the phase, as long as the window a pruning
      // is judged over, not from the whole phase: the best of a whole phase is the luckiest of
      // many noisy epochs, which no pruned network matches in one window. The loss bar is the
      // best of the last window (regression with Adam at 10⁻²: validation losses ±20% from epoch
      // to epoch; measured against the best of 38 epochs, every pruning of a 4 752-parameter
      // network was undone, where a fixed network of 257 parameters fits as well); the accuracy
      // bar the best of the last two (raised later when a pruned network beats it). XOR of 2 of
      // 20 Gaussian inputs on 240 validation samples (docs/results.md, the eighth probe): the
      // network rolled back to was the one of the phase's best epoch, 95.8%, while it scored
      // 91–94% in the epochs around it; every pruning reached 94.2–94.6% in its window and was
      // undone, and it kept all 258 parameters where 20-4-2 (94) fits as well. Now it prunes its
      // irrelevant inputs: 0.34 × those parameters and 4 test points better.
      reference_accuracy =
          detail::best_scores(ctx.history, std::max(growth_since, ctx.epoch - 2 * window)).second;
      reference_loss =
          detail::best_scores(ctx.history, std::max(growth_since, ctx.epoch - window)).first;
      // A network judged by its loss — a regression, or a classifier whose accuracy cannot show
      // a pruning's cost — may give back what its best loss moved by in its last window: the bar
      // is the higher of the best losses of the last two windows. The loss keeps moving while no
      // decision changes (a perfectly separated set's cross-entropy falls by a constant factor
      // per window; under SGD it swings by several times from epoch to epoch; a settled
      // regression's best wanders by its noise), and against the best of one window prunings
      // were undone for less than the unpruned network's own movement. Two circles under SGD
      // with momentum (docs/results.md, the seventh probe), all 200 validation samples right,
      // validation losses between 0.006 and 0.04 from epoch to epoch: three of four prunings of
      // 2-16-16-2 were undone, and it ended at 331 active parameters where the best fixed
      // network, 2-4-2, has 22 (both seeds: 9.25 ×; now 1.8 ×). Friedman's function: 3.95 × the
      // best fixed network's parameters at 0.93 × its MSE, now 3.0 × at 0.86 ×. Wine, for which
      // a classifier's loss is watched (its loss rose from 0.044 to 0.078 while its 36
      // validation samples stayed right), keeps its test accuracy on every seed.
      if ((std::isnan(reference_accuracy) || !accuracy_resolves(ctx.judge().size())) &&
          ctx.epoch - 2 * window >= growth_since) {
        reference_loss = std::max(
            reference_loss,
            detail::best_scores(ctx.history, ctx.epoch - 2 * window, ctx.epoch - window).first);
      }
      if (!prune_now(ctx, "growth ended")) {
        end_pruning(ctx, back ? detail::best_epoch_score(ctx.history, growth_since)
                              : detail::last_epoch_score(ctx.history));
      }
      return;
    }
    if (!pruning) return;
    if (!std::holds_alternative<GrowthPays>(criterion)) {
      if ((max_prune_events == 0 || prune_events < max_prune_events) &&
          detail::criterion_worsened(criterion, ctx.history, last_event_epoch))
        prune_now(ctx, "validation worsened");  // may remove nothing: then nothing is recorded
      return;
    }
    if (ctx.epoch - last_event_epoch < window_epochs(ctx)) return;
    judge_pruning(ctx, true);
  }

  // Whether the fit has reached the windows it keeps for pruning (`prune_windows`) and still has
  // one to judge a pruning in; only in a phase at least twice as long as the reserve.
  template <class Ctx>
  bool pruning_reserved(const Ctx& ctx) const {
    const int window = window_epochs(ctx);
    const int reserve = prune_windows * window;
    return 2 * reserve <= detail::phase_epochs(ctx, growth_since) && ctx.epochs_left >= window &&
           ctx.epochs_left < reserve;
  }

  // Whether a pruning under GrowthPays has not been judged yet.
  template <class Ctx>
  bool pruning_to_judge(const Ctx& ctx) const {
    return !growing && !settling && pruning && std::holds_alternative<GrowthPays>(criterion) &&
           prune_events > 0 && ctx.saved != nullptr && *ctx.saved && last_event_epoch < ctx.epoch;
  }

  // Judges the last pruning: when the validation held, prunes again if `may_prune` and the fit has
  // a window left to judge it in (or ends the phase at `max_prune_events`); when it did not,
  // undoes the pruning and, with retries left, `may_prune` and a window, prunes again at half the
  // fraction; otherwise ends the phase.
  template <class Ctx>
  void judge_pruning(Ctx& ctx, bool may_prune) {
    const auto [loss, accuracy] = detail::best_scores(ctx.history, last_event_epoch);
    const Index judged = ctx.judge().size();
    // Classification is judged by accuracy (near a perfect fit the loss moves by large factors
    // while no decision changes), regression by the loss. A classifier whose accuracy cannot
    // show what a pruning cost must keep its loss too (`accuracy_resolves`).
    const bool loss_held =
        loss <= reference_loss + loss_tolerance(judged) * std::abs(reference_loss);
    const bool held = std::isnan(reference_accuracy)
                          ? loss_held
                          : accuracy >= reference_accuracy - accuracy_tolerance(judged) &&
                                (accuracy_resolves(judged) || loss_held);
    if (held) {
      // A pruned network that measurably beat the reference sets the bar for the next pruning.
      // Growth often ends while the network still learns; judged against the stale reference,
      // each pruning may then give back part of what the network learned since, and the losses
      // add up (Fashion-MNIST: 87.50% when growth ended, 88.40% three prunings later, and eight
      // more prunings each "held" against 87.50% down to 56 neurons and 85.85% on the test set).
      // Only a gain beyond the standard error counts, so noise does not raise the bar; the loss
      // reference stays, as a lower loss after pruning is often only a sharper fit. A perfect
      // score does not raise it either: the bar of a classifier perfect before the phase includes
      // the loss from before the phase, which a network pruned since often cannot keep.
      if (!std::isnan(reference_accuracy) && accuracy < 1.0 &&
          accuracy > reference_accuracy + detail::accuracy_standard_error(accuracy, judged))
        reference_accuracy = accuracy;
      if (max_prune_events > 0 && prune_events >= max_prune_events) {
        end_pruning(ctx, detail::last_epoch_score(ctx.history));  // the last pruning stands
      } else if (may_prune && ctx.epochs_left >= window_epochs(ctx) &&
                 !prune_now(ctx, "validation held after the last pruning")) {
        end_pruning(ctx, detail::last_epoch_score(ctx.history));  // nothing left to prune
      }
      // Otherwise this fit has no window left to judge another pruning in: wait.
      return;
    }
    // The last pruning cost too much: back to the network it started from, when kept.
    const bool undone = ctx.saved != nullptr && *ctx.saved;
    if (undone) {
      ctx.net = **ctx.saved;
      ctx.saved->reset();
      ctx.record(StructuralEvent{.kind = EventKind::rollback,
                                 .reason = "the last pruning cost more than the tolerance: back "
                                           "to the network before it"});
    }
    // The network it returned to was trained and held: it can be pruned again at once, by less.
    if (undone && may_prune && prune_failures < prune_retries &&
        (max_prune_events == 0 || prune_events < max_prune_events) &&
        ctx.epochs_left >= window_epochs(ctx)) {
      ++prune_failures;
      if (prune_now(ctx, "the last pruning was undone: again at half the fraction")) return;
    }
    // The network now was judged at the last epoch unless it is the one the pruning was undone to.
    end_pruning(ctx, undone ? -std::numeric_limits<double>::infinity()
                            : detail::last_epoch_score(ctx.history));
  }

  // Ends the pruning phase; the network now, judged at `score`, is the first the watch for
  // overfitting keeps.
  template <class Ctx>
  void end_pruning(Ctx& ctx, double score) {
    pruning = false;
    if (ctx.saved != nullptr) ctx.saved->reset();
    detail::watch_for_overfitting(ctx, *this, score);
  }

  // Prunes one step; false, with nothing recorded or counted, when the step removes nothing (a
  // network so small that the fraction of every layer's active connections rounds down to none):
  // the pruning phase is then over. Why: such "prunings" held forever, one empty event per window
  // for the rest of the run (a Tanh network pruned down to 2-8-1 recorded 62 of them), and kept
  // the watch for overfitting from starting.
  template <class Ctx>
  bool prune_now(Ctx& ctx, const char* reason) {
    // Kept so that a pruning found too costly can be undone (GrowthPays mode).
    if (ctx.saved != nullptr && std::holds_alternative<GrowthPays>(criterion)) *ctx.saved = ctx.net;
    PruneLeastRelevant step = prune;
    step.fraction = prune_fraction();
    const auto result = step.apply(ctx.net, ctx.judge());
    if (result.connections == 0 &&
        std::all_of(result.neurons_removed.begin(), result.neurons_removed.end(),
                    [](Index n) { return n == 0; }))
      return false;
    ++prune_events;
    last_event_epoch = ctx.epoch;
    ctx.record(StructuralEvent{
        .kind = EventKind::prune_connections, .count = result.connections, .reason = reason});
    for (std::size_t h = 0; h < result.neurons_removed.size(); ++h) {
      if (result.neurons_removed[h] == 0) continue;
      ctx.record(StructuralEvent{.kind = EventKind::remove_neurons,
                                 .layer = static_cast<Index>(h),
                                 .count = result.neurons_removed[h],
                                 .reason = "dead after pruning"});
    }
    return true;
  }
};

}  // namespace neuroplast
