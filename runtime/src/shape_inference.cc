// InferShapesWithCpuKernels: the compiler's shape inference, or, where it fails, node-by-node inference
// with the CPU kernels (and the compiler for ops without one).
#include "absl/strings/str_cat.h"
#include "tpusim/compiler_backend/compiler.h"
#include "tpusim/isa/status_macros.h"
#include "tpusim/runtime/cpu_kernels.h"

namespace tpusim::runtime {
namespace {

using compiler::Graph;
using compiler::Node;

// What is known about the node's inputs; false if some present input has an unknown shape.
bool GatherInputs(const Graph& graph, const Node& node, std::vector<KernelInputInfo>& infos) {
  infos.assign(node.inputs.size(), KernelInputInfo{});
  for (size_t i = 0; i < node.inputs.size(); ++i) {
    if (node.inputs[i].empty()) continue;
    const compiler::Value* v = graph.FindValue(node.inputs[i]);
    if (v == nullptr) return false;
    if (v->constant.has_value()) {
      infos[i] = {true, v->constant->dtype(), v->constant->shape(), &*v->constant};
      continue;
    }
    if (!v->shape.has_value()) return false;
    infos[i] = {true, v->dtype, *v->shape, nullptr};
  }
  return true;
}

// The compiler's inference on a graph holding just `node` (its inputs as graph inputs or constants).
absl::Status InferOneNodeWithCompiler(Graph& graph, Node& node) {
  Graph one;
  for (const std::string& name : node.inputs) {
    if (name.empty() || one.values.count(name)) continue;
    const compiler::Value* v = graph.FindValue(name);
    one.values[name] = *v;
    if (!v->constant.has_value()) one.inputs.push_back(name);
  }
  for (const std::string& name : node.outputs) {
    const compiler::Value* v = graph.FindValue(name);
    compiler::Value& out = one.AddValue(name, v != nullptr ? v->dtype : compiler::DataType::kFloat32);
    out.shape.reset();
    one.outputs.push_back(name);
  }
  one.nodes.push_back(node);
  TPUSIM_RETURN_IF_ERROR(compiler::InferShapes(one));
  for (const std::string& name : node.outputs) {
    const compiler::Value* inferred = one.FindValue(name);
    if (inferred == nullptr || !inferred->shape.has_value()) continue;
    compiler::Value& v = graph.values[name];
    v.name = name;
    v.dtype = inferred->dtype;
    v.shape = inferred->shape;
  }
  return absl::OkStatus();
}

}  // namespace

absl::Status InferShapesWithCpuKernels(Graph& graph) {
  {
    Graph attempt = graph;
    absl::Status status = compiler::InferShapes(attempt);
    if (status.ok()) {
      graph = std::move(attempt);
      return absl::OkStatus();
    }
    // Otherwise (an op the compiler does not know, or a mismatch) go node by node: every op the TPU
    // supports has a CPU kernel whose inference reports real mismatches, naming the node.
  }
  std::vector<KernelInputInfo> infos;
  for (Node& node : graph.nodes) {
    if (!GatherInputs(graph, node, infos)) continue;  // stays unknown
    if (const CpuKernel* kernel = FindCpuKernel(node.op_type)) {
      absl::StatusOr<std::vector<KernelOutputInfo>> outs = kernel->infer(node, infos);
      if (absl::IsFailedPrecondition(outs.status()) || absl::IsUnimplemented(outs.status())) continue;
      TPUSIM_RETURN_IF_ERROR(outs.status());
      if (outs->size() != node.outputs.size()) {
        return absl::InvalidArgumentError(absl::StrCat(node.op_type, " (node '", node.name, "'): has ",
                                                       node.outputs.size(), " outputs, the op produces ",
                                                       outs->size()));
      }
      for (size_t i = 0; i < outs->size(); ++i) {
        compiler::Value& v = graph.values[node.outputs[i]];
        v.name = node.outputs[i];
        v.dtype = (*outs)[i].dtype;
        v.shape = (*outs)[i].shape;
      }
      continue;
    }
    // No CPU kernel: an op only the compiler may know; if it cannot infer it, the shape stays unknown
    // and placement reports the op.
    InferOneNodeWithCompiler(graph, node).IgnoreError();
  }
  return absl::OkStatus();
}

}  // namespace tpusim::runtime
