// Pow with a constant scalar exponent the vector unit computes as ONNX does (numpy's float32 power):
//   1 -> a copy, 2 -> x*x (mul with the chunk as both operands), 0.5 -> sqrt, -1 -> reciprocal.
// Each is one correctly rounded IEEE operation, so results equal powf's except pow(-Inf, 0.5) = +Inf
// (sqrt gives NaN) and pow(-0, 0.5) = +0 (sqrt gives -0, equal in value). Other exponents stay on the
// CPU (tpu_support.cc): exp(y * log(x)) is not faithful for negative bases.
#include <optional>
#include <vector>

#include "absl/status/status.h"
#include "absl/strings/str_cat.h"
#include "codegen_vector.h"
#include "internal.h"
#include "lowering.h"
#include "tpusim/isa/status_macros.h"

namespace tpusim::compiler::codegen {

absl::Status EmitPowNode(const Node& node, CodegenContext& ctx) {
  TPUSIM_ASSIGN_OR_RETURN(UnaryOperands io, DataInOut(node, ctx));
  const Value* e = node.inputs.size() == 2 ? &ctx.ValueOf(node.inputs[1]) : nullptr;
  if (e == nullptr || !e->constant.has_value()) {
    return absl::UnimplementedError(absl::StrCat(NodeLabel(node), ": the exponent is not a constant"));
  }
  absl::StatusOr<float> exponent = detail::ScalarAsFloat(*e->constant, "exponent");
  if (!exponent.ok()) {
    return absl::UnimplementedError(absl::StrCat(NodeLabel(node), ": ", exponent.status().message()));
  }
  const uint64_t n = static_cast<uint64_t>(NumElements(*io.out_shape));
  if (n != static_cast<uint64_t>(NumElements(*io.in_shape))) {
    return absl::InvalidArgumentError(absl::StrCat(NodeLabel(node), ": output ", ShapeToString(*io.out_shape),
                                                   " and base ", ShapeToString(*io.in_shape), " differ in size"));
  }
  const FlatOperand x{io.in, false};
  if (*exponent == 1.0f) {
    EmitFlat(ctx, std::nullopt, {x}, io.out, n);
  } else if (*exponent == 2.0f) {
    EmitFlat(ctx, std::nullopt, {x}, io.out, n, 0.0f, {VectorStep{isa::VectorOp::Mul}});
  } else if (*exponent == 0.5f) {
    EmitFlat(ctx, isa::VectorOp::Sqrt, {x}, io.out, n);
  } else if (*exponent == -1.0f) {
    EmitFlat(ctx, isa::VectorOp::Reciprocal, {x}, io.out, n);
  } else {
    return absl::UnimplementedError(absl::StrCat(NodeLabel(node), ": exponent ", *exponent, " has no TPU lowering"));
  }
  return absl::OkStatus();
}

}  // namespace tpusim::compiler::codegen
