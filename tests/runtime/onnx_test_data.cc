// The non-inline helpers of onnx_test_data.h: the libonnx-testdata directories, their pass lists, the
// claimed op set, and running one ONNX backend test on a TPU session.
#include "onnx_test_data.h"

#include <onnx/onnx_pb.h>

#include <memory>
#include <utility>

#include "tpusim/compiler_backend/compiler.h"
#include "tpusim/compiler_backend/onnx_frontend.h"
#include "tpusim/isa/arch_config.h"
#include "tpusim/runtime/session.h"

namespace tpusim::testing {

const std::vector<std::string>& OnnxTestDirs() {
  static const auto* dirs = new std::vector<std::string>{"node", "pytorch-converted", "pytorch-operator", "simple"};
  return *dirs;
}

std::string OnnxTestDir(const std::string& dir, const std::string& name) {
  return absl::StrCat(kOnnxTestDataRoot, "/", dir, "/", name);
}

std::vector<std::string> OnnxTestNames(const std::string& dir) {
  std::vector<std::string> names;
  std::error_code ec;
  for (const auto& e : std::filesystem::directory_iterator(absl::StrCat(kOnnxTestDataRoot, "/", dir), ec)) {
    if (e.is_directory()) names.push_back(e.path().filename().string());
  }
  std::sort(names.begin(), names.end());
  return names;
}

std::string ConformancePassListPath(const std::string& dir) {
  const std::string base = std::string(TPUSIM_SOURCE_DIR) + "/tests/onnx_conformance_pass";
  return dir == "node" ? base + ".txt" : absl::StrCat(base, "_", dir, ".txt");
}

std::vector<std::string> ConformancePassList(const std::string& dir) {
  return ReadNameList(ConformancePassListPath(dir));
}

const std::set<std::string>& TpuClaimedOpTypes() {
  static const auto* ops = [] {
    auto* claimed = new std::set<std::string>(compiler::TpuOpTypes());
    // Shape-only ops: folded into constants at compile time rather than lowered.
    claimed->insert({"Shape", "Size", "Cast", "ConstantOfShape"});
    return claimed;
  }();
  return *ops;
}

std::set<std::string> ModelOpTypes(const std::string& model_path) {
  onnx::ModelProto model;
  std::ifstream in(model_path, std::ios::binary);
  if (!in || !model.ParseFromIstream(&in)) return {"<unreadable>"};
  std::set<std::string> ops;
  for (const onnx::NodeProto& node : model.graph().node()) ops.insert(node.op_type());
  return ops;
}

std::vector<std::string> ConformanceCandidates(const std::string& dir) {
  std::vector<std::string> out;
  for (const std::string& name : OnnxTestNames(dir)) {
    bool claimed = true;
    for (const std::string& op : ModelOpTypes(OnnxTestDir(dir, name) + "/model.onnx")) {
      claimed &= TpuClaimedOpTypes().count(op) != 0;
    }
    if (claimed) out.push_back(name);
  }
  return out;
}

std::string RunOnnxTest(const std::string& test_dir, const std::string& engine, compiler::Precision precision,
                        const OutputCheck& check) {
  absl::StatusOr<compiler::Graph> graph = compiler::ImportOnnxFile(test_dir + "/model.onnx");
  if (!graph.ok()) return absl::StrCat("import: ", graph.status().ToString());
  runtime::SessionOptions options;
  options.device = "tpu";
  options.engine = engine;
  options.arch = *isa::LoadPreset("tiny");
  options.precision = precision;
  options.allow_cpu_fallback = false;
  absl::StatusOr<std::unique_ptr<runtime::Session>> session = runtime::Session::Create(*std::move(graph), options);
  if (!session.ok()) return absl::StrCat("session: ", session.status().ToString());
  const compiler::Graph& g = (*session)->graph();
  const std::vector<std::string> sets = OnnxDataSets(test_dir);
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
      std::string mismatch = check ? check(set, feeds, k, it->second, *want) : AllCloseMismatch(it->second, *want);
      if (!mismatch.empty()) return absl::StrCat(set, ": output '", g.outputs[k], "': ", mismatch);
    }
  }
  return "";
}

}  // namespace tpusim::testing
