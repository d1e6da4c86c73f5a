// The per-op lowerings of codegen and the table that finds them by ONNX op type. Each op's lowering
// lives in its own lower_<family>.cc over the shared CodegenContext (codegen_context.h).
#pragma once

#include <map>
#include <set>
#include <string>
#include <string_view>
#include <vector>

#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "codegen_context.h"
#include "tpusim/compiler_backend/ir.h"

namespace tpusim::compiler::codegen {

using LowerFn = absl::Status (*)(const Node& node, CodegenContext& ctx);

struct Lowering {
  // Plan phase: requests the frame regions the node needs besides its outputs (constant segments,
  // scratch). Node outputs are assigned by the driver afterwards.
  LowerFn plan = nullptr;
  // Emit phase: appends the node's instructions; every region it touches was planned.
  LowerFn emit = nullptr;
  // Output 0 shares input 0's region (Reshape, Flatten, Identity) unless it already has its own
  // (a graph output), in which case emit copies.
  bool aliases_input = false;
};

// nullptr if codegen has no lowering for `op_type`.
const Lowering* FindLowering(std::string_view op_type);

// Default plan: every float constant input gets an fp32 segment (inputs read at compile time excepted).
absl::Status PlanConstantInputs(const Node& node, CodegenContext& ctx);

// A node's data input 0 and output 0: frame regions and shapes (both checked float32: Unimplemented
// otherwise; InvalidArgument if either is missing). The shapes point into the context's graph.
struct UnaryOperands {
  uint64_t in = 0, out = 0;
  const Shape* in_shape = nullptr;
  const Shape* out_shape = nullptr;
};
absl::StatusOr<UnaryOperands> DataInOut(const Node& node, CodegenContext& ctx);

// lower_gemm.cc: MatMul (numpy batching, 1-D operands) and Gemm (transA/transB/alpha/beta/C).
absl::Status PlanGemmNode(const Node& node, CodegenContext& ctx);
// ResourceExhausted naming the node when the UB cannot hold the GEMM tiles of the context's precision.
absl::Status CheckUbHoldsGemm(const Node& node, CodegenContext& ctx);
absl::Status EmitMatMulNode(const Node& node, CodegenContext& ctx);
absl::Status EmitGemmNode(const Node& node, CodegenContext& ctx);
// lower_fused.cc: which MatMul + bias Add + activation chains fold into the GEMM epilogue.
struct FusionPlan {
  std::map<std::string, FusedEpilogue> heads;  // by MatMul node name
  std::set<std::string> absorbed_nodes;        // emit nothing
  std::set<std::string> elided_values;         // intermediates that never reach the frame
};
FusionPlan FindFusions(const Graph& graph);
// lower_elementwise.cc: Add, Sub, Mul, Div (multidirectional broadcasting), Relu, Sigmoid, Tanh, Exp,
// Log, Sqrt, Reciprocal, Abs, Erf, Neg (mul_imm -1), LeakyRelu (leaky_relu, imm = alpha).
absl::Status EmitElementwiseNode(const Node& node, CodegenContext& ctx);
// lower_clip.cc: Clip (max_imm min, then min_imm max; bounds from attributes or constant inputs).
absl::Status EmitClipNode(const Node& node, CodegenContext& ctx);
// lower_pow.cc: Pow with a constant scalar exponent 1, 2, 0.5 or -1 (copy, x*x, sqrt, reciprocal).
absl::Status EmitPowNode(const Node& node, CodegenContext& ctx);
// lower_pow.cc: also any other exponent (exp(y log|x|) with the sign rules); plans x, y and scratch.
absl::Status PlanPowNode(const Node& node, CodegenContext& ctx);
// lower_transpose.cc, lower_concat.cc, lower_slice.cc, lower_expand.cc: strided copies (codegen_copy.h).
absl::Status EmitTransposeNode(const Node& node, CodegenContext& ctx);
absl::Status EmitConcatNode(const Node& node, CodegenContext& ctx);
absl::Status EmitSliceNode(const Node& node, CodegenContext& ctx);
absl::Status EmitExpandNode(const Node& node, CodegenContext& ctx);
// lower_reduce.cc: ReduceSum, ReduceMean, ReduceMax.
absl::Status EmitReduceNode(const Node& node, CodegenContext& ctx);
// lower_softmax.cc: Softmax (opset < 13 coerces to 2-D; opset >= 13 reduces one axis).
absl::Status EmitSoftmaxNode(const Node& node, CodegenContext& ctx);
// lower_conv.cc: Conv (im2col + GEMM); lower_conv_norm.cc: BatchNormalization (per-channel affine on
// the vector unit; PlanDataInput plans input 0 only) and Pad (constant mode: fill + strided copy).
absl::Status PlanConvNode(const Node& node, CodegenContext& ctx);
absl::Status EmitConvNode(const Node& node, CodegenContext& ctx);
absl::Status PlanDataInput(const Node& node, CodegenContext& ctx);
absl::Status EmitBatchNormNode(const Node& node, CodegenContext& ctx);
absl::Status EmitPadNode(const Node& node, CodegenContext& ctx);
// lower_pad.cc: Pad in any lowered mode (constant -> EmitPadNode; reflect, edge as DMA copies).
absl::Status EmitPadAnyModeNode(const Node& node, CodegenContext& ctx);
// lower_constant_of_shape.cc: ConstantOfShape with a compile-time shape (a vector fill).
absl::Status EmitConstantOfShapeNode(const Node& node, CodegenContext& ctx);
// lower_pool.cc: MaxPool, AveragePool (padded scratch image + per-offset strided loads), and
// GlobalAveragePool / GlobalMaxPool (as ReduceMean / ReduceMax). PlanPoolNode plans the scratch.
absl::Status PlanPoolNode(const Node& node, CodegenContext& ctx);
absl::Status EmitPoolNode(const Node& node, CodegenContext& ctx);
// lower_misc.cc: Split, Gather (constant indices) as strided copies; PRelu on the vector unit.
absl::Status EmitSplitNode(const Node& node, CodegenContext& ctx);
absl::Status EmitGatherNode(const Node& node, CodegenContext& ctx);
absl::Status EmitPReluNode(const Node& node, CodegenContext& ctx);
// lower_layernorm.cc: LayerNormalization (statistics as row reductions, like Softmax).
absl::Status EmitLayerNormNode(const Node& node, CodegenContext& ctx);
// lower_layout.cc: Reshape, Flatten, Identity, Squeeze, Unsqueeze (aliases; a copy when needed).
absl::Status PlanNothing(const Node& node, CodegenContext& ctx);
absl::Status EmitAliasNode(const Node& node, CodegenContext& ctx);
// lower_quantize.cc: QuantizeLinear / DequantizeLinear in float mode (i8 DMAs, cvt_f2i / cvt_i2f). The
// plan binds the int8 output (one byte per element) and an int8 constant input's device bytes.
absl::Status PlanQuantizeNode(const Node& node, CodegenContext& ctx);
// The frame region of an int8 / uint8 / int32 value: its binding (a program input, an earlier node's
// output) or, while planning, a new segment of a constant's device bytes (uint8 as u - 128,
// ToDeviceInt8), bound under its name. InternalError for an unbound non-constant.
absl::StatusOr<uint64_t> IntValueRegion(const std::string& name, CodegenContext& ctx);
absl::Status EmitQuantizeNode(const Node& node, CodegenContext& ctx);
// lower_int_elementwise.cc: uint8 Add/Sub/Mul/Div, int8/uint8 Clip and MaxPool in float mode (cvt_i2f /
// cvt_f2i around exact fp32 arithmetic); chosen by PlanNodes for nodes IsIntElementwiseNode accepts.
const Lowering& IntElementwiseLowering();

}  // namespace tpusim::compiler::codegen

namespace tpusim::compiler::detail {
// lower_quantize.cc: CheckTpuSupport for QuantizeLinear / DequantizeLinear (Unimplemented with the
// reason otherwise): scalar or per-axis (1-D) scale and zero point, constants or compile-time inputs; Quantize float32 ->
// int8/uint8, Dequantize int8/uint8/int32 -> float32; |scale| >= 2^-125 or NaN.
absl::Status CheckQuantizeSupport(const Node& node, const Graph& graph, const std::set<std::string>& compile_time_inputs);
// Their scale and zero point (inputs 1 and 2) are read at compile time.
bool IsQuantizeCompileTimeOperand(const Node& node, size_t index);
// lower_int_elementwise.cc: Add/Sub/Mul/Div/Clip/MaxPool whose input 0 is int8 or uint8, and their
// CheckTpuSupport (uint8 Add/Sub/Mul/Div from opset 7; int8/uint8 Clip from opset 12, constant bounds;
// int8/uint8 MaxPool over 2 spatial dims, lower_int_pool.cc).
bool IsIntElementwiseNode(const Node& node, const Graph& graph);
absl::Status CheckIntElementwiseSupport(const Node& node, const Graph& graph, const std::set<std::string>& compile_time_inputs);
// Their shape function (InferShapes): x's shape; 2 or 3 inputs.
absl::StatusOr<Shape> QuantizeLinearShape(const Node& node, const std::vector<Shape>& in, const Graph& graph);
}  // namespace tpusim::compiler::detail
