#pragma once
/// \file
/// The training loop: minibatches, loss, backward pass, optimizer, and the policy between epochs.

#include <algorithm>
#include <bit>
#include <chrono>
#include <cmath>
#include <cstdio>
#include <filesystem>
#include <limits>
#include <numeric>
#include <optional>
#include <span>
#include <string>
#include <string_view>
#include <variant>
#include <vector>

#include "neuroplast/core/error.hpp"
#include "neuroplast/core/growable_matrix.hpp"
#include "neuroplast/core/rng.hpp"
#include "neuroplast/data/dataset.hpp"
#include "neuroplast/loss/batch_targets.hpp"
#include "neuroplast/loss/loss_function.hpp"
#include "neuroplast/network/fingerprint.hpp"
#include "neuroplast/network/network.hpp"
#include "neuroplast/network/workspace.hpp"
#include "neuroplast/optim/gradient_clipping.hpp"
#include "neuroplast/optim/optimizer.hpp"
#include "neuroplast/train/batcher.hpp"
#include "neuroplast/train/checkpoint_store.hpp"
#include "neuroplast/train/history.hpp"
#include "neuroplast/train/numeric_guard.hpp"
#include "neuroplast/train/parallel.hpp"
#include "neuroplast/train/progress.hpp"
#include "neuroplast/train/static_policy.hpp"
#include "neuroplast/train/train_options.hpp"
#include "neuroplast/train/trainer_state.hpp"
#include "neuroplast/train/validation_criterion.hpp"

namespace neuroplast {

/// Loss and accuracy of a network on a dataset (accuracy NaN without labels).
struct Evaluation {
  double loss = 0;      ///< mean loss per sample
  double accuracy = 0;  ///< fraction of samples whose largest logit is their label
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
/// allocation-free once the first batch has run. The trainer keeps a reference to `net`: the
/// network must outlive it.
///
/// Numerical faults: a non-finite loss throws NumericError (naming epoch, batch, step and the
/// first layer whose parameters or output are not finite) before the optimizer applies that batch;
/// parameters that became non-finite in an epoch's last step are caught at the end of the epoch.
/// With `TrainOptions::on_numeric_error = NumericErrorAction::rollback` the trainer instead
/// restores network, optimizer, policy and its own state from the end of the last good epoch,
/// records an `EventKind::rollback` event, scales the learning rate and retries the epoch.
///
/// Checkpoints: with `TrainOptions::checkpoint` set, the trainer writes a resumable checkpoint
/// after the epochs it asks for, through `CheckpointStore<Net, Opt>` (train/checkpoint_store.hpp;
/// io/trainer_checkpoint.hpp defines it for Mlp with Sgd, Adam and AdamW).
///
/// Data parallel: with a DistributedStrategy as `Parallel` (`mpi::DataParallel`,
/// neuroplast/mpi.hpp), every process runs this same trainer on the same full datasets; each
/// computes forward and backward on its share of every global batch (`options.batch_size`), the
/// gradients and losses are summed over processes (bit-identical everywhere), and every process
/// takes the same step and makes the same structural decisions. Validation and `evaluate` are
/// split the same way; with rehearsal (`set_replay`) every process recalls the same memory
/// samples into a batch and computes its share of them. Only process 0 writes checkpoints. An error
/// on any process (a non-finite loss, a failed checkpoint write) ends `fit` on every process with
/// the same exception type. docs/distributed.md.
template <class Net, class Opt, class Policy = StaticPolicy, class Parallel = SingleProcess>
  requires EditableNetwork<Net> && OptimizerFor<Opt, Net> && ParallelStrategy<Parallel>
class Trainer {
 public:
  using T = typename Net::scalar;                          ///< the network's scalar type
  using Context = EpochContext<Net, Dataset<T>, History>;  ///< what the policy receives
  /// Whether this network and optimizer can be written to trainer checkpoints: a CheckpointStore
  /// is defined for them (io/trainer_checkpoint.hpp: Mlp with Sgd, Adam or AdamW).
  static constexpr bool kCanCheckpoint = CheckpointStorable<Net, Opt>;
  static_assert(TrainingPolicy<Policy, Context>,
                "Trainer: the policy needs `static constexpr std::string_view name` and "
                "`void on_epoch_end(EpochContext&)`; see StaticPolicy");

  /// Validates the optimizer's hyper-parameters and the options (throws Error). `parallel`: how
  /// the work is spread over processes (SingleProcess, or e.g. mpi::DataParallel; then every
  /// process builds its trainer with the same network, seed and options).
  Trainer(Net& net, Opt optimizer, Policy policy = {}, TrainOptions options = {},
          Parallel parallel = {})
      : net_(net),
        opt_(std::move(optimizer)),
        policy_(std::move(policy)),
        options_(options),
        parallel_(std::move(parallel)),
        rng_(options.seed) {
    opt_.validate();
    options_.validate();
    if constexpr (requires { opt_.learning_rate; })
      base_learning_rate_ = static_cast<double>(opt_.learning_rate);
    if (!options_.checkpoint.path.empty() && !kCanCheckpoint) {
      detail::fail(
          "TrainOptions::checkpoint: this network or optimizer cannot be written to a "
          "checkpoint: no CheckpointStore is defined for them here (io/trainer_checkpoint.hpp, "
          "included by neuroplast.hpp, defines it for Mlp with Sgd, Adam and AdamW)");
    }
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
  /// `on_new_data` only records the event. Throws Error, changing nothing, for a `data` the
  /// network cannot take or a policy setting its `validate(net)` refuses.
  void notify_new_data(const Dataset<T>& data) {
    // A setting the policy refuses throws before the event is recorded or anything changes; in
    // a data-parallel run on every process, with the first failing process's message.
    const auto check = [&] {
      check_dataset(data, net_, options_.loss, "notify_new_data");
      if constexpr (requires { policy_.validate(net_); }) policy_.validate(net_);
    };
    if constexpr (Parallel::distributed) {
      in_lockstep(check);
      agree_on_hooks("notify_new_data");
    } else {
      check();
    }
    // Epochs before the new data were judged on other data: their best no longer compares.
    best_.reset();
    Context context{net_, history_, data, nullptr, epoch_, snapshot(), &saved_};
    const std::size_t before = history_.events.size();
    context.record(
        StructuralEvent{.kind = EventKind::new_data, .count = data.size(), .reason = "new data"});
    if constexpr (requires { policy_.on_new_data(context); })
      in_lockstep([&] { policy_.on_new_data(context); });
    announce_events(before);
  }

  /// Rehearsal: from the next fit on, `ratio` ∈ (0, 1) of every training batch are samples drawn
  /// at random (with replacement, from the shuffling stream) from `memory` — e.g. a
  /// ReplayBuffer's `dataset()` — and the rest come from the training set as usual, so an epoch
  /// is still one pass over the training set, in steps of round(batch_size × (1 − ratio)) of its
  /// samples. `memory` must hold labels where the training set does (targets of the same count
  /// otherwise) and the network's inputs; it is copied. Not saved in checkpoints: set it again
  /// before `resume`. In data-parallel training every process must set the same memory and ratio:
  /// the draws come from the shuffling stream all processes share, and each process computes its
  /// share of the whole batch, recalled samples included. Throws Error for a bad ratio or memory.
  void set_replay(Dataset<T> memory, double ratio) {
    if (!(ratio > 0 && ratio < 1))
      detail::fail("set_replay: ratio = ", ratio, " must lie in (0, 1)");
    check_dataset(memory, net_, options_.loss, "set_replay (memory)");
    replay_ = std::move(memory);
    replay_ratio_ = ratio;
  }
  /// Ends rehearsal: batches come from the training set alone again.
  void clear_replay() {
    replay_.reset();
    replay_ratio_ = 0;
  }

  /// Mean loss and accuracy of the network on `data`, in batches of `options().evaluation_batch`.
  /// With a DistributedStrategy each process evaluates its share of `data` and the sums are
  /// reduced: call it on every process.
  Evaluation evaluate(const Dataset<T>& data) {
    if constexpr (Parallel::distributed) {
      in_lockstep([&] { check_dataset(data, net_, options_.loss, "evaluate"); });
    } else {
      check_dataset(data, net_, options_.loss, "evaluate");
    }
    const Index n = data.size();
    double loss_sum = 0;
    Index correct = 0;
    Share mine{0, n};
    if constexpr (Parallel::distributed) mine = share_of(n, parallel_.rank(), parallel_.size());
    const auto evaluate_share = [&] {
      for (Index start = mine.begin; start < mine.end; start += options_.evaluation_batch) {
        const Index b = std::min(options_.evaluation_batch, mine.end - start);
        const auto X = data.features().middleCols(start, b);
        // Inference pass: no dropout masks, no draws from the mask stream.
        const auto logits = net_.forward(X, ws_);
        Targets<T> targets = batch_targets(data, start, b);
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
    };
    if constexpr (!Parallel::distributed) {
      evaluate_share();
    } else {
      std::string failure;  // what the loss threw on this process's share
      try {
        evaluate_share();
      } catch (...) {
        failure = failure_here();
      }
      // The loss is user code: agreed in the same sum as the statistics, at no extra collective.
      double sums[3] = {loss_sum, static_cast<double>(correct), failure.empty() ? 0.0 : 1.0};
      parallel_.sum(std::span<double>(sums));
      if (sums[2] > 0) rethrow_agreed(parallel_.agree_on_failure(!failure.empty(), failure));
      loss_sum = sums[0];
      correct = static_cast<Index>(sums[1]);
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

  /// Continues the run a checkpoint of this kind of trainer holds (`TrainOptions::checkpoint`):
  /// network (written into the network this trainer edits), optimizer, History, the trainer's
  /// counters and random streams, the policy's progress, the best epoch's network and the network
  /// the policy kept (EpochContext::saved). The next
  /// `fit` then makes exactly the edits, and ends with exactly the parameters, of a run that never
  /// stopped. The trainer's own settings (options, the policy's settings) are kept: build it as the
  /// run that wrote the file was built. Throws FileError for an unreadable or foreign file and
  /// Error for a checkpoint of another kind of network, optimizer or policy; the trainer and
  /// network are then unchanged.
  void resume(const std::string& path) requires(kCanCheckpoint) {
    auto c = CheckpointStore<Net, Opt>::read(path, policy_);
    c.optimizer.validate();
    // Nothing above changed the trainer: commit all at once.
    commit(std::move(c));
  }

  /// Continues from a saved state and history, as if this trainer had run them. Throws Error,
  /// leaving the trainer unchanged, for a negative epoch or a random state no stream reaches.
  void restore(const TrainerState& s, History history) {
    if (s.epoch < 0) detail::fail("Trainer::restore: epoch = ", s.epoch, "; it must be ≥ 0");
    if (!Rng::reachable(s.shuffle_rng) || !Rng::reachable(s.dropout_rng)) {
      detail::fail(
          "Trainer::restore: a random stream's state is all zero (a default TrainerState?)"
          "; pass a state this library wrote (Trainer::state or a checkpoint)");
    }
    epoch_ = s.epoch;
    rng_.set_state(s.shuffle_rng);
    ws_.rng().set_state(s.dropout_rng);
    history_ = std::move(history);
  }

  const History& history() const noexcept { return history_; }  ///< every epoch and event so far
  Opt& optimizer() noexcept { return opt_; }                    ///< the optimizer, with its state
  Policy& policy() noexcept { return policy_; }                 ///< the policy, with its progress
  const TrainOptions& options() const noexcept { return options_; }  ///< the run's options
  Net& network() noexcept { return net_; }                           ///< the network trained
  Parallel& parallel() noexcept { return parallel_; }  ///< how work is spread over processes

 private:
  History run(const Dataset<T>& train, const Dataset<T>* validation) {
    if constexpr (Parallel::distributed) {
      agree_to_start(train, validation);
    } else {
      check_dataset(train, net_, options_.loss, "fit (training set)");
      if (validation != nullptr)
        check_dataset(*validation, net_, options_.loss, "fit (validation set)");
      opt_.validate();
      check_checkpoint_directory();
    }
    {
      Context begin{net_, history_, train, validation, epoch_, snapshot(), &saved_};
      begin.steps_per_epoch = steps_per_epoch(train);
      begin.loss = options_.loss;
      begin.epochs_left = options_.epochs;
      const std::size_t before = history_.events.size();
      if constexpr (requires { policy_.on_fit_begin(begin); })
        in_lockstep([&] { policy_.on_fit_begin(begin); });
      announce_events(before);
    }
    int rollbacks = 0;
    keep_good_state();
    for (int done = 0; done < options_.epochs;) {
      const auto started = std::chrono::steady_clock::now();
      const std::size_t before = history_.events.size();
      bool stop = false;
      try {
        stop = train_and_judge_epoch(train, validation, options_.epochs - done - 1);
      } catch (const NumericError& error) {
        if (!guard_.armed()) throw;
        roll_back(error, rollbacks);
        continue;
      }
      ++done;
      // Taken before any user callback: only what the trainer has checked finite is "good".
      if (!stop) keep_good_state();
      EpochRecord& record = history_.epochs.back();
      record.seconds =
          std::chrono::duration<double>(std::chrono::steady_clock::now() - started).count();
      if constexpr (kCanCheckpoint) {
        // The policy's part copies the best and saved networks: built only when one is written.
        if (checkpoint_due(options_.checkpoint, epoch_, history_)) write_checkpoint();
      }
      if (options_.verbose) detail::print_epoch(record);
      announce_events(before);
      call_hook(options_.on_epoch_end, kEpochEndHook, "on_epoch_end", record);
      if (stop) break;
    }
    if (options_.restore_best) restore_best_epoch();
    guard_.disarm();
    return history_;
  }

  // One epoch up to and including the policy; true when the fit ends here (the policy asks to
  // stop, or early stopping). Everything it changes is covered by the rollback snapshot.
  // `epochs_left` = epochs of this fit after this one, by count.
  bool train_and_judge_epoch(const Dataset<T>& train, const Dataset<T>* validation,
                             int epochs_left) {
    apply_schedule();
    EpochRecord record;
    record.epoch = ++epoch_;
    record.train_loss = train_epoch(train);
    check_parameters("at the end of epoch");
    if (validation != nullptr) {
      const Evaluation v = evaluate(*validation);
      record.validation_loss = v.loss;
      record.validation_accuracy = v.accuracy;
      if (!std::isfinite(v.loss)) {
        detail::fail<NumericError>("fit: the validation loss became ", v.loss, " after epoch ",
                                   epoch_, " (step ", opt_.steps,
                                   "): ", detail::locate_non_finite_loss(net_, ws_),
                                   ". Lower the learning rate or check the data");
      }
    }
    record.sizes = net_.sizes();
    record.parameter_count = net_.parameter_count();
    record.active_parameter_count = net_.active_parameter_count();
    history_.epochs.push_back(record);
    keep_best(history_.epochs.back());
    Context context{net_, history_, train, validation, epoch_, snapshot(), &saved_};
    // Decided before the policy runs, so the policy knows; early stopping reads only the epoch
    // records, which the policy does not change.
    const bool early = early_stop();
    context.final_epoch = epochs_left == 0 || early;
    context.epochs_left = early ? 0 : epochs_left;
    context.steps_per_epoch = steps_per_epoch(train);
    context.loss = options_.loss;
    in_lockstep([&] { policy_.on_epoch_end(context); });
    EpochRecord& done = history_.epochs.back();
    done.sizes = net_.sizes();
    done.parameter_count = net_.parameter_count();
    done.active_parameter_count = net_.active_parameter_count();
    return context.stop || early;
  }

  // Sets the optimizer's rate for the epoch about to be trained from the schedule: the base rate
  // (as built) × the schedule's factor × the reductions of the numeric-error rollbacks recorded so
  // far. Everything comes from the History, so a resumed run sets the same rates. Without a
  // schedule the rate is left as it is.
  void apply_schedule() {
    if (std::holds_alternative<ConstantRate>(options_.learning_rate_schedule)) return;
    if constexpr (requires { opt_.learning_rate; }) {
      double rate = base_learning_rate_ *
                    schedule_factor(options_.learning_rate_schedule, history_, epoch_ + 1);
      for (const StructuralEvent& e : history_.events)
        if (e.kind == EventKind::rollback && e.count > 0 && std::isfinite(e.trigger_value))
          rate *= options_.rollback_learning_rate_factor;
      opt_.learning_rate = static_cast<decltype(opt_.learning_rate)>(rate);
    }
  }

  // The trainer's whole state, as a checkpoint or a rollback holds it.
  ResumePoint<Net, Opt, Policy> capture() const {
    return {net_, opt_, history_, state(), policy_, best_, best_score_, saved_};
  }

  // Makes `p` the trainer's state.
  void commit(ResumePoint<Net, Opt, Policy> p) {
    net_ = std::move(p.network);
    opt_ = std::move(p.optimizer);
    policy_ = std::move(p.policy);
    best_ = std::move(p.best);
    best_score_ = p.best_score;
    saved_ = std::move(p.saved);
    restore(p.trainer, std::move(p.history));
  }

  // The end of the last good epoch (or the start of the fit) is what a rollback restores.
  void keep_good_state() {
    if (options_.on_numeric_error != NumericErrorAction::rollback) return;
    guard_.keep(capture());
  }

  // Restores the good state; then either gives up (rethrows, the network is left at the good
  // state) or records the rollback, lowers the learning rate and lets the caller retry.
  void roll_back(const NumericError& error, int& rollbacks) {
    auto& g = guard_.good();
    commit(g);
    if (rollbacks >= options_.max_rollbacks) {
      guard_.disarm();
      detail::fail<NumericError>(error.what(), " [gave up after ", rollbacks,
                                 " rollback(s); the network is back at the end of epoch ", epoch_,
                                 "]");
    }
    ++rollbacks;
    double learning_rate = std::numeric_limits<double>::quiet_NaN();
    if constexpr (requires { opt_.learning_rate; }) {
      opt_.learning_rate = static_cast<decltype(opt_.learning_rate)>(
          static_cast<double>(opt_.learning_rate) * options_.rollback_learning_rate_factor);
      learning_rate = static_cast<double>(opt_.learning_rate);
    }
    const std::size_t before = history_.events.size();
    history_.events.push_back(StructuralEvent{.epoch = epoch_,
                                              .kind = EventKind::rollback,
                                              .layer = -1,
                                              .count = rollbacks,
                                              .reason = error.what(),
                                              .trigger_value = learning_rate,
                                              .sizes_after = net_.sizes()});
    announce_events(before);
    // A later rollback starts from the lowered learning rate and keeps this event.
    g.optimizer = opt_;
    g.history = history_;
  }

  // NumericError naming the first layer whose weights or biases are not finite.
  void check_parameters(const char* when) const {
    const std::string where = detail::first_non_finite_parameter(net_);
    if (!where.empty()) {
      detail::fail<NumericError>("fit: ", where, " ", when, " ", epoch_, " (step ", opt_.steps,
                                 "). Lower the learning rate or check the data");
    }
  }

  Index steps_per_epoch(const Dataset<T>& train) const {
    const Index fresh = fresh_per_batch(train.size());
    return (train.size() + fresh - 1) / fresh;
  }

  // Training-set samples per batch: the batch, less what rehearsal recalls from the memory.
  Index fresh_per_batch(Index n) const {
    const Index bs = std::min(options_.batch_size, n);
    if (!replay_) return bs;
    return std::clamp<Index>(
        static_cast<Index>(std::lround(static_cast<double>(bs) * (1 - replay_ratio_))), 1, bs);
  }

  // Memory samples per batch: the rest of the batch (0 without rehearsal).
  Index recalled_per_batch(Index n) const {
    return std::min(options_.batch_size, n) - fresh_per_batch(n);
  }

  // The best epoch's network, kept only when the policy asks for it.
  const Net* snapshot() const { return best_ ? &*best_ : nullptr; }

  void keep_best(const EpochRecord& r) {
    bool wants = options_.restore_best;
    if constexpr (requires { policy_.keeps_best_snapshot(); })
      wants = wants || policy_.keeps_best_snapshot();
    if (!wants) return;
    const double score = r.best_epoch_score();
    if (!best_ || score > best_score_) {
      best_ = net_;
      best_score_ = score;
    }
  }

  // TrainOptions::restore_best: back to the best epoch's network unless the last epoch is it.
  void restore_best_epoch() {
    if (!best_ || history_.epochs.empty() ||
        !(history_.epochs.back().best_epoch_score() < best_score_))
      return;
    // A policy may have handed the best epoch's network back already (DropinPolicy at the end of
    // a fit that scored measurably worse): nothing to restore, nothing to record.
    if (network_fingerprint(net_) == network_fingerprint(*best_)) return;
    const std::size_t before = history_.events.size();
    net_ = *best_;
    history_.events.push_back(StructuralEvent{.epoch = epoch_,
                                              .kind = EventKind::rollback,
                                              .layer = -1,
                                              .reason = "restore_best: back to the best epoch",
                                              .sizes_after = net_.sizes()});
    announce_events(before);
  }

  bool early_stop() const {
    if (options_.early_stopping_patience == 0) return false;
    return detail::consistently_worse(history_, 0, options_.early_stopping_patience, 0.0,
                                      [](const EpochRecord& e) { return -e.judged_loss(); });
  }

  void announce_events(std::size_t from) {
    for (std::size_t i = from; i < history_.events.size(); ++i) {
      const StructuralEvent& ev = history_.events[i];
      if (options_.verbose) detail::print_event(ev);
      call_hook(options_.on_event, kEventHook, "on_event", ev);
    }
  }

  // Writes the due checkpoint; in a data-parallel run process 0 alone writes, and a failed write
  // ends fit on every process with its FileError.
  void write_checkpoint() requires(kCanCheckpoint) {
    const TrainerState s = state();
    const CheckpointContent<Net, Opt, Policy> content{net_,    opt_,  history_,    s,
                                                      policy_, best_, best_score_, saved_};
    if constexpr (!Parallel::distributed) {
      CheckpointStore<Net, Opt>::write(options_.checkpoint.path, content);
    } else {
      in_lockstep([&] {
        if (parallel_.rank() == 0)
          CheckpointStore<Net, Opt>::write(options_.checkpoint.path, content);
      });
    }
  }

  using Sample = typename Batcher<T>::Sample;

  // The memory of `set_replay` must hold what `data` holds: labels, or targets.
  void check_replay_matches(const Dataset<T>& data) const {
    if (replay_ && replay_->has_labels() != data.has_labels()) {
      detail::fail(
          "fit: the replay memory and the training set must both hold labels, or both "
          "targets (set_replay)");
    }
  }

  // Draws the memory samples of the next batch (`recalled` of them) from the shuffling stream:
  // every process of a data-parallel run draws the same ones.
  void draw_recalled(Index recalled) {
    recall_.resize(static_cast<std::size_t>(recalled));
    for (Index& r : recall_)
      r = static_cast<Index>(rng_.below(static_cast<std::uint64_t>(replay_->size())));
  }

  // Sample i of a batch that starts at the training set's `start`-th sample in shuffled order and
  // holds `own` of them: those first, then the memory's draws (`draw_recalled`).
  Sample batch_sample(const Dataset<T>& data, Index start, Index own, Index i) const {
    if (i < own) return {&data, batcher_.order(start + i)};
    return {&*replay_, recall_[static_cast<std::size_t>(i - own)]};
  }

  // One global batch of an epoch: `own` samples of the training set from its `start`-th in
  // shuffled order, then the memory's draws; `size` in all.
  struct BatchSpan {
    Index start = 0;    ///< first training sample, in shuffled order
    Index own = 0;      ///< training samples in the batch
    Index size = 0;     ///< own + recalled
    Index index = 0;    ///< the batch's number in the epoch
    Index batches = 0;  ///< batches in the epoch
  };

  // The epoch's batch loop, shared by the serial and the data-parallel epoch: shuffles, draws the
  // memory's samples for each batch and calls `train_batch(span)`, which returns the batch's
  // summed loss; returns the epoch's mean loss per sample (the memory's included).
  template <class TrainBatch>
  double for_each_batch(const Dataset<T>& data, TrainBatch&& train_batch) {
    const Index n = data.size();
    batcher_.shuffle(n, options_.shuffle, rng_);
    check_replay_matches(data);
    // With rehearsal, each batch is `fresh` samples of the training set and `recalled` from the
    // memory; without, all of a batch is fresh.
    const Index fresh = fresh_per_batch(n);
    const Index recalled = recalled_per_batch(n);
    double loss_sum = 0;
    Index samples = 0;
    Index index = 0;
    for (Index start = 0; start < n; start += fresh, ++index) {
      const Index own = std::min(fresh, n - start);
      draw_recalled(recalled);
      const BatchSpan span{.start = start,
                           .own = own,
                           .size = own + recalled,
                           .index = index,
                           .batches = (n + fresh - 1) / fresh};
      loss_sum += train_batch(span);
      samples += span.size;
    }
    return loss_sum / static_cast<double>(samples);
  }

  double train_epoch(const Dataset<T>& data) {
    if constexpr (Parallel::distributed) return train_epoch_shared(data);
    return for_each_batch(data, [&](const BatchSpan& batch) {
      const Index b = batch.size;
      const Targets<T> targets = batcher_.gather(data, b, b, [&](Index i) -> Sample {
        return batch_sample(data, batch.start, batch.own, i);
      });
      const auto X = batcher_.features();
      const auto logits = net_.forward_train(X, ws_);
      auto grad = ws_.output_gradient();
      const T loss = evaluate_loss(logits, targets, &grad);
      if (!std::isfinite(static_cast<double>(loss))) {
        detail::fail<NumericError>("fit: the loss became ", static_cast<double>(loss), " at epoch ",
                                   epoch_, ", batch ", batch.index, " (step ", opt_.steps + 1,
                                   "): ", detail::locate_non_finite_loss(net_, ws_),
                                   ". The batch was not applied. Lower the learning rate or check "
                                   "the data");
      }
      net_.backward(X, ws_);
      // One record per step: the hooks see the same batch; `step` counts the step being taken.
      BatchRecord record{.epoch = epoch_,
                         .batch = batch.index,
                         .batches = batch.batches,
                         .samples = b,
                         .loss = static_cast<double>(loss),
                         .step = opt_.steps + 1};
      step(record);
      call_hook(options_.on_batch_end, kBatchEndHook, "on_batch_end", record);
      return static_cast<double>(loss) * static_cast<double>(b);
    });
  }

  // Data-parallel epoch: every process builds the same global batches (the same shuffled order
  // and, with rehearsal, the same memory draws), computes forward and backward on its share
  // (dropout masks drawn for the whole batch, so they are a single process's), and one reduction
  // sums the gradients; a second the loss and a failure flag. Every process then takes the same
  // step.
  double train_epoch_shared(const Dataset<T>& data) {
    // However the epoch ends, later passes (evaluation, Monte Carlo dropout) are whole batches.
    struct WindowReset {
      Workspace<T>& ws;
      ~WindowReset() { ws.set_sample_window(0, 0); }
    } window_reset{ws_};
    return for_each_batch(data, [&](const BatchSpan& batch) {
      const Index b = batch.size;
      const Share mine = share_of(b, parallel_.rank(), parallel_.size());
      // A process whose share is empty (a last batch smaller than the process count) runs one
      // zero sample with a zero loss gradient: its streams and step counter stay in step.
      const Targets<T> targets = batcher_.gather(
          data, mine.size(), std::max<Index>(mine.size(), 1), [&](Index i) -> Sample {
            return batch_sample(data, batch.start, batch.own, mine.begin + i);
          });
      const auto X = batcher_.features();
      ws_.set_sample_window(mine.size() > 0 ? mine.begin : 0, b);
      const auto logits = net_.forward_train(X, ws_);
      auto grad = ws_.output_gradient();
      double local_loss = 0;
      bool failed = false;
      std::string threw;  // what the loss (user code) threw on this process
      if (mine.size() > 0) {
        try {
          const T loss = evaluate_loss(logits, targets, &grad);  // the mean over this share
          failed = !std::isfinite(static_cast<double>(loss));
          local_loss = static_cast<double>(loss) * static_cast<double>(mine.size());
          // The step follows the mean over the whole batch: this share's part of it.
          grad *= static_cast<T>(static_cast<double>(mine.size()) / static_cast<double>(b));
        } catch (...) {
          threw = failure_here();
        }
      } else {
        grad.setZero();
      }
      // Agreed before any backward pass: a batch that failed anywhere is applied nowhere. A loss
      // that threw anywhere ends fit everywhere with its exception, agreed in the same sum.
      double stats[3] = {failed ? 0.0 : local_loss, failed ? 1.0 : 0.0, threw.empty() ? 0.0 : 1.0};
      parallel_.sum(std::span<double>(stats));
      if (stats[2] > 0) rethrow_agreed(parallel_.agree_on_failure(!threw.empty(), threw));
      if (stats[1] > 0) {
        const std::string failure = parallel_.agree_on_failure(
            failed, detail::message("fit: the loss became non-finite at epoch ", epoch_, ", batch ",
                                    batch.index, " (step ", opt_.steps + 1, ") on process ",
                                    parallel_.rank(), " of ", parallel_.size(), ": ",
                                    detail::locate_non_finite_loss(net_, ws_),
                                    ". The batch was not applied. Lower the learning rate or "
                                    "check the data"));
        detail::fail<NumericError>(failure);
      }
      backward_and_sum(X);
      BatchRecord record{.epoch = epoch_,
                         .batch = batch.index,
                         .batches = batch.batches,
                         .samples = b,
                         .loss = stats[0] / static_cast<double>(b),
                         .step = opt_.steps + 1};
      step(record);
      check_lockstep();
      call_hook(options_.on_batch_end, kBatchEndHook, "on_batch_end", record);
      return stats[0];
    });
  }

  // The step after backward: the gradient hook, clipping, the optimizer. The optimizers keep a
  // pruned weight at exactly 0 only because its gradient is 0 (backward makes it so; they no
  // longer re-zero masked weights after every update, a pass over every weight matrix that made a
  // half-pruned network train 11–24% slower than the unpruned one; docs/performance.md), so
  // gradients a hook may have written into are masked again.
  void step(BatchRecord& record) {
    if (options_.on_gradients) {
      call_hook(options_.on_gradients, kGradientsHook, "on_gradients", record);
      net_.for_each_param([](Param<T>& p, ParamKind) { p.mask_gradient(); });
    }
    clip_gradients(record);
    opt_.step(net_);
  }

  // TrainOptions::clip_gradient_norm on the step's gradients, recording the norm. Clipping an
  // infinite norm would silently zero the step and a NaN one would not clip: NumericError.
  void clip_gradients(BatchRecord& record) {
    if (options_.clip_gradient_norm <= 0) return;
    record.gradient_norm = neuroplast::clip_gradient_norm(net_, options_.clip_gradient_norm);
    if (!std::isfinite(record.gradient_norm)) {
      detail::fail<NumericError>("fit: the gradient norm became ", record.gradient_norm,
                                 " at epoch ", epoch_, ", batch ", record.batch, " (step ",
                                 record.step,
                                 "): backward overflowed although the loss is finite. The batch "
                                 "was not applied. Lower the learning rate or check the data");
    }
  }

  // A checkpoint directory that does not exist would fail the first write, an epoch or more into
  // the fit: refused before training.
  void check_checkpoint_directory() const {
    if (options_.checkpoint.path.empty()) return;
    const std::filesystem::path dir = std::filesystem::path(options_.checkpoint.path).parent_path();
    std::error_code error;
    if (!dir.empty() && !std::filesystem::is_directory(dir, error)) {
      detail::fail<FileError>("fit: the directory '", dir.string(),
                              "' of TrainOptions::checkpoint.path does not exist (or is not a "
                              "directory); create it or choose another path");
    }
  }

  // Before a data-parallel fit: every process checks its inputs, and all of them throw the first
  // failing process's Error if any fails (none is left waiting in a collective); then they must
  // hold the same datasets, network and options, or all throw.
  void agree_to_start(const Dataset<T>& train, const Dataset<T>* validation) {
    in_lockstep([&] {
      check_dataset(train, net_, options_.loss, "fit (training set)");
      if (validation != nullptr)
        check_dataset(*validation, net_, options_.loss, "fit (validation set)");
      opt_.validate();
    });
    // Checked by the one process that writes checkpoints, and thrown everywhere as FileError.
    in_lockstep([&] {
      if (parallel_.rank() == 0) check_checkpoint_directory();
    });
    agree_on_hooks("fit");
    std::uint64_t h = network_fingerprint(net_);
    auto mix = [&](std::uint64_t v) { h = (h ^ v) * 0x100000001b3ULL; };
    for (const Dataset<T>* d : {&train, validation}) {
      if (d == nullptr) continue;
      mix(static_cast<std::uint64_t>(d->size()));
      mix(static_cast<std::uint64_t>(d->feature_count()));
      mix(std::bit_cast<std::uint64_t>(static_cast<double>(d->features().sum())));
    }
    mix(options_.seed);
    mix(static_cast<std::uint64_t>(options_.batch_size));
    mix(static_cast<std::uint64_t>(options_.epochs));
    mix(static_cast<std::uint64_t>(epoch_));
    // A memory that differs would draw different samples (or from streams that part ways).
    mix(replay_ ? static_cast<std::uint64_t>(replay_->size()) : 0);
    if (replay_) {
      mix(std::bit_cast<std::uint64_t>(static_cast<double>(replay_->features().sum())));
      mix(std::bit_cast<std::uint64_t>(replay_ratio_));
    }
    if (!parallel_.same_everywhere(h)) {
      detail::fail(
          "fit: the processes differ in their network, datasets or options (seed, batch "
          "size, epochs, rehearsal memory); every process must build the same network from the "
          "same seed and pass the same full datasets, options and set_replay memory");
    }
  }

  // The TrainOptions hooks, as bits of `hooks_anywhere_`.
  static constexpr unsigned kEpochEndHook = 1, kEventHook = 2, kBatchEndHook = 4,
                            kGradientsHook = 8;

  // Data-parallel runs: which hooks some process has set (`hooks_anywhere_`), so that every
  // process takes part in the agreement after each call of one (call_hook). Printing from process
  // 0 alone is the usual use; `on_gradients`, which changes the step, must be set on every
  // process or on none, or the processes' parameters would part ways.
  void agree_on_hooks(const char* where) {
    double set[4] = {options_.on_epoch_end ? 1.0 : 0.0, options_.on_event ? 1.0 : 0.0,
                     options_.on_batch_end ? 1.0 : 0.0, options_.on_gradients ? 1.0 : 0.0};
    parallel_.sum(std::span<double>(set));
    if (set[3] != 0 && set[3] != static_cast<double>(parallel_.size())) {
      detail::fail(where, ": on_gradients is set on ", set[3], " of ", parallel_.size(),
                   " processes; it changes the step, so set it on every process or on none");
    }
    hooks_anywhere_ = 0;
    for (unsigned b = 0; b < 4; ++b)
      if (set[b] > 0) hooks_anywhere_ |= 1u << b;
  }

  // Calls a TrainOptions hook (`bit` names it). In one process: if set, and its exception
  // propagates as it is. In a data-parallel run, when any process has the hook set, every process
  // agrees after the call whether it threw on any of them (in_lockstep), and then every process
  // throws Error with the first failing process's message: a hook that threw on one process alone
  // would otherwise leave the others waiting in the next collective.
  template <class Hook, class Arg>
  void call_hook(const Hook& hook, unsigned bit, const char* name, Arg& arg) {
    if constexpr (!Parallel::distributed) {
      (void)bit;
      if (hook) hook(arg);
    } else {
      if ((hooks_anywhere_ & bit) == 0) return;
      in_lockstep([&] {
        const auto threw = [&](std::string_view why) {
          detail::fail("Trainer: the ", name, " hook threw at epoch ", epoch_, why);
        };
        try {
          if (hook) hook(arg);
        } catch (const std::exception& e) {
          threw(std::string(": ") + e.what());
        } catch (...) {
          threw(" (not a std::exception)");
        }
      });
    }
  }

  // Calls `body` — the checks of a fit's inputs, a hook, the policy: code that may fail on one
  // process alone — and, in a data-parallel run, agrees afterwards whether it threw on any process
  // (one MPI_Allreduce of an int when it did not); then every process throws the first failing
  // process's exception again, as its type (`rethrow_agreed`). A failure on one process alone
  // (a dataset of the wrong shape there, a user's policy whose log file could not be opened
  // there) would otherwise leave the others waiting in the next collective. A body that itself
  // waits in a collective must fail on every process or none, as the library's policies do: they
  // decide from the same reduced statistics.
  template <class Body>
  void in_lockstep(Body&& body) {
    if constexpr (!Parallel::distributed) {
      body();
    } else {
      std::string failure;
      try {
        body();
      } catch (...) {
        failure = failure_here();
      }
      rethrow_agreed(parallel_.agree_on_failure(!failure.empty(), failure));
    }
  }

  // The exception being handled, for `agree_on_failure`: its type as one letter (N NumericError,
  // F FileError, E anything else), then its message and this process's rank. Call it in a catch
  // block only.
  std::string failure_here() const {
    const auto tagged = [this](char type, const char* what) {
      return type + std::string(what != nullptr && *what != '\0' ? what : "(no message)") +
             detail::message(" [process ", parallel_.rank(), " of ", parallel_.size(), "]");
    };
    try {
      throw;
    } catch (const NumericError& e) {
      return tagged('N', e.what());
    } catch (const FileError& e) {
      return tagged('F', e.what());
    } catch (const std::exception& e) {
      return tagged('E', e.what());
    } catch (...) {
      return tagged('E', "an exception that is not a std::exception");
    }
  }

  // Throws an agreed `failure_here` (nothing when it is empty) as its type: NumericError,
  // so that a numeric-error rollback acts on every process alike, FileError, or Error.
  static void rethrow_agreed(const std::string& failure) {
    if (failure.empty()) return;
    const std::string message = failure.substr(1);
    if (failure.front() == 'N') detail::fail<NumericError>(message);
    if (failure.front() == 'F') detail::fail<FileError>(message);
    detail::fail(message);
  }

  // Backward, and every gradient summed over the processes. With OverlappingSums, each layer's
  // gradients are packed as backward finishes them (last layer first) and a bucket's sum starts
  // once it holds `bucket_bytes`, so the sums of the upper layers run while the lower ones are
  // computed; otherwise the sums after backward (`sum_gradients`). Either way each element is the
  // same sum.
  template <class Features>
  void backward_and_sum(const Features& X) {
    if constexpr (OverlappingSums<Parallel>) {
      if (parallel_.bucket_bytes != std::numeric_limits<std::size_t>::max()) {
        const auto layers = net_.layer_count();
        reduce_buffer_.resize(gradient_count());
        std::size_t at = 0, bucket = 0;
        const auto each_plane = [&](Index l, auto&& f) {
          auto& d = net_.layer_params(l);
          f(d.weight_param());
          f(d.bias_param());
        };
        net_.backward(X, ws_, [&](Index l) {
          each_plane(l, [&](Param<T>& p) { at += gradient_to(p, reduce_buffer_.data() + at); });
          if ((at - bucket) * sizeof(T) >= parallel_.bucket_bytes || l == 0) {
            parallel_.start_sum(std::span<T>(reduce_buffer_.data() + bucket, at - bucket));
            bucket = at;
          } else {
            parallel_.progress_sums();
          }
        });
        parallel_.finish_sums();
        at = 0;
        for (Index l = layers; l-- > 0;)
          each_plane(l, [&](Param<T>& p) { at += gradient_from(p, reduce_buffer_.data() + at); });
        return;
      }
    }
    net_.backward(X, ws_);
    sum_gradients();
  }

  // Sums every gradient plane over the processes. A plane of at least kSumInPlace values is
  // summed on its own, where it lies: copying 1.86 million gradients of 784-1024-1024-10 to a flat
  // buffer and back took 2.2 ms a step, twice the reduction itself (docs/distributed.md). The
  // small planes share one flat buffer and one reduction: on a small network the reductions'
  // latency, not their bandwidth, is the cost. Which planes go where depends on their shapes
  // alone, so every process makes the same collective calls in the same order; a large plane
  // stored with gaps between its rows (capacity for growth) is summed through the buffer, alone.
  void sum_gradients() {
    reduce_buffer_.resize(gradient_count());
    std::size_t at = 0;
    net_.for_each_param([&](Param<T>& p, ParamKind) {
      const std::size_t n = plane_size(p);
      if (n < kSumInPlace) {
        at += gradient_to(p, reduce_buffer_.data() + at);
      } else if (p.grad.outer_stride() == p.grad.cols()) {
        parallel_.sum(std::span<T>(p.grad.data(), n));
      } else {
        const std::span<T> alone(reduce_buffer_.data() + at, n);
        gradient_to(p, alone.data());
        parallel_.sum(alone);
        gradient_from(p, alone.data());
      }
    });
    parallel_.sum(std::span<T>(reduce_buffer_.data(), at));
    at = 0;
    net_.for_each_param([&](Param<T>& p, ParamKind) {
      if (plane_size(p) < kSumInPlace) at += gradient_from(p, reduce_buffer_.data() + at);
    });
  }
  // Gradient planes of at least this many values are summed on their own (`sum_gradients`).
  static constexpr std::size_t kSumInPlace = std::size_t{1} << 16;
  // Values in p's gradient plane.
  static std::size_t plane_size(const Param<T>& p) {
    return static_cast<std::size_t>(p.grad.rows() * p.grad.cols());
  }

  // Values in every gradient plane: one per parameter.
  std::size_t gradient_count() const { return static_cast<std::size_t>(net_.parameter_count()); }

  // Copies p's gradient plane, row by row (rows may be padded for growth), to `to`; returns the
  // number of values written.
  static std::size_t gradient_to(Param<T>& p, T* to) {
    const auto g = p.grad.view();
    for (Index r = 0; r < g.rows(); ++r) std::copy_n(&g(r, 0), g.cols(), to + r * g.cols());
    return static_cast<std::size_t>(g.rows() * g.cols());
  }
  // The reverse: p's gradient plane from `from`; returns the number of values read.
  static std::size_t gradient_from(Param<T>& p, const T* from) {
    auto g = p.grad.view();
    for (Index r = 0; r < g.rows(); ++r) std::copy_n(from + r * g.cols(), g.cols(), &g(r, 0));
    return static_cast<std::size_t>(g.rows() * g.cols());
  }

  // Every `check_every` steps: Error unless every process holds bit-identical parameters.
  void check_lockstep() {
    if (parallel_.check_every <= 0 || opt_.steps % parallel_.check_every != 0) return;
    if (!parallel_.same_everywhere(network_fingerprint(net_))) {
      detail::fail("fit: the processes' networks differ after step ", opt_.steps, " (epoch ",
                   epoch_, "): they must start from the same network, seed and options");
    }
  }

  template <class Logits>
  T evaluate_loss(const Logits& logits, const Targets<T>& targets, MatrixView<T>* grad) const {
    return options_.loss.evaluate(logits, targets, grad);
  }

  Net& net_;
  Opt opt_;
  Policy policy_;
  TrainOptions options_;
  Parallel parallel_;
  std::vector<T> reduce_buffer_;      // gradients in flight (data-parallel runs)
  std::optional<Dataset<T>> replay_;  // rehearsal memory (set_replay)
  double replay_ratio_ = 0;
  std::vector<Index> recall_;      // this batch's draws from it
  double base_learning_rate_ = 0;  // the optimizer's rate as built: what a schedule scales
  Rng rng_;
  Workspace<T> ws_;
  Batcher<T> batcher_;  // batch buffers and the epoch's order
  History history_;
  int epoch_ = 0;
  std::optional<Net> best_;  // best epoch's network, when the policy keeps snapshots
  double best_score_ = 0;
  std::optional<Net> saved_;              // a network the policy keeps (EpochContext::saved)
  NumericGuard<Net, Opt, Policy> guard_;  // rollback target (NumericErrorAction::rollback)
  unsigned hooks_anywhere_ = 0;  // data-parallel runs: hooks some process has set (agree_on_hooks)
};

/// Deduces `Trainer<Net, Opt, Policy, Parallel>` from the constructor arguments.
template <class Net, class Opt, class Policy, class Parallel>
Trainer(Net&, Opt, Policy, TrainOptions, Parallel) -> Trainer<Net, Opt, Policy, Parallel>;
/// As above, on one process.
template <class Net, class Opt, class Policy>
Trainer(Net&, Opt, Policy, TrainOptions) -> Trainer<Net, Opt, Policy>;
/// As above, with default options.
template <class Net, class Opt, class Policy>
Trainer(Net&, Opt, Policy) -> Trainer<Net, Opt, Policy>;
/// As above, with StaticPolicy.
template <class Net, class Opt>
Trainer(Net&, Opt) -> Trainer<Net, Opt, StaticPolicy>;

}  // namespace neuroplast
