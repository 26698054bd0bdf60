# Included by CTest (through TEST_INCLUDE_FILES) right after the tests of one Catch2 executable are
# loaded: labels those tagged [slow] in Catch2 `slow` and all others `fast`. Expects
# TEST_EXECUTABLE, TEST_PREFIX and TEST_LIST (the variable catch_discover_tests fills with the
# CTest names), set by the file neuroplast_add_test_executable generates.

# Sets `out` to the CTest names of the executable's (registered) test cases tagged `tag`.
function(neuroplast_tests_tagged tag out)
  # "~[.]" because a tag alone also selects hidden test cases, which are not registered.
  execute_process(COMMAND "${TEST_EXECUTABLE}" "[${tag}]~[.]" --list-test-names-only
                  OUTPUT_VARIABLE names)
  string(REPLACE "\n" ";" names "${names}")
  set(tests)
  foreach(name IN LISTS names)
    if(name)
      list(APPEND tests "${TEST_PREFIX}${name}")
    endif()
  endforeach()
  set(${out} "${tests}" PARENT_SCOPE)
endfunction()

if(EXISTS "${TEST_EXECUTABLE}")
  neuroplast_tests_tagged(slow slow_tests)
  # Soak tests ([soak], also tagged [slow]) get a `soak` label too: `ctest -L soak` runs them alone.
  neuroplast_tests_tagged(soak soak_tests)
  foreach(test IN LISTS ${TEST_LIST})
    # list(FIND), not if(IN_LIST): CTest reads this file with no policies set.
    list(FIND slow_tests "${test}" slow_index)
    list(FIND soak_tests "${test}" soak_index)
    if(NOT soak_index EQUAL -1)
      set_tests_properties("${test}" PROPERTIES LABELS "slow;soak")
    elseif(slow_index EQUAL -1)
      set_tests_properties("${test}" PROPERTIES LABELS fast)
    else()
      set_tests_properties("${test}" PROPERTIES LABELS slow)
    endif()
  endforeach()
endif()
