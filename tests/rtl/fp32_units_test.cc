// fp32_add_ftz and fp32_mul_ftz (rtl/sv) against numerics::AddF32 / MulF32, bit for bit: every pair
// of edge cases, hand-worked rules, and 200,000 random pairs per unit (fixed seeds, half of them
// biased to the exponent ranges where rounding, cancellation, underflow and overflow happen).
#ifdef TPUSIM_RTL_HAVE_MODELS

#include <absl/strings/str_format.h>
#include <gtest/gtest.h>

#include "Vfp32_add_ftz.h"
#include "Vfp32_mul_ftz.h"
#include "arith_test_util.h"
#include "tpusim/isa/isa.h"
#include "tpusim/isa/numerics.h"

namespace tpusim::rtl::testing {
namespace {

namespace num = isa::numerics;

uint32_t RefAdd(uint32_t a, uint32_t b) {
  return static_cast<uint32_t>(isa::F32Bits(num::AddF32(isa::BitsF32(a), isa::BitsF32(b))));
}
uint32_t RefMul(uint32_t a, uint32_t b) {
  return static_cast<uint32_t>(isa::F32Bits(num::MulF32(isa::BitsF32(a), isa::BitsF32(b))));
}

template <typename Model>
uint32_t Eval(UnitHarness<Model>& unit, uint32_t a, uint32_t b) {
  unit->a = a;
  unit->b = b;
  unit->eval();
  return unit->y;
}

template <typename Model>
void Compare(UnitHarness<Model>& unit, uint32_t (*ref)(uint32_t, uint32_t), uint32_t a, uint32_t b,
             MismatchLog& log) {
  const uint32_t got = Eval(unit, a, b);
  const uint32_t want = ref(a, b);
  if (got != want)
    log.Add(absl::StrFormat("a=%08x b=%08x: rtl %08x, numerics %08x", a, b, got, want));
}

template <typename Model>
void CompareEdgePairs(const char* name, uint32_t (*ref)(uint32_t, uint32_t)) {
  UnitHarness<Model> unit;
  MismatchLog log(name);
  const std::vector<uint32_t> edges = EdgeF32();
  for (uint32_t a : edges) {
    for (uint32_t b : edges) Compare(unit, ref, a, b, log);
  }
  log.Report(edges.size() * edges.size());
}

TEST(Fp32AddUnit, MatchesAddF32OnEveryPairOfEdgeCases) {
  CompareEdgePairs<Vfp32_add_ftz>("fp32_add_ftz", RefAdd);
}

TEST(Fp32MulUnit, MatchesMulF32OnEveryPairOfEdgeCases) {
  CompareEdgePairs<Vfp32_mul_ftz>("fp32_mul_ftz", RefMul);
}

// Rules worked by hand (IEEE binary32, RNE, FTZ, and numerics.h's explicit NaN rule: the first NaN
// operand, quieted; invalid operations give 0xFFC00000); the reference must agree too.
struct Case {
  uint32_t a, b, want;
  const char* why;
};

TEST(Fp32AddUnit, FollowsTheHandWorkedRules) {
  const Case cases[] = {
      {0x3f800000, 0x33800000, 0x3f800000, "1 + 2^-24: tie, 1.0 is even, stays"},
      {0x3f800001, 0x33800000, 0x3f800002, "(1+2^-23) + 2^-24: tie, rounds up to even"},
      {0x3f800000, 0x33800001, 0x3f800001, "1 + just over half an ulp rounds up"},
      {0x3fffffff, 0x34000000, 0x40000000, "(2-2^-23) + 2^-23 = 2: carry into the exponent"},
      {0x7f7fffff, 0x73000000, 0x7f800000, "max + half ulp: tie to even overflows to Inf"},
      {0x7f7fffff, 0x72800000, 0x7f7fffff, "max + quarter ulp stays finite"},
      {0x00800001, 0x80800000, 0x00000000, "difference 2^-149 is subnormal: flushed to +0"},
      {0x80800001, 0x00800000, 0x80000000, "... and keeps its sign: -0"},
      {0x00400000, 0x3f800000, 0x3f800000, "a subnormal input counts as 0"},
      {0x80000000, 0x80000000, 0x80000000, "-0 + -0 = -0"},
      {0x80000000, 0x00000000, 0x00000000, "-0 + +0 = +0"},
      {0x3f800000, 0xbf800000, 0x00000000, "x + -x = +0"},
      {0x7f800000, 0xff800000, 0xffc00000, "Inf - Inf: x86 default NaN"},
      {0x7f800001, 0x3f800000, 0x7fc00001, "signalling NaN comes back quieted"},
      {0x3f800000, 0xff812345, 0xffc12345, "the NaN operand keeps sign and payload"},
      {0x7fc00011, 0xff812345, 0x7fc00011, "two NaNs: the first operand's"},
      {0xff812345, 0x7fc00011, 0xffc12345, "two NaNs: the first operand's, quieted"},
  };
  UnitHarness<Vfp32_add_ftz> unit;
  for (const Case& c : cases) {
    EXPECT_EQ(Eval(unit, c.a, c.b), c.want) << c.why;
    EXPECT_EQ(RefAdd(c.a, c.b), c.want) << "numerics: " << c.why;
  }
}

TEST(Fp32MulUnit, FollowsTheHandWorkedRules) {
  const Case cases[] = {
      {0x3f800001, 0x3f800001, 0x3f800002, "(1+2^-23)^2 = 1+2^-22+2^-46 rounds down"},
      {0x3fffffff, 0x3fffffff, 0x407ffffe, "(2-2^-23)^2 = 4-2^-21+2^-46 rounds to 4-2^-21"},
      {0x3f7fffff, 0x00800000, 0x00800000,
       "(1-2^-24) * 2^-126: halfway on the subnormal grid, rounds up to the min normal"},
      {0x3f7ffffe, 0x00800000, 0x00000000, "(1-2^-23) * 2^-126 is subnormal: flushed"},
      {0x3f000000, 0x80800000, 0x80000000, "0.5 * -2^-126 is subnormal: -0"},
      {0x5f800000, 0x5f800000, 0x7f800000, "2^64 * 2^64 overflows to Inf"},
      {0x00400000, 0x7f800000, 0xffc00000, "subnormal (flushed to 0) * Inf: default NaN"},
      {0x80000000, 0x3f800000, 0x80000000, "-0 * 1 = -0"},
      {0xff800000, 0xbf800000, 0x7f800000, "-Inf * -1 = +Inf"},
      {0x7fc00011, 0xffc00022, 0x7fc00011, "two NaNs: the first operand's"},
      {0xff812345, 0x3f800000, 0xffc12345, "NaN quieted, sign and payload kept"},
  };
  UnitHarness<Vfp32_mul_ftz> unit;
  for (const Case& c : cases) {
    EXPECT_EQ(Eval(unit, c.a, c.b), c.want) << c.why;
    EXPECT_EQ(RefMul(c.a, c.b), c.want) << "numerics: " << c.why;
  }
}

constexpr int kRandomVectors = 200000;

TEST(Fp32AddUnit, MatchesAddF32OnRandomOperands) {
  UnitHarness<Vfp32_add_ftz> unit;
  MismatchLog log("fp32_add_ftz");
  OperandSource src(0xadd0f32);
  for (int i = 0; i < kRandomVectors; ++i) {
    const uint32_t a = src.F32();
    uint32_t b;
    switch (i % 4) {
      case 0:
        b = src.F32();
        break;
      case 1:  // nearby exponents: alignment, rounding and cancellation
        b = src.WithExponent(static_cast<int>(a >> 23 & 0xff) + src.Uniform(-30, 30));
        break;
      case 2:  // near-negation: massive cancellation
        b = (a ^ 0x80000000u) ^ (src.Bits32() & ((1u << src.Uniform(0, 23)) - 1));
        break;
      default:
        b = src.Bits32();
        break;
    }
    Compare(unit, RefAdd, a, b, log);
  }
  log.Report(kRandomVectors);
}

TEST(Fp32MulUnit, MatchesMulF32OnRandomOperands) {
  UnitHarness<Vfp32_mul_ftz> unit;
  MismatchLog log("fp32_mul_ftz");
  OperandSource src(0x3a1f32);
  for (int i = 0; i < kRandomVectors; ++i) {
    const uint32_t a = src.F32();
    const int ea = static_cast<int>(a >> 23 & 0xff);
    uint32_t b;
    switch (i % 4) {
      case 0:
        b = src.F32();
        break;
      case 1:  // product exponent near the bottom of the normal range (ea + eb - 127 ~ 0)
        b = src.WithExponent(127 - ea + src.Uniform(-3, 3));
        break;
      case 2:  // product exponent near the top (ea + eb - 127 ~ 254)
        b = src.WithExponent(381 - ea + src.Uniform(-3, 3));
        break;
      default:
        b = src.Bits32();
        break;
    }
    Compare(unit, RefMul, a, b, log);
  }
  log.Report(kRandomVectors);
}

}  // namespace
}  // namespace tpusim::rtl::testing

#endif  // TPUSIM_RTL_HAVE_MODELS
