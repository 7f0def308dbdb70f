# Embeds a text file as `const char* NAME()` in a generated C++ source.
# Usage: cmake -DSRC=file -DOUT=out.cpp -DNAME=function -DNAMESPACE=ns -P EmbedFile.cmake
file(READ "${SRC}" _text)
if(_text MATCHES "\\)lhembed\"")
  message(FATAL_ERROR "${SRC} contains the raw-string delimiter")
endif()
set(_out "// Generated from ${SRC} by cmake/EmbedFile.cmake. Do not edit.\nnamespace ${NAMESPACE} {\nconst char* ${NAME}() {\n    return R\"lhembed(${_text})lhembed\";\n}\n}  // namespace ${NAMESPACE}\n")
if(EXISTS "${OUT}")
  file(READ "${OUT}" _old)
endif()
if(NOT "${_old}" STREQUAL "${_out}")
  file(WRITE "${OUT}" "${_out}")
endif()
