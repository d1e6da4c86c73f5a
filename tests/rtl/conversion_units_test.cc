// The requantizer's two conversions tested alone: int32_to_fp32 against C++'s static_cast<float>
// (round to nearest even, as numerics::Requantize converts) and fp32_to_int_rne against a reference
// written here (nearbyint in double, which is exact for every float, then the unit's clamp to
// ±2^32).
#ifdef TPUSIM_RTL_HAVE_MODELS

#include <absl/strings/str_format.h>
#include <gtest/gtest.h>

#include <cmath>
#include <cstring>
#include <limits>

#include "Vfp32_to_int_rne.h"
#include "Vint32_to_fp32.h"
#include "arith_test_util.h"
#include "tpusim/isa/isa.h"

namespace tpusim::rtl::testing {
namespace {

constexpr int32_t kMin = std::numeric_limits<int32_t>::min();
constexpr int32_t kMax = std::numeric_limits<int32_t>::max();
constexpr int kRandomVectors = 200000;

int32_t AsInt(uint32_t u) {
  int32_t v;
  std::memcpy(&v, &u, 4);
  return v;
}

void CompareToF32(UnitHarness<Vint32_to_fp32>& unit, int32_t v, MismatchLog& log) {
  unit->v = static_cast<uint32_t>(v);
  unit->eval();
  const uint32_t want = static_cast<uint32_t>(isa::F32Bits(static_cast<float>(v)));
  if (unit->y != want) {
    log.Add(absl::StrFormat("v=%08x: rtl %08x, static_cast<float> %08x", v, unit->y, want));
  }
}

TEST(Int32ToFp32Unit, MatchesStaticCastOnEdgeCases) {
  UnitHarness<Vint32_to_fp32> unit;
  MismatchLog log("int32_to_fp32");
  const int32_t values[] = {0,          1,          -1,         16777216,   16777217,
                            16777218,   16777219,   -16777217,  -16777219,  kMax,
                            kMin,       kMin + 1,   0x7fffff80, 0x7fffff7f, 0x7fffffbf,
                            0x7fffffc0, 0x7fffff40, 0x40000040, 0x400000c0, 0x400000c1};
  for (int32_t v : values) CompareToF32(unit, v, log);
  log.Report(std::size(values));
  // Hand-worked: 2^24 + 1 is a tie between 2^24 and 2^24 + 2 and goes to the even 2^24
  // (0x4b800000); 2^31 - 1 rounds up to 2^31 (0x4f000000).
  unit->v = 16777217;
  unit->eval();
  EXPECT_EQ(unit->y, 0x4b800000u);
  unit->v = static_cast<uint32_t>(kMax);
  unit->eval();
  EXPECT_EQ(unit->y, 0x4f000000u);
}

TEST(Int32ToFp32Unit, MatchesStaticCastOnRandomValues) {
  UnitHarness<Vint32_to_fp32> unit;
  MismatchLog log("int32_to_fp32");
  OperandSource src(0x12f32);
  for (int i = 0; i < kRandomVectors; ++i) {
    int32_t v = AsInt(src.Bits32());
    if (i % 2) {
      // Ties and near-ties: 24 significant bits, then the dropped bits at exactly half or next to
      // it.
      const int shift = src.Uniform(1, 7);
      const uint32_t kept = (src.Bits32() & 0xffffffu) | 0x800000u;
      const uint32_t half = 1u << (shift - 1);
      const uint32_t dropped = half + static_cast<uint32_t>(src.Uniform(-1, 1));
      v = AsInt(((kept << shift) | (dropped & ((1u << shift) - 1))) >> (src.Coin() ? 1 : 0));
      if (src.Coin()) v = -v;
    }
    CompareToF32(unit, v, log);
  }
  log.Report(kRandomVectors);
}

// The unit's contract, computed independently: round half to even of the exact value, clamped.
void ReferenceToInt(uint32_t x, int64_t& q, bool& nan) {
  const double d = static_cast<double>(isa::BitsF32(x));
  nan = std::isnan(d);
  if (nan) {
    q = 0;
    return;
  }
  const double bound = 4294967296.0;  // 2^32
  const double r = std::nearbyint(d);
  q = r > bound ? int64_t{1} << 32 : (r < -bound ? -(int64_t{1} << 32) : static_cast<int64_t>(r));
}

void CompareToInt(UnitHarness<Vfp32_to_int_rne>& unit, uint32_t x, MismatchLog& log) {
  unit->x = x;
  unit->eval();
  // q is 34 bits wide, two's complement: sign-extend from bit 33.
  const int64_t got = static_cast<int64_t>(unit->q << 30) >> 30;
  int64_t want;
  bool want_nan;
  ReferenceToInt(x, want, want_nan);
  if (got != want || (unit->nan != 0) != want_nan) {
    log.Add(absl::StrFormat("x=%08x: rtl q=%d nan=%d, reference q=%d nan=%d", x, got, unit->nan,
                            want, want_nan));
  }
}

TEST(Fp32ToIntRneUnit, MatchesRoundHalfEvenOnEdgeCases) {
  UnitHarness<Vfp32_to_int_rne> unit;
  MismatchLog log("fp32_to_int_rne");
  std::vector<uint32_t> inputs = EdgeF32();
  for (float f : {0.5f, 1.5f, 2.5f, 3.5f, -0.5f, -1.5f, -2.5f, 0.49999997f, 0.50000006f, 8388608.5f,
                  8388609.5f, 4294967040.0f, 4294967296.0f, 2147483648.0f, -4294967296.0f, 127.5f,
                  128.5f, -128.5f}) {
    inputs.push_back(static_cast<uint32_t>(isa::F32Bits(f)));
  }
  for (uint32_t x : inputs) CompareToInt(unit, x, log);
  log.Report(inputs.size());
}

TEST(Fp32ToIntRneUnit, MatchesRoundHalfEvenOnRandomValues) {
  UnitHarness<Vfp32_to_int_rne> unit;
  MismatchLog log("fp32_to_int_rne");
  OperandSource src(0xf32171);
  for (int i = 0; i < kRandomVectors; ++i) {
    // Half in the range where rounding to an integer happens (2^-2 .. 2^33).
    const uint32_t x = (i % 2) ? src.WithExponent(src.Uniform(125, 160)) : src.F32();
    CompareToInt(unit, x, log);
  }
  log.Report(kRandomVectors);
}

}  // namespace
}  // namespace tpusim::rtl::testing

#endif  // TPUSIM_RTL_HAVE_MODELS
