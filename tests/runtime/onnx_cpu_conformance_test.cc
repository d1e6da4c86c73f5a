// The CPU reference kernels of the issue-5 ops against ONNX's own expected outputs: every node test of
// Debian's libonnx-testdata made only of these ops (and Constant) runs on the `cpu` device and must
// match at ONNX's tolerance. Tests whose model the frontend cannot import (uint8 and other types the IR
// does not carry) are skipped and counted; everything imported must pass.
#include <gtest/gtest.h>
#include <onnx/onnx_pb.h>

#include <filesystem>
#include <fstream>
#include <iostream>
#include <set>

#include "onnx_test_data.h"
#include "tpusim/compiler_backend/onnx_frontend.h"
#include "tpusim/runtime/session.h"

namespace tpusim::runtime {
namespace {

const std::set<std::string> kOps = {"Constant", "Exp",  "Log",     "Sqrt",      "Reciprocal", "Abs",
                                    "Neg",      "Erf",  "LeakyRelu", "Clip",     "Pow",        "Transpose",
                                    "Concat",   "Slice", "Squeeze",  "Unsqueeze", "Expand",    "ReduceSum",
                                    "ReduceMean", "ReduceMax"};

std::set<std::string> ModelOpTypes(const std::string& path) {
  onnx::ModelProto model;
  std::ifstream in(path, std::ios::binary);
  if (!in || !model.ParseFromIstream(&in)) return {"<unreadable>"};
  std::set<std::string> ops;
  for (const onnx::NodeProto& node : model.graph().node()) ops.insert(node.op_type());
  return ops;
}

// "" when every data set matches, "skip: ..." when the model cannot be imported, else the failure.
std::string RunOnCpu(const std::string& name) {
  const std::string dir = testing::OnnxNodeTestDir(name);
  absl::StatusOr<compiler::Graph> graph = compiler::ImportOnnxFile(dir + "/model.onnx");
  if (!graph.ok()) return absl::StrCat("skip: ", graph.status().ToString());
  SessionOptions options;
  options.device = "cpu";
  absl::StatusOr<std::unique_ptr<Session>> session = Session::Create(*std::move(graph), options);
  if (!session.ok()) return absl::StrCat("session: ", session.status().ToString());
  const compiler::Graph& g = (*session)->graph();
  for (const std::string& set : testing::OnnxDataSets(dir)) {
    const std::vector<std::string> inputs = testing::OnnxDataFiles(set, "input");
    const std::vector<std::string> outputs = testing::OnnxDataFiles(set, "output");
    if (inputs.size() != g.inputs.size() || outputs.size() != g.outputs.size()) return "input/output count";
    std::map<std::string, compiler::Tensor> feeds;
    for (size_t k = 0; k < inputs.size(); ++k) {
      absl::StatusOr<compiler::Tensor> t = compiler::ReadTensorProtoFile(inputs[k]);
      if (!t.ok()) return absl::StrCat("skip: ", t.status().ToString());
      feeds[g.inputs[k]] = *std::move(t);
    }
    absl::StatusOr<std::map<std::string, compiler::Tensor>> got = (*session)->Run(feeds);
    if (!got.ok()) return absl::StrCat(set, ": ", got.status().ToString());
    for (size_t k = 0; k < outputs.size(); ++k) {
      absl::StatusOr<compiler::Tensor> want = compiler::ReadTensorProtoFile(outputs[k]);
      if (!want.ok()) return absl::StrCat("skip: ", want.status().ToString());
      const std::string mismatch = testing::AllCloseMismatch(got->at(g.outputs[k]), *want);
      if (!mismatch.empty()) return absl::StrCat(set, ": output ", k, ": ", mismatch);
    }
  }
  return "";
}

TEST(OnnxCpuConformance, NewOpKernelsMatchOnnxExpectedOutputs) {
  int passed = 0, skipped = 0;
  for (const auto& e : std::filesystem::directory_iterator(testing::kOnnxNodeTestRoot)) {
    const std::string name = e.path().filename().string();
    const std::set<std::string> ops = ModelOpTypes(e.path().string() + "/model.onnx");
    bool covered = true;
    for (const std::string& op : ops) covered = covered && kOps.count(op) != 0;
    if (!covered || ops == std::set<std::string>{"Constant"}) continue;
    const std::string result = RunOnCpu(name);
    if (result.rfind("skip: ", 0) == 0) {
      ++skipped;
      continue;
    }
    EXPECT_EQ(result, "") << name;
    passed += result.empty();
  }
  std::cout << "[ cpu      ] " << passed << " node tests pass on the CPU kernels, " << skipped
            << " not importable\n";
  EXPECT_GT(passed, 100);
}

}  // namespace
}  // namespace tpusim::runtime
