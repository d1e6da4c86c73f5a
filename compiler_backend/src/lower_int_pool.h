// int8 / uint8 MaxPool in float mode (lower_int_pool.cc), reached through lower_int_elementwise.cc's
// IsIntElementwiseNode / CheckIntElementwiseSupport / IntElementwiseLowering.
#pragma once

#include "absl/status/status.h"
#include "codegen_context.h"
#include "tpusim/compiler_backend/ir.h"

namespace tpusim::compiler::detail {
// Unimplemented with the reason unless: one output (no Indices) of x's type, x of rank 4, and the
// float MaxPool's attribute rules (CheckPoolOrMiscSupport) hold.
absl::Status CheckIntMaxPoolSupport(const Node& node, const Graph& graph);
}  // namespace tpusim::compiler::detail

namespace tpusim::compiler::codegen {
// Plan: the padded fp32 image scratch and the output's bytes. Emit: the pooling (file comment).
absl::Status PlanIntMaxPool(const Node& node, CodegenContext& ctx);
absl::Status EmitIntMaxPool(const Node& node, CodegenContext& ctx);
}  // namespace tpusim::compiler::codegen
