#pragma once
/// \file
/// `save_onnx`: a network as an ONNX model (opset 13), for ONNX Runtime and every tool that reads
/// ONNX.
///
/// The graph computes what `Mlp::forward` computes, one sample per row: input `input`, float,
/// shape (batch, sizes()[0]) with a symbolic batch dimension named "batch"; then per dense layer l
/// a `Gemm` (A · Wᵀ + b: transB = 1, with initialisers `layers.{l}.weight` of shape
/// (sizes()[l+1], sizes()[l]) and `layers.{l}.bias` of shape (sizes()[l+1])), followed on hidden
/// layers by the activation (`Relu`, `LeakyRelu` with alpha 0.01, `Tanh`, `Sigmoid`; none for
/// Identity); output `logits`, float, (batch, sizes().back()). Pruned connections are zero
/// weights; a layer the paper's dropout convention scales at inference has the scale folded into
/// its weights. Double networks are written in float (their weights rounded to float), since the
/// graph's input is float.
///
/// The protobuf encoding is written directly (no protobuf dependency): ModelProto with IR version 7
/// (the one that goes with opset 13), producer "neuroplast", one GraphProto.

#include <bit>
#include <cstdint>
#include <initializer_list>
#include <string>
#include <string_view>
#include <type_traits>
#include <vector>

#include "neuroplast/core/error.hpp"
#include "neuroplast/io/atomic_file.hpp"
#include "neuroplast/network/check_batch.hpp"
#include "neuroplast/network/mlp.hpp"
#include "neuroplast/network/network.hpp"
#include "neuroplast/version.hpp"

namespace neuroplast {

/// ONNX operator set the exported graphs use.
inline constexpr std::int64_t kOnnxOpset = 13;

namespace detail {

/// A protobuf message under construction: fields appended in order, each with its tag.
class ProtoMessage {
 public:
  void varint(int field, std::uint64_t value) {
    tag(field, 0);
    raw_varint(value);
  }
  void bytes(int field, std::string_view value) {
    tag(field, 2);
    raw_varint(value.size());
    out_.append(value);
  }
  void message(int field, const ProtoMessage& m) { bytes(field, m.out_); }
  void fixed32_float(int field, float value) {
    tag(field, 5);
    const auto bits = std::bit_cast<std::uint32_t>(value);
    for (int i = 0; i < 4; ++i) out_.push_back(static_cast<char>((bits >> (8 * i)) & 0xFF));
  }
  const std::string& encoded() const noexcept { return out_; }

 private:
  void tag(int field, int wire_type) {
    raw_varint((static_cast<std::uint64_t>(field) << 3) | static_cast<std::uint64_t>(wire_type));
  }
  void raw_varint(std::uint64_t v) {
    while (v >= 0x80) {
      out_.push_back(static_cast<char>((v & 0x7F) | 0x80));
      v >>= 7;
    }
    out_.push_back(static_cast<char>(v));
  }
  std::string out_;
};

// Field numbers and enumerations of onnx.proto that the exporter uses.
namespace onnx_field {
inline constexpr int model_ir_version = 1, model_producer_name = 2, model_producer_version = 3,
                     model_graph = 7, model_opset_import = 8;
inline constexpr int opset_domain = 1, opset_version = 2;
inline constexpr int graph_node = 1, graph_name = 2, graph_initializer = 5, graph_input = 11,
                     graph_output = 12;
inline constexpr int node_input = 1, node_output = 2, node_name = 3, node_op_type = 4,
                     node_attribute = 5;
inline constexpr int attribute_name = 1, attribute_f = 2, attribute_i = 3, attribute_type = 20;
inline constexpr int attribute_type_float = 1, attribute_type_int = 2;
inline constexpr int tensor_dims = 1, tensor_data_type = 2, tensor_name = 8, tensor_raw_data = 9;
inline constexpr int elem_float = 1;
inline constexpr int value_info_name = 1, value_info_type = 2;
inline constexpr int type_tensor = 1, tensor_type_elem = 1, tensor_type_shape = 2;
inline constexpr int shape_dim = 1, dim_value = 1, dim_param = 2;
inline constexpr std::int64_t ir_version = 7;
}  // namespace onnx_field

/// The ONNX operator for activation `Act`, or "" for none (Identity).
template <Activation Act>
constexpr std::string_view onnx_activation() {
  if constexpr (std::is_same_v<Act, Relu>) return "Relu";
  if constexpr (std::is_same_v<Act, LeakyRelu>) return "LeakyRelu";
  if constexpr (std::is_same_v<Act, Tanh>) return "Tanh";
  if constexpr (std::is_same_v<Act, Sigmoid>) return "Sigmoid";
  if constexpr (std::is_same_v<Act, Identity>) return "";
  static_assert(std::is_same_v<Act, Relu> || std::is_same_v<Act, LeakyRelu> ||
                    std::is_same_v<Act, Tanh> || std::is_same_v<Act, Sigmoid> ||
                    std::is_same_v<Act, Identity>,
                "save_onnx: this activation has no ONNX operator here (Relu, LeakyRelu, Tanh, "
                "Sigmoid and Identity do)");
  return "";
}

/// A float tensor value description: `name`, shape (batch, features), batch symbolic.
inline ProtoMessage onnx_batch_value(std::string_view name, Index features) {
  using namespace onnx_field;
  ProtoMessage batch, width, shape, tensor, type, info;
  batch.bytes(dim_param, "batch");
  width.varint(dim_value, static_cast<std::uint64_t>(features));
  shape.message(shape_dim, batch);
  shape.message(shape_dim, width);
  tensor.varint(tensor_type_elem, elem_float);
  tensor.message(tensor_type_shape, shape);
  type.message(type_tensor, tensor);
  info.bytes(value_info_name, name);
  info.message(value_info_type, type);
  return info;
}

/// A float initializer `name` with `dims`, holding `values` (row-major) as raw little-endian data.
inline ProtoMessage onnx_initializer(std::string_view name, std::initializer_list<Index> dims,
                                     const std::vector<float>& values) {
  using namespace onnx_field;
  ProtoMessage t;
  for (Index d : dims) t.varint(tensor_dims, static_cast<std::uint64_t>(d));
  t.varint(tensor_data_type, elem_float);
  t.bytes(tensor_name, name);
  std::string raw;
  raw.reserve(values.size() * 4);
  for (float v : values) {
    const auto bits = std::bit_cast<std::uint32_t>(v);
    for (int i = 0; i < 4; ++i) raw.push_back(static_cast<char>((bits >> (8 * i)) & 0xFF));
  }
  t.bytes(tensor_raw_data, raw);
  return t;
}

/// A node `op` named `name` from `inputs` to `output`.
inline ProtoMessage onnx_node(std::string_view op, const std::string& name,
                              std::initializer_list<std::string> inputs,
                              const std::string& output) {
  using namespace onnx_field;
  ProtoMessage n;
  for (const std::string& in : inputs) n.bytes(node_input, in);
  n.bytes(node_output, output);
  n.bytes(node_name, name);
  n.bytes(node_op_type, op);
  return n;
}

/// The bytes `save_onnx` writes.
template <Network Net>
std::vector<unsigned char> onnx_bytes(const Net& net) {
  using T = scalar_of<Net>;
  using Act = activation_of<Net>;
  using namespace onnx_field;
  ProtoMessage graph;
  std::vector<ProtoMessage> initializers;
  std::string current = "input";
  for (Index l = 0; l < net.layer_count(); ++l) {
    const std::string prefix = "layers." + std::to_string(l) + ".";
    const bool last = l + 1 == net.layer_count();
    // What forward computes: inference_scale · W a + b (the paper's dropout convention scales the
    // product), so the scale goes into the weights.
    const T alpha = net.inference_scale(l);
    const auto w = net.weights(l);
    std::vector<float> weights;
    weights.reserve(static_cast<std::size_t>(w.size()));
    for (Index r = 0; r < w.rows(); ++r)
      for (Index c = 0; c < w.cols(); ++c) weights.push_back(static_cast<float>(alpha * w(r, c)));
    const auto b = net.bias(l);
    std::vector<float> bias(static_cast<std::size_t>(b.size()));
    for (Index r = 0; r < b.size(); ++r)
      bias[static_cast<std::size_t>(r)] = static_cast<float>(b(r));
    initializers.push_back(onnx_initializer(prefix + "weight", {w.rows(), w.cols()}, weights));
    initializers.push_back(onnx_initializer(prefix + "bias", {b.size()}, bias));

    constexpr std::string_view act = onnx_activation<Act>();
    const std::string z = last ? "logits" : (act.empty() ? "h" : "z") + std::to_string(l);
    ProtoMessage gemm =
        onnx_node("Gemm", prefix + "gemm", {current, prefix + "weight", prefix + "bias"}, z);
    ProtoMessage trans_b;
    trans_b.bytes(attribute_name, "transB");
    trans_b.varint(attribute_i, 1);
    trans_b.varint(attribute_type, attribute_type_int);
    gemm.message(node_attribute, trans_b);
    graph.message(graph_node, gemm);
    current = z;
    if (last || act.empty()) continue;
    const std::string h = "h" + std::to_string(l);
    ProtoMessage node = onnx_node(act, prefix + "activation", {z}, h);
    if constexpr (std::is_same_v<Act, LeakyRelu>) {
      ProtoMessage slope;
      slope.bytes(attribute_name, "alpha");
      slope.fixed32_float(attribute_f, static_cast<float>(LeakyRelu::slope));
      slope.varint(attribute_type, attribute_type_float);
      node.message(node_attribute, slope);
    }
    graph.message(graph_node, node);
    current = h;
  }
  graph.bytes(graph_name, "neuroplast_mlp");
  for (const ProtoMessage& t : initializers) graph.message(graph_initializer, t);
  graph.message(graph_input, onnx_batch_value("input", net.sizes().front()));
  graph.message(graph_output, onnx_batch_value("logits", net.sizes().back()));

  ProtoMessage opset, model;
  opset.bytes(opset_domain, "");
  opset.varint(opset_version, static_cast<std::uint64_t>(kOnnxOpset));
  model.varint(model_ir_version, ir_version);
  model.bytes(model_producer_name, "neuroplast");
  model.bytes(model_producer_version, NEUROPLAST_VERSION_STRING);
  model.message(model_graph, graph);
  model.message(model_opset_import, opset);
  const std::string& out = model.encoded();
  return std::vector<unsigned char>(out.begin(), out.end());
}

}  // namespace detail

/// Writes `net` to `path` as an ONNX model (opset 13; graph described in this file's comment)
/// that computes `forward`'s logits for a (batch, sizes()[0]) float input, atomically. Throws
/// NumericError when a parameter is NaN or infinite, or when a double network's weights do not
/// fit in float (nothing is written), FileError when the file cannot be written.
template <Network Net>
void save_onnx(const Net& net, const std::string& path) {
  using T = scalar_of<Net>;
  detail::check_not_empty(net.input_size(), "save_onnx");
  for (Index l = 0; l < net.layer_count(); ++l) {
    const T alpha = net.inference_scale(l);
    const bool finite =
        ((alpha * net.weights(l)).template cast<float>().array().isFinite().all()) &&
        net.bias(l).template cast<float>().array().isFinite().all();
    if (!finite) {
      detail::fail<NumericError>("save_onnx: layer ", l,
                                 " holds NaN, infinity or a value beyond "
                                 "float's range after ",
                                 net.training_steps(), " training steps; nothing was written (",
                                 path, " is unchanged)");
    }
  }
  write_file_atomically(path, detail::onnx_bytes(net), "save_onnx");
}

}  // namespace neuroplast
