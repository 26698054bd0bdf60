// Per-neuron plasticity: frozen neurons stay bit-identical under every optimizer and policy,
// partial plasticity scales the step, and the values follow every structural edit.

#include <catch2/catch.hpp>
#include <cmath>
#include <cstring>

#include "neuroplast/neuroplast.hpp"
#include "support/fixtures.hpp"

using namespace neuroplast;
using neuroplast::testing::random_batch;
using neuroplast::testing::train_step;
using neuroplast::testing::WhatHas;

namespace {

// Row r of weights(l) and bias(l)(r) of two networks, bit for bit.
template <class Net>
bool same_neuron(const Net& a, const Net& b, Index l, Index r) {
  using T = typename Net::scalar;
  const Vector<T> wa = a.weights(l).row(r).transpose(), wb = b.weights(l).row(r).transpose();
  const T ba = a.bias(l)(r), bb = b.bias(l)(r);
  return wa.size() == wb.size() &&
         std::memcmp(wa.data(), wb.data(), sizeof(T) * static_cast<std::size_t>(wa.size())) == 0 &&
         std::memcmp(&ba, &bb, sizeof(T)) == 0;
}

// A few optimizer steps on random batches (the same for a seed).
template <class Net, class Opt>
void steps(Net& net, Opt& opt, int count, std::uint64_t seed) {
  for (int i = 0; i < count; ++i) {
    const Matrix<double> X = random_batch(net.sizes().front(), 16, seed + static_cast<unsigned>(i));
    train_step(net, opt, X, neuroplast::testing::labels_for(16, net.sizes().back()));
  }
}

template <class Opt>
void frozen_rows_case(Opt opt) {
  INFO(Opt::name);
  Mlp<double, Relu> net({3, 6, 5, 4}, 2);
  neuroplast::testing::randomise_biases(net, 3);
  steps(net, opt, 3, 10);  // optimizer state exists before freezing
  net.set_plasticity(0, Vector<double>{{0.0, 1.0, 0.5, 0.0, 1.0, 0.25}});
  net.freeze(2);
  const Mlp<double, Relu> before = net;
  steps(net, opt, 5, 20);
  for (Index r : {0, 3}) CHECK(same_neuron(net, before, 0, r));
  for (Index r : {1, 2, 4, 5}) CHECK_FALSE(same_neuron(net, before, 0, r));
  for (Index r = 0; r < 4; ++r) CHECK(same_neuron(net, before, 2, r));
  for (Index r = 0; r < 5; ++r) CHECK_FALSE(same_neuron(net, before, 1, r));
}

// One step of `opt` on two copies of a network, one with plasticity `p` on dense layer 0.
template <class Opt>
void scaled_step_case(Opt opt) {
  INFO(Opt::name);
  Mlp<double, Tanh> net({3, 4, 2}, 5);
  steps(net, opt, 2, 30);
  Mlp<double, Tanh> scaled = net;
  Opt opt_scaled = opt;
  scaled.set_plasticity(0, Vector<double>{{1.0, 0.5, 0.25, 1.0}});
  const Mlp<double, Tanh> start = net;
  steps(net, opt, 1, 40);
  steps(scaled, opt_scaled, 1, 40);
  // Rows at 1 move exactly as without plasticity; the others by their share of the same step.
  CHECK(same_neuron(net, scaled, 0, 0));
  CHECK(same_neuron(net, scaled, 0, 3));
  for (Index l = 1; l < 2; ++l)
    for (Index r = 0; r < 2; ++r) CHECK(same_neuron(net, scaled, l, r));
  for (auto [r, p] : {std::pair<Index, double>{1, 0.5}, {2, 0.25}}) {
    const Vector<double> full = net.weights(0).row(r) - start.weights(0).row(r);
    const Vector<double> part = scaled.weights(0).row(r) - start.weights(0).row(r);
    REQUIRE(full.norm() > 0);
    CHECK((part - p * full).norm() <= 1e-9 * full.norm());
    const double db = scaled.bias(0)(r) - start.bias(0)(r);
    CHECK(db == Approx(p * (net.bias(0)(r) - start.bias(0)(r))).epsilon(1e-9));
  }
}

}  // namespace

TEST_CASE("a frozen neuron stays bit-identical under SGD, Adam and AdamW with weight decay",
          "[plasticity]") {
  frozen_rows_case(Sgd<double>{.learning_rate = 0.1, .momentum = 0.9, .weight_decay = 0.01});
  frozen_rows_case(
      Sgd<double>{.learning_rate = 0.1, .momentum = 0.9, .weight_decay = 0.01, .nesterov = true});
  frozen_rows_case(Sgd<double>{.learning_rate = 0.1, .weight_decay = 0.01});
  frozen_rows_case(Adam<double>{.learning_rate = 0.01, .weight_decay = 0.01});
  frozen_rows_case(AdamW<double>{.learning_rate = 0.01, .weight_decay = 0.1});
}

TEST_CASE("plasticity scales a neuron's step, neurons at 1 move as without it", "[plasticity]") {
  scaled_step_case(Sgd<double>{.learning_rate = 0.1, .weight_decay = 0.01});
  scaled_step_case(Sgd<double>{.learning_rate = 0.1, .momentum = 0.9, .weight_decay = 0.01});
  scaled_step_case(Adam<double>{.learning_rate = 0.01, .weight_decay = 0.01});
  scaled_step_case(AdamW<double>{.learning_rate = 0.01, .weight_decay = 0.1});
}

TEST_CASE("plasticity follows grow, removal, permutation and layer edits", "[plasticity]") {
  Mlp<float, Relu> net({2, 5, 3, 2}, 1);
  const Vector<float> p0{{0.0f, 0.25f, 0.5f, 0.75f, 1.0f}};
  net.set_plasticity(0, p0);
  net.set_plasticity(2, Vector<float>{{0.0f, 0.5f}});
  CHECK(net.plasticity(1) == Vector<float>::Ones(3));

  net.grow_neurons(0, 2, init::ZeroFanOut{});
  CHECK(net.plasticity(0) == Vector<float>{{0.0f, 0.25f, 0.5f, 0.75f, 1.0f, 1.0f, 1.0f}});
  CHECK(net.plasticity(2) == Vector<float>{{0.0f, 0.5f}});

  const Vector<float> grown = net.plasticity(0);
  const std::vector<Index> map = net.remove_neurons(0, {1, 2});
  Vector<float> expected(net.width(0));
  for (std::size_t old = 0; old < map.size(); ++old)
    if (map[old] >= 0) expected(map[old]) = grown(static_cast<Index>(old));
  CHECK(net.plasticity(0) == expected);

  const Vector<float> before = net.plasticity(0);
  net.edit_axis(0, AxisEdit::permute({4, 3, 2, 1, 0}));
  CHECK(net.plasticity(0) == before.reverse());

  net.insert_layer(0, init::Identity{});  // new dense layer 1 learns; the old one is now 2
  CHECK(net.plasticity(0) == before.reverse());
  CHECK(net.plasticity(1) == Vector<float>::Ones(5));
  CHECK(net.plasticity(3) == Vector<float>{{0.0f, 0.5f}});
  net.remove_layer(1);  // the inserted one
  CHECK(net.plasticity(0) == before.reverse());
  CHECK(net.plasticity(2) == Vector<float>{{0.0f, 0.5f}});

  // All ones is the default again, and copies carry the values.
  net.set_plasticity(2, 1.0f);
  CHECK(net.layer_params(2).weight_param().row_plasticity.empty());
  const Mlp<float, Relu> copy = net;
  CHECK(copy.plasticity(0) == net.plasticity(0));
}

TEST_CASE("new neurons never feed a frozen neuron, whatever the initialiser", "[plasticity]") {
  auto check = [](const auto& init) {
    INFO(std::decay_t<decltype(init)>::name);
    Mlp<double, Relu> net({3, 4, 3}, 6);
    neuroplast::testing::randomise_biases(net, 2);
    net.set_plasticity(1, Vector<double>{{0.0, 1.0, 0.0}});
    const Mlp<double, Relu> before = net;
    net.grow_neurons(0, 2, init);
    for (Index r : {0, 2}) {
      CHECK(net.weights(1).row(r).head(4) == before.weights(1).row(r));
      CHECK(net.weights(1).row(r).tail(2).isZero(0));
      CHECK(net.bias(1)(r) == before.bias(1)(r));
    }
    // The old function of the frozen outputs is kept exactly.
    const Matrix<double> X = random_batch(3, 7, 4);
    const Matrix<double> old_out = before.forward(X), new_out = net.forward(X);
    for (Index r : {0, 2}) CHECK((new_out.row(r) - old_out.row(r)).norm() <= 1e-12);
  };
  check(init::ZeroFanOut{});
  check(init::He{});
  check(init::Net2Wider{});
  const Matrix<double> X = random_batch(3, 20, 9);
  const std::vector<int> y = neuroplast::testing::labels_for(20, 3);
  check(init::GradMax<double>{.inputs = &X, .labels = y});
}

TEST_CASE("policies neither prune nor remove a frozen neuron", "[plasticity]") {
  Mlp<double, Relu> net({4, 8, 3}, 3);
  net.freeze(0);
  Vector<double> half = Vector<double>::Ones(3);
  half(1) = 0;
  net.set_plasticity(1, half);
  const Mlp<double, Relu> before = net;
  Dataset<double> data(random_batch(4, 64, 5), neuroplast::testing::labels_for(64, 3));
  const auto result = PruneLeastRelevant{.fraction = 0.5}.apply(net, data);
  CHECK(result.connections > 0);
  CHECK(net.connection_mask(0).isOnes(0));
  CHECK(net.connection_mask(1).row(1).isOnes(0));
  CHECK(net.sizes() == before.sizes());
  CHECK(net.weights(0) == before.weights(0));

  // A neuron cut off from its inputs would normally go (its constant output folded into the next
  // bias); a frozen one stays.
  Mlp<double, Relu> cut({2, 3, 2}, 4);
  Matrix<double> mask = Matrix<double>::Ones(3, 2);
  mask.row(0).setZero();
  mask.row(2).setZero();
  cut.prune_connections(0, mask);
  cut.set_plasticity(0, Vector<double>{{0.0, 1.0, 1.0}});
  const auto map = cut.remove_dead_neurons(0);
  CHECK(map == std::vector<Index>{0, 1, -1});
}

TEST_CASE("freeze every layer, grow with zero fan-out, train on new data: old neurons are exact",
          "[plasticity]") {
  Mlp<double, Relu> net({4, 6, 6, 3}, 7);
  const Dataset<double> old_data(random_batch(4, 90, 1), neuroplast::testing::labels_for(90, 3));
  Trainer first(net, Adam<double>{.learning_rate = 0.01}, StaticPolicy{},
                TrainOptions{.epochs = 5, .batch_size = 16, .seed = 1});
  first.fit(old_data);
  for (Index l = 0; l < net.layer_count(); ++l) net.freeze(l);
  const Mlp<double, Relu> before = net;
  net.grow_neurons(0, 4, init::ZeroFanOut{});
  net.grow_neurons(1, 4, init::ZeroFanOut{});
  const Dataset<double> new_data(random_batch(4, 90, 2), neuroplast::testing::labels_for(90, 3));
  Trainer second(net, AdamW<double>{.learning_rate = 0.01}, DropinPolicy{},
                 TrainOptions{.epochs = 12, .batch_size = 16, .seed = 2});
  second.fit(new_data, new_data);
  REQUIRE(net.width(0) > 6);
  REQUIRE(net.width(1) > 6);
  for (Index l = 0; l < net.layer_count(); ++l) {
    INFO("dense layer " << l);
    const Index old_in = before.sizes()[static_cast<std::size_t>(l)];
    for (Index r = 0; r < before.sizes()[static_cast<std::size_t>(l) + 1]; ++r) {
      CHECK(net.weights(l).row(r).head(old_in) == before.weights(l).row(r));
      CHECK(net.weights(l).row(r).tail(net.weights(l).cols() - old_in).isZero(0));
      CHECK(net.bias(l)(r) == before.bias(l)(r));
    }
  }
  const Matrix<double> X = old_data.features();
  CHECK(neuroplast::testing::relative_difference(net.forward(X), before.forward(X)) < 1e-12);
}

TEST_CASE("set_plasticity refuses a bad layer, size or value, changing nothing", "[plasticity]") {
  Mlp<float, Relu> net({2, 3, 2}, 1);
  CHECK_THROWS_MATCHES(net.set_plasticity(1, Vector<float>::Ones(3)), Error,
                       WhatHas({"set_plasticity", "3 values", "dense layer 1 of 2 neurons"}));
  CHECK_THROWS_MATCHES(net.set_plasticity(0, Vector<float>{{0.5f, 1.5f, 1.0f}}), Error,
                       WhatHas({"value 1.5", "neuron 1", "outside [0, 1]"}));
  CHECK_THROWS_MATCHES(net.set_plasticity(0, std::nanf("")), Error, WhatHas({"outside [0, 1]"}));
  CHECK_THROWS_MATCHES(net.set_plasticity(0, -0.1f), Error, WhatHas({"value -0.1"}));
  CHECK_THROWS_MATCHES(net.set_plasticity(2, 0.5f), Error, WhatHas({"set_plasticity"}));
  CHECK_THROWS_MATCHES(net.freeze(-1), Error, WhatHas({"freeze"}));
  CHECK_THROWS_MATCHES(net.plasticity(2), Error, WhatHas({"plasticity"}));
  CHECK(net.plasticity(0) == Vector<float>::Ones(3));
}

TEST_CASE("new data freezes the existing neurons, which then thaw as set", "[plasticity]") {
  Mlp<double, Relu> net({4, 5, 3}, 2);
  const Dataset<double> a(random_batch(4, 60, 1), neuroplast::testing::labels_for(60, 3));
  const Dataset<double> b(random_batch(4, 60, 2), neuroplast::testing::labels_for(60, 3));
  std::vector<double> seen;
  TrainOptions options{.epochs = 3, .batch_size = 16, .seed = 1};
  options.on_epoch_end = [&](const EpochRecord&) { seen.push_back(net.plasticity(0)(0)); };
  // Windows of 100 steps, not bounded by the 3-epoch fits: nothing grows before the new data.
  Trainer trainer(net, Adam<double>{.learning_rate = 0.01},
                  DropinPolicy{.trigger = Stagnation{.min_phase_windows = 0},
                               .new_data = {.old_neurons = 0.2, .thaw_epochs = 4}},
                  options);
  trainer.fit(a, a);
  CHECK(seen == std::vector<double>{1, 1, 1});  // no new data yet: nothing changes
  trainer.notify_new_data(b);
  REQUIRE(net.width(0) > 5);  // grew for the new data
  for (Index j = 0; j < net.width(0); ++j) CHECK(net.plasticity(0)(j) == (j < 5 ? 0.2 : 1.0));
  CHECK(net.plasticity(1) == Vector<double>::Ones(3));  // the output layer is the caller's
  seen.clear();
  trainer.fit(b, b);
  trainer.fit(b, b);
  REQUIRE(seen.size() == 6);
  for (std::size_t e = 0; e < 6; ++e)
    CHECK(seen[e] == Approx(std::min(1.0, 0.2 + 0.8 * static_cast<double>(e + 1) / 4)));

  // Frozen and never thawed: the old hidden neurons do not move while the new ones learn.
  Mlp<double, Relu> frozen({4, 5, 3}, 2);
  Trainer t2(frozen, Adam<double>{.learning_rate = 0.01},
             NeuroplasticPolicy{.new_data = {.old_neurons = 0}},
             TrainOptions{.epochs = 3, .batch_size = 16, .seed = 1});
  t2.fit(a, a);
  t2.notify_new_data(b);
  const Mlp<double, Relu> before = frozen;
  t2.fit(b, b);
  for (Index r = 0; r < 5; ++r) {
    CHECK(frozen.weights(0).row(r) == before.weights(0).row(r));
    CHECK(frozen.bias(0)(r) == before.bias(0)(r));
  }

  Mlp<double, Relu> bad({4, 5, 3}, 2);
  Trainer t3(bad, Adam<double>{}, DropinPolicy{.new_data = {.old_neurons = 1.5}}, TrainOptions{});
  CHECK_THROWS_MATCHES(t3.fit(a), Error, WhatHas({"NewDataPlasticity", "old_neurons = 1.5"}));
}

TEST_CASE("set_replay mixes a memory into every batch, and clear_replay ends it",
          "[plasticity][replay]") {
  // Task a: classes 0 and 1; the memory: class 2 only, never in the training set.
  Matrix<double> X = random_batch(4, 120, 3);
  std::vector<int> y(120), z(40, 2);
  for (Index i = 0; i < 120; ++i) {
    y[static_cast<std::size_t>(i)] = static_cast<int>(i % 2);
    X(static_cast<Index>(i % 2), i) += 3;
  }
  Matrix<double> M = random_batch(4, 40, 4);
  M.row(2).array() += 3;
  const Dataset<double> a(X, y), memory(M, z);
  auto run = [&](bool replay) {
    Mlp<double, Relu> net({4, 16, 3}, 5);
    Index batches = 0, samples = 0;
    TrainOptions options{.epochs = 10, .batch_size = 16, .seed = 2};
    options.on_batch_end = [&](const BatchRecord& r) {
      ++batches;
      samples += r.samples;
    };
    Trainer trainer(net, Adam<double>{.learning_rate = 0.01}, StaticPolicy{}, options);
    if (replay) trainer.set_replay(memory, 0.25);  // 12 of a, 4 of the memory per batch
    trainer.fit(a);
    return std::tuple{trainer.evaluate(memory).accuracy, batches, samples,
                      Matrix<double>(net.weights(0))};
  };
  const auto [with, batches, samples, w_with] = run(true);
  const auto [without, plain_batches, plain_samples, w_without] = run(false);
  CHECK(batches == 10 * 10);  // ⌈120 / 12⌉ steps per epoch
  CHECK(samples == 10 * 10 * 16);
  CHECK(plain_batches == 10 * 8);
  CHECK(with > 0.9);    // the memory's class was learned from the memory alone
  CHECK(without == 0);  // never seen without it

  // Cleared before fitting: the same run as one that never had a memory.
  Mlp<double, Relu> net({4, 16, 3}, 5);
  Trainer trainer(net, Adam<double>{.learning_rate = 0.01}, StaticPolicy{},
                  TrainOptions{.epochs = 10, .batch_size = 16, .seed = 2});
  trainer.set_replay(memory, 0.5);
  trainer.clear_replay();
  trainer.fit(a);
  CHECK(Matrix<double>(net.weights(0)) == w_without);

  CHECK_THROWS_MATCHES(trainer.set_replay(memory, 1.0), Error, WhatHas({"ratio = 1"}));
  CHECK_THROWS_MATCHES(trainer.set_replay(memory, 0.0), Error, WhatHas({"ratio = 0"}));
  const Dataset<double> narrow(random_batch(3, 5, 1), std::vector<int>(5, 0));
  CHECK_THROWS_MATCHES(trainer.set_replay(narrow, 0.5), Error,
                       WhatHas({"set_replay (memory)", "3 features"}));
}

// ---- continual-learning protocols and metrics -------------------------------------------------

TEST_CASE("class_split groups consecutive classes and refuses what does not divide",
          "[continual]") {
  const auto tasks = class_split(10, 2);
  REQUIRE(tasks.size() == 5);
  CHECK(tasks[0] == std::vector<int>{0, 1});
  CHECK(tasks[4] == std::vector<int>{8, 9});
  CHECK(class_split(6, 3)[1] == std::vector<int>{3, 4, 5});
  CHECK_THROWS_WITH(class_split(10, 3), Catch::Contains("divide"));
  CHECK_THROWS_AS(class_split(10, 0), Error);
}

TEST_CASE("task_accuracy: every output for class-incremental, the task's own for task-incremental",
          "[continual]") {
  // A linear network whose logits are its inputs: the predicted class is the largest input.
  Mlp<double, Relu> net({4, 4}, 1);
  net.weights(0).setIdentity();
  net.bias(0).setZero();
  Matrix<double> X(4, 3);
  // Sample 0: class 0 is largest overall. Sample 1: class 3 overall, class 1 among {0, 1}.
  // Sample 2: class 2 overall, class 0 among {0, 1}.
  X.col(0) << 5, 1, 0, 0;
  X.col(1) << 0, 1, 0, 9;
  X.col(2) << 2, 1, 7, 0;
  const Dataset<double> data(X, {0, 1, 1});
  const std::vector<int> task{0, 1};
  // Class-incremental: only sample 0 is right (sample 1 predicts 3, sample 2 predicts 2).
  CHECK(task_accuracy(net, data, task, ContinualProtocol::class_incremental) == 1.0 / 3);
  // Task-incremental: samples 0 and 1 are right within {0, 1}; sample 2 predicts 0.
  CHECK(task_accuracy(net, data, task, ContinualProtocol::task_incremental) == 2.0 / 3);
  // Batches of one column give the same figures.
  CHECK(task_accuracy(net, data, task, ContinualProtocol::task_incremental, 1) == 2.0 / 3);
  const std::vector<int> other{2, 3};
  CHECK_THROWS_WITH(task_accuracy(net, data, other, ContinualProtocol::task_incremental),
                    Catch::Contains("not one of the task's classes"));
  const std::vector<int> outside{0, 7};
  CHECK_THROWS_WITH(task_accuracy(net, data, outside, ContinualProtocol::class_incremental),
                    Catch::Contains("not an output"));
}

TEST_CASE("AccuracyMatrix summaries match hand-computed values", "[continual]") {
  AccuracyMatrix m(3);
  m.after << 0.9, 0.1, 0.2,  //
      0.6, 0.8, 0.3,         //
      0.5, 0.7, 0.95;
  m.baseline = Vector<double>::Constant(3, 0.1);
  CHECK(m.average_accuracy() == Approx((0.5 + 0.7 + 0.95) / 3));
  CHECK(m.average_accuracy(1) == Approx((0.6 + 0.8) / 2));
  // BWT: ((0.5 − 0.9) + (0.7 − 0.8)) / 2.
  CHECK(m.backward_transfer() == Approx(-0.25));
  // Forgetting: task 0's best before the end is 0.9 (→ 0.5), task 1's 0.8 (→ 0.7).
  CHECK(m.forgetting() == Approx((0.4 + 0.1) / 2));
  // FWT: ((0.1 − 0.1) + (0.3 − 0.1)) / 2.
  CHECK(m.forward_transfer() == Approx(0.1));
  // Zero forgetting: an old task's accuracy never moves.
  AccuracyMatrix kept(2);
  kept.after << 0.9, 0.5, 0.9, 0.8;
  CHECK(kept.forgetting() == 0);
  CHECK(kept.backward_transfer() == 0);
  CHECK(std::isnan(kept.forward_transfer()));  // no baseline
  // A row not measured yet is refused, naming the entry.
  AccuracyMatrix partial(3);
  partial.after(0, 0) = 0.9;
  CHECK(partial.average_accuracy(0) == 0.9);
  CHECK_THROWS_WITH(partial.average_accuracy(), Catch::Contains("after(1, 0)"));
}
