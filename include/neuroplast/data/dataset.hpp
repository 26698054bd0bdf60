#pragma once
/// \file
/// In-memory datasets. Samples are columns: features are `feature_count() × size()`, and each
/// sample carries either a class label or a column of regression targets.

#include <algorithm>
#include <cmath>
#include <cstddef>
#include <cstdint>
#include <initializer_list>
#include <limits>
#include <numeric>
#include <span>
#include <sstream>
#include <utility>
#include <vector>

#include "neuroplast/core/error.hpp"
#include "neuroplast/core/rng.hpp"
#include "neuroplast/core/types.hpp"

namespace neuroplast {

namespace detail {

/// Throws NumericError naming the first non-finite coefficient of `m` (column-major order, so the
/// reported sample is the earliest bad one). `who` is the calling function, `what` the matrix.
template <class M>
void require_finite(const M& m, const char* who, const char* what) {
  if (all_finite(m)) return;  // one vectorised pass on the happy path
  for (Index j = 0; j < m.cols(); ++j) {
    for (Index i = 0; i < m.rows(); ++i) {
      if (!std::isfinite(m(i, j))) {
        fail<NumericError>(who, ": ", what, " ", i, " of sample ", j, " is ", m(i, j), " (row ", i,
                           ", column ", j, " of the ", what, " matrix); remove or impute ",
                           "non-finite values before building a Dataset");
      }
    }
  }
}

/// Throws unless every index lies in [0, n); `who` names the caller in the message.
inline void require_sample_indices(std::span<const Index> indices, Index n, const char* who) {
  for (std::size_t k = 0; k < indices.size(); ++k) {
    if (indices[k] < 0 || indices[k] >= n) {
      if (n == 0) {
        fail(who, ": index ", indices[k], " at position ", k, ", but the dataset is empty");
      }
      fail(who, ": index ", indices[k], " at position ", k, " is out of range (the dataset has ", n,
           " samples: 0..", n - 1, ")");
    }
  }
}

}  // namespace detail

/// A set of samples held in memory. Samples are columns, as everywhere in neuroplast:
///
/// - `features()` is `feature_count() × size()`;
/// - a classification dataset has `labels()`, one non-negative class index per sample;
/// - a regression dataset has `targets()`, `outputs × size()`.
///
/// A constructed dataset is never empty and holds only finite numbers; the constructors check
/// this once so that training code can trust every batch. A default-constructed dataset is empty,
/// has neither labels nor targets, and is useful only as the start of `append`.
///
/// A dataset owns its features, or borrows them (`borrow`): then it reads the caller's memory in
/// place, which must outlive it. Copies always own their samples (a copy of a borrowing dataset
/// is a deep copy), so whatever keeps a dataset beyond the call it was given to cannot dangle.
template <Scalar T>
class Dataset {
 public:
  /// The features as a dataset exposes them: `feature_count() × size()`, column-major, contiguous.
  using Features = Eigen::Map<const Matrix<T>>;

  /// An empty dataset (no samples, no kind); `append` turns it into a copy of what is appended.
  Dataset() = default;

  /// Classification: `features` is `feature_count × n`, `labels` holds n class indices ≥ 0.
  /// Throws Error on an empty matrix or a size mismatch, NumericError on a NaN or infinity.
  Dataset(Matrix<T> features, std::vector<int> labels)
      : storage_(std::move(features)), labels_(std::move(labels)) {
    own_storage();
    check_labelled("Dataset");
  }

  /// Classification with labels written inline, `Dataset<double>{X, {0, 1, 1}}` (a braced list
  /// would otherwise be ambiguous between the label vector and a target matrix).
  Dataset(Matrix<T> features, std::initializer_list<int> labels)
      : Dataset(std::move(features), std::vector<int>(labels)) {}

  /// Regression: `features` is `feature_count × n`, `targets` is `outputs × n`.
  /// Throws Error on an empty matrix or a size mismatch, NumericError on a NaN or infinity.
  Dataset(Matrix<T> features, Matrix<T> targets)
      : storage_(std::move(features)), targets_(std::move(targets)) {
    own_storage();
    check_regression("Dataset");
  }

  /// Classification over features the caller keeps: `features` (`feature_count × n`, contiguous
  /// column-major memory, e.g. a numpy `(n, feature_count)` float array in C order) is read in
  /// place, never copied; `labels` as for the owning constructor. The memory must outlive the
  /// dataset and keep its values while anything trains on it. Same checks and exceptions as the
  /// owning constructor (they read every value once).
  ///
  /// Why: a copy of Fashion-MNIST's 60 000 × 784 floats is 188 MB of fresh pages, which took
  /// longer than a training epoch from Python (docs/python.md).
  static Dataset borrow(Features features, std::vector<int> labels) {
    Dataset d;
    d.labels_ = std::move(labels);
    d.view(features);
    d.check_labelled("Dataset::borrow");
    return d;
  }

  /// Classification over borrowed features with labels written inline (a braced list would
  /// otherwise be ambiguous between the label vector and a target matrix).
  static Dataset borrow(Features features, std::initializer_list<int> labels) {
    return borrow(features, std::vector<int>(labels));
  }

  /// Regression over features the caller keeps (see the classification `borrow`); `targets`
  /// (`outputs × n`) are owned.
  static Dataset borrow(Features features, Matrix<T> targets) {
    Dataset d;
    d.targets_ = std::move(targets);
    d.view(features);
    d.check_regression("Dataset::borrow");
    return d;
  }

  /// A deep copy: it owns its samples, even when `other` borrows them.
  Dataset(const Dataset& other)
      : storage_(other.features()),
        labels_(other.labels_),
        targets_(other.targets_),
        class_count_(other.class_count_) {
    own_storage();
  }

  /// Takes `other`'s samples (owned or borrowed) and leaves it empty.
  Dataset(Dataset&& other) noexcept { take(std::move(other)); }

  /// A deep copy of `other` (see the copy constructor); `*this` is unchanged if it throws.
  Dataset& operator=(const Dataset& other) {
    if (this != &other) *this = Dataset(other);
    return *this;
  }

  /// Takes `other`'s samples (owned or borrowed) and leaves it empty.
  Dataset& operator=(Dataset&& other) noexcept {
    if (this != &other) take(std::move(other));
    return *this;
  }

  /// All features, `feature_count() × size()`: a view of the dataset's own memory or of the
  /// borrowed one (valid while the dataset is, and unchanged by it).
  Features features() const noexcept { return Features(data_, rows_, cols_); }
  /// Whether the features are the caller's memory (`borrow`) rather than the dataset's own.
  bool borrows() const noexcept { return data_ != nullptr && data_ != storage_.data(); }
  /// Class label of each sample (size() entries); empty unless `has_labels()`.
  const std::vector<int>& labels() const noexcept { return labels_; }
  /// Regression targets, `outputs × size()`; 0 × 0 unless `has_targets()`.
  const Matrix<T>& targets() const noexcept { return targets_; }
  /// True for a classification dataset.
  bool has_labels() const noexcept { return !labels_.empty(); }
  /// True for a regression dataset.
  bool has_targets() const noexcept { return targets_.size() > 0; }
  /// Number of samples (columns).
  Index size() const noexcept { return cols_; }
  /// Number of features per sample (rows).
  Index feature_count() const noexcept { return rows_; }
  /// Largest label + 1 (classes absent from this dataset but below the largest still count);
  /// 0 when the dataset has no labels.
  int class_count() const noexcept { return class_count_; }

  /// The samples at `indices`, in that order (repeats allowed, e.g. for bootstrapping).
  /// Throws Error if `indices` is empty or any index is outside [0, size()).
  Dataset subset(std::span<const Index> indices) const {
    constexpr const char* who = "Dataset::subset";
    if (indices.empty()) detail::fail(who, ": no indices given; a Dataset cannot be empty");
    detail::require_sample_indices(indices, size(), who);
    const auto count = static_cast<Index>(indices.size());
    Matrix<T> features(feature_count(), count);
    std::vector<int> labels;
    Matrix<T> targets;
    if (has_labels()) labels.resize(indices.size());
    if (has_targets()) targets.resize(targets_.rows(), count);
    const Features all = this->features();
    for (Index k = 0; k < count; ++k) {
      const Index j = indices[static_cast<std::size_t>(k)];
      features.col(k) = all.col(j);
      if (has_labels()) labels[static_cast<std::size_t>(k)] = labels_[static_cast<std::size_t>(j)];
      if (has_targets()) targets.col(k) = targets_.col(j);
    }
    return trusted(std::move(features), std::move(labels), std::move(targets));
  }

  /// Shuffles the sample order with `Rng(seed)`, then puts the first round(size() ·
  /// first_fraction) shuffled samples in the first part and the rest in the second; both parts
  /// keep the shuffled order. The same seed always gives the same split. Throws Error unless
  /// 0 < first_fraction < 1 and both parts get at least one sample.
  std::pair<Dataset, Dataset> split(double first_fraction, std::uint64_t seed) const {
    constexpr const char* who = "Dataset::split";
    if (!(first_fraction > 0.0 && first_fraction < 1.0)) {
      detail::fail(who, ": first_fraction is ", first_fraction,
                   "; it must lie strictly between 0 and 1 (e.g. 0.8 for an 80/20 split)");
    }
    const Index n = size();
    const auto first = static_cast<Index>(std::llround(static_cast<double>(n) * first_fraction));
    if (first < 1 || first > n - 1) {
      detail::fail(who, ": ", first_fraction, " of ", n, " samples puts ", first,
                   " in the first part and ", n - first, " in the second; both need at least one ",
                   "sample (use a fraction between 1/n and 1 - 1/n, or more data)");
    }
    std::vector<Index> order(static_cast<std::size_t>(n));
    std::iota(order.begin(), order.end(), Index{0});
    Rng rng(seed);
    rng.shuffle(std::span<Index>(order));
    const std::span<const Index> all(order);
    const auto cut = static_cast<std::size_t>(first);
    return {subset(all.first(cut)), subset(all.subspan(cut))};
  }

  /// The samples whose label is one of `classes`, in their original order. Labels keep their
  /// values (no remapping), so a network trained on a subset of classes sees the same indices as
  /// on the full set. Throws Error on a regression dataset or when no sample matches.
  Dataset with_classes(std::span<const int> classes) const {
    constexpr const char* who = "Dataset::with_classes";
    if (!has_labels()) {
      detail::fail(who, ": the dataset has no class labels",
                   has_targets() ? " (it is a regression dataset)" : " (it is empty)",
                   "; select by class only on a labeled dataset");
    }
    std::vector<Index> chosen;
    for (std::size_t j = 0; j < labels_.size(); ++j) {
      if (std::find(classes.begin(), classes.end(), labels_[j]) != classes.end()) {
        chosen.push_back(static_cast<Index>(j));
      }
    }
    if (chosen.empty()) {
      std::ostringstream wanted;
      for (std::size_t k = 0; k < classes.size(); ++k) wanted << (k ? ", " : "") << classes[k];
      detail::fail(who, ": no sample has a label in {", wanted.str(), "} (labels here are 0..",
                   class_count_ - 1, "); pick classes present in the dataset");
    }
    return subset(chosen);
  }

  /// Adds the samples of `other` after this dataset's own. Appending to an empty dataset copies
  /// `other`; appending an empty dataset does nothing. Throws Error, leaving this dataset
  /// unchanged, when the feature counts, the kinds (labels vs targets) or the target counts differ.
  void append(const Dataset& other) {
    constexpr const char* who = "Dataset::append";
    if (other.size() == 0) return;
    if (size() == 0) {
      *this = other;
      return;
    }
    if (other.feature_count() != feature_count()) {
      detail::fail(who, ": the appended samples have ", other.feature_count(),
                   " features but this dataset has ", feature_count(),
                   "; both must describe samples with the same features");
    }
    if (other.has_labels() != has_labels()) {
      detail::fail(who, ": cannot append a ", other.kind(), " dataset to a ", kind(),
                   " dataset; both must have labels or both targets");
    }
    if (has_targets() && other.targets_.rows() != targets_.rows()) {
      detail::fail(who, ": the appended samples have ", other.targets_.rows(),
                   " targets each but this dataset has ", targets_.rows(),
                   "; both must predict the same outputs");
    }
    // Build everything before touching a member, so a bad_alloc leaves *this as it was.
    Matrix<T> features(feature_count(), size() + other.size());
    features << this->features(), other.features();
    Matrix<T> targets;
    if (has_targets()) {
      targets.resize(targets_.rows(), size() + other.size());
      targets << targets_, other.targets_;
    }
    std::vector<int> labels;
    labels.reserve(labels_.size() + other.labels_.size());
    labels.insert(labels.end(), labels_.begin(), labels_.end());
    labels.insert(labels.end(), other.labels_.begin(), other.labels_.end());
    storage_ = std::move(features);
    own_storage();
    targets_ = std::move(targets);
    labels_ = std::move(labels);
    class_count_ = std::max(class_count_, other.class_count_);
  }

  /// Copies the feature columns at `indices` into the first `indices.size()` columns of `out`,
  /// any writable Eigen expression with `feature_count()` rows and at least `indices.size()`
  /// columns (a Matrix, a block of one, a Map of a batch buffer). Never allocates, so a trainer
  /// can refill a preallocated batch every step. Throws Error, before writing anything, on a
  /// size mismatch or an index outside [0, size()).
  template <class Out>
  void gather_columns(std::span<const Index> indices, Out&& out) const {
    check_gather("Dataset::gather_columns", indices, out.rows(), out.cols(), feature_count(),
                 "features");
    const Features all = features();
    for (std::size_t k = 0; k < indices.size(); ++k) {
      out.col(static_cast<Index>(k)) = all.col(indices[k]);
    }
  }

  /// Like `gather_columns`, for the regression targets: `out` has `targets().rows()` rows.
  /// Throws Error on a dataset without targets.
  template <class Out>
  void gather_targets(std::span<const Index> indices, Out&& out) const {
    constexpr const char* who = "Dataset::gather_targets";
    if (!has_targets()) detail::fail(who, ": the dataset has no regression targets");
    check_gather(who, indices, out.rows(), out.cols(), targets_.rows(), "targets");
    for (std::size_t k = 0; k < indices.size(); ++k) {
      out.col(static_cast<Index>(k)) = targets_.col(indices[k]);
    }
  }

 private:
  // Builds a dataset from parts already validated (taken from validated datasets).
  static Dataset trusted(Matrix<T> features, std::vector<int> labels, Matrix<T> targets) {
    Dataset d;
    d.storage_ = std::move(features);
    d.own_storage();
    d.labels_ = std::move(labels);
    d.targets_ = std::move(targets);
    d.class_count_ =
        d.labels_.empty() ? 0 : *std::max_element(d.labels_.begin(), d.labels_.end()) + 1;
    return d;
  }

  // The features are `storage_` from now on (after every change to it: Eigen may reallocate).
  void own_storage() noexcept { view(Features(storage_.data(), storage_.rows(), storage_.cols())); }

  // The features are the caller's `features` (borrowed); `storage_` stays empty.
  void view(const Features& features) noexcept {
    data_ = features.data();
    rows_ = features.rows();
    cols_ = features.cols();
  }

  void take(Dataset&& other) noexcept {
    const bool borrowed = other.borrows();
    const Features theirs = other.features();
    storage_ = std::move(other.storage_);  // Eigen's move keeps the buffer
    labels_ = std::move(other.labels_);
    targets_ = std::move(other.targets_);
    class_count_ = other.class_count_;
    if (borrowed) {
      view(theirs);
    } else {
      own_storage();
    }
    other.storage_ = Matrix<T>();
    other.labels_.clear();
    other.targets_ = Matrix<T>();
    other.class_count_ = 0;
    other.own_storage();
  }

  // The checks of the classification constructors, on the features and labels already set.
  void check_labelled(const char* who) {
    require_nonempty_features(who);
    if (size() != static_cast<Index>(labels_.size())) {
      const bool transposed = feature_count() == static_cast<Index>(labels_.size());
      detail::fail(
          who, ": features have ", size(), " columns (samples) but ", labels_.size(),
          " labels were given; pass one label per column",
          transposed ? " (the feature matrix looks transposed: samples must be columns)" : "");
    }
    for (std::size_t j = 0; j < labels_.size(); ++j) {
      // The largest label + 1 is the class count: INT_MAX would overflow it.
      if (labels_[j] < 0 || labels_[j] == std::numeric_limits<int>::max()) {
        detail::fail(who, ": label of sample ", j, " is ", labels_[j],
                     "; class labels must be 0, 1, 2, ... (remap them before building a Dataset)");
      }
    }
    detail::require_finite(features(), who, "feature");
    class_count_ = labels_.empty() ? 0 : *std::max_element(labels_.begin(), labels_.end()) + 1;
  }

  // The checks of the regression constructors, on the features and targets already set.
  void check_regression(const char* who) const {
    require_nonempty_features(who);
    if (targets_.rows() == 0) {
      detail::fail(who, ": targets have 0 rows; a regression dataset needs at least one output ",
                   "per sample (targets are outputs × samples)");
    }
    if (targets_.cols() != size()) {
      detail::fail(who, ": features are ", detail::format_shape(feature_count(), size()),
                   " but targets are ", detail::format_shape(targets_.rows(), targets_.cols()),
                   "; both need one column per sample");
    }
    detail::require_finite(features(), who, "feature");
    detail::require_finite(targets_, who, "target");
  }

  void require_nonempty_features(const char* who) const {
    if (size() == 0) {
      detail::fail(who, ": features are ", detail::format_shape(feature_count(), size()),
                   ", i.e. no samples; a Dataset needs at least one sample (one column)");
    }
    if (feature_count() == 0) {
      detail::fail(who, ": features are ", detail::format_shape(feature_count(), size()),
                   ", i.e. 0 features per sample; each sample (column) needs at least one feature");
    }
  }

  const char* kind() const noexcept {
    return has_labels() ? "labeled" : has_targets() ? "regression" : "empty";
  }

  void check_gather(const char* who, std::span<const Index> indices, Index out_rows, Index out_cols,
                    Index rows, const char* what) const {
    if (out_rows != rows) {
      detail::fail(who, ": the output has ", out_rows, " rows but the ", what, " have ", rows,
                   "; size the batch buffer ", rows, " × batch");
    }
    if (static_cast<Index>(indices.size()) > out_cols) {
      detail::fail(who, ": ", indices.size(), " samples requested but the output has only ",
                   out_cols, " columns; give it at least one column per index");
    }
    detail::require_sample_indices(indices, size(), who);
  }

  Matrix<T> storage_;          // the owned features, feature_count × n; empty when borrowing
  const T* data_ = nullptr;    // the features: storage_'s memory or the borrowed memory
  Index rows_ = 0, cols_ = 0;  // their shape
  std::vector<int> labels_;    // n, or empty for regression
  Matrix<T> targets_;          // outputs × n, or 0 × 0 for classification
  int class_count_ = 0;        // max label + 1, cached: the trainer asks for it every epoch
};

}  // namespace neuroplast
