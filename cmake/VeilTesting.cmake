include(GoogleTest)

# veil_add_test(NAME <target> LABELS <unit|integration|interop|contracts>... SOURCES ... LIBS ...
#               [TIMEOUT seconds])
# Registers every GoogleTest case as its own ctest test carrying the given labels, so
# `ctest -L unit` runs only the fast suites. Tests run in the source root (their working
# directory) with VEIL_BINARY_DIR naming the build tree. (gtest_discover_tests cannot pass a
# list-valued ENVIRONMENT: everything after the first ';' was silently dropped.)
function(veil_add_test)
  cmake_parse_arguments(ARG "" "NAME;TIMEOUT" "LABELS;SOURCES;LIBS" ${ARGN})
  if(NOT ARG_TIMEOUT)
    set(ARG_TIMEOUT 300)
  endif()
  add_executable(${ARG_NAME} ${ARG_SOURCES})
  target_link_libraries(${ARG_NAME} PRIVATE ${ARG_LIBS} GTest::gtest GTest::gtest_main GTest::gmock veil_build_flags)
  gtest_discover_tests(${ARG_NAME}
    DISCOVERY_MODE PRE_TEST
    WORKING_DIRECTORY ${CMAKE_SOURCE_DIR}
    PROPERTIES LABELS "${ARG_LABELS}" TIMEOUT ${ARG_TIMEOUT}
               ENVIRONMENT "VEIL_BINARY_DIR=${CMAKE_BINARY_DIR}")
endfunction()
