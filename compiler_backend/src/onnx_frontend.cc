// ONNX ModelProto -> Graph: opsets, initializers, graph inputs/outputs, nodes, Constant folding.
#include "tpusim/compiler_backend/onnx_frontend.h"

#include <climits>
#include <map>
#include <set>
#include <utility>

#include "absl/status/status.h"
#include "absl/strings/str_cat.h"
#include "internal.h"
#include "tpusim/isa/status_macros.h"

namespace tpusim::compiler {
namespace {

using detail::NodeLabel;

struct TypeInfo {
  DataType dtype = DataType::kFloat32;
  std::optional<Shape> shape;  // unset when the rank or any dim is unknown (dim_param / missing)
};

// A tensor ValueInfoProto's element type and shape; InvalidArgument for non-tensor types.
absl::StatusOr<TypeInfo> ReadTypeInfo(const onnx::ValueInfoProto& info, const std::string& what) {
  if (!info.has_type() || !info.type().has_tensor_type()) {
    return absl::InvalidArgumentError(absl::StrCat(what, " is not a tensor (sequence, map, optional and "
                                                         "sparse types are not supported)"));
  }
  const onnx::TypeProto_Tensor& tt = info.type().tensor_type();
  TypeInfo out;
  TPUSIM_ASSIGN_OR_RETURN(out.dtype, detail::DataTypeFromOnnx(tt.elem_type(), what));
  if (!tt.has_shape()) return out;
  Shape shape;
  for (const onnx::TensorShapeProto_Dimension& dim : tt.shape().dim()) {
    if (!dim.has_dim_value()) return out;
    if (dim.dim_value() < 0) {
      return absl::InvalidArgumentError(absl::StrCat(what, " has a negative dimension (", dim.dim_value(), ")"));
    }
    shape.push_back(dim.dim_value());
  }
  out.shape = std::move(shape);
  return out;
}

// Unique node names: ONNX names are kept (a repeated one gets a suffix); unnamed nodes are named the way
// TensorFlow names ops: "MatMul", "MatMul_1", ...
class NodeNamer {
 public:
  explicit NodeNamer(const onnx::GraphProto& graph) {
    for (const onnx::NodeProto& n : graph.node()) {
      if (!n.name().empty()) reserved_.insert(n.name());
    }
  }
  std::string Name(const onnx::NodeProto& n, const std::string& op_type) {
    const std::string base = n.name().empty() ? op_type : n.name();
    std::string name = base;
    const bool generated = n.name().empty();
    for (int k = 1; used_.count(name) != 0 || (generated && reserved_.count(name) != 0); ++k) {
      name = absl::StrCat(base, "_", k);
    }
    used_.insert(name);
    return name;
  }

 private:
  std::set<std::string> reserved_;
  std::set<std::string> used_;
};

class Importer {
 public:
  absl::StatusOr<Graph> Run(const onnx::ModelProto& model) {
    if (!model.has_graph()) return absl::InvalidArgumentError("ONNX model has no graph");
    const onnx::GraphProto& g = model.graph();
    for (const onnx::OperatorSetIdProto& op : model.opset_import()) {
      const std::string domain = op.domain() == "ai.onnx" ? "" : op.domain();
      domain_versions_[domain] = static_cast<int>(op.version());
    }
    if (g.sparse_initializer_size() > 0) {
      return absl::InvalidArgumentError("sparse initializers are not supported");
    }
    TPUSIM_RETURN_IF_ERROR(ImportInitializers(g));
    TPUSIM_RETURN_IF_ERROR(ImportInputs(g));
    NodeNamer namer(g);
    for (const onnx::NodeProto& n : g.node()) TPUSIM_RETURN_IF_ERROR(ImportNode(n, namer));
    TPUSIM_RETURN_IF_ERROR(ImportValueInfo(g));
    TPUSIM_RETURN_IF_ERROR(ImportOutputs(g));
    TPUSIM_RETURN_IF_ERROR(graph_.Validate());
    return std::move(graph_);
  }

 private:
  absl::Status ImportInitializers(const onnx::GraphProto& g) {
    for (int i = 0; i < g.initializer_size(); ++i) {
      const onnx::TensorProto& init = g.initializer(i);
      if (init.name().empty()) return absl::InvalidArgumentError(absl::StrCat("initializer #", i, " has no name"));
      if (graph_.FindValue(init.name()) != nullptr) {
        return absl::InvalidArgumentError(absl::StrCat("initializer '", init.name(), "' is defined twice"));
      }
      TPUSIM_ASSIGN_OR_RETURN(Tensor t,
                              detail::TensorFromProto(init, absl::StrCat("initializer '", init.name(), "'")));
      Value& v = graph_.AddValue(init.name(), t.dtype(), t.shape());
      v.constant = std::move(t);
    }
    return absl::OkStatus();
  }

  // Graph inputs that are also initializers are constants (ONNX lets a runtime override them; we do not).
  absl::Status ImportInputs(const onnx::GraphProto& g) {
    for (const onnx::ValueInfoProto& in : g.input()) {
      if (in.name().empty()) return absl::InvalidArgumentError("a graph input has no name");
      const std::string what = absl::StrCat("graph input '", in.name(), "'");
      if (const Value* v = graph_.FindValue(in.name())) {
        if (v->constant.has_value()) continue;
        return absl::InvalidArgumentError(absl::StrCat(what, " is listed twice"));
      }
      TPUSIM_ASSIGN_OR_RETURN(TypeInfo type, ReadTypeInfo(in, what));
      graph_.AddValue(in.name(), type.dtype, type.shape);
      graph_.inputs.push_back(in.name());
    }
    return absl::OkStatus();
  }

  absl::Status ImportNode(const onnx::NodeProto& n, NodeNamer& namer) {
    Node node;
    const bool default_domain = n.domain().empty() || n.domain() == "ai.onnx";
    const std::string domain = default_domain ? "" : n.domain();
    node.op_type = default_domain ? n.op_type() : absl::StrCat(n.domain(), ".", n.op_type());
    node.name = namer.Name(n, node.op_type);
    auto version = domain_versions_.find(domain);
    if (version != domain_versions_.end()) {
      node.opset = version->second;
    } else if (default_domain) {
      return absl::InvalidArgumentError(absl::StrCat(NodeLabel(node), ": the model imports no opset for the "
                                                                      "default ONNX domain"));
    } else {
      node.opset = 1;
    }
    if (n.op_type().empty()) return absl::InvalidArgumentError(absl::StrCat(NodeLabel(node), ": empty op_type"));
    const std::string label = NodeLabel(node);
    for (const onnx::AttributeProto& a : n.attribute()) {
      TPUSIM_ASSIGN_OR_RETURN(std::optional<Attribute> attr, detail::AttributeFromProto(a, label));
      if (!attr.has_value()) continue;
      if (!node.attrs.emplace(a.name(), *std::move(attr)).second) {
        return absl::InvalidArgumentError(absl::StrCat(label, ": attribute '", a.name(), "' is given twice"));
      }
    }
    for (const std::string& in : n.input()) {
      if (!in.empty() && graph_.FindValue(in) == nullptr) {
        return absl::InvalidArgumentError(absl::StrCat(label, ": input '", in,
                                                       "' is not a graph input, an initializer or the output "
                                                       "of an earlier node"));
      }
      node.inputs.push_back(in);
    }
    for (const std::string& out : n.output()) {
      if (out.empty()) {
        node.outputs.push_back(out);
        continue;
      }
      if (graph_.FindValue(out) != nullptr) {
        auto producer = producers_.find(out);
        const std::string by = producer != producers_.end() ? absl::StrCat("node '", producer->second, "'")
                                                            : std::string("a graph input or initializer");
        return absl::InvalidArgumentError(absl::StrCat(label, ": output '", out, "' is already produced by ", by));
      }
      producers_[out] = node.name;
      graph_.AddValue(out, DataType::kFloat32);
      node.outputs.push_back(out);
    }
    if (node.op_type == "Constant") return FoldConstant(node);
    if (node.op_type == "PRelu" && node.opset < 7) TPUSIM_RETURN_IF_ERROR(LegacyPReluSlope(node));
    graph_.nodes.push_back(std::move(node));
    return absl::OkStatus();
  }

  // PRelu before opset 7 applies a 1-D slope of C values per channel (axis 1), as Caffe and old
  // PyTorch exports do; from opset 7 the slope broadcasts numpy-style. When X's rank is known here (a
  // graph input or a value with a declared shape) and the slope is such a constant, the node reads a
  // copy of the slope shaped [C, 1, ..., 1] and follows opset 7. Otherwise it is left as it is.
  absl::Status LegacyPReluSlope(Node& node) {
    if (node.inputs.size() != 2) return absl::OkStatus();
    const Value* x = graph_.FindValue(node.inputs[0]);
    const Value* slope = graph_.FindValue(node.inputs[1]);
    if (x == nullptr || slope == nullptr || !x->shape.has_value() || !slope->constant.has_value()) {
      return absl::OkStatus();
    }
    const Shape& xs = *x->shape;
    const Tensor& t = *slope->constant;
    if (xs.size() < 3 || t.shape().size() != 1 || t.shape()[0] <= 1 || t.shape()[0] != xs[1]) {
      return absl::OkStatus();
    }
    Shape per_channel(xs.size() - 1, 1);
    per_channel[0] = t.shape()[0];
    TPUSIM_ASSIGN_OR_RETURN(Tensor reshaped, t.Reshaped(per_channel));
    const std::string name = absl::StrCat(node.inputs[1], "/per_channel_", xs.size());
    if (graph_.FindValue(name) == nullptr) {
      Value& v = graph_.AddValue(name, reshaped.dtype(), reshaped.shape());
      v.constant = std::move(reshaped);
    }
    node.inputs[1] = name;
    node.opset = 7;
    return absl::OkStatus();
  }

  absl::Status FoldConstant(const Node& node) {
    if (!node.inputs.empty() || node.outputs.size() != 1 || node.outputs[0].empty()) {
      return absl::InvalidArgumentError(absl::StrCat(NodeLabel(node), ": a Constant has no inputs and one output"));
    }
    TPUSIM_ASSIGN_OR_RETURN(Tensor t, detail::ConstantNodeValue(node));
    Value& v = graph_.AddValue(node.outputs[0], t.dtype(), t.shape());
    v.constant = std::move(t);
    return absl::OkStatus();
  }

  // value_info gives types (and, when fully known, shapes) of intermediate values: hints that shape
  // inference later overwrites. Entries for graph inputs, constants or unknown names are ignored.
  absl::Status ImportValueInfo(const onnx::GraphProto& g) {
    for (const onnx::ValueInfoProto& info : g.value_info()) {
      auto it = graph_.values.find(info.name());
      if (it == graph_.values.end() || producers_.count(info.name()) == 0 || it->second.constant) continue;
      TPUSIM_ASSIGN_OR_RETURN(TypeInfo type, ReadTypeInfo(info, absl::StrCat("value '", info.name(), "'")));
      it->second.dtype = type.dtype;
      it->second.shape = type.shape;
    }
    return absl::OkStatus();
  }

  absl::Status ImportOutputs(const onnx::GraphProto& g) {
    std::set<std::string> seen;
    for (const onnx::ValueInfoProto& out : g.output()) {
      const std::string what = absl::StrCat("graph output '", out.name(), "'");
      auto it = graph_.values.find(out.name());
      if (it == graph_.values.end()) {
        return absl::InvalidArgumentError(absl::StrCat(what, " is not produced by any node"));
      }
      if (!seen.insert(out.name()).second) return absl::InvalidArgumentError(absl::StrCat(what, " is listed twice"));
      TPUSIM_ASSIGN_OR_RETURN(TypeInfo type, ReadTypeInfo(out, what));
      Value& v = it->second;
      if (producers_.count(out.name()) != 0 && !v.constant.has_value()) {
        v.dtype = type.dtype;
        if (type.shape.has_value()) v.shape = type.shape;
      } else if (v.dtype != type.dtype) {
        return absl::InvalidArgumentError(absl::StrCat(what, " is declared ", std::string(DataTypeName(type.dtype)), " but is ",
                                                       std::string(DataTypeName(v.dtype))));
      }
      graph_.outputs.push_back(out.name());
    }
    return absl::OkStatus();
  }

  Graph graph_;
  std::map<std::string, int> domain_versions_;       // "" = the default ONNX domain
  std::map<std::string, std::string> producers_;      // node output -> node name
};

}  // namespace

absl::StatusOr<Graph> ImportOnnxModel(std::string_view serialized_model) {
  onnx::ModelProto model;
  if (serialized_model.size() > static_cast<size_t>(INT_MAX) ||
      !model.ParseFromArray(serialized_model.data(), static_cast<int>(serialized_model.size()))) {
    return absl::InvalidArgumentError("malformed ONNX model: not a valid ModelProto");
  }
  return Importer().Run(model);
}

absl::StatusOr<Graph> ImportOnnxFile(const std::string& path) {
  TPUSIM_ASSIGN_OR_RETURN(std::string bytes, detail::ReadFileBytes(path));
  absl::StatusOr<Graph> graph = ImportOnnxModel(bytes);
  if (!graph.ok()) return absl::Status(graph.status().code(), absl::StrCat(path, ": ", graph.status().message()));
  return graph;
}

}  // namespace tpusim::compiler
