# cmake -DIN=<text file> -DOUT=<file> -P embed_text.cmake
# Writes IN as a C++ raw string literal (to #include where a string literal is expected).
file(READ ${IN} text)
string(FIND "${text}" ")outpost_text\"" clash)
if(NOT clash EQUAL -1)
  message(FATAL_ERROR "${IN} contains the raw string delimiter )outpost_text\"")
endif()
file(WRITE ${OUT} "R\"outpost_text(${text})outpost_text\"\n")
