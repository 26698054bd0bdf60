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
