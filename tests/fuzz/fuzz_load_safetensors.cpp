// libFuzzer target for `load_safetensors` (scripts/fuzz.sh builds and runs it).
#include <cstddef>
#include <cstdint>

#include "fuzz/fuzz_harness.hpp"

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  neuroplast::fuzz::load_safetensors_one(std::span<const unsigned char>(data, size));
  return 0;
}
