// Streaming fp32 blocks through the vector unit: LOAD operand rows, one VECTOR op (or none: a copy),
// STORE. Shared by the elementwise, layout and GEMM lowerings. Each call lays out the whole UB for
// itself; under kTokens it double-buffers the chunks, and the token scheduler orders its LOADs after
// whatever the previous op still does with those rows (CodegenContext::Emit).
#pragma once

#include <cstdint>
#include <optional>
#include <vector>

#include "codegen_context.h"
#include "tpusim/isa/instruction.h"

namespace tpusim::compiler::codegen {

// One output dimension of a broadcasting elementwise op after coalescing: its extent and the element
// stride of the output and of each operand (0 where the operand is broadcast).
struct BroadcastDim {
  uint64_t size = 1;
  uint64_t out_stride = 0;
  std::vector<uint64_t> in_stride;
};
// The output dims of a node with numpy-broadcast operands `in` (outermost first), with per-operand
// strides; size-1 dims dropped, neighbours merged where every view stays linear; at least one dim.
// InvalidArgument naming the node when an operand does not broadcast to `out` (lower_elementwise.cc).
absl::StatusOr<std::vector<BroadcastDim>> CoalesceBroadcast(const Node& node, const Shape& out,
                                                            const std::vector<Shape>& in);

// One more vector-unit step applied in place to a chunk after the block's op: Unary and Imm ops act
// on the chunk (imm for Imm ops); a Binary op takes the chunk as both operands (mul: x*x).
struct VectorStep {
  isa::VectorOp op;
  float imm = 0.0f;
};

// out(r, l) = then(op(in[0](r, l), in[1](r, l), imm)) for r < rows, l < lanes; all views fp32. `in`
// holds one operand (unary or imm op, or a copy when op is empty) or two (binary op); `then` are
// applied in order after op. Lanes are split into chunks of the UB row width and rows into chunks
// that fit the UB. An operand with row_stride 0 (the same row for every r) is loaded once per lane
// chunk and broadcast with b_bcast.
struct VectorBlock {
  std::optional<isa::VectorOp> op;
  float imm = 0.0f;
  std::vector<VectorStep> then;
  std::vector<DramView> in;
  DramView out;
  uint64_t rows = 0;
  uint64_t lanes = 0;
};
void EmitVectorBlock(CodegenContext& ctx, const VectorBlock& block);

// One operand of a flat elementwise op: `n` contiguous fp32 elements at addr, or one element (scalar)
// broadcast to all of them.
struct FlatOperand {
  uint64_t addr = 0;
  bool scalar = false;
};
// out[i] = then(op(in[0][i], in[1][i], imm)) for i < n (contiguous fp32 at out_addr), as full UB rows
// plus one partial row (`imm` and `then` as in VectorBlock).
void EmitFlat(CodegenContext& ctx, std::optional<isa::VectorOp> op, const std::vector<FlatOperand>& in,
              uint64_t out_addr, uint64_t n, float imm = 0.0f, const std::vector<VectorStep>& then = {});

// Splits the n contiguous fp32 values at src into parts.size() bf16 tensors (same layout): parts[p]
// gets p_p of numerics' split (SplitBf16Parts), rounded by the bf16 STORE.
void EmitSplitToBf16Parts(CodegenContext& ctx, uint64_t src, const std::vector<uint64_t>& parts, uint64_t n);

}  // namespace tpusim::compiler::codegen
