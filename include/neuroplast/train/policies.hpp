#pragma once
/// \file
/// The training policies of the paper: dropin (Algorithm 1), dropout (Algorithm 2) and
/// neuroplasticity (Algorithm 3). Each is a value type with sensible defaults, driven by the
/// Trainer through `on_fit_begin`, `on_epoch_end` and `on_new_data`.

#include <cmath>
#include <optional>
#include <string>
#include <string_view>
#include <utility>
#include <variant>
#include <vector>

#include "neuroplast/regularize/dropout.hpp"
#include "neuroplast/regularize/relevance_guided.hpp"
#include "neuroplast/train/grow_by.hpp"
#include "neuroplast/train/layer_selectors.hpp"
#include "neuroplast/train/loss_plateau.hpp"
#include "neuroplast/train/prune_least_relevant.hpp"
#include "neuroplast/train/static_policy.hpp"
#include "neuroplast/train/validation_criterion.hpp"

namespace neuroplast {

namespace detail {

inline bool criterion_worsened(const ValidationCriterion& c, const History& h, int since) {
  return std::visit([&](const auto& v) { return v.worsened(h, since); }, c);
}
inline void validate_criterion(const ValidationCriterion& c) {
  std::visit([](const auto& v) { v.validate(); }, c);
}

/// The growth step shared by Algorithms 1 and 3: choose a layer, grow it within the bounds,
/// record the event. Returns whether anything grew.
template <class Ctx>
bool grow_step(Ctx& ctx, LayerSelector& selector, const GrowBy& grow, const GrowthBounds& bounds,
               int& events, std::string reason, double trigger_value) {
  const std::optional<Index> h = select_layer(selector, ctx.net, ctx.judge());
  if (!h) return false;
  const Index k = bounds.allowed(ctx.net, *h, grow.neurons, events);
  if (k < 1) return false;
  const std::string_view init = grow_with(ctx.net, *h, k, grow.init, ctx.train);
  ++events;
  ctx.record(StructuralEvent{.kind = EventKind::grow_neurons,
                             .layer = *h,
                             .count = k,
                             .reason = std::move(reason) + " (" + std::string(init) + ")",
                             .trigger_value = trigger_value});
  return true;
}

// The growth phase Algorithms 1 and 3 share. These take the policy itself and update its public
// progress fields (growth_events, last_event_epoch, deferred).

/// A growth step of `p`, stamping its last event epoch when something grew.
template <class Ctx, class Policy>
void grow_policy(Ctx& ctx, Policy& p, std::string reason, double trigger_value) {
  if (grow_step(ctx, p.selector, p.grow, p.bounds, p.growth_events, std::move(reason),
                trigger_value)) {
    p.last_event_epoch = ctx.epoch;
  }
}

/// Grows when the loss plateaus (Eq. 1).
template <class Ctx, class Policy>
void grow_on_plateau(Ctx& ctx, Policy& p) {
  if (p.trigger.fires(ctx.history, p.last_event_epoch))
    grow_policy(ctx, p, "loss plateau", p.trigger.change(ctx.history));
}

/// Returns the network to the best epoch's, when the policy asks for it and the trainer kept one.
template <class Ctx, class Policy>
void roll_back_to_best(Ctx& ctx, const Policy& p) {
  if (!p.rollback_to_best || ctx.best == nullptr) return;
  ctx.net = *ctx.best;
  ctx.record(StructuralEvent{.kind = EventKind::rollback,
                             .reason = "validation worsened: back to the best epoch"});
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

}  // namespace detail

/// Algorithm 1, dropin. After every epoch: once the validation criterion has consistently worsened
/// (`criterion`), growth stops for good (optionally rolling the network back to its best epoch);
/// otherwise, when the loss plateaus (`trigger`, Eq. 1), the layer chosen by `selector` (by default
/// LRP) grows by `grow` within `bounds`. New data (`Trainer::notify_new_data`) triggers growth
/// once. After the last epoch of a fit (`EpochContext::final_epoch`) nothing changes: a grown or
/// rolled-back network would be handed back untrained, so the decision is taken when the next fit
/// begins, from the same history (new data cancels it); a long fit and the same epochs split over
/// several fits therefore make the same edits.
struct DropinPolicy {
  static constexpr std::string_view name = "dropin";
  LossPlateau trigger{};
  LayerSelector selector = LrpLayerSelector{};
  GrowBy grow{};
  ValidationCriterion criterion = ValidationAccuracy{};
  GrowthBounds bounds{};
  bool rollback_to_best = false;  ///< when growth stops, return to the best epoch's network

  bool growing = true;       ///< progress: false once the criterion stopped growth
  int growth_events = 0;     ///< progress: growth events so far
  int last_event_epoch = 0;  ///< progress: epoch of the last structural event
  bool deferred = false;     ///< progress: the last epoch's decision waits for the next fit

  bool keeps_best_snapshot() const { return rollback_to_best; }

  template <class Ctx>
  void on_fit_begin(Ctx& ctx) {
    trigger.validate();
    grow.validate();
    bounds.validate();
    detail::validate_criterion(criterion);
    if (std::exchange(deferred, false)) decide(ctx);
  }

  template <class Ctx>
  void on_epoch_end(Ctx& ctx) {
    detail::decide_or_defer(ctx, deferred, [&] { decide(ctx); });
  }

  template <class Ctx>
  void on_new_data(Ctx& ctx) {
    deferred = false;
    if (growing) detail::grow_policy(ctx, *this, "new data", std::nan(""));
  }

 private:
  template <class Ctx>
  void decide(Ctx& ctx) {
    if (!growing) return;
    if (detail::criterion_worsened(criterion, ctx.history, 0)) {
      growing = false;
      detail::roll_back_to_best(ctx, *this);
      return;
    }
    detail::grow_on_plateau(ctx, *this);
  }
};

/// Algorithm 2, dropout: sets `dropout` on every hidden layer at the start of training (or
/// `per_layer[h]` where given; the setting stays on the network, so the paper's convention also
/// scales inference). No structural change. With `relevance_guided`, each layer's per-neuron rates
/// are recomputed from LRP relevance on the validation set at the start and after every epoch
/// (`relevance_guided_rates`: less relevant neurons drop more often; the layer's rate is their
/// mean); this needs Bernoulli dropout in the inverted convention.
struct DropoutPolicy {
  static constexpr std::string_view name = "dropout";
  Dropout dropout{.rate = 0.5};
  std::vector<Dropout> per_layer{};
  bool relevance_guided = false;
  double max_rate = 0.9;          ///< cap of a relevance-guided neuron's rate
  Index relevance_samples = 512;  ///< validation samples the relevance is measured on

  template <class Ctx>
  void on_fit_begin(Ctx& ctx) {
    for (Index h = 0; h < ctx.net.hidden_layer_count(); ++h) {
      const auto i = static_cast<std::size_t>(h);
      ctx.net.set_dropout(h, i < per_layer.size() ? per_layer[i] : dropout);
    }
    refresh(ctx);
  }
  template <class Ctx>
  void on_epoch_end(Ctx& ctx) {
    refresh(ctx);
  }

 private:
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

/// Algorithm 3, neuroplasticity. A growth phase as in Algorithm 1; when the validation criterion
/// consistently worsens it ends and the pruning phase begins (optionally from the best epoch's
/// network): `prune` masks the least relevant connections by LRP and removes the neurons that
/// died. Each later consistent worsening (counted from the last prune) prunes again, at most
/// `max_prune_events` times (0 = no limit). Inference always uses all remaining neurons. As in
/// DropinPolicy, a decision due after a fit's final epoch waits for the next fit: a pruning there
/// would be handed back without an epoch to recover (one such run ended at 49% test accuracy).
struct NeuroplasticPolicy {
  static constexpr std::string_view name = "neuroplastic";
  LossPlateau trigger{};
  LayerSelector selector = LrpLayerSelector{};
  GrowBy grow{};
  PruneLeastRelevant prune{};
  ValidationCriterion criterion = ValidationAccuracy{};
  GrowthBounds bounds{};
  bool rollback_to_best = true;  ///< start the pruning phase from the best epoch's network
  int max_prune_events = 3;

  bool growing = true;       ///< progress: false once the pruning phase began
  int growth_events = 0;     ///< progress: growth events so far
  int prune_events = 0;      ///< progress: pruning events so far
  int last_event_epoch = 0;  ///< progress: epoch of the last structural event
  bool deferred = false;     ///< progress: the last epoch's decision waits for the next fit

  bool keeps_best_snapshot() const { return rollback_to_best; }

  template <class Ctx>
  void on_fit_begin(Ctx& ctx) {
    trigger.validate();
    grow.validate();
    prune.validate();
    bounds.validate();
    detail::validate_criterion(criterion);
    for (Index h = 0; h < ctx.net.hidden_layer_count(); ++h)
      ctx.net.set_min_width(h, std::min(bounds.min_width, ctx.net.width(h)));
    if (std::exchange(deferred, false)) decide(ctx);
  }

  template <class Ctx>
  void on_epoch_end(Ctx& ctx) {
    detail::decide_or_defer(ctx, deferred, [&] { decide(ctx); });
  }

  template <class Ctx>
  void on_new_data(Ctx& ctx) {
    // New data re-opens the growth phase: the network may need capacity for it.
    deferred = false;
    growing = true;
    detail::grow_policy(ctx, *this, "new data", std::nan(""));
  }

 private:
  template <class Ctx>
  void decide(Ctx& ctx) {
    if (growing) {
      if (!detail::criterion_worsened(criterion, ctx.history, 0)) {
        detail::grow_on_plateau(ctx, *this);
        return;
      }
      growing = false;
      detail::roll_back_to_best(ctx, *this);
      prune_now(ctx, "validation worsened after growth");
      return;
    }
    if ((max_prune_events == 0 || prune_events < max_prune_events) &&
        detail::criterion_worsened(criterion, ctx.history, last_event_epoch)) {
      prune_now(ctx, "validation worsened");
    }
  }

  template <class Ctx>
  void prune_now(Ctx& ctx, const char* reason) {
    const auto result = prune.apply(ctx.net, ctx.judge());
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
  }
};

}  // namespace neuroplast
