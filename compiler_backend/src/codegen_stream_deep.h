// Deeply pipelined fp32 streams through the UB (the conv and pool lowerings' data movement).
//
// codegen_vector's EmitVectorBlock double-buffers: chunk i+2's LOAD waits for chunk i's STORE to
// complete, so a stream of small DMAs pays about one DRAM latency per chunk (on tpu-v4 Lat = 500
// cycles against ~10-50 cycles of transfer). A deep stream rotates many UB slots (kDeepSlots) so that
// up to that many chunks are in flight at once, and lets each side (every LOAD operand and the STORE)
// cut the chunk's rows at its own linear runs: the source may merge dims that the destination cannot
// (a padded copy loads many channels in one LOAD and stores one per channel). Private to
// compiler_backend/src; emit phase only.
#pragma once

#include <cstdint>
#include <optional>
#include <vector>

#include "codegen_context.h"
#include "codegen_copy.h"
#include "codegen_vector.h"
#include "tpusim/isa/instruction.h"

namespace tpusim::compiler::codegen {

// UB slots a deep stream rotates through (a chunk's LOADs, VECTORs and STORE use one slot).
inline constexpr uint64_t kDeepSlots = 4;
// Chunks whose LOADs are emitted ahead of the current chunk's STORE (< kDeepSlots - 1).
inline constexpr uint64_t kDeepAhead = 2;

// One fp32 operand of a deep stream: element (i_0, ..., i_{n-1}) at addr + sum_d i_d * strides[d] * 4.
// Strides are in elements and non-negative (0 broadcasts).
struct DeepTensor {
  uint64_t addr = 0;
  std::vector<int64_t> strides;
};

// out(i) = then(op(in[0](i), in[1](i), imm)) for every multi-index i < sizes (outermost first); a
// copy when op is empty (one operand). The last dim streams as UB lanes, the others as UB rows.
struct DeepStream {
  std::vector<uint64_t> sizes;
  std::vector<DeepTensor> in;  // one (unary, imm op, copy) or two (binary op) operands
  DeepTensor out;
  std::optional<isa::VectorOp> op;
  float imm = 0.0f;
  std::vector<VectorStep> then;
};

// Emits `s` as a deep stream and returns true, or emits nothing and returns false when it does not
// apply: the serial schedule (whose programs stay as they were), a negative or 32-bit-overflowing
// stride, or a last dim wider than the UB row that no divisor of at least 8 lanes splits.
bool EmitDeepStream(CodegenContext& ctx, const DeepStream& s);
// Several streams of the same op as one: their rows are concatenated, so chunks span them (the
// kernel offsets of an im2col). All or nothing: false (nothing emitted) if any does not apply.
bool EmitDeepStreams(CodegenContext& ctx, const std::vector<DeepStream>& streams);

// EmitStridedCopy's contract (codegen_copy.h), as a deep stream where it applies and through
// EmitStridedCopy otherwise.
void EmitDeepCopy(CodegenContext& ctx, uint64_t src, uint64_t dst, const std::vector<CopyDim>& dims);

// dst[i] = src[i] for i < n contiguous fp32 elements (EmitFlat's copy), as deep streams.
void EmitDeepFlatCopy(CodegenContext& ctx, uint64_t src, uint64_t dst, uint64_t n);

// EmitVectorBlock's contract (codegen_vector.h) as a deep stream where it applies, else EmitVectorBlock.
void EmitDeepVectorBlock(CodegenContext& ctx, const VectorBlock& block);

}  // namespace tpusim::compiler::codegen
