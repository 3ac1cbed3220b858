# Build options shared by every part. Presets in CMakePresets.json pick among them.
option(VEIL_BUILD_TESTS "Build the GoogleTest suites" ON)
option(VEIL_BUILD_BENCHMARKS "Build the Google Benchmark programs" ON)
option(VEIL_SANITIZE "Build with AddressSanitizer and UndefinedBehaviorSanitizer" OFF)
option(VEIL_NATIVE "Tune for the build machine's CPU (-march=native); binaries may not run elsewhere" OFF)
option(VEIL_FUZZ "Also build libFuzzer binaries (needs clang; preset fuzz)" OFF)
option(VEIL_WARNINGS_AS_ERRORS "Treat compiler warnings as errors" OFF)

if(NOT CMAKE_BUILD_TYPE AND NOT CMAKE_CONFIGURATION_TYPES)
  set(CMAKE_BUILD_TYPE RelWithDebInfo CACHE STRING "Build type" FORCE)
endif()

find_program(CCACHE_PROGRAM ccache)
if(CCACHE_PROGRAM)
  # Paths relative to the source root and no cwd in the hash, so a fresh clone elsewhere
  # (CI's) reuses the objects a developer built; debug info then names the first clone's paths.
  set(VEIL_CCACHE_LAUNCHER ${CMAKE_COMMAND} -E env CCACHE_BASEDIR=${CMAKE_SOURCE_DIR} CCACHE_NOHASHDIR=1 ${CCACHE_PROGRAM})
  set(CMAKE_C_COMPILER_LAUNCHER ${VEIL_CCACHE_LAUNCHER})
  set(CMAKE_CXX_COMPILER_LAUNCHER ${VEIL_CCACHE_LAUNCHER})
endif()

# Every veil target links this interface target for warnings and global flags.
add_library(veil_build_flags INTERFACE)
target_compile_options(veil_build_flags INTERFACE -Wall -Wextra -Wpedantic -Wno-missing-field-initializers)
if(VEIL_WARNINGS_AS_ERRORS)
  target_compile_options(veil_build_flags INTERFACE -Werror)
endif()
if(VEIL_SANITIZE)
  target_compile_options(veil_build_flags INTERFACE -fsanitize=address,undefined -fno-omit-frame-pointer -fno-sanitize-recover=undefined)
  target_link_options(veil_build_flags INTERFACE -fsanitize=address,undefined)
endif()
if(VEIL_NATIVE)
  # The FHE engine also dispatches AVX2/AVX-512 kernels at run time, so a portable build
  # is still fast on those CPUs; -march=native buys the rest of the code a little more.
  target_compile_options(veil_build_flags INTERFACE -march=native)
endif()
