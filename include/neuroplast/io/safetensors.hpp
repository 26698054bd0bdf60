#pragma once
/// \file
/// `save_safetensors` / `load_safetensors`: a network's weights, biases and connection masks in the
/// safetensors layout, which Python's safetensors, PyTorch, NumPy and others read.
///
/// Layout: an 8-byte little-endian header length N, N bytes of JSON (padded with spaces to a
/// multiple of 8 so the data is aligned), then the tensors' raw little-endian bytes in C
/// (row-major) order. Tensors, in layer order:
///
///     layers.{l}.weight  [sizes[l+1], sizes[l]]   W(l), as Mlp::weights(l)
///     layers.{l}.bias    [sizes[l+1]]             b(l)
///     layers.{l}.mask    [sizes[l+1], sizes[l]]   connection mask, 1 = active (only if pruned)
///
/// dtype F32 for float networks, F64 for double; the mask has the weights' dtype, so `w * mask`
/// needs no cast (as PyTorch's pruning masks). `__metadata__` (strings only, per the format) holds
/// "library": "neuroplast", "format_version": "1", "activation" (e.g. "relu") and "sizes" (e.g.
/// "784,128,10"). Optimizer state and bookkeeping are not part of it: use `save` to resume
/// training. Dropout is not part of it either: a layer the paper's dropout convention scales at
/// inference (`Mlp::inference_scale`) is written with the scale folded into its weights, so a
/// reader that computes act(W·a + b) gets `forward`'s outputs (and `load_safetensors` a network
/// without dropout that computes the same function).

#include <algorithm>
#include <cmath>
#include <cstdint>
#include <map>
#include <span>
#include <string>
#include <string_view>
#include <vector>

#include "neuroplast/core/error.hpp"
#include "neuroplast/io/atomic_file.hpp"
#include "neuroplast/io/byte_io.hpp"
#include "neuroplast/io/json.hpp"
#include "neuroplast/network/check_batch.hpp"
#include "neuroplast/network/mlp.hpp"
#include "neuroplast/network/network.hpp"

namespace neuroplast {

/// Version of neuroplast's safetensors conventions (tensor names and metadata), written as
/// `__metadata__.format_version`.
inline constexpr int kSafetensorsFormatVersion = 1;

namespace detail {

/// The reference implementation's limit on the JSON header.
inline constexpr std::uint64_t kMaxSafetensorsHeader = 100'000'000;

template <Scalar T>
inline constexpr std::string_view kSafetensorsDtype = std::is_same_v<T, float> ? "F32" : "F64";

/// The bytes `save_safetensors` writes.
template <Network Net>
std::vector<unsigned char> safetensors_bytes(const Net& net) {
  using T = scalar_of<Net>;
  using Act = activation_of<Net>;
  const std::vector<Index> sizes = net.sizes();
  std::string sizes_text;
  for (std::size_t i = 0; i < sizes.size(); ++i)
    sizes_text += (i ? "," : "") + std::to_string(sizes[i]);
  std::string header = "{\"__metadata__\":{\"library\":\"neuroplast\",\"format_version\":\"" +
                       std::to_string(kSafetensorsFormatVersion) +
                       "\",\"activation\":" + json_quote(Act::name) +
                       ",\"sizes\":" + json_quote(sizes_text) + "}";
  ByteWriter data;
  auto tensor = [&](const std::string& name, std::initializer_list<Index> shape, auto&& write) {
    const std::size_t begin = data.size();
    write();
    header += "," + json_quote(name) + ":{\"dtype\":\"" + std::string(kSafetensorsDtype<T>) +
              "\",\"shape\":[";
    std::size_t i = 0;
    for (Index s : shape) header += (i++ ? "," : "") + std::to_string(s);
    header +=
        "],\"data_offsets\":[" + std::to_string(begin) + "," + std::to_string(data.size()) + "]}";
  };
  for (Index l = 0; l < net.layer_count(); ++l) {
    const DenseParams<T>& d = net.layer_params(l);
    const std::string prefix = "layers." + std::to_string(l) + ".";
    auto rows = [&](const auto& view) {
      for (Index r = 0; r < view.rows(); ++r)
        data.put_run(view.row(r).data(), static_cast<std::size_t>(view.cols()));
    };
    // The paper's dropout convention scales W(l)·a at inference; a reader knows nothing of it,
    // so the scale is folded into the weights and the file computes what `forward` computes.
    const T alpha = net.inference_scale(l);
    tensor(prefix + "weight", {d.outputs(), d.inputs()}, [&] {
      if (alpha == T(1)) {
        rows(d.weight_param().value.view());
      } else {
        using RowMajor = Eigen::Matrix<T, Eigen::Dynamic, Eigen::Dynamic, Eigen::RowMajor>;
        rows(RowMajor(alpha * d.weights()));
      }
    });
    tensor(prefix + "bias", {d.outputs()},
           [&] { data.put_run(d.bias().data(), static_cast<std::size_t>(d.outputs())); });
    if (d.weight_param().masked)
      tensor(prefix + "mask", {d.outputs(), d.inputs()},
             [&] { rows(d.weight_param().mask.view()); });
  }
  header += "}";
  header.append((8 - header.size() % 8) % 8, ' ');  // aligns the data for zero-copy readers
  ByteWriter file;
  file.u64(header.size());
  file.raw(header);
  file.raw(data.bytes());
  return file.take();
}

/// A non-negative JSON integer (no sign, fraction or exponent) that fits in 63 bits.
inline std::uint64_t json_count(const JsonValue& v, const JsonParser& p, std::string_view what) {
  if (v.kind != JsonValue::Kind::number || v.text.empty() || v.text.size() > 18 ||
      !std::all_of(v.text.begin(), v.text.end(), [](char c) { return c >= '0' && c <= '9'; })) {
    p.error(std::string(what) + " must be a non-negative integer");
  }
  return std::stoull(v.text);
}

struct SafetensorsEntry {
  std::string name{};
  std::vector<std::uint64_t> shape{};
  std::uint64_t begin = 0;
  std::uint64_t end = 0;
};

/// `load_safetensors` on bytes already in memory.
template <Scalar T, Activation Act>
Mlp<T, Act> load_safetensors_bytes(std::span<const unsigned char> bytes, const std::string& file) {
  const std::string where = "load_safetensors";
  auto bad = [&](auto&&... parts) {
    fail<FileError>(where, ": ", file, " ", std::forward<decltype(parts)>(parts)...);
  };
  if (bytes.size() < 8)
    bad("is truncated: ", bytes.size(), " bytes, shorter than the 8-byte header length");
  ByteReader r(bytes, where, file);
  const std::uint64_t n = r.u64("header length");
  if (n > kMaxSafetensorsHeader) {
    bad("is not a safetensors file, or is damaged: its header length ", n,
        " exceeds the format's limit of ", kMaxSafetensorsHeader, " bytes");
  }
  if (n > r.remaining())
    bad("is truncated: its header length is ", n, " bytes but only ", r.remaining(), " follow");
  const auto header_bytes = r.take(n, "header");
  const std::string_view text(reinterpret_cast<const char*>(header_bytes.data()),
                              header_bytes.size());
  if (text.empty() || text[0] != '{')
    bad("is not a safetensors file (its header is not a JSON object)");
  JsonParser parser(text, where, file, 8);
  const JsonValue root = parser.parse_document();
  const auto data = bytes.subspan(8 + n);

  // Metadata: activation and sizes are required, a newer format_version is refused.
  const JsonValue* meta = root.find("__metadata__");
  if (meta == nullptr || meta->kind != JsonValue::Kind::object) {
    bad("has no __metadata__ with the network's activation and sizes; it was not written by "
        "save_safetensors");
  }
  for (const auto& [key, value] : meta->members)
    if (value.kind != JsonValue::Kind::string)
      bad("has a non-string __metadata__ value for \"", key, "\" (the format allows strings only)");
  if (const JsonValue* v = meta->find("format_version")) {
    if (v->text != std::to_string(kSafetensorsFormatVersion)) {
      bad("uses neuroplast's safetensors conventions version \"", v->text,
          "\", which this neuroplast does not know (it reads version ", kSafetensorsFormatVersion,
          ")");
    }
  }
  const JsonValue* act = meta->find("activation");
  if (act == nullptr) bad("has no \"activation\" in its __metadata__");
  if (act->text != Act::name) {
    bad("holds a network with activation \"", act->text, "\" but load_safetensors<..., ", Act::name,
        "> was asked for; read it with the activation \"", act->text, "\"");
  }
  const JsonValue* sizes_meta = meta->find("sizes");
  if (sizes_meta == nullptr) bad("has no \"sizes\" in its __metadata__");
  std::vector<Index> sizes;
  {
    const std::string& s = sizes_meta->text;
    std::size_t i = 0;
    while (i <= s.size()) {
      std::size_t j = i;
      while (j < s.size() && s[j] >= '0' && s[j] <= '9') ++j;
      if (j == i || j - i > 15 || (j < s.size() && s[j] != ',')) {
        bad("has malformed sizes \"", s, "\" in its __metadata__ (expected e.g. \"784,128,10\")");
      }
      sizes.push_back(static_cast<Index>(std::stoll(s.substr(i, j - i))));
      if (sizes.back() < 1) bad("has a layer of size 0 in its sizes \"", s, "\"");
      i = j + 1;
    }
  }
  if (sizes.size() < 2) bad("has sizes \"", sizes_meta->text, "\" with fewer than two entries");
  const std::size_t layers = sizes.size() - 1;

  // Tensor entries.
  std::vector<SafetensorsEntry> entries;
  for (const auto& [name, value] : root.members) {
    if (name == "__metadata__") continue;
    if (value.kind != JsonValue::Kind::object)
      bad("has a tensor entry \"", name, "\" that is not an object");
    const JsonValue* dtype = value.find("dtype");
    const JsonValue* shape = value.find("shape");
    const JsonValue* offsets = value.find("data_offsets");
    if (dtype == nullptr || shape == nullptr || offsets == nullptr || value.members.size() != 3 ||
        dtype->kind != JsonValue::Kind::string || shape->kind != JsonValue::Kind::array ||
        offsets->kind != JsonValue::Kind::array || offsets->items.size() != 2) {
      bad("has a malformed entry for tensor \"", name,
          "\" (it needs exactly dtype, shape and data_offsets [begin, end])");
    }
    if (dtype->text != kSafetensorsDtype<T>) {
      if (dtype->text == "F32" || dtype->text == "F64") {
        bad("holds ", dtype->text, " tensors but load_safetensors<",
            kSafetensorsDtype<T> == "F32" ? "float" : "double",
            ", ...> was asked for; read it as load_safetensors<",
            dtype->text == "F32" ? "float" : "double", ", ...>");
      }
      bad("holds tensor \"", name, "\" of dtype ", dtype->text,
          "; neuroplast reads F32 and F64 only");
    }
    SafetensorsEntry e{.name = name};
    for (const JsonValue& d : shape->items) e.shape.push_back(json_count(d, parser, "a dimension"));
    e.begin = json_count(offsets->items[0], parser, "a data offset");
    e.end = json_count(offsets->items[1], parser, "a data offset");
    entries.push_back(std::move(e));
  }
  if (entries.size() < 2 * layers || entries.size() > 3 * layers) {
    bad("has ", entries.size(), " tensors, but the ", layers, " layers of its sizes need between ",
        2 * layers, " and ", 3 * layers);
  }

  // Data offsets must tile the data buffer exactly: no gaps, no overlaps, nothing outside.
  std::vector<const SafetensorsEntry*> by_offset;
  for (const auto& e : entries) by_offset.push_back(&e);
  std::sort(by_offset.begin(), by_offset.end(),
            [](const auto* a, const auto* b) { return a->begin < b->begin; });
  std::uint64_t covered = 0;
  for (const SafetensorsEntry* e : by_offset) {
    if (e->begin != covered || e->end < e->begin) {
      bad("has tensor \"", e->name, "\" at data offsets [", e->begin, ", ", e->end,
          "], which leaves a gap or overlaps another tensor");
    }
    std::uint64_t count = 1;
    for (std::uint64_t d : e->shape) {
      if (d != 0 && count > (std::uint64_t{1} << 62) / d)
        bad("has a tensor \"", e->name, "\" too large to exist");
      count *= d;
    }
    if (count > (std::uint64_t{1} << 62) / sizeof(T) || e->end - e->begin != count * sizeof(T)) {
      bad("has tensor \"", e->name, "\" whose data offsets span ", e->end - e->begin,
          " bytes but whose shape needs ", count, " × ", sizeof(T));
    }
    covered = e->end;
  }
  if (covered > data.size())
    bad("is truncated: its tensors need ", covered, " data bytes but only ", data.size(),
        " follow");
  if (covered < data.size())
    bad("is damaged: ", data.size() - covered, " bytes follow the last tensor");

  std::map<std::string, const SafetensorsEntry*, std::less<>> by_name;
  for (const auto& e : entries) by_name.emplace(e.name, &e);
  auto find = [&](const std::string& name) -> const SafetensorsEntry* {
    const auto it = by_name.find(name);
    return it == by_name.end() ? nullptr : it->second;
  };
  std::size_t expected_entries = 0;
  for (std::size_t l = 0; l < layers; ++l) {
    const std::string prefix = "layers." + std::to_string(l) + ".";
    const auto out = static_cast<std::uint64_t>(sizes[l + 1]);
    const auto in = static_cast<std::uint64_t>(sizes[l]);
    auto check = [&](const std::string& name, std::vector<std::uint64_t> shape, bool required) {
      const SafetensorsEntry* e = find(name);
      if (e == nullptr) {
        if (required)
          bad("has no tensor \"", name, "\" although its sizes list ", layers, " layers");
        return;
      }
      if (e->shape != shape) {
        bad("has tensor \"", name, "\" of a shape that does not match its sizes \"",
            sizes_meta->text, "\"");
      }
      ++expected_entries;
    };
    check(prefix + "weight", {out, in}, true);
    check(prefix + "bias", {out}, true);
    check(prefix + "mask", {out, in}, false);
  }
  if (expected_entries != entries.size()) {
    bad("has tensors other than layers.{l}.weight, .bias and .mask for its ", layers, " layers");
  }

  // Every size is now backed by data bytes: building the network allocates what the file holds.
  Mlp<T, Act> net(sizes, 0);
  auto read_into = [&](const SafetensorsEntry& e, auto&& view) {
    ByteReader tr(data.subspan(e.begin, e.end - e.begin), where, file, 8 + n + e.begin);
    for (Index row = 0; row < view.rows(); ++row)
      tr.get_run(&view(row, 0), static_cast<std::size_t>(view.cols()), e.name);
    if (!all_finite(view)) bad("has NaN or infinity in tensor \"", e.name, "\"");
  };
  for (std::size_t l = 0; l < layers; ++l) {
    const std::string prefix = "layers." + std::to_string(l) + ".";
    DenseParams<T>& d = net.layer_params(static_cast<Index>(l));
    Param<T>& w = d.weight_param();
    read_into(*find(prefix + "weight"), w.value.view());
    VectorView<T> b = d.bias();
    read_into(*find(prefix + "bias"), b);
    if (const SafetensorsEntry* m = find(prefix + "mask")) {
      w.materialise_mask();
      read_into(*m, w.mask.view());
      if (!((w.mask.view().array() == T(0)) || (w.mask.view().array() == T(1))).all())
        bad("has a mask \"", m->name, "\" with entries other than 0 and 1");
      w.refresh_masked();
      w.apply_mask();
    }
  }
  return net;
}

}  // namespace detail

/// Writes `net`'s weights, biases and connection masks (of pruned layers) to `path` in the
/// safetensors layout (see the file comment for names and metadata), atomically. Throws
/// NumericError when a parameter is NaN or infinite (nothing is written), FileError when the file
/// cannot be written.
template <Network Net>
void save_safetensors(const Net& net, const std::string& path) {
  using T = scalar_of<Net>;
  detail::check_not_empty(net.input_size(), "save_safetensors");
  for (Index l = 0; l < net.layer_count(); ++l) {
    const DenseParams<T>& d = net.layer_params(l);
    if (!detail::all_finite(d.weights()) || !detail::all_finite(d.bias())) {
      detail::fail<NumericError>("save_safetensors: layer ", l, " holds NaN or infinity after ",
                                 net.training_steps(), " training steps; nothing was written (",
                                 path, " is unchanged)");
    }
  }
  write_file_atomically(path, detail::safetensors_bytes(net), "save_safetensors");
}

/// Reads a network written by `save_safetensors` (or by any tool following the same names and
/// metadata). Strict: throws FileError saying which on a truncated or malformed file, a dtype
/// other than T's (F32 for float, F64 for double), another activation, a missing or extra
/// tensor, a shape that contradicts the sizes, data offsets that overlap, leave gaps or point
/// outside the file, or NaN in the data. The network has fresh bookkeeping (no optimizer state,
/// new neuron ids, seed 0).
template <Scalar T, Activation Act>
Mlp<T, Act> load_safetensors(const std::string& path) {
  const std::vector<unsigned char> bytes = read_file(path, "load_safetensors");
  return detail::load_safetensors_bytes<T, Act>(bytes, path);
}

}  // namespace neuroplast
