// The tpusim side of the PyTorch PrivateUse1 device (docs/pytorch.md), free of torch headers so that
// only a few translation units pay for them.
//
// Torch device privateuseone:i is tpusim tpu device i, opened lazily on first use (platform "tpu", the
// engine / arch / precision of Settings). Device memory is the driver's: a torch data pointer is an
// opaque *device pointer*, kDevicePointerBase + (i << kDeviceShift) + driver address, which maps back
// to (device, driver address) by arithmetic. It is never host memory: the base is a non-canonical
// x86-64 address, so an accidental dereference faults instead of reading host bytes.
//
// Threading: every function may be called from any thread (one registry mutex; launches on a device are
// serialized by that device's lock). Devices and their memory live until the process exits.
#pragma once

#include <cstdint>
#include <functional>
#include <map>
#include <string>
#include <vector>

#include "absl/status/statusor.h"
#include "tpusim/compiler_backend/ir.h"
#include "tpusim/driver/driver.h"

namespace tpusim::torch_device {

inline constexpr uint64_t kDevicePointerBase = 0xA000'0000'0000'0000ull;
inline constexpr int kDeviceShift = 44;  // 16 TiB of device addresses per device

// How devices are opened and programs compiled. Initial values come from the environment
// (TPUSIM_TORCH_ENGINE, TPUSIM_TORCH_ARCH, TPUSIM_TORCH_PRECISION), else functional / tiny / highest.
struct Settings {
  std::string engine;     // simulator::EngineNames(): "functional", "cycle", "rtl"
  std::string arch;       // an isa preset name or an ArchConfig .textproto path
  std::string precision;  // "bf16", "high", "highest" (compiler::ParsePrecision)
};
Settings CurrentSettings();
// FailedPrecondition once any device is open (its engine is fixed); InvalidArgument on a bad value.
absl::Status Configure(const Settings& settings);

// Devices torch may use: the driver's tpu device_count (TPUSIM_TPU_DEVICES, default 1).
int DeviceCount();
// driver Platform::SetDeviceCount; FailedPrecondition once a device is open.
absl::Status SetDeviceCount(int count);
// OutOfRange naming the index and the count unless 0 <= index < DeviceCount().
absl::Status CheckIndex(int index);

// Device memory. Allocate(…, 0) returns nullptr. Free logs (never throws) on a bad pointer.
absl::StatusOr<void*> Allocate(int device, uint64_t bytes);
void Free(void* device_ptr);

// Which device a device pointer belongs to and its driver range [ptr, ptr + bytes). InvalidArgument if
// the pointer is not a tpusim device pointer or the range leaves its allocation.
struct DeviceSpan {
  int device = 0;
  driver::DeviceMemory memory;
};
absl::StatusOr<DeviceSpan> Resolve(const void* device_ptr, uint64_t bytes);

// Synchronous copies; device-to-device works across devices (driver MemcpyPeer).
absl::Status CopyHostToDevice(void* dst, const void* host_src, uint64_t bytes);
absl::Status CopyDeviceToHost(void* host_dst, const void* src, uint64_t bytes);
absl::Status CopyDeviceToDevice(void* dst, const void* src, uint64_t bytes);
absl::Status Memset(void* dst, uint8_t value, uint64_t bytes);

// Runs a one-op graph on `device`: compiled once per `key` and device (build() is called only on a
// cache miss), then launched with `inputs` / `outputs` (device pointers, each exactly its binding's
// size, in graph input / output order). Counted under `op` in the device's counters. Unimplemented
// when the compiler refuses the graph (callers then compute on the CPU).
absl::Status RunGraph(int device, const std::string& op, const std::string& key,
                      const std::function<absl::StatusOr<compiler::Graph>()>& build,
                      const std::vector<const void*>& inputs, const std::vector<void*>& outputs);

// Counters for tests and users (module functions of tpusim_torch).
struct DeviceStats {
  bool open = false;
  std::string description;               // driver Device::description(), "" until open
  uint64_t launches = 0;                 // TPU program launches
  uint64_t programs_compiled = 0;
  std::map<std::string, uint64_t> ops;   // launches per op ("aten::mm", ...)
  driver::MemoryStats memory;
};
absl::StatusOr<DeviceStats> GetDeviceStats(int device);
// Ops that ran on the CPU through the fallback, by operator name ("aten::sin"), all devices together.
void RecordFallback(const std::string& op);
std::map<std::string, uint64_t> FallbackCounts();
// Clears launch / op / fallback counters (memory stats are the driver's and stay).
void ResetCounters();

}  // namespace tpusim::torch_device
