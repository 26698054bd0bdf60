#pragma once
/// \file
/// A bounded memory of past samples for rehearsal in continual learning: class-balanced reservoir
/// sampling, reproducible for a seed.

#include <algorithm>
#include <cstdint>
#include <map>
#include <vector>

#include "neuroplast/core/error.hpp"
#include "neuroplast/core/rng.hpp"
#include "neuroplast/core/types.hpp"
#include "neuroplast/data/dataset.hpp"

namespace neuroplast {

/// Keeps at most `capacity` samples of everything `add`ed, as evenly spread over the classes seen
/// so far as the capacity allows, each class a uniform sample of that class's samples:
///
/// - while there is room, every sample is kept;
/// - when full, a sample of a class below its share (capacity / classes seen, the remainder to the
///   lowest labels) evicts a random sample of the class furthest above its share;
/// - a sample of a class at its share replaces a random one of that class with probability
///   share / samples of the class seen (reservoir sampling), so each class's samples are a uniform
///   sample of all it has seen.
///
/// Samples without labels (regression targets) form one reservoir. `dataset()` gives what is kept
/// (labels, or targets, with the features), for `Trainer::set_replay`. Draws come from its own
/// stream: the same `add` calls with the same seed keep the same samples.
template <Scalar T>
class ReplayBuffer {
 public:
  /// An empty buffer of `capacity` ≥ 1 samples. Throws Error otherwise.
  explicit ReplayBuffer(Index capacity, std::uint64_t seed = 0) : capacity_(capacity), rng_(seed) {
    if (capacity < 1) detail::fail("ReplayBuffer: capacity = ", capacity, " must be ≥ 1");
  }

  /// Offers every sample of `data`, in order. Throws Error (keeping what it had) when `data` does
  /// not match what was added before: another feature count, labels where there were targets or
  /// the other way round, or another target count.
  void add(const Dataset<T>& data) {
    if (data.size() == 0) return;
    if (features_ == 0) {
      features_ = data.feature_count();
      labelled_ = data.has_labels();
      target_rows_ = data.has_targets() ? data.targets().rows() : 0;
    } else if (data.feature_count() != features_ || data.has_labels() != labelled_ ||
               (data.has_targets() ? data.targets().rows() : 0) != target_rows_) {
      detail::fail("ReplayBuffer::add: samples of ", data.feature_count(), " features with ",
                   data.has_labels() ? "labels" : "targets",
                   " do not match the buffer's, which holds ", features_, " features with ",
                   labelled_ ? "labels" : "targets");
    }
    for (Index i = 0; i < data.size(); ++i) offer(data, i);
  }

  /// Samples kept now (≤ capacity).
  Index size() const noexcept { return size_; }
  Index capacity() const noexcept { return capacity_; }  ///< most samples kept
  /// Kept samples per label (the one reservoir of unlabelled data under label −1).
  std::map<int, Index> class_counts() const {
    std::map<int, Index> counts;
    for (const auto& [label, r] : reservoirs_) counts[label] = static_cast<Index>(r.kept.size());
    return counts;
  }

  /// What is kept, as a dataset: samples grouped by label (ascending), in reservoir order. Throws
  /// Error when the buffer is empty.
  Dataset<T> dataset() const {
    if (size_ == 0) detail::fail("ReplayBuffer::dataset: the buffer is empty; add data first");
    Matrix<T> X(features_, size_);
    Matrix<T> Y(target_rows_, labelled_ ? 0 : size_);
    std::vector<int> labels;
    Index at = 0;
    for (const auto& [label, r] : reservoirs_) {
      for (const Sample& s : r.kept) {
        X.col(at) = s.x;
        if (labelled_) {
          labels.push_back(label);
        } else {
          Y.col(at) = s.y;
        }
        ++at;
      }
    }
    if (labelled_) return Dataset<T>(std::move(X), std::move(labels));
    return Dataset<T>(std::move(X), std::move(Y));
  }

 private:
  struct Sample {
    Vector<T> x;
    Vector<T> y;  // targets (unlabelled data only)
  };
  struct Reservoir {
    std::vector<Sample> kept;
    Index seen = 0;
  };

  // The share of label `label`: capacity / classes seen, the remainder to the lowest labels.
  Index share(int label) const {
    const auto classes = static_cast<Index>(reservoirs_.size());
    Index rank = 0;
    for (const auto& entry : reservoirs_) {
      if (entry.first == label) break;
      ++rank;
    }
    return capacity_ / classes + (rank < capacity_ % classes ? 1 : 0);
  }

  void offer(const Dataset<T>& data, Index i) {
    const int label = labelled_ ? data.labels()[static_cast<std::size_t>(i)] : -1;
    Reservoir& r = reservoirs_[label];
    ++r.seen;
    Sample s{data.features().col(i), labelled_ ? Vector<T>() : Vector<T>(data.targets().col(i))};
    if (size_ < capacity_) {
      r.kept.push_back(std::move(s));
      ++size_;
      return;
    }
    const auto kept = static_cast<Index>(r.kept.size());
    if (kept < share(label)) {
      // Full, and this class is short of its share: a random sample of the class furthest above
      // its share makes room.
      Reservoir* over = nullptr;
      Index most = 0;
      for (auto& [other, o] : reservoirs_) {
        const Index excess = static_cast<Index>(o.kept.size()) - share(other);
        if (other != label && excess > most) {
          most = excess;
          over = &o;
        }
      }
      if (over != nullptr) {
        const auto victim = static_cast<std::size_t>(rng_.below(over->kept.size()));
        over->kept[victim] = std::move(over->kept.back());
        over->kept.pop_back();
        r.kept.push_back(std::move(s));
        return;
      }
    }
    // At its share: reservoir sampling within the class.
    const auto j = rng_.below(static_cast<std::uint64_t>(r.seen));
    if (j < static_cast<std::uint64_t>(kept)) r.kept[static_cast<std::size_t>(j)] = std::move(s);
  }

  Index capacity_;
  Rng rng_;
  Index features_ = 0;
  bool labelled_ = true;
  Index target_rows_ = 0;
  Index size_ = 0;
  std::map<int, Reservoir> reservoirs_;
};

}  // namespace neuroplast
