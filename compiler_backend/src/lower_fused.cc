// Epilogue fusion: Conv -> Relu | Sigmoid | Tanh (lower_conv.cc applies it), and MatMul (constant 2-D B) [-> Add (constant bias over the last dim)] [-> Relu | Sigmoid
// | Tanh] becomes one GEMM whose ACTIVATE adds the bias row and applies the function on the way out of
// the accumulators. Numerically identical to the unfused ops (the same fp32 add and the same activation
// function, in the same order), minus the intermediate round trips through DRAM.
//
// A link is only taken when the intermediate value has exactly one use (one node input, not a graph
// output), so nothing else can observe it.
#include <map>
#include <optional>
#include <string>
#include <vector>

#include "lowering.h"

namespace tpusim::compiler::codegen {
namespace {

bool IsFloat(const Value* v) {
  return v != nullptr && v->dtype == DataType::kFloat32 && KnownShape(*v) != nullptr &&
         (!v->constant.has_value() || v->constant->dtype() == DataType::kFloat32);
}

std::optional<isa::ActFunc> ActivationOf(const std::string& op_type) {
  if (op_type == "Relu") return isa::ActFunc::Relu;
  if (op_type == "Sigmoid") return isa::ActFunc::Sigmoid;
  if (op_type == "Tanh") return isa::ActFunc::Tanh;
  return std::nullopt;
}

}  // namespace

FusionPlan FindFusions(const Graph& graph) {
  std::map<std::string, int> uses;
  std::map<std::string, size_t> consumer;  // the (last) node reading a value
  for (size_t i = 0; i < graph.nodes.size(); ++i) {
    for (const std::string& in : graph.nodes[i].inputs) {
      if (in.empty()) continue;
      uses[in]++;
      consumer[in] = i;
    }
  }
  for (const std::string& out : graph.outputs) uses[out] += 2;  // never fused away
  // The node that is the only reader of `value`, or nullptr.
  auto sole_consumer = [&](const std::string& value) -> const Node* {
    auto it = uses.find(value);
    return it != uses.end() && it->second == 1 ? &graph.nodes[consumer.at(value)] : nullptr;
  };

  FusionPlan plan;
  // Conv [-> Relu | Sigmoid | Tanh]: the activation runs in the conv GEMM's ACTIVATE, after its bias.
  for (const Node& node : graph.nodes) {
    if (node.op_type != "Conv" || node.inputs.size() < 2 || node.outputs.size() != 1) continue;
    const Value* y = graph.FindValue(node.outputs[0]);
    const Node* next = IsFloat(y) ? sole_consumer(y->name) : nullptr;
    if (next == nullptr || !ActivationOf(next->op_type).has_value() || next->inputs.size() != 1 ||
        next->outputs.size() != 1 || !IsFloat(graph.FindValue(next->outputs[0]))) {
      continue;
    }
    FusedEpilogue fused;
    fused.func = *ActivationOf(next->op_type);
    fused.output = next->outputs[0];
    plan.heads[node.name] = fused;
    plan.absorbed_nodes.insert(next->name);
    plan.elided_values.insert(y->name);
  }
  for (const Node& node : graph.nodes) {
    if (node.op_type != "MatMul" || node.inputs.size() != 2 || node.outputs.size() != 1) continue;
    const Value* a = graph.FindValue(node.inputs[0]);
    const Value* b = graph.FindValue(node.inputs[1]);
    const Value* h = graph.FindValue(node.outputs[0]);
    if (!IsFloat(a) || !IsFloat(b) || !IsFloat(h) || !b->constant.has_value() || KnownShape(*b)->size() != 2 ||
        KnownShape(*a)->size() < 2 || plan.absorbed_nodes.count(node.name) != 0) {
      continue;
    }
    const int64_t n = KnownShape(*b)->back();
    FusedEpilogue fused;
    fused.output = h->name;
    std::vector<std::string> absorbed, elided;
    const Node* next = sole_consumer(fused.output);
    if (next != nullptr && next->op_type == "Add" && next->inputs.size() == 2 && next->outputs.size() == 1 &&
        next->inputs[0] != next->inputs[1]) {
      const std::string& other = next->inputs[0] == fused.output ? next->inputs[1] : next->inputs[0];
      const Value* bias = graph.FindValue(other);
      const Value* sum = graph.FindValue(next->outputs[0]);
      bool row_bias = IsFloat(bias) && bias->constant.has_value() && IsFloat(sum) &&
                      *KnownShape(*sum) == *KnownShape(*h);
      if (row_bias) {
        const Shape& bs = *KnownShape(*bias);
        row_bias = !bs.empty() && bs.size() <= 2 && bs.back() == n && NumElements(bs) == n;
      }
      if (row_bias) {
        fused.bias = other;
        absorbed.push_back(next->name);
        elided.push_back(fused.output);
        fused.output = sum->name;
        next = sole_consumer(fused.output);
      }
    }
    if (next != nullptr && ActivationOf(next->op_type).has_value() && next->inputs.size() == 1 &&
        next->outputs.size() == 1 && IsFloat(graph.FindValue(next->outputs[0]))) {
      fused.func = *ActivationOf(next->op_type);
      absorbed.push_back(next->name);
      elided.push_back(fused.output);
      fused.output = next->outputs[0];
    }
    if (absorbed.empty()) continue;
    plan.heads[node.name] = fused;
    plan.absorbed_nodes.insert(absorbed.begin(), absorbed.end());
    plan.elided_values.insert(elided.begin(), elided.end());
  }
  return plan;
}

}  // namespace tpusim::compiler::codegen
