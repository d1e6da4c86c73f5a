// The Verilated core models of this build and the interface the rtl engine drives them through
// (internal to rtl/src). A model is one Verilation of rtl/sv/core/tpu_core.sv with one arch_pkg.
#pragma once

#include <cstdint>
#include <functional>
#include <memory>
#include <string>
#include <vector>

#include "absl/status/statusor.h"
#include "isa/proto/arch_config.pb.h"
#include "tpusim/isa/isa.h"
#include "tpusim/simulator/device_state.h"
#include "tpusim/simulator/engine.h"

namespace tpusim::rtl {

// When an instruction was dispatched, started and completed on the core (cycles from the launch
// start; kNever where it did not happen).
inline constexpr uint64_t kNever = UINT64_MAX;
struct CoreTimes {
  uint64_t dispatch = kNever;
  uint64_t start = kNever;
  uint64_t end = kNever;
};

// One run of a program on a core model. `state` must hold an empty weight FIFO, no array weights and
// no tokens (the driver resets them for every launch); UB and accumulators are loaded into the core
// before the run and read back after it; DRAM is served from state.dram.
struct CoreJob {
  const std::vector<isa::Instruction>* code = nullptr;
  uint64_t frame_base = 0;
  simulator::DeviceState* state = nullptr;
  std::string vcd_path;                  // "" = no waveform
  simulator::VcdWindow vcd_window;
  std::function<void(uint64_t, uint64_t, uint64_t)> progress;  // simulator::Launch::progress
};
struct CoreResult {
  uint64_t cycles = 0;
  std::vector<CoreTimes> times;     // per instruction
  simulator::CycleBuckets buckets;  // from the core's per-cycle `bucket` output, cycles [0, cycles)
};

class CoreRunner {
 public:
  virtual ~CoreRunner() = default;
  virtual absl::StatusOr<CoreResult> Run(const CoreJob& job) = 0;
};

struct CoreModelInfo {
  std::string name;       // "tiny", "rtl-16x16"
  isa::ArchConfig arch;   // the preset it was Verilated from
  std::function<std::unique_ptr<CoreRunner>()> make;
};
// The models this build has (empty without Verilator or before the core is configured).
const std::vector<CoreModelInfo>& CoreModels();

// "" when `arch` runs on a model Verilated from `model`; else the first difference in words, e.g.
// "array_rows 128 (model: 8)". Compares the fields the RTL is built from, and what the harness needs
// (weight-stationary dataflow, dram_latency_cycles >= 1).
std::string CoreConfigDifference(const isa::ArchConfig& model, const isa::ArchConfig& arch);

}  // namespace tpusim::rtl
