function(outpost_set_warnings target)
  # C sources (the example plugins are plain C) get the same warnings, minus the C++-only ones.
  target_compile_options(${target} INTERFACE
    -Wall -Wextra -Wpedantic -Werror
    -Wshadow -Wcast-align -Wimplicit-fallthrough
    $<$<COMPILE_LANGUAGE:CXX>:-Wnon-virtual-dtor -Woverloaded-virtual>)
  # GCC on 32-bit ARM notes every function whose argument passing changed in GCC 7.1
  # (-Wpsabi): that matters only when linking with code built by GCC 6 or older, which no
  # supported Debian has. The notes are not warnings, but they bury real ones in the log.
  if(CMAKE_CXX_COMPILER_ID STREQUAL "GNU" AND CMAKE_SYSTEM_PROCESSOR MATCHES "^arm")
    target_compile_options(${target} INTERFACE -Wno-psabi)
  endif()
endfunction()
