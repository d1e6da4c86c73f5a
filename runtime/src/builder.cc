// GraphBuilder: the TensorFlow-like graph construction API (builder.h).
#include "tpusim/runtime/builder.h"

#include <algorithm>
#include <cctype>
#include <set>

#include "absl/strings/str_cat.h"
#include "absl/strings/str_join.h"
#include "tpusim/isa/status_macros.h"
#include "tpusim/runtime/cpu_kernels.h"

namespace tpusim::runtime {

using compiler::Attribute;
using compiler::Tensor;

absl::StatusOr<std::string> CanonicalDeviceSpec(std::string_view device) {
  if (device.empty()) return std::string();
  std::string lower(device);
  std::transform(lower.begin(), lower.end(), lower.begin(), [](unsigned char c) { return std::tolower(c); });
  for (const std::string type : {"cpu", "tpu"}) {
    const std::string canonical = absl::StrCat("/device:", type == "cpu" ? "CPU" : "TPU", ":0");
    if (lower == absl::StrCat("/", type, ":0") || lower == absl::StrCat("/device:", type, ":0") ||
        lower == absl::StrCat("/job:localhost/replica:0/task:0/device:", type, ":0")) {
      return canonical;
    }
  }
  return absl::InvalidArgumentError(absl::StrCat(
      "unknown device '", std::string(device), "': expected /cpu:0, /device:CPU:0, /tpu:0 or /device:TPU:0"));
}

DeviceScope::DeviceScope(DeviceScope&& other) noexcept
    : builder_(other.builder_), previous_(std::move(other.previous_)) {
  other.builder_ = nullptr;
}

DeviceScope::~DeviceScope() {
  if (builder_ != nullptr) builder_->device_ = previous_;
}

DeviceScope GraphBuilder::Device(std::string_view device) {
  std::string previous = device_;
  absl::StatusOr<std::string> canonical = CanonicalDeviceSpec(device);
  if (canonical.ok()) {
    device_ = *canonical;
  } else {
    RecordError(canonical.status());
  }
  return DeviceScope(this, std::move(previous));
}

void GraphBuilder::RecordError(absl::Status status) {
  if (first_error_.ok()) first_error_ = std::move(status);
}

std::string GraphBuilder::UniqueName(const std::string& wanted) {
  auto taken = [this](const std::string& n) {
    if (graph_.values.count(n)) return true;
    return std::any_of(graph_.nodes.begin(), graph_.nodes.end(), [&](const compiler::Node& node) { return node.name == n; });
  };
  int& count = name_counts_[wanted];
  std::string name = count == 0 ? wanted : absl::StrCat(wanted, "_", count);
  while (taken(name)) name = absl::StrCat(wanted, "_", ++count);
  ++count;
  return name;
}

bool GraphBuilder::CheckInput(const Output& o, const std::string& what) {
  if (o.builder_ == this && graph_.values.count(o.name())) return true;
  RecordError(absl::InvalidArgumentError(absl::StrCat(
      what, ": input '", o.name(), "' ", o.valid() ? "comes from another GraphBuilder" : "is an empty Output")));
  return false;
}

Output GraphBuilder::Placeholder(const std::string& name, compiler::Shape shape, compiler::DataType dtype) {
  if (name.empty() || graph_.values.count(name)) {
    RecordError(absl::InvalidArgumentError(absl::StrCat("Placeholder '", name, "': ",
                                                        name.empty() ? "needs a name" : "the name is taken")));
    return Output(this, name);
  }
  if (std::any_of(shape.begin(), shape.end(), [](int64_t d) { return d < 0; })) {
    RecordError(absl::InvalidArgumentError(absl::StrCat("Placeholder '", name, "': every dim must be known (>= 0), got ",
                                                        compiler::ShapeToString(shape))));
  }
  graph_.AddValue(name, dtype, shape);
  graph_.inputs.push_back(name);
  name_counts_[name] = std::max(name_counts_[name], 1);
  return Output(this, name);
}

Output GraphBuilder::Variable(const std::string& name, Tensor initial_value) {
  if (name.empty() || graph_.values.count(name)) {
    RecordError(absl::InvalidArgumentError(absl::StrCat("Variable '", name, "': ",
                                                        name.empty() ? "needs a name" : "the name is taken")));
    return Output(this, name);
  }
  return Constant(std::move(initial_value), name);
}

Output GraphBuilder::Constant(Tensor value, const std::string& name) {
  const std::string unique = UniqueName(name.empty() ? "Const" : name);
  compiler::Value& v = graph_.AddValue(unique, value.dtype(), value.shape());
  v.constant = std::move(value);
  return Output(this, unique);
}

Output GraphBuilder::AddOp(const std::string& op_type, const std::vector<Output>& inputs,
                           std::map<std::string, Attribute> attrs, const std::string& name) {
  const std::string unique = UniqueName(name.empty() ? op_type : name);
  compiler::Node node;
  node.name = unique;
  node.op_type = op_type;
  for (const Output& in : inputs) {
    CheckInput(in, absl::StrCat(op_type, " '", unique, "'"));
    node.inputs.push_back(in.name());
  }
  node.outputs = {unique};
  node.attrs = std::move(attrs);
  node.requested_device = device_;
  graph_.nodes.push_back(std::move(node));
  graph_.AddValue(unique, compiler::DataType::kFloat32);  // dtype and shape come from inference
  return Output(this, unique);
}

Output GraphBuilder::MatMul(Output a, Output b, bool transpose_a, bool transpose_b, const std::string& name) {
  if (!transpose_a && !transpose_b) return AddOp("MatMul", {a, b}, {}, name.empty() ? "MatMul" : name);
  return AddOp("Gemm", {a, b}, {{"transA", int64_t{transpose_a}}, {"transB", int64_t{transpose_b}}},
               name.empty() ? "MatMul" : name);
}

Output GraphBuilder::Add(Output a, Output b, const std::string& name) { return AddOp("Add", {a, b}, {}, name); }
Output GraphBuilder::Sub(Output a, Output b, const std::string& name) { return AddOp("Sub", {a, b}, {}, name); }
Output GraphBuilder::Mul(Output a, Output b, const std::string& name) { return AddOp("Mul", {a, b}, {}, name); }
Output GraphBuilder::Div(Output a, Output b, const std::string& name) { return AddOp("Div", {a, b}, {}, name); }
Output GraphBuilder::Relu(Output a, const std::string& name) { return AddOp("Relu", {a}, {}, name); }
Output GraphBuilder::Sigmoid(Output a, const std::string& name) { return AddOp("Sigmoid", {a}, {}, name); }
Output GraphBuilder::Tanh(Output a, const std::string& name) { return AddOp("Tanh", {a}, {}, name); }
Output GraphBuilder::Exp(Output a, const std::string& name) { return AddOp("Exp", {a}, {}, name); }
Output GraphBuilder::Identity(Output a, const std::string& name) { return AddOp("Identity", {a}, {}, name); }

Output GraphBuilder::Softmax(Output a, int64_t axis, const std::string& name) {
  return AddOp("Softmax", {a}, {{"axis", axis}}, name);
}

Output GraphBuilder::Flatten(Output a, int64_t axis, const std::string& name) {
  return AddOp("Flatten", {a}, {{"axis", axis}}, name);
}

Output GraphBuilder::Reshape(Output a, std::vector<int64_t> shape, const std::string& name) {
  const std::string unique = UniqueName(name.empty() ? "Reshape" : name);
  const int64_t rank = static_cast<int64_t>(shape.size());
  compiler::Value& v = graph_.AddValue(absl::StrCat(unique, "/shape"), compiler::DataType::kInt64, compiler::Shape{rank});
  v.constant = Tensor::FromInt64s({rank}, std::move(shape));
  // The node takes the name chosen above (UniqueName would now hand out "<unique>_1").
  compiler::Node node;
  node.name = unique;
  node.op_type = "Reshape";
  CheckInput(a, absl::StrCat("Reshape '", unique, "'"));
  node.inputs = {a.name(), v.name};
  node.outputs = {unique};
  node.requested_device = device_;
  graph_.nodes.push_back(std::move(node));
  graph_.AddValue(unique, compiler::DataType::kFloat32);
  return Output(this, unique);
}

Output GraphBuilder::ArgMax(Output a, int64_t axis, const std::string& name) {
  return AddOp("ArgMax", {a}, {{"axis", axis}, {"keepdims", int64_t{0}}}, name);
}

Output GraphBuilder::Transpose(Output a, std::vector<int64_t> perm, const std::string& name) {
  std::map<std::string, Attribute> attrs;
  if (!perm.empty()) attrs["perm"] = std::move(perm);
  return AddOp("Transpose", {a}, std::move(attrs), name);
}

Output GraphBuilder::ReduceMean(Output a, std::vector<int64_t> axes, bool keepdims, const std::string& name) {
  return AddOp("ReduceMean", {a}, {{"axes", std::move(axes)}, {"keepdims", int64_t{keepdims}}}, name);
}

Output GraphBuilder::Concat(const std::vector<Output>& values, int64_t axis, const std::string& name) {
  return AddOp("Concat", values, {{"axis", axis}}, name);
}

absl::StatusOr<compiler::Graph> GraphBuilder::Build(const std::vector<Output>& outputs) const {
  TPUSIM_RETURN_IF_ERROR(first_error_);
  if (outputs.empty()) return absl::InvalidArgumentError("GraphBuilder::Build: no outputs requested");
  compiler::Graph graph;
  graph.inputs = graph_.inputs;
  std::set<std::string> needed;
  for (const Output& o : outputs) {
    if (o.builder_ != this || !graph_.values.count(o.name())) {
      return absl::InvalidArgumentError(absl::StrCat("GraphBuilder::Build: output '", o.name(), "' ",
                                                     o.valid() ? "comes from another GraphBuilder" : "is empty"));
    }
    if (needed.insert(o.name()).second) graph.outputs.push_back(o.name());
  }
  // Keep the nodes the outputs depend on (like TensorFlow pruning a fetch); every placeholder stays a
  // graph input.
  std::vector<bool> keep(graph_.nodes.size(), false);
  for (size_t i = graph_.nodes.size(); i-- > 0;) {
    const compiler::Node& node = graph_.nodes[i];
    keep[i] = std::any_of(node.outputs.begin(), node.outputs.end(), [&](const std::string& o) { return needed.count(o); });
    if (keep[i]) needed.insert(node.inputs.begin(), node.inputs.end());
  }
  for (size_t i = 0; i < graph_.nodes.size(); ++i) {
    if (!keep[i]) continue;
    graph.nodes.push_back(graph_.nodes[i]);
    for (const std::string& o : graph_.nodes[i].outputs) graph.values[o] = graph_.values.at(o);
  }
  for (const auto& [name, value] : graph_.values) {
    const bool is_input = std::find(graph.inputs.begin(), graph.inputs.end(), name) != graph.inputs.end();
    if (is_input || (value.constant.has_value() && needed.count(name))) graph.values[name] = value;
  }
  TPUSIM_RETURN_IF_ERROR(graph.Validate());
  TPUSIM_RETURN_IF_ERROR(InferShapesWithCpuKernels(graph));
  return graph;
}

}  // namespace tpusim::runtime
