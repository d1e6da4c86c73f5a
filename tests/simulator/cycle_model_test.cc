// The cycle engine as a whole: where every cycle goes (buckets), traffic, per-op cycles and the
// trace; the TPU v1 paper's arithmetic on tpu-v1; deadlocks; device errors; many launches.
#include <cmath>
#include <cstdint>
#include <string>
#include <thread>
#include <vector>

#include "cycle_test_util.h"
#include "tpusim/isa/arch_config.h"

namespace tpusim::simulator {
namespace {

using isa::DType;
using isa::Opcode;
using isa::Queue;
using testing::ArchCase;
using testing::CycleRig;
using testing::Halt;
using testing::Load;
using testing::LoadWeights;
using testing::Matmul;
using testing::Store;
using testing::Token;
using testing::Vector;

class CycleBucketTest : public ::testing::TestWithParam<ArchCase> {
 protected:
  CycleBucketTest() : rig_(GetParam()) {}
  isa::Instruction FullTile() {
    return LoadWeights(rig_.WeightType(), 0, rig_.R(), rig_.C(), rig_.C());
  }
  uint64_t TileBytes() { return rig_.R() * rig_.C() * rig_.WeightBytes(); }
  uint64_t TileT() { return rig_.T(TileBytes(), rig_.R()); }  // a full tile: R rows
  CycleRig rig_;
};

TEST_P(CycleBucketTest, MatmulAfterItsWeightLoadSplitsIntoLoadStallShiftAndActive) {
  // MATMUL d 1, ready at 2; tile in the FIFO at 1 + T; shadow full at 1 + T + R.
  const uint64_t b = 6, t = TileT();
  auto stats = rig_.Run({FullTile(), Matmul(0, 0, b, true, false, rig_.MatmulType()), Halt()});
  ASSERT_TRUE(stats.ok()) << stats.status();
  EXPECT_EQ(stats->cycles, 1 + t + rig_.R() + b + rig_.R() + rig_.C() - 2);
  EXPECT_EQ(stats->buckets.idle, 2u);                     // [0, 2)
  EXPECT_EQ(stats->buckets.weight_load_stall, t - 1);     // [2, 1 + T)
  EXPECT_EQ(stats->buckets.weight_shift, rig_.R());       // [1 + T, 1 + T + R)
  EXPECT_EQ(stats->buckets.active, b + rig_.R() + rig_.C() - 2);
  EXPECT_EQ(stats->buckets.total(), stats->cycles);
  // Traffic: B rows of R words into the array, B rows of C words into the accumulators.
  EXPECT_EQ(stats->ub_to_array_bytes, b * rig_.R() * 4);
  EXPECT_EQ(stats->accumulator_bytes, b * rig_.C() * 4);
  EXPECT_EQ(stats->dram_to_weights_bytes, TileBytes());
}

TEST_P(CycleBucketTest, VectorWorkIsNonMatrix) {
  auto stats = rig_.Run({testing::Activate(isa::ActFunc::None, 0, 0, 5), Halt()});
  ASSERT_TRUE(stats.ok()) << stats.status();
  EXPECT_EQ(stats->buckets.idle, 1u);
  EXPECT_EQ(stats->buckets.non_matrix, rig_.VectorCycles(5));
  EXPECT_EQ(stats->accumulator_bytes, 5 * rig_.C() * 4);  // ACTIVATE reads 5 accumulator rows
}

TEST_P(CycleBucketTest, SyncHoldIsSyncWaitUnlessTheArrayIsBusy) {
  // LOAD d 0 done 1 + T; the controller reaches SYNC at 1 and holds it until 1 + T, then 1 cycle.
  const uint64_t t = rig_.T(32, 1);
  auto stats = rig_.Run({Load(DType::F32, 0, 0, 1, 8, 8), isa::Make(Opcode::SYNC), Halt()});
  ASSERT_TRUE(stats.ok()) << stats.status();
  EXPECT_EQ(stats->cycles, 2 + t);
  EXPECT_EQ(stats->buckets.idle, 1u);
  EXPECT_EQ(stats->buckets.sync_wait, 1 + t);
  // Behind a MATMUL, the held cycles are the MATMUL's (active, stalls); SYNC keeps its own cycle.
  const uint64_t b = 3, tw = TileT();
  auto mm = rig_.Run({FullTile(), Matmul(0, 0, b, true, false, rig_.MatmulType()),
                      isa::Make(Opcode::SYNC), Halt()});
  ASSERT_TRUE(mm.ok()) << mm.status();
  EXPECT_EQ(mm->cycles, 1 + tw + rig_.R() + b + rig_.R() + rig_.C() - 2 + 1);
  EXPECT_EQ(mm->buckets.sync_wait, 1u);
  EXPECT_EQ(mm->buckets.active, b + rig_.R() + rig_.C() - 2);
  EXPECT_EQ(mm->buckets.total(), mm->cycles);
}

TEST_P(CycleBucketTest, ComputeQueueWaitingForATokenIsInputStall) {
  // WAIT(compute) is ready at 3 (d 2) and gets its token at 1 + T; VECTOR follows.
  const uint64_t t = rig_.T(4 * 8 * 4, 4);
  auto stats = rig_.Run({Load(DType::F32, 0, 0, 4, 8, 8), Token(Opcode::SIGNAL, Queue::Load, 0),
                         Token(Opcode::WAIT, Queue::Compute, 0),
                         Vector(isa::VectorOp::Relu, 0, 0, 0, 4), Halt()});
  ASSERT_TRUE(stats.ok()) << stats.status();
  EXPECT_EQ(stats->buckets.idle, 3u);
  EXPECT_EQ(stats->buckets.input_stall, 1 + t - 3);
  EXPECT_EQ(stats->buckets.non_matrix, rig_.VectorCycles(4));
  EXPECT_EQ(stats->buckets.total(), stats->cycles);
}

TEST_P(CycleBucketTest, DmaOnlyProgramsAreIdle) {
  auto stats = rig_.Run({Load(DType::F32, 0, 0, 2, 8, 8), Store(DType::F32, 0x100, 0, 2, 8, 8),
                         Halt()});
  ASSERT_TRUE(stats.ok()) << stats.status();
  EXPECT_EQ(stats->buckets.idle, stats->cycles);
  EXPECT_EQ(stats->dram_to_ub_bytes, 64u);
  EXPECT_EQ(stats->ub_to_dram_bytes, 64u);
}

INSTANTIATE_TEST_SUITE_P(Archs, CycleBucketTest, ::testing::ValuesIn(testing::AllCases()),
                         testing::CaseName);

TEST(CycleModelTest, OpCyclesAndTraceFollowTheInstructions) {
  CycleRig rig(testing::TinyCase());
  isa::Program program;
  program.add_op_names("load");
  program.add_op_names("matmul");
  const std::vector<isa::Instruction> code = {
      // X'(256 B, 8 rows) = 16, Lat = 40. The LOAD leaves the channel at 1 + 16 = 17 and releases
      // the load queue then (rule 3, version 3).
      Load(DType::F32, 0, 0, 8, 8, 8),      // op 0: s 1, done 1 + 16 + 40 = 57
      LoadWeights(DType::F32, 0, 8, 8, 8),  // op 1: s 17, channel [17, 33), done 33 + 40 = 73
      Matmul(0, 0, 8, true),                // op 1: s 73 + 8 = 81, done 81 + 8 + 14 = 103
      isa::Make(Opcode::SYNC),              // op 1: reached at 3, dispatched at 103, done 104
      testing::Activate(isa::ActFunc::None, 0, 0, 8),  // op 1: d 104, s 105, done 105 + 8 = 113
      Halt(),                               // op 1
  };
  for (uint32_t op : {0u, 1u, 1u, 1u, 1u, 1u}) program.add_inst_op(op);
  auto stats = rig.Run(code, /*trace=*/true, &program);
  ASSERT_TRUE(stats.ok()) << stats.status();
  EXPECT_EQ(stats->cycles, 113u);
  EXPECT_EQ(stats->op_cycles, (std::vector<uint64_t>{56, 113 - 17}));
  EXPECT_EQ(stats->op_instructions, (std::vector<uint64_t>{1, 5}));
  ASSERT_EQ(stats->trace.size(), 5u);
  const std::vector<std::string> units = {"load DMA", "weight DMA", "MXU", "controller",
                                          "vector unit"};
  const std::vector<std::pair<uint64_t, uint64_t>> spans = {
      {1, 57}, {17, 73}, {81, 103}, {3, 104}, {105, 113}};
  for (size_t k = 0; k < units.size(); ++k) {
    EXPECT_EQ(stats->trace[k].unit, units[k]);
    EXPECT_EQ(stats->trace[k].instruction, k);
    EXPECT_EQ(stats->trace[k].start, spans[k].first) << units[k];
    EXPECT_EQ(stats->trace[k].end, spans[k].second) << units[k];
  }
  // Buckets: idle [0, 3); MATMUL ready at max(d 2 + 1, 0) = 3: load stall [3, 73), shift
  // [73, 81), active [81, 103), sync [103, 104), idle [104, 105), non-matrix [105, 113).
  EXPECT_EQ(stats->buckets.weight_load_stall, 70u);
  EXPECT_EQ(stats->buckets.weight_shift, 8u);
  EXPECT_EQ(stats->buckets.active, 22u);
  EXPECT_EQ(stats->buckets.sync_wait, 1u);
  EXPECT_EQ(stats->buckets.non_matrix, 8u);
  EXPECT_EQ(stats->buckets.idle, 4u);
  // No trace unless asked for.
  auto quiet = rig.Run(code, /*trace=*/false, &program);
  ASSERT_TRUE(quiet.ok());
  EXPECT_TRUE(quiet->trace.empty());
  EXPECT_EQ(quiet->engine, "cycle");
}

TEST(CycleModelTest, TilesAndTokensLeftByTheLastLaunchAreThereAtCycleZero) {
  CycleRig rig(testing::TinyCase());
  ASSERT_TRUE(rig.Run({LoadWeights(DType::F32, 0, 8, 8, 8), Token(Opcode::SIGNAL, Queue::Load, 3),
                       Halt()})
                  .ok());
  ASSERT_EQ(rig.state().mxu[0].weight_fifo.size(), 1u);
  // The tile shifts over [0, R): MATMUL d 0 starts at 8 and completes at 8 + 4 + 8 + 8 - 2 = 26.
  // The WAIT (d 1) finds the token at 2.
  auto stats = rig.Run({Matmul(0, 0, 4, true), Token(Opcode::WAIT, Queue::Store, 3), Halt()});
  ASSERT_TRUE(stats.ok()) << stats.status();
  EXPECT_EQ(stats->cycles, 26u);
  EXPECT_EQ(stats->buckets.weight_load_stall, 0u);  // the tile was in the FIFO from cycle 0
  EXPECT_EQ(stats->buckets.weight_shift, 7u);       // ready at 1, start at 8
  EXPECT_EQ(rig.state().semaphores[3], 0u);
  EXPECT_TRUE(rig.state().mxu[0].weight_fifo.empty());
}

// ---- The TPU v1 paper (Jouppi et al., ISCA 2017) on the tpu-v1 preset -----------------------

TEST(CycleTpuV1Test, PeakIs92Tops) {
  const isa::ArchConfig arch = isa::LoadPreset("tpu-v1").value();
  // 256 x 256 MACs x 2 ops x 700 MHz = 91,750,400,000,000 ops/s.
  const double peak = static_cast<double>(isa::PeakMacsPerCycle(arch)) * 2 * arch.clock_mhz() * 1e6;
  EXPECT_DOUBLE_EQ(peak, 91750400000000.0);
  EXPECT_EQ(std::lround(peak / 1e12), 92);
}

TEST(CycleTpuV1Test, RooflineRidgeIsAbout1349MacsPerWeightByte) {
  const isa::ArchConfig arch = isa::LoadPreset("tpu-v1").value();
  // 65,536 MACs/cycle / (34 GB/s / 700 MHz = 48.571 B/cycle) = 1,349.27 MACs per byte.
  const double bytes_per_cycle = arch.dram_bandwidth_gbps() * 1e9 / (arch.clock_mhz() * 1e6);
  EXPECT_EQ(std::floor(isa::PeakMacsPerCycle(arch) / bytes_per_cycle), 1349.0);
}

TEST(CycleTpuV1Test, A64KiBWeightTileTakes1350TransferCyclesPlusLatency) {
  CycleRig rig(testing::TpuV1Case());
  // 65,536 B / 48.571 B/cycle = 1,349.27 -> 1,350 cycles on the channel, + 100 latency, + 1 dispatch.
  auto stats = rig.Run({LoadWeights(DType::I8, 0, 256, 256, 256), Halt()});
  ASSERT_TRUE(stats.ok()) << stats.status();
  EXPECT_EQ(stats->cycles, 1u + 1350 + 100);
  EXPECT_EQ(stats->dram_to_weights_bytes, 65536u);
}

TEST(CycleTpuV1Test, MatrixMultiplyOfBRowsTakesBCyclesOnceThePipelineIsFull) {
  CycleRig rig(testing::TpuV1Case());
  // 1 + 1450 (tile) + 256 (shift) + 256 (feed) + 510 (R + C - 2) for the first; 256 for each other.
  std::vector<isa::Instruction> code = {LoadWeights(DType::I8, 0, 256, 256, 256),
                                        Matmul(0, 0, 256, true, false, DType::I8)};
  for (int k = 1; k < 4; ++k) code.push_back(Matmul(256 * k, 256 * k, 256, false, false, DType::I8));
  code.push_back(Halt());
  auto stats = rig.Run(code);
  ASSERT_TRUE(stats.ok()) << stats.status();
  EXPECT_EQ(stats->cycles, 1u + 1450 + 256 + 256 + 510 + 3 * 256);
  EXPECT_EQ(stats->buckets.active, 4u * 256 + 510);
  EXPECT_EQ(stats->macs, 4u * 256 * 65536);
}

}  // namespace
}  // namespace tpusim::simulator
