#pragma once
// What every fuzz input goes through, shared by the libFuzzer targets and by the test that replays
// tests/fuzz/regressions/: the loaders must either throw neuroplast::Error or return a network that
// works (forward runs) and round-trips (saving and loading it again gives the same bytes). Any
// other exception, a crash or a sanitizer report is a bug.

#include <cstdint>
#include <cstring>
#include <span>
#include <stdexcept>
#include <vector>

#include "neuroplast/neuroplast.hpp"

namespace neuroplast::fuzz {

// Fails loudly (libFuzzer reports an uncaught exception as a crash).
inline void require(bool ok, const char* what) {
  if (!ok) throw std::logic_error(what);
}

template <class Net>
void exercise(const Net& net) {
  using T = typename Net::scalar;
  const Matrix<T> x = Matrix<T>::Constant(net.input_size(), 2, T(0.5));
  const Matrix<T> y = net.forward(x);
  require(y.rows() == net.output_size() && y.cols() == 2, "forward has the wrong shape");
}

template <class T, class Act>
void load_network(std::span<const unsigned char> bytes) {
  try {
    const auto net = detail::load_bytes<T, Act>(bytes, "<fuzz>");
    exercise(net);
    const auto again = detail::network_bytes(net);
    const auto net2 = detail::load_bytes<T, Act>(again, "<fuzz re-save>");
    require(detail::network_bytes(net2) == again, "save/load of a loaded network is not stable");
  } catch (const Error&) {
  }
}

template <class T, class Act, class Opt>
void load_trainer_checkpoint(std::span<const unsigned char> bytes) {
  try {
    const auto c = detail::load_checkpoint_bytes<T, Act, Opt>(bytes, "<fuzz>");
    exercise(c.network);
    if (c.policy && c.policy->best) exercise(*c.policy->best);
    if (c.policy && c.policy->saved) exercise(*c.policy->saved);
    const auto policy = [](const auto& x) { return x.policy ? &*x.policy : nullptr; };
    const auto again =
        detail::checkpoint_bytes(c.network, c.optimizer, c.history, c.trainer, policy(c));
    const auto c2 = detail::load_checkpoint_bytes<T, Act, Opt>(again, "<fuzz re-save>");
    require(detail::checkpoint_bytes(c2.network, c2.optimizer, c2.history, c2.trainer,
                                     policy(c2)) == again,
            "save/load of a loaded checkpoint is not stable");
    // Last: the bytes may hold another policy's progress, which is refused with an Error.
    if (c.policy) {
      NeuroplasticPolicy progress;
      detail::read_policy_state(c.policy->policy_state, progress, "<fuzz>", "<fuzz>");
    }
  } catch (const Error&) {
  }
}

template <class T, class Act>
void load_safetensors_network(std::span<const unsigned char> bytes) {
  try {
    const auto net = detail::load_safetensors_bytes<T, Act>(bytes, "<fuzz>");
    exercise(net);
    const auto again = detail::safetensors_bytes(net);
    const auto net2 = detail::load_safetensors_bytes<T, Act>(again, "<fuzz re-save>");
    require(detail::safetensors_bytes(net2) == again, "safetensors round trip is not stable");
  } catch (const Error&) {
  }
}

// Every `load` flavour on `bytes`. A random mutation almost never keeps the CRC-32 right, so the
// input is also tried with its header's size and CRC fields recomputed: that is what lets the
// fuzzer reach the parser behind the checksum.
inline void load_one(std::span<const unsigned char> bytes) {
  auto all = [](std::span<const unsigned char> b) {
    load_network<float, Relu>(b);
    load_network<double, Tanh>(b);
    load_network<float, Sigmoid>(b);
    load_trainer_checkpoint<float, Relu, Adam<float>>(b);
    load_trainer_checkpoint<double, Tanh, Sgd<double>>(b);
    load_trainer_checkpoint<float, Relu, AdamW<float>>(b);
  };
  all(bytes);
  if (bytes.size() >= detail::kFileHeaderBytes &&
      std::memcmp(bytes.data(), detail::kFileMagic.data(), detail::kFileMagic.size()) == 0) {
    std::vector<unsigned char> fixed(bytes.begin(), bytes.end());
    const std::span<const unsigned char> payload(fixed.data() + detail::kFileHeaderBytes,
                                                 fixed.size() - detail::kFileHeaderBytes);
    const std::uint32_t crc = crc32(payload);
    const std::uint64_t size = payload.size();
    fixed[8] = static_cast<unsigned char>(kFileFormatVersion);
    fixed[9] = fixed[10] = fixed[11] = 0;
    for (int i = 0; i < 4; ++i) fixed[12 + i] = static_cast<unsigned char>(crc >> (8 * i));
    for (int i = 0; i < 8; ++i) fixed[16 + i] = static_cast<unsigned char>(size >> (8 * i));
    all(fixed);
  }
}

// Every `load_safetensors` flavour on `bytes`.
inline void load_safetensors_one(std::span<const unsigned char> bytes) {
  load_safetensors_network<float, Relu>(bytes);
  load_safetensors_network<double, Relu>(bytes);
  load_safetensors_network<float, Tanh>(bytes);
}

}  // namespace neuroplast::fuzz
