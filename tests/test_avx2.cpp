// The vector kernels as an AVX2 build compiles them (this file is built with -mavx2 -mfma, the
// other test executables for the default target): the same checks, the other code path. CMake
// adds the test only where the build machine runs AVX2 code (tests/CMakeLists.txt).

#include <catch2/catch.hpp>

#include "support/kernel_checks.hpp"

#if !defined(__AVX2__)
#error "test_avx2.cpp must be compiled with AVX2 enabled (-mavx2 -mfma)"
#endif

using namespace neuroplast::testing;

TEST_CASE("AVX2: the packet kernels of the sparse products give the entry-wise results",
          "[avx2][sparse]") {
  check_packet_kernels_match_entrywise<float>();
  check_packet_kernels_match_entrywise<double>();
}

TEST_CASE("AVX2: MaskBits multiplies by its mask bit for bit", "[avx2][param]") {
  check_mask_bits_multiply<float>();
  check_mask_bits_multiply<double>();
}
