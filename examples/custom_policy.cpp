// Extending neuroplast without touching it: a training policy and an optimizer of one's own
// (docs/extending.md). Both are plain value types checked by concepts (TrainingPolicy,
// OptimizerFor); the trainer drives them like the library's own, checkpoints included: the
// policy lists its progress (one field of a type of its own, stored through a FieldCodec
// specialisation), the optimizer its settings, and io/ needs no edit.
//
//   custom_policy            trains two spirals under both and checks what they promise, then
//                            stops a run, resumes it from its checkpoint and compares
//
// Exits with status 1 when a check fails (CTest runs it).

#include <cmath>
#include <cstdio>
#include <filesystem>
#include <string>
#include <vector>

#include "neuroplast/neuroplast.hpp"

namespace np = neuroplast;

// What the policy remembers of each growth step: a type of our own.
struct Milestone {
  int epoch = 0;
  np::Index neurons = 0;
  bool operator==(const Milestone&) const = default;
};

// How a checkpoint stores a Milestone: specialising the open trait is all it takes.
template <>
struct neuroplast::FieldCodec<Milestone> {
  static void write(ByteWriter& w, const Milestone& m) {
    w.i32(m.epoch);
    w.i64(m.neurons);
  }
  static Milestone read(ByteReader& r) {
    Milestone m;
    m.epoch = r.i32("milestone epoch");
    m.neurons = r.i64("milestone neurons");
    return m;
  }
};

// A policy: grow every hidden layer by `neurons` every `every` epochs until it reaches `width`.
// `on_epoch_end` is all the Trainer needs; `name` identifies the policy in checkpoints and logs.
struct GrowOnSchedule {
  static constexpr std::string_view name = "grow_on_schedule";
  int every = 20;                       ///< epochs between growth steps
  np::Index neurons = 4;                ///< neurons added to each hidden layer per step
  np::Index width = 24;                 ///< no layer grows past this
  std::vector<Milestone> milestones{};  ///< progress: what grew when

  // The progress a checkpoint keeps (settings come from the trainer the run is resumed with).
  template <class Self>
  static auto progress(Self& self) {
    return std::tie(self.milestones);
  }

  template <class Context>
  void on_epoch_end(Context& ctx) {
    // A change after the fit's last epoch would be handed back untrained.
    if (ctx.final_epoch || ctx.epoch % every != 0) return;
    for (np::Index h = 0; h < ctx.net.hidden_layer_count(); ++h) {
      const np::Index k = std::min(neurons, width - ctx.net.width(h));
      if (k <= 0) continue;
      // The one door for structure: the network's own edit. Every tensor on the neuron axis —
      // weights, biases, masks, the optimizer's state planes — grows with it.
      ctx.net.grow_neurons(h, k, np::init::ZeroFanOut{});
      ctx.record(np::StructuralEvent{
          .kind = np::EventKind::grow_neurons, .layer = h, .count = k, .reason = "schedule"});
      milestones.push_back({.epoch = ctx.epoch, .neurons = k});
    }
  }
};

// An optimizer: sign descent with momentum (signSGD / Lion-like): m ← β m + (1 − β) g,
// w ← w − lr · sign(m). Its state is one plane per Param, created through `state_for`, so it is
// bound to the neuron axes and follows every grow, removal and permutation without code here.
template <np::Scalar T>
struct SignMomentum {
  static constexpr std::string_view name = "sign_momentum";
  T learning_rate = T(1e-3);
  T beta = T(0.9);
  std::int64_t steps = 0;

  // What a checkpoint keeps of it (its state planes travel with the parameters).
  template <class Self>
  static auto fields(Self& self) {
    return std::tie(self.learning_rate, self.beta, self.steps);
  }

  void validate() const {
    if (!(learning_rate > 0) || !(beta >= 0 && beta < 1))
      throw np::Error("SignMomentum: need learning_rate > 0 and beta in [0, 1)");
  }

  template <class Net>
  void step(Net& net) {
    ++steps;
    net.for_each_param([&](np::Param<T>& p, np::ParamKind) {
      auto m = p.state_for(name, 1)[0].view();
      m = beta * m + (T(1) - beta) * p.grad.view();
      // sign(0) = 0: pruned connections (gradient and state exactly 0) stay where they are.
      p.value.view().array() -= learning_rate * m.array().sign();
    });
  }
};

static_assert(np::OptimizerFor<SignMomentum<float>, np::Mlp<float, np::Relu>>);

namespace {

int failures = 0;

void check(bool ok, const std::string& what) {
  std::printf("%s %s\n", ok ? "ok  " : "FAIL", what.c_str());
  failures += ok ? 0 : 1;
}

// Two interleaved spirals, `n` points, labels 0/1.
np::Dataset<float> spirals(np::Index n, std::uint64_t seed) {
  np::Rng rng(seed);
  np::Matrix<float> X(2, n);
  std::vector<int> y(static_cast<std::size_t>(n));
  for (np::Index i = 0; i < n; ++i) {
    const int label = static_cast<int>(i % 2);
    const double t = 0.5 + 3.0 * static_cast<double>(i / 2) / static_cast<double>(n / 2);
    const double angle = 2.5 * t + (label == 1 ? M_PI : 0.0);
    X(0, i) = static_cast<float>(t * std::cos(angle) + 0.05 * rng.normal());
    X(1, i) = static_cast<float>(t * std::sin(angle) + 0.05 * rng.normal());
    y[static_cast<std::size_t>(i)] = label;
  }
  return {std::move(X), std::move(y)};
}

}  // namespace

// The run of main, `epochs` long, writing a checkpoint to `checkpoint` after its last epoch when
// one is given.
template <class Net>
auto make_trainer(Net& net, int epochs, const std::string& checkpoint = "") {
  return np::Trainer(net, SignMomentum<float>{.learning_rate = 2e-3f},
                     GrowOnSchedule{.every = 20, .neurons = 4, .width = 24},
                     np::TrainOptions{.epochs = epochs,
                                      .batch_size = 32,
                                      .seed = 3,
                                      .checkpoint = {.path = checkpoint,
                                                     .every = checkpoint.empty() ? 0 : epochs}});
}

int main() {
  const auto train = spirals(400, 1), validation = spirals(200, 2);
  np::Mlp<float, np::Relu> net({2, 4, 4, 2}, 7);
  auto trainer = make_trainer(net, 200);
  const np::History h = trainer.fit(train, validation);

  // The schedule: 4 → 24 in five steps at epochs 20, 40, …, 100, two layers each.
  check(net.sizes() == std::vector<np::Index>{2, 24, 24, 2}, "the schedule grew both layers to 24");
  check(h.events.size() == 10,
        "one event per layer and step (" + std::to_string(h.events.size()) + " recorded)");
  bool epochs_ok = true;
  for (std::size_t i = 0; i < h.events.size(); ++i)
    epochs_ok = epochs_ok && h.events[i].epoch == 20 * static_cast<int>(i / 2 + 1);
  check(epochs_ok, "events at epochs 20, 40, 60, 80, 100");
  // The optimizer's plane followed every edit: same shape as the parameter it belongs to.
  bool planes_ok = true;
  net.for_each_param([&](np::Param<float>& p, np::ParamKind) {
    planes_ok = planes_ok && p.state_owner == "sign_momentum" && p.state.size() == 1 &&
                p.state[0].rows() == p.rows() && p.state[0].cols() == p.cols();
  });
  check(planes_ok, "the optimizer's state has every parameter's shape after growth");
  const double accuracy = trainer.evaluate(validation).accuracy;
  check(accuracy > 0.8, "validation accuracy " + std::to_string(accuracy) + " > 0.8");

  // Checkpoints of both: 50 epochs, stop, a new trainer resumes from the file for 150 more.
  const std::string path =
      (std::filesystem::temp_directory_path() / "neuroplast_custom_policy.ckpt").string();
  {
    np::Mlp<float, np::Relu> first({2, 4, 4, 2}, 7);
    auto part = make_trainer(first, 50, path);
    part.fit(train, validation);
  }
  np::Mlp<float, np::Relu> resumed({2, 4, 4, 2}, 0);
  auto rest = make_trainer(resumed, 150);
  rest.resume(path);
  rest.fit(train, validation);
  std::filesystem::remove(path);
  bool same = resumed.sizes() == net.sizes();
  for (np::Index l = 0; same && l < net.layer_count(); ++l)
    same = np::Matrix<float>(resumed.weights(l)) == np::Matrix<float>(net.weights(l)) &&
           np::Vector<float>(resumed.bias(l)) == np::Vector<float>(net.bias(l));
  check(same, "a run resumed at epoch 50 ends bit-identical to the uninterrupted one");
  check(rest.policy().milestones == trainer.policy().milestones &&
            rest.optimizer().steps == trainer.optimizer().steps,
        "the policy's milestones and the optimizer's steps came back from the checkpoint");
  std::printf("%s\n",
              failures == 0 ? "custom_policy: all checks passed" : "custom_policy: checks failed");
  return failures == 0 ? 0 : 1;
}
