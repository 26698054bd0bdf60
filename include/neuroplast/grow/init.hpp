#pragma once
/// \file
/// GradMax, the initialiser for new neurons that needs the network's forward and backward passes,
/// and (through network/initializers.hpp) every other initialiser.

#include <Eigen/Eigenvalues>
#include <span>
#include <string_view>

#include "neuroplast/core/error.hpp"
#include "neuroplast/core/rng.hpp"
#include "neuroplast/loss/loss_function.hpp"
#include "neuroplast/network/initializers.hpp"
#include "neuroplast/network/workspace.hpp"

namespace neuroplast::init {

/// GradMax: new neurons start with zero fan-in and a fan-out chosen to maximise the gradient of
/// their fan-in on a batch, so they start learning where the loss wants them to.
///
/// With zero fan-in, a new neuron j outputs the constant f(β) (β its bias) and its fan-in gradient
/// is f'(β) v_jᵀ G with G = (1/B) Σ_b δ_b a_bᵀ, where δ_b = dLoss/dz of layer h+1 and a_b the
/// input of layer h for sample b. Maximising Σ_j ‖v_jᵀ G‖² under ‖v_j‖ = `scale` gives the top
/// left singular vectors of G (eigenvectors of G Gᵀ); neurons beyond its rank get random unit
/// directions. The constant output f(β) v_j is subtracted from the next layer's bias, so the
/// network's function is unchanged. For the ReLU family β = `relu_bias` > 0 (ReLU'(0) is 0 here),
/// otherwise β = 0.
///
/// `inputs` (features × batch) and `labels` (one per column) are the batch; `loss` the loss used
/// in training. Growing with GradMax runs one forward and backward pass, overwriting the
/// network's gradients.
template <Scalar T>
struct GradMax {
  static constexpr std::string_view name = "gradmax";  ///< recorded in edits and files
  const Matrix<T>* inputs = nullptr;  ///< the batch, `input_size × batch`; not owned
  std::span<const int> labels{};      ///< class label of each column of `inputs`; not owned
  /// The loss used in training (one that reads class labels: the batch has no other targets).
  LossFunction loss = LossKind::softmax_cross_entropy;
  double scale = 1e-2;      ///< norm ‖v_j‖ of each new fan-out, > 0
  double relu_bias = 1e-2;  ///< β of the new neurons for the ReLU family, > 0

  /// Throws Error unless the batch is set and matches `net` (inputs, one label per column, labels
  /// in 0 … output_size − 1) and `scale` and `relu_bias` are finite and > 0.
  template <class Net>
  void validate(const Net& net, Index, Index) const {
    if (inputs == nullptr) {
      neuroplast::detail::fail(
          "init::GradMax needs a batch: set .inputs (features × batch) and .labels");
    }
    if (inputs->rows() != net.input_size() || inputs->cols() == 0) {
      neuroplast::detail::fail("init::GradMax: the batch is ",
                               neuroplast::detail::format_shape(inputs->rows(), inputs->cols()),
                               " but the network expects ", net.input_size(), " × batch");
    }
    if (static_cast<Index>(labels.size()) != inputs->cols()) {
      neuroplast::detail::fail("init::GradMax: ", labels.size(), " labels for a batch of ",
                               inputs->cols(), " samples");
    }
    for (int y : labels)
      if (y < 0 || y >= net.output_size())
        neuroplast::detail::fail("init::GradMax: label ", y, " outside [0, ", net.output_size(),
                                 ")");
    if (!(scale > 0 && std::isfinite(scale)))
      neuroplast::detail::fail("init::GradMax: scale = ", scale, " must be > 0");
    if (!(relu_bias > 0 && std::isfinite(relu_bias))) {
      neuroplast::detail::fail("init::GradMax: relu_bias = ", relu_bias, " must be > 0");
    }
  }

  /// Writes the new neurons of `site` (zero fan-in, bias β, GradMax fan-out) and folds their
  /// constant output into the bias of dense layer h+1; runs a forward and backward pass.
  template <class Net>
  void initialise(GrowthSite<Net>& site) const {
    using Act = typename Net::activation;
    const T beta = Act::relu_family ? static_cast<T>(relu_bias) : T(0);
    site.zero_fan_in();
    site.new_bias().setConstant(beta);
    site.zero_fan_out();
    // With zero fan-out the new neurons do not change the output, so this pass sees the gradient
    // of the network as it was.
    Workspace<T> ws;
    const auto logits = site.net.forward_train(*inputs, ws);
    auto g = ws.output_gradient();
    const Targets<T> targets{.labels = labels};
    loss.evaluate(logits, targets, &g);
    site.net.backward(*inputs, ws);
    const auto h = static_cast<std::size_t>(site.hidden_layer);
    const Matrix<T> delta = ws.delta(h + 1);  // dLoss/dz of layer h+1 (fan_out × batch)
    const Matrix<T> a = h == 0 ? Matrix<T>(*inputs) : Matrix<T>(ws.activation(h - 1));
    const Matrix<T> G = delta * a.transpose() / static_cast<T>(inputs->cols());
    Eigen::SelfAdjointEigenSolver<Matrix<T>> eig(G * G.transpose());
    const Index rank = std::min(site.count, site.fan_out());
    auto v = site.new_fan_out();
    for (Index j = 0; j < rank; ++j)
      v.col(j) = static_cast<T>(scale) * eig.eigenvectors().col(site.fan_out() - 1 - j);
    for (Index j = rank; j < site.count; ++j) {
      Vector<T> d(site.fan_out());
      for (Index r = 0; r < d.size(); ++r) d(r) = static_cast<T>(site.rng.normal());
      v.col(j) = static_cast<T>(scale) * d.normalized();
    }
    // The new neurons output the constant f(β); fold it into the next bias.
    const Eigen::Array<T, 1, 1> fb = Act::apply(Eigen::Array<T, 1, 1>::Constant(beta));
    site.out.bias() -= v.rowwise().sum() * fb(0);
  }
};

}  // namespace neuroplast::init
