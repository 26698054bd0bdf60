#pragma once
// The Python module's view of neuroplast: a float32 network and its trainer behind small abstract
// interfaces, so that the pybind11 code (module.cpp) is compiled once and each activation's
// network and trainer are compiled in a translation unit of their own (network_<activation>.cpp),
// in parallel. The virtual calls cost one indirection per Python call, never per sample or step.

#include <cstdint>
#include <memory>
#include <optional>
#include <span>
#include <string>
#include <string_view>
#include <variant>
#include <vector>

#include "neuroplast/neuroplast.hpp"

namespace neuroplast::python {

using Mat = Matrix<float>;
using Vec = Vector<float>;
/// `features × batch`, column-major: a C-order numpy array `(batch, features)` is exactly this
/// memory, so inputs reach the library without a copy.
using ConstMatRef = Eigen::Ref<const Mat>;

/// One of the optimizers the module offers, behind the interface the Trainer expects. The
/// trainer's learning-rate schedule and rollback write `learning_rate`, which is handed to the
/// chosen optimizer before each step; the update itself is that optimizer's, so a run equals the
/// C++ run with the same optimizer bit for bit.
struct AnyOptimizer {
  static constexpr std::string_view name = "python";
  std::variant<Sgd<float>, Adam<float>, AdamW<float>> chosen = Adam<float>{};
  float learning_rate = 1e-3f;
  std::int64_t steps = 0;

  AnyOptimizer() = default;
  template <class O>
  explicit AnyOptimizer(O o) : chosen(o), learning_rate(o.learning_rate), steps(o.steps) {}

  void validate() const {
    std::visit(
        [&](auto o) {
          o.learning_rate = learning_rate;
          o.validate();
        },
        chosen);
  }
  template <class Net>
  void step(Net& net) {
    std::visit(
        [&](auto& o) {
          o.learning_rate = learning_rate;
          o.step(net);
          steps = o.steps;
        },
        chosen);
  }
};

/// One of the four policies, behind the interface the Trainer expects; every hook is the chosen
/// policy's own.
struct AnyPolicy {
  static constexpr std::string_view name = "python";
  std::variant<StaticPolicy, DropinPolicy, DropoutPolicy, NeuroplasticPolicy> chosen{};

  bool keeps_best_snapshot() const {
    return std::visit(
        [](const auto& p) {
          if constexpr (requires { p.keeps_best_snapshot(); }) {
            return p.keeps_best_snapshot();
          } else {
            return false;
          }
        },
        chosen);
  }
  template <class Ctx>
  void on_fit_begin(Ctx& ctx) {
    std::visit(
        [&](auto& p) {
          if constexpr (requires { p.on_fit_begin(ctx); }) p.on_fit_begin(ctx);
        },
        chosen);
  }
  template <class Ctx>
  void on_epoch_end(Ctx& ctx) {
    std::visit([&](auto& p) { p.on_epoch_end(ctx); }, chosen);
  }
  template <class Ctx>
  void on_new_data(Ctx& ctx) {
    std::visit(
        [&](auto& p) {
          if constexpr (requires { p.on_new_data(ctx); }) p.on_new_data(ctx);
        },
        chosen);
  }
};

/// A Trainer over one network of the module (see AnyNetwork::trainer).
class AnyTrainer {
 public:
  virtual ~AnyTrainer() = default;
  virtual History fit(const Dataset<float>& train, const Dataset<float>* validation) = 0;
  virtual Evaluation evaluate(const Dataset<float>& data) = 0;
  virtual void notify_new_data(const Dataset<float>& data) = 0;
  /// Trainer::set_replay with a copy of `memory` (which may borrow its caller's memory).
  virtual void set_replay(const Dataset<float>& memory, double ratio) = 0;
  virtual void clear_replay() = 0;
  virtual const History& history() const = 0;
  virtual const TrainOptions& options() const = 0;
  virtual double learning_rate() const = 0;
};

/// An InferenceSnapshot of a float32 Mlp of any of the module's activations; methods as there.
class AnySnapshot {
 public:
  virtual ~AnySnapshot() = default;
  virtual std::vector<Index> sizes() const = 0;
  virtual bool packed(Index l) const = 0;
  virtual Mat forward(const ConstMatRef& X) const = 0;
  virtual std::vector<int> predict(const ConstMatRef& X) const = 0;
};

/// A float32 Mlp of any of the module's activations. Every method is the Mlp's (or the free
/// function's) of the same name; shapes as there.
class AnyNetwork {
 public:
  virtual ~AnyNetwork() = default;
  virtual std::unique_ptr<AnyNetwork> clone() const = 0;
  virtual std::string_view activation() const = 0;
  virtual std::vector<Index> sizes() const = 0;
  virtual Index layer_count() const = 0;
  virtual Index parameter_count() const = 0;
  virtual Index active_parameter_count() const = 0;

  virtual Mat forward(const ConstMatRef& X) const = 0;
  virtual std::vector<int> predict(const ConstMatRef& X) const = 0;
  /// A read-only copy of the network's inference, pruned layers packed.
  virtual std::unique_ptr<AnySnapshot> snapshot() const = 0;

  virtual Mat weights(Index l) const = 0;
  virtual Vec bias(Index l) const = 0;
  virtual Mat connection_mask(Index l) const = 0;
  virtual float inference_scale(Index l) const = 0;
  virtual void set_weights(Index l, const ConstMatRef& w) = 0;
  virtual void set_bias(Index l, const Vec& b) = 0;
  virtual Vec plasticity(Index l) const = 0;
  virtual void set_plasticity(Index l, const Vec& v) = 0;
  virtual void set_plasticity(Index l, float value) = 0;
  virtual void freeze(Index l) = 0;

  /// `init`: one of the policies' initialisers; GradMaxInit is refused (it needs training data).
  virtual void grow_neurons(Index h, Index k, const NeuronInit& init) = 0;
  virtual void remove_neurons(Index h, std::vector<Index> neurons) = 0;
  virtual void prune_connections(Index l, const ConstMatRef& mask) = 0;
  /// `init`: "identity", "he" or "glorot".
  virtual void insert_layer(Index h, std::string_view init) = 0;
  virtual void remove_layer(Index h) = 0;

  virtual void save(const std::string& path) const = 0;
  virtual std::vector<unsigned char> to_bytes() const = 0;
  virtual void save_safetensors(const std::string& path) const = 0;
  virtual void save_onnx(const std::string& path) const = 0;

  virtual lrp::Explanation<float> explain(const Vec& x, const lrp::Composite& rule,
                                          int target) const = 0;

  /// A trainer that edits this network in place (the network must outlive it).
  virtual std::unique_ptr<AnyTrainer> trainer(AnyOptimizer optimizer, AnyPolicy policy,
                                              TrainOptions options) = 0;
};

/// A new network of activation `Act` (network_<activation>.cpp).
template <class Act>
std::unique_ptr<AnyNetwork> make_network(std::vector<Index> sizes, std::uint64_t seed);
/// The network of activation `Act` in `bytes` (a file written by `save`); `file` names it.
template <class Act>
std::unique_ptr<AnyNetwork> load_network(std::span<const unsigned char> bytes,
                                         const std::string& file);

extern template std::unique_ptr<AnyNetwork> make_network<Relu>(std::vector<Index>, std::uint64_t);
extern template std::unique_ptr<AnyNetwork> make_network<LeakyRelu>(std::vector<Index>,
                                                                    std::uint64_t);
extern template std::unique_ptr<AnyNetwork> make_network<Tanh>(std::vector<Index>, std::uint64_t);
extern template std::unique_ptr<AnyNetwork> make_network<Sigmoid>(std::vector<Index>,
                                                                  std::uint64_t);
extern template std::unique_ptr<AnyNetwork> load_network<Relu>(std::span<const unsigned char>,
                                                               const std::string&);
extern template std::unique_ptr<AnyNetwork> load_network<LeakyRelu>(std::span<const unsigned char>,
                                                                    const std::string&);
extern template std::unique_ptr<AnyNetwork> load_network<Tanh>(std::span<const unsigned char>,
                                                               const std::string&);
extern template std::unique_ptr<AnyNetwork> load_network<Sigmoid>(std::span<const unsigned char>,
                                                                  const std::string&);

}  // namespace neuroplast::python
