// bf16 conversion and the fp32 arithmetic of the array, on hand-computed cases.
#include <gtest/gtest.h>

#include <cmath>
#include <cstring>
#include <vector>

#include "tpusim/isa/numerics.h"

namespace tpusim::isa::numerics {
namespace {

float F(uint32_t bits) {
  float f;
  std::memcpy(&f, &bits, 4);
  return f;
}
uint32_t B(float f) {
  uint32_t u;
  std::memcpy(&u, &f, 4);
  return u;
}

TEST(NumericsBf16, RoundsTiesToEvenInBothDirections) {
  // 0x3F80_8000: dropped half is exactly 0x8000 (a tie), kept lsb 0 (even) -> stays 0x3F80.
  EXPECT_EQ(F32ToBf16Bits(F(0x3F808000)), 0x3F80);
  // 0x3F81_8000: a tie with kept lsb 1 (odd) -> rounds up to the even 0x3F82.
  EXPECT_EQ(F32ToBf16Bits(F(0x3F818000)), 0x3F82);
  // The same for negative values (magnitude rounding, sign kept).
  EXPECT_EQ(F32ToBf16Bits(F(0xBF808000)), 0xBF80);
  EXPECT_EQ(F32ToBf16Bits(F(0xBF818000)), 0xBF82);
}

TEST(NumericsBf16, RoundsToNearestAwayFromTies) {
  EXPECT_EQ(F32ToBf16Bits(F(0x3F808001)), 0x3F81);  // just above half: up
  EXPECT_EQ(F32ToBf16Bits(F(0x3F807FFF)), 0x3F80);  // just below half: down
  // Mantissa carry into the exponent: 0x3FFF_FFFF (1.99999988) -> 0x4000 (2.0).
  EXPECT_EQ(F32ToBf16Bits(F(0x3FFFFFFF)), 0x4000);
  EXPECT_EQ(F32ToBf16Bits(1.0f), 0x3F80);
  EXPECT_EQ(F32ToBf16Bits(-2.5f), 0xC020);  // -2.5 = 0xC0200000 exactly representable
}

TEST(NumericsBf16, NanStaysNanWithQuietBitAndSign) {
  // 0x7F80_0001 is a signalling NaN whose payload lies only in the dropped bits: truncation alone
  // would give 0x7F80 (Inf). The result must be a quiet NaN: 0x7F80 | 0x0040 = 0x7FC0.
  EXPECT_EQ(F32ToBf16Bits(F(0x7F800001)), 0x7FC0);
  EXPECT_EQ(F32ToBf16Bits(F(0xFF800001)), 0xFFC0);
  EXPECT_EQ(F32ToBf16Bits(F(0x7FC00000)), 0x7FC0);
  // Payload in the kept bits survives: 0x7FA0_0000 -> 0x7FA0 | 0x0040 = 0x7FE0.
  EXPECT_EQ(F32ToBf16Bits(F(0x7FA00000)), 0x7FE0);
  // A NaN just below the Inf pattern must not round (carry) into another value.
  EXPECT_EQ(F32ToBf16Bits(F(0x7FFFFFFF)), 0x7FFF);
}

TEST(NumericsBf16, InfinitiesAreExact) {
  EXPECT_EQ(F32ToBf16Bits(INFINITY), 0x7F80);
  EXPECT_EQ(F32ToBf16Bits(-INFINITY), 0xFF80);
}

TEST(NumericsBf16, OverflowRoundsToInfinity) {
  // FLT_MAX = 0x7F7F_FFFF: dropped 0xFFFF > half, rounding up carries into exponent 0xFF -> Inf.
  EXPECT_EQ(F32ToBf16Bits(F(0x7F7FFFFF)), 0x7F80);
  EXPECT_EQ(F32ToBf16Bits(F(0xFF7FFFFF)), 0xFF80);
  // 0x7F7F_7FFF is below the halfway point: stays the largest finite bf16, 0x7F7F.
  EXPECT_EQ(F32ToBf16Bits(F(0x7F7F7FFF)), 0x7F7F);
}

TEST(NumericsBf16, SubnormalInputFlushedToSignedZero) {
  EXPECT_EQ(F32ToBf16Bits(F(0x00400000)), 0x0000);
  EXPECT_EQ(F32ToBf16Bits(F(0x80000001)), 0x8000);
  // 0x007F_FFFF would round up to the smallest normal 0x0080 without FTZ; it is flushed first.
  EXPECT_EQ(F32ToBf16Bits(F(0x007FFFFF)), 0x0000);
  // The smallest normal is kept.
  EXPECT_EQ(F32ToBf16Bits(F(0x00800000)), 0x0080);
  EXPECT_EQ(B(FlushSubnormal(F(0x807FFFFF))), 0x80000000u);
  EXPECT_EQ(FlushSubnormal(1.0f), 1.0f);
}

TEST(NumericsBf16, SubnormalBf16InputFlushedToSignedZero) {
  EXPECT_EQ(B(Bf16BitsToF32(0x3F80)), 0x3F800000u);
  EXPECT_EQ(B(Bf16BitsToF32(0x0040)), 0x00000000u);  // subnormal bf16
  EXPECT_EQ(B(Bf16BitsToF32(0x8001)), 0x80000000u);
  EXPECT_EQ(B(Bf16BitsToF32(0xFF80)), 0xFF800000u);
  EXPECT_EQ(B(RoundToBf16(F(0x3F818000))), 0x3F820000u);
}

TEST(NumericsFp32, AddFlushesSubnormalInputsAndResults) {
  const float tiny = F(0x00400000);  // 2^-127, subnormal
  EXPECT_EQ(B(AddF32(tiny, 0.0f)), 0x00000000u);
  EXPECT_EQ(B(AddF32(-tiny, -0.0f)), 0x80000000u);
  EXPECT_EQ(AddF32(1.0f, tiny), 1.0f);
  // 1.5*2^-126 - 2^-126 = 2^-127: an exact but subnormal result, flushed to +0.
  EXPECT_EQ(B(AddF32(F(0x00C00000), F(0x80800000))), 0x00000000u);
  // Round to nearest even: 1 + 2^-24 is a tie between 1 and 1 + 2^-23 -> 1.
  EXPECT_EQ(AddF32(1.0f, std::ldexp(1.0f, -24)), 1.0f);
}

TEST(NumericsFp32, MulFlushesSubnormalResults) {
  // 2^-100 * 2^-40 = 2^-140 (subnormal) -> signed zero.
  EXPECT_EQ(B(MulF32(std::ldexp(1.0f, -100), std::ldexp(1.0f, -40))), 0x00000000u);
  EXPECT_EQ(B(MulF32(-std::ldexp(1.0f, -100), std::ldexp(1.0f, -40))), 0x80000000u);
  EXPECT_EQ(MulF32(F(0x00400000), 1e30f), 0.0f);  // subnormal input flushed before multiplying
  EXPECT_EQ(MulF32(3.0f, -0.5f), -1.5f);
}

TEST(NumericsFp32, MacBf16ProductIsExactThenRounded) {
  // a = b = 1 + 2^-7 (bf16 0x3F81): a*b = 1 + 2^-6 + 2^-14, exact in fp32 (14 fraction bits).
  const float a = F(0x3F810000);
  EXPECT_EQ(MacBf16(0.0f, a, a), 1.0f + std::ldexp(1.0f, -6) + std::ldexp(1.0f, -14));
  EXPECT_EQ(MacBf16(1.0f, 1.5f, 2.0f), 4.0f);
  // psum 1 + product 2^-12 * 2^-12 = 2^-24: a tie, rounds to even -> 1.
  EXPECT_EQ(MacBf16(1.0f, std::ldexp(1.0f, -12), std::ldexp(1.0f, -12)), 1.0f);
}

TEST(NumericsFp32, ColumnDotAccumulatesRowZeroFirst) {
  // x = {1, 2^-24, 2^-24}, w = {1, 1, 1}.
  // Row 0 first: s = 1; 1 + 2^-24 is a tie -> 1; again -> 1. Result 1.0.
  // Reverse order would give 2^-24 + 2^-24 = 2^-23, then 1 + 2^-23 (exact) = 1.00000012.
  const float e = std::ldexp(1.0f, -24);
  const float x[] = {1.0f, e, e};
  const float w[] = {1.0f, 99.0f, 1.0f, 99.0f, 1.0f, 99.0f};  // stride 2: the 99s are skipped
  EXPECT_EQ(ColumnDotBf16(x, w, 3, 2), 1.0f);
  const float x_rev[] = {e, e, 1.0f};
  EXPECT_EQ(ColumnDotBf16(x_rev, w, 3, 2), 1.0f + std::ldexp(1.0f, -23));
  // The partial sum starts at +0.0: an all -0 column gives +0 (+0 + -0 = +0).
  const float nz[] = {-0.0f};
  const float one[] = {1.0f};
  EXPECT_EQ(B(ColumnDotBf16(nz, one, 1, 1)), 0x00000000u);
}

}  // namespace
}  // namespace tpusim::isa::numerics

namespace tpusim::isa::numerics {
namespace {

// TileDotBf16 is the vectorised form of ColumnDotBf16: every column must be bit-identical, including
// for subnormal, infinite and NaN operands.
TEST(TileDotBf16, MatchesColumnDotBitForBitOnEveryColumn) {
  constexpr int kRows = 16, kCols = 12;
  uint32_t seed = 12345;
  auto next = [&seed] { seed = seed * 1664525u + 1013904223u; return seed; };
  uint32_t nan_bits[2] = {0x7fc12345u, 0xff801234u};  // two NaNs with different payloads and signs
  float nan_a, nan_b;
  std::memcpy(&nan_a, &nan_bits[0], 4);
  std::memcpy(&nan_b, &nan_bits[1], 4);
  const float specials[] = {0.0f, -0.0f, 1e-40f, -1e-40f, INFINITY, -INFINITY, nan_a, nan_b};
  for (int trial = 0; trial < 200; ++trial) {
    std::vector<float> x(kRows), w(kRows * kCols), out(kCols);
    for (auto& v : x) v = RoundToBf16(static_cast<float>(static_cast<int32_t>(next())) * 1e-7f);
    for (auto& v : w) v = RoundToBf16(static_cast<float>(static_cast<int32_t>(next())) * 1e-9f);
    if (trial % 4 == 0) x[next() % kRows] = specials[next() % 8];
    if (trial % 3 == 0) w[next() % (kRows * kCols)] = specials[next() % 8];
    bool w_has_nan = false;
    for (float v : w) w_has_nan |= std::isnan(v);
    // Both paths: the general one (w_may_have_nan) and, when w really has no NaN, the fast one.
    std::vector<float> out_general(kCols);
    TileDotBf16(x.data(), w.data(), kRows, kCols, out_general.data(), true);
    TileDotBf16(x.data(), w.data(), kRows, kCols, out.data(), w_has_nan);
    for (int c = 0; c < kCols; ++c) {
      EXPECT_EQ(std::memcmp(&out[c], &out_general[c], 4), 0) << "trial " << trial << " column " << c;
      const float expected = ColumnDotBf16(x.data(), w.data() + c, kRows, kCols);
      uint32_t a, b;
      std::memcpy(&a, &out[c], 4);
      std::memcpy(&b, &expected, 4);
      EXPECT_EQ(a, b) << "trial " << trial << " column " << c;
    }
  }
}

}  // namespace
}  // namespace tpusim::isa::numerics

namespace tpusim::isa::numerics {
namespace {

// numerics.h's NaN rule, worked by hand: the first NaN operand in argument order comes back quieted
// (0x7f800001 | quiet bit 0x00400000 = 0x7fc00001); invalid operations give 0xFFC00000. The rule holds
// whatever operand order the compiler picks, at any optimisation level.
TEST(NanRule, FirstNanOperandWinsAndInvalidGivesTheDefaultNan) {
  const float snan_a = F(0x7f800001), qnan_b = F(0xffc00abc);
  EXPECT_EQ(B(AddF32(snan_a, qnan_b)), 0x7fc00001u);
  EXPECT_EQ(B(AddF32(qnan_b, snan_a)), 0xffc00abcu);
  EXPECT_EQ(B(MulF32(snan_a, qnan_b)), 0x7fc00001u);
  EXPECT_EQ(B(MulF32(qnan_b, snan_a)), 0xffc00abcu);
  EXPECT_EQ(B(AddF32(1.0f, snan_a)), 0x7fc00001u);
  EXPECT_EQ(B(AddF32(INFINITY, -INFINITY)), 0xffc00000u);
  EXPECT_EQ(B(MulF32(0.0f, INFINITY)), 0xffc00000u);
  // MacBf16(psum, a, b) = AddF32(psum, MulF32(a, b)): priority psum, a, b.
  EXPECT_EQ(B(MacBf16(F(0x7fc00033), snan_a, qnan_b)), 0x7fc00033u);
  EXPECT_EQ(B(MacBf16(1.0f, snan_a, qnan_b)), 0x7fc00001u);
  EXPECT_EQ(B(MacBf16(1.0f, 2.0f, qnan_b)), 0xffc00abcu);
  EXPECT_EQ(B(VectorElementwise(VectorOp::Sub, qnan_b, snan_a, 0.0f)), 0xffc00abcu);
  EXPECT_EQ(B(VectorElementwise(VectorOp::MulImm, 2.0f, 0.0f, qnan_b)), 0xffc00abcu);
}

TEST(NanRule, TileDotFollowsTheRuleWithTwoNans) {
  // Column 0: psum becomes NaN from x[0]*w (x NaN), then x[1]*w[1] is another NaN: psum's NaN stays.
  const float x[2] = {F(0x7f800001), F(0xffc00abc)};
  const float w[2] = {1.0f, 1.0f};
  float out[1];
  TileDotBf16(x, w, 2, 1, out);
  EXPECT_EQ(B(out[0]), 0x7fc00001u);
  EXPECT_EQ(B(out[0]), B(ColumnDotBf16(x, w, 2, 1)));
}

}  // namespace
}  // namespace tpusim::isa::numerics
