# tpusim_warnings(<target>): the project's warning policy (-Wall -Wextra, -Werror on project code only;
# generated protobuf/Verilator sources are compiled in their own targets without -Werror).
function(tpusim_warnings target)
  target_compile_options(${target} PRIVATE -Wall -Wextra -Wno-unused-parameter)
  if(TPUSIM_WERROR)
    target_compile_options(${target} PRIVATE -Werror)
  endif()
endfunction()

# tpusim_library(<name> SOURCES ... DEPS ...): a layer library with public headers in
# <folder>/include/tpusim/<folder>/. DEPS are its link dependencies and must follow DESIGN.md's arrows.
function(tpusim_library name)
  cmake_parse_arguments(ARG "" "" "SOURCES;DEPS;PRIVATE_DEPS" ${ARGN})
  add_library(${name} STATIC ${ARG_SOURCES})
  target_include_directories(${name} PUBLIC ${CMAKE_CURRENT_SOURCE_DIR}/include)
  target_link_libraries(${name} PUBLIC ${ARG_DEPS} PRIVATE ${ARG_PRIVATE_DEPS})
  tpusim_warnings(${name})
endfunction()
