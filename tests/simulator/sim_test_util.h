// Helpers shared by the simulator tests: instruction builders (isa::Make plus field assignment) and
// a fixture holding a `tiny` device and the functional engine.
#pragma once

#include <cstdint>
#include <cstring>
#include <optional>
#include <string>
#include <variant>
#include <vector>

#include "gtest/gtest.h"
#include "tpusim/isa/arch_config.h"
#include "tpusim/isa/isa.h"
#include "tpusim/simulator/device_state.h"
#include "tpusim/simulator/engine.h"

namespace tpusim::simulator::testing {

using isa::DType;
using isa::Instruction;
using isa::Opcode;

inline uint64_t Code(DType t) { return static_cast<uint64_t>(t); }

inline Instruction Dma(Opcode op, DType t, uint64_t addr, uint64_t ub_row, uint64_t rows,
                       uint64_t lanes, uint64_t row_stride, uint64_t lane_stride) {
  Instruction i = isa::Make(op);
  auto& a = i.as<isa::DmaArgs>();
  a.dtype = Code(t);
  a.dram_addr = addr;
  a.ub_row = ub_row;
  a.rows = rows;
  a.lanes = lanes;
  a.row_stride = row_stride;
  a.lane_stride = lane_stride;
  return i;
}
inline Instruction Load(DType t, uint64_t addr, uint64_t ub_row, uint64_t rows, uint64_t lanes,
                        uint64_t row_stride, uint64_t lane_stride = 1) {
  return Dma(Opcode::LOAD, t, addr, ub_row, rows, lanes, row_stride, lane_stride);
}
inline Instruction Store(DType t, uint64_t addr, uint64_t ub_row, uint64_t rows, uint64_t lanes,
                         uint64_t row_stride, uint64_t lane_stride = 1) {
  return Dma(Opcode::STORE, t, addr, ub_row, rows, lanes, row_stride, lane_stride);
}
inline Instruction LoadWeights(DType t, uint64_t addr, uint64_t rows, uint64_t cols,
                               uint64_t row_stride, uint64_t col_stride = 1) {
  Instruction i = isa::Make(Opcode::LOAD_WEIGHTS);
  auto& a = i.as<isa::WeightsArgs>();
  a.dtype = Code(t);
  a.dram_addr = addr;
  a.rows = rows;
  a.cols = cols;
  a.row_stride = row_stride;
  a.col_stride = col_stride;
  return i;
}
inline Instruction Matmul(uint64_t ub_row, uint64_t acc_row, uint64_t rows, bool pop,
                          bool accumulate = false, DType t = DType::BF16) {
  Instruction i = isa::Make(Opcode::MATMUL);
  auto& a = i.as<isa::MatmulArgs>();
  a.dtype = Code(t);
  a.accumulate = accumulate;
  a.pop_weights = pop;
  a.ub_row = ub_row;
  a.acc_row = acc_row;
  a.rows = rows;
  return i;
}
// `i` (a LOAD_WEIGHTS or MATMUL) on matrix unit `mxu` (opcodes.def: the `mxu` field).
inline Instruction OnUnit(Instruction i, uint64_t mxu) {
  if (i.opcode == Opcode::MATMUL) i.as<isa::MatmulArgs>().mxu = mxu;
  if (i.opcode == Opcode::LOAD_WEIGHTS) i.as<isa::WeightsArgs>().mxu = mxu;
  return i;
}
inline Instruction Activate(isa::ActFunc f, uint64_t acc_row, uint64_t ub_row, uint64_t rows,
                            bool has_bias = false, uint64_t bias_row = 0) {
  Instruction i = isa::Make(Opcode::ACTIVATE);
  auto& a = i.as<isa::ActivateArgs>();
  a.func = static_cast<uint64_t>(f);
  a.has_bias = has_bias;
  a.acc_row = acc_row;
  a.ub_row = ub_row;
  a.rows = rows;
  a.bias_row = bias_row;
  return i;
}
inline Instruction Vector(isa::VectorOp op, uint64_t dst, uint64_t a_row, uint64_t b_row,
                          uint64_t rows, bool b_bcast = false, float imm = 0.0f) {
  Instruction i = isa::Make(Opcode::VECTOR);
  auto& a = i.as<isa::VectorArgs>();
  a.op = static_cast<uint64_t>(op);
  a.b_bcast = b_bcast;
  a.dst_row = dst;
  a.a_row = a_row;
  a.b_row = b_row;
  a.rows = rows;
  a.imm = isa::F32Bits(imm);
  return i;
}
inline Instruction Token(Opcode op, isa::Queue q, uint64_t channel) {
  Instruction i = isa::Make(op);
  auto& a = i.as<isa::TokenArgs>();
  a.queue = static_cast<uint64_t>(q);
  a.channel = channel;
  return i;
}
inline Instruction Halt() { return isa::Make(Opcode::HALT); }

// A `tiny` device (8x8 array, 8-lane UB of 512 fp32 rows, 64 accumulator rows, FIFO depth 2) in
// BF16_FP32 mode unless a test resets it, plus the registered functional engine.
//
// Same bits: every successful Run is repeated on the "cycle" engine against a mirror device (same
// DRAM writes through Put, same on-chip state at the launch), and the two devices must end equal.
// These programs order their cross-queue hazards by program order alone, which only the functional
// engine honours (docs/timing.md, "Data effects"), so the mirror runs them the way the compiler
// emits code: with a SYNC wherever the queue changes. After a failed run the devices may differ, so
// the test compares no more runs.
class SimTest : public ::testing::Test {
 protected:
  SimTest()
      : arch_(isa::LoadPreset("tiny").value()),
        state_(arch_, isa::BF16_FP32),
        mirror_(arch_, isa::BF16_FP32) {}

  absl::StatusOr<RunStats> Run(const std::vector<Instruction>& code, uint64_t frame_base = 0,
                               const isa::Program* program = nullptr) {
    auto engine = CreateEngine("functional", arch_);
    if (!engine.ok()) return engine.status();
    Launch launch;
    launch.program = program;
    launch.code = &code;
    launch.frame_base = frame_base;
    SyncMirror();
    absl::StatusOr<RunStats> stats = (*engine)->Run(launch, state_);
    ExpectCycleEngineAgrees(launch, stats);
    return stats;
  }

  template <typename T>
  void Put(uint64_t addr, const std::vector<T>& values) {
    ASSERT_TRUE(state_.dram.Write(addr, values.data(), values.size() * sizeof(T)).ok());
    ASSERT_TRUE(mirror_.dram.Write(addr, values.data(), values.size() * sizeof(T)).ok());
  }
  template <typename T>
  std::vector<T> Get(uint64_t addr, size_t n) {
    std::vector<T> out(n);
    EXPECT_TRUE(state_.dram.Read(addr, out.data(), n * sizeof(T)).ok());
    return out;
  }
  float Ub(uint64_t row, uint64_t lane) { return isa::BitsF32(state_.ub_row(row)[lane]); }
  void SetUb(uint64_t row, uint64_t lane, float v) {
    state_.ub_row(row)[lane] = static_cast<uint32_t>(isa::F32Bits(v));
  }
  float Acc(uint64_t row, uint64_t col) { return isa::BitsF32(state_.acc_row(row)[col]); }
  void SetAcc(uint64_t row, uint64_t col, float v) {
    state_.acc_row(row)[col] = static_cast<uint32_t>(isa::F32Bits(v));
  }
  int32_t IntUb(uint64_t row, uint64_t lane) {
    return static_cast<int32_t>(state_.ub_row(row)[lane]);
  }
  int32_t IntAcc(uint64_t row, uint64_t col) {
    return static_cast<int32_t>(state_.acc_row(row)[col]);
  }

  isa::ArchConfig arch_;
  DeviceState state_;

 private:
  // Gives the mirror the on-chip state the functional run starts from (a test may have replaced
  // state_ with a device of another arch: the mirror follows while its DRAM is still blank).
  void SyncMirror() {
    if (mirror_.arch.SerializeAsString() != state_.arch.SerializeAsString()) {
      if (state_.dram.touched_bytes() != 0) mirror_valid_ = false;
      mirror_ = DeviceState(state_.arch, state_.mode);
    }
    mirror_.ResetOnChip(state_.mode);
    mirror_.ub = state_.ub;
    mirror_.acc = state_.acc;
    mirror_.mxu = state_.mxu;
    mirror_.semaphores = state_.semaphores;
  }

  // `code` with a SYNC before every instruction whose queue differs from the previous queued one;
  // `inst_op` (if not empty) extended to match, a SYNC belonging to the instruction after it.
  static std::vector<Instruction> Serialized(const std::vector<Instruction>& code,
                                             const isa::Program* program,
                                             isa::Program* serialized_program) {
    std::vector<Instruction> out;
    std::optional<isa::Queue> last;
    const bool debug = program != nullptr && program->inst_op_size() > 0;
    if (program != nullptr) {
      *serialized_program = *program;
      serialized_program->clear_inst_op();
    }
    for (size_t i = 0; i < code.size(); ++i) {
      const std::optional<Opcode> op = isa::OpcodeFromCode(static_cast<uint8_t>(code[i].opcode));
      std::optional<isa::Queue> queue;
      if (op && (*op == Opcode::SIGNAL || *op == Opcode::WAIT) &&
          std::holds_alternative<isa::TokenArgs>(code[i].args)) {
        queue = isa::QueueFromCode(code[i].as<isa::TokenArgs>().queue);
      } else if (op) {
        queue = isa::QueueOf(*op);
      }
      const uint32_t inst_op =
          debug && i < static_cast<size_t>(program->inst_op_size()) ? program->inst_op(i) : 0;
      if (queue && *queue != isa::Queue::Control) {
        if (last && *last != *queue) {
          out.push_back(isa::Make(Opcode::SYNC));
          if (debug) serialized_program->add_inst_op(inst_op);
        }
        last = queue;
      }
      out.push_back(code[i]);
      if (debug && i < static_cast<size_t>(program->inst_op_size())) {
        serialized_program->add_inst_op(inst_op);
      }
    }
    return out;
  }

  // Runs the launch on "cycle" against mirror_ and compares everything the functional run left.
  void ExpectCycleEngineAgrees(const Launch& launch, const absl::StatusOr<RunStats>& functional) {
    if (!mirror_valid_) return;
    if (!functional.ok()) {
      mirror_valid_ = false;
      return;
    }
    auto engine = CreateEngine("cycle", mirror_.arch);
    ASSERT_TRUE(engine.ok()) << engine.status();
    isa::Program program;
    const std::vector<Instruction> code = Serialized(*launch.code, launch.program, &program);
    Launch serialized = launch;
    serialized.code = &code;
    if (launch.program != nullptr) serialized.program = &program;
    absl::StatusOr<RunStats> cycle = (*engine)->Run(serialized, mirror_);
    ASSERT_TRUE(cycle.ok()) << "cycle engine: " << cycle.status();
    const uint64_t added = code.size() - launch.code->size();
    EXPECT_EQ(cycle->instructions, functional->instructions + added);
    EXPECT_EQ(cycle->count(Opcode::SYNC), functional->count(Opcode::SYNC) + added);
    EXPECT_EQ(cycle->macs, functional->macs);
    EXPECT_EQ(cycle->useful_macs, functional->useful_macs);
    EXPECT_EQ(cycle->op_macs, functional->op_macs);
    EXPECT_EQ(cycle->buckets.total(), cycle->cycles);
    EXPECT_TRUE(mirror_.ub == state_.ub) << "cycle engine: UB differs";
    EXPECT_TRUE(mirror_.acc == state_.acc) << "cycle engine: accumulators differ";
    for (size_t m = 0; m < state_.mxu.size() && m < mirror_.mxu.size(); ++m) {
      EXPECT_TRUE(mirror_.mxu[m].weight_fifo == state_.mxu[m].weight_fifo)
          << "cycle engine: weight FIFO of mxu " << m << " differs";
      EXPECT_TRUE(mirror_.mxu[m].weights == state_.mxu[m].weights)
          << "cycle engine: array weights of mxu " << m << " differ";
    }
    EXPECT_EQ(mirror_.mxu.size(), state_.mxu.size());
    EXPECT_TRUE(mirror_.semaphores == state_.semaphores) << "cycle engine: tokens differ";
    // DRAM: every byte a STORE of the program may have written.
    for (const Instruction& inst : *launch.code) {
      if (inst.opcode != Opcode::STORE) continue;
      const auto& a = inst.as<isa::DmaArgs>();
      const std::optional<DType> t = isa::DTypeFromCode(a.dtype);
      if (!t || a.rows == 0 || a.lanes == 0 || a.row_stride > (1u << 20) ||
          a.lane_stride > (1u << 20)) {
        continue;  // nothing written, or too sparse to compare byte by byte
      }
      const uint64_t bytes = isa::DTypeBytes(*t);
      const uint64_t base = launch.frame_base + a.dram_addr;
      const uint64_t n =
          ((a.rows - 1) * a.row_stride + (a.lanes - 1) * a.lane_stride) * bytes + bytes;
      std::vector<uint8_t> want(n), got(n);
      ASSERT_TRUE(state_.dram.Read(base, want.data(), n).ok());
      ASSERT_TRUE(mirror_.dram.Read(base, got.data(), n).ok());
      EXPECT_TRUE(want == got) << "cycle engine: DRAM differs in [" << base << ", " << base + n
                               << ")";
    }
  }

  DeviceState mirror_;
  bool mirror_valid_ = true;
};

// The status' message contains `part` (gtest prints the whole message on failure).
#define EXPECT_STATUS(status_expr, code_, part)                               \
  do {                                                                        \
    const absl::Status s_ = (status_expr);                                    \
    EXPECT_EQ(s_.code(), (code_)) << s_;                                      \
    EXPECT_NE(std::string(s_.message()).find(part), std::string::npos) << s_; \
  } while (0)

}  // namespace tpusim::simulator::testing
