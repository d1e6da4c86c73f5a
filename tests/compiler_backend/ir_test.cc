// Graph IR: tensors, shapes, typed attributes, graph validation, precision names.
#include "tpusim/compiler_backend/ir.h"

#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include "tpusim/compiler_backend/compiler.h"

namespace tpusim::compiler {
namespace {

using ::testing::HasSubstr;

TEST(IrTensorTest, ConstructorZeroFills) {
  Tensor t(DataType::kInt32, {2, 3});
  EXPECT_EQ(t.num_elements(), 6);
  EXPECT_EQ(t.byte_size(), 24u);  // 6 elements x 4 bytes
  for (int i = 0; i < 6; ++i) EXPECT_EQ(t.as<int32_t>()[i], 0);
}

TEST(IrTensorTest, ScalarHasOneElement) {
  EXPECT_EQ(NumElements({}), 1);
  EXPECT_EQ(NumElements({0, 5}), 0);
  EXPECT_EQ(NumElements({2, 3, 4}), 24);
  Tensor s = Tensor::FromFloats({}, {2.5f});
  EXPECT_EQ(s.byte_size(), 4u);
  EXPECT_EQ(s.as<float>()[0], 2.5f);
}

TEST(IrTensorTest, FromFloatsAndInt64sKeepRowMajorOrder) {
  Tensor f = Tensor::FromFloats({2, 2}, {1, 2, 3, 4});
  EXPECT_EQ(f.dtype(), DataType::kFloat32);
  EXPECT_EQ(f.as<float>()[3], 4.0f);
  Tensor i = Tensor::FromInt64s({3}, {-1, 0, 7});
  EXPECT_EQ(i.dtype(), DataType::kInt64);
  EXPECT_EQ(i.byte_size(), 24u);
  EXPECT_EQ(i.as<int64_t>()[0], -1);
  EXPECT_EQ(i.as<int64_t>()[2], 7);
}

TEST(IrTensorDeathTest, FromFloatsChecksTheValueCount) {
  EXPECT_DEATH(Tensor::FromFloats({2, 2}, {1, 2, 3}), "value count");
}

TEST(IrTensorTest, ReshapedKeepsBytesAndChecksCount) {
  Tensor t = Tensor::FromFloats({2, 3}, {0, 1, 2, 3, 4, 5});
  absl::StatusOr<Tensor> r = t.Reshaped({3, 2});
  ASSERT_TRUE(r.ok()) << r.status();
  EXPECT_EQ(r->shape(), Shape({3, 2}));
  EXPECT_EQ(r->as<float>()[5], 5.0f);
  absl::StatusOr<Tensor> bad = t.Reshaped({4, 2});
  EXPECT_EQ(bad.status().code(), absl::StatusCode::kInvalidArgument);
  EXPECT_THAT(std::string(bad.status().message()), HasSubstr("[4,2]"));
}

TEST(IrTypesTest, NamesAndSizes) {
  EXPECT_EQ(DataTypeName(DataType::kFloat32), "float32");
  EXPECT_EQ(DataTypeName(DataType::kInt64), "int64");
  EXPECT_EQ(DataTypeName(DataType::kBool), "bool");
  EXPECT_EQ(DataTypeBytes(DataType::kFloat32), 4u);
  EXPECT_EQ(DataTypeBytes(DataType::kInt8), 1u);
  EXPECT_EQ(DataTypeBytes(DataType::kInt32), 4u);
  EXPECT_EQ(DataTypeBytes(DataType::kInt64), 8u);
  EXPECT_EQ(DataTypeBytes(DataType::kBool), 1u);
  EXPECT_EQ(ShapeToString({2, 3}), "[2,3]");
  EXPECT_EQ(ShapeToString({}), "[]");
}

Node GemmNode() {
  Node n;
  n.name = "g";
  n.op_type = "Gemm";
  n.attrs["transA"] = int64_t{1};
  n.attrs["beta"] = 0.5f;
  n.attrs["perm"] = std::vector<int64_t>{1, 0};
  return n;
}

TEST(IrNodeTest, TypedAttributeAccess) {
  Node n = GemmNode();
  EXPECT_EQ(*n.GetInt("transA"), 1);
  EXPECT_EQ(*n.GetInt("transB", 0), 0);
  EXPECT_EQ(*n.GetFloat("beta"), 0.5f);
  EXPECT_EQ(*n.GetFloat("alpha", 1.0f), 1.0f);
  EXPECT_EQ(*n.GetInts("perm"), std::vector<int64_t>({1, 0}));
}

TEST(IrNodeTest, MissingAttributeWithoutDefaultNamesNodeAndKey) {
  absl::StatusOr<float> alpha = GemmNode().GetFloat("alpha");
  EXPECT_EQ(alpha.status().code(), absl::StatusCode::kInvalidArgument);
  EXPECT_EQ(alpha.status().message(), "node 'g' (Gemm): missing attribute 'alpha'");
}

TEST(IrNodeTest, WrongAttributeTypeIsInvalidArgument) {
  Node n = GemmNode();
  absl::StatusOr<int64_t> beta = n.GetInt("beta");
  EXPECT_EQ(beta.status().code(), absl::StatusCode::kInvalidArgument);
  EXPECT_THAT(std::string(beta.status().message()), HasSubstr("'beta'"));
  EXPECT_EQ(n.GetFloat("transA").status().code(), absl::StatusCode::kInvalidArgument);
  EXPECT_EQ(n.GetInts("transA", std::vector<int64_t>{}).status().code(), absl::StatusCode::kInvalidArgument);
}

// x -> Relu(r) -> y ; w constant.
Graph SmallGraph() {
  Graph g;
  g.AddValue("x", DataType::kFloat32, Shape{2, 2});
  g.AddValue("w", DataType::kFloat32, Shape{2, 2}).constant = Tensor::FromFloats({2, 2}, {1, 2, 3, 4});
  g.AddValue("y", DataType::kFloat32);
  g.AddValue("z", DataType::kFloat32);
  g.inputs = {"x"};
  g.outputs = {"z"};
  Node relu;
  relu.name = "r";
  relu.op_type = "Relu";
  relu.inputs = {"x"};
  relu.outputs = {"y"};
  Node mm;
  mm.name = "mm";
  mm.op_type = "MatMul";
  mm.inputs = {"y", "w"};
  mm.outputs = {"z"};
  g.nodes = {relu, mm};
  return g;
}

TEST(IrGraphTest, FindAndAddValue) {
  Graph g = SmallGraph();
  ASSERT_NE(g.FindValue("w"), nullptr);
  EXPECT_TRUE(g.FindValue("w")->constant.has_value());
  EXPECT_EQ(g.FindValue("nope"), nullptr);
  Value& v = g.AddValue("t", DataType::kInt64, Shape{3});
  EXPECT_EQ(v.name, "t");
  EXPECT_EQ(g.FindValue("t")->dtype, DataType::kInt64);
}

TEST(IrGraphTest, ValidGraphValidates) { EXPECT_TRUE(SmallGraph().Validate().ok()); }

TEST(IrGraphTest, ValidateRejectsUseBeforeDefinition) {
  Graph g = SmallGraph();
  std::swap(g.nodes[0], g.nodes[1]);
  absl::Status s = g.Validate();
  EXPECT_EQ(s.code(), absl::StatusCode::kInvalidArgument);
  EXPECT_THAT(std::string(s.message()), HasSubstr("node 'mm' (MatMul): input 'y'"));
}

TEST(IrGraphTest, ValidateRejectsDuplicateNodeNamesAndOutputs) {
  Graph g = SmallGraph();
  g.nodes[1].name = "r";
  EXPECT_THAT(std::string(g.Validate().message()), HasSubstr("'r' is used twice"));
  g = SmallGraph();
  g.nodes[1].outputs = {"y"};
  EXPECT_THAT(std::string(g.Validate().message()), HasSubstr("output 'y'"));
}

TEST(IrGraphTest, ValidateRejectsUnproducedGraphOutput) {
  Graph g = SmallGraph();
  g.outputs = {"ghost"};
  EXPECT_THAT(std::string(g.Validate().message()), HasSubstr("graph output 'ghost'"));
}

TEST(PrecisionTest, ParsesTheThreeNames) {
  EXPECT_EQ(*ParsePrecision("bf16"), Precision::kBf16);
  EXPECT_EQ(*ParsePrecision("high"), Precision::kHigh);
  EXPECT_EQ(*ParsePrecision("highest"), Precision::kHighest);
  EXPECT_EQ(PrecisionName(Precision::kHigh), "high");
  absl::StatusOr<Precision> bad = ParsePrecision("fp64");
  EXPECT_EQ(bad.status().code(), absl::StatusCode::kInvalidArgument);
  EXPECT_THAT(std::string(bad.status().message()), HasSubstr("bf16, high, highest"));
}

}  // namespace
}  // namespace tpusim::compiler
