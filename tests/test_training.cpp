// Trainer: learning on small synthetic tasks, determinism, every error path, NaN detection, and
// the Fashion-MNIST acceptance run (tagged [slow]).

#include <catch2/catch.hpp>
#include <chrono>
#include <cmath>
#include <cstdlib>
#include <filesystem>
#include <limits>
#include <tuple>

#include "neuroplast/neuroplast.hpp"
#include "support/fixtures.hpp"

using namespace neuroplast;
using neuroplast::testing::WhatHas;

namespace {

// Three Gaussian blobs in 2-D, centres on a circle of radius 3, unit variance.
template <class T>
Dataset<T> blobs(Index n, std::uint64_t seed) {
  Rng rng(seed);
  Matrix<T> X(2, n);
  std::vector<int> y(static_cast<std::size_t>(n));
  for (Index i = 0; i < n; ++i) {
    const int k = static_cast<int>(i % 3);
    const double angle = 2.0943951023931953 * k;
    X(0, i) = static_cast<T>(3 * std::cos(angle) + rng.normal());
    X(1, i) = static_cast<T>(3 * std::sin(angle) + rng.normal());
    y[static_cast<std::size_t>(i)] = k;
  }
  return Dataset<T>(std::move(X), std::move(y));
}

}  // namespace

TEST_CASE("a static MLP learns separable blobs", "[training]") {
  Mlp<double, Relu> net({2, 16, 3}, 1);
  Trainer trainer(net, Adam<double>{.learning_rate = 0.01}, StaticPolicy{},
                  TrainOptions{.epochs = 20, .batch_size = 16, .seed = 3});
  const auto train = blobs<double>(600, 1);
  const auto validation = blobs<double>(300, 2);
  const History h = trainer.fit(train, validation);
  REQUIRE(h.epochs.size() == 20);
  CHECK(h.epochs.back().train_loss < h.epochs.front().train_loss);
  // Bayes accuracy of these blobs is about 0.93 (centres 5.2 apart, unit noise).
  CHECK(h.epochs.back().validation_accuracy > 0.88);
  CHECK(h.epochs.back().sizes == std::vector<Index>{2, 16, 3});
  CHECK(h.epochs.back().parameter_count == net.parameter_count());
  CHECK(h.best_validation_accuracy() >= h.epochs.back().validation_accuracy);
  CHECK(trainer.optimizer().steps == 20 * (600 / 16 + 1));
  const Evaluation e = trainer.evaluate(validation);
  CHECK(e.accuracy == Approx(h.epochs.back().validation_accuracy));
  CHECK(e.loss == Approx(h.epochs.back().validation_loss));
}

TEST_CASE("training is bit-identical for a seed", "[training][determinism]") {
  auto run = [](std::uint64_t seed) {
    Mlp<float, Tanh> net({2, 8, 8, 3}, 5);
    Trainer trainer(net, Sgd<float>{.learning_rate = 0.05f, .momentum = 0.9f}, StaticPolicy{},
                    TrainOptions{.epochs = 3, .batch_size = 10, .seed = seed});
    const History h = trainer.fit(blobs<float>(200, 4), blobs<float>(60, 5));
    return std::pair{Matrix<float>(net.weights(1)), h.epochs.back().train_loss};
  };
  const auto a = run(1), b = run(1), c = run(2);
  CHECK(a.first == b.first);
  CHECK(a.second == b.second);
  CHECK(a.first != c.first);
}

TEST_CASE("a trainer on borrowed samples makes the run it makes on owned ones",
          "[training][determinism]") {
  const Dataset<float> train = blobs<float>(200, 4), validation = blobs<float>(60, 5);
  // The borrowed datasets read these copies in place (nothing of theirs is copied).
  const Matrix<float> train_x = train.features(), validation_x = validation.features();
  const auto borrowed = [](const Matrix<float>& x, const Dataset<float>& d) {
    return Dataset<float>::borrow(Dataset<float>::Features(x.data(), x.rows(), x.cols()),
                                  d.labels());
  };
  auto run = [](const Dataset<float>& t, const Dataset<float>& v) {
    Mlp<float, Relu> net({2, 2, 3}, 5);
    Trainer trainer(net, Adam<float>{.learning_rate = 0.02f}, DropinPolicy{},
                    TrainOptions{.epochs = 30, .batch_size = 16, .seed = 7});
    trainer.notify_new_data(t);  // a growth step judged on the borrowed samples
    const History h = trainer.fit(t, v);
    return std::tuple{net.sizes(), Matrix<float>(net.weights(0)), h.events.size(),
                      h.epochs.back().validation_loss, trainer.evaluate(v).loss};
  };
  const Dataset<float> t = borrowed(train_x, train), v = borrowed(validation_x, validation);
  REQUIRE(t.borrows());
  const auto owned = run(train, validation);
  CHECK(std::get<2>(owned) > 1);  // it grew: the comparison covers the policy's use of the data
  CHECK(run(t, v) == owned);
}

TEST_CASE("regression with mean squared error", "[training]") {
  // y = sin(x) on [−3, 3].
  Rng rng(3);
  Matrix<double> X(1, 400), Y(1, 400);
  for (Index i = 0; i < 400; ++i) {
    X(0, i) = rng.uniform(-3, 3);
    Y(0, i) = std::sin(X(0, i));
  }
  Dataset<double> data(X, Y);
  Mlp<double, Tanh> net({1, 16, 1}, 2);
  Trainer trainer(
      net, Adam<double>{.learning_rate = 0.01}, StaticPolicy{},
      TrainOptions{.epochs = 100, .batch_size = 20, .loss = LossKind::mean_squared_error});
  const History h = trainer.fit(data);
  CHECK(h.epochs.back().train_loss < 0.01);
  CHECK(std::isnan(h.epochs.back().validation_loss));
}

TEST_CASE("invalid options and hyper-parameters are refused up front", "[training][errors]") {
  Mlp<double, Relu> net({2, 4, 3}, 1);
  using A = Adam<double>;
  CHECK_THROWS_WITH(Trainer(net, A{.learning_rate = -1e-3}),
                    Catch::Contains("adam: learning_rate = -0.001 is invalid"));
  CHECK_THROWS_WITH(Trainer(net, A{.beta1 = 1.0}), Catch::Contains("beta1"));
  CHECK_THROWS_WITH(Trainer(net, Sgd<double>{.momentum = 1.5}), Catch::Contains("momentum = 1.5"));
  CHECK_THROWS_WITH(Trainer(net, Sgd<double>{.learning_rate = 0}), Catch::Contains("positive"));
  CHECK_THROWS_WITH(Trainer(net, A{}, StaticPolicy{}, TrainOptions{.batch_size = 0}),
                    Catch::Contains("batch_size = 0 must be at least 1"));
  CHECK_THROWS_WITH(Trainer(net, A{}, StaticPolicy{}, TrainOptions{.epochs = 0}),
                    Catch::Contains("epochs"));
}

TEST_CASE("datasets that do not fit the network are refused before training",
          "[training][errors]") {
  Mlp<double, Relu> net({2, 4, 3}, 1);
  const Matrix<double> before = net.weights(0);
  Trainer trainer(net, Adam<double>{});
  CHECK_THROWS_WITH(
      trainer.fit(Dataset<double>(Matrix<double>::Zero(3, 5), std::vector<int>(5, 0))),
      Catch::Contains("samples have 3 features but the network expects 2 inputs"));
  CHECK_THROWS_WITH(
      trainer.fit(Dataset<double>(Matrix<double>::Zero(2, 2), std::vector<int>{0, 3})),
      Catch::Contains("labels go up to 3 but the network has only 3 outputs"));
  CHECK_THROWS_WITH(
      trainer.fit(Dataset<double>(Matrix<double>::Zero(2, 2), Matrix<double>::Zero(3, 2))),
      Catch::Contains("softmax cross-entropy needs class labels"));
  CHECK_THROWS_AS(trainer.fit(Dataset<double>{}), Error);
  CHECK(Matrix<double>(net.weights(0)) == before);
}

TEST_CASE("a diverging run stops with NumericError and keeps finite parameters",
          "[training][errors]") {
  Mlp<float, Relu> net({2, 32, 3}, 1);
  Trainer trainer(net, Sgd<float>{.learning_rate = 1e30f}, StaticPolicy{},
                  TrainOptions{.epochs = 5, .batch_size = 8});
  CHECK_THROWS_MATCHES(trainer.fit(blobs<float>(200, 1)), NumericError,
                       WhatHas({"the loss became", "epoch 1"}));
  for (Index l = 0; l < net.layer_count(); ++l) CHECK(net.weights(l).allFinite());
}

TEST_CASE("a non-finite loss names the first layer with non-finite parameters",
          "[training][errors]") {
  Mlp<double, Relu> net({2, 8, 3}, 1);
  TrainOptions options{.epochs = 3, .batch_size = 16, .seed = 2};
  // A user callback corrupts a weight between epochs; the next epoch's first batch finds it.
  options.on_epoch_end = [&](const EpochRecord& r) {
    if (r.epoch == 1) net.weights(1)(2, 5) = std::numeric_limits<double>::infinity();
  };
  Trainer trainer(net, Sgd<double>{.learning_rate = 0.01}, StaticPolicy{}, options);
  CHECK_THROWS_MATCHES(
      trainer.fit(blobs<double>(60, 1)), NumericError,
      WhatHas({"epoch 2, batch 0", "the weights of layer 1 are not finite", "(step 5)"}));
  CHECK(trainer.history().epochs.size() == 1);
}

TEST_CASE("rollback: a diverging run restarts from the last good state with a lower rate",
          "[training][errors]") {
  const auto train = blobs<float>(120, 1);
  TrainOptions options{.epochs = 3, .batch_size = 16, .seed = 4};
  options.on_numeric_error = NumericErrorAction::rollback;
  options.rollback_learning_rate_factor = 1e-31;  // 1e30 → about 0.1 in one rollback
  std::vector<StructuralEvent> announced;
  options.on_event = [&](const StructuralEvent& e) { announced.push_back(e); };
  Mlp<float, Relu> net({2, 16, 3}, 1);
  Trainer trainer(net, Sgd<float>{.learning_rate = 1e30f}, StaticPolicy{}, options);
  const History h = trainer.fit(train);
  REQUIRE(h.epochs.size() == 3);
  REQUIRE(h.events.size() == 1);
  const StructuralEvent& e = h.events[0];
  CHECK(e.kind == EventKind::rollback);
  CHECK(e.epoch == 0);
  CHECK(e.count == 1);
  CHECK_THAT(e.reason, Catch::Contains("the loss became"));
  const float lowered = trainer.optimizer().learning_rate;
  CHECK(lowered == Approx(0.1f).epsilon(1e-5));
  CHECK(e.trigger_value == static_cast<double>(lowered));
  CHECK(announced.size() == 1);
  // The retry is exactly a fresh run at the lowered rate: network, optimizer and both random
  // streams were restored.
  Mlp<float, Relu> twin({2, 16, 3}, 1);
  TrainOptions plain{.epochs = 3, .batch_size = 16, .seed = 4};
  Trainer reference(twin, Sgd<float>{.learning_rate = lowered}, StaticPolicy{}, plain);
  reference.fit(train);
  for (Index l = 0; l < net.layer_count(); ++l) {
    CHECK(Matrix<float>(net.weights(l)) == Matrix<float>(twin.weights(l)));
    CHECK(Matrix<float>(net.bias(l)) == Matrix<float>(twin.bias(l)));
  }
  CHECK(trainer.optimizer().steps == reference.optimizer().steps);
  CHECK(h.epochs.back().train_loss == reference.history().epochs.back().train_loss);
}

TEST_CASE("rollback: mid-run corruption returns to the end of the last good epoch",
          "[training][errors]") {
  const auto train = blobs<double>(60, 2);
  Mlp<double, Tanh> net({2, 8, 3}, 3);
  TrainOptions options{.epochs = 4, .batch_size = 16, .seed = 5};
  options.on_numeric_error = NumericErrorAction::rollback;
  Matrix<double> after_two;
  options.on_epoch_end = [&](const EpochRecord& r) {
    if (r.epoch == 2 && after_two.size() == 0) {
      after_two = net.weights(0);
      net.bias(0)(3) = std::numeric_limits<double>::quiet_NaN();
    }
  };
  Trainer trainer(net, Adam<double>{.learning_rate = 0.01}, StaticPolicy{}, options);
  const History h = trainer.fit(train);
  REQUIRE(h.epochs.size() == 4);
  REQUIRE(h.events.size() == 1);
  CHECK(h.events[0].epoch == 2);
  CHECK_THAT(h.events[0].reason, Catch::Contains("the bias of layer 0 is not finite"));
  CHECK(trainer.optimizer().learning_rate == 0.005);
  CHECK(trainer.optimizer().steps == 4 * 4);
  for (const EpochRecord& r : h.epochs) CHECK(std::isfinite(r.train_loss));
  CHECK(net.bias(0).allFinite());
  CHECK(h.epochs[2].epoch == 3);
}

TEST_CASE("rollback: gives up after max_rollbacks, leaving the last good state",
          "[training][errors]") {
  Mlp<float, Relu> net({2, 32, 3}, 1);
  const Mlp<float, Relu> initial = net;
  TrainOptions options{.epochs = 5, .batch_size = 8};
  options.on_numeric_error = NumericErrorAction::rollback;
  options.max_rollbacks = 2;
  Trainer trainer(net, Sgd<float>{.learning_rate = 1e30f}, StaticPolicy{}, options);
  CHECK_THROWS_MATCHES(
      trainer.fit(blobs<float>(200, 1)), NumericError,
      WhatHas({"the loss became", "gave up after 2 rollback(s)", "end of epoch 0"}));
  CHECK(trainer.history().events.size() == 2);
  CHECK(trainer.history().epochs.empty());
  CHECK(trainer.optimizer().learning_rate == 0.25e30f);
  CHECK(trainer.optimizer().steps == 0);
  for (Index l = 0; l < net.layer_count(); ++l)
    CHECK(Matrix<float>(net.weights(l)) == Matrix<float>(initial.weights(l)));

  TrainOptions bad{.epochs = 1};
  bad.rollback_learning_rate_factor = 0;
  CHECK_THROWS_WITH(Trainer(net, Sgd<float>{}, StaticPolicy{}, bad),
                    Catch::Contains("rollback_learning_rate_factor = 0 must be in (0, 1]"));
  bad.rollback_learning_rate_factor = 0.5;
  bad.max_rollbacks = -1;
  CHECK_THROWS_WITH(Trainer(net, Sgd<float>{}, StaticPolicy{}, bad),
                    Catch::Contains("max_rollbacks = -1"));
}

TEST_CASE("on_batch_end reports every step, its losses make up the epoch's", "[training]") {
  const auto train = blobs<double>(100, 1);
  Mlp<double, Relu> net({2, 8, 3}, 1);
  std::vector<BatchRecord> batches;
  Trainer trainer(
      net, Adam<double>{}, StaticPolicy{},
      TrainOptions{
          .epochs = 2, .batch_size = 32, .seed = 1, .on_batch_end = [&](const BatchRecord& b) {
            batches.push_back(b);
          }});
  const History h = trainer.fit(train);
  REQUIRE(batches.size() == 8);  // ⌈100 / 32⌉ = 4 per epoch
  for (std::size_t i = 0; i < batches.size(); ++i) {
    const BatchRecord& b = batches[i];
    CHECK(b.epoch == static_cast<int>(i / 4) + 1);
    CHECK(b.batch == static_cast<Index>(i % 4));
    CHECK(b.batches == 4);
    CHECK(b.samples == (i % 4 == 3 ? 4 : 32));
    CHECK(b.step == static_cast<std::int64_t>(i) + 1);
    CHECK(std::isnan(b.gradient_norm));  // clipping is off
  }
  // The epoch's training loss is the sample-weighted mean of its batches' losses.
  for (int epoch = 1; epoch <= 2; ++epoch) {
    double sum = 0;
    for (const BatchRecord& b : batches)
      if (b.epoch == epoch) sum += b.loss * static_cast<double>(b.samples);
    CHECK(sum / 100 == Approx(h.epochs[static_cast<std::size_t>(epoch - 1)].train_loss));
  }
}

TEST_CASE("on_gradients sees every step's gradients before the step and may replace them",
          "[training]") {
  const auto train = blobs<double>(100, 3);
  auto scale_all = [](Mlp<double, Relu>& net, double factor) {
    net.for_each_param([&](Param<double>& p, ParamKind) { p.grad.view() *= factor; });
  };
  // Doubling every gradient under SGD (no momentum) is a step of twice the learning rate: the
  // scaling by 2 is exact, so the runs agree bit for bit.
  Mlp<double, Relu> doubled({2, 8, 3}, 5), twice_lr({2, 8, 3}, 5);
  std::vector<BatchRecord> seen;
  Trainer(doubled, Sgd<double>{.learning_rate = 0.05, .momentum = 0}, StaticPolicy{},
          TrainOptions{.epochs = 3,
                       .batch_size = 32,
                       .seed = 2,
                       .on_gradients =
                           [&](const BatchRecord& b) {
                             seen.push_back(b);
                             scale_all(doubled, 2);
                           }})
      .fit(train);
  Trainer(twice_lr, Sgd<double>{.learning_rate = 0.1, .momentum = 0}, StaticPolicy{},
          TrainOptions{.epochs = 3, .batch_size = 32, .seed = 2})
      .fit(train);
  for (Index l = 0; l < doubled.layer_count(); ++l) {
    CHECK(doubled.weights(l) == twice_lr.weights(l));
    CHECK(doubled.bias(l) == twice_lr.bias(l));
  }
  REQUIRE(seen.size() == 12);  // ⌈100 / 32⌉ = 4 batches × 3 epochs
  for (std::size_t i = 0; i < seen.size(); ++i) {
    CHECK(seen[i].step == static_cast<std::int64_t>(i) + 1);  // the step about to be taken
    CHECK(seen[i].batch == static_cast<Index>(i % 4));
    CHECK(std::isnan(seen[i].gradient_norm));
  }

  // Zeroed gradients: Adam's steps are then 0 and the network ends where it began; clipping runs
  // after the hook and sees the zeros (norm 0).
  Mlp<double, Relu> frozen({2, 8, 3}, 6);
  const Mlp<double, Relu> start = frozen;
  std::vector<double> norms;
  Trainer(
      frozen, Adam<double>{}, StaticPolicy{},
      TrainOptions{.epochs = 2,
                   .batch_size = 32,
                   .seed = 3,
                   .on_batch_end = [&](const BatchRecord& b) { norms.push_back(b.gradient_norm); },
                   .on_gradients = [&](const BatchRecord&) { scale_all(frozen, 0); },
                   .clip_gradient_norm = 1})
      .fit(train);
  for (Index l = 0; l < frozen.layer_count(); ++l) {
    CHECK(frozen.weights(l) == start.weights(l));
    CHECK(frozen.bias(l) == start.bias(l));
  }
  REQUIRE(norms.size() == 8);
  for (const double norm : norms) CHECK(norm == 0);
}

TEST_CASE("a gradient written into pruned connections by on_gradients does not revive them",
          "[training][mask]") {
  // The optimizers keep a pruned weight at 0 because its gradient is 0; a hook that writes a
  // gradient everywhere (here: a constant 0.5 added to every entry) must not move the pruned
  // weights or give them optimizer state, under Adam with decoupled weight decay and SGD with
  // momentum alike. The active weights do move.
  const auto train = blobs<double>(60, 3);
  Matrix<double> mask = Matrix<double>::Ones(8, 2);
  mask(0, 0) = mask(3, 1) = 0;
  mask.row(5).setZero();
  auto check = [&](auto optimizer) {
    Mlp<double, Relu> net({2, 8, 3}, 9);
    net.prune_connections(0, mask);
    const Matrix<double> before = net.weights(0);
    Trainer(net, optimizer, StaticPolicy{},
            TrainOptions{.epochs = 2,
                         .batch_size = 16,
                         .seed = 4,
                         .on_gradients =
                             [&](const BatchRecord&) {
                               net.for_each_param([](Param<double>& p, ParamKind) {
                                 p.grad.view().array() += 0.5;
                               });
                             }})
        .fit(train);
    const Matrix<double> w = net.weights(0);
    CHECK(w(0, 0) == 0);
    CHECK(w(3, 1) == 0);
    CHECK(w.row(5).isZero());
    CHECK(w(1, 1) != before(1, 1));
    for (const auto& plane : net.layer_params(0).weight_param().state) {
      CHECK(plane.view()(0, 0) == 0);
      CHECK(plane.view()(3, 1) == 0);
      CHECK(plane.view().row(5).isZero());
    }
  };
  check(AdamW<double>{.learning_rate = 0.01, .weight_decay = 0.1});
  check(Sgd<double>{.learning_rate = 0.01, .momentum = 0.9, .weight_decay = 0.1});
}

TEST_CASE("the best epoch is the most accurate, and among equally accurate ones the lowest loss",
          "[training]") {
  auto rec = [](double accuracy, double loss) {
    return EpochRecord{.train_loss = 1, .validation_loss = loss, .validation_accuracy = accuracy};
  };
  // Equal accuracy: the lower validation loss wins (a saturated accuracy, as on a small set).
  CHECK(rec(1.0, 0.02).best_epoch_score() > rec(1.0, 0.39).best_epoch_score());
  // One sample of a billion outweighs any loss difference.
  CHECK(rec(0.5 + 1e-9, 1e6).best_epoch_score() > rec(0.5, 0).best_epoch_score());
  CHECK(rec(0.9, std::numeric_limits<double>::infinity()).best_epoch_score() <
        rec(0.9, 5).best_epoch_score());
  CHECK(rec(0.9, std::numeric_limits<double>::infinity()).best_epoch_score() >
        rec(0.9 - 1e-9, 0).best_epoch_score());
  // Regression: minus the validation loss; without validation, minus the training loss.
  CHECK(rec(std::nan(""), 0.25).best_epoch_score() == -0.25);
  CHECK(EpochRecord{.train_loss = 0.5}.best_epoch_score() == -0.5);
}

TEST_CASE("restore_best returns any policy's network to its best epoch at the end of a fit",
          "[training]") {
  // A wide network on 30 noisy samples with a large step: the validation accuracy peaks early.
  auto train = blobs<double>(30, 7);
  const auto validation = blobs<double>(300, 8);
  const TrainOptions options{.epochs = 40, .batch_size = 8, .seed = 4, .restore_best = true};
  Mlp<double, Relu> net({2, 64, 64, 3}, 9);
  Trainer trainer(net, Adam<double>{.learning_rate = 0.05}, StaticPolicy{}, options);
  const History h = trainer.fit(train, validation);
  std::size_t best = 0;
  for (std::size_t i = 1; i < h.epochs.size(); ++i)
    if (h.epochs[i].best_epoch_score() > h.epochs[best].best_epoch_score()) best = i;
  REQUIRE(h.epochs.back().best_epoch_score() < h.epochs[best].best_epoch_score());
  REQUIRE(!h.events.empty());
  CHECK(h.events.back().kind == EventKind::rollback);
  CHECK(h.events.back().epoch == 40);
  CHECK_THAT(h.events.back().reason, Catch::Contains("restore_best"));
  // The network is that epoch's: evaluating it reproduces the epoch's figures exactly.
  const Evaluation e = trainer.evaluate(validation);
  CHECK(e.accuracy == h.epochs[best].validation_accuracy);
  CHECK(e.loss == h.epochs[best].validation_loss);

  // Without the option the same run ends at its last epoch.
  Mlp<double, Relu> last({2, 64, 64, 3}, 9);
  TrainOptions plain = options;
  plain.restore_best = false;
  Trainer untouched(last, Adam<double>{.learning_rate = 0.05}, StaticPolicy{}, plain);
  CHECK(untouched.fit(train, validation).events.empty());
  CHECK(untouched.evaluate(validation).loss == h.epochs.back().validation_loss);

  // New data: the epochs before it were judged on other data and no longer count. On a
  // validation set with random labels every later epoch scores far below the old best; the fit
  // must still end at the best of its own epochs, not at the old best network.
  const auto blobs_val = blobs<double>(300, 12);
  Rng rng(13);
  std::vector<int> random_labels(300);
  for (int& y : random_labels) y = static_cast<int>(rng.uniform() * 3);
  const Dataset<double> noisy(Matrix<double>(blobs_val.features()), random_labels);
  const Mlp<double, Relu> old_best = net;
  trainer.notify_new_data(train);
  const History later = trainer.fit(train, noisy);
  std::size_t best_new = h.epochs.size();
  for (std::size_t i = best_new + 1; i < later.epochs.size(); ++i)
    if (later.epochs[i].best_epoch_score() > later.epochs[best_new].best_epoch_score())
      best_new = i;
  REQUIRE(later.epochs[best_new].validation_accuracy < h.epochs[best].validation_accuracy);
  // A last epoch as good as the best is kept (it is the best epoch too, and trained longer).
  if (later.epochs.back().best_epoch_score() == later.epochs[best_new].best_epoch_score())
    best_new = later.epochs.size() - 1;
  CHECK(trainer.evaluate(noisy).loss == later.epochs[best_new].validation_loss);
  CHECK(net.weights(0) != old_best.weights(0));
}

TEST_CASE("gradient clipping bounds the global norm and keeps the direction", "[training]") {
  Mlp<double, Relu> net({2, 3, 2}, 1);
  // Every gradient entry 2: 17 entries (2·3 + 3 + 3·2 + 2) → norm 2·√17.
  net.for_each_param([](Param<double>& p, ParamKind) { p.grad.view().setConstant(2); });
  CHECK(gradient_norm(net) == Approx(2 * std::sqrt(17.0)));
  CHECK(clip_gradient_norm(net, 100) == Approx(2 * std::sqrt(17.0)));  // below: untouched
  net.for_each_param([](Param<double>& p, ParamKind) { CHECK(p.grad.view().maxCoeff() == 2); });
  CHECK(clip_gradient_norm(net, 1) == Approx(2 * std::sqrt(17.0)));
  CHECK(gradient_norm(net) == Approx(1));
  net.for_each_param([](Param<double>& p, ParamKind) {
    CHECK(p.grad.view().minCoeff() == Approx(1 / std::sqrt(17.0)));
    CHECK(p.grad.view().maxCoeff() == Approx(1 / std::sqrt(17.0)));
  });

  // In training: one full-batch SGD step moves the parameters by exactly lr × the bound.
  const auto train = blobs<double>(60, 2);
  Mlp<double, Relu> clipped({2, 8, 3}, 4);
  const Mlp<double, Relu> before = clipped;
  std::vector<double> norms;
  Trainer trainer(
      clipped, Sgd<double>{.learning_rate = 0.1}, StaticPolicy{},
      TrainOptions{.epochs = 1,
                   .batch_size = 60,
                   .seed = 1,
                   .on_batch_end = [&](const BatchRecord& b) { norms.push_back(b.gradient_norm); },
                   .clip_gradient_norm = 1e-3});
  trainer.fit(train);
  REQUIRE(norms.size() == 1);
  CHECK(norms[0] > 1e-3);  // the bound was active
  double moved = 0;
  for (Index l = 0; l < clipped.layer_count(); ++l) {
    moved += (clipped.weights(l) - before.weights(l)).squaredNorm();
    moved += (clipped.bias(l) - before.bias(l)).squaredNorm();
  }
  CHECK(std::sqrt(moved) == Approx(0.1 * 1e-3));

  CHECK_THROWS_WITH(
      Trainer(clipped, Sgd<double>{}, StaticPolicy{}, TrainOptions{.clip_gradient_norm = -1}),
      Catch::Contains("clip_gradient_norm = -1 must be finite and ≥ 0"));

  // A gradient that overflows while the loss is finite (float: output 1e19, loss 1e38, weight
  // gradient 2e39) is a NumericError, not a step scaled to zero; the parameters stay as they were.
  Mlp<float, Relu> huge({1, 1, 1}, 1);
  huge.weights(0)(0, 0) = 1e20f;
  huge.bias(0)(0) = 0;
  huge.weights(1)(0, 0) = 0.1f;
  huge.bias(1)(0) = 0;
  const float kept = huge.weights(1)(0, 0);
  const Dataset<float> one(Matrix<float>::Ones(1, 1), Matrix<float>::Zero(1, 1));
  Trainer overflow(huge, Sgd<float>{.learning_rate = 1e-3f}, StaticPolicy{},
                   TrainOptions{.epochs = 1,
                                .batch_size = 1,
                                .loss = LossKind::mean_squared_error,
                                .clip_gradient_norm = 1});
  CHECK_THROWS_AS(overflow.fit(one), NumericError);
  CHECK_THROWS_WITH(overflow.fit(one), Catch::Contains("gradient norm became inf"));
  CHECK(huge.weights(1)(0, 0) == kept);
}

namespace {
// A History of the given judged losses (no validation) and growth events after the given epochs.
History schedule_history(std::initializer_list<double> losses, std::initializer_list<int> grew) {
  History h;
  int e = 0;
  for (double l : losses) h.epochs.push_back(EpochRecord{.epoch = ++e, .train_loss = l});
  for (int g : grew) h.events.push_back(StructuralEvent{.epoch = g, .count = 1});
  return h;
}
}  // namespace

TEST_CASE("learning-rate schedules give the factors computed by hand", "[training][schedule]") {
  const History none = schedule_history({}, {});
  const LearningRateSchedule step = StepDecay{.every = 2, .gamma = 0.5};
  CHECK(schedule_factor(step, none, 1) == 1);
  CHECK(schedule_factor(step, none, 2) == 1);
  CHECK(schedule_factor(step, none, 3) == 0.5);
  CHECK(schedule_factor(step, none, 5) == 0.25);
  // Restarted by growth after epoch 3: epoch 4 is the first of a new curve.
  const History grew3 = schedule_history({1, 1, 1}, {3});
  const LearningRateSchedule step_restart =
      StepDecay{.every = 2, .gamma = 0.5, .restart_on_growth = true};
  CHECK(schedule_factor(step_restart, grew3, 4) == 1);
  CHECK(schedule_factor(step_restart, grew3, 6) == 0.5);
  CHECK(schedule_factor(step, grew3, 4) == 0.5);  // not restarted

  const LearningRateSchedule cosine = CosineDecay{.epochs = 4, .min_factor = 0.2};
  CHECK(schedule_factor(cosine, none, 1) == Approx(1));
  CHECK(schedule_factor(cosine, none, 3) == Approx(0.6));  // halfway: 0.2 + 0.8 · 1/2
  CHECK(schedule_factor(cosine, none, 5) == Approx(0.2));
  CHECK(schedule_factor(cosine, none, 50) == Approx(0.2));
  CHECK(schedule_factor(cosine, grew3, 4) == Approx(1));  // restarted by growth (default)

  // Patience 2: epochs 3 and 4 do not beat 0.9, so epoch 5 runs at half the rate; 5 and 6 do
  // not either (0.25), 7 and 8 would give 0.125 but the floor is 0.2; growth after 8 resets.
  const LearningRateSchedule plateau =
      ReduceOnPlateau{.patience = 2, .factor = 0.5, .min_factor = 0.2};
  const History flat = schedule_history({1, 0.9, 0.95, 0.95, 0.95, 0.95, 0.95, 0.95}, {});
  CHECK(schedule_factor(plateau, flat, 3) == 1);
  CHECK(schedule_factor(plateau, flat, 5) == 0.5);
  CHECK(schedule_factor(plateau, flat, 7) == 0.25);
  CHECK(schedule_factor(plateau, flat, 9) == 0.2);
  const History flat_grew = schedule_history({1, 0.9, 0.95, 0.95, 0.95, 0.95, 0.95, 0.95}, {8});
  CHECK(schedule_factor(plateau, flat_grew, 9) == 1);
  // An improvement smaller than the threshold does not count.
  const LearningRateSchedule strict =
      ReduceOnPlateau{.patience = 1, .factor = 0.5, .threshold = 0.1};
  CHECK(schedule_factor(strict, schedule_history({1, 0.95}, {}), 3) == 0.5);
  CHECK(schedule_factor(strict, schedule_history({1, 0.85}, {}), 3) == 1);

  CHECK_THROWS_WITH(TrainOptions{.learning_rate_schedule = StepDecay{.every = 0}}.validate(),
                    Catch::Contains("StepDecay: every = 0"));
  CHECK_THROWS_WITH(TrainOptions{.learning_rate_schedule = CosineDecay{.min_factor = 2}}.validate(),
                    Catch::Contains("CosineDecay: min_factor = 2"));
  CHECK_THROWS_WITH(TrainOptions{.learning_rate_schedule = ReduceOnPlateau{.factor = 1}}.validate(),
                    Catch::Contains("ReduceOnPlateau: factor = 1"));
}

TEST_CASE("the trainer sets each epoch's rate from the schedule and the optimizer's base rate",
          "[training][schedule]") {
  const auto train = blobs<double>(60, 2);
  Mlp<double, Relu> net({2, 4, 3}, 1);
  std::vector<double> rates;
  Sgd<double> sgd{.learning_rate = 0.1};
  Trainer trainer(net, sgd, StaticPolicy{},
                  TrainOptions{.epochs = 1,
                               .batch_size = 20,
                               .seed = 1,
                               .learning_rate_schedule = StepDecay{.every = 1, .gamma = 0.5}});
  for (int fit = 0; fit < 3; ++fit) {
    trainer.fit(train);
    rates.push_back(trainer.optimizer().learning_rate);
  }
  CHECK(rates == std::vector<double>{0.1, 0.05, 0.025});
  // The same three epochs in one fit end with the same parameters: the rate depends on the
  // epoch, not on how the epochs were split into fits.
  Mlp<double, Relu> once({2, 4, 3}, 1);
  Trainer whole(once, sgd, StaticPolicy{},
                TrainOptions{.epochs = 3,
                             .batch_size = 20,
                             .seed = 1,
                             .learning_rate_schedule = StepDecay{.every = 1, .gamma = 0.5}});
  whole.fit(train);
  CHECK(whole.optimizer().learning_rate == 0.025);
  for (Index l = 0; l < net.layer_count(); ++l) CHECK(net.weights(l) == once.weights(l));
  // Without a schedule the rate is left alone.
  Mlp<double, Relu> plain({2, 4, 3}, 1);
  Trainer constant(plain, sgd, StaticPolicy{}, TrainOptions{.epochs = 3, .batch_size = 20});
  constant.fit(train);
  CHECK(constant.optimizer().learning_rate == 0.1);
}

TEST_CASE("Fashion-MNIST: a static MLP reaches at least 85% test accuracy", "[slow][fashion]") {
  const char* env = std::getenv("NEUROPLAST_FASHION_MNIST_DIR");
  const std::filesystem::path dir = env ? env : "/usr/share/datasets/fashion-mnist";
  if (!std::filesystem::exists(dir / "train-images-idx3-ubyte.gz")) {
    FAIL("Fashion-MNIST not found in " << dir << ": apt-get install dataset-fashion-mnist");
  }
  const auto started = std::chrono::steady_clock::now();
  auto [train, validation] = load_fashion_mnist<float>(Split::train).split(55000.0 / 60000.0, 1);
  const auto test = load_fashion_mnist<float>(Split::test);
  Mlp<float, Relu> net({784, 256, 10}, 1);
  Trainer trainer(net, Adam<float>{.learning_rate = 1e-3f}, StaticPolicy{},
                  TrainOptions{.epochs = 5, .batch_size = 64, .seed = 1});
  trainer.fit(train, validation);
  const Evaluation e = trainer.evaluate(test);
  const double seconds =
      std::chrono::duration<double>(std::chrono::steady_clock::now() - started).count();
  WARN("Fashion-MNIST 784-256-10, 5 epochs: test accuracy " << 100 * e.accuracy << "% in "
                                                            << seconds << " s");
  CHECK(e.accuracy >= 0.85);
}

TEST_CASE("refused settings change nothing: restore, new data, dropout, clipping, selectors",
          "[training][errors]") {
  const Dataset<double> data = blobs<double>(30, 4);
  SECTION("a state no random stream reaches, or a negative epoch") {
    Mlp<double, Relu> net({2, 4, 3}, 1);
    Trainer trainer(net, Adam<double>{}, StaticPolicy{}, TrainOptions{.epochs = 1});
    trainer.fit(data);
    const TrainerState good = trainer.state();
    CHECK_THROWS_WITH(trainer.restore(TrainerState{}, History{}),
                      Catch::Contains("random stream's state is all zero"));
    TrainerState negative = good;
    negative.epoch = -5;
    CHECK_THROWS_WITH(trainer.restore(negative, History{}), Catch::Contains("epoch = -5"));
    CHECK(trainer.history().epochs.size() == 1);  // unchanged, and it still trains
    CHECK(trainer.state().shuffle_rng.words == good.shuffle_rng.words);
    trainer.fit(data);
    CHECK(trainer.history().epochs.size() == 2);
    Rng rng(3);
    CHECK_THROWS_AS(rng.set_state(Rng::State{}), Error);
    CHECK(rng.next() == Rng(3).next());
  }
  SECTION("notify_new_data refuses a policy setting before recording the event") {
    Mlp<double, Relu> net({2, 4, 3}, 1);
    const auto sizes = net.sizes();
    DropinPolicy bad_init;
    bad_init.grow.init = GradMaxInit{.scale = std::numeric_limits<double>::quiet_NaN()};
    Trainer t1(net, Adam<double>{}, bad_init);
    CHECK_THROWS_WITH(t1.notify_new_data(data), Catch::Contains("GradMaxInit::scale = nan"));
    DropinPolicy bad_layer;
    bad_layer.selector = FixedLayer{.layer = 5};
    Trainer t2(net, Adam<double>{}, bad_layer);
    CHECK_THROWS_WITH(t2.notify_new_data(data), Catch::Contains("hidden layer 5 does not exist"));
    NeuroplasticPolicy bad_plasticity;
    bad_plasticity.new_data.old_neurons = 2;
    Trainer t3(net, Adam<double>{}, bad_plasticity);
    CHECK_THROWS_AS(t3.notify_new_data(data), Error);
    CHECK(t3.policy().growth_since == 0);
    for (const auto* history : {&t1.history(), &t2.history(), &t3.history()})
      CHECK(history->events.empty());
    CHECK(net.sizes() == sizes);
    // A FixedLayer the network lacks is refused when the fit starts, not epochs later.
    Trainer t4(net, Adam<double>{}, bad_layer, TrainOptions{.epochs = 3});
    CHECK_THROWS_WITH(t4.fit(data, data), Catch::Contains("hidden layer 5 does not exist"));
    CHECK(t4.history().epochs.empty());
    NeuroplasticPolicy negative_events;
    negative_events.max_prune_events = -1;
    Trainer t5(net, Adam<double>{}, negative_events);
    CHECK_THROWS_WITH(t5.fit(data, data), Catch::Contains("max_prune_events = -1"));
  }
  SECTION("DropoutPolicy checks every layer's setting before setting any") {
    Mlp<double, Relu> net({2, 4, 4, 3}, 1);
    const auto refused = [&](DropoutPolicy p, const char* message) {
      Trainer t(net, Adam<double>{}, std::move(p), TrainOptions{.epochs = 1});
      CHECK_THROWS_WITH(t.fit(data, data), Catch::Contains(message));
      CHECK(net.dropout(0).rate == 0);
      CHECK(net.dropout(1).rate == 0);
    };
    refused(DropoutPolicy{.per_layer = {Dropout{.rate = 0.3}, Dropout{.rate = 2}}},
            "dropout rate 2");
    refused(DropoutPolicy{.per_layer = {Dropout{}, Dropout{}, Dropout{}}}, "3 settings");
    refused(DropoutPolicy{.relevance_guided = true, .max_rate = 5}, "max_rate = 5");
    refused(DropoutPolicy{.relevance_guided = true, .relevance_samples = -1},
            "relevance_samples = -1");
    refused(DropoutPolicy{.dropout = Dropout{.kind = DropoutKind::gaussian, .rate = 0.5},
                          .relevance_guided = true},
            "Bernoulli dropout in the inverted convention");
  }
  SECTION("clip_gradient_norm refuses a bound that is not finite and positive") {
    Mlp<double, Relu> net({2, 4, 3}, 1);
    Workspace<double> ws;
    const Matrix<double> X = data.features().leftCols(8);
    net.forward_train(X, ws);
    ws.output_gradient().setOnes();
    net.backward(X, ws);
    const double norm = gradient_norm(net);
    for (const double bad : {-1.0, 0.0, std::numeric_limits<double>::quiet_NaN(),
                             std::numeric_limits<double>::infinity()})
      CHECK_THROWS_WITH(clip_gradient_norm(net, bad), Catch::Contains("max_norm = "));
    CHECK(gradient_norm(net) == norm);
    CHECK(clip_gradient_norm(net, norm / 2) == norm);
    CHECK(gradient_norm(net) == Approx(norm / 2));
  }
  SECTION("an AccuracyMatrix needs a task") {
    CHECK_THROWS_WITH(AccuracyMatrix(0), Catch::Contains("tasks = 0"));
    CHECK_THROWS_WITH(AccuracyMatrix(-1), Catch::Contains("tasks = -1"));
  }
}
