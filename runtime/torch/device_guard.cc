// The PrivateUse1 allocator and device guard (torch_glue.h). The current device is per thread, like
// CUDA's; every device has one stream (the default stream): tpusim operations on it are synchronous.
#include <c10/core/impl/DeviceGuardImplInterface.h>
#include <c10/util/Exception.h>

#include <string>

#include "torch_glue.h"
#include "tpu_devices.h"

namespace tpusim::torch_device {
namespace {

constexpr c10::DeviceType kType = c10::DeviceType::PrivateUse1;
thread_local int current_device = 0;

void CheckDevice(c10::Device d) {
  TORCH_CHECK(d.type() == kType, "tpusim device guard: expected a privateuseone device, got ", d.str());
  const absl::Status s = CheckIndex(d.index());
  TORCH_CHECK_INDEX(s.ok(), std::string(s.message()));
}

void DeleteDeviceMemory(void* ptr) { Free(ptr); }

class TpuAllocatorImpl final : public c10::Allocator {
 public:
  c10::DataPtr allocate(size_t bytes) const override {
    const int index = current_device;
    c10::Device device(kType, static_cast<c10::DeviceIndex>(index));
    absl::StatusOr<void*> ptr = Allocate(index, bytes);
    TORCH_CHECK(ptr.ok(), std::string(ptr.status().message()));
    return {*ptr, *ptr, &DeleteDeviceMemory, device};
  }
  c10::DeleterFnPtr raw_deleter() const override { return &DeleteDeviceMemory; }
};

TpuAllocatorImpl allocator;

class TpuGuardImpl final : public c10::impl::DeviceGuardImplInterface {
 public:
  c10::DeviceType type() const override { return kType; }
  c10::Device exchangeDevice(c10::Device d) const override {
    c10::Device old = getDevice();
    if (d.index() != current_device) setDevice(d);
    return old;
  }
  c10::Device getDevice() const override { return {kType, static_cast<c10::DeviceIndex>(current_device)}; }
  void setDevice(c10::Device d) const override {
    CheckDevice(d);
    current_device = d.index();
  }
  void uncheckedSetDevice(c10::Device d) const noexcept override {
    if (d.index() >= 0) current_device = d.index();
  }
  c10::Stream getStream(c10::Device d) const noexcept override {
    return c10::Stream(c10::Stream::DEFAULT, d);
  }
  c10::Stream exchangeStream(c10::Stream s) const noexcept override {
    return c10::Stream(c10::Stream::DEFAULT, s.device());
  }
  c10::DeviceIndex deviceCount() const noexcept override {
    return static_cast<c10::DeviceIndex>(DeviceCount());
  }
  // Synchronous device: every stream is always idle.
  bool queryStream(const c10::Stream&) const override { return true; }
  void synchronizeStream(const c10::Stream&) const override {}
};

}  // namespace

c10::Allocator* TpuAllocator() { return &allocator; }
int CurrentDevice() { return current_device; }

C10_REGISTER_GUARD_IMPL(PrivateUse1, TpuGuardImpl);
REGISTER_ALLOCATOR(c10::DeviceType::PrivateUse1, &allocator);

}  // namespace tpusim::torch_device
