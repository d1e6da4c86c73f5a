// CPU reference kernels: ONNX semantics checked against hand arithmetic (shown in comments) or naive
// loops written here.
#include <cmath>
#include <random>

#include "gmock/gmock.h"
#include "gtest/gtest.h"
#include "cpu_kernel_test_util.h"
#include "tpusim/runtime/cpu_kernels.h"

namespace tpusim::runtime {
namespace {

using compiler::Attribute;
using compiler::DataType;
using compiler::Node;
using compiler::Shape;
using compiler::Tensor;
using ::testing::ElementsAre;
using ::testing::HasSubstr;

using testing::Floats;
using testing::Int64s;
using testing::MakeNode;
using testing::Run1;


Tensor Random(Shape shape, uint32_t seed) {
  std::mt19937 rng(seed);
  std::uniform_real_distribution<float> dist(-1.0f, 1.0f);
  std::vector<float> v(compiler::NumElements(shape));
  for (float& x : v) x = dist(rng);
  return Tensor::FromFloats(shape, v);
}

TEST(CpuKernelsTest, RegistryListsEveryOpAndRejectsUnknown) {
  EXPECT_THAT(CpuKernelOpTypes(), ::testing::IsSupersetOf({"MatMul", "Gemm", "Add", "Sub", "Mul", "Div", "Relu",
                                                            "Sigmoid", "Tanh", "Exp", "Softmax", "Flatten", "Reshape",
                                                            "Identity", "ArgMax", "Transpose", "ReduceMean", "Concat"}));
  EXPECT_EQ(FindCpuKernel("Foo"), nullptr);
  absl::StatusOr<std::vector<Tensor>> out = RunCpuKernel(MakeNode("Foo", 0), {});
  EXPECT_TRUE(absl::IsNotFound(out.status()));
  EXPECT_THAT(out.status().message(), HasSubstr("'Foo' (node 'n')"));
}

TEST(CpuKernelsTest, MatMul2DByHand) {
  // [[1,2,3],[4,5,6]] x [[1,0],[0,1],[1,1]] = [[1+3, 2+3], [4+6, 5+6]] = [[4,5],[10,11]]
  Tensor a = Tensor::FromFloats({2, 3}, {1, 2, 3, 4, 5, 6});
  Tensor b = Tensor::FromFloats({3, 2}, {1, 0, 0, 1, 1, 1});
  absl::StatusOr<Tensor> y = Run1(MakeNode("MatMul", 2), {&a, &b});
  ASSERT_TRUE(y.ok()) << y.status();
  EXPECT_THAT(y->shape(), ElementsAre(2, 2));
  EXPECT_THAT(Floats(*y), ElementsAre(4, 5, 10, 11));
}

TEST(CpuKernelsTest, MatMulOneDimensionalOperandsAreRemoved) {
  Tensor v = Tensor::FromFloats({3}, {1, 2, 3});
  Tensor m = Tensor::FromFloats({3, 2}, {1, 0, 0, 1, 1, 1});
  Tensor mt = Tensor::FromFloats({2, 3}, {1, 0, 1, 0, 1, 1});
  absl::StatusOr<Tensor> vm = Run1(MakeNode("MatMul", 2), {&v, &m});  // [1+3, 2+3]
  ASSERT_TRUE(vm.ok()) << vm.status();
  EXPECT_THAT(vm->shape(), ElementsAre(2));
  EXPECT_THAT(Floats(*vm), ElementsAre(4, 5));
  absl::StatusOr<Tensor> mv = Run1(MakeNode("MatMul", 2), {&mt, &v});  // [1+3, 2+3]
  ASSERT_TRUE(mv.ok()) << mv.status();
  EXPECT_THAT(mv->shape(), ElementsAre(2));
  EXPECT_THAT(Floats(*mv), ElementsAre(4, 5));
  absl::StatusOr<Tensor> vv = Run1(MakeNode("MatMul", 2), {&v, &v});  // 1+4+9
  ASSERT_TRUE(vv.ok()) << vv.status();
  EXPECT_TRUE(vv->shape().empty());
  EXPECT_THAT(Floats(*vv), ElementsAre(14));
}

TEST(CpuKernelsTest, MatMulBatchedBroadcastMatchesNaiveLoop) {
  // a: [2,1,4,3], b: [3,3,5] -> [2,3,4,5]; a's dim 1 and b's missing dim 0 broadcast.
  Tensor a = Random({2, 1, 4, 3}, 1);
  Tensor b = Random({3, 3, 5}, 2);
  absl::StatusOr<Tensor> y = Run1(MakeNode("MatMul", 2), {&a, &b});
  ASSERT_TRUE(y.ok()) << y.status();
  ASSERT_THAT(y->shape(), ElementsAre(2, 3, 4, 5));
  for (int i = 0; i < 2; ++i) {
    for (int j = 0; j < 3; ++j) {
      for (int m = 0; m < 4; ++m) {
        for (int n = 0; n < 5; ++n) {
          double ref = 0;
          for (int k = 0; k < 3; ++k) ref += double(a.as<float>()[(i * 4 + m) * 3 + k]) * b.as<float>()[(j * 3 + k) * 5 + n];
          EXPECT_NEAR(y->as<float>()[((i * 3 + j) * 4 + m) * 5 + n], ref, 1e-5);
        }
      }
    }
  }
}

TEST(CpuKernelsTest, MatMulInnerMismatchNamesNodeAndShapes) {
  Tensor a(DataType::kFloat32, {2, 3});
  Tensor b(DataType::kFloat32, {4, 5});
  absl::StatusOr<Tensor> y = Run1(MakeNode("MatMul", 2), {&a, &b});
  EXPECT_TRUE(absl::IsInvalidArgument(y.status()));
  EXPECT_THAT(y.status().message(), HasSubstr("MatMul (node 'n')"));
  EXPECT_THAT(y.status().message(), HasSubstr("[2,3] x [4,5]"));
}

TEST(CpuKernelsTest, GemmTransposesScalesAndBroadcastsC) {
  // A stored [K=3, M=2] (transA), B stored [N=4, K=3] (transB), C [4] broadcast over rows.
  Tensor a = Random({3, 2}, 3);
  Tensor b = Random({4, 3}, 4);
  Tensor c = Tensor::FromFloats({4}, {1, 2, 3, 4});
  Node node = MakeNode("Gemm", 3, {{"transA", int64_t{1}}, {"transB", int64_t{1}}, {"alpha", 0.5f}, {"beta", 2.0f}});
  absl::StatusOr<Tensor> y = Run1(node, {&a, &b, &c});
  ASSERT_TRUE(y.ok()) << y.status();
  ASSERT_THAT(y->shape(), ElementsAre(2, 4));
  for (int m = 0; m < 2; ++m) {
    for (int n = 0; n < 4; ++n) {
      double ab = 0;
      for (int k = 0; k < 3; ++k) ab += double(a.as<float>()[k * 2 + m]) * b.as<float>()[n * 3 + k];
      EXPECT_NEAR(y->as<float>()[m * 4 + n], 0.5 * ab + 2.0 * (n + 1), 1e-5);
    }
  }
}

TEST(CpuKernelsTest, GemmWithoutCAndColumnC) {
  Tensor a = Tensor::FromFloats({2, 2}, {1, 2, 3, 4});
  Tensor b = Tensor::FromFloats({2, 2}, {1, 0, 0, 1});
  absl::StatusOr<Tensor> y = Run1(MakeNode("Gemm", 2), {&a, &b});
  ASSERT_TRUE(y.ok()) << y.status();
  EXPECT_THAT(Floats(*y), ElementsAre(1, 2, 3, 4));
  // C [2,1]: row i adds C[i] (beta defaults to 1).
  Tensor c = Tensor::FromFloats({2, 1}, {10, 20});
  y = Run1(MakeNode("Gemm", 3), {&a, &b, &c});
  ASSERT_TRUE(y.ok()) << y.status();
  EXPECT_THAT(Floats(*y), ElementsAre(11, 12, 23, 24));
  // Omitted optional C (nullptr).
  y = Run1(MakeNode("Gemm", 3), {&a, &b, nullptr});
  ASSERT_TRUE(y.ok()) << y.status();
  EXPECT_THAT(Floats(*y), ElementsAre(1, 2, 3, 4));
  Tensor bad_c = Tensor::FromFloats({3}, {1, 2, 3});
  EXPECT_TRUE(absl::IsInvalidArgument(Run1(MakeNode("Gemm", 3), {&a, &b, &bad_c}).status()));
}

TEST(CpuKernelsTest, BinaryOpsBroadcastMultidirectionally) {
  Tensor col = Tensor::FromFloats({2, 1}, {1, 2});
  Tensor row = Tensor::FromFloats({1, 3}, {10, 20, 30});
  absl::StatusOr<Tensor> y = Run1(MakeNode("Add", 2), {&col, &row});
  ASSERT_TRUE(y.ok()) << y.status();
  EXPECT_THAT(y->shape(), ElementsAre(2, 3));
  EXPECT_THAT(Floats(*y), ElementsAre(11, 21, 31, 12, 22, 32));
  y = Run1(MakeNode("Sub", 2), {&col, &row});
  ASSERT_TRUE(y.ok());
  EXPECT_THAT(Floats(*y), ElementsAre(-9, -19, -29, -8, -18, -28));
  y = Run1(MakeNode("Mul", 2), {&row, &col});
  ASSERT_TRUE(y.ok());
  EXPECT_THAT(Floats(*y), ElementsAre(10, 20, 30, 20, 40, 60));
  Tensor scalar = Tensor::FromFloats({}, {4});
  y = Run1(MakeNode("Div", 2), {&row, &scalar});
  ASSERT_TRUE(y.ok());
  EXPECT_THAT(y->shape(), ElementsAre(1, 3));
  EXPECT_THAT(Floats(*y), ElementsAre(2.5, 5, 7.5));
}

TEST(CpuKernelsTest, BinaryOpsRejectIncompatibleShapesAndIntegerDivisionByZero) {
  Tensor a(DataType::kFloat32, {2, 3});
  Tensor b(DataType::kFloat32, {2, 4});
  absl::StatusOr<Tensor> y = Run1(MakeNode("Add", 2), {&a, &b});
  EXPECT_TRUE(absl::IsInvalidArgument(y.status()));
  EXPECT_THAT(y.status().message(), HasSubstr("[2,3] and [2,4]"));
  Tensor i = Tensor::FromInt64s({2}, {7, -7});
  Tensor z = Tensor::FromInt64s({2}, {2, 0});
  EXPECT_THAT(Run1(MakeNode("Div", 2), {&i, &z}).status().message(), HasSubstr("division by zero"));
  Tensor two = Tensor::FromInt64s({}, {2});
  y = Run1(MakeNode("Div", 2), {&i, &two});
  ASSERT_TRUE(y.ok()) << y.status();
  EXPECT_THAT(Int64s(*y), ElementsAre(3, -3));  // truncation toward zero, as C and ONNX's runtime
}

TEST(CpuKernelsTest, Activations) {
  Tensor x = Tensor::FromFloats({4}, {-2, -0.0f, 0.5f, 3});
  absl::StatusOr<Tensor> relu = Run1(MakeNode("Relu", 1), {&x});
  ASSERT_TRUE(relu.ok());
  EXPECT_THAT(Floats(*relu), ElementsAre(0, 0, 0.5f, 3));
  absl::StatusOr<Tensor> sig = Run1(MakeNode("Sigmoid", 1), {&x});
  absl::StatusOr<Tensor> tanh = Run1(MakeNode("Tanh", 1), {&x});
  absl::StatusOr<Tensor> exp = Run1(MakeNode("Exp", 1), {&x});
  ASSERT_TRUE(sig.ok() && tanh.ok() && exp.ok());
  const float xs[] = {-2, 0, 0.5f, 3};
  for (int i = 0; i < 4; ++i) {
    EXPECT_NEAR(sig->as<float>()[i], 1.0 / (1.0 + std::exp(-double(xs[i]))), 1e-7);
    EXPECT_NEAR(tanh->as<float>()[i], std::tanh(double(xs[i])), 1e-7);
    EXPECT_NEAR(exp->as<float>()[i], std::exp(double(xs[i])), 1e-6 * std::exp(double(xs[i])));
  }
  EXPECT_FLOAT_EQ(sig->as<float>()[1], 0.5f);
}

TEST(CpuKernelsTest, SoftmaxOpset13IsAlongOneAxis) {
  // x [2,2,2], axis 1: pairs (x[b,0,c], x[b,1,c]). softmax(0, ln 3) = (1/4, 3/4).
  const float l3 = std::log(3.0f);
  Tensor x = Tensor::FromFloats({2, 2, 2}, {0, 5, l3, 5, 1, 0, 1, 0});
  absl::StatusOr<Tensor> y = Run1(MakeNode("Softmax", 1, {{"axis", int64_t{1}}}), {&x});
  ASSERT_TRUE(y.ok()) << y.status();
  const std::vector<float> got = Floats(*y);
  const std::vector<float> want = {0.25f, 0.5f, 0.75f, 0.5f, 0.5f, 0.5f, 0.5f, 0.5f};
  for (int i = 0; i < 8; ++i) EXPECT_NEAR(got[i], want[i], 1e-6) << i;
}

TEST(CpuKernelsTest, SoftmaxBeforeOpset13CoercesTo2D) {
  // opset 11, axis 1 on [1,2,2]: one softmax over all 4 values {0, 0, ln 2, 0} -> {1,1,2,1}/5.
  Tensor x = Tensor::FromFloats({1, 2, 2}, {0, 0, std::log(2.0f), 0});
  absl::StatusOr<Tensor> y = Run1(MakeNode("Softmax", 1, {}, /*opset=*/11), {&x});
  ASSERT_TRUE(y.ok()) << y.status();
  const std::vector<float> got = Floats(*y);
  const std::vector<float> want = {0.2f, 0.2f, 0.4f, 0.2f};
  for (int i = 0; i < 4; ++i) EXPECT_NEAR(got[i], want[i], 1e-6) << i;
  // opset 13 default axis -1 on the same input: rows {0,0} and {ln 2, 0} -> {.5,.5}, {2/3,1/3}.
  y = Run1(MakeNode("Softmax", 1), {&x});
  ASSERT_TRUE(y.ok());
  EXPECT_NEAR(y->as<float>()[2], 2.0 / 3.0, 1e-6);
  EXPECT_NEAR(y->as<float>()[0], 0.5, 1e-6);
}

TEST(CpuKernelsTest, FlattenReshapeIdentity) {
  Tensor x = Random({2, 3, 4}, 5);
  absl::StatusOr<Tensor> f = Run1(MakeNode("Flatten", 1, {{"axis", int64_t{2}}}), {&x});
  ASSERT_TRUE(f.ok());
  EXPECT_THAT(f->shape(), ElementsAre(6, 4));
  EXPECT_EQ(Floats(*f), Floats(x));
  f = Run1(MakeNode("Flatten", 1, {{"axis", int64_t{0}}}), {&x});
  ASSERT_TRUE(f.ok());
  EXPECT_THAT(f->shape(), ElementsAre(1, 24));
  Tensor shape = Tensor::FromInt64s({3}, {0, -1, 2});  // 0 copies dim 0 (2); -1 = 24 / (2*2) = 6
  absl::StatusOr<Tensor> r = Run1(MakeNode("Reshape", 2), {&x, &shape});
  ASSERT_TRUE(r.ok()) << r.status();
  EXPECT_THAT(r->shape(), ElementsAre(2, 6, 2));
  Tensor bad = Tensor::FromInt64s({2}, {5, -1});
  r = Run1(MakeNode("Reshape", 2), {&x, &bad});
  EXPECT_TRUE(absl::IsInvalidArgument(r.status()));
  EXPECT_THAT(r.status().message(), HasSubstr("cannot reshape [2,3,4]"));
  absl::StatusOr<Tensor> id = Run1(MakeNode("Identity", 1), {&x});
  ASSERT_TRUE(id.ok());
  EXPECT_EQ(Floats(*id), Floats(x));
}

TEST(CpuKernelsTest, ArgMaxAxisKeepdimsAndLastIndex) {
  // Rows: {1, 3, 3} -> first max at 1, last at 2; {5, 0, 5} -> 0 / 2.
  Tensor x = Tensor::FromFloats({2, 3}, {1, 3, 3, 5, 0, 5});
  absl::StatusOr<Tensor> y = Run1(MakeNode("ArgMax", 1, {{"axis", int64_t{1}}}), {&x});
  ASSERT_TRUE(y.ok()) << y.status();
  EXPECT_EQ(y->dtype(), DataType::kInt64);
  EXPECT_THAT(y->shape(), ElementsAre(2, 1));  // keepdims defaults to 1
  EXPECT_THAT(Int64s(*y), ElementsAre(1, 0));
  y = Run1(MakeNode("ArgMax", 1, {{"axis", int64_t{-1}}, {"keepdims", int64_t{0}}, {"select_last_index", int64_t{1}}}),
           {&x});
  ASSERT_TRUE(y.ok());
  EXPECT_THAT(y->shape(), ElementsAre(2));
  EXPECT_THAT(Int64s(*y), ElementsAre(2, 2));
  y = Run1(MakeNode("ArgMax", 1), {&x});  // axis 0: columns {1,5}, {3,0}, {3,5}
  ASSERT_TRUE(y.ok());
  EXPECT_THAT(y->shape(), ElementsAre(1, 3));
  EXPECT_THAT(Int64s(*y), ElementsAre(1, 0, 1));
  EXPECT_TRUE(absl::IsInvalidArgument(Run1(MakeNode("ArgMax", 1, {{"axis", int64_t{2}}}), {&x}).status()));
}

TEST(CpuKernelsTest, TransposeReduceMeanConcat) {
  Tensor x = Tensor::FromFloats({2, 3}, {1, 2, 3, 4, 5, 6});
  absl::StatusOr<Tensor> t = Run1(MakeNode("Transpose", 1), {&x});
  ASSERT_TRUE(t.ok());
  EXPECT_THAT(t->shape(), ElementsAre(3, 2));
  EXPECT_THAT(Floats(*t), ElementsAre(1, 4, 2, 5, 3, 6));
  absl::StatusOr<Tensor> m = Run1(MakeNode("ReduceMean", 1, {{"axes", std::vector<int64_t>{1}}}), {&x});
  ASSERT_TRUE(m.ok()) << m.status();
  EXPECT_THAT(m->shape(), ElementsAre(2, 1));
  EXPECT_THAT(Floats(*m), ElementsAre(2, 5));  // (1+2+3)/3, (4+5+6)/3
  m = Run1(MakeNode("ReduceMean", 1, {{"keepdims", int64_t{0}}}), {&x});  // all axes: 21/6
  ASSERT_TRUE(m.ok());
  EXPECT_TRUE(m->shape().empty());
  EXPECT_THAT(Floats(*m), ElementsAre(3.5f));
  Tensor z = Tensor::FromFloats({2, 1}, {7, 8});
  Node concat = MakeNode("Concat", 2, {{"axis", int64_t{-1}}});
  absl::StatusOr<Tensor> c = Run1(concat, {&x, &z});
  ASSERT_TRUE(c.ok()) << c.status();
  EXPECT_THAT(c->shape(), ElementsAre(2, 4));
  EXPECT_THAT(Floats(*c), ElementsAre(1, 2, 3, 7, 4, 5, 6, 8));
  Tensor w(DataType::kFloat32, {3, 1});
  EXPECT_TRUE(absl::IsInvalidArgument(Run1(concat, {&x, &w}).status()));
}

TEST(CpuKernelsTest, MissingRequiredInputIsAnError) {
  Tensor a(DataType::kFloat32, {2, 2});
  absl::StatusOr<Tensor> y = Run1(MakeNode("MatMul", 2), {&a, nullptr});
  EXPECT_TRUE(absl::IsInvalidArgument(y.status()));
  EXPECT_THAT(y.status().message(), HasSubstr("required input 1 is missing"));
  EXPECT_TRUE(absl::IsInvalidArgument(Run1(MakeNode("Relu", 2), {&a, &a}).status()));
}

TEST(CpuKernelsTest, InferMatchesComputeAndNeedsConstantReshapeShape) {
  const CpuKernel* reshape = FindCpuKernel("Reshape");
  ASSERT_NE(reshape, nullptr);
  Node node = MakeNode("Reshape", 2);
  KernelInputInfo data{true, DataType::kFloat32, {4, 6}, nullptr};
  KernelInputInfo computed_shape{true, DataType::kInt64, {2}, nullptr};
  EXPECT_TRUE(absl::IsFailedPrecondition(reshape->infer(node, {data, computed_shape}).status()));
  Tensor shape = Tensor::FromInt64s({2}, {-1, 3});
  KernelInputInfo const_shape{true, DataType::kInt64, {2}, &shape};
  absl::StatusOr<std::vector<KernelOutputInfo>> out = reshape->infer(node, {data, const_shape});
  ASSERT_TRUE(out.ok()) << out.status();
  EXPECT_THAT((*out)[0].shape, ElementsAre(8, 3));
}

TEST(CpuKernelsTest, ShapeInferenceGoesOnPastAnUnknownOp) {
  // x -> Foo (unknown anywhere) -> y;  x -> Transpose -> t -> ArgMax(axis 0, keepdims 0) -> a.
  compiler::Graph g;
  g.AddValue("x", DataType::kFloat32, Shape{2, 3});
  g.inputs = {"x"};
  Node foo = MakeNode("Foo", 0);
  foo.name = "foo";
  foo.inputs = {"x"};
  foo.outputs = {"y"};
  Node t = MakeNode("Transpose", 0);
  t.name = "t";
  t.inputs = {"x"};
  t.outputs = {"t"};
  Node a = MakeNode("ArgMax", 0, {{"keepdims", int64_t{0}}});
  a.name = "a";
  a.inputs = {"t"};
  a.outputs = {"a"};
  g.nodes = {foo, t, a};
  for (const char* v : {"y", "t", "a"}) g.AddValue(v, DataType::kFloat32);
  g.outputs = {"y", "a"};
  ASSERT_TRUE(InferShapesWithCpuKernels(g).ok());
  EXPECT_FALSE(g.values.at("y").shape.has_value());
  EXPECT_THAT(*g.values.at("t").shape, ElementsAre(3, 2));
  EXPECT_THAT(*g.values.at("a").shape, ElementsAre(2));
  EXPECT_EQ(g.values.at("a").dtype, DataType::kInt64);
  // A real mismatch is still an error naming the node.
  g.nodes[1].attrs["perm"] = std::vector<int64_t>{0, 0};
  absl::Status status = InferShapesWithCpuKernels(g);
  EXPECT_TRUE(absl::IsInvalidArgument(status));
  EXPECT_THAT(status.message(), HasSubstr("node 't'"));
}

}  // namespace
}  // namespace tpusim::runtime
