// Streamed global pools (lower_pool_global.h).
#include "lower_pool_global.h"

#include <algorithm>
#include <vector>

namespace tpusim::compiler::codegen {

bool EmitGlobalPoolStreamed(CodegenContext& ctx, uint64_t in, uint64_t out, uint64_t groups, uint64_t hw, bool mean) {
  if (!ctx.overlapped() || groups == 0 || hw == 0 || hw > kMaxInstRows) return false;
  const uint64_t L = ctx.lanes(), chunks = (groups + L - 1) / L;
  if (chunks > kMaxInstRows || chunks + 2 * hw > ctx.ub_rows()) return false;
  UbAllocator ub = ctx.NewUb();
  const uint64_t result = ub.Take(chunks);
  const uint64_t regions = std::min(chunks, ub.free() / hw);
  std::vector<uint64_t> data(regions);
  for (uint64_t& r : data) r = ub.Take(hw);
  auto load = [&](uint64_t c) {
    const uint64_t g0 = c * L, nl = std::min(L, groups - g0);
    ctx.Load(isa::DType::F32, DramView{in + g0 * hw * kF32Bytes, 1, hw}, data[c % regions], hw, nl);
  };
  // Every region's LOAD before the first VECTOR: the token scheduler then covers them with one SIGNAL.
  for (uint64_t c = 0; c < regions; ++c) load(c);
  for (uint64_t c = 0; c < chunks; ++c) {
    ctx.Vector(mean ? isa::VectorOp::ReduceSum : isa::VectorOp::ReduceMax, result + c, data[c % regions], 0, hw);
    if (c + regions < chunks) load(c + regions);
  }
  if (mean) ctx.Vector(isa::VectorOp::MulImm, result, result, 0, chunks, false, 1.0f / static_cast<float>(hw));
  const uint64_t full = groups / L;
  if (full > 0) ctx.Store(isa::DType::F32, DramView{out, L, 1}, result, full, L);
  if (groups % L != 0) ctx.Store(isa::DType::F32, DramView{out + full * L * kF32Bytes, 0, 1}, result + full, 1, groups % L);
  return true;
}

}  // namespace tpusim::compiler::codegen
