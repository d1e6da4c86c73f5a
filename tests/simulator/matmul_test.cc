// LOAD_WEIGHTS + MATMUL: products with padding, accumulate, transposed weights, the weight FIFO,
// bf16 rounding and accumulation order, int8 mode with wrap-around, and the MAC counters.
#include <cstdint>
#include <vector>

#include "sim_test_util.h"

namespace tpusim::simulator {
namespace {

using isa::ActFunc;
using isa::DType;
using testing::Activate;
using testing::Halt;
using testing::Load;
using testing::LoadWeights;
using testing::Matmul;
using testing::SimTest;
using testing::Store;

constexpr int kM = 3, kK = 5, kN = 4;
constexpr uint64_t kX = 0x1000, kW = 0x2000, kWt = 0x3000, kOut = 0x4000;

// Small integers: every value, product and partial sum is exact in bf16/fp32, so a plain float loop
// is an exact reference.
float XVal(int i, int k) { return static_cast<float>((i + 1) * (k - 2)); }
float WVal(int k, int n) { return static_cast<float>(k - 2 * n + 1); }

std::vector<float> Reference() {
  std::vector<float> y(kM * kN, 0.0f);
  for (int i = 0; i < kM; ++i)
    for (int n = 0; n < kN; ++n)
      for (int k = 0; k < kK; ++k) y[i * kN + n] += XVal(i, k) * WVal(k, n);
  return y;
}

class MatmulTest : public SimTest {
 protected:
  void SetUp() override {
    std::vector<float> x, w, wt;
    for (int i = 0; i < kM; ++i)
      for (int k = 0; k < kK; ++k) x.push_back(XVal(i, k));
    for (int k = 0; k < kK; ++k)
      for (int n = 0; n < kN; ++n) w.push_back(WVal(k, n));
    for (int n = 0; n < kN; ++n)
      for (int k = 0; k < kK; ++k) wt.push_back(WVal(k, n));
    Put(kX, x);
    Put(kW, w);
    Put(kWt, wt);
  }
};

TEST_F(MatmulTest, SmallProductWithPaddingOnTinyArray) {
  const std::vector<isa::Instruction> code = {
      Load(DType::F32, kX, 0, kM, kK, kK),      // X: 3 rows of 5 lanes (lanes 5..7 zero)
      LoadWeights(DType::F32, kW, kK, kN, kN),  // W: 5x4 into the 8x8 tile (rest zero)
      Matmul(0, 0, kM, /*pop=*/true),          Activate(ActFunc::None, 0, 10, kM),
      Store(DType::F32, kOut, 10, kM, kN, kN), Halt(),
  };
  auto stats = Run(code);
  ASSERT_TRUE(stats.ok()) << stats.status();
  EXPECT_EQ(Get<float>(kOut, kM * kN), Reference());
  for (int i = 0; i < kM; ++i)
    for (int n = kN; n < 8; ++n) EXPECT_EQ(Acc(i, n), 0.0f) << "padding column " << n;
  // Counters: 3 rows through the whole 8x8 array; 3 x 5 x 4 of them on loaded weights.
  EXPECT_EQ(stats->macs, 3u * 8 * 8);
  EXPECT_EQ(stats->useful_macs, 3u * 5 * 4);
  EXPECT_EQ(stats->dram_to_ub_bytes, 3u * 5 * 4);
  EXPECT_EQ(stats->dram_to_weights_bytes, 5u * 4 * 4);
  EXPECT_EQ(stats->ub_to_dram_bytes, 3u * 4 * 4);
  EXPECT_EQ(stats->vector_elements, 3u * 8);  // ACTIVATE writes whole 8-lane rows
  EXPECT_EQ(stats->instructions, 6u);
  EXPECT_EQ(stats->count(isa::Opcode::MATMUL), 1u);
  EXPECT_EQ(stats->count(isa::Opcode::HALT), 1u);
  EXPECT_EQ(stats->engine, "functional");
}

TEST_F(MatmulTest, AccumulateAddsToTheAccumulatorsAndWeightsStayInTheArray) {
  const std::vector<isa::Instruction> code = {
      Load(DType::F32, kX, 0, kM, kK, kK),
      LoadWeights(DType::F32, kW, kK, kN, kN),
      Matmul(0, 0, kM, /*pop=*/true),
      Matmul(0, 0, kM, /*pop=*/false, /*accumulate=*/true),   // same weights again: 2 * X W
      Matmul(0, 8, kM, /*pop=*/false, /*accumulate=*/false),  // overwrite: X W
      Halt(),
  };
  auto stats = Run(code);
  ASSERT_TRUE(stats.ok()) << stats.status();
  const std::vector<float> ref = Reference();
  for (int i = 0; i < kM; ++i) {
    for (int n = 0; n < kN; ++n) {
      EXPECT_EQ(Acc(i, n), 2 * ref[i * kN + n]);
      EXPECT_EQ(Acc(8 + i, n), ref[i * kN + n]);
    }
  }
  EXPECT_EQ(stats->macs, 3u * 3 * 64);
  EXPECT_EQ(stats->useful_macs, 3u * 3 * 20);
}

TEST_F(MatmulTest, TransposedWeightsThroughColumnStride) {
  // DRAM holds W^T (4x5 row-major); W[k][n] = WT[n][k] at (k * 1 + n * 5) elements.
  const std::vector<isa::Instruction> code = {
      Load(DType::F32, kX, 0, kM, kK, kK),
      LoadWeights(DType::F32, kWt, kK, kN, /*row_stride=*/1, /*col_stride=*/kK),
      Matmul(0, 0, kM, true),
      Halt(),
  };
  ASSERT_TRUE(Run(code).ok());
  const std::vector<float> ref = Reference();
  for (int i = 0; i < kM; ++i)
    for (int n = 0; n < kN; ++n) EXPECT_EQ(Acc(i, n), ref[i * kN + n]);
}

TEST_F(MatmulTest, FifoPopsTilesInOrder) {
  // Tile A = W, tile B = 2 W: the second pop must multiply by tile B.
  std::vector<float> w2 = Get<float>(kW, kK * kN);
  for (float& v : w2) v *= 2;
  Put(0x5000, w2);
  const std::vector<isa::Instruction> code = {
      Load(DType::F32, kX, 0, kM, kK, kK),
      LoadWeights(DType::F32, kW, kK, kN, kN),
      LoadWeights(DType::F32, 0x5000, kK, kN, kN),  // FIFO now full (depth 2)
      Matmul(0, 0, kM, true),
      Matmul(0, 4, kM, true),
      Halt(),
  };
  ASSERT_TRUE(Run(code).ok());
  const std::vector<float> ref = Reference();
  for (int i = 0; i < kM; ++i) {
    for (int n = 0; n < kN; ++n) {
      EXPECT_EQ(Acc(i, n), ref[i * kN + n]);
      EXPECT_EQ(Acc(4 + i, n), 2 * ref[i * kN + n]);
    }
  }
  EXPECT_TRUE(state_.mxu[0].weight_fifo.empty());
}

TEST_F(MatmulTest, FifoOverflowIsAnError) {
  const std::vector<isa::Instruction> code = {
      LoadWeights(DType::F32, kW, kK, kN, kN),
      LoadWeights(DType::F32, kW, kK, kN, kN),
      LoadWeights(DType::F32, kW, kK, kN, kN),  // tiny's FIFO holds 2 tiles
      Halt(),
  };
  EXPECT_STATUS(Run(code).status(), absl::StatusCode::kFailedPrecondition,
                "instruction 2 (LOAD_WEIGHTS): weight FIFO overflow");
  EXPECT_EQ(state_.mxu[0].weight_fifo.size(), 2u);
}

TEST_F(MatmulTest, PopFromEmptyFifoIsAnError) {
  const std::vector<isa::Instruction> code = {
      LoadWeights(DType::F32, kW, kK, kN, kN),
      Matmul(0, 0, 1, true),
      Matmul(0, 0, 1, true),  // nothing left to pop
      Halt(),
  };
  EXPECT_STATUS(Run(code).status(), absl::StatusCode::kFailedPrecondition,
                "instruction 2 (MATMUL): weight FIFO underflow");
}

TEST_F(MatmulTest, MatmulWithoutAnyWeightsIsAnError) {
  EXPECT_STATUS(Run({Matmul(0, 0, 1, false), Halt()}).status(),
                absl::StatusCode::kFailedPrecondition, "instruction 0 (MATMUL): no weights");
}

TEST_F(MatmulTest, OversizedWeightTileIsAnError) {
  EXPECT_STATUS(Run({LoadWeights(DType::F32, kW, 9, 4, 4), Halt()}).status(),
                absl::StatusCode::kOutOfRange, "instruction 0 (LOAD_WEIGHTS): weight tile 9x4");
  EXPECT_TRUE(state_.mxu[0].weight_fifo.empty());
}

TEST_F(MatmulTest, MatmulDtypeMustMatchTheDeviceMode) {
  const std::vector<isa::Instruction> code = {
      LoadWeights(DType::F32, kW, kK, kN, kN),
      Matmul(0, 0, 1, true, false, DType::I8),
      Halt(),
  };
  EXPECT_STATUS(Run(code).status(), absl::StatusCode::kFailedPrecondition,
                "instruction 1 (MATMUL): dtype i8");
  EXPECT_EQ(state_.mxu[0].weight_fifo.size(), 1u);  // the failing MATMUL popped nothing
}

TEST_F(SimTest, Bf16InputsAndWeightsAreRoundedToNearestEven) {
  // x0 = 1 + 2^-9 rounds to bf16 1.0 (below halfway); w0 = 1 + 2^-8 + 2^-10 rounds up to 1 + 2^-7.
  // Column 0: 1.0 * (1 + 2^-7) = 1.0078125 exactly.
  Put<float>(0x100, {1.0f + 0x1p-9f});
  Put<float>(0x200, {1.0f + 0x1p-8f + 0x1p-10f});
  ASSERT_TRUE(Run({Load(DType::F32, 0x100, 0, 1, 1, 1), LoadWeights(DType::F32, 0x200, 1, 1, 1),
                   Matmul(0, 0, 1, true), Halt()})
                  .ok());
  EXPECT_EQ(Acc(0, 0), 1.0078125f);
}

TEST_F(SimTest, ColumnAccumulatesDownFromRowZeroInFp32) {
  // Column 0 of W is all ones. Row A: x = [2^24, 1, 1]: 2^24 + 1 is a tie in fp32 and rounds to
  // even 2^24, twice, so the sum is 2^24. Row B: x = [1, 1, 2^24]: 1 + 1 = 2, then 2 + 2^24 is
  // exact.
  Put<float>(0x100, {0x1p24f, 1.0f, 1.0f, 1.0f, 1.0f, 0x1p24f});
  Put<float>(0x200, {1.0f, 1.0f, 1.0f});
  ASSERT_TRUE(Run({Load(DType::F32, 0x100, 0, 2, 3, 3), LoadWeights(DType::F32, 0x200, 3, 1, 1),
                   Matmul(0, 0, 2, true), Halt()})
                  .ok());
  EXPECT_EQ(Acc(0, 0), 0x1p24f);
  EXPECT_EQ(Acc(1, 0), 0x1p24f + 2.0f);
}

TEST_F(SimTest, Int8MatmulSaturatesInputsAndWrapsAccumulation) {
  state_.ResetOnChip(isa::INT8_INT32);
  // W (i8, 2x2) = [[-128, 3], [-128, -2]]. UB row 0 = [300, -300] saturates to [127, -128].
  // Column 0: 127*-128 + -128*-128 = -16256 + 16384 = 128. Column 1: 127*3 + -128*-2 = 381 + 256 =
  // 637.
  Put<int8_t>(0x100, {-128, 3, -128, -2});
  state_.ub_row(0)[0] = 300;
  state_.ub_row(0)[1] = static_cast<uint32_t>(-300);
  state_.acc_row(1)[0] = 0x7FFFFFFFu;  // INT32_MAX + 128 wraps to INT32_MIN + 127
  ASSERT_TRUE(Run({LoadWeights(DType::I8, 0x100, 2, 2, 2), Matmul(0, 0, 1, true, false, DType::I8),
                   Matmul(0, 1, 1, false, true, DType::I8), Halt()})
                  .ok());
  EXPECT_EQ(IntAcc(0, 0), 128);
  EXPECT_EQ(IntAcc(0, 1), 637);
  EXPECT_EQ(IntAcc(1, 0), INT32_MIN + 127);
  EXPECT_EQ(IntAcc(1, 1), 637);
}

TEST_F(SimTest, Int8MatmulMatchesNaiveIntegerProduct) {
  state_.ResetOnChip(isa::INT8_INT32);
  std::vector<int8_t> x(4 * 8), w(8 * 8);
  for (size_t i = 0; i < x.size(); ++i) x[i] = static_cast<int8_t>((i * 37) % 256 - 128);
  for (size_t i = 0; i < w.size(); ++i) w[i] = static_cast<int8_t>((i * 91 + 5) % 256 - 128);
  Put(0x100, x);
  Put(0x200, w);
  ASSERT_TRUE(Run({Load(DType::I8, 0x100, 0, 4, 8, 8), LoadWeights(DType::I8, 0x200, 8, 8, 8),
                   Matmul(0, 0, 4, true, false, DType::I8), Halt()})
                  .ok());
  for (int i = 0; i < 4; ++i) {
    for (int n = 0; n < 8; ++n) {
      int32_t ref = 0;  // |sum| <= 8 * 128 * 128: no wrap-around
      for (int k = 0; k < 8; ++k) ref += int32_t{x[i * 8 + k]} * int32_t{w[k * 8 + n]};
      EXPECT_EQ(IntAcc(i, n), ref) << i << "," << n;
    }
  }
}

}  // namespace
}  // namespace tpusim::simulator
