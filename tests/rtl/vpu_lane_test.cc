// vpu_lane (rtl/sv/core/vpu_lane.sv), one lane of the core's vector unit, against isa::numerics bit
// for bit: every VECTOR op the RTL implements (rtl::CheckRtlSupport says which) on every pair of
// edge cases and 100,000 random (a, b, imm) triples each, the reduce steps, and ACTIVATE none / relu
// with and without a bias, in float and int8 mode.
#if TPUSIM_RTL_HAVE_CORE

#include <absl/strings/str_format.h>
#include <gtest/gtest.h>

#include "Vvpu_lane.h"
#include "arith_test_util.h"
#include "tpusim/isa/isa.h"
#include "tpusim/isa/numerics.h"
#include "tpusim/rtl/rtl_engine.h"

namespace tpusim::rtl::testing {
namespace {

namespace num = isa::numerics;

uint32_t Bits(float f) { return static_cast<uint32_t>(isa::F32Bits(f)); }
float Float(uint32_t u) { return isa::BitsF32(u); }

struct Lane {
  UnitHarness<Vvpu_lane> unit;
  uint32_t Vector(isa::VectorOp op, uint32_t a, uint32_t b, uint32_t imm, bool int8 = false) {
    unit->activate = 0;
    unit->int8 = int8;
    unit->op = static_cast<uint8_t>(op);
    unit->a = a;
    unit->b = b;
    unit->imm = imm;
    unit->eval();
    return unit->y;
  }
  uint32_t Activate(isa::ActFunc f, uint32_t acc, bool has_bias, uint32_t bias, bool int8 = false,
                    uint32_t scale = 0, uint8_t zero_point = 0) {
    unit->activate = 1;
    unit->imm = scale;
    unit->zero_point = zero_point;
    unit->int8 = int8;
    unit->func = static_cast<uint8_t>(f);
    unit->has_bias = has_bias;
    unit->a = acc;
    unit->b = bias;
    unit->eval();
    return unit->y;
  }
};

bool Implemented(isa::VectorOp op) {
  isa::Instruction i = isa::Make(isa::Opcode::VECTOR);
  i.as<isa::VectorArgs>().op = static_cast<uint64_t>(op);
  i.as<isa::VectorArgs>().rows = 1;
  return CheckRtlSupport({i}, isa::BF16_FP32).ok();
}

// The reference for one VECTOR lane: elementwise ops take (a, b, imm); a reduce step folds b (the
// next row) into a (the fold so far).
uint32_t Reference(isa::VectorOp op, uint32_t a, uint32_t b, uint32_t imm) {
  if (isa::VectorOpArity(op) == isa::VectorArity::Reduce) {
    return Bits(num::VectorReduceStep(op, Float(a), Float(b)));
  }
  return num::VectorElementwiseWord(op, a, b, imm);
}

TEST(VpuLane, EveryImplementedVectorOpMatchesNumerics) {
  Lane lane;
  OperandSource src(0x5eed1234);
  const std::vector<uint32_t> edges = EdgeF32();
  int ops = 0;
  for (int code = 0; code < 64; ++code) {
    const std::optional<isa::VectorOp> op = isa::VectorOpFromCode(code);
    if (!op || !Implemented(*op)) continue;
    ++ops;
    MismatchLog log(absl::StrFormat("vpu_lane %s", std::string(isa::VectorOpName(*op))));
    const auto check = [&](uint32_t a, uint32_t b, uint32_t imm) {
      const uint32_t got = lane.Vector(*op, a, b, imm), want = Reference(*op, a, b, imm);
      if (got != want) {
        log.Add(absl::StrFormat("a=%08x b=%08x imm=%08x: rtl %08x, numerics %08x", a, b, imm, got,
                                want));
      }
    };
    for (uint32_t a : edges) {
      for (uint32_t b : edges) check(a, b, b);  // b doubles as imm: Imm ops see every pair too
    }
    constexpr int kRandom = 100000;
    for (int n = 0; n < kRandom; ++n) check(src.F32(), src.F32(), src.F32());
    log.Report(edges.size() * edges.size() + kRandom);
  }
  EXPECT_EQ(ops, 19);  // copy relu round_bf16 add sub mul max min add_imm mul_imm fill reduce_sum
                       // reduce_max abs max_imm min_imm leaky_relu cvt_i2f cvt_f2i
}

// The conversions where they are hard: fp32 values with exponents around the integer range
// (2^-2 .. 2^33: half-way ties, the int32 saturation edge) for cvt_f2i, int32 words with few
// significant bits above 2^24 (ties of the fp32 rounding) for cvt_i2f; 100,000 each.
TEST(VpuLane, ConversionsMatchNumericsNearTheirEdges) {
  Lane lane;
  OperandSource src(0xc47);
  MismatchLog log("vpu_lane cvt_i2f / cvt_f2i");
  const auto check = [&](isa::VectorOp op, uint32_t a) {
    const uint32_t got = lane.Vector(op, a, 0, 0), want = Reference(op, a, 0, 0);
    if (got != want) log.Add(absl::StrFormat("%s a=%08x: rtl %08x, numerics %08x",
                                             std::string(isa::VectorOpName(op)), a, got, want));
  };
  constexpr int kRandom = 100000;
  for (int n = 0; n < kRandom; ++n) {
    check(isa::VectorOp::CvtF2i, src.WithExponent(src.Uniform(125, 160)));
    const uint32_t w = src.Bits32() >> src.Uniform(0, 31);
    check(isa::VectorOp::CvtI2f, (src.Coin() ? w : ~w + 1) & ~((1u << src.Uniform(0, 8)) - 1));
  }
  // Hand-picked: 2^31 saturates, -2^31 is exact, 16777217 rounds to 2^24, int32 extremes.
  EXPECT_EQ(lane.Vector(isa::VectorOp::CvtF2i, 0x4f000000u, 0, 0), 0x7fffffffu);  // 2^31
  EXPECT_EQ(lane.Vector(isa::VectorOp::CvtF2i, 0xcf000000u, 0, 0), 0x80000000u);  // -2^31
  EXPECT_EQ(lane.Vector(isa::VectorOp::CvtF2i, 0xc0200000u, 0, 0), 0xfffffffeu);  // -2.5 -> -2
  EXPECT_EQ(lane.Vector(isa::VectorOp::CvtF2i, 0x7fc00000u, 0, 0), 0u);           // NaN
  EXPECT_EQ(lane.Vector(isa::VectorOp::CvtI2f, 16777217u, 0, 0), 0x4b800000u);    // 2^24
  EXPECT_EQ(lane.Vector(isa::VectorOp::CvtI2f, 1u, 0, 0), 0x3f800000u);           // 1.0, not FTZ
  EXPECT_EQ(lane.Vector(isa::VectorOp::CvtI2f, 0x80000000u, 0, 0), 0xcf000000u);  // -2^31
  log.Report(2 * kRandom);
}

TEST(VpuLane, ActivateNoneAndReluMatchNumerics) {
  Lane lane;
  OperandSource src(0xac7);
  MismatchLog log("vpu_lane ACTIVATE");
  const auto check = [&](isa::ActFunc f, uint32_t acc, bool has_bias, uint32_t bias) {
    const float v = has_bias ? num::AddF32(Float(acc), Float(bias)) : Float(acc);
    const uint32_t want = Bits(num::Activation(f, v));
    const uint32_t got = lane.Activate(f, acc, has_bias, bias);
    if (got != want) {
      log.Add(absl::StrFormat("func=%d acc=%08x bias=%08x (%d): rtl %08x, numerics %08x",
                              static_cast<int>(f), acc, bias, has_bias, got, want));
    }
  };
  const std::vector<uint32_t> edges = EdgeF32();
  uint64_t n = 0;
  for (isa::ActFunc f : {isa::ActFunc::None, isa::ActFunc::Relu}) {
    for (uint32_t a : edges) {
      for (uint32_t b : edges) {
        check(f, a, true, b);
        check(f, a, false, b);
        n += 2;
      }
    }
    for (int k = 0; k < 100000; ++k, ++n) check(f, src.F32(), src.Coin(), src.F32());
  }
  log.Report(n);
}

TEST(VpuLane, Int8ModeAddsWithWrapAroundAndClampsNegatives) {
  Lane lane;
  // ACTIVATE: int32 + bias with two's-complement wrap-around; relu clamps negatives to 0.
  EXPECT_EQ(lane.Activate(isa::ActFunc::None, 0x7fffffffu, true, 1u, true), 0x80000000u);
  EXPECT_EQ(lane.Activate(isa::ActFunc::Relu, 0x7fffffffu, true, 1u, true), 0u);
  EXPECT_EQ(lane.Activate(isa::ActFunc::Relu, 5u, true, static_cast<uint32_t>(-2), true), 3u);
  EXPECT_EQ(lane.Activate(isa::ActFunc::None, static_cast<uint32_t>(-9), false, 4u, true),
            static_cast<uint32_t>(-9));
  // VECTOR: copy keeps the word, relu clamps (no float flushing of int32 words).
  EXPECT_EQ(lane.Vector(isa::VectorOp::Copy, 0x00000001u, 0, 0, true), 1u);
  EXPECT_EQ(lane.Vector(isa::VectorOp::Relu, static_cast<uint32_t>(-1), 0, 0, true), 0u);
  EXPECT_EQ(lane.Vector(isa::VectorOp::Relu, 0x00000001u, 0, 0, true), 1u);
}

TEST(VpuLane, Int8RequantizeMatchesNumerics) {
  Lane lane;
  OperandSource src(0x9e47);
  MismatchLog log("vpu_lane ACTIVATE requantize");
  const auto check = [&](uint32_t acc, bool has_bias, uint32_t bias, uint32_t scale, uint8_t zp) {
    const uint32_t v = has_bias ? acc + bias : acc;  // int32 wrap-around
    const int8_t q = num::Requantize(static_cast<int32_t>(v), Float(scale), static_cast<int8_t>(zp));
    const auto want = static_cast<uint32_t>(int32_t{q});
    const uint32_t got = lane.Activate(isa::ActFunc::Requantize, acc, has_bias, bias, true, scale, zp);
    if (got != want) {
      log.Add(absl::StrFormat("acc=%08x bias=%08x (%d) scale=%08x zp=%02x: rtl %08x, numerics %08x",
                              acc, bias, has_bias, scale, zp, got, want));
    }
  };
  // Ties of the rounding (2.5 -> 2, 3.5 -> 4, -2.5 -> -2), saturation, NaN and infinite scales.
  check(5, false, 0, Bits(0.5f), 0);
  check(7, false, 0, Bits(0.5f), 0);
  check(static_cast<uint32_t>(-5), false, 0, Bits(0.5f), 0);
  check(1000, false, 0, Bits(1.0f), 0);
  check(3, false, 0, 0x7fc00000u, 0xfb);
  check(0, false, 0, 0x7f800000u, 3);
  uint64_t n = 6;
  const std::vector<uint32_t> edges = EdgeF32();
  for (uint32_t scale : edges) {
    for (int k = 0; k < 20; ++k, ++n) {
      check(src.Bits32(), src.Coin(), src.Bits32(), scale, static_cast<uint8_t>(src.Bits32()));
    }
  }
  for (int k = 0; k < 100000; ++k, ++n) {
    // Accumulators of a realistic size half of the time, scales from random patterns or 2^-16..2^2.
    const uint32_t acc = src.Coin() ? src.Bits32() : static_cast<uint32_t>(src.Uniform(-70000, 70000));
    const uint32_t scale = src.Coin() ? src.F32() : src.WithExponent(src.Uniform(111, 129)) & 0x7fffffffu;
    check(acc, src.Coin(), static_cast<uint32_t>(src.Uniform(-300, 300)), scale,
          static_cast<uint8_t>(src.Bits32()));
  }
  log.Report(n);
}

}  // namespace
}  // namespace tpusim::rtl::testing

#endif  // TPUSIM_RTL_HAVE_CORE
