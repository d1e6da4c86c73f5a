// The flat-position geometry shared by the shifted-GEMM conv (lower_conv_shifted.cc) and the
// depthwise vector conv (lower_conv_depthwise.cc): lower_conv.h, FlatConvImage.
#include <algorithm>
#include <utility>
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

namespace {

// The flat element of Xp's channel that holds X's first element.
uint64_t InteriorOffset(const detail::ConvGeometry& g, const FlatConvImage& s) {
  uint64_t interior = 0;
  for (size_t d = 0; d < s.ps.size(); ++d) interior += static_cast<uint64_t>(g.pad_begin[d]) * s.ps[d];
  return interior;
}

// The copy of X ([channels][in...]) into the Xp positions it takes (element strides).
std::vector<CopyDim> InteriorDims(const detail::ConvGeometry& g, const FlatConvImage& s, uint64_t channels) {
  const std::vector<uint64_t> in_strides = RowMajorStrides(g.in);
  std::vector<CopyDim> dims = {{channels, static_cast<int64_t>(Prod(g.in)), s.padded_size}};
  for (size_t d = 0; d < s.ps.size(); ++d) {
    dims.push_back({static_cast<uint64_t>(g.in[d]), static_cast<int64_t>(in_strides[d]), s.ps[d]});
  }
  return dims;
}

// Copies X (at `x`) to the Xp positions it takes, with the region's first element at `padded` and X's
// first element at padded + first * 4 bytes.
void EmitInteriorCopy(CodegenContext& ctx, const detail::ConvGeometry& g, const FlatConvImage& s,
                      uint64_t channels, uint64_t x, uint64_t padded, uint64_t first) {
  EmitDeepCopy(ctx, x, padded + first * kF32Bytes, InteriorDims(g, s, channels));
}

// Zero rows at the top of the UB for EmitBorderZeros (overlapped, 2-D only): their first row and count.
std::pair<uint64_t, uint64_t> ZeroRows(CodegenContext& ctx) {
  const uint64_t z = std::max<uint64_t>(1, std::min(ctx.ub_rows() / 8, kMaxInstRows));
  const uint64_t row = ctx.ub_rows() - z;
  ctx.Vector(isa::VectorOp::Fill, row, row, row, z, false, 0.0f);
  return {row, z};
}

// Writes zeros over every element of a 2-D padded image (channels x padded_size) that X's copy does not
// write, shifted by -rel (element p goes to region + (p - rel) * 4; p < rel is dropped, and so is
// nothing else: every p < channels * padded_size lands inside the region), from the zero UB rows.
// Runs (p is Xp's flat index; PW, PH the padded extents, PS = PH * PW):
//   head      [rel, interior)                         the top rows and the first row's left pad;
//   sides     after each row j of [pt, (C - 1) * PH + pt + H - 1): [j * PW + pl + W, (j + 1) * PW + pl),
//             a row's right pad and the next row's left pad (rows inside the pad rows too: zeros anyway);
//   between   channel c < C - 1's bottom rows and channel c + 1's top rows, (pb + pt) * PW elements;
//   tail      after the last interior row's data to the end of the image.
// Bytes: the borders only, where EmitFill writes the whole image.
void EmitBorderZeros(CodegenContext& ctx, const detail::ConvGeometry& g, const FlatConvImage& s, uint64_t channels,
                     uint64_t region, uint64_t rel, std::pair<uint64_t, uint64_t> zeros) {
  const uint64_t L = ctx.lanes(), PW = s.ps[0], PH = s.padded_size / PW, PS = s.padded_size;
  const uint64_t H = static_cast<uint64_t>(g.in[0]), W = static_cast<uint64_t>(g.in[1]);
  const uint64_t pt = static_cast<uint64_t>(g.pad_begin[0]), pl = static_cast<uint64_t>(g.pad_begin[1]);
  const uint64_t interior = pt * PW + pl;
  // `count` runs of `len` elements, the first at p = first, the others `stride` apart.
  auto runs = [&](uint64_t first, uint64_t count, uint64_t stride, uint64_t len) {
    for (uint64_t l0 = 0; l0 < len; l0 += L) {
      for (uint64_t i0 = 0; i0 < count; i0 += zeros.second) {
        const uint64_t n = std::min(zeros.second, count - i0), nl = std::min(L, len - l0);
        ctx.Store(isa::DType::F32, DramView{region + (first + i0 * stride + l0 - rel) * kF32Bytes, stride, 1},
                  zeros.first, n, nl);
      }
    }
  };
  if (interior > rel) runs(rel, 1, 0, interior - rel);
  const uint64_t side = PW - W;  // pl + pr
  const uint64_t side_rows = (channels - 1) * PH + H - 1;
  if (side > 0 && side_rows > 0) runs(pt * PW + pl + W, side_rows, PW, side);
  if (PH > H && channels > 1) runs((pt + H) * PW, channels - 1, PS, (PH - H) * PW);
  const uint64_t last = ((channels - 1) * PH + pt + H - 1) * PW + pl + W;
  if (channels * PS > last) runs(last, 1, 0, channels * PS - last);
}

}  // namespace

void EmitPaddedInput(CodegenContext& ctx, const detail::ConvGeometry& g, const FlatConvImage& s,
                     uint64_t channels, uint64_t x, uint64_t padded) {
  if (ctx.overlapped() && g.spatial_rank() == 2 && channels > 0) {
    EmitBorderZeros(ctx, g, s, channels, padded, 0, ZeroRows(ctx));
  } else {
    EmitFill(ctx, padded, channels * s.padded_size, 0.0f);
  }
  EmitInteriorCopy(ctx, g, s, channels, x, padded, InteriorOffset(g, s));
}

bool EmitShiftedPaddedCopies(CodegenContext& ctx, const detail::ConvGeometry& g, const FlatConvImage& s,
                             uint64_t channels, uint64_t x, uint64_t region, const std::vector<uint64_t>& rels) {
  const uint64_t interior = InteriorOffset(g, s), block = channels * s.padded_size;
  for (uint64_t rel : rels) {
    if (rel > interior) return false;
  }
  if (ctx.overlapped() && g.spatial_rank() == 2 && channels > 0) {
    const std::pair<uint64_t, uint64_t> zeros = ZeroRows(ctx);
    for (size_t b = 0; b < rels.size(); ++b) {
      EmitBorderZeros(ctx, g, s, channels, region + b * block * kF32Bytes, rels[b], zeros);
    }
  } else {
    EmitFill(ctx, region, rels.size() * block, 0.0f);
  }
  // One deep stream over every copy: its chunks span the copies, so the next copy's LOADs of X go out
  // ahead of this one's STOREs instead of queueing behind them.
  std::vector<DeepStream> streams(rels.size());
  const std::vector<CopyDim> dims = InteriorDims(g, s, channels);
  for (size_t b = 0; b < rels.size(); ++b) {
    streams[b].in.resize(1);
    streams[b].in[0].addr = x;
    streams[b].out.addr = region + (b * block + interior - rels[b]) * kF32Bytes;
    for (const CopyDim& d : dims) {
      streams[b].sizes.push_back(d.size);
      streams[b].in[0].strides.push_back(d.src_stride);
      streams[b].out.strides.push_back(static_cast<int64_t>(d.dst_stride));
    }
  }
  if (rels.size() > 1 && EmitDeepStreams(ctx, streams)) return true;
  for (size_t b = 0; b < rels.size(); ++b) {
    EmitInteriorCopy(ctx, g, s, channels, x, region + b * block * kF32Bytes, interior - rels[b]);
  }
  return true;
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
  // Overlapped, 2-D, unit strides, no residual: the GEMM stores its real outputs straight into Y (row
  // m = oh * PW + ow kept when ow < out_w), so no pick pass (a DRAM round trip and a store -> load
  // chain) follows it.
  const bool direct = ctx.overlapped() && !io.residual.has_value() && g.spatial_rank() == 2 && g.batch == 1 &&
                      g.stride[0] == 1 && g.stride[1] == 1;
  if (direct) {
    op.y = DramView{io.y, 1, static_cast<uint64_t>(g.out[0] * g.out[1])};
    op.y_period = s.ps[0];
    op.y_keep = static_cast<uint64_t>(g.out[1]);
  }
  EmitGemm(ctx, op, e);
  if (direct) return;
  if (io.residual.has_value()) {
    EmitPickOutputsResidual(ctx, g, s, cout, full, io.y, *io.residual, io.func);
  } else {
    EmitPickOutputs(ctx, g, s, cout, full, io.y);
  }
}

}  // namespace tpusim::compiler::codegen
