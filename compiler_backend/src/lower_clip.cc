// Clip: y = min(max(x, min), max) as max_imm then min_imm over the flat tensor, one pass. The bounds
// come from the attributes (opset < 11) or from constant scalar inputs (opset >= 11; a graph input used
// only there is a compile-time input, so its value is a constant here). An absent bound clamps nothing
// (as the ONNX reference's np.clip with ±inf), so ±Inf inputs pass unchanged; NaN stays NaN.
#include <optional>
#include <string>
#include <vector>

#include "absl/status/status.h"
#include "absl/strings/str_cat.h"
#include "codegen_vector.h"
#include "internal.h"
#include "lowering.h"
#include "tpusim/isa/status_macros.h"

namespace tpusim::compiler::codegen {
namespace {

// Bound `index` (1 = min, 2 = max) or std::nullopt when the node has none.
absl::StatusOr<std::optional<float>> Bound(const Node& node, size_t index, CodegenContext& ctx) {
  const std::string name = index == 1 ? "min" : "max";
  if (node.opset < 11) {
    if (node.attrs.count(name) == 0) return std::optional<float>();
    TPUSIM_ASSIGN_OR_RETURN(float v, node.GetFloat(name));
    return std::optional<float>(v);
  }
  if (index >= node.inputs.size() || node.inputs[index].empty()) return std::optional<float>();
  const Value& v = ctx.ValueOf(node.inputs[index]);
  if (!v.constant.has_value()) {
    return absl::UnimplementedError(absl::StrCat(NodeLabel(node), ": ", name, " '", node.inputs[index],
                                                 "' is not a constant"));
  }
  if (v.constant->dtype() != DataType::kFloat32) {
    return absl::UnimplementedError(absl::StrCat(NodeLabel(node), ": ", name, " is not float32"));
  }
  absl::StatusOr<float> value = detail::ScalarAsFloat(*v.constant, name);
  if (!value.ok()) return absl::InvalidArgumentError(absl::StrCat(NodeLabel(node), ": ", value.status().message()));
  return std::optional<float>(*value);
}

}  // namespace

absl::Status EmitClipNode(const Node& node, CodegenContext& ctx) {
  TPUSIM_ASSIGN_OR_RETURN(UnaryOperands io, DataInOut(node, ctx));
  TPUSIM_ASSIGN_OR_RETURN(std::optional<float> lo, Bound(node, 1, ctx));
  TPUSIM_ASSIGN_OR_RETURN(std::optional<float> hi, Bound(node, 2, ctx));
  std::vector<VectorStep> steps;
  if (lo.has_value()) steps.push_back({isa::VectorOp::MaxImm, *lo});
  if (hi.has_value()) steps.push_back({isa::VectorOp::MinImm, *hi});
  const uint64_t n = static_cast<uint64_t>(NumElements(*io.out_shape));
  if (steps.empty()) {
    EmitFlat(ctx, std::nullopt, {FlatOperand{io.in, false}}, io.out, n);
  } else {
    EmitFlat(ctx, steps[0].op, {FlatOperand{io.in, false}}, io.out, n, steps[0].imm,
             std::vector<VectorStep>(steps.begin() + 1, steps.end()));
  }
  return absl::OkStatus();
}

}  // namespace tpusim::compiler::codegen
