// Add, Sub, Mul, Div with multidirectional (numpy) broadcasting, and the one-input ops Relu, Sigmoid,
// Tanh, Exp, Log, Sqrt, Reciprocal, Abs, Erf (one vector op each), Neg (mul_imm -1, exact) and
// LeakyRelu (leaky_relu with imm = alpha, default 0.01).
//
// The output shape's dimensions are coalesced: size-1 dims are dropped and neighbours merge where
// every operand (and the output) is linear across both, so [3,4,5] + [5] becomes a [12, 5] problem and
// equal shapes become one flat run. Then:
//   - flat: when the innermost dim is contiguous or broadcast (stride 1 or 0) for every operand and
//     spans at least a UB row (or is the only dim), it is streamed as full UB rows of L elements plus
//     one partial row (EmitFlat), once per index of the outer dims, unless a block needs fewer DMAs
//     (many short rows: [300, 40] + [40] is 300 flat rounds but 5 lane chunks as a block);
//   - block: otherwise the last two dims are UB rows x lanes with each operand's own strides (0 on
//     broadcast dims), once per index of the outer dims.
#include <algorithm>
#include <map>
#include <string>
#include <vector>

#include "absl/status/status.h"
#include "absl/strings/str_cat.h"
#include "codegen_vector.h"
#include "lowering.h"
#include "tpusim/isa/isa.h"
#include "tpusim/isa/status_macros.h"

namespace tpusim::compiler::codegen {
namespace {

const std::map<std::string, isa::VectorOp>& OpTable() {
  using isa::VectorOp;
  static const auto* table = new std::map<std::string, VectorOp>{
      {"Add", VectorOp::Add},           {"Sub", VectorOp::Sub},   {"Mul", VectorOp::Mul},
      {"Div", VectorOp::Div},           {"Relu", VectorOp::Relu}, {"Sigmoid", VectorOp::Sigmoid},
      {"Tanh", VectorOp::Tanh},         {"Exp", VectorOp::Exp},   {"Log", VectorOp::Log},
      {"Sqrt", VectorOp::Sqrt},         {"Reciprocal", VectorOp::Reciprocal},
      {"Abs", VectorOp::Abs},           {"Erf", VectorOp::Erf},   {"Neg", VectorOp::MulImm},
      {"LeakyRelu", VectorOp::LeakyRelu},
  };
  return *table;
}

// The imm operand of the node's vector op (Imm ops only).
absl::StatusOr<float> ImmOf(const Node& node) {
  if (node.op_type == "Neg") return -1.0f;
  if (node.op_type == "LeakyRelu") return node.GetFloat("alpha", 0.01f);
  return 0.0f;
}

}  // namespace

absl::StatusOr<std::vector<BroadcastDim>> CoalesceBroadcast(const Node& node, const Shape& out, const std::vector<Shape>& in) {
  std::vector<BroadcastDim> dims(out.size());
  uint64_t out_run = 1;
  std::vector<uint64_t> in_run(in.size(), 1);
  for (size_t i = out.size(); i-- > 0;) {
    const size_t from_end = out.size() - 1 - i;
    dims[i].size = static_cast<uint64_t>(out[i]);
    dims[i].out_stride = out_run;
    out_run *= dims[i].size;
    for (size_t k = 0; k < in.size(); ++k) {
      const int64_t d = from_end < in[k].size() ? in[k][in[k].size() - 1 - from_end] : 1;
      if (d != out[i] && d != 1) {
        return absl::InvalidArgumentError(absl::StrCat(NodeLabel(node), ": input ", ShapeToString(in[k]),
                                                       " does not broadcast to the output ", ShapeToString(out)));
      }
      dims[i].in_stride.push_back(d == 1 ? 0 : in_run[k]);
      in_run[k] *= static_cast<uint64_t>(d);
    }
  }
  for (size_t k = 0; k < in.size(); ++k) {
    if (in[k].size() > out.size()) {
      return absl::InvalidArgumentError(absl::StrCat(NodeLabel(node), ": input ", ShapeToString(in[k]),
                                                     " has a higher rank than the output ", ShapeToString(out)));
    }
  }
  std::vector<BroadcastDim> merged;
  for (const BroadcastDim& d : dims) {
    if (d.size == 1) continue;
    if (!merged.empty()) {
      BroadcastDim& outer = merged.back();
      bool linear = outer.out_stride == d.out_stride * d.size;
      for (size_t k = 0; k < in.size(); ++k) linear = linear && outer.in_stride[k] == d.in_stride[k] * d.size;
      if (linear) {
        outer.size *= d.size;
        outer.out_stride = d.out_stride;
        outer.in_stride = d.in_stride;
        continue;
      }
    }
    merged.push_back(d);
  }
  if (merged.empty()) merged.push_back(BroadcastDim{1, 1, std::vector<uint64_t>(in.size(), 0)});
  return merged;
}

absl::Status EmitElementwiseNode(const Node& node, CodegenContext& ctx) {
  auto it = OpTable().find(node.op_type);
  if (it == OpTable().end()) {
    return absl::UnimplementedError(absl::StrCat(NodeLabel(node), ": not an elementwise op"));
  }
  const isa::VectorOp op = it->second;
  TPUSIM_ASSIGN_OR_RETURN(const float imm, ImmOf(node));
  const size_t arity = isa::VectorOpArity(op) == isa::VectorArity::Binary ? 2 : 1;
  if (node.inputs.size() != arity || node.outputs.empty() || node.outputs[0].empty()) {
    return absl::InvalidArgumentError(absl::StrCat(NodeLabel(node), ": expects ", arity, " input(s) and one output"));
  }
  std::vector<Shape> shapes;
  std::vector<uint64_t> addrs;
  for (const std::string& name : node.inputs) {
    if (name.empty()) return absl::InvalidArgumentError(absl::StrCat(NodeLabel(node), ": missing input"));
    TPUSIM_RETURN_IF_ERROR(ctx.RequireFloat(node, name));
    shapes.push_back(ctx.ShapeOf(name));
    TPUSIM_ASSIGN_OR_RETURN(uint64_t addr, ctx.F32Region(name));
    addrs.push_back(addr);
  }
  TPUSIM_RETURN_IF_ERROR(ctx.RequireFloat(node, node.outputs[0]));
  const Shape& out_shape = ctx.ShapeOf(node.outputs[0]);
  TPUSIM_ASSIGN_OR_RETURN(uint64_t out_addr, ctx.F32Region(node.outputs[0]));
  if (NumElements(out_shape) == 0) return absl::OkStatus();
  TPUSIM_ASSIGN_OR_RETURN(std::vector<BroadcastDim> dims, CoalesceBroadcast(node, out_shape, shapes));

  const BroadcastDim& last = dims.back();
  bool flat = dims.size() == 1 || last.size >= ctx.lanes();
  for (uint64_t s : last.in_stride) flat = flat && s <= 1;
  if (flat && dims.size() >= 2) {
    // Flat streams each row of the last two dims on its own (a few UB rows per DMA); a block streams
    // lane chunks of all those rows at once. Pick the one with fewer DMA rounds: every DMA pays the
    // DRAM latency, whatever its size.
    const uint64_t L = ctx.lanes(), rows = dims[dims.size() - 2].size;
    const uint64_t flat_rounds = rows * ((last.size >= L ? 1 : 0) + (last.size % L != 0 ? 1 : 0));
    const uint64_t chunk_rows = std::max<uint64_t>(1, ctx.ub_rows() / 4);
    const uint64_t block_rounds = (last.size + L - 1) / L * ((rows + chunk_rows - 1) / chunk_rows);
    flat = flat_rounds <= block_rounds;
  }
  const size_t inner = flat ? 1 : 2;  // dims handled inside one block
  const size_t outer_rank = dims.size() - inner;
  std::vector<uint64_t> idx(outer_rank, 0);
  uint64_t outer_count = 1;
  for (size_t d = 0; d < outer_rank; ++d) outer_count *= dims[d].size;

  for (uint64_t it_outer = 0; it_outer < outer_count; ++it_outer) {
    uint64_t out_off = 0;
    std::vector<uint64_t> in_off(addrs.size(), 0);
    for (size_t d = 0; d < outer_rank; ++d) {
      out_off += idx[d] * dims[d].out_stride;
      for (size_t k = 0; k < addrs.size(); ++k) in_off[k] += idx[d] * dims[d].in_stride[k];
    }
    if (flat) {
      std::vector<FlatOperand> in;
      for (size_t k = 0; k < addrs.size(); ++k) in.push_back({addrs[k] + in_off[k] * kF32Bytes, last.in_stride[k] == 0});
      EmitFlat(ctx, op, in, out_addr + out_off * kF32Bytes, last.size, imm);
    } else {
      const BroadcastDim& rows = dims[dims.size() - 2];
      VectorBlock block;
      block.op = op;
      block.imm = imm;
      for (size_t k = 0; k < addrs.size(); ++k) {
        block.in.push_back({addrs[k] + in_off[k] * kF32Bytes, rows.in_stride[k], last.in_stride[k]});
      }
      block.out = {out_addr + out_off * kF32Bytes, rows.out_stride, last.out_stride};
      block.rows = rows.size;
      block.lanes = last.size;
      EmitVectorBlock(ctx, block);
    }
    for (size_t d = outer_rank; d-- > 0;) {
      if (++idx[d] < dims[d].size) break;
      idx[d] = 0;
    }
  }
  return absl::OkStatus();
}

}  // namespace tpusim::compiler::codegen
