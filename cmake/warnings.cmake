function(outpost_set_warnings target)
  # C sources (the example plugins are plain C) get the same warnings, minus the C++-only ones.
  target_compile_options(${target} INTERFACE
    -Wall -Wextra -Wpedantic -Werror
    -Wshadow -Wcast-align -Wimplicit-fallthrough
    $<$<COMPILE_LANGUAGE:CXX>:-Wnon-virtual-dtor -Woverloaded-virtual>)
endfunction()
