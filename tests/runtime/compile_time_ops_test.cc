// Sessions over the issue-5 ops: graph inputs read only as Slice bounds, Squeeze/Unsqueeze axes or
// Clip bounds are compile-time inputs (one TPU program per distinct value); a fed Pow exponent is not
// (a float32 one is a run-time TPU operand, an integer one falls back to the CPU); and graphs of the new ops agree with the CPU reference session. Values
// are small integers or exact binary fractions wherever a result is compared bit for bit.
#include <gtest/gtest.h>

#include <cmath>

#include "gmock/gmock.h"
#include "tpusim/isa/arch_config.h"
#include "tpusim/runtime/session.h"

namespace tpusim::runtime {
namespace {

using compiler::DataType;
using compiler::Tensor;
using ::testing::ElementsAre;
using ::testing::HasSubstr;

SessionOptions Tiny(bool fallback = false) {
  SessionOptions options;
  options.arch = *isa::LoadPreset("tiny");
  options.precision = compiler::Precision::kHighest;
  options.allow_cpu_fallback = fallback;
  return options;
}

compiler::Node MakeNode(std::string name, std::string op, std::vector<std::string> inputs, std::string output,
                        std::map<std::string, compiler::Attribute> attrs = {}) {
  compiler::Node node;
  node.name = std::move(name);
  node.op_type = std::move(op);
  node.inputs = std::move(inputs);
  node.outputs = {std::move(output)};
  node.attrs = std::move(attrs);
  node.opset = 13;
  return node;
}

std::vector<float> Floats(const Tensor& t) { return {t.as<float>(), t.as<float>() + t.num_elements()}; }

// x [4, 6] holds 0..23 row-major.
Tensor X() {
  std::vector<float> v(24);
  for (int i = 0; i < 24; ++i) v[i] = static_cast<float>(i);
  return Tensor::FromFloats({4, 6}, v);
}

TEST(CompileTimeOpsTest, SliceBoundsFedAsGraphInputsRunOnTheTpu) {
  // y = Slice(x, starts, ends, axes = [1] constant, steps = [2] constant).
  compiler::Graph g;
  g.AddValue("x", DataType::kFloat32, compiler::Shape{4, 6});
  g.AddValue("starts", DataType::kInt64, compiler::Shape{1});
  g.AddValue("ends", DataType::kInt64, compiler::Shape{1});
  g.AddValue("axes", DataType::kInt64, compiler::Shape{1}).constant = Tensor::FromInt64s({1}, {1});
  g.AddValue("steps", DataType::kInt64, compiler::Shape{1}).constant = Tensor::FromInt64s({1}, {2});
  g.AddValue("y", DataType::kFloat32);
  g.inputs = {"x", "starts", "ends"};
  g.nodes.push_back(MakeNode("slice", "Slice", {"x", "starts", "ends", "axes", "steps"}, "y"));
  g.outputs = {"y"};
  absl::StatusOr<std::unique_ptr<Session>> session = Session::Create(g, Tiny());
  ASSERT_TRUE(session.ok()) << session.status();
  EXPECT_EQ((*session)->placements()[0].device, kTpuDeviceName);
  RunReport report;
  // Columns 1, 3, 5 of each row.
  auto out = (*session)->Run({{"x", X()}, {"starts", Tensor::FromInt64s({1}, {1})}, {"ends", Tensor::FromInt64s({1}, {6})}},
                             &report);
  ASSERT_TRUE(out.ok()) << out.status();
  EXPECT_THAT(out->at("y").shape(), ElementsAre(4, 3));
  EXPECT_THAT(Floats(out->at("y")), ElementsAre(1, 3, 5, 7, 9, 11, 13, 15, 17, 19, 21, 23));
  EXPECT_EQ(report.programs_compiled, 1);
  EXPECT_EQ(report.cpu_kernels, 0);
  // Columns 0, 2: another program.
  out = (*session)->Run({{"x", X()}, {"starts", Tensor::FromInt64s({1}, {0})}, {"ends", Tensor::FromInt64s({1}, {-3})}},
                        &report);
  ASSERT_TRUE(out.ok()) << out.status();
  EXPECT_THAT(Floats(out->at("y")), ElementsAre(0, 2, 6, 8, 12, 14, 18, 20));
  EXPECT_EQ(report.programs_compiled, 1);
}

TEST(CompileTimeOpsTest, SqueezeUnsqueezeAndClipBoundsFedAsGraphInputs) {
  // x [4, 6] -> Unsqueeze(axes) -> u -> Clip(u, lo, hi) -> c -> Squeeze(axes) -> y.
  compiler::Graph g;
  g.AddValue("x", DataType::kFloat32, compiler::Shape{4, 6});
  g.AddValue("axes", DataType::kInt64, compiler::Shape{1});
  g.AddValue("lo", DataType::kFloat32, compiler::Shape{});
  g.AddValue("hi", DataType::kFloat32, compiler::Shape{});
  for (const char* v : {"u", "c", "y"}) g.AddValue(v, DataType::kFloat32);
  g.inputs = {"x", "axes", "lo", "hi"};
  g.nodes.push_back(MakeNode("unsqueeze", "Unsqueeze", {"x", "axes"}, "u"));
  g.nodes.push_back(MakeNode("clip", "Clip", {"u", "lo", "hi"}, "c"));
  g.nodes.push_back(MakeNode("squeeze", "Squeeze", {"c", "axes"}, "y"));
  g.outputs = {"y", "c"};
  absl::StatusOr<std::unique_ptr<Session>> session = Session::Create(g, Tiny());
  ASSERT_TRUE(session.ok()) << session.status();
  for (const Placement& p : (*session)->placements()) EXPECT_EQ(p.device, kTpuDeviceName) << p.node;
  for (int64_t axis : {0, 2, -1}) {
    RunReport report;
    auto out = (*session)->Run({{"x", X()},
                                {"axes", Tensor::FromInt64s({1}, {axis})},
                                {"lo", Tensor::FromFloats({}, {4.0f})},
                                {"hi", Tensor::FromFloats({}, {10.5f})}},
                               &report);
    ASSERT_TRUE(out.ok()) << out.status();
    EXPECT_EQ(out->at("c").shape(), axis == 0 ? compiler::Shape({1, 4, 6}) : compiler::Shape({4, 6, 1})) << axis;
    EXPECT_EQ(out->at("y").shape(), compiler::Shape({4, 6}));
    const std::vector<float> y = Floats(out->at("y"));
    for (int i = 0; i < 24; ++i) EXPECT_EQ(y[i], std::min(std::max(static_cast<float>(i), 4.0f), 10.5f)) << i;
    EXPECT_EQ(report.cpu_kernels, 0);
    EXPECT_EQ(report.tpu_launches, 1);
  }
}

TEST(CompileTimeOpsTest, AFedIntegerPowExponentFallsBackToTheCpu) {
  compiler::Graph g;
  g.AddValue("x", DataType::kFloat32, compiler::Shape{4, 6});
  g.AddValue("e", DataType::kInt64, compiler::Shape{});
  g.AddValue("y", DataType::kFloat32);
  g.inputs = {"x", "e"};
  g.nodes.push_back(MakeNode("pow", "Pow", {"x", "e"}, "y"));
  g.outputs = {"y"};
  absl::StatusOr<std::unique_ptr<Session>> refused = Session::Create(g, Tiny());
  ASSERT_FALSE(refused.ok());
  EXPECT_THAT(std::string(refused.status().message()), HasSubstr("exponent"));
  absl::StatusOr<std::unique_ptr<Session>> session = Session::Create(g, Tiny(/*fallback=*/true));
  ASSERT_TRUE(session.ok()) << session.status();
  EXPECT_EQ((*session)->placements()[0].device, kCpuDeviceName);
  auto out = (*session)->Run({{"x", X()}, {"e", Tensor::FromInt64s({}, {3})}});
  ASSERT_TRUE(out.ok()) << out.status();
  EXPECT_EQ(Floats(out->at("y"))[5], 125.0f);  // 5^3
}

TEST(CompileTimeOpsTest, AFedFloatPowExponentRunsOnTheTpu) {
  compiler::Graph g;
  g.AddValue("x", DataType::kFloat32, compiler::Shape{4, 6});
  g.AddValue("e", DataType::kFloat32, compiler::Shape{});
  g.AddValue("y", DataType::kFloat32);
  g.inputs = {"x", "e"};
  g.nodes.push_back(MakeNode("pow", "Pow", {"x", "e"}, "y"));
  g.outputs = {"y"};
  absl::StatusOr<std::unique_ptr<Session>> session = Session::Create(g, Tiny());
  ASSERT_TRUE(session.ok()) << session.status();
  EXPECT_EQ((*session)->placements()[0].device, kTpuDeviceName);
  auto out = (*session)->Run({{"x", X()}, {"e", Tensor::FromFloats({}, {3.0f})}});
  ASSERT_TRUE(out.ok()) << out.status();
  EXPECT_NEAR(Floats(out->at("y"))[5], 125.0f, 125.0f * 1e-5f);  // 5^3 = exp(3 log 5)
}

// The expanded softmax of ONNX's function body (ReduceMax, Sub, Exp, ReduceSum, Div) and a
// data-movement chain run wholly on the TPU and agree with the CPU session.
TEST(CompileTimeOpsTest, NewOpGraphsAgreeWithTheCpuReference) {
  compiler::Graph g;
  g.AddValue("x", DataType::kFloat32, compiler::Shape{3, 4, 5});
  g.AddValue("axes", DataType::kInt64, compiler::Shape{1}).constant = Tensor::FromInt64s({1}, {1});
  for (const char* v : {"m", "d", "e", "s", "sm", "t", "k", "l", "y"}) g.AddValue(v, DataType::kFloat32);
  g.inputs = {"x"};
  g.nodes.push_back(MakeNode("max", "ReduceMax", {"x"}, "m", {{"axes", std::vector<int64_t>{1}}}));
  g.nodes.push_back(MakeNode("sub", "Sub", {"x", "m"}, "d"));
  g.nodes.push_back(MakeNode("exp", "Exp", {"d"}, "e"));
  g.nodes.push_back(MakeNode("sum", "ReduceSum", {"e", "axes"}, "s"));
  g.nodes.push_back(MakeNode("div", "Div", {"e", "s"}, "sm"));
  g.nodes.push_back(MakeNode("transpose", "Transpose", {"sm"}, "t", {{"perm", std::vector<int64_t>{2, 0, 1}}}));
  g.nodes.push_back(MakeNode("concat", "Concat", {"t", "t"}, "k", {{"axis", int64_t{1}}}));
  g.nodes.push_back(MakeNode("leaky", "LeakyRelu", {"k"}, "l", {{"alpha", 0.5f}}));
  g.nodes.push_back(MakeNode("log", "Log", {"l"}, "y"));
  g.outputs = {"y"};
  std::vector<float> v(60);
  for (int i = 0; i < 60; ++i) v[i] = std::sin(static_cast<float>(i)) * 3.0f;
  const Tensor x = Tensor::FromFloats({3, 4, 5}, v);
  SessionOptions cpu = Tiny();
  cpu.device = "cpu";
  auto tpu_session = Session::Create(g, Tiny());
  auto cpu_session = Session::Create(g, cpu);
  ASSERT_TRUE(tpu_session.ok()) << tpu_session.status();
  ASSERT_TRUE(cpu_session.ok()) << cpu_session.status();
  for (const Placement& p : (*tpu_session)->placements()) EXPECT_EQ(p.device, kTpuDeviceName) << p.node;
  auto got = (*tpu_session)->Run({{"x", x}});
  auto want = (*cpu_session)->Run({{"x", x}});
  ASSERT_TRUE(got.ok()) << got.status();
  ASSERT_TRUE(want.ok()) << want.status();
  ASSERT_EQ(got->at("y").shape(), compiler::Shape({5, 6, 4}));
  const std::vector<float> a = Floats(got->at("y")), b = Floats(want->at("y"));
  // log of a softmax value p in (0, 1]: the TPU's fp32 sum of 4 terms and its divide put p within a few
  // ulps (relative 2^-21) of the CPU's; log turns that into an absolute error of about 2^-21.
  for (size_t i = 0; i < a.size(); ++i) EXPECT_NEAR(a[i], b[i], 1e-5) << i;
}

}  // namespace
}  // namespace tpusim::runtime
