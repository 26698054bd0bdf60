#pragma once
/// \file
/// The light types a Trainer needs to checkpoint and resume (kept apart from the file code so that
/// train/ can include them cheaply): when to checkpoint, and the trainer's own state.

#include <string>

#include "neuroplast/core/rng.hpp"
#include "neuroplast/train/trainer_state.hpp"

namespace neuroplast {

/// When a trainer writes checkpoints (`TrainOptions::checkpoint`, or `checkpoint_if_due` by hand):
/// `CheckpointOptions{.path = "run.npl", .every = 5}`. A default-constructed one never writes. Each
/// checkpoint replaces the previous one atomically.
struct CheckpointOptions {
  std::string path{};                ///< where the latest checkpoint goes ("" = never)
  int every = 0;                     ///< every this many epochs (0 = not by count)
  bool on_structural_event = false;  ///< also after every epoch that changed the structure
};

}  // namespace neuroplast
