// int8 / uint8 MaxPool over 2 spatial dims (x [N, C, H, W]) in float mode. The device holds uint8 u as
// u - 128 (ToDeviceInt8), and max commutes with that shift, so the device values are pooled as they
// are: the input is converted once into a padded fp32 scratch image (fill -Inf, then per plane
// LOAD i8 -> cvt_i2f -> STORE f32 into the interior: exact), every kernel offset is one strided LOAD of
// the image folded into the running tile with VECTOR max (exact: a max picks one of its operands),
// and the tile goes back as cvt_f2i -> STORE i8 (exact: the values are integers in [-128, 127]).
// Windows as shape_functions.h ResolvePool: output o reads image index o*stride + j*dilation, where
// image index = input index + pad_begin. A window made only of padding would give -Inf -> saturated
// -128 (uint8 0); ONNX's geometry never produces one (pads < kernel).
#include <algorithm>
#include <cmath>
#include <string>
#include <vector>

#include "absl/status/status.h"
#include "absl/strings/str_cat.h"
#include "codegen_vector.h"
#include "lower_int_pool.h"
#include "shape_functions.h"
#include "tpusim/isa/isa.h"
#include "tpusim/isa/status_macros.h"

namespace tpusim::compiler {

namespace detail {

absl::Status CheckIntMaxPoolSupport(const Node& node, const Graph& graph) {
  const Value* x = graph.FindValue(node.inputs[0]);
  const Value* y = node.outputs.empty() ? nullptr : graph.FindValue(node.outputs[0]);
  if (x == nullptr || y == nullptr) return absl::UnimplementedError("MaxPool refers to an unknown value");
  if (node.outputs.size() != 1) return absl::UnimplementedError("MaxPool with an Indices output is not supported on the TPU");
  if (y->dtype != x->dtype) return absl::UnimplementedError("MaxPool with an output of another type than the input");
  if (!x->shape.has_value() || x->shape->size() != 4) {
    return absl::UnimplementedError(absl::StrCat("MaxPool on ", std::string(DataTypeName(x->dtype)),
                                                 " is supported on the TPU over 2 spatial dims only"));
  }
  TPUSIM_RETURN_IF_ERROR(CheckPoolOrMiscSupport(node, graph));
  absl::StatusOr<PoolDims> p = ResolvePool(node, *x->shape);
  if (!p.ok()) return absl::UnimplementedError(absl::StrCat("MaxPool: ", p.status().message()));
  return absl::OkStatus();
}

}  // namespace detail

namespace codegen {
namespace {

struct Geometry {
  detail::PoolDims p;
  uint64_t planes = 0, ph = 0, pw = 0;  // N * C; padded image extents
};

absl::StatusOr<Geometry> GeometryOf(const Node& node, CodegenContext& ctx) {
  Geometry g;
  const Shape& x = ctx.ShapeOf(node.inputs[0]);
  TPUSIM_ASSIGN_OR_RETURN(g.p, detail::ResolvePool(node, x));
  g.planes = static_cast<uint64_t>(x[0] * x[1]);
  uint64_t ext[2];
  for (size_t d = 0; d < 2; ++d) {
    const detail::PoolDims& p = g.p;
    const int64_t end = (p.out[d] - 1) * p.stride[d] - p.pad_begin[d] + (p.kernel[d] - 1) * p.dilation[d] + 1;
    ext[d] = static_cast<uint64_t>(std::max(p.in[d], end) + p.pad_begin[d]);
  }
  g.ph = ext[0];
  g.pw = ext[1];
  return g;
}

std::string ImageKey(const Node& node) { return node.name + "/int_pool_image"; }

}  // namespace

absl::Status PlanIntMaxPool(const Node& node, CodegenContext& ctx) {
  if (!ctx.IsBound(node.inputs[0])) {
    return absl::InternalError(absl::StrCat(NodeLabel(node), ": input '", node.inputs[0], "' has no frame region"));
  }
  TPUSIM_ASSIGN_OR_RETURN(Geometry g, GeometryOf(node, ctx));
  ctx.AllocateScratch(ImageKey(node), g.planes * g.ph * g.pw * kF32Bytes);
  const std::string& out = node.outputs[0];
  if (!ctx.IsBound(out)) ctx.Bind(out, ctx.Allocate(static_cast<uint64_t>(NumElements(ctx.ShapeOf(out)))));
  return absl::OkStatus();
}

absl::Status EmitIntMaxPool(const Node& node, CodegenContext& ctx) {
  TPUSIM_ASSIGN_OR_RETURN(uint64_t in, ctx.F32Region(node.inputs[0]));
  TPUSIM_ASSIGN_OR_RETURN(uint64_t out, ctx.F32Region(node.outputs[0]));
  TPUSIM_ASSIGN_OR_RETURN(uint64_t image, ctx.Scratch(ImageKey(node)));
  if (NumElements(ctx.ShapeOf(node.outputs[0])) == 0) return absl::OkStatus();
  TPUSIM_ASSIGN_OR_RETURN(Geometry g, GeometryOf(node, ctx));
  const detail::PoolDims& p = g.p;
  const uint64_t L = ctx.lanes();
  const uint64_t H = static_cast<uint64_t>(p.in[0]), W = static_cast<uint64_t>(p.in[1]);
  const uint64_t OH = static_cast<uint64_t>(p.out[0]), OW = static_cast<uint64_t>(p.out[1]);
  const uint64_t plane = g.ph * g.pw;
  EmitFlat(ctx, isa::VectorOp::Fill, {FlatOperand{image, false}}, image, g.planes * plane, -INFINITY);

  const uint64_t slots = ctx.overlapped() ? 2 : 1;
  UbAllocator ub = ctx.NewUb();
  const uint64_t chunk = std::min(ub.free() / (slots * 2), kMaxInstRows);
  TPUSIM_CHECK(chunk >= 1, "EmitIntMaxPool: UB too small");
  std::vector<uint64_t> acc(slots), tmp(slots);
  for (uint64_t s = 0; s < slots; ++s) {
    acc[s] = ub.Take(chunk);
    tmp[s] = ub.Take(chunk);
  }
  const uint64_t interior = static_cast<uint64_t>(p.pad_begin[0]) * g.pw + static_cast<uint64_t>(p.pad_begin[1]);
  for (uint64_t c = 0; c < g.planes; ++c) {
    const DramView src{in + c * H * W, W, 1};
    const DramView dst{image + (c * plane + interior) * kF32Bytes, g.pw, 1};
    for (uint64_t l0 = 0; l0 < W; l0 += L) {
      const uint64_t nl = std::min(L, W - l0);
      for (uint64_t r0 = 0; r0 < H; r0 += chunk) {
        const uint64_t nr = std::min(chunk, H - r0);
        const uint64_t a = acc[ctx.stream_phase()++ % slots];
        ctx.Load(isa::DType::I8, src.Offset(r0, l0, 1), a, nr, nl);
        ctx.Vector(isa::VectorOp::CvtI2f, a, a, a, nr);
        ctx.Store(isa::DType::F32, dst.Offset(r0, l0), a, nr, nl);
      }
    }
  }
  const uint64_t sh = static_cast<uint64_t>(p.stride[0]), sw = static_cast<uint64_t>(p.stride[1]);
  const uint64_t dh = static_cast<uint64_t>(p.dilation[0]), dw = static_cast<uint64_t>(p.dilation[1]);
  for (uint64_t c = 0; c < g.planes; ++c) {
    const DramView y{out + c * OH * OW, OW, 1};
    for (uint64_t l0 = 0; l0 < OW; l0 += L) {
      const uint64_t nl = std::min(L, OW - l0);
      for (uint64_t r0 = 0; r0 < OH; r0 += chunk) {
        const uint64_t nr = std::min(chunk, OH - r0);
        const uint64_t slot = ctx.stream_phase()++ % slots;
        bool first = true;
        for (int64_t kh = 0; kh < p.kernel[0]; ++kh) {
          for (int64_t kw = 0; kw < p.kernel[1]; ++kw) {
            const uint64_t off = c * plane + static_cast<uint64_t>(kh) * dh * g.pw + static_cast<uint64_t>(kw) * dw;
            const DramView window{image + off * kF32Bytes, sh * g.pw, sw};
            ctx.Load(isa::DType::F32, window.Offset(r0, l0), first ? acc[slot] : tmp[slot], nr, nl);
            if (!first) ctx.Vector(isa::VectorOp::Max, acc[slot], acc[slot], tmp[slot], nr);
            first = false;
          }
        }
        ctx.Vector(isa::VectorOp::CvtF2i, acc[slot], acc[slot], acc[slot], nr);
        ctx.Store(isa::DType::I8, y.Offset(r0, l0, 1), acc[slot], nr, nl);
      }
    }
  }
  return absl::OkStatus();
}

}  // namespace codegen
}  // namespace tpusim::compiler
