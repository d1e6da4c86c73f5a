# Python extension helpers for runtime/python (tpusim._tpusim) and runtime/torch (tpusim_torch._C).

# tpusim_find_python_extension_deps(): finds Debian's Python 3 interpreter and development files and
# pybind11 >= 2.10; sets TPUSIM_PYTHON_EXTENSION_DEPS_FOUND. Debian's interpreter (/usr/bin/python3)
# is preferred because python3-numpy / python3-onnx / python3-torch install into it (a python3 earlier
# on PATH, e.g. pyenv's, cannot see them); override with -DPython3_EXECUTABLE=... A macro, not a
# function: find_package's imported targets (pybind11::*, Python3::*) and Python3_* variables must
# land in the calling directory, where pybind11_add_module uses them.
macro(tpusim_find_python_extension_deps)
  if(EXISTS /usr/bin/python3)
    set(Python3_EXECUTABLE /usr/bin/python3 CACHE FILEPATH "Python interpreter for the tpusim modules")
  endif()
  find_package(Python3 COMPONENTS Interpreter Development.Module)
  set(TPUSIM_PYTHON_EXTENSION_DEPS_FOUND FALSE)
  if(Python3_FOUND)
    find_package(pybind11 2.10 CONFIG QUIET)
    if(pybind11_FOUND)
      set(TPUSIM_PYTHON_EXTENSION_DEPS_FOUND TRUE)
    endif()
  endif()
endmacro()

# tpusim_add_python_tests(<what> <prefix> <glob> <imports> <timeout> <environment>): one ctest entry
# <prefix><name> per file matching <glob> (test_<name>.py scripts), run by ${Python3_EXECUTABLE} with
# <environment> (a ;-list: pass it quoted) and a <timeout> in seconds. Registered only when that
# interpreter can import <imports> (as written after `import`, e.g. "numpy, onnx"); otherwise a status
# line names <what> and the missing imports.
function(tpusim_add_python_tests what prefix glob imports timeout environment)
  execute_process(COMMAND ${Python3_EXECUTABLE} -c "import ${imports}"
                  RESULT_VARIABLE _imports_failed ERROR_QUIET OUTPUT_QUIET)
  if(NOT _imports_failed EQUAL 0)
    message(STATUS "${what}: NOT registered (${Python3_EXECUTABLE} cannot import ${imports})")
    return()
  endif()
  file(GLOB _tests CONFIGURE_DEPENDS ${glob})
  foreach(_test ${_tests})
    get_filename_component(_name ${_test} NAME_WE)
    add_test(NAME ${prefix}${_name} COMMAND ${Python3_EXECUTABLE} ${_test})
    set_tests_properties(${prefix}${_name} PROPERTIES ENVIRONMENT "${environment}" TIMEOUT ${timeout})
  endforeach()
endfunction()
