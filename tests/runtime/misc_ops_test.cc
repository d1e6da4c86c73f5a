// Split, Gather, PRelu, LayerNormalization and shape folding: CPU kernels against hand arithmetic, the
// TPU (no CPU fallback, tiny, highest) against the CPU session, and the ONNX node tests of these ops
// and of the pools (shipped outputs, ONNX tolerances) on the functional engine.
#include <gtest/gtest.h>

#include <cmath>
#include <random>
#include <tuple>

#include "cpu_kernel_test_util.h"
#include "gmock/gmock.h"
#include "onnx_test_data.h"
#include "tpusim/compiler_backend/onnx_frontend.h"
#include "tpusim/isa/arch_config.h"
#include "tpusim/runtime/session.h"

namespace tpusim::runtime {
namespace {

using compiler::DataType;
using compiler::Shape;
using compiler::Tensor;
using ::testing::ElementsAre;
using testing::Op;
using testing::Random;

// Runs `g` on the TPU (every node placed there) and on the CPU; every output within rtol / atol.
void ExpectTpuMatchesCpu(const compiler::Graph& g, const std::map<std::string, Tensor>& feeds, float rtol = 1e-6f,
                         float atol = 1e-6f) {
  auto tpu = Session::Create(g, testing::TinyOptions("tpu"));
  ASSERT_TRUE(tpu.ok()) << tpu.status();
  for (const Placement& p : (*tpu)->placements()) EXPECT_EQ(p.device, kTpuDeviceName) << p.node;
  auto cpu = Session::Create(g, testing::TinyOptions("cpu"));
  ASSERT_TRUE(cpu.ok()) << cpu.status();
  auto got = (*tpu)->Run(feeds);
  ASSERT_TRUE(got.ok()) << got.status();
  auto want = (*cpu)->Run(feeds);
  ASSERT_TRUE(want.ok()) << want.status();
  for (const auto& [name, w] : *want) {
    const Tensor& t = got->at(name);
    ASSERT_EQ(t.shape(), w.shape()) << name;
    for (int64_t i = 0; i < w.num_elements(); ++i) {
      const float a = t.as<float>()[i], b = w.as<float>()[i];
      EXPECT_NEAR(a, b, atol + rtol * std::fabs(b)) << name << "[" << i << "]";
    }
  }
}

TEST(MiscCpuKernels, SplitGatherPReluByHand) {
  const Tensor x = Tensor::FromFloats({2, 3}, {1, 2, 3, 4, 5, 6});
  compiler::Node split = testing::MakeNode("Split", 1, {{"axis", int64_t{1}}, {"split", std::vector<int64_t>{1, 2}}}, 11);
  split.outputs = {"a", "b"};
  auto parts = RunCpuKernel(split, {&x});
  ASSERT_TRUE(parts.ok()) << parts.status();
  EXPECT_THAT(testing::Floats((*parts)[0]), ElementsAre(1, 4));
  EXPECT_THAT(testing::Floats((*parts)[1]), ElementsAre(2, 3, 5, 6));
  const Tensor idx = Tensor::FromInt64s({2}, {-1, 0});
  auto g = testing::Run1(testing::MakeNode("Gather", 2, {{"axis", int64_t{1}}}), {&x, &idx});
  ASSERT_TRUE(g.ok()) << g.status();
  EXPECT_THAT(testing::Floats(*g), ElementsAre(3, 1, 6, 4));  // columns 2, 0
  const Tensor v = Tensor::FromFloats({2, 2}, {-2, 3, -4, 0});
  const Tensor slope = Tensor::FromFloats({2}, {0.5f, 0.25f});
  auto p = testing::Run1(testing::MakeNode("PRelu", 2), {&v, &slope});
  ASSERT_TRUE(p.ok()) << p.status();
  EXPECT_THAT(testing::Floats(*p), ElementsAre(-1, 3, -2, 0));  // -2*0.5, 3, -4*0.5, 0
}

TEST(MiscCpuKernels, LayerNormalizationByHand) {
  // Row [1, 3]: mean 2, variance 1, inv = 1/sqrt(1 + 0) = 1; y = [-1, 1] * scale [2, 1] + bias [0, 10].
  const Tensor x = Tensor::FromFloats({1, 2}, {1, 3});
  const Tensor scale = Tensor::FromFloats({2}, {2, 1}), bias = Tensor::FromFloats({2}, {0, 10});
  compiler::Node n = testing::MakeNode("LayerNormalization", 3, {{"epsilon", 0.0f}}, 17);
  n.outputs = {"y", "mean", "inv"};
  auto out = RunCpuKernel(n, {&x, &scale, &bias});
  ASSERT_TRUE(out.ok()) << out.status();
  EXPECT_THAT(testing::Floats((*out)[0]), ElementsAre(-2, 11));
  EXPECT_THAT(testing::Floats((*out)[1]), ElementsAre(2));
  EXPECT_THAT(testing::Floats((*out)[2]), ElementsAre(1));
}

TEST(MiscOnTpu, SplitGatherPReluMatchCpu) {
  compiler::Graph g;
  g.AddValue("x", DataType::kFloat32, Shape{3, 20, 11});
  g.AddValue("slope", DataType::kFloat32, Shape{20, 1});
  g.AddValue("idx", DataType::kInt64, Shape{2, 3}).constant = Tensor::FromInt64s({2, 3}, {0, 2, 4, 10, 10, -1});
  g.AddValue("sizes", DataType::kInt64, Shape{3}).constant = Tensor::FromInt64s({3}, {4, 0, 7});
  for (const char* v : {"p", "s0", "s1", "s2", "gt"}) g.AddValue(v, DataType::kFloat32);
  g.inputs = {"x", "slope"};
  g.nodes.push_back(Op("PRelu", {"x", "slope"}, {"p"}));
  g.nodes.push_back(Op("Split", {"p", "sizes"}, {"s0", "s1", "s2"}, {{"axis", int64_t{-1}}}));
  g.nodes.push_back(Op("Gather", {"s2", "idx"}, {"gt"}, {{"axis", int64_t{1}}}));
  g.outputs = {"p", "s0", "s1", "s2", "gt"};
  ExpectTpuMatchesCpu(g, {{"x", Random({3, 20, 11}, 1)}, {"slope", Random({20, 1}, 2)}}, 0.0f, 0.0f);
}

TEST(MiscOnTpu, PReluWithOneDimensionAndAScalarSlope) {
  for (const Shape& slope_shape : {Shape{37}, Shape{1}}) {
    compiler::Graph g;
    g.AddValue("x", DataType::kFloat32, Shape{37});
    g.AddValue("slope", DataType::kFloat32, slope_shape);
    g.AddValue("y", DataType::kFloat32);
    g.inputs = {"x", "slope"};
    g.nodes.push_back(Op("PRelu", {"x", "slope"}, {"y"}));
    g.outputs = {"y"};
    ExpectTpuMatchesCpu(g, {{"x", Random({37}, 3)}, {"slope", Random(slope_shape, 4)}}, 0.0f, 0.0f);
  }
}

TEST(MiscOnTpu, LayerNormalizationOneChunkAndStreamed) {
  // S = 12 fits the UB in one chunk; S = 600 (> 254 rows on tiny) takes the three-pass stream.
  for (const Shape& x_shape : {Shape{5, 3, 4}, Shape{3, 600}}) {
    compiler::Graph g;
    const Shape norm(x_shape.begin() + 1, x_shape.end());
    g.AddValue("x", DataType::kFloat32, x_shape);
    g.AddValue("w", DataType::kFloat32, norm);
    g.AddValue("b", DataType::kFloat32, norm);
    for (const char* v : {"y", "mean", "inv"}) g.AddValue(v, DataType::kFloat32);
    g.inputs = {"x", "w", "b"};
    g.nodes.push_back(Op("LayerNormalization", {"x", "w", "b"}, {"y", "mean", "inv"}, {{"axis", int64_t{1}}}, 17));
    g.outputs = {"y", "mean", "inv"};
    ExpectTpuMatchesCpu(g, {{"x", Random(x_shape, 5)}, {"w", Random(norm, 6)}, {"b", Random(norm, 7)}}, 1e-5f, 1e-5f);
  }
}

TEST(ShapeFolding, PyTorchReshapeChainRunsOnTheTpuWithoutFallback) {
  // y = Reshape(x, Concat(Unsqueeze(Gather(Shape(x), 0)), [-1])): x [4, 3, 2] -> [4, 6].
  compiler::Graph g;
  g.AddValue("x", DataType::kFloat32, Shape{4, 3, 2});
  g.AddValue("zero", DataType::kInt64, Shape{}).constant = Tensor::FromInt64s({}, {0});
  g.AddValue("minus1", DataType::kInt64, Shape{1}).constant = Tensor::FromInt64s({1}, {-1});
  g.AddValue("axes", DataType::kInt64, Shape{1}).constant = Tensor::FromInt64s({1}, {0});
  for (const char* v : {"s", "n", "n1", "shape"}) g.AddValue(v, DataType::kInt64);
  g.AddValue("r", DataType::kFloat32);
  g.AddValue("y", DataType::kFloat32);
  g.inputs = {"x"};
  g.nodes.push_back(Op("Shape", {"x"}, {"s"}));
  g.nodes.push_back(Op("Gather", {"s", "zero"}, {"n"}));
  g.nodes.push_back(Op("Unsqueeze", {"n", "axes"}, {"n1"}));
  g.nodes.push_back(Op("Concat", {"n1", "minus1"}, {"shape"}, {{"axis", int64_t{0}}}));
  g.nodes.push_back(Op("Reshape", {"x", "shape"}, {"r"}));
  g.nodes.push_back(Op("Relu", {"r"}, {"y"}));
  g.outputs = {"y"};
  auto session = Session::Create(g, testing::TinyOptions("tpu"));
  ASSERT_TRUE(session.ok()) << session.status();
  ASSERT_EQ((*session)->placements().size(), 2u);  // Shape, Gather, Unsqueeze, Concat folded
  for (const Placement& p : (*session)->placements()) EXPECT_EQ(p.device, kTpuDeviceName) << p.node;
  auto out = (*session)->Run({{"x", Random({4, 3, 2}, 8)}});
  ASSERT_TRUE(out.ok()) << out.status();
  EXPECT_THAT(out->at("y").shape(), ElementsAre(4, 6));
}

// ONNX node tests of the ops above and of the pools, on both TPU engines (until the names join
// tests/onnx_conformance_pass.txt, whose suite then covers them).
class PoolMiscConformance : public ::testing::TestWithParam<std::tuple<std::string, std::string>> {};

TEST_P(PoolMiscConformance, MatchesShippedOutputs) {
  const auto& [name, engine] = GetParam();
  const std::string dir = tpusim::testing::OnnxNodeTestDir(name);
  auto graph = compiler::ImportOnnxFile(dir + "/model.onnx");
  ASSERT_TRUE(graph.ok()) << graph.status();
  SessionOptions options = testing::TinyOptions("tpu");
  options.engine = engine;
  auto session = Session::Create(*std::move(graph), options);
  ASSERT_TRUE(session.ok()) << session.status();
  const compiler::Graph& g = (*session)->graph();
  const std::vector<std::string> sets = tpusim::testing::OnnxDataSets(dir);
  ASSERT_FALSE(sets.empty());
  for (const std::string& set : sets) {
    const std::vector<std::string> inputs = tpusim::testing::OnnxDataFiles(set, "input");
    const std::vector<std::string> outputs = tpusim::testing::OnnxDataFiles(set, "output");
    ASSERT_EQ(inputs.size(), g.inputs.size());
    ASSERT_EQ(outputs.size(), g.outputs.size());
    std::map<std::string, Tensor> feeds;
    for (size_t k = 0; k < inputs.size(); ++k) feeds[g.inputs[k]] = *compiler::ReadTensorProtoFile(inputs[k]);
    RunReport report;
    auto got = (*session)->Run(feeds, &report);
    ASSERT_TRUE(got.ok()) << got.status();
    EXPECT_EQ(report.cpu_kernels, 0);
    EXPECT_EQ(report.tpu_launches, g.nodes.empty() ? 0 : 1);  // Shape / Size fold away entirely
    for (size_t k = 0; k < outputs.size(); ++k) {
      const Tensor want = *compiler::ReadTensorProtoFile(outputs[k]);
      EXPECT_EQ(tpusim::testing::AllCloseMismatch(got->at(g.outputs[k]), want), "") << set << " output " << g.outputs[k];
    }
  }
}

INSTANTIATE_TEST_SUITE_P(
    NodeTests, PoolMiscConformance,
    ::testing::Combine(::testing::Values(
        "test_averagepool_1d_default", "test_averagepool_2d_ceil", "test_averagepool_2d_default",
        "test_averagepool_2d_pads", "test_averagepool_2d_pads_count_include_pad",
        "test_averagepool_2d_precomputed_pads", "test_averagepool_2d_precomputed_pads_count_include_pad",
        "test_averagepool_2d_precomputed_same_upper", "test_averagepool_2d_precomputed_strides",
        "test_averagepool_2d_same_lower", "test_averagepool_2d_same_upper", "test_averagepool_2d_strides",
        "test_averagepool_3d_default", "test_globalaveragepool", "test_globalaveragepool_precomputed",
        "test_globalmaxpool", "test_globalmaxpool_precomputed", "test_maxpool_1d_default", "test_maxpool_2d_ceil",
        "test_maxpool_2d_default", "test_maxpool_2d_dilations", "test_maxpool_2d_pads",
        "test_maxpool_2d_precomputed_pads", "test_maxpool_2d_precomputed_same_upper",
        "test_maxpool_2d_precomputed_strides", "test_maxpool_2d_same_lower", "test_maxpool_2d_same_upper",
        "test_maxpool_2d_strides", "test_maxpool_3d_default", "test_split_equal_parts_1d",
        "test_split_equal_parts_2d", "test_split_equal_parts_default_axis", "test_split_variable_parts_1d",
        "test_split_variable_parts_2d", "test_split_variable_parts_default_axis", "test_split_zero_size_splits",
        "test_gather_0", "test_gather_1", "test_gather_2d_indices", "test_gather_negative_indices",
        "test_prelu_broadcast", "test_prelu_example", "test_layer_normalization_2d_axis0",
        "test_layer_normalization_2d_axis1", "test_layer_normalization_2d_axis_negative_1",
        "test_layer_normalization_2d_axis_negative_2", "test_layer_normalization_3d_axis0_epsilon",
        "test_layer_normalization_3d_axis1_epsilon", "test_layer_normalization_3d_axis2_epsilon",
        "test_layer_normalization_3d_axis_negative_1_epsilon", "test_layer_normalization_3d_axis_negative_2_epsilon",
        "test_layer_normalization_3d_axis_negative_3_epsilon", "test_layer_normalization_4d_axis0",
        "test_layer_normalization_4d_axis1", "test_layer_normalization_4d_axis2", "test_layer_normalization_4d_axis3",
        "test_layer_normalization_4d_axis_negative_1", "test_layer_normalization_4d_axis_negative_2",
        "test_layer_normalization_4d_axis_negative_3", "test_layer_normalization_4d_axis_negative_4",
        "test_layer_normalization_default_axis", "test_shape", "test_shape_clip_end", "test_shape_clip_start",
        "test_shape_end_1", "test_shape_end_negative_1", "test_shape_example", "test_shape_start_1",
        "test_shape_start_1_end_2", "test_shape_start_1_end_negative_1", "test_shape_start_negative_1",
        "test_size", "test_size_example",
        "test_layer_normalization_2d_axis0_expanded", "test_layer_normalization_2d_axis1_expanded", "test_layer_normalization_2d_axis_negative_1_expanded", "test_layer_normalization_2d_axis_negative_2_expanded", "test_layer_normalization_3d_axis0_epsilon_expanded", "test_layer_normalization_3d_axis1_epsilon_expanded", "test_layer_normalization_3d_axis2_epsilon_expanded", "test_layer_normalization_3d_axis_negative_1_epsilon_expanded", "test_layer_normalization_3d_axis_negative_2_epsilon_expanded", "test_layer_normalization_3d_axis_negative_3_epsilon_expanded", "test_layer_normalization_4d_axis0_expanded", "test_layer_normalization_4d_axis1_expanded", "test_layer_normalization_4d_axis2_expanded", "test_layer_normalization_4d_axis3_expanded", "test_layer_normalization_4d_axis_negative_1_expanded", "test_layer_normalization_4d_axis_negative_2_expanded", "test_layer_normalization_4d_axis_negative_3_expanded", "test_layer_normalization_4d_axis_negative_4_expanded", "test_layer_normalization_default_axis_expanded"), ::testing::Values("functional", "cycle")),
    [](const ::testing::TestParamInfo<std::tuple<std::string, std::string>>& info) {
      return std::get<0>(info.param) + "_" + std::get<1>(info.param);
    });

}  // namespace
}  // namespace tpusim::runtime
