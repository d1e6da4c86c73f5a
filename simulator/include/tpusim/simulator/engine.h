// The engine interface: executes an isa program against a DeviceState and returns statistics.
// Implementations are registered by name ("functional", "cycle"; rtl/'s "rtl").
#pragma once

#include <array>
#include <cstdint>
#include <functional>
#include <memory>
#include <string>
#include <string_view>
#include <vector>

#include "absl/status/statusor.h"
#include "isa/proto/program.pb.h"
#include "tpusim/isa/isa.h"
#include "tpusim/simulator/device_state.h"

namespace tpusim::simulator {

// Where every cycle of the array went (docs/timing.md, "Where every cycle of the array goes"); the
// buckets sum to RunStats::cycles.
struct CycleBuckets {
  uint64_t active = 0;
  uint64_t weight_load_stall = 0;
  uint64_t weight_shift = 0;
  uint64_t input_stall = 0;
  uint64_t non_matrix = 0;
  uint64_t sync_wait = 0;
  uint64_t idle = 0;
  uint64_t total() const {
    return active + weight_load_stall + weight_shift + input_stall + non_matrix + sync_wait + idle;
  }
};

// One instruction's busy interval on one unit, for timelines (Chrome trace events).
struct TraceSlice {
  // "load DMA", "weight DMA", "MXU" (matrix unit 0; unit k >= 1: "MXU k"), "vector unit",
  // "store DMA", "controller"
  std::string unit;
  uint32_t instruction = 0;  // index in the program
  uint64_t start = 0;        // cycles from the launch start; [start, end)
  uint64_t end = 0;
};

// The timeline track of an instruction's slice: "load DMA", "weight DMA", "store DMA", "MXU",
// "vector unit" or "controller" (SYNC); nullptr for the instructions that take no time on a unit
// (SIGNAL, WAIT, HALT). Every timing engine names its tracks with this.
const char* TraceUnitOf(isa::Opcode op);

// What one launch did. Counters an engine cannot know stay zero (the functional engine has no cycles).
struct RunStats {
  std::string engine;
  uint64_t instructions = 0;
  std::array<uint64_t, isa::kNumOpcodes> by_opcode{};  // indexed by isa::OpcodeIndex
  uint64_t macs = 0;                  // multiply-accumulates the array performed (rows x R x C per MATMUL)
  uint64_t useful_macs = 0;           // MACs on non-padding operands (rows x weight rows x weight cols)
  uint64_t vector_elements = 0;       // elements the vector unit produced (ACTIVATE + VECTOR)
  // Bytes moved, per path.
  uint64_t dram_to_ub_bytes = 0;      // LOAD
  uint64_t ub_to_dram_bytes = 0;      // STORE
  uint64_t dram_to_weights_bytes = 0; // LOAD_WEIGHTS
  // Timing engines only (docs/timing.md).
  uint64_t cycles = 0;
  CycleBuckets buckets;
  uint64_t ub_to_array_bytes = 0;     // MATMUL input rows read from the UB (rows x array_rows x 4)
  uint64_t accumulator_bytes = 0;     // accumulator words written by MATMUL and read by ACTIVATE
  std::vector<uint64_t> op_cycles;    // per graph op: cycles from its first start to its last completion
  std::vector<TraceSlice> trace;      // filled only when Launch::collect_trace
  // Per graph op (program.op_names order): instructions and MACs attributed through program.inst_op.
  std::vector<uint64_t> op_instructions;
  std::vector<uint64_t> op_macs;

  uint64_t count(isa::Opcode op) const { return by_opcode[isa::OpcodeIndex(op)]; }
  // Sums every counter (engine name kept); op vectors are added element-wise.
  void Accumulate(const RunStats& other);
};

// A waveform window (Launch::vcd_window): [start, end) in cycles or in instruction indices.
struct VcdWindow {
  enum class Unit { kCycles, kInstructions };
  Unit unit = Unit::kCycles;
  uint64_t start = 0;
  uint64_t end = UINT64_MAX;
};

// One launch: the decoded code (DecodeCode of program), the program (for debug info) and the DRAM
// address of the program's frame; every instruction DRAM address is an offset from frame_base.
struct Launch {
  const isa::Program* program = nullptr;
  const std::vector<isa::Instruction>* code = nullptr;
  uint64_t frame_base = 0;
  bool collect_trace = false;  // timing engines: fill RunStats::trace
  // Timing engines, optional: called on the thread that called Engine::Run, about once per wall-clock
  // second while a run lasts longer than that (never for short runs), with the simulated cycles so
  // far, the instructions completed and the program's instruction count.
  std::function<void(uint64_t cycle, uint64_t instructions_done, uint64_t instructions_total)>
      progress{};
  // rtl engine only (others ignore both): write a VCD waveform of the core to vcd_path ("" = none),
  // for the window only. A window in cycles dumps [start, end); in instructions it dumps from the
  // dispatch of instruction `start` to the completion of instruction `end - 1` (program indices).
  std::string vcd_path{};
  VcdWindow vcd_window{};
};

class Engine {
 public:
  virtual ~Engine() = default;
  virtual std::string_view name() const = 0;
  // Runs to HALT. A device error (out-of-range access, FIFO overflow/underflow, deadlock, an instruction
  // invalid for the arch) stops the run and returns a status naming the instruction index and opcode,
  // e.g. "instruction 17 (LOAD): UB rows [510, 518) exceed the 512-row unified buffer".
  // The state then holds what earlier instructions wrote.
  virtual absl::StatusOr<RunStats> Run(const Launch& launch, DeviceState& state) = 0;
};

using EngineFactory = std::function<std::unique_ptr<Engine>(const isa::ArchConfig&)>;
// Registers a factory under a name (call from a static initializer or explicitly at startup).
void RegisterEngine(std::string name, EngineFactory factory);
// NotFound listing the registered names if `name` is unknown.
absl::StatusOr<std::unique_ptr<Engine>> CreateEngine(std::string_view name, const isa::ArchConfig& arch);
std::vector<std::string> EngineNames();

}  // namespace tpusim::simulator
