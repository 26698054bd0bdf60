#pragma once
/// \file
/// The vocabulary of structural events and the record every edit of a network leaves behind.

#include <cstdint>
#include <string_view>

#include "neuroplast/core/types.hpp"

namespace neuroplast {

/// Every kind of structural event, in one vocabulary for the network's edit log (`EditRecord`)
/// and the trainer's history (`StructuralEvent`): the six edits a network makes, and the two
/// events only a trainer records (new data arrived; a rollback to an earlier network). Files
/// store them through one code table (io/checkpoint.hpp).
enum class EventKind {
  grow_neurons,
  remove_neurons,
  grow_connections,
  prune_connections,
  insert_layer,
  remove_layer,
  new_data,
  rollback
};

/// The name the network's edit log has always used for the same vocabulary.
using EditKind = EventKind;

/// A short name for an event kind ("grow_neurons", ...), for logs and reports.
inline const char* event_name(EventKind k) {
  switch (k) {
    case EventKind::grow_neurons: return "grow_neurons";
    case EventKind::remove_neurons: return "remove_neurons";
    case EventKind::grow_connections: return "grow_connections";
    case EventKind::prune_connections: return "prune_connections";
    case EventKind::insert_layer: return "insert_layer";
    case EventKind::remove_layer: return "remove_layer";
    case EventKind::new_data: return "new_data";
    case EventKind::rollback: return "rollback";
  }
  return "?";
}

/// Whether a network's edit log can hold `k` (the trainer-only kinds cannot).
constexpr bool is_network_edit(EventKind k) noexcept {
  return k != EventKind::new_data && k != EventKind::rollback;
}

/// One structural edit: what, where, how many, with which initialiser, at which training step.
/// `Mlp::edit_log()` keeps them all; the edit functions also return theirs.
struct EditRecord {
  EditKind kind = EditKind::grow_neurons;  ///< what the edit did
  Index layer = -1;  ///< hidden layer (neuron and layer edits) or dense layer (connection edits)
  Index count = 0;   ///< neurons, connections or layers added or removed
  Index first = -1;  ///< index of the first new neuron (grow_neurons), else -1
  std::string_view initializer{};  ///< initialiser name for growth ("" otherwise)
  std::int64_t step = 0;           ///< training steps (backward passes) the network had seen
};

}  // namespace neuroplast
