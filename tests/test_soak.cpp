// Soak test (issue 7): thousands of random structural edits, training steps, optimizer changes,
// and save/load cycles on small networks. After every cycle: shapes, masks, optimizer state and
// bookkeeping agree; save → load round-trips bit for bit; gradients of the double Tanh networks
// pass the shared finite-difference check. Runs for NEUROPLAST_SOAK_SECONDS seconds (default 60).
// Labelled `soak` (and `slow`): `ctest -L soak` runs it alone, `ctest -L fast` skips it.

#include <unistd.h>

#include <catch2/catch.hpp>
#include <chrono>
#include <cstdlib>
#include <filesystem>
#include <sstream>

#include "neuroplast/neuroplast.hpp"
#include "support/gradient_check.hpp"

using namespace neuroplast;

namespace {

constexpr Index kMaxWidth = 8;
constexpr Index kMaxHidden = 3;

// Where a failure happened: the network, the cycle and the last operations.
struct Trail {
  std::string name{};
  long cycle = 0;
  std::vector<std::string> ops{};
  std::string describe() const {
    std::ostringstream os;
    os << name << ", cycle " << cycle << ", last operations:";
    const std::size_t from = ops.size() > 8 ? ops.size() - 8 : 0;
    for (std::size_t i = from; i < ops.size(); ++i) os << ' ' << ops[i] << ';';
    return os.str();
  }
};

#define SOAK_REQUIRE(cond, trail, what)                                      \
  do {                                                                       \
    if (!(cond)) FAIL((trail).describe() << ": " << what << " (" #cond ")"); \
  } while (0)

template <class T>
void check_param(const Param<T>& p, Index rows, Index cols, const Trail& trail, const char* what) {
  SOAK_REQUIRE(p.rows() == rows && p.cols() == cols, trail, what << " has the wrong shape");
  SOAK_REQUIRE(p.grad.rows() == rows && p.grad.cols() == cols, trail, what << " gradient shape");
  SOAK_REQUIRE(static_cast<Index>(p.row_birth.size()) == rows, trail, what << " row births");
  SOAK_REQUIRE(static_cast<Index>(p.col_birth.size()) == cols, trail, what << " column births");
  SOAK_REQUIRE(p.row_plasticity.empty() || static_cast<Index>(p.row_plasticity.size()) == rows,
               trail, what << " row plasticity");
  const std::size_t planes = p.state_owner == "adam" ? 2 : p.state_owner == "sgd" ? 1 : 0;
  SOAK_REQUIRE(p.state.size() == planes, trail, what << " has " << p.state.size() << " planes");
  for (const auto& s : p.state)
    SOAK_REQUIRE(s.rows() == rows && s.cols() == cols, trail, what << " state plane shape");
  SOAK_REQUIRE(p.value.view().allFinite(), trail, what << " is not finite");
  if (p.has_mask()) {
    SOAK_REQUIRE(p.mask.rows() == rows && p.mask.cols() == cols, trail, what << " mask shape");
    const auto m = p.mask.view().array();
    SOAK_REQUIRE(((m == T(0)) || (m == T(1))).all(), trail, what << " mask is not 0/1");
    SOAK_REQUIRE(p.masked == (m == T(0)).any(), trail, what << " masked flag is stale");
    SOAK_REQUIRE((p.value.view().array() * (T(1) - m) == T(0)).all(), trail,
                 what << " has a non-zero masked weight");
    for (const auto& s : p.state)
      SOAK_REQUIRE((s.view().array() * (T(1) - m) == T(0)).all(), trail,
                   what << " has non-zero optimizer state at a masked weight");
  } else {
    SOAK_REQUIRE(!p.masked, trail, what << " is masked without a mask");
  }
}

template <class Net>
void check_invariants(const Net& net, const Trail& trail) {
  const auto sizes = net.sizes();
  SOAK_REQUIRE(static_cast<Index>(sizes.size()) == net.layer_count() + 1, trail, "sizes");
  for (Index l = 0; l < net.layer_count(); ++l) {
    const auto& d = net.layer_params(l);
    const Index out = sizes[static_cast<std::size_t>(l + 1)],
                in = sizes[static_cast<std::size_t>(l)];
    check_param(d.weight_param(), out, in, trail, "weights");
    check_param(d.bias_param(), out, 1, trail, "bias");
    SOAK_REQUIRE(d.weight_param().row_plasticity == d.bias_param().row_plasticity, trail,
                 "weights and bias of dense layer " << l << " disagree on plasticity");
  }
  for (Index h = 0; h < net.hidden_layer_count(); ++h) {
    auto ids = net.neuron_ids(h);
    SOAK_REQUIRE(static_cast<Index>(ids.size()) == net.width(h), trail, "neuron ids of " << h);
    std::sort(ids.begin(), ids.end());
    SOAK_REQUIRE(std::adjacent_find(ids.begin(), ids.end()) == ids.end(), trail, "duplicate ids");
  }
}

template <class Net>
void check_round_trip(const Net& net, const Trail& trail, const std::string& file) {
  using T = typename Net::scalar;
  using Act = typename Net::activation;
  const auto bytes = detail::network_bytes(net);
  Net loaded = file.empty() ? detail::load_bytes<T, Act>(bytes, "<memory>") : [&] {
    save(net, file);
    return load<T, Act>(file);
  }();
  SOAK_REQUIRE(detail::network_bytes(loaded) == bytes, trail, "save → load is not exact");
  check_invariants(loaded, trail);
  const auto st = detail::safetensors_bytes(net);
  const Net from_st = detail::load_safetensors_bytes<T, Act>(st, "<memory>");
  for (Index l = 0; l < net.layer_count(); ++l) {
    SOAK_REQUIRE(from_st.weights(l) == net.weights(l) && from_st.bias(l) == net.bias(l) &&
                     from_st.connection_mask(l) == net.connection_mask(l),
                 trail, "safetensors round trip differs at layer " << l);
  }
}

template <class T, class Act>
struct Subject {
  Trail trail;
  Mlp<T, Act> net;
  Adam<T> adam{.learning_rate = T(0.01)};
  Sgd<T> sgd{.learning_rate = T(0.02), .momentum = T(0.9)};
  bool use_adam = true;
  Rng rng;
  Workspace<T> ws;
  bool gradient_check = false;

  Subject(std::string name, std::uint64_t seed, bool fd)
      : trail{.name = std::move(name)},
        net({3, 5, 4, 3}, seed),
        rng(seed + 1000),
        gradient_check(fd) {}

  Matrix<T> batch(Index cols) {
    Matrix<T> X(net.input_size(), cols);
    for (Index c = 0; c < cols; ++c)
      for (Index r = 0; r < X.rows(); ++r) X(r, c) = static_cast<T>(rng.normal());
    return X;
  }
  std::vector<int> labels(Index n) {
    std::vector<int> y(static_cast<std::size_t>(n));
    for (auto& v : y)
      v = static_cast<int>(rng.below(static_cast<std::uint64_t>(net.output_size())));
    return y;
  }
  Index pick(Index n) { return static_cast<Index>(rng.below(static_cast<std::uint64_t>(n))); }

  void train(int steps) {
    const Mlp<T, Act> before = net;
    for (int s = 0; s < steps; ++s) {
      const Matrix<T> X = batch(5);
      const auto y = labels(5);
      const auto logits = net.forward_train(X, ws);
      auto g = ws.output_gradient();
      SoftmaxCrossEntropy::evaluate(logits, Targets<T>{.labels = y}, &g);
      net.backward(X, ws);
      if (use_adam) {
        adam.step(net);
      } else {
        sgd.step(net);
      }
    }
    for (Index l = 0; l < net.layer_count(); ++l) {
      const Vector<T> p = net.plasticity(l);
      for (Index r = 0; r < p.size(); ++r)
        SOAK_REQUIRE(p(r) != T(0) || (net.weights(l).row(r) == before.weights(l).row(r) &&
                                      net.bias(l)(r) == before.bias(l)(r)),
                     trail, "frozen neuron " << r << " of dense layer " << l << " moved");
    }
  }

  // One random operation; refused edits (Error) must leave the network exactly as it was.
  void step(const std::string& file) {
    ++trail.cycle;
    const auto before = detail::network_bytes(net);
    const Index hidden = net.hidden_layer_count();
    const Index op = pick(13);
    std::string name;
    try {
      switch (op) {
        case 0:
        case 1: {
          const Index h = pick(hidden);
          const Index k = 1 + pick(2);
          if (net.width(h) + k > kMaxWidth) break;
          const Index init = pick(3);
          name = "grow_neurons(" + std::to_string(h) + ", " + std::to_string(k) + ", " +
                 (init == 0   ? "ZeroFanOut"
                  : init == 1 ? "He"
                              : "Net2Wider") +
                 ")";
          if (init == 0) net.grow_neurons(h, k, init::ZeroFanOut{});
          if (init == 1) net.grow_neurons(h, k, init::He{});
          if (init == 2) net.grow_neurons(h, k, init::Net2Wider{});
          break;
        }
        case 2: {
          const Index l = pick(net.layer_count());
          const auto w = net.weights(l);
          Matrix<T> mask(w.rows(), w.cols());
          for (Index c = 0; c < mask.cols(); ++c)
            for (Index r = 0; r < mask.rows(); ++r) mask(r, c) = rng.uniform() < 0.15 ? T(0) : T(1);
          name = "prune_connections(" + std::to_string(l) + ")";
          net.prune_connections(l, mask);
          break;
        }
        case 3: {
          const Index h = pick(hidden);
          const Index count = 1 + pick(2);
          std::vector<Index> idx;
          for (Index i = 0; i < count; ++i) idx.push_back(pick(net.width(h)));
          name = "remove_neurons(" + std::to_string(h) + ", " + std::to_string(count) + ")";
          net.remove_neurons(h, idx);  // duplicates or emptying: refused
          break;
        }
        case 4: {
          const Index h = pick(hidden);
          name = "remove_dead_neurons(" + std::to_string(h) + ")";
          net.remove_dead_neurons(h);
          break;
        }
        case 5: {
          if (hidden >= kMaxHidden) break;
          const Index h = pick(hidden);
          name = "insert_layer(" + std::to_string(h) + ")";
          if (pick(2) == 0) {
            net.insert_layer(h, init::Identity{});
          } else {
            net.insert_layer(h, init::He{});
          }
          break;
        }
        case 6: {
          if (hidden <= 1) break;
          const Index h = pick(hidden);
          name = "remove_layer(" + std::to_string(h) + ")";
          net.remove_layer(h);  // refused unless square
          break;
        }
        case 7: {
          const Index l = pick(net.layer_count());
          const auto w = net.weights(l);
          Matrix<T> scores(w.rows(), w.cols());
          for (Index c = 0; c < scores.cols(); ++c)
            for (Index r = 0; r < scores.rows(); ++r) scores(r, c) = static_cast<T>(rng.uniform());
          name = "grow_connections(" + std::to_string(l) + ")";
          net.grow_connections(l, 1 + pick(3), scores);
          break;
        }
        case 8: {
          const Index h = pick(hidden);
          const double rate = pick(3) == 0 ? 0.0 : 0.3 * rng.uniform();
          name = "set_dropout(" + std::to_string(h) + ")";
          net.set_dropout(h, Dropout{.kind = static_cast<DropoutKind>(pick(4)), .rate = rate});
          break;
        }
        case 10: {
          const Index l = pick(net.layer_count());
          Vector<T> p(net.sizes()[static_cast<std::size_t>(l) + 1]);
          for (Index r = 0; r < p.size(); ++r)
            p(r) = pick(3) == 0 ? T(0) : pick(2) == 0 ? T(1) : static_cast<T>(rng.uniform());
          name = "set_plasticity(" + std::to_string(l) + ")";
          net.set_plasticity(l, p);
          break;
        }
        case 9:
          name = "switch optimizer";
          use_adam = !use_adam;
          break;
        default: name = "train"; train(1 + static_cast<int>(pick(4)));
      }
    } catch (const Error&) {
      name += " (refused)";
      SOAK_REQUIRE(detail::network_bytes(net) == before, trail,
                   "a refused edit changed the network");
    }
    if (!name.empty()) trail.ops.push_back(name);
    if (trail.ops.size() > 64) trail.ops.erase(trail.ops.begin(), trail.ops.begin() + 32);
    check_invariants(net, trail);
    check_round_trip(net, trail, file);
    if constexpr (std::is_same_v<T, double>) {
      if (gradient_check) check_gradient();
    }
    if (trail.cycle % 50 == 0) check_training_matches_loaded();
  }

  void check_gradient() {
    {
      // On a copy without dropout: the finite differences need a deterministic loss.
      Mlp<T, Act> copy = net;
      copy.clear_dropout();
      const Matrix<double> X = batch(3);
      const auto y = labels(3);
      const auto r = neuroplast::testing::check_gradients(
          copy, X, [&](const auto& logits, MatrixView<double>* g) {
            return SoftmaxCrossEntropy::evaluate(logits, Targets<double>{.labels = y}, g);
          });
      SOAK_REQUIRE(r.max_error < 1e-6, trail, "gradient check: " << r.worst);
      SOAK_REQUIRE(r.masked_gradients_zero, trail, "a masked connection got a gradient");
    }
  }

  void check_training_matches_loaded() {
    {
      // A loaded copy trains exactly like the original from here.
      using Net = Mlp<T, Act>;
      Net loaded = detail::load_bytes<T, Act>(detail::network_bytes(net), "<memory>");
      Adam<T> a1 = adam, a2 = adam;
      Workspace<T> w1, w2;
      w1.rng().reseed(trail.cycle);
      w2.rng().reseed(trail.cycle);
      const Matrix<T> X = batch(4);
      const auto y = labels(4);
      for (auto [n, opt, w] : {std::tuple<Net*, Adam<T>*, Workspace<T>*>{&net, &a1, &w1},
                               std::tuple<Net*, Adam<T>*, Workspace<T>*>{&loaded, &a2, &w2}}) {
        const auto logits = n->forward_train(X, *w);
        auto g = w->output_gradient();
        SoftmaxCrossEntropy::evaluate(logits, Targets<T>{.labels = y}, &g);
        n->backward(X, *w);
        opt->step(*n);
      }
      SOAK_REQUIRE(detail::network_bytes(loaded) == detail::network_bytes(net), trail,
                   "a loaded network trains differently");
      adam = a1;
    }
  }
};

double soak_seconds() {
  if (const char* s = std::getenv("NEUROPLAST_SOAK_SECONDS")) return std::atof(s);
  return 60.0;
}

}  // namespace

TEST_CASE("soak: random grow, prune, layer, train, save and load cycles keep every invariant",
          "[soak][slow]") {
  const auto dir =
      std::filesystem::temp_directory_path() / ("neuroplast_soak_" + std::to_string(::getpid()));
  std::filesystem::create_directories(dir);
  Subject<double, Tanh> tanh_net("double Tanh", 1, true);
  Subject<double, Sigmoid> sigmoid_net("double Sigmoid", 2, true);
  Subject<float, Relu> relu_net("float Relu", 3, false);
  const auto start = std::chrono::steady_clock::now();
  const double budget = soak_seconds();
  long cycles = 0;
  while (std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count() < budget) {
    // Every 100th cycle goes through the file system, the others through memory.
    const bool via_file = cycles % 100 == 0;
    tanh_net.step(via_file ? (dir / "tanh.npl").string() : std::string());
    sigmoid_net.step(via_file ? (dir / "sigmoid.npl").string() : std::string());
    relu_net.step(via_file ? (dir / "relu.npl").string() : std::string());
    cycles += 3;
  }
  std::filesystem::remove_all(dir);
  WARN("soak: " << cycles << " cycles in " << budget << " s; final sizes "
                << detail::format_sizes(tanh_net.net.sizes()) << ", "
                << detail::format_sizes(sigmoid_net.net.sizes()) << ", "
                << detail::format_sizes(relu_net.net.sizes()));
  CHECK(cycles > 0);
  if (budget >= 30) CHECK(cycles >= 1000);
}
