// bf16_round and bf16_mac (rtl/sv) against numerics::F32ToBf16Bits / MacBf16, bit for bit: edge
// cases, hand-worked rules, and random operands (fixed seeds, half biased to interesting
// exponents).
#ifdef TPUSIM_RTL_HAVE_MODELS

#include <absl/strings/str_format.h>
#include <gtest/gtest.h>

#include "Vbf16_mac.h"
#include "Vbf16_round.h"
#include "arith_test_util.h"
#include "tpusim/isa/isa.h"
#include "tpusim/isa/numerics.h"

namespace tpusim::rtl::testing {
namespace {

namespace num = isa::numerics;

uint16_t RoundRtl(UnitHarness<Vbf16_round>& unit, uint32_t x) {
  unit->x = x;
  unit->eval();
  return unit->y;
}
uint16_t RoundRef(uint32_t x) { return num::F32ToBf16Bits(isa::BitsF32(x)); }

void CompareRound(UnitHarness<Vbf16_round>& unit, uint32_t x, MismatchLog& log) {
  const uint16_t got = RoundRtl(unit, x);
  const uint16_t want = RoundRef(x);
  if (got != want) log.Add(absl::StrFormat("x=%08x: rtl %04x, numerics %04x", x, got, want));
}

uint32_t MacRtl(UnitHarness<Vbf16_mac>& unit, uint32_t psum, uint16_t a, uint16_t b) {
  unit->psum = psum;
  unit->a = a;
  unit->b = b;
  unit->eval();
  return unit->y;
}
uint32_t MacRef(uint32_t psum, uint16_t a, uint16_t b) {
  return static_cast<uint32_t>(
      isa::F32Bits(num::MacBf16(isa::BitsF32(psum), num::Bf16BitsToF32(a), num::Bf16BitsToF32(b))));
}

void CompareMac(UnitHarness<Vbf16_mac>& unit, uint32_t psum, uint16_t a, uint16_t b,
                MismatchLog& log) {
  const uint32_t got = MacRtl(unit, psum, a, b);
  const uint32_t want = MacRef(psum, a, b);
  if (got != want) {
    log.Add(
        absl::StrFormat("psum=%08x a=%04x b=%04x: rtl %08x, numerics %08x", psum, a, b, got, want));
  }
}

TEST(Bf16RoundUnit, MatchesF32ToBf16BitsOnEdgeCases) {
  UnitHarness<Vbf16_round> unit;
  MismatchLog log("bf16_round");
  std::vector<uint32_t> inputs = EdgeF32();
  // Every rounding situation of the dropped half around a few kept patterns (even / odd lsb, all
  // ones), with both signs.
  for (uint32_t kept : {0x3f80u, 0x3f81u, 0x3fffu, 0x7f7fu, 0x7f7eu, 0x0080u, 0x0081u, 0x00ffu}) {
    for (uint32_t dropped : {0x0000u, 0x0001u, 0x7fffu, 0x8000u, 0x8001u, 0xffffu}) {
      inputs.push_back(kept << 16 | dropped);
      inputs.push_back((kept | 0x8000u) << 16 | dropped);
    }
  }
  for (uint32_t x : inputs) CompareRound(unit, x, log);
  log.Report(inputs.size());
}

TEST(Bf16RoundUnit, FollowsTheHandWorkedRules) {
  struct {
    uint32_t x;
    uint16_t want;
    const char* why;
  } cases[] = {
      {0x3f808000, 0x3f80, "tie with an even lsb stays"},
      {0x3f818000, 0x3f82, "tie with an odd lsb rounds up"},
      {0x3f808001, 0x3f81, "above the tie rounds up"},
      {0x3fff8000, 0x4000, "carry into the exponent"},
      {0x7f7f8000, 0x7f80, "largest values round to Inf"},
      {0xff7fffff, 0xff80, "... of either sign"},
      {0x807fffff, 0x8000, "subnormal input flushed, sign kept"},
      {0x7f800001, 0x7fc0, "NaN whose payload is in the dropped half stays NaN (quiet bit)"},
      {0xff812345, 0xffc1, "NaN keeps sign and top payload bits, gets the quiet bit"},
  };
  UnitHarness<Vbf16_round> unit;
  for (const auto& c : cases) {
    EXPECT_EQ(RoundRtl(unit, c.x), c.want) << c.why;
    EXPECT_EQ(RoundRef(c.x), c.want) << "numerics: " << c.why;
  }
}

TEST(Bf16RoundUnit, MatchesF32ToBf16BitsOnRandomInputs) {
  UnitHarness<Vbf16_round> unit;
  MismatchLog log("bf16_round");
  OperandSource src(0xbf16);
  constexpr int kVectors = 200000;
  for (int i = 0; i < kVectors; ++i) {
    uint32_t x = src.F32();
    if (i % 4 == 1) x = (x & 0xffff0000u) | 0x8000u;  // exact ties
    CompareRound(unit, x, log);
  }
  log.Report(kVectors);
}

// bf16 edge values: the top halves of the fp32 edge cases (NaNs keep their top payload bits).
std::vector<uint16_t> EdgeBf16() {
  std::vector<uint16_t> values;
  for (uint32_t x : EdgeF32()) values.push_back(static_cast<uint16_t>(x >> 16));
  for (uint16_t v : {0x0001, 0x7f81, 0xff81, 0x7fc1, 0x3f81, 0x4049}) values.push_back(v);
  return values;
}

TEST(Bf16MacUnit, MatchesMacBf16OnEdgeCases) {
  UnitHarness<Vbf16_mac> unit;
  MismatchLog log("bf16_mac");
  const std::vector<uint16_t> bf16 = EdgeBf16();
  const uint32_t psums[] = {0x00000000, 0x80000000, 0x00000001, 0x3f800000, 0xbf800000,
                            0x7f7fffff, 0xff7fffff, 0x7f800000, 0xff800000, 0x7fc00033,
                            0xff800005, 0x00800000, 0x33800000, 0x4b000000};
  uint64_t vectors = 0;
  for (uint32_t psum : psums) {
    for (uint16_t a : bf16) {
      for (uint16_t b : bf16) {
        CompareMac(unit, psum, a, b, log);
        ++vectors;
      }
    }
  }
  log.Report(vectors);
}

// The NaN-against-NaN cases follow numerics.h's explicit NaN rule: psum, then a, then b.
TEST(Bf16MacUnit, FollowsTheHandWorkedRules) {
  struct {
    uint32_t psum;
    uint16_t a, b;
    uint32_t want;
    const char* why;
  } cases[] = {
      {0x3f800000, 0x3f80, 0x3f80, 0x40000000, "1 + 1*1 = 2"},
      {0x3f800000, 0x3f81, 0x3f81, 0x40010100, "1 + (1+2^-7)^2 = 2 + 2^-6 + 2^-14, exact"},
      {0x4b800000, 0x3f80, 0x3f80, 0x4b800000, "2^24 + 1: tie, stays even"},
      {0x3f800000, 0xbf80, 0x3f80, 0x00000000, "1 - 1 = +0"},
      {0x80000000, 0x8000, 0x3f80, 0x80000000, "-0 + (-0 * 1) = -0"},
      {0x3f800000, 0x7f80, 0x0000, 0xffc00000, "Inf * 0: default NaN"},
      {0x7fc00033, 0x7fc1, 0xffe2, 0x7fc00033, "NaN psum wins over NaN operands"},
      {0x3f800000, 0x7fc1, 0xffe2, 0x7fc10000, "two NaN operands: a's (the first NaN in order)"},
      {0x3f800000, 0x7f81, 0x3f80, 0x7fc10000, "signalling NaN operand comes back quieted"},
  };
  UnitHarness<Vbf16_mac> unit;
  for (const auto& c : cases) {
    EXPECT_EQ(MacRtl(unit, c.psum, c.a, c.b), c.want) << c.why;
    EXPECT_EQ(MacRef(c.psum, c.a, c.b), c.want) << "numerics: " << c.why;
  }
}

TEST(Bf16MacUnit, MatchesMacBf16OnRandomOperands) {
  UnitHarness<Vbf16_mac> unit;
  MismatchLog log("bf16_mac");
  OperandSource src(0xbf16acc);
  constexpr int kVectors = 200000;
  for (int i = 0; i < kVectors; ++i) {
    const uint32_t psum = src.F32();
    const auto a = static_cast<uint16_t>(src.F32() >> 16);
    uint16_t b;
    const int ea = a >> 7 & 0xff;
    const int ep = static_cast<int>(psum >> 23 & 0xff);
    switch (i % 4) {
      case 0:
        b = static_cast<uint16_t>(src.F32() >> 16);
        break;
      case 1:  // product near psum in magnitude: alignment and cancellation
        b = static_cast<uint16_t>(src.WithExponent(ep - ea + 127 + src.Uniform(-26, 26)) >> 16);
        break;
      case 2:  // product near the bottom or the top of the normal range
        b = static_cast<uint16_t>(
            src.WithExponent((src.Coin() ? 127 : 381) - ea + src.Uniform(-3, 3)) >> 16);
        break;
      default:
        b = static_cast<uint16_t>(src.Bits32());
        break;
    }
    CompareMac(unit, psum, a, b, log);
  }
  log.Report(kVectors);
}

}  // namespace
}  // namespace tpusim::rtl::testing

#endif  // TPUSIM_RTL_HAVE_MODELS
