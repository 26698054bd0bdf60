#pragma once
/// \file
/// Trainer-level checkpoints: a network together with its optimizer (hyper-parameters and step
/// count), the training History and the trainer's own counters and random streams, so that a run
/// resumed from the file continues exactly as the uninterrupted run would have.

#include <algorithm>
#include <cstdint>
#include <optional>
#include <string>
#include <string_view>
#include <type_traits>
#include <vector>

#include "neuroplast/core/rng.hpp"
#include "neuroplast/io/checkpoint.hpp"
#include "neuroplast/io/field_codec.hpp"
#include "neuroplast/io/policy_state.hpp"
#include "neuroplast/optim/adam.hpp"
#include "neuroplast/optim/sgd.hpp"
#include "neuroplast/train/checkpoint_options.hpp"
#include "neuroplast/train/checkpoint_store.hpp"
#include "neuroplast/train/history.hpp"
#include "neuroplast/train/trainer_state.hpp"

namespace neuroplast {

/// What a Trainer writes into its checkpoints besides network, optimizer, history and its own
/// state: its policy's name and progress (io/policy_state.hpp) and the best epoch's network with
/// its score, when the policy keeps one.
template <class Net>
struct PolicyCheckpoint {
  std::string policy{};                       ///< the policy's `name`
  std::vector<unsigned char> policy_state{};  ///< `detail::policy_state_bytes(policy)`
  std::optional<Net> best{};                  ///< best epoch's network (with optimizer state)
  double best_score = 0;                      ///< its score (see Trainer)
  std::optional<Net> saved{};                 ///< the network the policy kept, if any
};

/// Everything a trainer checkpoint holds, as `load_checkpoint` returns it.
template <Scalar T, Activation Act, class Opt>
struct Checkpoint {
  Mlp<T, Act> network;                    ///< with its optimizer state planes
  Opt optimizer{};                        ///< hyper-parameters and `steps`
  History history{};                      ///< epochs and structural events so far
  std::optional<TrainerState> trainer{};  ///< present when the saver passed one
  /// Present when a Trainer wrote the file (format version 2 on): policy progress, best epoch.
  std::optional<PolicyCheckpoint<Mlp<T, Act>>> policy{};
};

namespace detail {
/// The codec of Adam and AdamW: learning rate, β1, β2, ε, weight decay, steps.
template <class Opt>
struct AdamCodec {
  template <class W>
  static void write(W& w, const Opt& o) {
    for (auto v : {o.learning_rate, o.beta1, o.beta2, o.epsilon, o.weight_decay}) w.put(v);
    w.i64(o.steps);
  }
  static Opt read(ByteReader& r) {
    Opt o{};
    using T = decltype(o.learning_rate);
    for (T* v : {&o.learning_rate, &o.beta1, &o.beta2, &o.epsilon, &o.weight_decay})
      *v = r.get<T>("optimizer hyper-parameter");
    o.steps = r.i64("optimizer steps");
    return o;
  }
};
}  // namespace detail

/// Adam's settings and step count in a checkpoint.
template <Scalar T>
struct OptimizerCodec<Adam<T>> : detail::AdamCodec<Adam<T>> {};
/// AdamW's settings and step count in a checkpoint.
template <Scalar T>
struct OptimizerCodec<AdamW<T>> : detail::AdamCodec<AdamW<T>> {};
/// Sgd's settings (learning rate, momentum, weight decay, Nesterov) and step count.
template <Scalar T>
struct OptimizerCodec<Sgd<T>> {
  /// Writes the settings and the step count.
  static void write(ByteWriter& w, const Sgd<T>& o) {
    for (auto v : {o.learning_rate, o.momentum, o.weight_decay}) w.put(v);
    w.put(o.nesterov);
    w.i64(o.steps);
  }
  /// Reads what `write` wrote.
  static Sgd<T> read(ByteReader& r) {
    Sgd<T> o{};
    for (T* v : {&o.learning_rate, &o.momentum, &o.weight_decay})
      *v = r.get<T>("optimizer hyper-parameter");
    o.nesterov = r.boolean("nesterov flag");
    o.steps = r.i64("optimizer steps");
    return o;
  }
};

namespace detail {

/// Optimizers a checkpoint can hold: those with an OptimizerCodec (io/field_codec.hpp).
template <class Opt>
concept CheckpointableOptimizer = requires(const Opt& o, ByteWriter& w, ByteReader& r) {
  OptimizerCodec<Opt>::write(w, o);
  { OptimizerCodec<Opt>::read(r) } -> std::same_as<Opt>;
};

/// How files before format version 16 coded a history's events (prune_connections and
/// grow_connections the other way round from kEventKindCodes).
inline constexpr EventKind kHistoryEventCodesBefore16[] = {
    EventKind::grow_neurons,     EventKind::remove_neurons, EventKind::prune_connections,
    EventKind::grow_connections, EventKind::insert_layer,   EventKind::remove_layer,
    EventKind::new_data,         EventKind::rollback};

inline void write_sizes(ByteWriter& w, const std::vector<Index>& sizes) {
  w.u32(static_cast<std::uint32_t>(sizes.size()));
  for (Index s : sizes) w.i64(s);
}
inline std::vector<Index> read_sizes(ByteReader& r) {
  const std::uint32_t n = r.u32("size list length");
  r.need_items(n, 8, "size list");
  std::vector<Index> sizes(n);
  for (auto& s : sizes) s = r.i64("size");
  return sizes;
}

inline void write_rng(ByteWriter& w, const Rng::State& s) {
  for (std::uint64_t word : s.words) w.u64(word);
  w.f64(s.spare_normal);
  w.put(s.has_spare_normal);
}
inline Rng::State read_rng(ByteReader& r) {
  Rng::State s;
  for (auto& word : s.words) word = r.u64("random state");
  s.spare_normal = r.f64("random state");
  s.has_spare_normal = r.boolean("random state");
  if (!Rng::reachable(s)) r.corrupt("a random stream's state is all zero");
  return s;
}

inline void write_history(ByteWriter& w, const History& h) {
  w.u32(static_cast<std::uint32_t>(h.epochs.size()));
  for (const EpochRecord& e : h.epochs) {
    w.i32(e.epoch);
    w.f64(e.train_loss);
    w.f64(e.validation_loss);
    w.f64(e.validation_accuracy);
    write_sizes(w, e.sizes);
    w.i64(e.parameter_count);
    w.i64(e.active_parameter_count);
    w.f64(e.seconds);
  }
  w.u32(static_cast<std::uint32_t>(h.events.size()));
  for (const StructuralEvent& e : h.events) {
    w.i32(e.epoch);
    w.u8(file_code(e.kind));
    w.i64(e.layer);
    w.i64(e.count);
    w.str(e.reason);
    w.f64(e.trigger_value);
    write_sizes(w, e.sizes_after);
  }
}

inline History read_history(ByteReader& r, std::uint32_t version) {
  History h;
  const std::uint32_t epochs = r.u32("epoch count");
  r.need_items(epochs, 4 + 3 * 8 + 4 + 3 * 8, "epoch records");
  h.epochs.resize(epochs);
  for (EpochRecord& e : h.epochs) {
    e.epoch = r.i32("epoch");
    e.train_loss = r.f64("train loss");
    e.validation_loss = r.f64("validation loss");
    e.validation_accuracy = r.f64("validation accuracy");
    e.sizes = read_sizes(r);
    e.parameter_count = r.i64("parameter count");
    e.active_parameter_count = r.i64("active parameter count");
    e.seconds = r.f64("epoch seconds");
  }
  const std::uint32_t events = r.u32("event count");
  r.need_items(events, 4 + 1 + 8 + 8 + 4 + 8 + 4, "event records");
  h.events.resize(events);
  for (StructuralEvent& e : h.events) {
    e.epoch = r.i32("event epoch");
    e.kind = version < 16 ? from_file_code(r, kHistoryEventCodesBefore16, "structural event kind")
                          : from_file_code(r, kEventKindCodes, "structural event kind");
    e.layer = r.i64("event layer");
    e.count = r.i64("event count");
    e.reason = r.str("event reason");
    e.trigger_value = r.f64("event trigger value");
    e.sizes_after = read_sizes(r);
  }
  return h;
}

/// The bytes `save_checkpoint` writes.
template <Scalar T, Activation Act, class Opt>
std::vector<unsigned char> checkpoint_bytes(const Mlp<T, Act>& net, const Opt& optimizer,
                                            const History& history,
                                            const std::optional<TrainerState>& trainer,
                                            const PolicyCheckpoint<Mlp<T, Act>>* policy = nullptr) {
  ContainerWriter file;
  write_network(file, net, SaveOptions{.optimizer_state = true});
  ByteWriter& w = file.out();
  file.begin("OPTM");
  w.str(Opt::name);
  w.u8(kScalarCode<T>);
  OptimizerCodec<Opt>::write(w, optimizer);
  file.end();
  file.begin("HIST");
  write_history(w, history);
  file.end();
  if (trainer) {
    file.begin("TRNR");
    w.i32(trainer->epoch);
    write_rng(w, trainer->shuffle_rng);
    write_rng(w, trainer->dropout_rng);
    file.end();
  }
  if (policy != nullptr) {
    file.begin("PLCY");
    w.str(policy->policy);
    w.u32(static_cast<std::uint32_t>(policy->policy_state.size()));
    w.raw(std::span<const unsigned char>(policy->policy_state));
    file.end();
    // Each network a complete file of its own (header, checksum), so `load` can skip it whole.
    if (policy->best) {
      file.begin("BEST");
      w.f64(policy->best_score);
      w.raw(std::span<const unsigned char>(
          network_bytes(*policy->best, SaveOptions{.optimizer_state = true})));
      file.end();
    }
    if (policy->saved) {
      file.begin("SAVD");
      w.raw(std::span<const unsigned char>(
          network_bytes(*policy->saved, SaveOptions{.optimizer_state = true})));
      file.end();
    }
  }
  return file.finish();
}

/// `load_checkpoint` on bytes already in memory.
template <Scalar T, Activation Act, class Opt>
Checkpoint<T, Act, Opt> load_checkpoint_bytes(std::span<const unsigned char> bytes,
                                              const std::string& file) {
  const std::string where = "load_checkpoint";
  const std::vector<Section> sections = read_container(bytes, where, file);
  std::size_t next = 0;
  Checkpoint<T, Act, Opt> c{.network = read_network<T, Act>(sections, next, where, file)};
  auto section = [&](std::string_view tag) -> const Section* {
    if (next < sections.size() && sections[next].tag == tag) return &sections[next++];
    return nullptr;
  };
  const Section* opt = section("OPTM");
  if (opt == nullptr) {
    fail<FileError>(where, ": ", file,
                    " holds a network but no optimizer: it was written by save, "
                    "not save_checkpoint; read it with load");
  }
  ByteReader r(opt->body, where, file, opt->offset);
  const std::string name = r.str("optimizer name", 64);
  if (name != Opt::name) {
    fail<FileError>(where, ": ", file, " holds a \"", name, "\" optimizer but ", where, "<..., ",
                    Opt::name, "> was asked for");
  }
  if (r.u8("optimizer scalar type") != kScalarCode<T>)
    r.corrupt("the optimizer's scalar type differs from the network's");
  c.optimizer = OptimizerCodec<Opt>::read(r);
  if (!r.done()) r.corrupt(r.remaining(), " unexpected bytes at the end of the optimizer section");
  try {
    c.optimizer.validate();
  } catch (const Error& e) {
    r.corrupt("its optimizer is invalid (", e.what(), ")");
  }
  if (c.optimizer.steps < 0) r.corrupt("negative optimizer step count");
  // Parameter births are optimizer steps: none can lie in the optimizer's future.
  for (Index l = 0; l < c.network.layer_count(); ++l) {
    for (const Param<T>* p :
         {&c.network.layer_params(l).weight_param(), &c.network.layer_params(l).bias_param()}) {
      for (const auto* births : {&p->row_birth, &p->col_birth})
        for (std::int64_t b : *births)
          if (b > c.optimizer.steps)
            r.corrupt("layer ", l, " has a parameter born at step ", b, " after the optimizer's ",
                      c.optimizer.steps, " steps");
    }
  }
  const Section* hist = section("HIST");
  if (hist == nullptr) fail<FileError>(where, ": ", file, " is corrupt: the history is missing");
  ByteReader hr(hist->body, where, file, hist->offset);
  c.history = read_history(hr, hist->version);
  if (!hr.done()) hr.corrupt(hr.remaining(), " unexpected bytes at the end of the history");
  if (const Section* tr = section("TRNR")) {
    ByteReader t(tr->body, where, file, tr->offset);
    TrainerState s;
    s.epoch = t.i32("trainer epoch");
    if (s.epoch < 0) t.corrupt("negative trainer epoch ", s.epoch);
    s.shuffle_rng = read_rng(t);
    s.dropout_rng = read_rng(t);
    if (!t.done()) t.corrupt(t.remaining(), " unexpected bytes at the end of the trainer state");
    c.trainer = s;
  }
  if (const Section* pl = section("PLCY")) {
    ByteReader p(pl->body, where, file, pl->offset);
    PolicyCheckpoint<Mlp<T, Act>> state;
    state.policy = p.str("policy name", 64);
    const std::uint32_t n = p.u32("policy state length");
    p.need(n, "policy state");
    const auto at = static_cast<std::size_t>(p.offset() - pl->offset);
    state.policy_state.assign(pl->body.begin() + static_cast<std::ptrdiff_t>(at),
                              pl->body.begin() + static_cast<std::ptrdiff_t>(at + n));
    if (n != p.remaining())
      p.corrupt(p.remaining() - n, " unexpected bytes at the end of the policy section");
    if (const Section* best = section("BEST")) {
      ByteReader b(best->body, where, file, best->offset);
      state.best_score = b.f64("best score");
      state.best =
          load_bytes<T, Act>(best->body.subspan(8), file + " (best epoch's network)", where);
    }
    if (const Section* saved = section("SAVD"))
      state.saved = load_bytes<T, Act>(saved->body, file + " (the policy's network)", where);
    c.policy = std::move(state);
  }
  if (next != sections.size()) {
    fail<FileError>(where, ": ", file, " is corrupt: unexpected section \"", sections[next].tag,
                    "\" at byte ", sections[next].offset - 12);
  }
  return c;
}

}  // namespace detail

/// Saves a training run's state to `path` (atomically, like `save`): the network with its
/// optimizer state planes, the optimizer's hyper-parameters and step count, the History, and, if
/// given, the trainer's counters and random streams. `load_checkpoint` restores all of it; `load`
/// reads just the network from the same file. Throws as `save`.
template <Scalar T, Activation Act, class Opt>
  requires detail::CheckpointableOptimizer<Opt>
void save_checkpoint(const std::string& path, const Mlp<T, Act>& net, const Opt& optimizer,
                     const History& history = {},
                     const std::optional<TrainerState>& trainer = std::nullopt) {
  static_assert(std::is_same_v<decltype(optimizer.learning_rate), T>,
                "save_checkpoint: the optimizer's scalar type must be the network's");
  const auto bytes = detail::checkpoint_bytes(net, optimizer, history, trainer);
  write_file_atomically(path, bytes, "save_checkpoint");
}

/// Loads what `save_checkpoint` wrote. Throws FileError as `load` does, and also when the file
/// has no optimizer (written by `save`) or one of another kind than `Opt`.
template <Scalar T, Activation Act, class Opt>
  requires detail::CheckpointableOptimizer<Opt> Checkpoint<T, Act, Opt> load_checkpoint(
      const std::string& path) {
    const std::vector<unsigned char> bytes = read_file(path, "load_checkpoint");
    return detail::load_checkpoint_bytes<T, Act, Opt>(bytes, path);
  }

/// Writes a checkpoint to `options.path` when `checkpoint_due`, for a training loop of one's own
/// (the Trainer writes through CheckpointStore). Returns whether it wrote one. Throws as
/// `save_checkpoint`; the previous checkpoint is then intact.
template <Scalar T, Activation Act, class Opt>
  requires detail::CheckpointableOptimizer<Opt>
bool checkpoint_if_due(const CheckpointOptions& options, int epoch, const Mlp<T, Act>& net,
                       const Opt& optimizer, const History& history,
                       const std::optional<TrainerState>& trainer = std::nullopt,
                       const PolicyCheckpoint<Mlp<T, Act>>* policy = nullptr) {
  if (!checkpoint_due(options, epoch, history)) return false;
  write_file_atomically(options.path,
                        detail::checkpoint_bytes(net, optimizer, history, trainer, policy),
                        "save_checkpoint");
  return true;
}

/// The trainer's checkpoints of an Mlp trained by Sgd, Adam or AdamW (train/checkpoint_store.hpp):
/// the file `save_checkpoint` writes, with the policy's name and progress
/// (io/policy_state.hpp) and the networks the trainer keeps.
template <Scalar T, Activation Act, class Opt>
  requires detail::CheckpointableOptimizer<Opt>
struct CheckpointStore<Mlp<T, Act>, Opt> {
  using Net = Mlp<T, Act>;  ///< the network type stored

  /// Writes `c` to `path` atomically (the previous file is intact when this throws).
  template <class Policy>
  static void write(const std::string& path, const CheckpointContent<Net, Opt, Policy>& c) {
    const PolicyCheckpoint<Net> p{.policy = std::string(Policy::name),
                                  .policy_state = detail::policy_state_bytes(c.policy),
                                  .best = c.best,
                                  .best_score = c.best_score,
                                  .saved = c.saved};
    write_file_atomically(
        path, detail::checkpoint_bytes(c.network, c.optimizer, c.history, c.trainer, &p),
        "save_checkpoint");
  }

  /// Reads what `write` wrote; the policy starts as `current` and takes the stored progress.
  /// Throws FileError for a file without trainer state, Error for another policy's file.
  template <class Policy>
  static ResumePoint<Net, Opt, Policy> read(const std::string& path, const Policy& current) {
    auto c = load_checkpoint<T, Act, Opt>(path);
    if (!c.trainer) {
      detail::fail<FileError>("Trainer::resume: ", path,
                              " holds no trainer state: it was written by save_checkpoint "
                              "without one; use load_checkpoint and restore instead");
    }
    Policy policy = current;
    std::optional<Net> best, saved;
    double best_score = 0;
    if (c.policy) {
      if (c.policy->policy != Policy::name) {
        detail::fail("Trainer::resume: ", path, " was written under the policy \"",
                     c.policy->policy, "\" but this trainer's is \"", Policy::name,
                     "\"; build the trainer with the policy of the run that wrote it");
      }
      detail::read_policy_state(c.policy->policy_state, policy, "Trainer::resume", path);
      best = std::move(c.policy->best);
      best_score = c.policy->best_score;
      saved = std::move(c.policy->saved);
    }
    return {std::move(c.network), std::move(c.optimizer), std::move(c.history), *c.trainer,
            std::move(policy),    std::move(best),        best_score,           std::move(saved)};
  }
};

}  // namespace neuroplast
