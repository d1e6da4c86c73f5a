// SIGNAL under timing contract version 4, rule 7: a SIGNAL starts when rule 2 lets it, releases its
// queue at once (the next instruction of the queue may start in the same cycle), keeps its queue
// entry until it completes, and completes, adding its token, at the first cycle at which every
// earlier instruction of its queue has completed. Expected counts are worked out by hand in the
// comments, on `tiny`: R = C = 8, BW = 16 B/cycle, U = 2, Lat = 40, Lw = V = 8, Q = 8, F = 2. A LOAD
// of 4 f32 rows of 8 lanes (128 B) holds the channel X' = max(8, 2) = 8 cycles; of 1 row (32 B)
// X' = max(2, 1) = 2; a full f32 tile (256 B, 8 rows) X' = 16; a MATMUL of B rows completes at
// s + B + 8 + 8 - 2 = s + B + 14; VECTOR of N rows takes ceil(8 N / 8) = N cycles.
#include <cstdint>
#include <vector>

#include "cycle_test_util.h"

namespace tpusim::simulator {
namespace {

using isa::DType;
using isa::Instruction;
using isa::Opcode;
using isa::Queue;
using testing::CycleRig;
using testing::Halt;
using testing::Load;
using testing::Token;

Instruction MatmulOn(uint64_t mxu, uint64_t rows, bool pop, uint64_t acc_row) {
  return testing::OnUnit(testing::Matmul(0, acc_row, rows, pop), mxu);
}

TEST(CycleSignalTest, TheLoadAfterASignalStartsWhenTheFirstLoadLeavesTheChannel) {
  // LOAD A: d 0, s 1, channel [1, 9), releases the queue at 9, completes 1 + 8 + 40 = 49.
  // SIGNAL: d 1, starts 9 (A's release) and releases the queue at 9; A is in flight: it completes
  //   with A at 49.
  // LOAD B: d 2, s max(3, 9) = 9, channel [9, 17), completes 9 + 8 + 40 = 57 = cycles
  //   (1 + 2X' + Lat, as without the SIGNAL). Version 3 (the SIGNAL blocked the queue until 49):
  //   B [49, 57), done 97 = 1 + 2T.
  CycleRig rig(testing::TinyCase());
  auto stats = rig.Run({Load(DType::F32, 0, 0, 4, 8, 8), Token(Opcode::SIGNAL, Queue::Load, 0),
                        Load(DType::F32, 0x400, 40, 4, 8, 8), Halt()},
                       /*trace=*/true);
  ASSERT_TRUE(stats.ok()) << stats.status();
  EXPECT_EQ(stats->cycles, 57u);
  ASSERT_EQ(stats->trace.size(), 2u);  // SIGNAL has no slice
  EXPECT_EQ(stats->trace[0].end, 49u);
  EXPECT_EQ(stats->trace[1].start, 9u);
  EXPECT_EQ(stats->trace[1].end, 57u);
  EXPECT_EQ(rig.state().semaphores[0], 1u);  // nothing took the token
}

TEST(CycleSignalTest, ASignalCompletesWhileLaterDmasAreInFlightAndAWaitTakesItsToken) {
  // LOAD A, SIGNAL load 0, LOAD B as above: the SIGNAL completes at 49 while B (channel [9, 17))
  // is in flight until 57. WAIT compute 0: d 3, ready 4, takes the token at 49. VECTOR 16 rows:
  // d 4, starts 49, runs [49, 65) = cycles. Version 3: B [49, 57), done 97 = cycles.
  // Buckets: idle [0, 4) = 4, input_stall [4, 49) = 45, non_matrix [49, 65) = 16; 4 + 45 + 16 = 65.
  CycleRig rig(testing::TinyCase());
  auto stats = rig.Run({Load(DType::F32, 0, 0, 4, 8, 8), Token(Opcode::SIGNAL, Queue::Load, 0),
                        Load(DType::F32, 0x400, 40, 4, 8, 8), Token(Opcode::WAIT, Queue::Compute, 0),
                        testing::Vector(isa::VectorOp::Relu, 20, 0, 0, 16), Halt()},
                       /*trace=*/true);
  ASSERT_TRUE(stats.ok()) << stats.status();
  EXPECT_EQ(stats->cycles, 65u);
  ASSERT_EQ(stats->trace.size(), 3u);
  EXPECT_EQ(stats->trace[1].unit, "load DMA");
  EXPECT_EQ(stats->trace[1].start, 9u);
  EXPECT_EQ(stats->trace[1].end, 57u);
  EXPECT_EQ(stats->trace[2].unit, "vector unit");
  EXPECT_EQ(stats->trace[2].start, 49u);
  EXPECT_EQ(stats->buckets.idle, 4u);
  EXPECT_EQ(stats->buckets.input_stall, 45u);
  EXPECT_EQ(stats->buckets.non_matrix, 16u);
  EXPECT_EQ(stats->buckets.total(), stats->cycles);
}

TEST(CycleSignalTest, ASignalKeepsItsQueueEntryUntilItCompletes) {
  // LOAD A (4 rows): d 0, [1, 9), done 49. SIGNAL: d 1, starts 9, completes 49. LOADs L1..L6 of 1
  // row: d 2..7, channel [9 + 2(k - 1), 11 + 2(k - 1)), L6 [19, 21). The load queue holds A,
  // SIGNAL, L1..L6 = Q = 8 entries from cycle 7: L7 is dispatched when A and the SIGNAL free
  // theirs at 49, starts 50, channel [50, 52), completes 92 = cycles. (Were the SIGNAL's entry
  // freed at its start, L7 would be dispatched at 9 and complete at 21 + 2 + 40 = 63.)
  CycleRig rig(testing::TinyCase());
  std::vector<Instruction> code = {Load(DType::F32, 0, 0, 4, 8, 8),
                                   Token(Opcode::SIGNAL, Queue::Load, 0)};
  for (uint64_t k = 1; k <= 7; ++k) code.push_back(Load(DType::F32, 0x400 + 32 * k, 8 + k, 1, 8, 8));
  code.push_back(Halt());
  auto stats = rig.Run(code, /*trace=*/true);
  ASSERT_TRUE(stats.ok()) << stats.status();
  EXPECT_EQ(stats->cycles, 92u);
  ASSERT_EQ(stats->trace.size(), 8u);
  EXPECT_EQ(stats->trace[6].start, 19u);  // L6
  EXPECT_EQ(stats->trace[7].start, 50u);  // L7
}

TEST(CycleSignalTest, AMatmulAfterAComputeSignalStartsWhenTheFirstHasFedItsRows) {
  // LOAD_WEIGHTS: d 0, [1, 17), done 57, shift [57, 65). MATMUL pop 8 rows: d 1, s 65, feeds
  // [65, 73) (one unit: releases the queue at 73), done 65 + 8 + 14 = 87. SIGNAL compute 0: d 2,
  // starts 73, completes with the MATMUL at 87. MATMUL 8 rows (same weights): d 3, s 73, done
  // 73 + 22 = 95 = cycles. Version 3: s 87, done 109.
  // Buckets: active [65, 95) = 30, weight_load_stall [2, 57) = 55, weight_shift [57, 65) = 8,
  // idle [0, 2) = 2; 30 + 55 + 8 + 2 = 95.
  CycleRig rig(testing::TinyCase());
  auto stats = rig.Run({testing::LoadWeights(DType::F32, 0, 8, 8, 8), MatmulOn(0, 8, true, 0),
                        Token(Opcode::SIGNAL, Queue::Compute, 0), MatmulOn(0, 8, false, 8), Halt()});
  ASSERT_TRUE(stats.ok()) << stats.status();
  EXPECT_EQ(stats->cycles, 95u);
  EXPECT_EQ(stats->buckets.active, 30u);
  EXPECT_EQ(stats->buckets.weight_load_stall, 55u);
  EXPECT_EQ(stats->buckets.weight_shift, 8u);
  EXPECT_EQ(stats->buckets.idle, 2u);
}

TEST(CycleSignalTest, WithTwoUnitsASignalIgnoresALaterMatmulThatCompletesFirst) {
  // tiny with mxu_count 2, a zero tile in each unit's FIFO at cycle 0 (both shift [0, 8)).
  // MATMUL mxu=0 pop 32 rows: d 0, s 8, releases the queue at 9, done 8 + 32 + 14 = 54.
  // SIGNAL compute 0: d 1, starts 9; the MATMUL before it is in flight.
  // MATMUL mxu=1 pop 8 rows: d 2, s 9, done 9 + 8 + 14 = 31 — after the SIGNAL in program order,
  //   so it does not count: the SIGNAL completes with MATMUL 0 at 54 (not at 31).
  // WAIT store 0: d 3, passes at 54. STORE 1 row (32 B, X' 2): d 4, s 54, channel [54, 56), done
  //   56 + 40 = 96 = cycles.
  // Buckets: active [8, 54) = 46; MATMUL 0 waits for its shift [1, 8) = 7; idle [0, 1) and
  // [54, 96): 1 + 42 = 43; 46 + 7 + 43 = 96.
  CycleRig rig(testing::TinyWithUnits(2));
  for (size_t m = 0; m < 2; ++m) rig.state().mxu[m].weight_fifo.push_back(WeightTile(64, 0u));
  auto stats = rig.Run({MatmulOn(0, 32, true, 0), Token(Opcode::SIGNAL, Queue::Compute, 0),
                        MatmulOn(1, 8, true, 32), Token(Opcode::WAIT, Queue::Store, 0),
                        testing::Store(DType::F32, 0x1000, 0, 1, 8, 8), Halt()},
                       /*trace=*/true);
  ASSERT_TRUE(stats.ok()) << stats.status();
  EXPECT_EQ(stats->cycles, 96u);
  ASSERT_EQ(stats->trace.size(), 3u);
  EXPECT_EQ(stats->trace[1].start, 9u);
  EXPECT_EQ(stats->trace[2].unit, "store DMA");
  EXPECT_EQ(stats->trace[2].start, 54u);
  EXPECT_EQ(stats->buckets.active, 46u);
  EXPECT_EQ(stats->buckets.weight_shift, 7u);
  EXPECT_EQ(stats->buckets.idle, 43u);
  EXPECT_EQ(stats->buckets.total(), stats->cycles);
}

}  // namespace
}  // namespace tpusim::simulator
