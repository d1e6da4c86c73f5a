// The cpu backend: each allocation is a zeroed host buffer behind an opaque address; launches run
// caller-supplied host kernels on the stream's thread. ISA programs are not supported.
#include <cstdlib>
#include <cstring>
#include <unordered_map>

#include "absl/strings/str_cat.h"
#include "address_space.h"
#include "backends.h"
#include "stream_impl.h"

namespace tpusim::driver::detail {
namespace {

// Address space of a cpu device: a terabyte of addresses; the real limit is host memory.
constexpr uint64_t kCpuBase = 0x1000;
constexpr uint64_t kCpuCapacity = uint64_t{1} << 40;

// A host view of device bytes; `owner` keeps the buffer alive while the view is used.
struct HostSpan {
  std::shared_ptr<uint8_t> owner;
  uint8_t* data = nullptr;
};

class CpuCore final : public StreamBackend, public std::enable_shared_from_this<CpuCore> {
 public:
  CpuCore(std::string name, uint64_t memory_limit)
      : name_(name), space_(std::move(name), kCpuBase, kCpuCapacity, memory_limit) {}

  const std::string& name() const { return name_; }
  const std::string& device_name() const override { return name_; }
  bool models_time() const override { return false; }
  const AddressSpace& space() const { return space_; }

  absl::StatusOr<DeviceMemory> Allocate(uint64_t bytes) {
    std::lock_guard<std::mutex> lock(mu_);
    absl::StatusOr<DeviceMemory> mem = space_.Allocate(bytes);
    if (!mem.ok()) return mem.status();
    // calloc: zeroed, and large buffers cost only the pages touched.
    std::shared_ptr<uint8_t> buffer(static_cast<uint8_t*>(std::calloc(bytes, 1)), std::free);
    if (buffer == nullptr) {
      (void)space_.Free(mem->address);
      return absl::ResourceExhaustedError(
          absl::StrCat(name_, ": host memory exhausted allocating ", bytes, " bytes"));
    }
    buffers_.emplace(mem->address, std::move(buffer));
    return mem;
  }

  absl::Status Free(uint64_t address) {
    std::lock_guard<std::mutex> lock(mu_);
    if (absl::Status s = space_.Free(address); !s.ok()) return s;
    buffers_.erase(address);
    return absl::OkStatus();
  }

  absl::StatusOr<HostSpan> Resolve(DeviceMemory mem, uint64_t bytes, const std::string& role) const {
    std::lock_guard<std::mutex> lock(mu_);
    absl::StatusOr<DeviceMemory> block = space_.Resolve(mem, bytes, role);
    if (!block.ok()) return block.status();
    const std::shared_ptr<uint8_t>& buffer = buffers_.at(block->address);
    return HostSpan{buffer, buffer.get() + (mem.address - block->address)};
  }

  absl::Status CopyIn(DeviceMemory dst, const void* src, uint64_t bytes) override {
    if (bytes == 0) return absl::OkStatus();
    if (src == nullptr)
      return absl::InvalidArgumentError(name_ + ": MemcpyHostToDevice from a null host pointer");
    absl::StatusOr<HostSpan> d = Resolve(dst, bytes, "MemcpyHostToDevice destination");
    if (!d.ok()) return d.status();
    std::memcpy(d->data, src, bytes);
    return absl::OkStatus();
  }

  absl::Status CopyOut(void* dst, DeviceMemory src, uint64_t bytes) override {
    if (bytes == 0) return absl::OkStatus();
    if (dst == nullptr)
      return absl::InvalidArgumentError(name_ + ": MemcpyDeviceToHost to a null host pointer");
    absl::StatusOr<HostSpan> s = Resolve(src, bytes, "MemcpyDeviceToHost source");
    if (!s.ok()) return s.status();
    std::memcpy(dst, s->data, bytes);
    return absl::OkStatus();
  }

  absl::Status CopyWithin(DeviceMemory dst, DeviceMemory src, uint64_t bytes) override {
    if (bytes == 0) return absl::OkStatus();
    absl::StatusOr<HostSpan> d = Resolve(dst, bytes, "MemcpyDeviceToDevice destination");
    if (!d.ok()) return d.status();
    absl::StatusOr<HostSpan> s = Resolve(src, bytes, "MemcpyDeviceToDevice source");
    if (!s.ok()) return s.status();
    std::memmove(d->data, s->data, bytes);
    return absl::OkStatus();
  }

  absl::Status Fill(DeviceMemory dst, uint8_t value, uint64_t bytes) override {
    if (bytes == 0) return absl::OkStatus();
    absl::StatusOr<HostSpan> d = Resolve(dst, bytes, "Memset destination");
    if (!d.ok()) return d.status();
    std::memset(d->data, value, bytes);
    return absl::OkStatus();
  }

  StreamWork MakeLaunch(const Executable&, std::vector<DeviceMemory>, std::vector<DeviceMemory>,
                        simulator::RunStats*) override {
    return [name = name_](uint64_t&) {
      return absl::UnimplementedError(absl::StrCat(name,
                                                   ": Launch runs ISA programs, which only tpu devices do; "
                                                   "use LaunchHostKernel on a cpu device"));
    };
  }

  StreamWork MakeHostKernel(HostKernel kernel, std::vector<DeviceMemory> buffers) override {
    return [self = shared_from_this(), kernel = std::move(kernel),
            buffers = std::move(buffers)](uint64_t&) -> absl::Status {
      if (!kernel) return absl::InvalidArgumentError(self->name_ + ": LaunchHostKernel with an empty kernel");
      std::vector<HostSpan> spans;  // keeps every buffer alive while the kernel runs
      std::vector<void*> pointers;
      spans.reserve(buffers.size());
      pointers.reserve(buffers.size());
      for (size_t i = 0; i < buffers.size(); ++i) {
        if (buffers[i].is_null()) {
          pointers.push_back(nullptr);
          continue;
        }
        absl::StatusOr<HostSpan> span =
            self->Resolve(buffers[i], buffers[i].size, absl::StrCat("LaunchHostKernel buffer ", i));
        if (!span.ok()) return span.status();
        pointers.push_back(span->data);
        spans.push_back(*std::move(span));
      }
      return kernel(pointers);
    };
  }

 private:
  const std::string name_;
  mutable std::mutex mu_;  // guards buffers_ and keeps them in step with space_ (locked before space_)
  AddressSpace space_;
  std::unordered_map<uint64_t, std::shared_ptr<uint8_t>> buffers_;  // allocation start -> buffer
};

class CpuDevice final : public Device, public BackendProvider {
 public:
  explicit CpuDevice(int ordinal, std::shared_ptr<CpuCore> core) : ordinal_(ordinal), core_(std::move(core)) {}

  std::string_view platform() const override { return "cpu"; }
  int ordinal() const override { return ordinal_; }
  std::string name() const override { return core_->name(); }
  std::string description() const override { return "host cpu (host memory, host kernels)"; }

  absl::StatusOr<DeviceMemory> Allocate(uint64_t bytes) override {
    if (bytes == 0) return DeviceMemory{};
    return core_->Allocate(bytes);
  }
  absl::Status Free(DeviceMemory mem) override {
    if (mem.address == 0 && mem.is_null()) return absl::OkStatus();
    return core_->Free(mem.address);
  }
  uint64_t bytes_in_use() const override { return core_->space().bytes_in_use(); }
  MemoryStats memory_stats() const override { return core_->space().stats(); }
  std::shared_ptr<StreamBackend> backend() const override { return core_; }

  absl::StatusOr<std::unique_ptr<Stream>> CreateStream() override { return NewQueuedStream(core_); }
  std::unique_ptr<Event> CreateEvent() override { return std::make_unique<EventImpl>(); }

  absl::StatusOr<std::unique_ptr<Executable>> LoadProgram(const isa::Program&) override {
    return absl::UnimplementedError(
        absl::StrCat(core_->name(), ": LoadProgram needs a tpu device; cpu devices run host kernels"));
  }

 private:
  int ordinal_;
  std::shared_ptr<CpuCore> core_;
};

}  // namespace

absl::StatusOr<std::unique_ptr<Device>> NewCpuDevice(int ordinal, const DeviceOptions& options) {
  auto core = std::make_shared<CpuCore>(DeviceName("CPU", ordinal), options.memory_limit_bytes);
  if (absl::Status s = core->space().CheckLimit(options.memory_limit_bytes); !s.ok()) return s;
  return std::unique_ptr<Device>(new CpuDevice(ordinal, std::move(core)));
}

}  // namespace tpusim::driver::detail
