// cvt_i2f / cvt_f2i (numerics::CvtI2F / CvtF2I / VectorElementwiseWord) on hand-picked values; the
// expected results are hand arithmetic stated next to each.
#include <gtest/gtest.h>

#include <cmath>
#include <cstdint>
#include <cstring>
#include <limits>

#include "tpusim/isa/isa.h"
#include "tpusim/isa/numerics.h"

namespace tpusim::isa::numerics {
namespace {

uint32_t B(float f) {
  uint32_t u;
  std::memcpy(&u, &f, 4);
  return u;
}
float F(uint32_t u) {
  float f;
  std::memcpy(&f, &u, 4);
  return f;
}
uint32_t W(int32_t v) { return static_cast<uint32_t>(v); }

TEST(NumericsCvt, F2IRoundsHalfToEven) {
  EXPECT_EQ(CvtF2I(0.5f), 0);
  EXPECT_EQ(CvtF2I(1.5f), 2);
  EXPECT_EQ(CvtF2I(2.5f), 2);
  EXPECT_EQ(CvtF2I(3.5f), 4);
  EXPECT_EQ(CvtF2I(-0.5f), 0);
  EXPECT_EQ(CvtF2I(-1.5f), -2);
  EXPECT_EQ(CvtF2I(-2.5f), -2);
  EXPECT_EQ(CvtF2I(2.4999998f), 2);
  EXPECT_EQ(CvtF2I(2.5000002f), 3);
  EXPECT_EQ(CvtF2I(-0.0f), 0);
  EXPECT_EQ(CvtF2I(127.49f), 127);
  EXPECT_EQ(CvtF2I(-128.5f), -128);  // tie: -128 is even
}

TEST(NumericsCvt, F2ISaturatesAndMapsNanToZero) {
  constexpr int32_t kMax = std::numeric_limits<int32_t>::max(), kMin = std::numeric_limits<int32_t>::min();
  EXPECT_EQ(CvtF2I(2147483648.0f), kMax);   // 2^31 is one past the largest int32
  EXPECT_EQ(CvtF2I(2147483520.0f), 2147483520);  // the largest fp32 below 2^31 (2^31 - 128): exact
  EXPECT_EQ(CvtF2I(-2147483648.0f), kMin);  // -2^31 is exact
  EXPECT_EQ(CvtF2I(-3e9f), kMin);
  EXPECT_EQ(CvtF2I(3e38f), kMax);
  EXPECT_EQ(CvtF2I(INFINITY), kMax);
  EXPECT_EQ(CvtF2I(-INFINITY), kMin);
  EXPECT_EQ(CvtF2I(std::numeric_limits<float>::quiet_NaN()), 0);
  EXPECT_EQ(CvtF2I(F(0xffc00001u)), 0);  // a negative NaN with a payload
  EXPECT_EQ(CvtF2I(F(0x7f800001u)), 0);  // signalling NaN
  EXPECT_EQ(CvtF2I(F(0x00000001u)), 0);  // the smallest subnormal
  EXPECT_EQ(CvtF2I(F(0x807fffffu)), 0);  // the largest negative subnormal
}

TEST(NumericsCvt, I2FRoundsToNearestEven) {
  EXPECT_EQ(CvtI2F(0), 0.0f);
  EXPECT_EQ(B(CvtI2F(0)), 0u);  // +0
  EXPECT_EQ(CvtI2F(1), 1.0f);
  EXPECT_EQ(CvtI2F(-128), -128.0f);
  EXPECT_EQ(CvtI2F(16777216), 16777216.0f);
  EXPECT_EQ(CvtI2F(16777217), 16777216.0f);  // tie between 2^24 and 2^24 + 2: even mantissa
  EXPECT_EQ(CvtI2F(16777219), 16777220.0f);  // tie between 2^24 + 2 and 2^24 + 4: + 4 is even
  EXPECT_EQ(CvtI2F(16777218), 16777218.0f);  // exact
  EXPECT_EQ(CvtI2F(std::numeric_limits<int32_t>::max()), 2147483648.0f);  // 2^31 - 1 -> 2^31
  EXPECT_EQ(CvtI2F(std::numeric_limits<int32_t>::min()), -2147483648.0f);
}

TEST(NumericsCvt, VectorOpsActOnWordsWithoutFlushing) {
  // 1 is the bit pattern of the smallest subnormal; as an int32 word it converts to 1.0f.
  EXPECT_EQ(VectorElementwiseWord(VectorOp::CvtI2f, 1u, 0, 0), 0x3f800000u);
  EXPECT_EQ(VectorElementwiseWord(VectorOp::CvtI2f, W(-3), 0, 0), B(-3.0f));
  // 0x7f800001 (a signalling NaN pattern) is the int32 2139095041; fp32's ulp in [2^30, 2^31) is 128,
  // so it rounds to 0x7F800000 = 2139095040 (1 below half an ulp).
  EXPECT_EQ(F(VectorElementwiseWord(VectorOp::CvtI2f, 0x7f800001u, 0, 0)), 2139095040.0f);
  EXPECT_EQ(VectorElementwiseWord(VectorOp::CvtF2i, B(-2.5f), 0, 0), W(-2));
  EXPECT_EQ(VectorElementwiseWord(VectorOp::CvtF2i, B(100.5f), 0, 0), 100u);
  // The result word 1 (an int32) is returned as is, not flushed as if it were a subnormal fp32.
  EXPECT_EQ(VectorElementwiseWord(VectorOp::CvtF2i, B(1.0f), 0, 0), 1u);
  // The float-valued entry point carries the same bits.
  EXPECT_EQ(B(VectorElementwise(VectorOp::CvtI2f, F(5u), 0.0f, 0.0f)), B(5.0f));
  EXPECT_EQ(B(VectorElementwise(VectorOp::CvtF2i, 7.0f, 0.0f, 0.0f)), 7u);
  // Other ops are unchanged by the word form.
  EXPECT_EQ(VectorElementwiseWord(VectorOp::Add, B(1.0f), B(2.0f), 0), B(3.0f));
  EXPECT_EQ(VectorElementwiseWord(VectorOp::MulImm, B(3.0f), 0, B(0.5f)), B(1.5f));
  EXPECT_EQ(VectorElementwiseWord(VectorOp::Copy, 1u, 0, 0), 0u);  // fp32 copy flushes a subnormal
}

TEST(NumericsCvt, RoundTripOfInt8Values) {
  for (int v = -128; v <= 127; ++v) {
    const uint32_t f = VectorElementwiseWord(VectorOp::CvtI2f, W(v), 0, 0);
    EXPECT_EQ(F(f), static_cast<float>(v));
    EXPECT_EQ(VectorElementwiseWord(VectorOp::CvtF2i, f, 0, 0), W(v));
  }
}

TEST(NumericsCvt, TheOpsAreUnaryWithMnemonics) {
  EXPECT_EQ(VectorOpArity(VectorOp::CvtI2f), VectorArity::Unary);
  EXPECT_EQ(VectorOpArity(VectorOp::CvtF2i), VectorArity::Unary);
  EXPECT_EQ(VectorOpName(VectorOp::CvtI2f), "cvt_i2f");
  EXPECT_EQ(VectorOpName(VectorOp::CvtF2i), "cvt_f2i");
}

}  // namespace
}  // namespace tpusim::isa::numerics
