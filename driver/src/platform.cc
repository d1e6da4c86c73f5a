// Platforms ("cpu", "tpu"), the lookup by name, and the Device conveniences.
#include <atomic>
#include <cstdlib>

#include "absl/strings/ascii.h"
#include "absl/strings/numbers.h"
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

constexpr int kMaxDevices = 64;

// The initial device count of a platform: $TPUSIM_<NAME>_DEVICES if it is an integer in
// [1, kMaxDevices], else 1.
int DeviceCountFromEnvironment(std::string_view platform) {
  const std::string var = absl::StrCat("TPUSIM_", absl::AsciiStrToUpper(std::string(platform)), "_DEVICES");
  const char* text = std::getenv(var.c_str());
  int count = 0;
  if (text == nullptr || !absl::SimpleAtoi(text, &count) || count < 1 || count > kMaxDevices) return 1;
  return count;
}

// The device count every platform keeps (thread-safe).
class CountedPlatform : public Platform {
 public:
  explicit CountedPlatform(std::string_view name) : count_(DeviceCountFromEnvironment(name)) {}
  int device_count() const override { return count_.load(); }
  absl::Status SetDeviceCount(int count) override {
    if (count < 1 || count > kMaxDevices) {
      return absl::InvalidArgumentError(absl::StrCat("platform '", std::string(name()), "': device count ",
                                                     count, " is out of range [1, ", kMaxDevices, "]"));
    }
    count_.store(count);
    return absl::OkStatus();
  }

 private:
  std::atomic<int> count_;
};

class CpuPlatform final : public CountedPlatform {
 public:
  CpuPlatform() : CountedPlatform("cpu") {}
  std::string_view name() const override { return "cpu"; }
  absl::StatusOr<std::unique_ptr<Device>> OpenDevice(int ordinal, const DeviceOptions& options) override {
    TPUSIM_RETURN_IF_ERROR(CheckOrdinal(name(), device_count(), ordinal));
    return NewCpuDevice(ordinal, options);
  }
};

class TpuPlatform final : public CountedPlatform {
 public:
  // The tpu backend offers every engine, the RTL core's included (DeviceOptions::engine "rtl").
  TpuPlatform() : CountedPlatform("tpu") { rtl::RegisterRtlEngine(); }
  std::string_view name() const override { return "tpu"; }
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
