// Same program, same bits: random valid programs (cross-queue hazards ordered by SYNC or by
// SIGNAL/WAIT chains, as docs/timing.md requires) and a double-buffered GEMM whose load queue runs
// ahead of the compute queue leave DRAM, UB, accumulators, weights and tokens exactly as the
// functional engine does.
#include <cstdint>
#include <cstring>
#include <optional>
#include <random>
#include <vector>

#include "cycle_test_util.h"

namespace tpusim::simulator {
namespace {

using isa::DType;
using isa::Opcode;
using isa::Queue;
using testing::Halt;
using testing::Load;
using testing::LoadWeights;
using testing::Matmul;
using testing::Store;
using testing::Token;

constexpr uint64_t kInput = 0, kInputBytes = 0x10000, kOutput = 0x20000, kOutputBytes = 0x10000;

// Runs `code` on "functional" and on "cycle", each on a fresh device whose DRAM input area holds
// the same random bytes, and expects identical devices afterwards. Returns the cycle engine's stats.
RunStats ExpectSameBits(const isa::ArchConfig& arch, isa::MatmulType mode,
                        const std::vector<isa::Instruction>& code, uint32_t seed) {
  std::mt19937 rng(seed);
  std::vector<float> input(kInputBytes / 4);
  std::uniform_real_distribution<float> value(-4.0f, 4.0f);
  for (float& v : input) v = value(rng);
  for (size_t k = 0; k < input.size(); k += 97) {  // a few raw bit patterns: NaN, Inf, subnormals
    uint32_t bits = static_cast<uint32_t>(rng());
    std::memcpy(&input[k], &bits, 4);
  }
  DeviceState functional(arch, mode), cycle(arch, mode);
  EXPECT_TRUE(functional.dram.Write(kInput, input.data(), kInputBytes).ok());
  EXPECT_TRUE(cycle.dram.Write(kInput, input.data(), kInputBytes).ok());
  Launch launch;
  launch.code = &code;
  auto f = CreateEngine("functional", arch).value()->Run(launch, functional);
  EXPECT_TRUE(f.ok()) << "the generator made an invalid program: " << f.status();
  auto c = CreateEngine("cycle", arch).value()->Run(launch, cycle);
  EXPECT_TRUE(c.ok()) << c.status();
  if (!f.ok() || !c.ok()) return {};
  EXPECT_TRUE(cycle.ub == functional.ub) << "UB differs, seed " << seed;
  EXPECT_TRUE(cycle.acc == functional.acc) << "accumulators differ, seed " << seed;
  EXPECT_TRUE(cycle.mxu == functional.mxu) << "weight FIFOs or array weights differ, seed " << seed;
  EXPECT_TRUE(cycle.semaphores == functional.semaphores) << "tokens differ, seed " << seed;
  std::vector<uint8_t> want(kOutputBytes), got(kOutputBytes);
  EXPECT_TRUE(functional.dram.Read(kOutput, want.data(), kOutputBytes).ok());
  EXPECT_TRUE(cycle.dram.Read(kOutput, got.data(), kOutputBytes).ok());
  EXPECT_TRUE(want == got) << "DRAM output differs, seed " << seed;
  EXPECT_EQ(c->macs, f->macs);
  EXPECT_EQ(c->instructions, f->instructions);
  EXPECT_EQ(c->buckets.total(), c->cycles);
  return *c;
}

// Random programs valid for the functional engine. Cross-queue order: a SYNC at every queue change,
// or (tokens=true) SIGNAL on the old queue + WAIT on the new one, which chains every instruction
// after all earlier ones while letting each queue run its own stretch freely.
class RandomProgram {
 public:
  RandomProgram(const isa::ArchConfig& arch, isa::MatmulType mode, uint32_t seed, bool tokens)
      : arch_(arch), int8_(mode == isa::INT8_INT32), tokens_(tokens), rng_(seed) {
    lanes_ = std::max(arch.array_rows(), arch.array_cols());
    ub_rows_ = isa::UbRows(arch, mode);
  }

  std::vector<isa::Instruction> Make(int n) {
    while (static_cast<int>(code_.size()) < n) Add();
    code_.push_back(Halt());
    return code_;
  }

 private:
  uint64_t U(uint64_t lo, uint64_t hi) { return std::uniform_int_distribution<uint64_t>(lo, hi)(rng_); }
  DType AnyType() { return static_cast<DType>(U(0, 3)); }

  void Emit(const isa::Instruction& inst, Queue queue) {
    if (last_ && *last_ != queue) {
      if (tokens_) {
        const uint64_t channel = U(0, 3);
        code_.push_back(Token(Opcode::SIGNAL, *last_, channel));
        code_.push_back(Token(Opcode::WAIT, queue, channel));
      } else {
        code_.push_back(isa::Make(Opcode::SYNC));
      }
    }
    last_ = queue;
    code_.push_back(inst);
  }

  void Add() {
    const uint64_t rows = U(1, 8), lanes = U(1, lanes_);
    switch (U(0, 6)) {
      case 0:
        Emit(Load(AnyType(), kInput + 4 * U(0, 1024), U(0, ub_rows_ - rows), rows, lanes,
                  U(lanes, 2 * lanes), U(0, 2)),
             Queue::Load);
        break;
      case 1:
        if (fifo_ >= arch_.weight_fifo_depth()) return Add();
        Emit(LoadWeights(AnyType(), kInput + 4 * U(0, 1024), U(1, arch_.array_rows()),
                         U(1, arch_.array_cols()), U(arch_.array_cols(), 40), U(1, 2)),
             Queue::Load);
        ++fifo_;
        break;
      case 2:
      case 3: {
        bool pop = fifo_ > 0 && (!loaded_ || U(0, 1) == 0);
        if (!pop && !loaded_) return Add();
        if (pop) {
          --fifo_;
          loaded_ = true;
        }
        Emit(Matmul(U(0, ub_rows_ - rows), U(0, arch_.accumulator_entries() - rows), rows, pop,
                    U(0, 1) == 1, int8_ ? DType::I8 : DType::BF16),
             Queue::Compute);
        break;
      }
      case 4: {
        const auto func = static_cast<isa::ActFunc>(int8_ ? U(0, 1) : U(0, 3));
        Emit(testing::Activate(func, U(0, arch_.accumulator_entries() - rows),
                               U(0, ub_rows_ - rows), rows, U(0, 1) == 1, U(0, ub_rows_ - 1)),
             Queue::Compute);
        break;
      }
      case 5: {
        static constexpr isa::VectorOp kOps[] = {
            isa::VectorOp::Copy, isa::VectorOp::Relu, isa::VectorOp::Sigmoid, isa::VectorOp::Exp,
            isa::VectorOp::Add, isa::VectorOp::Mul, isa::VectorOp::Max, isa::VectorOp::AddImm,
            isa::VectorOp::ReduceSum, isa::VectorOp::ReduceMax, isa::VectorOp::RoundBf16};
        const isa::VectorOp op = int8_ ? kOps[U(0, 1)] : kOps[U(0, std::size(kOps) - 1)];
        Emit(testing::Vector(op, U(0, ub_rows_ - rows), U(0, ub_rows_ - rows),
                             U(0, ub_rows_ - rows), rows, U(0, 1) == 1, 0.5f),
             Queue::Compute);
        break;
      }
      default:
        Emit(Store(AnyType(), kOutput + 4 * U(0, 1024), U(0, ub_rows_ - rows), rows, lanes,
                   U(lanes, 2 * lanes), U(1, 2)),
             Queue::Store);
        break;
    }
  }

  const isa::ArchConfig arch_;
  const bool int8_;
  const bool tokens_;
  std::mt19937 rng_;
  uint64_t lanes_ = 0, ub_rows_ = 0;
  uint64_t fifo_ = 0;     // tiles loaded and not popped, in program order
  bool loaded_ = false;   // the array holds weights
  std::optional<Queue> last_;
  std::vector<isa::Instruction> code_;
};

TEST(CycleBitsTest, RandomProgramsMatchTheFunctionalEngine) {
  for (const testing::ArchCase& c : {testing::TinyCase(), testing::Arch16Case()}) {
    for (isa::MatmulType mode : {isa::BF16_FP32, isa::INT8_INT32}) {
      for (bool tokens : {false, true}) {
        for (uint32_t seed = 1; seed <= 12; ++seed) {
          SCOPED_TRACE(::testing::Message() << c.name << " mode " << mode << " tokens " << tokens
                                            << " seed " << seed);
          const auto code = RandomProgram(c.arch, mode, seed, tokens).Make(60);
          ExpectSameBits(c.arch, mode, code, seed);
        }
      }
    }
  }
}

// Y = X W with K = 32 on the 8x8 array: four K-tiles, inputs double-buffered in UB rows 0-7 and
// 8-15. The load queue fetches tile k + 1 while the MXU multiplies tile k; tokens: channel 0 =
// "tile loaded", channel 1 = "buffer free", channel 2 = "result ready".
std::vector<isa::Instruction> DoubleBufferedGemm(bool serialize) {
  std::vector<isa::Instruction> code;
  auto load_tile = [&](uint64_t k) {
    if (k >= 2) code.push_back(Token(Opcode::WAIT, Queue::Load, 1));
    code.push_back(Load(DType::F32, kInput + k * 8 * 4, (k % 2) * 8, 8, 8, 32));  // X[:, 8k..]
    code.push_back(LoadWeights(DType::F32, kInput + 0x2000 + k * 8 * 8 * 4, 8, 8, 8));
    code.push_back(Token(Opcode::SIGNAL, Queue::Load, 0));
  };
  auto multiply = [&](uint64_t k) {
    code.push_back(Token(Opcode::WAIT, Queue::Compute, 0));
    code.push_back(Matmul((k % 2) * 8, 0, 8, true, k > 0));
    code.push_back(Token(Opcode::SIGNAL, Queue::Compute, 1));
  };
  load_tile(0);
  load_tile(1);
  multiply(0);
  load_tile(2);
  multiply(1);
  load_tile(3);
  multiply(2);
  multiply(3);
  code.push_back(testing::Activate(isa::ActFunc::None, 0, 32, 8));
  code.push_back(Token(Opcode::SIGNAL, Queue::Compute, 2));
  code.push_back(Token(Opcode::WAIT, Queue::Store, 2));
  code.push_back(Store(DType::F32, kOutput, 32, 8, 8, 8));
  if (serialize) {  // the same work with a SYNC after every instruction
    std::vector<isa::Instruction> serial;
    for (const isa::Instruction& inst : code) {
      serial.push_back(inst);
      serial.push_back(isa::Make(Opcode::SYNC));
    }
    code = serial;
  }
  code.push_back(Halt());
  return code;
}

TEST(CycleBitsTest, DoubleBufferedGemmOverlapsAndMatchesTheFunctionalEngine) {
  const testing::ArchCase c = testing::TinyCase();
  const RunStats overlapped = ExpectSameBits(c.arch, c.mode, DoubleBufferedGemm(false), 7);
  const RunStats serial = ExpectSameBits(c.arch, c.mode, DoubleBufferedGemm(true), 7);
  EXPECT_EQ(overlapped.macs, 4u * 8 * 64);
  // Overlap is the point of the tokens: fewer simulated cycles than the serialized program.
  EXPECT_LT(overlapped.cycles, serial.cycles);
}

}  // namespace
}  // namespace tpusim::simulator
