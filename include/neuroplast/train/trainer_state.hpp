#pragma once
/// \file
/// What a Trainer needs, besides the network, optimizer and history, to resume exactly.

#include "neuroplast/core/rng.hpp"

namespace neuroplast {

/// What a Trainer needs besides network, optimizer and history to resume exactly: its epoch counter
/// and its two random streams (minibatch shuffling, dropout masks). Returned by `Trainer::state()`,
/// stored by `save_checkpoint`, given back with `Trainer::restore(state, history)`.
struct TrainerState {
  int epoch = 0;             ///< epochs completed
  Rng::State shuffle_rng{};  ///< the stream that shuffles the training set each epoch
  Rng::State dropout_rng{};  ///< the workspace stream dropout masks are drawn from
};

}  // namespace neuroplast
