// Several matrix units on the functional engine (opcodes.def: LOAD_WEIGHTS mxu=m pushes into unit
// m's weight FIFO, MATMUL mxu=m pops/uses unit m's weights; the accumulators are shared): products
// of interleaved loads and pops against a naive reference loop, per-unit FIFO errors, and units
// beyond the arch's mxu_count.
#include <cstdint>
#include <deque>
#include <string>
#include <vector>

#include "gtest/gtest.h"
#include "cycle_test_util.h"
#include "sim_test_util.h"
#include "tpusim/isa/arch_config.h"
#include "tpusim/simulator/device_state.h"
#include "tpusim/simulator/engine.h"

namespace tpusim::simulator {
namespace {

using isa::DType;
using isa::Instruction;
using testing::Halt;
using testing::Load;

constexpr int kM = 3, kK = 6, kN = 5;  // X is M x K, each weight tile K x N (padded to 8 x 8)
constexpr int kTiles = 4;
constexpr uint64_t kX = 0x1000, kW = 0x2000, kTileBytes = 0x400;

// Small integers: every product and sum is exact in bf16/fp32 and fits int8 operands, so a plain
// integer loop is an exact reference in both matrix modes.
int XVal(int i, int k) { return (i + 1) * ((k % 3) - 1) + (k == 5 ? 2 : 0); }
int WVal(int t, int k, int n) { return ((k + 2 * n + 3 * t) % 7) - 3; }

Instruction LoadWeightsTo(uint64_t mxu, int tile, DType t) {
  return testing::OnUnit(testing::LoadWeights(t, kW + tile * kTileBytes, kK, kN, kN), mxu);
}
Instruction MatmulOn(uint64_t mxu, uint64_t acc_row, bool pop, bool accumulate, DType t) {
  return testing::OnUnit(testing::Matmul(0, acc_row, kM, pop, accumulate, t), mxu);
}

isa::ArchConfig TinyWithUnits(uint32_t units) { return testing::TinyWithUnits(units).arch; }

// A device of `arch` in `mode` with X and the tiles in DRAM, and the functional engine.
struct Device {
  Device(const isa::ArchConfig& a, isa::MatmulType m) : arch(a), mode(m), state(a, m) {
    for (int i = 0; i < kM; ++i)
      for (int k = 0; k < kK; ++k) Put(kX + (i * kK + k) * Bytes(), XVal(i, k));
    for (int t = 0; t < kTiles; ++t)
      for (int k = 0; k < kK; ++k)
        for (int n = 0; n < kN; ++n)
          Put(kW + t * kTileBytes + (k * kN + n) * Bytes(), WVal(t, k, n));
  }
  uint64_t Bytes() const { return int8() ? 1 : 4; }
  bool int8() const { return mode == isa::INT8_INT32; }
  DType DramType() const { return int8() ? DType::I8 : DType::F32; }
  DType ArrayType() const { return int8() ? DType::I8 : DType::BF16; }
  void Put(uint64_t addr, int v) {
    if (int8()) {
      const int8_t b = static_cast<int8_t>(v);
      ASSERT_TRUE(state.dram.Write(addr, &b, 1).ok());
    } else {
      const float f = static_cast<float>(v);
      ASSERT_TRUE(state.dram.Write(addr, &f, 4).ok());
    }
  }
  // A small integer as the array holds it: an int32 word (int8 mode) or fp32 bits.
  uint32_t Word(int v) const {
    return int8() ? static_cast<uint32_t>(v)
                  : static_cast<uint32_t>(isa::F32Bits(static_cast<float>(v)));
  }
  int Acc(uint64_t row, uint64_t col) {
    const uint32_t w = state.acc_row(row)[col];
    return int8() ? static_cast<int32_t>(w) : static_cast<int>(isa::BitsF32(w));
  }
  absl::StatusOr<RunStats> Run(const std::vector<Instruction>& code) {
    Launch launch;
    launch.code = &code;
    return CreateEngine("functional", arch).value()->Run(launch, state);
  }
  isa::ArchConfig arch;
  isa::MatmulType mode;
  DeviceState state;
};

// The reference: one step of the interleaved program, run by a naive loop with a std::deque of
// tile numbers per unit and plain integer dot products.
struct RefStep {
  bool load;  // LOAD_WEIGHTS of `tile`, else MATMUL
  uint64_t mxu;
  int tile;
  uint64_t acc_row;
  bool pop;
  bool accumulate;
};

std::vector<std::vector<int>> ReferenceAccumulators(const std::vector<RefStep>& steps, int rows) {
  std::vector<std::vector<int>> acc(rows, std::vector<int>(8, 0));
  std::deque<int> fifo[2];
  int in_array[2] = {-1, -1};
  for (const RefStep& s : steps) {
    if (s.load) {
      fifo[s.mxu].push_back(s.tile);
      continue;
    }
    if (s.pop) {
      in_array[s.mxu] = fifo[s.mxu].front();
      fifo[s.mxu].pop_front();
    }
    const int t = in_array[s.mxu];
    for (int i = 0; i < kM; ++i) {
      for (int n = 0; n < 8; ++n) {
        int dot = 0;
        for (int k = 0; k < kK; ++k) dot += n < kN ? XVal(i, k) * WVal(t, k, n) : 0;
        int& out = acc[s.acc_row + i][n];
        out = s.accumulate ? out + dot : dot;
      }
    }
  }
  return acc;
}

class MxuUnitsTest : public ::testing::TestWithParam<isa::MatmulType> {};

TEST_P(MxuUnitsTest, TwoUnitsWithInterleavedLoadsAndPopsComputeWhatTheReferenceLoopComputes) {
  Device d(TinyWithUnits(2), GetParam());
  // tiny's FIFO holds 2 tiles per unit: unit 1 is full after step 2 while unit 0 holds one.
  const std::vector<RefStep> steps = {
      {true, 0, 0, 0, false, false},   {true, 1, 1, 0, false, false},
      {true, 1, 2, 0, false, false},   {false, 1, 0, 0, true, false},   // unit 1: tile 1
      {false, 0, 0, 8, true, false},   {true, 0, 3, 0, false, false},   // unit 0: tile 0
      {false, 0, 0, 8, false, true},   {false, 1, 0, 16, true, false},  // tile 0 again; tile 2
      {false, 0, 0, 24, true, false},  {false, 1, 0, 0, false, true},   // tile 3; tile 2 again
  };
  std::vector<Instruction> code = {Load(d.DramType(), kX, 0, kM, kK, kK)};
  for (const RefStep& s : steps) {
    code.push_back(s.load ? LoadWeightsTo(s.mxu, s.tile, d.DramType())
                          : MatmulOn(s.mxu, s.acc_row, s.pop, s.accumulate, d.ArrayType()));
  }
  code.push_back(Halt());
  absl::StatusOr<RunStats> stats = d.Run(code);
  ASSERT_TRUE(stats.ok()) << stats.status();

  const std::vector<std::vector<int>> want = ReferenceAccumulators(steps, 32);
  for (int r = 0; r < 32; ++r) {
    for (int n = 0; n < 8; ++n) EXPECT_EQ(d.Acc(r, n), want[r][n]) << "row " << r << " col " << n;
  }
  // 6 MATMULs of 3 rows through the 8x8 array; useful: the 6x5 part of each tile.
  EXPECT_EQ(stats->macs, 6u * kM * 8 * 8);
  EXPECT_EQ(stats->useful_macs, 6u * kM * kK * kN);
  EXPECT_TRUE(d.state.mxu[0].weight_fifo.empty());
  EXPECT_TRUE(d.state.mxu[1].weight_fifo.empty());
  // Unit 1 holds tile 2, unit 0 tile 3: W[k][n] at k * 8 + n of the padded tile.
  for (int k = 0; k < 8; ++k) {
    for (int n = 0; n < 8; ++n) {
      const bool inside = k < kK && n < kN;
      EXPECT_EQ(d.state.mxu[1].weights[k * 8 + n], d.Word(inside ? WVal(2, k, n) : 0));
      EXPECT_EQ(d.state.mxu[0].weights[k * 8 + n], d.Word(inside ? WVal(3, k, n) : 0));
    }
  }
}

INSTANTIATE_TEST_SUITE_P(Modes, MxuUnitsTest,
                         ::testing::Values(isa::BF16_FP32, isa::INT8_INT32),
                         [](const ::testing::TestParamInfo<isa::MatmulType>& info) {
                           return info.param == isa::BF16_FP32 ? std::string("bf16")
                                                               : std::string("int8");
                         });

TEST(MxuUnitsErrorTest, DeviceStateHasOneWeightSetPerUnit) {
  EXPECT_EQ(DeviceState(isa::LoadPreset("tiny").value(), isa::BF16_FP32).mxu.size(), 1u);
  EXPECT_EQ(DeviceState(isa::LoadPreset("tpu-v4").value(), isa::BF16_FP32).mxu.size(), 4u);
}

TEST(MxuUnitsErrorTest, UnitOneOnAOneUnitArchIsAnError) {
  Device d(isa::LoadPreset("tiny").value(), isa::BF16_FP32);
  EXPECT_STATUS(d.Run({LoadWeightsTo(1, 0, DType::F32), Halt()}).status(),
                absl::StatusCode::kOutOfRange,
                "instruction 0 (LOAD_WEIGHTS): mxu 1 is not one of the 1 matrix unit of arch "
                "'tiny' (mxu_count 1)");
  EXPECT_TRUE(d.state.mxu[0].weight_fifo.empty());

  Device e(isa::LoadPreset("tiny").value(), isa::BF16_FP32);
  EXPECT_STATUS(e.Run({LoadWeightsTo(0, 0, DType::F32), MatmulOn(1, 0, true, false, DType::BF16),
                       Halt()})
                    .status(),
                absl::StatusCode::kOutOfRange,
                "instruction 1 (MATMUL): mxu 1 is not one of the 1 matrix unit of arch 'tiny' "
                "(mxu_count 1)");
  EXPECT_EQ(e.state.mxu[0].weight_fifo.size(), 1u);  // nothing popped
}

TEST(MxuUnitsErrorTest, UnitBeyondTheCountOfATwoUnitArchIsAnError) {
  Device d(TinyWithUnits(2), isa::BF16_FP32);
  EXPECT_STATUS(d.Run({LoadWeightsTo(2, 0, DType::F32), Halt()}).status(),
                absl::StatusCode::kOutOfRange,
                "instruction 0 (LOAD_WEIGHTS): mxu 2 is not one of the 2 matrix units of arch "
                "'tiny' (mxu_count 2)");
}

TEST(MxuUnitsErrorTest, EachUnitsFifoOverflowsOnItsOwnAndTheErrorNamesTheUnit) {
  Device d(TinyWithUnits(2), isa::BF16_FP32);
  // F = 2 per unit: four loads fit (two per unit); the fifth, to unit 1, overflows.
  const std::vector<Instruction> code = {
      LoadWeightsTo(0, 0, DType::F32), LoadWeightsTo(1, 1, DType::F32),
      LoadWeightsTo(1, 2, DType::F32), LoadWeightsTo(0, 3, DType::F32),
      LoadWeightsTo(1, 0, DType::F32), Halt(),
  };
  EXPECT_STATUS(d.Run(code).status(), absl::StatusCode::kFailedPrecondition,
                "instruction 4 (LOAD_WEIGHTS): weight FIFO overflow on mxu 1: it already holds 2 "
                "tiles (weight_fifo_depth 2)");
  EXPECT_EQ(d.state.mxu[0].weight_fifo.size(), 2u);
  EXPECT_EQ(d.state.mxu[1].weight_fifo.size(), 2u);
}

TEST(MxuUnitsErrorTest, EachUnitsFifoUnderflowsOnItsOwnAndTheErrorNamesTheUnit) {
  Device d(TinyWithUnits(2), isa::BF16_FP32);
  EXPECT_STATUS(d.Run({LoadWeightsTo(0, 0, DType::F32), MatmulOn(1, 0, true, false, DType::BF16),
                       Halt()})
                    .status(),
                absl::StatusCode::kFailedPrecondition,
                "instruction 1 (MATMUL): weight FIFO underflow on mxu 1: pop_weights=1 but the "
                "FIFO is empty");
  Device e(TinyWithUnits(2), isa::BF16_FP32);
  EXPECT_STATUS(e.Run({LoadWeightsTo(0, 0, DType::F32), MatmulOn(0, 0, true, false, DType::BF16),
                       MatmulOn(1, 0, false, false, DType::BF16), Halt()})
                    .status(),
                absl::StatusCode::kFailedPrecondition,
                "instruction 2 (MATMUL): no weights were ever loaded into the array on mxu 1");
}

TEST(MxuUnitsErrorTest, OneUnitMessagesDoNotNameTheUnit) {
  Device d(isa::LoadPreset("tiny").value(), isa::BF16_FP32);
  const absl::Status s = d.Run({MatmulOn(0, 0, true, false, DType::BF16), Halt()}).status();
  EXPECT_STATUS(s, absl::StatusCode::kFailedPrecondition,
                "instruction 0 (MATMUL): weight FIFO underflow: pop_weights=1");
}

}  // namespace
}  // namespace tpusim::simulator
