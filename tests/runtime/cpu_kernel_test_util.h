// Helpers shared by the CPU reference-kernel tests (a one-node graph node and a one-output run) and by
// the session tests that compare the TPU with the CPU (session options, graph nodes, random inputs).
#pragma once

#include <cstdint>
#include <map>
#include <random>
#include <string>
#include <vector>

#include "tpusim/isa/arch_config.h"
#include "tpusim/runtime/cpu_kernels.h"
#include "tpusim/runtime/session.h"

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

// Options of a session on `device` ("tpu" or "cpu") with TPU engine `engine`: the tiny preset,
// precision highest, no CPU fallback.
inline SessionOptions TinyOptions(const std::string& device = "tpu", const std::string& engine = "functional") {
  SessionOptions options;
  options.device = device;
  options.engine = engine;
  options.arch = *isa::LoadPreset("tiny");
  options.precision = compiler::Precision::kHighest;
  options.allow_cpu_fallback = false;
  return options;
}

// A float32 tensor of `shape`, uniform in [lo, hi) from std::mt19937(seed): deterministic test data.
inline compiler::Tensor Random(compiler::Shape shape, uint32_t seed, float lo = -2.0f, float hi = 2.0f) {
  std::mt19937 rng(seed);
  std::uniform_real_distribution<float> dist(lo, hi);
  std::vector<float> v(static_cast<size_t>(compiler::NumElements(shape)));
  for (float& x : v) x = dist(rng);
  return compiler::Tensor::FromFloats(std::move(shape), std::move(v));
}

// A graph node named after its first output.
inline compiler::Node Op(std::string op, std::vector<std::string> in, std::vector<std::string> out,
                         std::map<std::string, compiler::Attribute> attrs = {}, int opset = 13) {
  compiler::Node n;
  n.name = out[0] + "_node";
  n.op_type = std::move(op);
  n.inputs = std::move(in);
  n.outputs = std::move(out);
  n.attrs = std::move(attrs);
  n.opset = opset;
  return n;
}

}  // namespace tpusim::runtime::testing
