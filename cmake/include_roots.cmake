# Include roots: how the build enforces "calls go one way" (server -> protocols -> core -> store).
#
# outpost_include_root(<target> <prefix>=<path> ...)
#
# Gives <target> an include root of its own, ${CMAKE_BINARY_DIR}/include/<target>/, holding one
# symbolic link per entry: <prefix> is how the sources spell the include ("core", "mqtt/codec",
# "settings.hpp"), <path> is the folder or header it stands for, relative to the project's
# source directory. That root is the target's only exported include directory (PUBLIC, or
# INTERFACE for a header-only library), so a source sees the headers of its own library and of
# the libraries it links, and nothing else: an include that goes up a layer is "No such file".
#
# The hole it leaves: a quoted include is first looked up beside the including file, so a
# source in src/ itself (settings, cli, log, main.cpp) still finds src/core/... by relative
# path, and "../" climbs out of any folder. scripts/check-layers.sh covers those.
function(outpost_include_root target)
  if(NOT ARGN)
    message(FATAL_ERROR "outpost_include_root(${target}): no entries")
  endif()
  set(root ${CMAKE_BINARY_DIR}/include/${target})

  set(links "")
  foreach(entry IN LISTS ARGN)
    if(NOT entry MATCHES "^([^=]+)=(.+)$")
      message(FATAL_ERROR "outpost_include_root(${target}): '${entry}' is not <prefix>=<path>")
    endif()
    set(source ${PROJECT_SOURCE_DIR}/${CMAKE_MATCH_2})
    if(NOT EXISTS ${source})
      message(FATAL_ERROR "outpost_include_root(${target}): ${source} does not exist")
    endif()
    list(APPEND links "${CMAKE_MATCH_1}=${source}")
  endforeach()

  # Rebuilt only when its entries change, so an unchanged configure leaves the links alone.
  set(stamp ${root}/.entries)
  set(previous "")
  if(EXISTS ${stamp})
    file(READ ${stamp} previous)
  endif()
  if(NOT previous STREQUAL "${links}")
    # REMOVE_RECURSE removes a symbolic link, never what it points to.
    file(REMOVE_RECURSE ${root})
    foreach(link IN LISTS links)
      string(REGEX MATCH "^([^=]+)=(.+)$" _ "${link}")
      set(name ${root}/${CMAKE_MATCH_1})
      get_filename_component(parent ${name} DIRECTORY)
      file(MAKE_DIRECTORY ${parent})
      file(CREATE_LINK ${CMAKE_MATCH_2} ${name} SYMBOLIC)
    endforeach()
    file(WRITE ${stamp} "${links}")
  endif()

  get_target_property(type ${target} TYPE)
  if(type STREQUAL "INTERFACE_LIBRARY")
    target_include_directories(${target} INTERFACE ${root})
  else()
    target_include_directories(${target} PUBLIC ${root})
  endif()
endfunction()
