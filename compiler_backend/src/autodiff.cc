// The reverse-mode AD pass (autodiff.h): which nodes lie between the parameters and the loss, the
// reverse sweep that sums gradient contributions, and the node emitter (autodiff_internal.h).
#include <algorithm>
#include <cmath>
#include <set>
#include <string>
#include <vector>

#include "absl/status/status.h"
#include "absl/strings/str_cat.h"
#include "autodiff_internal.h"
#include "internal.h"
#include "tpusim/compiler_backend/autodiff.h"
#include "tpusim/compiler_backend/compiler.h"
#include "tpusim/compiler_backend/shape_inference.h"
#include "tpusim/isa/status_macros.h"

namespace tpusim::compiler {
namespace detail {

std::string GradEmitter::NewName(const std::string& stem) {
  std::string name;
  do {
    name = absl::StrCat(prefix_, stem, "_", counter_++);
  } while (graph_.values.count(name) != 0);
  return name;
}

absl::StatusOr<std::string> GradEmitter::Op(const std::string& op_type, std::vector<std::string> inputs,
                                            std::map<std::string, Attribute> attrs) {
  Node node;
  node.name = NewName(op_type);
  node.op_type = op_type;
  node.inputs = std::move(inputs);
  node.outputs = {node.name};
  node.attrs = std::move(attrs);
  std::vector<Shape> shapes;
  std::vector<DataType> types;
  for (const std::string& in : node.inputs) {
    const Value* v = graph_.FindValue(in);
    if (v == nullptr || !v->shape.has_value()) {
      return absl::InternalError(absl::StrCat("autodiff: ", node.name, " reads '", in, "' of unknown shape"));
    }
    shapes.push_back(*v->shape);
    types.push_back(v->dtype);
  }
  TPUSIM_ASSIGN_OR_RETURN(std::vector<DataType> out_types, InferNodeTypes(node, types));
  TPUSIM_ASSIGN_OR_RETURN(std::vector<Shape> out_shapes, InferNodeShapes(node, shapes, graph_));
  graph_.AddValue(node.name, out_types[0], out_shapes[0]);
  std::string out = node.name;
  graph_.nodes.push_back(std::move(node));
  ++nodes_added_;
  return out;
}

std::string GradEmitter::Const(Tensor value) {
  const std::string name = NewName("const");
  Value& v = graph_.AddValue(name, value.dtype(), value.shape());
  v.constant = std::move(value);
  return name;
}

std::string GradEmitter::Ints(std::vector<int64_t> values) {
  const int64_t n = static_cast<int64_t>(values.size());
  return Const(Tensor::FromInt64s({n}, std::move(values)));
}

std::string GradEmitter::Fill(const Shape& shape, float value) {
  return Const(Tensor::FromFloats(shape, std::vector<float>(static_cast<size_t>(NumElements(shape)), value)));
}

std::string GradEmitter::Like(const std::string& x, float value) { return Fill(Shape(ShapeOf(x).size(), 1), value); }

const Shape& GradEmitter::ShapeOf(const std::string& value) const {
  const Value* v = graph_.FindValue(value);
  TPUSIM_CHECK(v != nullptr && v->shape.has_value(), "autodiff: a value the rules read has no known shape");
  return *v->shape;
}

absl::StatusOr<std::string> GradEmitter::Scale(const std::string& x, float factor) {
  if (factor == 1.0f) return x;
  return Op("Mul", {x, Like(x, factor)});
}

absl::StatusOr<std::string> GradEmitter::Reshape(const std::string& x, const Shape& shape) {
  if (ShapeOf(x) == shape) return x;
  return Op("Reshape", {x, Ints(shape)});
}

absl::StatusOr<std::string> GradEmitter::Transpose(const std::string& x, std::vector<int64_t> perm) {
  return Op("Transpose", {x}, {{"perm", std::move(perm)}});
}

absl::StatusOr<std::string> GradEmitter::SumKeep(const std::string& x, std::vector<int64_t> axes) {
  return Op("ReduceSum", {x, Ints(std::move(axes))}, {{"keepdims", int64_t{1}}});
}

absl::StatusOr<std::string> GradEmitter::SumTo(const std::string& g, const Shape& target) {
  const Shape from = ShapeOf(g);
  if (from == target) return g;
  if (target.size() > from.size()) {
    return absl::InternalError(absl::StrCat("autodiff: cannot sum ", ShapeToString(from), " to ", ShapeToString(target)));
  }
  const size_t lead = from.size() - target.size();
  std::vector<int64_t> axes;
  for (size_t i = 0; i < from.size(); ++i) {
    if (i < lead || (target[i - lead] == 1 && from[i] != 1)) axes.push_back(static_cast<int64_t>(i));
  }
  std::string summed = g;
  if (!axes.empty()) {
    TPUSIM_ASSIGN_OR_RETURN(summed, SumKeep(g, axes));
  }
  return Reshape(summed, target);
}

absl::StatusOr<std::string> GradEmitter::PositiveMask(const std::string& y) {
  const float big = std::ldexp(1.0f, 126);
  TPUSIM_ASSIGN_OR_RETURN(std::string a, Op("Mul", {y, Like(y, big)}));
  TPUSIM_ASSIGN_OR_RETURN(std::string b, Op("Mul", {a, Like(y, big)}));
  return Op("Clip", {b, Scalar(0.0f), Scalar(1.0f)});
}

absl::StatusOr<std::string> GradEmitter::ZeroMask(const std::string& d) {
  TPUSIM_ASSIGN_OR_RETURN(std::string positive, PositiveMask(d));
  return Op("Sub", {Like(d, 1.0f), positive});
}

absl::StatusOr<std::string> GradEmitter::GatherOrZero(const std::string& x, int64_t axis,
                                                      const std::vector<int64_t>& index) {
  Shape zero_shape = ShapeOf(x);
  const int64_t zero_row = zero_shape[static_cast<size_t>(axis)];
  zero_shape[static_cast<size_t>(axis)] = 1;
  TPUSIM_ASSIGN_OR_RETURN(std::string padded, Op("Concat", {x, Fill(zero_shape, 0.0f)}, {{"axis", axis}}));
  std::vector<int64_t> idx = index;
  for (int64_t& i : idx) i = i < 0 ? zero_row : i;
  return Op("Gather", {padded, Ints(std::move(idx))}, {{"axis", axis}});
}

bool GradContext::Needs(const std::string& value) const {
  auto it = needs->find(value);
  return it != needs->end() && it->second;
}

int GradContext::Readers(const std::string& value) const {
  auto it = readers->find(value);
  return it == readers->end() ? 0 : it->second;
}

const Node* GradContext::Producer(const std::string& value) const {
  auto it = producer->find(value);
  return it == producer->end() ? nullptr : it->second;
}

}  // namespace detail

namespace {

absl::Status Check(const Graph& graph, const std::string& loss, const std::vector<std::string>& parameters,
                   const std::map<std::string, const Node*>& producer) {
  const Value* l = graph.FindValue(loss);
  if (l == nullptr) return absl::InvalidArgumentError(absl::StrCat("autodiff: unknown loss value '", loss, "'"));
  if (l->dtype != DataType::kFloat32) {
    return absl::InvalidArgumentError(absl::StrCat("autodiff: loss '", loss, "' is ", std::string(DataTypeName(l->dtype)), ", not float32"));
  }
  if (l->shape.has_value() && NumElements(*l->shape) != 1) {
    return absl::InvalidArgumentError(absl::StrCat("autodiff: loss '", loss, "' has shape ", ShapeToString(*l->shape),
                                                   ", not one element"));
  }
  for (const std::string& p : parameters) {
    const Value* v = graph.FindValue(p);
    if (v == nullptr) return absl::InvalidArgumentError(absl::StrCat("autodiff: unknown parameter '", p, "'"));
    if (producer.count(p) != 0) {
      return absl::InvalidArgumentError(absl::StrCat("autodiff: parameter '", p, "' is the output of node '",
                                                     producer.at(p)->name, "', not a graph input or initializer"));
    }
    if (v->dtype != DataType::kFloat32) {
      return absl::InvalidArgumentError(absl::StrCat("autodiff: parameter '", p, "' is ", std::string(DataTypeName(v->dtype))));
    }
  }
  return absl::OkStatus();
}

// Sums the contributions to one value (nullopt-like "" when there are none).
absl::StatusOr<std::string> Total(const std::vector<std::string>& parts, detail::GradEmitter& e) {
  if (parts.empty()) return std::string();
  std::string sum = parts[0];
  for (size_t i = 1; i < parts.size(); ++i) {
    TPUSIM_ASSIGN_OR_RETURN(sum, e.Op("Add", {sum, parts[i]}));
  }
  return sum;
}

absl::StatusOr<GradientResult> Differentiate(Graph& graph, const std::string& loss,
                                             const std::vector<std::string>& parameters,
                                             const GradientOptions& options) {
  const std::vector<Node> forward = graph.nodes;  // stable: the emitter appends to graph.nodes
  std::map<std::string, const Node*> producer;
  std::map<std::string, int> readers;
  for (const Node& n : forward) {
    for (const std::string& out : n.outputs) {
      if (!out.empty()) producer[out] = &n;
    }
    for (const std::string& in : n.inputs) {
      if (!in.empty()) ++readers[in];
    }
  }
  TPUSIM_RETURN_IF_ERROR(Check(graph, loss, parameters, producer));
  std::map<std::string, bool> needs;
  for (const std::string& p : parameters) needs[p] = true;
  for (const Node& n : forward) {
    bool any = false;
    for (const std::string& in : n.inputs) any = any || (!in.empty() && needs[in]);
    for (const std::string& out : n.outputs) {
      if (!out.empty()) needs[out] = any;
    }
  }
  std::set<std::string> reaches = {loss};
  for (auto it = forward.rbegin(); it != forward.rend(); ++it) {
    bool hit = false;
    for (const std::string& out : it->outputs) hit = hit || reaches.count(out) != 0;
    if (!hit) continue;
    for (const std::string& in : it->inputs) {
      if (!in.empty()) reaches.insert(in);
    }
  }
  detail::GradEmitter e(graph, options.name_prefix);
  detail::GradContext ctx{&graph, &needs, &readers, &producer};
  std::map<std::string, std::vector<std::string>> parts;
  if (needs[loss]) parts[loss].push_back(e.Fill(*graph.FindValue(loss)->shape, 1.0f));
  for (auto it = forward.rbegin(); it != forward.rend(); ++it) {
    const Node& n = *it;
    std::vector<std::string> out_grads;
    bool any = false;
    for (const std::string& out : n.outputs) {
      TPUSIM_ASSIGN_OR_RETURN(std::string g, Total(parts[out], e));
      any = any || !g.empty();
      out_grads.push_back(g);
    }
    if (!any) continue;
    const detail::GradRule rule = detail::FindGradRule(n.op_type);
    if (rule == nullptr) {
      return absl::UnimplementedError(absl::StrCat("autodiff: no gradient for ", n.op_type, " (node '", n.name,
                                                   "'), which lies between a parameter and the loss"));
    }
    std::vector<detail::Contribution> contributions;
    TPUSIM_RETURN_IF_ERROR(rule(ctx, n, out_grads, e, &contributions));
    for (const auto& [value, grad] : contributions) {
      if (ctx.Needs(value)) parts[value].push_back(grad);
    }
  }
  GradientResult result;
  for (const std::string& p : parameters) {
    TPUSIM_ASSIGN_OR_RETURN(std::string g, Total(parts[p], e));
    if (g.empty()) {
      g = e.Fill(*graph.FindValue(p)->shape, 0.0f);
    } else if (producer.count(g) != 0 || graph.FindValue(g)->constant.has_value() ||
               std::find(graph.inputs.begin(), graph.inputs.end(), g) != graph.inputs.end()) {
      TPUSIM_ASSIGN_OR_RETURN(g, e.Op("Identity", {g}));  // a forward value or constant: own name
    }
    result.gradients[p] = g;
    if (options.add_to_outputs) graph.outputs.push_back(g);
  }
  result.nodes_added = e.nodes_added();
  return result;
}

}  // namespace

absl::StatusOr<GradientResult> AppendGradients(Graph& graph, const std::string& loss,
                                               const std::vector<std::string>& parameters,
                                               const GradientOptions& options) {
  Graph work = graph;
  bool all_shapes = true;
  for (const auto& [name, v] : work.values) all_shapes = all_shapes && v.shape.has_value();
  if (!all_shapes) TPUSIM_RETURN_IF_ERROR(InferShapes(work));
  for (const auto& [name, v] : work.values) {
    if (name.compare(0, options.name_prefix.size(), options.name_prefix) == 0) {
      return absl::InvalidArgumentError(absl::StrCat("autodiff: value '", name, "' already uses the prefix '",
                                                     options.name_prefix, "'"));
    }
  }
  TPUSIM_ASSIGN_OR_RETURN(GradientResult result, Differentiate(work, loss, parameters, options));
  TPUSIM_RETURN_IF_ERROR(work.Validate());
  graph = std::move(work);
  return result;
}

std::vector<std::string> DifferentiableOps() { return detail::GradRuleOps(); }

}  // namespace tpusim::compiler
