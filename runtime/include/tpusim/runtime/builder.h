// The C++ graph-building API, shaped like TensorFlow 1.x's Python API:
//
//   GraphBuilder b;
//   Output x = b.Placeholder("x", {batch, 784});
//   Output w = b.Variable("w1", weights);               // constant-initialised: a constant value
//   Output h = b.Relu(b.Add(b.MatMul(x, w), b.Variable("b1", bias)));
//   { auto scope = b.Device("/cpu:0");                  // like `with tf.device('/cpu:0'):`
//     Output cls = b.ArgMax(h, 1); }
//   absl::StatusOr<compiler::Graph> g = b.Build({h, cls});
//
// Ops are auto-named TensorFlow style from their op type ("MatMul", "MatMul_1", ...; constants "Const",
// "Const_1", ...); an explicit name that is taken is uniquified the same way ("probs" -> "probs_1").
// Each op has one output value, named like its node, so Output::name() is both the node and the value
// name (Reshape's shape constant is "<node>/shape"). Builder methods never fail: the first error (an
// Output from another builder, a bad device string, a duplicate placeholder) is reported by Build.
//
// Threading: a GraphBuilder is used by one thread at a time.
#pragma once

#include <map>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "tpusim/compiler_backend/ir.h"

namespace tpusim::runtime {

class GraphBuilder;

// A handle to one value of a graph under construction. Cheap to copy; valid while its builder lives.
class Output {
 public:
  Output() = default;
  const std::string& name() const { return name_; }
  bool valid() const { return builder_ != nullptr; }

 private:
  friend class GraphBuilder;
  Output(const GraphBuilder* builder, std::string name) : builder_(builder), name_(std::move(name)) {}
  const GraphBuilder* builder_ = nullptr;
  std::string name_;
};

// Sets the requested device of the ops created while it lives; restores the previous one when it is
// destroyed (scopes nest like Python `with` blocks). Move-only. Must not outlive its builder.
class DeviceScope {
 public:
  DeviceScope(DeviceScope&& other) noexcept;
  DeviceScope& operator=(DeviceScope&&) = delete;
  DeviceScope(const DeviceScope&) = delete;
  DeviceScope& operator=(const DeviceScope&) = delete;
  ~DeviceScope();

 private:
  friend class GraphBuilder;
  DeviceScope(GraphBuilder* builder, std::string previous) : builder_(builder), previous_(std::move(previous)) {}
  GraphBuilder* builder_;
  std::string previous_;
};

class GraphBuilder {
 public:
  GraphBuilder() = default;
  GraphBuilder(const GraphBuilder&) = delete;
  GraphBuilder& operator=(const GraphBuilder&) = delete;

  // A graph input (tf.placeholder). Every dim must be known (>= 0). The name is used as given.
  Output Placeholder(const std::string& name, compiler::Shape shape,
                     compiler::DataType dtype = compiler::DataType::kFloat32);
  // A variable with a constant initial value (tf.Variable without training): a constant in the IR.
  Output Variable(const std::string& name, compiler::Tensor initial_value);
  // A constant (tf.constant); auto-named "Const", "Const_1", ... when `name` is empty.
  Output Constant(compiler::Tensor value, const std::string& name = "");

  // tf.matmul: MatMul, or Gemm (transA / transB, 2-D operands only) when a transpose is requested.
  Output MatMul(Output a, Output b, bool transpose_a = false, bool transpose_b = false,
                const std::string& name = "");
  // Elementwise with ONNX (numpy) broadcasting.
  Output Add(Output a, Output b, const std::string& name = "");
  Output Sub(Output a, Output b, const std::string& name = "");
  Output Mul(Output a, Output b, const std::string& name = "");
  Output Div(Output a, Output b, const std::string& name = "");
  Output Relu(Output a, const std::string& name = "");
  Output Sigmoid(Output a, const std::string& name = "");
  Output Tanh(Output a, const std::string& name = "");
  Output Exp(Output a, const std::string& name = "");
  // Softmax along `axis` (opset-13 semantics; -1 = last axis).
  Output Softmax(Output a, int64_t axis = -1, const std::string& name = "");
  // Reshape to `shape` (ONNX semantics: 0 copies the input dim, one -1 is inferred).
  Output Reshape(Output a, std::vector<int64_t> shape, const std::string& name = "");
  Output Flatten(Output a, int64_t axis = 1, const std::string& name = "");
  // tf.argmax: index of the largest value along `axis`, the axis removed; int64 output. CPU only.
  Output ArgMax(Output a, int64_t axis, const std::string& name = "");
  // CPU-only helpers. Transpose with an empty perm reverses the dims.
  Output Transpose(Output a, std::vector<int64_t> perm = {}, const std::string& name = "");
  Output ReduceMean(Output a, std::vector<int64_t> axes, bool keepdims = true, const std::string& name = "");
  Output Concat(const std::vector<Output>& values, int64_t axis, const std::string& name = "");
  Output Identity(Output a, const std::string& name = "");

  // Requests a device for the ops created while the returned scope lives. Accepts "/cpu:0",
  // "/device:CPU:0", "/tpu:0", "/device:TPU:0" (case-insensitive device type), the full
  // "/job:localhost/replica:0/task:0/device:CPU:0" form, and "" (no request). Stored canonically as
  // "/device:CPU:0" / "/device:TPU:0"; anything else makes Build fail.
  [[nodiscard]] DeviceScope Device(std::string_view device);

  // The graph with `outputs` as its graph outputs (in order), validated and shape-inferred
  // (InferShapesWithCpuKernels). The first recorded builder error, if any, is returned instead. The
  // builder stays usable (Build may be called again, e.g. with other outputs).
  absl::StatusOr<compiler::Graph> Build(const std::vector<Output>& outputs) const;

  // A generic op (any ONNX op type and attributes) for ops without a helper above; one output.
  Output AddOp(const std::string& op_type, const std::vector<Output>& inputs,
               std::map<std::string, compiler::Attribute> attrs = {}, const std::string& name = "");

 private:
  friend class DeviceScope;
  std::string UniqueName(const std::string& wanted);
  bool CheckInput(const Output& o, const std::string& what);
  void RecordError(absl::Status status);

  compiler::Graph graph_;
  std::map<std::string, int> name_counts_;  // base name -> uses so far
  std::string device_;                      // canonical requested device of the current scope
  absl::Status first_error_;
};

// "/cpu:0" -> "/device:CPU:0" etc. (the forms GraphBuilder::Device accepts); "" -> "".
// InvalidArgument naming the string otherwise.
absl::StatusOr<std::string> CanonicalDeviceSpec(std::string_view device);

}  // namespace tpusim::runtime
