// The flat-position geometry shared by the shifted-GEMM conv (lower_conv_shifted.cc) and the
// depthwise vector conv (lower_conv_depthwise.cc): lower_conv.h, FlatConvImage.
#include <vector>

#include "codegen_copy.h"
#include "codegen_gemm.h"
#include "codegen_stream_deep.h"
#include "lower_conv.h"
#include "lowering.h"

namespace tpusim::compiler::codegen {
namespace {

uint64_t Prod(const std::vector<int64_t>& v) {
  uint64_t p = 1;
  for (int64_t d : v) p *= static_cast<uint64_t>(d);
  return p;
}

}  // namespace

FlatConvImage FlatConvImageOf(const detail::ConvGeometry& g) {
  FlatConvImage s;
  std::vector<int64_t> padded;
  for (int64_t d = 0; d < g.spatial_rank(); ++d) {
    padded.push_back(g.in[d] + g.pad_begin[d] + g.pad_end[d]);
    s.has_pad = s.has_pad || g.pad_begin[d] != 0 || g.pad_end[d] != 0;
  }
  s.ps = RowMajorStrides(padded);
  s.padded_size = Prod(padded);
  uint64_t last = 0;
  for (size_t d = 0; d < s.ps.size(); ++d) last += static_cast<uint64_t>((g.out[d] - 1) * g.stride[d]) * s.ps[d];
  s.m_full = last + 1;
  s.slab = static_cast<uint64_t>(g.out[0] * g.stride[0]) * s.ps[0];
  return s;
}

std::vector<uint64_t> KernelShifts(const detail::ConvGeometry& g, const FlatConvImage& s) {
  std::vector<uint64_t> shifts;
  std::vector<int64_t> kk(g.kernel.size(), 0);
  for (uint64_t i = 0; i < Prod(g.kernel); ++i) {
    uint64_t shift = 0;
    for (size_t d = 0; d < kk.size(); ++d) shift += static_cast<uint64_t>(kk[d] * g.dilation[d]) * s.ps[d];
    shifts.push_back(shift);
    for (size_t d = kk.size(); d-- > 0;) {
      if (++kk[d] < g.kernel[d]) break;
      kk[d] = 0;
    }
  }
  return shifts;
}

void EmitPaddedInput(CodegenContext& ctx, const detail::ConvGeometry& g, const FlatConvImage& s,
                     uint64_t channels, uint64_t x, uint64_t padded) {
  EmitFill(ctx, padded, channels * s.padded_size, 0.0f);
  const std::vector<uint64_t> in_strides = RowMajorStrides(g.in);
  std::vector<CopyDim> dims = {{channels, static_cast<int64_t>(Prod(g.in)), s.padded_size}};
  uint64_t interior = 0;
  for (size_t d = 0; d < s.ps.size(); ++d) {
    dims.push_back({static_cast<uint64_t>(g.in[d]), static_cast<int64_t>(in_strides[d]), s.ps[d]});
    interior += static_cast<uint64_t>(g.pad_begin[d]) * s.ps[d];
  }
  EmitDeepCopy(ctx, x, padded + interior * kF32Bytes, dims);
}

void EmitPickOutputs(CodegenContext& ctx, const detail::ConvGeometry& g, const FlatConvImage& s,
                     uint64_t channels, uint64_t full, uint64_t y) {
  const std::vector<uint64_t> out_strides = RowMajorStrides(g.out);
  std::vector<CopyDim> dims = {{channels, static_cast<int64_t>(s.slab), Prod(g.out)}};
  for (size_t d = 0; d < s.ps.size(); ++d) {
    dims.push_back({static_cast<uint64_t>(g.out[d]), static_cast<int64_t>(static_cast<uint64_t>(g.stride[d]) * s.ps[d]),
                    out_strides[d]});
  }
  EmitDeepCopy(ctx, full, y, dims);
}

void EmitFlatConvGemmAndPick(CodegenContext& ctx, GemmOperands& op, const ConvBuffers& io,
                             const detail::ConvGeometry& g, const FlatConvImage& s, uint64_t cout, uint64_t full) {
  op.a = op.k_tiles.front().a;
  op.b_parts = op.k_tiles.front().b_parts;
  GemmEpilogue e;
  e.func = io.residual.has_value() ? isa::ActFunc::None : io.func;
  if (io.bias.has_value()) e.bias = DramView{*io.bias, 0, 1};
  EmitGemm(ctx, op, e);
  if (io.residual.has_value()) {
    EmitPickOutputsResidual(ctx, g, s, cout, full, io.y, *io.residual, io.func);
  } else {
    EmitPickOutputs(ctx, g, s, cout, full, io.y);
  }
}

}  // namespace tpusim::compiler::codegen
