// Conv -> im2col + the tiled GEMM (codegen_gemm.h), for any spatial rank, strides, pads, dilations,
// auto_pad and group (depthwise included).
//
// Per group g the convolution is one GEMM  Y_g[m, co] = sum_k A_g[m, k] . B_g[k, co] + bias[co]  with
//   m  = (n, output position)            M_total = N * prod(out)
//   k  = (ci, kernel offset)             K = C/group * prod(kernel)
//   co = output channel within group g   Cout/group
// A is the im2col matrix, built in a scratch region of the frame laid out [C][kernel offset][N][out]
// (so each group's A is a contiguous slab, read with row stride 1 per m and lane stride N * prod(out)
// per k). It is filled by one strided copy (codegen_copy.h: the DMA's two strides plus loops) per
// kernel offset, covering every channel and batch index at once over the rectangle of output positions
// whose input lies inside X; the positions that read padding stay zero, written by a fill first (only
// when some do). A 1x1 kernel with unit strides, no padding and N = 1 skips im2col: A is X itself;
// with strides (1 or 2 spatial dims, overlapped schedule) the GEMM reads A from X one output row per
// LOAD instead (IsStridedDirect).
// B is W as it is stored ([Cout][C/group][kernel]: element (k, co) at co * K + k): a constant W is
// split into its bf16 parts at compile time, a W computed at run time by the vector unit (multi-pass
// precisions) or read as fp32 (bf16). The bias enters as the GEMM epilogue's bias row (ACTIVATE), so
// it costs no extra pass. The GEMM stores Y with lane stride prod(out), which is NCHW directly when
// N = 1; for N > 1 it goes to a [Cout][N][out] scratch and one strided copy reorders it, so the weights
// of every batch index share one GEMM (weight reuse across the batch).
//
// Two faster forms take over where they apply (lower_conv.h): depthwise convs with channel multiplier 1
// at batch 1 run on the vector unit (lower_conv_depthwise.cc, fp32 multiply-adds), and group-1 batch-1
// convs with a kernel larger than 1x1 and at least array_rows / 2 channels run as shifted GEMMs over
// the padded input without an im2col matrix (lower_conv_shifted.cc). Other depthwise convs use the
// grouped GEMM with one output column per group (one array column of each weight tile).
#include <algorithm>
#include <optional>
#include <string>
#include <utility>
#include <vector>

#include "absl/status/status.h"
#include "absl/strings/str_cat.h"
#include "codegen_copy.h"
#include "codegen_gemm.h"
#include "codegen_stream_deep.h"
#include "codegen_vector.h"
#include "lower_conv.h"
#include "lowering.h"
#include "tpusim/isa/status_macros.h"

namespace tpusim::compiler::codegen {
namespace {

bool HasInput(const Node& node, size_t i) { return node.inputs.size() > i && !node.inputs[i].empty(); }

std::string Im2colKey(const Node& node) { return absl::StrCat(node.name, "/im2col"); }
std::string GemmOutKey(const Node& node) { return absl::StrCat(node.name, "/gemm_out"); }
std::string WPartKey(const Node& node, int part) { return absl::StrCat(node.name, "/w_bf16_part", part); }

uint64_t Product(const std::vector<int64_t>& v) {
  uint64_t p = 1;
  for (int64_t d : v) p *= static_cast<uint64_t>(d);
  return p;
}

// True when A is X itself: a 1x1 kernel with unit strides, no padding and one batch index.
bool IsDirect(const detail::ConvGeometry& g) {
  if (g.batch != 1) return false;
  for (int64_t d = 0; d < g.spatial_rank(); ++d) {
    if (g.kernel[d] != 1 || g.stride[d] != 1 || g.pad_begin[d] != 0 || g.pad_end[d] != 0) return false;
  }
  return true;
}

// True when the overlapped schedule's GEMM reads a strided 1x1 conv's A straight from X (one run of
// output columns per output row, GemmOperands::a_keep): batch 1, one or two spatial dims, no padding,
// and not IsDirect. kSerial keeps im2col (its programs stay as they were).
bool IsStridedDirect(const detail::ConvGeometry& g, const CodegenContext& ctx) {
  if (!ctx.overlapped() || g.batch != 1 || IsDirect(g) || g.spatial_rank() < 1 || g.spatial_rank() > 2) return false;
  for (int64_t d = 0; d < g.spatial_rank(); ++d) {
    if (g.kernel[d] != 1 || g.pad_begin[d] != 0 || g.pad_end[d] != 0) return false;
  }
  return true;
}

absl::StatusOr<detail::ConvGeometry> Geometry(const Node& node, CodegenContext& ctx) {
  if (!HasInput(node, 0) || !HasInput(node, 1) || node.outputs.empty() || node.outputs[0].empty()) {
    return absl::InvalidArgumentError(absl::StrCat(NodeLabel(node), ": needs inputs X, W and output Y"));
  }
  for (const std::string& name : node.inputs) {
    if (!name.empty()) TPUSIM_RETURN_IF_ERROR(ctx.RequireFloat(node, name));
  }
  TPUSIM_RETURN_IF_ERROR(ctx.RequireFloat(node, node.outputs[0]));
  return detail::ResolveConv(node, ctx.ShapeOf(node.inputs[0]), ctx.ShapeOf(node.inputs[1]));
}

// Per spatial dim, the output positions [lo, lo + count) whose input index for kernel offset `kk`
// lies inside X (count 0: none).
struct ValidRange {
  int64_t lo = 0, count = 0;
};
ValidRange Valid(const detail::ConvGeometry& g, int64_t d, int64_t kk) {
  const int64_t shift = kk * g.dilation[d] - g.pad_begin[d];  // input index of output 0
  const int64_t s = g.stride[d];
  // smallest o with o * s + shift >= 0, largest o with o * s + shift <= in - 1
  const int64_t lo = shift >= 0 ? 0 : (-shift + s - 1) / s;
  const int64_t top = g.in[d] - 1 - shift;
  const int64_t hi = top < 0 ? -1 : std::min(g.out[d] - 1, top / s);
  return {lo, std::max<int64_t>(0, hi - lo + 1)};
}

// Writes the im2col matrix of X into `col` (layout in the file comment).
void EmitIm2col(CodegenContext& ctx, const detail::ConvGeometry& g, uint64_t x, uint64_t col) {
  const size_t k = static_cast<size_t>(g.spatial_rank());
  const uint64_t kk_count = Product(g.kernel), out_size = Product(g.out), in_size = Product(g.in);
  const uint64_t batch = static_cast<uint64_t>(g.batch), chans = static_cast<uint64_t>(g.in_channels);
  const std::vector<uint64_t> in_strides = RowMajorStrides(g.in), out_strides = RowMajorStrides(g.out);
  // Zero first if any kernel offset reads padding for some output position.
  bool padded = false;
  std::vector<int64_t> kk(k, 0);
  for (uint64_t i = 0; i < kk_count; ++i) {
    for (size_t d = 0; d < k; ++d) padded = padded || Valid(g, static_cast<int64_t>(d), kk[d]).count != g.out[d];
    for (size_t d = k; d-- > 0;) {
      if (++kk[d] < g.kernel[d]) break;
      kk[d] = 0;
    }
  }
  if (padded) EmitFill(ctx, col, chans * kk_count * batch * out_size, 0.0f);
  std::fill(kk.begin(), kk.end(), 0);
  // One copy per kernel offset, streamed together (codegen_stream_deep.h) where they can be.
  std::vector<std::pair<uint64_t, uint64_t>> ends;  // (source, destination) frame addresses
  std::vector<std::vector<CopyDim>> copies;
  for (uint64_t i = 0; i < kk_count; ++i) {
    std::vector<CopyDim> dims = {{chans, static_cast<int64_t>(in_size), kk_count * batch * out_size},
                                 {batch, static_cast<int64_t>(chans * in_size), out_size}};
    int64_t src = 0;
    uint64_t dst = i * batch * out_size;
    bool empty = false;
    for (size_t d = 0; d < k; ++d) {
      const ValidRange r = Valid(g, static_cast<int64_t>(d), kk[d]);
      empty = empty || r.count == 0;
      const int64_t first_in = r.lo * g.stride[d] + kk[d] * g.dilation[d] - g.pad_begin[d];
      src += first_in * static_cast<int64_t>(in_strides[d]);
      dst += static_cast<uint64_t>(r.lo) * out_strides[d];
      dims.push_back({static_cast<uint64_t>(r.count), g.stride[d] * static_cast<int64_t>(in_strides[d]),
                      out_strides[d]});
    }
    if (!empty) {
      ends.emplace_back(x + static_cast<uint64_t>(src) * kF32Bytes, col + dst * kF32Bytes);
      copies.push_back(std::move(dims));
    }
    for (size_t d = k; d-- > 0;) {
      if (++kk[d] < g.kernel[d]) break;
      kk[d] = 0;
    }
  }
  std::vector<DeepStream> streams(copies.size());
  for (size_t i = 0; i < copies.size(); ++i) {
    streams[i].in.resize(1);
    streams[i].in[0].addr = ends[i].first;
    streams[i].out.addr = ends[i].second;
    for (const CopyDim& d : copies[i]) {
      streams[i].sizes.push_back(d.size);
      streams[i].in[0].strides.push_back(d.src_stride);
      streams[i].out.strides.push_back(static_cast<int64_t>(d.dst_stride));
    }
  }
  if (EmitDeepStreams(ctx, streams)) return;
  for (size_t i = 0; i < copies.size(); ++i) EmitStridedCopy(ctx, ends[i].first, ends[i].second, copies[i]);
}

}  // namespace

void EmitFill(CodegenContext& ctx, uint64_t addr, uint64_t n, float value) {
  if (n == 0) return;
  const uint64_t L = ctx.lanes();
  const uint64_t full = n / L;
  UbAllocator ub = ctx.NewUb();
  const uint64_t chunk = std::max<uint64_t>(1, std::min({full, ub.free(), kMaxInstRows, uint64_t{4096}}));
  // Overlapped: the last UB rows, since the streams that follow take their slots from row 0 and so need
  // not wait for these STOREs to read the fill out.
  const uint64_t row = ctx.overlapped() ? ctx.ub_rows() - chunk : ub.Take(chunk);
  ctx.Vector(isa::VectorOp::Fill, row, row, row, chunk, false, value);
  for (uint64_t r = 0; r < full; r += chunk) {
    ctx.Store(isa::DType::F32, DramView{addr + r * L * kF32Bytes, L, 1}, row, std::min(chunk, full - r), L);
  }
  if (n % L != 0) ctx.Store(isa::DType::F32, DramView{addr + full * L * kF32Bytes, L, 1}, row, 1, n % L);
}

absl::Status PlanConvNode(const Node& node, CodegenContext& ctx) {
  TPUSIM_ASSIGN_OR_RETURN(detail::ConvGeometry g, Geometry(node, ctx));
  TPUSIM_RETURN_IF_ERROR(CheckUbHoldsGemm(node, ctx));
  TPUSIM_RETURN_IF_ERROR(ctx.F32Region(node.inputs[0]).status());
  if (HasInput(node, 2)) TPUSIM_RETURN_IF_ERROR(ctx.F32Region(node.inputs[2]).status());
  if (const FusedEpilogue* fused = ctx.FusionOf(node.name); fused != nullptr && !fused->residual.empty()) {
    TPUSIM_RETURN_IF_ERROR(ctx.F32Region(fused->residual).status());
  }
  const std::string& w = node.inputs[1];
  if (UseDepthwiseVector(g, ctx)) {
    TPUSIM_RETURN_IF_ERROR(ctx.F32Region(w).status());
    PlanDepthwiseVector(node, g, ctx);
    return absl::OkStatus();
  }
  if (UseShiftedConv(node, g, ctx) && ShiftedPackFactor(node, g, ctx) > 1) return PlanShiftedConv(node, g, ctx);
  const int parts = NumBf16Parts(ctx.precision());
  if (ctx.ValueOf(w).constant.has_value()) {
    for (int p = 0; p < parts; ++p) TPUSIM_RETURN_IF_ERROR(ctx.ConstantBf16Part(w, p, parts).status());
  } else {
    TPUSIM_RETURN_IF_ERROR(ctx.F32Region(w).status());
    const uint64_t n = static_cast<uint64_t>(NumElements(ctx.ShapeOf(w)));
    for (int p = 0; parts > 1 && p < parts; ++p) ctx.AllocateScratch(WPartKey(node, p), n * kBf16Bytes);
  }
  if (UseShiftedConv(node, g, ctx)) return PlanShiftedConv(node, g, ctx);
  const uint64_t m_total = static_cast<uint64_t>(g.batch) * Product(g.out);
  if (!IsDirect(g) && !IsStridedDirect(g, ctx)) {
    ctx.AllocateScratch(Im2colKey(node),
                        static_cast<uint64_t>(g.in_channels) * Product(g.kernel) * m_total * kF32Bytes);
  }
  if (g.batch > 1) ctx.AllocateScratch(GemmOutKey(node), static_cast<uint64_t>(g.out_channels) * m_total * kF32Bytes);
  return absl::OkStatus();
}

absl::Status EmitConvNode(const Node& node, CodegenContext& ctx) {
  TPUSIM_ASSIGN_OR_RETURN(detail::ConvGeometry g, Geometry(node, ctx));
  const uint64_t out_size = Product(g.out), batch = static_cast<uint64_t>(g.batch);
  const uint64_t m_total = batch * out_size;
  if (m_total == 0 || g.out_channels == 0) return absl::OkStatus();
  const uint64_t kk_count = Product(g.kernel);
  const uint64_t cg = static_cast<uint64_t>(g.in_per_group()), mg = static_cast<uint64_t>(g.out_per_group());
  const uint64_t K = cg * kk_count;
  if (K == 0) return absl::UnimplementedError(absl::StrCat(NodeLabel(node), ": empty reduction (no input channels)"));

  TPUSIM_ASSIGN_OR_RETURN(uint64_t x, ctx.F32Region(node.inputs[0]));
  // A fused activation (lower_fused.cc) writes the activation's output instead of this node's.
  const FusedEpilogue* fused = ctx.FusionOf(node.name);
  const isa::ActFunc func = fused != nullptr ? fused->func : isa::ActFunc::None;
  TPUSIM_ASSIGN_OR_RETURN(uint64_t y, ctx.F32Region(fused != nullptr ? fused->output : node.outputs[0]));
  // A fused residual Add (lower_fused.cc): y = func(conv + bias + residual).
  std::optional<uint64_t> residual;
  if (fused != nullptr && !fused->residual.empty()) {
    TPUSIM_ASSIGN_OR_RETURN(residual, ctx.F32Region(fused->residual));
  }
  const std::string& w = node.inputs[1];
  std::optional<uint64_t> bias;
  if (HasInput(node, 2)) {
    TPUSIM_ASSIGN_OR_RETURN(bias, ctx.F32Region(node.inputs[2]));
  }
  if (UseDepthwiseVector(g, ctx)) {
    TPUSIM_ASSIGN_OR_RETURN(uint64_t w_f32, ctx.F32Region(w));
    const isa::ActFunc first = residual.has_value() ? isa::ActFunc::None : func;
    const ConvBuffers io{x, y, {}, isa::DType::F32, bias, first, std::nullopt};
    TPUSIM_RETURN_IF_ERROR(EmitDepthwiseVector(node, g, ctx, io, w_f32));
    const uint64_t n = static_cast<uint64_t>(g.out_channels) * m_total;
    if (residual.has_value()) EmitResidualPass(ctx, y, *residual, n, func);
    return absl::OkStatus();
  }
  if (UseShiftedConv(node, g, ctx) && ShiftedPackFactor(node, g, ctx) > 1) {  // W: its own packed segments
    return EmitShiftedConv(node, g, ctx, ConvBuffers{x, y, {}, isa::DType::BF16, bias, func, residual});
  }
  // W's parts (bf16, or one fp32 tensor in bf16 precision when W is computed at run time).
  const int parts = NumBf16Parts(ctx.precision());
  std::vector<uint64_t> w_parts;
  isa::DType w_dtype = isa::DType::BF16;
  if (ctx.ValueOf(w).constant.has_value()) {
    for (int p = 0; p < parts; ++p) {
      TPUSIM_ASSIGN_OR_RETURN(uint64_t addr, ctx.ConstantBf16Part(w, p, parts));
      w_parts.push_back(addr);
    }
  } else if (parts == 1) {
    TPUSIM_ASSIGN_OR_RETURN(uint64_t addr, ctx.F32Region(w));
    w_parts.push_back(addr);
    w_dtype = isa::DType::F32;
  } else {
    for (int p = 0; p < parts; ++p) {
      TPUSIM_ASSIGN_OR_RETURN(uint64_t addr, ctx.Scratch(WPartKey(node, p)));
      w_parts.push_back(addr);
    }
    TPUSIM_ASSIGN_OR_RETURN(uint64_t src, ctx.F32Region(w));
    EmitSplitToBf16Parts(ctx, src, w_parts, static_cast<uint64_t>(NumElements(ctx.ShapeOf(w))));
  }
  const uint64_t w_bytes = w_dtype == isa::DType::BF16 ? kBf16Bytes : kF32Bytes;
  if (UseShiftedConv(node, g, ctx)) {
    return EmitShiftedConv(node, g, ctx, ConvBuffers{x, y, w_parts, w_dtype, bias, func, residual});
  }
  // The GEMM's epilogue adds the residual when Y is the GEMM's own output (batch 1, one group).
  const bool residual_in_gemm = residual.has_value() && batch == 1 && g.group == 1;

  const bool direct = IsDirect(g), strided_direct = IsStridedDirect(g, ctx);
  uint64_t a_base = x, a_lane_stride = out_size;  // direct: A(m, c) = X[c][m]
  // Strided direct: A(m = oh * out_w + ow, c) = X[c][oh * stride_h * in_w + ow * stride_w].
  uint64_t a_row_stride = 1, a_period = 0, a_keep = 0;
  if (strided_direct) {
    a_lane_stride = Product(g.in);
    a_row_stride = static_cast<uint64_t>(g.stride.back());
    if (g.spatial_rank() == 2) {
      a_keep = static_cast<uint64_t>(g.out[1]);
      a_period = static_cast<uint64_t>(g.stride[0] * g.in[1]);
    }
  } else if (!direct) {
    TPUSIM_ASSIGN_OR_RETURN(a_base, ctx.Scratch(Im2colKey(node)));
    EmitIm2col(ctx, g, x, a_base);
    a_lane_stride = m_total;
  }
  uint64_t y_base = y;
  if (batch > 1) {
    TPUSIM_ASSIGN_OR_RETURN(y_base, ctx.Scratch(GemmOutKey(node)));
  }

  for (uint64_t grp = 0; grp < static_cast<uint64_t>(g.group); ++grp) {
    GemmOperands op;
    op.m = m_total;
    op.n = mg;
    op.k = K;
    op.a = DramView{a_base + grp * K * a_lane_stride * kF32Bytes, a_row_stride, a_lane_stride};
    op.a_period = a_period;
    op.a_keep = a_keep;
    for (uint64_t base : w_parts) op.b_parts.push_back(DramView{base + grp * mg * K * w_bytes, 1, K});
    op.b_dtype = w_dtype;
    op.y = DramView{y_base + grp * mg * m_total * kF32Bytes, 1, m_total};
    GemmEpilogue e;
    e.func = residual.has_value() && !residual_in_gemm ? isa::ActFunc::None : func;
    if (bias.has_value()) e.bias = DramView{*bias + grp * mg * kF32Bytes, 0, 1};
    if (residual_in_gemm) {
      e.c = DramView{*residual, 1, m_total};
      e.c_then_func = true;
    }
    EmitGemm(ctx, op, e);
  }
  if (batch > 1) {  // [Cout][N][out] -> [N][Cout][out]
    const uint64_t cout = static_cast<uint64_t>(g.out_channels);
    EmitDeepCopy(ctx, y_base, y,
                    {{batch, static_cast<int64_t>(out_size), cout * out_size},
                     {cout, static_cast<int64_t>(m_total), out_size},
                     {out_size, 1, 1}});
  }
  if (residual.has_value() && !residual_in_gemm) {
    EmitResidualPass(ctx, y, *residual, static_cast<uint64_t>(g.out_channels) * m_total, func);
  }
  return absl::OkStatus();
}

}  // namespace tpusim::compiler::codegen
