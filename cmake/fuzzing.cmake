# OUTPOST_FUZZ: the libFuzzer build (tests/fuzz). Clang only: GCC has no libFuzzer.
#
# Every library is compiled with coverage instrumentation for the fuzzer
# (-fsanitize=fuzzer-no-link) and with AddressSanitizer + UndefinedBehaviorSanitizer; only
# the fuzz executables link libFuzzer's main (-fsanitize=fuzzer, tests/fuzz/CMakeLists.txt).
# OUTPOST_SANITIZE is implied and must not be given as well (it adds the same flags).
if(OUTPOST_FUZZ)
  if(NOT CMAKE_CXX_COMPILER_ID STREQUAL "Clang")
    message(FATAL_ERROR "OUTPOST_FUZZ=ON needs clang (CMAKE_CXX_COMPILER=clang++-14): GCC has no libFuzzer")
  endif()
  if(OUTPOST_SANITIZE)
    message(FATAL_ERROR "OUTPOST_FUZZ=ON already builds with ASan and UBSan; leave OUTPOST_SANITIZE off")
  endif()
  set(OUTPOST_EXCLUDE EXCLUDE_FROM_ALL)
else()
  set(OUTPOST_EXCLUDE "")
endif()

function(outpost_set_fuzzing target)
  if(NOT OUTPOST_FUZZ)
    return()
  endif()
  target_compile_options(${target} INTERFACE
    -fsanitize=fuzzer-no-link,address,undefined -fno-sanitize-recover=undefined -fno-omit-frame-pointer)
  target_link_options(${target} INTERFACE -fsanitize=address,undefined)
  # The rest of the tree is written for GCC 12; two differences of clang 14 matter:
  # - clang 14 leaves sized deallocation off by default (GCC has it on in C++14 and later),
  #   and src/core/message.cpp's allocator calls ::operator delete(p, size);
  # - clang warns about unused constants in unnamed namespaces, which GCC's -Wall does not
  #   (two tables of names kept for symmetry, in the MQTT property table and the YAML
  #   loader). Only in this tree; the GCC builds keep every warning.
  target_compile_options(${target} INTERFACE -fsized-deallocation -Wno-unused-const-variable)
endfunction()
