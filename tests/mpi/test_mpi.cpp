// Data-parallel training under mpirun (CTest mpi/*, 2 processes): equality with a single process
// for every policy, lockstep, errors on one process ending fit everywhere, checkpoints written
// once and resumed exactly. Every process runs every test case in the same order; each compares
// its own data-parallel run with a single-process run it computes itself.

#define CATCH_CONFIG_RUNNER
#include <mpi.h>

#include <algorithm>
#include <catch2/catch.hpp>
#include <cmath>
#include <cstdio>
#include <cstdlib>
#include <filesystem>

#include "neuroplast/mpi.hpp"
#include "neuroplast/neuroplast.hpp"
#include "support/fixtures.hpp"

using namespace neuroplast;
using neuroplast::testing::WhatHas;

namespace {

int world_rank() {
  int r = 0;
  MPI_Comm_rank(MPI_COMM_WORLD, &r);
  return r;
}

// Three Gaussian blobs in 3-D, reproducible for a seed.
Dataset<double> blobs(Index n, std::uint64_t seed) {
  Rng rng(seed);
  Matrix<double> X(3, n);
  std::vector<int> y(static_cast<std::size_t>(n));
  for (Index i = 0; i < n; ++i) {
    const int k = static_cast<int>(i % 3);
    for (Index f = 0; f < 3; ++f) X(f, i) = (f == k ? 2.0 : 0.0) + rng.normal();
    y[static_cast<std::size_t>(i)] = k;
  }
  return Dataset<double>(std::move(X), std::move(y));
}

double max_relative_difference(const Mlp<double, Relu>& a, const Mlp<double, Relu>& b) {
  double worst = 0;
  for (Index l = 0; l < a.layer_count(); ++l) {
    const Matrix<double> wa = a.weights(l), wb = b.weights(l);
    const double scale = std::max(1e-12, wb.cwiseAbs().maxCoeff());
    worst = std::max(worst, (wa - wb).cwiseAbs().maxCoeff() / scale);
    worst = std::max(worst, (a.bias(l) - b.bias(l)).cwiseAbs().maxCoeff() /
                                std::max(1e-12, b.bias(l).cwiseAbs().maxCoeff()));
  }
  return worst;
}

// The same run on one process and on every process of the world, from a network of `sizes`;
// checks they agree and returns the single-process run's history. With `replay` > 0 both
// rehearse that share of every batch from a memory of 40 other samples (`set_replay`).
// `prepare` edits each network before its run.
template <class Policy, class Prepare = void (*)(Mlp<double, Relu>&)>
History equal_to_one_process(
    const Policy& policy, int epochs, Index batch, const std::vector<Index>& sizes = {3, 2, 2, 3},
    double replay = 0, Prepare prepare = [](Mlp<double, Relu>&) {}) {
  INFO(Policy::name << ", replay " << replay);
  const Dataset<double> train = blobs(150, 1), validation = blobs(60, 2), memory = blobs(40, 3);
  const auto fresh = [&] {
    Mlp<double, Relu> net(sizes, 7);
    prepare(net);
    return net;
  };
  const TrainOptions options{.epochs = epochs, .batch_size = batch, .seed = 5};

  Mlp<double, Relu> alone = fresh();
  Trainer one(alone, Adam<double>{.learning_rate = 0.01}, policy, options);
  if (replay > 0) one.set_replay(memory, replay);
  const History h1 = one.fit(train, validation);

  Mlp<double, Relu> shared = fresh();
  Trainer many(shared, Adam<double>{.learning_rate = 0.01}, policy, options,
               mpi::DataParallel{.comm = MPI_COMM_WORLD, .check_every = 1});
  if (replay > 0) many.set_replay(memory, replay);
  const History h2 = many.fit(train, validation);

  REQUIRE(h2.epochs.size() == h1.epochs.size());
  for (std::size_t e = 0; e < h1.epochs.size(); ++e) {
    CHECK(h2.epochs[e].sizes == h1.epochs[e].sizes);
    CHECK(h2.epochs[e].train_loss == Approx(h1.epochs[e].train_loss).epsilon(1e-9));
    CHECK(h2.epochs[e].validation_loss == Approx(h1.epochs[e].validation_loss).epsilon(1e-9));
    CHECK(h2.epochs[e].validation_accuracy == h1.epochs[e].validation_accuracy);
  }
  REQUIRE(h2.events.size() == h1.events.size());
  for (std::size_t i = 0; i < h1.events.size(); ++i) {
    CHECK(h2.events[i].epoch == h1.events[i].epoch);
    CHECK(h2.events[i].kind == h1.events[i].kind);
    CHECK(h2.events[i].layer == h1.events[i].layer);
    CHECK(h2.events[i].count == h1.events[i].count);
  }
  REQUIRE(shared.sizes() == alone.sizes());
  // Double precision, 50+ epochs: the only difference is the order of the gradient sums (two
  // partial sums added, instead of one running sum), a few ulps per step that training does not
  // amplify on this well-conditioned problem.
  const double diff = max_relative_difference(shared, alone);
  INFO("max relative parameter difference " << diff);
  if (world_rank() == 0) {
    std::printf(
        "%s, %d epochs, batch %lld, replay %.2f: %zu events, sizes %s, max relative parameter "
        "difference to one process %.2e\n",
        std::string(Policy::name).c_str(), epochs, static_cast<long long>(batch), replay,
        h1.events.size(), detail::format_sizes(alone.sizes()).c_str(), diff);
  }
  CHECK(diff <= 1e-9);
  // Every process ends with the same bits (check_every = 1 compared them after every step too).
  const auto bytes = detail::network_bytes(shared);
  CHECK(many.parallel().same_everywhere(crc32(bytes)));
  return h1;
}

}  // namespace

TEST_CASE("a data-parallel run equals a single-process run, under every policy", "[mpi]") {
  REQUIRE(mpi::DataParallel{}.size() >= 2);
  equal_to_one_process(StaticPolicy{}, 50, 16);
  equal_to_one_process(DropinPolicy{}, 60, 16);
  equal_to_one_process(DropoutPolicy{}, 50, 16);
  equal_to_one_process(NeuroplasticPolicy{}, 80, 16);
  // From one hidden layer the first growth step inserts a second (GrowBy::depth), on every
  // process at the same step.
  const History deepened = equal_to_one_process(DropinPolicy{}, 60, 16, {3, 2, 3});
  CHECK(std::count_if(deepened.events.begin(), deepened.events.end(),
                      [](const auto& e) { return e.kind == EventKind::insert_layer; }) == 1);
  // A last batch smaller than the process count (150 = 4 · 37 + 2 on 3+ processes, 1 sample
  // per process of the last 2 on 2) and a batch that does not split evenly.
  equal_to_one_process(StaticPolicy{}, 50, 37);
}

TEST_CASE("large gradient planes summed where they lie equal a single-process run", "[mpi]") {
  // Layer 1's weight plane, 256 × 300 = 76 800 values, is summed in place (contiguous); the
  // biases and the other planes share the flat buffer.
  equal_to_one_process(StaticPolicy{}, 6, 16, {3, 300, 256, 3});
  // Grown by 20 neurons, hidden layer 0 widens layer 1's rows into new capacity: the plane
  // (256 × 320) now has gaps between its rows and is summed through the buffer, on its own.
  const auto grow_first = [](Mlp<double, Relu>& net) {
    net.grow_neurons(0, 20, init::He{});
    const auto w = net.layer_params(1).weight_param().grad.view();
    REQUIRE(w.rows() * w.cols() >= 65536);
    REQUIRE(w.outerStride() != w.cols());
  };
  equal_to_one_process(StaticPolicy{}, 6, 16, {3, 300, 256, 3}, 0, grow_first);
}

TEST_CASE("rehearsal under data parallelism equals a single-process run with it", "[mpi]") {
  // Every process draws the same memory samples from the shared stream and computes its share of
  // the whole batch, recalled samples included. A batch of 16 with a quarter recalled is 12 of
  // the training set and 4 of the memory: 13 steps an epoch, the last of 6 + 4 samples.
  const History h = equal_to_one_process(StaticPolicy{}, 50, 16, {3, 2, 2, 3}, 0.25);
  CHECK(h.epochs.back().train_loss < h.epochs.front().train_loss);
  equal_to_one_process(DropinPolicy{}, 60, 16, {3, 2, 2, 3}, 0.25);
  // A batch of 3 over 2 processes with a third recalled: shares of 1 and 2 samples, the memory's
  // sample always on process 1.
  equal_to_one_process(StaticPolicy{}, 20, 3, {3, 4, 3}, 0.34);
}

TEST_CASE("gradients summed in per-layer buckets during backward equal one sum after it", "[mpi]") {
  // Each element is the same sum however the buffer is cut; with two processes an all-reduce of
  // a + b, so the networks must be the same bits. Growth and pruning resize the buckets mid-run.
  const Dataset<double> train = blobs(150, 1), validation = blobs(60, 2);
  const auto run = [&](std::size_t bucket_bytes) {
    Mlp<double, Relu> net({3, 24, 24, 3}, 7);
    Trainer trainer(
        net, Adam<double>{.learning_rate = 0.01}, NeuroplasticPolicy{},
        TrainOptions{.epochs = 60, .batch_size = 16, .seed = 5},
        mpi::DataParallel{.comm = MPI_COMM_WORLD, .check_every = 1, .bucket_bytes = bucket_bytes});
    const History h = trainer.fit(train, validation);
    CHECK(trainer.parallel().in_flight.requests.empty());
    return std::pair{std::move(net), h.events.size()};
  };
  const auto [flat, flat_events] = run(std::numeric_limits<std::size_t>::max());
  REQUIRE(flat_events > 2);  // the layout changed during the run
  // Every layer alone; buckets of at least 1000 bytes (the last layer's 600 joins the next).
  for (const std::size_t bucket_bytes : {std::size_t{0}, std::size_t{1000}}) {
    INFO("bucket_bytes " << bucket_bytes);
    const auto [bucketed, events] = run(bucket_bytes);
    CHECK(events == flat_events);
    REQUIRE(bucketed.sizes() == flat.sizes());
    if (mpi::DataParallel{}.size() == 2) {
      CHECK(detail::network_bytes(bucketed) == detail::network_bytes(flat));
    } else {
      CHECK(max_relative_difference(bucketed, flat) <= 1e-9);  // reductions may regroup sums
    }
  }
}

TEST_CASE("bad input on one process ends fit on every process with its Error", "[mpi]") {
  const Dataset<double> good = blobs(40, 3);
  Matrix<double> four = Matrix<double>::Zero(4, 40);
  const Dataset<double> wrong(four, neuroplast::testing::labels_for(40, 3));
  Mlp<double, Relu> net({3, 4, 3}, 1);
  Trainer trainer(net, Sgd<double>{}, StaticPolicy{}, TrainOptions{.epochs = 2},
                  mpi::DataParallel{});
  // Process 1's training set has 4 features: every process throws process 1's message.
  CHECK_THROWS_MATCHES(trainer.fit(world_rank() == 1 ? wrong : good), Error,
                       WhatHas({"fit (training set)", "4 features", "[process 1 of"}));
  CHECK_THROWS_MATCHES(trainer.evaluate(world_rank() == 1 ? wrong : good), Error,
                       WhatHas({"evaluate", "4 features"}));
  // Different data on different processes is refused, not trained on.
  CHECK_THROWS_MATCHES(trainer.fit(world_rank() == 1 ? blobs(40, 9) : good), Error,
                       WhatHas({"processes differ"}));
  // So is a rehearsal memory (or ratio) that differs, which would draw different samples.
  const Dataset<double> memory = blobs(12, 5);
  trainer.set_replay(world_rank() == 1 ? blobs(12, 6) : memory, 0.25);
  CHECK_THROWS_MATCHES(trainer.fit(good), Error, WhatHas({"processes differ", "rehearsal"}));
  trainer.set_replay(memory, world_rank() == 1 ? 0.5 : 0.25);
  CHECK_THROWS_MATCHES(trainer.fit(good), Error, WhatHas({"processes differ", "rehearsal"}));
  trainer.set_replay(memory, 0.25);
  const Matrix<double> before = net.weights(0);
  CHECK_NOTHROW(trainer.fit(good));
  CHECK(net.weights(0) != before);
}

TEST_CASE("a hook that throws on one process ends fit on every process with its message", "[mpi]") {
  const Dataset<double> data = blobs(40, 3);
  const bool one = world_rank() == 1;
  const auto fit_with = [&](TrainOptions options) {
    Mlp<double, Relu> net({3, 2, 3}, 1);
    options.epochs = 3;
    options.batch_size = 8;
    Trainer trainer(net, Adam<double>{.learning_rate = 0.05}, DropinPolicy{}, options,
                    mpi::DataParallel{});
    return trainer.fit(data);
  };
  // The printing hooks may be set on some processes only (process 0 printing is the usual use);
  // here they are set on process 1 alone, which throws.
  TrainOptions batch_end;
  if (one) {
    batch_end.on_batch_end = [&](const BatchRecord& r) {
      if (r.epoch == 2 && r.batch == 1) throw std::runtime_error("disk full");
    };
  }
  CHECK_THROWS_MATCHES(
      fit_with(batch_end), Error,
      WhatHas({"on_batch_end hook threw at epoch 2", "disk full", "[process 1 of"}));
  TrainOptions epoch_end;
  if (one) {
    epoch_end.on_epoch_end = [&](const EpochRecord& r) {
      if (r.epoch == 2) throw 42;  // not even a std::exception
    };
  }
  CHECK_THROWS_MATCHES(
      fit_with(epoch_end), Error,
      WhatHas({"on_epoch_end hook threw", "not a std::exception", "[process 1 of"}));
  // on_event, here from notify_new_data's event (outside fit: the same agreement).
  TrainOptions events;
  if (one)
    events.on_event = [&](const StructuralEvent&) { throw std::runtime_error("log closed"); };
  {
    Mlp<double, Relu> net({3, 2, 3}, 1);
    Trainer trainer(net, Adam<double>{}, DropinPolicy{}, events, mpi::DataParallel{});
    CHECK_THROWS_MATCHES(trainer.notify_new_data(data), Error,
                         WhatHas({"on_event hook threw", "log closed", "[process 1 of"}));
  }
  // on_gradients changes the step: set on every process, it may throw on one ...
  TrainOptions gradients;
  gradients.on_gradients = [&](const BatchRecord& r) {
    if (one && r.step == 3) throw std::runtime_error("bad gradient");
  };
  CHECK_THROWS_MATCHES(fit_with(gradients), Error,
                       WhatHas({"on_gradients hook threw", "bad gradient", "[process 1 of"}));
  // ... but set on one process only it would make the processes' parameters part: refused.
  TrainOptions lopsided;
  if (one) lopsided.on_gradients = [](const BatchRecord&) {};
  CHECK_THROWS_MATCHES(fit_with(lopsided), Error,
                       WhatHas({"fit: on_gradients is set on 1 of", "every process or on none"}));
  // Every process is still in step: a run with a hook on process 0 alone completes everywhere,
  // and the hook saw every batch.
  int batches = 0;
  TrainOptions counting;
  if (!one) counting.on_batch_end = [&](const BatchRecord&) { ++batches; };
  CHECK_NOTHROW(fit_with(counting));
  CHECK(batches == (one ? 0 : 3 * 5));
}

namespace {

// Calls into user code counted across a test, and the call at which process 1 throws (0: never).
int user_calls = 0;
int throw_at_call = 0;

// Cross-entropy that throws on process 1 at call `throw_at_call` (a user's loss that checks
// something only that process's share of a batch has).
struct FlakyCrossEntropy {
  static constexpr std::string_view name = "flaky_cross_entropy";
  static constexpr bool needs_labels = true;
  template <Scalar T>
  static T evaluate(const ConstMatrixView<T>& z, const Targets<T>& t, MatrixView<T>* g) {
    if (world_rank() == 1 && ++user_calls == throw_at_call)
      throw std::runtime_error("label out of range");
    return SoftmaxCrossEntropy::evaluate(z, t, g);
  }
};

// A user's policy that throws, on process 1 only, at the epoch `throw_at_call` counts to: a
// NumericError at epoch 2, a FileError at epoch 3 (its log could not be written there).
struct FlakyPolicy {
  static constexpr std::string_view name = "flaky";
  template <class Ctx>
  void on_epoch_end(Ctx& ctx) {
    if (world_rank() != 1 || ctx.epoch != throw_at_call) return;
    if (ctx.epoch == 2) throw NumericError("FlakyPolicy: a score became NaN");
    throw FileError("FlakyPolicy: cannot write policy.log");
  }
};

}  // namespace

TEST_CASE("a policy or loss that throws on one process ends fit everywhere, as its type", "[mpi]") {
  const Dataset<double> data = blobs(40, 3), validation = blobs(20, 4);
  const auto trainer_for = [](Mlp<double, Relu>& net, auto policy, TrainOptions options) {
    options.epochs = 4;
    options.batch_size = 8;
    return Trainer(net, Adam<double>{.learning_rate = 0.05}, policy, options,
                   mpi::DataParallel{.comm = MPI_COMM_WORLD, .check_every = 1});
  };
  // The loss throws at process 1's call `at`: in training, its 7th share of a batch (epoch 2,
  // batch 1), and judging the validation set, its first.
  const auto loss_throws_at = [&](int at, auto&& run) {
    user_calls = 0;
    throw_at_call = at;
    Mlp<double, Relu> net({3, 4, 3}, 1);
    auto trainer =
        trainer_for(net, StaticPolicy{}, {.loss = LossFunction::of<FlakyCrossEntropy>()});
    CHECK_THROWS_MATCHES(run(trainer), Error, WhatHas({"label out of range", "[process 1 of"}));
    return trainer.history().epochs.size();
  };
  // Every process stopped before that batch's step: the last good epoch is the first.
  CHECK(loss_throws_at(7, [&](auto& t) { return t.fit(data); }) == 1);
  loss_throws_at(1, [&](auto& t) { return t.evaluate(validation); });
  // A policy's NumericError is a NumericError on every process: a rollback acts everywhere
  // alike (one, then the same error again, recorded on every process), ...
  throw_at_call = 2;
  {
    Mlp<double, Relu> net({3, 4, 3}, 1);
    auto trainer = trainer_for(
        net, FlakyPolicy{}, {.on_numeric_error = NumericErrorAction::rollback, .max_rollbacks = 1});
    CHECK_THROWS_MATCHES(trainer.fit(data, validation), NumericError,
                         WhatHas({"a score became NaN", "[process 1 of"}));
    CHECK(trainer.history().events.size() == 1);
    CHECK(trainer.history().events.front().kind == EventKind::rollback);
  }
  // ... and its FileError a FileError on every process.
  throw_at_call = 3;
  {
    Mlp<double, Relu> net({3, 4, 3}, 1);
    auto trainer = trainer_for(net, FlakyPolicy{}, {});
    CHECK_THROWS_MATCHES(trainer.fit(data, validation), FileError,
                         WhatHas({"cannot write policy.log", "[process 1 of"}));
    CHECK(trainer.history().epochs.size() == 3);
  }
  throw_at_call = 0;
  // Nothing left pending: the processes train on together.
  Mlp<double, Relu> net({3, 4, 3}, 1);
  auto trainer = trainer_for(net, FlakyPolicy{}, {.loss = LossFunction::of<FlakyCrossEntropy>()});
  CHECK_NOTHROW(trainer.fit(data, validation));
  CHECK(trainer.parallel().same_everywhere(crc32(detail::network_bytes(net))));
}

TEST_CASE("a non-finite loss on one process ends fit everywhere; rollback stays in lockstep",
          "[mpi]") {
  // One sample that overflows the logits, in the last process's share of the first batch.
  Dataset<float> data = [] {
    const Dataset<double> d = blobs(32, 4);
    Matrix<float> X = d.features().cast<float>();
    X.col(15).setConstant(3e38f);
    return Dataset<float>(X, std::vector<int>(d.labels().begin(), d.labels().end()));
  }();
  const std::string last_process =
      "on process " + std::to_string(mpi::DataParallel{}.size() - 1) + " of";
  const auto run = [&](NumericErrorAction action) {
    Mlp<float, Relu> net({3, 8, 3}, 2);
    net.weights(0).setOnes();  // 3 · 3e38 overflows the first layer: that sample's loss is NaN
    Trainer trainer(net, Sgd<float>{.learning_rate = 0.1f}, StaticPolicy{},
                    TrainOptions{.epochs = 3,
                                 .batch_size = 16,
                                 .shuffle = false,
                                 .on_numeric_error = action,
                                 .max_rollbacks = 2},
                    mpi::DataParallel{});
    CHECK_THROWS_MATCHES(trainer.fit(data), NumericError,
                         WhatHas({"non-finite", "epoch 1", "batch 0", last_process}));
    return trainer.history().events.size();
  };
  CHECK(run(NumericErrorAction::stop) == 0);
  // Two rollbacks, each recorded on every process, then the same NumericError everywhere.
  CHECK(run(NumericErrorAction::rollback) == 2);
}

TEST_CASE("checkpoints are written by process 0 and resume a 2-process run exactly", "[mpi]") {
  const char* dir_env = std::getenv("NEUROPLAST_MPI_TEST_DIR");
  REQUIRE(dir_env != nullptr);
  const std::filesystem::path dir = dir_env;
  if (world_rank() == 0) std::filesystem::create_directories(dir);
  MPI_Barrier(MPI_COMM_WORLD);
  const Dataset<double> train = blobs(90, 5), validation = blobs(30, 6);
  const auto fresh = [] { return Mlp<double, Relu>({3, 2, 2, 3}, 4); };
  const std::string path = (dir / "run.npl").string();
  TrainOptions options{.epochs = 12, .batch_size = 16, .seed = 3};

  Mlp<double, Relu> straight = fresh();
  Trainer a(straight, Adam<double>{.learning_rate = 0.01}, DropinPolicy{}, options,
            mpi::DataParallel{});
  a.fit(train, validation);

  options.epochs = 6;
  options.checkpoint = {.path = path, .every = 1};
  Mlp<double, Relu> first = fresh();
  Trainer b(first, Adam<double>{.learning_rate = 0.01}, DropinPolicy{}, options,
            mpi::DataParallel{});
  b.fit(train, validation);
  REQUIRE(std::filesystem::exists(path));
  Mlp<double, Relu> resumed = fresh();
  options.checkpoint = {};
  Trainer c(resumed, Adam<double>{.learning_rate = 0.01}, DropinPolicy{}, options,
            mpi::DataParallel{});
  c.resume(path);
  c.fit(train, validation);
  CHECK(detail::network_bytes(resumed) == detail::network_bytes(straight));
  CHECK(c.history().events.size() == a.history().events.size());

  // A checkpoint that cannot be written ends fit on every process with process 0's FileError.
  options.checkpoint = {.path = (dir / "no" / "such" / "dir.npl").string(), .every = 1};
  Mlp<double, Relu> net = fresh();
  Trainer d(net, Adam<double>{}, StaticPolicy{}, options, mpi::DataParallel{});
  CHECK_THROWS_AS(d.fit(train), FileError);
}

int main(int argc, char** argv) {
  MPI_Init(&argc, &argv);
  const int failed = Catch::Session().run(argc, argv);
  // A failure on any process fails the run on every process.
  int worst = 0;
  MPI_Allreduce(&failed, &worst, 1, MPI_INT, MPI_MAX, MPI_COMM_WORLD);
  MPI_Finalize();
  return worst;
}
