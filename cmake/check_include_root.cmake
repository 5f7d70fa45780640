# Proves that a library's include root refuses a wrong-way include (see include_roots.cmake).
# Run as a test: cmake -DCOMPILER=... -DSTD=-std=c++20 -DINCLUDES=a|b -DDEFINES=x|y
#   -DIMPLICIT=a|b -DALLOWED=h|h -DFORBIDDEN=h|h -DSOURCE_DIR=... -DWORK_DIR=... -P this
# INCLUDES and DEFINES are exactly what the library's own sources are compiled with. A probe
# source in WORK_DIR (outside the source tree, so no relative lookup helps it) includes each
# FORBIDDEN header in turn and must fail with "No such file or directory" for that header;
# one probe including every ALLOWED header must succeed. The probes stop after the
# preprocessor (-E): that is the step that resolves includes and the one the guard is about,
# and it keeps the check to a second where a full parse of Asio takes several; the build
# itself compiles the same headers with the same flags.
cmake_minimum_required(VERSION 3.25)
foreach(var COMPILER STD WORK_DIR SOURCE_DIR ALLOWED FORBIDDEN)
  if(NOT DEFINED ${var} OR "${${var}}" STREQUAL "")
    message(FATAL_ERROR "check_include_root: ${var} is not set")
  endif()
endforeach()

string(REPLACE "|" ";" includes "${INCLUDES}")
string(REPLACE "|" ";" defines "${DEFINES}")
string(REPLACE "|" ";" implicit "${IMPLICIT}")
string(REPLACE "|" ";" allowed "${ALLOWED}")
string(REPLACE "|" ";" forbidden "${FORBIDDEN}")

# The compiler searches its own directories anyway; naming /usr/include with -I breaks
# #include_next in the C++ library, so they are left out as CMake leaves them out.
set(flags ${STD} -E -o /dev/null)
foreach(dir IN LISTS includes)
  if(NOT dir IN_LIST implicit)
    list(APPEND flags -I${dir})
  endif()
endforeach()
foreach(def IN LISTS defines)
  list(APPEND flags -D${def})
endforeach()

file(REMOVE_RECURSE ${WORK_DIR})
file(MAKE_DIRECTORY ${WORK_DIR})
set(failures "")

# A forbidden header must exist in the tree, or refusing it would prove nothing.
set(n 0)
foreach(header IN LISTS forbidden)
  if(NOT EXISTS ${SOURCE_DIR}/src/${header} AND NOT EXISTS ${SOURCE_DIR}/protocols/${header})
    message(FATAL_ERROR "check_include_root: \"${header}\" is not a header of the project")
  endif()
  math(EXPR n "${n} + 1")
  set(probe ${WORK_DIR}/forbidden_${n}.cpp)
  file(WRITE ${probe} "#include \"${header}\"\n")
  execute_process(COMMAND ${COMPILER} ${flags} ${probe}
                  RESULT_VARIABLE rc OUTPUT_VARIABLE out ERROR_VARIABLE out)
  string(FIND "${out}" "${header}: No such file or directory" missing)
  if(rc EQUAL 0)
    string(APPEND failures "  \"${header}\" is reachable from here\n")
  elseif(missing EQUAL -1)
    string(APPEND failures "  \"${header}\" failed for another reason than a missing header:\n${out}\n")
  else()
    message(STATUS "refused, as it should be: #include \"${header}\"")
  endif()
endforeach()

set(probe ${WORK_DIR}/allowed.cpp)
set(text "")
foreach(header IN LISTS allowed)
  string(APPEND text "#include \"${header}\"\n")
endforeach()
file(WRITE ${probe} "${text}")
execute_process(COMMAND ${COMPILER} ${flags} ${probe}
                RESULT_VARIABLE rc OUTPUT_VARIABLE out ERROR_VARIABLE out)
if(rc EQUAL 0)
  message(STATUS "found, as they should be: ${allowed}")
else()
  string(APPEND failures "  the allowed includes (${allowed}) fail:\n${out}\n")
endif()

if(failures)
  message(FATAL_ERROR "include root check failed:\n${failures}")
endif()
