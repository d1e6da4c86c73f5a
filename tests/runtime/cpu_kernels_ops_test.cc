// CPU reference kernels of the issue-5 ops (Log, Sqrt, Reciprocal, Erf, Abs, Neg, LeakyRelu, Clip,
// Pow, Slice, Squeeze, Unsqueeze, Expand, ReduceSum, ReduceMax): ONNX semantics checked against hand
// arithmetic (shown in comments).
#include <cmath>
#include <limits>

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

Tensor I64(std::vector<int64_t> v) { return Tensor::FromInt64s({static_cast<int64_t>(v.size())}, v); }

TEST(CpuKernelsOpsTest, RegistryHasTheNewOps) {
  EXPECT_THAT(CpuKernelOpTypes(), ::testing::IsSupersetOf({"Log", "Sqrt", "Reciprocal", "Erf", "Abs", "Neg",
                                                            "LeakyRelu", "Clip", "Pow", "Slice", "Squeeze",
                                                            "Unsqueeze", "Expand", "ReduceSum", "ReduceMax"}));
}

TEST(CpuKernelsOpsTest, UnaryFloatOps) {
  const Tensor x = Tensor::FromFloats({4}, {4.0f, 0.25f, 1.0f, -1.0f});
  EXPECT_EQ(Floats(*Run1(MakeNode("Sqrt", 1), {&x}))[0], 2.0f);  // sqrt 4
  EXPECT_THAT(Floats(*Run1(MakeNode("Reciprocal", 1), {&x})), ElementsAre(0.25f, 4.0f, 1.0f, -1.0f));
  const std::vector<float> log = Floats(*Run1(MakeNode("Log", 1), {&x}));
  EXPECT_EQ(log[2], 0.0f);  // ln 1
  EXPECT_FLOAT_EQ(log[0], 1.3862944f);  // ln 4 = 2 ln 2 = 1.38629436...
  EXPECT_TRUE(std::isnan(log[3]));
  const Tensor e = Tensor::FromFloats({2}, {0.0f, 1.0f});
  EXPECT_THAT(Floats(*Run1(MakeNode("Erf", 1), {&e})), ElementsAre(0.0f, ::testing::FloatEq(0.84270079f)));
  // LeakyRelu: alpha * x below zero (alpha 0.5: -1 -> -0.5), x otherwise.
  EXPECT_THAT(Floats(*Run1(MakeNode("LeakyRelu", 1, {{"alpha", 0.5f}}), {&x})), ElementsAre(4.0f, 0.25f, 1.0f, -0.5f));
  const Tensor i32(DataType::kInt32, {2});
  EXPECT_FALSE(Run1(MakeNode("Sqrt", 1), {&i32}).ok());
}

TEST(CpuKernelsOpsTest, AbsAndNegOnFloatsAndIntegers) {
  const Tensor x = Tensor::FromFloats({3}, {-2.5f, -0.0f, 3.0f});
  const std::vector<float> abs = Floats(*Run1(MakeNode("Abs", 1), {&x}));
  EXPECT_THAT(abs, ElementsAre(2.5f, 0.0f, 3.0f));
  EXPECT_FALSE(std::signbit(abs[1]));  // |-0| = +0
  EXPECT_THAT(Floats(*Run1(MakeNode("Neg", 1), {&x})), ElementsAre(2.5f, 0.0f, -3.0f));
  const Tensor n = Tensor::FromInt64s({3}, {-7, 0, 5});
  EXPECT_THAT(Int64s(*Run1(MakeNode("Abs", 1), {&n})), ElementsAre(7, 0, 5));
  EXPECT_THAT(Int64s(*Run1(MakeNode("Neg", 1), {&n})), ElementsAre(7, 0, -5));
}

TEST(CpuKernelsOpsTest, ClipBoundsFromInputsOrAttributes) {
  const Tensor x = Tensor::FromFloats({5}, {-3.0f, -0.5f, 0.5f, 3.0f, NAN});
  const Tensor lo = Tensor::FromFloats({}, {-1.0f}), hi = Tensor::FromFloats({}, {1.0f});
  std::vector<float> y = Floats(*Run1(MakeNode("Clip", 3), {&x, &lo, &hi}));
  EXPECT_THAT(std::vector<float>(y.begin(), y.begin() + 4), ElementsAre(-1.0f, -0.5f, 0.5f, 1.0f));
  EXPECT_TRUE(std::isnan(y[4]));
  // Only max (min omitted): -3 stays.
  EXPECT_EQ(Floats(*Run1(MakeNode("Clip", 3), {&x, nullptr, &hi}))[0], -3.0f);
  // Opset 6 attributes.
  y = Floats(*Run1(MakeNode("Clip", 1, {{"min", 0.0f}, {"max", 2.0f}}, 6), {&x}));
  EXPECT_THAT(std::vector<float>(y.begin(), y.begin() + 4), ElementsAre(0.0f, 0.0f, 0.5f, 2.0f));
  // int64 clip, and a non-scalar bound is rejected.
  const Tensor n = Tensor::FromInt64s({3}, {-5, 0, 9}), nlo = Tensor::FromInt64s({}, {-1});
  EXPECT_THAT(Int64s(*Run1(MakeNode("Clip", 2), {&n, &nlo})), ElementsAre(-1, 0, 9));
  const Tensor two = Tensor::FromFloats({2}, {0.0f, 1.0f});
  EXPECT_THAT(Run1(MakeNode("Clip", 2), {&x, &two}).status().message(), HasSubstr("min must be a scalar"));
}

TEST(CpuKernelsOpsTest, PowBroadcastsAndMixesTypes) {
  const Tensor x = Tensor::FromFloats({3}, {1.0f, 2.0f, 3.0f});
  const Tensor y = Tensor::FromFloats({3}, {4.0f, 5.0f, 6.0f});
  EXPECT_THAT(Floats(*Run1(MakeNode("Pow", 2), {&x, &y})), ElementsAre(1.0f, 32.0f, 729.0f));  // ONNX example
  const Tensor two = Tensor::FromInt64s({}, {2});
  EXPECT_THAT(Floats(*Run1(MakeNode("Pow", 2), {&x, &two})), ElementsAre(1.0f, 4.0f, 9.0f));
  const Tensor half = Tensor::FromFloats({}, {0.5f}), four = Tensor::FromFloats({1}, {4.0f});
  EXPECT_THAT(Floats(*Run1(MakeNode("Pow", 2), {&four, &half})), ElementsAre(2.0f));
  // int64 base, float exponent: pow in double, truncated to int64 (2^0.5 -> 1).
  const Tensor n = Tensor::FromInt64s({2}, {2, 3});
  EXPECT_THAT(Int64s(*Run1(MakeNode("Pow", 2), {&n, &half})), ElementsAre(1, 1));
  EXPECT_THAT(Int64s(*Run1(MakeNode("Pow", 2), {&n, &two})), ElementsAre(4, 9));
  // Negative base with a non-integer exponent is NaN.
  const Tensor neg = Tensor::FromFloats({1}, {-4.0f});
  EXPECT_TRUE(std::isnan(Floats(*Run1(MakeNode("Pow", 2), {&neg, &half}))[0]));
}

TEST(CpuKernelsOpsTest, SliceWithStepsAndClamping) {
  // x = [[0..4], [5..9], [10..14]] (3 x 5).
  std::vector<float> v(15);
  for (int i = 0; i < 15; ++i) v[i] = static_cast<float>(i);
  const Tensor x = Tensor::FromFloats({3, 5}, v);
  // Rows 0..1, columns 1, 3 (step 2; end 1000 clamps to 5): [[1, 3], [6, 8]].
  const Tensor starts = I64({0, 1}), ends = I64({2, 1000}), axes = I64({0, 1}), steps = I64({1, 2});
  Tensor y = *Run1(MakeNode("Slice", 5), {&x, &starts, &ends, &axes, &steps});
  EXPECT_EQ(y.shape(), Shape({2, 2}));
  EXPECT_THAT(Floats(y), ElementsAre(1.0f, 3.0f, 6.0f, 8.0f));
  // Reverse the last axis from -1 down past the front (end INT64_MIN clamps to -1): 4, 3, ..., 0 per row.
  const Tensor rs = I64({-1}), re = I64({std::numeric_limits<int64_t>::min()}), ra = I64({-1}), rt = I64({-1});
  y = *Run1(MakeNode("Slice", 5), {&x, &rs, &re, &ra, &rt});
  EXPECT_EQ(y.shape(), Shape({3, 5}));
  const std::vector<float> reversed = Floats(y);
  EXPECT_THAT(std::vector<float>(reversed.begin(), reversed.begin() + 5), ElementsAre(4, 3, 2, 1, 0));
  // Opset 1: attributes; axes default to 0, 1, ...
  y = *Run1(MakeNode("Slice", 1, {{"starts", std::vector<int64_t>{1}}, {"ends", std::vector<int64_t>{2}}}, 1), {&x});
  EXPECT_THAT(Floats(y), ElementsAre(5, 6, 7, 8, 9));
  const Tensor zero = I64({0});
  EXPECT_THAT(Run1(MakeNode("Slice", 5), {&x, &starts, &ends, &axes, &zero}).status().message(),
              HasSubstr("must have the same length"));
}

TEST(CpuKernelsOpsTest, SqueezeUnsqueezeExpand) {
  const Tensor x = Tensor::FromFloats({1, 3, 1}, {1.0f, 2.0f, 3.0f});
  const Tensor a0 = I64({0});
  EXPECT_EQ(Run1(MakeNode("Squeeze", 2), {&x, &a0})->shape(), Shape({3, 1}));
  EXPECT_EQ(Run1(MakeNode("Squeeze", 1), {&x})->shape(), Shape({3}));
  EXPECT_EQ(Run1(MakeNode("Squeeze", 1, {{"axes", std::vector<int64_t>{2}}}, 11), {&x})->shape(), Shape({1, 3}));
  const Tensor a1 = I64({1});
  EXPECT_FALSE(Run1(MakeNode("Squeeze", 2), {&x, &a1}).ok());  // dim 1 has size 3
  const Tensor u = I64({-1, 0});
  EXPECT_EQ(Run1(MakeNode("Unsqueeze", 2), {&x, &u})->shape(), Shape({1, 1, 3, 1, 1}));
  // Expand [3, 1] by [2, 1, 2]: [2, 3, 2], each row value repeated.
  const Tensor col = Tensor::FromFloats({3, 1}, {1.0f, 2.0f, 3.0f});
  const Tensor shape = I64({2, 1, 2});
  Tensor y = *Run1(MakeNode("Expand", 2), {&col, &shape});
  EXPECT_EQ(y.shape(), Shape({2, 3, 2}));
  EXPECT_THAT(Floats(y), ElementsAre(1, 1, 2, 2, 3, 3, 1, 1, 2, 2, 3, 3));
}

TEST(CpuKernelsOpsTest, InferenceNeedsConstantIndexInputs) {
  KernelInputInfo x{true, DataType::kFloat32, {2, 3}, nullptr};
  KernelInputInfo fed{true, DataType::kInt64, {1}, nullptr};
  for (const char* op : {"Squeeze", "Unsqueeze", "Expand", "ReduceSum"}) {
    absl::StatusOr<std::vector<KernelOutputInfo>> info = FindCpuKernel(op)->infer(MakeNode(op, 2), {x, fed});
    EXPECT_EQ(info.status().code(), absl::StatusCode::kFailedPrecondition) << op << ": " << info.status();
  }
  absl::StatusOr<std::vector<KernelOutputInfo>> slice = FindCpuKernel("Slice")->infer(MakeNode("Slice", 3), {x, fed, fed});
  EXPECT_EQ(slice.status().code(), absl::StatusCode::kFailedPrecondition);
}

TEST(CpuKernelsOpsTest, ReduceSumMaxMean) {
  // x = [[1, 2, 3], [4, 5, 6]].
  const Tensor x = Tensor::FromFloats({2, 3}, {1, 2, 3, 4, 5, 6});
  const Tensor axis1 = I64({1});
  EXPECT_THAT(Floats(*Run1(MakeNode("ReduceSum", 2), {&x, &axis1})), ElementsAre(6.0f, 15.0f));
  EXPECT_THAT(Floats(*Run1(MakeNode("ReduceSum", 1, {{"keepdims", int64_t{0}}}), {&x})), ElementsAre(21.0f));
  EXPECT_THAT(Floats(*Run1(MakeNode("ReduceMax", 1, {{"axes", std::vector<int64_t>{0}}}, 13), {&x})),
              ElementsAre(4.0f, 5.0f, 6.0f));
  EXPECT_THAT(Floats(*Run1(MakeNode("ReduceMean", 1, {{"axes", std::vector<int64_t>{1}}}, 13), {&x})),
              ElementsAre(2.0f, 5.0f));
  const Tensor nan = Tensor::FromFloats({3}, {1.0f, NAN, 2.0f});
  EXPECT_TRUE(std::isnan(Floats(*Run1(MakeNode("ReduceMax", 1), {&nan}))[0]));
  // noop_with_empty_axes and an empty axes input: the identity.
  const Tensor none(DataType::kInt64, {0});
  EXPECT_THAT(Floats(*Run1(MakeNode("ReduceSum", 2, {{"noop_with_empty_axes", int64_t{1}}}), {&x, &none})),
              ElementsAre(1, 2, 3, 4, 5, 6));
  // Empty reductions: Sum 0, Max -Inf.
  const Tensor empty(DataType::kFloat32, {2, 0});
  EXPECT_THAT(Floats(*Run1(MakeNode("ReduceSum", 2), {&empty, &axis1})), ElementsAre(0.0f, 0.0f));
  EXPECT_THAT(Floats(*Run1(MakeNode("ReduceMax", 1, {{"axes", std::vector<int64_t>{1}}}), {&empty})),
              ElementsAre(-INFINITY, -INFINITY));
}

}  // namespace
}  // namespace tpusim::runtime
