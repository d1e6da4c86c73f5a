#include "tpusim/runtime/tensor_io.h"

#include <fstream>
#include <sstream>

#include "absl/strings/str_cat.h"
#include "absl/strings/str_join.h"
#include "tpusim/compiler_backend/onnx_frontend.h"
#include "tpusim/isa/status_macros.h"

namespace tpusim::runtime {
namespace {

using compiler::DataType;

// splitmix64 (Steele et al.): a fixed, portable sequence, unlike std:: distributions.
uint64_t SplitMix64(uint64_t& state) {
  uint64_t z = (state += 0x9e3779b97f4a7c15ULL);
  z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9ULL;
  z = (z ^ (z >> 27)) * 0x94d049bb133111ebULL;
  return z ^ (z >> 31);
}

absl::StatusOr<std::string> ReadWholeFile(const std::string& path) {
  std::ifstream in(path, std::ios::binary);
  if (!in) return absl::NotFoundError(absl::StrCat("cannot open '", path, "'"));
  std::ostringstream buf;
  buf << in.rdbuf();
  if (in.bad()) return absl::DataLossError(absl::StrCat("error reading '", path, "'"));
  return buf.str();
}

}  // namespace

absl::StatusOr<compiler::Tensor> ReadTensorFile(const std::string& path) {
  TPUSIM_ASSIGN_OR_RETURN(std::string bytes, ReadWholeFile(path));
  if (bytes.compare(0, 6, "\x93NUMPY") == 0) return ParseNpy(bytes, path);
  absl::StatusOr<compiler::Tensor> tensor = compiler::ParseTensorProto(bytes);
  if (!tensor.ok()) {
    return absl::Status(tensor.status().code(),
                        absl::StrCat(path, ": not a valid TensorProto or .npy file: ",
                                     tensor.status().message()));
  }
  return tensor;
}

absl::Status WriteTensorFile(const compiler::Tensor& tensor, const std::string& name,
                             const std::string& path) {
  return compiler::WriteTensorProtoFile(tensor, name, path);
}

std::string SafeFileName(std::string_view value_name) {
  std::string out;
  bool only_dots = true;
  for (char c : value_name) {
    const bool ok = (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') ||
                    c == '.' || c == '_' || c == '-';
    out += ok ? c : '_';
    if (c != '.') only_dots = false;
  }
  if (only_dots) return "_";
  return out;
}

compiler::Tensor RandomTensor(DataType dtype, const compiler::Shape& shape, uint64_t seed) {
  compiler::Tensor t(dtype, shape);
  uint64_t state = seed;
  const int64_t n = t.num_elements();
  for (int64_t i = 0; i < n; ++i) {
    const uint64_t r = SplitMix64(state);
    const int64_t small = static_cast<int64_t>(r % 9) - 4;  // uniform in [-4, 4]
    switch (dtype) {
      case DataType::kFloat32:
        // 24 random bits -> k / 2^23 - 1 for k in [0, 2^24): uniform in [-1, 1).
        t.as<float>()[i] = static_cast<float>(static_cast<int64_t>(r >> 40) - (int64_t{1} << 23)) /
                           static_cast<float>(int64_t{1} << 23);
        break;
      case DataType::kInt8: t.as<int8_t>()[i] = static_cast<int8_t>(small); break;
      case DataType::kInt32: t.as<int32_t>()[i] = static_cast<int32_t>(small); break;
      case DataType::kInt64: t.as<int64_t>()[i] = small; break;
      case DataType::kBool: t.as<uint8_t>()[i] = static_cast<uint8_t>(r & 1); break;
      case DataType::kUint8: t.as<uint8_t>()[i] = static_cast<uint8_t>(small + 4); break;  // [0, 8]
    }
  }
  return t;
}

absl::StatusOr<std::map<std::string, compiler::Tensor>> PrepareFeeds(
    const compiler::Graph& graph, const std::map<std::string, std::string>& files) {
  for (const auto& [name, path] : files) {
    bool known = false;
    for (const std::string& in : graph.inputs) known |= (in == name);
    if (!known) {
      return absl::InvalidArgumentError(
          absl::StrCat("--input ", name, "=", path, ": the model has no input '", name, "' (inputs: ",
                       graph.inputs.empty() ? "none" : absl::StrJoin(graph.inputs, ", "), ")"));
    }
  }
  std::map<std::string, compiler::Tensor> feeds;
  for (size_t i = 0; i < graph.inputs.size(); ++i) {
    const std::string& name = graph.inputs[i];
    auto file = files.find(name);
    if (file != files.end()) {
      absl::StatusOr<compiler::Tensor> tensor = ReadTensorFile(file->second);
      if (!tensor.ok()) {
        return absl::Status(tensor.status().code(),
                            absl::StrCat("input '", name, "': ", tensor.status().message()));
      }
      feeds[name] = *std::move(tensor);
      continue;
    }
    const compiler::Value* value = graph.FindValue(name);
    if (value == nullptr || !value->shape) {
      return absl::InvalidArgumentError(absl::StrCat(
          "input '", name, "' has no declared shape, so no random input can be made; give --input ",
          name, "=FILE"));
    }
    feeds[name] = RandomTensor(value->dtype, *value->shape, kRandomInputSeed + i);
  }
  return feeds;
}

}  // namespace tpusim::runtime
