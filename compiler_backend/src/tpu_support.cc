// Which nodes the TPU codegen accepts: the op set, float32 data, tensor sizes and opset semantics.
#include <set>
#include <string>

#include "absl/status/status.h"
#include "absl/strings/str_cat.h"
#include "internal.h"
#include "tpusim/compiler_backend/compiler.h"
#include "tpusim/isa/status_macros.h"

namespace tpusim::compiler {
namespace {

// Largest tensor (elements) the codegen addresses; element offsets are 32-bit.
constexpr int64_t kMaxTpuElements = int64_t{1} << 31;

const std::set<std::string>& TpuOps() {
  static const auto* ops = new std::set<std::string>{
      "MatMul", "Gemm",    "Add",     "Sub",     "Mul",      "Div",      "Relu",     "Sigmoid",
      "Tanh",   "Softmax", "Flatten", "Reshape", "Identity", "Constant",
  };
  return *ops;
}

absl::Status NotSupported(const Node& node, const std::string& why) {
  return absl::UnimplementedError(absl::StrCat(node.op_type, " ", why));
}

// Inputs that carry data to the array or vector unit; Reshape's shape input is read at compile time.
bool IsDataInput(const Node& node, size_t index) { return !(node.op_type == "Reshape" && index == 1); }

absl::Status CheckTensor(const Node& node, const std::string& name, const Graph& graph) {
  const Value* v = graph.FindValue(name);
  if (v == nullptr) return NotSupported(node, absl::StrCat("refers to unknown value '", name, "'"));
  if (v->dtype != DataType::kFloat32) {
    return NotSupported(node, absl::StrCat("on ", std::string(DataTypeName(v->dtype)), " tensors is not supported on the TPU"));
  }
  if (v->shape.has_value() && NumElements(*v->shape) > kMaxTpuElements) {
    return NotSupported(node, absl::StrCat("on tensor '", name, "' with ", NumElements(*v->shape),
                                           " elements is not supported on the TPU (at most 2^31)"));
  }
  return absl::OkStatus();
}

// Opset < 7 Add/Sub/Mul broadcast B onto A at `axis`; the codegen broadcasts numpy-style, which agrees
// only when B is suffix-aligned.
absl::Status CheckLegacyBroadcast(const Node& node, const Graph& graph) {
  TPUSIM_ASSIGN_OR_RETURN(int64_t broadcast, node.GetInt("broadcast", 0));
  if (broadcast == 0 || node.attrs.count("axis") == 0 || node.inputs.size() != 2) return absl::OkStatus();
  const Value* a = graph.FindValue(node.inputs[0]);
  const Value* b = graph.FindValue(node.inputs[1]);
  TPUSIM_ASSIGN_OR_RETURN(int64_t axis, node.GetInt("axis"));
  if (a != nullptr && b != nullptr && a->shape.has_value() && b->shape.has_value() &&
      axis == static_cast<int64_t>(a->shape->size()) - static_cast<int64_t>(b->shape->size())) {
    return absl::OkStatus();
  }
  return NotSupported(node, "with opset-6 broadcasting at an inner axis is not supported on the TPU");
}

absl::Status Check(const Node& node, const Graph& graph, const std::set<std::string>& compile_time_inputs) {
  if (TpuOps().count(node.op_type) == 0) return NotSupported(node, "is not supported on the TPU");
  for (size_t i = 0; i < node.inputs.size(); ++i) {
    if (node.inputs[i].empty() || !IsDataInput(node, i)) continue;
    TPUSIM_RETURN_IF_ERROR(CheckTensor(node, node.inputs[i], graph));
  }
  for (const std::string& out : node.outputs) {
    if (!out.empty()) TPUSIM_RETURN_IF_ERROR(CheckTensor(node, out, graph));
  }
  if (node.op_type == "Reshape") {
    if (node.opset < 5) return NotSupported(node, "before opset 5 (shape as an attribute) is not supported on the TPU");
    const Value* shape = node.inputs.size() == 2 ? graph.FindValue(node.inputs[1]) : nullptr;
    if (shape == nullptr || (!shape->constant.has_value() && compile_time_inputs.count(node.inputs[1]) == 0)) {
      return NotSupported(node, "with a shape computed at run time is not supported on the TPU");
    }
  }
  if ((node.op_type == "Add" || node.op_type == "Sub" || node.op_type == "Mul" || node.op_type == "Div") &&
      node.opset < 7) {
    TPUSIM_RETURN_IF_ERROR(CheckLegacyBroadcast(node, graph));
  }
  return absl::OkStatus();
}

}  // namespace

// Softmax: both the opset < 13 semantics (coerce to 2-D at `axis`) and the opset >= 13 semantics (one
// axis) are supported. Every failure, including a malformed attribute, is reported as Unimplemented so
// that the session places the node on the CPU, whose kernel reports the real error.
absl::Status CheckTpuSupport(const Node& node, const Graph& graph) { return CheckTpuSupport(node, graph, {}); }

absl::Status CheckTpuSupport(const Node& node, const Graph& graph, const std::set<std::string>& compile_time_inputs) {
  absl::Status status = Check(node, graph, compile_time_inputs);
  if (status.ok() || absl::IsUnimplemented(status)) return status;
  return absl::UnimplementedError(
      absl::StrCat(node.op_type, " is not supported on the TPU: ", status.message()));
}

}  // namespace tpusim::compiler
