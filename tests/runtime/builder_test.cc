// GraphBuilder: TensorFlow-style naming, device scopes, lowering choices, and deferred errors.
#include "tpusim/runtime/builder.h"

#include "gmock/gmock.h"
#include "gtest/gtest.h"

namespace tpusim::runtime {
namespace {

using compiler::DataType;
using compiler::Tensor;
using ::testing::ElementsAre;
using ::testing::HasSubstr;

const compiler::Node* FindNode(const compiler::Graph& g, const std::string& name) {
  for (const compiler::Node& n : g.nodes) {
    if (n.name == name) return &n;
  }
  return nullptr;
}

TEST(BuilderTest, MlpGraphHasTensorFlowNamesAndInferredShapes) {
  GraphBuilder b;
  Output x = b.Placeholder("x", {4, 6});
  Output w1 = b.Variable("w1", Tensor(DataType::kFloat32, {6, 5}));
  Output b1 = b.Variable("b1", Tensor(DataType::kFloat32, {5}));
  Output h = b.Relu(b.Add(b.MatMul(x, w1), b1));
  Output w2 = b.Variable("w2", Tensor(DataType::kFloat32, {5, 3}));
  Output logits = b.MatMul(h, w2);
  Output probs = b.Softmax(logits);
  EXPECT_EQ(logits.name(), "MatMul_1");
  EXPECT_EQ(probs.name(), "Softmax");
  absl::StatusOr<compiler::Graph> g = b.Build({probs});
  ASSERT_TRUE(g.ok()) << g.status();
  std::vector<std::string> names;
  for (const compiler::Node& n : g->nodes) names.push_back(n.name + "=" + n.op_type);
  EXPECT_THAT(names, ElementsAre("MatMul=MatMul", "Add=Add", "Relu=Relu", "MatMul_1=MatMul", "Softmax=Softmax"));
  EXPECT_THAT(g->inputs, ElementsAre("x"));
  EXPECT_THAT(g->outputs, ElementsAre("Softmax"));
  ASSERT_TRUE(g->values.at("w1").constant.has_value());
  ASSERT_TRUE(g->values.at("Softmax").shape.has_value());
  EXPECT_THAT(*g->values.at("Softmax").shape, ElementsAre(4, 3));
  EXPECT_THAT(*g->values.at("Add").shape, ElementsAre(4, 5));
  EXPECT_EQ(g->nodes[4].attrs.count("axis"), 1u);
}

TEST(BuilderTest, ExplicitNamesAreUniquifiedAndConstantsNamedConst) {
  GraphBuilder b;
  Output x = b.Placeholder("x", {2, 2});
  Output c0 = b.Constant(Tensor::FromFloats({2}, {1, 2}));
  Output c1 = b.Constant(Tensor::FromFloats({2}, {3, 4}));
  EXPECT_EQ(c0.name(), "Const");
  EXPECT_EQ(c1.name(), "Const_1");
  Output a = b.Identity(x, "out");
  Output a2 = b.Identity(b.Add(a, c0), "out");
  EXPECT_EQ(a.name(), "out");
  EXPECT_EQ(a2.name(), "out_1");
  // A later auto name skips a name the user already took.
  Output m = b.Mul(x, c1, "Mul_1");
  Output m2 = b.Mul(x, c1);
  Output m3 = b.Mul(x, c1);
  EXPECT_EQ(m.name(), "Mul_1");
  EXPECT_EQ(m2.name(), "Mul");
  EXPECT_EQ(m3.name(), "Mul_2");
  absl::StatusOr<compiler::Graph> g = b.Build({a2, m3});
  ASSERT_TRUE(g.ok()) << g.status();
  EXPECT_THAT(g->outputs, ElementsAre("out_1", "Mul_2"));
  // Build keeps only what the outputs need (like a TensorFlow fetch): "Mul" and "Mul_1" are pruned.
  EXPECT_EQ(FindNode(*g, "Mul"), nullptr);
  EXPECT_EQ(FindNode(*g, "Mul_1"), nullptr);
  EXPECT_NE(FindNode(*g, "out"), nullptr);
}

TEST(BuilderTest, TransposedMatMulLowersToGemmAndReshapeGetsShapeConstant) {
  GraphBuilder b;
  Output x = b.Placeholder("x", {3, 4});
  Output w = b.Variable("w", Tensor(DataType::kFloat32, {5, 4}));
  Output y = b.MatMul(x, w, /*transpose_a=*/false, /*transpose_b=*/true);
  Output r = b.Reshape(y, {-1});
  absl::StatusOr<compiler::Graph> g = b.Build({r});
  ASSERT_TRUE(g.ok()) << g.status();
  const compiler::Node* gemm = FindNode(*g, "MatMul");
  ASSERT_NE(gemm, nullptr);
  EXPECT_EQ(gemm->op_type, "Gemm");
  EXPECT_EQ(std::get<int64_t>(gemm->attrs.at("transB")), 1);
  EXPECT_EQ(std::get<int64_t>(gemm->attrs.at("transA")), 0);
  const compiler::Node* reshape = FindNode(*g, "Reshape");
  ASSERT_NE(reshape, nullptr);
  EXPECT_THAT(reshape->inputs, ElementsAre("MatMul", "Reshape/shape"));
  EXPECT_EQ(g->values.at("Reshape/shape").constant->dtype(), DataType::kInt64);
  EXPECT_THAT(*g->values.at("Reshape").shape, ElementsAre(15));
}

TEST(BuilderTest, DeviceScopeSetsRequestedDeviceAndNests) {
  GraphBuilder b;
  Output x = b.Placeholder("x", {2, 3});
  Output r0 = b.Relu(x);
  Output am;
  {
    auto cpu = b.Device("/cpu:0");
    Output t = b.Tanh(r0);
    {
      auto tpu = b.Device("/device:TPU:0");
      t = b.Sigmoid(t);
    }
    am = b.ArgMax(t, 1);
  }
  Output id = b.Identity(am);
  absl::StatusOr<compiler::Graph> g = b.Build({id});
  ASSERT_TRUE(g.ok()) << g.status();
  EXPECT_EQ(FindNode(*g, "Relu")->requested_device, "");
  EXPECT_EQ(FindNode(*g, "Tanh")->requested_device, "/device:CPU:0");
  EXPECT_EQ(FindNode(*g, "Sigmoid")->requested_device, "/device:TPU:0");
  EXPECT_EQ(FindNode(*g, "ArgMax")->requested_device, "/device:CPU:0");
  EXPECT_EQ(FindNode(*g, "Identity")->requested_device, "");
  // ArgMax: tf.argmax semantics (axis removed), int64.
  EXPECT_EQ(g->values.at("ArgMax").dtype, DataType::kInt64);
  EXPECT_THAT(*g->values.at("ArgMax").shape, ElementsAre(2));
}

TEST(BuilderTest, DeviceSpellingsAreCanonical) {
  EXPECT_EQ(*CanonicalDeviceSpec("/cpu:0"), "/device:CPU:0");
  EXPECT_EQ(*CanonicalDeviceSpec("/device:CPU:0"), "/device:CPU:0");
  EXPECT_EQ(*CanonicalDeviceSpec("/tpu:0"), "/device:TPU:0");
  EXPECT_EQ(*CanonicalDeviceSpec("/device:TPU:0"), "/device:TPU:0");
  EXPECT_EQ(*CanonicalDeviceSpec("/job:localhost/replica:0/task:0/device:TPU:0"), "/device:TPU:0");
  EXPECT_EQ(*CanonicalDeviceSpec(""), "");
  EXPECT_FALSE(CanonicalDeviceSpec("/gpu:0").ok());
  EXPECT_FALSE(CanonicalDeviceSpec("/cpu:1").ok());
}

TEST(BuilderTest, BadDeviceFailsAtBuild) {
  GraphBuilder b;
  Output x = b.Placeholder("x", {2});
  Output y;
  {
    auto scope = b.Device("/gpu:0");
    y = b.Relu(x);
  }
  absl::StatusOr<compiler::Graph> g = b.Build({y});
  EXPECT_TRUE(absl::IsInvalidArgument(g.status()));
  EXPECT_THAT(g.status().message(), HasSubstr("/gpu:0"));
}

TEST(BuilderTest, ErrorsAreDeferredToBuild) {
  {
    GraphBuilder b;
    b.Placeholder("x", {2});
    Output dup = b.Placeholder("x", {3});
    EXPECT_THAT(b.Build({dup}).status().message(), HasSubstr("Placeholder 'x'"));
  }
  {
    GraphBuilder b;
    Output x = b.Placeholder("x", {-1, 3});
    EXPECT_THAT(b.Build({x}).status().message(), HasSubstr("[-1,3]"));
  }
  {
    GraphBuilder a, b;
    Output xa = a.Placeholder("x", {2});
    Output y = b.Relu(xa);
    EXPECT_THAT(b.Build({y}).status().message(), HasSubstr("another GraphBuilder"));
    EXPECT_THAT(b.Build({Output()}).status().message(), HasSubstr("another GraphBuilder"));
  }
  {
    GraphBuilder b;
    Output x = b.Placeholder("x", {2, 3});
    Output w = b.Variable("w", Tensor(DataType::kFloat32, {4, 5}));
    absl::StatusOr<compiler::Graph> g = b.Build({b.MatMul(x, w)});  // shape inference catches it
    EXPECT_TRUE(absl::IsInvalidArgument(g.status()));
    EXPECT_THAT(g.status().message(), HasSubstr("MatMul"));
    EXPECT_FALSE(b.Build({}).ok());
  }
}

}  // namespace
}  // namespace tpusim::runtime
