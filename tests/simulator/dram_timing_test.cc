// The shared DRAM channel model (tpusim/simulator/dram_timing.h, docs/timing.md rule 3) on its own:
// the hold X'(S, rows) = max(ceil(S / BW), ceil(rows / banks)) and the one FIFO channel. Expected
// values are hand arithmetic on tiny (16 GB/s at 1000 MHz = 16 B/cycle, 2 UB banks, Lat 40) and
// tpu-v1 (34 GB/s at 700 MHz = 340/7 B/cycle, 8 banks, Lat 100).
#include "tpusim/simulator/dram_timing.h"

#include <cstdint>

#include "gtest/gtest.h"
#include "sim_test_util.h"
#include "tpusim/isa/arch_config.h"

namespace tpusim::simulator {
namespace {

using isa::DType;
using testing::Load;
using testing::LoadWeights;
using testing::Store;

DramTiming Tiny() { return DramTiming::FromArch(isa::LoadPreset("tiny").value()); }

TEST(DramTimingTest, TinyNumbersComeFromTheArch) {
  const DramTiming t = Tiny();
  EXPECT_EQ(t.latency, 40u);
  EXPECT_EQ(t.banks, 2u);
  EXPECT_FALSE(t.unbounded_bandwidth);
  EXPECT_EQ(t.TransferCycles(16), 1u);
  EXPECT_EQ(t.TransferCycles(17), 2u);
  EXPECT_EQ(t.TransferCycles(256), 16u);
}

TEST(DramTimingTest, HoldIsTheBandwidthOrTheUbPortWhicheverIsLonger) {
  const DramTiming t = Tiny();
  // LOAD i8 64 rows x 1 lane: S = 64 B, X = 64 / 16 = 4; port ceil(64 / 2) = 32 -> 32.
  EXPECT_EQ(t.HoldCycles(64, 64), 32u);
  // LOAD i8 64 x 8: S = 512, X = 32, port 32 -> 32.
  EXPECT_EQ(t.HoldCycles(512, 64), 32u);
  // LOAD f32 64 x 8: S = 2048, X = 128 > 32 -> 128.
  EXPECT_EQ(t.HoldCycles(2048, 64), 128u);
  // An odd row count rounds the port up: 3 rows of 1 byte -> X = 1, port ceil(3 / 2) = 2.
  EXPECT_EQ(t.HoldCycles(3, 3), 2u);
  // rows = 0 (so S = 0): never holds the channel. S = 0 with rows > 0 (lanes = 0): the port alone.
  EXPECT_EQ(t.HoldCycles(0, 0), 0u);
  EXPECT_EQ(t.HoldCycles(0, 5), 3u);
}

TEST(DramTimingTest, TpuV1PortNeverBindsForFullWidthRows) {
  const DramTiming t = DramTiming::FromArch(isa::LoadPreset("tpu-v1").value());
  EXPECT_EQ(t.banks, 8u);
  EXPECT_EQ(t.latency, 100u);
  // A 64 KiB weight tile, 256 rows: X = ceil(65536 x 7 / 340) = ceil(1349.27) = 1350; port 32.
  EXPECT_EQ(t.HoldCycles(65536, 256), 1350u);
  // One 256-lane int8 row: X = ceil(256 x 7 / 340) = 6; port 1.
  EXPECT_EQ(t.HoldCycles(256, 1), 6u);
  // 64 rows of one byte: X = ceil(448 / 340) = 2; port 8.
  EXPECT_EQ(t.HoldCycles(64, 64), 8u);
}

TEST(DramTimingTest, UnboundedBandwidthLeavesOnlyThePort) {
  isa::ArchConfig arch = isa::LoadPreset("tiny").value();
  arch.set_dram_bandwidth_gbps(1e13);  // 9 x 10^12 GB/s and more count as unbounded
  const DramTiming t = DramTiming::FromArch(arch);
  EXPECT_TRUE(t.unbounded_bandwidth);
  EXPECT_EQ(t.TransferCycles(1 << 20), 0u);
  EXPECT_EQ(t.HoldCycles(1 << 20, 7), 4u);  // ceil(7 / 2)
  EXPECT_EQ(t.HoldCycles(0, 0), 0u);
}

TEST(DramTimingTest, DmaShapeCountsBytesAndUbRows) {
  // LOAD bf16 5 x 3: 5 x 3 x 2 = 30 B in 5 rows; STORE f32 4 x 8: 128 B, 4 rows; LOAD_WEIGHTS
  // i8 8 x 6: 48 B, 8 rows.
  const DmaShape load = DmaShapeOf(Load(DType::BF16, 0, 0, 5, 3, 3));
  EXPECT_EQ(load.bytes, 30u);
  EXPECT_EQ(load.rows, 5u);
  const DmaShape store = DmaShapeOf(Store(DType::F32, 0, 0, 4, 8, 8));
  EXPECT_EQ(store.bytes, 128u);
  EXPECT_EQ(store.rows, 4u);
  const DmaShape weights = DmaShapeOf(LoadWeights(DType::I8, 0, 8, 6, 6));
  EXPECT_EQ(weights.bytes, 48u);
  EXPECT_EQ(weights.rows, 8u);
  // A non-DMA instruction moves nothing.
  const DmaShape none = DmaShapeOf(isa::Make(isa::Opcode::SYNC));
  EXPECT_EQ(none.bytes, 0u);
  EXPECT_EQ(none.rows, 0u);
}

TEST(DramChannelModelTest, BackToBackRequestsQueueInRequestOrder) {
  DramChannelModel ch(Tiny());
  // Request at 1 holding 10: [1, 11), completes 11 + 40 = 51. Request at 2 holding 4: waits for
  // the channel, [11, 15), completes 55. Request at 20 holding 2: channel free, [20, 22) -> 62.
  const DramChannelModel::Grant a = ch.Request(1, 10);
  EXPECT_EQ(a.begin, 1u);
  EXPECT_EQ(a.complete, 51u);
  const DramChannelModel::Grant b = ch.Request(2, 4);
  EXPECT_EQ(b.begin, 11u);
  EXPECT_EQ(b.complete, 55u);
  EXPECT_EQ(ch.free_at(), 15u);
  const DramChannelModel::Grant c = ch.Request(20, 2);
  EXPECT_EQ(c.begin, 20u);
  EXPECT_EQ(c.complete, 62u);
}

TEST(DramChannelModelTest, SameCycleRequestsAreServedInTheOrderMade) {
  // The caller makes same-cycle requests load, weight, store: at cycle 5, holds 3, 2 and 1 occupy
  // [5, 8), [8, 10), [10, 11) and complete at 48, 50, 51.
  DramChannelModel ch(Tiny());
  EXPECT_EQ(ch.Request(5, 3).complete, 48u);
  EXPECT_EQ(ch.Request(5, 2).complete, 50u);
  const DramChannelModel::Grant store = ch.Request(5, 1);
  EXPECT_EQ(store.begin, 10u);
  EXPECT_EQ(store.complete, 51u);
}

TEST(DramChannelModelTest, AZeroHoldNeverTouchesTheChannel) {
  // A 0-row transfer completes Lat after its request even while the channel is busy, and does not
  // delay the next transfer.
  DramChannelModel ch(Tiny());
  EXPECT_EQ(ch.Request(0, 30).complete, 70u);  // holds [0, 30)
  const DramChannelModel::Grant empty = ch.Request(3, 0);
  EXPECT_EQ(empty.begin, 3u);
  EXPECT_EQ(empty.complete, 43u);
  EXPECT_EQ(ch.free_at(), 30u);
  EXPECT_EQ(ch.Request(4, 1).begin, 30u);
}

TEST(DramChannelModelTest, ATransferReleasesItsQueueWhenItLeavesTheChannel) {
  // Contract version 3: release = t_c + X' (at least request + 1). Request at 1 holding 10: [1, 11),
  // released at 11, completes 51. Request at 2 holding 4: [11, 15), released at 15. A 0-hold
  // transfer at 20 releases at 21 and completes at 60.
  DramChannelModel ch(Tiny());
  const DramChannelModel::Grant a = ch.Request(1, 10);
  EXPECT_EQ(a.release, 11u);
  EXPECT_EQ(a.complete, 51u);
  EXPECT_EQ(ch.Request(2, 4).release, 15u);
  const DramChannelModel::Grant empty = ch.Request(20, 0);
  EXPECT_EQ(empty.release, 21u);
  EXPECT_EQ(empty.complete, 60u);
}

TEST(DramChannelModelTest, ResetFreesTheChannelAndACopyIsASnapshot) {
  DramChannelModel ch(Tiny());
  ch.Request(10, 100);
  const DramChannelModel before = ch;  // free from 110
  ch.Request(11, 5);
  EXPECT_EQ(ch.free_at(), 115u);
  DramChannelModel replan = before;
  EXPECT_EQ(replan.Request(11, 2).begin, 110u);
  ch.Reset();
  EXPECT_EQ(ch.free_at(), 0u);
  EXPECT_EQ(ch.Request(0, 4).complete, 44u);  // back at cycle 0, as for a new launch
}

}  // namespace
}  // namespace tpusim::simulator
