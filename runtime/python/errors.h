// absl::Status -> Python exceptions. The module defines tpusim.Error (a RuntimeError) and, for the
// codes a caller usually handles, subclasses that are also the matching builtin exception:
//   InvalidArgument / OutOfRange -> tpusim.InvalidArgumentError (also ValueError)
//   Unimplemented               -> tpusim.UnimplementedError  (also NotImplementedError)
//   NotFound                    -> tpusim.NotFoundError       (also LookupError)
// Every exception carries the C++ message unchanged as str(e) and the code name ("INVALID_ARGUMENT")
// as e.code.
#pragma once

#include <pybind11/pybind11.h>

#include "absl/status/status.h"
#include "absl/status/statusor.h"

namespace tpusim::python {

// Creates the exception classes and adds them to `m`. Call once, from the module's init.
void RegisterErrors(pybind11::module_& m);

// Raises the Python exception for a non-OK status (throws pybind11::error_already_set). GIL held.
[[noreturn]] void ThrowStatus(const absl::Status& status);

inline void ThrowIfError(const absl::Status& status) {
  if (!status.ok()) ThrowStatus(status);
}

template <typename T>
T ValueOrThrow(absl::StatusOr<T> v) {
  if (!v.ok()) ThrowStatus(v.status());
  return *std::move(v);
}

}  // namespace tpusim::python
