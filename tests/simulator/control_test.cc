// Tokens, HALT, device errors (each names the instruction and leaves earlier writes intact and
// nothing of the failing instruction), and per-op statistics.
#include <cstdint>
#include <vector>

#include "sim_test_util.h"

namespace tpusim::simulator {
namespace {

using isa::DType;
using isa::Opcode;
using isa::Queue;
using testing::Activate;
using testing::Halt;
using testing::Load;
using testing::LoadWeights;
using testing::Matmul;
using testing::SimTest;
using testing::Store;
using testing::Token;

TEST_F(SimTest, SignalThenWaitConsumesTheToken) {
  const std::vector<isa::Instruction> code = {
      Token(Opcode::SIGNAL, Queue::Load, 3),
      Token(Opcode::SIGNAL, Queue::Load, 3),
      Token(Opcode::WAIT, Queue::Compute, 3),
      isa::Make(Opcode::SYNC),
      Halt(),
  };
  auto stats = Run(code);
  ASSERT_TRUE(stats.ok()) << stats.status();
  EXPECT_EQ(state_.semaphores[3], 1u);  // two signalled, one consumed
  EXPECT_EQ(stats->count(Opcode::SIGNAL), 2u);
  EXPECT_EQ(stats->count(Opcode::WAIT), 1u);
  EXPECT_EQ(stats->count(Opcode::SYNC), 1u);
}

TEST_F(SimTest, WaitWithoutTokenIsADeadlock) {
  const std::vector<isa::Instruction> code = {
      Token(Opcode::SIGNAL, Queue::Load, 1),
      Token(Opcode::WAIT, Queue::Store, 2),
      Halt(),
  };
  EXPECT_STATUS(Run(code).status(), absl::StatusCode::kFailedPrecondition,
                "instruction 1 (WAIT): deadlock");
}

TEST_F(SimTest, TokensOnTheControlQueueAreInvalid) {
  EXPECT_STATUS(Run({Token(Opcode::SIGNAL, Queue::Control, 0), Halt()}).status(),
                absl::StatusCode::kInvalidArgument, "instruction 0 (SIGNAL)");
  EXPECT_STATUS(Run({Token(Opcode::WAIT, Queue::Control, 0), Halt()}).status(),
                absl::StatusCode::kInvalidArgument, "instruction 0 (WAIT)");
}

TEST_F(SimTest, RunningOffTheEndWithoutHaltIsAnError) {
  EXPECT_STATUS(Run({isa::Make(Opcode::SYNC)}).status(), absl::StatusCode::kFailedPrecondition,
                "without a HALT");
  EXPECT_FALSE(Run({}).ok());
}

TEST_F(SimTest, InstructionsAfterHaltDoNotRun) {
  SetUb(0, 0, 4.0f);
  auto stats = Run({Halt(), Store(DType::F32, 0x100, 0, 1, 1, 1)});
  ASSERT_TRUE(stats.ok()) << stats.status();
  EXPECT_EQ(stats->instructions, 1u);
  EXPECT_EQ(Get<float>(0x100, 1)[0], 0.0f);
}

TEST_F(SimTest, UbOverflowNamesTheInstructionAndKeepsEarlierWrites) {
  Put<float>(0x100, {1, 2, 3, 4, 5, 6, 7, 8});
  SetUb(510, 0, 42.0f);
  const std::vector<isa::Instruction> code = {
      Load(DType::F32, 0x100, 0, 1, 8, 8),
      Store(DType::F32, 0x200, 0, 1, 8, 8),
      Load(DType::F32, 0x100, 510, 8, 8, 0),  // rows [510, 518) of 512
      Halt(),
  };
  const absl::Status s = Run(code).status();
  EXPECT_STATUS(s, absl::StatusCode::kOutOfRange, "instruction 2 (LOAD): UB rows [510, 518)");
  EXPECT_STATUS(s, absl::StatusCode::kOutOfRange, "512-row");
  EXPECT_EQ(Ub(0, 7), 8.0f);  // instruction 0 happened
  EXPECT_EQ(Get<float>(0x200, 8), (std::vector<float>{1, 2, 3, 4, 5, 6, 7, 8}));  // and 1
  EXPECT_EQ(Ub(510, 0), 42.0f);  // instruction 2 wrote nothing
  EXPECT_EQ(Ub(511, 0), 0.0f);
}

TEST_F(SimTest, DramOverflowWritesNothing) {
  const uint64_t size = state_.dram.size();
  for (int l = 0; l < 8; ++l) SetUb(0, l, 1.0f);
  // Row 0 would fit (the last 32 bytes); row 1 lies past the end: the whole STORE is refused.
  const absl::Status s = Run({Store(DType::F32, size - 32, 0, 2, 8, 8), Halt()}).status();
  EXPECT_STATUS(s, absl::StatusCode::kOutOfRange, "instruction 0 (STORE): DRAM range");
  EXPECT_STATUS(s, absl::StatusCode::kOutOfRange, "268435456-byte DRAM");
  EXPECT_EQ(Get<float>(size - 32, 8), std::vector<float>(8, 0.0f));
  EXPECT_EQ(state_.dram.touched_bytes(), 0u);
}

TEST_F(SimTest, HugeStridesAndFrameBasesDoNotWrap) {
  // With 64-bit wrap-around these would land on small addresses.
  const std::vector<isa::Instruction> huge_stride = {Load(DType::F32, 0, 0, 2, 1, 0xFFFFFFFF),
                                                     Halt()};
  EXPECT_STATUS(Run(huge_stride).status(), absl::StatusCode::kOutOfRange, "instruction 0 (LOAD)");
  isa::Instruction store = Store(DType::F32, 0x10, 0, 1, 1, 1);
  store.as<isa::DmaArgs>().row_stride = UINT64_MAX;  // wider than the encoded field: still checked
  store.as<isa::DmaArgs>().rows = 2;
  EXPECT_EQ(Run({store, Halt()}).status().code(), absl::StatusCode::kOutOfRange);
  EXPECT_STATUS(Run({Load(DType::F32, 0x10, 0, 1, 1, 1), Halt()}, UINT64_MAX - 3).status(),
                absl::StatusCode::kOutOfRange, "instruction 0 (LOAD): DRAM range");
  EXPECT_EQ(state_.dram.touched_bytes(), 0u);
}

TEST_F(SimTest, TooManyLanesIsAnError) {
  EXPECT_STATUS(Run({Load(DType::F32, 0, 0, 1, 9, 9), Halt()}).status(),
                absl::StatusCode::kOutOfRange, "instruction 0 (LOAD): lanes 9");
}

TEST_F(SimTest, AccumulatorOverflowIsAnErrorAndWritesNothing) {
  Put<float>(0x100, {1.0f});
  SetAcc(63, 0, 5.0f);
  const std::vector<isa::Instruction> code = {
      LoadWeights(DType::F32, 0x100, 1, 1, 1),
      Matmul(0, 60, 8, true),  // accumulator rows [60, 68) of 64
      Halt(),
  };
  EXPECT_STATUS(Run(code).status(), absl::StatusCode::kOutOfRange,
                "instruction 1 (MATMUL): accumulator rows [60, 68)");
  EXPECT_EQ(Acc(63, 0), 5.0f);
  EXPECT_EQ(state_.mxu[0].weight_fifo.size(), 1u);  // not popped
  EXPECT_STATUS(Run({Activate(isa::ActFunc::None, 63, 0, 2), Halt()}).status(),
                absl::StatusCode::kOutOfRange, "instruction 0 (ACTIVATE): accumulator rows");
  EXPECT_STATUS(Run({Activate(isa::ActFunc::None, 0, 0, 1, true, 512), Halt()}).status(),
                absl::StatusCode::kOutOfRange, "bias UB rows [512, 513)");
}

TEST_F(SimTest, StatsAttributeInstructionsAndMacsToGraphOps) {
  Put<float>(0x100, std::vector<float>(64, 1.0f));
  isa::Program program;
  program.add_op_names("load");
  program.add_op_names("matmul");
  const std::vector<isa::Instruction> code = {
      Load(DType::F32, 0x100, 0, 8, 8, 8),      // op 0
      LoadWeights(DType::F32, 0x100, 8, 8, 8),  // op 1
      Matmul(0, 0, 8, true),                    // op 1
      Matmul(0, 8, 2, false),                   // op 1
      Halt(),                                   // op 0
  };
  for (uint32_t op : {0u, 1u, 1u, 1u, 0u}) program.add_inst_op(op);
  auto stats = Run(code, 0, &program);
  ASSERT_TRUE(stats.ok()) << stats.status();
  EXPECT_EQ(stats->macs, (8u + 2) * 64);
  EXPECT_EQ(stats->useful_macs, (8u + 2) * 64);
  EXPECT_EQ(stats->op_instructions, (std::vector<uint64_t>{2, 3}));
  EXPECT_EQ(stats->op_macs, (std::vector<uint64_t>{0, 10 * 64}));
  EXPECT_EQ(Acc(9, 7), 8.0f);  // a row of ones times a tile of ones
  // Without debug info the op vectors stay empty.
  auto plain = Run(code);
  ASSERT_TRUE(plain.ok());
  EXPECT_TRUE(plain->op_instructions.empty());
  EXPECT_EQ(plain->instructions, 5u);
}

TEST_F(SimTest, EngineDecodesTheProgramWhenNoCodeIsGiven) {
  isa::Program program;
  program.set_isa_version(isa::kIsaVersion);
  auto bytes = isa::EncodeProgram({Store(DType::F32, 0x40, 0, 1, 1, 1), Halt()});
  ASSERT_TRUE(bytes.ok()) << bytes.status();
  program.set_code(*bytes);
  SetUb(0, 0, 6.5f);
  auto engine = CreateEngine("functional", arch_);
  ASSERT_TRUE(engine.ok());
  Launch launch;
  launch.program = &program;
  auto stats = (*engine)->Run(launch, state_);
  ASSERT_TRUE(stats.ok()) << stats.status();
  EXPECT_EQ(Get<float>(0x40, 1)[0], 6.5f);
  EXPECT_EQ(stats->ub_to_dram_bytes, 4u);
}

TEST_F(SimTest, InstructionWithTheWrongOperandFormatIsAnError) {
  isa::Instruction bad;
  bad.opcode = Opcode::LOAD;
  bad.args = isa::NoneArgs{};
  EXPECT_STATUS(Run({bad, Halt()}).status(), absl::StatusCode::kInvalidArgument,
                "instruction 0 (LOAD)");
  isa::Instruction unknown;
  unknown.opcode = static_cast<Opcode>(0x77);
  EXPECT_STATUS(Run({unknown, Halt()}).status(), absl::StatusCode::kInvalidArgument, "opcode 0x77");
}

}  // namespace
}  // namespace tpusim::simulator
