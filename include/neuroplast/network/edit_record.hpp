#pragma once
/// \file
/// The record every structural edit of a network leaves behind.

#include <cstdint>
#include <string_view>

#include "neuroplast/core/types.hpp"

namespace neuroplast {

/// Kinds of structural edit a network records.
enum class EditKind {
  grow_neurons,
  remove_neurons,
  grow_connections,
  prune_connections,
  insert_layer,
  remove_layer
};

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
