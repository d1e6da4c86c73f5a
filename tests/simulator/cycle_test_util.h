// Helpers for the cycle-engine tests: three target descriptions with their DRAM rate and UB banks
// written out by hand (so that expected cycle counts never come from the engine's own arithmetic),
// and a rig that runs programs on the "cycle" engine.
#pragma once

#include <algorithm>
#include <cstdint>
#include <memory>
#include <ostream>
#include <string>
#include <vector>

#include "gtest/gtest.h"
#include "sim_test_util.h"
#include "tpusim/isa/arch_config.h"
#include "tpusim/simulator/engine.h"

namespace tpusim::simulator::testing {

struct ArchCase {
  std::string name;
  isa::ArchConfig arch;
  isa::MatmulType mode;
  // DRAM bytes per cycle = bw_num / bw_den, worked out by hand from the arch's numbers.
  uint64_t bw_num;
  uint64_t bw_den;
  uint64_t banks;  // ub_banks: UB rows a DMA moves per cycle (docs/timing.md rule 3)
};
inline void PrintTo(const ArchCase& c, std::ostream* os) { *os << c.name; }

// tiny: 8x8, Lw 8, V 8, 16 GB/s at 1000 MHz = 16 B/cycle, Lat 40, F 2, Q 8, 2 UB banks; bf16 mode.
inline ArchCase TinyCase() {
  return {"tiny", isa::LoadPreset("tiny").value(), isa::BF16_FP32, 16, 1, 2};
}

// a16: built here — 16x16, Lw 16, V 6, 24 GB/s at 500 MHz = 24000/500 = 48 B/cycle, Lat 10, F 3,
// Q 4, 2 UB banks (tiny's); bf16 mode.
inline ArchCase Arch16Case() {
  isa::ArchConfig a = isa::LoadPreset("tiny").value();
  a.set_name("a16");
  a.set_array_rows(16);
  a.set_array_cols(16);
  a.set_ub_bytes(16 * 4 * 512);
  a.set_vector_lanes(6);
  a.set_clock_mhz(500);
  a.set_dram_bandwidth_gbps(24);
  a.set_dram_latency_cycles(10);
  a.set_weight_fifo_depth(3);
  a.set_instruction_queue_depth(4);
  EXPECT_TRUE(isa::ValidateArchConfig(a, "a16").ok());
  return {"a16", a, isa::BF16_FP32, 48, 1, 2};
}

// tpu-v1: 256x256, Lw 256, V 256, 34 GB/s at 700 MHz = 34000/700 = 340/7 B/cycle, Lat 100, F 4,
// Q 8, 8 UB banks; int8 mode.
inline ArchCase TpuV1Case() {
  return {"tpu_v1", isa::LoadPreset("tpu-v1").value(), isa::INT8_INT32, 340, 7, 8};
}

// tiny with `units` matrix units (everything else tiny's).
inline ArchCase TinyWithUnits(uint32_t units) {
  ArchCase c = TinyCase();
  c.arch.set_mxu_count(units);
  c.name = "tiny_mxu" + std::to_string(units);
  EXPECT_TRUE(isa::ValidateArchConfig(c.arch, c.name).ok());
  return c;
}

inline std::vector<ArchCase> AllCases() { return {TinyCase(), Arch16Case(), TpuV1Case()}; }

// A device for one ArchCase and its cycle engine.
class CycleRig {
 public:
  explicit CycleRig(const ArchCase& c)
      : case_(c), state_(std::make_unique<DeviceState>(c.arch, c.mode)) {
    engine_ = CreateEngine("cycle", c.arch).value();
  }

  absl::StatusOr<RunStats> Run(const std::vector<isa::Instruction>& code, bool trace = false,
                               const isa::Program* program = nullptr) {
    Launch launch;
    launch.program = program;
    launch.code = &code;
    launch.collect_trace = trace;
    return engine_->Run(launch, *state_);
  }

  // The timing model's numbers for this arch, from the hand-written rate.
  uint64_t R() const { return case_.arch.array_rows(); }
  uint64_t C() const { return case_.arch.array_cols(); }
  uint64_t Lw() const { return std::max(R(), C()); }
  uint64_t V() const { return case_.arch.vector_lanes(); }
  uint64_t Lat() const { return case_.arch.dram_latency_cycles(); }
  // X(S) = ceil(S / BW); the channel hold X'(S, rows) = max(X(S), ceil(rows / banks)) of a DMA
  // moving S bytes in `rows` UB rows; and T = X' + Lat, its time alone on the channel.
  uint64_t Xfer(uint64_t bytes) const {
    return (bytes * case_.bw_den + case_.bw_num - 1) / case_.bw_num;
  }
  uint64_t Hold(uint64_t bytes, uint64_t rows) const {
    return std::max(Xfer(bytes), (rows + case_.banks - 1) / case_.banks);
  }
  uint64_t T(uint64_t bytes, uint64_t rows) const { return Hold(bytes, rows) + Lat(); }
  uint64_t VectorCycles(uint64_t rows) const { return (rows * Lw() + V() - 1) / V(); }
  // The MATMUL dtype and bytes per weight element of this arch's mode.
  isa::DType MatmulType() const { return int8() ? isa::DType::I8 : isa::DType::BF16; }
  isa::DType WeightType() const { return int8() ? isa::DType::I8 : isa::DType::F32; }
  uint64_t WeightBytes() const { return int8() ? 1 : 4; }
  bool int8() const { return case_.mode == isa::INT8_INT32; }

  const ArchCase& arch_case() const { return case_; }
  DeviceState& state() { return *state_; }

 private:
  ArchCase case_;
  std::unique_ptr<DeviceState> state_;
  std::unique_ptr<Engine> engine_;
};

inline std::string CaseName(const ::testing::TestParamInfo<ArchCase>& info) {
  return info.param.name;
}

}  // namespace tpusim::simulator::testing
