#pragma once
/// \file
/// The serialisers' window into a network's private bookkeeping (see detail::MlpAccess in
/// network/mlp.hpp): the state a file must carry for training to resume exactly.

#include <cstdint>
#include <vector>

#include "neuroplast/core/rng.hpp"
#include "neuroplast/layers/dropout.hpp"
#include "neuroplast/network/edit_record.hpp"
#include "neuroplast/network/mlp.hpp"
#include "neuroplast/network/neuron_axis.hpp"

namespace neuroplast::detail {

/// Reads and rebuilds the private state of an Mlp. Parameters themselves are public
/// (`layer_params`, `axis`); this covers what is not writable: each hidden layer's NeuronAxis, the
/// id counter, the edit log, the step counter and the network's random stream.
template <Scalar T, Activation Act>
struct MlpAccess<Mlp<T, Act>> {
  using Net = Mlp<T, Act>;

  /// The per-neuron bookkeeping of hidden layer h (ids, minimum width, dropout), writable.
  static NeuronAxis& axis(Net& n, std::size_t h) { return n.hidden_[h].axis; }
  static std::uint64_t next_neuron_id(const Net& n) { return n.next_neuron_id_; }
  static void set_next_neuron_id(Net& n, std::uint64_t id) { n.next_neuron_id_ = id; }
  static const std::vector<EditRecord>& edit_log(const Net& n) { return n.edit_log_; }
  static std::vector<EditRecord>& edit_log(Net& n) { return n.edit_log_; }
  static std::int64_t steps(const Net& n) { return n.steps_; }
  static void set_steps(Net& n, std::int64_t s) { n.steps_ = s; }
  static Rng::State rng_state(const Net& n) { return n.rng_.state(); }
  static void set_rng_state(Net& n, const Rng::State& s) { n.rng_.set_state(s); }
};

}  // namespace neuroplast::detail
