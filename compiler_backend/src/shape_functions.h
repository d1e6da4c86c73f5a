// Shape functions of single ops (internal to the compiler backend; InferNodeShapes dispatches to them).
// Each one receives input shapes aligned with node.inputs and returns the shape of the node's one output,
// or InvalidArgument naming the node and the shapes.
#pragma once

#include <cstdint>
#include <string_view>
#include <vector>

#include "absl/status/statusor.h"
#include "tpusim/compiler_backend/ir.h"

namespace tpusim::compiler::detail {

using ShapeFn = absl::StatusOr<Shape> (*)(const Node& node, const std::vector<Shape>& in, const Graph& graph);

// InvalidArgument unless node has between `min` and `max` inputs and the first `min` are present.
absl::Status RequireInputs(const Node& node, size_t min, size_t max);
inline bool Present(const Node& node, size_t i) { return i < node.inputs.size() && !node.inputs[i].empty(); }

// `axis` in [-rank, rank - 1] (or [-rank, rank] when `allow_rank`), made non-negative; else InvalidArgument.
absl::StatusOr<int64_t> NormalizeAxis(const Node& node, int64_t axis, int64_t rank, bool allow_rank = false);

// Numpy multidirectional broadcasting of two shapes.
absl::StatusOr<Shape> BroadcastShapes(const Node& node, const Shape& a, const Shape& b);

// The int64 values of constant input `index` (rank 0 or 1); InvalidArgument "<Op> needs a constant <what>".
absl::StatusOr<std::vector<int64_t>> ConstantInts(const Node& node, size_t index, const Graph& graph,
                                                  const std::string& what);

// Elementwise and shape-manipulation ops (shape_functions_elementwise.cc).
absl::StatusOr<Shape> SameShape(const Node& node, const std::vector<Shape>& in, const Graph& graph);
absl::StatusOr<Shape> BinaryShape(const Node& node, const std::vector<Shape>& in, const Graph& graph);
absl::StatusOr<Shape> SoftmaxShape(const Node& node, const std::vector<Shape>& in, const Graph& graph);
absl::StatusOr<Shape> FlattenShape(const Node& node, const std::vector<Shape>& in, const Graph& graph);
absl::StatusOr<Shape> ReshapeShape(const Node& node, const std::vector<Shape>& in, const Graph& graph);
absl::StatusOr<Shape> ConstantShape(const Node& node, const std::vector<Shape>& in, const Graph& graph);

// Contractions, reductions and data movement (shape_functions_linalg.cc).
absl::StatusOr<Shape> MatMulShape(const Node& node, const std::vector<Shape>& in, const Graph& graph);
absl::StatusOr<Shape> GemmShape(const Node& node, const std::vector<Shape>& in, const Graph& graph);
absl::StatusOr<Shape> ArgReduceShape(const Node& node, const std::vector<Shape>& in, const Graph& graph);
absl::StatusOr<Shape> ReduceShape(const Node& node, const std::vector<Shape>& in, const Graph& graph);
absl::StatusOr<Shape> TransposeShape(const Node& node, const std::vector<Shape>& in, const Graph& graph);
absl::StatusOr<Shape> ConcatShape(const Node& node, const std::vector<Shape>& in, const Graph& graph);

// Which dims of a rank-`rank` input a Reduce* node reduces (one flag per dim): the axes of the constant
// second input (ReduceSum opset >= 13, the others opset >= 18) or of the `axes` attribute; no axes
// means every dim, unless noop_with_empty_axes (then none: the identity). InvalidArgument on an axis out
// of range or listed twice.
absl::StatusOr<std::vector<bool>> ReduceAxes(const Node& node, int64_t rank, const Graph& graph);

// Slice resolved against an input shape (ONNX clamping rules): per input dim, the first index read,
// the step between indices read (never 0; negative walks backwards) and the output extent. Dims that
// no axis names have start 0, step 1 and the input's extent. Opset >= 10 reads the constant inputs
// starts, ends, axes, steps; opset < 10 the attributes starts, ends, axes.
struct SliceDims {
  std::vector<int64_t> start, step, size;
};
absl::StatusOr<SliceDims> ResolveSlice(const Node& node, const Shape& in, const Graph& graph);

// Data movement and parameterised elementwise ops (shape_functions_data.cc).
absl::StatusOr<Shape> SliceShape(const Node& node, const std::vector<Shape>& in, const Graph& graph);
absl::StatusOr<Shape> SqueezeShape(const Node& node, const std::vector<Shape>& in, const Graph& graph);
absl::StatusOr<Shape> UnsqueezeShape(const Node& node, const std::vector<Shape>& in, const Graph& graph);
absl::StatusOr<Shape> ExpandShape(const Node& node, const std::vector<Shape>& in, const Graph& graph);
absl::StatusOr<Shape> ClipShape(const Node& node, const std::vector<Shape>& in, const Graph& graph);
absl::StatusOr<Shape> PowShape(const Node& node, const std::vector<Shape>& in, const Graph& graph);

// The convolution family (lower_conv_attrs.cc): Conv, BatchNormalization (inference form), Pad.
absl::StatusOr<Shape> ConvShape(const Node& node, const std::vector<Shape>& in, const Graph& graph);
absl::StatusOr<Shape> BatchNormShape(const Node& node, const std::vector<Shape>& in, const Graph& graph);
absl::StatusOr<Shape> PadShape(const Node& node, const std::vector<Shape>& in, const Graph& graph);

// Pooling, Gather, PRelu, Split, LayerNormalization (shape_functions_pool.cc).
// Per spatial dim (input dims 2..) of a MaxPool / AveragePool / GlobalAveragePool / GlobalMaxPool
// node: the window is input indices o*stride - pad_begin + j*dilation (j < kernel); indices outside
// [0, in) are padding. auto_pad, ceil_mode (ONNX's output-size rule) resolved.
struct PoolDims {
  std::vector<int64_t> in, kernel, stride, dilation, pad_begin, pad_end, out;
};
absl::StatusOr<PoolDims> ResolvePool(const Node& node, const Shape& x);
absl::StatusOr<Shape> PoolShape(const Node& node, const std::vector<Shape>& in, const Graph& graph);
absl::StatusOr<Shape> GatherShape(const Node& node, const std::vector<Shape>& in, const Graph& graph);
absl::StatusOr<Shape> PReluShape(const Node& node, const std::vector<Shape>& in, const Graph& graph);
// The part sizes along `axis` of a Split node with `outputs` outputs over input shape `x`: the split
// input (opset >= 13, a constant) or attribute, num_outputs (opset 18), else equal parts.
absl::StatusOr<std::vector<int64_t>> SplitSizes(const Node& node, const Shape& x, int64_t axis, const Graph& graph);
// Ops with several outputs: every output's shape (one per node output slot, "" slots included).
using MultiShapeFn = absl::StatusOr<std::vector<Shape>> (*)(const Node& node, const std::vector<Shape>& in,
                                                            const Graph& graph);
MultiShapeFn FindMultiOutputShapeFn(std::string_view op_type);  // nullptr for single-output ops
// TPU support of MaxPool / AveragePool (no Indices output; valid geometry), LayerNormalization (scale
// and bias with S or 1 elements); OK for other ops. Unimplemented with the reason otherwise.
absl::Status CheckPoolOrMiscSupport(const Node& node, const Graph& graph);
// lower_pad.cc: Pad's TPU rule (modes constant, reflect, edge; Unimplemented with the reason otherwise).
absl::Status CheckPadSupport(const Node& node, const Graph& graph);
// lower_pad.cc: true for nodes whose TPU lowering only copies 32-bit words (Pad reflect / edge), which
// therefore run on int32 tensors bit-exactly.
bool MovesInt32Words(const Node& node);
// lower_constant_of_shape.cc: ConstantOfShape's shape function (Unimplemented while input 0 is not a
// constant), its TPU rule (value float32 or int32 zero), and whether it fills int32 zeros.
absl::StatusOr<Shape> ConstantOfShapeShape(const Node& node, const std::vector<Shape>& in, const Graph& graph);
absl::Status CheckConstantOfShapeSupport(const Node& node);
bool FillsInt32Zeros(const Node& node);

}  // namespace tpusim::compiler::detail
