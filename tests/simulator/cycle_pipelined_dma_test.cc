// Pipelined DMAs (docs/timing.md rule 3, contract version 3): a DMA releases its queue when its
// transfer leaves the DRAM channel (t_c + X', at least s + 1) and completes Lat cycles later, so one
// queue keeps several DMAs in flight, bounded by its Q entries (rule 1) and, for LOAD_WEIGHTS, by
// the F tiles held (rule 4). Expected counts are the doc's formulas evaluated from the hand-written
// numbers of cycle_test_util.h (tiny: BW 16 B/cycle, Lat 40, 2 UB banks, F 2, Q 8; a16: BW 48,
// Lat 10, F 3, Q 4; tpu-v1: BW 340/7, Lat 100, 8 banks).
#include <algorithm>
#include <cstdint>
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
using testing::Token;
using testing::Vector;

class CyclePipelinedDmaTest : public ::testing::TestWithParam<ArchCase> {
 protected:
  CyclePipelinedDmaTest() : rig_(GetParam()) {}
  uint64_t Q() const { return rig_.arch_case().arch.instruction_queue_depth(); }
  uint64_t F() const { return rig_.arch_case().arch.weight_fifo_depth(); }
  isa::Instruction FullTile() {
    return LoadWeights(rig_.WeightType(), 0, rig_.R(), rig_.C(), rig_.C());
  }
  uint64_t TileHold() { return rig_.Hold(rig_.R() * rig_.C() * rig_.WeightBytes(), rig_.R()); }
  CycleRig rig_;
};

TEST_P(CyclePipelinedDmaTest, TwoLoadsBackToBackOverlapTheirLatencies) {
  // LOAD A (6 rows) d 0, s 1: channel [1, 1 + X'a), released at 1 + X'a, done 1 + X'a + Lat.
  // LOAD B (3 rows) d 1, s 1 + X'a (>= d + 1): channel [1 + X'a, 1 + X'a + X'b), done X'b after A.
  // tiny: X'a = 6 x 8 x 4 / 16 = 12, X'b = 6: A [1, 13) done 53, B [13, 19) done 59.
  const uint64_t xa = rig_.Hold(6 * 8 * 4, 6), xb = rig_.Hold(3 * 8 * 4, 3);
  auto stats = rig_.Run({Load(DType::F32, 0, 0, 6, 8, 8), Load(DType::F32, 0x400, 10, 3, 8, 8),
                         Halt()},
                        /*trace=*/true);
  ASSERT_TRUE(stats.ok()) << stats.status();
  ASSERT_EQ(stats->trace.size(), 2u);
  EXPECT_EQ(stats->trace[0].start, 1u);
  EXPECT_EQ(stats->trace[0].end, 1 + xa + rig_.Lat());
  EXPECT_EQ(stats->trace[1].start, 1 + xa);
  EXPECT_EQ(stats->trace[1].end, 1 + xa + xb + rig_.Lat());
  EXPECT_EQ(stats->trace[1].end - stats->trace[0].end, xb);
  EXPECT_EQ(stats->cycles, 1 + xa + xb + rig_.Lat());
  EXPECT_EQ(stats->buckets.idle, stats->cycles);
}

TEST_P(CyclePipelinedDmaTest, QueueDepthBoundsTheDmasInFlight) {
  // Q + 1 one-row LOADs (X' = x: tiny 2, a16 1, tpu-v1 1). LOAD k < Q: d k, s 1 + k x, done
  // 1 + (k + 1) x + Lat. The queue is full after Q dispatches; LOAD Q is dispatched when LOAD 0
  // completes and frees its entry (c0 = 1 + x + Lat), starts at c0 + 1 (LOAD Q - 1 released the
  // queue at 1 + Q x, earlier) and completes at c0 + 1 + x + Lat. tiny: c0 = 43, LOAD 8 [44, 86).
  const uint64_t q = Q(), x = rig_.Hold(8 * 4, 1), lat = rig_.Lat();
  const uint64_t c0 = 1 + x + lat;
  ASSERT_GT(c0 + 1, 1 + q * x);  // the queue depth, not the channel, holds LOAD Q back
  std::vector<isa::Instruction> code;
  for (uint64_t k = 0; k <= q; ++k) code.push_back(Load(DType::F32, 32 * k, k, 1, 8, 8));
  code.push_back(Halt());
  auto stats = rig_.Run(code, /*trace=*/true);
  ASSERT_TRUE(stats.ok()) << stats.status();
  ASSERT_EQ(stats->trace.size(), q + 1);
  for (uint64_t k = 0; k < q; ++k) {
    EXPECT_EQ(stats->trace[k].start, 1 + k * x) << k;
    EXPECT_EQ(stats->trace[k].end, 1 + (k + 1) * x + lat) << k;
  }
  EXPECT_EQ(stats->trace[q].start, c0 + 1);
  EXPECT_EQ(stats->cycles, c0 + 1 + x + lat);
  // At most Q in flight at once, and Q at the start of LOAD Q - 1 (every earlier one is in its
  // latency then: 1 + (q - 1) x < c0).
  const auto in_flight_at = [&](uint64_t t) {
    uint64_t n = 0;
    for (const auto& s : stats->trace) n += s.start <= t && t < s.end;
    return n;
  };
  for (const auto& s : stats->trace) EXPECT_LE(in_flight_at(s.start), q);
  EXPECT_EQ(in_flight_at(1 + (q - 1) * x), q);
}

TEST_P(CyclePipelinedDmaTest, HeldTilesBoundTheLoadWeightsInFlight) {
  // F + 1 full tiles, then a MATMUL pop. LOAD_WEIGHTS k < F: s 1 + k X' (one after another on the
  // channel), done 1 + (k + 1) X' + Lat. LOAD_WEIGHTS F needs a held tile to go: the MATMUL pops
  // tile 0 once it has arrived and shifted, at m = 1 + X' + Lat + R; LOAD_WEIGHTS F starts at
  // max(m, 1 + F X') and completes X' + Lat later (the channel is free by then).
  // tiny (X' = 16, F = 2): m = 1 + 16 + 40 + 8 = 65 > 33, done 65 + 56 = 121.
  const uint64_t f = F(), x = TileHold(), lat = rig_.Lat();
  std::vector<isa::Instruction> code(f, FullTile());
  code.push_back(Matmul(0, 0, 2, true, false, rig_.MatmulType()));
  code.push_back(FullTile());
  code.push_back(Halt());
  // The loads get in ahead of the MATMUL's d + 1 = f + 1 on every arch here.
  const uint64_t m = std::max<uint64_t>(1 + x + lat + rig_.R(), f + 1);
  const uint64_t s_last = std::max(m, 1 + f * x);
  auto stats = rig_.Run(code, /*trace=*/true);
  ASSERT_TRUE(stats.ok()) << stats.status();
  ASSERT_EQ(stats->trace.size(), f + 2);
  for (uint64_t k = 0; k < f; ++k) EXPECT_EQ(stats->trace[k].start, 1 + k * x) << k;
  EXPECT_EQ(stats->trace[f].start, m);
  EXPECT_EQ(stats->trace[f + 1].start, s_last);
  EXPECT_EQ(stats->cycles, std::max(s_last + x + lat, m + 2 + rig_.R() + rig_.C() - 2));
}

TEST(CyclePipelinedDmaTinyTest, HeldTilesBindBeforeTheChannelOnTiny) {
  // tiny, by hand: F = 2 full f32 tiles (256 B, X' = 16) hold the channel [1, 17) and [17, 33); a
  // third could request it at 33 but waits for the pop at 1 + 16 + 40 + 8 = 65.
  CycleRig rig(testing::TinyCase());
  const isa::Instruction tile = LoadWeights(DType::F32, 0, 8, 8, 8);
  auto stats = rig.Run({tile, tile, Matmul(0, 0, 2, true), tile, Halt()}, /*trace=*/true);
  ASSERT_TRUE(stats.ok()) << stats.status();
  ASSERT_EQ(stats->trace.size(), 4u);
  EXPECT_EQ(stats->trace[1].start, 17u);
  EXPECT_EQ(stats->trace[2].start, 65u);
  EXPECT_EQ(stats->trace[3].start, 65u);
  EXPECT_EQ(stats->trace[3].end, 65u + 16 + 40);
}

TEST_P(CyclePipelinedDmaTest, SignalAfterPipelinedLoadsWaitsForTheLastCompletion) {
  // LOAD A (6 rows), LOAD B (3 rows) as in the first test; SIGNAL load (d 2) may start at B's
  // release 1 + X'a + X'b but completes with B at cb = 1 + X'a + X'b + Lat; the WAIT (d 3, ready at
  // 4) passes then and the VECTOR runs [cb, cb + v). Buckets: idle [0, 4), input stall [4, cb),
  // non-matrix [cb, cb + v). tiny: cb = 1 + 12 + 6 + 40 = 59, v = 4 -> 63.
  const uint64_t xa = rig_.Hold(6 * 8 * 4, 6), xb = rig_.Hold(3 * 8 * 4, 3);
  const uint64_t cb = 1 + xa + xb + rig_.Lat(), v = rig_.VectorCycles(4);
  auto stats = rig_.Run({Load(DType::F32, 0, 0, 6, 8, 8), Load(DType::F32, 0x400, 10, 3, 8, 8),
                         Token(Opcode::SIGNAL, Queue::Load, 0), Token(Opcode::WAIT, Queue::Compute, 0),
                         Vector(isa::VectorOp::Relu, 20, 0, 0, 4), Halt()},
                        /*trace=*/true);
  ASSERT_TRUE(stats.ok()) << stats.status();
  EXPECT_EQ(stats->cycles, cb + v);
  ASSERT_EQ(stats->trace.size(), 3u);
  EXPECT_EQ(stats->trace[2].unit, "vector unit");
  EXPECT_EQ(stats->trace[2].start, cb);
  EXPECT_EQ(stats->buckets.idle, 4u);
  EXPECT_EQ(stats->buckets.input_stall, cb - 4);
  EXPECT_EQ(stats->buckets.non_matrix, v);
}

TEST_P(CyclePipelinedDmaTest, AZeroRowDmaReleasesItsQueueOneCycleAfterItsStart) {
  // LOAD 6 rows: s 1, released at 1 + X', done c = 1 + X' + Lat. LOAD 0 rows: s 1 + X', never on
  // the channel, done 1 + X' + Lat = c (with the first). Another LOAD 0 rows: s 2 + X' (a queue
  // starts one DMA per cycle), done c + 1. tiny: 53, 54.
  const uint64_t x = rig_.Hold(6 * 8 * 4, 6), c = 1 + x + rig_.Lat();
  const isa::Instruction empty = Load(DType::F32, 0, 0, 0, 8, 8);
  auto stats = rig_.Run({Load(DType::F32, 0, 0, 6, 8, 8), empty, empty, Halt()}, /*trace=*/true);
  ASSERT_TRUE(stats.ok()) << stats.status();
  ASSERT_EQ(stats->trace.size(), 3u);
  EXPECT_EQ(stats->trace[0].end, c);
  EXPECT_EQ(stats->trace[1].start, 1 + x);
  EXPECT_EQ(stats->trace[1].end, c);
  EXPECT_EQ(stats->trace[2].start, 2 + x);
  EXPECT_EQ(stats->trace[2].end, c + 1);
  EXPECT_EQ(stats->cycles, c + 1);
}

INSTANTIATE_TEST_SUITE_P(Archs, CyclePipelinedDmaTest, ::testing::ValuesIn(testing::AllCases()),
                         testing::CaseName);

}  // namespace
}  // namespace tpusim::simulator
