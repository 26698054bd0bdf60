#pragma once
/// \file
/// A 64-bit fingerprint of a network's structure and parameters: tells whether two networks (or
/// one network at two moments) are the same without keeping a copy.

#include <cstddef>
#include <cstdint>

#include "neuroplast/core/types.hpp"
#include "neuroplast/network/network.hpp"

namespace neuroplast {

/// FNV-1a over `net.sizes()` and the bytes of every weight matrix (row by row) and bias, layer by
/// layer. Equal networks give equal fingerprints on every machine of the same byte order; a
/// changed size or any changed parameter bit changes it (up to FNV's collisions). Optimizer
/// state, masks and plasticity are not included. O(parameters).
template <Network Net>
std::uint64_t network_fingerprint(const Net& net) {
  using T = typename Net::scalar;
  std::uint64_t h = 0xcbf29ce484222325ULL;
  auto mix = [&](const void* data, std::size_t bytes) {
    const auto* c = static_cast<const unsigned char*>(data);
    for (std::size_t i = 0; i < bytes; ++i) h = (h ^ c[i]) * 0x100000001b3ULL;
  };
  for (const Index s : net.sizes()) mix(&s, sizeof s);
  for (Index l = 0; l < net.layer_count(); ++l) {
    const auto w = net.weights(l);
    for (Index r = 0; r < w.rows(); ++r) {
      for (Index c = 0; c < w.cols(); ++c) {
        const T v = w(r, c);
        mix(&v, sizeof v);
      }
    }
    const auto b = net.bias(l);
    for (Index i = 0; i < b.size(); ++i) {
      const T v = b(i);
      mix(&v, sizeof v);
    }
  }
  return h;
}

}  // namespace neuroplast
