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
  // Both platforms: the most bytes live allocations (program frames and the 256-byte alignment
  // padding included) may hold at once; 0 = the whole device memory (tpu: the arch's DRAM less its
  // reserved first page; cpu: 1 TiB of addresses). A limit above that is InvalidArgument at open.
  // Allocate/LoadProgram beyond it fail with ResourceExhausted naming the request, the bytes in use
  // and the limit.
  uint64_t memory_limit_bytes = 0;
};

// A device's memory counters (Device::memory_stats), in bytes as reserved (rounded up to the 256-byte
// alignment). A consistent snapshot: all fields are read under one lock.
struct MemoryStats {
  uint64_t bytes_in_use = 0;        // held by live allocations, program frames included
  uint64_t peak_bytes_in_use = 0;   // the most bytes_in_use has been since the device was opened
  uint64_t bytes_limit = 0;         // DeviceOptions::memory_limit_bytes, or the whole memory if 0
  uint64_t largest_free_block = 0;  // the largest allocation that could succeed now
  uint64_t num_allocs = 0;          // live allocations
  uint64_t total_allocs = 0;        // successful allocations since the device was opened
};

// A host kernel for the cpu backend: receives host pointers for the DeviceMemory arguments of the
// launch, in order. Runs on the stream's thread.
using HostKernel = std::function<absl::Status(const std::vector<void*>& buffers)>;

class Device;
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
  // Copies `bytes` from `src` on this stream's device to `dst` on `dst_device` (another device, of
  // either platform, or the same one) through a host bounce buffer. Ordered on this stream only: order
  // it against `dst_device`'s streams with events. Errors (either side) are sticky on this stream.
  // `dst_device` may be destroyed before the copy runs (the copy keeps its memory alive).
  virtual void MemcpyPeer(Device& dst_device, DeviceMemory dst, DeviceMemory src, uint64_t bytes) = 0;
  // Sets `bytes` bytes from `dst` to `value` (cudaMemsetAsync).
  virtual void Memset(DeviceMemory dst, uint8_t value, uint64_t bytes) = 0;
  // Runs `callback` on the stream's worker thread when all work enqueued before it has completed, in
  // stream order (later work waits for it), with the stream's sticky status at that point. It runs
  // even after the stream failed (cudaStreamAddCallback). It must not enqueue work on or synchronize
  // this stream (deadlock); an exception escaping it becomes the stream's sticky error.
  virtual void AddHostCallback(std::function<void(const absl::Status& stream_status)> callback) = 0;
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

// Simulated cycles between two completed records on one stream of a device whose engine models time
// (tpu "cycle" or "rtl"): end.cycles() - start.cycles(), i.e. the cycles of the launches enqueued
// between them (cudaEventElapsedTime in cycles). FailedPrecondition if either event was never
// recorded, if they were recorded on different streams, or on a device without a timing engine
// (cpu, "functional"); Unavailable if either has not completed yet (cudaErrorNotReady);
// InvalidArgument if `end` was recorded before `start`; the recording stream's error if it failed.
// Events from another implementation are InvalidArgument.
absl::StatusOr<uint64_t> ElapsedCycles(const Event& start, const Event& end);

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
  virtual MemoryStats memory_stats() const = 0;

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
  // Devices OpenDevice accepts: ordinals [0, device_count()). Starts at the environment variable
  // TPUSIM_<NAME>_DEVICES (TPUSIM_TPU_DEVICES=4: tpu:0..tpu:3) if it holds an integer in [1, 64], else 1.
  virtual int device_count() const = 0;
  // Changes device_count (InvalidArgument outside [1, 64]); devices already open stay open.
  virtual absl::Status SetDeviceCount(int count) = 0;
  // Opens a new device instance (each open has its own memory, device state, engine and launch
  // serialization; opening an ordinal twice gives two independent instances).
  virtual absl::StatusOr<std::unique_ptr<Device>> OpenDevice(int ordinal, const DeviceOptions& options) = 0;
};

// "cpu" or "tpu"; NotFound listing the names otherwise. Platforms live for the whole process.
absl::StatusOr<Platform*> GetPlatform(std::string_view name);
std::vector<std::string> PlatformNames();

}  // namespace tpusim::driver
