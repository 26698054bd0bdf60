cmake_minimum_required(VERSION 3.20)
# Fails when a header of include/neuroplast/<folder>/ includes a header of a folder above its own
# (docs/architecture.md, "Layers"). Run as
#   cmake -DROOT=<dir holding neuroplast/> -P check_layering.cmake
# Folders of one rank (grow, prune, regularize) must not include each other either: they are
# independent consumers of the network and of relevance.

set(rank_core 0)
set(rank_data 1)
set(rank_layers 2)
set(rank_loss 3)
set(rank_optim 4)
set(rank_network 5)
set(rank_relevance 6)
set(rank_grow 7)
set(rank_prune 7)
set(rank_regularize 7)
set(rank_train 8)
set(rank_io 9)

# Includes allowed to run upward: none (the trainer reaches io/ only through CheckpointStore, which
# io/trainer_checkpoint.hpp specialises).
set(allowed "")

if(NOT ROOT)
  message(FATAL_ERROR "check_layering: pass -DROOT=<directory holding neuroplast/>")
endif()
get_filename_component(ROOT "${ROOT}" ABSOLUTE)
file(GLOB headers RELATIVE ${ROOT}/neuroplast ${ROOT}/neuroplast/*/*.hpp)
if(NOT headers)
  message(FATAL_ERROR "check_layering: no headers under ${ROOT}/neuroplast/<folder>/")
endif()
set(violations "")
foreach(header IN LISTS headers)
  string(REGEX MATCH "^[^/]+" folder ${header})
  if(NOT DEFINED rank_${folder})
    list(APPEND violations "${header}: folder ${folder}/ has no place in the layering")
    continue()
  endif()
  file(STRINGS ${ROOT}/neuroplast/${header} lines REGEX "^[ \t]*#[ \t]*include[ \t]*[<\"]neuroplast/")
  foreach(line IN LISTS lines)
    string(REGEX REPLACE ".*[<\"]neuroplast/([^>\"]+)[>\"].*" "\\1" target "${line}")
    string(REGEX MATCH "^[^/]+" target_folder ${target})
    if(target_folder STREQUAL folder OR NOT target MATCHES "/")
      continue()
    endif()
    if(NOT DEFINED rank_${target_folder})
      list(APPEND violations "${header} includes ${target}: folder ${target_folder}/ is unknown")
    elseif(rank_${target_folder} GREATER_EQUAL rank_${folder})
      if(NOT "${header} -> ${target}" IN_LIST allowed)
        list(APPEND violations "${header} (${folder}/, rank ${rank_${folder}}) includes ${target} (${target_folder}/, rank ${rank_${target_folder}})")
      endif()
    endif()
  endforeach()
endforeach()
if(violations)
  list(JOIN violations "\n  " text)
  message(FATAL_ERROR "check_layering: headers include headers above their layer "
                      "(order: core, data, layers, loss, optim, network, relevance, "
                      "{grow, prune, regularize}, train, io):\n  ${text}")
endif()
list(LENGTH headers count)
message(STATUS "check_layering: ${count} headers, no include runs upward")
