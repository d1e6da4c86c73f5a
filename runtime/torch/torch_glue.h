// The c10 half of the torch device (device_guard.cc): the PrivateUse1 allocator and the current device.
// Includes only light c10 headers.
#pragma once

#include <c10/core/Allocator.h>

namespace tpusim::torch_device {

// Allocates tpusim device memory (tpu_devices.h) on the calling thread's current PrivateUse1 device
// (set it with a c10::DeviceGuard); the DataPtr's context frees it. Throws c10::Error on failure.
c10::Allocator* TpuAllocator();
// The calling thread's current PrivateUse1 device index (0 until a guard sets another).
int CurrentDevice();

}  // namespace tpusim::torch_device
