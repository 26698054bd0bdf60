// The EditableLayer concept (layers/editable_layer.hpp): a layer type of one's own, held by
// `Mlp<T, Act, Layer>`, computes every pass through its own members, keeps per-neuron state of
// its own in step with every structural edit (it receives the same AxisEdit as the tensors), and
// trains, grows and prunes bit-identically to Dense when it computes the same function.

#include <catch2/catch.hpp>

#include "neuroplast/neuroplast.hpp"
#include "support/fixtures.hpp"

using namespace neuroplast;
using namespace neuroplast::testing;

namespace {

// A dense layer that counts its passes and tags each neuron of both its axes: the tags are
// per-neuron state the network does not know about, and must follow every edit.
template <class T, class Act>
class TaggedDense : public Dense<T, Act> {
 public:
  TaggedDense() = default;
  TaggedDense(Index inputs, Index outputs)
      : Dense<T, Act>(inputs, outputs),
        out_tag(static_cast<std::size_t>(outputs), -1),
        in_tag(static_cast<std::size_t>(inputs), -1) {}

  std::vector<double> out_tag;  // one per output neuron; new neurons get −1
  std::vector<double> in_tag;   // one per input neuron; new inputs get −1
  mutable int forwards = 0;
  int backwards = 0;

  void apply_output_edit(const AxisEdit& edit, GrowValues values = GrowValues::zero) {
    Dense<T, Act>::apply_output_edit(edit, values);
    edit.apply(out_tag, -1.0);
  }
  void apply_input_edit(const AxisEdit& edit, GrowValues values = GrowValues::zero) {
    Dense<T, Act>::apply_input_edit(edit, values);
    edit.apply(in_tag, -1.0);
  }
  void forward(const MatrixRef<T>& in, MatrixView<T> out, T alpha, GemmWorkspace<T>& gemm,
               const DenseOperand<T>* substitute = nullptr) const {
    ++forwards;
    Dense<T, Act>::forward(in, out, alpha, gemm, substitute);
  }
  void backward(const MatrixRef<T>& in, const ConstMatrixView<T>& out, MatrixView<T> delta,
                MatrixView<T>* delta_in, T alpha, GemmWorkspace<T>& gemm,
                const DenseOperand<T>* substitute = nullptr,
                const DenseGradient<T>* into = nullptr) {
    ++backwards;
    Dense<T, Act>::backward(in, out, delta, delta_in, alpha, gemm, substitute, into);
  }
};

// An embedding: on one-hot inputs (every column a single 1) W x + b is column j of W plus b, so
// the forward pass gathers columns and the backward pass scatters the batch's gradients into
// them instead of multiplying; any other input (or a dropout operand) takes Dense's products.
template <class T, class Act>
class OneHotDense : public Dense<T, Act> {
 public:
  using Dense<T, Act>::Dense;

  mutable int gathered = 0;  // forward passes done by gathering
  int scattered = 0;         // backward passes done by scattering

  void forward(const MatrixRef<T>& in, MatrixView<T> out, T alpha, GemmWorkspace<T>& gemm,
               const DenseOperand<T>* substitute = nullptr) const {
    std::vector<Index> hot;
    if (substitute != nullptr || alpha != T(1) || !one_hot(in, hot)) {
      Dense<T, Act>::forward(in, out, alpha, gemm, substitute);
      return;
    }
    ++gathered;
    const auto w = this->weights();
    for (Index s = 0; s < in.cols(); ++s) out.col(s) = w.col(hot[s]) + this->bias();
    if constexpr (!std::is_same_v<Act, Identity>) out.array() = Act::apply(out.array());
  }

  void backward(const MatrixRef<T>& in, const ConstMatrixView<T>& out, MatrixView<T> delta,
                MatrixView<T>* delta_in, T alpha, GemmWorkspace<T>& gemm,
                const DenseOperand<T>* substitute = nullptr,
                const DenseGradient<T>* into = nullptr) {
    std::vector<Index> hot;
    if (substitute != nullptr || alpha != T(1) || !one_hot(in, hot)) {
      Dense<T, Act>::backward(in, out, delta, delta_in, alpha, gemm, substitute, into);
      return;
    }
    ++scattered;
    if constexpr (!std::is_same_v<Act, Identity>) delta.array() *= Act::derivative(out.array());
    Param<T>& p = this->weight_param();
    auto g = p.grad.view();
    g.setZero();
    for (Index s = 0; s < in.cols(); ++s) g.col(hot[s]) += delta.col(s);
    VectorView<T>(this->bias_param().grad.data(), this->outputs()).noalias() =
        delta.rowwise().sum();
    if (delta_in != nullptr) delta_in->noalias() = this->weights().transpose() * delta;
    p.mask_gradient();
  }

 private:
  // Whether every column of `in` is one-hot; `hot` gets each column's index.
  static bool one_hot(const MatrixRef<T>& in, std::vector<Index>& hot) {
    for (Index s = 0; s < in.cols(); ++s) {
      Index j = -1;
      for (Index r = 0; r < in.rows(); ++r) {
        if (in(r, s) == T(0)) continue;
        if (in(r, s) != T(1) || j >= 0) return false;
        j = r;
      }
      if (j < 0) return false;
      hot.push_back(j);
    }
    return true;
  }
};

// Derives from Dense but hides its parameters from the optimizers.
template <class T, class Act>
struct NoParamVisit : Dense<T, Act> {
  using Dense<T, Act>::Dense;
  template <class F>
  void for_each_param(F&&) = delete;
};

// Has every member, but its parameters are not a DenseParams.
struct NotDense {
  using scalar = double;
  using activation = Relu;
  NotDense() = default;
  NotDense(Index, Index) {}
};

using Tagged = Mlp<double, Relu, TaggedDense>;

// Tags every neuron of every hidden layer with its id, on both layers that share its axis.
void tag_with_ids(Tagged& net) {
  for (Index h = 0; h < net.hidden_layer_count(); ++h) {
    const auto& ids = net.neuron_ids(h);
    net.visit_layer(h, [&](auto& layer) { layer.out_tag.assign(ids.begin(), ids.end()); });
    net.visit_layer(h + 1, [&](auto& layer) { layer.in_tag.assign(ids.begin(), ids.end()); });
  }
}

// Whether every tag equals its neuron's id, or −1 for a neuron whose id is `first_new` or later.
bool tags_follow_ids(const Tagged& net, std::uint64_t first_new) {
  bool ok = true;
  for (Index h = 0; h < net.hidden_layer_count(); ++h) {
    const auto& ids = net.neuron_ids(h);
    auto check = [&](const std::vector<double>& tags) {
      if (tags.size() != ids.size()) return false;
      for (std::size_t j = 0; j < ids.size(); ++j) {
        const double want = ids[j] >= first_new ? -1.0 : static_cast<double>(ids[j]);
        if (tags[j] != want) return false;
      }
      return true;
    };
    net.visit_layer(h, [&](const auto& layer) { ok = ok && check(layer.out_tag); });
    net.visit_layer(h + 1, [&](const auto& layer) { ok = ok && check(layer.in_tag); });
  }
  return ok;
}

std::uint64_t next_id(const Tagged& net) {
  std::uint64_t next = 0;
  for (Index h = 0; h < net.hidden_layer_count(); ++h)
    for (const auto id : net.neuron_ids(h)) next = std::max(next, id + 1);
  return next;
}

}  // namespace

TEST_CASE("EditableLayer accepts Dense and layer types derived from it, and refuses others",
          "[network][layer][concept]") {
  STATIC_REQUIRE(EditableLayer<Dense<double, Relu>>);
  STATIC_REQUIRE(EditableLayerOf<Dense<float, Identity>, float, Identity>);
  STATIC_REQUIRE(EditableLayerOf<TaggedDense<float, Tanh>, float, Tanh>);
  STATIC_REQUIRE_FALSE(EditableLayerOf<TaggedDense<float, Tanh>, double, Tanh>);
  STATIC_REQUIRE_FALSE(EditableLayerOf<TaggedDense<float, Tanh>, float, Relu>);
  STATIC_REQUIRE_FALSE(EditableLayer<NoParamVisit<double, Relu>>);
  STATIC_REQUIRE_FALSE(EditableLayer<NotDense>);
  STATIC_REQUIRE_FALSE(EditableLayer<int>);
  STATIC_REQUIRE(EditableNetwork<Tagged>);
  STATIC_REQUIRE(std::same_as<Mlp<float>, Mlp<float, Relu, Dense>>);
}

TEST_CASE("a layer's own per-neuron state follows every structural edit",
          "[network][layer][concept]") {
  Tagged net({3, 5, 4, 2}, 17);
  tag_with_ids(net);
  const std::uint64_t first_new = next_id(net);
  CHECK(tags_follow_ids(net, first_new));

  net.grow_neurons(0, 3, init::He{});
  CHECK(tags_follow_ids(net, first_new));
  net.remove_neurons(0, {1, 6, 3});
  CHECK(tags_follow_ids(net, first_new));
  net.edit_axis(1, AxisEdit::permute({3, 1, 0, 2}));
  CHECK(tags_follow_ids(net, first_new));
  net.grow_neurons(1, 2, init::ZeroFanOut{});
  CHECK(tags_follow_ids(net, first_new));
  net.remove_neurons(1, {0});
  CHECK(tags_follow_ids(net, first_new));
  REQUIRE(net.sizes() == std::vector<Index>{3, 5, 5, 2});

  // A layer inserted after hidden layer 0 is a fresh layer of the network's own type (its tags
  // start at −1); its input tags were never set, so tag that one axis and edit it again.
  net.insert_layer(0, init::Identity{});
  REQUIRE(net.hidden_layer_count() == 3);
  net.visit_layer(1, [](const auto& layer) {
    CHECK(layer.out_tag == std::vector<double>(5, -1.0));
    CHECK(layer.in_tag == std::vector<double>(5, -1.0));
  });
  tag_with_ids(net);
  const std::uint64_t after_insert = next_id(net);
  net.grow_neurons(1, 2, init::He{});
  net.remove_neurons(1, {0, 4});
  CHECK(tags_follow_ids(net, after_insert));
  net.remove_neurons(1, {4});  // 4 wide, its input 5: not square, so it cannot be removed
  CHECK_THROWS_AS(net.remove_layer(1), Error);
  CHECK(tags_follow_ids(net, after_insert));
}

TEST_CASE("a network of a layer type of one's own trains and edits exactly like Dense",
          "[network][layer][concept]") {
  const Matrix<double> X = random_batch(3, 120, 5);
  std::vector<int> y;
  for (Index i = 0; i < X.cols(); ++i) y.push_back(int(X(0, i) * X(1, i) > 0) + int(X(2, i) > 0));
  const Dataset<double> data(X, y);
  Tagged tagged({3, 2, 2, 3}, 9);
  Mlp<double, Relu> plain({3, 2, 2, 3}, 9);
  // Dropout of both kinds that substitute an operand (batch-shared gathers rows, DropConnect
  // masks weights), so the substituted passes go through the layer too.
  tagged.set_dropout(0, Dropout{.kind = DropoutKind::batch_shared, .rate = 0.25});
  plain.set_dropout(0, Dropout{.kind = DropoutKind::batch_shared, .rate = 0.25});
  tagged.set_dropout(1, Dropout{.kind = DropoutKind::drop_connect, .rate = 0.2});
  plain.set_dropout(1, Dropout{.kind = DropoutKind::drop_connect, .rate = 0.2});
  tag_with_ids(tagged);
  const std::uint64_t first_new = next_id(tagged);

  // Growth from the smallest start, and a pruning step: the same events, the same parameters.
  const TrainOptions options{.epochs = 40, .batch_size = 16, .seed = 3};
  const DropinPolicy growth{.trigger = Stagnation{.window_steps = 16}};
  Trainer a(tagged, Adam<double>{}, growth, options);
  Trainer b(plain, Adam<double>{}, growth, options);
  const History ha = a.fit(data, data);
  const History hb = b.fit(data, data);
  REQUIRE(ha.events.size() == hb.events.size());
  CHECK(ha.events.size() > 0);
  CHECK(tagged.sizes() == plain.sizes());
  CHECK(tagged.sizes() != std::vector<Index>{3, 2, 2, 3});
  CHECK(ha.epochs.back().train_loss == hb.epochs.back().train_loss);
  prune_neurons(tagged, MagnitudeL1{}, PruneSelection{.fraction = 0.3});
  prune_neurons(plain, MagnitudeL1{}, PruneSelection{.fraction = 0.3});
  a.fit(data, data);
  b.fit(data, data);
  REQUIRE(tagged.sizes() == plain.sizes());
  for (Index l = 0; l < plain.layer_count(); ++l) {
    CHECK(tagged.weights(l) == plain.weights(l));
    CHECK(tagged.bias(l) == plain.bias(l));
  }
  CHECK(tags_follow_ids(tagged, first_new));

  // Every pass went through the layer's own members, the output layer's included.
  for (Index l = 0; l < tagged.layer_count(); ++l) {
    tagged.visit_layer(l, [&](const auto& layer) {
      CHECK(layer.forwards > 0);
      CHECK(layer.backwards > 0);
    });
  }

  // The read side is the same network: LRP and export see the same function.
  const Vector<double> x = X.col(0);
  CHECK(lrp::explain(tagged, x, lrp::Epsilon{}).input ==
        lrp::explain(plain, x, lrp::Epsilon{}).input);
  CHECK(detail::onnx_bytes(tagged) == detail::onnx_bytes(plain));
}

TEST_CASE("an embedding is a layer type of its own: one-hot inputs gather instead of multiplying",
          "[network][layer][concept]") {
  // 24 tokens, the class of token t is t mod 3; one-hot columns.
  const Index tokens = 24, n = 240;
  Matrix<double> X = Matrix<double>::Zero(tokens, n);
  std::vector<int> y;
  for (Index i = 0; i < n; ++i) {
    const Index t = (7 * i + 3) % tokens;
    X(t, i) = 1;
    y.push_back(static_cast<int>(t % 3));
  }
  const Dataset<double> data(X, y);
  Mlp<double, Relu, OneHotDense> embedded({tokens, 6, 3}, 4);
  Mlp<double, Relu> dense({tokens, 6, 3}, 4);
  const TrainOptions options{.epochs = 30, .batch_size = 16, .seed = 2};
  const Adam<double> adam{.learning_rate = 0.01};
  Trainer(embedded, adam, StaticPolicy{}, options).fit(data);
  Trainer(dense, adam, StaticPolicy{}, options).fit(data);
  // The first layer gathered and scattered (its input is one-hot), the second did not.
  embedded.visit_layer(0, [](const auto& layer) {
    CHECK(layer.gathered > 0);
    CHECK(layer.scattered > 0);
  });
  embedded.visit_layer(1, [](const auto& layer) { CHECK(layer.gathered == 0); });
  // The same function, trained the same way: the scattered gradient sums in another order than
  // the product, so the parameters agree to rounding, not to the bit.
  for (Index l = 0; l < dense.layer_count(); ++l) {
    const Matrix<double> a = embedded.weights(l), b = dense.weights(l);
    CHECK((a - b).cwiseAbs().maxCoeff() <= 1e-9 * (1 + b.cwiseAbs().maxCoeff()));
  }
  Workspace<double> ws;
  const Matrix<double> logits = embedded.forward(X, ws);
  Index right = 0;
  for (Index i = 0; i < n; ++i) {
    Index best = 0;
    logits.col(i).maxCoeff(&best);
    right += best == y[static_cast<std::size_t>(i)];
  }
  CHECK(right == n);
  // It grows and is pruned like any other layer.
  embedded.grow_neurons(0, 4, init::He{});
  prune_neurons(embedded, MagnitudeL1{}, PruneSelection{.fraction = 0.25});
  CHECK(embedded.forward(X, ws).cols() == n);
}
