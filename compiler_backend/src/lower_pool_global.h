// GlobalAveragePool / GlobalMaxPool with every lane chunk in flight at once (lower_pool_global.cc).
// Private to compiler_backend/src.
#pragma once

#include <cstdint>

#include "codegen_context.h"

namespace tpusim::compiler::codegen {

// Y[g] = reduce over i < hw of X[g * hw + i] for g < groups (N * C), times fp32(1 / hw) when `mean`:
// per chunk of L groups one transposed LOAD (rows: the hw positions, lanes: the groups), one VECTOR
// reduce_sum / reduce_max into its own result row, then one mul_imm over all result rows and one STORE
// of them (plus one for a partial last row). The chunks take distinct UB regions while they fit
// (otherwise they rotate), so their LOADs go back to back instead of one DRAM latency per chunk; the
// arithmetic is lower_reduce.cc's single-chunk case instruction for instruction, so the results are
// its bits. Emits nothing and returns false unless the overlapped schedule and hw fit one chunk with
// at least two regions beside the result rows.
bool EmitGlobalPoolStreamed(CodegenContext& ctx, uint64_t in, uint64_t out, uint64_t groups, uint64_t hw, bool mean);

}  // namespace tpusim::compiler::codegen
