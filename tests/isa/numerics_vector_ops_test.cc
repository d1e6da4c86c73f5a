// The vector ops added for the ONNX elementwise family (log, sqrt, reciprocal, abs, erf, max_imm,
// min_imm, leaky_relu). Expected values are hand-derived: exact results where the operation is exact,
// otherwise the binary32 value nearest the true result (the bit pattern of the real number rounded to
// 24 significant bits, worked out from its decimal expansion, e.g. ln 2 = 0.693147180559945...).
#include <gtest/gtest.h>

#include <cmath>
#include <cstring>

#include "tpusim/isa/isa.h"
#include "tpusim/isa/numerics.h"

namespace tpusim::isa::numerics {
namespace {

uint32_t B(float x) {
  uint32_t u;
  std::memcpy(&u, &x, 4);
  return u;
}

float Unary(VectorOp op, float a) { return VectorElementwise(op, a, 123.0f, 456.0f); }  // b, imm ignored

TEST(NumericsVectorOps, NewOpsHaveTheirDeclaredArity) {
  for (VectorOp op : {VectorOp::Log, VectorOp::Sqrt, VectorOp::Reciprocal, VectorOp::Abs, VectorOp::Erf}) {
    EXPECT_EQ(VectorOpArity(op), VectorArity::Unary) << VectorOpName(op);
  }
  for (VectorOp op : {VectorOp::MaxImm, VectorOp::MinImm, VectorOp::LeakyRelu}) {
    EXPECT_EQ(VectorOpArity(op), VectorArity::Imm) << VectorOpName(op);
  }
  EXPECT_EQ(VectorOpFromCode(6), VectorOp::Log);
  EXPECT_EQ(VectorOpName(VectorOp::LeakyRelu), "leaky_relu");
}

TEST(NumericsVectorOps, LogIsTheNaturalLogarithm) {
  EXPECT_EQ(B(Unary(VectorOp::Log, 1.0f)), 0x00000000u);   // ln 1 = +0
  EXPECT_EQ(B(Unary(VectorOp::Log, 2.0f)), 0x3F317218u);   // ln 2 = 0.6931471805... -> 0.693147182464...
  EXPECT_EQ(B(Unary(VectorOp::Log, 10.0f)), 0x40135D8Eu);  // ln 10 = 2.302585092994...
  EXPECT_EQ(Unary(VectorOp::Log, 0.0f), -INFINITY);
  EXPECT_EQ(Unary(VectorOp::Log, INFINITY), INFINITY);
  EXPECT_TRUE(std::isnan(Unary(VectorOp::Log, -1.0f)));
  EXPECT_EQ(Unary(VectorOp::Log, 1e-40f), -INFINITY);  // a subnormal input is flushed to +0 first
}

TEST(NumericsVectorOps, SqrtIsTheIeeeSquareRoot) {
  EXPECT_EQ(Unary(VectorOp::Sqrt, 4.0f), 2.0f);
  EXPECT_EQ(Unary(VectorOp::Sqrt, 0.25f), 0.5f);
  EXPECT_EQ(B(Unary(VectorOp::Sqrt, 2.0f)), 0x3FB504F3u);  // sqrt 2 = 1.41421356... -> 1.41421353816...
  EXPECT_EQ(B(Unary(VectorOp::Sqrt, -0.0f)), 0x80000000u);  // IEEE: sqrt(-0) = -0
  EXPECT_EQ(Unary(VectorOp::Sqrt, INFINITY), INFINITY);
  EXPECT_TRUE(std::isnan(Unary(VectorOp::Sqrt, -4.0f)));
}

TEST(NumericsVectorOps, ReciprocalIsOneOverA) {
  EXPECT_EQ(Unary(VectorOp::Reciprocal, 4.0f), 0.25f);
  EXPECT_EQ(Unary(VectorOp::Reciprocal, -0.5f), -2.0f);
  EXPECT_EQ(B(Unary(VectorOp::Reciprocal, 3.0f)), 0x3EAAAAABu);  // 1/3 = 0.0101..._2 rounds up
  EXPECT_EQ(Unary(VectorOp::Reciprocal, 0.0f), INFINITY);
  EXPECT_EQ(Unary(VectorOp::Reciprocal, -0.0f), -INFINITY);
  EXPECT_EQ(B(Unary(VectorOp::Reciprocal, INFINITY)), 0x00000000u);
  EXPECT_EQ(Unary(VectorOp::Reciprocal, -1e-40f), -INFINITY);  // flushed to -0 first
  // 1 / 2^127 = 2^-127 is subnormal: the result is flushed to +0.
  EXPECT_EQ(B(Unary(VectorOp::Reciprocal, std::ldexp(1.0f, 127))), 0x00000000u);
}

TEST(NumericsVectorOps, AbsClearsTheSign) {
  EXPECT_EQ(Unary(VectorOp::Abs, -2.5f), 2.5f);
  EXPECT_EQ(Unary(VectorOp::Abs, 3.0f), 3.0f);
  EXPECT_EQ(B(Unary(VectorOp::Abs, -0.0f)), 0x00000000u);
  EXPECT_EQ(Unary(VectorOp::Abs, -INFINITY), INFINITY);
  EXPECT_TRUE(std::isnan(Unary(VectorOp::Abs, NAN)));
}

TEST(NumericsVectorOps, ErfIsTheErrorFunction) {
  EXPECT_EQ(B(Unary(VectorOp::Erf, 0.0f)), 0x00000000u);
  EXPECT_EQ(B(Unary(VectorOp::Erf, 1.0f)), 0x3F57BB3Du);   // erf 1 = 0.842700792949714...
  EXPECT_EQ(B(Unary(VectorOp::Erf, -1.0f)), 0xBF57BB3Du);  // odd
  EXPECT_EQ(B(Unary(VectorOp::Erf, 0.5f)), 0x3F053F7Bu);   // erf 0.5 = 0.520499877813046...
  EXPECT_EQ(Unary(VectorOp::Erf, 10.0f), 1.0f);             // 1 - erf 10 < 2^-25
  EXPECT_EQ(Unary(VectorOp::Erf, -INFINITY), -1.0f);
  EXPECT_TRUE(std::isnan(Unary(VectorOp::Erf, NAN)));
}

TEST(NumericsVectorOps, MaxImmAndMinImmClampLikeMaxAndMin) {
  EXPECT_EQ(VectorElementwise(VectorOp::MaxImm, 1.0f, 100.0f, 2.0f), 2.0f);
  EXPECT_EQ(VectorElementwise(VectorOp::MaxImm, 3.0f, 100.0f, 2.0f), 3.0f);
  EXPECT_EQ(VectorElementwise(VectorOp::MinImm, 1.0f, -100.0f, 2.0f), 1.0f);
  EXPECT_EQ(VectorElementwise(VectorOp::MinImm, 3.0f, -100.0f, 2.0f), 2.0f);
  EXPECT_EQ(VectorElementwise(VectorOp::MinImm, INFINITY, 0.0f, 6.0f), 6.0f);
  EXPECT_TRUE(std::isnan(VectorElementwise(VectorOp::MaxImm, NAN, 0.0f, 2.0f)));
  EXPECT_TRUE(std::isnan(VectorElementwise(VectorOp::MinImm, NAN, 0.0f, 2.0f)));
  EXPECT_EQ(B(VectorElementwise(VectorOp::MaxImm, -0.0f, 0.0f, 0.0f)), 0x00000000u);
  EXPECT_EQ(B(VectorElementwise(VectorOp::MinImm, 0.0f, 0.0f, -0.0f)), 0x80000000u);
  // Clip(x, 0, 6) as max_imm 0 then min_imm 6: 7 -> 6, -1 -> 0, 2.5 -> 2.5.
  for (auto [x, want] : {std::pair{7.0f, 6.0f}, std::pair{-1.0f, 0.0f}, std::pair{2.5f, 2.5f}}) {
    const float clamped = VectorElementwise(VectorOp::MaxImm, x, 0.0f, 0.0f);
    EXPECT_EQ(VectorElementwise(VectorOp::MinImm, clamped, 0.0f, 6.0f), want) << x;
  }
}

TEST(NumericsVectorOps, LeakyReluScalesNegativesByImm) {
  EXPECT_EQ(VectorElementwise(VectorOp::LeakyRelu, 3.0f, 0.0f, 0.1f), 3.0f);
  EXPECT_EQ(VectorElementwise(VectorOp::LeakyRelu, -2.0f, 0.0f, 0.5f), -1.0f);
  // -2 * 0.1f: scaling by 2 is exact, so the result is the float nearest -0.2 (0xBE4CCCCD).
  EXPECT_EQ(B(VectorElementwise(VectorOp::LeakyRelu, -2.0f, 0.0f, 0.1f)), 0xBE4CCCCDu);
  EXPECT_EQ(B(VectorElementwise(VectorOp::LeakyRelu, -0.0f, 0.0f, 0.1f)), 0x80000000u);
  EXPECT_EQ(VectorElementwise(VectorOp::LeakyRelu, -INFINITY, 0.0f, 0.01f), -INFINITY);
  EXPECT_TRUE(std::isnan(VectorElementwise(VectorOp::LeakyRelu, NAN, 0.0f, 0.1f)));
  // A subnormal product (-1e-30 * 1e-10 = -1e-40) is flushed to -0.
  EXPECT_EQ(B(VectorElementwise(VectorOp::LeakyRelu, -1e-30f, 0.0f, 1e-10f)), 0x80000000u);
}

TEST(NumericsVectorOps, NegIsMulImmByMinusOneExactly) {
  // The compiler lowers Neg to mul_imm -1: exact for every finite value and infinities.
  for (float x : {1.5f, -3.25f, 0.0f, 1e30f, -INFINITY}) {
    EXPECT_EQ(B(VectorElementwise(VectorOp::MulImm, x, 0.0f, -1.0f)), B(-x)) << x;
  }
}

}  // namespace
}  // namespace tpusim::isa::numerics
