# Settings for neuroplast's own targets (tests, examples, benchmarks); never imposed on users.

# ccache makes rebuilds of these template-heavy translation units cheap when it is installed.
find_program(NEUROPLAST_CCACHE ccache)
if(NEUROPLAST_CCACHE AND NOT CMAKE_CXX_COMPILER_LAUNCHER)
  set(CMAKE_CXX_COMPILER_LAUNCHER ${NEUROPLAST_CCACHE})
endif()

# x86-64-v3 (AVX2 + FMA) is what Eigen's kernels run fastest with here; -march=native picks AVX-512,
# which measured 10-25% slower for Eigen's GEMM on Zen 4. Override with -DNEUROPLAST_ARCH_FLAGS=.
include(CheckCXXCompilerFlag)
check_cxx_compiler_flag("-march=x86-64-v3" NEUROPLAST_HAS_X86_64_V3)
if(NEUROPLAST_HAS_X86_64_V3)
  set(NEUROPLAST_ARCH_FLAGS "-march=x86-64-v3" CACHE STRING "Architecture flags for tests, examples, benchmarks")
else()
  set(NEUROPLAST_ARCH_FLAGS "" CACHE STRING "Architecture flags for tests, examples, benchmarks")
endif()
separate_arguments(_neuroplast_arch NATIVE_COMMAND "${NEUROPLAST_ARCH_FLAGS}")

# neuroplast_project_target(<target>): warnings as errors and the chosen architecture flags.
function(neuroplast_project_target target)
  target_compile_options(${target} PRIVATE -Wall -Wextra -Wpedantic -Werror ${_neuroplast_arch})
  target_link_libraries(${target} PRIVATE neuroplast::neuroplast)
endfunction()

# Precompiled headers for the project's executables: every one of their translation units parses
# Eigen, the whole library (and Catch2 or Google Benchmark) before its own code, 5 s of the
# 20–130 s each takes at -O2, and more where the headers' own instantiations come along (a test
# file measured 78 s without, 61 s with). Only for targets of this project; the installed library
# stays header-only. -DNEUROPLAST_PRECOMPILE_HEADERS=OFF turns it off.
option(NEUROPLAST_PRECOMPILE_HEADERS "Precompile the common headers of tests, examples, benchmarks" ON)

# Test executables of several files compile as one translation unit (CMake's unity build): their
# files instantiate the same trainers, networks and policies, which one unit compiles once. From
# scratch at -O2 (2026-12-06): test_training's five files took 165 s as one unit against 385 s
# apart, test_network's seven 148 s against 321 s, test_io's two 129 s against 154 s; a file's
# helpers must then not clash with another's. -DNEUROPLAST_UNITY_TESTS=OFF compiles each file
# apart (faster when only one test file changes).
option(NEUROPLAST_UNITY_TESTS "Compile each multi-file test executable as one translation unit" ON)

# neuroplast_precompile(<target> <group> <header>...): <target> compiles with the <header>s
# precompiled. The first target of a <group> builds them; the group's later targets reuse that
# precompiled header, so they must share its flags.
function(neuroplast_precompile target group)
  if(NOT NEUROPLAST_PRECOMPILE_HEADERS)
    return()
  endif()
  get_property(owner GLOBAL PROPERTY NEUROPLAST_PCH_OWNER_${group})
  if(owner)
    target_precompile_headers(${target} REUSE_FROM ${owner})
  else()
    set_property(GLOBAL PROPERTY NEUROPLAST_PCH_OWNER_${group} ${target})
    target_precompile_headers(${target} PRIVATE ${ARGN})
  endif()
endfunction()

# neuroplast_add_skipped_test(<name> <label> <reason>): a test that prints "SKIPPED: <reason>" and
# that CTest counts as skipped, standing in for a check whose tool or platform is missing, so a
# user reads what to install instead of a pass that tested nothing.
function(neuroplast_add_skipped_test name label reason)
  add_test(NAME ${name} COMMAND ${CMAKE_COMMAND} -E echo "SKIPPED: ${reason}")
  set_tests_properties(${name} PROPERTIES LABELS "${label}" SKIP_REGULAR_EXPRESSION "SKIPPED:")
endfunction()
