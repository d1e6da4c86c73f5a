// Gradient rules of Conv and MaxPool (autodiff.h), written with ops the TPU lowers: Conv itself,
// Transpose, Slice, Gather (constant indices), Concat, Pad and the vector unit's elementwise ops.
//
// Conv, 2-D, group 1, dilation 1; X [N,C,H,W], W [M,C,KH,KW], dY [N,M,OH,OW], strides (sh,sw), pads
// (pt,pl,pb,pr):
//   dB = ReduceSum(dY, {0,2,3})
//   dW = Transpose(Conv(Transpose(X, 1023), Transpose(dY, 1023), pads, dilations = strides), 1023),
//        cut to [KH,KW]: dW[m,c,a,b] = sum_{n,i,j} dY[n,m,i,j] * Xpadded[n,c,a+sh*i,b+sw*j].
//   dX = Conv(dY with sh-1 / sw-1 zeros inserted between rows / columns, W transposed to [C,M,..] and
//        flipped spatially, pads (KH-1-pt, KW-1-pl, KH-1-pb+rh, KW-1-pr+rw)) where rh, rw are the
//        trailing input rows/columns no window reads (they get gradient 0).
// MaxPool, 2-D, dilation 1: for each window offset (a,b) in row-major order, the strided Slice of the
// (-FLT_MAX padded) input at that offset is compared with the output (exact: max - x == 0), masked
// by "no earlier offset of this window was the max" (first max wins, as the CPU kernel keeps it),
// multiplied by dY and scattered back to rows a + sh*i, columns b + sw*j.
#include <algorithm>
#include <cfloat>
#include <string>
#include <vector>

#include "absl/status/status.h"
#include "absl/strings/str_cat.h"
#include "autodiff_internal.h"
#include "lower_conv.h"
#include "shape_functions.h"
#include "tpusim/isa/status_macros.h"

namespace tpusim::compiler::detail {
namespace {

template <typename... Args>
absl::Status Unsupported(const Node& n, const Args&... args) {
  return absl::UnimplementedError(absl::StrCat("autodiff: ", n.op_type, " (node '", n.name, "'): ", args...));
}

const std::vector<int64_t> kSwap01 = {1, 0, 2, 3};

// Inserts (stride - 1) zeros between consecutive entries of `axis` (length out -> (out-1)*stride+1).
absl::StatusOr<std::string> Dilate(GradEmitter& e, const std::string& x, int64_t axis, int64_t stride) {
  if (stride == 1) return x;
  const int64_t out = e.ShapeOf(x)[static_cast<size_t>(axis)];
  std::vector<int64_t> index(static_cast<size_t>((out - 1) * stride + 1), -1);
  for (int64_t i = 0; i < out; ++i) index[static_cast<size_t>(i * stride)] = i;
  return e.GatherOrZero(x, axis, index);
}

// Reverses `axis` (a Gather with descending constant indices).
absl::StatusOr<std::string> Flip(GradEmitter& e, const std::string& x, int64_t axis) {
  const int64_t n = e.ShapeOf(x)[static_cast<size_t>(axis)];
  if (n == 1) return x;
  std::vector<int64_t> index(static_cast<size_t>(n));
  for (int64_t i = 0; i < n; ++i) index[static_cast<size_t>(i)] = n - 1 - i;
  return e.Op("Gather", {x, e.Ints(std::move(index))}, {{"axis", axis}});
}

}  // namespace

absl::Status ConvGrad(const GradContext& ctx, const Node& n, const std::vector<std::string>& g, GradEmitter& e,
                      std::vector<Contribution>* out) {
  const std::string& x = n.inputs[0];
  const std::string& w = n.inputs[1];
  const Shape xs = e.ShapeOf(x);
  const Shape ws = e.ShapeOf(w);
  TPUSIM_ASSIGN_OR_RETURN(ConvGeometry geo, ResolveConv(n, xs, ws));
  if (xs.size() != 4) return Unsupported(n, "gradients cover 2-D convolutions only");
  if (geo.group != 1) return Unsupported(n, "gradients need group 1");
  if (geo.dilation[0] != 1 || geo.dilation[1] != 1) return Unsupported(n, "gradients need dilations 1");
  const int64_t kh = geo.kernel[0], kw = geo.kernel[1];
  const int64_t sh = geo.stride[0], sw = geo.stride[1];
  const int64_t pt = geo.pad_begin[0], pl = geo.pad_begin[1], pb = geo.pad_end[0], pr = geo.pad_end[1];
  const int64_t oh = geo.out[0], ow = geo.out[1];
  if (n.inputs.size() > 2 && !n.inputs[2].empty() && ctx.Needs(n.inputs[2])) {
    TPUSIM_ASSIGN_OR_RETURN(std::string gb, e.Op("ReduceSum", {g[0], e.Ints({0, 2, 3})}, {{"keepdims", int64_t{0}}}));
    out->emplace_back(n.inputs[2], gb);
  }
  if (ctx.Needs(w)) {
    TPUSIM_ASSIGN_OR_RETURN(std::string xt, e.Transpose(x, kSwap01));
    TPUSIM_ASSIGN_OR_RETURN(std::string gt, e.Transpose(g[0], kSwap01));
    TPUSIM_ASSIGN_OR_RETURN(std::string r, e.Op("Conv", {xt, gt},
                                                {{"pads", std::vector<int64_t>{pt, pl, pb, pr}},
                                                 {"strides", std::vector<int64_t>{1, 1}},
                                                 {"dilations", std::vector<int64_t>{sh, sw}}}));
    const Shape rs = e.ShapeOf(r);
    if (rs[2] != kh || rs[3] != kw) {
      TPUSIM_ASSIGN_OR_RETURN(r, e.Op("Slice", {r, e.Ints({0, 0}), e.Ints({kh, kw}), e.Ints({2, 3})}));
    }
    TPUSIM_ASSIGN_OR_RETURN(std::string gw, e.Transpose(r, kSwap01));
    out->emplace_back(w, gw);
  }
  if (ctx.Needs(x)) {
    const int64_t rh = xs[2] + pt + pb - kh - sh * (oh - 1);
    const int64_t rw = xs[3] + pl + pr - kw - sw * (ow - 1);
    const std::vector<int64_t> pads = {kh - 1 - pt, kw - 1 - pl, kh - 1 - pb + rh, kw - 1 - pr + rw};
    for (int64_t p : pads) {
      if (p < 0) return Unsupported(n, "gradients need pads smaller than the kernel");
    }
    TPUSIM_ASSIGN_OR_RETURN(std::string d, Dilate(e, g[0], 2, sh));
    TPUSIM_ASSIGN_OR_RETURN(d, Dilate(e, d, 3, sw));
    TPUSIM_ASSIGN_OR_RETURN(std::string f, e.Transpose(w, kSwap01));
    TPUSIM_ASSIGN_OR_RETURN(f, Flip(e, f, 2));
    TPUSIM_ASSIGN_OR_RETURN(f, Flip(e, f, 3));
    TPUSIM_ASSIGN_OR_RETURN(std::string gx, e.Op("Conv", {d, f}, {{"pads", pads}}));
    out->emplace_back(x, gx);
  }
  return absl::OkStatus();
}

absl::Status MaxPoolGrad(const GradContext& ctx, const Node& n, const std::vector<std::string>& g, GradEmitter& e,
                         std::vector<Contribution>* out) {
  const std::string& x = n.inputs[0];
  if (!ctx.Needs(x) || g[0].empty()) return absl::OkStatus();
  const Shape xs = e.ShapeOf(x);
  TPUSIM_ASSIGN_OR_RETURN(PoolDims p, ResolvePool(n, xs));
  if (xs.size() != 4) return Unsupported(n, "gradients cover 2-D pooling only");
  if (p.dilation[0] != 1 || p.dilation[1] != 1) return Unsupported(n, "gradients need dilations 1");
  const int64_t h = xs[2], w = xs[3];
  const int64_t kh = p.kernel[0], kw = p.kernel[1], sh = p.stride[0], sw = p.stride[1];
  const int64_t pt = p.pad_begin[0], pl = p.pad_begin[1], oh = p.out[0], ow = p.out[1];
  const int64_t hp = std::max(pt + h, (oh - 1) * sh + kh);  // padded extent every window fits in
  const int64_t wp = std::max(pl + w, (ow - 1) * sw + kw);
  std::string xp = x;
  const bool padded = hp != h || wp != w;
  if (padded) {
    TPUSIM_ASSIGN_OR_RETURN(xp, e.Op("Pad", {x, e.Ints({0, 0, pt, pl, 0, 0, hp - pt - h, wp - pl - w}), e.Scalar(-FLT_MAX)}));
  }
  const std::string& y = n.outputs[0];
  std::string taken, total;
  for (int64_t a = 0; a < kh; ++a) {
    for (int64_t b = 0; b < kw; ++b) {
      TPUSIM_ASSIGN_OR_RETURN(std::string xab, e.Op("Slice", {xp, e.Ints({a, b}),
                                                             e.Ints({a + sh * (oh - 1) + 1, b + sw * (ow - 1) + 1}),
                                                             e.Ints({2, 3}), e.Ints({sh, sw})}));
      TPUSIM_ASSIGN_OR_RETURN(std::string diff, e.Op("Sub", {y, xab}));
      TPUSIM_ASSIGN_OR_RETURN(std::string first, e.ZeroMask(diff));
      const bool last = a == kh - 1 && b == kw - 1;
      if (taken.empty()) {
        taken = first;
      } else {
        TPUSIM_ASSIGN_OR_RETURN(std::string free, e.Op("Sub", {e.Like(taken, 1.0f), taken}));
        TPUSIM_ASSIGN_OR_RETURN(first, e.Op("Mul", {first, free}));
        if (!last) {
          TPUSIM_ASSIGN_OR_RETURN(taken, e.Op("Add", {taken, first}));
        }
      }
      TPUSIM_ASSIGN_OR_RETURN(std::string routed, e.Op("Mul", {g[0], first}));
      std::vector<int64_t> rows(static_cast<size_t>(hp), -1), cols(static_cast<size_t>(wp), -1);
      for (int64_t i = 0; i < oh; ++i) rows[static_cast<size_t>(a + sh * i)] = i;
      for (int64_t j = 0; j < ow; ++j) cols[static_cast<size_t>(b + sw * j)] = j;
      TPUSIM_ASSIGN_OR_RETURN(routed, e.GatherOrZero(routed, 2, rows));
      TPUSIM_ASSIGN_OR_RETURN(routed, e.GatherOrZero(routed, 3, cols));
      if (total.empty()) {
        total = routed;
      } else {
        TPUSIM_ASSIGN_OR_RETURN(total, e.Op("Add", {total, routed}));
      }
    }
  }
  if (padded) {
    TPUSIM_ASSIGN_OR_RETURN(total, e.Op("Slice", {total, e.Ints({pt, pl}), e.Ints({pt + h, pl + w}), e.Ints({2, 3})}));
  }
  out->emplace_back(x, total);
  return absl::OkStatus();
}

}  // namespace tpusim::compiler::detail
