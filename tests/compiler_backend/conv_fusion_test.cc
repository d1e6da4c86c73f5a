// Conv + activation epilogue fusion (lower_fused.cc, lower_conv.cc): the activation runs in the conv
// GEMM's ACTIVATE after the bias, which is the same fp32 value through the same function as the
// unfused Conv then Relu/Sigmoid/Tanh, so the outputs must agree bit for bit; the absorbed node emits
// no instructions. Fusion is blocked by making the conv's output a graph output. Cases cover both conv
// lowerings: shifted GEMMs (5 channels >= tiny's 8 rows / 2), im2col (2 channels, batch 2, group 2) and
// the depthwise vector-unit form (which applies the activation as the vector op itself).
#include <string>
#include <vector>

#include "codegen_test_util.h"
#include "gtest/gtest.h"

namespace tpusim::compiler::testing {
namespace {

struct ConvShape {
  std::string name;
  Shape x, w, y;
  int64_t group, stride;
};

Graph ConvAct(const ConvShape& c, const std::string& act, bool expose_conv) {
  GraphBuilder gb;
  gb.Input("x", c.x);
  gb.Constant("w", c.w, RandomFloats(static_cast<size_t>(NumElements(c.w)), 21));
  gb.Constant("b", {c.w[0]}, RandomFloats(static_cast<size_t>(c.w[0]), 22));
  gb.Op("Conv", {"x", "w", "b"}, "h", c.y,
        {{"pads", std::vector<int64_t>{1, 1, 1, 1}},
         {"strides", std::vector<int64_t>{c.stride, c.stride}},
         {"group", c.group}},
        11);
  gb.Op(act, {"h"}, "y", c.y);
  gb.Output("y");
  if (expose_conv) gb.Output("h");
  return gb.graph();
}

TEST(ConvFusion, FusedActivationMatchesUnfusedBitForBit) {
  // Output extents: floor((in + 2 - 3) / stride) + 1.
  const std::vector<ConvShape> shapes = {
      {"shifted", {1, 5, 6, 5}, {4, 5, 3, 3}, {1, 4, 6, 5}, 1, 1},
      {"shifted_stride2", {1, 6, 7, 6}, {3, 6, 3, 3}, {1, 3, 4, 3}, 1, 2},
      {"im2col_grouped_batch2", {2, 4, 5, 5}, {6, 2, 3, 3}, {2, 6, 5, 5}, 2, 1},
      {"depthwise_vector", {1, 10, 5, 4}, {10, 1, 3, 3}, {1, 10, 5, 4}, 10, 1},
  };
  for (const ConvShape& c : shapes) {
    for (const std::string act : {"Relu", "Sigmoid", "Tanh"}) {
      const std::string what = c.name + " " + act;
      const std::vector<float> x = RandomFloats(static_cast<size_t>(NumElements(c.x)), 23);
      for (Precision p : {Precision::kBf16, Precision::kHighest}) {
        isa::Program fused, unfused;
        RunResult f = CompileAndRun(ConvAct(c, act, false), {x}, p, &fused);
        RunResult u = CompileAndRun(ConvAct(c, act, true), {x}, p, &unfused);
        ASSERT_FALSE(f.outputs.empty()) << what;
        ASSERT_FALSE(u.outputs.empty()) << what;
        EXPECT_EQ(f.outputs[0], u.outputs[0]) << what;
        const std::vector<uint64_t> fi = InstructionsPerOp(fused), ui = InstructionsPerOp(unfused);
        EXPECT_EQ(fi[1], 0u) << what << ": the activation is fused into the Conv";
        EXPECT_GT(ui[1], 0u) << what << ": the Conv's output is a graph output, nothing fused";
      }
    }
  }
}

TEST(ConvFusion, FusedReluIsNonNegativeAndKeepsPositives) {
  // relu(conv) >= 0 everywhere and equals the unfused conv output where that is positive.
  const ConvShape c{"shifted", {1, 5, 6, 5}, {4, 5, 3, 3}, {1, 4, 6, 5}, 1, 1};
  const std::vector<float> x = RandomFloats(150, 24);
  RunResult f = CompileAndRun(ConvAct(c, "Relu", false), {x}, Precision::kHighest);
  RunResult u = CompileAndRun(ConvAct(c, "Relu", true), {x}, Precision::kHighest);
  ASSERT_FALSE(f.outputs.empty());
  ASSERT_EQ(u.outputs.size(), 2u);
  const std::vector<float>& conv = u.outputs[1];
  ASSERT_EQ(f.outputs[0].size(), conv.size());
  size_t positives = 0;
  for (size_t i = 0; i < conv.size(); ++i) {
    EXPECT_EQ(f.outputs[0][i], conv[i] > 0.0f ? conv[i] : 0.0f) << i;
    positives += conv[i] > 0.0f ? 1 : 0;
  }
  EXPECT_GT(positives, 0u);
  EXPECT_LT(positives, conv.size());
}

}  // namespace
}  // namespace tpusim::compiler::testing
