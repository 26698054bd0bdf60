#pragma once
/// \file
/// The point where a Trainer hands its checkpoints to whoever can store them. train/ only
/// declares it; io/trainer_checkpoint.hpp specialises it for Mlp with Sgd, Adam and AdamW (and
/// a user can for a network or optimizer of their own), so the trainer does not depend on io/.

#include <optional>
#include <string>

#include "neuroplast/train/checkpoint_options.hpp"
#include "neuroplast/train/history.hpp"
#include "neuroplast/train/trainer_state.hpp"

namespace neuroplast {

/// Everything a trainer needs to continue a run, as `CheckpointStore::read` returns it: the
/// network and optimizer (with its state), the History, the trainer's counters and streams, the
/// policy with its progress restored, and the networks the trainer keeps (the best epoch's with
/// its score, the one the policy saved).
template <class Net, class Opt, class Policy>
struct ResumePoint {
  Net network;                 ///< with its optimizer state planes
  Opt optimizer;               ///< hyper-parameters and step count
  History history;             ///< epochs and structural events so far
  TrainerState trainer;        ///< epochs done, shuffling and dropout streams
  Policy policy;               ///< the trainer's policy (its settings) with the stored progress
  std::optional<Net> best{};   ///< the best epoch's network, when the policy keeps one
  double best_score = 0;       ///< its score (EpochRecord::best_epoch_score)
  std::optional<Net> saved{};  ///< the network the policy kept (EpochContext::saved), if any
};

/// What a trainer writes at the end of an epoch: references to its live state.
template <class Net, class Opt, class Policy>
struct CheckpointContent {
  const Net& network;               ///< the network, with its optimizer state planes
  const Opt& optimizer;             ///< hyper-parameters and step count
  const History& history;           ///< epochs and structural events so far
  const TrainerState& trainer;      ///< epochs done, shuffling and dropout streams
  const Policy& policy;             ///< its progress is stored, not its settings
  const std::optional<Net>& best;   ///< the best epoch's network, if kept
  double best_score;                ///< its score
  const std::optional<Net>& saved;  ///< the network the policy kept, if any
};

/// Stores and reads a trainer's checkpoints for networks `Net` trained by `Opt`. Not defined
/// here: a specialisation provides
///
///     template <class Policy>
///     static void write(const std::string& path, const CheckpointContent<Net, Opt, Policy>&);
///     template <class Policy>
///     static ResumePoint<Net, Opt, Policy> read(const std::string& path, const Policy& current);
///
/// `write` replaces the file at `path` atomically (the previous one is intact when it throws);
/// `read` starts from `current` (the trainer's policy, for its settings) and throws FileError for
/// an unreadable or foreign file, Error for one of another kind of network, optimizer or policy.
/// io/trainer_checkpoint.hpp (included by neuroplast.hpp) defines it for `Mlp` with `Sgd`, `Adam`
/// and `AdamW`.
template <class Net, class Opt>
struct CheckpointStore;

/// Whether a CheckpointStore is defined for `Net` and `Opt` where this is asked.
template <class Net, class Opt>
concept CheckpointStorable = requires {
  sizeof(CheckpointStore<Net, Opt>);
};

/// Whether `options` asks for a checkpoint after `epoch`: a path is set and `epoch` is a multiple
/// of `options.every`, or `options.on_structural_event` is set and the history records a
/// structural event of this epoch (policies record every edit they make in `history.events`).
inline bool checkpoint_due(const CheckpointOptions& options, int epoch, const History& history) {
  if (options.path.empty()) return false;
  if (options.every > 0 && epoch % options.every == 0) return true;
  if (!options.on_structural_event) return false;
  for (const StructuralEvent& e : history.events)
    if (e.epoch == epoch && e.kind != EventKind::new_data) return true;
  return false;
}

}  // namespace neuroplast
