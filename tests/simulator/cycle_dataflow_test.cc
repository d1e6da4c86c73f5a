// The output-stationary dataflow (docs/timing.md, "Output-stationary dataflow"): exact cycle counts
// on an 8x8 and a 16x16 OS arch built here, the same bits as the functional engine and as the
// weight-stationary cycle run, and the direction in which the two dataflows differ.
//
// The OS formulas, evaluated here pass by pass (not from the engine's closed form): a MATMUL of B
// rows runs passes of R'_p = min(R, B - p R) rows; pass p computes for K + R'_p + C - 2 cycles
// (K = R, the tile's rows); the compute queue is released after E(B) = the sum of those, and the
// MATMUL completes R'_last cycles later (the last pass's drain). No weight shift: a pop takes the
// FIFO head as soon as its LOAD_WEIGHTS has completed.
#include <algorithm>
#include <cstdint>
#include <cstring>
#include <random>
#include <string>
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

ArchCase OutputStationary(ArchCase c) {
  c.arch.set_dataflow(isa::OUTPUT_STATIONARY);
  c.name += "_os";
  EXPECT_TRUE(isa::ValidateArchConfig(c.arch, c.name).ok());
  return c;
}

// E(B): the sum over passes of K + R'_p + C - 2 (K = R).
uint64_t OsRelease(uint64_t r, uint64_t c, uint64_t b) {
  uint64_t cycles = 0;
  for (uint64_t done = 0; done < b; done += r) cycles += r + std::min(r, b - done) + c - 2;
  return cycles;
}
// The rows of the last pass (0 when B = 0).
uint64_t LastPassRows(uint64_t r, uint64_t b) {
  uint64_t last = 0;
  for (uint64_t done = 0; done < b; done += r) last = std::min(r, b - done);
  return last;
}
uint64_t OsMatmul(uint64_t r, uint64_t c, uint64_t b) { return OsRelease(r, c, b) + LastPassRows(r, b); }
uint64_t WsMatmul(uint64_t r, uint64_t c, uint64_t b) { return b + r + c - 2; }

class CycleDataflowTest : public ::testing::TestWithParam<ArchCase> {
 protected:
  CycleDataflowTest() : rig_(GetParam()) {}
  uint64_t Cycles(const std::vector<isa::Instruction>& code) {
    auto stats = rig_.Run(code);
    EXPECT_TRUE(stats.ok()) << stats.status();
    if (!stats.ok()) return 0;
    EXPECT_EQ(stats->buckets.total(), stats->cycles);
    EXPECT_EQ(stats->buckets.weight_shift, 0u);  // nothing is ever shifted into the PEs
    return stats->cycles;
  }
  isa::Instruction FullTile() {
    return LoadWeights(rig_.WeightType(), 0, rig_.R(), rig_.C(), rig_.C());
  }
  // A full tile's DMA: R rows of C weights.
  uint64_t T() { return rig_.T(rig_.R() * rig_.C() * rig_.WeightBytes(), rig_.R()); }
  // X', the cycles a full tile holds the DRAM channel (T = X' + Lat).
  uint64_t Hold() { return rig_.Hold(rig_.R() * rig_.C() * rig_.WeightBytes(), rig_.R()); }
  isa::Instruction Mm(uint64_t rows, bool pop) {
    return Matmul(0, 0, rows, pop, false, rig_.MatmulType());
  }
  uint64_t E(uint64_t b) { return OsRelease(rig_.R(), rig_.C(), b); }
  uint64_t Os(uint64_t b) { return OsMatmul(rig_.R(), rig_.C(), b); }
  CycleRig rig_;
};

TEST_P(CycleDataflowTest, LoadWeightsThenMatmulHasNoShiftAndShowsOnlyTheLastDrain) {
  // 1 + T(S) + E(B) + R'_last. tiny (T = 256/16 + 40 = 56): B = 5: 1 + 56 + (8 + 5 + 6) + 5 = 81;
  // B = 17: passes of 8, 8, 1 rows: 1 + 56 + 22 + 22 + 15 + 1 = 117.
  const uint64_t r = rig_.R();
  for (uint64_t b : {uint64_t{1}, uint64_t{5}, r, r + 3, 2 * r + 1, 3 * r}) {
    SCOPED_TRACE(b);
    EXPECT_EQ(Cycles({FullTile(), Mm(b, true), Halt()}), 1 + T() + Os(b));
  }
  if (r == 8) {
    EXPECT_EQ(1 + T() + Os(5), 81u);
    EXPECT_EQ(1 + T() + Os(17), 117u);
  }
}

TEST_P(CycleDataflowTest, BucketsSplitIntoLoadStallAndActiveWithNoWeightShift) {
  // MATMUL d 1, ready at 2; its tile is in the FIFO at 1 + T and it starts right then.
  const uint64_t b = 6;
  auto stats = rig_.Run({FullTile(), Mm(b, true), Halt()});
  ASSERT_TRUE(stats.ok()) << stats.status();
  EXPECT_EQ(stats->cycles, 1 + T() + Os(b));
  EXPECT_EQ(stats->buckets.idle, 2u);                  // [0, 2)
  EXPECT_EQ(stats->buckets.weight_load_stall, T() - 1);  // [2, 1 + T)
  EXPECT_EQ(stats->buckets.weight_shift, 0u);
  EXPECT_EQ(stats->buckets.active, Os(b));             // passes and the drain
  EXPECT_EQ(stats->buckets.total(), stats->cycles);
  // The same traffic as weight-stationary: B rows of R words in, B rows of C words out.
  EXPECT_EQ(stats->ub_to_array_bytes, b * rig_.R() * 4);
  EXPECT_EQ(stats->accumulator_bytes, b * rig_.C() * 4);
}

TEST_P(CycleDataflowTest, BackToBackMatmulsRunPassAfterPassAndHideEarlierDrains) {
  // Each MATMUL starts when the previous one's last pass has computed (s + E(B)); only the last
  // MATMUL's last drain shows: 1 + T + E(4) + E(6) + E(3) + E(9) + R'_last(9).
  const uint64_t s1 = 1 + T();
  auto stats = rig_.Run({FullTile(), Mm(4, true), Mm(6, false), Mm(3, false), Mm(9, false), Halt()},
                        /*trace=*/true);
  ASSERT_TRUE(stats.ok()) << stats.status();
  EXPECT_EQ(stats->cycles,
            s1 + E(4) + E(6) + E(3) + E(9) + LastPassRows(rig_.R(), 9));
  ASSERT_EQ(stats->trace.size(), 5u);
  EXPECT_EQ(stats->trace[1].start, s1);
  EXPECT_EQ(stats->trace[2].start, s1 + E(4));
  EXPECT_EQ(stats->trace[3].start, s1 + E(4) + E(6));
  EXPECT_EQ(stats->trace[4].start, s1 + E(4) + E(6) + E(3));
  EXPECT_EQ(stats->buckets.weight_shift, 0u);
}

TEST_P(CycleDataflowTest, AZeroRowMatmulHasNoPassButCompletesInOrder) {
  // Alone after its weight load: 1 + T + 0. Behind a MATMUL of 5 rows it starts at s + E(5), while
  // that one still drains, and completes with it: 1 + T + Os(5).
  EXPECT_EQ(Cycles({FullTile(), Mm(0, true), Halt()}), 1 + T());
  auto stats = rig_.Run({FullTile(), Mm(5, true), Mm(0, false), Halt()}, /*trace=*/true);
  ASSERT_TRUE(stats.ok()) << stats.status();
  EXPECT_EQ(stats->cycles, 1 + T() + Os(5));
  ASSERT_EQ(stats->trace.size(), 3u);
  EXPECT_EQ(stats->trace[2].start, 1 + T() + E(5));
  EXPECT_EQ(stats->trace[2].end, 1 + T() + Os(5));
}

TEST_P(CycleDataflowTest, ActivateWaitsForTheLastDrain) {
  const uint64_t b = rig_.R() + 2;
  EXPECT_EQ(Cycles({FullTile(), Mm(b, true), testing::Activate(isa::ActFunc::None, 0, 0, 3), Halt()}),
            1 + T() + Os(b) + rig_.VectorCycles(3));
}

TEST_P(CycleDataflowTest, APopTakesTheFifoHeadAsSoonAsItArrives) {
  // LOAD_WEIGHTS A done at 1 + T; it leaves the channel at 1 + X', when B starts (rule 3, version
  // 3; F >= 2 on every arch here) and B is done at 1 + 2X' + Lat = 1 + T + X'. MATMUL 2 starts at
  // 1 + T; MATMUL 3 pops B at max(1 + T + E(b), 1 + T + X') — no R-cycle shift after either arrival.
  for (uint64_t b : {uint64_t{3}, 3 * rig_.R()}) {
    SCOPED_TRACE(b);
    const uint64_t s2 = std::max(1 + T() + E(b), 1 + T() + Hold());
    EXPECT_EQ(Cycles({FullTile(), FullTile(), Mm(b, true), Mm(b, true), Halt()}), s2 + Os(b));
  }
}

TEST_P(CycleDataflowTest, ASmallMatmulBeatsWeightStationaryAndALargeOneLosesAsPredicted) {
  // One LOAD_WEIGHTS + MATMUL pop of B rows: WS 1 + T + R + (B + R + C - 2), OS 1 + T + Os(B). For
  // B <= R that is OS ahead by R - B (no shift, one pass); beyond, each pass costs R + C - 2 more.
  ArchCase ws_case = GetParam();
  ws_case.arch.set_dataflow(isa::WEIGHT_STATIONARY);
  CycleRig ws(ws_case);
  const uint64_t r = rig_.R(), c = rig_.C();
  for (uint64_t b : {uint64_t{1}, r - 1, r, 4 * r}) {
    SCOPED_TRACE(b);
    auto w = ws.Run({FullTile(), Mm(b, true), Halt()});
    ASSERT_TRUE(w.ok()) << w.status();
    EXPECT_EQ(w->cycles, 1 + T() + r + WsMatmul(r, c, b));
    const uint64_t o = Cycles({FullTile(), Mm(b, true), Halt()});
    EXPECT_EQ(o, 1 + T() + Os(b));
    if (b < r) {
      EXPECT_EQ(w->cycles - o, r - b);
    } else if (b == r) {
      EXPECT_EQ(o, w->cycles);
    } else {
      EXPECT_GT(o, w->cycles);
    }
  }
}

TEST_P(CycleDataflowTest, AMatmulPopThatNothingFeedsIsADeadlockNamingTheFifo) {
  auto stats = rig_.Run({Mm(2, true), Halt()});
  EXPECT_EQ(stats.status().message(),
            "deadlock at cycle 1: instruction 0 (MATMUL) on the compute queue waits for weights (no "
            "tile is on its way to the weight FIFO)");
}

INSTANTIATE_TEST_SUITE_P(Archs, CycleDataflowTest,
                         ::testing::Values(OutputStationary(testing::TinyCase()),
                                           OutputStationary(testing::Arch16Case())),
                         testing::CaseName);

// ---- Same bits -----------------------------------------------------------------------------------

constexpr uint64_t kInput = 0, kInputBytes = 0x10000, kOutput = 0x20000, kOutputBytes = 0x10000;

struct DataflowRuns {
  RunStats ws, os;
};

// Runs `code` on "functional", on "cycle" with WS and on "cycle" with OS, each on a fresh device
// whose input area holds the same random bytes (NaN, Inf and subnormals among them), and expects
// the three devices identical afterwards.
DataflowRuns ExpectSameBitsOnBothDataflows(isa::ArchConfig arch, isa::MatmulType mode,
                                        const std::vector<isa::Instruction>& code, uint32_t seed) {
  std::mt19937 rng(seed);
  std::vector<float> input(kInputBytes / 4);
  std::uniform_real_distribution<float> value(-4.0f, 4.0f);
  for (float& v : input) v = value(rng);
  for (size_t k = 0; k < input.size(); k += 61) {
    const uint32_t bits = static_cast<uint32_t>(rng());
    std::memcpy(&input[k], &bits, 4);
  }
  isa::ArchConfig ws_arch = arch, os_arch = arch;
  ws_arch.set_dataflow(isa::WEIGHT_STATIONARY);
  os_arch.set_dataflow(isa::OUTPUT_STATIONARY);
  DeviceState functional(os_arch, mode), ws(ws_arch, mode), os(os_arch, mode);
  for (DeviceState* d : {&functional, &ws, &os}) {
    EXPECT_TRUE(d->dram.Write(kInput, input.data(), kInputBytes).ok());
  }
  Launch launch;
  launch.code = &code;
  auto f = CreateEngine("functional", os_arch).value()->Run(launch, functional);
  EXPECT_TRUE(f.ok()) << "not a valid program: " << f.status();
  auto w = CreateEngine("cycle", ws_arch).value()->Run(launch, ws);
  auto o = CreateEngine("cycle", os_arch).value()->Run(launch, os);
  EXPECT_TRUE(w.ok()) << w.status();
  EXPECT_TRUE(o.ok()) << o.status();
  if (!f.ok() || !w.ok() || !o.ok()) return {};
  std::vector<uint8_t> want(kOutputBytes), got(kOutputBytes);
  EXPECT_TRUE(functional.dram.Read(kOutput, want.data(), kOutputBytes).ok());
  for (DeviceState* d : {&ws, &os}) {
    const char* which = d == &ws ? "WS" : "OS";
    EXPECT_TRUE(d->ub == functional.ub) << which << ": UB differs, seed " << seed;
    EXPECT_TRUE(d->acc == functional.acc) << which << ": accumulators differ, seed " << seed;
    EXPECT_TRUE(d->mxu == functional.mxu) << which << ": weights or FIFO differ, seed " << seed;
    EXPECT_TRUE(d->semaphores == functional.semaphores) << which << ": tokens differ";
    EXPECT_TRUE(d->dram.Read(kOutput, got.data(), kOutputBytes).ok());
    EXPECT_TRUE(want == got) << which << ": DRAM output differs, seed " << seed;
  }
  EXPECT_EQ(w->macs, f->macs);
  EXPECT_EQ(o->macs, f->macs);
  EXPECT_EQ(w->buckets.total(), w->cycles);
  EXPECT_EQ(o->buckets.total(), o->cycles);
  EXPECT_EQ(o->buckets.weight_shift, 0u);
  return {*w, *o};
}

// Random weight loads, multi-pass MATMULs (B up to 3R, overwrite or accumulate), ACTIVATEs and
// STOREs, a SYNC at every change of queue; the functional engine's FIFO rules hold.
std::vector<isa::Instruction> RandomMatmulProgram(const isa::ArchConfig& arch, bool int8,
                                                  uint32_t seed) {
  std::mt19937 rng(seed);
  auto u = [&](uint64_t lo, uint64_t hi) { return std::uniform_int_distribution<uint64_t>(lo, hi)(rng); };
  const uint64_t r = arch.array_rows(), c = arch.array_cols(), lanes = std::max(r, c);
  const uint64_t acc_rows = arch.accumulator_entries();
  std::vector<isa::Instruction> code;
  int last_queue = -1;
  auto emit = [&](const isa::Instruction& inst, int queue) {
    if (last_queue >= 0 && last_queue != queue) code.push_back(isa::Make(Opcode::SYNC));
    last_queue = queue;
    code.push_back(inst);
  };
  emit(Load(DType::F32, kInput, 0, 3 * r, lanes, lanes), 0);
  uint64_t fifo = 0;
  bool loaded = false;
  for (int n = 0; n < 24; ++n) {
    const uint64_t pick = u(0, 5);
    if (pick == 0 && fifo < arch.weight_fifo_depth()) {
      emit(LoadWeights(int8 ? DType::I8 : DType::F32, kInput + 4 * u(0, 2048), u(1, r), u(1, c),
                       u(c, 2 * c)),
           0);
      ++fifo;
    } else if (pick <= 3 && (fifo > 0 || loaded)) {
      const bool pop = fifo > 0 && (!loaded || u(0, 1) == 1);
      fifo -= pop ? 1 : 0;
      loaded = true;
      const uint64_t rows = u(1, 3 * r);
      emit(Matmul(u(0, 3 * r - rows), u(0, acc_rows - rows), rows, pop, u(0, 1) == 1,
                  int8 ? DType::I8 : DType::BF16),
           1);
    } else if (pick == 4) {
      emit(testing::Activate(isa::ActFunc::None, u(0, acc_rows - 8), 100 + u(0, 50), 8), 1);
    } else {
      emit(Store(DType::F32, kOutput + 4 * u(0, 1024), 100 + u(0, 50), 8, lanes, lanes), 2);
    }
  }
  code.push_back(Halt());
  return code;
}

TEST(CycleDataflowBitsTest, RandomMatmulProgramsGiveTheSameBitsOnBothDataflows) {
  for (const ArchCase& c : {testing::TinyCase(), testing::Arch16Case()}) {
    for (isa::MatmulType mode : {isa::BF16_FP32, isa::INT8_INT32}) {
      for (uint32_t seed = 1; seed <= 8; ++seed) {
        SCOPED_TRACE(::testing::Message() << c.name << " mode " << mode << " seed " << seed);
        ExpectSameBitsOnBothDataflows(c.arch, mode,
                                      RandomMatmulProgram(c.arch, mode == isa::INT8_INT32, seed), seed);
      }
    }
  }
}

// Y = X W, M = 32, K = 2R, N = C, as the compiler's token schedule emits it: the load queue fetches
// both K-halves of X and both weight tiles and signals; the compute queue multiplies (the second
// MATMUL accumulates), activates and signals; the store queue writes Y.
std::vector<isa::Instruction> TokenGemm(uint64_t r, uint64_t c) {
  const uint64_t m = 32, k = 2 * r, w = kInput + 0x4000;
  return {Load(DType::F32, kInput, 0, m, r, k),
          Load(DType::F32, kInput + r * 4, m, m, r, k),
          LoadWeights(DType::F32, w, r, c, c),
          LoadWeights(DType::F32, w + r * c * 4, r, c, c),
          Token(Opcode::SIGNAL, Queue::Load, 0),
          Token(Opcode::WAIT, Queue::Compute, 0),
          Matmul(0, 0, m, true, false),
          Matmul(m, 0, m, true, true),
          testing::Activate(isa::ActFunc::None, 0, 2 * m, m),
          Token(Opcode::SIGNAL, Queue::Compute, 1),
          Token(Opcode::WAIT, Queue::Store, 1),
          Store(DType::F32, kOutput, 2 * m, m, c, c),
          Halt()};
}

TEST(CycleDataflowBitsTest, TokenScheduledGemmIsSlowerOnOutputStationaryByTheFormulas) {
  // Everything but the two MATMULs times the same on both dataflows (the weight DMAs outlast the
  // WS shift, so WS starts MATMUL 1 when the token passes, like OS). WS: s, s + 32, done
  // s + 64 + R + C - 2. OS: s, s + E(32), done s + E(32) + Os(32). tiny: OS - WS =
  // (88 + 96) - (64 + 14) = 106.
  for (const ArchCase& c : {testing::TinyCase(), testing::Arch16Case()}) {
    SCOPED_TRACE(c.name);
    const uint64_t r = c.arch.array_rows(), n = c.arch.array_cols();
    const DataflowRuns runs = ExpectSameBitsOnBothDataflows(c.arch, c.mode, TokenGemm(r, n), 3);
    const uint64_t ws = 32 + WsMatmul(r, n, 32);
    const uint64_t os = OsRelease(r, n, 32) + OsMatmul(r, n, 32);
    EXPECT_GT(runs.os.cycles, runs.ws.cycles);
    EXPECT_EQ(runs.os.cycles - runs.ws.cycles, os - ws);
    if (r == 8) {
      // tiny by hand (contract version 3: each DMA releases the load queue when it leaves the
      // channel): LOADs of 1024 B hold it 64 cycles: [1, 65) and [65, 129), done 105 and 169; the
      // tiles 16 each: [129, 145) and [145, 161), done 185 and 201. The SIGNAL completes with the
      // last, 201; MATMULs from 201 (tile 0 shifted at 193). WS: done 201 + 78 = 279, ACTIVATE 32
      // -> 311, STORE 64 + 40 -> 415. OS: done 201 + 184 = 385, ACTIVATE -> 417, STORE -> 521.
      // (Version 2, one DMA at a time: 535 and 641.)
      EXPECT_EQ(os - ws, 106u);
      EXPECT_EQ(runs.ws.cycles, 415u);
      EXPECT_EQ(runs.os.cycles, 521u);
    }
    EXPECT_EQ(runs.ws.macs, 2u * 32 * r * n);
  }
}

// ---- The target description ----------------------------------------------------------------------

TEST(CycleDataflowArchTest, TheDocumentedExampleArchFileIsTinyWithOutputStationary) {
  const std::string path = std::string(TPUSIM_SOURCE_DIR) + "/docs/examples/tiny-os.textproto";
  absl::StatusOr<isa::ArchConfig> arch = isa::LoadArch(path);
  ASSERT_TRUE(arch.ok()) << arch.status();
  EXPECT_EQ(arch->dataflow(), isa::OUTPUT_STATIONARY);
  isa::ArchConfig expected = isa::LoadPreset("tiny").value();
  expected.set_name(arch->name());
  expected.set_dataflow(isa::OUTPUT_STATIONARY);
  EXPECT_EQ(arch->SerializeAsString(), expected.SerializeAsString());
  // And it runs: LOAD_WEIGHTS + MATMUL pop of 5 rows, 1 + 56 + 19 + 5 cycles (as for tiny_os).
  CycleRig rig({"example", *arch, isa::BF16_FP32, 16, 1, 2});
  auto stats = rig.Run({LoadWeights(DType::F32, 0, 8, 8, 8), Matmul(0, 0, 5, true), Halt()});
  ASSERT_TRUE(stats.ok()) << stats.status();
  EXPECT_EQ(stats->cycles, 81u);
}

TEST(CycleDataflowArchTest, TheCycleEngineRefusesAnUnspecifiedDataflow) {
  isa::ArchConfig arch = isa::LoadPreset("tiny").value();
  arch.set_dataflow(isa::DATAFLOW_UNSPECIFIED);
  EXPECT_FALSE(isa::ValidateArchConfig(arch, "x").ok());
  DeviceState state(arch, isa::BF16_FP32);
  const std::vector<isa::Instruction> code = {Halt()};
  Launch launch;
  launch.code = &code;
  auto stats = CreateEngine("cycle", arch).value()->Run(launch, state);
  EXPECT_STATUS(stats.status(), absl::StatusCode::kInvalidArgument,
                "field 'dataflow' = DATAFLOW_UNSPECIFIED has no timing in the cycle engine");
}

}  // namespace
}  // namespace tpusim::simulator
