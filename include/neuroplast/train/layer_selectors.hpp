#pragma once
/// \file
/// Where to grow: the hidden layer chosen by a selector.

#include <optional>
#include <variant>

#include "neuroplast/core/error.hpp"
#include "neuroplast/data/dataset.hpp"
#include "neuroplast/relevance/layer_selector.hpp"

namespace neuroplast {

/// Always the same hidden layer. Throws Error at selection if the network has no such layer.
struct FixedLayer {
  Index layer = 0;
  template <class Net, class T>
  std::optional<Index> select(const Net& net, const Dataset<T>&) const {
    if (layer < 0 || layer >= net.hidden_layer_count()) {
      detail::fail("FixedLayer: hidden layer ", layer, " does not exist (the network has ",
                   net.hidden_layer_count(), " hidden layers)");
    }
    return layer;
  }
};

/// The narrowest hidden layer (the first of equals).
struct NarrowestLayer {
  template <class Net, class T>
  std::optional<Index> select(const Net& net, const Dataset<T>&) const {
    if (net.hidden_layer_count() == 0) return std::nullopt;
    Index best = 0;
    for (Index h = 1; h < net.hidden_layer_count(); ++h)
      if (net.width(h) < net.width(best)) best = h;
    return best;
  }
};

/// Each hidden layer in turn.
struct RoundRobin {
  Index next = 0;  ///< the layer chosen next time
  template <class Net, class T>
  std::optional<Index> select(const Net& net, const Dataset<T>&) {
    if (net.hidden_layer_count() == 0) return std::nullopt;
    const Index h = next % net.hidden_layer_count();
    next = h + 1;
    return h;
  }
};

/// The selectors a policy can use; LrpLayerSelector is the paper's (relevance/layer_selector.hpp).
using LayerSelector = std::variant<LrpLayerSelector, FixedLayer, NarrowestLayer, RoundRobin>;

/// The layer `selector` chooses in `net` judged on `data`, or std::nullopt.
template <class Net, class T>
std::optional<Index> select_layer(LayerSelector& selector, const Net& net, const Dataset<T>& data) {
  return std::visit([&](auto& s) { return s.select(net, data); }, selector);
}

}  // namespace neuroplast
