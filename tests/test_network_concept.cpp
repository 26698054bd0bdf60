// The Network and EditableNetwork concepts (network/network.hpp): a network type of one's own,
// built by composition (so no algorithm can reach Mlp through its type), is explained by LRP,
// scored and pruned by the criteria, trained by the Trainer and exported to ONNX and safetensors,
// with exactly the results of the Mlp it wraps; a type that misses a requirement is refused at
// compile time.

#include <catch2/catch.hpp>

#include "neuroplast/neuroplast.hpp"
#include "support/fixtures.hpp"

using namespace neuroplast;
using namespace neuroplast::testing;

namespace {

// Counts the structural edits made through it and forwards everything else to the Mlp it holds:
// the kind of wrapper (logging, guarding, counting) a user writes around a network.
template <Scalar T>
class EditCounter {
 public:
  using scalar = T;
  using activation = Relu;

  EditCounter(std::vector<Index> sizes, std::uint64_t seed) : net_(std::move(sizes), seed) {}

  int edits = 0;  // remove_neurons, remove_dead_neurons and prune_connections calls

  const Mlp<T, Relu>& inner() const { return net_; }

  std::vector<Index> sizes() const { return net_.sizes(); }
  Index layer_count() const { return net_.layer_count(); }
  Index hidden_layer_count() const { return net_.hidden_layer_count(); }
  Index input_size() const { return net_.input_size(); }
  Index output_size() const { return net_.output_size(); }
  Index width(Index h) const { return net_.width(h); }
  Index min_width(Index h) const { return net_.min_width(h); }
  Index parameter_count() const { return net_.parameter_count(); }
  Index active_parameter_count() const { return net_.active_parameter_count(); }
  ConstWeightView<T> weights(Index l) const { return net_.weights(l); }
  ConstVectorView<T> bias(Index l) const { return net_.bias(l); }
  Matrix<T> connection_mask(Index l) const { return net_.connection_mask(l); }
  ConstWeightView<T> weight_gradient(Index l) const { return net_.weight_gradient(l); }
  T inference_scale(Index l) const { return net_.inference_scale(l); }
  const DenseParams<T>& layer_params(Index l) const { return net_.layer_params(l); }
  DenseParams<T>& layer_params(Index l) { return net_.layer_params(l); }
  const std::vector<std::uint64_t>& neuron_ids(Index h) const { return net_.neuron_ids(h); }
  std::int64_t training_steps() const { return net_.training_steps(); }
  ConstMatrixView<T> forward(const MatrixRef<T>& X, Workspace<T>& ws) const {
    return net_.forward(X, ws);
  }

  ConstMatrixView<T> forward_train(const MatrixRef<T>& X, Workspace<T>& ws) const {
    return net_.forward_train(X, ws);
  }
  void backward(const MatrixRef<T>& X, Workspace<T>& ws) { net_.backward(X, ws); }
  template <class LayerDone>
  void backward(const MatrixRef<T>& X, Workspace<T>& ws, LayerDone&& layer_done) {
    net_.backward(X, ws, std::forward<LayerDone>(layer_done));
  }
  std::vector<Index> remove_neurons(Index h, std::vector<Index> indices) {
    ++edits;
    return net_.remove_neurons(h, std::move(indices));
  }
  std::vector<Index> remove_dead_neurons(Index h) {
    ++edits;
    return net_.remove_dead_neurons(h);
  }
  template <class D>
  EditRecord prune_connections(Index l, const Eigen::DenseBase<D>& mask) {
    ++edits;
    return net_.prune_connections(l, mask);
  }
  Vector<T> plasticity(Index l) const { return net_.plasticity(l); }
  void set_plasticity(Index l, const Vector<T>& values) { net_.set_plasticity(l, values); }
  const Dropout& dropout(Index h) const { return net_.dropout(h); }
  void set_dropout(Index h, const Dropout& d) { net_.set_dropout(h, d); }
  void set_dropout_rates(Index h, std::vector<double> rates) {
    net_.set_dropout_rates(h, std::move(rates));
  }
  void set_min_width(Index h, Index neurons) { net_.set_min_width(h, neurons); }
  template <class F>
  void for_each_param(F&& f) {
    net_.for_each_param(std::forward<F>(f));
  }

 private:
  Mlp<T, Relu> net_;
};

// Everything a Network needs but `forward`.
struct NoForward {
  using scalar = double;
  using activation = Relu;
  std::vector<Index> sizes() const { return {}; }
};

}  // namespace

TEST_CASE("the network concepts accept Mlp and a composed wrapper, and refuse other types",
          "[network][concept]") {
  STATIC_REQUIRE(EditableNetwork<Mlp<double, Relu>>);
  STATIC_REQUIRE(EditableNetwork<Mlp<float, Tanh>>);
  STATIC_REQUIRE(EditableNetwork<EditCounter<double>>);
  STATIC_REQUIRE(NetworkOf<EditCounter<float>, float>);
  STATIC_REQUIRE_FALSE(NetworkOf<EditCounter<float>, double>);
  STATIC_REQUIRE_FALSE(Network<NoForward>);
  STATIC_REQUIRE_FALSE(Network<int>);
  STATIC_REQUIRE_FALSE(Network<Matrix<double>>);
  STATIC_REQUIRE(NeuronCriterion<MagnitudeL1, EditCounter<double>>);
  STATIC_REQUIRE(NeuronCriterion<TaylorAccumulator<double>, EditCounter<double>>);
  STATIC_REQUIRE_FALSE(NeuronCriterion<TaylorAccumulator<float>, EditCounter<double>>);
  STATIC_REQUIRE(ConnectionCriterion<LrpRelevance, EditCounter<double>>);
}

TEST_CASE("LRP, pruning and training treat a wrapper exactly as the Mlp it wraps",
          "[network][concept]") {
  const Matrix<double> X = random_batch(2, 96, 3);
  std::vector<int> y;
  for (Index i = 0; i < X.cols(); ++i) y.push_back(int(X(0, i) > 0) + int(X(1, i) > 0));
  const Dataset<double> data(X, y);
  EditCounter<double> wrapped({2, 12, 10, 3}, 7);
  Mlp<double, Relu> plain({2, 12, 10, 3}, 7);

  // Training: the same steps, bit for bit.
  const TrainOptions options{.epochs = 3, .batch_size = 16, .seed = 5};
  Trainer a(wrapped, Adam<double>{}, StaticPolicy{}, options);
  Trainer b(plain, Adam<double>{}, StaticPolicy{}, options);
  const History ha = a.fit(data, data);
  const History hb = b.fit(data, data);
  REQUIRE(ha.epochs.size() == hb.epochs.size());
  CHECK(ha.epochs.back().train_loss == hb.epochs.back().train_loss);
  for (Index l = 0; l < plain.layer_count(); ++l) CHECK(wrapped.weights(l) == plain.weights(l));

  // LRP: the same explanation.
  const Vector<double> x = X.col(0);
  const auto ea = lrp::explain(wrapped, x, lrp::Epsilon{});
  const auto eb = lrp::explain(plain, x, lrp::Epsilon{});
  CHECK(ea.input == eb.input);
  CHECK(ea.output == eb.output);

  // Scores and pruning: the same choices, made through the wrapper's edits.
  CHECK(neuron_scores(wrapped, LrpRelevance{}, data) == neuron_scores(plain, LrpRelevance{}, data));
  const PruneSelection half{.fraction = 0.5};
  const auto ra = prune_neurons(wrapped, MagnitudeL1{}, half);
  const auto rb = prune_neurons(plain, MagnitudeL1{}, half);
  CHECK(ra.removed == rb.removed);
  CHECK(wrapped.sizes() == plain.sizes());
  const auto ca = prune_connections_by(wrapped, Taylor{}, half, data);
  const auto cb = prune_connections_by(plain, Taylor{}, half, data);
  CHECK(ca.pruned == cb.pruned);
  CHECK(wrapped.active_parameter_count() == plain.active_parameter_count());
  CHECK(wrapped.edits == 2 + wrapped.layer_count());  // two layers of neurons, every layer's mask

  // Export: the same files.
  CHECK(detail::onnx_bytes(wrapped) == detail::onnx_bytes(plain));
  CHECK(detail::safetensors_bytes(wrapped) == detail::safetensors_bytes(plain));
}
