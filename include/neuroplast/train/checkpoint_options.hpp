#pragma once
/// \file
/// When a Trainer writes checkpoints: a plain value of TrainOptions, kept apart from the file code
/// in io/ so that train/ does not depend on it.

#include <string>

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
