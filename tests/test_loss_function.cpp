// LossFunction (loss/loss_function.hpp): the built-in losses as values, and losses of one's own
// trained by the Trainer — bit-identical to the built-in loss they reproduce, a Huber loss
// hand-checked, label-only losses refused on regression data, and the chance level policies use.

#include <algorithm>
#include <catch2/catch.hpp>
#include <cmath>
#include <vector>

#include "neuroplast/neuroplast.hpp"
#include "support/fixtures.hpp"

using namespace neuroplast;

namespace {

// The squared error under another name: what LossKind::mean_squared_error computes.
struct SquaredErrorTwin {
  static constexpr std::string_view name = "squared_error_twin";
  template <Scalar T>
  static T evaluate(const ConstMatrixView<T>& z, const Targets<T>& t, MatrixView<T>* g) {
    return MeanSquaredError::evaluate(z, t, g);
  }
};

// Cross-entropy under another name, which reads labels only.
struct CrossEntropyTwin {
  static constexpr std::string_view name = "cross_entropy_twin";
  static constexpr bool needs_labels = true;
  template <Scalar T>
  static T evaluate(const ConstMatrixView<T>& z, const Targets<T>& t, MatrixView<T>* g) {
    return SoftmaxCrossEntropy::evaluate(z, t, g);
  }
};

// Huber loss with δ = 1 on real targets, mean over every entry: ½r² for |r| ≤ 1, |r| − ½ beyond.
struct Huber {
  static constexpr std::string_view name = "huber";
  template <Scalar T>
  static T evaluate(const ConstMatrixView<T>& z, const Targets<T>& t, MatrixView<T>* g) {
    const auto y = t.value_view(z.rows(), z.cols());
    const T n = static_cast<T>(z.size());
    T total = 0;
    for (Index c = 0; c < z.cols(); ++c) {
      for (Index r = 0; r < z.rows(); ++r) {
        const T d = z(r, c) - y(r, c);
        total += std::abs(d) <= 1 ? d * d / 2 : std::abs(d) - T(0.5);
        if (g != nullptr) (*g)(r, c) = std::clamp(d, T(-1), T(1)) / n;
      }
    }
    return total / n;
  }
};

Dataset<double> sine(Index n, std::uint64_t seed) {
  Rng rng(seed);
  Matrix<double> X(1, n), Y(1, n);
  for (Index i = 0; i < n; ++i) {
    X(0, i) = rng.uniform(-3, 3);
    Y(0, i) = std::sin(X(0, i));
  }
  return {X, Y};
}

}  // namespace

TEST_CASE("LossFunction names, compares and classifies losses", "[loss]") {
  const LossFunction ce;  // the default, as TrainOptions has it
  CHECK(ce == LossKind::softmax_cross_entropy);
  CHECK(ce.kind() == LossKind::softmax_cross_entropy);
  CHECK(ce.name() == "softmax_cross_entropy");
  CHECK(ce.needs_labels());
  const LossFunction mse = LossKind::mean_squared_error;
  CHECK_FALSE(mse == ce);
  CHECK(mse.name() == "mean_squared_error");
  CHECK_FALSE(mse.needs_labels());
  const auto huber = LossFunction::of<Huber>();
  CHECK_FALSE(huber.kind().has_value());
  CHECK(huber.name() == "huber");
  CHECK_FALSE(huber.needs_labels());
  CHECK(LossFunction::of<CrossEntropyTwin>().needs_labels());
  CHECK(huber == LossFunction::of<Huber>());
  CHECK_FALSE(huber == LossFunction::of<SquaredErrorTwin>());
  CHECK_FALSE(LossFunction::of<SquaredErrorTwin>() == mse);  // same values, another loss
  STATIC_REQUIRE(Loss<Huber, float>);
  STATIC_REQUIRE_FALSE(Loss<int, float>);
}

TEST_CASE("a custom loss is evaluated as its type computes it, on views and expressions",
          "[loss]") {
  // Hand-computed Huber on 2 outputs × 2 samples: residuals 0.5, −2, 3, 0.
  Matrix<double> z(2, 2), y(2, 2);
  z << 1.5, 1, -2, 4;
  y << 1, -2, 0, 4;
  const Targets<double> t{.values = y.data(), .stride = 2};
  const double expected = (0.125 + 2.5 + 1.5 + 0) / 4;
  Matrix<double> grad = Matrix<double>::Constant(2, 2, 9);
  const auto huber = LossFunction::of<Huber>();
  CHECK(huber.evaluate(z, t, &grad) == Approx(expected));  // a Matrix and its Matrix* gradient
  Matrix<double> want(2, 2);
  want << 0.125, 0.25, -0.25, 0;
  CHECK(grad.isApprox(want));
  CHECK(huber.evaluate(z * 1.0, t, static_cast<MatrixView<double>*>(nullptr)) ==
        Approx(expected));  // an expression
  // The built-in kinds go the direct way and agree with their types.
  const std::vector<int> classes{1, 0};
  const Targets<double> labels{.labels = classes};
  const LossFunction ce;
  CHECK(ce.evaluate(z, labels, static_cast<Matrix<double>*>(nullptr)) ==
        SoftmaxCrossEntropy::evaluate(z, labels, static_cast<Matrix<double>*>(nullptr)));
}

TEST_CASE("the Trainer minimises a loss of one's own", "[loss][training]") {
  const Dataset<double> data = sine(300, 3);
  const Dataset<double> validation = sine(100, 4);
  SECTION("a twin of the squared error trains bit-identically to LossKind::mean_squared_error") {
    Mlp<double, Tanh> a({1, 12, 1}, 2), b({1, 12, 1}, 2);
    const TrainOptions options{.epochs = 5, .batch_size = 20, .seed = 1};
    TrainOptions twin = options, builtin = options;
    twin.loss = LossFunction::of<SquaredErrorTwin>();
    builtin.loss = LossKind::mean_squared_error;
    const History ha = Trainer(a, Adam<double>{}, StaticPolicy{}, twin).fit(data, validation);
    const History hb = Trainer(b, Adam<double>{}, StaticPolicy{}, builtin).fit(data, validation);
    for (std::size_t e = 0; e < ha.epochs.size(); ++e) {
      CHECK(ha.epochs[e].train_loss == hb.epochs[e].train_loss);
      CHECK(ha.epochs[e].validation_loss == hb.epochs[e].validation_loss);
    }
    for (Index l = 0; l < a.layer_count(); ++l) CHECK(a.weights(l) == b.weights(l));
  }
  SECTION("Huber, in float, with a growth policy") {
    Mlp<float, Tanh> net({1, 2, 1}, 2);
    const Dataset<float> fdata(data.features().cast<float>(), data.targets().cast<float>());
    const Dataset<float> fval(validation.features().cast<float>(),
                              validation.targets().cast<float>());
    Trainer trainer(
        net, Adam<float>{.learning_rate = 0.01f}, DropinPolicy{},
        TrainOptions{.epochs = 60, .batch_size = 20, .loss = LossFunction::of<Huber>()});
    const History h = trainer.fit(fdata, fval);
    // sin on [−3, 3] has mean square ≈ 0.5: the Huber loss of zero outputs is ≈ 0.25.
    CHECK(h.epochs.front().train_loss > h.epochs.back().train_loss);
    CHECK(trainer.evaluate(fval).loss < 0.01);
  }
}

TEST_CASE("a label-only loss refuses regression data, and its chance level is its value at zero",
          "[loss][errors]") {
  Mlp<double, Relu> net({1, 4, 1}, 1);
  Trainer trainer(net, Adam<double>{}, StaticPolicy{},
                  TrainOptions{.epochs = 1, .loss = LossFunction::of<CrossEntropyTwin>()});
  CHECK_THROWS_WITH(trainer.fit(sine(10, 1)),
                    Catch::Contains("fit (training set): the loss cross_entropy_twin needs class "
                                    "labels but the dataset has real-valued targets"));
  // Zero outputs: cross-entropy ln 4 for 4 classes, whatever the class frequencies (the built-in
  // kind gives the entropy of the frequencies instead); squared error: the mean square of the
  // targets, 1/4 on one-hot labels of 4 outputs, (1 + 4 + 0 + 9)/4 on these targets.
  const Dataset<double> labelled(Matrix<double>::Zero(1, 4), std::vector<int>{0, 0, 0, 1});
  CHECK(constant_prediction_loss(LossFunction::of<CrossEntropyTwin>(), labelled, 4) ==
        Approx(std::log(4.0)));
  CHECK(constant_prediction_loss(LossFunction::of<SquaredErrorTwin>(), labelled, 4) ==
        Approx(0.25));
  Matrix<double> y(1, 4);
  y << 1, -2, 0, 3;
  const Dataset<double> regression(Matrix<double>::Zero(1, 4), y);
  CHECK(constant_prediction_loss(LossFunction::of<SquaredErrorTwin>(), regression, 1) ==
        Approx(14.0 / 4));
  CHECK(std::isnan(constant_prediction_loss(LossFunction::of<Huber>(), Dataset<double>{}, 1)));
  CHECK_THROWS_WITH(constant_prediction_loss(LossFunction::of<Huber>(), regression, 0),
                    Catch::Contains("outputs = 0 must be ≥ 1"));
}

TEST_CASE("Taylor scores and GradMax growth differentiate a loss of one's own", "[loss][pruning]") {
  const Dataset<double> data = sine(200, 5);
  Mlp<double, Tanh> net({1, 8, 6, 1}, 3);
  Trainer(net, Adam<double>{}, StaticPolicy{},
          TrainOptions{.epochs = 3, .batch_size = 20, .loss = LossKind::mean_squared_error})
      .fit(data);
  // A twin of a built-in loss scores exactly as the built-in kind does.
  const Taylor builtin{.loss = LossKind::mean_squared_error};
  const Taylor twin{.loss = LossFunction::of<SquaredErrorTwin>()};
  const Taylor huber{.loss = LossFunction::of<Huber>()};
  CHECK(neuron_scores(net, twin, data) == neuron_scores(net, builtin, data));
  CHECK(connection_scores(net, twin, data) == connection_scores(net, builtin, data));
  // Huber's gradient is the squared error's clipped to ±1/n: where every residual is below 1 the
  // two agree, so make the residuals large and the scores must differ.
  Matrix<double> far = data.targets();
  far.array() += 5.0;
  const Dataset<double> shifted(data.features(), far);
  CHECK(neuron_scores(net, huber, shifted) != neuron_scores(net, builtin, shifted));
  CHECK_THROWS_WITH(neuron_scores(net, Taylor{.loss = LossFunction::of<CrossEntropyTwin>()}, data),
                    Catch::Contains("Taylor: the loss cross_entropy_twin needs class labels"));

  // GradMax's fan-out follows the gradient of the loss it is given: the twin of cross-entropy
  // grows exactly as the built-in kind does.
  const Matrix<double> X = neuroplast::testing::random_batch(1, 64, 9);
  std::vector<int> y;
  for (Index i = 0; i < X.cols(); ++i) y.push_back(X(0, i) > 0 ? 1 : 0);
  Mlp<double, Relu> a({1, 3, 2}, 4), b({1, 3, 2}, 4);
  a.grow_neurons(0, 2, init::GradMax<double>{.inputs = &X, .labels = y});
  b.grow_neurons(0, 2,
                 init::GradMax<double>{
                     .inputs = &X, .labels = y, .loss = LossFunction::of<CrossEntropyTwin>()});
  for (Index l = 0; l < a.layer_count(); ++l) {
    CHECK(a.weights(l) == b.weights(l));
    CHECK(a.bias(l) == b.bias(l));
  }
}
