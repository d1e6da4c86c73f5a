// Sessions: place each op of a graph on a device, compile TPU subgraphs to programs (cached), and run
// them through the driver, falling back to the CPU for ops the TPU does not support.
#pragma once

#include <functional>
#include <map>
#include <memory>
#include <ostream>
#include <string>
#include <vector>

#include "absl/status/statusor.h"
#include "isa/proto/arch_config.pb.h"
#include "tpusim/compiler_backend/compiler.h"
#include "tpusim/compiler_backend/ir.h"
#include "tpusim/driver/driver.h"
#include "tpusim/isa/instruction.h"
#include "tpusim/simulator/engine.h"

namespace tpusim::runtime {

inline constexpr char kTpuDeviceName[] = "/job:localhost/replica:0/task:0/device:TPU:0";
inline constexpr char kCpuDeviceName[] = "/job:localhost/replica:0/task:0/device:CPU:0";

// How far a Run has got, reported while a TPU launch runs.
struct RunProgress {
  int launch = 0;                   // index of the TPU launch within the Run (0-based)
  uint64_t cycles = 0;              // cycles simulated so far in this launch
  uint64_t instructions_done = 0;   // instructions of this launch completed so far
  uint64_t instructions_total = 0;  // instructions of the launch's program
};

struct SessionOptions {
  std::string device = "tpu";         // "tpu": TPU where supported, else CPU; "cpu": everything on CPU
  std::string engine = "functional";  // TPU engine: "functional", "cycle" or "rtl"
  isa::ArchConfig arch;               // required when device == "tpu"
  compiler::Precision precision = compiler::Precision::kBf16;
  compiler::Schedule schedule = compiler::Schedule::kTokens;  // how TPU programs order their queues
  bool allow_cpu_fallback = true;     // false: an op the TPU cannot run is an error (conformance runs)
  bool log_device_placement = false;  // print one line per op, TensorFlow style, when placed
  std::ostream* log = nullptr;        // where placement lines go (nullptr = std::cerr)
  // Timing engines: keep each TPU launch's timeline (RunReport::launches[i].trace), for
  // ChromeTraceJson (trace.h). Costs memory in proportion to the instructions run.
  bool collect_trace = false;
  // Called now and then while a TPU launch runs, by engines that report progress (the cycle engine,
  // through driver::DeviceOptions::progress); on the TPU stream's worker thread, so it must be
  // thread-safe, cheap, and must not call into the session.
  std::function<void(const RunProgress&)> progress;
  // engine "rtl" only: a VCD waveform of the RTL core per TPU launch, for vcd_window only
  // (driver::DeviceOptions::vcd_path: the session's first launch writes vcd_path, launch k >= 1 of
  // the session, counted across its Runs, writes it with ".k" before the extension).
  std::string vcd_path;
  simulator::VcdWindow vcd_window;
};

// Where one op runs, and why it is not on the TPU when it is not.
struct Placement {
  std::string node;
  std::string op_type;
  std::string device;  // kTpuDeviceName or kCpuDeviceName
  std::string reason;  // empty on the TPU; e.g. "ArgMax is not supported on the TPU" or "requested"
};

// One line per op, in node order, as TensorFlow's log_device_placement writes them:
// "MatMul: /job:localhost/replica:0/task:0/device:TPU:0\n".
std::string FormatPlacementLog(const std::vector<Placement>& placements);

// One TPU launch of a Run, in launch order: enough to draw its timeline (trace.h).
struct LaunchRecord {
  std::string label;                   // "TPU segment 0 (MatMul_0, Add_1)"
  uint64_t cycles = 0;                 // simulated cycles of the launch (0 on untimed engines)
  std::vector<std::string> op_names;   // the program's op_names (TraceSlice op lookup)
  // Filled only when SessionOptions::collect_trace: the program's inst_op and the opcode of every
  // instruction (a slice is named by the mnemonic of its instruction), and the engine's slices.
  std::vector<uint32_t> inst_op;
  std::vector<isa::Opcode> opcodes;
  std::vector<simulator::TraceSlice> trace;
};

// What one Run did.
struct RunReport {
  double wall_seconds = 0;
  double compile_seconds = 0;
  int programs_compiled = 0;   // cache misses in this run
  int program_cache_hits = 0;
  int tpu_launches = 0;
  int cpu_kernels = 0;
  int tpu_segments = 0;        // TPU subgraphs executed (one launch each)
  simulator::RunStats tpu;     // accumulated over the run's TPU launches
  std::vector<std::string> tpu_op_names;  // tpu.op_instructions / op_macs / op_cycles index -> node name, merged
  // Per op, indexed like tpu_op_names: the static costs of the launched programs (metrics.h
  // ProgramOpCosts), summed over the run's launches.
  std::vector<uint64_t> tpu_op_useful_macs;
  std::vector<uint64_t> tpu_op_dram_bytes;
  double tpu_seconds = 0;                 // wall time of the TPU launches (enqueue to completion)
  std::vector<LaunchRecord> launches;     // every TPU launch, in order
};

// Placement rules (Create), per node in order:
//  - options.device == "cpu": CPU (reason "session device is cpu").
//  - requested_device CPU ("/device:CPU:0" or any form CanonicalDeviceSpec accepts): CPU (reason
//    "requested"); with no CPU kernel it goes to the TPU if the TPU supports it (soft placement).
//  - otherwise (no request, or TPU requested): the TPU if compiler::CheckTpuSupport is OK; else the
//    CPU if a CPU kernel exists and allow_cpu_fallback (reason = the TPU's refusal message).
//  - anything else is collected into the one "unsupported ops" error.
// Execution (Run): nodes run in order; each maximal run of consecutive TPU-placed nodes is one
// segment, compiled (compiler::Compile with options.arch and options.precision) into one program per
// distinct set of segment input shapes and compile-time input values (cached for the session's
// lifetime), loaded once onto the tpu device and launched on its stream. Constants consumed by a segment
// are baked into its program; values a segment produces that later nodes or the graph outputs use are
// its program outputs. CPU ops run as host kernels on the cpu device's stream.
// Compile-time inputs (XLA's compile-time constant inputs): a graph input read only as a Reshape's
// shape (input 1) is treated as a constant by placement (so such a Reshape may run on the TPU although
// its output shape is unknown until Run) and is baked into each segment program that reads it, as a
// constant holding the fed value; it is never a program binding.
class Session {
 public:
  // Validates the graph, infers shapes where possible (InferShapesWithCpuKernels), places every op,
  // opens the devices (the tpu device with options.engine and options.arch when options.device is
  // "tpu") and, when log_device_placement is set, writes the placement log to options.log. If some ops
  // can run nowhere (not on the TPU and no CPU kernel; or not on the TPU when fallback is off), fails
  // with ONE Unimplemented error listing all of them ("unsupported ops: Foo (node 'a'), Bar (node
  // 'b')", followed by "; " and the per-node reasons). InvalidArgument for a bad graph, a bad requested
  // device, or options.device other than "tpu"/"cpu".
  static absl::StatusOr<std::unique_ptr<Session>> Create(compiler::Graph graph, SessionOptions options);
  virtual ~Session() = default;

  virtual const std::vector<Placement>& placements() const = 0;
  virtual const compiler::Graph& graph() const = 0;
  // The opened tpu device (nullptr when options.device == "cpu"). Owned by the session.
  virtual const driver::Device* tpu_device() const = 0;
  // Feeds every graph input by name (dtype and shape must match the graph's declared input shape
  // where known) and returns every graph output by name. InvalidArgument naming the input for a
  // missing, unknown, or mismatched (dtype/shape) feed. Calls are serialized by the session (any
  // thread may call Run; concurrent calls wait for each other).
  virtual absl::StatusOr<std::map<std::string, compiler::Tensor>> Run(
      const std::map<std::string, compiler::Tensor>& feeds, RunReport* report = nullptr) = 0;
};

}  // namespace tpusim::runtime
