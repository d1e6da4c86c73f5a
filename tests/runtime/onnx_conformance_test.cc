// ONNX backend node tests (Debian's libonnx-testdata) on the TPU: every op on the TPU (no CPU fallback),
// tiny arch, precision `highest`, compared with the shipped outputs at ONNX's backend-test tolerance
// (rtol 1e-3, atol 1e-7). One parameterised suite over (test, engine): every TPU engine must pass
// (the engines' bit-for-bit agreement is engine_equivalence_test.cc).
//
// The tests run are those listed in tests/onnx_conformance_pass.txt (the list may only grow). To
// regenerate it, run with TPUSIM_CONFORMANCE_SCAN=1:
//   TPUSIM_CONFORMANCE_SCAN=1 build/tests/test_runtime --gtest_filter='OnnxConformanceScan.*'
// which tries every node test whose op types are all in kTpuOpTypes and prints PASS/FAIL lines.
#include <gtest/gtest.h>
#include <onnx/onnx_pb.h>

#include <cstdlib>
#include <fstream>
#include <iostream>
#include <set>
#include <tuple>

#include "onnx_test_data.h"
#include "tpusim/compiler_backend/onnx_frontend.h"
#include "tpusim/isa/arch_config.h"
#include "tpusim/runtime/session.h"

namespace tpusim::runtime {
namespace {

using testing::AllCloseMismatch;
using testing::OnnxDataFiles;
using testing::OnnxDataSets;
using testing::OnnxNodeTestDir;

// The op types the compiler claims (issues 2 and 5); the scan tries node tests made only of these.
const std::set<std::string> kTpuOpTypes = {
    "MatMul",  "Gemm",    "Add",      "Sub",       "Mul",       "Div",        "Relu",     "Sigmoid",
    "Tanh",    "Softmax", "Flatten",  "Reshape",   "Identity",  "Constant",   "Exp",      "Log",
    "Sqrt",    "Reciprocal", "Abs",   "Neg",       "Erf",       "LeakyRelu",  "Clip",     "Pow",
    "Transpose", "Concat", "Slice",   "Squeeze",   "Unsqueeze", "Expand",     "ReduceSum", "ReduceMean",
    "ReduceMax",
    "Conv",    "BatchNormalization", "Pad", "MaxPool",  "AveragePool", "GlobalAveragePool",
    "GlobalMaxPool", "Split", "Gather",  "PRelu",   "LayerNormalization", "Shape",  "Size",
    "Cast",    "ConstantOfShape", "LSTM", "GRU",     "RNN"};

// The TPU engines every conformance test runs on.
const std::vector<std::string> kEngines = {"functional", "cycle"};

// Runs one node test on `engine`; "" on success, else what failed.
std::string RunNodeTest(const std::string& name, const std::string& engine) {
  const std::string dir = OnnxNodeTestDir(name);
  absl::StatusOr<compiler::Graph> graph = compiler::ImportOnnxFile(dir + "/model.onnx");
  if (!graph.ok()) return absl::StrCat("import: ", graph.status().ToString());
  SessionOptions options;
  options.device = "tpu";
  options.engine = engine;
  options.arch = *isa::LoadPreset("tiny");
  options.precision = compiler::Precision::kHighest;
  options.allow_cpu_fallback = false;
  absl::StatusOr<std::unique_ptr<Session>> session = Session::Create(*std::move(graph), options);
  if (!session.ok()) return absl::StrCat("session: ", session.status().ToString());
  const compiler::Graph& g = (*session)->graph();
  const std::vector<std::string> sets = OnnxDataSets(dir);
  if (sets.empty()) return "no test_data_set_* folders";
  for (const std::string& set : sets) {
    const std::vector<std::string> inputs = OnnxDataFiles(set, "input");
    const std::vector<std::string> outputs = OnnxDataFiles(set, "output");
    if (inputs.size() != g.inputs.size() || outputs.size() != g.outputs.size()) {
      return absl::StrCat(set, ": ", inputs.size(), " inputs / ", outputs.size(), " outputs, graph has ",
                          g.inputs.size(), " / ", g.outputs.size());
    }
    std::map<std::string, compiler::Tensor> feeds;
    for (size_t k = 0; k < inputs.size(); ++k) {
      absl::StatusOr<compiler::Tensor> t = compiler::ReadTensorProtoFile(inputs[k]);
      if (!t.ok()) return absl::StrCat(inputs[k], ": ", t.status().ToString());
      feeds[g.inputs[k]] = *std::move(t);
    }
    absl::StatusOr<std::map<std::string, compiler::Tensor>> got = (*session)->Run(feeds);
    if (!got.ok()) return absl::StrCat(set, ": run: ", got.status().ToString());
    for (size_t k = 0; k < outputs.size(); ++k) {
      absl::StatusOr<compiler::Tensor> want = compiler::ReadTensorProtoFile(outputs[k]);
      if (!want.ok()) return absl::StrCat(outputs[k], ": ", want.status().ToString());
      auto it = got->find(g.outputs[k]);
      if (it == got->end()) return absl::StrCat(set, ": no value for output '", g.outputs[k], "'");
      std::string mismatch = AllCloseMismatch(it->second, *want);
      if (!mismatch.empty()) return absl::StrCat(set, ": output '", g.outputs[k], "': ", mismatch);
    }
  }
  return "";
}

using TestAndEngine = std::tuple<std::string, std::string>;
class OnnxConformance : public ::testing::TestWithParam<TestAndEngine> {};

TEST_P(OnnxConformance, MatchesShippedOutputsAtHighestPrecision) {
  const auto& [test, engine] = GetParam();
  const std::string failure = RunNodeTest(test, engine);
  EXPECT_EQ(failure, "") << test << " on the " << engine << " engine";
}

GTEST_ALLOW_UNINSTANTIATED_PARAMETERIZED_TEST(OnnxConformance);
INSTANTIATE_TEST_SUITE_P(OnnxNodeTests, OnnxConformance,
                         ::testing::Combine(::testing::ValuesIn(testing::ConformancePassList()), ::testing::ValuesIn(kEngines)),
                         [](const ::testing::TestParamInfo<TestAndEngine>& info) {
                           return std::get<0>(info.param) + "_" + std::get<1>(info.param);
                         });

TEST(OnnxConformancePassList, IsNonEmptySortedAndHasNoDuplicates) {
  const std::vector<std::string> names = testing::ConformancePassList();
  ASSERT_FALSE(names.empty());
  for (size_t i = 1; i < names.size(); ++i) EXPECT_LT(names[i - 1], names[i]) << "at line of " << names[i];
}

// Op types of a model, read straight from the ModelProto (so a model the frontend rejects still counts).
std::set<std::string> ModelOpTypes(const std::string& path) {
  onnx::ModelProto model;
  std::ifstream in(path, std::ios::binary);
  if (!in || !model.ParseFromIstream(&in)) return {"<unreadable>"};
  std::set<std::string> ops;
  for (const onnx::NodeProto& node : model.graph().node()) ops.insert(node.op_type());
  return ops;
}

TEST(OnnxConformanceScan, SupportedNodeTests) {
  const char* scan = std::getenv("TPUSIM_CONFORMANCE_SCAN");
  if (scan == nullptr || std::string(scan) != "1") GTEST_SKIP() << "set TPUSIM_CONFORMANCE_SCAN=1 to scan";
  std::vector<std::string> names;
  for (const auto& e : std::filesystem::directory_iterator(testing::kOnnxNodeTestRoot)) {
    names.push_back(e.path().filename().string());
  }
  std::sort(names.begin(), names.end());
  std::vector<std::string> passed;
  int tried = 0;
  for (const std::string& name : names) {
    bool supported = true;
    for (const std::string& op : ModelOpTypes(OnnxNodeTestDir(name) + "/model.onnx")) {
      supported &= kTpuOpTypes.count(op) != 0;
    }
    if (!supported) continue;
    ++tried;
    const std::string failure = RunNodeTest(name, "functional");
    std::cout << (failure.empty() ? "PASS " : "FAIL ") << name << (failure.empty() ? "" : ": ") << failure
              << "\n";
    if (failure.empty()) passed.push_back(name);
  }
  std::cout << passed.size() << " of " << tried << " candidate tests pass. Pass list:\n";
  for (const std::string& name : passed) std::cout << name << "\n";
}

}  // namespace
}  // namespace tpusim::runtime
