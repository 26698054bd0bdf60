#pragma once
/// \file
/// The recent neuron-axis edits of a network, for per-neuron state kept outside it: such state
/// applies the same AxisEdits the network applied, instead of re-matching neurons afterwards.

#include <atomic>
#include <cstdint>
#include <optional>
#include <span>
#include <vector>

#include "neuroplast/core/axis_edit.hpp"
#include "neuroplast/core/types.hpp"

namespace neuroplast {

/// One neuron-axis edit of hidden layer `layer`, which took the network from the state stamped
/// `before` to the state stamped `after`.
struct JournalEntry {
  std::uint64_t before = 0;  ///< stamp of the state the edit was applied to
  std::uint64_t after = 0;   ///< stamp of the state it produced
  Index layer = 0;           ///< the hidden layer (neuron axis) edited
  AxisEdit edit;             ///< the edit, as the network applied it to every bound tensor
};

/// The last `kCapacity` neuron-axis edits of a network, each between two stamped states. A stamp
/// is unique in the process: a network and its copies share the stamp of the state they share,
/// and every edit of any of them makes a new one. State kept outside the network (per-neuron sums,
/// statistics) remembers the stamp it is in step with; `since(stamp)` then gives the edits to
/// apply to catch up, or nullopt when that state is not in this network's recent history — a copy
/// that went another way, a rollback to an older copy, a loaded file, an inserted or removed layer
/// (which renumbers the axes), or more than `kCapacity` edits ago — and the state must be matched
/// another way (by neuron ids).
class EditJournal {
 public:
  /// Edits kept; older ones are forgotten.
  static constexpr std::size_t kCapacity = 64;

  /// The stamp of the network's current state.
  std::uint64_t stamp() const noexcept { return stamp_; }

  /// Records `edit` of hidden layer `layer`, applied to the current state.
  void record(Index layer, const AxisEdit& edit) {
    if (entries_.size() == kCapacity) entries_.erase(entries_.begin());
    const std::uint64_t next = fresh_stamp();
    entries_.push_back({.before = stamp_, .after = next, .layer = layer, .edit = edit});
    stamp_ = next;
  }

  /// Starts a new history: the axes changed in a way an AxisEdit does not describe (a layer
  /// inserted or removed), so state in step with an earlier stamp must be matched anew.
  void restart() {
    entries_.clear();
    stamp_ = fresh_stamp();
  }

  /// The edits from the state stamped `stamp` to the current one, oldest first (empty when it is
  /// the current state), or nullopt when that state is not in the recent history.
  std::optional<std::span<const JournalEntry>> since(std::uint64_t stamp) const {
    if (stamp == stamp_) return std::span<const JournalEntry>{};
    for (std::size_t i = 0; i < entries_.size(); ++i)
      if (entries_[i].before == stamp) return std::span<const JournalEntry>(entries_).subspan(i);
    return std::nullopt;
  }

 private:
  static std::uint64_t fresh_stamp() noexcept {
    static std::atomic<std::uint64_t> counter{0};
    return counter.fetch_add(1, std::memory_order_relaxed) + 1;
  }

  std::uint64_t stamp_ = fresh_stamp();
  std::vector<JournalEntry> entries_;
};

}  // namespace neuroplast
