// Conv, BatchNormalization and Pad end to end: the CPU reference kernels against hand arithmetic, a
// TPU session against a CPU session on a Conv -> BatchNormalization -> Relu -> Pad graph, and the
// ONNX tests of these ops shipped by libonnx-testdata (node/ and pytorch-converted/) on the TPU with no
// CPU fallback, tiny arch, precision highest, at ONNX's tolerance (rtol 1e-3, atol 1e-7), on the
// functional and cycle engines.
#include <gtest/gtest.h>

#include <cmath>
#include <map>
#include <string>
#include <tuple>
#include <vector>

#include "cpu_kernel_test_util.h"
#include "onnx_test_data.h"
#include "tpusim/compiler_backend/onnx_frontend.h"
#include "tpusim/isa/arch_config.h"
#include "tpusim/runtime/session.h"

namespace tpusim::runtime {
namespace {

using compiler::Attribute;
using compiler::Tensor;
using testing::Floats;
using testing::MakeNode;
using testing::Run1;

TEST(ConvCpuKernel, MatchesHandArithmetic) {
  // x = [[1,2,3],[4,5,6],[7,8,9]], w = 2x2 ones.
  Tensor x = Tensor::FromFloats({1, 1, 3, 3}, {1, 2, 3, 4, 5, 6, 7, 8, 9});
  Tensor w = Tensor::FromFloats({1, 1, 2, 2}, {1, 1, 1, 1});
  Tensor b = Tensor::FromFloats({1}, {1});
  // No pads: window sums 1+2+4+5, 2+3+5+6, 4+5+7+8, 5+6+8+9, plus bias 1.
  auto y = Run1(MakeNode("Conv", 3), {&x, &w, &b});
  ASSERT_TRUE(y.ok()) << y.status();
  EXPECT_EQ(y->shape(), compiler::Shape({1, 1, 2, 2}));
  EXPECT_EQ(Floats(*y), std::vector<float>({13, 17, 25, 29}));
  // pads 1, stride 2: out floor((3+2-2)/2)+1 = 2; windows rows {-1,0}/{1,2} x cols {-1,0}/{1,2}:
  // 1, 2+3, 4+7, 5+6+8+9.
  auto z = Run1(MakeNode("Conv", 2, {{"pads", std::vector<int64_t>{1, 1, 1, 1}}, {"strides", std::vector<int64_t>{2, 2}}}),
                {&x, &w});
  ASSERT_TRUE(z.ok()) << z.status();
  EXPECT_EQ(Floats(*z), std::vector<float>({1, 5, 11, 28}));
  // Depthwise over 2 channels with kernel [1] (1-D): channel c scaled by w[c].
  Tensor x1 = Tensor::FromFloats({1, 2, 3}, {1, 2, 3, 4, 5, 6});
  Tensor w1 = Tensor::FromFloats({2, 1, 1}, {2, -1});
  auto d = Run1(MakeNode("Conv", 2, {{"group", int64_t{2}}}), {&x1, &w1});
  ASSERT_TRUE(d.ok()) << d.status();
  EXPECT_EQ(Floats(*d), std::vector<float>({2, 4, 6, -4, -5, -6}));
}

TEST(BatchNormCpuKernel, MatchesHandArithmetic) {
  // Channel 0: (x - 1) / sqrt(4) * 2 + 0 = x - 1; channel 1: (x - 3) / sqrt(1) * 1 + 1 = x - 2.
  Tensor x = Tensor::FromFloats({1, 2, 2}, {1, 2, 3, 4});
  Tensor scale = Tensor::FromFloats({2}, {2, 1}), bias = Tensor::FromFloats({2}, {0, 1});
  Tensor mean = Tensor::FromFloats({2}, {1, 3}), var = Tensor::FromFloats({2}, {4, 1});
  auto y = Run1(MakeNode("BatchNormalization", 5, {{"epsilon", 0.0f}}, 15), {&x, &scale, &bias, &mean, &var});
  ASSERT_TRUE(y.ok()) << y.status();
  EXPECT_EQ(Floats(*y), std::vector<float>({0, 1, 1, 2}));
}

TEST(PadCpuKernel, EveryModeMatchesHandArithmetic) {
  Tensor x = Tensor::FromFloats({1, 3}, {1, 2, 3});
  Tensor pads = Tensor::FromInt64s({4}, {0, 2, 0, 1});  // two before, one after on the last dim
  const std::map<std::string, std::vector<float>> want = {
      {"constant", {0, 0, 1, 2, 3, 0}}, {"reflect", {3, 2, 1, 2, 3, 2}},
      {"edge", {1, 1, 1, 2, 3, 3}},     {"wrap", {2, 3, 1, 2, 3, 1}}};
  for (const auto& [mode, values] : want) {
    auto y = Run1(MakeNode("Pad", 2, {{"mode", mode}}, 19), {&x, &pads});
    ASSERT_TRUE(y.ok()) << mode << ": " << y.status();
    EXPECT_EQ(Floats(*y), values) << mode;
  }
  // Opset 2: pads and value as attributes; a negative pad crops.
  auto y = Run1(MakeNode("Pad", 1, {{"pads", std::vector<int64_t>{0, -1, 0, 1}}, {"value", 7.0f}}, 2), {&x});
  ASSERT_TRUE(y.ok()) << y.status();
  EXPECT_EQ(Floats(*y), std::vector<float>({2, 3, 7}));
}

// x [1,3,6,6] -> Conv 3x3 pads 1 (W, B constants) -> BatchNormalization -> Relu -> Pad (1 each side).
compiler::Graph ConvBlock() {
  compiler::Graph g;
  auto constant = [&](const std::string& name, compiler::Shape shape, uint32_t seed, float lo) {
    std::vector<float> v(static_cast<size_t>(compiler::NumElements(shape)));
    for (size_t i = 0; i < v.size(); ++i) v[i] = lo + static_cast<float>((i * 37 + seed) % 17) / 16.0f;
    g.AddValue(name, compiler::DataType::kFloat32, shape).constant = Tensor::FromFloats(shape, v);
  };
  g.AddValue("x", compiler::DataType::kFloat32, compiler::Shape{1, 3, 6, 6});
  g.inputs = {"x"};
  constant("w", {4, 3, 3, 3}, 1, -0.5f);
  constant("b", {4}, 2, -0.5f);
  for (const char* p : {"s", "beta", "mean"}) constant(p, {4}, 3, -0.5f);
  constant("var", {4}, 4, 0.25f);
  g.AddValue("pads", compiler::DataType::kInt64).constant = Tensor::FromInt64s({8}, {0, 0, 1, 1, 0, 0, 1, 1});
  auto node = [&](const std::string& op, std::vector<std::string> in, const std::string& out,
                  std::map<std::string, Attribute> attrs) {
    compiler::Node n;
    n.name = out;
    n.op_type = op;
    n.inputs = std::move(in);
    n.outputs = {out};
    n.attrs = std::move(attrs);
    g.nodes.push_back(n);
    g.AddValue(out, compiler::DataType::kFloat32);
  };
  node("Conv", {"x", "w", "b"}, "c", {{"pads", std::vector<int64_t>{1, 1, 1, 1}}});
  node("BatchNormalization", {"c", "s", "beta", "mean", "var"}, "n", {});
  node("Relu", {"n"}, "r", {});
  node("Pad", {"r", "pads"}, "y", {});
  g.outputs = {"y"};
  return g;
}

TEST(ConvSession, TpuMatchesCpuWithEveryOpOnTheTpu) {
  std::vector<float> xv(108);
  for (size_t i = 0; i < xv.size(); ++i) xv[i] = std::sin(static_cast<float>(i));
  const std::map<std::string, Tensor> feeds = {{"x", Tensor::FromFloats({1, 3, 6, 6}, xv)}};
  SessionOptions cpu;
  cpu.device = "cpu";
  auto cpu_session = Session::Create(ConvBlock(), cpu);
  ASSERT_TRUE(cpu_session.ok()) << cpu_session.status();
  auto want = (*cpu_session)->Run(feeds);
  ASSERT_TRUE(want.ok()) << want.status();
  for (const std::string engine : {"functional", "cycle"}) {
    const SessionOptions tpu = testing::TinyOptions("tpu", engine);
    auto session = Session::Create(ConvBlock(), tpu);
    ASSERT_TRUE(session.ok()) << session.status();
    for (const Placement& p : (*session)->placements()) EXPECT_EQ(p.device, kTpuDeviceName) << p.node;
    auto got = (*session)->Run(feeds);
    ASSERT_TRUE(got.ok()) << got.status();
    EXPECT_EQ(got->at("y").shape(), compiler::Shape({1, 4, 8, 8}));
    EXPECT_EQ(tpusim::testing::AllCloseMismatch(got->at("y"), want->at("y"), 1e-4, 1e-5), "") << engine;
  }
}

// ONNX tests of Conv, BatchNormalization (inference) and Pad (constant) that pass on the TPU.
const char kNode[] = "/usr/share/libonnx-testdata/data/node/";
const char kTorch[] = "/usr/share/libonnx-testdata/data/pytorch-converted/";
std::vector<std::string> OnnxTests() {
  std::vector<std::string> dirs;
  for (const char* t : {"test_basic_conv_with_padding", "test_basic_conv_without_padding", "test_conv_with_autopad_same",
                        "test_conv_with_strides_and_asymmetric_padding", "test_conv_with_strides_no_padding",
                        "test_conv_with_strides_padding", "test_batchnorm_epsilon", "test_batchnorm_example",
                        "test_constant_pad"}) {
    dirs.push_back(std::string(kNode) + t);
  }
  for (const char* t : {"test_Conv1d", "test_Conv1d_dilated", "test_Conv1d_groups", "test_Conv1d_pad1",
                        "test_Conv1d_pad1size1", "test_Conv1d_pad2", "test_Conv1d_pad2size1", "test_Conv1d_stride",
                        "test_Conv2d", "test_Conv2d_depthwise", "test_Conv2d_depthwise_padded",
                        "test_Conv2d_depthwise_strided", "test_Conv2d_depthwise_with_multiplier",
                        "test_Conv2d_dilated", "test_Conv2d_groups", "test_Conv2d_groups_thnn", "test_Conv2d_no_bias",
                        "test_Conv2d_padding", "test_Conv2d_strided", "test_Conv3d", "test_Conv3d_dilated",
                        "test_Conv3d_dilated_strided", "test_Conv3d_groups", "test_Conv3d_no_bias",
                        "test_Conv3d_stride", "test_Conv3d_stride_padding", "test_BatchNorm1d_3d_input_eval",
                        "test_BatchNorm2d_eval", "test_BatchNorm2d_momentum_eval", "test_BatchNorm3d_eval",
                        "test_BatchNorm3d_momentum_eval", "test_ConstantPad2d", "test_ZeroPad2d"}) {
    dirs.push_back(std::string(kTorch) + t);
  }
  return dirs;
}

// "" when every data set of the test at `dir` matches on `engine` ("cpu": the cpu device), else what
// failed.
std::string RunOnnxTest(const std::string& dir, const std::string& engine) {
  absl::StatusOr<compiler::Graph> graph = compiler::ImportOnnxFile(dir + "/model.onnx");
  if (!graph.ok()) return absl::StrCat("import: ", graph.status().ToString());
  SessionOptions options;
  if (engine == "cpu") options.device = "cpu";
  options.engine = engine == "cpu" ? "functional" : engine;
  options.arch = *isa::LoadPreset("tiny");
  options.precision = compiler::Precision::kHighest;
  options.allow_cpu_fallback = false;
  auto session = Session::Create(*std::move(graph), options);
  if (!session.ok()) return absl::StrCat("session: ", session.status().ToString());
  const compiler::Graph& g = (*session)->graph();
  const std::vector<std::string> sets = tpusim::testing::OnnxDataSets(dir);
  if (sets.empty()) return "no data sets";
  for (const std::string& set : sets) {
    const auto inputs = tpusim::testing::OnnxDataFiles(set, "input");
    const auto outputs = tpusim::testing::OnnxDataFiles(set, "output");
    if (inputs.size() != g.inputs.size() || outputs.size() != g.outputs.size()) return "input/output count";
    std::map<std::string, Tensor> feeds;
    for (size_t k = 0; k < inputs.size(); ++k) {
      auto t = compiler::ReadTensorProtoFile(inputs[k]);
      if (!t.ok()) return t.status().ToString();
      feeds[g.inputs[k]] = *std::move(t);
    }
    auto got = (*session)->Run(feeds);
    if (!got.ok()) return absl::StrCat("run: ", got.status().ToString());
    for (size_t k = 0; k < outputs.size(); ++k) {
      auto want = compiler::ReadTensorProtoFile(outputs[k]);
      if (!want.ok()) return want.status().ToString();
      const std::string m = tpusim::testing::AllCloseMismatch(got->at(g.outputs[k]), *want);
      if (!m.empty()) return absl::StrCat(set, ": ", m);
    }
  }
  return "";
}

class ConvOnnxTests : public ::testing::TestWithParam<std::tuple<std::string, std::string>> {};

TEST_P(ConvOnnxTests, MatchShippedOutputsOnTheTpu) {
  const auto& [dir, engine] = GetParam();
  EXPECT_EQ(RunOnnxTest(dir, engine), "") << dir << " on " << engine;
}

// The CPU reference kernel's reflect and edge padding against ONNX's shipped outputs (the TPU runs
// these modes too, lower_pad.cc; pad_pow_bn_training_test.cc and the conformance tests cover it there).
TEST(PadCpuKernel, ShippedReflectAndEdgeTestsPassOnTheCpu) {
  for (const char* t : {"test_reflect_pad", "test_edge_pad"}) {
    EXPECT_EQ(RunOnnxTest(std::string(kNode) + t, "cpu"), "") << t;
  }
  EXPECT_EQ(RunOnnxTest(std::string(kTorch) + "test_ReflectionPad2d", "cpu"), "");
  EXPECT_EQ(RunOnnxTest(std::string(kTorch) + "test_ReplicationPad2d", "cpu"), "");
}

INSTANTIATE_TEST_SUITE_P(Shipped, ConvOnnxTests,
                         ::testing::Combine(::testing::ValuesIn(OnnxTests()), ::testing::Values("functional", "cycle")),
                         [](const auto& info) {
                           const std::string& dir = std::get<0>(info.param);
                           const std::string torch = dir.find("pytorch") != std::string::npos ? "torch_" : "";
                           return torch + dir.substr(dir.rfind('/') + 1) + "_" + std::get<1>(info.param);
                         });

}  // namespace
}  // namespace tpusim::runtime
