// PrivateUse1 kernels that make tensors live on the tpusim device: factories, copies, resize, views,
// fill; and the boxed CPU fallback for every op without a kernel here or in aten_compute.cc.
#include <ATen/EmptyTensor.h>
#include <ATen/core/Tensor.h>
#include <ATen/native/CPUFallback.h>
#include <ATen/ops/_reshape_alias_native.h>
#include <ATen/ops/as_strided_native.h>
#include <ATen/ops/empty.h>
#include <ATen/ops/full.h>
#include <ATen/ops/view_native.h>
#include <c10/core/DeviceGuard.h>
#include <torch/library.h>

#include <string>

#include "aten_internal.h"
#include "torch_glue.h"
#include "tpu_devices.h"

namespace tpusim::torch_device {

void ThrowIfError(const absl::Status& s) { TORCH_CHECK(s.ok(), std::string(s.message())); }

namespace {

const c10::DispatchKeySet kKeys(c10::DispatchKey::PrivateUse1);

// A host copy of `t`'s whole storage (bytes) and `t` viewed over it (view).
struct HostMirror {
  at::Tensor bytes;
  at::Tensor view;
};

HostMirror Mirror(const at::Tensor& t) {
  const c10::Storage& storage = t.storage();
  const int64_t nbytes = static_cast<int64_t>(storage.nbytes());
  HostMirror m;
  m.bytes = at::empty({nbytes}, at::TensorOptions().dtype(at::kByte));
  ThrowIfError(CopyDeviceToHost(m.bytes.data_ptr(), storage.data(), nbytes));
  m.view = m.bytes.view(t.scalar_type()).as_strided(t.sizes(), t.strides(), t.storage_offset());
  return m;
}

void WriteBack(const HostMirror& m, const at::Tensor& t) {
  ThrowIfError(CopyHostToDevice(t.storage().data(), m.bytes.data_ptr(), m.bytes.numel()));
}

bool IsTpu(const at::Tensor& t) { return t.device().type() == c10::DeviceType::PrivateUse1; }

at::Tensor Empty(at::IntArrayRef size, c10::optional<at::ScalarType> dtype, c10::optional<at::Layout> layout,
                 c10::optional<at::Device> device, c10::optional<bool> /*pin_memory*/,
                 c10::optional<at::MemoryFormat> memory_format) {
  TORCH_CHECK(layout.value_or(at::kStrided) == at::kStrided, "tpusim device: only strided tensors");
  c10::DeviceGuard guard(device.value_or(at::Device(c10::DeviceType::PrivateUse1)));
  return at::detail::empty_generic(size, TpuAllocator(), kKeys, c10::dtype_or_default(dtype), memory_format);
}

at::Tensor EmptyStrided(at::IntArrayRef size, at::IntArrayRef stride, c10::optional<at::ScalarType> dtype,
                        c10::optional<at::Layout> layout, c10::optional<at::Device> device,
                        c10::optional<bool> /*pin_memory*/) {
  TORCH_CHECK(layout.value_or(at::kStrided) == at::kStrided, "tpusim device: only strided tensors");
  c10::DeviceGuard guard(device.value_or(at::Device(c10::DeviceType::PrivateUse1)));
  return at::detail::empty_strided_generic(size, stride, TpuAllocator(), kKeys, c10::dtype_or_default(dtype));
}

at::Tensor CopyFrom(const at::Tensor& self, const at::Tensor& dst, bool /*non_blocking*/) {
  if (IsTpu(dst)) {
    CopyInto(dst, self);
  } else {
    dst.copy_(ToHost(self));
  }
  return dst;
}

at::Tensor& Copy(at::Tensor& self, const at::Tensor& src, bool non_blocking) {
  CopyFrom(src, self, non_blocking);
  return self;
}

const at::Tensor& Resize(const at::Tensor& self, at::IntArrayRef size, c10::optional<at::MemoryFormat> format) {
  TORCH_CHECK(format.value_or(at::MemoryFormat::Contiguous) == at::MemoryFormat::Contiguous ||
                  format == at::MemoryFormat::Preserve,
              "tpusim device: resize_ supports the contiguous memory format only");
  const int64_t item = static_cast<int64_t>(self.element_size());
  const int64_t needed = (self.storage_offset() + c10::multiply_integers(size)) * item;
  c10::StorageImpl* storage = self.storage().unsafeGetStorageImpl();
  if (needed > static_cast<int64_t>(storage->nbytes())) {
    c10::DeviceGuard guard(self.device());
    c10::DataPtr fresh = TpuAllocator()->allocate(needed);
    ThrowIfError(CopyDeviceToDevice(fresh.get(), storage->data(), storage->nbytes()));
    storage->set_data_ptr_noswap(std::move(fresh));
    storage->set_nbytes(needed);
  }
  self.unsafeGetTensorImpl()->set_sizes_contiguous(size);
  return self;
}

at::Tensor CopyFromAndResize(const at::Tensor& self, const at::Tensor& dst) {
  if (dst.sizes() != self.sizes()) Resize(dst, self.sizes(), c10::nullopt);
  return CopyFrom(self, dst, false);
}

at::Tensor& Fill(at::Tensor& self, const at::Scalar& value) {
  if (self.numel() == 0) return self;
  if (self.is_contiguous()) {
    at::Tensor one = at::full({1}, value, at::TensorOptions().dtype(self.scalar_type()));
    const auto* b = static_cast<const uint8_t*>(one.data_ptr());
    bool uniform = true;
    for (int64_t i = 1; i < self.element_size(); ++i) uniform &= b[i] == b[0];
    if (uniform) {
      ThrowIfError(Memset(self.data_ptr(), b[0], self.nbytes()));
      return self;
    }
    at::Tensor host = at::empty(self.sizes(), one.options()).fill_(value);
    ThrowIfError(CopyHostToDevice(self.data_ptr(), host.data_ptr(), self.nbytes()));
    return self;
  }
  HostMirror m = Mirror(self);
  m.view.fill_(value);
  WriteBack(m, self);
  return self;
}

at::Tensor& Zero(at::Tensor& self) { return Fill(self, 0); }

void Fallback(const c10::OperatorHandle& op, torch::jit::Stack* stack) {
  RecordFallback(op.schema().name());
  at::native::cpu_fallback(op, stack);
}

}  // namespace

at::Tensor ToHost(const at::Tensor& t) {
  if (t.is_contiguous()) {
    at::Tensor out = at::empty(t.sizes(), at::TensorOptions().dtype(t.scalar_type()));
    ThrowIfError(CopyDeviceToHost(out.data_ptr(), t.data_ptr(), t.nbytes()));
    return out;
  }
  return Mirror(t).view;
}

void CopyInto(const at::Tensor& dst, const at::Tensor& src) {
  if (dst.numel() == 0) return;
  if (IsTpu(src)) {
    const bool same_layout = src.scalar_type() == dst.scalar_type() && src.sizes() == dst.sizes() &&
                             src.is_contiguous() && dst.is_contiguous();
    if (same_layout) {
      ThrowIfError(CopyDeviceToDevice(dst.data_ptr(), src.data_ptr(), dst.nbytes()));
      return;
    }
    CopyInto(dst, ToHost(src));
    return;
  }
  if (dst.is_contiguous()) {
    at::Tensor host = src.to(dst.scalar_type()).expand(dst.sizes()).contiguous();
    ThrowIfError(CopyHostToDevice(dst.data_ptr(), host.data_ptr(), dst.nbytes()));
    return;
  }
  HostMirror m = Mirror(dst);
  m.view.copy_(src);
  WriteBack(m, dst);
}

TORCH_LIBRARY_IMPL(aten, PrivateUse1, m) {
  m.impl("empty.memory_format", Empty);
  m.impl("empty_strided", EmptyStrided);
  m.impl("_copy_from", CopyFrom);
  m.impl("_copy_from_and_resize", CopyFromAndResize);
  m.impl("copy_", Copy);
  m.impl("resize_", Resize);
  m.impl("as_strided", at::native::as_strided_tensorimpl);
  m.impl("view", at::native::view);
  m.impl("_reshape_alias", at::native::_reshape_alias);
  m.impl("fill_.Scalar", Fill);
  m.impl("zero_", Zero);
}

TORCH_LIBRARY_IMPL(_, PrivateUse1, m) { m.fallback(torch::CppFunction::makeFromBoxedFunction<&Fallback>()); }

}  // namespace tpusim::torch_device
