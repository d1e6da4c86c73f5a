// CheckTpuSupport and IsCompileTimeOperand for the issue-5 ops: the vector-unit unaries, Clip and Pow
// (bounds and exponent read at compile time), and the data-movement and reduction ops whose index
// inputs (axes, starts, shape) must be constants or compile-time inputs.
#include <algorithm>
#include <set>

#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include "tpusim/compiler_backend/compiler.h"

namespace tpusim::compiler {
namespace {

using ::testing::HasSubstr;

// Node `op` over x (float [2, 3]) and extra inputs named in `extra` (graph inputs of `extra_type`,
// shape [1]); output "out" float [2, 3].
Graph MakeGraph(const std::string& op, const std::vector<std::string>& extra = {},
                DataType extra_type = DataType::kInt64, int opset = 13) {
  Graph g;
  Node n;
  n.name = "n";
  n.op_type = op;
  n.opset = opset;
  g.AddValue("x", DataType::kFloat32, Shape{2, 3});
  g.inputs.push_back("x");
  n.inputs.push_back("x");
  for (const std::string& name : extra) {
    if (!name.empty()) {
      g.AddValue(name, extra_type, Shape{1});
      g.inputs.push_back(name);
    }
    n.inputs.push_back(name);
  }
  n.outputs = {"out"};
  g.AddValue("out", DataType::kFloat32, Shape{2, 3});
  g.outputs = {"out"};
  g.nodes.push_back(n);
  return g;
}

void MakeConstant(Graph& g, const std::string& name, Tensor value) {
  g.values[name].constant = std::move(value);
  g.inputs.erase(std::find(g.inputs.begin(), g.inputs.end(), name));
}

TEST(TpuSupportOpsTest, VectorUnitUnariesOnFloat32) {
  for (const char* op : {"Exp", "Log", "Sqrt", "Reciprocal", "Abs", "Neg", "Erf", "LeakyRelu", "Transpose"}) {
    const Graph g = MakeGraph(op);
    EXPECT_TRUE(CheckTpuSupport(g.nodes[0], g).ok()) << op;
  }
  Graph g = MakeGraph("Neg");
  g.values["x"].dtype = g.values["out"].dtype = DataType::kInt32;
  EXPECT_EQ(CheckTpuSupport(g.nodes[0], g).code(), absl::StatusCode::kUnimplemented);
  Graph leaky = MakeGraph("LeakyRelu");
  leaky.nodes[0].attrs["alpha"] = std::string("big");
  EXPECT_EQ(CheckTpuSupport(leaky.nodes[0], leaky).code(), absl::StatusCode::kUnimplemented);
}

TEST(TpuSupportOpsTest, ClipBoundsAreConstantsOrCompileTimeInputs) {
  Graph g = MakeGraph("Clip", {"lo", "hi"}, DataType::kFloat32);
  absl::Status fed = CheckTpuSupport(g.nodes[0], g);
  EXPECT_EQ(fed.code(), absl::StatusCode::kUnimplemented);
  EXPECT_THAT(std::string(fed.message()), HasSubstr("min input computed at run time"));
  EXPECT_TRUE(CheckTpuSupport(g.nodes[0], g, {"lo", "hi"}).ok());
  MakeConstant(g, "lo", Tensor::FromFloats({}, {0.0f}));
  EXPECT_TRUE(CheckTpuSupport(g.nodes[0], g, {"hi"}).ok());
  // An omitted bound is fine; so are opset-6 attributes.
  Graph only_max = MakeGraph("Clip", {"", "hi"}, DataType::kFloat32);
  EXPECT_TRUE(CheckTpuSupport(only_max.nodes[0], only_max, {"hi"}).ok());
  Graph v6 = MakeGraph("Clip", {}, DataType::kFloat32, 6);
  v6.nodes[0].attrs = {{"min", -1.0f}, {"max", 1.0f}};
  EXPECT_TRUE(CheckTpuSupport(v6.nodes[0], v6).ok());
  // Integer bounds (an int tensor being clipped) stay on the CPU.
  Graph int_bound = MakeGraph("Clip", {"lo"}, DataType::kInt64);
  EXPECT_EQ(CheckTpuSupport(int_bound.nodes[0], int_bound, {"lo"}).code(), absl::StatusCode::kUnimplemented);
}

TEST(TpuSupportOpsTest, PowTakesAnyScalarConstantOrAFloatExponentTensor) {
  for (float e : {2.0f, 0.5f, -1.0f, 1.0f}) {
    Graph g = MakeGraph("Pow", {"e"}, DataType::kFloat32);
    MakeConstant(g, "e", Tensor::FromFloats({}, {e}));
    EXPECT_TRUE(CheckTpuSupport(g.nodes[0], g).ok()) << e;
  }
  Graph int_exponent = MakeGraph("Pow", {"e"});
  MakeConstant(int_exponent, "e", Tensor::FromInt64s({1}, {2}));
  EXPECT_TRUE(CheckTpuSupport(int_exponent.nodes[0], int_exponent).ok());
  // Other exponents: exp(y log|x|) with the sign rules (lower_pow.cc).
  Graph cube = MakeGraph("Pow", {"e"}, DataType::kFloat32);
  MakeConstant(cube, "e", Tensor::FromFloats({}, {3.0f}));
  EXPECT_TRUE(CheckTpuSupport(cube.nodes[0], cube).ok());
  // A fed float32 exponent is an ordinary run-time operand, not a compile-time one.
  Graph fed = MakeGraph("Pow", {"e"}, DataType::kFloat32);
  EXPECT_FALSE(IsCompileTimeOperand(fed.nodes[0], 1));
  EXPECT_TRUE(CheckTpuSupport(fed.nodes[0], fed).ok());
  // A fed integer exponent tensor stays on the CPU.
  Graph fed_int = MakeGraph("Pow", {"e"}, DataType::kInt64);
  absl::Status s = CheckTpuSupport(fed_int.nodes[0], fed_int);
  EXPECT_EQ(s.code(), absl::StatusCode::kUnimplemented);
  EXPECT_THAT(std::string(s.message()), HasSubstr("exponent"));
}

TEST(TpuSupportOpsTest, IndexInputsAreCompileTimeOperands) {
  struct Case {
    std::string op;
    std::vector<std::string> extra;
  };
  for (const Case& c : {Case{"Slice", {"starts", "ends", "axes", "steps"}}, Case{"Squeeze", {"axes"}},
                        Case{"Unsqueeze", {"axes"}}, Case{"Expand", {"shape"}}, Case{"ReduceSum", {"axes"}},
                        Case{"ReduceMean", {"axes"}}, Case{"ReduceMax", {"axes"}}, Case{"Reshape", {"shape"}}}) {
    Graph g = MakeGraph(c.op, c.extra);
    const std::set<std::string> all(c.extra.begin(), c.extra.end());
    EXPECT_FALSE(IsCompileTimeOperand(g.nodes[0], 0)) << c.op;
    for (size_t i = 1; i <= c.extra.size(); ++i) EXPECT_TRUE(IsCompileTimeOperand(g.nodes[0], i)) << c.op << " " << i;
    EXPECT_TRUE(CheckTpuSupport(g.nodes[0], g, all).ok()) << c.op << ": " << CheckTpuSupport(g.nodes[0], g, all);
    absl::Status fed = CheckTpuSupport(g.nodes[0], g);
    EXPECT_EQ(fed.code(), absl::StatusCode::kUnimplemented) << c.op;
    EXPECT_THAT(std::string(fed.message()), HasSubstr("computed at run time")) << c.op;
  }
  EXPECT_FALSE(IsCompileTimeOperand(MakeGraph("Add", {"y"}).nodes[0], 1));
  EXPECT_FALSE(IsCompileTimeOperand(MakeGraph("Concat", {"y"}).nodes[0], 1));
}

}  // namespace
}  // namespace tpusim::compiler
