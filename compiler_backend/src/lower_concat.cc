// Concat: each input is one strided copy into its slab of the output, viewed as [outer, axis x inner]
// (outer = the dims before `axis`): rows of len_k x inner elements, placed at the running axis offset.
#include <string>
#include <vector>

#include "absl/status/status.h"
#include "absl/strings/str_cat.h"
#include "codegen_copy.h"
#include "lowering.h"
#include "tpusim/isa/status_macros.h"

namespace tpusim::compiler::codegen {

absl::Status EmitConcatNode(const Node& node, CodegenContext& ctx) {
  if (node.inputs.empty() || node.outputs.empty() || node.outputs[0].empty()) {
    return absl::InvalidArgumentError(absl::StrCat(NodeLabel(node), ": needs inputs and an output"));
  }
  TPUSIM_RETURN_IF_ERROR(ctx.RequireFloat(node, node.outputs[0]));
  const Shape& y = ctx.ShapeOf(node.outputs[0]);
  TPUSIM_ASSIGN_OR_RETURN(uint64_t out, ctx.F32Region(node.outputs[0]));
  TPUSIM_ASSIGN_OR_RETURN(int64_t axis, node.GetInt("axis", node.opset < 4 ? std::optional<int64_t>(1) : std::nullopt));
  const int64_t rank = static_cast<int64_t>(y.size());
  if (axis < -rank || axis >= rank) {
    return absl::InvalidArgumentError(absl::StrCat(NodeLabel(node), ": axis ", axis, " is out of range for ", ShapeToString(y)));
  }
  if (axis < 0) axis += rank;
  uint64_t outer = 1, inner = 1;
  for (int64_t d = 0; d < rank; ++d) {
    if (d < axis) outer *= static_cast<uint64_t>(y[d]);
    if (d > axis) inner *= static_cast<uint64_t>(y[d]);
  }
  const uint64_t out_row = static_cast<uint64_t>(y[axis]) * inner;
  uint64_t offset = 0;  // elements into each output row
  for (const std::string& name : node.inputs) {
    if (name.empty()) return absl::InvalidArgumentError(absl::StrCat(NodeLabel(node), ": missing input"));
    TPUSIM_RETURN_IF_ERROR(ctx.RequireFloat(node, name));
    const Shape& x = ctx.ShapeOf(name);
    if (x.size() != y.size()) {
      return absl::InvalidArgumentError(absl::StrCat(NodeLabel(node), ": input ", ShapeToString(x),
                                                     " does not match the output ", ShapeToString(y)));
    }
    TPUSIM_ASSIGN_OR_RETURN(uint64_t in, ctx.F32Region(name));
    const uint64_t row = static_cast<uint64_t>(x[axis]) * inner;
    if (offset + row > out_row) {
      return absl::InvalidArgumentError(absl::StrCat(NodeLabel(node), ": inputs overflow the output ", ShapeToString(y)));
    }
    EmitStridedCopy(ctx, in, out + offset * kF32Bytes, {{outer, static_cast<int64_t>(row), out_row}, {row, 1, 1}});
    offset += row;
  }
  return absl::OkStatus();
}

}  // namespace tpusim::compiler::codegen
