// Private to runtime/torch: the registry state behind tpu_devices.h, shared by tpu_devices.cc and
// tpu_programs.cc. Lock order: OpenDevice::launch_mu may be taken while holding Registry::mu, never
// the reverse.
#pragma once

#include <map>
#include <memory>
#include <mutex>
#include <string>

#include "absl/status/statusor.h"
#include "isa/proto/arch_config.pb.h"
#include "tpu_devices.h"

namespace tpusim::torch_device::detail {

struct OpenDevice {
  std::unique_ptr<driver::Device> device;  // owned; lives until process exit
  isa::ArchConfig arch;
  std::mutex launch_mu;  // guards everything below and serializes launches
  std::map<std::string, std::unique_ptr<driver::Executable>> programs;  // by RunGraph key; a cache
  uint64_t launches = 0;
  uint64_t programs_compiled = 0;
  std::map<std::string, uint64_t> ops;
};

struct Allocation {
  int device = 0;
  driver::DeviceMemory memory;  // the driver allocation, as returned by Allocate
};

struct Registry {
  std::mutex mu;  // guards everything below
  Settings settings;
  bool log_placement = false;  // TPUSIM_TORCH_LOG_PLACEMENT: one stderr line per TPU launch / fallback
  std::map<int, std::unique_ptr<OpenDevice>> devices;
  std::map<uint64_t, Allocation> live;  // by device pointer
  std::map<std::string, uint64_t> fallbacks;
};

Registry& GetRegistry();
// With log_placement, writes "tpusim torch: <op> -> <where>" to stderr.
void LogPlacement(const std::string& op, const std::string& where);
// Opens the device on first use (CheckIndex first). The pointer stays valid for the process.
absl::StatusOr<OpenDevice*> GetOpenDevice(int index);

}  // namespace tpusim::torch_device::detail
