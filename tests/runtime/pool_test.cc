// MaxPool / AveragePool / GlobalAveragePool / GlobalMaxPool: the CPU kernels against hand arithmetic,
// and the TPU (tiny, no CPU fallback) against the CPU kernels over the geometry options, including
// shapes whose tiles span several UB chunks and lane chunks.
#include <gtest/gtest.h>

#include <cmath>
#include <random>

#include "cpu_kernel_test_util.h"
#include "gmock/gmock.h"
#include "tpusim/isa/arch_config.h"
#include "tpusim/runtime/session.h"

namespace tpusim::runtime {
namespace {

using compiler::Attribute;
using compiler::DataType;
using compiler::Shape;
using compiler::Tensor;
using ::testing::ElementsAre;

// x [1, 1, 3, 3] = 1..9.
Tensor Nine() { return Tensor::FromFloats({1, 1, 3, 3}, {1, 2, 3, 4, 5, 6, 7, 8, 9}); }

TEST(PoolCpuKernels, MaxPoolWithPadsAndIndicesByHand) {
  // kernel 2x2, stride 2, pads 1 on every side: windows {1}, {2,3}, {4,7}, {5,6,8,9}.
  compiler::Node n = testing::MakeNode("MaxPool", 1,
                                       {{"kernel_shape", std::vector<int64_t>{2, 2}},
                                        {"strides", std::vector<int64_t>{2, 2}},
                                        {"pads", std::vector<int64_t>{1, 1, 1, 1}}});
  n.outputs = {"y", "indices"};
  const Tensor x = Nine();
  auto out = RunCpuKernel(n, {&x});
  ASSERT_TRUE(out.ok()) << out.status();
  EXPECT_THAT((*out)[0].shape(), ElementsAre(1, 1, 2, 2));
  EXPECT_THAT(testing::Floats((*out)[0]), ElementsAre(1, 3, 7, 9));
  EXPECT_THAT(std::vector<int64_t>((*out)[1].as<int64_t>(), (*out)[1].as<int64_t>() + 4), ElementsAre(0, 2, 6, 8));
}

TEST(PoolCpuKernels, AveragePoolCountsPaddingOnlyWhenAsked) {
  std::map<std::string, Attribute> attrs = {{"kernel_shape", std::vector<int64_t>{2, 2}},
                                            {"strides", std::vector<int64_t>{2, 2}},
                                            {"pads", std::vector<int64_t>{1, 1, 1, 1}}};
  const Tensor x = Nine();
  auto excluded = testing::Run1(testing::MakeNode("AveragePool", 1, attrs), {&x});
  ASSERT_TRUE(excluded.ok()) << excluded.status();
  EXPECT_THAT(testing::Floats(*excluded), ElementsAre(1, 2.5, 5.5, 7));  // 1/1, 5/2, 11/2, 28/4
  attrs["count_include_pad"] = int64_t{1};
  auto included = testing::Run1(testing::MakeNode("AveragePool", 1, attrs), {&x});
  ASSERT_TRUE(included.ok()) << included.status();
  EXPECT_THAT(testing::Floats(*included), ElementsAre(0.25, 1.25, 2.75, 7));  // sums / 4
}

TEST(PoolCpuKernels, GlobalPoolsByHand) {
  const Tensor x = Nine();
  auto avg = testing::Run1(testing::MakeNode("GlobalAveragePool", 1), {&x});
  auto max = testing::Run1(testing::MakeNode("GlobalMaxPool", 1), {&x});
  ASSERT_TRUE(avg.ok() && max.ok());
  EXPECT_THAT(avg->shape(), ElementsAre(1, 1, 1, 1));
  EXPECT_THAT(testing::Floats(*avg), ElementsAre(5));
  EXPECT_THAT(testing::Floats(*max), ElementsAre(9));
}

SessionOptions Options(const std::string& device) {
  SessionOptions options;
  options.device = device;
  options.arch = *isa::LoadPreset("tiny");
  options.precision = compiler::Precision::kHighest;
  options.allow_cpu_fallback = false;
  return options;
}

struct PoolCase {
  std::string op;
  Shape x;
  std::map<std::string, Attribute> attrs;
};

class PoolOnTpu : public ::testing::TestWithParam<PoolCase> {};

// Max is exact; averages differ from the double-accumulated reference by fp32 rounding only.
TEST_P(PoolOnTpu, MatchesCpuKernel) {
  const PoolCase& c = GetParam();
  compiler::Graph g;
  g.AddValue("x", DataType::kFloat32, c.x);
  g.AddValue("y", DataType::kFloat32);
  g.inputs = {"x"};
  compiler::Node n;
  n.name = "pool";
  n.op_type = c.op;
  n.inputs = {"x"};
  n.outputs = {"y"};
  n.attrs = c.attrs;
  n.opset = 12;
  g.nodes.push_back(n);
  g.outputs = {"y"};
  std::mt19937 rng(7);
  std::uniform_real_distribution<float> dist(-3.0f, 3.0f);
  std::vector<float> v(static_cast<size_t>(compiler::NumElements(c.x)));
  for (float& e : v) e = dist(rng);
  const std::map<std::string, Tensor> feeds = {{"x", Tensor::FromFloats(c.x, v)}};
  auto tpu = Session::Create(g, Options("tpu"));
  ASSERT_TRUE(tpu.ok()) << tpu.status();
  EXPECT_EQ((*tpu)->placements()[0].device, kTpuDeviceName);
  auto cpu = Session::Create(g, Options("cpu"));
  ASSERT_TRUE(cpu.ok()) << cpu.status();
  auto got = (*tpu)->Run(feeds);
  auto want = (*cpu)->Run(feeds);
  ASSERT_TRUE(got.ok()) << got.status();
  ASSERT_TRUE(want.ok()) << want.status();
  const Tensor& a = got->at("y");
  const Tensor& b = want->at("y");
  ASSERT_EQ(a.shape(), b.shape());
  const bool exact = c.op.find("Max") != std::string::npos;
  for (int64_t i = 0; i < b.num_elements(); ++i) {
    const float w = b.as<float>()[i];
    EXPECT_NEAR(a.as<float>()[i], w, exact ? 0.0f : 1e-5f * (1.0f + std::fabs(w))) << i;
  }
}

std::vector<int64_t> I(std::initializer_list<int64_t> v) { return v; }

INSTANTIATE_TEST_SUITE_P(
    Geometry, PoolOnTpu,
    ::testing::Values(
        PoolCase{"MaxPool", {2, 3, 17}, {{"kernel_shape", I({3})}, {"strides", I({2})}, {"pads", I({1, 2})}}},
        PoolCase{"AveragePool", {2, 3, 17}, {{"kernel_shape", I({4})}, {"ceil_mode", int64_t{1}}, {"strides", I({3})}}},
        // Many planes (rows) and a wide output (lane chunks); windows overlap with dilation and pads.
        PoolCase{"MaxPool", {3, 200, 9, 21},
                 {{"kernel_shape", I({3, 2})}, {"dilations", I({2, 1})}, {"pads", I({2, 0, 1, 1})}}},
        PoolCase{"AveragePool", {3, 200, 9, 21},
                 {{"kernel_shape", I({3, 3})}, {"pads", I({1, 1, 1, 1})}, {"count_include_pad", int64_t{1}},
                  {"ceil_mode", int64_t{1}}, {"strides", I({2, 2})}}},
        PoolCase{"AveragePool", {1, 2, 30, 40}, {{"kernel_shape", I({5, 5})}, {"auto_pad", std::string("SAME_LOWER")}}},
        PoolCase{"MaxPool", {1, 2, 5, 6, 7}, {{"kernel_shape", I({2, 3, 2})}, {"auto_pad", std::string("SAME_UPPER")}}},
        PoolCase{"GlobalAveragePool", {2, 5, 7, 9}, {}}, PoolCase{"GlobalMaxPool", {2, 5, 7, 9}, {}}),
    [](const ::testing::TestParamInfo<PoolCase>& info) { return absl::StrCat(info.param.op, "_", info.index); });

}  // namespace
}  // namespace tpusim::runtime
