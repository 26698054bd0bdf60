#pragma once
// AnyNetwork and AnyTrainer for one activation: included by that activation's translation unit
// only (network_<activation>.cpp), which instantiates make_network and load_network.

#include <type_traits>
#include <utility>

#include "any_network.hpp"

namespace neuroplast::python {

namespace detail {

inline void check_shape(Index rows, Index cols, Index want_rows, Index want_cols, const char* who) {
  if (rows != want_rows || cols != want_cols) {
    neuroplast::detail::fail(who, ": expected a (", want_rows, ", ", want_cols, ") array, got (",
                             rows, ", ", cols, ")");
  }
}

}  // namespace detail

template <class Act>
class TrainerOf final : public AnyTrainer {
 public:
  using Net = Mlp<float, Act>;
  TrainerOf(Net& net, AnyOptimizer optimizer, AnyPolicy policy, TrainOptions options)
      : trainer_(net, std::move(optimizer), std::move(policy), std::move(options)) {}

  History fit(const Dataset<float>& train, const Dataset<float>* validation) override {
    return validation != nullptr ? trainer_.fit(train, *validation) : trainer_.fit(train);
  }
  Evaluation evaluate(const Dataset<float>& data) override { return trainer_.evaluate(data); }
  void notify_new_data(const Dataset<float>& data) override { trainer_.notify_new_data(data); }
  // A copy, by the parameter's value: the trainer keeps an owned memory however `memory` holds it.
  void set_replay(const Dataset<float>& memory, double ratio) override {
    trainer_.set_replay(memory, ratio);
  }
  void clear_replay() override { trainer_.clear_replay(); }
  const History& history() const override { return trainer_.history(); }
  const TrainOptions& options() const override { return trainer_.options(); }
  double learning_rate() const override {
    return static_cast<double>(const_cast<TrainerOf*>(this)->trainer_.optimizer().learning_rate);
  }

 private:
  Trainer<Net, AnyOptimizer, AnyPolicy> trainer_;
};

template <class Act>
class SnapshotOf final : public AnySnapshot {
 public:
  explicit SnapshotOf(const Mlp<float, Act>& net) : snapshot_(net) {}
  std::vector<Index> sizes() const override { return snapshot_.sizes(); }
  bool packed(Index l) const override { return snapshot_.packed(l); }
  Mat forward(const ConstMatRef& X) const override { return snapshot_.forward(X); }
  std::vector<int> predict(const ConstMatRef& X) const override { return snapshot_.predict(X); }

 private:
  InferenceSnapshot<float, Act> snapshot_;
};

template <class Act>
class NetworkOf final : public AnyNetwork {
 public:
  using Net = Mlp<float, Act>;
  explicit NetworkOf(Net net) : net_(std::move(net)) {}

  std::unique_ptr<AnyNetwork> clone() const override { return std::make_unique<NetworkOf>(net_); }
  std::string_view activation() const override { return Act::name; }
  std::vector<Index> sizes() const override { return net_.sizes(); }
  Index layer_count() const override { return net_.layer_count(); }
  Index parameter_count() const override { return net_.parameter_count(); }
  Index active_parameter_count() const override { return net_.active_parameter_count(); }

  Mat forward(const ConstMatRef& X) const override { return net_.forward(X); }
  std::vector<int> predict(const ConstMatRef& X) const override { return net_.predict(X); }
  std::unique_ptr<AnySnapshot> snapshot() const override {
    return std::make_unique<SnapshotOf<Act>>(net_);
  }

  Mat weights(Index l) const override { return net_.weights(l); }
  Vec bias(Index l) const override { return net_.bias(l); }
  Mat connection_mask(Index l) const override {
    return net_.connection_mask(l).template cast<float>();
  }
  float inference_scale(Index l) const override { return net_.inference_scale(l); }
  void set_weights(Index l, const ConstMatRef& w) override {
    auto view = net_.weights(l);  // checks l with the library's message
    detail::check_shape(w.rows(), w.cols(), view.rows(), view.cols(), "Mlp.set_weights");
    if (!w.allFinite()) neuroplast::detail::fail("Mlp.set_weights: the weights are not all finite");
    // Pruned connections stay exactly 0.
    view = w.cwiseProduct(net_.connection_mask(l).template cast<float>());
  }
  void set_bias(Index l, const Vec& b) override {
    auto view = net_.bias(l);
    detail::check_shape(b.size(), 1, view.size(), 1, "Mlp.set_bias");
    if (!b.allFinite()) neuroplast::detail::fail("Mlp.set_bias: the biases are not all finite");
    view = b;
  }
  Vec plasticity(Index l) const override { return net_.plasticity(l); }
  void set_plasticity(Index l, const Vec& v) override { net_.set_plasticity(l, v); }
  void set_plasticity(Index l, float value) override { net_.set_plasticity(l, value); }
  void freeze(Index l) override { net_.freeze(l); }

  void grow_neurons(Index h, Index k, const NeuronInit& init) override {
    std::visit(
        [&](const auto& i) {
          if constexpr (std::is_same_v<std::decay_t<decltype(i)>, GradMaxInit>) {
            neuroplast::detail::fail(
                "Mlp.grow_neurons: init \"gradmax\" needs training data; grow with it through "
                "a policy (DropinPolicy(init=\"gradmax\")), or use \"zero_fan_out\", \"he\", "
                "\"glorot\" or \"net2wider\"");
          } else {
            net_.grow_neurons(h, k, i);
          }
        },
        init);
  }
  void remove_neurons(Index h, std::vector<Index> neurons) override {
    net_.remove_neurons(h, std::move(neurons));
  }
  void prune_connections(Index l, const ConstMatRef& mask) override {
    net_.prune_connections(l, mask);
  }
  void insert_layer(Index h, std::string_view init) override {
    if (init == "identity") {
      net_.insert_layer(h, init::Identity{});
    } else if (init == "he") {
      net_.insert_layer(h, init::He{});
    } else if (init == "glorot") {
      net_.insert_layer(h, init::Glorot{});
    } else {
      neuroplast::detail::fail("Mlp.insert_layer: unknown init \"", init,
                               "\"; use \"identity\", \"he\" or \"glorot\"");
    }
  }
  void remove_layer(Index h) override { net_.remove_layer(h); }

  void save(const std::string& path) const override { neuroplast::save(net_, path); }
  std::vector<unsigned char> to_bytes() const override {
    return neuroplast::detail::network_bytes(net_);
  }
  void save_safetensors(const std::string& path) const override {
    neuroplast::save_safetensors(net_, path);
  }
  void save_onnx(const std::string& path) const override { neuroplast::save_onnx(net_, path); }

  lrp::Explanation<float> explain(const Vec& x, const lrp::Composite& rule,
                                  int target) const override {
    return lrp::explain(net_, x, rule, target);
  }

  std::unique_ptr<AnyTrainer> trainer(AnyOptimizer optimizer, AnyPolicy policy,
                                      TrainOptions options) override {
    return std::make_unique<TrainerOf<Act>>(net_, std::move(optimizer), std::move(policy),
                                            std::move(options));
  }

 private:
  Net net_;
};

template <class Act>
std::unique_ptr<AnyNetwork> make_network(std::vector<Index> sizes, std::uint64_t seed) {
  return std::make_unique<NetworkOf<Act>>(Mlp<float, Act>(std::move(sizes), seed));
}

template <class Act>
std::unique_ptr<AnyNetwork> load_network(std::span<const unsigned char> bytes,
                                         const std::string& file) {
  return std::make_unique<NetworkOf<Act>>(neuroplast::detail::load_bytes<float, Act>(bytes, file));
}

}  // namespace neuroplast::python
