# Builds and runs a consumer project the way a user would; any failing step fails the test.
#
#   cmake -D MODE=find_package|add_subdirectory -D NEUROPLAST_SOURCE_DIR=<src> -D WORK_DIR=<dir>
#         [-D NEUROPLAST_VERSION=<x.y.z>] [-D GENERATOR=<gen>] [-D CXX_COMPILER=<c++>]
#         [-D CXX_COMPILER_LAUNCHER=<ccache>] [-D BUILD_TYPE=<type>] -P run_consumer.cmake
#
# find_package:     configure neuroplast alone (tests, examples, benchmarks off), install it into
#                   WORK_DIR/prefix, check the package files, then build the consumer against it.
# add_subdirectory: build the consumer, which adds the neuroplast source tree itself.

cmake_minimum_required(VERSION 3.21)

foreach(var IN ITEMS MODE NEUROPLAST_SOURCE_DIR WORK_DIR)
  if(NOT DEFINED ${var})
    message(FATAL_ERROR "run_consumer.cmake: pass -D ${var}=...")
  endif()
endforeach()
if(NOT MODE MATCHES "^(find_package|add_subdirectory)$")
  message(FATAL_ERROR "run_consumer.cmake: MODE is '${MODE}'; use find_package or add_subdirectory")
endif()

# Settings every configure step shares: the caller's generator, compiler, launcher and build type.
set(common_args)
if(GENERATOR)
  list(APPEND common_args -G "${GENERATOR}")
endif()
if(CXX_COMPILER)
  list(APPEND common_args "-DCMAKE_CXX_COMPILER=${CXX_COMPILER}")
endif()
if(CXX_COMPILER_LAUNCHER)
  list(APPEND common_args "-DCMAKE_CXX_COMPILER_LAUNCHER=${CXX_COMPILER_LAUNCHER}")
endif()
if(BUILD_TYPE)
  list(APPEND common_args "-DCMAKE_BUILD_TYPE=${BUILD_TYPE}")
endif()

# run(<step> <command>...): runs one step, echoing its output only when it fails.
function(run step)
  execute_process(COMMAND ${ARGN} RESULT_VARIABLE result OUTPUT_VARIABLE out ERROR_VARIABLE out)
  if(NOT result EQUAL 0)
    string(JOIN " " command ${ARGN})
    message(FATAL_ERROR "consumer/${MODE}: ${step} failed (${result}):\n${command}\n${out}")
  endif()
  message(STATUS "consumer/${MODE}: ${step}: ok")
endfunction()

file(REMOVE_RECURSE "${WORK_DIR}")
set(consumer_args "-DNEUROPLAST_SOURCE_DIR=${NEUROPLAST_SOURCE_DIR}")

if(MODE STREQUAL "find_package")
  set(prefix "${WORK_DIR}/prefix")
  run("configure neuroplast"
      ${CMAKE_COMMAND} -S "${NEUROPLAST_SOURCE_DIR}" -B "${WORK_DIR}/neuroplast-build" ${common_args}
      -DNEUROPLAST_BUILD_TESTS=OFF -DNEUROPLAST_BUILD_EXAMPLES=OFF -DNEUROPLAST_BUILD_BENCHMARKS=OFF
      "-DCMAKE_INSTALL_PREFIX=${prefix}")
  run("install neuroplast" ${CMAKE_COMMAND} --install "${WORK_DIR}/neuroplast-build")

  # Where CMakeLists.txt installs the package (GNUInstallDirs defaults).
  foreach(file IN ITEMS share/cmake/neuroplast/neuroplastConfig.cmake
                        share/cmake/neuroplast/neuroplastConfigVersion.cmake
                        share/cmake/neuroplast/neuroplastTargets.cmake
                        share/pkgconfig/neuroplast.pc
                        share/doc/neuroplast/LICENSE
                        include/neuroplast/neuroplast.hpp
                        include/neuroplast/version.hpp)
    if(NOT EXISTS "${prefix}/${file}")
      message(FATAL_ERROR "consumer/${MODE}: the install lacks ${prefix}/${file}")
    endif()
  endforeach()

  # The pkg-config file points at the installed headers.
  file(READ "${prefix}/share/pkgconfig/neuroplast.pc" pc)
  string(FIND "${pc}" "prefix=${prefix}\n" at_prefix)
  if(at_prefix LESS 0 OR NOT pc MATCHES "Requires: eigen3")
    message(FATAL_ERROR "consumer/${MODE}: neuroplast.pc does not name the install:\n${pc}")
  endif()

  # A build without CMake: the same program compiled with pkg-config's flags alone.
  find_program(PKG_CONFIG_EXECUTABLE pkg-config)
  if(PKG_CONFIG_EXECUTABLE)
    set(ENV{PKG_CONFIG_PATH} "${prefix}/share/pkgconfig")
    execute_process(COMMAND ${PKG_CONFIG_EXECUTABLE} --cflags --libs neuroplast
                    RESULT_VARIABLE pc_result OUTPUT_VARIABLE pc_flags ERROR_VARIABLE pc_error
                    OUTPUT_STRIP_TRAILING_WHITESPACE)
    if(NOT pc_result EQUAL 0)
      message(FATAL_ERROR "consumer/${MODE}: pkg-config --cflags --libs neuroplast failed: ${pc_error}")
    endif()
    separate_arguments(pc_flags UNIX_COMMAND "${pc_flags}")
    set(cxx c++)
    if(CXX_COMPILER)
      set(cxx "${CXX_COMPILER}")
    endif()
    run("build consumer with pkg-config"
        ${cxx} ${pc_flags} "${CMAKE_CURRENT_LIST_DIR}/consumer.cpp" -lz
        -o "${WORK_DIR}/pkg-config-consumer")
    run("run the pkg-config consumer" "${WORK_DIR}/pkg-config-consumer")
  else()
    message(STATUS "consumer/${MODE}: pkg-config not found; the pkg-config build is not checked")
  endif()

  # The consumer must see the installed headers only, never the source tree.
  set(consumer_args "-DCMAKE_PREFIX_PATH=${prefix}" "-DNEUROPLAST_VERSION=${NEUROPLAST_VERSION}")
endif()

set(consumer_build "${WORK_DIR}/consumer-build")
run("configure consumer"
    ${CMAKE_COMMAND} -S "${CMAKE_CURRENT_LIST_DIR}/${MODE}" -B "${consumer_build}" ${common_args}
    ${consumer_args})
run("build consumer" ${CMAKE_COMMAND} --build "${consumer_build}")
run("run consumer" "${consumer_build}/neuroplast_consumer")
