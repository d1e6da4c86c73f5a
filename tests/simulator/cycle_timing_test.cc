// The timing model of docs/timing.md, instruction by instruction: every single-instruction program of
// its table and the common small sequences, on tiny (8x8), a 16x16 arch built in the test and tpu-v1.
// Expected counts are the doc's formulas evaluated here from the hand-written numbers of
// cycle_test_util.h (tiny: BW 16 B/cycle, Lat 40, 2 UB banks; a16: BW 48, Lat 10, 2 banks; tpu-v1:
// BW 340/7, Lat 100, 8 banks). A DMA of S bytes in `rows` UB rows holds the DRAM channel
// X'(S, rows) = max(ceil(S / BW), ceil(rows / banks)) cycles, releases its queue when it leaves the
// channel (t_c + X') and completes Lat cycles later (rule 3, contract version 3).
#include <algorithm>
#include <cstdint>
#include <tuple>
#include <vector>

#include "cycle_test_util.h"

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

class CycleTimingTest : public ::testing::TestWithParam<ArchCase> {
 protected:
  CycleTimingTest() : rig_(GetParam()) {}
  uint64_t Cycles(const std::vector<isa::Instruction>& code) {
    auto stats = rig_.Run(code);
    EXPECT_TRUE(stats.ok()) << stats.status();
    if (!stats.ok()) return 0;
    EXPECT_EQ(stats->buckets.total(), stats->cycles);
    return stats->cycles;
  }
  // A full weight tile (R x C elements of the mode's weight type).
  isa::Instruction FullTile() {
    return LoadWeights(rig_.WeightType(), 0, rig_.R(), rig_.C(), rig_.C());
  }
  uint64_t TileBytes() { return rig_.R() * rig_.C() * rig_.WeightBytes(); }
  uint64_t TileT() { return rig_.T(TileBytes(), rig_.R()); }  // a full tile: R rows
  isa::Instruction Mm(uint64_t rows, bool pop) {
    return Matmul(0, 0, rows, pop, false, rig_.MatmulType());
  }
  CycleRig rig_;
};

TEST_P(CycleTimingTest, HaltAloneTakesNoCycles) { EXPECT_EQ(Cycles({Halt()}), 0u); }

TEST_P(CycleTimingTest, LoadTakesOnePlusTransferPlusLatency) {
  // LOAD f32 5 rows x Lw lanes: S = 5 x Lw x 4; cycles = 1 + ceil(S / BW) + Lat
  // (tiny: 1 + 160/16 + 40 = 51).
  const uint64_t s = 5 * rig_.Lw() * 4;
  EXPECT_EQ(Cycles({Load(DType::F32, 0, 0, 5, rig_.Lw(), rig_.Lw()), Halt()}), 1 + rig_.T(s, 5));
}

TEST_P(CycleTimingTest, LoadRoundsPartialTransferCyclesUp) {
  // LOAD bf16 1 row x 3 lanes: S = 6 bytes; ceil(6 / BW) = 1 on every arch here.
  EXPECT_EQ(Cycles({Load(DType::BF16, 0, 0, 1, 3, 3), Halt()}), 1 + 1 + rig_.Lat());
}

TEST_P(CycleTimingTest, StoreTakesOnePlusTransferPlusLatency) {
  // STORE f32 3 rows x Lw lanes: S = 3 x Lw x 4 (tiny: 1 + 96/16 + 40 = 47).
  const uint64_t s = 3 * rig_.Lw() * 4;
  EXPECT_EQ(Cycles({Store(DType::F32, 0x100, 0, 3, rig_.Lw(), rig_.Lw()), Halt()}), 1 + rig_.T(s, 3));
}

TEST_P(CycleTimingTest, LoadWeightsTakesOnePlusTransferPlusLatency) {
  // A full tile: S = R x C x bytes (tiny: 8 x 8 x 4 = 256 B -> 1 + 16 + 40 = 57;
  // tpu-v1: 65,536 B -> 1 + ceil(65536 x 7 / 340) + 100 = 1 + 1350 + 100).
  EXPECT_EQ(Cycles({FullTile(), Halt()}), 1 + TileT());
}

TEST_P(CycleTimingTest, LoadWeightsThenMatmulFillsShiftsFeedsAndDrains) {
  // 1 + T(S) + R (shift) + B (feed) + R + C - 2 (wavefront); tiny, B = 5: 1 + 56 + 8 + 5 + 14 = 84.
  const uint64_t b = 5;
  EXPECT_EQ(Cycles({FullTile(), Mm(b, true), Halt()}),
            1 + TileT() + rig_.R() + b + rig_.R() + rig_.C() - 2);
}

TEST_P(CycleTimingTest, VectorTakesRowsTimesLanesOverVectorLanes) {
  // 1 + ceil(N x Lw / V); N = 7 (tiny: 1 + 56/8 = 8; a16: 1 + ceil(112/6) = 20; tpu-v1: 1 + 7).
  EXPECT_EQ(Cycles({Vector(isa::VectorOp::Relu, 20, 0, 10, 7), Halt()}), 1 + rig_.VectorCycles(7));
  if (!rig_.int8()) {  // int8 mode has copy and relu only
    EXPECT_EQ(Cycles({Vector(isa::VectorOp::Add, 20, 0, 10, 7), Halt()}), 1 + rig_.VectorCycles(7));
    // A reduction reads N rows and writes one: the same formula.
    EXPECT_EQ(Cycles({Vector(isa::VectorOp::ReduceSum, 20, 0, 0, 7), Halt()}),
              1 + rig_.VectorCycles(7));
  }
}

TEST_P(CycleTimingTest, ActivateTakesTheVectorFormula) {
  EXPECT_EQ(Cycles({testing::Activate(isa::ActFunc::Relu, 0, 0, 3), Halt()}),
            1 + rig_.VectorCycles(3));
}

TEST_P(CycleTimingTest, BackToBackMatmulsCostTheirRowsOnceThePipelineIsFull) {
  // The first as above; each later MATMUL on the same weights adds exactly its B rows.
  const uint64_t first = 1 + TileT() + rig_.R() + 4 + rig_.R() + rig_.C() - 2;
  EXPECT_EQ(Cycles({FullTile(), Mm(4, true), Mm(6, false), Mm(3, false), Mm(9, false), Halt()}),
            first + 6 + 3 + 9);
}

TEST_P(CycleTimingTest, SyncWaitsForTheLastCompletionAndTakesOneCycle) {
  EXPECT_EQ(Cycles({isa::Make(Opcode::SYNC), Halt()}), 1u);
  // LOAD: d 0, s 1, done 1 + T. SYNC at 1 + T, done 2 + T. LOAD: d 2 + T, s 3 + T, done 3 + 2T.
  const uint64_t t = rig_.T(8 * 4, 1);
  const isa::Instruction load = Load(DType::F32, 0, 0, 1, 8, 8);
  EXPECT_EQ(Cycles({load, isa::Make(Opcode::SYNC), load, Halt()}), 3 + 2 * t);
}

TEST_P(CycleTimingTest, SameQueueDmasPipelineOnTheChannel) {
  // LOAD then LOAD: the first holds the channel [1, 1 + X') and releases the queue at 1 + X'; the
  // second starts then (d 1 + 1 <= 1 + X'), holds [1 + X', 1 + 2X') and completes at 1 + 2X' + Lat
  // (version 2, one DMA at a time: 1 + 2T = 1 + 2X' + 2 Lat).
  const uint64_t x = rig_.Hold(8 * 4, 1);
  const isa::Instruction load = Load(DType::F32, 0, 0, 1, 8, 8);
  EXPECT_EQ(Cycles({load, load, Halt()}), 1 + 2 * x + rig_.Lat());
}

TEST_P(CycleTimingTest, LoadAndStoreShareTheDramChannel) {
  // LOAD (d 0, request at 1) and STORE (d 1, request at 2) overlap; the channel serves the STORE
  // after the LOAD's hold: t_c = 1 + X'_load, done = 1 + X'_load + X'_store + Lat.
  const uint64_t s_load = 6 * 8 * 4, s_store = 4 * 8 * 4;
  const uint64_t expected = std::max(
      1 + rig_.T(s_load, 6),
      std::max<uint64_t>(2, 1 + rig_.Hold(s_load, 6)) + rig_.Hold(s_store, 4) + rig_.Lat());
  EXPECT_EQ(Cycles({Load(DType::F32, 0, 0, 6, 8, 8), Store(DType::F32, 0x1000, 20, 4, 8, 8), Halt()}),
            expected);
}

TEST_P(CycleTimingTest, NarrowDmasAreBoundByTheUbPortNotTheBandwidth) {
  // 64 rows of one int8 lane: S = 64 B. tiny: X = 4, port ceil(64 / 2) = 32 -> 1 + 32 + 40 = 73;
  // a16: X = ceil(64 / 48) = 2, port 32 -> 1 + 32 + 10 = 43; tpu-v1: X = ceil(64 x 7 / 340) = 2,
  // port ceil(64 / 8) = 8 -> 1 + 8 + 100 = 109.
  const uint64_t port = (64 + rig_.arch_case().banks - 1) / rig_.arch_case().banks;
  ASSERT_GT(port, rig_.Xfer(64));
  EXPECT_EQ(Cycles({Load(DType::I8, 0, 0, 64, 1, 1), Halt()}), 1 + port + rig_.Lat());
  EXPECT_EQ(Cycles({Store(DType::I8, 0x1000, 0, 64, 1, 1), Halt()}), 1 + port + rig_.Lat());
  // LOAD_WEIGHTS moves its tile rows at the same rate: R rows of one int8 weight (tiny: S = 8 B,
  // X = 1, port 4 -> 1 + 4 + 40 = 45).
  const uint64_t tile_port = (rig_.R() + rig_.arch_case().banks - 1) / rig_.arch_case().banks;
  EXPECT_EQ(Cycles({LoadWeights(DType::I8, 0, rig_.R(), 1, 1), Halt()}),
            1 + std::max(rig_.Xfer(rig_.R()), tile_port) + rig_.Lat());
}

TEST_P(CycleTimingTest, RowsWithoutBytesStillHoldTheUbPort) {
  // lanes = 0 moves no bytes (X = 0) but still writes 10 UB rows: ceil(10 / banks) cycles
  // (tiny, a16: 5; tpu-v1: 2). rows = 0 never holds the channel: 1 + Lat.
  const uint64_t banks = rig_.arch_case().banks;
  EXPECT_EQ(Cycles({Load(DType::I8, 0, 0, 10, 0, 1), Halt()}), 1 + (10 + banks - 1) / banks + rig_.Lat());
  EXPECT_EQ(Cycles({Load(DType::I8, 0, 0, 0, 8, 8), Halt()}), 1 + rig_.Lat());
}

TEST_P(CycleTimingTest, APortBoundLoadHoldsTheChannelForTheStoreBehindIt) {
  // LOAD i8 64 x 1 (request 1, hold P = ceil(64 / banks)) then STORE i8 4 x 1 (request 2, hold
  // max(ceil(4 / BW), ceil(4 / banks))): the STORE starts on the channel at 1 + P.
  // tiny: LOAD done 1 + 32 + 40 = 73, STORE 33 + 2 + 40 = 75.
  const uint64_t load_hold = rig_.Hold(64, 64), store_hold = rig_.Hold(4, 4);
  EXPECT_EQ(Cycles({Load(DType::I8, 0, 0, 64, 1, 1), Store(DType::I8, 0x1000, 100, 4, 1, 1), Halt()}),
            1 + load_hold + store_hold + rig_.Lat());
}

TEST_P(CycleTimingTest, SignalAndWaitPassATokenBetweenQueuesInZeroCycles) {
  // LOAD d0 s1 done 1+T; SIGNAL(load) completes with it at 1+T; WAIT(compute) d2 takes the token at
  // 1+T; VECTOR d3 starts at 1+T and takes ceil(4 Lw / V).
  const uint64_t t = rig_.T(4 * 8 * 4, 4);
  EXPECT_EQ(Cycles({Load(DType::F32, 0, 0, 4, 8, 8), Token(Opcode::SIGNAL, Queue::Load, 0),
                    Token(Opcode::WAIT, Queue::Compute, 0), Vector(isa::VectorOp::Relu, 0, 0, 0, 4),
                    Halt()}),
            1 + t + rig_.VectorCycles(4));
}

TEST_P(CycleTimingTest, WeightLoadHidesUnderARunningMatmul) {
  // 0 LOAD_WEIGHTS A   load q:  s 1, leaves the channel at 1 + X', done a1 = 1 + T
  // 1 MATMUL pop B     compute: starts when A has shifted: s1 = a1 + R
  // 2 LOAD_WEIGHTS B   load q:  s 1 + X' (A released the queue; the FIFO holds 1 < F),
  //                             done a2 = 1 + 2X' + Lat = a1 + X'
  // 3 MATMUL pop B     starts at max(s1 + B, shift of B done = max(a2, s1) + R)
  // 4 SIGNAL compute 1 completes with MATMUL 3 at s2 + B + R + C - 2
  // 5 WAIT store 1, 6 STORE of 4 x 8 f32 -> done = that + T(128)
  const uint64_t t = TileT(), x = t - rig_.Lat();
  const uint64_t b = t;  // long enough to hide the second transfer (fits the accumulators)
  const uint64_t a1 = 1 + t, s1 = a1 + rig_.R(), a2 = a1 + x;
  const uint64_t s2 = std::max(s1 + b, std::max(a2, s1) + rig_.R());
  EXPECT_EQ(s2, s1 + b);  // hidden
  const uint64_t m2 = s2 + b + rig_.R() + rig_.C() - 2;
  auto stats = rig_.Run({FullTile(), Mm(b, true), FullTile(), Mm(b, true),
                         Token(Opcode::SIGNAL, Queue::Compute, 1),
                         Token(Opcode::WAIT, Queue::Store, 1),
                         Store(DType::F32, 0x1000, 0, 4, 8, 8), Halt()},
                        /*trace=*/true);
  ASSERT_TRUE(stats.ok()) << stats.status();
  EXPECT_EQ(stats->cycles, m2 + rig_.T(4 * 8 * 4, 4));
  ASSERT_EQ(stats->trace.size(), 5u);
  EXPECT_EQ(stats->trace[2].unit, "weight DMA");
  EXPECT_EQ(stats->trace[2].start, 1 + x);
  EXPECT_EQ(stats->trace[1].end, s2);  // the MXU track: MATMUL 1 until MATMUL 3 starts feeding
  EXPECT_EQ(stats->trace[3].start, s2);
  EXPECT_EQ(stats->trace[3].end, m2);
}

TEST_P(CycleTimingTest, FullWeightFifoStallsTheNextLoadWeightsUntilAPop) {
  // F LOAD_WEIGHTS fill the FIFO (the last one done by 1 + F T, 1 + F X' + Lat under version 3);
  // a long VECTOR holds the compute queue, so the first pop (and with it the start of LOAD_WEIGHTS
  // number F+1) waits for the VECTOR: s = vector done.
  const uint64_t f = rig_.arch_case().arch.weight_fifo_depth(), t = TileT();
  std::vector<isa::Instruction> code(f, FullTile());
  const uint64_t n = (f * t + 50) * rig_.V() / rig_.Lw() + 1;  // the VECTOR outlasts F transfers
  code.push_back(Vector(isa::VectorOp::Copy, 0, 0, 0, n));      // d = f
  code.push_back(Mm(2, true));                                  // d = f + 1
  code.push_back(FullTile());                                   // d = f + 2
  code.push_back(Halt());
  const uint64_t vector_done = f + 1 + rig_.VectorCycles(n);
  ASSERT_GT(vector_done, 1 + f * t);
  const uint64_t pop = vector_done;  // tile 1 shifted long ago
  auto stats = rig_.Run(code, /*trace=*/true);
  ASSERT_TRUE(stats.ok()) << stats.status();
  ASSERT_EQ(stats->trace.size(), f + 3);
  EXPECT_EQ(stats->trace[f + 1].start, pop);       // the MATMUL
  EXPECT_EQ(stats->trace[f + 2].start, pop);       // LOAD_WEIGHTS F+1 starts at the pop
  EXPECT_EQ(stats->cycles, std::max(pop + t, pop + 2 + rig_.R() + rig_.C() - 2));
}

TEST_P(CycleTimingTest, FullInstructionQueueHoldsDispatch) {
  // Q + 1 VECTORs of 20 rows (v = ceil(20 Lw / V) cycles each), then a LOAD. The compute queue
  // holds Q, so VECTOR Q is dispatched when VECTOR 0 completes at 1 + v (> Q here), the LOAD one
  // cycle later, and it starts at max(Q, 1 + v) + 2. The VECTORs run back to back: 1 + (Q + 1) v.
  const uint64_t q = rig_.arch_case().arch.instruction_queue_depth(), v = rig_.VectorCycles(20);
  ASSERT_GT(1 + v, q);
  std::vector<isa::Instruction> code(q + 1, Vector(isa::VectorOp::Relu, 0, 0, 0, 20));
  code.push_back(Load(DType::F32, 0, 100, 1, 8, 8));
  code.push_back(Halt());
  auto stats = rig_.Run(code, /*trace=*/true);
  ASSERT_TRUE(stats.ok()) << stats.status();
  ASSERT_EQ(stats->trace.size(), q + 2);
  const uint64_t load_start = std::max(q, 1 + v) + 2;
  EXPECT_EQ(stats->trace[q + 1].start, load_start);
  EXPECT_EQ(stats->cycles, std::max(1 + (q + 1) * v, load_start + rig_.T(32, 1)));
}

TEST(CycleUbPortTest, OnTinyAnInt8LoadIsPortBoundAtAnyWidth) {
  // tiny: BW 16 B/cycle, 2 UB banks, Lat 40. LOAD i8 64 x 8: S = 512 B, X = 32, port 64 / 2 = 32
  // -> 1 + 32 + 40 = 73. LOAD i8 64 x 1: S = 64 B, X = 4 (version 1 of the contract: 1 + 4 + 40 =
  // 45), port 32 -> 73 as well. LOAD bf16 64 x 8: S = 1024 B, X = 64 > 32 -> 1 + 64 + 40 = 105.
  CycleRig rig(testing::TinyCase());
  for (const auto& [lanes, dtype, expected] :
       {std::tuple<uint64_t, DType, uint64_t>{8, DType::I8, 73}, {1, DType::I8, 73},
        {8, DType::BF16, 105}}) {
    auto stats = rig.Run({Load(dtype, 0, 0, 64, lanes, lanes), Halt()});
    ASSERT_TRUE(stats.ok()) << stats.status();
    EXPECT_EQ(stats->cycles, expected) << lanes << " lanes";
  }
}

INSTANTIATE_TEST_SUITE_P(Archs, CycleTimingTest, ::testing::ValuesIn(testing::AllCases()),
                         testing::CaseName);

}  // namespace
}  // namespace tpusim::simulator
