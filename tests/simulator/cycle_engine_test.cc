// The cycle engine's behaviour around the timing model: deadlocks are reported (never a hang),
// device errors carry the functional engine's messages, and the engine survives many launches from
// several threads and on several archs in one process.
#include <cstdint>
#include <string>
#include <thread>
#include <vector>

#include "cycle_test_util.h"

namespace tpusim::simulator {
namespace {

using isa::DType;
using isa::Opcode;
using isa::Queue;
using testing::CycleRig;
using testing::Halt;
using testing::Load;
using testing::LoadWeights;
using testing::Matmul;
using testing::Store;
using testing::Token;

TEST(CycleDeadlockTest, WaitWithoutSignalNamesTheBlockedInstruction) {
  CycleRig rig(testing::TinyCase());
  // WAIT d 0 is ready at 1 and never gets a token; HALT (d 1) waits for it; nothing moves after 1.
  auto stats = rig.Run({Token(Opcode::WAIT, Queue::Compute, 5), Halt()});
  EXPECT_EQ(stats.status().code(), absl::StatusCode::kFailedPrecondition);
  EXPECT_EQ(stats.status().message(),
            "deadlock at cycle 1: instruction 0 (WAIT) on the compute queue waits for channel 5");
}

TEST(CycleDeadlockTest, EveryBlockedQueueIsNamed) {
  CycleRig rig(testing::TinyCase());
  auto stats = rig.Run({Load(DType::F32, 0, 0, 1, 8, 8), Token(Opcode::WAIT, Queue::Load, 1),
                        Token(Opcode::WAIT, Queue::Store, 2), Halt()});
  // The LOAD (1 row of 32 B) completes at 1 + max(2, 1) + 40 = 43; then nothing can move.
  EXPECT_EQ(stats.status().message(),
            "deadlock at cycle 43: instruction 1 (WAIT) on the load queue waits for channel 1; "
            "instruction 2 (WAIT) on the store queue waits for channel 2");
}

TEST(CycleDeadlockTest, MatmulPopWithoutAnyWeightLoadIsADeadlock) {
  CycleRig rig(testing::TinyCase());
  auto stats = rig.Run({Matmul(0, 0, 2, true), Halt()});
  EXPECT_EQ(stats.status().message(),
            "deadlock at cycle 1: instruction 0 (MATMUL) on the compute queue waits for weights (no "
            "tile is on its way to the shadow weights)");
}

TEST(CycleDeadlockTest, TheNextLaunchRunsNormallyAfterADeadlock) {
  CycleRig rig(testing::TinyCase());
  ASSERT_FALSE(rig.Run({Token(Opcode::WAIT, Queue::Store, 0), Halt()}).ok());
  auto stats = rig.Run({Load(DType::F32, 0, 0, 1, 8, 8), Halt()});
  ASSERT_TRUE(stats.ok()) << stats.status();
  EXPECT_EQ(stats->cycles, 1 + rig.T(32, 1));
}

// A WAIT that in program order comes before its SIGNAL is a functional-engine error, but the
// hardware just waits: the token arrives when the SIGNAL completes.
TEST(CycleDeadlockTest, WaitBeforeItsSignalInProgramOrderJustWaits) {
  CycleRig rig(testing::TinyCase());
  auto stats = rig.Run({Token(Opcode::WAIT, Queue::Compute, 0),
                        Token(Opcode::SIGNAL, Queue::Load, 0), Halt()});
  ASSERT_TRUE(stats.ok()) << stats.status();
  EXPECT_EQ(stats->cycles, 2u);  // SIGNAL d 1 completes at 2; the WAIT takes the token then
  EXPECT_EQ(stats->buckets.input_stall, 1u);  // [1, 2)
}

// ---- Device errors ---------------------------------------------------------------------------

// The status of the same program on a fresh tiny device under `engine`.
absl::Status RunOn(const std::string& engine, const std::vector<isa::Instruction>& code) {
  const isa::ArchConfig arch = isa::LoadPreset("tiny").value();
  DeviceState state(arch, isa::BF16_FP32);
  Launch launch;
  launch.code = &code;
  auto e = CreateEngine(engine, arch);
  if (!e.ok()) return e.status();
  return (*e)->Run(launch, state).status();
}

TEST(CycleErrorTest, DeviceErrorsCarryTheFunctionalEnginesMessages) {
  const std::vector<std::vector<isa::Instruction>> programs = {
      {Load(DType::F32, 0, 510, 8, 8, 8), Halt()},                       // UB overflow
      {Load(DType::F32, 0, 0, 1, 9, 9), Halt()},                         // too many lanes
      {Store(DType::F32, (1ull << 28) - 16, 0, 2, 8, 8), Halt()},        // DRAM overflow
      {LoadWeights(DType::F32, 0, 9, 8, 8), Halt()},                     // oversized tile
      {LoadWeights(DType::F32, 0, 8, 8, 8), Matmul(0, 0, 2, true, false, DType::I8), Halt()},
      {testing::Activate(isa::ActFunc::None, 63, 0, 2), Halt()},         // accumulator rows
      {Token(Opcode::SIGNAL, Queue::Control, 0), Halt()},                // token queue
      {testing::Vector(isa::VectorOp::ReduceSum, 0, 0, 0, 0), Halt()},   // reduce over 0 rows
      {isa::Make(Opcode::SYNC)},                                         // no HALT
      // Fields beyond their encoded widths (hand-built code): the error, not 2^41 idle cycles.
      {Load(DType::F32, 0, 0, 1ull << 40, 8, 8), Halt()},
      {testing::Vector(isa::VectorOp::Relu, 0, 0, 0, 1ull << 40), Halt()},
      {},                                                                // empty
  };
  for (size_t p = 0; p < programs.size(); ++p) {
    const absl::Status functional = RunOn("functional", programs[p]);
    ASSERT_FALSE(functional.ok()) << "program " << p;
    EXPECT_EQ(RunOn("cycle", programs[p]), functional) << "program " << p;
  }
  isa::Instruction bad;
  bad.opcode = Opcode::LOAD;
  bad.args = isa::NoneArgs{};
  EXPECT_EQ(RunOn("cycle", {bad, Halt()}), RunOn("functional", {bad, Halt()}));
  isa::Instruction unknown;
  unknown.opcode = static_cast<Opcode>(0x77);
  EXPECT_EQ(RunOn("cycle", {unknown, Halt()}), RunOn("functional", {unknown, Halt()}));
}

TEST(CycleErrorTest, AFailingInstructionStopsTheRunAndKeepsEarlierWrites) {
  const isa::ArchConfig arch = isa::LoadPreset("tiny").value();
  DeviceState state(arch, isa::BF16_FP32);
  state.ub_row(0)[0] = isa::F32Bits(2.5f);
  const std::vector<isa::Instruction> code = {
      Store(DType::F32, 0x40, 0, 1, 1, 1),  // done at 1 + 1 + 40 = 42
      isa::Make(Opcode::SYNC),
      Load(DType::F32, 0, 600, 1, 1, 1),    // UB row 600 of 512
      Store(DType::F32, 0x80, 0, 1, 1, 1),  // never runs
      Halt()};
  Launch launch;
  launch.code = &code;
  auto stats = CreateEngine("cycle", arch).value()->Run(launch, state);
  EXPECT_EQ(stats.status().message(),
            "instruction 2 (LOAD): UB rows [600, 601) exceed the 512-row unified buffer");
  float out[2] = {0, 0};
  ASSERT_TRUE(state.dram.Read(0x40, &out[0], 4).ok());
  ASSERT_TRUE(state.dram.Read(0x80, &out[1], 4).ok());
  EXPECT_EQ(out[0], 2.5f);
  EXPECT_EQ(out[1], 0.0f);
}

// ---- Many launches ---------------------------------------------------------------------------

TEST(CycleLaunchTest, ManyLaunchesInOneProcessCountTheSameCycles) {
  CycleRig rig(testing::TinyCase());
  const std::vector<isa::Instruction> code = {LoadWeights(DType::F32, 0, 8, 8, 8),
                                              Matmul(0, 0, 4, true), Halt()};
  // 1 + T(256 B, 8 rows) + R + B + R + C - 2 = 1 + 56 + 8 + 4 + 14 = 83 every time.
  for (int k = 0; k < 200; ++k) {
    auto stats = rig.Run(code);
    ASSERT_TRUE(stats.ok()) << stats.status();
    ASSERT_EQ(stats->cycles, 83u) << "launch " << k;
  }
}

TEST(CycleLaunchTest, ArchsMayChangeFromLaunchToLaunch) {
  CycleRig tiny(testing::TinyCase()), a16(testing::Arch16Case());
  for (int k = 0; k < 3; ++k) {
    // VECTOR of 4 rows: tiny 1 + 32/8 = 5; a16 1 + ceil(64/6) = 12.
    auto t = tiny.Run({testing::Vector(isa::VectorOp::Relu, 0, 0, 0, 4), Halt()});
    auto a = a16.Run({testing::Vector(isa::VectorOp::Relu, 0, 0, 0, 4), Halt()});
    ASSERT_TRUE(t.ok() && a.ok());
    EXPECT_EQ(t->cycles, 5u);
    EXPECT_EQ(a->cycles, 12u);
  }
}

TEST(CycleLaunchTest, LaunchesFromOtherThreadsWork) {
  const std::vector<isa::Instruction> code = {Load(DType::F32, 0, 0, 1, 8, 8), Halt()};
  uint64_t cycles[2] = {0, 0};
  for (int k = 0; k < 2; ++k) {  // one thread after the other
    std::thread worker([&, k] {
      CycleRig rig(testing::TinyCase());
      auto stats = rig.Run(code);
      cycles[k] = stats.ok() ? stats->cycles : 0;
    });
    worker.join();
  }
  EXPECT_EQ(cycles[0], 43u);  // 1 + T(32 B, 1 row) = 1 + 2 + 40
  EXPECT_EQ(cycles[1], 43u);
  // And at the same time: launches queue up on the one SystemC thread.
  std::vector<std::thread> workers;
  std::vector<uint64_t> total(4, 0);
  for (int k = 0; k < 4; ++k) {
    workers.emplace_back([&, k] {
      CycleRig rig(testing::TinyCase());
      for (int n = 0; n < 20; ++n) {
        auto stats = rig.Run(code);
        total[k] += stats.ok() ? stats->cycles : 0;
      }
    });
  }
  for (std::thread& w : workers) w.join();
  for (int k = 0; k < 4; ++k) EXPECT_EQ(total[k], 20u * 43);
}

}  // namespace
}  // namespace tpusim::simulator
