# Included by CTest (through TEST_INCLUDE_FILES) right after the tests of one Catch2 executable are
# loaded: labels those tagged [slow] in Catch2 `slow` and all others `fast`. Expects
# TEST_EXECUTABLE, TEST_PREFIX and TEST_LIST (the variable catch_discover_tests fills with the
# CTest names), set by the file neuroplast_add_test_executable generates.
if(EXISTS "${TEST_EXECUTABLE}")
  # "~[.]" because a tag alone also selects hidden test cases, which are not registered.
  execute_process(COMMAND "${TEST_EXECUTABLE}" "[slow]~[.]" --list-test-names-only
                  OUTPUT_VARIABLE names)
  string(REPLACE "\n" ";" names "${names}")
  set(slow_tests)
  foreach(name IN LISTS names)
    if(name)
      list(APPEND slow_tests "${TEST_PREFIX}${name}")
    endif()
  endforeach()
  # Soak tests ([soak], also tagged [slow]) get a `soak` label too: `ctest -L soak` runs them alone.
  execute_process(COMMAND "${TEST_EXECUTABLE}" "[soak]~[.]" --list-test-names-only
                  OUTPUT_VARIABLE soak_names)
  string(REPLACE "\n" ";" soak_names "${soak_names}")
  set(soak_tests)
  foreach(name IN LISTS soak_names)
    if(name)
      list(APPEND soak_tests "${TEST_PREFIX}${name}")
    endif()
  endforeach()
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
