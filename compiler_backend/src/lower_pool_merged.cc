// MaxPool with planes and output rows merged (lower_pool_merged.h), e.g. ResNet's 3x3/2 pool over
// 64 x 112 x 112, which the flat form (lower_pool.cc) pads with one copy per plane and picks its outputs
// with one more per plane.
//
// The image: every input row widened to W' = in_w + pad_left elements, the first pad_left of them -Inf
// (a row's right padding is the next row's left padding), planes back to back with no padding rows, so
// plane p's row r starts at (p * in_h + r) * W'. With in_h = out_h * stride_h, the first window row of
// output (p, oh) is at ((p * out_h + oh) * stride_h - pad_top) * W': linear in g = p * out_h + oh. So
// one LOAD per kernel offset covers a tile of rows g (stride stride_h * W') and lanes ow (stride
// stride_w), for every plane at once; the padding copy is one DMA per UB chunk as well (rows p * in_h +
// r, stride in_w -> W').
//
// Windows that reach above a plane (the first ceil(pad_top / stride_h) output rows) read the previous
// plane's last rows in that pass; a second, small pass recomputes those rows of every plane from the
// window rows inside the image only (the padding rows are -Inf, which max ignores). A guard of -Inf
// before the first plane and after the last keeps every read inside the scratch region (overlapped
// schedules write -Inf on the guards and the pad columns only, not over the whole image first). The maximum is
// folded in row-major kernel order from the same values as the other forms (padding = -Inf), so the
// results are the same bits.
#include "lower_pool_merged.h"

#include <algorithm>
#include <cmath>
#include <vector>

#include "codegen_copy.h"
#include "codegen_stream_deep.h"
#include "lower_conv.h"
#include "tpusim/isa/status_macros.h"

namespace tpusim::compiler::codegen {
namespace {

struct Merged {
  int64_t h, w, oh, ow, sh, sw, kh, kw, pt, pl, wp;
  uint64_t front, total;  // guard elements before the first plane; all elements of the image
};

Merged Geometry(const detail::PoolDims& p, uint64_t planes) {
  Merged m{p.in[0], p.in[1], p.out[0], p.out[1], p.stride[0], p.stride[1], p.kernel[0], p.kernel[1],
           p.pad_begin[0], p.pad_begin[1], p.in[1] + p.pad_begin[1], 0, 0};
  m.front = static_cast<uint64_t>(m.pt * m.wp + m.pl);
  m.total = m.front + planes * static_cast<uint64_t>(m.h * m.wp) + static_cast<uint64_t>(m.wp + m.pl);
  return m;
}

}  // namespace

bool UseMergedMaxPool(const detail::PoolDims& p) {
  if (p.in.size() != 2) return false;
  for (size_t d = 0; d < 2; ++d) {
    if (p.dilation[d] != 1 || p.stride[d] < 1 || p.kernel[d] < 1 || p.pad_begin[d] < 0) return false;
  }
  const int64_t h = p.in[0], w = p.in[1], oh = p.out[0], ow = p.out[1];
  if (oh < 1 || ow < 1 || h != oh * p.stride[0]) return false;
  if (p.pad_begin[0] >= p.kernel[0] || p.pad_begin[1] >= p.kernel[1]) return false;  // no window all padding
  if ((oh - 1) * p.stride[0] - p.pad_begin[0] + p.kernel[0] - 1 > h - 1) return false;   // below the plane
  if ((ow - 1) * p.stride[1] - p.pad_begin[1] + p.kernel[1] - 1 > w - 1 + p.pad_begin[1]) return false;
  return (p.pad_begin[0] + p.stride[0] - 1) / p.stride[0] < oh;
}

void PlanMergedMaxPool(const std::string& key, const detail::PoolDims& p, uint64_t planes, CodegenContext& ctx) {
  ctx.AllocateScratch(key, Geometry(p, planes).total * kF32Bytes);
}

absl::Status EmitMergedMaxPool(const std::string& key, const detail::PoolDims& p, uint64_t planes, uint64_t in,
                               uint64_t out, CodegenContext& ctx) {
  const Merged m = Geometry(p, planes);
  TPUSIM_ASSIGN_OR_RETURN(uint64_t img, ctx.Scratch(key));
  const uint64_t base = img + m.front * kF32Bytes;
  const uint64_t wp = static_cast<uint64_t>(m.wp), h = static_cast<uint64_t>(m.h), w = static_cast<uint64_t>(m.w);
  if (ctx.overlapped()) {
    // -Inf on what the copy leaves: the guards and each row's first pad_left elements (runs of pl, wp
    // apart), from -Inf rows at the top of the UB; not the whole image.
    const uint64_t L = ctx.lanes(), z = std::max<uint64_t>(1, std::min(ctx.ub_rows() / 8, kMaxInstRows));
    const uint64_t zrow = ctx.ub_rows() - z, pl = static_cast<uint64_t>(m.pl), rows = planes * h;
    ctx.Vector(isa::VectorOp::Fill, zrow, zrow, zrow, z, false, -INFINITY);
    auto runs = [&](uint64_t first, uint64_t count, uint64_t stride, uint64_t len) {  // element offsets from img
      for (uint64_t l0 = 0; l0 < len; l0 += L) {
        for (uint64_t i0 = 0; i0 < count; i0 += z) {
          ctx.Store(isa::DType::F32, DramView{img + (first + i0 * stride + l0) * kF32Bytes, stride, 1}, zrow,
                    std::min(z, count - i0), std::min(L, len - l0));
        }
      }
    };
    if (m.front > 0) runs(0, 1, 0, m.front);
    if (pl > 0) runs(m.front, rows, wp, pl);
    runs(m.front + rows * wp, 1, 0, m.total - m.front - rows * wp);
  } else {
    EmitFill(ctx, img, m.total, -INFINITY);
  }
  EmitDeepCopy(ctx, in, base + static_cast<uint64_t>(m.pl) * kF32Bytes,
               {{planes * h, static_cast<int64_t>(w), wp}, {w, 1, 1}});

  // Under kTokens each slot has several window buffers (the k-th offset after the first uses buffer
  // (k - 1) % wins), loaded `wins` offsets ahead of the fold, so the next offsets' LOADs run while the
  // vector unit folds the current one. When one tile holds every output row, one slot with a buffer per
  // offset: every LOAD goes out back to back (a window moves in less than a DRAM latency).
  const uint64_t L = ctx.lanes(), offsets = static_cast<uint64_t>(std::max<int64_t>(1, m.kh * m.kw));
  const bool one_tile = ctx.overlapped() && planes * static_cast<uint64_t>(m.oh) <= ctx.ub_rows() / offsets &&
                        static_cast<uint64_t>(m.ow) <= L;
  const uint64_t slots = ctx.overlapped() && !one_tile ? 2 : 1;
  const uint64_t wins = !ctx.overlapped() ? 1
                        : one_tile         ? std::max<uint64_t>(1, offsets - 1)
                                           : std::min<uint64_t>(3, std::max<uint64_t>(1, offsets - 1));
  UbAllocator ub = ctx.NewUb();
  const uint64_t cap = std::min(ub.free() / ((1 + wins) * slots), kMaxInstRows);
  TPUSIM_CHECK(cap >= 1, "EmitMergedMaxPool: UB too small");
  std::vector<uint64_t> acc(slots);
  std::vector<std::vector<uint64_t>> win(slots);
  for (uint64_t s = 0; s < slots; ++s) {
    acc[s] = ub.Take(cap);
    for (uint64_t b = 0; b < wins; ++b) win[s].push_back(ub.Take(cap));
  }
  uint64_t& phase = ctx.stream_phase();
  const uint64_t oh = static_cast<uint64_t>(m.oh), ow = static_cast<uint64_t>(m.ow);
  // One tile: rows [r0, r0 + nr) of a view whose row r, lane l, window row i, column j is at element
  // base + first(r, i) + l * sw + j; rows whose window row i leaves the image are skipped by `valid`.
  auto tile = [&](uint64_t nr, uint64_t nl, uint64_t row_stride, auto first, auto valid, const DramView& dst) {
    const uint64_t slot = phase++ % slots;
    std::vector<DramView> views;  // the valid offsets in row-major kernel order
    for (int64_t i = 0; i < m.kh; ++i) {
      if (!valid(i)) continue;
      for (int64_t j = 0; j < m.kw; ++j) {
        const int64_t e = first(i) + j;
        TPUSIM_CHECK(e + static_cast<int64_t>(m.front) >= 0, "EmitMergedMaxPool: read before the image");
        views.push_back({static_cast<uint64_t>(static_cast<int64_t>(base) + e * static_cast<int64_t>(kF32Bytes)),
                         row_stride, static_cast<uint64_t>(m.sw)});
      }
    }
    auto buffer = [&](size_t k) { return k == 0 ? acc[slot] : win[slot][(k - 1) % wins]; };
    auto load = [&](size_t k) { ctx.Load(isa::DType::F32, views[k], buffer(k), nr, nl); };
    for (size_t k = 0; k < std::min(views.size(), wins + 1); ++k) load(k);
    for (size_t k = 1; k < views.size(); ++k) {
      ctx.Vector(isa::VectorOp::Max, acc[slot], acc[slot], buffer(k), nr);
      if (k + wins < views.size()) load(k + wins);
    }
    ctx.Store(isa::DType::F32, dst, acc[slot], nr, nl);
  };
  // Main pass: rows g = p * out_h + oh of every plane.
  const uint64_t rows = planes * oh;
  for (uint64_t g0 = 0; g0 < rows; g0 += cap) {
    for (uint64_t l0 = 0; l0 < ow; l0 += L) {
      const uint64_t nr = std::min(cap, rows - g0), nl = std::min(L, ow - l0);
      auto first = [&](int64_t i) {
        return (static_cast<int64_t>(g0) * m.sh + i - m.pt) * m.wp + static_cast<int64_t>(l0) * m.sw;
      };
      tile(nr, nl, static_cast<uint64_t>(m.sh) * wp, first, [](int64_t) { return true; },
           DramView{out + (g0 * ow + l0) * kF32Bytes, ow, 1});
    }
  }
  // Fix-up pass: output rows whose window starts above the plane, from the rows inside it.
  const int64_t top = (m.pt + m.sh - 1) / m.sh;
  for (int64_t r = 0; r < top; ++r) {
    for (uint64_t p0 = 0; p0 < planes; p0 += cap) {
      for (uint64_t l0 = 0; l0 < ow; l0 += L) {
        const uint64_t nr = std::min(cap, planes - p0), nl = std::min(L, ow - l0);
        auto first = [&](int64_t i) {
          return (static_cast<int64_t>(p0) * m.h + r * m.sh + i - m.pt) * m.wp + static_cast<int64_t>(l0) * m.sw;
        };
        auto valid = [&](int64_t i) { return r * m.sh + i - m.pt >= 0; };
        tile(nr, nl, h * wp, first, valid,
             DramView{out + (p0 * oh * ow + static_cast<uint64_t>(r) * ow + l0) * kF32Bytes, oh * ow, 1});
      }
    }
  }
  return absl::OkStatus();
}

}  // namespace tpusim::compiler::codegen
