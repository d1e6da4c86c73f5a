// Private: how platform.cc opens the backends' devices.
#pragma once

#include <memory>
#include <string>
#include <string_view>

#include "absl/status/statusor.h"
#include "tpusim/driver/driver.h"

namespace tpusim::driver::detail {

// TensorFlow-style device name: DeviceName("TPU", 0) == "/job:localhost/replica:0/task:0/device:TPU:0".
std::string DeviceName(std::string_view type, int ordinal);

// A cpu device: host memory behind opaque addresses; runs host kernels. Of `options` it reads only
// memory_limit_bytes (InvalidArgument if above the address space).
absl::StatusOr<std::unique_ptr<Device>> NewCpuDevice(int ordinal, const DeviceOptions& options);
// A tpu device over simulator::DeviceState and the engine options.engine names; fails with the arch's
// validation error or NotFound (listing the engines) for an unknown engine.
absl::StatusOr<std::unique_ptr<Device>> NewTpuDevice(int ordinal, const DeviceOptions& options);

}  // namespace tpusim::driver::detail
