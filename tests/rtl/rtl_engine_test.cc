// The rtl engine (rtl/include/tpusim/rtl/rtl_engine.h): the Verilated core runs programs through the
// Engine interface with the cycles of docs/timing.md and the functional engine's bits; it refuses
// what it does not implement before running anything. (The cosimulation gate over a corpus is
// cosim_test.cc; these are the small programs whose cycles follow from the contract by hand.)
#include <cstdio>
#include <fstream>
#include <sstream>

#include "gmock/gmock.h"
#include "gtest/gtest.h"
#include "../simulator/sim_test_util.h"
#include "tpusim/isa/arch_config.h"
#include "tpusim/rtl/rtl_engine.h"

namespace tpusim::rtl {
namespace {

using ::testing::HasSubstr;
using simulator::testing::Activate;
using simulator::testing::Halt;
using simulator::testing::Load;
using simulator::testing::LoadWeights;
using simulator::testing::Matmul;
using simulator::testing::Store;
using simulator::testing::Token;
using simulator::testing::Vector;
using isa::DType;
using isa::Instruction;
using isa::Opcode;

class RtlEngineTest : public ::testing::Test {
 protected:
  void SetUp() override {
    if (CoreModelNames().empty()) GTEST_SKIP() << "this build has no RTL core models (Verilator)";
    RegisterRtlEngine();
  }
  // Runs `code` on a fresh tiny device with the given DRAM bytes on `engine`.
  absl::StatusOr<simulator::RunStats> RunOn(const std::string& engine,
                                            const std::vector<Instruction>& code,
                                            simulator::DeviceState& state,
                                            simulator::Launch launch = {}) {
    auto e = simulator::CreateEngine(engine, state.arch);
    if (!e.ok()) return e.status();
    launch.code = &code;
    return (*e)->Run(launch, state);
  }
  // Cycles of `code` on rtl; also checks cycle gives the same count and functional the same UB,
  // accumulators and DRAM bytes [0, dram_bytes).
  uint64_t Cycles(const std::vector<Instruction>& code, const std::string& arch = "tiny",
                  uint64_t dram_bytes = 4096) {
    const isa::ArchConfig a = isa::LoadArch(arch).value();
    simulator::DeviceState rtl(a, isa::BF16_FP32), cyc(a, isa::BF16_FP32), fun(a, isa::BF16_FP32);
    std::vector<uint8_t> bytes(dram_bytes);
    for (size_t i = 0; i < bytes.size(); ++i) bytes[i] = static_cast<uint8_t>(i * 37 + 11);
    for (auto* s : {&rtl, &cyc, &fun}) EXPECT_TRUE(s->dram.Write(0, bytes.data(), bytes.size()).ok());
    absl::StatusOr<simulator::RunStats> r = RunOn("rtl", code, rtl);
    absl::StatusOr<simulator::RunStats> c = RunOn("cycle", code, cyc);
    absl::StatusOr<simulator::RunStats> f = RunOn("functional", code, fun);
    EXPECT_TRUE(r.ok()) << r.status();
    EXPECT_TRUE(c.ok()) << c.status();
    EXPECT_TRUE(f.ok()) << f.status();
    if (!r.ok() || !c.ok() || !f.ok()) return 0;
    EXPECT_EQ(r->cycles, c->cycles) << "rtl vs cycle";
    EXPECT_EQ(rtl.ub, fun.ub) << "UB differs from the functional engine";
    EXPECT_EQ(rtl.acc, fun.acc) << "accumulators differ from the functional engine";
    std::vector<uint8_t> x(dram_bytes), y(dram_bytes);
    EXPECT_TRUE(rtl.dram.Read(0, x.data(), x.size()).ok());
    EXPECT_TRUE(fun.dram.Read(0, y.data(), y.size()).ok());
    EXPECT_EQ(x, y) << "DRAM differs from the functional engine";
    return r->cycles;
  }
};

// tiny: BW = 16 GB/s / 1000 MHz = 16 B/cycle, Lat = 40, 2 UB banks, R = C = Lw = V = 8.
TEST_F(RtlEngineTest, HaltAloneTakesNoCycles) { EXPECT_EQ(Cycles({Halt()}), 0u); }

TEST_F(RtlEngineTest, LoadTakesOnePlusTransferPlusLatency) {
  // 4 rows x 8 lanes x 4 B = 128 B: X = 8 >= ceil(4 / 2) = 2; 1 + 8 + 40.
  EXPECT_EQ(Cycles({Load(DType::F32, 0, 0, 4, 8, 8), Halt()}), 49u);
}

TEST_F(RtlEngineTest, NarrowLoadIsBoundByTheUbPort) {
  // 64 rows x 1 lane x 1 B = 64 B: X = 4, port ceil(64 / 2) = 32; 1 + 32 + 40.
  EXPECT_EQ(Cycles({Load(DType::I8, 0, 0, 64, 1, 1), Halt()}), 73u);
}

TEST_F(RtlEngineTest, StoreAfterSyncWritesDram) {
  // LOAD 128 B (49), SYNC (1), STORE of 2 rows x 8 bf16 = 32 B: X = 2, + 40, +1: 49 + 1 + 43.
  EXPECT_EQ(Cycles({Load(DType::F32, 0, 0, 4, 8, 8), isa::Make(Opcode::SYNC),
                    Store(DType::BF16, 2048, 1, 2, 8, 8), Halt()}),
            93u);
}

TEST_F(RtlEngineTest, WeightLoadThenMatmulFollowsRuleFive) {
  // LOAD_WEIGHTS 8x8 bf16 = 128 B: T = 8 + 40. 1 + T + R (shift) + B + R + C - 2 with B = 8:
  // 1 + 48 + 8 + 8 + 14 = 79.
  EXPECT_EQ(Cycles({LoadWeights(DType::BF16, 0, 8, 8, 8), Matmul(0, 0, 8, true), Halt()}), 79u);
}

TEST_F(RtlEngineTest, VectorTakesRowsTimesLanesOverV) {
  // ceil(5 x 8 / 8) = 5; 1 + 5.
  EXPECT_EQ(Cycles({Vector(isa::VectorOp::Add, 8, 0, 16, 5), Halt()}), 6u);
}

TEST_F(RtlEngineTest, TokensPassInTheCycleTheyAreSignalled) {
  // docs/timing.md: LOAD; SIGNAL load c; WAIT compute c; VECTOR rows=N: 1 + T(S) + ceil(N Lw / V).
  // T = 8 + 40 (128 B), N = 3: 1 + 48 + 3 = 52.
  EXPECT_EQ(Cycles({Load(DType::F32, 0, 0, 4, 8, 8), Token(Opcode::SIGNAL, isa::Queue::Load, 5),
                    Token(Opcode::WAIT, isa::Queue::Compute, 5),
                    Vector(isa::VectorOp::Relu, 8, 0, 0, 3), Halt()}),
            52u);
}

TEST_F(RtlEngineTest, MatmulActivateStoreMatchesFunctionalBits) {
  // A small layer: weights, 8 input rows, MATMUL, ACTIVATE relu with bias, STORE; ordered by tokens.
  std::vector<Instruction> code = {
      LoadWeights(DType::BF16, 0, 8, 8, 8), Load(DType::F32, 256, 0, 8, 8, 8),
      Load(DType::F32, 512, 20, 1, 8, 8), Token(Opcode::SIGNAL, isa::Queue::Load, 1),
      Token(Opcode::WAIT, isa::Queue::Compute, 1), Matmul(0, 0, 8, true),
      Activate(isa::ActFunc::Relu, 0, 8, 8, true, 20), Token(Opcode::SIGNAL, isa::Queue::Compute, 2),
      Token(Opcode::WAIT, isa::Queue::Store, 2), Store(DType::F32, 1024, 8, 8, 8, 8), Halt()};
  EXPECT_GT(Cycles(code), 0u);
}

// SIGNAL (docs/timing.md rule 7, version 4): it releases its queue at its start and completes, adding
// its token, once every earlier instruction of its queue has completed; it keeps its queue entry
// until then. The figures are tests/simulator/cycle_signal_test.cc's (tiny: LOAD of 4 f32 rows X' 8,
// of 1 row X' 2, full f32 tile X' 16, Lat 40; MATMUL done s + B + 14).
TEST_F(RtlEngineTest, TheLoadAfterASignalStartsWhenTheFirstLoadLeavesTheChannel) {
  // LOAD A [1, 9), done 49; SIGNAL starts 9, completes 49; LOAD B starts 9: [9, 17), done 57
  // (version 3: B started at 49 and completed at 97).
  EXPECT_EQ(Cycles({Load(DType::F32, 0, 0, 4, 8, 8), Token(Opcode::SIGNAL, isa::Queue::Load, 0),
                    Load(DType::F32, 0x400, 40, 4, 8, 8), Halt()}),
            57u);
}

TEST_F(RtlEngineTest, ASignalCompletesWhileLaterDmasAreInFlightAndAWaitTakesItsToken) {
  // As above; WAIT compute 0 (d 3) takes the token at 49 while B is in flight; VECTOR 16 rows
  // [49, 65) = cycles (version 3: 97).
  EXPECT_EQ(Cycles({Load(DType::F32, 0, 0, 4, 8, 8), Token(Opcode::SIGNAL, isa::Queue::Load, 0),
                    Load(DType::F32, 0x400, 40, 4, 8, 8), Token(Opcode::WAIT, isa::Queue::Compute, 0),
                    Vector(isa::VectorOp::Relu, 20, 0, 0, 16), Halt()}),
            65u);
}

TEST_F(RtlEngineTest, ASignalKeepsItsQueueEntryUntilItCompletes) {
  // LOAD A done 49; SIGNAL starts 9, completes 49; one-row LOADs L1..L6 (d 2..7) fill the Q = 8
  // entries; L7 is dispatched at 49, channel [50, 52), done 92.
  std::vector<Instruction> code = {Load(DType::F32, 0, 0, 4, 8, 8),
                                   Token(Opcode::SIGNAL, isa::Queue::Load, 0)};
  for (uint64_t k = 1; k <= 7; ++k) code.push_back(Load(DType::F32, 0x400 + 32 * k, 8 + k, 1, 8, 8));
  code.push_back(Halt());
  EXPECT_EQ(Cycles(code), 92u);
}

TEST_F(RtlEngineTest, AMatmulAfterAComputeSignalStartsWhenTheFirstHasFedItsRows) {
  // LW [1, 17), done 57, shift [57, 65); MATMUL pop 8 s 65, fed 73, done 87; SIGNAL starts 73,
  // completes 87; MATMUL 8 rows s 73, done 95 (version 3: s 87, done 109).
  EXPECT_EQ(Cycles({LoadWeights(DType::F32, 0, 8, 8, 8), Matmul(0, 0, 8, true),
                    Token(Opcode::SIGNAL, isa::Queue::Compute, 0), Matmul(0, 8, 8, false), Halt()}),
            95u);
}

// Pipelined DMAs (docs/timing.md rule 3, version 3): a DMA releases its queue when it leaves the
// channel, so the core keeps several transfers of one engine in flight. Each checks the bits too:
// the beats of one transfer must reach its own UB rows / weight slot with its own dtype.
TEST_F(RtlEngineTest, PipelinedLoadsKeepTheirOwnRowsLanesAndDtypes) {
  // LOAD f32 6 x 8 (192 B, X' 12): channel [1, 13), done 53, beats [50, 53). LOAD bf16 3 x 5 lanes
  // (30 B, X' = max(2, ceil(3 / 2)) = 2): starts at 13, channel [13, 15), done 55, beats [53, 55)
  // — its first beat in the cycle the first LOAD completes.
  EXPECT_EQ(Cycles({Load(DType::F32, 0, 0, 6, 8, 8), Load(DType::BF16, 1024, 10, 3, 5, 8), Halt()}),
            55u);
}

TEST_F(RtlEngineTest, PipelinedWeightLoadsFillTheirOwnSlots) {
  // LOAD f32 4 x 8 (X' 8): [1, 9), done 49. LOAD_WEIGHTS f32 (256 B, X' 16) from 9: [9, 25), done
  // 65; LOAD_WEIGHTS bf16 (128 B, X' 8) from 25 (1 tile held < F = 2): [25, 33), done 73. SIGNAL
  // completes at 73, the WAIT passes, MATMUL pop 4 rows starts at 73 (tile 0 shifted [65, 73)); the
  // next pops tile 1 after its shift [73, 81): s 81, done 81 + 4 + 14 = 99.
  EXPECT_EQ(Cycles({Load(DType::F32, 256, 0, 4, 8, 8), LoadWeights(DType::F32, 0, 8, 8, 8),
                    LoadWeights(DType::BF16, 512, 8, 8, 8), Token(Opcode::SIGNAL, isa::Queue::Load, 1),
                    Token(Opcode::WAIT, isa::Queue::Compute, 1), Matmul(0, 0, 4, true),
                    Matmul(0, 8, 4, true), Halt()}),
            99u);
}

TEST_F(RtlEngineTest, AZeroRowDmaCanCompleteWithTheOneBeforeIt) {
  // LOAD 6 rows (X' 12): done 53. LOAD 0 rows starts at its release 13 and completes at 13 + 40 =
  // 53 too; the next 0-row LOAD starts at 14 and completes at 54.
  const Instruction empty = Load(DType::F32, 0, 0, 0, 8, 8);
  EXPECT_EQ(Cycles({Load(DType::F32, 0, 0, 6, 8, 8), empty, empty, Halt()}), 54u);
  // The same on the weight engine: tile A (X' 16) done 57 with a 0-row tile started at 17; pops:
  // A at 57 + 8 = 65 (2 rows), the empty tile after its shift [65, 73): done 73 + 2 + 14 = 89.
  EXPECT_EQ(Cycles({LoadWeights(DType::F32, 0, 8, 8, 8), LoadWeights(DType::F32, 0, 0, 8, 8),
                    Matmul(0, 0, 2, true), Matmul(0, 2, 2, true), Halt()}),
            89u);
}

TEST_F(RtlEngineTest, TheQueueDepthBoundsTheDmasInFlight) {
  // Q = 8 one-row LOADs (32 B, X' 2): LOAD k on the channel [1 + 2k, 3 + 2k), done 43 + 2k. LOAD 8
  // is dispatched when LOAD 0 frees its entry at 43, starts at 44 and completes at 44 + 42 = 86.
  std::vector<Instruction> code;
  for (uint64_t k = 0; k <= 8; ++k) code.push_back(Load(DType::F32, 32 * k, k, 1, 8, 8));
  code.push_back(Halt());
  EXPECT_EQ(Cycles(code), 86u);
}

TEST_F(RtlEngineTest, SixteenBySixteenModelRuns) {
  // rtl-16x16: LOAD_WEIGHTS 16x16 bf16 = 512 B: T = 32 + 40; 1 + 72 + 16 + 4 + 16 + 16 - 2.
  EXPECT_EQ(Cycles({LoadWeights(DType::BF16, 0, 16, 16, 16), Matmul(0, 0, 4, true), Halt()},
                   "rtl-16x16"),
            123u);
}

TEST_F(RtlEngineTest, RefusesAnUnimplementedInstructionNamingIt) {
  const isa::ArchConfig a = isa::LoadArch("tiny").value();
  simulator::DeviceState state(a, isa::BF16_FP32);
  absl::StatusOr<simulator::RunStats> r =
      RunOn("rtl", {Vector(isa::VectorOp::Exp, 0, 0, 0, 1), Halt()}, state);
  ASSERT_FALSE(r.ok());
  EXPECT_EQ(r.status().code(), absl::StatusCode::kUnimplemented);
  EXPECT_THAT(r.status().message(), HasSubstr("instruction 0 (VECTOR exp)"));
}

TEST_F(RtlEngineTest, RefusesAnArchWithoutAModel) {
  const isa::ArchConfig a = isa::LoadArch("tpu-v1").value();
  simulator::DeviceState state(a, isa::BF16_FP32);
  absl::StatusOr<simulator::RunStats> r = RunOn("rtl", {Halt()}, state);
  ASSERT_FALSE(r.ok());
  EXPECT_THAT(r.status().message(), HasSubstr("no RTL core model for the ArchConfig 'tpu-v1'"));
  EXPECT_THAT(r.status().message(), HasSubstr("array_rows 256 (model: 8)"));
}

TEST_F(RtlEngineTest, AWaitBehindAMatmulPassesWhenTheMatmulHasFedItsLastRow) {
  // One matrix unit: the MATMUL releases the compute queue at s + B (timing.md rule 2, version 4),
  // so the WAIT after it frees its queue entry at 129 and the LOAD behind the full compute queue
  // (Q = 8) is dispatched at 130: LW [1, 17) done 57; MATMUL s 65 (shift [57, 65)), fed at 129;
  // LOAD s 131, channel [131, 147), done 187 (tests/simulator/cycle_mxu_units_test.cc).
  std::vector<Instruction> code = {LoadWeights(DType::F32, 0, 8, 8, 8),
                                   Token(Opcode::SIGNAL, isa::Queue::Load, 0),
                                   Matmul(0, 0, 64, true),
                                   Token(Opcode::WAIT, isa::Queue::Compute, 0)};
  for (int k = 0; k < 7; ++k) code.push_back(Vector(isa::VectorOp::Copy, 100, 100, 0, 1));
  code.push_back(Load(DType::F32, 0, 200, 8, 8, 8));
  code.push_back(Halt());
  EXPECT_EQ(Cycles(code), 187u);
}

TEST_F(RtlEngineTest, RefusesSeveralMatrixUnitsBeforeRunning) {
  // The core has one matrix unit: an arch with two is no model's, and a unit other than 0 is refused.
  isa::ArchConfig two = isa::LoadArch("tiny").value();
  two.set_mxu_count(2);
  EXPECT_THAT(std::string(CheckRtlArch(two).message()), HasSubstr("mxu_count 2 (model: 1)"));
  simulator::DeviceState state2(two, isa::BF16_FP32);
  absl::StatusOr<simulator::RunStats> r = RunOn("rtl", {Halt()}, state2);
  ASSERT_FALSE(r.ok());
  EXPECT_THAT(r.status().message(), HasSubstr("mxu_count 2 (model: 1)"));

  const isa::ArchConfig a = isa::LoadArch("tiny").value();
  simulator::DeviceState state(a, isa::BF16_FP32);
  Instruction lw = LoadWeights(DType::F32, 0, 8, 8, 8);
  lw.as<isa::WeightsArgs>().mxu = 1;
  r = RunOn("rtl", {lw, Halt()}, state);
  ASSERT_FALSE(r.ok());
  EXPECT_EQ(r.status().code(), absl::StatusCode::kUnimplemented);
  EXPECT_THAT(r.status().message(), HasSubstr("instruction 0 (LOAD_WEIGHTS): mxu 1"));
  Instruction mm = Matmul(0, 0, 8, true);
  mm.as<isa::MatmulArgs>().mxu = 3;
  r = RunOn("rtl", {LoadWeights(DType::F32, 0, 8, 8, 8), mm, Halt()}, state);
  ASSERT_FALSE(r.ok());
  EXPECT_THAT(r.status().message(), HasSubstr("instruction 1 (MATMUL): mxu 3"));
  EXPECT_TRUE(state.mxu[0].weight_fifo.empty());  // refused before anything ran
}

TEST_F(RtlEngineTest, FunctionalErrorsComeFirstAndNothingIsWritten) {
  const isa::ArchConfig a = isa::LoadArch("tiny").value();
  simulator::DeviceState state(a, isa::BF16_FP32);
  state.ub[0] = 7;
  absl::StatusOr<simulator::RunStats> r = RunOn(
      "rtl", {Load(DType::F32, 0, 1, 1, 8, 8), Load(DType::F32, 0, 600, 1, 8, 8), Halt()}, state);
  ASSERT_FALSE(r.ok());
  EXPECT_THAT(r.status().message(), HasSubstr("instruction 1 (LOAD)"));
  EXPECT_EQ(state.ub[0], 7u);
  EXPECT_EQ(state.ub[8], 0u);  // the first LOAD did not run either
}

TEST_F(RtlEngineTest, VcdWindowDumpsOnlyThatWindow) {
  const isa::ArchConfig a = isa::LoadArch("tiny").value();
  simulator::DeviceState state(a, isa::BF16_FP32);
  const std::string path = ::testing::TempDir() + "/rtl_window.vcd";
  simulator::Launch launch;
  launch.vcd_path = path;
  launch.vcd_window = {simulator::VcdWindow::Unit::kCycles, 10, 20};
  ASSERT_TRUE(RunOn("rtl", {Load(DType::F32, 0, 0, 4, 8, 8), Halt()}, state, launch).ok());
  std::ifstream in(path);
  std::stringstream text;
  text << in.rdbuf();
  // Half-cycle timestamps: cycle t dumps at 2t and 2t + 1, so #20 .. #39 and nothing else.
  EXPECT_THAT(text.str(), HasSubstr("#20\n"));
  EXPECT_THAT(text.str(), HasSubstr("#39\n"));
  EXPECT_THAT(text.str(), ::testing::Not(HasSubstr("#19\n")));
  EXPECT_THAT(text.str(), ::testing::Not(HasSubstr("#40\n")));
  std::remove(path.c_str());
}

TEST_F(RtlEngineTest, VcdInstructionWindowRunsFromDispatchToCompletion) {
  const isa::ArchConfig a = isa::LoadArch("tiny").value();
  simulator::DeviceState state(a, isa::BF16_FP32);
  const std::string path = ::testing::TempDir() + "/rtl_inst_window.vcd";
  simulator::Launch launch;
  launch.vcd_path = path;
  launch.vcd_window = {simulator::VcdWindow::Unit::kInstructions, 0, 1};
  // Instruction 0 is a LOAD dispatched at cycle 0 that completes at 49 (1 + 8 + 40); the SYNC after
  // it is outside the window. Cycle t dumps at 2t and 2t + 1: #0 .. #99.
  ASSERT_TRUE(RunOn("rtl", {Load(DType::F32, 0, 0, 4, 8, 8), isa::Make(Opcode::SYNC), Halt()}, state,
                    launch)
                  .ok());
  std::ifstream in(path);
  std::stringstream text;
  text << in.rdbuf();
  EXPECT_THAT(text.str(), HasSubstr("#0\n"));
  EXPECT_THAT(text.str(), HasSubstr("#99\n"));
  EXPECT_THAT(text.str(), ::testing::Not(HasSubstr("#100\n")));
  std::remove(path.c_str());
}

}  // namespace
}  // namespace tpusim::rtl
