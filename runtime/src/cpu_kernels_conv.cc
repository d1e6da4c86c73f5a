// Convolution-family reference kernels (float32): Conv (any spatial rank; strides, pads, dilations,
// group, auto_pad, kernel_shape, optional bias), BatchNormalization (inference form:
// y = (x - mean) / sqrt(var + epsilon) * scale + B per channel) and Pad (constant, reflect, edge and
// wrap modes, any numeric data type; pads/value as attributes before opset 11, as inputs from 11, axes
// from 18).
// Straight loops with double accumulation: these are the references the TPU is judged against, so
// they are written independently of the compiler's lowering.
#include <algorithm>
#include <cmath>
#include <cstring>
#include <string>
#include <vector>

#include "cpu_kernels_internal.h"
#include "tpusim/isa/status_macros.h"

namespace tpusim::runtime::detail {
namespace {

absl::StatusOr<ConvGeometry> PlanConv(const Node& node, const std::vector<KernelInputInfo>& in) {
  TPUSIM_RETURN_IF_ERROR(CheckArity(node, in, 2, 3));
  for (const KernelInputInfo& i : in) {
    if (i.present && i.dtype != DataType::kFloat32) return KernelError(node, "inputs must be float32");
  }
  TPUSIM_ASSIGN_OR_RETURN(ConvGeometry p, PlanConvGeometry(node, in[0].shape, in[1].shape));
  if (in.size() > 2 && in[2].present && (in[2].shape.size() != 1 || in[2].shape[0] != p.m)) {
    return KernelError(node, absl::StrCat("bias ", compiler::ShapeToString(in[2].shape), " is not [", p.m, "]"));
  }
  return p;
}

absl::StatusOr<std::vector<KernelOutputInfo>> InferConv(const Node& node, const std::vector<KernelInputInfo>& in) {
  TPUSIM_ASSIGN_OR_RETURN(ConvGeometry p, PlanConv(node, in));
  Shape out = {p.n, p.m};
  out.insert(out.end(), p.out.begin(), p.out.end());
  return std::vector<KernelOutputInfo>{{DataType::kFloat32, out}};
}

absl::StatusOr<std::vector<Tensor>> ComputeConv(const Node& node, const std::vector<const Tensor*>& in) {
  TPUSIM_ASSIGN_OR_RETURN(ConvGeometry p, PlanConv(node, InfosOf(in)));
  TPUSIM_ASSIGN_OR_RETURN(std::vector<KernelOutputInfo> info, InferConv(node, InfosOf(in)));
  Tensor y(DataType::kFloat32, info[0].shape);
  const float* x = in[0]->as<float>();
  const float* w = in[1]->as<float>();
  const float* bias = in.size() > 2 && in[2] != nullptr ? in[2]->as<float>() : nullptr;
  const ConvIndex ix(p);
  const int64_t cg = p.c / p.group, mg = p.m / p.group;
  float* out = y.as<float>();
  for (int64_t n = 0; n < p.n; ++n) {
    for (int64_t m = 0; m < p.m; ++m) {
      const int64_t grp = m / mg;
      for (int64_t o = 0; o < ix.out_size; ++o) {
        double acc = bias != nullptr ? bias[m] : 0.0;
        for (int64_t kk = 0; kk < ix.k_size; ++kk) {
          const int64_t off = ix.InputOffset(o, kk);
          if (off < 0) continue;
          for (int64_t ci = 0; ci < cg; ++ci) {
            const float xv = x[(n * p.c + grp * cg + ci) * ix.in_size + off];
            const float wv = w[(m * cg + ci) * ix.k_size + kk];
            acc += static_cast<double>(xv) * static_cast<double>(wv);
          }
        }
        out[(n * p.m + m) * ix.out_size + o] = static_cast<float>(acc);
      }
    }
  }
  return std::vector<Tensor>{std::move(y)};
}

absl::Status CheckBatchNorm(const Node& node, const std::vector<KernelInputInfo>& in) {
  TPUSIM_ASSIGN_OR_RETURN(int64_t training, node.GetInt("training_mode", 0));
  if (training != 0 || node.outputs.size() > 1) {
    return absl::UnimplementedError(absl::StrCat(Where(node), ": training mode is not supported"));
  }
  TPUSIM_ASSIGN_OR_RETURN(int64_t spatial, node.GetInt("spatial", 1));
  if (spatial != 1) return absl::UnimplementedError(absl::StrCat(Where(node), ": spatial=0 is not supported"));
  return CheckBatchNormInputs(node, in);
}

absl::StatusOr<std::vector<KernelOutputInfo>> InferBatchNorm(const Node& node, const std::vector<KernelInputInfo>& in) {
  if (IsTrainingBatchNorm(node)) return InferBatchNormTraining(node, in);  // cpu_kernels_norm_training.cc
  TPUSIM_RETURN_IF_ERROR(CheckBatchNorm(node, in));
  return std::vector<KernelOutputInfo>{{DataType::kFloat32, in[0].shape}};
}

absl::StatusOr<std::vector<Tensor>> ComputeBatchNorm(const Node& node, const std::vector<const Tensor*>& in) {
  if (IsTrainingBatchNorm(node)) return ComputeBatchNormTraining(node, in);  // cpu_kernels_norm_training.cc
  TPUSIM_RETURN_IF_ERROR(CheckBatchNorm(node, InfosOf(in)));
  TPUSIM_ASSIGN_OR_RETURN(float eps, node.GetFloat("epsilon", 1e-5f));
  const Shape& s = in[0]->shape();
  Tensor y(DataType::kFloat32, s);
  int64_t plane = 1;
  for (size_t d = 2; d < s.size(); ++d) plane *= s[d];
  const float *x = in[0]->as<float>(), *scale = in[1]->as<float>(), *b = in[2]->as<float>();
  const float *mean = in[3]->as<float>(), *var = in[4]->as<float>();
  float* out = y.as<float>();
  for (int64_t n = 0; n < s[0]; ++n) {
    for (int64_t c = 0; c < s[1]; ++c) {
      const float inv = 1.0f / std::sqrt(var[c] + eps);
      for (int64_t i = 0; i < plane; ++i) {
        const int64_t at = (n * s[1] + c) * plane + i;
        out[at] = (x[at] - mean[c]) * inv * scale[c] + b[c];
      }
    }
  }
  return std::vector<Tensor>{std::move(y)};
}

struct PadPlan {
  std::string mode = "constant";
  std::vector<int64_t> lo;
  Shape out;
  double value = 0.0;
};

absl::StatusOr<std::vector<int64_t>> IntsOf(const Node& node, const KernelInputInfo& info, const std::string& what) {
  if (info.constant == nullptr) {
    return absl::FailedPreconditionError(absl::StrCat(Where(node), ": ", what, " is not known"));
  }
  const Tensor& t = *info.constant;
  std::vector<int64_t> v;
  for (int64_t i = 0; i < t.num_elements(); ++i) {
    if (t.dtype() == DataType::kInt64) v.push_back(t.as<int64_t>()[i]);
    else if (t.dtype() == DataType::kInt32) v.push_back(t.as<int32_t>()[i]);
    else return KernelError(node, absl::StrCat(what, " must be int64"));
  }
  return v;
}

absl::StatusOr<PadPlan> PlanPad(const Node& node, const std::vector<KernelInputInfo>& in) {
  PadPlan p;
  if (auto it = node.attrs.find("mode"); it != node.attrs.end()) {
    if (const auto* s = std::get_if<std::string>(&it->second)) p.mode = *s;
  }
  if (p.mode != "constant" && p.mode != "reflect" && p.mode != "edge" && p.mode != "wrap") {
    return KernelError(node, absl::StrCat("unknown mode '", p.mode, "'"));
  }
  const Shape& x = in.empty() ? Shape{} : in[0].shape;
  std::vector<int64_t> pads, axes;
  if (node.opset >= 11) {
    TPUSIM_RETURN_IF_ERROR(CheckArity(node, in, 2, 4));
    TPUSIM_ASSIGN_OR_RETURN(pads, IntsOf(node, in[1], "pads"));
    if (in.size() > 2 && in[2].present) {
      if (in[2].constant == nullptr) return absl::FailedPreconditionError(absl::StrCat(Where(node), ": value unknown"));
      const Tensor& v = *in[2].constant;
      if (v.num_elements() != 1) return KernelError(node, "constant_value must hold one value");
      switch (v.dtype()) {
        case DataType::kFloat32: p.value = v.as<float>()[0]; break;
        case DataType::kInt32: p.value = static_cast<double>(v.as<int32_t>()[0]); break;
        case DataType::kInt64: p.value = static_cast<double>(v.as<int64_t>()[0]); break;
        default: return KernelError(node, "constant_value must be float32, int32 or int64");
      }
    }
    if (in.size() > 3 && in[3].present) {
      TPUSIM_ASSIGN_OR_RETURN(axes, IntsOf(node, in[3], "axes"));
    }
  } else {
    TPUSIM_RETURN_IF_ERROR(CheckArity(node, in, 1, 1));
    TPUSIM_ASSIGN_OR_RETURN(pads, node.GetInts(node.opset < 2 ? "paddings" : "pads"));
    TPUSIM_ASSIGN_OR_RETURN(float value, node.GetFloat("value", 0.0f));
    p.value = value;
  }
  if (in[0].dtype == DataType::kBool) return KernelError(node, "bool data is not supported");
  if (axes.empty()) {
    for (size_t d = 0; d < x.size(); ++d) axes.push_back(static_cast<int64_t>(d));
  }
  if (pads.size() != 2 * axes.size()) return KernelError(node, "pads must hold two values per axis");
  p.lo.assign(x.size(), 0);
  std::vector<int64_t> hi(x.size(), 0);
  for (size_t i = 0; i < axes.size(); ++i) {
    TPUSIM_ASSIGN_OR_RETURN(int64_t a, NormalizeAxis(node, axes[i], static_cast<int64_t>(x.size())));
    p.lo[a] = pads[i];
    hi[a] = pads[i + axes.size()];
  }
  for (size_t d = 0; d < x.size(); ++d) {
    const int64_t n = x[d] + p.lo[d] + hi[d];
    if (n < 0) return KernelError(node, "pads remove more than the input holds");
    if (p.mode != "constant" && (p.lo[d] < 0 || hi[d] < 0)) return KernelError(node, "negative pads need constant mode");
    if (p.mode != "constant" && n > 0 && x[d] == 0) return KernelError(node, "cannot pad an empty dim in this mode");
    if (p.mode == "reflect" && (p.lo[d] >= x[d] || hi[d] >= x[d]) && (p.lo[d] > 0 || hi[d] > 0)) {
      return KernelError(node, "reflect pads must be smaller than the dim");
    }
    p.out.push_back(n);
  }
  return p;
}

absl::StatusOr<std::vector<KernelOutputInfo>> InferPad(const Node& node, const std::vector<KernelInputInfo>& in) {
  TPUSIM_ASSIGN_OR_RETURN(PadPlan p, PlanPad(node, in));
  return std::vector<KernelOutputInfo>{{in[0].dtype, p.out}};
}

// The input index that output index `o` of a dim of extent `n` reads in mode `mode` (-1: the pad value).
int64_t SourceIndex(const std::string& mode, int64_t o, int64_t n) {
  if (o >= 0 && o < n) return o;
  if (mode == "constant") return -1;
  if (mode == "edge") return o < 0 ? 0 : n - 1;
  if (mode == "wrap") return ((o % n) + n) % n;
  if (n == 1) return 0;  // reflect
  const int64_t period = 2 * (n - 1);
  int64_t r = ((o % period) + period) % period;
  return r < n ? r : period - r;
}

absl::StatusOr<std::vector<Tensor>> ComputePad(const Node& node, const std::vector<const Tensor*>& in) {
  TPUSIM_ASSIGN_OR_RETURN(PadPlan p, PlanPad(node, InfosOf(in)));
  const Shape& x = in[0]->shape();
  Tensor y(in[0]->dtype(), p.out);
  const size_t esize = compiler::DataTypeBytes(y.dtype());
  Tensor fill(y.dtype(), {});  // the pad value in the data's type
  switch (y.dtype()) {
    case DataType::kFloat32: fill.as<float>()[0] = static_cast<float>(p.value); break;
    case DataType::kInt32: fill.as<int32_t>()[0] = static_cast<int32_t>(p.value); break;
    case DataType::kInt64: fill.as<int64_t>()[0] = static_cast<int64_t>(p.value); break;
    case DataType::kInt8: fill.as<int8_t>()[0] = static_cast<int8_t>(p.value); break;
    default:  // the other 1-byte types (uint8, bool): the value as an integer, truncated to the byte
      if (esize == 1) fill.data()[0] = static_cast<uint8_t>(static_cast<int64_t>(p.value));
      break;
  }
  const std::vector<int64_t> in_strides = Strides(x);
  std::vector<int64_t> idx(p.out.size(), 0);
  for (int64_t o = 0; o < y.num_elements(); ++o) {
    int64_t src = 0;
    for (size_t d = 0; d < idx.size() && src >= 0; ++d) {
      const int64_t i = SourceIndex(p.mode, idx[d] - p.lo[d], x[d]);
      src = i < 0 ? -1 : src + i * in_strides[d];
    }
    std::memcpy(y.data() + o * esize, src < 0 ? fill.data() : in[0]->data() + src * esize, esize);
    for (size_t d = idx.size(); d-- > 0;) {
      if (++idx[d] < p.out[d]) break;
      idx[d] = 0;
    }
  }
  return std::vector<Tensor>{std::move(y)};
}

}  // namespace

void AppendConvKernels(std::vector<CpuKernel>& out) {
  out.push_back({"Conv", InferConv, ComputeConv});
  out.push_back({"BatchNormalization", InferBatchNorm, ComputeBatchNorm});
  out.push_back({"Pad", InferPad, ComputePad});
}

absl::Status CheckBatchNormInputs(const Node& node, const std::vector<KernelInputInfo>& in) {
  TPUSIM_RETURN_IF_ERROR(CheckArity(node, in, 5, 5));
  const Shape& x = in[0].shape;
  if (x.size() < 2) return KernelError(node, "X needs rank >= 2");
  for (size_t i = 0; i < 5; ++i) {
    if (in[i].dtype != DataType::kFloat32) return KernelError(node, "inputs must be float32");
    if (i > 0 && compiler::NumElements(in[i].shape) != x[1]) {
      return KernelError(node, absl::StrCat("input ", i, " ", compiler::ShapeToString(in[i].shape), " is not [",
                                            x[1], "]"));
    }
  }
  return absl::OkStatus();
}

}  // namespace tpusim::runtime::detail
