#pragma once
// Structural edits the growth and removal benchmarks make outside their timed regions.

#include <cstdint>
#include <numeric>
#include <span>
#include <vector>

#include "neuroplast/neuroplast.hpp"

namespace neuroplast::bench {

// Shrinks hidden layer h back to `width` neurons by removing the ones past it (a benchmark that
// grows within capacity calls this, untimed, when the capacity is used up).
template <class Net>
void shrink_to(Net& net, Index h, Index width) {
  const Index w = net.width(h);
  if (w == width) return;
  std::vector<Index> tail(static_cast<std::size_t>(w - width));
  std::iota(tail.begin(), tail.end(), width);
  net.edit_axis(h, AxisEdit::remove(w, std::move(tail)));
}

// k distinct random neurons of a layer of `width`, reproducibly for a seed.
inline std::vector<Index> random_neurons(Index width, Index k, std::uint64_t seed) {
  std::vector<Index> all(static_cast<std::size_t>(width));
  std::iota(all.begin(), all.end(), Index{0});
  Rng rng(seed);
  rng.shuffle(std::span<Index>(all));
  all.resize(static_cast<std::size_t>(k));
  return all;
}

}  // namespace neuroplast::bench
