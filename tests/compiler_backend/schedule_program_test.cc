// Program-level schedule passes (compiler_backend/src/schedule_program.h) on hand-written streams: where
// HoistWeightLoads may move a LOAD_WEIGHTS and where it must stop, and that RescheduleTokens keeps the
// hoisted order and a well-formed token stream. Expected orders are worked out by hand in each test from
// the rules in the header. Whole compiled programs run through the pass in schedule_test.cc (the kTokens
// and kSerial schedules must give the same bits).
#include "../../compiler_backend/src/schedule_program.h"

#include <map>
#include <string>
#include <vector>

#include "gtest/gtest.h"
#include "tpusim/isa/isa.h"

namespace tpusim::compiler::codegen {
namespace {

using isa::Instruction;
using isa::Opcode;

constexpr uint64_t kBf16 = static_cast<uint64_t>(isa::DType::BF16);
constexpr uint64_t kF32 = static_cast<uint64_t>(isa::DType::F32);

// An 8 x 8 bf16 tile read contiguously from `addr` (bytes [addr, addr + 128)) into unit `mxu`'s FIFO.
Instruction Weights(uint64_t addr, uint64_t mxu) {
  isa::WeightsArgs a;
  a.dtype = kBf16;
  a.dram_addr = addr;
  a.rows = 8;
  a.cols = 8;
  a.row_stride = 8;
  a.col_stride = 1;
  a.mxu = mxu;
  return isa::Make(Opcode::LOAD_WEIGHTS, a);
}

Instruction Matmul(uint64_t mxu, bool pop) {
  isa::MatmulArgs a;
  a.dtype = kBf16;
  a.pop_weights = pop ? 1 : 0;
  a.ub_row = 0;
  a.acc_row = 0;
  a.rows = 4;
  a.mxu = mxu;
  return isa::Make(Opcode::MATMUL, a);
}

// One f32 row of 8 lanes: DRAM bytes [addr, addr + 32), UB row `ub_row`.
Instruction Dma(Opcode op, uint64_t addr, uint64_t ub_row) {
  isa::DmaArgs a;
  a.dtype = kF32;
  a.dram_addr = addr;
  a.ub_row = ub_row;
  a.rows = 1;
  a.lanes = 8;
  a.row_stride = 8;
  a.lane_stride = 1;
  return isa::Make(op, a);
}

// Runs HoistWeightLoads with tags 0, 1, 2, ... and returns the tags in their new order (a tag names the
// instruction's original position).
std::vector<uint32_t> HoistOrder(std::vector<Instruction> code, uint64_t depth) {
  std::vector<uint32_t> tags(code.size());
  for (size_t i = 0; i < tags.size(); ++i) tags[i] = static_cast<uint32_t>(i);
  HoistWeightLoads(code, tags, depth);
  return tags;
}

// 0: LW A (unit 0), 1: MATMUL pop (unit 0), 2: LOAD, 3: STORE (elsewhere), 4: LW B (unit 0), 5: MATMUL pop, 6: HALT.
std::vector<Instruction> TwoTiles() {
  return {Weights(0x1000, 0), Matmul(0, true), Dma(Opcode::LOAD, 0x2000, 4), Dma(Opcode::STORE, 0x3000, 8),
          Weights(0x1100, 0), Matmul(0, true), isa::Make(Opcode::HALT)};
}

TEST(HoistWeightLoadsTest, MovesUpToItsUnitsPreviousLoadWhenTheFifoHasRoom) {
  // Depth 2: LW B passes the STORE (other bytes), the LOAD (writes the UB only) and MATMUL 1 (before
  // it unit 0 holds tile A: 1 + 1 <= 2), and stops below LW A (same unit).
  EXPECT_EQ(HoistOrder(TwoTiles(), 2), (std::vector<uint32_t>{0, 4, 1, 2, 3, 5, 6}));
}

TEST(HoistWeightLoadsTest, NeverOverfillsTheFifoInProgramOrder) {
  // Depth 1: above MATMUL 1 the FIFO would hold A and B (2 > 1), so LW B stops right below it.
  EXPECT_EQ(HoistOrder(TwoTiles(), 1), (std::vector<uint32_t>{0, 1, 4, 2, 3, 5, 6}));
}

TEST(HoistWeightLoadsTest, StopsBelowAStoreOfTheBytesItReads) {
  // The STORE writes [0x1100, 0x1120), inside the tile LW B reads ([0x1100, 0x1180)): B stays after it.
  std::vector<Instruction> code = TwoTiles();
  code[3] = Dma(Opcode::STORE, 0x1100, 8);
  EXPECT_EQ(HoistOrder(code, 2), (std::vector<uint32_t>{0, 1, 2, 3, 4, 5, 6}));
}

TEST(HoistWeightLoadsTest, OtherUnitsLoadsAreNoBarrierButTokensAre) {
  // 0: LW (unit 0), 1: MATMUL pop (unit 0), 2: SIGNAL, 3: LOAD, 4: LW (unit 1), 5: HALT. The unit-1 load
  // passes the LOAD and stops below the SIGNAL; with the SIGNAL gone it passes the unit-0 MATMUL and
  // LOAD_WEIGHTS too (unit 1's FIFO is empty: 0 + 1 <= 1).
  isa::TokenArgs t;
  t.queue = static_cast<uint64_t>(isa::Queue::Load);
  t.channel = 1;
  std::vector<Instruction> code = {Weights(0x1000, 0), Matmul(0, true), isa::Make(Opcode::SIGNAL, t),
                                   Dma(Opcode::LOAD, 0x2000, 4), Weights(0x1100, 1), isa::Make(Opcode::HALT)};
  EXPECT_EQ(HoistOrder(code, 1), (std::vector<uint32_t>{0, 1, 2, 4, 3, 5}));
  code.erase(code.begin() + 2);
  EXPECT_EQ(HoistOrder(code, 1), (std::vector<uint32_t>{3, 0, 1, 2, 4}));
}

TEST(RescheduleTokensTest, KeepsTheHoistedOrderAndEveryWaitHasAnEarlierSignal) {
  // LW A, MATMUL pop reading UB rows 0-3, LOAD into row 0, STORE of row 0, LW B, MATMUL pop reading
  // rows 0-3, HALT; depth 2.
  std::vector<Instruction> code = {Weights(0x1000, 0), Matmul(0, true), Dma(Opcode::LOAD, 0x2000, 0),
                                   Dma(Opcode::STORE, 0x3000, 0), Weights(0x1100, 0), Matmul(0, true),
                                   isa::Make(Opcode::HALT)};
  std::vector<uint32_t> tags = {0, 1, 2, 3, 4, 5, 6};
  RescheduleTokens(code, tags, 2);
  ASSERT_EQ(code.size(), tags.size());
  std::vector<uint32_t> data_order;
  std::map<uint64_t, int> signalled;  // channel -> SIGNALs minus WAITs so far, in program order
  for (const Instruction& inst : code) {
    if (inst.opcode == Opcode::SIGNAL) {
      ++signalled[inst.as<isa::TokenArgs>().channel];
    } else if (inst.opcode == Opcode::WAIT) {
      EXPECT_GT(signalled[inst.as<isa::TokenArgs>().channel]--, 0) << isa::DisassembleProgram(code);
    }
  }
  for (size_t i = 0; i < code.size(); ++i) {
    if (code[i].opcode != Opcode::SIGNAL && code[i].opcode != Opcode::WAIT) data_order.push_back(tags[i]);
  }
  // LW B rises above the STORE, the LOAD and MATMUL 1 (FIFO: A then B, 2 <= 2), as in the first test.
  EXPECT_EQ(data_order, (std::vector<uint32_t>{0, 4, 1, 2, 3, 5, 6}));
  // Three cross-queue conflicts, one channel each: MATMUL 1 -> LOAD (WAR on UB row 0), LOAD -> STORE
  // (RAW), LOAD -> MATMUL 2 (RAW on row 0); the weight loads conflict with nothing.
  EXPECT_EQ(signalled.size(), 3u);
}

}  // namespace
}  // namespace tpusim::compiler::codegen
