// Writes the fuzzers' seed corpus: small valid files of every kind the loaders read, so the fuzzers
// start from inputs that reach deep into the parsers. Usage: make_corpus <dir>; creates
// <dir>/load (network files and trainer checkpoints) and <dir>/safetensors.
#include <cstdio>
#include <filesystem>
#include <string>

#include "neuroplast/neuroplast.hpp"

namespace np = neuroplast;

namespace {

template <class T, class Act>
np::Mlp<T, Act> edited_network(std::uint64_t seed) {
  np::Mlp<T, Act> net({3, 4, 2}, seed);
  net.grow_neurons(0, 1, np::init::ZeroFanOut{});
  np::Matrix<T> mask = np::Matrix<T>::Ones(2, 5);
  mask(0, 1) = 0;
  net.prune_connections(1, mask);
  net.set_dropout(0, np::Dropout{.rate = 0.25});
  net.set_plasticity(0, np::Vector<T>{{T(0), T(0.5), T(1), T(1), T(0.25)}});
  return net;
}

template <class T, class Act, class Opt>
void train(np::Mlp<T, Act>& net, Opt& opt) {
  np::Workspace<T> ws;
  const np::Matrix<T> x = np::Matrix<T>::Constant(3, 2, T(0.3));
  const std::vector<int> y{0, 1};
  for (int i = 0; i < 2; ++i) {
    const auto logits = net.forward_train(x, ws);
    auto g = ws.output_gradient();
    np::SoftmaxCrossEntropy::evaluate(logits, np::Targets<T>{.labels = y}, &g);
    net.backward(x, ws);
    opt.step(net);
  }
}

}  // namespace

int main(int argc, char** argv) {
  if (argc != 2) {
    std::fprintf(stderr, "usage: make_corpus <dir>\n");
    return 2;
  }
  const std::filesystem::path dir = argv[1];
  std::filesystem::create_directories(dir / "load");
  std::filesystem::create_directories(dir / "safetensors");
  auto path = [&](const char* sub, const char* name) { return (dir / sub / name).string(); };

  auto a = edited_network<float, np::Relu>(1);
  np::Adam<float> adam;
  train(a, adam);
  np::save(a, path("load", "float_relu_adam.npl"));
  np::save(a, path("load", "float_relu_plain.npl"), np::SaveOptions{.optimizer_state = false});
  np::History history;
  history.epochs.push_back({.epoch = 1, .train_loss = 0.5, .sizes = a.sizes()});
  history.events.push_back({.epoch = 1,
                            .kind = np::EventKind::grow_neurons,
                            .layer = 0,
                            .count = 1,
                            .reason = "plateau",
                            .sizes_after = a.sizes()});
  np::save_checkpoint(
      path("load", "float_relu_checkpoint.npl"), a, adam, history,
      np::TrainerState{
          .epoch = 1, .shuffle_rng = np::Rng(1).state(), .dropout_rng = np::Rng(2).state()});
  np::save_safetensors(a, path("safetensors", "float_relu_masked.safetensors"));
  // What a Trainer writes: the policy's progress and the best and kept networks as well.
  const np::PolicyCheckpoint<np::Mlp<float, np::Relu>> policy{
      .policy = "neuroplastic",
      .policy_state = np::detail::policy_state_bytes(np::NeuroplasticPolicy{.growth_events = 3}),
      .best = a,
      .best_score = 0.75,
      .saved = edited_network<float, np::Relu>(4)};
  np::write_file_atomically(
      path("load", "float_relu_trainer_checkpoint.npl"),
      np::detail::checkpoint_bytes(
          a, adam, history,
          np::TrainerState{
              .epoch = 1, .shuffle_rng = np::Rng(1).state(), .dropout_rng = np::Rng(2).state()},
          &policy),
      "make_corpus");

  auto b = edited_network<double, np::Tanh>(2);
  np::Sgd<double> sgd{.momentum = 0.9};
  train(b, sgd);
  np::save(b, path("load", "double_tanh_sgd.npl"));
  np::save_checkpoint(path("load", "double_tanh_checkpoint.npl"), b, sgd);
  np::save_safetensors(b, path("safetensors", "double_tanh_masked.safetensors"));
  np::save_safetensors(np::Mlp<float, np::Relu>({2, 3}, 3),
                       path("safetensors", "float_relu_plain.safetensors"));
  return 0;
}
