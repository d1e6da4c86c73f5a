// PrivateUse1 compute kernels that run on the simulated TPU: mm, addmm (and so nn.Linear, which torch
// decomposes into addmm / mm with a transposed weight) and 2-D convolution. fp32 only; other dtypes,
// transposed or non-2-D convolutions and shapes the compiler refuses run on the CPU (and are counted
// as fallbacks under the op's name).
#include <ATen/core/Tensor.h>
#include <ATen/ops/addmm.h>
#include <ATen/ops/convolution.h>
#include <ATen/ops/empty.h>
#include <ATen/ops/mm.h>
#include <c10/core/DeviceGuard.h>
#include <torch/library.h>

#include <vector>

#include "aten_internal.h"
#include "tpu_devices.h"
#include "tpu_ops.h"

namespace tpusim::torch_device {
namespace {

// A 2-D operand as the Gemm reads it: a dense row-major tensor, transposed or not.
struct Matrix {
  at::Tensor dense;  // contiguous, on the device
  bool transposed = false;
};

Matrix AsMatrix(const at::Tensor& t) {
  if (t.is_contiguous()) return {t, false};
  if (t.t().is_contiguous()) return {t.t(), true};
  return {t.contiguous(), false};
}

bool AllFloat(std::initializer_list<const at::Tensor*> ts) {
  for (const at::Tensor* t : ts) {
    if (t->scalar_type() != at::kFloat) return false;
  }
  return true;
}

void CheckSameDevice(const char* op, std::initializer_list<const at::Tensor*> ts) {
  const at::Device d = (*ts.begin())->device();
  for (const at::Tensor* t : ts) {
    TORCH_CHECK(t->device() == d, op, ": expected all tensors on ", d.str(), ", got one on ", t->device().str());
  }
}

// Runs `cpu` (a function of host tensors) and moves its result to `device`, counted as a fallback.
template <typename F>
at::Tensor OnCpu(const char* op, const at::Device& device, F cpu) {
  RecordFallback(op);
  return cpu().to(device);
}

// Status Unimplemented from the compiler means "not on the TPU": compute on the CPU instead.
bool Refused(const absl::Status& s) { return s.code() == absl::StatusCode::kUnimplemented; }

at::Tensor Gemm(const char* op, const at::Tensor* c, const at::Tensor& a, const at::Tensor& b, float beta,
                float alpha) {
  TORCH_CHECK(a.dim() == 2 && b.dim() == 2, op, ": expected 2-D matrices, got ", a.sizes(), " and ", b.sizes());
  TORCH_CHECK(a.size(1) == b.size(0), op, ": shapes ", a.sizes(), " and ", b.sizes(), " cannot be multiplied");
  CheckSameDevice(op, {&a, &b});
  if (c != nullptr) CheckSameDevice(op, {&a, c});
  const at::Device device = a.device();
  c10::DeviceGuard guard(device);
  auto cpu = [&] {
    if (c == nullptr) return at::mm(ToHost(a), ToHost(b));
    return at::addmm(ToHost(*c), ToHost(a), ToHost(b), beta, alpha);
  };
  const bool c_ok = c == nullptr || (c->dim() <= 2 && AllFloat({c}));
  if (!AllFloat({&a, &b}) || !c_ok || a.numel() == 0 || b.numel() == 0) return OnCpu(op, device, cpu);

  const Matrix ma = AsMatrix(a), mb = AsMatrix(b);
  GemmSpec spec;
  spec.m = a.size(0);
  spec.k = a.size(1);
  spec.n = b.size(1);
  spec.trans_a = ma.transposed;
  spec.trans_b = mb.transposed;
  spec.alpha = alpha;
  spec.beta = beta;
  at::Tensor dense_c;
  if (c != nullptr && beta != 0.0f) {
    dense_c = c->contiguous();
    spec.has_c = true;
    spec.c_shape.assign(dense_c.sizes().begin(), dense_c.sizes().end());
  }
  at::Tensor y = at::empty({spec.m, spec.n}, a.options());
  const absl::Status s = RunGemm(device.index(), op, spec, ma.dense.data_ptr(), mb.dense.data_ptr(),
                                 spec.has_c ? dense_c.data_ptr() : nullptr, y.data_ptr());
  if (Refused(s)) return OnCpu(op, device, cpu);
  ThrowIfError(s);
  return y;
}

at::Tensor Mm(const at::Tensor& self, const at::Tensor& mat2) { return Gemm("aten::mm", nullptr, self, mat2, 0, 1); }

at::Tensor Addmm(const at::Tensor& self, const at::Tensor& mat1, const at::Tensor& mat2, const at::Scalar& beta,
                 const at::Scalar& alpha) {
  return Gemm("aten::addmm", &self, mat1, mat2, beta.toFloat(), alpha.toFloat());
}

at::Tensor Convolution(const at::Tensor& input, const at::Tensor& weight, const c10::optional<at::Tensor>& bias,
                       at::IntArrayRef stride, at::IntArrayRef padding, at::IntArrayRef dilation, bool transposed,
                       at::IntArrayRef output_padding, int64_t groups) {
  const char* op = "aten::convolution";
  const bool has_bias = bias.has_value() && bias->defined();
  CheckSameDevice(op, {&input, &weight});
  if (has_bias) CheckSameDevice(op, {&input, &*bias});
  const at::Device device = input.device();
  c10::DeviceGuard guard(device);
  auto cpu = [&] {
    c10::optional<at::Tensor> b;
    if (has_bias) b = ToHost(*bias);
    return at::convolution(ToHost(input), ToHost(weight), b, stride, padding, dilation, transposed, output_padding,
                           groups);
  };
  const bool two_d = input.dim() == 4 && weight.dim() == 4 && stride.size() == 2 && padding.size() == 2 &&
                     dilation.size() == 2;
  if (transposed || !two_d || !AllFloat({&input, &weight}) || (has_bias && !AllFloat({&*bias})) ||
      input.numel() == 0 || weight.numel() == 0) {
    return OnCpu(op, device, cpu);
  }
  Conv2dSpec spec;
  spec.x_shape.assign(input.sizes().begin(), input.sizes().end());
  spec.w_shape.assign(weight.sizes().begin(), weight.sizes().end());
  spec.has_bias = has_bias;
  spec.strides = {stride[0], stride[1]};
  spec.pads = {padding[0], padding[1], padding[0], padding[1]};
  spec.dilations = {dilation[0], dilation[1]};
  spec.groups = groups;
  std::vector<int64_t> out = {input.size(0), weight.size(0)};
  for (int i = 0; i < 2; ++i) {
    const int64_t extent = input.size(2 + i) + 2 * padding[i] - dilation[i] * (weight.size(2 + i) - 1) - 1;
    TORCH_CHECK(extent >= 0, op, ": the kernel ", weight.sizes(), " does not fit the padded input ", input.sizes());
    out.push_back(extent / stride[i] + 1);
  }
  const at::Tensor x = input.contiguous(), w = weight.contiguous();
  at::Tensor b;
  if (has_bias) b = bias->contiguous();
  at::Tensor y = at::empty(out, input.options());
  const absl::Status s =
      RunConv2d(device.index(), spec, x.data_ptr(), w.data_ptr(), has_bias ? b.data_ptr() : nullptr, y.data_ptr());
  if (Refused(s)) return OnCpu(op, device, cpu);
  ThrowIfError(s);
  return y;
}

}  // namespace

TORCH_LIBRARY_IMPL(aten, PrivateUse1, m) {
  m.impl("mm", Mm);
  m.impl("addmm", Addmm);
  m.impl("convolution", Convolution);
}

}  // namespace tpusim::torch_device
