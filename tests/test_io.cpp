// Files (issue 7): neuroplast's binary format and safetensors. Round trips are bit-exact and
// training continues identically; every kind of damage is refused with a FileError saying which;
// writes are atomic; a checkpointed run resumes exactly.

#include <sys/stat.h>

#include <catch2/catch.hpp>
#include <cstdlib>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <sstream>

#include "fuzz/fuzz_harness.hpp"
#include "neuroplast/neuroplast.hpp"
#include "support/fixtures.hpp"

using namespace neuroplast;
using neuroplast::testing::WhatHas;
namespace fs = std::filesystem;

namespace {

// A fresh directory under the system temp directory, removed at scope exit.
struct TempDir {
  fs::path path;
  TempDir() {
    static int counter = 0;
    path = fs::temp_directory_path() /
           ("neuroplast_test_io_" + std::to_string(::getpid()) + "_" + std::to_string(++counter));
    fs::remove_all(path);
    fs::create_directories(path);
  }
  ~TempDir() {
    std::error_code ignored;
    fs::remove_all(path, ignored);
  }
  std::string operator/(const std::string& name) const { return (path / name).string(); }
};

std::vector<unsigned char> bytes_of(const std::string& path) { return read_file(path); }

void write_bytes(const std::string& path, const std::vector<unsigned char>& bytes) {
  std::ofstream out(path, std::ios::binary | std::ios::trunc);
  out.write(reinterpret_cast<const char*>(bytes.data()),
            static_cast<std::streamsize>(bytes.size()));
}

// Recomputes the header's CRC-32 and size fields, so a deliberately inconsistent payload reaches
// the parser behind the checksum.
void fix_header(std::vector<unsigned char>& b) {
  const std::uint32_t crc = crc32(std::span<const unsigned char>(b).subspan(24));
  const std::uint64_t size = b.size() - 24;
  for (int i = 0; i < 4; ++i) b[12 + i] = static_cast<unsigned char>(crc >> (8 * i));
  for (int i = 0; i < 8; ++i) b[16 + i] = static_cast<unsigned char>(size >> (8 * i));
}

template <class T>
Matrix<T> batch(Index rows, Index cols, std::uint64_t seed) {
  Rng rng(seed);
  Matrix<T> X(rows, cols);
  for (Index c = 0; c < cols; ++c)
    for (Index r = 0; r < rows; ++r) X(r, c) = static_cast<T>(rng.normal());
  return X;
}

template <class Net, class Opt>
void train_steps(Net& net, Opt& opt, int steps, std::uint64_t seed) {
  using T = typename Net::scalar;
  Workspace<T> ws;
  ws.rng().reseed(seed);
  for (int s = 0; s < steps; ++s) {
    const Matrix<T> X = batch<T>(net.input_size(), 6, seed + static_cast<std::uint64_t>(s));
    std::vector<int> y(6);
    for (std::size_t i = 0; i < y.size(); ++i)
      y[i] = static_cast<int>((i + static_cast<std::size_t>(s)) %
                              static_cast<std::size_t>(net.output_size()));
    const auto logits = net.forward_train(X, ws);
    auto g = ws.output_gradient();
    SoftmaxCrossEntropy::evaluate(logits, Targets<T>{.labels = y}, &g);
    net.backward(X, ws);
    opt.step(net);
  }
}

// Bitwise equality of two planes' active blocks.
template <class A, class B>
bool same_bits(const A& a, const B& b) {
  if (a.rows() != b.rows() || a.cols() != b.cols()) return false;
  for (Index r = 0; r < a.rows(); ++r)
    for (Index c = 0; c < a.cols(); ++c)
      if (std::memcmp(&a.coeffRef(r, c), &b.coeffRef(r, c), sizeof(a.coeffRef(r, c))) != 0)
        return false;
  return true;
}

template <class T>
void check_same_param(const Param<T>& a, const Param<T>& b) {
  CHECK(same_bits(a.value.view(), b.value.view()));
  REQUIRE(a.has_mask() == b.has_mask());
  CHECK(a.masked == b.masked);
  if (a.has_mask()) CHECK(same_bits(a.mask.view(), b.mask.view()));
  CHECK(a.state_owner == b.state_owner);
  REQUIRE(a.state.size() == b.state.size());
  for (std::size_t i = 0; i < a.state.size(); ++i)
    CHECK(same_bits(a.state[i].view(), b.state[i].view()));
  CHECK(a.row_birth == b.row_birth);
  CHECK(a.col_birth == b.col_birth);
  CHECK(a.row_plasticity == b.row_plasticity);
}

// Every plane and every piece of bookkeeping of two networks, bit for bit.
template <class Net>
void check_same_network(const Net& a, const Net& b) {
  using T = typename Net::scalar;
  REQUIRE(a.sizes() == b.sizes());
  for (Index l = 0; l < a.layer_count(); ++l) {
    INFO("layer " << l);
    check_same_param<T>(a.layer_params(l).weight_param(), b.layer_params(l).weight_param());
    check_same_param<T>(a.layer_params(l).bias_param(), b.layer_params(l).bias_param());
  }
  for (Index h = 0; h < a.hidden_layer_count(); ++h) {
    CHECK(a.neuron_ids(h) == b.neuron_ids(h));
    CHECK(a.min_width(h) == b.min_width(h));
    CHECK(a.dropout(h).rate == b.dropout(h).rate);
    CHECK(a.dropout(h).kind == b.dropout(h).kind);
    CHECK(a.dropout(h).convention == b.dropout(h).convention);
    CHECK(a.dropout(h).ramp_steps == b.dropout(h).ramp_steps);
  }
  CHECK(a.training_steps() == b.training_steps());
  REQUIRE(a.edit_log().size() == b.edit_log().size());
  for (std::size_t i = 0; i < a.edit_log().size(); ++i) {
    CHECK(a.edit_log()[i].kind == b.edit_log()[i].kind);
    CHECK(a.edit_log()[i].layer == b.edit_log()[i].layer);
    CHECK(a.edit_log()[i].count == b.edit_log()[i].count);
    CHECK(a.edit_log()[i].first == b.edit_log()[i].first);
    CHECK(a.edit_log()[i].initializer == b.edit_log()[i].initializer);
    CHECK(a.edit_log()[i].step == b.edit_log()[i].step);
  }
  using Access = detail::MlpAccess<Net>;
  CHECK(Access::rng_state(a).words == Access::rng_state(b).words);
  CHECK(Access::next_neuron_id(a) == Access::next_neuron_id(b));
  // And everything the format holds, in one comparison.
  CHECK(detail::network_bytes(a) == detail::network_bytes(b));
}

// A network that has been through everything: growth of every kind, training with Adam, pruning,
// removal, a new layer, dropout and a minimum width.
template <class T, class Act>
Mlp<T, Act> eventful_network(Adam<T>& opt) {
  Mlp<T, Act> net({4, 6, 5, 3}, 11);
  train_steps(net, opt, 3, 100);
  net.grow_neurons(0, 2, init::ZeroFanOut{});
  train_steps(net, opt, 2, 200);
  net.grow_neurons(1, 1, init::He{});
  net.grow_neurons(0, 1, init::Net2Wider{});
  Matrix<T> mask = Matrix<T>::Ones(net.width(1), net.width(0));
  mask(0, 1) = mask(2, 3) = mask(4, 0) = 0;
  net.prune_connections(1, mask);
  net.remove_neurons(0, {1});
  net.insert_layer(1, init::Identity{});
  net.set_dropout(0, Dropout{.rate = 0.2, .ramp_steps = 10});
  net.set_dropout(1, Dropout{.kind = DropoutKind::gaussian, .rate = 0.1});
  net.set_min_width(2, 2);
  net.set_plasticity(0, Vector<T>::LinSpaced(net.width(0), T(0), T(1)));
  net.set_plasticity(net.layer_count() - 1, T(0.5));
  train_steps(net, opt, 2, 300);
  net.rng().normal();  // leaves a spare normal in the stream
  return net;
}

template <class T, class Act>
void round_trip_case(const TempDir& dir) {
  INFO(Act::name << (std::is_same_v<T, float> ? " float" : " double"));
  Adam<T> opt{.learning_rate = T(0.01)};
  Mlp<T, Act> net = eventful_network<T, Act>(opt);
  const std::string path = dir / (std::string(Act::name) + ".npl");
  save(net, path);
  Mlp<T, Act> loaded = load<T, Act>(path);
  check_same_network(net, loaded);
  // Training goes on identically from both (optimizer copied, same batches, same dropout draws).
  Adam<T> opt_a = opt, opt_b = opt;
  train_steps(net, opt_a, 3, 400);
  train_steps(loaded, opt_b, 3, 400);
  check_same_network(net, loaded);
  // Growth after loading draws the same numbers (the network's random stream was saved).
  net.grow_neurons(0, 1, init::He{});
  loaded.grow_neurons(0, 1, init::He{});
  check_same_network(net, loaded);
}

}  // namespace

TEST_CASE("save/load round-trips every plane bit for bit and training continues identically",
          "[io][checkpoint]") {
  TempDir dir;
  round_trip_case<float, Relu>(dir);
  round_trip_case<double, Relu>(dir);
  round_trip_case<float, LeakyRelu>(dir);
  round_trip_case<double, LeakyRelu>(dir);
  round_trip_case<float, Tanh>(dir);
  round_trip_case<double, Tanh>(dir);
  round_trip_case<float, Sigmoid>(dir);
  round_trip_case<double, Sigmoid>(dir);
  round_trip_case<float, Identity>(dir);
  round_trip_case<double, Identity>(dir);
}

TEST_CASE("SGD state round-trips, and optimizer state can be left out", "[io][checkpoint]") {
  TempDir dir;
  Mlp<double, Tanh> net({3, 5, 2}, 4);
  Sgd<double> sgd{.learning_rate = 0.05, .momentum = 0.9};
  train_steps(net, sgd, 3, 7);
  save(net, dir / "sgd.npl");
  check_same_network(net, load<double, Tanh>(dir / "sgd.npl"));

  save(net, dir / "plain.npl", SaveOptions{.optimizer_state = false});
  const auto plain = load<double, Tanh>(dir / "plain.npl");
  CHECK(fs::file_size(dir / "plain.npl") < fs::file_size(dir / "sgd.npl"));
  for (Index l = 0; l < plain.layer_count(); ++l) {
    CHECK(plain.layer_params(l).weight_param().state.empty());
    CHECK(plain.layer_params(l).weight_param().state_owner.empty());
    CHECK(same_bits(plain.weights(l), net.weights(l)));
  }
}

TEST_CASE("a masked-but-never-pruned mask and a network with no hidden layer round-trip",
          "[io][checkpoint]") {
  TempDir dir;
  Mlp<float, Relu> net({3, 2}, 1);
  net.prune_connections(0, Matrix<float>::Ones(2, 3));  // materialises an all-ones mask
  REQUIRE(net.layer_params(0).weight_param().has_mask());
  save(net, dir / "a.npl");
  check_same_network(net, load<float, Relu>(dir / "a.npl"));
}

TEST_CASE("no file is written for a moved-from (empty) network", "[io][errors]") {
  TempDir dir;
  Mlp<float, Relu> a({3, 4, 2}, 5);
  save(a, dir / "a.npl");
  const auto before = bytes_of(dir / "a.npl");
  Mlp<float, Relu> b = std::move(a);
  // NOLINTBEGIN(bugprone-use-after-move): what happens to a moved-from network is the point
  CHECK_THROWS_WITH(save(a, dir / "a.npl"), Catch::Contains("save: the network is empty"));
  CHECK(bytes_of(dir / "a.npl") == before);  // the earlier file is untouched
  CHECK_THROWS_WITH(save_safetensors(a, dir / "a.safetensors"),
                    Catch::Contains("save_safetensors: the network is empty"));
  CHECK_THROWS_WITH(save_onnx(a, dir / "a.onnx"),
                    Catch::Contains("save_onnx: the network is empty"));
  CHECK_THROWS_WITH(save_checkpoint(dir / "a.ckpt", a, Adam<float>{}),
                    Catch::Contains("save: the network is empty"));
  // NOLINTEND(bugprone-use-after-move)
  CHECK_FALSE(fs::exists(dir / "a.safetensors"));
  CHECK_FALSE(fs::exists(dir / "a.onnx"));
  CHECK_FALSE(fs::exists(dir / "a.ckpt"));
  CHECK(load<float, Relu>(dir / "a.npl").sizes() == b.sizes());
}

TEST_CASE("load refuses a truncated file at every length", "[io][corruption]") {
  TempDir dir;
  Adam<float> opt;
  Mlp<float, Relu> net({2, 3, 2}, 5);
  train_steps(net, opt, 1, 1);
  const auto good = detail::network_bytes(net);
  for (std::size_t n = 0; n < good.size(); ++n) {
    INFO("cut at " << n << " of " << good.size());
    const std::vector<unsigned char> cut(good.begin(),
                                         good.begin() + static_cast<std::ptrdiff_t>(n));
    CHECK_THROWS_MATCHES((detail::load_bytes<float, Relu>(cut, "cut.npl")), FileError,
                         WhatHas({n == 0 ? "empty" : "truncated"}));
  }
  // Through the file system too, once.
  write_bytes(dir / "cut.npl", std::vector<unsigned char>(good.begin(), good.begin() + 100));
  CHECK_THROWS_MATCHES((load<float, Relu>(dir / "cut.npl")), FileError,
                       WhatHas({"cut.npl is truncated"}));
}

TEST_CASE("load refuses every single bit flip, saying which part is damaged", "[io][corruption]") {
  Adam<float> opt;
  Mlp<float, Relu> net({2, 3, 2}, 5);
  train_steps(net, opt, 1, 1);
  const auto good = detail::network_bytes(net);
  REQUIRE(good.size() < 2000);
  for (std::size_t byte = 0; byte < good.size(); ++byte) {
    for (int bit = 0; bit < 8; ++bit) {
      auto bad = good;
      bad[byte] ^= static_cast<unsigned char>(1u << bit);
      INFO("byte " << byte << " bit " << bit);
      const char* expected = byte < 8    ? "not a neuroplast model file"
                             : byte < 12 ? "format version"
                             : byte < 16 ? "CRC-32"
                             : byte < 24
                                 ? (bad[byte] > good[byte] ? "truncated" : "unexpected bytes")
                                 : "CRC-32";
      CHECK_THROWS_MATCHES((detail::load_bytes<float, Relu>(bad, "flip.npl")), FileError,
                           WhatHas({expected}));
    }
  }
}

TEST_CASE("load with a recomputed checksum still never crashes nor returns a broken network",
          "[io][corruption]") {
  // Damage the checksum cannot see (a deliberate edit): every byte of the payload set to 0xFF and
  // to 0x00 in turn, the header fixed up. Each must be refused or give a working network.
  Sgd<double> sgd{.learning_rate = 0.1, .momentum = 0.5};
  Mlp<double, Tanh> net({2, 3, 2}, 9);
  Matrix<double> mask = Matrix<double>::Ones(2, 3);
  mask(1, 1) = 0;
  net.prune_connections(1, mask);
  train_steps(net, sgd, 1, 3);
  const auto good = detail::checkpoint_bytes(
      net, sgd, History{},
      TrainerState{.epoch = 1, .shuffle_rng = Rng(1).state(), .dropout_rng = Rng(2).state()});
  int refused = 0;
  for (std::size_t byte = 24; byte < good.size(); ++byte) {
    for (unsigned char v : {0x00, 0xFF}) {
      auto bad = good;
      bad[byte] = v;
      fix_header(bad);
      fuzz::load_one(bad);  // throws std::logic_error on a broken network
      try {
        (void)detail::load_checkpoint_bytes<double, Tanh, Sgd<double>>(bad, "edit.npl");
      } catch (const FileError&) {
        ++refused;
      }
    }
  }
  CHECK(refused > 0);
}

TEST_CASE("load refuses a huge size field without allocating it", "[io][corruption]") {
  Mlp<float, Relu> net({2, 3, 2}, 5);
  auto b = detail::network_bytes(net);
  // NETW body: tag(4) length(8) | scalar(1) name(4+4) layers(4) sizes(8 each): sizes[1] at
  // 24+12+13+8.
  const std::size_t size1 = 24 + 12 + 1 + 4 + 4 + 4 + 8;
  for (std::uint64_t huge : {std::uint64_t{1} << 40, ~std::uint64_t{0}, std::uint64_t{1} << 31}) {
    auto bad = b;
    for (int i = 0; i < 8; ++i)
      bad[size1 + static_cast<std::size_t>(i)] = static_cast<unsigned char>(huge >> (8 * i));
    fix_header(bad);
    CHECK_THROWS_MATCHES((detail::load_bytes<float, Relu>(bad, "huge.npl")), FileError,
                         WhatHas({"huge.npl is corrupt"}));
  }
  // A layer count of 2^32 − 1.
  auto bad = b;
  for (int i = 0; i < 4; ++i) bad[24 + 12 + 1 + 4 + 4 + static_cast<std::size_t>(i)] = 0xFF;
  fix_header(bad);
  CHECK_THROWS_MATCHES((detail::load_bytes<float, Relu>(bad, "huge.npl")), FileError,
                       WhatHas({"layer sizes needs"}));
}

TEST_CASE("network_file_info tells which load<T, Act> reads a file", "[io]") {
  TempDir dir;
  save(Mlp<float, Relu>({3, 4, 2}, 1), dir / "f.npl");
  save(Mlp<double, Tanh>({2, 2}, 1), dir / "d.npl");
  const NetworkFileInfo f = network_file_info(dir / "f.npl");
  CHECK(f.scalar == "float");
  CHECK(f.activation == "relu");
  const NetworkFileInfo d = network_file_info(dir / "d.npl");
  CHECK(d.scalar == "double");
  CHECK(d.activation == "tanh");
  CHECK(network_file_info(bytes_of(dir / "f.npl"), "in memory").activation == "relu");
  write_bytes(dir / "junk.npl", {1, 2, 3});
  CHECK_THROWS_AS(network_file_info(dir / "junk.npl"), FileError);
  CHECK_THROWS_AS(network_file_info(dir / "missing.npl"), FileError);
  // A damaged file is refused as load refuses it (the checksum covers the header too).
  auto bytes = bytes_of(dir / "f.npl");
  bytes[bytes.size() / 2] ^= 0x10;
  write_bytes(dir / "flipped.npl", bytes);
  CHECK_THROWS_AS(network_file_info(dir / "flipped.npl"), FileError);
}

TEST_CASE("a model saved with its feature scaler gives it back, load ignores it", "[io][scaler]") {
  TempDir dir;
  const Mlp<float, Relu> net({3, 4, 2}, 1);
  Matrix<float> X(3, 4);
  X << 1, 2, 3, 6, 5, 5, 5, 5, -1, 0, 1, 0;
  const auto scaler = StandardScaler<float>::fit(X);
  save(net, scaler, dir / "m.npl");
  const Mlp<float, Relu> loaded = load<float, Relu>(dir / "m.npl");
  for (Index l = 0; l < net.layer_count(); ++l) CHECK(loaded.weights(l) == net.weights(l));
  const auto back = load_scaler<float>(dir / "m.npl");
  REQUIRE(back.has_value());
  CHECK(back->mean == scaler.mean);
  CHECK(back->sd == scaler.sd);
  CHECK(back->sd(1) == 1);  // the constant feature
  save(net, dir / "plain.npl");
  CHECK_FALSE(load_scaler<float>(dir / "plain.npl").has_value());
  // A scaler of another feature count, or with a zero standard deviation: nothing is written.
  const auto wrong = StandardScaler<float>::fit(Matrix<float>(Matrix<float>::Ones(2, 3)));
  CHECK_THROWS_MATCHES(save(net, wrong, dir / "w.npl"), Error, WhatHas({"2 means", "3 inputs"}));
  auto zero = scaler;
  zero.sd(0) = 0;
  CHECK_THROWS_MATCHES(save(net, zero, dir / "z.npl"), Error, WhatHas({"not positive"}));
  CHECK_FALSE(fs::exists(dir / "w.npl"));
  CHECK_FALSE(fs::exists(dir / "z.npl"));
  CHECK_THROWS_AS(load_scaler<float>(dir / "missing.npl"), FileError);
  // A damaged scaler section is caught by the checksum like any other byte.
  auto bytes = bytes_of(dir / "m.npl");
  bytes[bytes.size() - 3] ^= 0x40;
  write_bytes(dir / "damaged.npl", bytes);
  CHECK_THROWS_MATCHES(load_scaler<float>(dir / "damaged.npl"), FileError, WhatHas({"damaged"}));
}

TEST_CASE("load refuses the wrong scalar type, activation, a future version and foreign files",
          "[io][corruption]") {
  TempDir dir;
  save(Mlp<float, Relu>({2, 3, 2}, 1), dir / "f.npl");
  CHECK_THROWS_MATCHES((load<double, Relu>(dir / "f.npl")), FileError,
                       WhatHas({"holds a float network but load<double, ...>"}));
  CHECK_THROWS_MATCHES((load<float, Tanh>(dir / "f.npl")), FileError,
                       WhatHas({"activation \"relu\" but load<..., tanh>"}));
  auto future = bytes_of(dir / "f.npl");
  CHECK(future[8] == kFileFormatVersion);
  future[8] = static_cast<unsigned char>(kFileFormatVersion + 1);
  write_bytes(dir / "future.npl", future);
  CHECK_THROWS_MATCHES(
      (load<float, Relu>(dir / "future.npl")), FileError,
      WhatHas({"format version " + std::to_string(kFileFormatVersion + 1), "newer neuroplast"}));
  // Version 1 files (before policy sections) still load.
  auto older = bytes_of(dir / "f.npl");
  older[8] = 1;
  const std::span<const unsigned char> payload(older.data() + detail::kFileHeaderBytes,
                                               older.size() - detail::kFileHeaderBytes);
  const std::uint32_t crc = crc32(payload);
  for (int i = 0; i < 4; ++i) older[12 + i] = static_cast<unsigned char>(crc >> (8 * i));
  write_bytes(dir / "older.npl", older);
  CHECK(load<float, Relu>(dir / "older.npl").sizes() == std::vector<Index>{2, 3, 2});
  write_bytes(dir / "text.npl", {'h', 'e', 'l', 'l', 'o', ' ', 'w', 'o', 'r', 'l', 'd', '\n'});
  CHECK_THROWS_MATCHES((load<float, Relu>(dir / "text.npl")), FileError,
                       WhatHas({"is not a neuroplast model file"}));
  save_safetensors(Mlp<float, Relu>({2, 3, 2}, 1), dir / "s.safetensors");
  CHECK_THROWS_MATCHES((load<float, Relu>(dir / "s.safetensors")), FileError,
                       WhatHas({"looks like a safetensors file"}));
  write_bytes(dir / "empty.npl", {});
  CHECK_THROWS_MATCHES((load<float, Relu>(dir / "empty.npl")), FileError, WhatHas({"is empty"}));
  CHECK_THROWS_MATCHES((load<float, Relu>(dir / "missing.npl")), FileError,
                       WhatHas({"cannot open", "missing.npl"}));
  CHECK_THROWS_AS((load<float, Relu>(dir.path.string())), FileError);  // a directory
}

TEST_CASE("non-finite parameters are never saved nor loaded", "[io][numeric]") {
  TempDir dir;
  Mlp<double, Relu> net({2, 3, 2}, 1);
  save(net, dir / "good.npl");
  const auto before = bytes_of(dir / "good.npl");
  net.weights(1)(1, 2) = std::numeric_limits<double>::quiet_NaN();
  CHECK_THROWS_MATCHES((save(net, dir / "good.npl")), NumericError,
                       WhatHas({"layer 1 weights holds nan at (1, 2)"}));
  CHECK_THROWS_AS((save_safetensors(net, dir / "good.safetensors")), NumericError);
  CHECK(bytes_of(dir / "good.npl") == before);
  CHECK_FALSE(fs::exists(dir / "good.safetensors"));
  // A file edited to hold infinity (checksum recomputed) is refused.
  auto bad = before;
  const double inf = std::numeric_limits<double>::infinity();
  // The first weight of layer 0 follows the NETW section and the LAYR header (tag, length, index).
  const std::size_t netw_len = bad[24 + 4] | (bad[24 + 5] << 8);
  const std::size_t first_weight = 24 + 12 + netw_len + 12 + 4;
  std::memcpy(&bad[first_weight], &inf, 8);
  fix_header(bad);
  CHECK_THROWS_MATCHES((detail::load_bytes<double, Relu>(bad, "inf.npl")), FileError,
                       WhatHas({"layer 0 weights holds NaN or infinity"}));
}

TEST_CASE("an interrupted write leaves the previous file intact and no temporary behind",
          "[io][atomic]") {
  TempDir dir;
  const std::string path = dir / "model.npl";
  Mlp<float, Relu> old_net({2, 3, 2}, 1);
  save(old_net, path);
  ::chmod(path.c_str(), 0640);
  const auto old_bytes = bytes_of(path);
  const Mlp<float, Relu> new_net({2, 4, 2}, 2);
  using detail::WriteStage;
  for (WriteStage stage : {WriteStage::create, WriteStage::write, WriteStage::sync,
                           WriteStage::close, WriteStage::rename}) {
    INFO("failing while " << detail::stage_name(stage));
    detail::atomic_write_fault_hook() = [stage](WriteStage s) {
      if (s == stage) throw std::runtime_error("simulated disk full");
    };
    CHECK_THROWS_MATCHES((save(new_net, path)), FileError,
                         WhatHas({"simulated disk full", "previous file, if any, is unchanged"}));
    CHECK_THROWS_AS((save_safetensors(new_net, path)), FileError);
    detail::atomic_write_fault_hook() = nullptr;
    CHECK(bytes_of(path) == old_bytes);
    CHECK(std::distance(fs::directory_iterator(dir.path), fs::directory_iterator{}) == 1);
  }
  // A real failure: the directory does not exist.
  CHECK_THROWS_MATCHES((save(new_net, dir / "no/such/dir/model.npl")), FileError,
                       WhatHas({"cannot write", "No such file or directory"}));
  // A successful save replaces the file and keeps its permissions.
  save(new_net, path);
  CHECK(load<float, Relu>(path).sizes() == std::vector<Index>{2, 4, 2});
  struct stat st {};
  REQUIRE(::stat(path.c_str(), &st) == 0);
  CHECK((st.st_mode & 0777) == 0640);
}

TEST_CASE("safetensors header matches the format byte for byte", "[io][safetensors]") {
  Mlp<float, Tanh> net({2, 3, 2}, 1);
  Matrix<float> mask = Matrix<float>::Ones(2, 3);
  mask(0, 2) = 0;
  net.prune_connections(1, mask);
  const auto bytes = detail::safetensors_bytes(net);
  const std::string expected =
      R"({"__metadata__":{"library":"neuroplast","format_version":"1","activation":"tanh",)"
      R"("sizes":"2,3,2"},)"
      R"("layers.0.weight":{"dtype":"F32","shape":[3,2],"data_offsets":[0,24]},)"
      R"("layers.0.bias":{"dtype":"F32","shape":[3],"data_offsets":[24,36]},)"
      R"("layers.1.weight":{"dtype":"F32","shape":[2,3],"data_offsets":[36,60]},)"
      R"("layers.1.bias":{"dtype":"F32","shape":[2],"data_offsets":[60,68]},)"
      R"("layers.1.mask":{"dtype":"F32","shape":[2,3],"data_offsets":[68,92]}})";
  std::uint64_t n = 0;
  for (int i = 0; i < 8; ++i) n |= std::uint64_t{bytes[static_cast<std::size_t>(i)]} << (8 * i);
  REQUIRE(n % 8 == 0);
  const std::string header(bytes.begin() + 8, bytes.begin() + 8 + static_cast<std::ptrdiff_t>(n));
  CHECK(header == expected + std::string(n - expected.size(), ' '));
  REQUIRE(bytes.size() == 8 + n + 92);
  // Row-major data: W(0)(0, 1) is the second float, the mask's (0, 2) entry is 0.
  float w01 = 0, m02 = 1;
  std::memcpy(&w01, &bytes[8 + n + 4], 4);
  std::memcpy(&m02, &bytes[8 + n + 68 + 8], 4);
  CHECK(w01 == net.weights(0)(0, 1));
  CHECK(m02 == 0.0f);
}

TEST_CASE("safetensors round-trips weights, biases and masks", "[io][safetensors]") {
  TempDir dir;
  Adam<double> opt;
  auto net = eventful_network<double, Relu>(opt);
  save_safetensors(net, dir / "m.safetensors");
  const auto loaded = load_safetensors<double, Relu>(dir / "m.safetensors");
  REQUIRE(loaded.sizes() == net.sizes());
  for (Index l = 0; l < net.layer_count(); ++l) {
    CHECK(same_bits(loaded.weights(l), net.weights(l)));
    CHECK(same_bits(loaded.bias(l), net.bias(l)));
    CHECK(loaded.connection_mask(l) == net.connection_mask(l));
    CHECK(loaded.layer_params(l).weight_param().masked ==
          net.layer_params(l).weight_param().masked);
  }
  const Matrix<double> X = batch<double>(4, 5, 1);
  CHECK(same_bits(loaded.forward(X), net.forward(X)));

  Mlp<float, Sigmoid> small({3, 2}, 2);
  save_safetensors(small, dir / "f.safetensors");
  CHECK(same_bits(load_safetensors<float, Sigmoid>(dir / "f.safetensors").weights(0),
                  small.weights(0)));
}

TEST_CASE("safetensors keeps the function of a paper-convention dropout network",
          "[io][safetensors]") {
  // Regression: the inference scale (1 − p) of the paper's convention was dropped, and the file
  // was byte-identical to the same network without dropout.
  TempDir dir;
  Mlp<float, Relu> net({5, 8, 6, 3}, 17);
  net.set_dropout(0, Dropout{.rate = 0.5, .convention = DropoutConvention::paper});
  net.set_dropout(1, Dropout{.rate = 0.25, .convention = DropoutConvention::paper});
  REQUIRE(net.inference_scale(1) == 0.5f);
  save_safetensors(net, dir / "d.safetensors");
  const auto loaded = load_safetensors<float, Relu>(dir / "d.safetensors");
  const Matrix<float> X = batch<float>(5, 9, 3);
  const Matrix<float> expected = net.forward(X);
  CHECK(testing::relative_difference(loaded.forward(X).cast<double>(), expected.cast<double>()) <=
        1e-6);
  CHECK(same_bits(loaded.weights(0), net.weights(0)));  // nothing to fold into layer 0
  CHECK(Matrix<float>(loaded.weights(1)) == Matrix<float>(0.5f * net.weights(1)));
  CHECK(Matrix<float>(loaded.weights(2)) == Matrix<float>(0.75f * net.weights(2)));

  Mlp<float, Relu> plain = net;
  plain.set_dropout(0, Dropout{});
  plain.set_dropout(1, Dropout{});
  save_safetensors(plain, dir / "p.safetensors");
  CHECK(bytes_of(dir / "p.safetensors") != bytes_of(dir / "d.safetensors"));
  // The inverted convention does not scale inference: nothing is folded.
  Mlp<float, Relu> inverted = plain;
  inverted.set_dropout(0, Dropout{.rate = 0.5});
  save_safetensors(inverted, dir / "i.safetensors");
  CHECK(bytes_of(dir / "p.safetensors") == bytes_of(dir / "i.safetensors"));
}

TEST_CASE("Python reads save_safetensors files (best effort: skipped without python3)",
          "[io][safetensors]") {
  if (std::system("python3 -c 'import json, struct' >/dev/null 2>&1") != 0) {
    WARN("python3 not available: the Python reading check is skipped");
    return;
  }
  TempDir dir;
  Mlp<double, Relu> net({3, 4, 2}, 8);
  Matrix<double> mask = Matrix<double>::Ones(2, 4);
  mask(1, 3) = 0;
  net.prune_connections(1, mask);
  save_safetensors(net, dir / "m.safetensors");
  // A reader written from the format description alone (json + struct; NumPy too if present):
  // prints every tensor's name, shape and values in C order.
  std::ofstream(dir / "read.py") << R"(import json, struct, sys
b = open(sys.argv[1], "rb").read()
n = struct.unpack("<Q", b[:8])[0]
h = json.loads(b[8:8 + n])
data = b[8 + n:]
meta = h.pop("__metadata__")
print(meta["activation"], meta["sizes"])
for name, t in h.items():
    lo, hi = t["data_offsets"]
    values = struct.unpack("<%dd" % ((hi - lo) // 8), data[lo:hi])
    try:
        import numpy
        arr = numpy.frombuffer(data[lo:hi], dtype="<f8").reshape(t["shape"])
        assert list(arr.ravel()) == list(values)
    except ImportError:
        pass
    print(name, t["dtype"], t["shape"], " ".join(repr(v) for v in values))
)";
  const std::string out = dir / "out.txt";
  REQUIRE(std::system(("python3 " + (dir / "read.py") + " " + (dir / "m.safetensors") + " > " + out)
                          .c_str()) == 0);
  std::ifstream in(out);
  std::string line;
  std::getline(in, line);
  CHECK(line == "relu 3,4,2");
  int tensors = 0;
  while (std::getline(in, line)) {
    std::istringstream row(line);
    std::string name, dtype;
    row >> name >> dtype;
    CHECK(dtype == "F64");
    const Index l = name[7] - '0';
    const std::string kind = name.substr(9);
    std::string shape;
    std::getline(row, shape, ']');
    Matrix<double> expected = kind == "bias"   ? Matrix<double>(net.bias(l))
                              : kind == "mask" ? net.connection_mask(l)
                                               : Matrix<double>(net.weights(l));
    // The Python side prints C (row-major) order.
    const Matrix<double> t = expected.transpose();
    for (Index i = 0; i < t.size(); ++i) {
      double v = 0;
      row >> v;
      CHECK(v == t.data()[i]);
    }
    ++tensors;
  }
  CHECK(tensors == 5);
}

TEST_CASE("load_safetensors refuses wrong types and malformed files, saying which",
          "[io][safetensors][corruption]") {
  TempDir dir;
  Mlp<float, Relu> net({2, 3, 2}, 1);
  save_safetensors(net, dir / "m.safetensors");
  CHECK_THROWS_MATCHES((load_safetensors<double, Relu>(dir / "m.safetensors")), FileError,
                       WhatHas({"holds F32 tensors", "load_safetensors<float, ...>"}));
  CHECK_THROWS_MATCHES((load_safetensors<float, Tanh>(dir / "m.safetensors")), FileError,
                       WhatHas({"activation \"relu\""}));
  save(net, dir / "m.npl");
  CHECK_THROWS_AS((load_safetensors<float, Relu>(dir / "m.npl")), FileError);

  const auto good = detail::safetensors_bytes(net);
  for (std::size_t n = 0; n < good.size(); ++n) {
    const std::vector<unsigned char> cut(good.begin(),
                                         good.begin() + static_cast<std::ptrdiff_t>(n));
    INFO("cut at " << n);
    CHECK_THROWS_AS((detail::load_safetensors_bytes<float, Relu>(cut, "cut")), FileError);
  }
  // Every bit of the header flipped: refused, or (a flip that keeps it valid) a working network.
  for (std::size_t byte = 0; byte < good.size(); ++byte)
    for (int bit = 0; bit < 8; ++bit) {
      auto bad = good;
      bad[byte] ^= static_cast<unsigned char>(1u << bit);
      fuzz::load_safetensors_one(bad);
    }

  auto with_header = [](const std::string& json, std::size_t data_bytes) {
    std::vector<unsigned char> b(8);
    for (int i = 0; i < 8; ++i)
      b[static_cast<std::size_t>(i)] = static_cast<unsigned char>(json.size() >> (8 * i));
    b.insert(b.end(), json.begin(), json.end());
    b.resize(b.size() + data_bytes, 0);
    return b;
  };
  const std::string meta = R"({"__metadata__":{"activation":"relu","sizes":"1,1"},)";
  auto refused = [&](const std::string& json, std::size_t data, const char* message) {
    INFO(json);
    CHECK_THROWS_MATCHES(
        (detail::load_safetensors_bytes<float, Relu>(with_header(json, data), "x")), FileError,
        WhatHas({message}));
  };
  const std::string w = R"("layers.0.weight":{"dtype":"F32","shape":[1,1],"data_offsets":[0,4]})";
  const std::string b = R"("layers.0.bias":{"dtype":"F32","shape":[1],"data_offsets":[4,8]})";
  CHECK(detail::load_safetensors_bytes<float, Relu>(with_header(meta + w + "," + b + "}", 8), "x")
            .sizes() == std::vector<Index>{1, 1});
  refused(meta + w + "," + b + "}", 12, "4 bytes follow the last tensor");
  refused(meta + w + "," + b + "}", 4, "truncated");
  refused(meta + w + "," + w + "}", 8, "appears twice");
  refused(meta + w + "}", 4, "tensors, but the 1 layers");
  refused(meta + w + "," + R"("layers.0.bias":{"dtype":"F32","shape":[1],"data_offsets":[0,4]}})",
          4, "gap or overlaps");
  refused(meta + w + "," + R"("layers.0.bias":{"dtype":"F32","shape":[2],"data_offsets":[4,8]}})",
          8, "needs 2 × 4");
  refused(meta + w + "," + R"("layers.0.bias":{"dtype":"I8","shape":[4],"data_offsets":[4,8]}})", 8,
          "dtype I8");
  refused(meta + w + "," + R"("layers.9.bias":{"dtype":"F32","shape":[1],"data_offsets":[4,8]}})",
          8, "has no tensor \"layers.0.bias\"");
  refused(meta + w + "," + R"("layers.0.bias":{"dtype":"F32","shape":[1],"data_offsets":[4,-8]}})",
          8, "non-negative integer");
  refused(std::string(R"({"__metadata__":{"activation":"relu","sizes":1},)") + w + "," + b + "}", 8,
          "non-string __metadata__");
  refused(
      std::string(R"({"__metadata__":{"activation":"relu","sizes":"1,,1"},)") + w + "," + b + "}",
      8, "malformed sizes");
  refused(
      std::string(R"({"__metadata__":{"activation":"relu","sizes":"1,1","format_version":"2"},)") +
          w + "," + b + "}",
      8, "conventions version \"2\"");
  refused(std::string(R"({"layers.0.weight":1})"), 0, "no __metadata__");
  refused(std::string(R"({"__metadata__":{"activation":"relu","sizes":"1,1"}} x)"), 0,
          "unexpected characters");
  refused("{" + std::string(100000, '[') + std::string(100000, ']') + "}", 0, "expected a quoted");
  refused(R"({"a":)" + std::string(100000, '[') + std::string(100000, ']') + "}", 0,
          "nesting deeper");
  refused(R"({"a":"\ud800"})", 0, "unpaired surrogate");
  std::vector<unsigned char> huge(16, 0xFF);
  CHECK_THROWS_MATCHES((detail::load_safetensors_bytes<float, Relu>(huge, "huge")), FileError,
                       WhatHas({"exceeds the format's limit"}));
  // NaN in the data.
  auto nan_file = with_header(meta + w + "," + b + "}", 8);
  const float nan = std::numeric_limits<float>::quiet_NaN();
  std::memcpy(&nan_file[nan_file.size() - 4], &nan, 4);
  CHECK_THROWS_MATCHES((detail::load_safetensors_bytes<float, Relu>(nan_file, "nan")), FileError,
                       WhatHas({"NaN or infinity in tensor \"layers.0.bias\""}));
}

namespace {

// A trainer that can report and restore its own state (Trainer::state() / restore()).
template <class Tr>
concept ResumableTrainer = requires(Tr& t, const TrainerState& s, const History& h) {
  { t.state() } -> std::convertible_to<TrainerState>;
  t.restore(s, h);
};

Dataset<double> blobs(Index n, std::uint64_t seed) {
  Rng rng(seed);
  Matrix<double> X(3, n);
  std::vector<int> y(static_cast<std::size_t>(n));
  for (Index i = 0; i < n; ++i) {
    const int c = static_cast<int>(i % 3);
    y[static_cast<std::size_t>(i)] = c;
    for (Index r = 0; r < 3; ++r) X(r, i) = rng.normal(r == c ? 1.5 : 0.0, 0.7);
  }
  return Dataset<double>(X, y);
}

// Exact resumption with shuffling needs the trainer's own state: runs when the Trainer offers it.
template <class TrainerType, class Fresh>
void shuffled_resume(const TempDir& dir, const Dataset<double>& train,
                     const Dataset<double>& validation, const Fresh& fresh, TrainOptions options,
                     const Adam<double>& adam) {
  if constexpr (ResumableTrainer<TrainerType>) {
    options.shuffle = true;
    Mlp<double, Relu> straight = fresh();
    TrainerType whole(straight, adam, StaticPolicy{}, options);
    whole.fit(train, validation);
    options.epochs /= 2;
    Mlp<double, Relu> first = fresh();
    TrainerType part1(first, adam, StaticPolicy{}, options);
    part1.fit(train, validation);
    save_checkpoint(dir / "shuffled.npl", first, part1.optimizer(), part1.history(),
                    TrainerState(part1.state()));
    auto c = load_checkpoint<double, Relu, Adam<double>>(dir / "shuffled.npl");
    REQUIRE(c.trainer.has_value());
    TrainerType part2(c.network, c.optimizer, StaticPolicy{}, options);
    part2.restore(*c.trainer, c.history);
    part2.fit(train, validation);
    check_same_network(c.network, straight);
  } else {
    WARN("Trainer has no state()/restore(): exact resumption with shuffling is not tested");
  }
}

}  // namespace

TEST_CASE("a run resumed from a checkpoint ends bit-identical to the uninterrupted run",
          "[io][resume]") {
  TempDir dir;
  const Dataset<double> train = blobs(60, 1), validation = blobs(30, 2);
  const auto fresh = [] {
    Mlp<double, Relu> net({3, 8, 3}, 21);
    net.grow_neurons(0, 2, init::He{});  // young neurons: per-parameter bias correction matters
    Matrix<double> mask = Matrix<double>::Ones(3, 10);
    mask(1, 4) = 0;
    net.prune_connections(1, mask);
    return net;
  };
  // What is reachable today: network, optimizer and history, with an order that does not depend
  // on the trainer's private shuffling stream.
  const TrainOptions options{.epochs = 6, .batch_size = 16, .seed = 3, .shuffle = false};
  const Adam<double> adam{.learning_rate = 0.02};

  Mlp<double, Relu> straight = fresh();
  Trainer whole(straight, adam, StaticPolicy{}, options);
  const History full = whole.fit(train, validation);

  Mlp<double, Relu> first = fresh();
  TrainOptions half = options;
  half.epochs = 3;
  Trainer part1(first, adam, StaticPolicy{}, half);
  const History h1 = part1.fit(train, validation);
  save_checkpoint(dir / "run.npl", first, part1.optimizer(), h1);

  auto c = load_checkpoint<double, Relu, Adam<double>>(dir / "run.npl");
  CHECK(c.optimizer.steps == part1.optimizer().steps);
  CHECK(c.optimizer.learning_rate == 0.02);
  REQUIRE(c.history.epochs.size() == 3);
  CHECK(c.history.epochs[2].train_loss == h1.epochs[2].train_loss);
  CHECK_FALSE(c.trainer.has_value());
  Trainer part2(c.network, c.optimizer, StaticPolicy{}, half);
  const History h2 = part2.fit(train, validation);

  REQUIRE(c.network.sizes() == straight.sizes());
  for (Index l = 0; l < straight.layer_count(); ++l) {
    CHECK(same_bits(c.network.weights(l), straight.weights(l)));
    CHECK(same_bits(c.network.bias(l), straight.bias(l)));
  }
  check_same_network(c.network, straight);
  CHECK(part2.optimizer().steps == whole.optimizer().steps);
  // The comparison has teeth: without the saved moments the resumed run ends elsewhere.
  save(first, dir / "no_state.npl", SaveOptions{.optimizer_state = false});
  Mlp<double, Relu> stateless = load<double, Relu>(dir / "no_state.npl");
  Trainer part2b(stateless, part1.optimizer(), StaticPolicy{}, half);
  part2b.fit(train, validation);
  CHECK_FALSE(same_bits(stateless.weights(0), straight.weights(0)));
  for (std::size_t e = 0; e < 3; ++e) {
    CHECK(h2.epochs[e].train_loss == full.epochs[e + 3].train_loss);
    CHECK(h2.epochs[e].validation_accuracy == full.epochs[e + 3].validation_accuracy);
  }

  // With shuffling, the trainer's own stream must be restored too.
  shuffled_resume<Trainer<Mlp<double, Relu>, Adam<double>, StaticPolicy>>(dir, train, validation,
                                                                          fresh, options, adam);
}

TEST_CASE("checkpoints keep history and trainer state, load reads their network", "[io][resume]") {
  TempDir dir;
  Mlp<float, Tanh> net({2, 3, 2}, 1);
  AdamW<float> opt{.learning_rate = 0.01f, .weight_decay = 0.05f};
  train_steps(net, opt, 2, 5);
  History h;
  h.epochs.push_back({.epoch = 1,
                      .train_loss = 0.7,
                      .sizes = net.sizes(),
                      .parameter_count = 17,
                      .active_parameter_count = 15});
  h.events.push_back({.epoch = 1,
                      .kind = EventKind::grow_neurons,
                      .layer = 0,
                      .count = 2,
                      .reason = "loss plateau",
                      .trigger_value = 1e-4,
                      .sizes_after = net.sizes()});
  Rng shuffle(5), drop(6);
  shuffle.normal();
  const TrainerState state{.epoch = 1, .shuffle_rng = shuffle.state(), .dropout_rng = drop.state()};
  save_checkpoint(dir / "c.npl", net, opt, h, state);
  const auto c = load_checkpoint<float, Tanh, AdamW<float>>(dir / "c.npl");
  check_same_network(c.network, net);
  CHECK(c.optimizer.weight_decay == 0.05f);
  CHECK(c.optimizer.steps == 2);
  REQUIRE(c.history.events.size() == 1);
  CHECK(c.history.events[0].reason == "loss plateau");
  CHECK(c.history.events[0].sizes_after == net.sizes());
  CHECK(std::isnan(c.history.epochs[0].validation_loss));
  CHECK(c.history.epochs[0].active_parameter_count == 15);
  REQUIRE(c.trainer.has_value());
  CHECK(c.trainer->shuffle_rng.words == state.shuffle_rng.words);
  CHECK(c.trainer->shuffle_rng.has_spare_normal);
  check_same_network(load<float, Tanh>(dir / "c.npl"), net);

  CHECK_THROWS_MATCHES((load_checkpoint<float, Tanh, Adam<float>>(dir / "c.npl")), FileError,
                       WhatHas({"holds a \"adamw\" optimizer"}));
  save(net, dir / "n.npl");
  CHECK_THROWS_MATCHES((load_checkpoint<float, Tanh, AdamW<float>>(dir / "n.npl")), FileError,
                       WhatHas({"no optimizer"}));
}

TEST_CASE("checkpoint_if_due writes every N epochs and after structural events", "[io][resume]") {
  TempDir dir;
  Mlp<float, Relu> net({2, 3, 2}, 1);
  const Sgd<float> opt{};
  History h;
  const CheckpointOptions every2{.path = dir / "every.npl", .every = 2};
  CHECK_FALSE(checkpoint_if_due(every2, 1, net, opt, h));
  CHECK_FALSE(fs::exists(dir / "every.npl"));
  CHECK(checkpoint_if_due(every2, 2, net, opt, h));
  CHECK(fs::exists(dir / "every.npl"));
  const CheckpointOptions on_event{.path = dir / "event.npl", .on_structural_event = true};
  CHECK_FALSE(checkpoint_if_due(on_event, 3, net, opt, h));
  h.events.push_back({.epoch = 3, .kind = EventKind::new_data});
  CHECK_FALSE(checkpoint_if_due(on_event, 3, net, opt, h));
  h.events.push_back({.epoch = 4, .kind = EventKind::remove_neurons, .layer = 0, .count = 1});
  CHECK(checkpoint_if_due(on_event, 4, net, opt, h));
  CHECK(load_checkpoint<float, Relu, Sgd<float>>(dir / "event.npl").history.events.size() == 2);
  CHECK_FALSE(checkpoint_if_due(CheckpointOptions{}, 4, net, opt, h));
}

TEST_CASE("TrainOptions::checkpoint writes every N epochs, a run resumed from it is exact",
          "[io][resume]") {
  TempDir dir;
  const Dataset<double> train = blobs(40, 3), validation = blobs(20, 4);
  const auto fresh = [] { return Mlp<double, Relu>({3, 6, 3}, 2); };
  TrainOptions options{.epochs = 6, .batch_size = 16, .seed = 1};
  options.checkpoint = {.path = dir / "run.npl", .every = 3};
  int copies = 0;
  // The checkpoint of an epoch is on disk when on_epoch_end runs: keep the one of epoch 3.
  options.on_epoch_end = [&](const EpochRecord& r) {
    CHECK(fs::exists(dir / "run.npl") == (r.epoch >= 3));
    if (r.epoch == 3) copies += fs::copy_file(dir / "run.npl", dir / "at3.npl");
  };
  Mlp<double, Relu> straight = fresh();
  Trainer whole(straight, Adam<double>{.learning_rate = 0.02}, StaticPolicy{}, options);
  whole.fit(train, validation);
  REQUIRE(copies == 1);
  const auto last = load_checkpoint<double, Relu, Adam<double>>(dir / "run.npl");
  CHECK(last.history.epochs.size() == 6);
  REQUIRE(last.trainer.has_value());
  CHECK(last.trainer->epoch == 6);
  check_same_network(last.network, straight);

  auto c = load_checkpoint<double, Relu, Adam<double>>(dir / "at3.npl");
  REQUIRE(c.trainer.has_value());
  CHECK(c.trainer->epoch == 3);
  CHECK(c.optimizer.steps == 3 * 3);
  TrainOptions rest{.epochs = 3, .batch_size = 16, .seed = 1};
  Trainer resumed(c.network, c.optimizer, StaticPolicy{}, rest);
  resumed.restore(*c.trainer, c.history);
  const History h = resumed.fit(train, validation);
  check_same_network(c.network, straight);
  REQUIRE(h.epochs.size() == 6);
  CHECK(h.epochs[5].train_loss == whole.history().epochs[5].train_loss);
}

namespace {
// Grows hidden layer 0 by one neuron after epoch 2 and records it: a structural event.
struct GrowAfterEpochTwo {
  static constexpr std::string_view name = "grow-after-2";
  template <class Context>
  void on_epoch_end(Context& context) {
    if (context.epoch != 2) return;
    context.net.grow_neurons(0, 1, init::ZeroFanOut{});
    context.record(StructuralEvent{.kind = EventKind::grow_neurons, .layer = 0, .count = 1});
  }
};
}  // namespace

TEST_CASE("TrainOptions::checkpoint writes after structural events, bad options are refused",
          "[io][resume]") {
  TempDir dir;
  TrainOptions options{.epochs = 4, .batch_size = 16, .seed = 1};
  options.checkpoint = {.path = dir / "event.npl", .on_structural_event = true};
  std::vector<int> written_after;
  options.on_epoch_end = [&](const EpochRecord& r) {
    if (fs::exists(dir / "event.npl")) {
      written_after.push_back(r.epoch);
      fs::remove(dir / "event.npl");
    }
  };
  Mlp<double, Relu> net({3, 4, 3}, 5);
  Trainer trainer(net, Sgd<double>{.learning_rate = 0.05}, GrowAfterEpochTwo{}, options);
  trainer.fit(blobs(40, 3));
  CHECK(written_after == std::vector<int>{2});

  TrainOptions no_path{.epochs = 1};
  no_path.checkpoint.every = 2;
  CHECK_THROWS_MATCHES(Trainer(net, Sgd<double>{}, StaticPolicy{}, no_path), Error,
                       WhatHas({"checkpoint.path is empty"}));
  TrainOptions negative{.epochs = 1};
  negative.checkpoint = {.path = dir / "x.npl", .every = -1};
  CHECK_THROWS_MATCHES(Trainer(net, Sgd<double>{}, StaticPolicy{}, negative), Error,
                       WhatHas({"checkpoint.every = -1"}));
  // A checkpoint directory that does not exist is refused before training, leaving no file.
  TrainOptions unwritable{.epochs = 2, .batch_size = 16};
  unwritable.checkpoint = {.path = dir / "missing/dir/run.npl", .every = 1};
  Trainer failing(net, Sgd<double>{}, StaticPolicy{}, unwritable);
  CHECK_THROWS_MATCHES(failing.fit(blobs(40, 3)), FileError,
                       WhatHas({"missing/dir' of TrainOptions::checkpoint.path does not exist"}));
  CHECK(failing.history().epochs.empty());
  CHECK_FALSE(fs::exists(dir / "missing"));
  // One that disappears during the run stops it with FileError at the next write.
  fs::create_directories(dir / "gone");
  TrainOptions vanishing{.epochs = 3, .batch_size = 16};
  vanishing.checkpoint = {.path = dir / "gone/run.npl", .every = 1};
  vanishing.on_epoch_end = [&](const EpochRecord&) { fs::remove_all(dir / "gone"); };
  Trainer late(net, Sgd<double>{}, StaticPolicy{}, vanishing);
  CHECK_THROWS_AS(late.fit(blobs(40, 3)), FileError);
  CHECK(late.history().epochs.size() == 2);  // the second epoch trained, its write failed
  CHECK_FALSE(fs::exists(dir / "gone"));
}

TEST_CASE("files of format version 4 (no plasticity) still load, every neuron at 1",
          "[io][plasticity]") {
  Adam<float> opt{.learning_rate = 0.01f};
  Mlp<float, Relu> net({3, 4, 2}, 7);
  train_steps(net, opt, 2, 5);
  const auto bytes = detail::network_bytes(net);
  // The same file as version 4 wrote it: each LAYR section ends before the plasticity flag.
  detail::ContainerWriter old;
  for (const detail::Section& section : detail::read_container(bytes, "test", "v8.npl")) {
    old.begin(section.tag);
    auto body = section.body;
    if (section.tag == "LAYR") {
      REQUIRE(body.back() == 0);  // flag 0: every neuron at 1
      body = body.first(body.size() - 1);
    }
    old.out().raw(body);
    old.end();
  }
  std::vector<unsigned char> v4 = old.finish();
  REQUIRE(v4.size() == bytes.size() - 2);
  v4[8] = 4;  // the version is outside the checksum
  const auto loaded = detail::load_bytes<float, Relu>(v4, "v4.npl");
  for (Index l = 0; l < loaded.layer_count(); ++l)
    CHECK(loaded.plasticity(l) == Vector<float>::Ones(loaded.sizes()[l + 1]));
  // Saved again, it is the version 8 file of the same network.
  CHECK(detail::network_bytes(loaded) == bytes);
}

TEST_CASE("one code table for structural events, histories before version 16 read their own codes",
          "[io][events]") {
  // The edit log and the history store a kind by the same code.
  for (std::size_t code = 0; code < std::size(detail::kEventKindCodes); ++code)
    CHECK(detail::file_code(detail::kEventKindCodes[code]) == code);
  History h;
  h.events.push_back({.epoch = 1, .kind = EventKind::prune_connections, .count = 5});
  h.events.push_back({.epoch = 2, .kind = EventKind::grow_connections, .count = 3});
  h.events.push_back({.epoch = 3, .kind = EventKind::rollback});
  detail::ByteWriter w;
  detail::write_history(w, h);
  CHECK(w.bytes()[4 + 4 + 4] == 3);  // epochs 0, events 3, epoch 1, then prune's code
  auto read = [&](std::uint32_t version) {
    detail::ByteReader r(w.bytes(), "test", "hist", 0);
    return detail::read_history(r, version);
  };
  const History now = read(kFileFormatVersion);
  CHECK(now.events[0].kind == EventKind::prune_connections);
  CHECK(now.events[1].kind == EventKind::grow_connections);
  CHECK(now.events[2].kind == EventKind::rollback);
  // A version 8 file wrote prune_connections as 2 and grow_connections as 3.
  const History old = read(8);
  CHECK(old.events[0].kind == EventKind::grow_connections);
  CHECK(old.events[1].kind == EventKind::prune_connections);
  CHECK(old.events[2].kind == EventKind::rollback);
}

TEST_CASE("open lists: state planes and initialisers of one's own load, non-names are refused",
          "[io][extending]") {
  CHECK(detail::intern_name("sign_momentum") == "sign_momentum");
  CHECK(detail::intern_name("sign_momentum").data() == detail::intern_name("sign_momentum").data());
  CHECK(detail::intern_name("Sign Momentum").empty());
  CHECK(detail::intern_name(std::string(65, 'a')).empty());
  // A refusal says why: not a name, or a name past the table's bound.
  CHECK(detail::intern_refusal("Sign Momentum").starts_with("is not a name"));
  CHECK(detail::intern_refusal("sign_momentum").find("256 distinct") != std::string::npos);
  // A network trained by an optimizer the library does not know: 3 planes named "triple".
  Mlp<double, Relu> net({2, 3, 2}, 4);
  net.for_each_param([](Param<double>& p, ParamKind) {
    auto& planes = p.state_for("triple", 3);
    for (std::size_t i = 0; i < planes.size(); ++i)
      planes[i].view().setConstant(static_cast<double>(i) + 0.5);
  });
  const auto bytes = detail::network_bytes(net);
  const auto loaded = detail::load_bytes<double, Relu>(bytes, "t.npl");
  CHECK(detail::network_bytes(loaded) == bytes);
  CHECK(loaded.layer_params(0).weight_param().state_owner == "triple");
  CHECK(loaded.layer_params(1).bias_param().state[2].view()(0, 0) == 2.5);
  // The same file with the owner renamed to something that is not a name is refused.
  auto bad = bytes;
  const std::string owner = "triple";
  const auto at = std::search(bad.begin(), bad.end(), owner.begin(), owner.end());
  REQUIRE(at != bad.end());
  *at = 'T';
  fix_header(bad);
  CHECK_THROWS_MATCHES((detail::load_bytes<double, Relu>(bad, "t.npl")), FileError,
                       WhatHas({"optimizer named \"Triple\"", "not a name"}));
}

TEST_CASE("FieldCodec stores strings and vectors and refuses a length the bytes cannot hold",
          "[io][extending]") {
  ByteWriter w;
  const std::vector<double> values{1.5, -2.0};
  const std::string text = "grown";
  write_fields(w, std::tie(values, text));
  std::vector<double> values_back;
  std::string text_back;
  ByteReader r(w.bytes(), "test", "fields");
  read_fields(r, std::tie(values_back, text_back));
  CHECK(values_back == values);
  CHECK(text_back == text);
  CHECK(r.done());
  auto bytes = w.bytes();
  bytes[0] = 0xff;  // a vector length far beyond the bytes that follow
  ByteReader damaged(bytes, "test", "fields");
  CHECK_THROWS_MATCHES(FieldCodec<std::vector<double>>::read(damaged), FileError,
                       WhatHas({"checkpointed vector of", "is corrupt"}));
}

TEST_CASE("pruning connections is logged with the number newly pruned, and survives a file",
          "[io][events]") {
  Mlp<double, Relu> net({3, 4, 2}, 5);
  Matrix<double> mask = Matrix<double>::Ones(4, 3);
  mask(0, 0) = mask(1, 2) = 0;
  const EditRecord first = net.prune_connections(0, mask);
  CHECK(first.kind == EventKind::prune_connections);
  CHECK(first.count == 2);
  mask(2, 1) = 0;  // one more; the two already pruned do not count again
  CHECK(net.prune_connections(0, mask).count == 1);
  CHECK(net.prune_connections(0, mask).count == 0);  // nothing new: not an edit, not logged
  REQUIRE(net.edit_log().size() == 2);
  CHECK(net.edit_log()[1].count == 1);
  const auto loaded = detail::load_bytes<double, Relu>(detail::network_bytes(net), "p.npl");
  REQUIRE(loaded.edit_log().size() == 2);
  CHECK(loaded.edit_log()[0].kind == EventKind::prune_connections);
  CHECK(loaded.edit_log()[0].count == 2);
}

TEST_CASE("a network file whose edit log holds a trainer-only event is refused", "[io][events]") {
  Mlp<double, Relu> net({2, 3, 2}, 9);
  net.grow_neurons(0, 1, init::ZeroFanOut{});
  auto bytes = detail::network_bytes(net);
  // The one edit record ends the NETW section: kind (u8), layer, count, first (3 × i64), the
  // initialiser (u32 length + "zero_fan_out"), step (i64). Its kind, grow_neurons (0), becomes 6.
  const auto sections = detail::read_container(bytes, "test", "e.npl");
  const detail::Section& netw = sections.front();
  REQUIRE(netw.tag == "NETW");
  const std::size_t record = netw.offset + netw.body.size() - (1 + 3 * 8 + 4 + 12 + 8);
  REQUIRE(bytes[record] == 0);
  bytes[record] = 6;
  fix_header(bytes);
  CHECK_THROWS_MATCHES((detail::load_bytes<double, Relu>(bytes, "e.npl")), FileError,
                       WhatHas({"new_data", "only a trainer records"}));
}

TEST_CASE("plasticity round-trips through save, load and checkpoints, bad values are refused",
          "[io][plasticity]") {
  Sgd<double> sgd{.learning_rate = 0.05, .momentum = 0.9};
  Mlp<double, Tanh> net({3, 4, 2}, 8);
  net.set_plasticity(0, Vector<double>{{0.0, -0.0, 0.25, 1.0}});
  net.set_plasticity(1, 0.5);
  train_steps(net, sgd, 2, 6);
  const auto bytes = detail::network_bytes(net);
  const auto loaded = detail::load_bytes<double, Tanh>(bytes, "p.npl");
  check_same_network(net, loaded);
  // −0 is kept as +0, so what is read saves back to the same bytes.
  CHECK(std::signbit(loaded.plasticity(0)(1)) == false);
  const auto cp = detail::checkpoint_bytes(
      net, sgd, History{},
      TrainerState{.epoch = 1, .shuffle_rng = Rng(1).state(), .dropout_rng = Rng(2).state()});
  const auto resumed = detail::load_checkpoint_bytes<double, Tanh, Sgd<double>>(cp, "p.ckpt");
  check_same_network(net, resumed.network);

  // The file ends with the output layer's two plasticity values: one of them set to 2, the
  // checksum recomputed (a deliberate edit), is refused by name.
  auto bad = bytes;
  const double two = 2;
  std::memcpy(bad.data() + bad.size() - sizeof(double), &two, sizeof(double));
  const std::uint32_t crc = crc32(std::span<const unsigned char>(
      bad.data() + detail::kFileHeaderBytes, bad.size() - detail::kFileHeaderBytes));
  for (int i = 0; i < 4; ++i)
    bad[static_cast<std::size_t>(12 + i)] = static_cast<unsigned char>(crc >> (8 * i));
  CHECK_THROWS_MATCHES((detail::load_bytes<double, Tanh>(bad, "bad.npl")), FileError,
                       WhatHas({"bad.npl", "layer 1", "plasticity outside [0, 1]"}));
}

TEST_CASE("CRC-32 is zlib's", "[io]") {
  const std::string s = "123456789";
  CHECK(crc32(std::span<const unsigned char>(reinterpret_cast<const unsigned char*>(s.data()),
                                             s.size())) == 0xCBF43926u);
}

#ifdef NEUROPLAST_FUZZ_REGRESSIONS
TEST_CASE("inputs the fuzzers found are handled", "[io][fuzz]") {
  int replayed = 0;
  for (const auto& entry : fs::directory_iterator(NEUROPLAST_FUZZ_REGRESSIONS)) {
    if (!entry.is_regular_file() || entry.path().extension() == ".md") continue;
    INFO(entry.path().string());
    const auto bytes = bytes_of(entry.path().string());
    CHECK_NOTHROW(fuzz::load_one(bytes));
    CHECK_NOTHROW(fuzz::load_safetensors_one(bytes));
    ++replayed;
  }
  CHECK(replayed > 0);
}
#endif

namespace {
// y = sin(2x₀) + x₁x₂ on 3 normal inputs: a regression task for the resume checks.
Dataset<double> waves(Index n, std::uint64_t seed) {
  Rng rng(seed);
  Matrix<double> X(3, n), Y(1, n);
  for (Index i = 0; i < n; ++i) {
    for (Index r = 0; r < 3; ++r) X(r, i) = rng.normal();
    Y(0, i) = std::sin(2 * X(0, i)) + X(1, i) * X(2, i);
  }
  return Dataset<double>(X, Y);
}

// Resumes the run of `policy` from the checkpoint of every epoch in turn (Trainer::resume) and
// checks each resumed run makes the uninterrupted run's edits and ends with its parameters (on
// blobs, or with `regression` on waves under MSE), from a network with `hidden` hidden layers
// of 2. Returns the uninterrupted run's history.
template <class Policy>
History check_resume_from_every_epoch(const Policy& policy, int epochs,
                                      const LearningRateSchedule& schedule = ConstantRate{},
                                      bool regression = false, int hidden = 2) {
  TempDir dir;
  const Dataset<double> train = regression ? waves(60, 5) : blobs(60, 5),
                        validation = regression ? waves(30, 6) : blobs(30, 6);
  const auto fresh = [&] {
    std::vector<Index> sizes(static_cast<std::size_t>(hidden) + 2, 2);
    sizes.front() = 3;
    sizes.back() = regression ? 1 : 3;
    return Mlp<double, Relu>(sizes, 4);
  };
  TrainOptions options{.epochs = epochs, .batch_size = 16, .seed = 3};
  if (regression) options.loss = LossKind::mean_squared_error;
  options.learning_rate_schedule = schedule;
  options.checkpoint = {.path = dir / "run.npl", .every = 1};
  options.on_epoch_end = [&](const EpochRecord& r) {
    fs::copy_file(dir / "run.npl", dir / ("at" + std::to_string(r.epoch) + ".npl"));
  };
  Mlp<double, Relu> straight = fresh();
  Trainer whole(straight, Adam<double>{.learning_rate = 0.05}, policy, options);
  const History h = whole.fit(train, validation);
  for (int k = 1; k < epochs; ++k) {
    INFO("resumed after epoch " << k);
    Mlp<double, Relu> net = fresh();
    TrainOptions rest{.epochs = epochs - k, .batch_size = 16, .seed = 3};
    rest.loss = options.loss;
    rest.learning_rate_schedule = schedule;
    Trainer resumed(net, Adam<double>{.learning_rate = 0.05}, policy, rest);
    resumed.resume(dir / ("at" + std::to_string(k) + ".npl"));
    const History r = resumed.fit(train, validation);
    REQUIRE(r.events.size() == h.events.size());
    for (std::size_t i = 0; i < h.events.size(); ++i) {
      CHECK(r.events[i].epoch == h.events[i].epoch);
      CHECK(r.events[i].kind == h.events[i].kind);
      CHECK(r.events[i].layer == h.events[i].layer);
      CHECK(r.events[i].count == h.events[i].count);
    }
    check_same_network(net, straight);
    CHECK(resumed.optimizer().steps == whole.optimizer().steps);
    CHECK(resumed.optimizer().learning_rate == whole.optimizer().learning_rate);
  }
  return h;
}

// Triggers that fire every other epoch and criteria that end growth after one step without gain,
// so a short run grows, rolls back, prunes and undoes a pruning.
constexpr Stagnation kEager{.min_improvement = 0.9, .window_steps = 1};
constexpr GrowthPays kImpatient{.patience = 1, .min_gain = 0.5, .min_accuracy_gain = 0.5};

int count(const History& h, EventKind k) {
  return static_cast<int>(std::count_if(h.events.begin(), h.events.end(),
                                        [&](const StructuralEvent& e) { return e.kind == k; }));
}
}  // namespace

TEST_CASE("Trainer::resume continues a DropinPolicy run exactly from any checkpoint",
          "[io][resume][policy]") {
  const DropinPolicy policy{
      .trigger = kEager,
      .criterion = GrowthPays{.patience = 2, .min_gain = 0.5, .min_accuracy_gain = 0.5}};
  const History h = check_resume_from_every_epoch(policy, 12);
  // The scenario covers what the checkpoint must carry: growth, then its end with a rollback.
  CHECK(count(h, EventKind::grow_neurons) >= 4);
  CHECK(count(h, EventKind::rollback) == 1);
}

TEST_CASE("Trainer::resume continues a NeuroplasticPolicy run exactly from any checkpoint",
          "[io][resume][policy]") {
  const NeuroplasticPolicy policy{.trigger = kEager,
                                  .criterion = kImpatient,
                                  .prune_tolerance = 0,
                                  .prune_accuracy_tolerance = 0};
  const History h = check_resume_from_every_epoch(policy, 14);
  // Growth, its end, pruning and an undone pruning (a rollback each), retried at half the
  // fraction (NeuroplasticPolicy::prune_failures is in the checkpoint).
  CHECK(count(h, EventKind::grow_neurons) >= 2);
  CHECK(count(h, EventKind::prune_connections) >= 2);
  CHECK(count(h, EventKind::rollback) >= 2);
  CHECK(std::any_of(h.events.begin(), h.events.end(), [](const StructuralEvent& e) {
    return e.reason.find("again at half the fraction") != std::string::npos;
  }));
}

TEST_CASE("Trainer::resume continues a NeuroplasticPolicy run that waits for its loss to settle",
          "[io][resume][policy]") {
  // A regression network is pruned only once its loss stops falling measurably: the checkpoint
  // must carry that wait (NeuroplasticPolicy::settling). The same run without the wait prunes
  // earlier, which shows the wait took place. With the fit's last 8 windows (epochs here) kept
  // for pruning, the wait ends at epoch 9 of 16 at the latest, resumed or not.
  const auto first_prune = [](const History& h) {
    for (const StructuralEvent& e : h.events)
      if (e.kind == EventKind::prune_connections) return e.epoch;
    return -1;
  };
  NeuroplasticPolicy policy{.trigger = kEager, .criterion = kImpatient, .prune_windows = 0};
  const History waited = check_resume_from_every_epoch(policy, 16, ConstantRate{}, true);
  policy.prune_windows = 8;
  const History reserved = check_resume_from_every_epoch(policy, 16, ConstantRate{}, true);
  policy.prune_windows = 0;
  policy.settle_windows = 0;
  const History eager = check_resume_from_every_epoch(policy, 16, ConstantRate{}, true);
  CHECK(count(waited, EventKind::grow_neurons) >= 2);
  REQUIRE(first_prune(eager) > 0);
  CHECK(first_prune(waited) > first_prune(eager));
  CHECK(first_prune(reserved) == 9);
}

TEST_CASE("Trainer::resume continues a run that deepened its network exactly",
          "[io][resume][policy][depth]") {
  // From one hidden layer, the first growth step inserts a second (GrowBy::depth): a checkpoint
  // from before it holds a shallower network than one from after it, and the optimizer state of
  // the output layer moves with it.
  const DropinPolicy dropin{
      .trigger = kEager,
      .criterion = GrowthPays{.patience = 2, .min_gain = 0.5, .min_accuracy_gain = 0.5}};
  const History grown = check_resume_from_every_epoch(dropin, 12, ConstantRate{}, false, 1);
  CHECK(count(grown, EventKind::insert_layer) == 1);
  CHECK(count(grown, EventKind::grow_neurons) >= 4);
  const NeuroplasticPolicy neuroplastic{.trigger = kEager,
                                        .criterion = kImpatient,
                                        .prune_tolerance = 0,
                                        .prune_accuracy_tolerance = 0};
  const History pruned = check_resume_from_every_epoch(neuroplastic, 14, ConstantRate{}, false, 1);
  CHECK(count(pruned, EventKind::insert_layer) == 1);
  CHECK(count(pruned, EventKind::prune_connections) >= 2);
}

TEST_CASE("Trainer::resume continues learning-rate schedules exactly, growth included",
          "[io][resume][policy][schedule]") {
  const DropinPolicy policy{
      .trigger = kEager,
      .criterion = GrowthPays{.patience = 2, .min_gain = 0.5, .min_accuracy_gain = 0.5}};
  // Both schedules react to growth (a restart, a reset), and the plateau one to the losses: the
  // resumed runs can only match if the rate is a function of the History they carry.
  for (const LearningRateSchedule& schedule :
       {LearningRateSchedule{ReduceOnPlateau{.patience = 1, .factor = 0.5}},
        LearningRateSchedule{CosineDecay{.epochs = 3, .min_factor = 0.1}}}) {
    const History h = check_resume_from_every_epoch(policy, 12, schedule);
    CHECK(count(h, EventKind::grow_neurons) >= 2);
  }
}

TEST_CASE("a policy state from before a progress field existed restores with its default",
          "[io][resume][policy]") {
  // Earlier versions wrote NeuroplasticPolicy's progress without `handed_back` (a 64-bit
  // fingerprint), the last progress field, before that without `settling` (a bool, one byte),
  // before that without the early stop's watch_epoch (an int) and watch_score (a double), and
  // before that without prune_failures (an int); then the selector: its kind, and RoundRobin's
  // next layer.
  const std::size_t int_bytes = sizeof(int);
  const std::size_t hand_back_bytes = sizeof(std::uint64_t);
  const std::size_t settle_bytes = hand_back_bytes + 1;
  const std::size_t watch_bytes = settle_bytes + sizeof(int) + sizeof(double);
  for (const bool round_robin : {false, true}) {
    NeuroplasticPolicy p;
    if (round_robin) p.selector = RoundRobin{.next = 1};
    p.growing = false;
    p.prune_events = 5;
    p.last_event_epoch = 12;
    p.reference_accuracy = 0.75;
    p.prune_failures = 2;
    p.watch_epoch = 20;
    p.watch_score = 0.8;
    p.settling = true;
    p.handed_back = 0x1234;
    const std::vector<unsigned char> now = detail::policy_state_bytes(p);
    const std::size_t tail = round_robin ? 9 : 1;
    const auto without = [&](std::size_t cut) {
      std::vector<unsigned char> bytes(now.begin(), now.end() - static_cast<std::ptrdiff_t>(tail));
      bytes.resize(bytes.size() - cut);
      bytes.insert(bytes.end(), now.end() - static_cast<std::ptrdiff_t>(tail), now.end());
      return bytes;
    };
    // Fresh policies, as a resumed trainer is built with.
    NeuroplasticPolicy restored, before_hand_back, before_settle, before_watch, earlier;
    if (round_robin)
      restored.selector = before_hand_back.selector = before_settle.selector =
          before_watch.selector = earlier.selector = RoundRobin{};
    detail::read_policy_state(now, restored, "test", "now.npl");
    CHECK(restored.handed_back == 0x1234);
    CHECK(restored.prune_failures == 2);
    CHECK(restored.prune_events == 5);
    CHECK(restored.watch_epoch == 20);
    CHECK(restored.watch_score == 0.8);
    CHECK(restored.settling);
    detail::read_policy_state(without(hand_back_bytes), before_hand_back, "test",
                              "before_hand_back.npl");
    CHECK(before_hand_back.settling);
    CHECK(before_hand_back.handed_back == 0);  // nothing kept: the next fit goes on as it is
    detail::read_policy_state(without(settle_bytes), before_settle, "test", "before_settle.npl");
    CHECK(before_settle.watch_epoch == 20);
    CHECK_FALSE(before_settle.settling);  // not waiting: the phases go on as they were
    detail::read_policy_state(without(watch_bytes), before_watch, "test", "before_watch.npl");
    CHECK(before_watch.prune_failures == 2);
    CHECK(before_watch.watch_epoch == -1);  // no watch: the fit trains to its end
    detail::read_policy_state(without(watch_bytes + int_bytes), earlier, "test", "earlier.npl");
    CHECK(earlier.prune_failures == 0);  // as a fresh policy has it
    CHECK(earlier.watch_epoch == -1);
    CHECK(earlier.prune_events == 5);
    CHECK(earlier.last_event_epoch == 12);
    CHECK(earlier.reference_accuracy == 0.75);
    CHECK_FALSE(earlier.growing);
    if (round_robin) CHECK(std::get<RoundRobin>(earlier.selector).next == 1);
    // Half a field is not a field an earlier version left out.
    NeuroplasticPolicy cut;
    CHECK_THROWS_AS(detail::read_policy_state(without(int_bytes / 2), cut, "test", "cut.npl"),
                    FileError);
  }
}

TEST_CASE("Trainer::resume refuses another policy and leaves the trainer as it was",
          "[io][resume][errors]") {
  TempDir dir;
  Mlp<double, Relu> net({3, 4, 3}, 1);
  TrainOptions options{.epochs = 2, .batch_size = 16, .seed = 1};
  options.checkpoint = {.path = dir / "run.npl", .every = 1};
  Trainer t(net, Adam<double>{}, DropinPolicy{}, options);
  t.fit(blobs(40, 1));
  Mlp<double, Relu> other({3, 5, 3}, 2);
  const Matrix<double> before = other.weights(0);
  Trainer wrong(other, Adam<double>{}, NeuroplasticPolicy{}, TrainOptions{});
  CHECK_THROWS_MATCHES(wrong.resume(dir / "run.npl"), Error,
                       WhatHas({"written under the policy \"dropin\"", "\"neuroplastic\""}));
  CHECK(Matrix<double>(other.weights(0)) == before);
  CHECK(wrong.history().epochs.empty());
  CHECK_THROWS_AS(wrong.resume(dir / "missing.npl"), FileError);
}

TEST_CASE("a History is written as tidy CSV and JSON Lines", "[io][history]") {
  History h;
  h.epochs.push_back(EpochRecord{.epoch = 1,
                                 .train_loss = 0.5,
                                 .sizes = {2, 4, 3},
                                 .parameter_count = 23,
                                 .active_parameter_count = 23,
                                 .seconds = 0.25});
  h.epochs.push_back(EpochRecord{.epoch = 2,
                                 .train_loss = 0.25,
                                 .validation_loss = 0.75,
                                 .validation_accuracy = 0.5,
                                 .sizes = {2, 6, 3},
                                 .parameter_count = 33,
                                 .active_parameter_count = 30,
                                 .seconds = 0.125});
  h.epochs.push_back(EpochRecord{.epoch = 3,
                                 .train_loss = 0.1,
                                 .validation_loss = 0.7,
                                 .validation_accuracy = 0.625,
                                 .sizes = {2, 6, 5, 3},
                                 .parameter_count = 66,
                                 .active_parameter_count = 66,
                                 .seconds = 1});
  h.events.push_back(StructuralEvent{.epoch = 1,
                                     .kind = EventKind::grow_neurons,
                                     .layer = 0,
                                     .count = 2,
                                     .reason = "say \"hi\"\nnow",
                                     .sizes_after = {2, 6, 3}});
  h.events.push_back(
      StructuralEvent{.epoch = 3, .kind = EventKind::rollback, .trigger_value = 0.5});

  // Unmeasured values are empty cells; a shallower network leaves its missing sizes empty.
  const std::string csv =
      "epoch,train_loss,validation_loss,validation_accuracy,parameters,active_parameters,seconds,"
      "layers,size_0,size_1,size_2,size_3\n"
      "1,0.5,,,23,23,0.25,3,2,4,3,\n"
      "2,0.25,0.75,0.5,33,30,0.125,3,2,6,3,\n"
      "3,0.1,0.7,0.625,66,66,1,4,2,6,5,3\n";
  const std::string jsonl =
      "{\"epoch\":1,\"kind\":\"grow_neurons\",\"layer\":0,\"count\":2,"
      "\"reason\":\"say \\\"hi\\\"\\nnow\",\"trigger_value\":null,\"sizes_after\":[2,6,3]}\n"
      "{\"epoch\":3,\"kind\":\"rollback\",\"layer\":-1,\"count\":0,\"reason\":\"\","
      "\"trigger_value\":0.5,\"sizes_after\":[]}\n";
  std::ostringstream csv_out, jsonl_out;
  write_history_csv(csv_out, h);
  write_events_jsonl(jsonl_out, h);
  CHECK(csv_out.str() == csv);
  CHECK(jsonl_out.str() == jsonl);

  // Doubles read back exactly.
  History precise;
  precise.epochs.push_back(EpochRecord{.epoch = 1, .train_loss = 0.1 + 0.2});
  std::ostringstream p;
  write_history_csv(p, precise);
  const std::string row = p.str().substr(p.str().find('\n') + 3);
  CHECK(std::stod(row.substr(0, row.find(','))) == 0.1 + 0.2);

  TempDir dir;
  write_history_csv(dir / "history.csv", h);
  write_events_jsonl(dir / "events.jsonl", h);
  const auto text = [](const std::string& path) {
    const auto b = read_file(path);
    return std::string(b.begin(), b.end());
  };
  CHECK(text(dir / "history.csv") == csv);
  CHECK(text(dir / "events.jsonl") == jsonl);
  // A directory that does not exist: FileError naming the file; nothing is created.
  const std::string missing = dir / "no/such/dir/history.csv";
  CHECK_THROWS_AS(write_history_csv(missing, h), FileError);
  CHECK_THROWS_WITH(write_history_csv(missing, h), Catch::Contains("no/such/dir/history.csv"));
  CHECK_FALSE(fs::exists(dir / "no"));
}

// Not registered with CTest by discovery ([.]): tests/CMakeLists.txt runs it with the directory
// NEUROPLAST_HISTORY_LOG_DIR, then reads the files back with Python (tests/read_history_log.py).
TEST_CASE("a trained History's log files, for Python to read", "[.][history-log-files]") {
  const char* dir = std::getenv("NEUROPLAST_HISTORY_LOG_DIR");
  REQUIRE(dir != nullptr);
  Rng rng(5);
  Matrix<double> X(2, 120);
  std::vector<int> y(120);
  for (Index i = 0; i < 120; ++i) {
    const int k = static_cast<int>(i % 2);
    X(0, i) = rng.normal() + 2 * k;
    X(1, i) = rng.normal();
    y[static_cast<std::size_t>(i)] = k;
  }
  const Dataset<double> data(X, y);
  Mlp<double, Relu> net({2, 2, 2, 2}, 1);
  Trainer trainer(net, Adam<double>{.learning_rate = 0.01},
                  DropinPolicy{.trigger = Stagnation{.min_improvement = 0.5, .window_steps = 1}},
                  TrainOptions{.epochs = 12, .batch_size = 16, .seed = 1});
  const History h = trainer.fit(data, data);
  REQUIRE_FALSE(h.events.empty());  // the reader checks events against the epochs
  write_history_csv((fs::path(dir) / "history.csv").string(), h);
  write_events_jsonl((fs::path(dir) / "events.jsonl").string(), h);
}

TEST_CASE("Trainer::resume refuses policy progress no run reaches", "[io][resume][errors]") {
  TempDir dir;
  Mlp<double, Relu> net({3, 4, 3}, 1);
  TrainOptions options{.epochs = 1, .batch_size = 16, .seed = 1};
  options.checkpoint = {.path = dir / "run.npl", .every = 1};
  DropinPolicy odd;
  odd.growth_since = -4;  // what a corrupted file with a valid checksum could hold
  Trainer t(net, Adam<double>{}, odd, options);
  t.fit(blobs(40, 1));
  Mlp<double, Relu> other({3, 4, 3}, 2);
  const Matrix<double> before = other.weights(0);
  Trainer resumed(other, Adam<double>{}, DropinPolicy{}, TrainOptions{});
  CHECK_THROWS_MATCHES(resumed.resume(dir / "run.npl"), FileError,
                       WhatHas({"progress holds values no run reaches"}));
  CHECK(Matrix<double>(other.weights(0)) == before);
  CHECK(resumed.policy().growth_since == 0);
}
