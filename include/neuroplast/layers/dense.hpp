#pragma once
/// \file
/// A fully connected layer whose two neuron axes (inputs and outputs) can be edited in place.

#include <algorithm>
#include <cassert>

#include "neuroplast/core/axis_edit.hpp"
#include "neuroplast/core/gemm.hpp"
#include "neuroplast/core/param.hpp"
#include "neuroplast/core/sparse_product.hpp"
#include "neuroplast/layers/activation.hpp"

namespace neuroplast {

/// Which tensor of a layer a Param is; optimizers use it (weight decay applies to weights only).
enum class ParamKind { weight, bias };

/// Mutable view of a weight matrix (row-major: each output neuron's fan-in is contiguous).
template <Scalar T>
using WeightView = typename ParamMatrix<T>::View;
/// Read-only view of a weight matrix.
template <Scalar T>
using ConstWeightView = typename ParamMatrix<T>::ConstView;

/// The parameters of a dense layer, independent of its activation: weights `W` (`outputs ×
/// inputs`, with a connection mask of the same shape) and bias `b` (`outputs`). Rows of W and b are
/// the layer's output neuron axis, columns of W its input axis.
template <Scalar T>
class DenseParams {
 public:
  using scalar = T;  ///< element type of every tensor

  DenseParams() = default;
  /// Zero weights and bias for a layer `inputs → outputs`, all connections active.
  DenseParams(Index inputs, Index outputs)
      : weight_(outputs, inputs, true), bias_(outputs, 1, false) {}

  Index inputs() const noexcept { return weight_.cols(); }   ///< width of the input axis
  Index outputs() const noexcept { return weight_.rows(); }  ///< width of the output axis
  /// Weights plus biases, masked connections included.
  Index parameter_count() const noexcept { return outputs() * inputs() + outputs(); }

  /// W, `outputs × inputs`. Entries where the connection mask is 0 must stay 0; after writing into
  /// them call `apply_mask()`.
  WeightView<T> weights() noexcept { return weight_.value.view(); }
  /// W, `outputs × inputs`, read-only.
  ConstWeightView<T> weights() const noexcept { return weight_.value.view(); }
  /// b, `outputs`.
  VectorView<T> bias() noexcept { return VectorView<T>(bias_.value.data(), outputs()); }
  /// b, `outputs`, read-only.
  ConstVectorView<T> bias() const noexcept {
    return ConstVectorView<T>(bias_.value.data(), outputs());
  }
  /// Connection mask, `outputs × inputs`: 1 = active, 0 = pruned (a copy: until the first prune
  /// no mask is stored and every connection is active).
  Matrix<T> connection_mask() const {
    if (!weight_.has_mask()) return Matrix<T>::Ones(outputs(), inputs());
    return weight_.mask.view();
  }
  /// Number of pruned connections (counted from the mask's bits, which exist while it is masked).
  Index pruned_count() const {
    return weight_.masked ? outputs() * inputs() - weight_.mask_bits.count() : 0;
  }
  /// dLoss/dW of the last backward pass, `outputs × inputs`.
  ConstWeightView<T> weight_gradient() const noexcept { return weight_.grad.view(); }
  /// dLoss/db of the last backward pass, `outputs`.
  ConstVectorView<T> bias_gradient() const noexcept {
    return ConstVectorView<T>(bias_.grad.data(), outputs());
  }

  /// Plasticity of each output neuron, `outputs` values in [0, 1] (all 1 unless set): the factor
  /// on every update of the neuron's fan-in row and bias.
  Vector<T> plasticity() const {
    if (weight_.row_plasticity.empty()) return Vector<T>::Ones(outputs());
    return ConstVectorView<T>(weight_.row_plasticity.data(), outputs());
  }
  /// Sets the plasticity of every output neuron (`outputs` values; the caller checks them). All
  /// ones drops the per-row values, so optimizers take their unscaled path again — unless
  /// `keep_ones` (a loader keeps what the file holds, so it saves back to the same bytes).
  void set_plasticity(const Vector<T>& values, bool keep_ones = false) {
    std::vector<T> rows;
    if (keep_ones || !(values.array() == T(1)).all()) {
      // −0 is stored as +0, so a loaded file saves back to the same bytes.
      rows.resize(static_cast<std::size_t>(values.size()));
      for (Index r = 0; r < values.size(); ++r)
        rows[static_cast<std::size_t>(r)] = values(r) == T(0) ? T(0) : values(r);
    }
    weight_.row_plasticity = rows;
    bias_.row_plasticity = std::move(rows);
  }
  /// Whether some output neuron is frozen (plasticity 0).
  bool has_frozen() const {
    const auto& p = weight_.row_plasticity;
    return std::find(p.begin(), p.end(), T(0)) != p.end();
  }

  /// W with its gradient, mask and optimizer state, `outputs × inputs`.
  Param<T>& weight_param() noexcept { return weight_; }
  /// W with its gradient, mask and optimizer state, `outputs × inputs`, read-only.
  const Param<T>& weight_param() const noexcept { return weight_; }
  /// b with its gradient and optimizer state, `outputs × 1`.
  Param<T>& bias_param() noexcept { return bias_; }
  /// b with its gradient and optimizer state, `outputs × 1`, read-only.
  const Param<T>& bias_param() const noexcept { return bias_; }

  /// Calls `f(Param<T>&, ParamKind)` for W, then b.
  template <class F>
  void for_each_param(F&& f) {
    f(weight_, ParamKind::weight);
    f(bias_, ParamKind::bias);
  }

  /// Edits the output axis: rows of W and b, in every plane.
  void apply_output_edit(const AxisEdit& edit, GrowValues values = GrowValues::zero) {
    weight_.apply(edit, Dim::rows, values);
    bias_.apply(edit, Dim::rows, values);
  }
  /// Edits the input axis: columns of W, in every plane.
  void apply_input_edit(const AxisEdit& edit, GrowValues values = GrowValues::zero) {
    weight_.apply(edit, Dim::cols, values);
  }

  /// Reserves room for `outputs × inputs` in every plane.
  void reserve(Index inputs, Index outputs) {
    weight_.reserve(outputs, inputs);
    bias_.reserve(outputs, 1);
  }

  /// Re-zeroes weights, gradients and optimizer state where the mask is 0.
  void apply_mask() { weight_.apply_mask(); }

 private:
  Param<T> weight_;
  Param<T> bias_;
};

namespace detail {

/// Whether a policy may remove neuron j of the axis between `in` (its fan-in row j) and `out`
/// (its fan-out column j) without changing a frozen neuron (plasticity 0): j is not frozen
/// itself, and no frozen neuron of `out` reads it with a nonzero weight.
template <Scalar T>
bool may_remove_neuron(const DenseParams<T>& in, const DenseParams<T>& out, Index j) {
  if (in.weight_param().plasticity(j) == T(0)) return false;
  if (!out.has_frozen()) return true;
  const auto w = out.weights();
  for (Index i = 0; i < out.outputs(); ++i)
    if (out.weight_param().plasticity(i) == T(0) && w(i, j) != T(0)) return false;
  return true;
}

/// Calls `f(c0, c1)` on disjoint column ranges covering a `rows × cols` batch, split over threads
/// by the element-wise rule (core/threading.hpp): the passes between the products of a layer (the
/// bias, the activation and its derivative) run on every thread that rule allows. Element-wise,
/// so the split changes no bit.
template <class F>
void for_column_ranges(Index rows, Index cols, const F& f) {
  parallel_rows(cols, rows, f);
}

/// out = f(alpha · W in + b) for a row-major `W` (`rows × cols`, pointer and outer stride) and a
/// bias of `rows` entries. `alpha` carries dropout scales folded into the product for free. With
/// `sparse` (W's active connections), the product visits only those, read from `packed` (the
/// active weights in the pattern's order) when given, else from W.
template <class Act, Scalar T>
void dense_forward(const T* w, Index w_stride, Index rows, Index cols, const T* bias,
                   const MatrixRef<T>& in, MatrixView<T> out, T alpha, GemmWorkspace<T>& gemm_ws,
                   const SparsePattern* sparse = nullptr, const T* packed = nullptr) {
  if (sparse == nullptr) {
    // Each block of `out` starts from the broadcast bias, the GEMM accumulates onto it, and the
    // activation follows, all on the thread computing the block (gemm's hooks). W is row-major,
    // i.e. the column-major storage of Wᵀ: hence Op::transpose.
    const auto block = [&](Index r0, Index r1, Index c0, Index c1) {
      return out.block(r0, c0, r1 - r0, c1 - c0);
    };
    const auto hooks = block_hooks(
        [&](Index r0, Index r1, Index c0, Index c1) {
          block(r0, r1, c0, c1).colwise() = ConstVectorView<T>(bias + r0, r1 - r0);
        },
        [&](Index r0, Index r1, Index c0, Index c1) {
          if constexpr (!std::is_same_v<Act, Identity>) {
            auto b = block(r0, r1, c0, c1).array();
            b = Act::apply(b);
          }
        });
    gemm<Op::transpose, Op::none>(rows, out.cols(), cols, w, w_stride, in.data(), in.outerStride(),
                                  out.data(), out.outerStride(), alpha, gemm_ws, false,
                                  NoEpilogue{}, hooks);
    return;
  }
  sparse_forward_product(*sparse, packed != nullptr ? packed : w, w_stride, bias, in, out, alpha,
                         gemm_ws, packed != nullptr);
  if constexpr (!std::is_same_v<Act, Identity>) {
    for_column_ranges(out.rows(), out.cols(), [&](Index c0, Index c1) {
      auto block = out.middleCols(c0, c1 - c0).array();
      block = Act::apply(block);
    });
  }
}

/// Backward of dense_forward. On entry `delta` holds dLoss/d`out`, on exit dLoss/dz. Writes
/// dLoss/dW = alpha · dZ inᵀ into the row-major `grad_w` (`rows × cols`), dLoss/db into `grad_b`,
/// and, when `delta_in` is given, dLoss/d`in` = alpha · Wᵀ dZ. With `sparse` (W's active
/// connections), only those are visited and only their gradient entries written; otherwise, with
/// `gradient_mask` (W's mask bits, `rows × cols`), dW is multiplied by the mask block by block of
/// rows, each just after the product wrote it (`gemm`'s epilogue).
template <class Act, Scalar T>
void dense_backward(const T* w, Index w_stride, Index rows, Index cols, const MatrixRef<T>& in,
                    const ConstMatrixView<T>& out, MatrixView<T> delta, T* grad_w,
                    Index grad_stride, T* grad_b, MatrixView<T>* delta_in, T alpha,
                    GemmWorkspace<T>& gemm_ws, const SparsePattern* sparse = nullptr,
                    const MaskBits* gradient_mask = nullptr) {
  if (sparse != nullptr) {
    if constexpr (!std::is_same_v<Act, Identity>) {
      for_column_ranges(delta.rows(), delta.cols(), [&](Index c0, Index c1) {
        delta.middleCols(c0, c1 - c0).array() *=
            Act::derivative(out.middleCols(c0, c1 - c0).array());
      });
    }
    sparse_backward_product(*sparse, w, w_stride, in, MatrixRef<T>(delta), grad_w, grad_stride,
                            delta_in, alpha, gemm_ws);
    VectorView<T>(grad_b, rows).noalias() = delta.rowwise().sum();
    return;
  }
  // The row-major dW is the column-major dWᵀ = in dZᵀ, split by its columns (dZ's rows, the
  // layer's neurons): each block of them turns dLoss/d`out` into dZ just before its product reads
  // it, on the thread computing it (gemm's hooks; whole columns, so each neuron's row once). A
  // block of dWᵀ's columns is a block of rows of dW, masked while the product has just left it in
  // cache.
  const auto hooks = block_hooks(
      [&](Index, Index, Index c0, Index c1) {
        if constexpr (!std::is_same_v<Act, Identity>) {
          delta.middleRows(c0, c1 - c0).array() *=
              Act::derivative(out.middleRows(c0, c1 - c0).array());
        }
      },
      [](Index, Index, Index, Index) {});
  if (gradient_mask != nullptr) {
    gemm<Op::none, Op::transpose>(
        cols, rows, delta.cols(), in.data(), in.outerStride(), delta.data(), delta.outerStride(),
        grad_w, grad_stride, alpha, gemm_ws, true,
        [&](Index r0, Index r1) { gradient_mask->multiply_rows(grad_w, grad_stride, r0, r1); },
        hooks);
  } else {
    gemm<Op::none, Op::transpose>(cols, rows, delta.cols(), in.data(), in.outerStride(),
                                  delta.data(), delta.outerStride(), grad_w, grad_stride, alpha,
                                  gemm_ws, true, NoEpilogue{}, hooks);
  }
  VectorView<T>(grad_b, rows).noalias() = delta.rowwise().sum();
  if (delta_in != nullptr) {
    gemm<Op::none, Op::none>(cols, delta_in->cols(), rows, w, w_stride, delta.data(),
                             delta.outerStride(), delta_in->data(), delta_in->outerStride(), alpha,
                             gemm_ws, true);
  }
}

}  // namespace detail

/// Weights a pass multiplies with instead of a layer's own: a row-major `rows × cols` block (its
/// pointer and outer stride) and `rows` biases. The dropout engine substitutes gathered or masked
/// copies this way (network/dropout_engine.hpp).
template <Scalar T>
struct DenseOperand {
  const T* weights = nullptr;  ///< row-major `rows × cols`
  Index stride = 0;            ///< outer stride of `weights`
  Index rows = 0;              ///< outputs computed (≤ the layer's outputs)
  Index cols = 0;              ///< inputs read (≤ the layer's inputs)
  const T* bias = nullptr;     ///< `rows` biases
};

/// Where a backward pass against a substituted DenseOperand writes its gradients: a row-major
/// `rows × cols` block (pointer, outer stride) and `rows` bias entries, in the operand's shape.
template <Scalar T>
struct DenseGradient {
  T* weights = nullptr;  ///< row-major, the operand's shape
  Index stride = 0;      ///< outer stride of `weights`
  T* bias = nullptr;     ///< the operand's `rows` entries
};

/// A dense layer `a = f(W x + b)` with activation policy `Act`. Inputs and outputs are batches,
/// one sample per column: `x` is `inputs × batch`, `a` is `outputs × batch`.
template <Scalar T, Activation Act>
class Dense : public DenseParams<T> {
 public:
  using activation = Act;  ///< the activation policy f
  using DenseParams<T>::DenseParams;

  /// out = f(alpha · W in + b). `in`: `inputs × batch`; `out`: an `outputs × batch` view that must
  /// not alias `in`. `alpha` folds a dropout scale into the product for free. With `substitute`,
  /// the product uses its weights and biases instead (then `in` has its `cols` rows and `out` its
  /// `rows` rows). Allocation-free once `gemm_ws` has seen a product of this size.
  void forward(const MatrixRef<T>& in, MatrixView<T> out, T alpha, GemmWorkspace<T>& gemm_ws,
               const DenseOperand<T>* substitute = nullptr) const {
    const DenseOperand<T> w = substitute != nullptr ? *substitute : own_operand();
    detail::dense_forward<Act>(w.weights, w.stride, w.rows, w.cols, w.bias, in, out, alpha, gemm_ws,
                               substitute != nullptr ? nullptr : sparse_for(in.cols()));
  }

  /// Backward pass for the batch `in` whose forward output was `out`.
  /// On entry `delta` (`outputs × batch`) holds dLoss/d`out`; on exit it holds dLoss/dz. Sets the
  /// weight gradient alpha · dZ inᵀ (zero where masked) and the bias gradient (row sums of dZ),
  /// and, when `delta_in` is given, writes dLoss/d`in` = alpha · Wᵀ dZ into it (`inputs ×
  /// batch`). With `substitute` (the operand of the forward pass), the gradients of its entries
  /// go to `into` instead, unmasked: the caller scatters them into the layer's planes.
  void backward(const MatrixRef<T>& in, const ConstMatrixView<T>& out, MatrixView<T> delta,
                MatrixView<T>* delta_in, T alpha, GemmWorkspace<T>& gemm_ws,
                const DenseOperand<T>* substitute = nullptr,
                const DenseGradient<T>* into = nullptr) {
    Param<T>& p = this->weight_param();
    if (substitute != nullptr) {
      const DenseOperand<T>& w = *substitute;
      detail::dense_backward<Act>(w.weights, w.stride, w.rows, w.cols, in, out, delta,
                                  into->weights, into->stride, into->bias, delta_in, alpha,
                                  gemm_ws);
      return;
    }
    const DenseOperand<T> w = own_operand();
    const SparsePattern* sparse = sparse_for(in.cols());
    // A sparse product computes only the active entries; a dense one masks the rest per block.
    assert(!p.masked || (p.mask_bits.rows == p.rows() && p.mask_bits.cols == p.cols()));
    detail::dense_backward<Act>(w.weights, w.stride, w.rows, w.cols, in, out, delta, p.grad.data(),
                                p.grad.outer_stride(), this->bias_param().grad.data(), delta_in,
                                alpha, gemm_ws, sparse,
                                sparse == nullptr && p.masked ? &p.mask_bits : nullptr);
  }

  /// The active connections the products over a batch of `batch` samples visit instead of the
  /// whole of W, or nullptr when the dense GEMM is faster (`sparse_product_pays`) or nothing is
  /// pruned.
  const SparsePattern* sparse_for(Index batch) const {
    const SparsePattern& p = this->weight_param().active;
    assert(p.empty() || (p.rows == this->outputs() && p.cols == this->inputs()));
    return this->weight_param().computes_sparse() && sparse_product_pays(p.density(), batch)
               ? &p
               : nullptr;
  }

 private:
  DenseOperand<T> own_operand() const {
    const auto w = this->weights();
    return {.weights = w.data(),
            .stride = w.outerStride(),
            .rows = w.rows(),
            .cols = w.cols(),
            .bias = this->bias().data()};
  }
};

}  // namespace neuroplast
