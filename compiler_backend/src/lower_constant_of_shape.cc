// ConstantOfShape on the TPU, when its shape is known at compile time (a constant, or a graph input the
// session feeds at compile time: input 0 is a compile-time operand) but the node was not folded (the
// session folds constant shapes of up to 2^16 elements before placement, fold_shapes.cc): one vector
// fill of a UB row stored over the output (EmitFill). Lowered values: any float32, and int32 zero,
// whose bit pattern is fp32 +0 (so the int32 output is exact). Other values (int64, nonzero int32, ...)
// stay on the CPU kernel (runtime/src/cpu_kernels_shape.cc).
#include <string>
#include <vector>

#include "absl/status/status.h"
#include "absl/strings/str_cat.h"
#include "internal.h"
#include "lower_conv.h"
#include "lowering.h"
#include "shape_functions.h"
#include "tpusim/isa/status_macros.h"

namespace tpusim::compiler {
namespace {

// The `value` attribute (nullptr: absent, which means float32 0).
const Tensor* FillValueOf(const Node& node) {
  auto it = node.attrs.find("value");
  return it == node.attrs.end() ? nullptr : std::get_if<Tensor>(&it->second);
}

}  // namespace

namespace detail {

bool FillsInt32Zeros(const Node& node) {
  const Tensor* v = FillValueOf(node);
  return node.op_type == "ConstantOfShape" && v != nullptr && v->dtype() == DataType::kInt32 &&
         v->num_elements() == 1 && v->as<int32_t>()[0] == 0;
}

absl::Status CheckConstantOfShapeSupport(const Node& node) {
  const Tensor* v = FillValueOf(node);
  if (v != nullptr && v->num_elements() != 1) {
    return absl::UnimplementedError("ConstantOfShape needs a one-element value (runs on the CPU)");
  }
  if (v == nullptr || v->dtype() == DataType::kFloat32 || FillsInt32Zeros(node)) return absl::OkStatus();
  return absl::UnimplementedError(absl::StrCat("ConstantOfShape with a ", std::string(DataTypeName(v->dtype())),
                                               " value is not supported on the TPU (float32 or int32 zero only)"));
}

absl::StatusOr<Shape> ConstantOfShapeShape(const Node& node, const std::vector<Shape>& in, const Graph& graph) {
  (void)in;
  const Value* s = node.inputs.empty() ? nullptr : graph.FindValue(node.inputs[0]);
  if (s == nullptr || !s->constant.has_value()) {
    return absl::UnimplementedError(absl::StrCat(NodeLabel(node), ": the output shape is the value of input 0, "
                                                                  "known at run time only"));
  }
  const Tensor& t = *s->constant;
  if (t.dtype() != DataType::kInt64 || t.shape().size() != 1) {
    return absl::InvalidArgumentError(absl::StrCat(NodeLabel(node), ": input must be a 1-D int64 tensor"));
  }
  Shape out(t.as<int64_t>(), t.as<int64_t>() + t.num_elements());
  for (int64_t d : out) {
    if (d < 0) {
      return absl::InvalidArgumentError(absl::StrCat(NodeLabel(node), ": negative dim in ", ShapeToString(out)));
    }
  }
  return out;
}

}  // namespace detail

namespace codegen {

absl::Status EmitConstantOfShapeNode(const Node& node, CodegenContext& ctx) {
  if (node.outputs.empty() || node.outputs[0].empty()) {
    return absl::InvalidArgumentError(absl::StrCat(NodeLabel(node), ": needs an output"));
  }
  TPUSIM_RETURN_IF_ERROR(detail::CheckConstantOfShapeSupport(node));
  const std::string& out = node.outputs[0];
  if (!detail::FillsInt32Zeros(node)) TPUSIM_RETURN_IF_ERROR(ctx.RequireFloat(node, out));
  const Tensor* v = FillValueOf(node);
  const float value = v != nullptr && v->dtype() == DataType::kFloat32 ? v->as<float>()[0] : 0.0f;
  TPUSIM_ASSIGN_OR_RETURN(uint64_t addr, ctx.F32Region(out));
  EmitFill(ctx, addr, static_cast<uint64_t>(NumElements(ctx.ShapeOf(out))), value);
  return absl::OkStatus();
}

}  // namespace codegen
}  // namespace tpusim::compiler
