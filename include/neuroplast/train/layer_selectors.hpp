#pragma once
/// \file
/// Where to grow: the hidden layer chosen by a selector.

#include <optional>
#include <variant>
#include <vector>

#include "neuroplast/core/error.hpp"
#include "neuroplast/data/dataset.hpp"
#include "neuroplast/network/network.hpp"
#include "neuroplast/relevance/layer_selector.hpp"

namespace neuroplast {

/// Always the same hidden layer. Throws Error at selection if the network has no such layer.
struct FixedLayer {
  Index layer = 0;  ///< the hidden layer chosen
  /// `layer`; throws Error if `net` has no such hidden layer.
  template <Network Net, class T>
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
  /// The narrowest hidden layer of `net`; none when it has no hidden layer.
  template <Network Net, class T>
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
  /// `next` (modulo the hidden layers of `net`), and advances it; none without hidden layers.
  template <Network Net, class T>
  std::optional<Index> select(const Net& net, const Dataset<T>&) {
    if (net.hidden_layer_count() == 0) return std::nullopt;
    const Index h = next % net.hidden_layer_count();
    next = h + 1;
    return h;
  }
};

/// Every hidden layer at once: the default. Growing all layers in proportion keeps the shape a
/// practitioner would size by hand (no layer is left as a bottleneck, as a narrow upstream layer
/// is when one layer grows at a time), and leaves sizing each layer to the stopping rule and, in
/// Algorithm 3, to pruning by relevance.
struct EveryLayer {
  /// Every hidden layer of `net`, 0 … hidden_layer_count − 1.
  template <Network Net, class T>
  std::vector<Index> select_all(const Net& net, const Dataset<T>&) const {
    std::vector<Index> all(static_cast<std::size_t>(net.hidden_layer_count()));
    for (std::size_t h = 0; h < all.size(); ++h) all[h] = static_cast<Index>(h);
    return all;
  }
};

/// The selectors a policy can use: EveryLayer (default) grows all hidden layers; the others pick
/// one, LrpLayerSelector by the paper's rule (relevance/layer_selector.hpp).
using LayerSelector =
    std::variant<EveryLayer, LrpLayerSelector, FixedLayer, NarrowestLayer, RoundRobin>;

/// The hidden layers `selector` chooses in `net` judged on `data`, in increasing order (empty:
/// none).
template <Network Net, class T>
std::vector<Index> select_layers(LayerSelector& selector, const Net& net, const Dataset<T>& data) {
  return std::visit(
      [&](auto& s) -> std::vector<Index> {
        if constexpr (requires { s.select_all(net, data); }) {
          return s.select_all(net, data);
        } else {
          const std::optional<Index> h = s.select(net, data);
          return h ? std::vector<Index>{*h} : std::vector<Index>{};
        }
      },
      selector);
}

/// The single layer a one-layer selector chooses (the first of a multi-layer selector's), or
/// std::nullopt.
template <Network Net, class T>
std::optional<Index> select_layer(LayerSelector& selector, const Net& net, const Dataset<T>& data) {
  const std::vector<Index> all = select_layers(selector, net, data);
  return all.empty() ? std::nullopt : std::optional<Index>(all.front());
}

}  // namespace neuroplast
