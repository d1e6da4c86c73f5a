// numpy <-> compiler::Tensor conversions for the Python module. Both directions copy the bytes
// (tensors own their storage; numpy arrays returned to Python own theirs). Call with the GIL held.
#pragma once

#include <string>

#include <pybind11/numpy.h>
#include <pybind11/pybind11.h>

#include "absl/status/statusor.h"
#include "tpusim/compiler_backend/ir.h"

namespace tpusim::python {

// Any object numpy.asarray accepts whose dtype is float32, int8, int32, int64, bool or uint8 ->
// a dense row-major Tensor. InvalidArgument naming `what` (e.g. "input 'x'") for another dtype
// (no silent casts: float64 is an error) or an object numpy cannot turn into an array.
absl::StatusOr<compiler::Tensor> TensorFromNumpy(const pybind11::handle& obj, const std::string& what);

// A new C-contiguous numpy array of the tensor's dtype and shape (0-d for a scalar).
pybind11::array NumpyFromTensor(const compiler::Tensor& tensor);

// The numpy dtype of a tpusim data type (float32, int8, int32, int64, bool_, uint8).
pybind11::dtype NumpyDtype(compiler::DataType dtype);

}  // namespace tpusim::python
