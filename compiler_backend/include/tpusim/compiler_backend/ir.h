// The graph IR: typed tensors, nodes with ONNX-style op types and attributes, and host tensors.
// Frontends (ONNX, the runtime's builder API) produce it; passes and codegen consume it.
#pragma once

#include <cstdint>
#include <map>
#include <optional>
#include <string>
#include <variant>
#include <vector>

#include "absl/status/statusor.h"

namespace tpusim::compiler {

enum class DataType { kFloat32, kInt8, kInt32, kInt64, kBool, kUint8 };  // kUint8: ONNX UINT8 (quantized tensors)
std::string_view DataTypeName(DataType t);
size_t DataTypeBytes(DataType t);

using Shape = std::vector<int64_t>;  // every dim known (>= 0); a scalar is {}
int64_t NumElements(const Shape& shape);
std::string ShapeToString(const Shape& shape);  // "[2,3]"

// A dense row-major host tensor that owns its bytes.
class Tensor {
 public:
  Tensor() = default;
  Tensor(DataType dtype, Shape shape);  // zero-filled
  static Tensor FromFloats(Shape shape, std::vector<float> values);
  static Tensor FromInt64s(Shape shape, std::vector<int64_t> values);

  DataType dtype() const { return dtype_; }
  const Shape& shape() const { return shape_; }
  int64_t num_elements() const { return NumElements(shape_); }
  size_t byte_size() const { return bytes_.size(); }
  uint8_t* data() { return bytes_.data(); }
  const uint8_t* data() const { return bytes_.data(); }
  template <typename T> T* as() { return reinterpret_cast<T*>(bytes_.data()); }
  template <typename T> const T* as() const { return reinterpret_cast<const T*>(bytes_.data()); }
  // Same bytes, new shape; InvalidArgument if the element counts differ.
  absl::StatusOr<Tensor> Reshaped(Shape shape) const;

 private:
  DataType dtype_ = DataType::kFloat32;
  Shape shape_;
  std::vector<uint8_t> bytes_;
};

using Attribute = std::variant<int64_t, float, std::string, std::vector<int64_t>, std::vector<float>, Tensor>;

struct Node {
  std::string name;     // unique in the graph
  std::string op_type;  // ONNX op type ("MatMul", "Gemm", ...)
  std::vector<std::string> inputs;   // value names; "" = an omitted optional input
  std::vector<std::string> outputs;
  std::map<std::string, Attribute> attrs;
  std::string requested_device;      // "" (let the session place it) or e.g. "/device:CPU:0"
  int opset = 13;                    // the ONNX opset version this node follows

  // Typed attribute access with defaults; InvalidArgument naming node and attribute on a type mismatch.
  absl::StatusOr<int64_t> GetInt(const std::string& key, std::optional<int64_t> dflt = std::nullopt) const;
  absl::StatusOr<float> GetFloat(const std::string& key, std::optional<float> dflt = std::nullopt) const;
  absl::StatusOr<std::vector<int64_t>> GetInts(const std::string& key,
                                               std::optional<std::vector<int64_t>> dflt = std::nullopt) const;
};

struct Value {
  std::string name;
  DataType dtype = DataType::kFloat32;
  std::optional<Shape> shape;      // unknown until inferred
  std::optional<Tensor> constant;  // initializers and Constant outputs folded by the frontend
};

// A graph: values by name, nodes in topological order, graph inputs (non-constant) and outputs.
class Graph {
 public:
  std::vector<Node> nodes;
  std::map<std::string, Value> values;
  std::vector<std::string> inputs;
  std::vector<std::string> outputs;

  const Value* FindValue(const std::string& name) const;
  Value& AddValue(const std::string& name, DataType dtype, std::optional<Shape> shape = std::nullopt);
  // Every node input is a graph input, a constant or an earlier node's output; names unique; outputs
  // produced. InvalidArgument naming the node and value otherwise.
  absl::Status Validate() const;
};

}  // namespace tpusim::compiler
