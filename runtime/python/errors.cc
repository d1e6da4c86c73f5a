#include "errors.h"

#include <string>

#include "absl/status/status.h"

namespace py = pybind11;

namespace tpusim::python {
namespace {

// Owned references to the exception classes (created once; live for the process, like the module).
PyObject* g_error = nullptr;
PyObject* g_invalid_argument = nullptr;
PyObject* g_unimplemented = nullptr;
PyObject* g_not_found = nullptr;

PyObject* NewClass(py::module_& m, const char* name, PyObject* bases, const char* doc) {
  const std::string qualified = std::string("tpusim.") + name;
  PyObject* cls = PyErr_NewExceptionWithDoc(qualified.c_str(), doc, bases, nullptr);
  if (cls == nullptr) throw py::error_already_set();
  m.add_object(name, py::handle(cls));  // add_object takes its own reference
  return cls;
}

PyObject* ClassFor(absl::StatusCode code) {
  switch (code) {
    case absl::StatusCode::kInvalidArgument:
    case absl::StatusCode::kOutOfRange: return g_invalid_argument;
    case absl::StatusCode::kUnimplemented: return g_unimplemented;
    case absl::StatusCode::kNotFound: return g_not_found;
    default: return g_error;
  }
}

}  // namespace

void RegisterErrors(py::module_& m) {
  g_error = NewClass(m, "Error", PyExc_RuntimeError,
                     "A tpusim error: str(e) is the C++ message, e.code the absl status code name.");
  py::tuple invalid = py::make_tuple(py::handle(g_error), py::handle(PyExc_ValueError));
  g_invalid_argument = NewClass(m, "InvalidArgumentError", invalid.ptr(), "Bad input: model, feed or option.");
  py::tuple unimplemented = py::make_tuple(py::handle(g_error), py::handle(PyExc_NotImplementedError));
  g_unimplemented = NewClass(m, "UnimplementedError", unimplemented.ptr(),
                             "Something tpusim does not support (e.g. ops no device can run).");
  py::tuple not_found = py::make_tuple(py::handle(g_error), py::handle(PyExc_LookupError));
  g_not_found = NewClass(m, "NotFoundError", not_found.ptr(), "A file, preset or name that does not exist.");
}

void ThrowStatus(const absl::Status& status) {
  py::handle cls(ClassFor(status.code()));
  py::object exc = cls(py::str(std::string(status.message())));
  exc.attr("code") = py::str(absl::StatusCodeToString(status.code()));
  PyErr_SetObject(cls.ptr(), exc.ptr());
  throw py::error_already_set();
}

}  // namespace tpusim::python
