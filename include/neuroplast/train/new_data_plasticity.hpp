#pragma once
/// \file
/// What a growing policy does, on new data, to the plasticity of the neurons that already exist:
/// the stability side of continual learning.

#include <algorithm>
#include <cmath>

#include "neuroplast/core/error.hpp"
#include "neuroplast/core/types.hpp"
#include "neuroplast/network/network.hpp"

namespace neuroplast {

/// On `Trainer::notify_new_data`, before a growing policy (DropinPolicy, NeuroplasticPolicy) grows
/// new neurons for the new data, every neuron that exists gets plasticity at most `old_neurons`
/// (`docs/concepts.md#plasticity`): 1 leaves them as they are (the paper's dropin, and the
/// default), 0 freezes them, so what they learned stays bit-identical while the new neurons —
/// grown with zero fan-out into them — learn the new data. With `thaw_epochs` > 0 they return to
/// 1 linearly over that many epochs after the new data (epoch e after it: at least
/// old + (1 − old)·e/thaw).
///
/// The output layer is left out unless `output_layer`: which outputs belong to old tasks is the
/// caller's to know (class-incremental: every output learns; task-incremental: freeze the old
/// tasks' outputs with `net.set_plasticity(net.layer_count() - 1, v)`).
struct NewDataPlasticity {
  double old_neurons = 1;     ///< plasticity every existing neuron gets at most (0 = frozen)
  int thaw_epochs = 0;        ///< epochs to return linearly to 1 (0 = never)
  bool output_layer = false;  ///< include the output layer's neurons

  /// Throws Error unless old_neurons lies in [0, 1] and thaw_epochs ≥ 0.
  void validate() const {
    if (!(old_neurons >= 0 && old_neurons <= 1))
      detail::fail("NewDataPlasticity: old_neurons = ", old_neurons, " must lie in [0, 1]");
    if (thaw_epochs < 0)
      detail::fail("NewDataPlasticity: thaw_epochs = ", thaw_epochs, " must be ≥ 0");
  }

  /// At new data: every neuron of the dense layers it covers gets min(its plasticity, old).
  template <EditableNetwork Net>
  void protect(Net& net) const {
    if (old_neurons >= 1) return;
    for (Index l = 0; l < covered_layers(net); ++l) {
      Vector<typename Net::scalar> p = net.plasticity(l);
      p = p.cwiseMin(static_cast<typename Net::scalar>(old_neurons));
      net.set_plasticity(l, p);
    }
  }

  /// After epoch `epoch`, new data having come after epoch `since`: raises every covered neuron
  /// to the thaw's level for that epoch (nothing without a thaw, or once it is over).
  template <EditableNetwork Net>
  void thaw(Net& net, int epoch, int since) const {
    if (thaw_epochs == 0 || old_neurons >= 1 || epoch <= since || epoch - since > thaw_epochs)
      return;
    using T = typename Net::scalar;
    const double level =
        old_neurons + (1 - old_neurons) * static_cast<double>(epoch - since) / thaw_epochs;
    for (Index l = 0; l < covered_layers(net); ++l) {
      Vector<T> p = net.plasticity(l);
      p = p.cwiseMax(static_cast<T>(std::min(1.0, level)));
      net.set_plasticity(l, p);
    }
  }

 private:
  template <Network Net>
  Index covered_layers(const Net& net) const {
    return output_layer ? net.layer_count() : net.layer_count() - 1;
  }
};

}  // namespace neuroplast
