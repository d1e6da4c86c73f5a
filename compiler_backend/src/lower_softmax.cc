// Softmax. The input is viewed as [O, S, I] with S the reduced extent: opset < 13 coerces to 2-D
// ([prod(d < axis), prod(d >= axis)], so I = 1); opset >= 13 reduces dimension `axis` alone.
// S goes on UB rows and the independent softmaxes on lanes, so max and sum are row reductions (VECTOR
// reduce_max / reduce_sum):
//   I == 1: lanes are a chunk of O, loaded transposed (row_stride 1, lane_stride S);
//   I >  1: per o, lanes are a chunk of I (row_stride I, lane_stride 1).
// When the S rows fit the UB the column block is loaded once; otherwise three passes over chunks of
// rows: the running max, the running sum of exp(x - max), then exp(x - max) / sum stored back.
#include <algorithm>
#include <string>

#include "absl/status/status.h"
#include "absl/strings/str_cat.h"
#include "lowering.h"
#include "tpusim/isa/status_macros.h"

namespace tpusim::compiler::codegen {
namespace {

using isa::VectorOp;

// Softmax over the rows of one column block: x(r, l) for r < s, l < lanes; the result goes to y with
// the same strides.
void SoftmaxColumns(CodegenContext& ctx, const DramView& x, const DramView& y, uint64_t s, uint64_t lanes) {
  UbAllocator ub = ctx.NewUb();
  const uint64_t max_row = ub.Take(1), sum_row = ub.Take(1), tmp_row = ub.Take(1);
  const uint64_t chunk = std::min({ub.free(), kMaxInstRows, s});
  if (chunk == s) {  // one pass; under kTokens two data buffers when they fit (the chunking, and so
                     // the reduction order, is the same either way)
    const uint64_t slots = ctx.overlapped() && 2 * s <= ub.free() ? 2 : 1;
    const uint64_t data = ub.Take(slots * s) + (ctx.stream_phase()++ % slots) * s;
    ctx.Load(isa::DType::F32, x, data, s, lanes);
    ctx.Vector(VectorOp::ReduceMax, max_row, data, 0, s);
    ctx.Vector(VectorOp::Sub, data, data, max_row, s, /*b_bcast=*/true);
    ctx.Vector(VectorOp::Exp, data, data, 0, s);
    ctx.Vector(VectorOp::ReduceSum, sum_row, data, 0, s);
    ctx.Vector(VectorOp::Div, data, data, sum_row, s, /*b_bcast=*/true);
    ctx.Store(isa::DType::F32, y, data, s, lanes);
    return;
  }
  const uint64_t data = ub.Take(chunk);
  // Pass 1: running max.
  for (uint64_t r0 = 0; r0 < s; r0 += chunk) {
    const uint64_t nr = std::min(chunk, s - r0);
    ctx.Load(isa::DType::F32, x.Offset(r0, 0), data, nr, lanes);
    ctx.Vector(VectorOp::ReduceMax, r0 == 0 ? max_row : tmp_row, data, 0, nr);
    if (r0 != 0) ctx.Vector(VectorOp::Max, max_row, max_row, tmp_row, 1);
  }
  // Pass 2: running sum of exp(x - max).
  for (uint64_t r0 = 0; r0 < s; r0 += chunk) {
    const uint64_t nr = std::min(chunk, s - r0);
    ctx.Load(isa::DType::F32, x.Offset(r0, 0), data, nr, lanes);
    ctx.Vector(VectorOp::Sub, data, data, max_row, nr, /*b_bcast=*/true);
    ctx.Vector(VectorOp::Exp, data, data, 0, nr);
    ctx.Vector(VectorOp::ReduceSum, r0 == 0 ? sum_row : tmp_row, data, 0, nr);
    if (r0 != 0) ctx.Vector(VectorOp::Add, sum_row, sum_row, tmp_row, 1);
  }
  // Pass 3: exp(x - max) / sum.
  for (uint64_t r0 = 0; r0 < s; r0 += chunk) {
    const uint64_t nr = std::min(chunk, s - r0);
    ctx.Load(isa::DType::F32, x.Offset(r0, 0), data, nr, lanes);
    ctx.Vector(VectorOp::Sub, data, data, max_row, nr, /*b_bcast=*/true);
    ctx.Vector(VectorOp::Exp, data, data, 0, nr);
    ctx.Vector(VectorOp::Div, data, data, sum_row, nr, /*b_bcast=*/true);
    ctx.Store(isa::DType::F32, y.Offset(r0, 0), data, nr, lanes);
  }
}

}  // namespace

absl::Status EmitSoftmaxNode(const Node& node, CodegenContext& ctx) {
  if (node.inputs.size() != 1 || node.inputs[0].empty() || node.outputs.empty() || node.outputs[0].empty()) {
    return absl::InvalidArgumentError(absl::StrCat(NodeLabel(node), ": expects one input and one output"));
  }
  TPUSIM_RETURN_IF_ERROR(ctx.RequireFloat(node, node.inputs[0]));
  TPUSIM_RETURN_IF_ERROR(ctx.RequireFloat(node, node.outputs[0]));
  const Shape& shape = ctx.ShapeOf(node.inputs[0]);
  const int64_t rank = static_cast<int64_t>(shape.size());
  const bool legacy = node.opset < 13;
  TPUSIM_ASSIGN_OR_RETURN(int64_t axis, node.GetInt("axis", legacy ? 1 : -1));
  if (axis < -rank || axis >= rank) {
    return absl::InvalidArgumentError(absl::StrCat(NodeLabel(node), ": axis ", axis, " is out of range for a ",
                                                   ShapeToString(shape), " input"));
  }
  if (axis < 0) axis += rank;
  uint64_t outer = 1, reduced = 1, inner = 1;
  for (int64_t d = 0; d < rank; ++d) {
    const uint64_t n = static_cast<uint64_t>(shape[d]);
    if (d < axis) {
      outer *= n;
    } else if (d == axis || legacy) {
      reduced *= n;
    } else {
      inner *= n;
    }
  }
  if (outer * reduced * inner == 0) return absl::OkStatus();
  TPUSIM_ASSIGN_OR_RETURN(uint64_t x, ctx.F32Region(node.inputs[0]));
  TPUSIM_ASSIGN_OR_RETURN(uint64_t y, ctx.F32Region(node.outputs[0]));
  const uint64_t L = ctx.lanes();
  if (inner == 1) {
    for (uint64_t o0 = 0; o0 < outer; o0 += L) {
      const uint64_t off = o0 * reduced * kF32Bytes;
      SoftmaxColumns(ctx, {x + off, 1, reduced}, {y + off, 1, reduced}, reduced, std::min(L, outer - o0));
    }
    return absl::OkStatus();
  }
  for (uint64_t o = 0; o < outer; ++o) {
    for (uint64_t i0 = 0; i0 < inner; i0 += L) {
      const uint64_t off = (o * reduced * inner + i0) * kF32Bytes;
      SoftmaxColumns(ctx, {x + off, inner, 1}, {y + off, inner, 1}, reduced, std::min(L, inner - i0));
    }
  }
  return absl::OkStatus();
}

}  // namespace tpusim::compiler::codegen
