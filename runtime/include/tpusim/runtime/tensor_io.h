// Host tensors in and out of files: ONNX TensorProto (.pb, the ONNX test-data format) and NumPy .npy,
// plus the deterministic random inputs the CLI feeds to graph inputs that were not given a file.
#pragma once

#include <cstdint>
#include <map>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include "absl/status/statusor.h"
#include "tpusim/compiler_backend/ir.h"

namespace tpusim::runtime {

// Parses a NumPy .npy file image (format versions 1.0, 2.0 and 3.0; C order only). Supported dtypes:
// '<f4' (float32), '<i8' (int64), '<i4' (int32), '|i1' (int8), '|b1' (bool). `origin` names the source
// in errors. InvalidArgument naming the problem for a bad magic, an unsupported version or dtype,
// fortran_order True, a malformed header or a data size that does not match the shape.
absl::StatusOr<compiler::Tensor> ParseNpy(std::string_view bytes, std::string_view origin);

// The .npy image of a tensor (format 1.0, C order; float32 '<f4', int64 '<i8', int32 '<i4',
// int8 '|i1', bool '|b1').
std::string SerializeNpy(const compiler::Tensor& tensor);

// Reads a tensor file: NumPy if it starts with the .npy magic ("\x93NUMPY"), else an ONNX TensorProto.
// NotFound if the file cannot be opened; InvalidArgument (naming the file) if it is malformed.
absl::StatusOr<compiler::Tensor> ReadTensorFile(const std::string& path);

// Writes an ONNX TensorProto .pb named `name` (the graph output's name).
absl::Status WriteTensorFile(const compiler::Tensor& tensor, const std::string& name,
                             const std::string& path);

// A file name for a graph value: characters outside [A-Za-z0-9._-] become '_' (ONNX names may hold '/'
// or ':'); an empty name or one made only of dots becomes "_".
std::string SafeFileName(std::string_view value_name);

// Deterministic pseudo-random tensor: the same (dtype, shape, seed) gives the same bytes on every
// machine. Floats are uniform in [-1, 1) (24-bit grid); integers uniform in [-4, 4]; bools 0/1.
compiler::Tensor RandomTensor(compiler::DataType dtype, const compiler::Shape& shape, uint64_t seed);

// The feeds for every graph input (graph.inputs order): tensors from `files` (input name -> path), and
// RandomTensor(dtype, declared shape, kRandomInputSeed + input index) for the others. InvalidArgument if
// `files` names a value that is not a graph input (listing the inputs), or a random input has no
// declared shape.
inline constexpr uint64_t kRandomInputSeed = 20240601;
absl::StatusOr<std::map<std::string, compiler::Tensor>> PrepareFeeds(
    const compiler::Graph& graph, const std::map<std::string, std::string>& files);

}  // namespace tpusim::runtime
