// Layout-only ops. Reshape, Flatten, Identity, Squeeze and Unsqueeze keep the row-major bytes, so
// their output aliases the input's frame region and costs no instructions; only when the output already
// has a region of its own (it is a graph output) is the data copied through the UB. (Constant nodes
// need no lowering: the frontend folds them into constant values, and codegen skips any node whose
// outputs are all constants.)
#include <string>

#include "absl/status/status.h"
#include "absl/strings/str_cat.h"
#include "codegen_vector.h"
#include "lowering.h"
#include "tpusim/isa/status_macros.h"

namespace tpusim::compiler::codegen {

absl::Status PlanNothing(const Node& node, CodegenContext& ctx) { return absl::OkStatus(); }

absl::Status EmitAliasNode(const Node& node, CodegenContext& ctx) {
  if (node.inputs.empty() || node.inputs[0].empty() || node.outputs.empty() || node.outputs[0].empty()) {
    return absl::InvalidArgumentError(absl::StrCat(NodeLabel(node), ": needs a data input and an output"));
  }
  const std::string& in = node.inputs[0];
  const std::string& out = node.outputs[0];
  TPUSIM_RETURN_IF_ERROR(ctx.RequireFloat(node, in));
  TPUSIM_RETURN_IF_ERROR(ctx.RequireFloat(node, out));
  const int64_t n = NumElements(ctx.ShapeOf(in));
  if (n != NumElements(ctx.ShapeOf(out))) {
    return absl::InvalidArgumentError(absl::StrCat(NodeLabel(node), ": output ", ShapeToString(ctx.ShapeOf(out)),
                                                   " does not hold the input's ", n, " elements"));
  }
  TPUSIM_ASSIGN_OR_RETURN(uint64_t src, ctx.F32Region(in));
  TPUSIM_ASSIGN_OR_RETURN(uint64_t dst, ctx.F32Region(out));
  if (src != dst) EmitFlat(ctx, std::nullopt, {FlatOperand{src, false}}, dst, static_cast<uint64_t>(n));
  return absl::OkStatus();
}

}  // namespace tpusim::compiler::codegen
