// Split and Gather (any dtype: they copy bytes), PRelu (float32, slope unidirectionally broadcast) and
// LayerNormalization (float32; axis, epsilon; optional Mean and InvStdDev outputs; statistics in
// double, variance as the mean of squared deviations).
#include <cmath>
#include <cstring>

#include "cpu_kernels_internal.h"
#include "tpusim/isa/status_macros.h"

namespace tpusim::runtime::detail {
namespace {

// Split: the part sizes along axis (split input from opset 13, attribute before, else equal parts).
struct SplitPlan {
  int64_t axis = 0;
  std::vector<int64_t> sizes;
};

absl::StatusOr<SplitPlan> PlanSplit(const Node& node, const std::vector<KernelInputInfo>& in) {
  TPUSIM_RETURN_IF_ERROR(CheckArity(node, in, 1, 2));
  const Shape& x = in[0].shape;
  if (x.empty()) return KernelError(node, "input must have rank >= 1");
  SplitPlan plan;
  TPUSIM_ASSIGN_OR_RETURN(int64_t axis, node.GetInt("axis", 0));
  TPUSIM_ASSIGN_OR_RETURN(plan.axis, NormalizeAxis(node, axis, static_cast<int64_t>(x.size())));
  const int64_t n = static_cast<int64_t>(node.outputs.size());
  const int64_t extent = x[plan.axis];
  if (in.size() == 2 && in[1].present) {
    if (in[1].constant == nullptr) {
      return absl::FailedPreconditionError(absl::StrCat(Where(node), ": the split input is not a constant"));
    }
    const Tensor& t = *in[1].constant;
    if (t.dtype() != DataType::kInt64) return KernelError(node, "split must be int64");
    plan.sizes.assign(t.as<int64_t>(), t.as<int64_t>() + t.num_elements());
  } else if (node.attrs.count("split")) {
    TPUSIM_ASSIGN_OR_RETURN(plan.sizes, node.GetInts("split"));
  } else {
    if (n == 0) return KernelError(node, "has no outputs");
    const int64_t part = (extent + n - 1) / n;
    if (node.opset < 18 && extent % n != 0) {
      return KernelError(node, absl::StrCat("dim ", extent, " does not split into ", n, " equal parts"));
    }
    for (int64_t i = 0; i < n; ++i) plan.sizes.push_back(std::max<int64_t>(0, std::min(part, extent - i * part)));
  }
  int64_t total = 0;
  for (int64_t s : plan.sizes) total += s < 0 ? extent + 1 : s;
  if (static_cast<int64_t>(plan.sizes.size()) != n || total != extent) {
    return KernelError(node, absl::StrCat("split sizes do not cover dim ", extent, " in ", n, " outputs"));
  }
  return plan;
}

absl::StatusOr<std::vector<KernelOutputInfo>> InferSplit(const Node& node, const std::vector<KernelInputInfo>& in) {
  TPUSIM_ASSIGN_OR_RETURN(SplitPlan plan, PlanSplit(node, in));
  std::vector<KernelOutputInfo> out;
  for (int64_t s : plan.sizes) {
    Shape shape = in[0].shape;
    shape[plan.axis] = s;
    out.push_back({in[0].dtype, shape});
  }
  return out;
}

absl::StatusOr<std::vector<Tensor>> ComputeSplit(const Node& node, const std::vector<const Tensor*>& in) {
  TPUSIM_ASSIGN_OR_RETURN(SplitPlan plan, PlanSplit(node, InfosOf(in)));
  const Shape& x = in[0]->shape();
  const size_t esize = compiler::DataTypeBytes(in[0]->dtype());
  int64_t outer = 1, inner = 1;
  for (int64_t d = 0; d < static_cast<int64_t>(x.size()); ++d) {
    if (d < plan.axis) outer *= x[d];
    if (d > plan.axis) inner *= x[d];
  }
  std::vector<Tensor> outs;
  int64_t start = 0;
  for (int64_t s : plan.sizes) {
    Shape shape = x;
    shape[plan.axis] = s;
    Tensor t(in[0]->dtype(), shape);
    for (int64_t o = 0; o < outer; ++o) {
      std::memcpy(t.data() + o * s * inner * esize, in[0]->data() + (o * x[plan.axis] + start) * inner * esize,
                  s * inner * esize);
    }
    start += s;
    outs.push_back(std::move(t));
  }
  return outs;
}

absl::StatusOr<std::vector<KernelOutputInfo>> InferGather(const Node& node, const std::vector<KernelInputInfo>& in) {
  TPUSIM_RETURN_IF_ERROR(CheckArity(node, in, 2, 2));
  if (in[1].dtype != DataType::kInt64 && in[1].dtype != DataType::kInt32) return KernelError(node, "indices must be int32 or int64");
  const Shape& data = in[0].shape;
  if (data.empty()) return KernelError(node, "data must have rank >= 1");
  TPUSIM_ASSIGN_OR_RETURN(int64_t axis_attr, node.GetInt("axis", 0));
  TPUSIM_ASSIGN_OR_RETURN(int64_t axis, NormalizeAxis(node, axis_attr, static_cast<int64_t>(data.size())));
  Shape out(data.begin(), data.begin() + axis);
  out.insert(out.end(), in[1].shape.begin(), in[1].shape.end());
  out.insert(out.end(), data.begin() + axis + 1, data.end());
  return std::vector<KernelOutputInfo>{{in[0].dtype, out}};
}

absl::StatusOr<std::vector<Tensor>> ComputeGather(const Node& node, const std::vector<const Tensor*>& in) {
  TPUSIM_ASSIGN_OR_RETURN(std::vector<KernelOutputInfo> info, InferGather(node, InfosOf(in)));
  const Shape& data = in[0]->shape();
  TPUSIM_ASSIGN_OR_RETURN(int64_t axis_attr, node.GetInt("axis", 0));
  const int64_t axis = axis_attr < 0 ? axis_attr + static_cast<int64_t>(data.size()) : axis_attr;
  const size_t esize = compiler::DataTypeBytes(in[0]->dtype());
  int64_t outer = 1, inner = 1;
  for (int64_t d = 0; d < static_cast<int64_t>(data.size()); ++d) {
    if (d < axis) outer *= data[d];
    if (d > axis) inner *= data[d];
  }
  const Tensor& idx = *in[1];
  const int64_t n = idx.num_elements();
  Tensor out(info[0].dtype, info[0].shape);
  for (int64_t j = 0; j < n; ++j) {
    int64_t i = idx.dtype() == DataType::kInt64 ? idx.as<int64_t>()[j] : idx.as<int32_t>()[j];
    if (i < -data[axis] || i >= data[axis]) {
      return KernelError(node, absl::StrCat("index ", i, " is out of range for dim ", data[axis]));
    }
    if (i < 0) i += data[axis];
    for (int64_t o = 0; o < outer; ++o) {
      std::memcpy(out.data() + ((o * n + j) * inner) * esize, in[0]->data() + ((o * data[axis] + i) * inner) * esize,
                  inner * esize);
    }
  }
  return std::vector<Tensor>{std::move(out)};
}

absl::StatusOr<std::vector<KernelOutputInfo>> InferPRelu(const Node& node, const std::vector<KernelInputInfo>& in) {
  TPUSIM_RETURN_IF_ERROR(CheckArity(node, in, 2, 2));
  if (in[0].dtype != DataType::kFloat32 || in[1].dtype != DataType::kFloat32) return KernelError(node, "float32 only");
  TPUSIM_ASSIGN_OR_RETURN(Shape out, BroadcastShapes(node, in[0].shape, in[1].shape));
  if (out != in[0].shape) return KernelError(node, "slope does not broadcast to X");
  return std::vector<KernelOutputInfo>{{DataType::kFloat32, out}};
}

absl::StatusOr<std::vector<Tensor>> ComputePRelu(const Node& node, const std::vector<const Tensor*>& in) {
  TPUSIM_ASSIGN_OR_RETURN(std::vector<KernelOutputInfo> info, InferPRelu(node, InfosOf(in)));
  const Shape& shape = info[0].shape;
  const std::vector<int64_t> slope_strides = BroadcastStrides(in[1]->shape(), shape);
  Tensor out(DataType::kFloat32, shape);
  const float* x = in[0]->as<float>();
  const float* slope = in[1]->as<float>();
  std::vector<int64_t> index(shape.size(), 0);
  for (int64_t e = 0; e < out.num_elements(); ++e) {
    int64_t s = 0;
    for (size_t d = 0; d < shape.size(); ++d) s += index[d] * slope_strides[d];
    out.as<float>()[e] = x[e] < 0.0f ? slope[s] * x[e] : x[e];
    for (size_t d = shape.size(); d-- > 0;) {
      if (++index[d] < shape[d]) break;
      index[d] = 0;
    }
  }
  return std::vector<Tensor>{std::move(out)};
}

absl::StatusOr<std::vector<KernelOutputInfo>> InferLayerNorm(const Node& node, const std::vector<KernelInputInfo>& in) {
  TPUSIM_RETURN_IF_ERROR(CheckArity(node, in, 2, 3));
  const Shape& x = in[0].shape;
  TPUSIM_ASSIGN_OR_RETURN(int64_t axis_attr, node.GetInt("axis", -1));
  TPUSIM_ASSIGN_OR_RETURN(int64_t axis, NormalizeAxis(node, axis_attr, static_cast<int64_t>(x.size())));
  const Shape norm(x.begin() + axis, x.end());
  for (size_t i = 0; i < in.size(); ++i) {
    if (!in[i].present) continue;
    if (in[i].dtype != DataType::kFloat32) return KernelError(node, "float32 only");
    if (i == 0) continue;
    TPUSIM_ASSIGN_OR_RETURN(Shape b, BroadcastShapes(node, norm, in[i].shape));
    if (b != norm) return KernelError(node, absl::StrCat("input ", i, " does not broadcast to the normalized dims"));
  }
  Shape stat(x.begin(), x.begin() + axis);
  stat.resize(x.size(), 1);
  std::vector<KernelOutputInfo> out = {{DataType::kFloat32, x}};
  while (out.size() < node.outputs.size()) out.push_back({DataType::kFloat32, stat});
  return out;
}

absl::StatusOr<std::vector<Tensor>> ComputeLayerNorm(const Node& node, const std::vector<const Tensor*>& in) {
  TPUSIM_ASSIGN_OR_RETURN(std::vector<KernelOutputInfo> info, InferLayerNorm(node, InfosOf(in)));
  TPUSIM_ASSIGN_OR_RETURN(float epsilon, node.GetFloat("epsilon", 1e-5f));
  const Shape& x = in[0]->shape();
  TPUSIM_ASSIGN_OR_RETURN(int64_t axis_attr, node.GetInt("axis", -1));
  const int64_t axis = axis_attr < 0 ? axis_attr + static_cast<int64_t>(x.size()) : axis_attr;
  const Shape norm(x.begin() + axis, x.end());
  const int64_t s = compiler::NumElements(norm);
  const int64_t outer = s == 0 ? 0 : compiler::NumElements(x) / s;
  std::vector<Tensor> outs;
  for (const KernelOutputInfo& i : info) outs.emplace_back(i.dtype, i.shape);
  // Per-element strides of scale / bias over the normalized dims (0 where broadcast).
  auto strides_of = [&](size_t i) { return in.size() > i && in[i] != nullptr ? BroadcastStrides(in[i]->shape(), norm)
                                                                            : std::vector<int64_t>(); };
  const std::vector<int64_t> w_strides = strides_of(1), b_strides = strides_of(2);
  const std::vector<int64_t> norm_strides = Strides(norm);
  auto offset = [&](int64_t e, const std::vector<int64_t>& strides) {
    int64_t off = 0;
    for (size_t d = 0; d < norm.size(); ++d) off += (e / norm_strides[d] % norm[d]) * strides[d];
    return off;
  };
  const float* xs = in[0]->as<float>();
  for (int64_t o = 0; o < outer; ++o) {
    const float* row = xs + o * s;
    double mean = 0.0, var = 0.0;
    for (int64_t e = 0; e < s; ++e) mean += row[e];
    mean /= static_cast<double>(s);
    for (int64_t e = 0; e < s; ++e) var += (row[e] - mean) * (row[e] - mean);
    var /= static_cast<double>(s);
    const double inv = 1.0 / std::sqrt(var + static_cast<double>(epsilon));
    for (int64_t e = 0; e < s; ++e) {
      double y = (row[e] - mean) * inv * in[1]->as<float>()[offset(e, w_strides)];
      if (!b_strides.empty()) y += in[2]->as<float>()[offset(e, b_strides)];
      outs[0].as<float>()[o * s + e] = static_cast<float>(y);
    }
    if (outs.size() > 1) outs[1].as<float>()[o] = static_cast<float>(mean);
    if (outs.size() > 2) outs[2].as<float>()[o] = static_cast<float>(inv);
  }
  return outs;
}

}  // namespace

void AppendMiscKernels(std::vector<CpuKernel>& out) {
  out.push_back({"Split", InferSplit, ComputeSplit});
  out.push_back({"Gather", InferGather, ComputeGather});
  out.push_back({"PRelu", InferPRelu, ComputePRelu});
  out.push_back({"LayerNormalization", InferLayerNorm, ComputeLayerNorm});
}

}  // namespace tpusim::runtime::detail
