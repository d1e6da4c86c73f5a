// The device API, shaped like the CPU/GPU device APIs frameworks use (StreamExecutor / CUDA driver):
//   Platform ("cpu", "tpu") -> Device -> DeviceMemory (opaque 64-bit addresses, never host pointers)
//                                     -> Stream (in-order async queue) -> Event (record/wait/query/sync)
//                                     -> Executable (a loaded isa::Program; tpu only)
// The driver knows no graphs: the cpu backend launches host kernels supplied by the caller (the
// runtime's Eigen reference kernels); the tpu backend launches ISA programs on an engine chosen at open.
//
// Threading: every object may be used from any thread. Work enqueued on one stream runs in order on
// that stream's worker thread; different streams of a device may interleave (TPU launches on one device
// are serialized). Errors from asynchronous work are sticky: once a stream op fails, the stream's
// status() holds the error, later ops on it are skipped, and Synchronize()/events report it (like CUDA).
#pragma once

#include <cstdint>
#include <functional>
#include <memory>
#include <string>
#include <string_view>
#include <vector>

#include "absl/status/statusor.h"
#include "isa/proto/program.pb.h"
#include "tpusim/simulator/engine.h"

namespace tpusim::driver {

// A device allocation. `address` is opaque (never dereference it); `size` in bytes.
struct DeviceMemory {
  uint64_t address = 0;
  uint64_t size = 0;
  bool is_null() const { return size == 0; }
};

struct DeviceOptions {
  // tpu only: "functional", "cycle" or "rtl" (simulator::EngineNames()). "rtl" needs an arch whose
  // core fields match a built RTL core model (rtl::CheckRtlArch; OpenDevice fails with its message
  // otherwise), and every loaded program must use only instructions the RTL core implements
  // (rtl::CheckRtlSupport; LoadProgram fails naming the first one that is not).
  std::string engine = "functional";
  isa::ArchConfig arch;               // tpu only; must be valid (isa::ValidateArchConfig)
  // tpu only: every launch asks its engine for a timeline (simulator::Launch::collect_trace); timing
  // engines then fill RunStats::trace, the functional engine leaves it empty.
  bool collect_trace = false;
  // tpu only, optional: forwarded to every launch as simulator::Launch::progress (timing engines call
  // it about once per wall-clock second of a long launch with the simulated cycles so far, the
  // instructions completed and the program's instruction count), on the stream's worker thread.
  std::function<void(uint64_t cycles, uint64_t instructions_done, uint64_t instructions_total)> progress;
  // tpu, engine "rtl" only (OpenDevice fails with InvalidArgument if vcd_path is set on another
  // engine, or if vcd_window.end <= vcd_window.start): every launch writes a VCD waveform of the core
  // for vcd_window only (simulator::Launch::vcd_path / vcd_window). Launches are numbered from 0 in
  // the order they run on the device: launch 0 writes vcd_path itself, launch k >= 1 writes vcd_path
  // with ".k" inserted before the extension ("wave.vcd" -> "wave.1.vcd", "wave" -> "wave.1"); a
  // file that exists is overwritten. Empty = no waveforms.
  std::string vcd_path;
  simulator::VcdWindow vcd_window;
};

// A host kernel for the cpu backend: receives host pointers for the DeviceMemory arguments of the
// launch, in order. Runs on the stream's thread.
using HostKernel = std::function<absl::Status(const std::vector<void*>& buffers)>;

class Event;
class Stream;

// A program loaded onto a tpu device: its frame (DRAM holding constants, inputs, outputs and scratch)
// is allocated and the constants written at load. Launches of one Executable must not overlap
// (enqueue them on one stream, or synchronize between streams).
class Executable {
 public:
  virtual ~Executable() = default;
  virtual const isa::Program& program() const = 0;
  // The program's DRAM frame (constants, input and output slots, scratch; program.frame_bytes long),
  // readable with Device::CopyFromDevice once the launches using it have completed: two engines that
  // ran the same launch must leave byte-identical frames. Null on backends without frames.
  virtual DeviceMemory frame() const { return DeviceMemory{}; }
};

class Stream {
 public:
  virtual ~Stream() = default;
  // Asynchronous copies. Host buffers must stay valid until the copy completes (synchronize or event).
  virtual void MemcpyHostToDevice(DeviceMemory dst, const void* src, uint64_t bytes) = 0;
  virtual void MemcpyDeviceToHost(void* dst, DeviceMemory src, uint64_t bytes) = 0;
  virtual void MemcpyDeviceToDevice(DeviceMemory dst, DeviceMemory src, uint64_t bytes) = 0;
  // tpu: copies each input buffer to its binding's frame slot (inputs in program.inputs order), runs
  // the program, copies the output slots into `outputs` (program.outputs order). Sizes must match the
  // bindings. If `stats` is non-null it is filled when the launch completes (keep it alive until then).
  virtual void Launch(const Executable& exe, std::vector<DeviceMemory> inputs,
                      std::vector<DeviceMemory> outputs, simulator::RunStats* stats) = 0;
  // cpu: runs `kernel` with host pointers for `buffers`. On a tpu device it fails (sticky).
  virtual void LaunchHostKernel(HostKernel kernel, std::vector<DeviceMemory> buffers) = 0;
  // Event: marks the current end of this stream / makes this stream wait for the event.
  virtual void RecordEvent(Event& event) = 0;
  virtual void WaitEvent(Event& event) = 0;
  // Blocks until all enqueued work is done; returns the sticky status.
  virtual absl::Status Synchronize() = 0;
  // The sticky status (OK until an op fails).
  virtual absl::Status status() const = 0;
};

class Event {
 public:
  virtual ~Event() = default;
  // True once the work recorded before it has completed (false if never recorded).
  virtual bool Query() const = 0;
  // Blocks until completed; returns the recording stream's status at that point.
  virtual absl::Status Synchronize() = 0;
  // Simulated device cycles of the recording stream at the point of record (sum of the cycles of its
  // launches); valid after completion. Elapsed cycles = later.cycles() - earlier.cycles().
  virtual uint64_t cycles() const = 0;
};

class Device {
 public:
  virtual ~Device() = default;
  virtual std::string_view platform() const = 0;     // "cpu" / "tpu"
  virtual int ordinal() const = 0;
  // TensorFlow-style name: "/job:localhost/replica:0/task:0/device:TPU:0".
  virtual std::string name() const = 0;
  virtual std::string description() const = 0;       // e.g. "tpu-v4 (128x128 bf16, functional engine)"

  // ResourceExhausted (naming the request and what is free) if it does not fit.
  virtual absl::StatusOr<DeviceMemory> Allocate(uint64_t bytes) = 0;
  // InvalidArgument if `mem` is not a live allocation of this device.
  virtual absl::Status Free(DeviceMemory mem) = 0;
  virtual uint64_t bytes_in_use() const = 0;

  virtual absl::StatusOr<std::unique_ptr<Stream>> CreateStream() = 0;
  virtual std::unique_ptr<Event> CreateEvent() = 0;

  // tpu: validates the program (isa::ValidateProgram, arch compatible with the device's), allocates
  // its frame and writes its constants. cpu: Unimplemented.
  virtual absl::StatusOr<std::unique_ptr<Executable>> LoadProgram(const isa::Program& program) = 0;

  // Synchronous conveniences (a temporary stream, then synchronize).
  absl::Status CopyToDevice(DeviceMemory dst, const void* src, uint64_t bytes);
  absl::Status CopyFromDevice(void* dst, DeviceMemory src, uint64_t bytes);
};

class Platform {
 public:
  virtual ~Platform() = default;
  virtual std::string_view name() const = 0;
  virtual int device_count() const = 0;
  // Opens a new device instance (each open has its own memory and state).
  virtual absl::StatusOr<std::unique_ptr<Device>> OpenDevice(int ordinal, const DeviceOptions& options) = 0;
};

// "cpu" or "tpu"; NotFound listing the names otherwise. Platforms live for the whole process.
absl::StatusOr<Platform*> GetPlatform(std::string_view name);
std::vector<std::string> PlatformNames();

}  // namespace tpusim::driver
