// Shared pieces of the arithmetic-unit tests (the Verilated SV units against isa::numerics): the
// model harness, fixed-seed operand sources biased towards the interesting exponent ranges, the
// edge-case operand lists and a mismatch log that prints operands in hex.
#pragma once

#include <gtest/gtest.h>

#include <cstdint>
#include <random>
#include <string>
#include <vector>

#include "verilated.h"

namespace tpusim::rtl::testing {

// Owns a Verilated model and its context. The units are combinational: set the inputs, call eval(),
// read the outputs; no clock. Not thread-safe; one per test.
template <typename Model>
class UnitHarness {
 public:
  UnitHarness() : model_(&context_) {}
  ~UnitHarness() { model_.final(); }
  UnitHarness(const UnitHarness&) = delete;
  UnitHarness& operator=(const UnitHarness&) = delete;
  Model* operator->() { return &model_; }
  Model& operator*() { return model_; }

 private:
  VerilatedContext context_;
  Model model_;
};

// Collects mismatches between the RTL and the reference; Report() fails the test with the first
// few, each naming the operands and both results in hex.
class MismatchLog {
 public:
  explicit MismatchLog(std::string unit) : unit_(std::move(unit)) {}
  void Add(std::string what) {
    if (++count_ <= kShown) shown_ += what + "\n";
  }
  void Report(uint64_t vectors) const {
    EXPECT_EQ(count_, 0u) << unit_ << ": " << count_ << " of " << vectors
                          << " vectors differ from the reference; the first ones:\n"
                          << shown_;
  }

 private:
  static constexpr uint64_t kShown = 20;
  std::string unit_;
  uint64_t count_ = 0;
  std::string shown_;
};

// Fixed-seed operands: F32() is a uniformly random bit pattern half of the time and otherwise an
// "interesting" value (exponent field 0, 1-3, 124-130, 250-254 or 255, mantissa zero, all ones,
// a few significant bits, or random).
class OperandSource {
 public:
  explicit OperandSource(uint64_t seed) : rng_(seed) {}

  uint32_t Bits32() { return static_cast<uint32_t>(rng_()); }
  int Uniform(int lo, int hi) { return std::uniform_int_distribution<int>(lo, hi)(rng_); }
  bool Coin() { return (rng_() & 1) != 0; }

  uint32_t F32() { return Coin() ? Bits32() : InterestingF32(); }
  uint32_t InterestingF32() { return Pack(Coin(), InterestingExponent(), InterestingMantissa()); }
  // A value whose exponent field is `exponent` (clamped to 0..255) with a random sign and an
  // interesting mantissa.
  uint32_t WithExponent(int exponent) {
    return Pack(Coin(), exponent < 0 ? 0 : (exponent > 255 ? 255 : exponent),
                InterestingMantissa());
  }

  static uint32_t Pack(bool negative, int exponent, uint32_t mantissa) {
    return (negative ? 0x80000000u : 0u) | static_cast<uint32_t>(exponent) << 23 |
           (mantissa & 0x7fffffu);
  }

 private:
  int InterestingExponent() {
    switch (Uniform(0, 5)) {
      case 0:
        return 0;
      case 1:
        return Uniform(1, 3);
      case 2:
        return Uniform(124, 130);
      case 3:
        return Uniform(250, 254);
      case 4:
        return 255;
      default:
        return Uniform(0, 255);
    }
  }
  uint32_t InterestingMantissa() {
    switch (Uniform(0, 4)) {
      case 0:
        return 0;
      case 1:
        return 0x7fffff;
      case 2:
        return Bits32() & ~((1u << Uniform(1, 22)) - 1);  // few significant bits: ties
      case 3:
        return 0x7fffff ^ (1u << Uniform(0, 22));
      default:
        return Bits32();
    }
  }

  std::mt19937_64 rng_;
};

// fp32 edge cases: signed zeros, subnormals, the normal range's ends, values around 1 and the
// rounding positions of 1, powers of two at half-ulp distances of the largest finite value,
// infinities, and quiet / signalling NaNs of both signs with payloads.
inline std::vector<uint32_t> EdgeF32() {
  const uint32_t magnitudes[] = {
      0x00000000, 0x00000001, 0x00000002, 0x00400000, 0x007fffff,  // zero, subnormals
      0x00800000, 0x00800001, 0x00ffffff, 0x01000000, 0x0d000000,  // min normal and above
      0x33000000, 0x33800000, 0x33800001, 0x34000000,              // 2^-25, 2^-24, 2^-23
      0x3f7ffffe, 0x3f7fffff, 0x3f800000, 0x3f800001, 0x3f800003,  // around 1
      0x3fc00000, 0x3fffffff, 0x40000000, 0x40400000, 0x4b000000,  // 1.5, 2-ulp, 2, 3, 2^23
      0x3f000000, 0x3eaaaaab, 0x5f000000, 0x1f800000,              // 0.5, 1/3, 2^63, 2^-64
      0x72800000, 0x73000000, 0x73000001, 0x7f000000,              // 2^102, 2^103, 2^127
      0x7f7ffffe, 0x7f7fffff, 0x7f800000,                          // largest finite, Inf
      0x7fc00000, 0x7fc12345, 0x7fffffff, 0x7f800001, 0x7fa00000,  // quiet and signalling NaNs
  };
  std::vector<uint32_t> values;
  for (uint32_t m : magnitudes) {
    values.push_back(m);
    values.push_back(m | 0x80000000u);
  }
  return values;
}

}  // namespace tpusim::rtl::testing
