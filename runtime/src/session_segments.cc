// The execution plan: CPU steps and TPU segments (maximal runs of consecutive TPU-placed nodes), and
// the subgraph each segment compiles to.
#include <algorithm>
#include <map>
#include <set>

#include "absl/strings/str_cat.h"
#include "session_impl.h"
#include "tpusim/compiler_backend/compiler.h"
#include "tpusim/isa/status_macros.h"

namespace tpusim::runtime::detail {
namespace {

void AddUnique(std::vector<std::string>& list, const std::string& name) {
  if (std::find(list.begin(), list.end(), name) == list.end()) list.push_back(name);
}

// Fills inputs, constants, compile-time inputs and outputs of a segment whose nodes are set.
void DescribeSegment(const compiler::Graph& graph, const std::set<std::string>& compile_time_inputs,
                     Segment& segment) {
  std::set<std::string> produced;
  for (int index : segment.nodes) {
    const compiler::Node& node = graph.nodes[index];
    for (const std::string& in : node.inputs) {
      if (in.empty() || produced.count(in)) continue;
      const compiler::Value* v = graph.FindValue(in);
      if (v != nullptr && v->constant.has_value()) {
        AddUnique(segment.constants, in);
      } else if (compile_time_inputs.count(in)) {
        AddUnique(segment.compile_time_inputs, in);
      } else {
        AddUnique(segment.inputs, in);
      }
    }
    produced.insert(node.outputs.begin(), node.outputs.end());
  }
  std::set<std::string> used_later(graph.outputs.begin(), graph.outputs.end());
  for (size_t i = segment.nodes.back() + 1; i < graph.nodes.size(); ++i) {
    used_later.insert(graph.nodes[i].inputs.begin(), graph.nodes[i].inputs.end());
  }
  for (int index : segment.nodes) {
    for (const std::string& out : graph.nodes[index].outputs) {
      if (used_later.count(out)) AddUnique(segment.outputs, out);
    }
  }
}

}  // namespace

ExecutionPlan PlanExecution(const compiler::Graph& graph, const std::vector<Placement>& placements,
                            const std::set<std::string>& compile_time_inputs) {
  ExecutionPlan plan;
  for (size_t i = 0; i < graph.nodes.size(); ++i) {
    const int node = static_cast<int>(i);
    if (placements[i].device != kTpuDeviceName) {
      plan.steps.push_back({node, -1});
      continue;
    }
    // A program has one matrix mode (float or int8: compiler::IsInt8ModeOp), so a change of mode
    // between consecutive TPU nodes starts a new segment; values cross through the host as between
    // any two segments.
    const bool extends = i > 0 && placements[i - 1].device == kTpuDeviceName &&
                         compiler::IsInt8ModeOp(graph.nodes[i]) == compiler::IsInt8ModeOp(graph.nodes[i - 1]);
    if (!extends) {
      plan.steps.push_back({-1, static_cast<int>(plan.segments.size())});
      plan.segments.emplace_back();
    }
    plan.segments.back().nodes.push_back(node);
  }
  for (Segment& segment : plan.segments) DescribeSegment(graph, compile_time_inputs, segment);
  // The last step reading each value.
  std::map<std::string, size_t> last_use;
  for (size_t s = 0; s < plan.steps.size(); ++s) {
    const Step& step = plan.steps[s];
    const std::vector<std::string>& inputs =
        step.node >= 0 ? graph.nodes[step.node].inputs : plan.segments[step.segment].inputs;
    for (const std::string& name : inputs) last_use[name] = s;
  }
  const std::set<std::string> outputs(graph.outputs.begin(), graph.outputs.end());
  plan.release_after.resize(plan.steps.size());
  for (const auto& [name, s] : last_use) {
    if (!outputs.count(name)) plan.release_after[s].push_back(name);
  }
  return plan;
}

absl::StatusOr<compiler::Graph> SegmentSubgraph(const compiler::Graph& graph, const Segment& segment,
                                                const std::vector<const compiler::Tensor*>& inputs,
                                                const std::vector<const compiler::Tensor*>& compile_time_values) {
  compiler::Graph sub;
  for (size_t i = 0; i < segment.inputs.size(); ++i) {
    sub.AddValue(segment.inputs[i], inputs[i]->dtype(), inputs[i]->shape());
    sub.inputs.push_back(segment.inputs[i]);
  }
  for (const std::string& name : segment.constants) sub.values[name] = graph.values.at(name);
  for (size_t i = 0; i < segment.compile_time_inputs.size(); ++i) {
    const compiler::Tensor& value = *compile_time_values[i];
    sub.AddValue(segment.compile_time_inputs[i], value.dtype(), value.shape()).constant = value;
  }
  for (int index : segment.nodes) {
    compiler::Node node = graph.nodes[index];
    node.requested_device.clear();
    for (const std::string& out : node.outputs) {
      const compiler::Value* v = graph.FindValue(out);
      sub.AddValue(out, v != nullptr ? v->dtype : compiler::DataType::kFloat32);
    }
    sub.nodes.push_back(std::move(node));
  }
  sub.outputs = segment.outputs;
  TPUSIM_RETURN_IF_ERROR(sub.Validate());
  TPUSIM_RETURN_IF_ERROR(compiler::InferShapes(sub));
  return sub;
}

}  // namespace tpusim::runtime::detail
