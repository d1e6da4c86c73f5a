// ONNX TensorProto <-> Tensor (initializers, Constant values and the ONNX test-data .pb files).
// Byte order: raw_data is little-endian, as is every host this project builds on.
#include <cerrno>
#include <climits>
#include <cstring>
#include <fstream>
#include <limits>
#include <sstream>
#include <type_traits>

#include "absl/status/status.h"
#include "absl/strings/str_cat.h"
#include "internal.h"
#include "tpusim/compiler_backend/onnx_frontend.h"
#include "tpusim/isa/status_macros.h"

namespace tpusim::compiler {
namespace detail {
namespace {

std::string OnnxTypeName(int32_t elem_type) {
  if (onnx::TensorProto_DataType_IsValid(elem_type)) {
    return onnx::TensorProto_DataType_Name(static_cast<onnx::TensorProto_DataType>(elem_type));
  }
  return absl::StrCat("unknown type ", elem_type);
}

// Copies the typed repeated field into `out`, narrowing to T; InvalidArgument when a value does not fit.
template <typename T, typename Field>
absl::Status CopyTyped(const Field& field, Tensor& out, const std::string& what) {
  T* dst = out.as<T>();
  for (int i = 0; i < field.size(); ++i) {
    const auto v = field.Get(i);
    if constexpr (std::is_integral_v<T> && !std::is_same_v<T, std::remove_cv_t<decltype(v)>>) {
      if (v < std::numeric_limits<T>::min() || v > std::numeric_limits<T>::max()) {
        return absl::InvalidArgumentError(absl::StrCat(what, ": value ", v, " at index ", i, " is out of range for ",
                                                       std::string(DataTypeName(out.dtype()))));
      }
    }
    dst[i] = static_cast<T>(v);
  }
  return absl::OkStatus();
}

}  // namespace

absl::StatusOr<DataType> DataTypeFromOnnx(int32_t elem_type, const std::string& what) {
  switch (elem_type) {
    case onnx::TensorProto::FLOAT: return DataType::kFloat32;
    case onnx::TensorProto::INT8: return DataType::kInt8;
    case onnx::TensorProto::INT32: return DataType::kInt32;
    case onnx::TensorProto::INT64: return DataType::kInt64;
    case onnx::TensorProto::BOOL: return DataType::kBool;
    case onnx::TensorProto::UINT8: return DataType::kUint8;
    default: break;
  }
  return absl::InvalidArgumentError(absl::StrCat(what, " has data type ", OnnxTypeName(elem_type),
                                                 ", which is not supported (supported: FLOAT, INT8, INT32, "
                                                 "INT64, BOOL, UINT8)"));
}

int32_t DataTypeToOnnx(DataType dtype) {
  switch (dtype) {
    case DataType::kFloat32: return onnx::TensorProto::FLOAT;
    case DataType::kInt8: return onnx::TensorProto::INT8;
    case DataType::kInt32: return onnx::TensorProto::INT32;
    case DataType::kInt64: return onnx::TensorProto::INT64;
    case DataType::kBool: return onnx::TensorProto::BOOL;
    case DataType::kUint8: return onnx::TensorProto::UINT8;
  }
  TPUSIM_UNREACHABLE();
}

absl::StatusOr<Tensor> TensorFromProto(const onnx::TensorProto& proto, const std::string& what) {
  if (proto.data_location() == onnx::TensorProto::EXTERNAL || proto.external_data_size() > 0) {
    return absl::InvalidArgumentError(absl::StrCat(what, " keeps its data in an external file, which is not "
                                                         "supported"));
  }
  if (proto.has_segment()) {
    return absl::InvalidArgumentError(absl::StrCat(what, " is segmented, which is not supported"));
  }
  TPUSIM_ASSIGN_OR_RETURN(DataType dtype, DataTypeFromOnnx(proto.data_type(), what));
  Shape shape;
  // Element count capped at 2^62 so the product below cannot overflow; the data length check that follows
  // bounds the allocation by the bytes actually present.
  int64_t count = 1;
  for (int64_t d : proto.dims()) {
    if (d < 0) return absl::InvalidArgumentError(absl::StrCat(what, " has a negative dimension (", d, ")"));
    if (d != 0 && count > (int64_t{1} << 62) / d) {
      return absl::InvalidArgumentError(absl::StrCat(what, " has too many elements"));
    }
    count *= d;
    shape.push_back(d);
  }
  const size_t elem_bytes = DataTypeBytes(dtype);
  const std::string shape_text = ShapeToString(shape);
  if (proto.has_raw_data()) {
    const std::string& raw = proto.raw_data();
    if (raw.size() % elem_bytes != 0 || static_cast<uint64_t>(raw.size() / elem_bytes) != static_cast<uint64_t>(count)) {
      return absl::InvalidArgumentError(absl::StrCat(what, ": raw_data holds ", raw.size(), " bytes but shape ",
                                                     shape_text, " of ", std::string(DataTypeName(dtype)), " needs ",
                                                     static_cast<uint64_t>(count) * elem_bytes));
    }
    Tensor t(dtype, std::move(shape));
    if (!raw.empty()) std::memcpy(t.data(), raw.data(), raw.size());
    return t;
  }
  int64_t have = 0;
  switch (dtype) {
    case DataType::kFloat32: have = proto.float_data_size(); break;
    case DataType::kInt64: have = proto.int64_data_size(); break;
    default: have = proto.int32_data_size(); break;
  }
  if (have != count) {
    return absl::InvalidArgumentError(absl::StrCat(what, " holds ", have, " values but shape ", shape_text,
                                                   " needs ", count));
  }
  Tensor t(dtype, std::move(shape));
  switch (dtype) {
    case DataType::kFloat32: TPUSIM_RETURN_IF_ERROR(CopyTyped<float>(proto.float_data(), t, what)); break;
    case DataType::kInt64: TPUSIM_RETURN_IF_ERROR(CopyTyped<int64_t>(proto.int64_data(), t, what)); break;
    case DataType::kInt32: TPUSIM_RETURN_IF_ERROR(CopyTyped<int32_t>(proto.int32_data(), t, what)); break;
    case DataType::kInt8: TPUSIM_RETURN_IF_ERROR(CopyTyped<int8_t>(proto.int32_data(), t, what)); break;
    case DataType::kUint8: TPUSIM_RETURN_IF_ERROR(CopyTyped<uint8_t>(proto.int32_data(), t, what)); break;
    case DataType::kBool: {
      uint8_t* dst = t.as<uint8_t>();
      for (int i = 0; i < proto.int32_data_size(); ++i) dst[i] = proto.int32_data(i) != 0 ? 1 : 0;
      break;
    }
  }
  return t;
}

absl::StatusOr<std::string> ReadFileBytes(const std::string& path) {
  std::ifstream in(path, std::ios::binary);
  if (!in) {
    const int err = errno;
    if (err == ENOENT) return absl::NotFoundError(absl::StrCat("file '", path, "' not found"));
    return absl::FailedPreconditionError(absl::StrCat("cannot open '", path, "': ", std::strerror(err)));
  }
  std::ostringstream bytes;
  bytes << in.rdbuf();
  if (in.bad()) return absl::DataLossError(absl::StrCat("error reading '", path, "'"));
  return std::move(bytes).str();
}

}  // namespace detail

absl::StatusOr<Tensor> ParseTensorProto(std::string_view serialized) {
  onnx::TensorProto proto;
  if (serialized.size() > static_cast<size_t>(INT_MAX) ||
      !proto.ParseFromArray(serialized.data(), static_cast<int>(serialized.size()))) {
    return absl::InvalidArgumentError("malformed TensorProto: not a valid ONNX TensorProto");
  }
  const std::string what = proto.name().empty() ? std::string("tensor") : absl::StrCat("tensor '", proto.name(), "'");
  return detail::TensorFromProto(proto, what);
}

absl::StatusOr<Tensor> ReadTensorProtoFile(const std::string& path) {
  TPUSIM_ASSIGN_OR_RETURN(std::string bytes, detail::ReadFileBytes(path));
  absl::StatusOr<Tensor> tensor = ParseTensorProto(bytes);
  if (!tensor.ok()) {
    return absl::Status(tensor.status().code(), absl::StrCat(path, ": ", tensor.status().message()));
  }
  return tensor;
}

absl::Status WriteTensorProtoFile(const Tensor& tensor, const std::string& name, const std::string& path) {
  onnx::TensorProto proto;
  proto.set_name(name);
  for (int64_t d : tensor.shape()) proto.add_dims(d);
  proto.set_data_type(detail::DataTypeToOnnx(tensor.dtype()));
  proto.set_raw_data(tensor.byte_size() == 0 ? std::string()
                                             : std::string(reinterpret_cast<const char*>(tensor.data()),
                                                           tensor.byte_size()));
  std::ofstream out(path, std::ios::binary | std::ios::trunc);
  if (!out) {
    const int err = errno;
    return absl::FailedPreconditionError(absl::StrCat("cannot write '", path, "': ", std::strerror(err)));
  }
  if (!proto.SerializeToOstream(&out) || !out.flush()) {
    return absl::DataLossError(absl::StrCat("error writing '", path, "'"));
  }
  return absl::OkStatus();
}

}  // namespace tpusim::compiler
