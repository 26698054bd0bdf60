// save_onnx: the graph's structure and initialisers read back from the protobuf bytes, refusals,
// and (hidden, for CTest's io/onnx_* tests) model files with inputs and expected outputs that
// ONNX Runtime and the onnx checker run.

#include <bit>
#include <catch2/catch.hpp>
#include <cstdlib>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <iomanip>
#include <map>
#include <sstream>
#include <string>

#include "neuroplast/neuroplast.hpp"
#include "support/fixtures.hpp"

using namespace neuroplast;
using neuroplast::testing::random_batch;
using neuroplast::testing::WhatHas;

namespace {

// One field of a protobuf message: number, wire type, and its varint, fixed32 or bytes value.
struct Field {
  int number = 0;
  int wire = 0;
  std::uint64_t value = 0;
  std::string bytes;
};

// The fields of one encoded message, in order (a reader written for this test: varint, fixed32
// and length-delimited fields, which is all the exporter writes).
std::vector<Field> fields(std::string_view m) {
  std::size_t at = 0;
  auto varint = [&] {
    std::uint64_t v = 0;
    for (int shift = 0;; shift += 7) {
      REQUIRE(at < m.size());
      const auto byte = static_cast<unsigned char>(m[at++]);
      v |= static_cast<std::uint64_t>(byte & 0x7F) << shift;
      if ((byte & 0x80) == 0) return v;
    }
  };
  std::vector<Field> out;
  while (at < m.size()) {
    const std::uint64_t key = varint();
    Field f{.number = static_cast<int>(key >> 3),
            .wire = static_cast<int>(key & 7),
            .value = 0,
            .bytes = {}};
    if (f.wire == 0) {
      f.value = varint();
    } else if (f.wire == 2) {
      const std::uint64_t n = varint();
      REQUIRE(at + n <= m.size());
      f.bytes = std::string(m.substr(at, n));
      at += n;
    } else {
      REQUIRE(f.wire == 5);
      REQUIRE(at + 4 <= m.size());
      for (int i = 0; i < 4; ++i)
        f.value |= static_cast<std::uint64_t>(static_cast<unsigned char>(m[at + i])) << (8 * i);
      at += 4;
    }
    out.push_back(f);
  }
  return out;
}

std::vector<Field> all(const std::vector<Field>& fs, int number) {
  std::vector<Field> out;
  for (const Field& f : fs)
    if (f.number == number) out.push_back(f);
  return out;
}

const Field& one(const std::vector<Field>& fs, int number) {
  const auto* found = static_cast<const Field*>(nullptr);
  for (const Field& f : fs)
    if (f.number == number) {
      REQUIRE(found == nullptr);
      found = &f;
    }
  REQUIRE(found != nullptr);
  return *found;
}

std::vector<float> floats(const std::string& raw) {
  std::vector<float> v(raw.size() / 4);
  std::memcpy(v.data(), raw.data(), v.size() * 4);
  return v;
}

// (dim_param or dim_value as text) of a ValueInfoProto's tensor shape.
std::vector<std::string> shape_of(const std::string& value_info) {
  const auto type = fields(one(fields(value_info), 2).bytes);
  const auto tensor = fields(one(type, 1).bytes);
  CHECK(one(tensor, 1).value == 1);  // float
  std::vector<std::string> dims;
  for (const Field& d : all(fields(one(tensor, 2).bytes), 1)) {
    const auto dim = fields(d.bytes);
    dims.push_back(dim[0].number == 2 ? dim[0].bytes : std::to_string(dim[0].value));
  }
  return dims;
}

}  // namespace

TEST_CASE("save_onnx writes Gemm and activation nodes holding what forward computes",
          "[io][onnx]") {
  Mlp<double, LeakyRelu> net({3, 4, 5, 2}, 3);
  net.grow_neurons(0, 2, init::He{});
  net.set_dropout(0, Dropout{.rate = 0.5, .convention = DropoutConvention::paper});
  Matrix<double> mask = Matrix<double>::Ones(5, 6);
  mask(1, 2) = mask(4, 0) = 0;
  net.prune_connections(1, mask);
  REQUIRE(net.inference_scale(1) == 0.5);

  const auto bytes = detail::onnx_bytes(net);
  const auto model =
      fields(std::string_view(reinterpret_cast<const char*>(bytes.data()), bytes.size()));
  CHECK(one(model, 1).value == 7);  // IR version
  CHECK(one(model, 2).bytes == "neuroplast");
  const auto opset = fields(one(model, 8).bytes);
  CHECK(one(opset, 1).bytes.empty());
  CHECK(one(opset, 2).value == 13);

  const auto graph = fields(one(model, 7).bytes);
  std::vector<std::string> ops, outputs;
  for (const Field& n : all(graph, 1)) {
    const auto node = fields(n.bytes);
    ops.push_back(one(node, 4).bytes);
    outputs.push_back(one(node, 2).bytes);
    std::map<std::string, Field> attributes;
    for (const Field& a : all(node, 5)) attributes[one(fields(a.bytes), 1).bytes] = a;
    if (ops.back() == "Gemm") {
      REQUIRE(attributes.count("transB") == 1);
      const auto a = fields(attributes["transB"].bytes);
      CHECK(one(a, 3).value == 1);
      CHECK(one(a, 20).value == 2);  // INT
      const auto inputs = all(node, 1);
      REQUIRE(inputs.size() == 3);
      const std::string l = std::to_string((ops.size() - 1) / 2);
      CHECK(inputs[0].bytes ==
            (ops.size() == 1 ? "input" : "h" + std::to_string(std::stoi(l) - 1)));
      CHECK(inputs[1].bytes == "layers." + l + ".weight");
      CHECK(inputs[2].bytes == "layers." + l + ".bias");
    } else {
      REQUIRE(attributes.count("alpha") == 1);
      const auto a = fields(attributes["alpha"].bytes);
      CHECK(std::bit_cast<float>(static_cast<std::uint32_t>(one(a, 2).value)) == 0.01f);
    }
  }
  CHECK(ops == std::vector<std::string>{"Gemm", "LeakyRelu", "Gemm", "LeakyRelu", "Gemm"});
  CHECK(outputs == std::vector<std::string>{"z0", "h0", "z1", "h1", "logits"});

  // Initialisers: the weights times the inference scale, in float, row by row; the biases.
  std::map<std::string, std::vector<Field>> init;
  for (const Field& t : all(graph, 5)) {
    const auto tensor = fields(t.bytes);
    init[one(tensor, 8).bytes] = tensor;
  }
  REQUIRE(init.size() == 6);
  for (Index l = 0; l < net.layer_count(); ++l) {
    INFO("layer " << l);
    const auto& w = init["layers." + std::to_string(l) + ".weight"];
    const auto dims = all(w, 1);
    REQUIRE(dims.size() == 2);
    CHECK(static_cast<Index>(dims[0].value) == net.weights(l).rows());
    CHECK(static_cast<Index>(dims[1].value) == net.weights(l).cols());
    CHECK(one(w, 2).value == 1);
    const std::vector<float> values = floats(one(w, 9).bytes);
    REQUIRE(static_cast<Index>(values.size()) == net.weights(l).size());
    const double scale = net.inference_scale(l);
    for (Index r = 0; r < net.weights(l).rows(); ++r)
      for (Index c = 0; c < net.weights(l).cols(); ++c)
        CHECK(values[static_cast<std::size_t>(r * net.weights(l).cols() + c)] ==
              static_cast<float>(scale * net.weights(l)(r, c)));
    const std::vector<float> bias =
        floats(one(init["layers." + std::to_string(l) + ".bias"], 9).bytes);
    REQUIRE(static_cast<Index>(bias.size()) == net.bias(l).size());
    for (Index r = 0; r < net.bias(l).size(); ++r)
      CHECK(bias[static_cast<std::size_t>(r)] == static_cast<float>(net.bias(l)(r)));
  }
  CHECK(floats(one(init["layers.1.weight"], 9).bytes)[1 * 6 + 2] == 0.0f);  // pruned

  CHECK(one(fields(one(graph, 11).bytes), 1).bytes == "input");
  CHECK(shape_of(one(graph, 11).bytes) == std::vector<std::string>{"batch", "3"});
  CHECK(one(fields(one(graph, 12).bytes), 1).bytes == "logits");
  CHECK(shape_of(one(graph, 12).bytes) == std::vector<std::string>{"batch", "2"});

  // Identity hidden layers need no activation node.
  const auto plain = detail::onnx_bytes(Mlp<float, Identity>({2, 3, 1}, 1));
  const auto g = fields(
      one(fields(std::string_view(reinterpret_cast<const char*>(plain.data()), plain.size())), 7)
          .bytes);
  CHECK(all(g, 1).size() == 2);
}

TEST_CASE("save_onnx refuses NaN and values beyond float, writing nothing", "[io][onnx]") {
  const auto dir = std::filesystem::temp_directory_path() / "neuroplast_test_onnx";
  std::filesystem::create_directories(dir);
  const std::string path = (dir / "m.onnx").string();
  std::filesystem::remove(path);
  Mlp<float, Relu> net({2, 3, 2}, 1);
  net.bias(1)(0) = std::nanf("");
  CHECK_THROWS_MATCHES(save_onnx(net, path), NumericError,
                       WhatHas({"save_onnx", "layer 1", "nothing was written"}));
  Mlp<double, Tanh> big({2, 3, 2}, 1);
  big.weights(0)(1, 1) = 1e300;
  CHECK_THROWS_MATCHES(save_onnx(big, path), NumericError, WhatHas({"layer 0", "float"}));
  CHECK_FALSE(std::filesystem::exists(path));
  big.weights(0)(1, 1) = 0.5;
  save_onnx(big, path);
  CHECK(std::filesystem::exists(path));
  CHECK_THROWS_AS(save_onnx(big, (dir / "no" / "such" / "dir.onnx").string()), FileError);
  std::filesystem::remove_all(dir);
}

namespace {

// Writes `name`.onnx into `dir` and a JSON case with a batch and forward's logits for it.
template <class T, class Act>
void write_case(const std::filesystem::path& dir, const std::string& name, const Mlp<T, Act>& net,
                std::ostream& cases, bool& first) {
  save_onnx(net, (dir / (name + ".onnx")).string());
  const Matrix<T> X = random_batch(net.sizes().front(), 7, 5).template cast<T>();
  const Matrix<T> logits = net.forward(X);
  auto rows = [&](const Matrix<T>& m) {
    std::ostringstream os;
    os << std::setprecision(17) << "[";
    for (Index c = 0; c < m.cols(); ++c) {
      os << (c ? "," : "") << "[";
      for (Index r = 0; r < m.rows(); ++r) os << (r ? "," : "") << static_cast<double>(m(r, c));
      os << "]";
    }
    return os.str() + "]";
  };
  cases << (first ? "" : ",\n") << "{\"model\":\"" << name << ".onnx\",\"input\":" << rows(X)
        << ",\"expected\":" << rows(logits) << "}";
  first = false;
}

template <class T, class Act>
Mlp<T, Act> edited(std::uint64_t seed) {
  Mlp<T, Act> net({4, 6, 5, 3}, seed);
  neuroplast::testing::randomise_biases(net, seed);
  net.grow_neurons(1, 3, init::He{});
  Matrix<T> mask = Matrix<T>::Ones(8, 6);
  mask(0, 0) = mask(3, 5) = 0;
  net.prune_connections(1, mask);
  net.set_dropout(0, Dropout{.rate = 0.25, .convention = DropoutConvention::paper});
  return net;
}

}  // namespace

TEST_CASE("ONNX models with inputs and forward's outputs, for ONNX Runtime", "[.][onnx-files]") {
  const char* dir_env = std::getenv("NEUROPLAST_ONNX_DIR");
  REQUIRE(dir_env != nullptr);
  const std::filesystem::path dir = dir_env;
  std::filesystem::create_directories(dir);
  std::ofstream cases(dir / "cases.json");
  cases << "[\n";
  bool first = true;
  write_case(dir, "relu_float", edited<float, Relu>(1), cases, first);
  write_case(dir, "relu_double", edited<double, Relu>(2), cases, first);
  write_case(dir, "leaky_relu_float", edited<float, LeakyRelu>(3), cases, first);
  write_case(dir, "tanh_float", edited<float, Tanh>(4), cases, first);
  write_case(dir, "tanh_double", edited<double, Tanh>(5), cases, first);
  write_case(dir, "sigmoid_float", edited<float, Sigmoid>(6), cases, first);
  write_case(dir, "identity_double", edited<double, Identity>(7), cases, first);
  write_case(dir, "no_hidden_float", Mlp<float, Relu>({3, 2}, 8), cases, first);
  cases << "\n]\n";
  REQUIRE(cases.good());
}
