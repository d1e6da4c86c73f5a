// Same program, same bits (DESIGN.md, engine invariant 1): for every ONNX conformance model, the cycle
// engine's TPU outputs are byte-identical to the functional engine's (through a session, every data
// set), and so is the program's whole DRAM frame after one launch (through the driver, for models
// whose graph compiles as one program).
#include <gtest/gtest.h>

#include <algorithm>
#include <cstring>

#include "onnx_test_data.h"
#include "tpusim/compiler_backend/compiler.h"
#include "tpusim/compiler_backend/onnx_frontend.h"
#include "tpusim/isa/arch_config.h"
#include "tpusim/isa/program.h"
#include "tpusim/runtime/cpu_kernels.h"
#include "tpusim/runtime/session.h"

namespace tpusim::runtime {
namespace {

using testing::OnnxDataFiles;
using testing::OnnxDataSets;
using testing::OnnxNodeTestDir;

isa::ArchConfig Tiny() { return *isa::LoadPreset("tiny"); }

// Data set `set`'s inputs, by graph input name.
std::map<std::string, compiler::Tensor> Feeds(const compiler::Graph& g, const std::string& set) {
  std::map<std::string, compiler::Tensor> feeds;
  const std::vector<std::string> files = OnnxDataFiles(set, "input");
  EXPECT_EQ(files.size(), g.inputs.size()) << set;
  for (size_t k = 0; k < files.size() && k < g.inputs.size(); ++k) {
    absl::StatusOr<compiler::Tensor> t = compiler::ReadTensorProtoFile(files[k]);
    EXPECT_TRUE(t.ok()) << t.status();
    if (t.ok()) feeds[g.inputs[k]] = *std::move(t);
  }
  return feeds;
}

bool SameBytes(const compiler::Tensor& a, const compiler::Tensor& b) {
  return a.dtype() == b.dtype() && a.shape() == b.shape() && a.byte_size() == b.byte_size() &&
         std::memcmp(a.data(), b.data(), a.byte_size()) == 0;
}

class EngineEquivalence : public ::testing::TestWithParam<std::string> {};

TEST_P(EngineEquivalence, CycleEngineOutputsAreBitIdenticalToFunctional) {
  const std::string dir = OnnxNodeTestDir(GetParam());
  absl::StatusOr<compiler::Graph> graph = compiler::ImportOnnxFile(dir + "/model.onnx");
  ASSERT_TRUE(graph.ok()) << graph.status();
  std::map<std::string, std::unique_ptr<Session>> sessions;
  for (const char* engine : {"functional", "cycle"}) {
    SessionOptions options;
    options.engine = engine;
    options.arch = Tiny();
    options.precision = compiler::Precision::kHighest;
    options.allow_cpu_fallback = false;
    absl::StatusOr<std::unique_ptr<Session>> s = Session::Create(*graph, options);
    ASSERT_TRUE(s.ok()) << engine << ": " << s.status();
    sessions[engine] = *std::move(s);
  }
  for (const std::string& set : OnnxDataSets(dir)) {
    const auto feeds = Feeds(sessions["functional"]->graph(), set);
    RunReport functional_report, cycle_report;
    absl::StatusOr<std::map<std::string, compiler::Tensor>> want =
        sessions["functional"]->Run(feeds, &functional_report);
    absl::StatusOr<std::map<std::string, compiler::Tensor>> got = sessions["cycle"]->Run(feeds, &cycle_report);
    ASSERT_TRUE(want.ok()) << want.status();
    ASSERT_TRUE(got.ok()) << got.status();
    ASSERT_EQ(got->size(), want->size());
    for (const auto& [name, tensor] : *want) {
      ASSERT_EQ(got->count(name), 1u) << name;
      EXPECT_TRUE(SameBytes(got->at(name), tensor)) << set << ": output '" << name << "' differs";
    }
    // Same work, counted the same way; only the cycle engine has cycles, and its buckets sum to them.
    EXPECT_EQ(cycle_report.tpu.instructions, functional_report.tpu.instructions);
    EXPECT_EQ(cycle_report.tpu.useful_macs, functional_report.tpu.useful_macs);
    EXPECT_EQ(cycle_report.tpu.dram_to_ub_bytes, functional_report.tpu.dram_to_ub_bytes);
    EXPECT_EQ(functional_report.tpu.cycles, 0u);
    // A program that moves no data (every output empty: test_slice_start_out_of_bounds) is one HALT
    // per launch and may take no cycles; any other work takes some.
    if (cycle_report.tpu.instructions > static_cast<uint64_t>(cycle_report.tpu_launches)) {
      EXPECT_GT(cycle_report.tpu.cycles, 0u);
    }
    EXPECT_EQ(cycle_report.tpu.buckets.total(), cycle_report.tpu.cycles);
  }
}

// One launch of `program` on a fresh tiny tpu device with `engine`; returns the whole frame.
absl::StatusOr<std::string> FrameAfterLaunch(const isa::Program& program, const std::string& engine,
                                             const std::map<std::string, compiler::Tensor>& feeds) {
  driver::DeviceOptions options;
  options.engine = engine;
  options.arch = Tiny();
  absl::StatusOr<driver::Platform*> platform = driver::GetPlatform("tpu");
  if (!platform.ok()) return platform.status();
  absl::StatusOr<std::unique_ptr<driver::Device>> device = (*platform)->OpenDevice(0, options);
  if (!device.ok()) return device.status();
  absl::StatusOr<std::unique_ptr<driver::Executable>> exe = (*device)->LoadProgram(program);
  if (!exe.ok()) return exe.status();
  std::vector<driver::DeviceMemory> inputs, outputs;
  for (const isa::Binding& b : program.inputs()) {
    const compiler::Tensor& t = feeds.at(b.name());
    absl::StatusOr<driver::DeviceMemory> mem = (*device)->Allocate(t.byte_size());
    if (!mem.ok()) return mem.status();
    if (absl::Status s = (*device)->CopyToDevice(*mem, t.data(), t.byte_size()); !s.ok()) return s;
    inputs.push_back(*mem);
  }
  for (const isa::Binding& b : program.outputs()) {
    uint64_t bytes = isa::TensorTypeBytes(b.dtype());
    for (int64_t d : b.shape()) bytes *= static_cast<uint64_t>(d);
    absl::StatusOr<driver::DeviceMemory> mem = (*device)->Allocate(bytes);
    if (!mem.ok()) return mem.status();
    outputs.push_back(*mem);
  }
  absl::StatusOr<std::unique_ptr<driver::Stream>> stream = (*device)->CreateStream();
  if (!stream.ok()) return stream.status();
  (*stream)->Launch(**exe, inputs, outputs, nullptr);
  if (absl::Status s = (*stream)->Synchronize(); !s.ok()) return s;
  const driver::DeviceMemory frame = (*exe)->frame();
  std::string bytes(frame.size, '\0');
  if (absl::Status s = (*device)->CopyFromDevice(bytes.data(), frame, frame.size); !s.ok()) return s;
  return bytes;
}

TEST_P(EngineEquivalence, CycleEngineLeavesTheSameFrameAsFunctional) {
  const std::string dir = OnnxNodeTestDir(GetParam());
  absl::StatusOr<compiler::Graph> graph = compiler::ImportOnnxFile(dir + "/model.onnx");
  ASSERT_TRUE(graph.ok()) << graph.status();
  const auto feeds = Feeds(*graph, OnnxDataSets(dir).at(0));
  // A graph input read where the lowering reads at compile time (a Reshape's shape, a Slice's starts,
  // a Clip's bounds, ...) is a compile-time input: bake the fed value in as a constant, as a session does.
  for (const compiler::Node& node : graph->nodes) {
    for (size_t i = 0; i < node.inputs.size(); ++i) {
      if (!compiler::IsCompileTimeOperand(node, i)) continue;
      auto it = std::find(graph->inputs.begin(), graph->inputs.end(), node.inputs[i]);
      if (it == graph->inputs.end()) continue;
      graph->values[*it].constant = feeds.at(*it);
      graph->inputs.erase(it);
    }
  }
  compiler::CompileOptions options;
  options.arch = Tiny();
  options.precision = compiler::Precision::kHighest;
  // As a session prepares a graph: infer shapes, fold shape-only subgraphs into constants, repeat.
  ASSERT_TRUE(InferShapesWithCpuKernels(*graph).ok());
  for (int folded = 1; folded > 0;) {
    absl::StatusOr<int> f = compiler::FoldShapeSubgraphs(*graph);
    ASSERT_TRUE(f.ok()) << f.status();
    folded = *f;
    if (folded > 0) {
      ASSERT_TRUE(InferShapesWithCpuKernels(*graph).ok());
    }
  }
  if (graph->nodes.empty()) {
    GTEST_SKIP() << "the whole graph folded into constants at compile time: no program runs";
  }
  absl::StatusOr<isa::Program> program = compiler::Compile(*graph, options);
  ASSERT_TRUE(program.ok()) << program.status();
  absl::StatusOr<std::string> want = FrameAfterLaunch(*program, "functional", feeds);
  absl::StatusOr<std::string> got = FrameAfterLaunch(*program, "cycle", feeds);
  ASSERT_TRUE(want.ok()) << want.status();
  ASSERT_TRUE(got.ok()) << got.status();
  ASSERT_EQ(got->size(), want->size());
  size_t first = 0;
  while (first < want->size() && (*got)[first] == (*want)[first]) ++first;
  EXPECT_EQ(first, want->size()) << "frames differ first at byte " << first << " of " << want->size();
}

INSTANTIATE_TEST_SUITE_P(OnnxNodeTests, EngineEquivalence, ::testing::ValuesIn(testing::ConformancePassList()),
                         [](const ::testing::TestParamInfo<std::string>& info) { return info.param; });

}  // namespace
}  // namespace tpusim::runtime
