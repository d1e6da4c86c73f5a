// The convolution family of the compiler backend (Conv, BatchNormalization, Pad): attribute resolution
// shared by shape inference, the TPU support check and codegen, plus the BatchNormalization folding
// pass. Private to compiler_backend/src.
#pragma once

#include <cstdint>
#include <optional>
#include <string>
#include <vector>

#include "absl/status/statusor.h"
#include "tpusim/compiler_backend/ir.h"
#include "tpusim/isa/instruction.h"

namespace tpusim::compiler::detail {

// A Conv resolved against its input shapes X [N, C, D1..Dk] and W [M, C/group, K1..Kk] (ONNX opset 1+):
// per spatial dim the kernel extent, stride, dilation, leading and trailing zero padding (auto_pad
// applied) and the output extent floor((in + pad_begin + pad_end - ((kernel - 1) * dilation + 1)) /
// stride) + 1.
struct ConvGeometry {
  int64_t batch = 0, in_channels = 0, out_channels = 0, group = 1;
  std::vector<int64_t> in, kernel, stride, dilation, pad_begin, pad_end, out;
  int64_t in_per_group() const { return in_channels / group; }
  int64_t out_per_group() const { return out_channels / group; }
  int64_t spatial_rank() const { return static_cast<int64_t>(in.size()); }
};
// InvalidArgument naming the node for inconsistent shapes or attributes (channel counts that do not
// match group, a kernel_shape that disagrees with W, wrong list lengths, non-positive strides or
// dilations, negative pads, an empty output extent, an unknown auto_pad).
absl::StatusOr<ConvGeometry> ResolveConv(const Node& node, const Shape& x, const Shape& w);

// BatchNormalization's per-channel affine form y = x * a[c] + b[c] with a = scale / sqrt(var + eps) and
// b = B - mean * a, computed in double and rounded to float. The parameters are compile-time operands
// (compiler.h IsCompileTimeOperand): graph inputs used only there are baked into the program. Needs scale, B, mean and var as constants
// with `channels` elements each (Unimplemented naming the input otherwise) and inference mode
// (training_mode 0, one output: Unimplemented otherwise).
struct ChannelAffine {
  std::vector<float> a, b;
};
absl::StatusOr<ChannelAffine> BatchNormAffine(const Node& node, const Graph& graph, int64_t channels);
// The attribute and arity part of that check alone (parameters not looked at).
absl::Status CheckBatchNormForm(const Node& node);

// Pad (constant mode) resolved against an input shape: per dim the elements added before and after
// (negative: removed), the fill value and the output shape. Opset < 11 reads the attributes pads /
// paddings and value; opset >= 11 the constant inputs pads, constant_value and (opset >= 18) axes.
struct PadSpec {
  std::string mode = "constant";
  std::vector<int64_t> begin, end;
  float value = 0.0f;
  Shape out;
};
absl::StatusOr<PadSpec> ResolvePad(const Node& node, const Shape& x, const Graph& graph);

// TPU support checks (tpu_support.cc calls them for these op types): OK or Unimplemented naming the
// attribute or input the TPU lowering does not handle.
absl::Status CheckConvFamilySupport(const Node& node, const Graph& graph);

// Compile-time legalization: every BatchNormalization (inference form, constant parameters) that
// directly follows a Conv or a Gemm / 2-D MatMul with a constant weight, whose output nothing else
// reads and which is not a graph output, is folded into that node's weights and bias (new constant
// values "<bn node>/folded_weight" and "/folded_bias"); the BatchNormalization node is removed. Returns
// the number of nodes folded. Shapes must be known.
int FoldBatchNorms(Graph& graph);

// FoldBatchNorms on a copy kept in `storage` when anything folds; otherwise `graph` itself.
const Graph* WithBatchNormsFolded(const Graph& graph, std::optional<Graph>& storage);

}  // namespace tpusim::compiler::detail

namespace tpusim::compiler::codegen {
class CodegenContext;
// Writes `value` to the n contiguous fp32 elements at frame address `addr` (one VECTOR fill of a few UB
// rows, then STOREs of them; overlapped schedules fill the UB's last rows). Emit phase only.
void EmitFill(CodegenContext& ctx, uint64_t addr, uint64_t n, float value);

// Frame addresses of one Conv's operands as EmitConvNode resolved them: X, Y (fp32), W's parts (bf16
// parts, or one fp32 W in bf16 precision), the optional bias and the epilogue's activation.
struct GemmOperands;  // codegen_gemm.h
struct ConvBuffers {
  uint64_t x = 0, y = 0;
  std::vector<uint64_t> w_parts;
  isa::DType w_dtype = isa::DType::BF16;
  std::optional<uint64_t> bias;
  isa::ActFunc func = isa::ActFunc::None;
  // A fused residual (FusedEpilogue::residual): fp32 of Y's shape, added before func.
  std::optional<uint64_t> residual;
};
// Y = func(Y + residual) over Y's n elements in one vector pass (the conv forms whose GEMM cannot take
// the residual in its epilogue). Emit phase only.
void EmitResidualPass(CodegenContext& ctx, uint64_t y, uint64_t residual, uint64_t n, isa::ActFunc func);
// The flat-position geometry of the shifted-GEMM and depthwise-vector convs (lower_conv_flat.cc): Xp
// is X zero-padded to P = in + pad_begin + pad_end per spatial dim ([C][P...], row-major strides ps);
// output o reads Xp[c][p(o) + shift(kk)], p(o) = sum_d o_d * stride_d * ps_d; positions [0, m_full)
// are computed, m_full = p(last output) + 1, into slabs of `slab` = out_0 * stride_0 * ps_0 per channel.
struct FlatConvImage {
  std::vector<uint64_t> ps;
  uint64_t padded_size = 0;  // elements of one padded channel
  uint64_t m_full = 0;
  uint64_t slab = 0;
  bool has_pad = false;
};
FlatConvImage FlatConvImageOf(const detail::ConvGeometry& g);
// shift(kk) = sum_d kk_d * dilation_d * ps_d for every kernel offset kk, in row-major kernel order.
std::vector<uint64_t> KernelShifts(const detail::ConvGeometry& g, const FlatConvImage& s);
// Zero-fills `padded` (channels x padded_size fp32) and copies X ([channels][in...] at `x`) into its
// interior (overlapped 2-D images: zeros on the border runs only, not the whole image). Emit phase only.
void EmitPaddedInput(CodegenContext& ctx, const detail::ConvGeometry& g, const FlatConvImage& s,
                     uint64_t channels, uint64_t x, uint64_t padded);
// `rels.size()` flat-shifted copies of Xp (channels x padded_size fp32 each) one after another from
// `region`: copy b holds Xp_flat[q + rels[b]] for q < channels * padded_size - rels[b] (the rest is never
// read; zeros except for overlapped 2-D images, whose padding is written as border runs only).
// Built straight from X (one zero fill, then one interior copy per shifted copy, none reading another's
// stores: no DRAM round trip between them) when every rel is at most the flat offset of X's first
// element in Xp; otherwise emits nothing and returns false. Emit phase only.
bool EmitShiftedPaddedCopies(CodegenContext& ctx, const detail::ConvGeometry& g, const FlatConvImage& s,
                             uint64_t channels, uint64_t x, uint64_t region, const std::vector<uint64_t>& rels);
// Y[c][o] = Y'[c][p(o)]: one strided copy of the real outputs out of the computed slabs (`full`,
// channels x slab fp32) into Y ([channels][out...] at `y`). Emit phase only.
void EmitPickOutputs(CodegenContext& ctx, const detail::ConvGeometry& g, const FlatConvImage& s,
                     uint64_t channels, uint64_t full, uint64_t y);
// EmitPickOutputs fused with the residual: Y[c][o] = func(Y'[c][p(o)] + residual[c][o]) in one pass
// for 2 spatial dims (one LOAD per operand per UB chunk); other ranks pick, then EmitResidualPass.
void EmitPickOutputsResidual(CodegenContext& ctx, const detail::ConvGeometry& g, const FlatConvImage& s,
                             uint64_t channels, uint64_t full, uint64_t y, uint64_t residual, isa::ActFunc func);
// The tail of the shifted-GEMM conv forms (lower_conv_shifted.cc, lower_conv_packed.cc): the GEMM over
// `op`'s k-tiles (op.a and op.b_parts taken from the first) into the slabs at `full` with io's bias and,
// unless a residual follows, io's activation; then the output pick into io.y, fused with the residual
// and the activation when there is one. Overlapped 2-D unit-stride convs without a residual store the
// real outputs straight into io.y instead (GemmOperands::y_period; `full` stays unused). Emit phase only.
void EmitFlatConvGemmAndPick(CodegenContext& ctx, GemmOperands& op, const ConvBuffers& io,
                             const detail::ConvGeometry& g, const FlatConvImage& s, uint64_t cout, uint64_t full);

// Conv as shifted GEMMs over the padded input (lower_conv_shifted.cc): whether it applies (group 1,
// batch 1, channels >= array_rows / 2, a kernel larger than 1x1, prod(stride) <= 4), its
// scratch (plan phase) and its code (emit phase).
// Packed shifted GEMM (lower_conv_packed.cc): one k-tile covers a bh x bw box of kernel offsets over the
// last two spatial dims (bh = 1 for rank 1 or when a whole kernel row of C channels does not fit the
// array): bw = min(array_rows / C, kernel_last); bh = min(array_rows / (C * bw), kernel_{last-1}) when
// bw = kernel_last, else 1.
struct ConvPacking {
  uint64_t bh = 1, bw = 1;
  uint64_t factor() const { return bh * bw; }
};
ConvPacking PackingFor(const detail::ConvGeometry& g, uint64_t array_rows);
// Scratch (keys prefixed by `key`), packed bf16 weight segments from `w` ([Cout][C][kernel] fp32 of
// geometry g), and the code: Y (io.y) = epilogue(conv). io.w_parts / w_dtype are unused.
absl::Status PlanPackedShiftedConv(const std::string& key, const detail::ConvGeometry& g, const float* w,
                                   CodegenContext& ctx);
absl::Status EmitPackedShiftedConv(const std::string& key, const detail::ConvGeometry& g, CodegenContext& ctx,
                                   const ConvBuffers& io);
// Packed k-tiles for a node: PackingFor(g).factor() for group 1, batch 1 and a constant W, else 1. With
// a factor > 1 the conv's W is not split by lower_conv.cc: PlanShiftedConv makes its own segments.
uint64_t ShiftedPackFactor(const Node& node, const detail::ConvGeometry& g, const CodegenContext& ctx);
// Applies when the k-tiles (packed or not) hold at least array_rows / 2 channels x offsets.
bool UseShiftedConv(const Node& node, const detail::ConvGeometry& g, const CodegenContext& ctx);
absl::Status PlanShiftedConv(const Node& node, const detail::ConvGeometry& g, CodegenContext& ctx);
absl::Status EmitShiftedConv(const Node& node, const detail::ConvGeometry& g, CodegenContext& ctx,
                             const ConvBuffers& io);
// Depthwise Conv on the vector unit (lower_conv_depthwise.cc): whether it applies (batch 1, group = C
// = Cout > 1, prod(stride) <= 4, the UB holds the kernel's weight rows), its scratch and its code;
// io.w_parts is unused, W is read as fp32 from w_f32.
bool UseDepthwiseVector(const detail::ConvGeometry& g, const CodegenContext& ctx);
void PlanDepthwiseVector(const Node& node, const detail::ConvGeometry& g, CodegenContext& ctx);
absl::Status EmitDepthwiseVector(const Node& node, const detail::ConvGeometry& g, CodegenContext& ctx,
                                 const ConvBuffers& io, uint64_t w_f32);
}  // namespace tpusim::compiler::codegen
