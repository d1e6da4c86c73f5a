// Vector-unit block streaming (codegen_vector.h).
#include "codegen_vector.h"

#include <algorithm>
#include <utility>

#include "tpusim/isa/isa.h"
#include "tpusim/isa/status_macros.h"

namespace tpusim::compiler::codegen {
namespace {

bool Commutative(isa::VectorOp op) {
  return op == isa::VectorOp::Add || op == isa::VectorOp::Mul || op == isa::VectorOp::Max ||
         op == isa::VectorOp::Min;
}

// Calls f(first_row, rows) for the full-row / partial-row split of n contiguous elements in rows of L.
template <typename F>
void ForFlatRows(uint64_t n, uint64_t lanes, F f) {
  uint64_t full = n / lanes;
  if (full > 0) f(0, full, lanes);
  if (n % lanes != 0) f(full, 1, n % lanes);
}

}  // namespace

void EmitVectorBlock(CodegenContext& ctx, const VectorBlock& block) {
  TPUSIM_CHECK(!block.in.empty() && block.in.size() <= 2, "EmitVectorBlock: one or two operands");
  if (block.rows == 0 || block.lanes == 0) return;
  std::vector<DramView> in = block.in;
  const bool binary = in.size() == 2;
  TPUSIM_CHECK(binary == (block.op.has_value() && isa::VectorOpArity(*block.op) == isa::VectorArity::Binary),
               "EmitVectorBlock: operand count does not match the op");
  if (binary && Commutative(*block.op) && in[0].row_stride == 0 && in[1].row_stride != 0) std::swap(in[0], in[1]);
  const bool bcast_b = binary && in[1].row_stride == 0 && block.rows > 1;

  // Buffers: one set per slot (two under kTokens: chunk i uses slot (phase + i) % 2, so chunk i+1's
  // LOADs overlap chunk i's VECTOR and STORE); a broadcast row per slot, alternating per lane chunk.
  const uint64_t slots = ctx.overlapped() ? 2 : 1;
  UbAllocator ub = ctx.NewUb();
  const uint64_t rows_per_chunk_row = binary && !bcast_b ? 2 : 1;
  uint64_t chunk = (ub.free() - (bcast_b ? slots : 0)) / (slots * rows_per_chunk_row);
  chunk = std::min({chunk, kMaxInstRows, block.rows});
  TPUSIM_CHECK(chunk >= 1, "EmitVectorBlock: UB too small");
  std::vector<uint64_t> a_row(slots), b_row(slots, 0);
  for (uint64_t s = 0; s < slots; ++s) {
    a_row[s] = ub.Take(chunk);
    if (binary) b_row[s] = ub.Take(bcast_b ? 1 : chunk);
  }

  uint64_t& phase = ctx.stream_phase();
  uint64_t lane_chunk = phase;
  for (uint64_t l0 = 0; l0 < block.lanes; l0 += ctx.lanes()) {
    const uint64_t nl = std::min<uint64_t>(ctx.lanes(), block.lanes - l0);
    const uint64_t bcast_row = b_row[lane_chunk++ % slots];
    if (bcast_b) ctx.Load(isa::DType::F32, in[1].Offset(0, l0), bcast_row, 1, nl);
    for (uint64_t r0 = 0; r0 < block.rows; r0 += chunk) {
      const uint64_t nr = std::min(chunk, block.rows - r0);
      const uint64_t slot = phase++ % slots;
      const uint64_t a = a_row[slot], b = bcast_b ? bcast_row : b_row[slot];
      ctx.Load(isa::DType::F32, in[0].Offset(r0, l0), a, nr, nl);
      if (binary && !bcast_b) ctx.Load(isa::DType::F32, in[1].Offset(r0, l0), b, nr, nl);
      if (block.op.has_value()) ctx.Vector(*block.op, a, a, b, nr, bcast_b, block.imm);
      for (const VectorStep& step : block.then) ctx.Vector(step.op, a, a, a, nr, false, step.imm);
      ctx.Store(isa::DType::F32, block.out.Offset(r0, l0), a, nr, nl);
    }
  }
}

void EmitFlat(CodegenContext& ctx, std::optional<isa::VectorOp> op, const std::vector<FlatOperand>& in,
              uint64_t out_addr, uint64_t n, float imm, const std::vector<VectorStep>& then) {
  const uint64_t L = ctx.lanes();
  ForFlatRows(n, L, [&](uint64_t first_row, uint64_t rows, uint64_t lanes) {
    VectorBlock block;
    block.op = op;
    block.imm = imm;
    block.then = then;
    for (const FlatOperand& o : in) {
      block.in.push_back(o.scalar ? DramView{o.addr, 0, 0} : DramView{o.addr + first_row * L * kF32Bytes, L, 1});
    }
    block.out = {out_addr + first_row * L * kF32Bytes, L, 1};
    block.rows = rows;
    block.lanes = lanes;
    EmitVectorBlock(ctx, block);
  });
}

void EmitSplitToBf16Parts(CodegenContext& ctx, uint64_t src, const std::vector<uint64_t>& parts, uint64_t n) {
  const uint64_t L = ctx.lanes();
  ForFlatRows(n, L, [&](uint64_t first_row, uint64_t rows, uint64_t lanes) {
    // x is double-buffered under kTokens (the LOAD writes it, the STOREs read it); t is compute-only.
    const uint64_t slots = ctx.overlapped() ? 2 : 1;
    UbAllocator ub = ctx.NewUb();
    const uint64_t chunk = std::min({ub.free() / (slots + 1), kMaxInstRows, rows});
    std::vector<uint64_t> xs(slots);
    for (uint64_t& x : xs) x = ub.Take(chunk);
    const uint64_t t = ub.Take(chunk);
    for (uint64_t r0 = 0; r0 < rows; r0 += chunk) {
      const uint64_t nr = std::min(chunk, rows - r0);
      const uint64_t row = first_row + r0;
      const uint64_t x = xs[ctx.stream_phase()++ % slots];
      ctx.Load(isa::DType::F32, {src + row * L * kF32Bytes, L, 1}, x, nr, lanes);
      for (size_t p = 0; p < parts.size(); ++p) {
        if (p > 0) {  // x <- x - bf16(x): the residual the next part represents
          ctx.Vector(isa::VectorOp::RoundBf16, t, x, x, nr);
          ctx.Vector(isa::VectorOp::Sub, x, x, t, nr);
        }
        ctx.Store(isa::DType::BF16, {parts[p] + row * L * kBf16Bytes, L, 1}, x, nr, lanes);
      }
    }
  });
}

}  // namespace tpusim::compiler::codegen
