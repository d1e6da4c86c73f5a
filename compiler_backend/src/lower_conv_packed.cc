// Packed shifted-GEMM convolution (lower_conv.h: ConvPacking), the shifted GEMM of
// lower_conv_shifted.cc for convs whose channels fill less than the array: one k-tile covers a bh x bw
// box of kernel offsets (shifts differing by rel(i, j) = i * dilation_{k-2} * PS_{k-2} + j *
// dilation_{k-1}, i < bh, j < bw). The padded input Xp ([C][|Xp|]) is stored bh * bw times in one region,
// copy b = i * bw + j shifted by rel(i, j) elements:
//   Xs[b * C + c][q] = Xp[c][q + rel(i, j)]      (copy 0 is Xp itself; the others one flat copy each)
// so the k-tile's lanes r = b * C + c are again one stride (|Xp|) and its A is one LOAD, as in the
// unpacked form. A copy leaves out its last rel(i, j) elements: no output reads them (every read of
// the unpacked form stays inside Xp's channel, and Xs[b * C + c][q] is read exactly where the unpacked
// form reads Xp[c][q + rel]). The B rows are a compile-time rearrangement of W, W'[r][co] = W[co][c][kk0 +
// i * K_{k-1} + j] (own bf16 segments, split like every constant). A box at the kernel's edge holds fewer
// offsets; its lanes stay a prefix because bh > 1 only when bw covers a whole kernel row.
//
// Rounding: the same bf16 products as the unpacked and im2col forms, summed in fp32 in another grouping
// (a k-tile sums up to bh * bw * C of them in the array), so results differ from them by fp32
// summation order only.
#include <algorithm>
#include <string>
#include <vector>

#include "absl/strings/str_cat.h"
#include "codegen_gemm.h"
#include "codegen_stream_deep.h"
#include "codegen_vector.h"
#include "lower_conv.h"
#include "lowering.h"
#include "tpusim/isa/status_macros.h"

namespace tpusim::compiler::codegen {
namespace {

std::string PaddedKey(const std::string& key) { return absl::StrCat(key, "/packed_x"); }
std::string FullOutKey(const std::string& key) { return absl::StrCat(key, "/packed_out"); }
std::string WeightKey(const std::string& key, int part) { return absl::StrCat(key, "/packed_w_part", part); }

uint64_t Prod(const std::vector<int64_t>& v) {
  uint64_t p = 1;
  for (int64_t d : v) p *= static_cast<uint64_t>(d);
  return p;
}

// One k-tile: the row-major kernel index of its first offset and the box it covers (ch rows of the
// second-to-last dim, cw offsets of the last).
struct Box {
  uint64_t kk0, ch, cw;
};
std::vector<Box> Boxes(const detail::ConvGeometry& g, const ConvPacking& pk) {
  const size_t k = g.kernel.size();
  const uint64_t kl = static_cast<uint64_t>(g.kernel[k - 1]);
  const uint64_t kh = pk.bh > 1 ? static_cast<uint64_t>(g.kernel[k - 2]) : 1;
  const uint64_t outer = Prod(g.kernel) / (kl * kh);
  std::vector<Box> boxes;
  for (uint64_t o = 0; o < outer; ++o) {
    for (uint64_t h0 = 0; h0 < kh; h0 += pk.bh) {
      for (uint64_t w0 = 0; w0 < kl; w0 += pk.bw) {
        boxes.push_back({(o * kh + h0) * kl + w0, std::min(pk.bh, kh - h0), std::min(pk.bw, kl - w0)});
      }
    }
  }
  return boxes;
}

// rel(i, j) in elements (file comment).
uint64_t Rel(const detail::ConvGeometry& g, const FlatConvImage& s, uint64_t i, uint64_t j) {
  const size_t k = g.kernel.size();
  uint64_t r = j * static_cast<uint64_t>(g.dilation[k - 1]) * s.ps[k - 1];
  if (i > 0) r += i * static_cast<uint64_t>(g.dilation[k - 2]) * s.ps[k - 2];
  return r;
}

}  // namespace

ConvPacking PackingFor(const detail::ConvGeometry& g, uint64_t array_rows) {
  ConvPacking pk;
  const uint64_t C = static_cast<uint64_t>(g.in_channels);
  const size_t k = g.kernel.size();
  if (C == 0 || k == 0 || C > array_rows) return pk;
  const uint64_t kl = static_cast<uint64_t>(g.kernel[k - 1]);
  pk.bw = std::max<uint64_t>(1, std::min(array_rows / C, kl));
  if (pk.bw == kl && k >= 2) {
    pk.bh = std::max<uint64_t>(1, std::min(array_rows / (C * kl), static_cast<uint64_t>(g.kernel[k - 2])));
  }
  return pk;
}

absl::Status PlanPackedShiftedConv(const std::string& key, const detail::ConvGeometry& g, const float* w,
                                   CodegenContext& ctx) {
  const ConvPacking pk = PackingFor(g, ctx.array_rows());
  const FlatConvImage s = FlatConvImageOf(g);
  const uint64_t C = static_cast<uint64_t>(g.in_channels), cout = static_cast<uint64_t>(g.out_channels);
  ctx.AllocateScratch(PaddedKey(key), pk.factor() * C * s.padded_size * kF32Bytes);
  ctx.AllocateScratch(FullOutKey(key), cout * s.slab * kF32Bytes);
  const uint64_t kk_count = Prod(g.kernel), kl = static_cast<uint64_t>(g.kernel.back());
  const int parts = NumBf16Parts(ctx.precision());
  std::vector<std::string> data(static_cast<size_t>(parts));
  for (const Box& box : Boxes(g, pk)) {
    for (uint64_t b = 0; b < (box.ch - 1) * pk.bw + box.cw; ++b) {
      const uint64_t kk = box.kk0 + (b / pk.bw) * kl + b % pk.bw;
      for (uint64_t c = 0; c < C; ++c) {
        for (uint64_t co = 0; co < cout; ++co) {
          uint16_t bits[kMaxBf16Parts];
          SplitBf16PartsInto(w[(co * C + c) * kk_count + kk], parts, bits);
          for (size_t p = 0; p < data.size(); ++p) {  // bf16 in DRAM: little-endian 16-bit patterns
            data[p].push_back(static_cast<char>(bits[p] & 0xFF));
            data[p].push_back(static_cast<char>(bits[p] >> 8));
          }
        }
      }
    }
  }
  for (int p = 0; p < parts; ++p) {
    isa::Segment seg;
    seg.set_name(WeightKey(key, p));
    seg.set_dram_offset(ctx.AllocateScratch(WeightKey(key, p), data[static_cast<size_t>(p)].size()));
    seg.set_data(std::move(data[static_cast<size_t>(p)]));
    ctx.segments().push_back(std::move(seg));
  }
  return absl::OkStatus();
}

absl::Status EmitPackedShiftedConv(const std::string& key, const detail::ConvGeometry& g, CodegenContext& ctx,
                                   const ConvBuffers& io) {
  const ConvPacking pk = PackingFor(g, ctx.array_rows());
  const FlatConvImage s = FlatConvImageOf(g);
  const uint64_t C = static_cast<uint64_t>(g.in_channels), cout = static_cast<uint64_t>(g.out_channels);
  TPUSIM_ASSIGN_OR_RETURN(uint64_t xs, ctx.Scratch(PaddedKey(key)));
  TPUSIM_ASSIGN_OR_RETURN(uint64_t full, ctx.Scratch(FullOutKey(key)));
  const uint64_t block = C * s.padded_size;
  std::vector<uint64_t> rels;
  for (uint64_t b = 0; b < pk.factor(); ++b) rels.push_back(Rel(g, s, b / pk.bw, b % pk.bw));
  // Every copy straight from X where the shifts allow (no store -> load round trip through copy 0
  // before the others); padded with a larger shift, copy 0 first and the others from it.
  if (!s.has_pad || !EmitShiftedPaddedCopies(ctx, g, s, C, io.x, xs, rels)) {
    if (s.has_pad) {
      EmitPaddedInput(ctx, g, s, C, io.x, xs);
    } else {
      EmitDeepFlatCopy(ctx, io.x, xs, block);
    }
    for (uint64_t b = 1; b < pk.factor(); ++b) {
      // Unpadded, copy 0 is X itself: read the others from X, not from copy 0's stores.
      const uint64_t from = s.has_pad ? xs : io.x;
      EmitDeepFlatCopy(ctx, from + rels[b] * kF32Bytes, xs + b * block * kF32Bytes, block - rels[b]);
    }
  }
  std::vector<uint64_t> w_parts;
  for (int p = 0; p < NumBf16Parts(ctx.precision()); ++p) {
    TPUSIM_ASSIGN_OR_RETURN(uint64_t addr, ctx.Scratch(WeightKey(key, p)));
    w_parts.push_back(addr);
  }
  GemmOperands op;
  op.m = s.m_full;
  op.n = cout;
  op.b_dtype = isa::DType::BF16;
  op.y = DramView{full, 1, s.slab};
  const std::vector<uint64_t> shifts = KernelShifts(g, s);
  uint64_t row0 = 0;
  for (const Box& box : Boxes(g, pk)) {
    GemmOperands::KTile t;
    t.rows = ((box.ch - 1) * pk.bw + box.cw) * C;
    t.a = DramView{xs + shifts[box.kk0] * kF32Bytes, 1, s.padded_size};
    for (uint64_t base : w_parts) t.b_parts.push_back(DramView{base + row0 * cout * kBf16Bytes, cout, 1});
    row0 += t.rows;
    op.k_tiles.push_back(std::move(t));
  }
  op.k = row0;
  EmitFlatConvGemmAndPick(ctx, op, io, g, s, cout, full);
  return absl::OkStatus();
}

}  // namespace tpusim::compiler::codegen
