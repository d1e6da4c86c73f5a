// Epilogue fusion of MatMul + bias Add + activation: the fused program computes the same bits as the
// unfused ops (same fp32 add, same activation function, same order) and attributes no instructions to
// the absorbed nodes. Fusion is blocked by making an intermediate a graph output.
#include <string>
#include <vector>

#include "codegen_test_util.h"
#include "gtest/gtest.h"

namespace tpusim::compiler::testing {
namespace {

struct Built {
  Graph graph;
  std::string y;
};

// x [.., 20] . w [20, 11] + b -> act -> y; `extra_outputs` lists intermediates also exposed.
Built MlpLayer(const Shape& x_shape, const Shape& b_shape, const std::string& act,
               const std::vector<std::string>& extra_outputs) {
  GraphBuilder gb;
  gb.Input("x", x_shape);
  gb.Constant("w", {20, 11}, RandomFloats(220, 11));
  gb.Constant("b", b_shape, RandomFloats(11, 12));
  Shape h = x_shape;
  h.back() = 11;
  gb.Op("MatMul", {"x", "w"}, "h0", h);
  gb.Op("Add", {"h0", "b"}, "h1", h);
  gb.Op(act, {"h1"}, "y", h);
  gb.Output("y");
  for (const std::string& o : extra_outputs) gb.Output(o);
  return {gb.graph(), "y"};
}

TEST(CodegenFusion, FusedEpilogueMatchesUnfusedBitForBit) {
  for (const std::string act : {"Relu", "Sigmoid", "Tanh"}) {
    for (const Shape& x_shape : {Shape{13, 20}, Shape{2, 3, 20}}) {
      const Shape b_shape = x_shape.size() == 2 ? Shape{11} : Shape{1, 11};
      std::vector<float> x = RandomFloats(static_cast<size_t>(NumElements(x_shape)), 13);
      const std::string what = act + " " + ShapeToString(x_shape);
      isa::Program full, partial, none;
      RunResult r_full = CompileAndRun(MlpLayer(x_shape, b_shape, act, {}).graph, {x}, Precision::kHigh, &full);
      RunResult r_partial = CompileAndRun(MlpLayer(x_shape, b_shape, act, {"h1"}).graph, {x}, Precision::kHigh, &partial);
      RunResult r_none = CompileAndRun(MlpLayer(x_shape, b_shape, act, {"h0"}).graph, {x}, Precision::kHigh, &none);
      ASSERT_FALSE(r_full.outputs.empty()) << what;
      ASSERT_FALSE(r_partial.outputs.empty()) << what;
      ASSERT_FALSE(r_none.outputs.empty()) << what;
      EXPECT_EQ(r_full.outputs[0], r_none.outputs[0]) << what;
      EXPECT_EQ(r_partial.outputs[0], r_none.outputs[0]) << what;

      // Per-op instruction counts: MatMul, Add, act, <program>.
      std::vector<uint64_t> f = InstructionsPerOp(full), p = InstructionsPerOp(partial), n = InstructionsPerOp(none);
      EXPECT_GT(f[0], 0u) << what;
      EXPECT_EQ(f[1], 0u) << what << ": Add fused into MatMul";
      EXPECT_EQ(f[2], 0u) << what << ": " << act << " fused into MatMul";
      EXPECT_EQ(p[1], 0u) << what << ": Add fused, its output is still stored";
      EXPECT_GT(p[2], 0u) << what << ": " << act << " reads a graph output, not fused";
      EXPECT_GT(n[1], 0u) << what << ": MatMul output is a graph output, nothing fused";
      EXPECT_GT(n[2], 0u) << what;
      EXPECT_LT(full.inst_op_size(), none.inst_op_size()) << what;
    }
  }
}

}  // namespace
}  // namespace tpusim::compiler::testing
