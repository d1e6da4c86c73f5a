// MatMul and Gemm -> EmitGemm (codegen_gemm.h).
//
// MatMul follows numpy: 1-D A is [1,K] and 1-D B is [K,1] (the dimension is dropped from Y); N-D
// operands broadcast their batch dimensions, one 2-D GEMM per output batch index, except that a B
// without batch variation folds A's batch into M (A is contiguous, so [batch..., M, K] is [batch*M, K]).
// Gemm: Y = alpha * A' B' + beta * C with A' = transA ? A^T : A, B' likewise (a transpose is a stride
// swap of the DMA), C unidirectionally broadcast to [M, N].
//
// B enters the array as bf16 parts: a constant B is split at compile time into bf16 segments; a
// non-constant B in multi-pass precision is split by the vector unit into scratch parts before the
// GEMMs; in bf16 precision a non-constant B is loaded as fp32 (rounded on entry to the array).
#include <algorithm>
#include <string>
#include <vector>

#include "absl/status/status.h"
#include "absl/strings/str_cat.h"
#include "codegen_gemm.h"
#include "codegen_vector.h"
#include "lowering.h"
#include "tpusim/isa/status_macros.h"

namespace tpusim::compiler::codegen {
namespace {

std::string PartKey(const Node& node, int part) { return absl::StrCat(node.name, "/b_bf16_part", part); }

bool HasInput(const Node& node, size_t i) { return node.inputs.size() > i && !node.inputs[i].empty(); }

absl::Status CheckOperands(const Node& node, const CodegenContext& ctx) {
  if (!HasInput(node, 0) || !HasInput(node, 1) || node.outputs.empty() || node.outputs[0].empty()) {
    return absl::InvalidArgumentError(absl::StrCat(NodeLabel(node), ": needs inputs A, B and output Y"));
  }
  for (const std::string& name : node.inputs) {
    if (!name.empty()) TPUSIM_RETURN_IF_ERROR(ctx.RequireFloat(node, name));
  }
  return ctx.RequireFloat(node, node.outputs[0]);
}

// Frame base addresses of B's parts (B's own element layout) and their DRAM type.
struct BParts {
  std::vector<uint64_t> base;
  isa::DType dtype = isa::DType::BF16;
};

absl::StatusOr<BParts> GetBParts(const Node& node, CodegenContext& ctx) {
  const std::string& b = node.inputs[1];
  const int parts = NumBf16Parts(ctx.precision());
  BParts out;
  if (ctx.ValueOf(b).constant.has_value()) {
    for (int p = 0; p < parts; ++p) {
      TPUSIM_ASSIGN_OR_RETURN(uint64_t addr, ctx.ConstantBf16Part(b, p, parts));
      out.base.push_back(addr);
    }
  } else if (parts == 1) {
    TPUSIM_ASSIGN_OR_RETURN(uint64_t addr, ctx.F32Region(b));
    out.base.push_back(addr);
    out.dtype = isa::DType::F32;
  } else {
    for (int p = 0; p < parts; ++p) {
      TPUSIM_ASSIGN_OR_RETURN(uint64_t addr, ctx.Scratch(PartKey(node, p)));
      out.base.push_back(addr);
    }
  }
  return out;
}

// Splits a non-constant B into its scratch parts when the precision needs more than one.
absl::StatusOr<BParts> PrepareB(const Node& node, CodegenContext& ctx) {
  TPUSIM_ASSIGN_OR_RETURN(BParts parts, GetBParts(node, ctx));
  const std::string& b = node.inputs[1];
  if (!ctx.ValueOf(b).constant.has_value() && parts.base.size() > 1) {
    TPUSIM_ASSIGN_OR_RETURN(uint64_t src, ctx.F32Region(b));
    EmitSplitToBf16Parts(ctx, src, parts.base, static_cast<uint64_t>(NumElements(ctx.ShapeOf(b))));
  }
  return parts;
}

// B part views for element offset `b_off` with (k, n) strides.
std::vector<DramView> PartViews(const BParts& parts, uint64_t b_off, uint64_t k_stride, uint64_t n_stride) {
  const uint64_t bytes = parts.dtype == isa::DType::BF16 ? kBf16Bytes : kF32Bytes;
  std::vector<DramView> views;
  for (uint64_t base : parts.base) views.push_back({base + b_off * bytes, k_stride, n_stride});
  return views;
}

}  // namespace

absl::Status CheckUbHoldsGemm(const Node& node, CodegenContext& ctx) {
  if (ctx.ub_rows() < GemmMinUbRows(ctx.precision())) {
    return absl::ResourceExhaustedError(absl::StrCat(NodeLabel(node), ": ", std::string(PrecisionName(ctx.precision())),
                                                     " precision needs at least ", GemmMinUbRows(ctx.precision()),
                                                     " UB rows, arch ", ctx.arch().name(), " has ", ctx.ub_rows()));
  }
  return absl::OkStatus();
}

absl::Status PlanGemmNode(const Node& node, CodegenContext& ctx) {
  TPUSIM_RETURN_IF_ERROR(CheckOperands(node, ctx));
  TPUSIM_RETURN_IF_ERROR(CheckUbHoldsGemm(node, ctx));
  TPUSIM_RETURN_IF_ERROR(ctx.F32Region(node.inputs[0]).status());
  if (HasInput(node, 2)) TPUSIM_RETURN_IF_ERROR(ctx.F32Region(node.inputs[2]).status());
  if (const FusedEpilogue* fused = ctx.FusionOf(node.name); fused != nullptr && !fused->bias.empty()) {
    TPUSIM_RETURN_IF_ERROR(ctx.F32Region(fused->bias).status());
  }
  const std::string& b = node.inputs[1];
  const int parts = NumBf16Parts(ctx.precision());
  if (ctx.ValueOf(b).constant.has_value() || parts == 1) return GetBParts(node, ctx).status();
  TPUSIM_RETURN_IF_ERROR(ctx.F32Region(b).status());
  const uint64_t n = static_cast<uint64_t>(NumElements(ctx.ShapeOf(b)));
  for (int p = 0; p < parts; ++p) ctx.AllocateScratch(PartKey(node, p), n * kBf16Bytes);
  return absl::OkStatus();
}

absl::Status EmitMatMulNode(const Node& node, CodegenContext& ctx) {
  Shape a = ctx.ShapeOf(node.inputs[0]), b = ctx.ShapeOf(node.inputs[1]);
  // A fused epilogue (lower_fused.cc) writes the chain's last value instead of this node's output.
  const FusedEpilogue* fused = ctx.FusionOf(node.name);
  const std::string& y_name = fused != nullptr ? fused->output : node.outputs[0];
  GemmEpilogue epilogue;
  if (fused != nullptr) {
    epilogue.func = fused->func;
    if (!fused->bias.empty()) {
      TPUSIM_ASSIGN_OR_RETURN(uint64_t bias_addr, ctx.F32Region(fused->bias));
      epilogue.bias = DramView{bias_addr, 0, 1};
    }
  }
  const Shape& y_shape = ctx.ShapeOf(y_name);
  if (a.empty() || b.empty()) {
    return absl::InvalidArgumentError(absl::StrCat(NodeLabel(node), ": MatMul operands must have rank >= 1"));
  }
  if (a.size() == 1) a.insert(a.begin(), 1);
  if (b.size() == 1) b.push_back(1);
  const uint64_t M = a[a.size() - 2], K = a.back(), N = b.back();
  if (static_cast<int64_t>(K) != b[b.size() - 2]) {
    return absl::InvalidArgumentError(absl::StrCat(NodeLabel(node), ": inner dimensions differ: A ",
                                                   ShapeToString(ctx.ShapeOf(node.inputs[0])), ", B ",
                                                   ShapeToString(ctx.ShapeOf(node.inputs[1]))));
  }
  // Output batch dims and each operand's element stride per batch dim (0 = broadcast).
  const size_t rank = std::max(a.size(), b.size()) - 2;
  std::vector<uint64_t> batch(rank), a_stride(rank), b_stride(rank);
  uint64_t a_run = M * K, b_run = K * N;
  bool a_full = true, b_varies = false;
  for (size_t i = 0; i < rank; ++i) {
    const size_t d = rank - 1 - i;  // innermost batch dim first
    const int64_t ad = i + 2 < a.size() ? a[a.size() - 3 - i] : 1;
    const int64_t bd = i + 2 < b.size() ? b[b.size() - 3 - i] : 1;
    if (ad != bd && ad != 1 && bd != 1) {
      return absl::InvalidArgumentError(absl::StrCat(NodeLabel(node), ": batch dimensions do not broadcast: A ",
                                                     ShapeToString(a), ", B ", ShapeToString(b)));
    }
    batch[d] = static_cast<uint64_t>(std::max(ad, bd));
    a_stride[d] = ad == 1 ? 0 : a_run;
    b_stride[d] = bd == 1 ? 0 : b_run;
    a_full = a_full && (ad == static_cast<int64_t>(batch[d]));
    b_varies = b_varies || (bd != 1);
    a_run *= static_cast<uint64_t>(ad);
    b_run *= static_cast<uint64_t>(bd);
  }
  uint64_t batches = 1;
  for (uint64_t d : batch) batches *= d;
  if (static_cast<int64_t>(batches * M * N) != NumElements(y_shape)) {
    return absl::InvalidArgumentError(absl::StrCat(NodeLabel(node), ": output shape ", ShapeToString(y_shape),
                                                   " does not match A ", ShapeToString(a), " x B ", ShapeToString(b)));
  }
  if (batches * M * N == 0) return absl::OkStatus();
  if (K == 0) return absl::UnimplementedError(absl::StrCat(NodeLabel(node), ": empty reduction (K = 0)"));

  TPUSIM_ASSIGN_OR_RETURN(uint64_t a_addr, ctx.F32Region(node.inputs[0]));
  TPUSIM_ASSIGN_OR_RETURN(uint64_t y_addr, ctx.F32Region(y_name));
  TPUSIM_ASSIGN_OR_RETURN(BParts parts, PrepareB(node, ctx));
  GemmOperands g;
  g.n = N;
  g.k = K;
  g.b_dtype = parts.dtype;
  if (!b_varies && a_full) {  // one GEMM over [batch*M, K]
    g.m = batches * M;
    g.a = {a_addr, K, 1};
    g.b_parts = PartViews(parts, 0, N, 1);
    g.y = {y_addr, N, 1};
    EmitGemm(ctx, g, epilogue);
    return absl::OkStatus();
  }
  std::vector<uint64_t> idx(rank, 0);
  for (uint64_t bi = 0; bi < batches; ++bi) {
    uint64_t a_off = 0, b_off = 0;
    for (size_t d = 0; d < rank; ++d) {
      a_off += idx[d] * a_stride[d];
      b_off += idx[d] * b_stride[d];
    }
    g.m = M;
    g.a = {a_addr + a_off * kF32Bytes, K, 1};
    g.b_parts = PartViews(parts, b_off, N, 1);
    g.y = {y_addr + bi * M * N * kF32Bytes, N, 1};
    EmitGemm(ctx, g, epilogue);
    for (size_t d = rank; d-- > 0;) {  // odometer, innermost fastest
      if (++idx[d] < batch[d]) break;
      idx[d] = 0;
    }
  }
  return absl::OkStatus();
}

absl::Status EmitGemmNode(const Node& node, CodegenContext& ctx) {
  const Shape& a = ctx.ShapeOf(node.inputs[0]);
  const Shape& b = ctx.ShapeOf(node.inputs[1]);
  if (a.size() != 2 || b.size() != 2) {
    return absl::InvalidArgumentError(absl::StrCat(NodeLabel(node), ": Gemm needs 2-D A and B, got ",
                                                   ShapeToString(a), " and ", ShapeToString(b)));
  }
  TPUSIM_ASSIGN_OR_RETURN(int64_t trans_a, node.GetInt("transA", 0));
  TPUSIM_ASSIGN_OR_RETURN(int64_t trans_b, node.GetInt("transB", 0));
  TPUSIM_ASSIGN_OR_RETURN(float alpha, node.GetFloat("alpha", 1.0f));
  TPUSIM_ASSIGN_OR_RETURN(float beta, node.GetFloat("beta", 1.0f));
  const uint64_t M = trans_a ? a[1] : a[0], K = trans_a ? a[0] : a[1];
  const uint64_t N = trans_b ? b[0] : b[1], Kb = trans_b ? b[1] : b[0];
  if (K != Kb) {
    return absl::InvalidArgumentError(absl::StrCat(NodeLabel(node), ": inner dimensions differ: A ", ShapeToString(a),
                                                   " (transA=", trans_a, "), B ", ShapeToString(b),
                                                   " (transB=", trans_b, ")"));
  }
  if (M * N == 0) return absl::OkStatus();
  if (K == 0) return absl::UnimplementedError(absl::StrCat(NodeLabel(node), ": empty reduction (K = 0)"));

  GemmEpilogue e;
  e.alpha = alpha;
  e.beta = beta;
  if (HasInput(node, 2) && beta != 0.0f) {
    Shape c = ctx.ShapeOf(node.inputs[2]);
    if (c.size() > 2) {
      return absl::InvalidArgumentError(absl::StrCat(NodeLabel(node), ": C ", ShapeToString(c), " has rank > 2"));
    }
    while (c.size() < 2) c.insert(c.begin(), 1);
    if ((c[0] != 1 && static_cast<uint64_t>(c[0]) != M) || (c[1] != 1 && static_cast<uint64_t>(c[1]) != N)) {
      return absl::InvalidArgumentError(absl::StrCat(NodeLabel(node), ": C ", ShapeToString(ctx.ShapeOf(node.inputs[2])),
                                                     " does not broadcast to [", M, ",", N, "]"));
    }
    TPUSIM_ASSIGN_OR_RETURN(uint64_t c_addr, ctx.F32Region(node.inputs[2]));
    e.c = DramView{c_addr, c[0] == 1 ? 0 : static_cast<uint64_t>(c[1]), c[1] == 1 ? 0u : 1u};
  }
  TPUSIM_ASSIGN_OR_RETURN(uint64_t a_addr, ctx.F32Region(node.inputs[0]));
  TPUSIM_ASSIGN_OR_RETURN(uint64_t y_addr, ctx.F32Region(node.outputs[0]));
  TPUSIM_ASSIGN_OR_RETURN(BParts parts, PrepareB(node, ctx));
  GemmOperands g;
  g.m = M;
  g.n = N;
  g.k = K;
  g.a = trans_a ? DramView{a_addr, 1, M} : DramView{a_addr, K, 1};
  g.b_parts = trans_b ? PartViews(parts, 0, 1, K) : PartViews(parts, 0, N, 1);
  g.b_dtype = parts.dtype;
  g.y = {y_addr, N, 1};
  EmitGemm(ctx, g, e);
  return absl::OkStatus();
}

}  // namespace tpusim::compiler::codegen
