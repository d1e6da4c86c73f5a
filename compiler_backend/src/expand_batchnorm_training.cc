// Training-mode BatchNormalization (opset >= 14, training_mode=1) on the TPU: before codegen each such
// node is rewritten into ReduceMean, Sub, Mul, Add, Sqrt, Div and Reshape nodes, which the existing
// lowerings run (the way expand_rnn.cc unrolls recurrent nodes). With X [N, C, D1, ...], axes
// {0, 2, 3, ...}, momentum m (default 0.9) and epsilon e (default 1e-5), ONNX opset 15 semantics:
//   mean = ReduceMean(X, axes, keepdims)          [1, C, 1, ...]
//   d    = X - mean
//   var  = ReduceMean(d * d, axes, keepdims)      (population variance, as numpy's x.var())
//   Y    = d / Sqrt(var + e) * scale + B
//   running_mean = input_mean * m + mean * (1 - m)  -> Reshape to [C]
//   running_var  = input_var * m + var * (1 - m)    -> Reshape to [C]
// scale, B, input_mean and input_var are compile-time operands (constants when Compile runs; the
// session folds graph inputs that feed them); their reshapes and the products with m are folded here
// in float32. Replacement nodes are named "<bn node>/<op>_<k>"; CompileBatchNormTraining attributes
// their instructions back to the BatchNormalization node.
#include <algorithm>
#include <map>
#include <string>
#include <vector>

#include "absl/status/status.h"
#include "absl/strings/str_cat.h"
#include "batchnorm_training.h"
#include "internal.h"
#include "node_emitter.h"
#include "shape_functions.h"
#include "tpusim/compiler_backend/compiler.h"
#include "tpusim/isa/status_macros.h"

namespace tpusim::compiler::detail {
namespace {

template <typename... Args>
absl::Status Invalid(const Node& node, const Args&... args) {
  return absl::InvalidArgumentError(absl::StrCat(NodeLabel(node), ": ", args...));
}

const Tensor* FloatConstant(const Graph& g, const std::string& name) {
  const Value* v = name.empty() ? nullptr : g.FindValue(name);
  if (v == nullptr || !v->constant.has_value() || v->constant->dtype() != DataType::kFloat32) return nullptr;
  return &*v->constant;
}

class Expander : public NodeEmitter {
 public:
  Expander(Graph& g, const Node& bn, std::vector<Node>& out) : NodeEmitter(g, bn, out), bn_(bn) {}

  absl::Status Run() {
    const Value* xv = g_.FindValue(bn_.inputs[0]);
    if (xv == nullptr || !xv->shape.has_value()) return Invalid(bn_, "X has no known shape");
    const Shape x = *xv->shape;
    const int64_t c = x[1];
    TPUSIM_ASSIGN_OR_RETURN(float eps, bn_.GetFloat("epsilon", 1e-5f));
    TPUSIM_ASSIGN_OR_RETURN(float momentum, bn_.GetFloat("momentum", 0.9f));
    std::vector<const float*> p(5, nullptr);
    for (size_t i = 1; i < 5; ++i) {
      const Tensor* t = FloatConstant(g_, bn_.inputs[i]);
      if (t == nullptr || t->num_elements() != c) {
        return Invalid(bn_, "input ", i, " must be a float32 constant of ", c, " elements in training mode");
      }
      p[i] = t->as<float>();
    }
    Shape stat(x.size(), 1);
    stat[1] = c;
    auto per_channel = [&](auto f) {
      Tensor t(DataType::kFloat32, stat);
      for (int64_t k = 0; k < c; ++k) t.as<float>()[k] = f(k);
      return Constant(std::move(t));
    };
    auto scalar = [&](float v) {
      Tensor t(DataType::kFloat32, Shape{});
      t.as<float>()[0] = v;
      return Constant(std::move(t));
    };
    std::vector<int64_t> axes = {0};
    for (size_t d = 2; d < x.size(); ++d) axes.push_back(static_cast<int64_t>(d));
    const std::map<std::string, Attribute> reduce = {{"axes", axes}, {"keepdims", int64_t{1}}};
    const std::string mean = Emit("ReduceMean", {bn_.inputs[0]}, stat, reduce);
    const std::string d = Emit("Sub", {bn_.inputs[0], mean}, x);
    const std::string d2 = Emit("Mul", {d, d}, x);
    const std::string var = Emit("ReduceMean", {d2}, stat, reduce);
    if (!bn_.outputs[0].empty()) {
      const std::string den = Emit("Sqrt", {Emit("Add", {var, scalar(eps)}, stat)}, stat);
      const std::string norm = Emit("Div", {d, den}, x);
      const std::string scaled = Emit("Mul", {norm, per_channel([&](int64_t k) { return p[1][k]; })}, x);
      Emit("Add", {scaled, per_channel([&](int64_t k) { return p[2][k]; })}, x, {}, bn_.outputs[0]);
    }
    const float keep = 1.0f - momentum;
    for (size_t i = 1; i <= 2 && i < bn_.outputs.size(); ++i) {
      if (bn_.outputs[i].empty()) continue;
      const float* running = p[i + 2];
      const std::string batch = Emit("Mul", {i == 1 ? mean : var, scalar(keep)}, stat);
      const std::string sum = Emit("Add", {batch, per_channel([&](int64_t k) { return running[k] * momentum; })}, stat);
      Tensor shape(DataType::kInt64, Shape{1});
      shape.as<int64_t>()[0] = c;
      Emit("Reshape", {sum, Constant(std::move(shape))}, Shape{c}, {}, bn_.outputs[i]);
    }
    return absl::OkStatus();
  }

 private:
  const Node& bn_;
};

}  // namespace

bool IsTrainingBatchNormNode(const Node& node) {
  if (node.op_type != "BatchNormalization") return false;
  absl::StatusOr<int64_t> t = node.GetInt("training_mode", 0);
  return t.ok() && *t != 0;
}

bool HasTrainingBatchNorm(const Graph& graph) {
  return std::any_of(graph.nodes.begin(), graph.nodes.end(), IsTrainingBatchNormNode);
}

absl::Status CheckBatchNormTrainingSupport(const Node& node, const Graph& graph) {
  auto unsupported = [&](const std::string& why) {
    return absl::UnimplementedError(absl::StrCat("BatchNormalization in training mode ", why));
  };
  if (node.opset < 14) return unsupported("before opset 14 (saved statistics outputs) runs on the CPU only");
  if (node.inputs.size() != 5 || node.outputs.size() > 3) return unsupported("needs 5 inputs and at most 3 outputs");
  TPUSIM_RETURN_IF_ERROR(node.GetFloat("epsilon", 1e-5f).status());
  TPUSIM_RETURN_IF_ERROR(node.GetFloat("momentum", 0.9f).status());
  const Value* x = graph.FindValue(node.inputs[0]);
  if (x != nullptr && x->shape.has_value() && x->shape->size() < 2) return unsupported("needs X of rank >= 2");
  for (size_t i = 1; i < 5; ++i) {
    const Value* v = graph.FindValue(node.inputs[i]);
    if (v != nullptr && v->dtype != DataType::kFloat32) return unsupported("needs float32 scale, B, mean and var");
  }
  return absl::OkStatus();
}

absl::StatusOr<std::vector<Shape>> BatchNormShapes(const Node& node, const std::vector<Shape>& in, const Graph& graph) {
  TPUSIM_ASSIGN_OR_RETURN(Shape y, BatchNormShape(node, in, graph));
  std::vector<Shape> out = {y};
  while (out.size() < node.outputs.size()) out.push_back(Shape{y[1]});
  return out;
}

absl::StatusOr<Graph> ExpandTrainingBatchNorms(const Graph& graph_in) {
  Graph g = graph_in;
  for (auto& [name, v] : g.values) {
    if (v.constant.has_value()) v.shape = v.constant->shape();
  }
  if (std::any_of(g.nodes.begin(), g.nodes.end(), [&](const Node& n) {
        return IsTrainingBatchNormNode(n) && !g.FindValue(n.inputs[0])->shape.has_value();
      })) {
    TPUSIM_RETURN_IF_ERROR(InferShapes(g));
  }
  std::vector<Node> nodes = std::move(g.nodes);
  g.nodes.clear();
  for (const Node& n : nodes) {
    if (!IsTrainingBatchNormNode(n)) {
      g.nodes.push_back(n);
      continue;
    }
    TPUSIM_RETURN_IF_ERROR(CheckBatchNormTrainingSupport(n, g));
    Expander e(g, n, g.nodes);
    TPUSIM_RETURN_IF_ERROR(e.Run());
  }
  return g;
}

absl::StatusOr<isa::Program> CompileBatchNormTraining(const Graph& graph, const CompileOptions& options) {
  TPUSIM_ASSIGN_OR_RETURN(Graph expanded, ExpandTrainingBatchNorms(graph));
  TPUSIM_ASSIGN_OR_RETURN(isa::Program program, Compile(expanded, options));
  for (const Node& n : graph.nodes) {
    if (!IsTrainingBatchNormNode(n)) continue;
    const std::string prefix = n.name + "/";
    for (std::string& op : *program.mutable_op_names()) {
      if (op.compare(0, prefix.size(), prefix) == 0) op = n.name;
    }
  }
  return program;
}

}  // namespace tpusim::compiler::detail
