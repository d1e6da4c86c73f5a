#include "numpy_tensor.h"

#include <cstring>

#include "absl/strings/str_cat.h"

namespace py = pybind11;

namespace tpusim::python {
namespace {

using compiler::DataType;

// numpy kind + item size -> tpusim dtype; false for dtypes tpusim has no tensor type for.
bool DtypeFromNumpy(const py::dtype& dt, DataType* out) {
  const char kind = dt.kind();
  const py::ssize_t size = dt.itemsize();
  if (kind == 'f' && size == 4) *out = DataType::kFloat32;
  else if (kind == 'i' && size == 1) *out = DataType::kInt8;
  else if (kind == 'i' && size == 4) *out = DataType::kInt32;
  else if (kind == 'i' && size == 8) *out = DataType::kInt64;
  else if (kind == 'b' && size == 1) *out = DataType::kBool;
  else if (kind == 'u' && size == 1) *out = DataType::kUint8;
  else return false;
  return true;
}

// A native-byte-order, C-contiguous array with T's dtype (a copy only when `arr` is not one already).
template <typename T>
py::array Contiguous(const py::array& arr) {
  return py::array_t<T, py::array::c_style | py::array::forcecast>::ensure(arr);
}

}  // namespace

py::dtype NumpyDtype(DataType dtype) {
  switch (dtype) {
    case DataType::kFloat32: return py::dtype::of<float>();
    case DataType::kInt8: return py::dtype::of<int8_t>();
    case DataType::kInt32: return py::dtype::of<int32_t>();
    case DataType::kInt64: return py::dtype::of<int64_t>();
    case DataType::kBool: return py::dtype::of<bool>();
    case DataType::kUint8: return py::dtype::of<uint8_t>();
  }
  return py::dtype::of<float>();
}

absl::StatusOr<compiler::Tensor> TensorFromNumpy(const py::handle& obj, const std::string& what) {
  py::array arr = py::array::ensure(obj);
  if (!arr) {
    return absl::InvalidArgumentError(
        absl::StrCat(what, ": expected a numpy array, got ", std::string(py::str(py::type::of(obj).attr("__name__")))));
  }
  DataType dtype;
  if (!DtypeFromNumpy(arr.dtype(), &dtype)) {
    return absl::InvalidArgumentError(
        absl::StrCat(what, ": numpy dtype ", std::string(py::str(arr.dtype())),
                     " is not supported (tpusim tensors are float32, int8, int32, int64, bool or uint8)"));
  }
  py::array c;
  switch (dtype) {
    case DataType::kFloat32: c = Contiguous<float>(arr); break;
    case DataType::kInt8: c = Contiguous<int8_t>(arr); break;
    case DataType::kInt32: c = Contiguous<int32_t>(arr); break;
    case DataType::kInt64: c = Contiguous<int64_t>(arr); break;
    case DataType::kBool: c = Contiguous<bool>(arr); break;
    case DataType::kUint8: c = Contiguous<uint8_t>(arr); break;
  }
  if (!c) return absl::InternalError(absl::StrCat(what, ": numpy could not make a contiguous copy"));
  compiler::Shape shape;
  for (py::ssize_t i = 0; i < c.ndim(); ++i) shape.push_back(static_cast<int64_t>(c.shape(i)));
  compiler::Tensor tensor(dtype, shape);
  if (tensor.byte_size() != static_cast<size_t>(c.nbytes())) {
    return absl::InternalError(absl::StrCat(what, ": ", c.nbytes(), " numpy bytes for a tensor of ",
                                            tensor.byte_size(), " bytes"));
  }
  if (tensor.byte_size() > 0) std::memcpy(tensor.data(), c.data(), tensor.byte_size());
  return tensor;
}

py::array NumpyFromTensor(const compiler::Tensor& tensor) {
  std::vector<py::ssize_t> shape(tensor.shape().begin(), tensor.shape().end());
  py::array arr(NumpyDtype(tensor.dtype()), shape);
  if (tensor.byte_size() > 0) std::memcpy(arr.mutable_data(), tensor.data(), tensor.byte_size());
  return arr;
}

}  // namespace tpusim::python
