// Helpers for the codegen tests: a small graph builder, deterministic random data, and running a
// compiled program on the functional engine (constants placed at frame base 0, inputs written,
// outputs read back).
#pragma once

#include <algorithm>
#include <cmath>
#include <cstdint>
#include <cstring>
#include <map>
#include <random>
#include <string>
#include <utility>
#include <vector>

#include "gtest/gtest.h"
#include "tpusim/compiler_backend/compiler.h"
#include "tpusim/compiler_backend/ir.h"
#include "tpusim/isa/arch_config.h"
#include "tpusim/isa/program.h"
#include "tpusim/simulator/device_state.h"
#include "tpusim/simulator/engine.h"

namespace tpusim::compiler::testing {

// Builds a Graph with every shape given explicitly (no shape inference needed).
class GraphBuilder {
 public:
  std::string Input(const std::string& name, Shape shape) {
    g_.AddValue(name, DataType::kFloat32, std::move(shape));
    g_.inputs.push_back(name);
    return name;
  }
  std::string Constant(const std::string& name, Shape shape, std::vector<float> values) {
    Value& v = g_.AddValue(name, DataType::kFloat32, shape);
    v.constant = Tensor::FromFloats(std::move(shape), std::move(values));
    return name;
  }
  std::string Op(const std::string& op_type, std::vector<std::string> inputs, const std::string& out, Shape out_shape,
                 std::map<std::string, Attribute> attrs = {}, int opset = 13) {
    Node node;
    node.name = op_type + "_" + std::to_string(g_.nodes.size()) + "_" + out;
    node.op_type = op_type;
    node.inputs = std::move(inputs);
    node.outputs = {out};
    node.attrs = std::move(attrs);
    node.opset = opset;
    g_.AddValue(out, DataType::kFloat32, std::move(out_shape));
    g_.nodes.push_back(std::move(node));
    return out;
  }
  void Output(const std::string& name) { g_.outputs.push_back(name); }
  Graph& graph() { return g_; }

 private:
  Graph g_;
};

inline std::vector<float> RandomFloats(size_t n, uint32_t seed, float lo = -1.0f, float hi = 1.0f) {
  std::mt19937 gen(seed);
  std::uniform_real_distribution<float> dist(lo, hi);
  std::vector<float> v(n);
  for (float& x : v) x = dist(gen);
  return v;
}

inline isa::ArchConfig Tiny() {
  auto arch = isa::LoadPreset("tiny");
  EXPECT_TRUE(arch.ok()) << arch.status();
  return *arch;
}

inline CompileOptions Options(Precision p = Precision::kBf16) {
  CompileOptions o;
  o.arch = Tiny();
  o.precision = p;
  return o;
}

struct RunResult {
  std::vector<std::vector<float>> outputs;  // one per program output, row-major
  simulator::RunStats stats;
};

// Loads the program's constants at frame base 0, writes `inputs` (program input order), runs the
// engine registered as `engine` ("functional", "cycle") and reads every output.
inline absl::StatusOr<RunResult> RunOnEngine(const isa::Program& prog, const std::vector<std::vector<float>>& inputs,
                                             const std::string& engine_name) {
  if (inputs.size() != static_cast<size_t>(prog.inputs_size())) return absl::InvalidArgumentError("input count");
  auto code = isa::DecodeCode(prog);
  if (!code.ok()) return code.status();
  simulator::DeviceState state(prog.arch(), isa::BF16_FP32);
  for (const isa::Segment& seg : prog.constants()) {
    absl::Status s = state.dram.Write(seg.dram_offset(), seg.data().data(), seg.data().size());
    if (!s.ok()) return s;
  }
  for (int i = 0; i < prog.inputs_size(); ++i) {
    absl::Status s = state.dram.Write(prog.inputs(i).dram_offset(), inputs[i].data(), inputs[i].size() * 4);
    if (!s.ok()) return s;
  }
  auto engine = simulator::CreateEngine(engine_name, prog.arch());
  if (!engine.ok()) return engine.status();
  simulator::Launch launch;
  launch.program = &prog;
  launch.code = &*code;
  RunResult r;
  auto stats = (*engine)->Run(launch, state);
  if (!stats.ok()) return stats.status();
  r.stats = *stats;
  for (const isa::Binding& out : prog.outputs()) {
    int64_t n = 1;
    for (int64_t d : out.shape()) n *= d;
    std::vector<float> v(static_cast<size_t>(n));
    absl::Status s = state.dram.Read(out.dram_offset(), v.data(), v.size() * 4);
    if (!s.ok()) return s;
    r.outputs.push_back(std::move(v));
  }
  return r;
}

inline absl::StatusOr<RunResult> RunFunctional(const isa::Program& prog,
                                               const std::vector<std::vector<float>>& inputs) {
  return RunOnEngine(prog, inputs, "functional");
}

// Compiles, validates and runs in one step (gtest failures on any error).
inline RunResult CompileAndRun(const Graph& g, const std::vector<std::vector<float>>& inputs,
                               Precision p = Precision::kBf16, isa::Program* prog_out = nullptr) {
  auto prog = Compile(g, Options(p));
  EXPECT_TRUE(prog.ok()) << prog.status();
  if (!prog.ok()) return {};
  absl::Status valid = isa::ValidateProgram(*prog);
  EXPECT_TRUE(valid.ok()) << valid;
  auto r = RunFunctional(*prog, inputs);
  EXPECT_TRUE(r.ok()) << r.status();
  if (prog_out != nullptr) *prog_out = *prog;
  return r.ok() ? *r : RunResult{};
}

// Instructions attributed to each op (program.op_names order), counted from program.inst_op.
inline std::vector<uint64_t> InstructionsPerOp(const isa::Program& prog) {
  std::vector<uint64_t> counts(static_cast<size_t>(prog.op_names_size()), 0);
  for (uint32_t op : prog.inst_op()) counts.at(op)++;
  return counts;
}

}  // namespace tpusim::compiler::testing

namespace tpusim::compiler::testing {

// Expects |got[i] - want[i]| <= bound[i] for every i; reports the worst element and its error/bound.
inline void ExpectWithinBound(const std::vector<float>& got, const std::vector<double>& want,
                              const std::vector<double>& bound, const std::string& what) {
  ASSERT_EQ(got.size(), want.size()) << what;
  ASSERT_EQ(bound.size(), want.size()) << what;
  size_t worst = 0, failures = 0;
  double worst_ratio = 0;
  for (size_t i = 0; i < got.size(); ++i) {
    double err = std::abs(static_cast<double>(got[i]) - want[i]);
    double ratio = bound[i] > 0 ? err / bound[i] : (err > 0 ? INFINITY : 0);
    if (!(err <= bound[i])) failures++;
    if (ratio > worst_ratio || std::isnan(err)) {
      worst_ratio = std::isnan(err) ? INFINITY : ratio;
      worst = i;
    }
  }
  EXPECT_EQ(failures, 0u) << what << ": worst element " << worst << " got " << got[worst] << " want "
                          << want[worst] << " bound " << bound[worst] << " (error/bound " << worst_ratio << ")";
}

// max_i |got[i] - want[i]|.
inline double MaxAbsError(const std::vector<float>& got, const std::vector<double>& want) {
  double m = 0;
  for (size_t i = 0; i < got.size() && i < want.size(); ++i) {
    m = std::max(m, std::abs(static_cast<double>(got[i]) - want[i]));
  }
  return m;
}

}  // namespace tpusim::compiler::testing
