// Private to runtime/torch: helpers shared by the ATen kernels (aten_memory.cc, aten_compute.cc).
#pragma once

#include <ATen/core/Tensor.h>

#include <string>

#include "absl/status/status.h"

namespace tpusim::torch_device {

// Throws c10::Error (Python RuntimeError) carrying the status message unless `s` is OK.
void ThrowIfError(const absl::Status& s);
// A CPU tensor with `t`'s sizes, strides and values (`t` on the tpusim device); contiguous tensors
// copy only their bytes, others their whole storage.
at::Tensor ToHost(const at::Tensor& t);
// dst (on the tpusim device) = src (any device; dtype converted, broadcast like copy_).
void CopyInto(const at::Tensor& dst, const at::Tensor& src);

}  // namespace tpusim::torch_device
