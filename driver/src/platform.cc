// Platforms ("cpu", "tpu"), the lookup by name, and the Device conveniences.
#include "absl/strings/str_cat.h"
#include "absl/strings/str_join.h"
#include "backends.h"
#include "tpusim/driver/driver.h"
#include "tpusim/isa/status_macros.h"
#include "tpusim/rtl/rtl_engine.h"

namespace tpusim::driver {
namespace detail {

std::string DeviceName(std::string_view type, int ordinal) {
  return absl::StrCat("/job:localhost/replica:0/task:0/device:", std::string(type), ":", ordinal);
}

namespace {

absl::Status CheckOrdinal(std::string_view platform, int count, int ordinal) {
  if (ordinal >= 0 && ordinal < count) return absl::OkStatus();
  return absl::InvalidArgumentError(absl::StrCat("platform '", std::string(platform), "' has ", count,
                                                 " device(s); ordinal ", ordinal, " is out of range [0, ",
                                                 count, ")"));
}

class CpuPlatform final : public Platform {
 public:
  std::string_view name() const override { return "cpu"; }
  int device_count() const override { return 1; }
  absl::StatusOr<std::unique_ptr<Device>> OpenDevice(int ordinal, const DeviceOptions&) override {
    TPUSIM_RETURN_IF_ERROR(CheckOrdinal(name(), device_count(), ordinal));
    return NewCpuDevice(ordinal);
  }
};

class TpuPlatform final : public Platform {
 public:
  // The tpu backend offers every engine, the RTL core's included (DeviceOptions::engine "rtl").
  TpuPlatform() { rtl::RegisterRtlEngine(); }
  std::string_view name() const override { return "tpu"; }
  int device_count() const override { return 1; }
  absl::StatusOr<std::unique_ptr<Device>> OpenDevice(int ordinal, const DeviceOptions& options) override {
    TPUSIM_RETURN_IF_ERROR(CheckOrdinal(name(), device_count(), ordinal));
    return NewTpuDevice(ordinal, options);
  }
};

}  // namespace
}  // namespace detail

absl::StatusOr<Platform*> GetPlatform(std::string_view name) {
  // Never destroyed: platforms live for the whole process, past static destruction.
  static detail::CpuPlatform* const cpu = new detail::CpuPlatform;
  static detail::TpuPlatform* const tpu = new detail::TpuPlatform;
  if (name == cpu->name()) return cpu;
  if (name == tpu->name()) return tpu;
  return absl::NotFoundError(absl::StrCat("unknown platform '", std::string(name),
                                          "'; platforms: ", absl::StrJoin(PlatformNames(), ", ")));
}

std::vector<std::string> PlatformNames() { return {"cpu", "tpu"}; }

absl::Status Device::CopyToDevice(DeviceMemory dst, const void* src, uint64_t bytes) {
  TPUSIM_ASSIGN_OR_RETURN(std::unique_ptr<Stream> stream, CreateStream());
  stream->MemcpyHostToDevice(dst, src, bytes);
  return stream->Synchronize();
}

absl::Status Device::CopyFromDevice(void* dst, DeviceMemory src, uint64_t bytes) {
  TPUSIM_ASSIGN_OR_RETURN(std::unique_ptr<Stream> stream, CreateStream());
  stream->MemcpyDeviceToHost(dst, src, bytes);
  return stream->Synchronize();
}

}  // namespace tpusim::driver
