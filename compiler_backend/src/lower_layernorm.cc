// LayerNormalization (opset 17): X viewed as [O, S], S the product of the dims from `axis` on. The S
// normalized elements go on UB rows and independent rows of X on lanes (loaded transposed: row stride
// 1, lane stride S), so the statistics are row reductions, as in Softmax:
//   mean = reduce_sum(x) * fp32(1/S)
//   d = x - mean                                  (broadcast row)
//   inv = reciprocal(sqrt(reduce_sum(d*d) * fp32(1/S) + epsilon))
//   y = d * inv * scale + bias                    (scale / bias tiles: row stride 1, lane stride 0)
// When S rows do not fit the UB, chunks of rows are streamed three times (sum; squared deviations;
// normalize and store); the running sums add each chunk's reduce_sum in order. The optional Mean and
// InvStdDev outputs are the mean and inv rows, stored with lane stride 1.
// Scale and bias must have S elements or one (tpu_support.cc checks).
#include <algorithm>
#include <optional>

#include "absl/status/status.h"
#include "absl/strings/str_cat.h"
#include "lowering.h"
#include "shape_functions.h"
#include "tpusim/isa/status_macros.h"

namespace tpusim::compiler::codegen {

absl::Status EmitLayerNormNode(const Node& node, CodegenContext& ctx) {
  using isa::VectorOp;
  TPUSIM_ASSIGN_OR_RETURN(UnaryOperands io, DataInOut(node, ctx));
  const Shape& x = *io.in_shape;
  TPUSIM_ASSIGN_OR_RETURN(int64_t axis_attr, node.GetInt("axis", -1));
  TPUSIM_ASSIGN_OR_RETURN(int64_t axis, detail::NormalizeAxis(node, axis_attr, static_cast<int64_t>(x.size())));
  TPUSIM_ASSIGN_OR_RETURN(float epsilon, node.GetFloat("epsilon", 1e-5f));
  uint64_t outer = 1, s = 1;
  for (int64_t d = 0; d < static_cast<int64_t>(x.size()); ++d) (d < axis ? outer : s) *= static_cast<uint64_t>(x[d]);
  if (outer * s == 0) return absl::OkStatus();
  // Scale (input 1) and bias (input 2): per normalized element (stride 1) or one value (stride 0).
  std::optional<DramView> params[2];
  for (size_t i = 1; i <= 2; ++i) {
    if (node.inputs.size() <= i || node.inputs[i].empty()) continue;
    TPUSIM_RETURN_IF_ERROR(ctx.RequireFloat(node, node.inputs[i]));
    TPUSIM_ASSIGN_OR_RETURN(uint64_t addr, ctx.F32Region(node.inputs[i]));
    const uint64_t n = static_cast<uint64_t>(NumElements(ctx.ShapeOf(node.inputs[i])));
    if (n != s && n != 1) {
      return absl::UnimplementedError(absl::StrCat(NodeLabel(node), ": input ", i, " has ", n, " elements, not ", s,
                                                   " or 1"));
    }
    params[i - 1] = DramView{addr, n == 1 ? 0u : 1u, 0};
  }
  std::optional<uint64_t> stats[2];  // Mean, InvStdDev regions
  for (size_t i = 1; i <= 2; ++i) {
    if (node.outputs.size() <= i || node.outputs[i].empty()) continue;
    TPUSIM_RETURN_IF_ERROR(ctx.RequireFloat(node, node.outputs[i]));
    TPUSIM_ASSIGN_OR_RETURN(stats[i - 1], ctx.F32Region(node.outputs[i]));
  }

  const uint64_t L = ctx.lanes();
  UbAllocator ub = ctx.NewUb();
  const uint64_t mean = ub.Take(1), inv = ub.Take(1), tmp = ub.Take(1);
  const uint64_t chunk = std::min({ub.free() / 2, kMaxInstRows, s});
  const uint64_t data = ub.Take(chunk), work = ub.Take(chunk);
  const bool resident = chunk == s;  // one chunk: loaded once, kept for all three passes
  const float inv_s = 1.0f / static_cast<float>(s);
  for (uint64_t o0 = 0; o0 < outer; o0 += L) {
    const uint64_t nl = std::min(L, outer - o0);
    const DramView xv{io.in + o0 * s * kF32Bytes, 1, s}, yv{io.out + o0 * s * kF32Bytes, 1, s};
    // Pass 1: mean.
    for (uint64_t r0 = 0; r0 < s; r0 += chunk) {
      const uint64_t nr = std::min(chunk, s - r0);
      ctx.Load(isa::DType::F32, xv.Offset(r0, 0), data, nr, nl);
      ctx.Vector(VectorOp::ReduceSum, r0 == 0 ? mean : tmp, data, 0, nr);
      if (r0 != 0) ctx.Vector(VectorOp::Add, mean, mean, tmp, 1);
    }
    ctx.Vector(VectorOp::MulImm, mean, mean, 0, 1, false, inv_s);
    // Pass 2: inv = 1 / sqrt(mean of squared deviations + epsilon).
    for (uint64_t r0 = 0; r0 < s; r0 += chunk) {
      const uint64_t nr = std::min(chunk, s - r0);
      if (!resident) ctx.Load(isa::DType::F32, xv.Offset(r0, 0), data, nr, nl);
      ctx.Vector(VectorOp::Sub, data, data, mean, nr, /*b_bcast=*/true);
      ctx.Vector(VectorOp::Mul, work, data, data, nr);
      ctx.Vector(VectorOp::ReduceSum, r0 == 0 ? inv : tmp, work, 0, nr);
      if (r0 != 0) ctx.Vector(VectorOp::Add, inv, inv, tmp, 1);
    }
    ctx.Vector(VectorOp::MulImm, inv, inv, 0, 1, false, inv_s);
    ctx.Vector(VectorOp::AddImm, inv, inv, 0, 1, false, epsilon);
    ctx.Vector(VectorOp::Sqrt, inv, inv, 0, 1);
    ctx.Vector(VectorOp::Reciprocal, inv, inv, 0, 1);
    // Pass 3: y = d * inv * scale + bias.
    for (uint64_t r0 = 0; r0 < s; r0 += chunk) {
      const uint64_t nr = std::min(chunk, s - r0);
      if (!resident) {
        ctx.Load(isa::DType::F32, xv.Offset(r0, 0), data, nr, nl);
        ctx.Vector(VectorOp::Sub, data, data, mean, nr, /*b_bcast=*/true);
      }
      ctx.Vector(VectorOp::Mul, data, data, inv, nr, /*b_bcast=*/true);
      for (int i = 0; i < 2; ++i) {
        if (!params[i].has_value()) continue;
        ctx.Load(isa::DType::F32, params[i]->Offset(r0, 0), work, nr, nl);
        ctx.Vector(i == 0 ? VectorOp::Mul : VectorOp::Add, data, data, work, nr);
      }
      ctx.Store(isa::DType::F32, yv.Offset(r0, 0), data, nr, nl);
    }
    if (stats[0].has_value()) ctx.Store(isa::DType::F32, {*stats[0] + o0 * kF32Bytes, 0, 1}, mean, 1, nl);
    if (stats[1].has_value()) ctx.Store(isa::DType::F32, {*stats[1] + o0 * kF32Bytes, 0, 1}, inv, 1, nl);
  }
  return absl::OkStatus();
}

}  // namespace tpusim::compiler::codegen
