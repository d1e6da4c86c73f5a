// ACTIVATE and VECTOR: activation with bias, elementwise/imm/reduce ops, broadcast, in-place and
// overlapping rows, and int8 mode.
#include <cmath>
#include <cstdint>
#include <vector>

#include "sim_test_util.h"

namespace tpusim::simulator {
namespace {

using isa::ActFunc;
using isa::VectorOp;
using testing::Activate;
using testing::Halt;
using testing::SimTest;
using testing::Vector;

class VectorTest : public SimTest {
 protected:
  void SetUbRow(uint64_t row, const std::vector<float>& v) {
    for (size_t l = 0; l < v.size(); ++l) SetUb(row, l, v[l]);
  }
  void SetAccRow(uint64_t row, const std::vector<float>& v) {
    for (size_t l = 0; l < v.size(); ++l) SetAcc(row, l, v[l]);
  }
  std::vector<float> UbRow(uint64_t row) {
    std::vector<float> v;
    for (uint64_t l = 0; l < state_.lanes; ++l) v.push_back(Ub(row, l));
    return v;
  }
  using V = std::vector<float>;
};

TEST_F(VectorTest, ActivateReluAddsBiasFirst) {
  SetAccRow(0, {-3, -1, 0, 2, 5, -7, 1.5f, -0.5f});
  SetAccRow(1, {0, 1, 2, 3, 4, 5, 6, 7});
  SetUbRow(20, {1, 1, 1, 1, -10, 10, 0, 0});
  auto stats = Run({Activate(ActFunc::Relu, 0, 30, 2, true, 20), Halt()});
  ASSERT_TRUE(stats.ok()) << stats.status();
  // v = acc + bias, then max(v, 0).
  EXPECT_EQ(UbRow(30), (V{0, 0, 1, 3, 0, 3, 1.5f, 0}));
  EXPECT_EQ(UbRow(31), (V{1, 2, 3, 4, 0, 15, 6, 7}));
  EXPECT_EQ(stats->vector_elements, 16u);
}

TEST_F(VectorTest, ActivateSigmoidWithBias) {
  SetAccRow(0, {0, -1, 100, -100, 1, -1, 0, 0});
  SetUbRow(5, {0, 1, 0, 0, 0, 0, 0, 0});
  ASSERT_TRUE(Run({Activate(ActFunc::Sigmoid, 0, 6, 1, true, 5), Halt()}).ok());
  const V out = UbRow(6);
  EXPECT_EQ(out[0], 0.5f);  // 1 / (1 + e^0)
  EXPECT_EQ(out[1], 0.5f);  // -1 + bias 1 = 0
  EXPECT_EQ(out[2], 1.0f);  // e^-100 vanishes next to 1
  EXPECT_EQ(out[3], 0.0f);  // 1 / (1 + e^100) ~ 3.7e-44 is subnormal in fp32: flushed to zero
  // Not exactly representable: compare with the textbook formula in double, within 2 ulp.
  EXPECT_NEAR(out[4], 1.0 / (1.0 + std::exp(-1.0)), 2e-7);
  EXPECT_NEAR(out[5], 1.0 / (1.0 + std::exp(1.0)), 2e-7);
}

TEST_F(VectorTest, ActivateBiasRowInsideTheDestinationIsReadFirst) {
  SetAccRow(0, {1, 1, 1, 1, 1, 1, 1, 1});
  SetAccRow(1, {2, 2, 2, 2, 2, 2, 2, 2});
  SetUbRow(40, {10, 20, 30, 40, 50, 60, 70, 80});
  ASSERT_TRUE(Run({Activate(ActFunc::None, 0, 40, 2, true, 40), Halt()}).ok());
  EXPECT_EQ(UbRow(40), (V{11, 21, 31, 41, 51, 61, 71, 81}));
  EXPECT_EQ(UbRow(41),
            (V{12, 22, 32, 42, 52, 62, 72, 82}));  // the original bias, not row 40's result
}

TEST_F(SimTest, ActivateZeroesLanesBeyondTheArrayColumns) {
  // A 16x8 array has 16-lane UB rows; the accumulators have 8 columns.
  arch_.set_array_rows(16);
  state_ = DeviceState(arch_, isa::BF16_FP32);
  ASSERT_EQ(state_.lanes, 16u);
  for (int l = 0; l < 16; ++l) SetUb(3, l, 5.0f);
  for (int n = 0; n < 8; ++n) SetAcc(0, n, -2.0f);
  ASSERT_TRUE(Run({Activate(ActFunc::None, 0, 3, 1), Halt()}).ok());
  for (int l = 0; l < 8; ++l) EXPECT_EQ(Ub(3, l), -2.0f);
  for (int l = 8; l < 16; ++l) EXPECT_EQ(Ub(3, l), 0.0f) << "lane " << l;
}

TEST_F(VectorTest, BinaryOpsWithAndWithoutBroadcast) {
  SetUbRow(0, {0, 1, 2, 3, 4, 5, 6, 7});
  SetUbRow(1, {10, 11, 12, 13, 14, 15, 16, 17});
  SetUbRow(2, {2, 2, 2, 2, 4, 4, 4, 4});
  SetUbRow(3, {-1, -1, -1, -1, 0.5f, 0.5f, 0.5f, 0.5f});
  SetUbRow(5, {1, 2, 3, 4, 5, 6, 7, 8});
  const std::vector<isa::Instruction> code = {
      Vector(VectorOp::Sub, 10, 0, 5, 2, /*b_bcast=*/true),  // a - b, b = row 5 for both rows
      Vector(VectorOp::Mul, 12, 0, 2, 2),                    // row-wise: rows 0*2, 1*3
      Vector(VectorOp::Max, 14, 0, 5, 1, true),
      Vector(VectorOp::Min, 15, 0, 5, 1, true),
      Vector(VectorOp::Div, 16, 1, 2, 1),
      Halt(),
  };
  auto stats = Run(code);
  ASSERT_TRUE(stats.ok()) << stats.status();
  EXPECT_EQ(UbRow(10), (V{-1, -1, -1, -1, -1, -1, -1, -1}));
  EXPECT_EQ(UbRow(11), (V{9, 9, 9, 9, 9, 9, 9, 9}));
  EXPECT_EQ(UbRow(12), (V{0, 2, 4, 6, 16, 20, 24, 28}));
  EXPECT_EQ(UbRow(13), (V{-10, -11, -12, -13, 7, 7.5f, 8, 8.5f}));
  EXPECT_EQ(UbRow(14), (V{1, 2, 3, 4, 5, 6, 7, 8}));
  EXPECT_EQ(UbRow(15), (V{0, 1, 2, 3, 4, 5, 6, 7}));
  EXPECT_EQ(UbRow(16), (V{5, 5.5f, 6, 6.5f, 3.5f, 3.75f, 4, 4.25f}));
  EXPECT_EQ(stats->vector_elements, (2u + 2 + 1 + 1 + 1) * 8);
}

TEST_F(VectorTest, ImmediateAndUnaryOps) {
  SetUbRow(0, {-2, -1, 0, 1, 2, 3, 4, 1.0f + 0x1p-8f});
  const std::vector<isa::Instruction> code = {
      Vector(VectorOp::MulImm, 1, 0, 0, 1, false, 0.5f),
      Vector(VectorOp::AddImm, 2, 0, 0, 1, false, -1.0f),
      Vector(VectorOp::Fill, 3, 0, 0, 1, false, 3.25f),
      Vector(VectorOp::Relu, 4, 0, 0, 1),
      Vector(VectorOp::Copy, 5, 0, 0, 1),
      Vector(VectorOp::RoundBf16, 6, 0, 0, 1),
      Halt(),
  };
  ASSERT_TRUE(Run(code).ok());
  EXPECT_EQ(UbRow(1), (V{-1, -0.5f, 0, 0.5f, 1, 1.5f, 2, 0.5f + 0x1p-9f}));
  EXPECT_EQ(UbRow(2), (V{-3, -2, -1, 0, 1, 2, 3, 0x1p-8f}));
  EXPECT_EQ(UbRow(3), (V{3.25f, 3.25f, 3.25f, 3.25f, 3.25f, 3.25f, 3.25f, 3.25f}));
  EXPECT_EQ(UbRow(4), (V{0, 0, 0, 1, 2, 3, 4, 1.0f + 0x1p-8f}));
  EXPECT_EQ(UbRow(5), UbRow(0));
  EXPECT_EQ(UbRow(6), (V{-2, -1, 0, 1, 2, 3, 4, 1.0f}));  // 1 + 2^-8 is a tie: rounds to even 1.0
}

TEST_F(VectorTest, ReduceSumAndMaxFoldRowsInOrder) {
  SetUbRow(0, {1, -5, 0x1p24f, 0, 0, 0, 0, 0});
  SetUbRow(1, {2, -3, 1, 0, 0, 0, 0, 0});
  SetUbRow(2, {3, -4, 1, 0, 0, 0, 0, 9});
  const std::vector<isa::Instruction> code = {
      Vector(VectorOp::ReduceSum, 10, 0, 0, 3),
      Vector(VectorOp::ReduceMax, 11, 0, 0, 3),
      Halt(),
  };
  auto stats = Run(code);
  ASSERT_TRUE(stats.ok()) << stats.status();
  // Lane 2: (2^24 + 1) ties to even 2^24, then + 1 again: 2^24 (row 0 first, fp32 after each step).
  EXPECT_EQ(UbRow(10), (V{6, -12, 0x1p24f, 0, 0, 0, 0, 9}));
  EXPECT_EQ(UbRow(11), (V{3, -3, 0x1p24f, 0, 0, 0, 0, 9}));
  EXPECT_EQ(stats->vector_elements, 16u);
}

TEST_F(VectorTest, InPlaceAndOverlappingRowsReadBeforeWrite) {
  SetUbRow(0, {1, 1, 1, 1, 1, 1, 1, 1});
  SetUbRow(1, {2, 2, 2, 2, 2, 2, 2, 2});
  SetUbRow(2, {3, 3, 3, 3, 3, 3, 3, 3});
  SetUbRow(8, {5, 5, 5, 5, 5, 5, 5, 5});
  const std::vector<isa::Instruction> code = {
      Vector(VectorOp::Copy, 1, 0, 0, 2),  // rows 1..2 = old rows 0..1
      Vector(VectorOp::Add, 8, 8, 8, 1),   // in place: 5 + 5
      Halt(),
  };
  ASSERT_TRUE(Run(code).ok());
  EXPECT_EQ(UbRow(0), (V{1, 1, 1, 1, 1, 1, 1, 1}));
  EXPECT_EQ(UbRow(1), (V{1, 1, 1, 1, 1, 1, 1, 1}));
  EXPECT_EQ(UbRow(2), (V{2, 2, 2, 2, 2, 2, 2, 2}));  // not the freshly written row 1
  EXPECT_EQ(UbRow(8), (V{10, 10, 10, 10, 10, 10, 10, 10}));
}

TEST_F(VectorTest, ReduceOverZeroRowsIsAnError) {
  EXPECT_STATUS(Run({Vector(VectorOp::ReduceSum, 0, 0, 0, 0), Halt()}).status(),
                absl::StatusCode::kInvalidArgument, "instruction 0 (VECTOR)");
}

TEST_F(VectorTest, Int8ModeSupportsIntegerReluAndCopyOnly) {
  state_.ResetOnChip(isa::INT8_INT32);
  const int32_t acc[8] = {-5, 7, INT32_MIN, INT32_MAX, 0, -1, 100, 3};
  for (int n = 0; n < 8; ++n) state_.acc_row(0)[n] = static_cast<uint32_t>(acc[n]);
  for (int n = 0; n < 8; ++n) state_.ub_row(9)[n] = static_cast<uint32_t>(n == 2 ? 1 : 0);
  const std::vector<isa::Instruction> code = {
      Activate(ActFunc::Relu, 0, 0, 1),   Activate(ActFunc::None, 0, 1, 1, true, 9),  // int32 add
                                                                                      // with wrap:
                                                                                      // INT32_MIN +
                                                                                      // 1 in lane 2
      Vector(VectorOp::Relu, 2, 1, 0, 1), Vector(VectorOp::Copy, 3, 1, 0, 1),        Halt(),
  };
  ASSERT_TRUE(Run(code).ok());
  const int32_t relu[8] = {0, 7, 0, INT32_MAX, 0, 0, 100, 3};
  for (int n = 0; n < 8; ++n) {
    EXPECT_EQ(IntUb(0, n), relu[n]);
    EXPECT_EQ(IntUb(1, n), n == 2 ? INT32_MIN + 1 : acc[n]);
    EXPECT_EQ(IntUb(2, n), relu[n]);
    EXPECT_EQ(IntUb(3, n), IntUb(1, n));
  }
  EXPECT_STATUS(Run({Activate(ActFunc::Sigmoid, 0, 0, 1), Halt()}).status(),
                absl::StatusCode::kFailedPrecondition, "not supported in int8 mode");
  EXPECT_STATUS(Run({Vector(VectorOp::Add, 0, 0, 0, 1), Halt()}).status(),
                absl::StatusCode::kFailedPrecondition, "not supported in int8 mode");
}

TEST_F(VectorTest, Int8ActivateRequantizesWithRoundHalfEvenAndSaturates) {
  state_.ResetOnChip(isa::INT8_INT32);
  // scale 0.5, zero point -3: v * 0.5 rounded half to even, + (-3), saturated to [-128, 127].
  //   5 -> 2.5 -> 2 -> -1;   7 -> 3.5 -> 4 -> 1;   -5 -> -2.5 -> -2 -> -5;   1000 -> 500 -> 127;
  //   -1000 -> -500 -> -128;  0 -> -3;  bias lane 6: 9 + 1 = 10 -> 5 -> 2;  lane 7: 1 -> 0.5 -> 0 -> -3.
  const int32_t acc[8] = {5, 7, -5, 1000, -1000, 0, 9, 1};
  for (int n = 0; n < 8; ++n) state_.acc_row(0)[n] = static_cast<uint32_t>(acc[n]);
  for (int n = 0; n < 8; ++n) state_.ub_row(9)[n] = n == 6 ? 1u : 0u;
  isa::Instruction act = Activate(ActFunc::Requantize, 0, 0, 1, true, 9);
  act.as<isa::ActivateArgs>().scale = isa::F32Bits(0.5f);
  act.as<isa::ActivateArgs>().zero_point = static_cast<uint8_t>(-3);
  ASSERT_TRUE(Run({act, Halt()}).ok());
  const int32_t want[8] = {-1, 1, -5, 127, -128, -3, 2, -3};
  for (int n = 0; n < 8; ++n) EXPECT_EQ(IntUb(0, n), want[n]) << n;
}

TEST_F(VectorTest, RequantizeIsAnInt8ModeActivation) {
  EXPECT_STATUS(Run({Activate(ActFunc::Requantize, 0, 0, 1), Halt()}).status(),
                absl::StatusCode::kFailedPrecondition, "int8-mode activation");
}

}  // namespace
}  // namespace tpusim::simulator
