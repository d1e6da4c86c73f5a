// The CPU reference kernels: one per op type, with ONNX fp32 semantics (Eigen for the matrix
// products). They are what the `cpu` device runs for CPU-placed ops, the reference every TPU result is
// compared against, and the speed baseline of the benchmarks.
//
// Supported op types: MatMul (numpy semantics: 1-D operands, batched broadcast), Gemm (transA, transB,
// alpha, beta, optional unidirectionally broadcast C), Add, Sub, Mul, Div (multidirectional broadcast;
// float32, int32, int64), Relu, Sigmoid, Tanh, Exp, Softmax (opset < 13: coerce to 2-D at `axis`,
// default 1; opset >= 13: along `axis`, default -1), Flatten, Reshape (0 and -1, allowzero), Identity,
// Constant, ConstantOfShape (int64 shape, possibly computed at run time; one-element `value`), Log,
// Sqrt, Reciprocal, Erf, LeakyRelu, Abs, Neg, Clip, Pow, Transpose (perm), Concat, Slice, Squeeze,
// Unsqueeze, Expand, ReduceSum, ReduceMean, ReduceMax (axes attribute or input; keepdims,
// noop_with_empty_axes), QuantizeLinear, DequantizeLinear, MatMulInteger, QLinearMatMul (int8/uint8;
// cpu_kernels_quant.cc), and the CPU-only op ArgMax (axis, keepdims, select_last_index; int64 output).
//
// Threading: kernels are pure functions of their arguments; any thread may call them concurrently.
#pragma once

#include <string>
#include <string_view>
#include <vector>

#include "absl/status/statusor.h"
#include "tpusim/compiler_backend/ir.h"

namespace tpusim::runtime {

// What shape inference knows about one node input.
struct KernelInputInfo {
  bool present = false;                // false: an omitted optional input ("")
  compiler::DataType dtype = compiler::DataType::kFloat32;
  compiler::Shape shape;
  const compiler::Tensor* constant = nullptr;  // the value when the input is a constant (Reshape's shape)
};

// The dtype and shape of one node output.
struct KernelOutputInfo {
  compiler::DataType dtype = compiler::DataType::kFloat32;
  compiler::Shape shape;
};

// A kernel for one op type. Both functions validate attributes, arity, dtypes and shapes and fail with
// InvalidArgument naming the op, the node and the shapes ("MatMul (node 'fc1'): inner dimensions differ:
// [2,3] x [4,5]"); Unimplemented for a valid ONNX feature the kernel does not cover.
struct CpuKernel {
  std::string_view op_type;
  // Output dtypes and shapes from what is known about the inputs; FailedPrecondition when the output
  // shape depends on an input value that is not a constant (Reshape with a computed shape).
  absl::StatusOr<std::vector<KernelOutputInfo>> (*infer)(const compiler::Node& node,
                                                         const std::vector<KernelInputInfo>& inputs);
  // Computes the outputs. `inputs` has one entry per node input, nullptr for an omitted optional input;
  // the pointers are only borrowed for the call.
  absl::StatusOr<std::vector<compiler::Tensor>> (*compute)(
      const compiler::Node& node, const std::vector<const compiler::Tensor*>& inputs);
};

// The kernel for `op_type`, or nullptr if the CPU has none. The registry is immutable.
const CpuKernel* FindCpuKernel(std::string_view op_type);
// Every op type with a CPU kernel, sorted.
std::vector<std::string> CpuKernelOpTypes();

// FindCpuKernel + compute, with NotFound ("no CPU kernel for op 'Foo' (node 'a')") when there is none.
absl::StatusOr<std::vector<compiler::Tensor>> RunCpuKernel(
    const compiler::Node& node, const std::vector<const compiler::Tensor*>& inputs);

// Fills Value::shape (and Value::dtype) of node outputs. First tries compiler::InferShapes on the whole
// graph; if that fails (e.g. Unimplemented for an op only the CPU runs), goes node by node: the CPU
// kernel's `infer`, or for an op without a CPU kernel the compiler's inference on a one-node graph.
// Values whose shape cannot be known (an unknown op, an unknown input shape, a Reshape to a computed
// shape) stay unknown; that is not an error. InvalidArgument naming the node and shapes on mismatches.
absl::Status InferShapesWithCpuKernels(compiler::Graph& graph);

}  // namespace tpusim::runtime
