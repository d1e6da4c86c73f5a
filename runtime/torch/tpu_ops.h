// One-op TPU programs for the torch device's compute kernels (aten_compute.cc), free of torch headers.
// Every pointer is a tpusim device pointer (tpu_devices.h) to dense row-major fp32 data on `device`.
// Unimplemented when the compiler refuses the op (the caller computes it on the CPU instead).
#pragma once

#include <cstdint>
#include <vector>

#include "absl/status/status.h"

namespace tpusim::torch_device {

// Y[m, n] = alpha * A' B' + beta * C (ONNX Gemm). A is stored [k, m] when trans_a, else [m, k]; B is
// stored [n, k] when trans_b, else [k, n]; C (optional, c_shape of rank <= 2) broadcasts to [m, n].
struct GemmSpec {
  int64_t m = 0, k = 0, n = 0;
  bool trans_a = false, trans_b = false;
  bool has_c = false;
  std::vector<int64_t> c_shape;
  float alpha = 1.0f, beta = 1.0f;
};
absl::Status RunGemm(int device, const char* op, const GemmSpec& spec, const void* a, const void* b,
                     const void* c, void* y);

// 2-D convolution (ONNX Conv, NCHW): X [N, C, H, W], W [O, C / groups, kh, kw], optional bias [O];
// pads are {top, left, bottom, right}. Y's shape is the caller's (bytes must match the program's).
struct Conv2dSpec {
  std::vector<int64_t> x_shape, w_shape;
  bool has_bias = false;
  std::vector<int64_t> strides, pads, dilations;
  int64_t groups = 1;
};
absl::Status RunConv2d(int device, const Conv2dSpec& spec, const void* x, const void* w, const void* bias,
                       void* y);

}  // namespace tpusim::torch_device
