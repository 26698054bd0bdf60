// The vector kernels as a baseline x86-64 build compiles them: the project's targets are built for
// x86-64-v3 (AVX2 and FMA; cmake/ProjectSettings.cmake), so test_core and test_network check the
// AVX2 paths, and this file, built with -march=x86-64 (SSE2), holds the fallback paths a user's
// default build takes to the same checks. Added by tests/CMakeLists.txt where it applies.

#include <catch2/catch.hpp>

#include "support/kernel_checks.hpp"

#if defined(__AVX2__) || defined(__FMA__)
#error "test_baseline.cpp must be compiled without AVX2 and FMA (-march=x86-64)"
#endif

using namespace neuroplast::testing;

TEST_CASE("baseline x86-64: the packet kernels of the sparse products give the entry-wise results",
          "[baseline][sparse]") {
  check_packet_kernels_match_entrywise<float>();
  check_packet_kernels_match_entrywise<double>();
}

TEST_CASE("baseline x86-64: a packed row's product gives the exact sum", "[baseline][sparse]") {
  check_packed_row_dot<float>();
  check_packed_row_dot<double>();
}

TEST_CASE("baseline x86-64: MaskBits multiplies by its mask bit for bit", "[baseline][param]") {
  check_mask_bits_multiply<float>();
  check_mask_bits_multiply<double>();
}
