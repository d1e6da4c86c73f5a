// Shape and type inference: the op table, per-node inference and the whole-graph pass.
#include "tpusim/compiler_backend/shape_inference.h"

#include <map>
#include <set>
#include <utility>

#include "absl/status/status.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_join.h"
#include "internal.h"
#include "lower_int8.h"
#include "lowering.h"
#include "rnn_internal.h"
#include "batchnorm_training.h"
#include "shape_functions.h"
#include "tpusim/compiler_backend/compiler.h"
#include "tpusim/isa/status_macros.h"

namespace tpusim::compiler {
namespace {

using detail::NodeLabel;

// How an op's output type follows from its inputs.
enum class TypeRule {
  kFirstInput,  // the type of input 0
  kAllEqual,    // every present input has the same type, which the output takes
  kInt64,       // indices (ArgMax, ArgMin)
  kConstant,    // the type of the Constant's value
  kFillValue,   // ConstantOfShape: the type of attribute `value` (float32 when absent)
  kInt32,       // MatMulInteger's accumulators
  kInput7,      // the type of input 7 (QLinearMatMul's y_zero_point)
  kFloat32,     // DequantizeLinear
  kQuantized,   // QuantizeLinear: input 2's type (the zero point), else attribute output_dtype, else uint8
};

struct OpInfo {
  detail::ShapeFn shape;
  TypeRule type;
};

const std::map<std::string, OpInfo>& OpTable() {
  static const auto* table = new std::map<std::string, OpInfo>{
      {"MatMul", {detail::MatMulShape, TypeRule::kAllEqual}},
      {"Gemm", {detail::GemmShape, TypeRule::kAllEqual}},
      {"Add", {detail::BinaryShape, TypeRule::kAllEqual}},
      {"Sub", {detail::BinaryShape, TypeRule::kAllEqual}},
      {"Mul", {detail::BinaryShape, TypeRule::kAllEqual}},
      {"Div", {detail::BinaryShape, TypeRule::kAllEqual}},
      {"Relu", {detail::SameShape, TypeRule::kFirstInput}},
      {"QuantizeLinear", {detail::QuantizeLinearShape, TypeRule::kQuantized}},  // lower_quantize.cc
      {"DequantizeLinear", {detail::QuantizeLinearShape, TypeRule::kFloat32}},
      {"Sigmoid", {detail::SameShape, TypeRule::kFirstInput}},
      {"Tanh", {detail::SameShape, TypeRule::kFirstInput}},
      {"Exp", {detail::SameShape, TypeRule::kFirstInput}},
      {"Log", {detail::SameShape, TypeRule::kFirstInput}},
      {"Neg", {detail::SameShape, TypeRule::kFirstInput}},
      {"Abs", {detail::SameShape, TypeRule::kFirstInput}},
      {"Sqrt", {detail::SameShape, TypeRule::kFirstInput}},
      {"Reciprocal", {detail::SameShape, TypeRule::kFirstInput}},
      {"Floor", {detail::SameShape, TypeRule::kFirstInput}},
      {"Ceil", {detail::SameShape, TypeRule::kFirstInput}},
      {"Erf", {detail::SameShape, TypeRule::kFirstInput}},
      {"LeakyRelu", {detail::SameShape, TypeRule::kFirstInput}},
      {"Elu", {detail::SameShape, TypeRule::kFirstInput}},
      {"Softplus", {detail::SameShape, TypeRule::kFirstInput}},
      {"Softsign", {detail::SameShape, TypeRule::kFirstInput}},
      {"Identity", {detail::SameShape, TypeRule::kFirstInput}},
      {"Softmax", {detail::SoftmaxShape, TypeRule::kFirstInput}},
      {"LogSoftmax", {detail::SoftmaxShape, TypeRule::kFirstInput}},
      {"Flatten", {detail::FlattenShape, TypeRule::kFirstInput}},
      {"Reshape", {detail::ReshapeShape, TypeRule::kFirstInput}},
      {"Constant", {detail::ConstantShape, TypeRule::kConstant}},
      {"ConstantOfShape", {detail::ConstantOfShapeShape, TypeRule::kFillValue}},  // lower_constant_of_shape.cc
      {"ArgMax", {detail::ArgReduceShape, TypeRule::kInt64}},
      {"ArgMin", {detail::ArgReduceShape, TypeRule::kInt64}},
      {"Transpose", {detail::TransposeShape, TypeRule::kFirstInput}},
      {"ReduceMean", {detail::ReduceShape, TypeRule::kFirstInput}},
      {"ReduceSum", {detail::ReduceShape, TypeRule::kFirstInput}},
      {"ReduceMax", {detail::ReduceShape, TypeRule::kFirstInput}},
      {"ReduceMin", {detail::ReduceShape, TypeRule::kFirstInput}},
      {"ReduceProd", {detail::ReduceShape, TypeRule::kFirstInput}},
      {"Concat", {detail::ConcatShape, TypeRule::kAllEqual}},
      {"Slice", {detail::SliceShape, TypeRule::kFirstInput}},
      {"Squeeze", {detail::SqueezeShape, TypeRule::kFirstInput}},
      {"Unsqueeze", {detail::UnsqueezeShape, TypeRule::kFirstInput}},
      {"Expand", {detail::ExpandShape, TypeRule::kFirstInput}},
      {"Clip", {detail::ClipShape, TypeRule::kAllEqual}},
      {"Pow", {detail::PowShape, TypeRule::kFirstInput}},
      {"LSTM", {nullptr, TypeRule::kFirstInput}},  // detail::RecurrentShapes (rnn_internal.h)
      {"GRU", {nullptr, TypeRule::kFirstInput}},
      {"RNN", {nullptr, TypeRule::kFirstInput}},
      {"Conv", {detail::ConvShape, TypeRule::kAllEqual}},
      {"BatchNormalization", {detail::BatchNormShape, TypeRule::kFirstInput}},
      {"Pad", {detail::PadShape, TypeRule::kFirstInput}},
      {"MaxPool", {detail::PoolShape, TypeRule::kFirstInput}},
      {"AveragePool", {detail::PoolShape, TypeRule::kFirstInput}},
      {"GlobalAveragePool", {detail::PoolShape, TypeRule::kFirstInput}},
      {"GlobalMaxPool", {detail::PoolShape, TypeRule::kFirstInput}},
      {"Gather", {detail::GatherShape, TypeRule::kFirstInput}},
      {"PRelu", {detail::PReluShape, TypeRule::kAllEqual}},
      {"Split", {nullptr, TypeRule::kFirstInput}},               // FindMultiOutputShapeFn
      {"LayerNormalization", {nullptr, TypeRule::kFirstInput}},  // FindMultiOutputShapeFn
      {"MatMulInteger", {detail::MatMulIntegerShape, TypeRule::kInt32}},   // lower_int8_support.cc
      {"QLinearMatMul", {detail::QLinearMatMulShape, TypeRule::kInput7}},
      {"ConvInteger", {detail::ConvIntegerShape, TypeRule::kInt32}},
      {"QLinearConv", {detail::QLinearConvShape, TypeRule::kInput7}},
  };
  return *table;
}

// Shapes beyond 2^62 elements are rejected so that no shape function or later byte count overflows.
constexpr int64_t kMaxElements = int64_t{1} << 62;

absl::Status CheckShape(const Node& node, const Shape& shape, std::string_view role, size_t index) {
  bool ok = NumElements(shape) <= kMaxElements;
  for (int64_t d : shape) ok = ok && d >= 0 && d <= kMaxElements;
  if (ok) return absl::OkStatus();
  return absl::InvalidArgumentError(absl::StrCat(NodeLabel(node), ": ", std::string(role), " ", index,
                                                 " has shape ", ShapeToString(shape),
                                                 ", which is negative or has more than 2^62 elements"));
}

absl::StatusOr<const OpInfo*> FindOp(const Node& node) {
  auto it = OpTable().find(node.op_type);
  if (it == OpTable().end()) {
    return absl::UnimplementedError(absl::StrCat(NodeLabel(node), ": no shape function for op ", node.op_type));
  }
  return &it->second;
}

}  // namespace

bool HasShapeFunction(const std::string& op_type) { return OpTable().count(op_type) != 0; }

absl::StatusOr<std::vector<Shape>> InferNodeShapes(const Node& node, const std::vector<Shape>& input_shapes,
                                                   const Graph& graph) {
  TPUSIM_ASSIGN_OR_RETURN(const OpInfo* op, FindOp(node));
  if (input_shapes.size() != node.inputs.size()) {
    return absl::InvalidArgumentError(absl::StrCat(NodeLabel(node), ": got ", input_shapes.size(),
                                                   " input shapes for ", node.inputs.size(), " inputs"));
  }
  if (const detail::MultiShapeFn multi = detail::IsRecurrentOp(node.op_type) ? detail::RecurrentShapes
                                                                             // expand_batchnorm_training.cc:
                                                                             : node.op_type == "BatchNormalization"
                                                                                 ? detail::BatchNormShapes
                                                                             : detail::FindMultiOutputShapeFn(node.op_type)) {
    for (size_t i = 0; i < input_shapes.size(); ++i) {
      if (detail::Present(node, i)) TPUSIM_RETURN_IF_ERROR(CheckShape(node, input_shapes[i], "input", i));
    }
    TPUSIM_ASSIGN_OR_RETURN(std::vector<Shape> outs, multi(node, input_shapes, graph));
    for (size_t i = 0; i < outs.size(); ++i) TPUSIM_RETURN_IF_ERROR(CheckShape(node, outs[i], "output", i));
    return outs;
  }
  if (node.outputs.size() != 1) {
    return absl::InvalidArgumentError(absl::StrCat(NodeLabel(node), ": has ", node.outputs.size(),
                                                   " outputs, expected 1"));
  }
  for (size_t i = 0; i < input_shapes.size(); ++i) {
    if (detail::Present(node, i)) TPUSIM_RETURN_IF_ERROR(CheckShape(node, input_shapes[i], "input", i));
  }
  TPUSIM_ASSIGN_OR_RETURN(Shape out, op->shape(node, input_shapes, graph));
  TPUSIM_RETURN_IF_ERROR(CheckShape(node, out, "output", 0));
  return std::vector<Shape>{std::move(out)};
}

absl::StatusOr<std::vector<DataType>> InferNodeTypes(const Node& node, const std::vector<DataType>& input_types) {
  TPUSIM_ASSIGN_OR_RETURN(const OpInfo* op, FindOp(node));
  if (input_types.size() != node.inputs.size()) {
    return absl::InvalidArgumentError(absl::StrCat(NodeLabel(node), ": got ", input_types.size(),
                                                   " input types for ", node.inputs.size(), " inputs"));
  }
  DataType out = DataType::kFloat32;
  switch (op->type) {
    case TypeRule::kInt64: out = DataType::kInt64; break;
    case TypeRule::kInt32: out = DataType::kInt32; break;
    case TypeRule::kFloat32: out = DataType::kFloat32; break;
    case TypeRule::kQuantized: {
      TPUSIM_ASSIGN_OR_RETURN(int64_t output_dtype, node.GetInt("output_dtype", 0));
      out = detail::Present(node, 2) ? input_types[2] : output_dtype == 3 ? DataType::kInt8 : DataType::kUint8;
      break;
    }
    case TypeRule::kInput7:
      if (!detail::Present(node, 7)) {
        return absl::InvalidArgumentError(absl::StrCat(NodeLabel(node), ": required input 7 is missing"));
      }
      out = input_types[7];
      break;
    case TypeRule::kFillValue: {
      auto it = node.attrs.find("value");
      const Tensor* value = it == node.attrs.end() ? nullptr : std::get_if<Tensor>(&it->second);
      out = value == nullptr ? DataType::kFloat32 : value->dtype();
      break;
    }
    case TypeRule::kConstant: {
      TPUSIM_ASSIGN_OR_RETURN(Tensor value, detail::ConstantNodeValue(node));
      out = value.dtype();
      break;
    }
    case TypeRule::kFirstInput:
    case TypeRule::kAllEqual: {
      if (!detail::Present(node, 0)) {
        return absl::InvalidArgumentError(absl::StrCat(NodeLabel(node), ": required input 0 is missing"));
      }
      out = input_types[0];
      for (size_t i = 1; op->type == TypeRule::kAllEqual && i < input_types.size(); ++i) {
        if (detail::Present(node, i) && input_types[i] != out) {
          return absl::InvalidArgumentError(absl::StrCat(NodeLabel(node), ": input types differ: ",
                                                         std::string(DataTypeName(out)), " and ", std::string(DataTypeName(input_types[i]))));
        }
      }
      break;
    }
  }
  return std::vector<DataType>(node.outputs.size(), out);
}

// Nodes are visited in order. A node whose op has no shape function leaves its outputs' shapes and
// types unknown (types keep the frontend's hint but are not trusted), and so do the nodes that depend on
// them; the pass still infers everything else, then reports Unimplemented listing those ops.
absl::Status InferShapes(Graph& graph) {
  std::set<std::string> typed;  // values whose dtype is known: inputs, constants, inferred outputs
  for (const std::string& in : graph.inputs) {
    const Value* v = graph.FindValue(in);
    if (v == nullptr || !v->shape.has_value()) {
      return absl::InvalidArgumentError(absl::StrCat("graph input '", in, "' has no shape"));
    }
    typed.insert(in);
  }
  for (auto& [name, value] : graph.values) {
    if (value.constant.has_value()) {
      value.shape = value.constant->shape();
      value.dtype = value.constant->dtype();
      typed.insert(name);
    }
  }
  std::vector<std::string> unimplemented;
  for (const Node& node : graph.nodes) {
    std::vector<Shape> shapes(node.inputs.size());
    std::vector<DataType> types(node.inputs.size(), DataType::kFloat32);
    bool shapes_known = true;
    bool types_known = true;
    for (size_t i = 0; i < node.inputs.size(); ++i) {
      if (node.inputs[i].empty()) continue;
      const Value* v = graph.FindValue(node.inputs[i]);
      if (v == nullptr) {
        return absl::InvalidArgumentError(absl::StrCat(NodeLabel(node), ": input '", node.inputs[i],
                                                       "' does not exist"));
      }
      types[i] = v->dtype;
      types_known = types_known && typed.count(node.inputs[i]) != 0;
      if (v->shape.has_value()) {
        shapes[i] = *v->shape;
      } else {
        shapes_known = false;
      }
    }
    const bool known_op = HasShapeFunction(node.op_type);
    if (!known_op) unimplemented.push_back(absl::StrCat(node.op_type, " (node '", node.name, "')"));
    std::vector<DataType> out_types;
    if (known_op && types_known) {
      TPUSIM_ASSIGN_OR_RETURN(out_types, InferNodeTypes(node, types));
    }
    std::vector<Shape> out_shapes;
    if (known_op && shapes_known) {
      TPUSIM_ASSIGN_OR_RETURN(out_shapes, InferNodeShapes(node, shapes, graph));
    }
    for (size_t i = 0; i < node.outputs.size(); ++i) {
      if (node.outputs[i].empty()) continue;
      Value& v = graph.values[node.outputs[i]];
      v.name = node.outputs[i];
      if (!out_types.empty()) {
        v.dtype = out_types[i];
        typed.insert(v.name);
      }
      if (!out_shapes.empty()) {
        v.shape = out_shapes[i];
      } else {
        v.shape.reset();
      }
    }
  }
  if (!unimplemented.empty()) {
    return absl::UnimplementedError(absl::StrCat("no shape function for ", absl::StrJoin(unimplemented, ", "),
                                                 "; the shapes that depend on them are unknown"));
  }
  return absl::OkStatus();
}

}  // namespace tpusim::compiler
