// Depthwise Conv (group = C = Cout, batch 1) on the vector unit (lower_conv.h: UseDepthwiseVector).
//
// Same flat-position geometry as the shifted GEMMs (lower_conv_shifted.cc): Xp is X zero-padded (or X
// itself), output position m in [0, M') reads Xp[c][m + shift(kk)] for kernel offset kk, and one
// strided copy picks the real outputs from Y' [C][Mslab] at the end. Per block of up to Lw channels
// (UB lanes) and chunk of positions (UB rows), with a weight row per kernel offset in the UB
// (W[c][kk] over the lanes c):
//   acc  = Xp_0 * w_0                   (one transposing LOAD: rows = positions, lanes = channels)
//   acc += Xp_kk * w_kk                 for kk = 1 .. KK-1, in row-major kernel order
//   acc += bias;  acc = func(acc)       (the fused activation, as the vector op the unfused node runs)
// fp32 multiplies and adds (two roundings per term), so every precision gets the fp32 result: the
// grouped GEMM fills one array column per channel and needs one LOAD per kernel offset and image row
// for im2col, this needs one LOAD per kernel offset and chunk. The window buffers alternate, so the
// next offset's LOAD overlaps this offset's vector work.
#include <algorithm>
#include <string>
#include <vector>

#include "absl/strings/str_cat.h"
#include "codegen_copy.h"
#include "lower_conv.h"
#include "lowering.h"
#include "tpusim/isa/status_macros.h"

namespace tpusim::compiler::codegen {
namespace {

std::string PaddedKey(const Node& node) { return absl::StrCat(node.name, "/dw_padded_x"); }
std::string FullOutKey(const Node& node) { return absl::StrCat(node.name, "/dw_out"); }

uint64_t Prod(const std::vector<int64_t>& v) {
  uint64_t p = 1;
  for (int64_t d : v) p *= static_cast<uint64_t>(d);
  return p;
}

isa::VectorOp VectorOf(isa::ActFunc f) {
  switch (f) {
    case isa::ActFunc::Sigmoid: return isa::VectorOp::Sigmoid;
    case isa::ActFunc::Tanh: return isa::VectorOp::Tanh;
    default: return isa::VectorOp::Relu;
  }
}

}  // namespace

bool UseDepthwiseVector(const detail::ConvGeometry& g, const CodegenContext& ctx) {
  if (g.batch != 1 || g.group <= 1 || g.group != g.in_channels || g.out_channels != g.in_channels) return false;
  int64_t stride_product = 1;
  for (int64_t d = 0; d < g.spatial_rank(); ++d) stride_product *= g.stride[d];
  // UB: the weight rows, a bias row and three buffers of at least one row for each of two slots.
  return stride_product <= 4 && ctx.ub_rows() >= Prod(g.kernel) + 1 + 6;
}

void PlanDepthwiseVector(const Node& node, const detail::ConvGeometry& g, CodegenContext& ctx) {
  const FlatConvImage s = FlatConvImageOf(g);
  const uint64_t C = static_cast<uint64_t>(g.in_channels);
  if (s.has_pad) ctx.AllocateScratch(PaddedKey(node), C * s.padded_size * kF32Bytes);
  ctx.AllocateScratch(FullOutKey(node), C * s.slab * kF32Bytes);
}

absl::Status EmitDepthwiseVector(const Node& node, const detail::ConvGeometry& g, CodegenContext& ctx,
                                 const ConvBuffers& io, uint64_t w_f32) {
  const FlatConvImage s = FlatConvImageOf(g);
  const uint64_t C = static_cast<uint64_t>(g.in_channels), kk_count = Prod(g.kernel), L = ctx.lanes();
  uint64_t xp = io.x;
  if (s.has_pad) {
    TPUSIM_ASSIGN_OR_RETURN(xp, ctx.Scratch(PaddedKey(node)));
    EmitPaddedInput(ctx, g, s, C, io.x, xp);
  }
  TPUSIM_ASSIGN_OR_RETURN(uint64_t full, ctx.Scratch(FullOutKey(node)));
  const std::vector<uint64_t> shifts = KernelShifts(g, s);

  UbAllocator ub = ctx.NewUb();
  const uint64_t w_rows = ub.Take(kk_count), bias_row = ub.Take(1);
  const uint64_t chunk = std::max<uint64_t>(1, std::min({ub.free() / 6, kMaxInstRows, s.m_full}));
  uint64_t acc[2], win[2][2];
  for (uint64_t slot = 0; slot < 2; ++slot) {
    acc[slot] = ub.Take(chunk);
    win[slot][0] = ub.Take(chunk);
    win[slot][1] = ub.Take(chunk);
  }
  uint64_t& phase = ctx.stream_phase();
  for (uint64_t c0 = 0; c0 < C; c0 += L) {
    const uint64_t nc = std::min(L, C - c0);
    // UB row kk, lane c: W[c0 + c][kk].
    ctx.Load(isa::DType::F32, DramView{w_f32 + c0 * kk_count * kF32Bytes, 1, kk_count}, w_rows, kk_count, nc);
    if (io.bias.has_value()) ctx.Load(isa::DType::F32, DramView{*io.bias + c0 * kF32Bytes, 0, 1}, bias_row, 1, nc);
    for (uint64_t m0 = 0; m0 < s.m_full; m0 += chunk) {
      const uint64_t nr = std::min(chunk, s.m_full - m0), slot = phase++ % 2;
      for (uint64_t i = 0; i < kk_count; ++i) {
        const uint64_t w = win[slot][i % 2];
        ctx.Load(isa::DType::F32, DramView{xp + (c0 * s.padded_size + m0 + shifts[i]) * kF32Bytes, 1, s.padded_size},
                 w, nr, nc);
        if (i == 0) {
          ctx.Vector(isa::VectorOp::Mul, acc[slot], w, w_rows, nr, /*b_bcast=*/true);
        } else {
          ctx.Vector(isa::VectorOp::Mul, w, w, w_rows + i, nr, /*b_bcast=*/true);
          ctx.Vector(isa::VectorOp::Add, acc[slot], acc[slot], w, nr);
        }
      }
      if (io.bias.has_value()) ctx.Vector(isa::VectorOp::Add, acc[slot], acc[slot], bias_row, nr, /*b_bcast=*/true);
      if (io.func != isa::ActFunc::None) ctx.Vector(VectorOf(io.func), acc[slot], acc[slot], 0, nr);
      ctx.Store(isa::DType::F32, DramView{full + (c0 * s.slab + m0) * kF32Bytes, 1, s.slab}, acc[slot], nr, nc);
    }
  }
  EmitPickOutputs(ctx, g, s, C, full, io.y);
  return absl::OkStatus();
}

}  // namespace tpusim::compiler::codegen
