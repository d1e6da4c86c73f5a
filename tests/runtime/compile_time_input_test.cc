// Compile-time inputs (XLA's compile-time constant inputs): a graph input read only as a Reshape's
// shape is baked into the TPU program as a constant, one program per distinct value. Values are small
// integers, exact in bf16, so TPU results equal the hand expectations bit for bit.
#include <gtest/gtest.h>

#include "gmock/gmock.h"
#include "tpusim/isa/arch_config.h"
#include "tpusim/runtime/session.h"

namespace tpusim::runtime {
namespace {

using compiler::DataType;
using compiler::Tensor;
using ::testing::ElementsAre;
using ::testing::ElementsAreArray;
using ::testing::HasSubstr;

SessionOptions TinyTpuOnly() {
  SessionOptions options;
  absl::StatusOr<isa::ArchConfig> arch = isa::LoadPreset("tiny");
  EXPECT_TRUE(arch.ok()) << arch.status();
  if (arch.ok()) options.arch = *arch;
  options.precision = compiler::Precision::kHighest;
  options.allow_cpu_fallback = false;
  return options;
}

compiler::Node MakeNode(std::string name, std::string op, std::vector<std::string> inputs,
                        std::vector<std::string> outputs) {
  compiler::Node node;
  node.name = std::move(name);
  node.op_type = std::move(op);
  node.inputs = std::move(inputs);
  node.outputs = std::move(outputs);
  node.opset = 14;
  return node;
}

// x float [2,6], s int64 [2] (both graph inputs) -> Reshape(x, s) = r -> Relu = y (the output).
// With `s_also_data`, s is also a graph output read by an Identity (so it is not a compile-time input).
compiler::Graph ReshapeByInput(bool s_also_data = false) {
  compiler::Graph g;
  g.AddValue("x", DataType::kFloat32, compiler::Shape{2, 6});
  g.AddValue("s", DataType::kInt64, compiler::Shape{2});
  g.AddValue("r", DataType::kFloat32);
  g.AddValue("y", DataType::kFloat32);
  g.inputs = {"x", "s"};
  g.nodes.push_back(MakeNode("reshape", "Reshape", {"x", "s"}, {"r"}));
  g.nodes.push_back(MakeNode("relu", "Relu", {"r"}, {"y"}));
  g.outputs = {"y"};
  if (s_also_data) {
    g.AddValue("s_copy", DataType::kInt64);
    g.nodes.push_back(MakeNode("copy", "Identity", {"s"}, {"s_copy"}));
    g.outputs.push_back("s_copy");
  }
  return g;
}

// x[i] = i - 5 for i = 0..11 (row-major); relu keeps the order: y[i] = max(0, i - 5).
Tensor X() {
  std::vector<float> v(12);
  for (int i = 0; i < 12; ++i) v[i] = static_cast<float>(i - 5);
  return Tensor::FromFloats({2, 6}, v);
}
const std::vector<float> kRelu = {0, 0, 0, 0, 0, 0, 1, 2, 3, 4, 5, 6};

std::vector<float> Floats(const Tensor& t) { return {t.as<float>(), t.as<float>() + t.num_elements()}; }

TEST(CompileTimeInputTest, ReshapeByAGraphInputRunsOnTheTpuOneProgramPerShapeValue) {
  absl::StatusOr<std::unique_ptr<Session>> session = Session::Create(ReshapeByInput(), TinyTpuOnly());
  ASSERT_TRUE(session.ok()) << session.status();
  for (const Placement& p : (*session)->placements()) EXPECT_EQ(p.device, kTpuDeviceName) << p.node;

  const Tensor x = X();
  RunReport report;
  // s = [3,4]: y is [3,4] holding the 12 values in order.
  absl::StatusOr<std::map<std::string, Tensor>> out =
      (*session)->Run({{"x", x}, {"s", Tensor::FromInt64s({2}, {3, 4})}}, &report);
  ASSERT_TRUE(out.ok()) << out.status();
  EXPECT_THAT(out->at("y").shape(), ElementsAre(3, 4));
  EXPECT_THAT(Floats(out->at("y")), ElementsAreArray(kRelu));
  EXPECT_EQ(report.programs_compiled, 1);
  EXPECT_EQ(report.program_cache_hits, 0);
  EXPECT_EQ(report.tpu_launches, 1);
  EXPECT_EQ(report.cpu_kernels, 0);

  // The same value again: the cached program.
  out = (*session)->Run({{"x", x}, {"s", Tensor::FromInt64s({2}, {3, 4})}}, &report);
  ASSERT_TRUE(out.ok()) << out.status();
  EXPECT_THAT(out->at("y").shape(), ElementsAre(3, 4));
  EXPECT_EQ(report.programs_compiled, 0);
  EXPECT_EQ(report.program_cache_hits, 1);

  // s = [4,-1]: -1 is inferred as 12 / 4 = 3, so y is [4,3]; a new program.
  out = (*session)->Run({{"x", x}, {"s", Tensor::FromInt64s({2}, {4, -1})}}, &report);
  ASSERT_TRUE(out.ok()) << out.status();
  EXPECT_THAT(out->at("y").shape(), ElementsAre(4, 3));
  EXPECT_THAT(Floats(out->at("y")), ElementsAreArray(kRelu));
  EXPECT_EQ(report.programs_compiled, 1);
  EXPECT_EQ(report.program_cache_hits, 0);
  EXPECT_EQ(report.tpu_launches, 1);

  // s = [0,6] (0 copies x's dim 0 = 2): y is [2,6]; yet another program. Then [3,4] is still cached.
  out = (*session)->Run({{"x", x}, {"s", Tensor::FromInt64s({2}, {0, 6})}}, &report);
  ASSERT_TRUE(out.ok()) << out.status();
  EXPECT_THAT(out->at("y").shape(), ElementsAre(2, 6));
  EXPECT_EQ(report.programs_compiled, 1);
  out = (*session)->Run({{"x", x}, {"s", Tensor::FromInt64s({2}, {3, 4})}}, &report);
  ASSERT_TRUE(out.ok()) << out.status();
  EXPECT_THAT(out->at("y").shape(), ElementsAre(3, 4));
  EXPECT_EQ(report.program_cache_hits, 1);
  EXPECT_EQ(report.programs_compiled, 0);
}

TEST(CompileTimeInputTest, ABadShapeValueIsAnErrorAndTheSessionStaysUsable) {
  absl::StatusOr<std::unique_ptr<Session>> session = Session::Create(ReshapeByInput(), TinyTpuOnly());
  ASSERT_TRUE(session.ok()) << session.status();
  // 5 * 5 = 25 != 12 elements.
  absl::StatusOr<std::map<std::string, Tensor>> out =
      (*session)->Run({{"x", X()}, {"s", Tensor::FromInt64s({2}, {5, 5})}});
  ASSERT_FALSE(out.ok());
  EXPECT_EQ(out.status().code(), absl::StatusCode::kInvalidArgument) << out.status();
  EXPECT_THAT(std::string(out.status().message()), HasSubstr("reshape")) << out.status();
  out = (*session)->Run({{"x", X()}, {"s", Tensor::FromInt64s({2}, {6, 2})}});
  ASSERT_TRUE(out.ok()) << out.status();
  EXPECT_THAT(out->at("y").shape(), ElementsAre(6, 2));
  EXPECT_THAT(Floats(out->at("y")), ElementsAreArray(kRelu));
}

TEST(CompileTimeInputTest, AShapeInputAlsoReadAsDataIsARunTimeValue) {
  // s also feeds an Identity, so it is not a compile-time input: without CPU fallback the Reshape
  // (a shape computed at run time) and the int64 Identity can run nowhere.
  absl::StatusOr<std::unique_ptr<Session>> refused = Session::Create(ReshapeByInput(true), TinyTpuOnly());
  ASSERT_FALSE(refused.ok());
  EXPECT_THAT(std::string(refused.status().message()), HasSubstr("Reshape (node 'reshape')"));
  EXPECT_THAT(std::string(refused.status().message()), HasSubstr("computed at run time"));

  // With fallback both run on the CPU; the Relu stays on the TPU.
  SessionOptions options = TinyTpuOnly();
  options.allow_cpu_fallback = true;
  absl::StatusOr<std::unique_ptr<Session>> session = Session::Create(ReshapeByInput(true), options);
  ASSERT_TRUE(session.ok()) << session.status();
  const std::vector<Placement>& placements = (*session)->placements();
  ASSERT_EQ(placements.size(), 3u);
  EXPECT_EQ(placements[0].device, kCpuDeviceName);
  EXPECT_EQ(placements[1].device, kTpuDeviceName);
  EXPECT_EQ(placements[2].device, kCpuDeviceName);
  absl::StatusOr<std::map<std::string, Tensor>> out =
      (*session)->Run({{"x", X()}, {"s", Tensor::FromInt64s({2}, {3, 4})}});
  ASSERT_TRUE(out.ok()) << out.status();
  EXPECT_THAT(out->at("y").shape(), ElementsAre(3, 4));
  EXPECT_THAT(Floats(out->at("y")), ElementsAreArray(kRelu));
  const Tensor& s_copy = out->at("s_copy");
  EXPECT_THAT(std::vector<int64_t>(s_copy.as<int64_t>(), s_copy.as<int64_t>() + 2), ElementsAre(3, 4));
}

}  // namespace
}  // namespace tpusim::runtime
