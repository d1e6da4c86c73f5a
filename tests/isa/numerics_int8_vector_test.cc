// int8 arithmetic, requantization, the vector unit and DRAM <-> UB element conversion.
#include <gtest/gtest.h>

#include <climits>
#include <cmath>
#include <cstring>

#include "tpusim/isa/numerics.h"

namespace tpusim::isa::numerics {
namespace {

uint32_t B(float f) {
  uint32_t u;
  std::memcpy(&u, &f, 4);
  return u;
}

TEST(NumericsInt8, MacInt8WrapsAroundLikeTwosComplement) {
  EXPECT_EQ(MacInt8(10, -3, 4), -2);
  // INT32_MAX + 127*1 = 2^31 + 126 -> wraps to -2^31 + 126 = -2147483522.
  EXPECT_EQ(MacInt8(INT32_MAX, 127, 1), -2147483522);
  // INT32_MIN + (-128)*127 = -2^31 - 16256 -> wraps to 2^31 - 16256 = 2147467392.
  EXPECT_EQ(MacInt8(INT32_MIN, -128, 127), 2147467392);
  // (-128) * (-128) = 16384 is exact.
  EXPECT_EQ(MacInt8(0, -128, -128), 16384);
}

TEST(NumericsInt8, ColumnDotInt8HonoursStride) {
  const int8_t x[] = {1, -2, 3};
  const int8_t w[] = {4, 100, 5, 100, -6, 100};  // stride 2
  // 1*4 + (-2)*5 + 3*(-6) = 4 - 10 - 18 = -24
  EXPECT_EQ(ColumnDotInt8(x, w, 3, 2), -24);
}

TEST(NumericsInt8, SaturateInt8ClampsToRange) {
  EXPECT_EQ(SaturateInt8(200), 127);
  EXPECT_EQ(SaturateInt8(-200), -128);
  EXPECT_EQ(SaturateInt8(INT32_MIN), -128);
  EXPECT_EQ(SaturateInt8(-5), -5);
}

TEST(NumericsInt8, RequantizeRoundsHalfToEven) {
  EXPECT_EQ(Requantize(5, 0.5f, 0), 2);    // 2.5 -> 2
  EXPECT_EQ(Requantize(7, 0.5f, 0), 4);    // 3.5 -> 4
  EXPECT_EQ(Requantize(-5, 0.5f, 0), -2);  // -2.5 -> -2
  EXPECT_EQ(Requantize(-7, 0.5f, 0), -4);  // -3.5 -> -4
  EXPECT_EQ(Requantize(3, 0.5f, 0), 2);    // 1.5 -> 2
  EXPECT_EQ(Requantize(10, 0.26f, 0), 3);  // 2.6 -> 3 (not a tie)
}

TEST(NumericsInt8, RequantizeSaturatesAfterZeroPoint) {
  EXPECT_EQ(Requantize(1000, 1.0f, 0), 127);
  EXPECT_EQ(Requantize(-1000, 1.0f, 0), -128);
  EXPECT_EQ(Requantize(10, 0.5f, 3), 8);      // 5 + 3
  EXPECT_EQ(Requantize(5, 0.5f, -1), 1);      // round(2.5) = 2, 2 - 1 = 1
  EXPECT_EQ(Requantize(100, 1.0f, 100), 127);  // 200 saturates
  EXPECT_EQ(Requantize(INT32_MAX, 1e30f, 0), 127);
  EXPECT_EQ(Requantize(5, NAN, 7), 7);  // NaN scale gives the zero point
}

TEST(NumericsVector, ActivationsMatchTheirFormulas) {
  for (float x : {-3.0f, -0.5f, 0.0f, 0.25f, 2.0f}) {
    EXPECT_EQ(Activation(ActFunc::None, x), x);
    EXPECT_EQ(Activation(ActFunc::Relu, x), x > 0 ? x : 0.0f);
    EXPECT_EQ(Activation(ActFunc::Sigmoid, x), 1.0f / (1.0f + std::exp(-x))) << x;
    EXPECT_EQ(Activation(ActFunc::Tanh, x), std::tanh(x)) << x;
  }
  EXPECT_EQ(Activation(ActFunc::Sigmoid, 0.0f), 0.5f);
  EXPECT_EQ(Activation(ActFunc::Sigmoid, -200.0f), 0.0f);  // exp(200) = inf, 1/inf = 0
  EXPECT_EQ(Activation(ActFunc::Sigmoid, 200.0f), 1.0f);
  EXPECT_TRUE(std::isnan(Activation(ActFunc::Relu, NAN)));
  EXPECT_EQ(B(Activation(ActFunc::None, -1e-40f)), 0x80000000u);  // subnormal input flushed
}

TEST(NumericsVector, ElementwiseOpsFollowIeeeWithFlushToZero) {
  EXPECT_EQ(VectorElementwise(VectorOp::Add, 1.0f, 2.0f, 9.0f), 3.0f);
  EXPECT_EQ(VectorElementwise(VectorOp::Sub, 1.0f, 2.0f, 9.0f), -1.0f);
  EXPECT_EQ(VectorElementwise(VectorOp::Mul, 1.5f, 2.0f, 9.0f), 3.0f);
  EXPECT_EQ(VectorElementwise(VectorOp::Div, 1.0f, 4.0f, 9.0f), 0.25f);
  EXPECT_EQ(VectorElementwise(VectorOp::Div, 1.0f, 0.0f, 0.0f), INFINITY);
  EXPECT_EQ(VectorElementwise(VectorOp::Div, -1.0f, 0.0f, 0.0f), -INFINITY);
  EXPECT_TRUE(std::isnan(VectorElementwise(VectorOp::Div, 0.0f, 0.0f, 0.0f)));
  EXPECT_EQ(VectorElementwise(VectorOp::AddImm, 1.0f, 100.0f, 0.5f), 1.5f);
  EXPECT_EQ(VectorElementwise(VectorOp::MulImm, 3.0f, 100.0f, 0.5f), 1.5f);
  EXPECT_EQ(VectorElementwise(VectorOp::Fill, 3.0f, 100.0f, 7.0f), 7.0f);
  EXPECT_EQ(VectorElementwise(VectorOp::Copy, -3.0f, 100.0f, 7.0f), -3.0f);
  EXPECT_EQ(VectorElementwise(VectorOp::Relu, -3.0f, 100.0f, 7.0f), 0.0f);
  EXPECT_EQ(VectorElementwise(VectorOp::Exp, 1.0f, 0.0f, 0.0f), std::exp(1.0f));
  EXPECT_EQ(VectorElementwise(VectorOp::Sigmoid, 0.0f, 0.0f, 0.0f), 0.5f);
  EXPECT_EQ(VectorElementwise(VectorOp::Tanh, 0.5f, 0.0f, 0.0f), std::tanh(0.5f));
  // round_bf16 of 0x3F80_8001 (just above a tie) -> 0x3F81_0000.
  float v;
  uint32_t bits = 0x3F808001;
  std::memcpy(&v, &bits, 4);
  EXPECT_EQ(B(VectorElementwise(VectorOp::RoundBf16, v, 0.0f, 0.0f)), 0x3F810000u);
  // FTZ: subnormal input and a subnormal product (1e-20 * 1e-20 = 1e-40) both flush.
  EXPECT_EQ(B(VectorElementwise(VectorOp::Add, 1e-40f, 0.0f, 0.0f)), 0u);
  EXPECT_EQ(B(VectorElementwise(VectorOp::Mul, 1e-20f, 1e-20f, 0.0f)), 0u);
}

TEST(NumericsVector, MaxAndMinPropagateNan) {
  EXPECT_EQ(VectorElementwise(VectorOp::Max, 1.0f, 2.0f, 0.0f), 2.0f);
  EXPECT_EQ(VectorElementwise(VectorOp::Min, 1.0f, 2.0f, 0.0f), 1.0f);
  EXPECT_TRUE(std::isnan(VectorElementwise(VectorOp::Max, NAN, 1.0f, 0.0f)));
  EXPECT_TRUE(std::isnan(VectorElementwise(VectorOp::Max, 1.0f, NAN, 0.0f)));
  EXPECT_TRUE(std::isnan(VectorElementwise(VectorOp::Min, NAN, 1.0f, 0.0f)));
  EXPECT_TRUE(std::isnan(VectorElementwise(VectorOp::Min, 1.0f, NAN, 0.0f)));
  EXPECT_EQ(B(VectorElementwise(VectorOp::Max, -0.0f, 0.0f, 0.0f)), 0x00000000u);
  EXPECT_EQ(B(VectorElementwise(VectorOp::Min, 0.0f, -0.0f, 0.0f)), 0x80000000u);
}

TEST(NumericsVector, ReduceStepsFoldLikeTheirBinaryOps) {
  float sum = 1.0f;
  for (float x : {2.0f, 3.0f, 4.0f}) sum = VectorReduceStep(VectorOp::ReduceSum, sum, x);
  EXPECT_EQ(sum, 10.0f);
  float max = -5.0f;
  for (float x : {2.0f, -3.0f, 1.0f}) max = VectorReduceStep(VectorOp::ReduceMax, max, x);
  EXPECT_EQ(max, 2.0f);
  EXPECT_TRUE(std::isnan(VectorReduceStep(VectorOp::ReduceMax, NAN, 1.0f)));
}

TEST(NumericsConversion, WidenReadsLittleEndianElements) {
  const uint8_t f32[] = {0x00, 0x00, 0x80, 0x3F};
  EXPECT_EQ(WidenToWord(DType::F32, f32), 0x3F800000u);
  const uint8_t bf16[] = {0x80, 0x3F};
  EXPECT_EQ(WidenToWord(DType::BF16, bf16), 0x3F800000u);
  const uint8_t i8[] = {0xFE};
  EXPECT_EQ(WidenToWord(DType::I8, i8), 0xFFFFFFFEu);  // -2 sign-extended
  const uint8_t i32[] = {0x78, 0x56, 0x34, 0x12};
  EXPECT_EQ(WidenToWord(DType::I32, i32), 0x12345678u);
}

TEST(NumericsConversion, NarrowRoundsBf16AndSaturatesInt8) {
  uint8_t out[4] = {0, 0, 0, 0};
  NarrowFromWord(DType::BF16, 0x3F818000, out);  // tie with odd lsb -> 0x3F82
  EXPECT_EQ(out[0], 0x82);
  EXPECT_EQ(out[1], 0x3F);
  NarrowFromWord(DType::I8, 300, out);
  EXPECT_EQ(out[0], 0x7F);
  NarrowFromWord(DType::I8, 0xFFFFFFFE, out);  // -2
  EXPECT_EQ(out[0], 0xFE);
  NarrowFromWord(DType::I32, 0x12345678, out);
  EXPECT_EQ(out[0], 0x78);
  EXPECT_EQ(out[3], 0x12);
  NarrowFromWord(DType::F32, 0x3F800000, out);
  EXPECT_EQ(out[2], 0x80);
  EXPECT_EQ(out[3], 0x3F);
}

}  // namespace
}  // namespace tpusim::isa::numerics
