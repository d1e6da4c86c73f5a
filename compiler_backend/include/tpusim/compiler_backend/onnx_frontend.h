// ONNX frontend: ModelProto -> Graph. Initializers and Constant nodes become constant values.
#pragma once

#include <string>
#include <string_view>

#include "absl/status/statusor.h"
#include "tpusim/compiler_backend/ir.h"

namespace tpusim::compiler {

// InvalidArgument for malformed or truncated protobuf, missing fields, unsupported data types or
// dangling value references, naming the node. Unknown op types are NOT an error here (the session
// decides whether they can run).
absl::StatusOr<Graph> ImportOnnxModel(std::string_view serialized_model);
absl::StatusOr<Graph> ImportOnnxFile(const std::string& path);

// ONNX TensorProto (the ONNX test-data .pb format) <-> Tensor.
absl::StatusOr<Tensor> ParseTensorProto(std::string_view serialized);
absl::StatusOr<Tensor> ReadTensorProtoFile(const std::string& path);
absl::Status WriteTensorProtoFile(const Tensor& tensor, const std::string& name, const std::string& path);

}  // namespace tpusim::compiler
