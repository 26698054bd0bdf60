#pragma once
/// \file
/// The training loop: minibatches, loss, backward pass, optimizer, and the policy between epochs.

#include <chrono>
#include <cmath>
#include <cstdio>
#include <numeric>
#include <optional>
#include <span>
#include <vector>

#include "neuroplast/core/error.hpp"
#include "neuroplast/core/growable_matrix.hpp"
#include "neuroplast/core/rng.hpp"
#include "neuroplast/data/dataset.hpp"
#include "neuroplast/loss/mse.hpp"
#include "neuroplast/loss/softmax_cross_entropy.hpp"
#include "neuroplast/network/workspace.hpp"
#include "neuroplast/optim/optimizer.hpp"
#include "neuroplast/train/history.hpp"
#include "neuroplast/train/static_policy.hpp"
#include "neuroplast/train/train_options.hpp"
#include "neuroplast/train/trainer_state.hpp"
#include "neuroplast/train/validation_criterion.hpp"

namespace neuroplast {

/// Loss and accuracy of a network on a dataset (accuracy NaN without labels).
struct Evaluation {
  double loss = 0;
  double accuracy = 0;
};

/// Trains `net` in place with `optimizer` (owned, taken by value) under `policy`:
///
/// ```cpp
/// Trainer trainer(net, Adam<float>{.learning_rate = 1e-3}, StaticPolicy{},
///                 TrainOptions{.epochs = 10, .batch_size = 64, .seed = 1});
/// History history = trainer.fit(train, validation);
/// ```
///
/// Each epoch shuffles the training set (seeded), runs forward, loss, backward and one optimizer
/// step per minibatch, evaluates the validation set, then calls `policy.on_epoch_end`. Steps are
/// allocation-free once the first batch has run. A non-finite loss stops training with a
/// NumericError before the optimizer applies that batch, so the network keeps its last finite
/// parameters. The trainer keeps a reference to `net`: the network must outlive it.
template <class Net, class Opt, class Policy = StaticPolicy>
  requires OptimizerFor<Opt, Net>
class Trainer {
 public:
  using T = typename Net::scalar;
  using Context = EpochContext<Net, Dataset<T>, History>;
  static_assert(TrainingPolicy<Policy, Context>,
                "Trainer: the policy needs `static constexpr std::string_view name` and "
                "`void on_epoch_end(EpochContext&)`; see StaticPolicy");

  /// Validates the optimizer's hyper-parameters and the options (throws Error).
  Trainer(Net& net, Opt optimizer, Policy policy = {}, TrainOptions options = {})
      : net_(net),
        opt_(std::move(optimizer)),
        policy_(std::move(policy)),
        options_(options),
        rng_(options.seed) {
    opt_.validate();
    options_.validate();
    // Dropout masks come from the workspace's stream: derive it from the seed, apart from the
    // shuffling stream.
    ws_.rng().reseed(options.seed ^ 0x64726f706f7574ULL);
  }

  /// Trains for `options().epochs` epochs on `train`, evaluating `validation` after each epoch.
  /// Returns the history of this trainer so far (this fit's epochs appended).
  History fit(const Dataset<T>& train, const Dataset<T>& validation) {
    return run(train, &validation);
  }

  /// As above without a validation set (validation figures are NaN).
  History fit(const Dataset<T>& train) { return run(train, nullptr); }

  /// The paper's "new data" condition of Algorithms 1 and 3: the policy's growth path runs once,
  /// now, judged on `data` (call it before fitting on the new data). A policy without
  /// `on_new_data` only records the event.
  void notify_new_data(const Dataset<T>& data) {
    check_dataset(data, "notify_new_data");
    Context context{net_, history_, data, nullptr, epoch_, snapshot()};
    const std::size_t before = history_.events.size();
    context.record(
        StructuralEvent{.kind = EventKind::new_data, .count = data.size(), .reason = "new data"});
    if constexpr (requires { policy_.on_new_data(context); }) policy_.on_new_data(context);
    announce_events(before);
  }

  /// Mean loss and accuracy of the network on `data`, in batches of `options().evaluation_batch`.
  Evaluation evaluate(const Dataset<T>& data) {
    check_dataset(data, "evaluate");
    const Index n = data.size();
    double loss_sum = 0;
    Index correct = 0;
    for (Index start = 0; start < n; start += options_.evaluation_batch) {
      const Index b = std::min(options_.evaluation_batch, n - start);
      const auto X = data.features().middleCols(start, b);
      // Inference pass: no dropout masks, no draws from the mask stream.
      const auto logits = net_.forward(X, ws_);
      Targets<T> targets = targets_for(data, start, b);
      loss_sum +=
          static_cast<double>(evaluate_loss(logits, targets, nullptr)) * static_cast<double>(b);
      if (data.has_labels()) {
        for (Index c = 0; c < b; ++c) {
          Index best = 0;
          logits.col(c).maxCoeff(&best);
          correct += best == data.labels()[static_cast<std::size_t>(start + c)];
        }
      }
    }
    return {loss_sum / static_cast<double>(n),
            data.has_labels() ? static_cast<double>(correct) / static_cast<double>(n)
                              : std::numeric_limits<double>::quiet_NaN()};
  }

  /// The trainer's own state (epochs done, shuffling and dropout streams): with the network,
  /// the optimizer and the history it makes a run resumable bit for bit
  /// (io/trainer_checkpoint.hpp).
  TrainerState state() const {
    return {.epoch = epoch_, .shuffle_rng = rng_.state(), .dropout_rng = ws_.rng().state()};
  }

  /// Continues from a saved state and history, as if this trainer had run them.
  void restore(const TrainerState& s, History history) {
    epoch_ = s.epoch;
    rng_.set_state(s.shuffle_rng);
    ws_.rng().set_state(s.dropout_rng);
    history_ = std::move(history);
  }

  const History& history() const noexcept { return history_; }
  Opt& optimizer() noexcept { return opt_; }
  Policy& policy() noexcept { return policy_; }
  const TrainOptions& options() const noexcept { return options_; }
  Net& network() noexcept { return net_; }

 private:
  History run(const Dataset<T>& train, const Dataset<T>* validation) {
    check_dataset(train, "fit (training set)");
    if (validation != nullptr) check_dataset(*validation, "fit (validation set)");
    opt_.validate();
    {
      Context begin{net_, history_, train, validation, epoch_, snapshot()};
      const std::size_t before = history_.events.size();
      if constexpr (requires { policy_.on_fit_begin(begin); }) policy_.on_fit_begin(begin);
      announce_events(before);
    }
    for (int e = 0; e < options_.epochs; ++e) {
      const auto started = std::chrono::steady_clock::now();
      EpochRecord record;
      record.epoch = ++epoch_;
      record.train_loss = train_epoch(train);
      if (validation != nullptr) {
        const Evaluation v = evaluate(*validation);
        record.validation_loss = v.loss;
        record.validation_accuracy = v.accuracy;
      }
      record.sizes = net_.sizes();
      record.parameter_count = net_.parameter_count();
      record.active_parameter_count = net_.active_parameter_count();
      history_.epochs.push_back(record);
      keep_best(history_.epochs.back());
      Context context{net_, history_, train, validation, epoch_, snapshot()};
      const std::size_t before = history_.events.size();
      policy_.on_epoch_end(context);
      EpochRecord& done = history_.epochs.back();
      done.sizes = net_.sizes();
      done.parameter_count = net_.parameter_count();
      done.active_parameter_count = net_.active_parameter_count();
      done.seconds =
          std::chrono::duration<double>(std::chrono::steady_clock::now() - started).count();
      if (options_.verbose) print_progress(done);
      announce_events(before);
      if (options_.on_epoch_end) options_.on_epoch_end(done);
      if (context.stop || early_stop()) break;
    }
    return history_;
  }

  // The best epoch's network, kept only when the policy asks for it.
  const Net* snapshot() const { return best_ ? &*best_ : nullptr; }

  void keep_best(const EpochRecord& r) {
    bool wants = false;
    if constexpr (requires { policy_.keeps_best_snapshot(); })
      wants = policy_.keeps_best_snapshot();
    if (!wants) return;
    const double score = !std::isnan(r.validation_accuracy) ? r.validation_accuracy
                         : !std::isnan(r.validation_loss)   ? -r.validation_loss
                                                            : -r.train_loss;
    if (!best_ || score > best_score_) {
      best_ = net_;
      best_score_ = score;
    }
  }

  bool early_stop() const {
    if (options_.early_stopping_patience == 0) return false;
    return detail::consistently_worse(
        history_, 0, options_.early_stopping_patience, 0.0, [](const EpochRecord& e) {
          return -(std::isnan(e.validation_loss) ? e.train_loss : e.validation_loss);
        });
  }

  void announce_events(std::size_t from) {
    for (std::size_t i = from; i < history_.events.size(); ++i) {
      const StructuralEvent& ev = history_.events[i];
      if (options_.verbose) {
        std::printf("          %s layer %lld, %lld (%s)  sizes %s\n", event_name(ev.kind),
                    static_cast<long long>(ev.layer), static_cast<long long>(ev.count),
                    ev.reason.c_str(), detail::format_sizes(ev.sizes_after).c_str());
      }
      if (options_.on_event) options_.on_event(ev);
    }
  }

  double train_epoch(const Dataset<T>& data) {
    const Index n = data.size();
    order_.resize(static_cast<std::size_t>(n));
    std::iota(order_.begin(), order_.end(), Index{0});
    if (options_.shuffle) rng_.shuffle(std::span<Index>(order_));
    const Index bs = std::min(options_.batch_size, n);
    batch_x_.reshape_uninitialized(data.feature_count(), bs);
    if (data.has_targets()) batch_t_.reshape_uninitialized(data.targets().rows(), bs);
    batch_labels_.reserve(static_cast<std::size_t>(bs));
    double loss_sum = 0;
    Index batch_index = 0;
    for (Index start = 0; start < n; start += bs, ++batch_index) {
      const Index b = std::min(bs, n - start);
      batch_x_.reshape_uninitialized(data.feature_count(), b);
      auto X = batch_x_.view();
      batch_labels_.clear();
      for (Index i = 0; i < b; ++i) {
        const Index src = order_[static_cast<std::size_t>(start + i)];
        X.col(i) = data.features().col(src);
        if (data.has_labels())
          batch_labels_.push_back(data.labels()[static_cast<std::size_t>(src)]);
      }
      Targets<T> targets{.labels = std::span<const int>(batch_labels_)};
      if (data.has_targets()) {
        batch_t_.reshape_uninitialized(data.targets().rows(), b);
        auto Y = batch_t_.view();
        for (Index i = 0; i < b; ++i)
          Y.col(i) = data.targets().col(order_[static_cast<std::size_t>(start + i)]);
        targets.values = batch_t_.data();
        targets.stride = batch_t_.outer_stride();
      }
      const auto logits = net_.forward_train(X, ws_);
      auto grad = ws_.output_gradient();
      const T loss = evaluate_loss(logits, targets, &grad);
      if (!std::isfinite(static_cast<double>(loss))) {
        detail::fail<NumericError>("fit: the loss became ", static_cast<double>(loss), " at epoch ",
                                   epoch_, ", batch ", batch_index, " (step ", opt_.steps + 1,
                                   "); the network keeps its last finite parameters. Lower the "
                                   "learning rate or check the data");
      }
      net_.backward(X, ws_);
      opt_.step(net_);
      loss_sum += static_cast<double>(loss) * static_cast<double>(b);
    }
    return loss_sum / static_cast<double>(n);
  }

  template <class Logits>
  T evaluate_loss(const Logits& logits, const Targets<T>& targets, MatrixView<T>* grad) const {
    switch (options_.loss) {
      case LossKind::mean_squared_error: return MeanSquaredError::evaluate(logits, targets, grad);
      case LossKind::softmax_cross_entropy:
      default: return SoftmaxCrossEntropy::evaluate(logits, targets, grad);
    }
  }

  Targets<T> targets_for(const Dataset<T>& data, Index start, Index b) const {
    Targets<T> t;
    if (data.has_labels())
      t.labels = std::span<const int>(data.labels())
                     .subspan(static_cast<std::size_t>(start), static_cast<std::size_t>(b));
    if (data.has_targets()) {
      t.values = data.targets().data() + start * data.targets().rows();
      t.stride = data.targets().rows();
    }
    return t;
  }

  void check_dataset(const Dataset<T>& data, const char* where) const {
    if (data.size() == 0) detail::fail(where, ": the dataset is empty");
    if (data.feature_count() != net_.input_size()) {
      detail::fail(where, ": samples have ", data.feature_count(),
                   " features but the network expects ", net_.input_size(), " inputs (sizes ",
                   detail::format_sizes(net_.sizes()), ")");
    }
    if (options_.loss == LossKind::softmax_cross_entropy && !data.has_labels()) {
      detail::fail(where,
                   ": softmax cross-entropy needs class labels; use LossKind::mean_squared_error "
                   "for real-valued targets");
    }
    if (data.has_labels() && data.class_count() > net_.output_size()) {
      detail::fail(where, ": labels go up to ", data.class_count() - 1,
                   " but the network has only ", net_.output_size(),
                   " outputs; build it with at least ", data.class_count(), " outputs");
    }
    if (data.has_targets() && data.targets().rows() != net_.output_size()) {
      detail::fail(where, ": targets have ", data.targets().rows(), " rows but the network has ",
                   net_.output_size(), " outputs");
    }
  }

  void print_progress(const EpochRecord& r) const {
    std::printf("epoch %3d  loss %.4f", r.epoch, r.train_loss);
    if (!std::isnan(r.validation_loss)) std::printf("  val_loss %.4f", r.validation_loss);
    if (!std::isnan(r.validation_accuracy))
      std::printf("  val_acc %6.2f%%", 100.0 * r.validation_accuracy);
    std::printf("  sizes %s  params %lld  %.1f s\n", detail::format_sizes(r.sizes).c_str(),
                static_cast<long long>(r.parameter_count), r.seconds);
    std::fflush(stdout);
  }

  Net& net_;
  Opt opt_;
  Policy policy_;
  TrainOptions options_;
  Rng rng_;
  Workspace<T> ws_;
  GrowableMatrix<T> batch_x_;
  GrowableMatrix<T> batch_t_;
  std::vector<int> batch_labels_;
  std::vector<Index> order_;
  History history_;
  int epoch_ = 0;
  std::optional<Net> best_;  // best epoch's network, when the policy keeps snapshots
  double best_score_ = 0;
};

/// Deduces `Trainer<Mlp<T, Act>, Opt, Policy>` from the constructor arguments.
template <class Net, class Opt, class Policy>
Trainer(Net&, Opt, Policy, TrainOptions) -> Trainer<Net, Opt, Policy>;
template <class Net, class Opt, class Policy>
Trainer(Net&, Opt, Policy) -> Trainer<Net, Opt, Policy>;
template <class Net, class Opt>
Trainer(Net&, Opt) -> Trainer<Net, Opt, StaticPolicy>;

}  // namespace neuroplast
