// MaxPool with the planes and output rows merged into one DMA dimension (lower_pool_merged.cc).
// Private to compiler_backend/src.
#pragma once

#include <cstdint>
#include <string>

#include "absl/status/status.h"
#include "codegen_context.h"
#include "shape_functions.h"

namespace tpusim::compiler::codegen {

// Whether the merged form applies to a MaxPool over `planes` = N * C planes of geometry `p`: 2-D,
// dilation 1, in_h = out_h * stride_h, no window below a plane's last row, the rows and columns a
// window reaches beyond the image within the top padding / the left padding width (see the .cc).
bool UseMergedMaxPool(const detail::PoolDims& p);
// Plan phase: its scratch image (key `key`).
void PlanMergedMaxPool(const std::string& key, const detail::PoolDims& p, uint64_t planes, CodegenContext& ctx);
// Emit phase: Y (`out`, [planes][out_h][out_w]) = MaxPool(X at `in`).
absl::Status EmitMergedMaxPool(const std::string& key, const detail::PoolDims& p, uint64_t planes, uint64_t in,
                               uint64_t out, CodegenContext& ctx);

}  // namespace tpusim::compiler::codegen
