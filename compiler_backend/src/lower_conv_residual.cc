// The residual tail of a fused Conv -> Add [-> activation] (lower_fused.cc) for the conv forms whose
// GEMM epilogue does not take it (shifted GEMMs, the depthwise vector conv, grouped or batched GEMMs):
// lower_conv.h, EmitResidualPass / EmitPickOutputsResidual. Both compute (conv + residual) with one
// fp32 VECTOR add and then the activation as the VECTOR op of the same name: the same operations, in
// the same order, as the unfused Add and activation nodes, so the bits match them.
#include <vector>

#include "codegen_gemm.h"
#include "codegen_stream_deep.h"
#include "codegen_vector.h"
#include "lower_conv.h"
#include "lowering.h"
#include "tpusim/isa/status_macros.h"

namespace tpusim::compiler::codegen {
namespace {

std::vector<VectorStep> Then(isa::ActFunc func) {
  if (func == isa::ActFunc::None) return {};
  const std::optional<isa::VectorOp> op = VectorOpOfActivation(func);
  TPUSIM_CHECK(op.has_value(), "residual fusion: activation without a vector op");
  return {VectorStep{*op, 0.0f}};
}

}  // namespace

void EmitResidualPass(CodegenContext& ctx, uint64_t y, uint64_t residual, uint64_t n, isa::ActFunc func) {
  EmitFlat(ctx, isa::VectorOp::Add, {FlatOperand{y, false}, FlatOperand{residual, false}}, y, n, 0.0f, Then(func));
}

void EmitPickOutputsResidual(CodegenContext& ctx, const detail::ConvGeometry& g, const FlatConvImage& s,
                             uint64_t channels, uint64_t full, uint64_t y, uint64_t residual, isa::ActFunc func) {
  if (g.spatial_rank() != 2) {
    EmitPickOutputs(ctx, g, s, channels, full, y);
    uint64_t n = channels;
    for (int64_t d : g.out) n *= static_cast<uint64_t>(d);
    EmitResidualPass(ctx, y, residual, n, func);
    return;
  }
  // Rows r = (c, o0): Y' advances stride_0 * PS_0 per r (the slab is out_0 * stride_0 * PS_0, so c and
  // o0 merge), Y and the residual out_1; lanes o1: Y' stride_1, Y and the residual 1.
  const uint64_t out0 = static_cast<uint64_t>(g.out[0]), out1 = static_cast<uint64_t>(g.out[1]);
  VectorBlock b;
  b.op = isa::VectorOp::Add;
  b.then = Then(func);
  b.in = {DramView{full, static_cast<uint64_t>(g.stride[0]) * s.ps[0], static_cast<uint64_t>(g.stride[1])},
          DramView{residual, out1, 1}};
  b.out = DramView{y, out1, 1};
  b.rows = channels * out0;
  b.lanes = out1;
  EmitDeepVectorBlock(ctx, b);
}

}  // namespace tpusim::compiler::codegen
