// Pooling (float32, any number of spatial dims): MaxPool (optional int64 Indices output, row-major
// flat index into X, storage_order 0 only), AveragePool (count_include_pad), GlobalAveragePool,
// GlobalMaxPool. Geometry: kernel_shape, strides, pads, dilations, auto_pad, ceil_mode as ONNX defines
// them; a window position outside [0, in) is padding: skipped by max, counted by average only with
// count_include_pad and only inside the explicit pads. Averages accumulate in double.
#include <algorithm>
#include <cmath>
#include <limits>
#include <string>

#include "cpu_kernels_internal.h"
#include "tpusim/isa/status_macros.h"

namespace tpusim::runtime::detail {
namespace {

struct PoolPlan {
  size_t k = 0;  // spatial rank
  std::vector<int64_t> in, kernel, stride, dilation, pad_begin, pad_end, out;
  bool global = false;
};

absl::StatusOr<std::vector<int64_t>> Ints(const Node& node, const std::string& key, size_t n, int64_t fill) {
  TPUSIM_ASSIGN_OR_RETURN(std::vector<int64_t> v, node.GetInts(key, std::vector<int64_t>(n, fill)));
  if (v.size() != n) return KernelError(node, absl::StrCat("attribute '", key, "' needs ", n, " values"));
  return v;
}

absl::StatusOr<PoolPlan> Plan(const Node& node, const std::vector<KernelInputInfo>& in) {
  TPUSIM_RETURN_IF_ERROR(CheckArity(node, in, 1, 1));
  if (in[0].dtype != DataType::kFloat32) return KernelError(node, "only float32 input is supported");
  const Shape& x = in[0].shape;
  if (x.size() < 3) return KernelError(node, absl::StrCat("input ", compiler::ShapeToString(x), " needs rank >= 3"));
  PoolPlan p;
  p.k = x.size() - 2;
  p.in.assign(x.begin() + 2, x.end());
  p.global = node.op_type == "GlobalAveragePool" || node.op_type == "GlobalMaxPool";
  if (p.global) {
    p.kernel = p.in;
    p.stride = p.dilation = p.out = std::vector<int64_t>(p.k, 1);
    p.pad_begin = p.pad_end = std::vector<int64_t>(p.k, 0);
    return p;
  }
  if (!node.attrs.count("kernel_shape")) return KernelError(node, "attribute 'kernel_shape' is missing");
  TPUSIM_ASSIGN_OR_RETURN(p.kernel, Ints(node, "kernel_shape", p.k, 1));
  TPUSIM_ASSIGN_OR_RETURN(p.stride, Ints(node, "strides", p.k, 1));
  TPUSIM_ASSIGN_OR_RETURN(p.dilation, Ints(node, "dilations", p.k, 1));
  TPUSIM_ASSIGN_OR_RETURN(std::vector<int64_t> pads, Ints(node, "pads", 2 * p.k, 0));
  TPUSIM_ASSIGN_OR_RETURN(int64_t ceil_mode, node.GetInt("ceil_mode", 0));
  TPUSIM_ASSIGN_OR_RETURN(int64_t storage_order, node.GetInt("storage_order", 0));
  if (storage_order != 0) return absl::UnimplementedError(absl::StrCat(Where(node), ": storage_order 1"));
  std::string auto_pad = "NOTSET";
  if (auto it = node.attrs.find("auto_pad"); it != node.attrs.end()) {
    const auto* s = std::get_if<std::string>(&it->second);
    if (s == nullptr) return KernelError(node, "attribute 'auto_pad' is not a string");
    auto_pad = *s;
  }
  p.pad_begin.assign(pads.begin(), pads.begin() + p.k);
  p.pad_end.assign(pads.begin() + p.k, pads.end());
  p.out.resize(p.k);
  for (size_t d = 0; d < p.k; ++d) {
    if (p.kernel[d] < 1 || p.stride[d] < 1 || p.dilation[d] < 1 || p.pad_begin[d] < 0 || p.pad_end[d] < 0) {
      return KernelError(node, "kernel_shape, strides, dilations must be >= 1 and pads >= 0");
    }
    const int64_t span = (p.kernel[d] - 1) * p.dilation[d] + 1;
    if (auto_pad == "SAME_UPPER" || auto_pad == "SAME_LOWER") {
      p.out[d] = (p.in[d] + p.stride[d] - 1) / p.stride[d];
      const int64_t total = std::max<int64_t>(0, (p.out[d] - 1) * p.stride[d] + span - p.in[d]);
      p.pad_begin[d] = auto_pad == "SAME_UPPER" ? total / 2 : (total + 1) / 2;
      p.pad_end[d] = total - p.pad_begin[d];
      continue;
    }
    if (auto_pad == "VALID") {
      p.pad_begin[d] = p.pad_end[d] = 0;
    } else if (auto_pad != "NOTSET") {
      return KernelError(node, absl::StrCat("unknown auto_pad '", auto_pad, "'"));
    }
    const int64_t room = p.in[d] + p.pad_begin[d] + p.pad_end[d] - span;
    if (room < 0) return KernelError(node, "the window is larger than the padded input");
    p.out[d] = (ceil_mode ? (room + p.stride[d] - 1) / p.stride[d] : room / p.stride[d]) + 1;
  }
  return p;
}

absl::StatusOr<std::vector<KernelOutputInfo>> InferPool(const Node& node, const std::vector<KernelInputInfo>& in) {
  TPUSIM_ASSIGN_OR_RETURN(PoolPlan p, Plan(node, in));
  Shape out = {in[0].shape[0], in[0].shape[1]};
  out.insert(out.end(), p.out.begin(), p.out.end());
  std::vector<KernelOutputInfo> infos = {{DataType::kFloat32, out}};
  if (node.op_type == "MaxPool" && node.outputs.size() == 2) infos.push_back({DataType::kInt64, out});
  return infos;
}

// Calls f(flat input index within the plane, inside) for every window position of output `o` (a
// spatial multi-index); `inside` false for padding (the index is then meaningless), and `in_pads` tells
// whether the position lies inside the explicit pads.
template <typename F>
void ForWindow(const PoolPlan& p, const std::vector<int64_t>& o, F f) {
  std::vector<int64_t> j(p.k, 0);
  while (true) {
    int64_t flat = 0;
    bool inside = true, in_pads = true;
    for (size_t d = 0; d < p.k; ++d) {
      const int64_t i = o[d] * p.stride[d] - p.pad_begin[d] + j[d] * p.dilation[d];
      inside = inside && i >= 0 && i < p.in[d];
      in_pads = in_pads && i >= -p.pad_begin[d] && i < p.in[d] + p.pad_end[d];
      flat = flat * p.in[d] + i;
    }
    f(flat, inside, in_pads);
    size_t d = p.k;
    while (d-- > 0) {
      if (++j[d] < p.kernel[d]) break;
      j[d] = 0;
    }
    if (d == static_cast<size_t>(-1)) return;
  }
}

absl::StatusOr<std::vector<Tensor>> ComputePool(const Node& node, const std::vector<const Tensor*>& in) {
  std::vector<KernelInputInfo> infos = InfosOf(in);
  TPUSIM_ASSIGN_OR_RETURN(PoolPlan p, Plan(node, infos));
  TPUSIM_ASSIGN_OR_RETURN(std::vector<KernelOutputInfo> out_info, InferPool(node, infos));
  const bool is_max = node.op_type == "MaxPool" || node.op_type == "GlobalMaxPool";
  TPUSIM_ASSIGN_OR_RETURN(int64_t include_pad, node.GetInt("count_include_pad", 0));
  std::vector<Tensor> outs;
  for (const KernelOutputInfo& info : out_info) outs.emplace_back(info.dtype, info.shape);
  const Shape& xs = in[0]->shape();
  const int64_t planes = xs[0] * xs[1];
  int64_t plane_in = 1, plane_out = 1;
  for (size_t d = 0; d < p.k; ++d) {
    plane_in *= p.in[d];
    plane_out *= p.out[d];
  }
  const float* x = in[0]->as<float>();
  float* y = outs[0].as<float>();
  int64_t* indices = outs.size() == 2 ? outs[1].as<int64_t>() : nullptr;
  std::vector<int64_t> o(p.k, 0);
  for (int64_t q = 0; q < plane_out; ++q) {
    int64_t rest = q;
    for (size_t d = p.k; d-- > 0;) {
      o[d] = rest % p.out[d];
      rest /= p.out[d];
    }
    for (int64_t c = 0; c < planes; ++c) {
      const float* xp = x + c * plane_in;
      double sum = 0.0;
      int64_t count = 0;
      float best = -std::numeric_limits<float>::infinity();
      int64_t best_at = -1;
      ForWindow(p, o, [&](int64_t flat, bool inside, bool in_pads) {
        if (inside) {
          const float v = xp[flat];
          if (best_at < 0 || (!std::isnan(best) && (std::isnan(v) || v > best))) {  // NaN wins, first max kept
            best = v;
            best_at = flat;
          }
          sum += v;
        }
        if (inside || (include_pad && in_pads)) ++count;
      });
      if (is_max) {
        y[c * plane_out + q] = best;
        if (indices != nullptr) indices[c * plane_out + q] = c * plane_in + std::max<int64_t>(best_at, 0);
      } else {
        y[c * plane_out + q] = count == 0 ? std::nanf("") : static_cast<float>(sum / static_cast<double>(count));
      }
    }
  }
  return outs;
}

}  // namespace

void AppendPoolKernels(std::vector<CpuKernel>& out) {
  out.push_back({"MaxPool", InferPool, ComputePool});
  out.push_back({"AveragePool", InferPool, ComputePool});
  out.push_back({"GlobalAveragePool", InferPool, ComputePool});
  out.push_back({"GlobalMaxPool", InferPool, ComputePool});
}

}  // namespace tpusim::runtime::detail
