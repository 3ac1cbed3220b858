# veil_add_fuzzer(NAME <name> SOURCES <files defining LLVMFuzzerTestOneInput> LIBS <libs>
#                 [CORPUS <dir of seed inputs>])
#
# Every fuzz entry point is built twice:
#  - always, as `<name>_replay`, linked with tests/fuzz/replay_main.cc and registered with
#    ctest (label unit): it feeds the entry point the seed corpus plus a fixed number of
#    random and mutated inputs, so every CI run exercises the parser on hostile bytes;
#  - with -DVEIL_FUZZ=ON and clang (preset `fuzz`), as `<name>_fuzzer`, a libFuzzer binary
#    with AddressSanitizer; `make fuzz` runs each for FUZZ_SECONDS.
function(veil_add_fuzzer)
  cmake_parse_arguments(ARG "" "NAME;CORPUS" "SOURCES;LIBS" ${ARGN})
  if(VEIL_FUZZ)
    add_executable(${ARG_NAME}_fuzzer ${ARG_SOURCES})
    target_compile_options(${ARG_NAME}_fuzzer PRIVATE -fsanitize=fuzzer,address,undefined)
    target_link_options(${ARG_NAME}_fuzzer PRIVATE -fsanitize=fuzzer,address,undefined)
    target_link_libraries(${ARG_NAME}_fuzzer PRIVATE ${ARG_LIBS} veil_build_flags)
    # scripts/fuzz.sh passes the seed corpus read-only after the working corpus.
    file(WRITE ${CMAKE_BINARY_DIR}/fuzz-seeds/${ARG_NAME} "${ARG_CORPUS}")
  endif()
  if(VEIL_BUILD_TESTS)
    add_executable(${ARG_NAME}_replay ${ARG_SOURCES} ${PROJECT_SOURCE_DIR}/tests/fuzz/replay_main.cc)
    target_link_libraries(${ARG_NAME}_replay PRIVATE ${ARG_LIBS} veil_build_flags)
    set(corpus_arg)
    if(ARG_CORPUS)
      set(corpus_arg ${ARG_CORPUS})
    endif()
    add_test(NAME fuzz.${ARG_NAME} COMMAND ${ARG_NAME}_replay ${corpus_arg})
    set_tests_properties(fuzz.${ARG_NAME} PROPERTIES LABELS "unit;fuzz" TIMEOUT 120)
  endif()
endfunction()
