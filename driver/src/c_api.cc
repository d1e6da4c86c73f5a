// The C ABI's table and its platform, device and memory entry points (docs/c_api.md). Streams,
// events and programs are in c_api_streams.cc.
#include <string>

#include "c_api_internal.h"
#include "tpusim/isa/arch_config.h"
#include "tpusim/isa/status_macros.h"

namespace tpusim::driver::c_api {

std::string& LastError() {
  thread_local std::string message;
  return message;
}

tpusim_code Finish(const absl::Status& status) {
  LastError() = status.ok() ? std::string() : std::string(status.message());
  return static_cast<tpusim_code>(status.code());
}

namespace {

const char* ErrorMessage() { return LastError().c_str(); }

absl::StatusOr<Platform*> PlatformByName(const char* name) {
  if (name == nullptr) return absl::InvalidArgumentError("platform is NULL");
  return GetPlatform(name);
}

tpusim_code PlatformGet(tpusim_platform_get_args* args) {
  return Guard("platform_get", args, [&]() -> absl::Status {
    TPUSIM_ASSIGN_OR_RETURN(Platform * platform, PlatformByName(args->platform));
    args->device_count = platform->device_count();
    return absl::OkStatus();
  });
}

tpusim_code PlatformSetDeviceCount(tpusim_platform_set_device_count_args* args) {
  return Guard("platform_set_device_count", args, [&]() -> absl::Status {
    TPUSIM_ASSIGN_OR_RETURN(Platform * platform, PlatformByName(args->platform));
    return platform->SetDeviceCount(args->device_count);
  });
}

tpusim_code DeviceOpen(tpusim_device_open_args* args) {
  return Guard("device_open", args, [&]() -> absl::Status {
    args->device = nullptr;
    TPUSIM_ASSIGN_OR_RETURN(Platform * platform, PlatformByName(args->platform));
    DeviceOptions options;
    if (args->engine != nullptr) options.engine = args->engine;
    options.memory_limit_bytes = args->memory_limit_bytes;
    if (std::string_view(args->platform) == "tpu") {
      TPUSIM_ASSIGN_OR_RETURN(options.arch, isa::LoadArch(args->arch != nullptr ? args->arch : "tiny"));
    }
    TPUSIM_ASSIGN_OR_RETURN(std::unique_ptr<Device> device, platform->OpenDevice(args->ordinal, options));
    auto handle = std::make_unique<tpusim_device>();
    handle->name = device->name();
    handle->description = device->description();
    handle->device = std::move(device);
    args->name = handle->name.c_str();
    args->description = handle->description.c_str();
    args->device = handle.release();
    return absl::OkStatus();
  });
}

tpusim_code DeviceClose(tpusim_device_close_args* args) {
  return Guard("device_close", args, [&]() -> absl::Status {
    delete args->device;
    args->device = nullptr;
    return absl::OkStatus();
  });
}

tpusim_code DeviceMemoryStats(tpusim_device_memory_stats_args* args) {
  return Guard("device_memory_stats", args, [&]() -> absl::Status {
    TPUSIM_RETURN_IF_ERROR(Require(args->device, "device"));
    const MemoryStats s = args->device->device->memory_stats();
    args->bytes_in_use = s.bytes_in_use;
    args->peak_bytes_in_use = s.peak_bytes_in_use;
    args->bytes_limit = s.bytes_limit;
    args->largest_free_block = s.largest_free_block;
    args->num_allocs = s.num_allocs;
    args->total_allocs = s.total_allocs;
    return absl::OkStatus();
  });
}

tpusim_code MemAlloc(tpusim_mem_alloc_args* args) {
  return Guard("mem_alloc", args, [&]() -> absl::Status {
    args->buffer = tpusim_buffer{0, 0};
    TPUSIM_RETURN_IF_ERROR(Require(args->device, "device"));
    TPUSIM_ASSIGN_OR_RETURN(DeviceMemory m, args->device->device->Allocate(args->bytes));
    args->buffer = tpusim_buffer{m.address, m.size};
    return absl::OkStatus();
  });
}

tpusim_code MemFree(tpusim_mem_free_args* args) {
  return Guard("mem_free", args, [&]() -> absl::Status {
    TPUSIM_RETURN_IF_ERROR(Require(args->device, "device"));
    return args->device->device->Free(ToMemory(args->buffer));
  });
}

constexpr tpusim_api kApiV1 = {
    sizeof(tpusim_api),
    TPUSIM_C_API_MAJOR,
    TPUSIM_C_API_MINOR,
    ErrorMessage,
    PlatformGet,
    PlatformSetDeviceCount,
    DeviceOpen,
    DeviceClose,
    DeviceMemoryStats,
    MemAlloc,
    MemFree,
    MemcpyH2D,
    MemcpyD2H,
    MemcpyD2D,
    Memset,
    StreamCreate,
    StreamDestroy,
    StreamSynchronize,
    StreamStatus,
    StreamAddCallback,
    EventCreate,
    EventDestroy,
    EventRecord,
    EventWait,
    EventQuery,
    EventSynchronize,
    EventElapsedCycles,
    ExecutableLoad,
    ExecutableDestroy,
    ExecutableBinding,
    Launch,
};

}  // namespace
}  // namespace tpusim::driver::c_api

extern "C" TPUSIM_C_EXPORT const tpusim_api* tpusim_get_api(int major) {
  return major == TPUSIM_C_API_MAJOR ? &tpusim::driver::c_api::kApiV1 : nullptr;
}
