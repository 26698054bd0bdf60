#pragma once
/// \file
/// First-order Taylor criterion: how much the loss would change, to first order, if a neuron (or a
/// connection) were removed. `Taylor` scores on a dataset; `TaylorAccumulator` collects the same
/// quantity from the gradients of ordinary training steps, batch by batch.
///
/// Derivation. Let L be the mean loss over N samples and a_j(x_n) the output of hidden neuron j
/// for sample n. Removing the neuron sets a_j to 0 for every sample, so to first order
///
///     ΔL ≈ Σ_n ∂L/∂a_j(x_n) · (0 − a_j(x_n)) = −Σ_n ∂L/∂a_j(x_n) · a_j(x_n),
///
/// and the score is the magnitude of that change, s_j = |Σ_n ∂L/∂a_j(x_n) · a_j(x_n)|.
/// The same number follows from the weights: with G = ∂L/∂W(h+1) (summed over samples),
/// Σ_k W(h+1)_kj · G_kj = Σ_n a_j(x_n) · Σ_k W(h+1)_kj δ_k(x_n) = Σ_n a_j(x_n) · ∂L/∂a_j(x_n):
/// the neuron's score is |Σ g·w| over its fan-out column. TaylorAccumulator uses this form, which
/// needs only the weight gradients every backward pass already computes.
///
/// For a single connection w, removing it (w → 0) changes the loss by ≈ −w · ∂L/∂w, so its score
/// is |w · ∂L/∂w|.
///
/// Near a minimum of the loss the signed sum cancels: Σ_n ∂L/∂a_j(x_n) a_j(x_n) is the derivative
/// of the loss along a rescaling of the neuron, which training drives to 0. The per-unit
/// aggregations (TaylorAggregation) take the magnitude per sample or per batch before summing, so
/// they keep measuring how much the loss depends on the neuron. On Fashion-MNIST (see
/// docs/dropout-and-pruning.md) scores collected from training batches rank better that way.

#include <algorithm>
#include <cmath>
#include <concepts>
#include <cstdint>
#include <optional>
#include <span>
#include <string_view>
#include <type_traits>
#include <unordered_map>
#include <utility>
#include <vector>

#include "neuroplast/network/edit_journal.hpp"
#include "neuroplast/prune/criterion.hpp"

namespace neuroplast {

/// How the first-order terms t_u of units u (samples for `Taylor`, batches for
/// `TaylorAccumulator`) become one score; w_u is the unit's weight (1 per sample, the batch size
/// per batch) and t_u its term with the unit's own mean loss.
enum class TaylorAggregation {
  abs_of_sum,  ///< |Σ_u w_u t_u| / Σ_u w_u: the first-order change of the mean loss over all units
  mean_abs,    ///< Σ_u w_u |t_u| / Σ_u w_u: "|gradient × weight| accumulated" (Molchanov 2017)
  mean_square,  ///< Σ_u w_u t_u² / Σ_u w_u: squared per unit, as Molchanov et al. (2019)
};

/// First-order Taylor estimate of the change of the mean loss over a dataset when a neuron or a
/// connection is removed (see the file comment for the derivation):
///
///     neuron j of hidden layer h:   s_j  = | Σ_n ∂L/∂a_j(x_n) · a_j(x_n) |
///     connection w_ji of layer l:   s_ji = | w_ji · ∂L/∂w_ji |
///
/// with L the mean loss (`loss`) over the first N samples (`max_samples`, 0 = all), computed in
/// batches of `batch_size` and weighted so that the result is that of one batch of all N samples.
/// Activations come from an inference pass (`Mlp::forward`: no dropout masks, the paper
/// convention's (1 − p) scaling included), and the gradients are propagated here, so scoring
/// changes nothing in the network (not its gradients, not its step count).
///
/// That is `aggregation = TaylorAggregation::abs_of_sum`, the default. The other aggregations work
/// per sample, with t_n = ∂ℓ_n/∂a_j · a_j (or w_ji · ∂ℓ_n/∂w_ji) for the loss ℓ_n of sample n
/// alone: `mean_abs` gives (1/N) Σ_n |t_n|, `mean_square` (1/N) Σ_n t_n². Samples whose changes
/// would cancel then add up, which favours neurons that matter a lot for some samples. In our
/// Fashion-MNIST comparison `mean_square` ranked best most often (docs/dropout-and-pruning.md).
struct Taylor {
  static constexpr std::string_view name = "taylor";  ///< the criterion's name
  static constexpr bool needs_data = true;            ///< scores are computed on a dataset

  /// The loss whose change is estimated: a LossKind, or any loss of one's own (LossFunction).
  LossFunction loss = LossKind::softmax_cross_entropy;
  Index batch_size = 256;  ///< samples per forward/backward pass (memory ∝ widest layer × batch)
  Index max_samples = 0;   ///< use the first max_samples samples; 0 = all
  TaylorAggregation aggregation = TaylorAggregation::abs_of_sum;  ///< units are samples

  /// Scores of every hidden neuron on `data`. Throws Error when `data` is null or does not fit
  /// the network or the loss (softmax cross-entropy needs labels), or an option is invalid.
  template <Network Net>
  NeuronScores<scalar_of<Net>> neuron_scores(const Net& net,
                                             const Dataset<scalar_of<Net>>* data) const {
    using T = scalar_of<Net>;
    std::vector<Vector<double>> sums;
    run(net, data, &sums, nullptr);
    NeuronScores<T> scores;
    for (const auto& s : sums) scores.push_back(s.cwiseAbs().template cast<T>());
    return scores;  // the per-sample aggregations are ≥ 0 already: |·| changes nothing
  }

  /// Scores of every connection on `data`, element l of the shape of `weights(l)` (pruned
  /// connections score 0). Throws as neuron_scores.
  template <Network Net>
  ConnectionScores<scalar_of<Net>> connection_scores(const Net& net,
                                                     const Dataset<scalar_of<Net>>* data) const {
    using T = scalar_of<Net>;
    std::vector<Matrix<double>> sums;
    run(net, data, nullptr, &sums);
    ConnectionScores<T> scores;
    for (const auto& s : sums) scores.push_back(s.cwiseAbs().template cast<T>());
    return scores;
  }

 private:
  // One inference pass per batch, then the backward recursion δ(l−1) = (W(l)ᵀ δ(l)) ∘ f'(a(l−1))
  // with the loss gradient scaled by count/N, so the batches add up to the gradient of the mean
  // loss over all N samples, and each column holds x_n = t_n / N. Hence (1/N) Σ |t_n| = Σ |x_n|
  // and (1/N) Σ t_n² = N Σ x_n². Sums in double: many float batches would lose digits.
  template <Network Net>
  void run(const Net& net, const Dataset<scalar_of<Net>>* data,
           std::vector<Vector<double>>* neurons, std::vector<Matrix<double>>* connections) const {
    using T = scalar_of<Net>;
    using Act = activation_of<Net>;
    const Index n = detail::scoring_samples(net, data, batch_size, max_samples, "Taylor");
    check_targets(*data, net, loss, "Taylor");  // the features: scoring_samples
    const Index layers = net.layer_count();
    if (neurons != nullptr) {
      for (Index h = 0; h < net.hidden_layer_count(); ++h)
        neurons->push_back(Vector<double>::Zero(net.width(h)));
    }
    if (connections != nullptr) {
      for (Index l = 0; l < layers; ++l) {
        const auto w = net.weights(l);
        connections->push_back(Matrix<double>::Zero(w.rows(), w.cols()));
      }
    }
    Workspace<T> ws;
    Matrix<T> delta;
    Matrix<T> grad_a;
    detail::for_each_scoring_batch(
        *data, n, batch_size, [&](Index first, Index count, const MatrixRef<T>& X) {
          const auto logits = net.forward(X, ws);
          detail::loss_gradient(loss, logits, *data, first, count, delta);
          delta *= static_cast<T>(static_cast<double>(count) / static_cast<double>(n));
          for (Index l = layers - 1; l >= 0; --l) {
            // Inference computes α·W(l)·a (α ≠ 1 under the paper's dropout convention), so both
            // ∂L/∂a and w·∂L/∂w carry α.
            const T alpha = net.inference_scale(l);
            const auto w = net.weights(l);
            if (connections != nullptr) {
              const MatrixRef<T> in =
                  l == 0 ? X : MatrixRef<T>(ws.activation(static_cast<std::size_t>(l - 1)));
              auto& acc = (*connections)[static_cast<std::size_t>(l)];
              switch (aggregation) {
                case TaylorAggregation::abs_of_sum:
                  acc += (delta * in.transpose()).cwiseProduct(w).template cast<double>() *
                         static_cast<double>(alpha);
                  break;
                case TaylorAggregation::mean_abs:
                  acc += (delta.cwiseAbs() * in.cwiseAbs().transpose())
                             .cwiseProduct(w.cwiseAbs())
                             .template cast<double>() *
                         static_cast<double>(std::abs(alpha));
                  break;
                case TaylorAggregation::mean_square:
                  acc += (delta.cwiseAbs2() * in.cwiseAbs2().transpose())
                             .cwiseProduct(w.cwiseAbs2())
                             .template cast<double>() *
                         (static_cast<double>(n) * static_cast<double>(alpha * alpha));
                  break;
              }
            }
            if (l == 0) break;
            const auto a = ws.activation(static_cast<std::size_t>(l - 1));
            grad_a.noalias() = alpha * (w.transpose() * delta);  // ∂L/∂a of hidden layer l−1
            if (neurons != nullptr) {
              auto& acc = (*neurons)[static_cast<std::size_t>(l - 1)];
              switch (aggregation) {
                case TaylorAggregation::abs_of_sum:
                  acc += grad_a.cwiseProduct(a).rowwise().sum().template cast<double>();
                  break;
                case TaylorAggregation::mean_abs:
                  acc += grad_a.cwiseProduct(a).cwiseAbs().rowwise().sum().template cast<double>();
                  break;
                case TaylorAggregation::mean_square:
                  acc +=
                      grad_a.cwiseProduct(a).cwiseAbs2().rowwise().sum().template cast<double>() *
                      static_cast<double>(n);
                  break;
              }
            }
            delta.array() = grad_a.array() * Act::derivative(a.array());
          }
        });
  }
};

/// Options of a TaylorAccumulator: `TaylorAccumulator<float> acc({.connections = true})`.
struct TaylorAccumulatorOptions {
  /// How the batches' terms combine. The default squares them per batch: over training the
  /// signed terms cancel (the loss is near a minimum along every neuron's scale, see taylor.hpp),
  /// and of the two per-batch forms the square ranked better on Fashion-MNIST
  /// (docs/dropout-and-pruning.md).
  TaylorAggregation aggregation = TaylorAggregation::mean_square;
  /// Also keep one sum per connection (a `double` per weight, one more pass over them per add).
  bool connections = false;
};

/// Collects the Taylor criterion from training: after each `backward` of a training step, `add`
/// reads the network's weights and weight gradients and takes, per neuron j of hidden layer h,
/// the first-order loss change of that batch t_b = Σ_k W(h+1)_kj · ∂L_b/∂W(h+1)_kj (the batch
/// mean loss L_b; see the file comment for why this equals Σ_n ∂L_b/∂a_j a_j), and, with
/// connection tracking, t_b = w · ∂L_b/∂w per connection. Weighted by the batch sizes B_b, over
/// the batches the neuron was present for, the scores are (TaylorAggregation)
///
///     mean_square (default):  s_j = Σ_b B_b t_b² / Σ_b B_b
///     mean_abs:               s_j = Σ_b B_b |t_b| / Σ_b B_b
///     abs_of_sum:             s_j = |Σ_b B_b t_b| / Σ_b B_b
///
/// With `abs_of_sum` and weights that do not move between the batches this is exactly what
/// `Taylor{}` computes on the same samples.
///
/// The accumulator follows the network's structural edits: it applies the AxisEdits the network
/// made since it last saw it (`Mlp::journal()`, network/edit_journal.hpp), the same edits every
/// tensor of the network followed; where the journal cannot tell (a copy that went another way, a
/// rollback, a loaded file, an inserted or removed layer, a network type without a journal) it
/// matches neurons by `neuron_ids`. Either way every surviving neuron and connection keeps its
/// sums, and new ones start from 0 (they score 0 until a batch has seen them). It is itself a
/// criterion (`needs_data = false`): `prune_neurons(net, acc, selection)`.
///
/// Call `add` once per backward pass, before the structural edits of that step; the gradients of
/// a pass with dropout are what training sees, and are accumulated as they are.
template <Scalar T>
class TaylorAccumulator {
 public:
  static constexpr std::string_view name = "taylor_accumulator";  ///< the criterion's name
  static constexpr bool needs_data = false;  ///< scores come from the batches `add`ed

  /// An empty accumulator.
  explicit TaylorAccumulator(TaylorAccumulatorOptions options = {}) : options_(options) {}

  /// Accumulates the batch of the network's last `backward` pass, which ran on `samples` samples
  /// (the losses are batch means, so this weights each batch by its size; with equal batches any
  /// constant works). Throws Error when `samples` < 1, when the network has run no backward pass
  /// since the last `add`, or when its inputs or outputs differ from those accumulated so far
  /// (call `reset()` to start over for another network).
  template <NetworkOf<T> Net>
  void add(const Net& net, Index samples) {
    constexpr const char* who = "TaylorAccumulator::add";
    if (samples < 1) detail::fail(who, ": samples = ", samples, "; pass the batch size (≥ 1)");
    if (net.training_steps() == 0 || net.training_steps() == last_step_) {
      detail::fail(who, ": the network has run no backward pass since ",
                   last_step_ < 0 ? "it was built" : "the last add",
                   "; call add once per batch, after net.backward(X, ws)");
    }
    check_network(net, who);
    if (!matches(state_, net)) state_ = caught_up(net);
    // In step now, by the journal or by ids: the next catch-up starts here.
    if (const EditJournal* journal = journal_of(net)) state_.stamp = journal->stamp();
    const auto weight = static_cast<double>(samples);
    for (Index h = 0; h < net.hidden_layer_count(); ++h) {
      accumulate(state_.sums[static_cast<std::size_t>(h)], weight,
                 net.weights(h + 1)
                     .cwiseProduct(net.weight_gradient(h + 1))
                     .colwise()
                     .sum()
                     .transpose()
                     .template cast<double>());
    }
    if (options_.connections) {
      for (Index l = 0; l < net.layer_count(); ++l) {
        accumulate(state_.connections[static_cast<std::size_t>(l)], weight,
                   net.weights(l).cwiseProduct(net.weight_gradient(l)).template cast<double>());
      }
    }
    state_.total += weight;
    ++state_.batches;
    last_step_ = net.training_steps();
  }

  /// Scores of every hidden neuron of `net` as it is now (element h has `width(h)` entries);
  /// neurons no batch has seen score 0. The dataset is ignored (may be null). Throws Error when no
  /// batch has been accumulated or the network's inputs or outputs differ from those accumulated.
  template <NetworkOf<T> Net>
  NeuronScores<T> neuron_scores(const Net& net, const Dataset<T>* = nullptr) const {
    check_network(net, "TaylorAccumulator::neuron_scores", true);
    State fresh;
    const State& s = matches(state_, net) ? state_ : (fresh = caught_up(net));
    NeuronScores<T> scores;
    for (std::size_t h = 0; h < s.sums.size(); ++h) {
      Vector<T> v(s.sums[h].size());
      for (Index j = 0; j < v.size(); ++j) {
        const double seen = s.total - s.born[h](j);
        v(j) = seen > 0 ? static_cast<T>(std::abs(s.sums[h](j)) / seen) : T(0);
      }
      scores.push_back(std::move(v));
    }
    return scores;
  }

  /// Scores of every connection of `net` as it is now (element l of the shape of `weights(l)`).
  /// Throws Error unless the accumulator tracks connections, or as neuron_scores.
  template <NetworkOf<T> Net>
  ConnectionScores<T> connection_scores(const Net& net, const Dataset<T>* = nullptr) const {
    constexpr const char* who = "TaylorAccumulator::connection_scores";
    if (!options_.connections) {
      detail::fail(who, ": this accumulator does not track connections; construct it with ",
                   "{.connections = true} to score single connections");
    }
    check_network(net, who, true);
    State fresh;
    const State& s = matches(state_, net) ? state_ : (fresh = caught_up(net));
    const std::size_t hidden = s.sums.size();
    ConnectionScores<T> scores;
    for (std::size_t l = 0; l < s.connections.size(); ++l) {
      const auto& sum = s.connections[l];
      Matrix<T> m(sum.rows(), sum.cols());
      for (Index r = 0; r < m.rows(); ++r) {
        const double row_born = l < hidden ? s.born[l](r) : 0.0;
        for (Index c = 0; c < m.cols(); ++c) {
          const double col_born = l > 0 ? s.born[l - 1](c) : 0.0;
          const double seen = s.total - std::max({s.connections_born[l], row_born, col_born});
          m(r, c) = seen > 0 ? static_cast<T>(std::abs(sum(r, c)) / seen) : T(0);
        }
      }
      scores.push_back(std::move(m));
    }
    return scores;
  }

  /// Forgets everything accumulated (for example to score a different network).
  void reset() {
    state_ = State{};
    last_step_ = -1;
  }

  /// Batches accumulated since construction or `reset()`.
  Index batches() const noexcept { return state_.batches; }
  /// Sum of the `samples` of every batch accumulated.
  double samples() const noexcept { return state_.total; }
  /// The options it was built with.
  const TaylorAccumulatorOptions& options() const noexcept { return options_; }

 private:
  using RowMatrix = Eigen::Matrix<double, Eigen::Dynamic, Eigen::Dynamic, Eigen::RowMajor>;

  struct State {
    Index inputs = 0;                               // network inputs; 0 = nothing accumulated yet
    Index outputs = 0;                              // network outputs
    std::vector<std::vector<std::uint64_t>> ids{};  // per hidden layer: neuron ids, in order
    std::vector<Vector<double>> sums{};             // per hidden layer: Σ samples_b · (Σ_k W G)
    std::vector<Vector<double>> born{};      // per hidden layer: `total` when the neuron appeared
    std::vector<RowMatrix> connections{};    // per dense layer: Σ samples_b · (W ∘ G)
    std::vector<double> connections_born{};  // per dense layer: `total` when it was wired
    double total = 0;                        // Σ samples_b
    Index batches = 0;
    std::uint64_t stamp = 0;  // the network's journal stamp this state is in step with (0: none)
  };

  // The network's journal, when its type keeps one.
  template <class Net>
  static const EditJournal* journal_of(const Net& net) {
    if constexpr (requires {
                    { net.journal() } -> std::convertible_to<const EditJournal&>;
                  }) {
      return &net.journal();
    } else {
      return nullptr;
    }
  }

  // The state brought in step with the network: the journal's edits applied to it, or, where the
  // journal cannot tell, re-keyed by neuron ids.
  template <NetworkOf<T> Net>
  State caught_up(const Net& net) const {
    const EditJournal* journal = journal_of(net);
    const auto edits = journal != nullptr && state_.inputs != 0 && state_.stamp != 0
                           ? journal->since(state_.stamp)
                           : std::nullopt;
    State next = edits ? replayed(*edits) : remapped(net);
    // A replay that does not fit the network (which a correct journal never gives) is not used.
    if (edits && !matches_widths(next, net)) next = remapped(net);
    for (Index h = 0; h < net.hidden_layer_count(); ++h)
      next.ids[static_cast<std::size_t>(h)] = net.neuron_ids(h);
    next.stamp = journal != nullptr ? journal->stamp() : 0;
    return next;
  }

  // The state after `edits`: per-neuron sums follow each edit of their axis; connection sums
  // follow it along the rows of the dense layer that computes the axis and the columns of the one
  // that reads it. Grown neurons start at 0, born now.
  State replayed(std::span<const JournalEntry> edits) const {
    State next = state_;
    for (const JournalEntry& e : edits) {
      const auto h = static_cast<std::size_t>(e.layer);
      if (h >= next.sums.size()) return State{};  // matches no network: re-keyed by ids
      const std::vector<Index> to = e.edit.new_index();
      next.sums[h] = follow(next.sums[h], to, e.edit.new_size(), true, 0.0);
      next.born[h] = follow(next.born[h], to, e.edit.new_size(), true, next.total);
      if (!options_.connections) continue;
      next.connections[h] = follow(next.connections[h], to, e.edit.new_size(), true, 0.0);
      next.connections[h + 1] = follow(next.connections[h + 1], to, e.edit.new_size(), false, 0.0);
    }
    return next;
  }

  // `m` with its rows (or columns) moved to `to[i]` (−1: dropped), `size` of them, the others
  // set to `fill`.
  template <class M>
  static M follow(const M& m, const std::vector<Index>& to, Index size, bool rows, double fill) {
    M out = rows ? M::Constant(size, m.cols(), fill) : M::Constant(m.rows(), size, fill);
    for (std::size_t i = 0; i < to.size(); ++i) {
      if (to[i] < 0) continue;
      if (rows) {
        out.row(to[i]) = m.row(static_cast<Index>(i));
      } else {
        out.col(to[i]) = m.col(static_cast<Index>(i));
      }
    }
    return out;
  }

  template <NetworkOf<T> Net>
  static bool matches_widths(const State& s, const Net& net) {
    if (s.inputs == 0 || static_cast<Index>(s.sums.size()) != net.hidden_layer_count())
      return false;
    for (Index h = 0; h < net.hidden_layer_count(); ++h)
      if (s.sums[static_cast<std::size_t>(h)].size() != net.width(h)) return false;
    return true;
  }

  template <NetworkOf<T> Net>
  void check_network(const Net& net, const char* who, bool scoring = false) const {
    // Scores of nothing would all be 0, and pruning by them would remove arbitrary neurons.
    if (scoring && state_.inputs == 0) {
      detail::fail(who, ": no batch has been accumulated; call add(net) after each backward pass ",
                   "(or use the Taylor criterion on one batch) before scoring");
    }
    if (state_.inputs == 0) return;
    if (net.input_size() != state_.inputs || net.output_size() != state_.outputs) {
      detail::fail(who, ": the network has ", net.input_size(), " inputs and ", net.output_size(),
                   " outputs (sizes ", detail::format_sizes(net.sizes()),
                   ") but the scores were accumulated for ", state_.inputs, " inputs and ",
                   state_.outputs, " outputs; call reset() to start over for another network");
    }
  }

  template <NetworkOf<T> Net>
  static bool matches(const State& s, const Net& net) {
    if (s.inputs == 0 || static_cast<Index>(s.ids.size()) != net.hidden_layer_count()) return false;
    for (Index h = 0; h < net.hidden_layer_count(); ++h)
      if (s.ids[static_cast<std::size_t>(h)] != net.neuron_ids(h)) return false;
    return true;
  }

  // The state re-keyed to the network's current neurons: sums follow neuron ids across moves,
  // removals and inserted or removed layers (ids never move between layers), new neurons and
  // connections start at 0 with `born` = now.
  template <NetworkOf<T> Net>
  State remapped(const Net& net) const {
    const State& old = state_;
    State next;
    next.inputs = net.input_size();
    next.outputs = net.output_size();
    next.total = old.total;
    next.batches = old.batches;
    std::unordered_map<std::uint64_t, std::pair<Index, Index>> where;  // id → (old layer, index)
    for (std::size_t h = 0; h < old.ids.size(); ++h)
      for (std::size_t j = 0; j < old.ids[h].size(); ++j)
        where.emplace(old.ids[h][j], std::pair{static_cast<Index>(h), static_cast<Index>(j)});

    const auto hidden = static_cast<std::size_t>(net.hidden_layer_count());
    std::vector<Index> old_layer(hidden, -1);  // old hidden layer each axis continues, or −1
    std::vector<std::vector<Index>> old_index(hidden);  // per neuron: old index, or −1
    for (std::size_t h = 0; h < hidden; ++h) {
      const auto& ids = net.neuron_ids(static_cast<Index>(h));
      const auto width = static_cast<Index>(ids.size());
      next.ids.push_back(ids);
      next.sums.push_back(Vector<double>::Zero(width));
      next.born.push_back(Vector<double>::Constant(width, old.total));
      old_index[h].assign(ids.size(), -1);
      for (Index j = 0; j < width; ++j) {
        const auto it = where.find(ids[static_cast<std::size_t>(j)]);
        if (it == where.end()) continue;
        const auto [layer, index] = it->second;
        old_layer[h] = layer;
        old_index[h][static_cast<std::size_t>(j)] = index;
        next.sums[h](j) = old.sums[static_cast<std::size_t>(layer)](index);
        next.born[h](j) = old.born[static_cast<std::size_t>(layer)](index);
      }
    }
    if (!options_.connections) return next;

    // Dense layer l connects axis l−1 (or the inputs) to axis l (or the outputs). Its old sums
    // carry over when both axes continue the two axes of one old dense layer.
    const auto old_output_layer = static_cast<Index>(old.ids.size());
    for (std::size_t l = 0; l <= hidden; ++l) {
      const auto w = net.weights(static_cast<Index>(l));
      RowMatrix sums = RowMatrix::Zero(w.rows(), w.cols());
      double born = old.total;
      if (old.inputs != 0) {
        const Index from_rows = l == hidden ? old_output_layer : old_layer[l];
        const Index from_cols = l == 0 ? 0 : (old_layer[l - 1] < 0 ? -1 : old_layer[l - 1] + 1);
        if (from_rows >= 0 && from_rows == from_cols) {
          const auto& prev = old.connections[static_cast<std::size_t>(from_rows)];
          born = old.connections_born[static_cast<std::size_t>(from_rows)];
          for (Index r = 0; r < sums.rows(); ++r) {
            const Index pr = l == hidden ? r : old_index[l][static_cast<std::size_t>(r)];
            if (pr < 0) continue;
            for (Index c = 0; c < sums.cols(); ++c) {
              const Index pc = l == 0 ? c : old_index[l - 1][static_cast<std::size_t>(c)];
              if (pc >= 0) sums(r, c) = prev(pr, pc);
            }
          }
        }
      }
      next.connections.push_back(std::move(sums));
      next.connections_born.push_back(born);
    }
    return next;
  }

  // Adds one batch's terms `t`, weighted by `weight`, as the aggregation says; the |·| of
  // abs_of_sum comes when scoring.
  template <class Sum, class Terms>
  void accumulate(Sum& sum, double weight, const Terms& t) const {
    switch (options_.aggregation) {
      case TaylorAggregation::abs_of_sum: sum += weight * t; break;
      case TaylorAggregation::mean_abs: sum += weight * t.cwiseAbs(); break;
      case TaylorAggregation::mean_square: sum += weight * t.cwiseAbs2(); break;
    }
  }

  TaylorAccumulatorOptions options_{};
  std::int64_t last_step_ = -1;  // training_steps() at the last add
  State state_{};
};

}  // namespace neuroplast
