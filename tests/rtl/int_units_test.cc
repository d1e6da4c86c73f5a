// int8_mac and requantize (rtl/sv) against numerics::MacInt8 / Requantize, bit for bit: edge cases,
// hand-worked rules, and random operands (fixed seeds).
#ifdef TPUSIM_RTL_HAVE_MODELS

#include <absl/strings/str_format.h>
#include <gtest/gtest.h>

#include <cstring>
#include <limits>

#include "Vint8_mac.h"
#include "Vrequantize.h"
#include "arith_test_util.h"
#include "tpusim/isa/isa.h"
#include "tpusim/isa/numerics.h"

namespace tpusim::rtl::testing {
namespace {

namespace num = isa::numerics;

constexpr int32_t kMin = std::numeric_limits<int32_t>::min();
constexpr int32_t kMax = std::numeric_limits<int32_t>::max();

int32_t AsInt(uint32_t u) {
  int32_t v;
  std::memcpy(&v, &u, 4);
  return v;
}

int32_t MacRtl(UnitHarness<Vint8_mac>& unit, int32_t acc, int8_t a, int8_t b) {
  unit->acc = static_cast<uint32_t>(acc);
  unit->a = static_cast<uint8_t>(a);
  unit->b = static_cast<uint8_t>(b);
  unit->eval();
  return AsInt(unit->y);
}

void CompareMac(UnitHarness<Vint8_mac>& unit, int32_t acc, int8_t a, int8_t b, MismatchLog& log) {
  const int32_t got = MacRtl(unit, acc, a, b);
  const int32_t want = num::MacInt8(acc, a, b);
  if (got != want) {
    log.Add(absl::StrFormat("acc=%08x a=%02x b=%02x: rtl %08x, numerics %08x", acc,
                            static_cast<uint8_t>(a), static_cast<uint8_t>(b), got, want));
  }
}

int8_t RequantizeRtl(UnitHarness<Vrequantize>& unit, int32_t v, uint32_t scale, int32_t zp) {
  unit->v = static_cast<uint32_t>(v);
  unit->scale = scale;
  unit->zero_point = static_cast<uint32_t>(zp);
  unit->eval();
  return static_cast<int8_t>(unit->y);
}

void CompareRequantize(UnitHarness<Vrequantize>& unit, int32_t v, uint32_t scale, int32_t zp,
                       MismatchLog& log) {
  const int8_t got = RequantizeRtl(unit, v, scale, zp);
  const int8_t want = num::Requantize(v, isa::BitsF32(scale), zp);
  if (got != want) {
    log.Add(absl::StrFormat("v=%08x scale=%08x zero_point=%08x: rtl %d, numerics %d", v, scale, zp,
                            got, want));
  }
}

TEST(Int8MacUnit, MatchesMacInt8OnEdgeCases) {
  UnitHarness<Vint8_mac> unit;
  MismatchLog log("int8_mac");
  const int32_t accs[] = {0, 1, -1, kMax, kMin, kMax - 16383, kMin + 16383, 0x12345678};
  const int8_t ops[] = {-128, -127, -1, 0, 1, 2, 126, 127};
  uint64_t vectors = 0;
  for (int32_t acc : accs) {
    for (int8_t a : ops) {
      for (int8_t b : ops) {
        CompareMac(unit, acc, a, b, log);
        ++vectors;
      }
    }
  }
  log.Report(vectors);
}

TEST(Int8MacUnit, FollowsTheHandWorkedRules) {
  UnitHarness<Vint8_mac> unit;
  EXPECT_EQ(MacRtl(unit, 0, -128, -128), 16384) << "(-128)^2 = 2^14, the largest product";
  EXPECT_EQ(MacRtl(unit, 0, -128, 127), -16256) << "-128 * 127";
  EXPECT_EQ(MacRtl(unit, kMax, 1, 1), kMin) << "2^31-1 + 1 wraps to -2^31";
  EXPECT_EQ(MacRtl(unit, kMin, -1, 1), kMax) << "-2^31 - 1 wraps to 2^31-1";
  EXPECT_EQ(MacRtl(unit, kMax - 16383, -128, -128), kMin) << "2^31-1-16383 + 16384 wraps";
}

TEST(Int8MacUnit, MatchesMacInt8OnRandomOperands) {
  UnitHarness<Vint8_mac> unit;
  MismatchLog log("int8_mac");
  OperandSource src(0x18ac);
  constexpr int kVectors = 200000;
  for (int i = 0; i < kVectors; ++i) {
    // Half the accumulators sit within one product of the wrap-around point.
    const int32_t acc = (i % 2) ? AsInt(src.Bits32()) : kMax - src.Uniform(-16384, 16384);
    const uint32_t ab = src.Bits32();
    CompareMac(unit, acc, static_cast<int8_t>(ab), static_cast<int8_t>(ab >> 8), log);
  }
  log.Report(kVectors);
}

TEST(RequantizeUnit, MatchesRequantizeOnEdgeCases) {
  UnitHarness<Vrequantize> unit;
  MismatchLog log("requantize");
  const int32_t values[] = {0,    1,    -1,       2,        -2,         3,
                            -3,   5,    -5,       127,      128,        -128,
                            -129, 255,  -256,     16777217, -16777217,  16777219,
                            kMax, kMin, kMin + 1, 1 << 30,  -(1 << 30), 0x7fffff80};
  const uint32_t scales[] = {0x00000000, 0x80000000, 0x3f000000, 0xbf000000, 0x3e800000,
                             0x3f800000, 0xbf800000, 0x3fc00000, 0x3dcccccd, 0x3eaaaaab,
                             0x30000000, 0x00800000, 0x00000001, 0x807fffff, 0x7e967699,
                             0x7f7fffff, 0xff7fffff, 0x7f800000, 0xff800000, 0x7fc00000,
                             0xffc00001, 0x7f800001, 0x2f800000, 0x3b800000};
  const int32_t zero_points[] = {0, 1, -1, 100, 127, -128, 128, -129, kMax, kMin};
  uint64_t vectors = 0;
  for (int32_t v : values) {
    for (uint32_t scale : scales) {
      for (int32_t zp : zero_points) {
        CompareRequantize(unit, v, scale, zp, log);
        ++vectors;
      }
    }
  }
  log.Report(vectors);
}

TEST(RequantizeUnit, FollowsTheHandWorkedRules) {
  struct {
    int32_t v;
    uint32_t scale;
    int32_t zp;
    int8_t want;
    const char* why;
  } cases[] = {
      {5, 0x3f000000, 0, 2, "5 * 0.5 = 2.5: tie to even 2"},
      {7, 0x3f000000, 0, 4, "3.5: tie to even 4"},
      {-5, 0x3f000000, 0, -2, "-2.5: tie to even -2"},
      {-3, 0x3f000000, 10, 8, "-1.5 -> -2, + 10"},
      {1000, 0x3f800000, 0, 127, "saturates high"},
      {-1000, 0x3f800000, 0, -128, "saturates low"},
      {100, 0x3f800000, 27, 127, "100 + 27 = 127 fits"},
      {100, 0x3f800000, 28, 127, "128 saturates"},
      {kMax, 0x3f800000, kMin, 0, "fp32(2^31-1) = 2^31; 2^31 - 2^31 = 0 (exact, no int32 wrap)"},
      {16777217, 0x3f800000, -16777216, 0, "fp32(2^24+1) = 2^24 (tie to even)"},
      {5, 0x7fc00000, 300, 127, "NaN scale: saturate(zero_point)"},
      {0, 0x7f800000, -3, -3, "0 * Inf is NaN: zero_point"},
      {-1, 0x7f800000, 100, -128, "-1 * Inf = -Inf saturates low"},
      {1, 0x00000001, 5, 5, "subnormal scale: product rounds to 0"},
  };
  UnitHarness<Vrequantize> unit;
  for (const auto& c : cases) {
    EXPECT_EQ(RequantizeRtl(unit, c.v, c.scale, c.zp), c.want) << c.why;
    EXPECT_EQ(num::Requantize(c.v, isa::BitsF32(c.scale), c.zp), c.want) << "numerics: " << c.why;
  }
}

TEST(RequantizeUnit, MatchesRequantizeOnRandomOperands) {
  UnitHarness<Vrequantize> unit;
  MismatchLog log("requantize");
  OperandSource src(0x4e0a);
  constexpr int kVectors = 200000;
  for (int i = 0; i < kVectors; ++i) {
    int32_t v;
    switch (i % 3) {
      case 0:
        v = AsInt(src.Bits32());
        break;
      case 1:
        v = src.Uniform(-65536, 65536);
        break;
      default:
        v = AsInt((1u << src.Uniform(0, 31)) + static_cast<uint32_t>(src.Uniform(-8, 8)));
    }
    uint32_t scale;
    switch (i % 4) {
      case 0:  // typical quantisation scales, 2^-30 .. 4
        scale = OperandSource::Pack(src.Coin() && src.Coin(), src.Uniform(97, 128), src.Bits32());
        break;
      case 1:  // powers of two: exact halves, so ties
        scale = OperandSource::Pack(false, src.Uniform(100, 127), 0);
        break;
      case 2: {  // products near (half-)integers of the int8 range: every rounding step shows
        const float target = static_cast<float>(src.Uniform(-600, 600)) * 0.5f;
        scale = static_cast<uint32_t>(isa::F32Bits(target / static_cast<float>(v == 0 ? 1 : v)));
        break;
      }
      default:
        scale = src.F32();
        break;
    }
    int32_t zp;
    switch (i % 8) {
      case 0:
        zp = AsInt(src.Bits32());
        break;
      case 1:
        zp = src.Uniform(-1000, 1000);
        break;
      default:
        zp = src.Uniform(-128, 127);
        break;
    }
    CompareRequantize(unit, v, scale, zp, log);
  }
  log.Report(kVectors);
}

}  // namespace
}  // namespace tpusim::rtl::testing

#endif  // TPUSIM_RTL_HAVE_MODELS
