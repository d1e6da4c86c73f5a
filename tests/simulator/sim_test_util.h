// Helpers shared by the simulator tests: instruction builders (isa::Make plus field assignment) and
// a fixture holding a `tiny` device and the functional engine.
#pragma once

#include <cstdint>
#include <cstring>
#include <string>
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
class SimTest : public ::testing::Test {
 protected:
  SimTest() : arch_(isa::LoadPreset("tiny").value()), state_(arch_, isa::BF16_FP32) {}

  absl::StatusOr<RunStats> Run(const std::vector<Instruction>& code, uint64_t frame_base = 0,
                               const isa::Program* program = nullptr) {
    auto engine = CreateEngine("functional", arch_);
    if (!engine.ok()) return engine.status();
    Launch launch;
    launch.program = program;
    launch.code = &code;
    launch.frame_base = frame_base;
    return (*engine)->Run(launch, state_);
  }

  template <typename T>
  void Put(uint64_t addr, const std::vector<T>& values) {
    ASSERT_TRUE(state_.dram.Write(addr, values.data(), values.size() * sizeof(T)).ok());
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
};

// The status' message contains `part` (gtest prints the whole message on failure).
#define EXPECT_STATUS(status_expr, code_, part)                               \
  do {                                                                        \
    const absl::Status s_ = (status_expr);                                    \
    EXPECT_EQ(s_.code(), (code_)) << s_;                                      \
    EXPECT_NE(std::string(s_.message()).find(part), std::string::npos) << s_; \
  } while (0)

}  // namespace tpusim::simulator::testing
