#pragma once
/// \file
/// How much a policy grows, with which initialiser, within which bounds.

#include <algorithm>
#include <cmath>
#include <limits>
#include <string>
#include <variant>
#include <vector>

#include "neuroplast/core/error.hpp"
#include "neuroplast/data/dataset.hpp"
#include "neuroplast/grow/centre_bias.hpp"
#include "neuroplast/grow/init.hpp"
#include "neuroplast/network/network.hpp"
#include "neuroplast/train/history.hpp"

namespace neuroplast {

/// GradMax growth on a batch the trainer provides (the first `batch` training samples).
struct GradMaxInit {
  static constexpr std::string_view name = "gradmax";  ///< init::GradMax's name
  double scale = 1e-2;  ///< norm of each new neuron's fan-out (init::GradMax::scale)
  Index batch = 256;    ///< GradMax's batch: the first this many training samples
};

/// The initialisers a policy can grow with.
using NeuronInit =
    std::variant<init::ZeroFanOut, init::He, init::Glorot, init::Net2Wider, GradMaxInit>;

/// Grow each selected layer by max(`neurons`, ⌈`fraction` × its width⌉) neurons initialised by
/// `init`. `GrowBy{.neurons = 32}` adds 32; the policies' default, `GrowBy{.neurons = 1,
/// .fraction = 1}`, doubles a layer, so a network started at width 2 reaches 256 in 7 events (a
/// fixed step of 8 would take 32, growth by half 12) and overshoots the width it needs by at most
/// 2× per step (Algorithm 3 prunes the excess; `GrowthBounds` caps it). With `replace_dead`,
/// neurons of the ReLU family that output 0 on every judged sample (dead: they pass no gradient
/// and cannot recover) are removed when their layer grows and replaced by as many new ones; the
/// network's function on those samples is unchanged. With `centre_bias`, each new neuron's bias
/// is set from the judged samples so it is active on half of them (`centre_new_biases`;
/// ZeroFanOut, He and Glorot only: Net2Wider copies its sources' biases and GradMax starts from
/// a zero fan-in).
///
/// With `depth` ≥ 2, a growth step on a ReLU network with fewer hidden layers than that first
/// inserts one after its last hidden layer, as wide as it and initialised as the identity, which
/// leaves the function unchanged (ReLU(ReLU(x)) = ReLU(x)); the step then grows every selected
/// layer, the new one included (`detail::deepens` says when it does not; only under the
/// `EveryLayer` selector). One layer per step: a
/// network started at 2-2-2 grows as one started at 2-2-2-2 would, with a first layer that
/// learned for longer. The policies' default deepens to 2 hidden layers: from one hidden layer,
/// width alone left noisy spirals 2.2 points and a 1-D sine 2.2 × the MSE short of the best
/// fixed network, which had two (docs/results.md).
struct GrowBy {
  Index neurons = 8;                     ///< fixed growth: at least this many neurons, ≥ 1
  NeuronInit init = init::ZeroFanOut{};  ///< initialiser of the new neurons
  double fraction = 0;        ///< proportional growth: at least this fraction of the width
  bool replace_dead = false;  ///< replace dead ReLU neurons of a growing layer
  bool centre_bias = false;   ///< new neurons' biases at the median of their pre-activation
  Index depth = 0;  ///< hidden layers a shallower ReLU network is deepened to (0, 1: never)

  /// Whether `centre_bias` applies to `init`.
  bool centres() const {
    return centre_bias && !std::holds_alternative<init::Net2Wider>(init) &&
           !std::holds_alternative<GradMaxInit>(init);
  }

  /// Throws Error unless `neurons` ≥ 1, `fraction` is finite and ≥ 0, `depth` ≥ 0, and a
  /// GradMaxInit has a finite scale > 0 and a batch ≥ 1.
  void validate() const {
    if (neurons < 1) detail::fail("GrowBy: neurons = ", neurons, " must be ≥ 1");
    if (depth < 0) {
      detail::fail("GrowBy: depth = ", depth,
                   " must be ≥ 0 (hidden layers a shallower network is deepened to; 0 never "
                   "deepens)");
    }
    if (!(fraction >= 0 && std::isfinite(fraction)))
      detail::fail("GrowBy: fraction = ", fraction, " must be finite and ≥ 0");
    if (const auto* g = std::get_if<GradMaxInit>(&init)) {
      if (!(g->scale > 0 && std::isfinite(g->scale)))
        detail::fail("GrowBy: GradMaxInit::scale = ", g->scale, " must be finite and > 0");
      if (g->batch < 1) {
        detail::fail("GrowBy: GradMaxInit::batch = ", g->batch,
                     " must be ≥ 1 (GradMax runs on the first this many training samples)");
      }
    }
  }

  /// Neurons to add to a layer of `width` neurons.
  Index amount(Index width) const {
    const auto proportional = static_cast<Index>(std::ceil(fraction * static_cast<double>(width)));
    return std::max(neurons, proportional);
  }
};

/// Limits on growth: no layer wider than `max_width`, no more than `max_parameters` parameters
/// (0 = no limit) and no more than `max_parameters_per_target` parameters per training target
/// value (training samples × network outputs; 0 = no limit), at most `max_growth_events` growth
/// events per policy (0 = no limit), and pruning never below `min_width` neurons per layer. A
/// growth policy whose due growth step the bounds forbid entirely ends its growth phase.
///
/// The per-target bound keeps growth's cost on small data in proportion to the data. At one
/// parameter per target value (the interpolation threshold: a network can fit its training set
/// exactly, noise included) growth stopped below the widths that generalise best: on the small
/// tasks of docs/results.md the best fixed network of each sweep has 0.2–11× as many parameters
/// as training targets (wine 3.4×, breast cancer 3×, digits 8×, noisy spirals 6×), as wider
/// networks past the threshold generalise better again ("double descent"). Four per target lets
/// growth reach that regime; without any bound, doubling took 1.5–5.6× the time of a whole
/// fixed-width sweep on those tasks, with it at most 0.3×. On large data it does not bind
/// (Fashion-MNIST: 2 200 000). Set it to 0 to lift it, lower it to keep a network small.
struct GrowthBounds {
  Index max_width = 4096;                  ///< widest a hidden layer may grow, ≥ 1
  Index max_parameters = 0;                ///< most parameters of the network (0 = no limit)
  double max_parameters_per_target = 4.0;  ///< most parameters per target value (0 = no limit)
  int max_growth_events = 0;               ///< most growth events (0 = no limit)
  Index min_width = 1;                     ///< narrowest pruning may leave a hidden layer, ≥ 1

  /// Throws Error for a bound out of range.
  void validate() const {
    if (max_width < 1) detail::fail("GrowthBounds: max_width = ", max_width, " must be ≥ 1");
    if (max_parameters < 0)
      detail::fail("GrowthBounds: max_parameters = ", max_parameters, " must be ≥ 0");
    if (!(max_parameters_per_target >= 0 && std::isfinite(max_parameters_per_target))) {
      detail::fail("GrowthBounds: max_parameters_per_target = ", max_parameters_per_target,
                   " must be finite and ≥ 0 (0 = no limit)");
    }
    if (max_growth_events < 0) detail::fail("GrowthBounds: max_growth_events must be ≥ 0");
    if (min_width < 1) detail::fail("GrowthBounds: min_width = ", min_width, " must be ≥ 1");
  }

  /// The parameter limit for a network trained on `targets` target values (samples × outputs;
  /// 0 = unknown): the smaller of the two parameter bounds that apply, 0 when none does.
  Index parameter_limit(Index targets) const {
    Index limit = max_parameters;
    if (max_parameters_per_target > 0 && targets > 0) {
      const auto per_target =
          static_cast<Index>(std::floor(max_parameters_per_target * static_cast<double>(targets)));
      limit = limit > 0 ? std::min(limit, per_target) : std::max<Index>(per_target, 1);
    }
    return limit;
  }

  /// Parameters one more growth step may add to `net` after `events_so_far` growth events, for a
  /// network trained on `targets` target values (0 = unknown): 0 once `max_growth_events` are
  /// spent, else what the parameter limit leaves, or the largest Index when no limit applies.
  template <Network Net>
  Index parameter_room(const Net& net, int events_so_far, Index targets = 0) const {
    if (max_growth_events > 0 && events_so_far >= max_growth_events) return 0;
    const Index limit = parameter_limit(targets);
    if (limit == 0) return std::numeric_limits<Index>::max();
    return std::max<Index>(limit - net.parameter_count(), 0);
  }

  /// How many of `wanted` neurons hidden layer h may receive (0 = none), for a network trained on
  /// `targets` target values (training samples × outputs; 0 = unknown, no per-target bound).
  template <Network Net>
  Index allowed(const Net& net, Index h, Index wanted, int events_so_far, Index targets = 0) const {
    const Index room = parameter_room(net, events_so_far, targets);
    Index k = std::min(wanted, max_width - net.width(h));
    if (k > 0) {
      // Each neuron of hidden layer h costs its fan-in, its bias and its fan-out.
      const std::vector<Index> s = net.sizes();
      const Index per_neuron =
          s[static_cast<std::size_t>(h)] + 1 + s[static_cast<std::size_t>(h + 2)];
      k = std::min(k, room / per_neuron);
    }
    return std::max<Index>(k, 0);
  }
};

namespace detail {

/// Throws Error, naming `who`, when `init` cannot grow a network trained on `data`: GradMax
/// maximises the gradient of the classification loss on labelled samples, and a regression set
/// has none (building its batch read past the end of the empty label vector).
template <class T>
void require_growable(const NeuronInit& init, const Dataset<T>& data, std::string_view who) {
  if (std::holds_alternative<GradMaxInit>(init) && !data.has_labels()) {
    fail(who, ": GrowBy::init = GradMaxInit needs class labels (GradMax maximises the gradient ",
         "of the classification loss), but the training set has regression targets; grow with ",
         "init::ZeroFanOut (the default), He, Glorot or Net2Wider instead");
  }
}

/// Grows hidden layer h of `net` by `k` neurons with the variant initialiser; GradMax runs on the
/// first samples of `data` with the training loss `loss`. Returns the initialiser's name.
/// Precondition: `require_growable` passed for `init` and `data` (the policies' growth step checks
/// it before any edit).
template <EditableNetwork Net, class T>
std::string_view grow_with(Net& net, Index h, Index k, const NeuronInit& init,
                           const Dataset<T>& data, const LossFunction& loss) {
  return std::visit(
      [&](const auto& i) -> std::string_view {
        using I = std::decay_t<decltype(i)>;
        if constexpr (std::is_same_v<I, GradMaxInit>) {
          const Index b = std::min(i.batch, data.size());
          const Matrix<T> X = data.features().leftCols(b);
          const std::vector<int> y(data.labels().begin(), data.labels().begin() + b);
          net.grow_neurons(
              h, k, init::GradMax<T>{.inputs = &X, .labels = y, .loss = loss, .scale = i.scale});
        } else {
          net.grow_neurons(h, k, i);
        }
        return I::name;
      },
      init);
}

}  // namespace detail
}  // namespace neuroplast
