// The CPU kernel registry and the helpers shared by the kernel files.
#include "tpusim/runtime/cpu_kernels.h"

#include <algorithm>

#include "absl/strings/str_cat.h"
#include "cpu_kernels_internal.h"
#include "tpusim/isa/status_macros.h"

namespace tpusim::runtime {
namespace detail {

std::string Where(const Node& node) { return absl::StrCat(node.op_type, " (node '", node.name, "')"); }

absl::Status KernelError(const Node& node, absl::string_view message) {
  return absl::InvalidArgumentError(absl::StrCat(Where(node), ": ", message));
}

absl::Status CheckArity(const Node& node, const std::vector<KernelInputInfo>& in, size_t min, size_t max) {
  const size_t count = in.size();
  if (count < min || count > max) {
    return KernelError(node, absl::StrCat("expects ", min == max ? absl::StrCat(min) : absl::StrCat(min, " to ", max),
                                          " inputs, got ", count));
  }
  for (size_t i = 0; i < min; ++i) {
    if (!in[i].present) return KernelError(node, absl::StrCat("required input ", i, " is missing"));
  }
  return absl::OkStatus();
}

absl::StatusOr<int64_t> NormalizeAxis(const Node& node, int64_t axis, int64_t rank, bool allow_rank) {
  const int64_t hi = allow_rank ? rank + 1 : rank;
  const int64_t normalized = axis < 0 ? axis + hi : axis;
  if (normalized < 0 || normalized >= hi) {
    return KernelError(node, absl::StrCat("axis ", axis, " is out of range for rank ", rank));
  }
  return normalized;
}

std::vector<int64_t> Strides(const Shape& shape) {
  std::vector<int64_t> strides(shape.size(), 1);
  for (int i = static_cast<int>(shape.size()) - 2; i >= 0; --i) strides[i] = strides[i + 1] * shape[i + 1];
  return strides;
}

absl::StatusOr<Shape> BroadcastShapes(const Node& node, const Shape& a, const Shape& b) {
  const size_t rank = std::max(a.size(), b.size());
  Shape out(rank);
  for (size_t i = 0; i < rank; ++i) {
    const int64_t da = i < rank - a.size() ? 1 : a[i - (rank - a.size())];
    const int64_t db = i < rank - b.size() ? 1 : b[i - (rank - b.size())];
    if (da != db && da != 1 && db != 1) {
      return KernelError(node, absl::StrCat("shapes ", compiler::ShapeToString(a), " and ",
                                            compiler::ShapeToString(b), " cannot be broadcast"));
    }
    out[i] = da == 1 ? db : da;
  }
  return out;
}

std::vector<int64_t> BroadcastStrides(const Shape& in, const Shape& out) {
  std::vector<int64_t> in_strides = Strides(in);
  std::vector<int64_t> result(out.size(), 0);
  const size_t offset = out.size() - in.size();
  for (size_t i = 0; i < in.size(); ++i) result[offset + i] = in[i] == 1 ? 0 : in_strides[i];
  return result;
}

std::vector<KernelInputInfo> InfosOf(const std::vector<const Tensor*>& inputs) {
  std::vector<KernelInputInfo> infos(inputs.size());
  for (size_t i = 0; i < inputs.size(); ++i) {
    if (inputs[i] == nullptr) continue;
    infos[i].present = true;
    infos[i].dtype = inputs[i]->dtype();
    infos[i].shape = inputs[i]->shape();
    infos[i].constant = inputs[i];
  }
  return infos;
}

}  // namespace detail

namespace {

const std::vector<CpuKernel>& Registry() {
  static const std::vector<CpuKernel>* registry = [] {
    auto* kernels = new std::vector<CpuKernel>();
    detail::AppendMatMulKernels(*kernels);
    detail::AppendElementwiseKernels(*kernels);
    detail::AppendShapeKernels(*kernels);
    detail::AppendReduceKernels(*kernels);
    detail::AppendUnaryKernels(*kernels);
    detail::AppendSliceKernels(*kernels);
    detail::AppendConvKernels(*kernels);
    detail::AppendQuantKernels(*kernels);
    detail::AppendQuantConvKernels(*kernels);
    detail::AppendPoolKernels(*kernels);
    detail::AppendMiscKernels(*kernels);
    detail::AppendRnnKernels(*kernels);
    return kernels;
  }();
  return *registry;
}

}  // namespace

const CpuKernel* FindCpuKernel(std::string_view op_type) {
  for (const CpuKernel& kernel : Registry()) {
    if (kernel.op_type == op_type) return &kernel;
  }
  return nullptr;
}

std::vector<std::string> CpuKernelOpTypes() {
  std::vector<std::string> names;
  for (const CpuKernel& kernel : Registry()) names.emplace_back(kernel.op_type);
  std::sort(names.begin(), names.end());
  return names;
}

absl::StatusOr<std::vector<compiler::Tensor>> RunCpuKernel(const compiler::Node& node,
                                                           const std::vector<const compiler::Tensor*>& inputs) {
  const CpuKernel* kernel = FindCpuKernel(node.op_type);
  if (kernel == nullptr) {
    return absl::NotFoundError(absl::StrCat("no CPU kernel for op '", node.op_type, "' (node '", node.name, "')"));
  }
  return kernel->compute(node, inputs);
}

}  // namespace tpusim::runtime
