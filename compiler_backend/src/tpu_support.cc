// Which nodes the TPU codegen accepts: the op set, float32 data, tensor sizes and opset semantics.
#include <set>
#include <string>

#include "absl/status/status.h"
#include "absl/strings/str_cat.h"
#include "internal.h"
#include "shape_functions.h"
#include "lower_conv.h"
#include "lower_int8.h"
#include "lowering.h"
#include "rnn_internal.h"
#include "batchnorm_training.h"
#include "tpusim/compiler_backend/compiler.h"
#include "tpusim/isa/status_macros.h"

namespace tpusim::compiler {
namespace {

// Largest tensor (elements) the codegen addresses; element offsets are 32-bit.
constexpr int64_t kMaxTpuElements = int64_t{1} << 31;

const std::set<std::string>& TpuOpSet() {
  static const auto* ops = new std::set<std::string>{
      "MatMul",     "Gemm",      "Add",       "Sub",       "Mul",       "Div",        "Relu",    "Sigmoid",
      "Tanh",       "Exp",       "Log",       "Sqrt",      "Reciprocal", "Abs",       "Neg",     "Erf",
      "LeakyRelu",  "Clip",      "Pow",       "Softmax",   "Flatten",    "Reshape",   "Identity", "Squeeze",
      "Unsqueeze",  "Transpose", "Concat",    "Slice",     "Expand",     "ReduceSum", "ReduceMean",
      "ReduceMax",  "Constant",
      "Conv",       "BatchNormalization", "Pad",  // lower_conv*.cc
      "LSTM",       "GRU",       "RNN",  // unrolled at compile time (expand_rnn.cc)
      "MaxPool",    "AveragePool", "GlobalAveragePool", "GlobalMaxPool", "Split", "Gather", "PRelu",
      "LayerNormalization",  // lower_pool.cc, lower_misc.cc, lower_layernorm.cc
      "ConstantOfShape",     // lower_constant_of_shape.cc (when not folded before placement)
      "MatMulInteger", "QLinearMatMul", "ConvInteger", "QLinearConv",  // int8 mode (lower_int8*.cc)
      "QuantizeLinear", "DequantizeLinear",  // float mode, cvt_f2i / cvt_i2f (lower_quantize.cc)
  };
  return *ops;
}

absl::Status NotSupported(const Node& node, const std::string& why) {
  return absl::UnimplementedError(absl::StrCat(node.op_type, " ", why));
}

// What a compile-time operand holds, for messages.
std::string OperandName(const Node& node, size_t index) {
  if (node.op_type == "Reshape" || node.op_type == "Expand" || node.op_type == "ConstantOfShape") return "shape";
  if (node.op_type == "Slice") {
    static const char* const kNames[] = {"data", "starts", "ends", "axes", "steps"};
    return index < 5 ? kNames[index] : "input";
  }
  if (node.op_type == "Clip") return index == 1 ? "min" : "max";
  if (node.op_type == "Pad") return index == 1 ? "pads" : index == 2 ? "constant_value" : "axes";
  if (node.op_type == "BatchNormalization") {
    static const char* const kBnNames[] = {"X", "scale", "B", "mean", "var"};
    return index < 5 ? kBnNames[index] : "input";
  }
  if (node.op_type == "Pow") return "exponent";
  return "axes";
}

// Pow (lower_pow.cc): float32 base; the exponent a constant scalar of any numeric type, a float32
// constant tensor, or a float32 run-time tensor (numpy broadcasting).
absl::Status CheckPow(const Node& node, const Graph& graph) {
  const Value* e = node.inputs.size() == 2 ? graph.FindValue(node.inputs[1]) : nullptr;
  if (e == nullptr) return NotSupported(node, "needs inputs X and Y");
  if (e->constant.has_value() && e->constant->num_elements() == 1) {
    absl::StatusOr<float> value = detail::ScalarAsFloat(*e->constant, "exponent");
    if (!value.ok()) return NotSupported(node, absl::StrCat("on the TPU: ", value.status().message()));
    return absl::OkStatus();
  }
  if (e->dtype != DataType::kFloat32) {
    return NotSupported(node, absl::StrCat("with a ", std::string(DataTypeName(e->dtype)),
                                           " exponent tensor is not supported on the TPU"));
  }
  return absl::OkStatus();
}

absl::Status CheckTensor(const Node& node, const std::string& name, const Graph& graph) {
  const Value* v = graph.FindValue(name);
  if (v == nullptr) return NotSupported(node, absl::StrCat("refers to unknown value '", name, "'"));
  if (v->dtype != DataType::kFloat32 && !(v->dtype == DataType::kInt32 && detail::MovesInt32Words(node))) {
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
  if (detail::IsInt8ModeOpType(node.op_type)) return detail::CheckInt8Support(node, graph, compile_time_inputs);
  if (node.op_type == "QuantizeLinear" || node.op_type == "DequantizeLinear") {
    return detail::CheckQuantizeSupport(node, graph, compile_time_inputs);  // float mode: lower_quantize.cc
  }
  if (detail::IsIntElementwiseNode(node, graph)) {
    return detail::CheckIntElementwiseSupport(node, graph, compile_time_inputs);  // lower_int_elementwise.cc
  }
  if (TpuOpSet().count(node.op_type) == 0) return NotSupported(node, "is not supported on the TPU");
  if (detail::IsRecurrentOp(node.op_type)) return detail::CheckRecurrentSupport(node, graph, compile_time_inputs);
  for (size_t i = 0; i < node.inputs.size(); ++i) {
    if (node.inputs[i].empty()) continue;
    if (node.op_type == "Pow" && i == 1) continue;  // CheckPow
    if (!detail::ReadAtCompileTime(node, i)) {
      TPUSIM_RETURN_IF_ERROR(CheckTensor(node, node.inputs[i], graph));
      continue;
    }
    const Value* v = graph.FindValue(node.inputs[i]);
    const bool known = v != nullptr && (v->constant.has_value() || (IsCompileTimeOperand(node, i) &&
                                                                    compile_time_inputs.count(node.inputs[i]) != 0));
    if (!known) {
      return NotSupported(node, absl::StrCat("with its ", OperandName(node, i),
                                             " input computed at run time is not supported on the TPU"));
    }
    if (node.op_type == "Clip" && v->dtype != DataType::kFloat32) {
      return NotSupported(node, absl::StrCat("with a ", std::string(DataTypeName(v->dtype)), " ", OperandName(node, i),
                                             " is not supported on the TPU"));
    }
  }
  for (const std::string& out : node.outputs) {
    if (!out.empty()) TPUSIM_RETURN_IF_ERROR(CheckTensor(node, out, graph));
  }
  if (node.op_type == "Reshape" && node.opset < 5) {
    return NotSupported(node, "before opset 5 (shape as an attribute) is not supported on the TPU");
  }
  if (node.op_type == "Pow") TPUSIM_RETURN_IF_ERROR(CheckPow(node, graph));
  if (node.op_type == "ConstantOfShape") TPUSIM_RETURN_IF_ERROR(detail::CheckConstantOfShapeSupport(node));
  TPUSIM_RETURN_IF_ERROR(detail::CheckPoolOrMiscSupport(node, graph));  // shape_functions_pool.cc
  if (node.op_type == "Pad") TPUSIM_RETURN_IF_ERROR(detail::CheckPadSupport(node, graph));  // lower_pad.cc
  if (detail::IsTrainingBatchNormNode(node)) return detail::CheckBatchNormTrainingSupport(node, graph);
  if (node.op_type == "Conv" || node.op_type == "BatchNormalization") {
    TPUSIM_RETURN_IF_ERROR(detail::CheckConvFamilySupport(node, graph));
  }
  if (node.op_type == "LeakyRelu") TPUSIM_RETURN_IF_ERROR(node.GetFloat("alpha", 0.01f).status());
  if (node.op_type == "Clip" && node.opset < 11) {
    TPUSIM_RETURN_IF_ERROR(node.GetFloat("min", 0.0f).status());
    TPUSIM_RETURN_IF_ERROR(node.GetFloat("max", 0.0f).status());
  }
  if ((node.op_type == "Add" || node.op_type == "Sub" || node.op_type == "Mul" || node.op_type == "Div") &&
      node.opset < 7) {
    TPUSIM_RETURN_IF_ERROR(CheckLegacyBroadcast(node, graph));
  }
  return absl::OkStatus();
}

}  // namespace

const std::set<std::string>& TpuOpTypes() { return TpuOpSet(); }

namespace detail {

bool ReadAtCompileTime(const Node& node, size_t index) {
  return IsCompileTimeOperand(node, index);
}

absl::StatusOr<float> ScalarAsFloat(const Tensor& t, const std::string& what) {
  if (t.num_elements() != 1) {
    return absl::InvalidArgumentError(absl::StrCat(what, " has shape ", ShapeToString(t.shape()), ", not one value"));
  }
  switch (t.dtype()) {
    case DataType::kFloat32: return t.as<float>()[0];
    case DataType::kInt32: return static_cast<float>(t.as<int32_t>()[0]);
    case DataType::kInt64: return static_cast<float>(t.as<int64_t>()[0]);
    default:
      return absl::InvalidArgumentError(absl::StrCat(what, " is ", std::string(DataTypeName(t.dtype())),
                                                     ", not float32, int32 or int64"));
  }
}

}  // namespace detail

bool IsCompileTimeOperand(const Node& node, size_t index) {
  const std::string& op = node.op_type;
  if (op == "Reshape" || op == "Expand" || op == "Squeeze" || op == "Unsqueeze" || op == "ReduceSum" ||
      op == "ReduceMean" || op == "ReduceMax") {
    return index == 1;
  }
  if (op == "Slice") return index >= 1 && index <= 4;
  if (op == "Gather" || op == "Split") return index == 1;  // indices; split sizes
  if (detail::IsRecurrentOp(op)) return index == 4;  // sequence_lens
  if (op == "Clip") return index == 1 || index == 2;
  if (op == "Pad") return node.opset >= 11 && index >= 1 && index <= 3;  // pads, constant_value, axes
  if (op == "BatchNormalization") return index >= 1 && index <= 4;     // scale, B, mean, var
  if (op == "ConstantOfShape") return index == 0;                       // shape
  if (detail::IsInt8ModeOpType(op)) return detail::IsInt8CompileTimeOperand(node, index);  // zero points, scales
  if (detail::IsQuantizeCompileTimeOperand(node, index)) return true;  // lower_quantize.cc
  return false;
}

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
