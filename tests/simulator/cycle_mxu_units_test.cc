// Several matrix units on the cycle engine (docs/timing.md version 4): rules 4 and 5 per unit, a
// MATMUL releasing the compute queue at s + 1, the buckets and trace tracks of several units, and
// the same bits as the functional engine for programs that spread their tiles over the units.
// Expected cycle counts are worked out by hand in the comments, on `tiny` with mxu_count set here:
// R = C = 8, BW = 16 B/cycle, U = 2, Lat = 40, F = 2; a full fp32 tile (256 B in 8 rows) holds the
// channel X' = max(16, 4) = 16 cycles; MATMUL of B rows completes at s + B + 8 + 8 - 2 = s + B + 14.
#include <cstdint>
#include <cstring>
#include <random>
#include <string>
#include <vector>

#include "cycle_test_util.h"

namespace tpusim::simulator {
namespace {

using isa::DType;
using isa::Instruction;
using isa::Opcode;
using testing::ArchCase;
using testing::CycleRig;
using testing::Halt;

using testing::OnUnit;
using testing::TinyWithUnits;

Instruction FullTileTo(uint64_t mxu, uint64_t addr = 0) {
  return OnUnit(testing::LoadWeights(DType::F32, addr, 8, 8, 8), mxu);
}
Instruction MatmulOn(uint64_t mxu, uint64_t rows, bool pop, uint64_t acc_row = 0,
                     DType t = DType::BF16) {
  return OnUnit(testing::Matmul(0, acc_row, rows, pop, false, t), mxu);
}
// A zero tile in unit m's FIFO before the launch: it is in the FIFO at cycle 0 (rule 4).
void Preload(DeviceState& state, size_t mxu) {
  state.mxu[mxu].weight_fifo.push_back(WeightTile(64, 0u));
}

TEST(CycleMxuUnitsTest, TwoLoadsAndTwoMatmulsOnTwoUnits) {
  // LW 0 (unit 0): d 0, s 1, channel [1, 17), completes 57; unit 0 shifts [57, 65).
  // LW 1 (unit 1): d 1, s 17 (the load queue is released at 17), channel [17, 33), completes 73;
  //   unit 1 shifts [73, 81).
  // MATMUL 2 (unit 0, B = 32): d 2, ready 3, starts 65 (unit 0's shadow), releases the queue at
  //   66, unit 0 feeds [65, 97), completes 65 + 46 = 111.
  // MATMUL 3 (unit 1): d 3, ready max(4, 66, unit 1 free 0) = 66, starts 81 (unit 1's shadow),
  //   completes 81 + 46 = 127 = cycles.
  CycleRig rig(TinyWithUnits(2));
  auto stats = rig.Run({FullTileTo(0), FullTileTo(1), MatmulOn(0, 32, true),
                        MatmulOn(1, 32, true, 32), Halt()},
                       /*trace=*/true);
  ASSERT_TRUE(stats.ok()) << stats.status();
  EXPECT_EQ(stats->cycles, 127u);
  // active [65, 127) = 62; MATMUL 2 waits for its tile [3, 57) = 54 and its shift [57, 65) = 8;
  // MATMUL 3's waits [66, 81) lie inside MATMUL 2's active cycles; idle [0, 3).
  EXPECT_EQ(stats->buckets.active, 62u);
  EXPECT_EQ(stats->buckets.weight_load_stall, 54u);
  EXPECT_EQ(stats->buckets.weight_shift, 8u);
  EXPECT_EQ(stats->buckets.idle, 3u);
  EXPECT_EQ(stats->buckets.total(), stats->cycles);
  ASSERT_EQ(stats->trace.size(), 4u);
  EXPECT_EQ(stats->trace[2].unit, "MXU");
  EXPECT_EQ(stats->trace[2].start, 65u);
  EXPECT_EQ(stats->trace[2].end, 111u);  // another unit's MATMUL does not cut it
  EXPECT_EQ(stats->trace[3].unit, "MXU 1");
  EXPECT_EQ(stats->trace[3].start, 81u);
  EXPECT_EQ(stats->trace[3].end, 127u);
}

TEST(CycleMxuUnitsTest, TheSameProgramOnOneUnitWaitsForTheUnitToFeed) {
  // Both tiles to unit 0 (F = 2 holds both): MATMUL 2 as above (starts 65, unit 0 busy until 97);
  // the second tile arrives at 73 and shifts [73, 81); MATMUL 3 starts at max(66, 97, 81) = 97 and
  // completes 97 + 46 = 143. Version 3 on `tiny` (one unit) gives the same: 97 = s + B.
  for (uint32_t units : {1u, 2u}) {
    CycleRig rig(TinyWithUnits(units));
    auto stats = rig.Run({FullTileTo(0), FullTileTo(0), MatmulOn(0, 32, true),
                          MatmulOn(0, 32, true, 32), Halt()});
    ASSERT_TRUE(stats.ok()) << stats.status();
    EXPECT_EQ(stats->cycles, 143u) << units << " units";
  }
}

TEST(CycleMxuUnitsTest, TheSecondUnitStartsOneCycleAfterTheFirst) {
  // One tile in each unit's FIFO at cycle 0; both shift [0, 8). MATMUL 0 (unit 0, B = 8): d 0,
  // starts 8, releases the queue at 9, completes 8 + 22 = 30. MATMUL 1 (unit 1): d 1, starts
  // max(2, 9) = 9, completes 9 + 22 = 31 = cycles. On one unit the second tile would shift only
  // after the first pop ([8, 16)) and the second MATMUL start at max(8 + 8, 16) = 16: 38 cycles.
  CycleRig rig(TinyWithUnits(2));
  Preload(rig.state(), 0);
  Preload(rig.state(), 1);
  auto stats = rig.Run({MatmulOn(0, 8, true), MatmulOn(1, 8, true, 8), Halt()}, /*trace=*/true);
  ASSERT_TRUE(stats.ok()) << stats.status();
  EXPECT_EQ(stats->cycles, 31u);
  ASSERT_EQ(stats->trace.size(), 2u);
  EXPECT_EQ(stats->trace[0].start, 8u);
  EXPECT_EQ(stats->trace[1].start, 9u);
  // active [8, 31) = 23; MATMUL 0 ready at 1 waits for the shift [1, 8) = 7; idle [0, 1).
  EXPECT_EQ(stats->buckets.active, 23u);
  EXPECT_EQ(stats->buckets.weight_shift, 7u);
  EXPECT_EQ(stats->buckets.weight_load_stall, 0u);
  EXPECT_EQ(stats->buckets.idle, 1u);

  CycleRig one(TinyWithUnits(1));
  Preload(one.state(), 0);
  Preload(one.state(), 0);
  auto serial = one.Run({MatmulOn(0, 8, true), MatmulOn(0, 8, true, 8), Halt()});
  ASSERT_TRUE(serial.ok()) << serial.status();
  EXPECT_EQ(serial->cycles, 38u);
}

TEST(CycleMxuUnitsTest, FourUnitsFedRoundRobinRunConcurrently) {
  // A tile in each of four FIFOs at cycle 0, shifted by 8. MATMUL k (unit k, B = 8) starts at
  // 8 + k; the last completes at 11 + 22 = 33. active [8, 33) = 25, shift [1, 8) = 7, idle 1.
  CycleRig rig(TinyWithUnits(4));
  for (size_t m = 0; m < 4; ++m) Preload(rig.state(), m);
  std::vector<Instruction> code;
  for (uint64_t m = 0; m < 4; ++m) code.push_back(MatmulOn(m, 8, true, 8 * m));
  code.push_back(Halt());
  auto stats = rig.Run(code, /*trace=*/true);
  ASSERT_TRUE(stats.ok()) << stats.status();
  EXPECT_EQ(stats->cycles, 33u);
  EXPECT_EQ(stats->buckets.active, 25u);
  EXPECT_EQ(stats->buckets.weight_shift, 7u);
  ASSERT_EQ(stats->trace.size(), 4u);
  for (uint64_t m = 0; m < 4; ++m) {
    EXPECT_EQ(stats->trace[m].start, 8 + m);
    EXPECT_EQ(stats->trace[m].unit, m == 0 ? std::string("MXU") : "MXU " + std::to_string(m));
  }
}

TEST(CycleMxuUnitsTest, OutputStationaryUnitsRunConcurrentlyToo) {
  // OS (timing.md rule 5-OS): no shift, a tile in the FIFO is poppable at once. B = 8: one pass,
  // E(8) = 8 + 8 - 2 + 8 = 22, R'_last = 8. MATMUL 0 (unit 0): s 1, unit 0 busy until 23,
  // completes 1 + 30 = 31. MATMUL 1 (unit 1): s 2 (the queue is released at 1 + 1), completes 32.
  // Both on one unit: MATMUL 1 starts at 23 and completes 53.
  for (uint32_t units : {1u, 2u}) {
    ArchCase c = TinyWithUnits(units);
    c.arch.set_dataflow(isa::OUTPUT_STATIONARY);
    CycleRig rig(c);
    Preload(rig.state(), 0);
    Preload(rig.state(), units - 1);
    auto stats = rig.Run({MatmulOn(0, 8, true), MatmulOn(units - 1, 8, true, 8), Halt()});
    ASSERT_TRUE(stats.ok()) << stats.status();
    EXPECT_EQ(stats->cycles, units == 2 ? 32u : 53u) << units << " units";
  }
}

TEST(CycleMxuUnitsTest, AMatmulWaitsForItsOwnUnitNotForTheQueue) {
  // Tiles preloaded on units 0 and 1. MATMUL 0 (unit 0, pop, B = 8): starts 8, unit 0 busy until
  // 16. MATMUL 1 (unit 0, same weights): the queue is free at 9 but unit 0 only at 16: starts 16,
  // releases the queue at 17, completes 16 + 22 = 38. MATMUL 2 (unit 1, pop): starts at 17,
  // completes 17 + 22 = 39 = cycles.
  CycleRig rig(TinyWithUnits(2));
  Preload(rig.state(), 0);
  Preload(rig.state(), 1);
  auto stats = rig.Run({MatmulOn(0, 8, true), MatmulOn(0, 8, false, 8), MatmulOn(1, 8, true, 16),
                        Halt()},
                       /*trace=*/true);
  ASSERT_TRUE(stats.ok()) << stats.status();
  EXPECT_EQ(stats->cycles, 39u);
  ASSERT_EQ(stats->trace.size(), 3u);
  EXPECT_EQ(stats->trace[0].end, 16u);  // cut at the next MATMUL on unit 0
  EXPECT_EQ(stats->trace[1].start, 16u);
  EXPECT_EQ(stats->trace[2].start, 17u);
  EXPECT_EQ(stats->buckets.active, 31u);  // [8, 39)
}

// LOAD_WEIGHTS; SIGNAL load 0; MATMUL pop rows=64; WAIT compute 0; 7 x VECTOR copy rows=1; LOAD of
// a full 8-lane f32 block; HALT. With Q = 8 the compute queue is full after the sixth VECTOR, so the
// seventh (and the LOAD behind it) is dispatched when the WAIT passes and frees its entry.
std::vector<Instruction> WaitBehindAMatmulProgram() {
  std::vector<Instruction> code = {FullTileTo(0), testing::Token(Opcode::SIGNAL, isa::Queue::Load, 0),
                                   MatmulOn(0, 64, true),
                                   testing::Token(Opcode::WAIT, isa::Queue::Compute, 0)};
  for (int k = 0; k < 7; ++k) code.push_back(testing::Vector(isa::VectorOp::Copy, 100, 100, 0, 1));
  code.push_back(testing::Load(DType::F32, 0, 200, 8, 8, 8));
  code.push_back(Halt());
  return code;
}

TEST(CycleMxuUnitsTest, OnOneUnitAMatmulReleasesTheQueueWhenItHasFedItsLastRow) {
  // LW: s 1, channel [1, 17), completes 57 (the SIGNAL with it); shift [57, 65). MATMUL: s 65,
  // feeds [65, 129), completes 65 + 64 + 14 = 143. VECTOR k (k = 4..10): starts 143 + (k - 4), one
  // cycle each (ceil(8 / 8)); the last completes at 150.
  // One unit (version 3's rule, the RTL's): the WAIT passes at 129 = s + B; VECTOR 10 is dispatched
  // at 129, the LOAD at 130: s 131, channel [131, 147), completes 187 = cycles.
  // Two units: the MATMUL releases the queue at 66, the WAIT passes then; VECTOR 10 at 66, the LOAD
  // at 67: s 68, channel [68, 84), completes 124; the VECTORs end last: 150 cycles.
  CycleRig one(TinyWithUnits(1));
  auto serial = one.Run(WaitBehindAMatmulProgram());
  ASSERT_TRUE(serial.ok()) << serial.status();
  EXPECT_EQ(serial->cycles, 187u);
  CycleRig two(TinyWithUnits(2));
  auto overlapped = two.Run(WaitBehindAMatmulProgram());
  ASSERT_TRUE(overlapped.ok()) << overlapped.status();
  EXPECT_EQ(overlapped->cycles, 150u);
}

TEST(CycleMxuUnitsTest, ALoadWaitsOnlyForSpaceInItsOwnUnit) {
  // F = 2 per unit. Two tiles held by unit 0 (never popped) do not stop loads to unit 1: four loads
  // (0, 0, 1, 1) stream back to back, channel [1, 17), [17, 33), [33, 49), [49, 65); the last
  // completes at 105 = cycles (rule 3: 1 + 4 X' + Lat).
  CycleRig rig(TinyWithUnits(2));
  auto stats = rig.Run({FullTileTo(0), FullTileTo(0), FullTileTo(1), FullTileTo(1), Halt()});
  ASSERT_TRUE(stats.ok()) << stats.status();
  EXPECT_EQ(stats->cycles, 105u);
  EXPECT_EQ(rig.state().mxu[0].weight_fifo.size(), 2u);
  EXPECT_EQ(rig.state().mxu[1].weight_fifo.size(), 2u);
}

TEST(CycleMxuUnitsTest, ErrorsAndDeadlocksNameTheUnit) {
  CycleRig rig(TinyWithUnits(2));
  EXPECT_STATUS(rig.Run({FullTileTo(2), Halt()}).status(), absl::StatusCode::kOutOfRange,
                "instruction 0 (LOAD_WEIGHTS): mxu 2 is not one of the 2 matrix units");
  CycleRig stuck(TinyWithUnits(2));
  EXPECT_STATUS(stuck.Run({FullTileTo(0), MatmulOn(1, 8, true), Halt()}).status(),
                absl::StatusCode::kFailedPrecondition,
                "instruction 1 (MATMUL) on the compute queue waits for weights (no tile is on its "
                "way to the shadow weights of mxu 1)");
  CycleRig one(TinyWithUnits(1));
  EXPECT_STATUS(one.Run({MatmulOn(1, 8, true), Halt()}).status(), absl::StatusCode::kOutOfRange,
                "instruction 0 (MATMUL): mxu 1 is not one of the 1 matrix unit of arch 'tiny'");
}

// ---- Same bits ------------------------------------------------------------------------------

constexpr uint64_t kInput = 0, kInputBytes = 0x4000, kOutput = 0x8000;

// A random program valid for the functional engine that spreads weight loads and MATMULs over the
// units (each unit's FIFO within F in program order): LOAD X; SYNC; LOAD_WEIGHTS / MATMUL mixed;
// SYNC; ACTIVATE of the touched accumulator rows; SYNC; STORE.
std::vector<Instruction> RandomUnitsProgram(const isa::ArchConfig& arch, bool int8, uint32_t seed) {
  std::mt19937 rng(seed);
  auto u = [&](uint64_t lo, uint64_t hi) {
    return std::uniform_int_distribution<uint64_t>(lo, hi)(rng);
  };
  const uint64_t units = arch.mxu_count(), depth = arch.weight_fifo_depth();
  const DType dram = int8 ? DType::I8 : DType::F32;
  std::vector<Instruction> code = {testing::Load(dram, kInput, 0, 32, 8, 8),
                                   isa::Make(Opcode::SYNC)};
  std::vector<uint64_t> held(units, 0);
  std::vector<bool> loaded(units, false);
  while (code.size() < 40) {
    const uint64_t m = u(0, units - 1);
    const bool can_pop = held[m] > 0, can_use = loaded[m] || can_pop;
    if (held[m] < depth && (u(0, 2) == 0 || !can_use)) {
      code.push_back(OnUnit(testing::LoadWeights(dram, kInput + u(0, 512) * (int8 ? 1 : 4), u(1, 8),
                                                 u(1, 8), u(8, 12), u(1, 2)),
                            m));
      ++held[m];
      continue;
    }
    const bool pop = can_pop && (!loaded[m] || u(0, 1) == 0);
    if (pop) --held[m];
    loaded[m] = true;
    code.push_back(OnUnit(testing::Matmul(u(0, 24), u(0, 24), u(1, 8), pop, u(0, 1) == 1,
                                          int8 ? DType::I8 : DType::BF16),
                          m));
  }
  code.push_back(isa::Make(Opcode::SYNC));
  code.push_back(testing::Activate(isa::ActFunc::None, 0, 100, 32));
  code.push_back(isa::Make(Opcode::SYNC));
  code.push_back(testing::Store(int8 ? DType::I32 : DType::F32, kOutput, 100, 32, 8, 8));
  code.push_back(Halt());
  return code;
}

TEST(CycleMxuUnitsTest, SameBitsAsTheFunctionalEngineOnSeveralUnits) {
  for (uint32_t units : {2u, 4u}) {
    for (isa::MatmulType mode : {isa::BF16_FP32, isa::INT8_INT32}) {
      for (uint32_t seed = 1; seed <= 4; ++seed) {
        const isa::ArchConfig arch = TinyWithUnits(units).arch;
        const bool int8 = mode == isa::INT8_INT32;
        const std::vector<Instruction> code = RandomUnitsProgram(arch, int8, seed * 7 + units);
        std::mt19937 rng(seed);
        std::vector<uint8_t> input(kInputBytes);
        for (uint8_t& b : input) b = static_cast<uint8_t>(rng() % 7 + (rng() % 2 ? 0x3e : 0xbe));
        DeviceState functional(arch, mode), cycle(arch, mode);
        ASSERT_TRUE(functional.dram.Write(kInput, input.data(), input.size()).ok());
        ASSERT_TRUE(cycle.dram.Write(kInput, input.data(), input.size()).ok());
        Launch launch;
        launch.code = &code;
        auto f = CreateEngine("functional", arch).value()->Run(launch, functional);
        ASSERT_TRUE(f.ok()) << f.status();
        auto c = CreateEngine("cycle", arch).value()->Run(launch, cycle);
        ASSERT_TRUE(c.ok()) << c.status();
        const std::string what = "units " + std::to_string(units) + ", seed " +
                                 std::to_string(seed) + (int8 ? ", int8" : ", bf16");
        EXPECT_TRUE(cycle.ub == functional.ub) << what;
        EXPECT_TRUE(cycle.acc == functional.acc) << what;
        EXPECT_TRUE(cycle.mxu == functional.mxu) << what;
        EXPECT_EQ(c->macs, f->macs) << what;
        EXPECT_EQ(c->useful_macs, f->useful_macs) << what;
        EXPECT_EQ(c->buckets.total(), c->cycles) << what;
        std::vector<uint8_t> want(32 * 8 * 4), got(32 * 8 * 4);
        ASSERT_TRUE(functional.dram.Read(kOutput, want.data(), want.size()).ok());
        ASSERT_TRUE(cycle.dram.Read(kOutput, got.data(), got.size()).ok());
        EXPECT_TRUE(want == got) << what;
      }
    }
  }
}

}  // namespace
}  // namespace tpusim::simulator
