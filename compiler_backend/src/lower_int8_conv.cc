// ConvInteger / QLinearConv in int8 mode (lower_int8.h): the conv geometry as GEMM tiles over X read
// in place by strided DMAs, and the zero-point-padded copy of X when the conv pads.
#include <algorithm>
#include <string>

#include "absl/strings/str_cat.h"
#include "codegen_context.h"
#include "lower_conv.h"
#include "lower_int8.h"
#include "tpusim/isa/status_macros.h"

namespace tpusim::compiler::detail {

using codegen::CodegenContext;
using codegen::DramView;

absl::StatusOr<Int8ConvShape> Int8ConvShapeOf(const CodegenContext& ctx, const Node& node) {
  const Int8Inputs io = Int8InputsOf(node);
  TPUSIM_ASSIGN_OR_RETURN(ConvGeometry g, ResolveConv(node, ctx.ShapeOf(node.inputs[io.a]), ctx.ShapeOf(node.inputs[io.b])));
  if (g.group != 1 || g.spatial_rank() < 1 || g.spatial_rank() > 2) {
    return absl::UnimplementedError(absl::StrCat(codegen::NodeLabel(node), ": int8 mode lowers group-1 1-D and 2-D convs"));
  }
  const bool two = g.spatial_rank() == 2;
  const size_t hd = 0, wd = two ? 1 : 0;
  auto u = [](int64_t v) { return static_cast<uint64_t>(v); };
  Int8ConvShape s;
  s.batch = u(g.batch);
  s.c = u(g.in_channels);
  s.m = u(g.out_channels);
  s.h = two ? u(g.in[hd]) : 1;
  s.w = u(g.in[wd]);
  s.kh = two ? u(g.kernel[hd]) : 1;
  s.kw = u(g.kernel[wd]);
  s.sh = two ? u(g.stride[hd]) : 1;
  s.sw = u(g.stride[wd]);
  s.dh = two ? u(g.dilation[hd]) : 1;
  s.dw = u(g.dilation[wd]);
  s.top = two ? u(g.pad_begin[hd]) : 0;
  s.left = u(g.pad_begin[wd]);
  s.hp = s.h + s.top + (two ? u(g.pad_end[hd]) : 0);
  s.wp = s.w + s.left + u(g.pad_end[wd]);
  s.out_h = two ? u(g.out[hd]) : 1;
  s.out_w = u(g.out[wd]);
  s.k = s.c * s.kh * s.kw;
  s.padded = s.hp != s.h || s.wp != s.w;
  return s;
}

void PlanConvTiles(const CodegenContext& ctx, const Int8ConvShape& s, Int8Plan& p) {
  const uint64_t rows = ctx.array_rows();
  const uint64_t plane = s.hp * s.wp;
  for (uint64_t kh = 0; kh < s.kh; ++kh) {
    for (uint64_t kw = 0; kw < s.kw; ++kw) {
      for (uint64_t c0 = 0; c0 < s.c; c0 += rows) {
        Int8KTile t;
        t.a_off = kh * s.dh * s.wp + kw * s.dw + c0 * plane;
        t.a_lane_stride = plane;
        t.b_off = (c0 * s.kh + kh) * s.kw + kw;
        t.b_row_stride = s.kh * s.kw;
        t.rows = std::min(rows, s.c - c0);
        p.ktiles.push_back(t);
      }
    }
  }
  p.b_col_stride = s.k;
}

void PlanConvBlocks(CodegenContext& ctx, const Node& node, const Int8ConvShape& s, uint64_t x, uint64_t w,
                    uint64_t bias, Int8Plan& p) {
  uint64_t src = x;
  if (s.padded) {
    Int8PadCopy pad;
    pad.x = x;
    pad.xp = ctx.AllocateScratch(node.name + "/padded_x", s.batch * s.c * s.hp * s.wp);
    pad.planes = s.batch * s.c;
    pad.h = s.h;
    pad.w = s.w;
    pad.hp = s.hp;
    pad.wp = s.wp;
    pad.top = s.top;
    pad.left = s.left;
    p.pads.push_back(pad);
    src = pad.xp;
  }
  const uint64_t plane = s.hp * s.wp, out_plane = s.out_h * s.out_w;
  for (uint64_t n = 0; n < s.batch; ++n) {
    for (uint64_t oh = 0; oh < s.out_h; ++oh) {
      for (uint64_t ow0 = 0; ow0 < s.out_w; ow0 += p.mt) {
        Int8Block blk;
        blk.a = src + n * s.c * plane + oh * s.sh * s.wp + ow0 * s.sw;
        blk.a_row_stride = s.sw;
        blk.rows = std::min(p.mt, s.out_w - ow0);
        blk.w = w;
        blk.bias = bias;
        blk.y = n * s.m * out_plane + oh * s.out_w + ow0;
        blk.y_row_stride = 1;
        blk.y_col_stride = out_plane;
        p.blocks.push_back(blk);
      }
    }
  }
}

void EmitInt8PadCopy(CodegenContext& ctx, const Int8PadCopy& pad, uint64_t fill) {
  const uint64_t lanes = ctx.lanes();
  const uint64_t max_rows = std::min<uint64_t>(ctx.ub_rows(), codegen::kMaxInstRows);
  const uint64_t total_rows = pad.planes * pad.hp;
  const uint64_t fill_rows = std::min(max_rows, total_rows);
  ctx.Load(isa::DType::I8, DramView{fill, 0, 0}, 0, fill_rows, std::min(lanes, pad.wp));
  for (uint64_t r0 = 0; r0 < total_rows; r0 += fill_rows) {
    for (uint64_t l0 = 0; l0 < pad.wp; l0 += lanes) {
      ctx.Store(isa::DType::I8, DramView{pad.xp + r0 * pad.wp + l0, pad.wp, 1}, 0, std::min(fill_rows, total_rows - r0),
                std::min(lanes, pad.wp - l0));
    }
  }
  for (uint64_t plane = 0; plane < pad.planes; ++plane) {
    for (uint64_t h0 = 0; h0 < pad.h; h0 += max_rows) {
      const uint64_t rr = std::min(max_rows, pad.h - h0);
      for (uint64_t l0 = 0; l0 < pad.w; l0 += lanes) {
        const uint64_t ll = std::min(lanes, pad.w - l0);
        ctx.Load(isa::DType::I8, DramView{pad.x + (plane * pad.h + h0) * pad.w + l0, pad.w, 1}, 0, rr, ll);
        ctx.Store(isa::DType::I8, DramView{pad.xp + (plane * pad.hp + pad.top + h0) * pad.wp + pad.left + l0, pad.wp, 1},
                  0, rr, ll);
      }
    }
  }
}

}  // namespace tpusim::compiler::detail
