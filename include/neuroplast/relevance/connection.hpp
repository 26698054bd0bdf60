#pragma once
/// \file
/// Connection relevance: how much of output neuron j's relevance flows through weight w_ji of a
/// dense layer. Algorithm 3 of the paper masks the "useless weight positions" found this way.
///
/// For a sample, R_ji is the term of the layer's rule that sends relevance from j to i, e.g.
/// R_ji = w_ji a_i / (z_j ± ε) · R_j for ε. Summed over the inputs i it gives the share of R_j
/// that reaches the layer's inputs (all of R_j for a conserving rule); summed over j it gives the
/// relevance R_i of input i. Masked connections hold exact zeros as weights, so their relevance
/// is exactly 0 under every rule (flat uses the mask itself).

#include <span>
#include <type_traits>
#include <vector>

#include "neuroplast/relevance/explain.hpp"

namespace neuroplast::lrp {

/// Connection relevance of one dense layer over a batch; both matrices have the shape of
/// `weights(l)`, `sizes()[l+1] × sizes()[l]`.
template <Scalar T>
struct ConnectionRelevance {
  Matrix<T> mean;      ///< mean over the batch of R_ji
  Matrix<T> mean_abs;  ///< mean over the batch of |R_ji|
  Index samples = 0;   ///< batch size the means are taken over
};

/// Relevance of every connection of dense layer `l` for one sample `x` (`sizes()[0]`) and class
/// `target` (−1 = predicted), shape of `weights(l)`. Row j sums to the relevance neuron j sends
/// down; column i sums to the relevance input i of the layer receives. Throws Error on a bad layer
/// and as `explain`.
template <Network Net, Rule R>
Matrix<scalar_of<Net>> connection_relevance(const Net& net, Index l,
                                            const Eigen::Ref<const Vector<scalar_of<Net>>>& x,
                                            const R& rule, int target = -1) {
  using T = scalar_of<Net>;
  constexpr const char* who = "lrp::connection_relevance";
  detail::validate_rule(rule, who);
  detail::check_layer(net, l, who);
  const MatrixRef<T> X(x);
  detail::check_batch(net, X, who, "x");
  const int targets[1] = {target};
  detail::check_targets(targets, 1, net.output_size(), who);
  detail::RowMatrix<T> sum;
  detail::propagate(net, X, rule, targets, l, false,
                    [&](Index k, const auto& d, const auto& data, const auto& s) {
                      if (k == l) detail::add_connection_relevance(d, data, s, &sum, nullptr);
                    });
  return sum;
}

/// Mean and mean absolute connection relevance of dense layer `l` over a batch `X`
/// (`sizes()[0] × batch`), one target per column (−1 = that column's predicted class). One pass
/// of matrix products for the whole batch. Throws as `connection_relevance` and `explain_batch`.
template <Network Net, Rule R>
ConnectionRelevance<scalar_of<Net>> connection_relevance_batch(const Net& net, Index l,
                                                               const MatrixRef<scalar_of<Net>>& X,
                                                               const R& rule,
                                                               std::span<const int> targets) {
  using T = scalar_of<Net>;
  constexpr const char* who = "lrp::connection_relevance_batch";
  detail::validate_rule(rule, who);
  detail::check_layer(net, l, who);
  detail::check_batch(net, X, who, "X");
  detail::check_targets(targets, X.cols(), net.output_size(), who);
  detail::RowMatrix<T> sum;
  detail::RowMatrix<T> abs_sum;
  detail::propagate(net, X, rule, targets, l, false,
                    [&](Index k, const auto& d, const auto& data, const auto& s) {
                      if (k == l) detail::add_connection_relevance(d, data, s, &sum, &abs_sum);
                    });
  const T scale = T(1) / static_cast<T>(X.cols());
  return ConnectionRelevance<T>{sum * scale, abs_sum * scale, X.cols()};
}

/// As above with the same `target` for every column (default −1: each column's predicted class).
template <Network Net, Rule R>
ConnectionRelevance<scalar_of<Net>> connection_relevance_batch(const Net& net, Index l,
                                                               const MatrixRef<scalar_of<Net>>& X,
                                                               const R& rule, int target = -1) {
  const std::vector<int> targets(static_cast<std::size_t>(X.cols()), target);
  return connection_relevance_batch(net, l, X, rule, std::span<const int>(targets));
}

}  // namespace neuroplast::lrp
