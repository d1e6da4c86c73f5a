// The model zoo (examples/model_zoo.h) end to end, small versions on the tiny arch: each model runs in
// a TPU session (CPU fallback allowed) and in a CPU-only session on the same deterministic input; the
// outputs must agree within the precision's tolerance, and the ops placed on the CPU must be exactly
// the ones listed below (so a model that cannot run fully on the TPU says which op is missing, and the
// list documents it until that op lands). Each test prints its placement summary.
//
// Tolerances, as max |tpu - cpu| / max |cpu| over the output tensor:
//  - highest (6-pass bf16, about fp32 GEMMs; fp32 vector unit): 1e-4. Per layer the TPU differs from
//    the CPU only by fp32 rounding order (~1e-7 relative) and the vector unit's exp/tanh/erf (a few
//    ulps); 50 layers of O(1) activations keep the sum near 1e-6 (measured worst 5.5e-7, ResNet-18):
//    1e-5.
//  - bf16 (one pass): 3e-2. Each GEMM rounds its operands to bf16 (relative error up to 2^-9 = 0.2%
//    each); with random-sign weights the errors add in quadrature over a dot product and grow with
//    depth through the residual stack: measured worst 9.2e-3 (ResNet-18), docs/models.md.
#include <gtest/gtest.h>

#include <algorithm>
#include <cmath>
#include <iostream>
#include <map>
#include <set>

#include "absl/strings/str_join.h"
#include "model_zoo.h"
#include "tpusim/compiler_backend/onnx_frontend.h"
#include "tpusim/isa/arch_config.h"
#include "tpusim/runtime/session.h"

namespace tpusim::runtime {
namespace {

using compiler::Graph;
using compiler::Tensor;

// Op types each small model places on the CPU today (empty = everything on the TPU). Update when an
// op lands on the TPU: the test fails so the list stays true.
const std::map<std::string, std::set<std::string>> kExpectedCpuOps = {
    {"resnet18", {}},   {"resnet50", {}},   {"mobilenet_block", {}}, {"bert_layer", {}},
    {"bert_layer_decomposed_ln", {}},       {"lstm_classifier", {}},
};

Tensor DeterministicInput(const compiler::Shape& shape) {
  std::vector<float> v(compiler::NumElements(shape));
  for (size_t i = 0; i < v.size(); ++i) v[i] = static_cast<float>(std::sin(0.37 * static_cast<double>(i) + 0.1));
  return Tensor::FromFloats(shape, v);
}

struct Outcome {
  std::string error;  // non-empty: the session could not be created or run
  std::map<std::string, Tensor> outputs;
  std::vector<Placement> placements;
};

Outcome RunModel(const std::string& bytes, const std::string& device, compiler::Precision precision) {
  Outcome o;
  absl::StatusOr<Graph> graph = compiler::ImportOnnxModel(bytes);
  if (!graph.ok()) return {graph.status().ToString(), {}, {}};
  std::map<std::string, Tensor> feeds;
  for (const std::string& in : graph->inputs) feeds[in] = DeterministicInput(*graph->FindValue(in)->shape);
  SessionOptions options;
  options.device = device;
  options.arch = *isa::LoadPreset("tiny");
  options.precision = precision;
  options.allow_cpu_fallback = true;
  absl::StatusOr<std::unique_ptr<Session>> session = Session::Create(*std::move(graph), options);
  if (!session.ok()) return {session.status().ToString(), {}, {}};
  o.placements = (*session)->placements();
  absl::StatusOr<std::map<std::string, Tensor>> out = (*session)->Run(feeds);
  if (!out.ok()) return {out.status().ToString(), {}, o.placements};
  o.outputs = *std::move(out);
  return o;
}

// "N ops: T on TPU, C on CPU (Op: reason; ...)".
std::string PlacementSummary(const std::vector<Placement>& placements, std::set<std::string>& cpu_ops) {
  int tpu = 0;
  std::map<std::string, std::string> reasons;
  for (const Placement& p : placements) {
    if (p.device == kTpuDeviceName) {
      ++tpu;
    } else {
      cpu_ops.insert(p.op_type);
      reasons.emplace(p.op_type, p.reason);
    }
  }
  std::vector<std::string> parts;
  for (const auto& [op, why] : reasons) parts.push_back(absl::StrCat(op, ": ", why));
  return absl::StrCat(placements.size(), " ops: ", tpu, " on TPU, ", placements.size() - tpu, " on CPU",
                      parts.empty() ? "" : absl::StrCat(" (", absl::StrJoin(parts, "; "), ")"));
}

double RelativeMaxError(const Tensor& got, const Tensor& want) {
  double max_diff = 0, max_ref = 0;
  for (int64_t i = 0; i < want.num_elements(); ++i) {
    const double g = got.as<float>()[i], w = want.as<float>()[i];
    max_diff = std::max(max_diff, std::isnan(g) ? INFINITY : std::fabs(g - w));
    max_ref = std::max(max_ref, std::fabs(w));
  }
  return max_diff / std::max(max_ref, 1e-30);
}

struct ModelCase {
  std::string precision;
  double tolerance;
};

class ModelZooTest : public ::testing::TestWithParam<std::tuple<int, int>> {};

TEST_P(ModelZooTest, TpuMatchesCpuWithinPrecisionTolerance) {
  static const std::vector<models::NamedModel>* zoo = new std::vector<models::NamedModel>(models::AllModels(false));
  const ModelCase cases[] = {{"highest", 1e-5}, {"bf16", 3e-2}};
  const models::NamedModel& m = (*zoo)[std::get<0>(GetParam())];
  const ModelCase& c = cases[std::get<1>(GetParam())];
  const std::string bytes = m.model.SerializeAsString();
  const compiler::Precision precision = *compiler::ParsePrecision(c.precision);

  const Outcome cpu = RunModel(bytes, "cpu", precision);
  ASSERT_EQ(cpu.error, "") << m.name << " on the CPU alone";
  const Outcome tpu = RunModel(bytes, "tpu", precision);
  std::set<std::string> cpu_ops;
  const std::string summary = PlacementSummary(tpu.placements, cpu_ops);
  std::cout << "[placement] " << m.name << " (" << c.precision << "): " << summary << "\n";
  EXPECT_EQ(cpu_ops, kExpectedCpuOps.at(m.name)) << m.name << ": ops placed on the CPU changed: " << summary;
  ASSERT_EQ(tpu.error, "") << m.name << " in a TPU session";
  for (const auto& [name, want] : cpu.outputs) {
    ASSERT_EQ(tpu.outputs.count(name), 1u) << name;
    const Tensor& got = tpu.outputs.at(name);
    ASSERT_EQ(got.shape(), want.shape()) << name;
    const double err = RelativeMaxError(got, want);
    std::cout << "[accuracy] " << m.name << " (" << c.precision << ") " << name << ": max|tpu-cpu|/max|cpu| = " << err
              << "\n";
    EXPECT_LE(err, c.tolerance) << m.name << " output " << name << " at " << c.precision;
  }
}

std::string CaseName(const ::testing::TestParamInfo<std::tuple<int, int>>& info) {
  static const char* const kNames[] = {"resnet18",   "resnet50", "mobilenet_block", "bert_layer",
                                       "bert_layer_decomposed_ln", "lstm_classifier"};
  return std::string(kNames[std::get<0>(info.param)]) + (std::get<1>(info.param) == 0 ? "_highest" : "_bf16");
}

INSTANTIATE_TEST_SUITE_P(SmallModels, ModelZooTest, ::testing::Combine(::testing::Range(0, 6), ::testing::Range(0, 2)),
                         CaseName);

TEST(ModelZoo, GeneratorIsDeterministic) {
  const std::vector<models::NamedModel> a = models::AllModels(false), b = models::AllModels(false);
  ASSERT_EQ(a.size(), 6u);
  for (size_t i = 0; i < a.size(); ++i) EXPECT_EQ(a[i].model.SerializeAsString(), b[i].model.SerializeAsString()) << a[i].name;
}

// The full ResNet-50 has torchvision's shape: 53 convolutions, 16 bottlenecks, about 25.5 M parameters.
TEST(ModelZoo, FullResNet50HasTorchvisionShape) {
  models::ResNetOptions o;
  const onnx::ModelProto m = models::ResNet(o);
  int convs = 0, adds = 0;
  for (const onnx::NodeProto& n : m.graph().node()) {
    convs += n.op_type() == "Conv";
    adds += n.op_type() == "Add";
  }
  int64_t params = 0;
  for (const onnx::TensorProto& t : m.graph().initializer()) {
    if (t.data_type() != onnx::TensorProto::FLOAT || t.dims_size() == 0) continue;
    int64_t n = 1;
    for (int64_t d : t.dims()) n *= d;
    params += n;
  }
  EXPECT_EQ(convs, 53);
  EXPECT_EQ(adds, 16);
  // torchvision resnet50: 25,557,032 parameters, of which BN running mean/var are buffers (not
  // parameters) there but initializers here: 2 x 26,560 more.
  EXPECT_EQ(params, 25557032 + 2 * 26560);
}

}  // namespace
}  // namespace tpusim::runtime
