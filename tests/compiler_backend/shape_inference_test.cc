// Shape inference: one op at a time with shapes worked out by hand (numpy semantics), then whole graphs.
#include "tpusim/compiler_backend/shape_inference.h"

#include <algorithm>
#include <limits>

#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include "tpusim/compiler_backend/compiler.h"

namespace tpusim::compiler {
namespace {

using ::testing::HasSubstr;

struct OneNode {
  std::string op;
  std::vector<Shape> inputs;
  std::map<std::string, Attribute> attrs = {};
  int opset = 13;
  std::string name = "n";
};

// A graph with one node `name` reading graph inputs in0, in1, ... and writing "out".
Graph MakeGraph(const OneNode& spec) {
  Graph g;
  Node n;
  n.name = spec.name;
  n.op_type = spec.op;
  n.attrs = spec.attrs;
  n.opset = spec.opset;
  for (size_t i = 0; i < spec.inputs.size(); ++i) {
    const std::string name = "in" + std::to_string(i);
    g.AddValue(name, DataType::kFloat32, spec.inputs[i]);
    g.inputs.push_back(name);
    n.inputs.push_back(name);
  }
  n.outputs = {"out"};
  g.AddValue("out", DataType::kFloat32);
  g.outputs = {"out"};
  g.nodes.push_back(n);
  return g;
}

absl::StatusOr<Shape> InferGraph(Graph g) {
  absl::Status s = InferShapes(g);
  if (!s.ok()) return s;
  return *g.FindValue("out")->shape;
}
absl::StatusOr<Shape> Infer(const OneNode& spec) { return InferGraph(MakeGraph(spec)); }

// Turns graph input `name` into a constant holding `value` (what the runtime does with a fed shape).
void MakeConstant(Graph& g, const std::string& name, Tensor value) {
  g.values[name].constant = std::move(value);
  g.inputs.erase(std::find(g.inputs.begin(), g.inputs.end(), name));
}

std::string Message(const absl::StatusOr<Shape>& s) { return std::string(s.status().message()); }

TEST(ShapeInferenceTest, MatMulFollowsNumpy) {
  EXPECT_EQ(*Infer({"MatMul", {{2, 3}, {3, 4}}}), Shape({2, 4}));
  EXPECT_EQ(*Infer({"MatMul", {{3}, {3, 4}}}), Shape({4}));          // [1,3]x[3,4] -> [1,4], drop the 1
  EXPECT_EQ(*Infer({"MatMul", {{2, 3}, {3}}}), Shape({2}));          // [2,3]x[3,1] -> [2,1], drop the 1
  EXPECT_EQ(*Infer({"MatMul", {{3}, {3}}}), Shape({}));              // dot product
  EXPECT_EQ(*Infer({"MatMul", {{2, 1, 3, 4}, {5, 4, 6}}}), Shape({2, 5, 3, 6}));  // batch [2,1] x [5]
  EXPECT_EQ(*Infer({"MatMul", {{7, 3, 4}, {4, 2}}}), Shape({7, 3, 2}));
}

TEST(ShapeInferenceTest, MatMulMismatchNamesNodeAndShapes) {
  absl::StatusOr<Shape> s = Infer({"MatMul", {{2, 3}, {4, 5}}, {}, 13, "mm"});
  EXPECT_EQ(s.status().code(), absl::StatusCode::kInvalidArgument);
  EXPECT_EQ(s.status().message(), "node 'mm' (MatMul): inner dimensions differ: [2,3] x [4,5]");
  EXPECT_FALSE(Infer({"MatMul", {{2, 3, 4}, {3, 4, 5}}}).ok());  // batch 2 vs 3
  EXPECT_FALSE(Infer({"MatMul", {{}, {3}}}).ok());
}

TEST(ShapeInferenceTest, GemmTransposesAndBroadcastsC) {
  EXPECT_EQ(*Infer({"Gemm", {{2, 10}, {10, 3}}}), Shape({2, 3}));
  // transA: A [4,3] -> [3,4]; transB: B [5,4] -> [4,5]; C [1,5] stretches to [3,5].
  EXPECT_EQ(*Infer({"Gemm", {{4, 3}, {5, 4}, {1, 5}}, {{"transA", int64_t{1}}, {"transB", int64_t{1}}}}),
            Shape({3, 5}));
  EXPECT_EQ(*Infer({"Gemm", {{2, 3}, {3, 4}, {}}}), Shape({2, 4}));
  EXPECT_EQ(*Infer({"Gemm", {{2, 3}, {3, 4}, {4}}}), Shape({2, 4}));
  EXPECT_EQ(*Infer({"Gemm", {{2, 3}, {3, 4}, {2, 1}}}), Shape({2, 4}));
  EXPECT_THAT(Message(Infer({"Gemm", {{2, 3}, {3, 4}, {2}}})), HasSubstr("C [2]"));
  EXPECT_THAT(Message(Infer({"Gemm", {{2, 3}, {4, 3}}})), HasSubstr("inner dimensions differ"));
  EXPECT_FALSE(Infer({"Gemm", {{2, 3, 1}, {3, 4}}}).ok());
}

TEST(ShapeInferenceTest, BinaryOpsBroadcastBothWays) {
  EXPECT_EQ(*Infer({"Add", {{3, 4, 5}, {5}}}), Shape({3, 4, 5}));
  EXPECT_EQ(*Infer({"Sub", {{2, 1, 4}, {3, 1}}}), Shape({2, 3, 4}));
  EXPECT_EQ(*Infer({"Mul", {{}, {2, 2}}}), Shape({2, 2}));
  EXPECT_EQ(*Infer({"Div", {{1}, {0}}}), Shape({0}));
  absl::StatusOr<Shape> bad = Infer({"Add", {{2, 3}, {4}}, {}, 14, "add"});
  EXPECT_EQ(bad.status().code(), absl::StatusCode::kInvalidArgument);
  EXPECT_THAT(Message(bad), HasSubstr("node 'add' (Add): shapes [2,3] and [4] cannot be broadcast"));
}

TEST(ShapeInferenceTest, Opset6BinaryOpsUseLegacyBroadcast) {
  // B [2] is aligned with A's axis 0: A [2,3] keeps its shape.
  EXPECT_EQ(*Infer({"Add", {{2, 3}, {2}}, {{"broadcast", int64_t{1}}, {"axis", int64_t{0}}}, 6}), Shape({2, 3}));
  EXPECT_EQ(*Infer({"Add", {{2, 3}, {3}}, {{"broadcast", int64_t{1}}}, 6}), Shape({2, 3}));
  EXPECT_FALSE(Infer({"Add", {{2, 3}, {3}}, {}, 6}).ok());  // broadcast off: shapes must match
}

TEST(ShapeInferenceTest, UnaryOpsAndSoftmaxKeepTheShape) {
  for (const char* op : {"Relu", "Sigmoid", "Tanh", "Exp", "Identity", "Softmax"}) {
    EXPECT_EQ(*Infer({op, {{3, 4, 5}}}), Shape({3, 4, 5})) << op;
  }
  EXPECT_FALSE(Infer({"Softmax", {{3, 4, 5}}, {{"axis", int64_t{3}}}, 13}).ok());
  EXPECT_EQ(*Infer({"Softmax", {{3, 4, 5}}, {{"axis", int64_t{3}}}, 11}), Shape({3, 4, 5}));  // [60,1] coerced
  EXPECT_EQ(*Infer({"Softmax", {{3, 4, 5}}, {{"axis", int64_t{-3}}}, 13}), Shape({3, 4, 5}));
}

TEST(ShapeInferenceTest, FlattenSplitsAtTheAxis) {
  EXPECT_EQ(*Infer({"Flatten", {{2, 3, 4, 5}}, {{"axis", int64_t{0}}}}), Shape({1, 120}));
  EXPECT_EQ(*Infer({"Flatten", {{2, 3, 4, 5}}}), Shape({2, 60}));
  EXPECT_EQ(*Infer({"Flatten", {{2, 3, 4, 5}}, {{"axis", int64_t{-1}}}}), Shape({24, 5}));
  EXPECT_EQ(*Infer({"Flatten", {{2, 3, 4, 5}}, {{"axis", int64_t{-4}}}}), Shape({1, 120}));
  EXPECT_EQ(*Infer({"Flatten", {{2, 3, 4, 5}}, {{"axis", int64_t{4}}}}), Shape({120, 1}));
  EXPECT_FALSE(Infer({"Flatten", {{2, 3, 4, 5}}, {{"axis", int64_t{5}}}}).ok());
}

absl::StatusOr<Shape> InferReshape(Shape in, std::vector<int64_t> target, int64_t allowzero = 0) {
  Graph g = MakeGraph({"Reshape", {in, {static_cast<int64_t>(target.size())}}, {{"allowzero", allowzero}}, 14});
  g.values["in1"].dtype = DataType::kInt64;
  MakeConstant(g, "in1", Tensor::FromInt64s({static_cast<int64_t>(target.size())}, target));
  return InferGraph(g);
}

TEST(ShapeInferenceTest, ReshapeCopiesZerosAndInfersMinusOne) {
  EXPECT_EQ(*InferReshape({2, 3, 4}, {2, -1, 2}), Shape({2, 6, 2}));      // 24 / (2*2) = 6
  EXPECT_EQ(*InferReshape({2, 3, 4}, {2, 0, 4, 1}), Shape({2, 3, 4, 1}));  // 0 copies dim 1
  EXPECT_EQ(*InferReshape({2, 3, 4}, {0, -1}), Shape({2, 12}));
  EXPECT_EQ(*InferReshape({0, 3, 4}, {3, 4, 0}, /*allowzero=*/1), Shape({3, 4, 0}));
  EXPECT_FALSE(InferReshape({2, 3}, {4, -1}).ok());   // 6 is not a multiple of 4
  EXPECT_FALSE(InferReshape({2, 3}, {-1, -1}).ok());
  EXPECT_FALSE(InferReshape({2, 3}, {7}).ok());
}

TEST(ShapeInferenceTest, ReshapeNeedsAConstantShape) {
  absl::StatusOr<Shape> s = Infer({"Reshape", {{2, 3}, {2}}, {}, 14, "r"});
  EXPECT_EQ(s.status().code(), absl::StatusCode::kInvalidArgument);
  EXPECT_THAT(Message(s), HasSubstr("Reshape needs a constant shape"));
}

TEST(ShapeInferenceTest, CpuOpsArgMaxTransposeReduceConcat) {
  EXPECT_EQ(*Infer({"ArgMax", {{3, 4, 5}}, {{"axis", int64_t{1}}}}), Shape({3, 1, 5}));
  EXPECT_EQ(*Infer({"ArgMax", {{3, 4, 5}}, {{"axis", int64_t{-1}}, {"keepdims", int64_t{0}}}}), Shape({3, 4}));
  EXPECT_EQ(*Infer({"Transpose", {{2, 3, 4}}}), Shape({4, 3, 2}));
  EXPECT_EQ(*Infer({"Transpose", {{2, 3, 4}}, {{"perm", std::vector<int64_t>{0, 2, 1}}}}), Shape({2, 4, 3}));
  EXPECT_FALSE(Infer({"Transpose", {{2, 3, 4}}, {{"perm", std::vector<int64_t>{0, 0, 1}}}}).ok());
  EXPECT_EQ(*Infer({"ReduceMean", {{3, 2, 2}}, {{"axes", std::vector<int64_t>{1}}}}), Shape({3, 1, 2}));
  EXPECT_EQ(*Infer({"ReduceMax", {{3, 2, 2}}, {{"keepdims", int64_t{0}}}}), Shape({}));
  EXPECT_EQ(*Infer({"Concat", {{2, 2}, {3, 2}}, {{"axis", int64_t{0}}}}), Shape({5, 2}));
  EXPECT_EQ(*Infer({"Concat", {{2, 2}, {2, 3}}, {{"axis", int64_t{-1}}}}), Shape({2, 5}));
  EXPECT_FALSE(Infer({"Concat", {{2, 2}, {3, 3}}, {{"axis", int64_t{0}}}}).ok());

  // ReduceSum opset 13 reads its axes from a constant input.
  Graph g = MakeGraph({"ReduceSum", {{3, 2, 2}, {2}}, {{"keepdims", int64_t{0}}}, 13});
  g.values["in1"].dtype = DataType::kInt64;
  MakeConstant(g, "in1", Tensor::FromInt64s({2}, {0, -1}));
  EXPECT_EQ(*InferGraph(g), Shape({2}));
}

TEST(ShapeInferenceTest, ArgMaxGivesInt64AndMixedTypesAreRejected) {
  Graph g = MakeGraph({"ArgMax", {{3, 4}}});
  ASSERT_TRUE(InferShapes(g).ok());
  EXPECT_EQ(g.FindValue("out")->dtype, DataType::kInt64);
  Graph mixed = MakeGraph({"Add", {{3}, {3}}});
  mixed.values["in1"].dtype = DataType::kInt64;
  absl::Status s = InferShapes(mixed);
  EXPECT_EQ(s.code(), absl::StatusCode::kInvalidArgument);
  EXPECT_THAT(std::string(s.message()), HasSubstr("float32 and int64"));
}

TEST(ShapeInferenceTest, UnknownOpIsUnimplementedAndOthersStillInferred) {
  // in0 -> ConvTranspose (no shape function) -> c ; in0 -> Relu -> out
  Graph g = MakeGraph({"Relu", {{1, 3, 8, 8}}});
  g.AddValue("c", DataType::kFloat32);
  Node conv;
  conv.name = "conv0";
  conv.op_type = "ConvTranspose";
  conv.inputs = {"in0"};
  conv.outputs = {"c"};
  g.nodes.insert(g.nodes.begin(), conv);
  absl::Status s = InferShapes(g);
  EXPECT_EQ(s.code(), absl::StatusCode::kUnimplemented);
  EXPECT_THAT(std::string(s.message()), HasSubstr("ConvTranspose (node 'conv0')"));
  EXPECT_FALSE(g.FindValue("c")->shape.has_value());
  EXPECT_EQ(g.FindValue("out")->shape, Shape({1, 3, 8, 8}));
  EXPECT_FALSE(HasShapeFunction("ConvTranspose"));
  EXPECT_TRUE(HasShapeFunction("MatMul"));
}

TEST(ShapeInferenceTest, OutputsOfUnknownOpsHaveUntrustedTypes) {
  // in0 -> Shape (no shape function; really int64) -> s ; Sub(s, k: int64 constant) -> out.
  // The Sub must not be rejected for mixing the frontend's float32 placeholder type with int64.
  Graph g = MakeGraph({"Sub", {{3}, {3}}});
  g.values["in1"].dtype = DataType::kInt64;
  MakeConstant(g, "in1", Tensor::FromInt64s({3}, {1, 1, 1}));
  g.AddValue("s", DataType::kFloat32);
  Node shape;
  shape.name = "shape";
  shape.op_type = "Shape";
  shape.inputs = {"in0"};
  shape.outputs = {"s"};
  g.nodes.insert(g.nodes.begin(), shape);
  g.nodes[1].inputs[0] = "s";
  absl::Status s = InferShapes(g);
  EXPECT_EQ(s.code(), absl::StatusCode::kUnimplemented) << s;
  EXPECT_FALSE(g.FindValue("out")->shape.has_value());
}

TEST(ShapeInferenceTest, HugeShapesAreRejectedNotOverflowed) {
  const int64_t big = int64_t{1} << 40;
  EXPECT_EQ(NumElements({big, big}), std::numeric_limits<int64_t>::max());  // saturates
  EXPECT_EQ(Infer({"Relu", {{big, big}}}).status().code(), absl::StatusCode::kInvalidArgument);
  // Each input fits (2^40 elements), but the broadcast result [2^40, 2^40] does not.
  EXPECT_EQ(Infer({"Add", {{big, 1}, {1, big}}}).status().code(), absl::StatusCode::kInvalidArgument);
  // [0, 2^40, 2^40] holds no elements, but flattening at axis 1 would give [0, 2^80].
  EXPECT_EQ(Infer({"Flatten", {{0, big, big}}}).status().code(), absl::StatusCode::kInvalidArgument);
}

TEST(ShapeInferenceTest, GraphInputWithoutShapeIsRejected) {
  Graph g = MakeGraph({"Relu", {{2}}});
  g.values["in0"].shape.reset();
  EXPECT_EQ(InferShapes(g).code(), absl::StatusCode::kInvalidArgument);
}

TEST(ShapeInferenceTest, InferNodeShapesWorksWithoutAGraphPass) {
  Graph g;
  Node n;
  n.name = "mm";
  n.op_type = "MatMul";
  n.inputs = {"a", "b"};
  n.outputs = {"c"};
  absl::StatusOr<std::vector<Shape>> out = InferNodeShapes(n, {{5, 7}, {7, 2}}, g);
  ASSERT_TRUE(out.ok()) << out.status();
  EXPECT_EQ(*out, std::vector<Shape>({{5, 2}}));
  EXPECT_EQ(*InferNodeTypes(n, {DataType::kFloat32, DataType::kFloat32}),
            std::vector<DataType>({DataType::kFloat32}));
}

// The 784-100-10 MLP of the TensorFlow tutorial on a batch of 4.
TEST(ShapeInferenceTest, MlpChain) {
  Graph g;
  g.AddValue("x", DataType::kFloat32, Shape{4, 1, 28, 28});
  g.inputs = {"x"};
  g.AddValue("w1", DataType::kFloat32).constant = Tensor(DataType::kFloat32, {784, 100});
  g.AddValue("b1", DataType::kFloat32).constant = Tensor(DataType::kFloat32, {100});
  g.AddValue("w2", DataType::kFloat32).constant = Tensor(DataType::kFloat32, {100, 10});
  g.AddValue("b2", DataType::kFloat32).constant = Tensor(DataType::kFloat32, {10});
  auto add = [&](const std::string& op, std::vector<std::string> in, const std::string& out) {
    Node n;
    n.name = out;
    n.op_type = op;
    n.inputs = std::move(in);
    n.outputs = {out};
    g.AddValue(out, DataType::kFloat32);
    g.nodes.push_back(n);
  };
  add("Flatten", {"x"}, "flat");
  add("MatMul", {"flat", "w1"}, "h");
  add("Add", {"h", "b1"}, "hb");
  add("Relu", {"hb"}, "r");
  add("Gemm", {"r", "w2", "b2"}, "logits");
  add("Softmax", {"logits"}, "probs");
  g.outputs = {"probs"};
  ASSERT_TRUE(InferShapes(g).ok());
  EXPECT_EQ(g.FindValue("flat")->shape, Shape({4, 784}));
  EXPECT_EQ(g.FindValue("hb")->shape, Shape({4, 100}));
  EXPECT_EQ(g.FindValue("probs")->shape, Shape({4, 10}));
  EXPECT_EQ(g.FindValue("w1")->shape, Shape({784, 100}));
}

}  // namespace
}  // namespace tpusim::compiler
