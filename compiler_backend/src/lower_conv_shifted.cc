// Conv as shifted GEMMs over the zero-padded input ("implicit GEMM"), for group 1 and batch 1 when
// the channels fill at least half the array's rows (lower_conv.h: UseShiftedConv).
//
// Xp is X zero-padded to P = in + pad_begin + pad_end per spatial dim ([C][P...], flat index q, row-major
// strides PS), or X itself when nothing is padded. Every output o reads, for kernel offset kk and
// channel c, Xp[c][p(o) + shift(kk)] with
//   p(o) = sum_d o_d * stride_d * PS_d,   shift(kk) = sum_d kk_d * dilation_d * PS_d.
// So the GEMM runs over every flat position m in [0, M'), M' = p(last output) + 1, with
//   A_kk(m, c) = Xp[c * |Xp| + m + shift(kk)]   (row stride 1, lane stride |Xp|: a plain 2-D view)
//   B_kk(c, co) = W[co][c][kk]                   (row stride KK, lane stride C * KK)
// one k-tile per kernel offset and block of array_rows channels (GemmOperands::k_tiles), accumulated
// in the array: no im2col matrix is written, each A k-tile is one LOAD. The positions that are no
// output (the padded margins, the rows and columns a stride skips) are computed and dropped: the price
// is M' / prod(out) times the MATMUL rows (about prod(stride) plus the margins), paid in array cycles,
// which cost far less here than the DMAs im2col needs (one per kernel offset and image row).
// Every read stays inside Xp: p(last output) + shift(last offset) is the last element of Xp's channel
// that the last output reads. Y' holds the GEMM's output [Cout][Mslab], Mslab = out_0 * stride_0 * PS_0
// (> M'), so that Cout and the outermost spatial dim merge into one DMA dimension when one strided copy
// picks the outputs: Y[co][o] = Y'[co][p(o)].
//
// With a constant W and C <= array_rows / 2 the packed form takes over (lower_conv_packed.cc).
#include <algorithm>
#include <string>
#include <vector>

#include "absl/strings/str_cat.h"
#include "codegen_copy.h"
#include "codegen_gemm.h"
#include "lower_conv.h"
#include "lowering.h"
#include "tpusim/isa/status_macros.h"

namespace tpusim::compiler::codegen {
namespace {

std::string PaddedKey(const Node& node) { return absl::StrCat(node.name, "/padded_x"); }
std::string FullOutKey(const Node& node) { return absl::StrCat(node.name, "/shifted_out"); }

uint64_t Prod(const std::vector<int64_t>& v) {
  uint64_t p = 1;
  for (int64_t d : v) p *= static_cast<uint64_t>(d);
  return p;
}

}  // namespace

uint64_t ShiftedPackFactor(const Node& node, const detail::ConvGeometry& g, const CodegenContext& ctx) {
  const uint64_t C = static_cast<uint64_t>(g.in_channels);
  if (g.group != 1 || g.batch != 1 || C == 0 || g.spatial_rank() == 0 || node.inputs.size() < 2 ||
      !ctx.ValueOf(node.inputs[1]).constant.has_value()) {
    return 1;
  }
  return PackingFor(g, ctx.array_rows()).factor();
}

bool UseShiftedConv(const Node& node, const detail::ConvGeometry& g, const CodegenContext& ctx) {
  if (g.group != 1 || g.batch != 1) return false;
  // The k-tiles must fill at least half the array's rows (packed: F * C rows).
  const uint64_t rows = ShiftedPackFactor(node, g, ctx) * static_cast<uint64_t>(g.in_channels);
  if (2 * rows < ctx.array_rows()) return false;
  bool one_by_one = true;
  int64_t stride_product = 1;
  for (int64_t d = 0; d < g.spatial_rank(); ++d) {
    one_by_one = one_by_one && g.kernel[d] == 1;
    stride_product *= g.stride[d];
  }
  // A 1x1 kernel reads X directly (unit stride) or needs one copy per image row at most (strided):
  // cheaper than computing the skipped positions. Fewer than array_rows / 2 channels (packed k-tiles
  // only): unit strides, since each packed copy of the input and every MATMUL row would be paid again
  // for every skipped position (a 7x7/2 stem with 3 channels: 42 copies, 4x the rows; im2col is cheaper).
  if (2 * static_cast<uint64_t>(g.in_channels) < ctx.array_rows() && stride_product != 1) return false;
  return !one_by_one && stride_product <= 4;
}

absl::Status PlanShiftedConv(const Node& node, const detail::ConvGeometry& g, CodegenContext& ctx) {
  if (ShiftedPackFactor(node, g, ctx) > 1) {
    const Tensor& w = *ctx.ValueOf(node.inputs[1]).constant;
    if (w.dtype() != DataType::kFloat32) {
      return absl::UnimplementedError(absl::StrCat(NodeLabel(node), ": W is not float32"));
    }
    return PlanPackedShiftedConv(node.name, g, w.as<float>(), ctx);
  }
  const FlatConvImage s = FlatConvImageOf(g);
  if (s.has_pad) ctx.AllocateScratch(PaddedKey(node), static_cast<uint64_t>(g.in_channels) * s.padded_size * kF32Bytes);
  ctx.AllocateScratch(FullOutKey(node), static_cast<uint64_t>(g.out_channels) * s.slab * kF32Bytes);
  return absl::OkStatus();
}

absl::Status EmitShiftedConv(const Node& node, const detail::ConvGeometry& g, CodegenContext& ctx,
                             const ConvBuffers& io) {
  const FlatConvImage s = FlatConvImageOf(g);
  const uint64_t C = static_cast<uint64_t>(g.in_channels), cout = static_cast<uint64_t>(g.out_channels);
  const uint64_t kk_count = Prod(g.kernel), K = C * kk_count, R = ctx.array_rows();
  const uint64_t w_bytes = io.w_dtype == isa::DType::BF16 ? kBf16Bytes : kF32Bytes;
  if (ShiftedPackFactor(node, g, ctx) > 1) return EmitPackedShiftedConv(node.name, g, ctx, io);
  uint64_t xp = io.x;
  if (s.has_pad) {
    TPUSIM_ASSIGN_OR_RETURN(xp, ctx.Scratch(PaddedKey(node)));
    EmitPaddedInput(ctx, g, s, C, io.x, xp);
  }
  TPUSIM_ASSIGN_OR_RETURN(uint64_t full, ctx.Scratch(FullOutKey(node)));

  GemmOperands op;
  op.m = s.m_full;
  op.n = cout;
  op.k = K;
  op.b_dtype = io.w_dtype;
  op.y = DramView{full, 1, s.slab};
  const std::vector<uint64_t> shifts = KernelShifts(g, s);
  for (uint64_t i = 0; i < kk_count; ++i) {
    const uint64_t shift = shifts[i];
    for (uint64_t c0 = 0; c0 < C; c0 += R) {
      GemmOperands::KTile t;
      t.rows = std::min(R, C - c0);
      t.a = DramView{xp + (c0 * s.padded_size + shift) * kF32Bytes, 1, s.padded_size};
      for (uint64_t base : io.w_parts) t.b_parts.push_back(DramView{base + (c0 * kk_count + i) * w_bytes, kk_count, K});
      op.k_tiles.push_back(std::move(t));
    }
  }
  EmitFlatConvGemmAndPick(ctx, op, io, g, s, cout, full);
  return absl::OkStatus();
}

}  // namespace tpusim::compiler::codegen
