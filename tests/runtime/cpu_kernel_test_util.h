// Helpers shared by the CPU reference-kernel tests: a one-node graph node and a one-output run.
#pragma once

#include <map>
#include <string>
#include <vector>

#include "tpusim/runtime/cpu_kernels.h"

namespace tpusim::runtime::testing {

inline compiler::Node MakeNode(const std::string& op, size_t inputs,
                               std::map<std::string, compiler::Attribute> attrs = {}, int opset = 13) {
  compiler::Node node;
  node.name = "n";
  node.op_type = op;
  for (size_t i = 0; i < inputs; ++i) node.inputs.push_back("in" + std::to_string(i));
  node.outputs = {"out"};
  node.attrs = std::move(attrs);
  node.opset = opset;
  return node;
}

// The first output of the registered kernel (RunCpuKernel: lookup, then compute).
inline absl::StatusOr<compiler::Tensor> Run1(const compiler::Node& node,
                                             const std::vector<const compiler::Tensor*>& inputs) {
  absl::StatusOr<std::vector<compiler::Tensor>> out = RunCpuKernel(node, inputs);
  if (!out.ok()) return out.status();
  return (*out)[0];
}

inline std::vector<float> Floats(const compiler::Tensor& t) {
  return {t.as<float>(), t.as<float>() + t.num_elements()};
}

inline std::vector<int64_t> Int64s(const compiler::Tensor& t) {
  return {t.as<int64_t>(), t.as<int64_t>() + t.num_elements()};
}
}  // namespace tpusim::runtime::testing
