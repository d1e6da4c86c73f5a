// The tpu backend's device and memory: addresses are DRAM byte addresses of the device state.
#include <algorithm>
#include <filesystem>
#include <vector>

#include "absl/strings/str_cat.h"
#include "absl/strings/str_join.h"
#include "backends.h"
#include "tpu_core.h"
#include "tpusim/isa/arch_config.h"
#include "tpusim/isa/status_macros.h"
#include "tpusim/rtl/rtl_engine.h"

namespace tpusim::driver::detail {
namespace {

// DRAM below this address is never handed out, so that address 0 is never valid.
constexpr uint64_t kDramBase = 0x1000;
// DRAM-to-DRAM copies go through a host bounce buffer of at most this many bytes.
constexpr uint64_t kBounceBytes = uint64_t{1} << 20;

std::string_view MatmulTypeShortName(isa::MatmulType t) {
  switch (t) {
    case isa::BF16_FP32:
      return "bf16";
    case isa::INT8_INT32:
      return "int8";
    default:
      return "unspecified";
  }
}

}  // namespace

std::string VcdPathForLaunch(const std::string& path, uint64_t index) {
  if (index == 0) return path;
  const std::filesystem::path p(path);
  std::filesystem::path name = p.stem();
  name += absl::StrCat(".", index);
  name += p.extension();
  return (p.parent_path() / name).string();
}

namespace {

// The waveform options are the rtl engine's; InvalidArgument naming the option otherwise.
absl::Status CheckVcdOptions(const std::string& name, const DeviceOptions& options) {
  const simulator::VcdWindow& w = options.vcd_window;
  if (w.end <= w.start) {
    return absl::InvalidArgumentError(
        absl::StrCat(name, ": DeviceOptions.vcd_window: end (", w.end, ") must be greater than start (",
                     w.start, ")"));
  }
  if (!options.vcd_path.empty() && options.engine != "rtl") {
    return absl::InvalidArgumentError(absl::StrCat(name, ": DeviceOptions.vcd_path ('", options.vcd_path,
                                                   "') needs the rtl engine; this device uses the '",
                                                   options.engine, "' engine"));
  }
  return absl::OkStatus();
}

}  // namespace

absl::StatusOr<std::shared_ptr<TpuCore>> TpuCore::Create(std::string name, const DeviceOptions& options) {
  TPUSIM_RETURN_IF_ERROR(CheckVcdOptions(name, options));
  if (options.engine == "rtl") {
    // Refused at open, not at the first launch: the RTL core is built for fixed core sizes.
    absl::Status arch = rtl::CheckRtlArch(options.arch);
    if (!arch.ok()) {
      return absl::Status(arch.code(), absl::StrCat(name, ": cannot open with engine 'rtl' for arch '",
                                                    options.arch.name(), "': ", arch.message()));
    }
  }
  absl::StatusOr<std::unique_ptr<simulator::Engine>> engine =
      simulator::CreateEngine(options.engine, options.arch);
  if (!engine.ok()) {
    return absl::Status(
        engine.status().code(),
        absl::StrCat(name, ": cannot open with engine '", options.engine, "': ", engine.status().message()));
  }
  std::shared_ptr<TpuCore> core(new TpuCore(std::move(name), options, *std::move(engine)));
  TPUSIM_RETURN_IF_ERROR(core->space().CheckLimit(options.memory_limit_bytes));
  return core;
}

TpuCore::TpuCore(std::string name, const DeviceOptions& options, std::unique_ptr<simulator::Engine> engine)
    : name_(std::move(name)),
      arch_(options.arch),
      engine_name_(options.engine),
      collect_trace_(options.collect_trace),
      progress_(options.progress),
      vcd_path_(options.vcd_path),
      vcd_window_(options.vcd_window),
      space_(name_, kDramBase,
             options.arch.dram_bytes() > kDramBase ? options.arch.dram_bytes() - kDramBase : 0,
             options.memory_limit_bytes),
      state_(options.arch, options.arch.matmul_types(0)),
      engine_(std::move(engine)) {}

absl::Status TpuCore::CopyIn(DeviceMemory dst, const void* src, uint64_t bytes) {
  if (bytes == 0) return absl::OkStatus();
  if (src == nullptr)
    return absl::InvalidArgumentError(name_ + ": MemcpyHostToDevice from a null host pointer");
  TPUSIM_RETURN_IF_ERROR(space_.Resolve(dst, bytes, "MemcpyHostToDevice destination").status());
  std::lock_guard<std::mutex> lock(state_mu_);
  return state_.dram.Write(dst.address, src, bytes);
}

absl::Status TpuCore::CopyOut(void* dst, DeviceMemory src, uint64_t bytes) {
  if (bytes == 0) return absl::OkStatus();
  if (dst == nullptr)
    return absl::InvalidArgumentError(name_ + ": MemcpyDeviceToHost to a null host pointer");
  TPUSIM_RETURN_IF_ERROR(space_.Resolve(src, bytes, "MemcpyDeviceToHost source").status());
  std::lock_guard<std::mutex> lock(state_mu_);
  return state_.dram.Read(src.address, dst, bytes);
}

absl::Status TpuCore::CopyWithin(DeviceMemory dst, DeviceMemory src, uint64_t bytes) {
  if (bytes == 0) return absl::OkStatus();
  TPUSIM_RETURN_IF_ERROR(space_.Resolve(dst, bytes, "MemcpyDeviceToDevice destination").status());
  TPUSIM_RETURN_IF_ERROR(space_.Resolve(src, bytes, "MemcpyDeviceToDevice source").status());
  std::lock_guard<std::mutex> lock(state_mu_);
  return DramMoveLocked(dst.address, src.address, bytes);
}

absl::Status TpuCore::DramMoveLocked(uint64_t dst, uint64_t src, uint64_t bytes) {
  if (dst == src || bytes == 0) return absl::OkStatus();
  std::vector<uint8_t> bounce(std::min(bytes, kBounceBytes));
  // Overlapping with dst after src: copy the chunks back to front, as memmove does.
  const bool backward = dst > src && dst - src < bytes;
  for (uint64_t done = 0; done < bytes;) {
    const uint64_t n = std::min<uint64_t>(bounce.size(), bytes - done);
    const uint64_t offset = backward ? bytes - done - n : done;
    TPUSIM_RETURN_IF_ERROR(state_.dram.Read(src + offset, bounce.data(), n));
    TPUSIM_RETURN_IF_ERROR(state_.dram.Write(dst + offset, bounce.data(), n));
    done += n;
  }
  return absl::OkStatus();
}

absl::Status TpuCore::Fill(DeviceMemory dst, uint8_t value, uint64_t bytes) {
  if (bytes == 0) return absl::OkStatus();
  TPUSIM_RETURN_IF_ERROR(space_.Resolve(dst, bytes, "Memset destination").status());
  const std::vector<uint8_t> pattern(std::min(bytes, kBounceBytes), value);
  std::lock_guard<std::mutex> lock(state_mu_);
  for (uint64_t done = 0; done < bytes;) {
    const uint64_t n = std::min<uint64_t>(pattern.size(), bytes - done);
    TPUSIM_RETURN_IF_ERROR(state_.dram.Write(dst.address + done, pattern.data(), n));
    done += n;
  }
  return absl::OkStatus();
}

StreamWork TpuCore::MakeHostKernel(HostKernel, std::vector<DeviceMemory>) {
  return [name = name_](uint64_t&) {
    return absl::FailedPreconditionError(
        absl::StrCat(name,
                     ": LaunchHostKernel runs host kernels, which only cpu devices do; use Launch with a "
                     "loaded program on a tpu device"));
  };
}

namespace {

class TpuDevice final : public Device, public BackendProvider {
 public:
  TpuDevice(int ordinal, std::shared_ptr<TpuCore> core) : ordinal_(ordinal), core_(std::move(core)) {}

  std::string_view platform() const override { return "tpu"; }
  int ordinal() const override { return ordinal_; }
  std::string name() const override { return core_->name(); }
  std::string description() const override {
    const isa::ArchConfig& arch = core_->arch();
    std::vector<std::string> types;
    for (int t : arch.matmul_types())
      types.emplace_back(MatmulTypeShortName(static_cast<isa::MatmulType>(t)));
    return absl::StrCat(arch.name(), " (", arch.array_rows(), "x", arch.array_cols(), " ",
                        absl::StrJoin(types, "/"), ", ", core_->engine_name(), " engine)");
  }

  absl::StatusOr<DeviceMemory> Allocate(uint64_t bytes) override {
    if (bytes == 0) return DeviceMemory{};
    return core_->space().Allocate(bytes);
  }
  absl::Status Free(DeviceMemory mem) override {
    if (mem.address == 0 && mem.is_null()) return absl::OkStatus();
    return core_->space().Free(mem.address);
  }
  uint64_t bytes_in_use() const override { return core_->space().bytes_in_use(); }
  MemoryStats memory_stats() const override { return core_->space().stats(); }
  std::shared_ptr<StreamBackend> backend() const override { return core_; }

  absl::StatusOr<std::unique_ptr<Stream>> CreateStream() override { return NewQueuedStream(core_); }
  std::unique_ptr<Event> CreateEvent() override { return std::make_unique<EventImpl>(); }

  absl::StatusOr<std::unique_ptr<Executable>> LoadProgram(const isa::Program& program) override {
    return core_->LoadProgram(program);
  }

 private:
  int ordinal_;
  std::shared_ptr<TpuCore> core_;
};

}  // namespace

absl::StatusOr<std::unique_ptr<Device>> NewTpuDevice(int ordinal, const DeviceOptions& options) {
  TPUSIM_RETURN_IF_ERROR(isa::ValidateArchConfig(options.arch, "DeviceOptions.arch"));
  if (options.arch.matmul_types_size() == 0) {
    return absl::InvalidArgumentError("DeviceOptions.arch: field 'matmul_types' is empty");
  }
  TPUSIM_ASSIGN_OR_RETURN(std::shared_ptr<TpuCore> core,
                          TpuCore::Create(DeviceName("TPU", ordinal), options));
  return std::unique_ptr<Device>(new TpuDevice(ordinal, std::move(core)));
}

}  // namespace tpusim::driver::detail
