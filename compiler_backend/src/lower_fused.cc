// Epilogue fusion: Conv -> Relu | Sigmoid | Tanh and Conv -> Add(residual) [-> Relu | Sigmoid | Tanh]
// (lower_conv.cc applies them), and MatMul (constant 2-D B) [-> Add (constant bias over the last dim)]
// [-> Relu | Sigmoid | Tanh] becomes one GEMM whose ACTIVATE adds the bias row and applies the function on the way out of
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

// Conv -> Add(other) [-> Relu | Sigmoid | Tanh]: the conv writes func(conv + bias + other) (a
// residual block's tail). The Add must not broadcast (conv output, other and sum of one shape), the
// conv output must have the Add as its only reader, and `other` must be ready when the conv runs:
// produced by an earlier node, or a graph input / constant. Of two convs feeding one Add (a ResNet
// downsample block: conv3 and the shortcut conv) the later one is the head and reads the other's
// output as `other`. Numerically identical: the same fp32 adds and the same function
// (GemmEpilogue::c_then_func, or one vector pass after the conv in the other conv forms).
void FindResidualFusions(const Graph& graph, const std::map<std::string, int>& uses, FusionPlan& plan) {
  std::map<std::string, size_t> producer;
  for (size_t i = 0; i < graph.nodes.size(); ++i) {
    for (const std::string& out : graph.nodes[i].outputs) producer[out] = i;
  }
  auto used_once = [&](const std::string& v) {
    auto it = uses.find(v);
    return it != uses.end() && it->second == 1;
  };
  std::map<std::string, size_t> consumer;
  for (size_t i = 0; i < graph.nodes.size(); ++i) {
    for (const std::string& in : graph.nodes[i].inputs) consumer[in] = i;
  }
  for (const Node& add : graph.nodes) {
    if (add.op_type != "Add" || add.inputs.size() != 2 || add.outputs.size() != 1 || add.inputs[0] == add.inputs[1] ||
        plan.absorbed_nodes.count(add.name) != 0) {
      continue;
    }
    const Value* sum = graph.FindValue(add.outputs[0]);
    if (!IsFloat(sum)) continue;
    std::optional<size_t> head;  // index into add.inputs of the conv output that heads the fusion
    size_t head_index = 0;
    for (size_t k = 0; k < 2; ++k) {
      const Value* v = graph.FindValue(add.inputs[k]);
      const Value* o = graph.FindValue(add.inputs[1 - k]);
      if (!IsFloat(v) || !IsFloat(o) || *KnownShape(*v) != *KnownShape(*sum) || *KnownShape(*o) != *KnownShape(*sum) ||
          !used_once(v->name)) {
        continue;
      }
      auto p = producer.find(v->name);
      if (p == producer.end()) continue;
      const Node& conv = graph.nodes[p->second];
      if (conv.op_type != "Conv" || conv.outputs.size() != 1 || plan.heads.count(conv.name) != 0) continue;
      auto q = producer.find(o->name);
      if (q != producer.end() && q->second >= p->second) continue;  // `other` not ready at the conv
      if (!head.has_value() || p->second > head_index) {
        head = k;
        head_index = p->second;
      }
    }
    if (!head.has_value()) continue;
    FusedEpilogue fused;
    fused.residual = add.inputs[1 - *head];
    fused.output = sum->name;
    std::vector<std::string> absorbed = {add.name}, elided = {add.inputs[*head]};
    if (used_once(sum->name)) {
      const Node& next = graph.nodes[consumer.at(sum->name)];
      if (ActivationOf(next.op_type).has_value() && next.inputs.size() == 1 && next.outputs.size() == 1 &&
          IsFloat(graph.FindValue(next.outputs[0]))) {
        fused.func = *ActivationOf(next.op_type);
        absorbed.push_back(next.name);
        elided.push_back(sum->name);
        fused.output = next.outputs[0];
      }
    }
    plan.heads[graph.nodes[head_index].name] = fused;
    plan.absorbed_nodes.insert(absorbed.begin(), absorbed.end());
    plan.elided_values.insert(elided.begin(), elided.end());
  }
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
  FindResidualFusions(graph, uses, plan);
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
