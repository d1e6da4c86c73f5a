// Helpers shared by the compiler backend's own sources (not a public header).
#pragma once

#include <cstdint>
#include <optional>
#include <string>
#include <string_view>

#include "absl/status/statusor.h"
#include "onnx/onnx_pb.h"
#include "tpusim/compiler_backend/ir.h"

namespace tpusim::compiler::detail {

// "node 'mm' (MatMul)": the prefix of every error that concerns one node.
std::string NodeLabel(const Node& node);

// ONNX TensorProto.DataType -> DataType. InvalidArgument naming `what` ("input 'x'") and the ONNX type
// name for types the IR does not carry (DOUBLE, UINT8, FLOAT16, STRING, ...).
absl::StatusOr<DataType> DataTypeFromOnnx(int32_t elem_type, const std::string& what);
int32_t DataTypeToOnnx(DataType dtype);

// TensorProto -> Tensor, from raw_data or the typed repeated field of its type. InvalidArgument naming
// `what` for unsupported types, external or segmented data, negative dims, or a value count that does
// not match the dims.
absl::StatusOr<Tensor> TensorFromProto(const onnx::TensorProto& proto, const std::string& what);

// True if the TPU lowering reads input `index` of `node` at compile time rather than as data: the
// compile-time operands (compiler.h IsCompileTimeOperand) and Pow's exponent (which must be a constant).
bool ReadAtCompileTime(const Node& node, size_t index);

// The one value of a constant float32, int32 or int64 tensor with a single element, as a float
// (Clip's bounds, Pow's exponent); InvalidArgument naming `what` otherwise.
absl::StatusOr<float> ScalarAsFloat(const Tensor& t, const std::string& what);

// The whole file as bytes; NotFound when it does not exist, other errors naming the path.
absl::StatusOr<std::string> ReadFileBytes(const std::string& path);

// One ONNX attribute as an IR Attribute (INT, FLOAT, STRING, INTS, FLOATS, TENSOR; an UNDEFINED type is
// read from whichever field is set, as old exporters wrote it). std::nullopt for kinds the IR does not
// carry (GRAPH, STRINGS, SPARSE_TENSOR, ...): ops that need them run nowhere. `where` names the node.
absl::StatusOr<std::optional<Attribute>> AttributeFromProto(const onnx::AttributeProto& proto,
                                                            const std::string& where);

// The tensor a Constant node produces, from whichever of value / value_float / value_floats / value_int /
// value_ints it carries (exactly one); InvalidArgument naming the node otherwise.
absl::StatusOr<Tensor> ConstantNodeValue(const Node& node);

}  // namespace tpusim::compiler::detail
