// Registry of the tpusim devices behind torch's PrivateUse1 device: lazy opening, device pointers,
// copies and counters (tpu_devices.h). Program compilation and launches: tpu_programs.cc.
#include "tpu_devices.h"

#include <cstdio>
#include <cstdlib>
#include <memory>
#include <mutex>

#include "absl/strings/str_cat.h"
#include "registry_internal.h"
#include "tpusim/compiler_backend/compiler.h"
#include "tpusim/isa/arch_config.h"
#include "tpusim/isa/status_macros.h"

namespace tpusim::torch_device {
namespace detail {

Registry& GetRegistry() {
  // Leaked on purpose: tensors may be freed by torch after static destructors have run.
  static Registry* registry = [] {
    auto* r = new Registry;
    auto env = [](const char* name, const char* dflt) {
      const char* v = std::getenv(name);
      return std::string(v != nullptr && *v != '\0' ? v : dflt);
    };
    r->settings = {env("TPUSIM_TORCH_ENGINE", "functional"), env("TPUSIM_TORCH_ARCH", "tiny"),
                   env("TPUSIM_TORCH_PRECISION", "highest")};
    r->log_placement = !env("TPUSIM_TORCH_LOG_PLACEMENT", "").empty();
    return r;
  }();
  return *registry;
}

void LogPlacement(const std::string& op, const std::string& where) {
  if (GetRegistry().log_placement) std::fprintf(stderr, "tpusim torch: %s -> %s\n", op.c_str(), where.c_str());
}

absl::StatusOr<OpenDevice*> GetOpenDevice(int index) {
  TPUSIM_RETURN_IF_ERROR(CheckIndex(index));
  Registry& r = GetRegistry();
  std::lock_guard<std::mutex> lock(r.mu);
  auto it = r.devices.find(index);
  if (it != r.devices.end()) return it->second.get();
  TPUSIM_ASSIGN_OR_RETURN(driver::Platform * platform, driver::GetPlatform("tpu"));
  TPUSIM_ASSIGN_OR_RETURN(isa::ArchConfig arch, isa::LoadArch(r.settings.arch));
  if (arch.dram_bytes() >= (uint64_t{1} << kDeviceShift)) {
    return absl::InvalidArgumentError(absl::StrCat("tpusim torch device: arch '", arch.name(), "' has ",
                                                   arch.dram_bytes(), " bytes of DRAM; at most 2^",
                                                   kDeviceShift, " fit a device pointer"));
  }
  driver::DeviceOptions options;
  options.engine = r.settings.engine;
  options.arch = arch;
  absl::StatusOr<std::unique_ptr<driver::Device>> device = platform->OpenDevice(index, options);
  if (!device.ok()) {
    return absl::Status(device.status().code(), absl::StrCat("tpusim torch device privateuseone:", index,
                                                             ": ", device.status().message()));
  }
  auto open = std::make_unique<OpenDevice>();
  open->device = std::move(*device);
  open->arch = std::move(arch);
  OpenDevice* raw = open.get();
  r.devices.emplace(index, std::move(open));
  return raw;
}

}  // namespace detail

using detail::GetOpenDevice;
using detail::GetRegistry;
using detail::Registry;

Settings CurrentSettings() {
  Registry& r = GetRegistry();
  std::lock_guard<std::mutex> lock(r.mu);
  return r.settings;
}

absl::Status Configure(const Settings& settings) {
  TPUSIM_RETURN_IF_ERROR(isa::LoadArch(settings.arch).status());
  TPUSIM_RETURN_IF_ERROR(compiler::ParsePrecision(settings.precision).status());
  bool known_engine = false;
  for (const std::string& e : simulator::EngineNames()) known_engine |= e == settings.engine;
  if (!known_engine) {
    return absl::InvalidArgumentError(absl::StrCat("unknown engine '", settings.engine, "'"));
  }
  Registry& r = GetRegistry();
  std::lock_guard<std::mutex> lock(r.mu);
  if (!r.devices.empty()) {
    return absl::FailedPreconditionError(
        "tpusim torch device: settings are fixed once a device is open (configure before the first tensor)");
  }
  r.settings = settings;
  return absl::OkStatus();
}

int DeviceCount() {
  absl::StatusOr<driver::Platform*> platform = driver::GetPlatform("tpu");
  return platform.ok() ? (*platform)->device_count() : 0;
}

absl::Status SetDeviceCount(int count) {
  Registry& r = GetRegistry();
  std::lock_guard<std::mutex> lock(r.mu);
  if (!r.devices.empty()) {
    return absl::FailedPreconditionError("tpusim torch device: the device count is fixed once a device is open");
  }
  TPUSIM_ASSIGN_OR_RETURN(driver::Platform * platform, driver::GetPlatform("tpu"));
  return platform->SetDeviceCount(count);
}

absl::Status CheckIndex(int index) {
  const int count = DeviceCount();
  if (index < 0 || index >= count) {
    return absl::OutOfRangeError(absl::StrCat("tpusim torch device privateuseone:", index,
                                              " is out of range: there are ", count,
                                              " tpusim devices (set TPUSIM_TPU_DEVICES for more)"));
  }
  return absl::OkStatus();
}

absl::StatusOr<void*> Allocate(int device, uint64_t bytes) {
  if (bytes == 0) return nullptr;
  TPUSIM_ASSIGN_OR_RETURN(detail::OpenDevice * open, GetOpenDevice(device));
  absl::StatusOr<driver::DeviceMemory> mem = open->device->Allocate(bytes);
  if (mem.status().code() == absl::StatusCode::kResourceExhausted) {
    {  // cached programs' frames are the only memory the device holds beyond torch's tensors
      std::lock_guard<std::mutex> launch_lock(open->launch_mu);
      open->programs.clear();
    }
    mem = open->device->Allocate(bytes);
  }
  if (!mem.ok()) {
    return absl::Status(mem.status().code(), absl::StrCat("tpusim torch device privateuseone:", device,
                                                          ": ", mem.status().message()));
  }
  const uint64_t ptr = kDevicePointerBase + (static_cast<uint64_t>(device) << kDeviceShift) + mem->address;
  Registry& r = GetRegistry();
  std::lock_guard<std::mutex> lock(r.mu);
  r.live.emplace(ptr, detail::Allocation{device, *mem});
  return reinterpret_cast<void*>(ptr);
}

void Free(void* device_ptr) {
  if (device_ptr == nullptr) return;
  Registry& r = GetRegistry();
  detail::Allocation a;
  {
    std::lock_guard<std::mutex> lock(r.mu);
    auto it = r.live.find(reinterpret_cast<uint64_t>(device_ptr));
    if (it == r.live.end()) {
      std::fprintf(stderr, "tpusim torch device: free of %p, which is not a live allocation\n", device_ptr);
      return;
    }
    a = it->second;
    r.live.erase(it);
  }
  absl::StatusOr<detail::OpenDevice*> open = GetOpenDevice(a.device);
  absl::Status s = open.ok() ? (*open)->device->Free(a.memory) : open.status();
  if (!s.ok()) std::fprintf(stderr, "tpusim torch device: %s\n", std::string(s.message()).c_str());
}

absl::StatusOr<DeviceSpan> Resolve(const void* device_ptr, uint64_t bytes) {
  const uint64_t p = reinterpret_cast<uint64_t>(device_ptr);
  Registry& r = GetRegistry();
  std::lock_guard<std::mutex> lock(r.mu);
  auto it = r.live.upper_bound(p);
  if (it == r.live.begin() || p >= std::prev(it)->first + std::prev(it)->second.memory.size) {
    return absl::InvalidArgumentError(
        absl::StrCat("tpusim torch device: ", absl::Hex(p), " is not in a live tpusim device allocation"));
  }
  --it;
  const uint64_t offset = p - it->first;
  if (bytes > it->second.memory.size - offset) {
    return absl::OutOfRangeError(absl::StrCat("tpusim torch device: ", bytes, " bytes at ", absl::Hex(p),
                                              " run past the end of their allocation"));
  }
  return DeviceSpan{it->second.device, driver::DeviceMemory{it->second.memory.address + offset, bytes}};
}

absl::Status CopyHostToDevice(void* dst, const void* host_src, uint64_t bytes) {
  if (bytes == 0) return absl::OkStatus();
  TPUSIM_ASSIGN_OR_RETURN(DeviceSpan d, Resolve(dst, bytes));
  TPUSIM_ASSIGN_OR_RETURN(detail::OpenDevice * open, GetOpenDevice(d.device));
  return open->device->CopyToDevice(d.memory, host_src, bytes);
}

absl::Status CopyDeviceToHost(void* host_dst, const void* src, uint64_t bytes) {
  if (bytes == 0) return absl::OkStatus();
  TPUSIM_ASSIGN_OR_RETURN(DeviceSpan s, Resolve(src, bytes));
  TPUSIM_ASSIGN_OR_RETURN(detail::OpenDevice * open, GetOpenDevice(s.device));
  return open->device->CopyFromDevice(host_dst, s.memory, bytes);
}

absl::Status CopyDeviceToDevice(void* dst, const void* src, uint64_t bytes) {
  if (bytes == 0) return absl::OkStatus();
  TPUSIM_ASSIGN_OR_RETURN(DeviceSpan d, Resolve(dst, bytes));
  TPUSIM_ASSIGN_OR_RETURN(DeviceSpan s, Resolve(src, bytes));
  TPUSIM_ASSIGN_OR_RETURN(detail::OpenDevice * from, GetOpenDevice(s.device));
  TPUSIM_ASSIGN_OR_RETURN(detail::OpenDevice * to, GetOpenDevice(d.device));
  TPUSIM_ASSIGN_OR_RETURN(std::unique_ptr<driver::Stream> stream, from->device->CreateStream());
  if (d.device == s.device) {
    stream->MemcpyDeviceToDevice(d.memory, s.memory, bytes);
  } else {
    stream->MemcpyPeer(*to->device, d.memory, s.memory, bytes);
  }
  return stream->Synchronize();
}

absl::Status Memset(void* dst, uint8_t value, uint64_t bytes) {
  if (bytes == 0) return absl::OkStatus();
  TPUSIM_ASSIGN_OR_RETURN(DeviceSpan d, Resolve(dst, bytes));
  TPUSIM_ASSIGN_OR_RETURN(detail::OpenDevice * open, GetOpenDevice(d.device));
  TPUSIM_ASSIGN_OR_RETURN(std::unique_ptr<driver::Stream> stream, open->device->CreateStream());
  stream->Memset(d.memory, value, bytes);
  return stream->Synchronize();
}

void RecordFallback(const std::string& op) {
  detail::LogPlacement(op, "CPU (fallback)");
  Registry& r = GetRegistry();
  std::lock_guard<std::mutex> lock(r.mu);
  ++r.fallbacks[op];
}

std::map<std::string, uint64_t> FallbackCounts() {
  Registry& r = GetRegistry();
  std::lock_guard<std::mutex> lock(r.mu);
  return r.fallbacks;
}

void ResetCounters() {
  Registry& r = GetRegistry();
  std::lock_guard<std::mutex> lock(r.mu);
  r.fallbacks.clear();
  for (auto& [index, open] : r.devices) {
    std::lock_guard<std::mutex> launch_lock(open->launch_mu);
    open->launches = 0;
    open->ops.clear();
  }
}

absl::StatusOr<DeviceStats> GetDeviceStats(int device) {
  TPUSIM_RETURN_IF_ERROR(CheckIndex(device));
  Registry& r = GetRegistry();
  std::lock_guard<std::mutex> lock(r.mu);
  DeviceStats stats;
  auto it = r.devices.find(device);
  if (it == r.devices.end()) return stats;
  detail::OpenDevice& open = *it->second;
  std::lock_guard<std::mutex> launch_lock(open.launch_mu);
  stats.open = true;
  stats.description = open.device->description();
  stats.launches = open.launches;
  stats.programs_compiled = open.programs_compiled;
  stats.ops = open.ops;
  stats.memory = open.device->memory_stats();
  return stats;
}

}  // namespace tpusim::torch_device
