// Shape inference of the pools, Split, Gather and LayerNormalization (multi-output), the TPU support
// rules of those ops, and FoldShapeSubgraphs. Expected shapes from ONNX's output-size formulas by hand.
#include <gtest/gtest.h>

#include "gmock/gmock.h"
#include "tpusim/compiler_backend/compiler.h"

namespace tpusim::compiler {
namespace {

using ::testing::ElementsAre;
using ::testing::HasSubstr;

Node MakeNode(std::string op, std::vector<std::string> in, std::vector<std::string> out,
              std::map<std::string, Attribute> attrs = {}, int opset = 13) {
  Node n;
  n.name = out[0] + "_node";
  n.op_type = std::move(op);
  n.inputs = std::move(in);
  n.outputs = std::move(out);
  n.attrs = std::move(attrs);
  n.opset = opset;
  return n;
}

// One node over input x of `shape`; returns the inferred shape of output `out`.
Shape InferOne(const Node& node, const Shape& shape, const std::string& out) {
  Graph g;
  g.AddValue("x", DataType::kFloat32, shape);
  g.inputs = {"x"};
  for (const std::string& o : node.outputs) g.AddValue(o, DataType::kFloat32);
  g.nodes.push_back(node);
  g.outputs = node.outputs;
  absl::Status status = InferShapes(g);
  EXPECT_TRUE(status.ok()) << status;
  const Value* v = g.FindValue(out);
  return v != nullptr && v->shape.has_value() ? *v->shape : Shape{-1};
}

TEST(PoolShapes, FollowOnnxOutputSizeRules) {
  const std::vector<int64_t> k3 = {3, 3}, s2 = {2, 2};
  // floor((32 - 3) / 2) + 1 = 15; ceil_mode: ceil(29 / 2) + 1 = 16.
  EXPECT_THAT(InferOne(MakeNode("MaxPool", {"x"}, {"y"}, {{"kernel_shape", k3}, {"strides", s2}}), {1, 3, 32, 32}, "y"),
              ElementsAre(1, 3, 15, 15));
  EXPECT_THAT(InferOne(MakeNode("AveragePool", {"x"}, {"y"},
                                {{"kernel_shape", k3}, {"strides", s2}, {"ceil_mode", int64_t{1}}}),
                       {1, 3, 32, 32}, "y"),
              ElementsAre(1, 3, 16, 16));
  // SAME_LOWER: ceil(32 / 2) = 16 whatever the kernel.
  EXPECT_THAT(InferOne(MakeNode("MaxPool", {"x"}, {"y"},
                                {{"kernel_shape", k3}, {"strides", s2}, {"auto_pad", std::string("SAME_LOWER")}}),
                       {1, 3, 32, 31}, "y"),
              ElementsAre(1, 3, 16, 16));
  // dilation 2: window span 5; (10 - 5) / 1 + 1 = 6.
  EXPECT_THAT(InferOne(MakeNode("MaxPool", {"x"}, {"y"}, {{"kernel_shape", std::vector<int64_t>{3}},
                                                          {"dilations", std::vector<int64_t>{2}}}),
                       {2, 1, 10}, "y"),
              ElementsAre(2, 1, 6));
  EXPECT_THAT(InferOne(MakeNode("GlobalAveragePool", {"x"}, {"y"}), {2, 4, 5, 6}, "y"), ElementsAre(2, 4, 1, 1));
}

TEST(MultiOutputShapes, SplitAndLayerNormalization) {
  const Node split = MakeNode("Split", {"x"}, {"a", "b", "c"}, {{"axis", int64_t{1}}});
  EXPECT_THAT(InferOne(split, {2, 9}, "c"), ElementsAre(2, 3));
  const Node split11 = MakeNode("Split", {"x"}, {"a", "b"}, {{"split", std::vector<int64_t>{1, 8}}, {"axis", int64_t{-1}}}, 11);
  EXPECT_THAT(InferOne(split11, {2, 9}, "b"), ElementsAre(2, 8));
  Graph g;
  g.AddValue("x", DataType::kFloat32, Shape{2, 3, 4});
  g.AddValue("w", DataType::kFloat32, Shape{3, 4});
  for (const char* v : {"y", "mean", "inv"}) g.AddValue(v, DataType::kFloat32);
  g.inputs = {"x", "w"};
  g.nodes.push_back(MakeNode("LayerNormalization", {"x", "w"}, {"y", "mean", "inv"}, {{"axis", int64_t{1}}}, 17));
  g.outputs = {"y"};
  ASSERT_TRUE(InferShapes(g).ok());
  EXPECT_THAT(*g.FindValue("y")->shape, ElementsAre(2, 3, 4));
  EXPECT_THAT(*g.FindValue("inv")->shape, ElementsAre(2, 1, 1));
}

TEST(PoolTpuSupport, MaxPoolIndicesAndRuntimeGatherIndicesAreRefused) {
  Graph g;
  g.AddValue("x", DataType::kFloat32, Shape{1, 1, 4, 4});
  g.AddValue("i", DataType::kInt64, Shape{2});
  g.AddValue("y", DataType::kFloat32);
  g.AddValue("idx", DataType::kInt64);
  g.AddValue("z", DataType::kFloat32);
  g.inputs = {"x", "i"};
  const Node pool = MakeNode("MaxPool", {"x"}, {"y", "idx"}, {{"kernel_shape", std::vector<int64_t>{2, 2}}});
  absl::Status status = CheckTpuSupport(pool, g);
  EXPECT_TRUE(absl::IsUnimplemented(status));
  EXPECT_THAT(std::string(status.message()), HasSubstr("int64"));  // the Indices output
  const Node gather = MakeNode("Gather", {"x", "i"}, {"z"});
  EXPECT_TRUE(absl::IsUnimplemented(CheckTpuSupport(gather, g)));  // indices computed at run time
  EXPECT_TRUE(CheckTpuSupport(gather, g, {"i"}).ok());              // a compile-time input
  EXPECT_TRUE(IsCompileTimeOperand(gather, 1));
}

TEST(ShapeFolding, ShapeGatherUnsqueezeConcatBecomeConstants) {
  Graph g;
  g.AddValue("x", DataType::kFloat32, Shape{4, 3, 2});
  g.AddValue("one", DataType::kInt64, Shape{}).constant = Tensor::FromInt64s({}, {1});
  g.AddValue("axes", DataType::kInt64, Shape{1}).constant = Tensor::FromInt64s({1}, {0});
  g.AddValue("tail", DataType::kInt64, Shape{1}).constant = Tensor::FromInt64s({1}, {-1});
  for (const char* v : {"s", "n", "n1", "shape", "c", "sz"}) g.AddValue(v, DataType::kInt64);
  g.AddValue("y", DataType::kFloat32);
  g.inputs = {"x"};
  g.nodes.push_back(MakeNode("Shape", {"x"}, {"s"}));
  g.nodes.push_back(MakeNode("Gather", {"s", "one"}, {"n"}));
  g.nodes.push_back(MakeNode("Unsqueeze", {"n", "axes"}, {"n1"}));
  g.nodes.push_back(MakeNode("Concat", {"tail", "n1"}, {"shape"}, {{"axis", int64_t{0}}}));
  g.nodes.push_back(MakeNode("Mul", {"n", "n"}, {"c"}));
  g.nodes.push_back(MakeNode("Size", {"x"}, {"sz"}));
  g.nodes.push_back(MakeNode("Reshape", {"x", "shape"}, {"y"}));
  g.outputs = {"y", "c", "sz"};
  absl::StatusOr<int> folded = FoldShapeSubgraphs(g);
  ASSERT_TRUE(folded.ok()) << folded.status();
  EXPECT_EQ(*folded, 6);
  ASSERT_EQ(g.nodes.size(), 1u);
  EXPECT_EQ(g.nodes[0].op_type, "Reshape");
  const Tensor& shape = *g.FindValue("shape")->constant;
  EXPECT_THAT(std::vector<int64_t>(shape.as<int64_t>(), shape.as<int64_t>() + 2), ElementsAre(-1, 3));
  EXPECT_EQ(g.FindValue("c")->constant->as<int64_t>()[0], 9);    // 3 * 3
  EXPECT_EQ(g.FindValue("sz")->constant->as<int64_t>()[0], 24);  // 4 * 3 * 2
  EXPECT_TRUE(g.Validate().ok());
}

TEST(ShapeFolding, FloatArithmeticAndRuntimeValuesStay) {
  Graph g;
  g.AddValue("x", DataType::kFloat32, Shape{2});
  g.AddValue("k", DataType::kFloat32, Shape{2}).constant = Tensor::FromFloats({2}, {1, 2});
  g.AddValue("y", DataType::kFloat32);
  g.AddValue("z", DataType::kFloat32);
  g.inputs = {"x"};
  g.nodes.push_back(MakeNode("Add", {"k", "k"}, {"y"}));  // float compute: placement decides
  g.nodes.push_back(MakeNode("Concat", {"x", "y"}, {"z"}, {{"axis", int64_t{0}}}));
  g.outputs = {"z"};
  absl::StatusOr<int> folded = FoldShapeSubgraphs(g);
  ASSERT_TRUE(folded.ok());
  EXPECT_EQ(*folded, 0);
  EXPECT_EQ(g.nodes.size(), 2u);
}

}  // namespace
}  // namespace tpusim::compiler
