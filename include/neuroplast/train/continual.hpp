#pragma once
/// \file
/// Continual-learning protocols and metrics: tasks as groups of classes, a task's accuracy with
/// every output (class-incremental) or with the task's own outputs (task-incremental), and the
/// accuracy matrix with the usual summaries (average accuracy, forgetting, backward and forward
/// transfer). docs/continual.md.

#include <algorithm>
#include <cmath>
#include <limits>
#include <span>
#include <vector>

#include "neuroplast/core/error.hpp"
#include "neuroplast/core/types.hpp"
#include "neuroplast/data/dataset.hpp"
#include "neuroplast/network/network.hpp"

namespace neuroplast {

/// How a task is judged at test time.
enum class ContinualProtocol {
  /// The task is not known: the prediction is the argmax over every output (one shared head).
  class_incremental,
  /// The task is known: the argmax over the task's own classes only (a head per task, or
  /// masked logits).
  task_incremental,
};

/// The classes 0 … class_count − 1 in consecutive groups of `per_task`: {0, 1}, {2, 3}, … for
/// per_task = 2 (Split MNIST's tasks). Throws Error unless per_task ≥ 1 divides class_count.
inline std::vector<std::vector<int>> class_split(int class_count, int per_task) {
  if (per_task < 1 || class_count < per_task || class_count % per_task != 0) {
    detail::fail("class_split: ", class_count, " classes cannot be split into tasks of ", per_task,
                 " (per_task must be ≥ 1 and divide the class count)");
  }
  std::vector<std::vector<int>> tasks(static_cast<std::size_t>(class_count / per_task));
  for (int c = 0; c < class_count; ++c) tasks[static_cast<std::size_t>(c / per_task)].push_back(c);
  return tasks;
}

/// The fraction of `data`'s samples that `net` classifies right: the argmax over every output
/// (class_incremental) or over the outputs `classes` only (task_incremental; `classes` are output
/// indices, and every label of `data` must be one of them). Inference in batches of `batch`
/// columns. Throws Error for a regression dataset, an empty one, a class outside the network's
/// outputs or a label outside `classes` under task_incremental.
template <Network Net, class T>
double task_accuracy(const Net& net, const Dataset<T>& data, std::span<const int> classes,
                     ContinualProtocol protocol, Index batch = 1024) {
  constexpr const char* who = "task_accuracy";
  if (!data.has_labels() || data.size() == 0)
    detail::fail(who, ": needs a non-empty classification dataset");
  const Index outputs = net.sizes().back();
  for (const int c : classes) {
    if (c < 0 || c >= outputs)
      detail::fail(who, ": class ", c, " is not an output of the network (", outputs, " outputs)");
  }
  const bool masked = protocol == ContinualProtocol::task_incremental;
  if (masked) {
    for (std::size_t i = 0; i < data.labels().size(); ++i) {
      if (std::find(classes.begin(), classes.end(), data.labels()[i]) == classes.end()) {
        detail::fail(who, ": sample ", i, " has label ", data.labels()[i],
                     ", which is not one of the task's classes; task-incremental accuracy is "
                     "measured on the task's own samples");
      }
    }
  }
  Index correct = 0;
  for (Index start = 0; start < data.size(); start += std::max<Index>(batch, 1)) {
    const Index b = std::min(std::max<Index>(batch, 1), data.size() - start);
    const Matrix<T> logits = net.forward(data.features().middleCols(start, b));
    for (Index j = 0; j < b; ++j) {
      Index best = 0;
      if (masked) {
        best = classes.front();
        for (const int c : classes)
          if (logits(c, j) > logits(best, j)) best = c;
      } else {
        logits.col(j).maxCoeff(&best);
      }
      correct += best == data.labels()[static_cast<std::size_t>(start + j)];
    }
  }
  return static_cast<double>(correct) / static_cast<double>(data.size());
}

/// The accuracy matrix of a sequence of T tasks: `after(i, j)` is the accuracy on task j's test
/// samples after training on tasks 0 … i (row i, T × T, entries in [0, 1]); `baseline(j)` the
/// accuracy on task j of the network before any training (for forward transfer; may be left
/// empty). The summaries follow the usual definitions (Lopez-Paz & Ranzato 2017, "Gradient
/// Episodic Memory"; Chaudhry et al. 2018, "Riemannian Walk"), with R = after and the last row
/// T − 1 the final network:
///
/// - average accuracy  A = 1/T Σ_j R(T−1, j)
/// - backward transfer BWT = 1/(T−1) Σ_{j<T−1} (R(T−1, j) − R(j, j))   (negative: forgetting)
/// - forgetting        F = 1/(T−1) Σ_{j<T−1} (max_{j≤l<T−1} R(l, j) − R(T−1, j))
/// - forward transfer  FWT = 1/(T−1) Σ_{j>0} (R(j−1, j) − baseline(j))
///
/// The summaries need rows 0 … T − 1 measured on and below the diagonal (FWT also the entries
/// just above it) and throw Error naming the first entry that is not an accuracy.
struct AccuracyMatrix {
  Matrix<double> after;     ///< R: accuracy on task j after tasks 0 … i, `T × T`
  Vector<double> baseline;  ///< accuracy on task j before any training, `T` (or empty)

  /// T tasks, every entry NaN until measured. Throws Error for T < 1.
  explicit AccuracyMatrix(Index tasks)
      : after(Matrix<double>::Constant(checked_tasks(tasks), tasks,
                                       std::numeric_limits<double>::quiet_NaN())) {}

  Index tasks() const noexcept { return after.rows(); }  ///< T

  /// Mean accuracy over tasks 0 … i after training on task i (i = T − 1: the average accuracy).
  double average_accuracy(Index i) const {
    check_row(i, "AccuracyMatrix::average_accuracy");
    return after.row(i).head(i + 1).mean();
  }
  /// The average accuracy A of the final network over all tasks.
  double average_accuracy() const { return average_accuracy(tasks() - 1); }

  /// BWT: how training on later tasks changed the accuracy on earlier ones (0 for one task).
  double backward_transfer() const {
    check_row(tasks() - 1, "AccuracyMatrix::backward_transfer");
    const Index T = tasks();
    if (T < 2) return 0;
    double sum = 0;
    for (Index j = 0; j + 1 < T; ++j) sum += after(T - 1, j) - after(j, j);
    return sum / static_cast<double>(T - 1);
  }

  /// F: the mean drop from each earlier task's best accuracy to its final one (0 for one task).
  double forgetting() const {
    check_row(tasks() - 1, "AccuracyMatrix::forgetting");
    const Index T = tasks();
    if (T < 2) return 0;
    double sum = 0;
    for (Index j = 0; j + 1 < T; ++j) {
      double best = after(j, j);
      for (Index l = j + 1; l + 1 < T; ++l) best = std::max(best, after(l, j));
      sum += best - after(T - 1, j);
    }
    return sum / static_cast<double>(T - 1);
  }

  /// FWT: how training on earlier tasks helps a task before it is trained (NaN without a
  /// baseline; 0 for one task).
  double forward_transfer() const {
    const Index T = tasks();
    if (baseline.size() != T) return std::numeric_limits<double>::quiet_NaN();
    if (T < 2) return 0;
    double sum = 0;
    for (Index j = 1; j < T; ++j) sum += after(j - 1, j) - baseline(j);
    return sum / static_cast<double>(T - 1);
  }

 private:
  // Rows 0 … i must be measured up to the diagonal (the tasks trained so far).
  void check_row(Index i, const char* who) const {
    if (i < 0 || i >= tasks()) detail::fail(who, ": row ", i, " of a ", tasks(), "-task matrix");
    for (Index r = 0; r <= i; ++r) {
      for (Index j = 0; j <= r; ++j) {
        const double a = after(r, j);
        if (!(a >= 0 && a <= 1)) {
          detail::fail(who, ": after(", r, ", ", j, ") = ", a,
                       " is not a measured accuracy in [0, 1]");
        }
      }
    }
  }

 private:
  static Index checked_tasks(Index tasks) {
    if (tasks < 1) detail::fail("AccuracyMatrix: tasks = ", tasks, "; need at least one task");
    return tasks;
  }
};

}  // namespace neuroplast
