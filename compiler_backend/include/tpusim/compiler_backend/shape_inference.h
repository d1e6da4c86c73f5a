// Per-node shape and type inference: what InferShapes (compiler.h) applies node by node, exported for the
// runtime's placement, which must know shapes before it can ask CheckTpuSupport.
//
// Ops with a shape function: MatMul, Gemm, Add, Sub, Mul, Div (numpy broadcasting; opset < 7 legacy
// `broadcast`/`axis`), Relu, Sigmoid, Tanh, Exp, Log, Neg, Abs, Sqrt, Reciprocal, Floor, Ceil, Erf,
// LeakyRelu, Elu, Softplus, Softsign, Identity, Softmax, LogSoftmax, Flatten, Reshape, Constant, ArgMax,
// ArgMin, Transpose, ReduceMean, ReduceSum, ReduceMax, ReduceMin, ReduceProd, Concat, Slice, Squeeze,
// Unsqueeze, Expand, Clip, Pow. Everything else is Unimplemented: the runtime then learns the shapes by
// running the op's CPU kernel.
#pragma once

#include <string>
#include <vector>

#include "absl/status/statusor.h"
#include "tpusim/compiler_backend/ir.h"

namespace tpusim::compiler {

// True if InferNodeShapes / InferNodeTypes know `op_type`.
bool HasShapeFunction(const std::string& op_type);

// Output shapes of `node`, one per entry of node.outputs (an omitted "" output gets {}), from the shapes
// of its inputs (`input_shapes` is aligned with node.inputs; entries of omitted "" inputs are ignored).
// `graph` is read only for the values of constant inputs (Reshape's and Expand's shape, Reduce*'s,
// Squeeze's and Unsqueeze's axes, Slice's starts/ends/axes/steps).
// Unimplemented naming the op for op types without a shape function; InvalidArgument naming node and
// shapes on mismatches ("node 'mm' (MatMul): inner dimensions differ: [2,3] x [4,5]"), bad attributes,
// or a missing constant input ("Reshape needs a constant shape").
absl::StatusOr<std::vector<Shape>> InferNodeShapes(const Node& node, const std::vector<Shape>& input_shapes,
                                                   const Graph& graph);

// Output data types of `node`, one per entry of node.outputs, from its input types (aligned with
// node.inputs; entries of omitted inputs are ignored). ArgMax/ArgMin give int64, Constant its value's
// type, the rest their first input's type. InvalidArgument when inputs that must agree differ
// (Add of float32 and int64); Unimplemented for op types without a shape function.
absl::StatusOr<std::vector<DataType>> InferNodeTypes(const Node& node, const std::vector<DataType>& input_types);

}  // namespace tpusim::compiler
