// Reductions: ArgMax (int64 indices; CPU only), ReduceSum, ReduceMean, ReduceMax (float32; axes as an
// attribute, or an input for ReduceSum from opset 13 and the others from opset 18). Sum and Mean
// accumulate in double; Max propagates NaN; an empty reduction gives 0 (Sum), NaN (Mean), -Inf (Max).
#include <algorithm>
#include <cmath>

#include "cpu_kernels_internal.h"
#include "tpusim/isa/status_macros.h"

namespace tpusim::runtime::detail {
namespace {

// Output shape of reducing `axes` (normalized, any order) of `shape`.
Shape ReducedShape(const Shape& shape, const std::vector<bool>& reduce, bool keepdims) {
  Shape out;
  for (size_t d = 0; d < shape.size(); ++d) {
    if (!reduce[d]) {
      out.push_back(shape[d]);
    } else if (keepdims) {
      out.push_back(1);
    }
  }
  return out;
}

struct ArgMaxPlan {
  int64_t axis = 0;
  bool keepdims = true;
  bool last = false;
};

absl::StatusOr<ArgMaxPlan> PlanArgMax(const Node& node, const std::vector<KernelInputInfo>& in) {
  TPUSIM_RETURN_IF_ERROR(CheckArity(node, in, 1, 1));
  const DataType t = in[0].dtype;
  if (t != DataType::kFloat32 && t != DataType::kInt32 && t != DataType::kInt64) {
    return KernelError(node, absl::StrCat("dtype ", std::string(compiler::DataTypeName(t)), " is not supported"));
  }
  if (in[0].shape.empty()) return KernelError(node, "input must have rank >= 1");
  ArgMaxPlan plan;
  TPUSIM_ASSIGN_OR_RETURN(int64_t axis, node.GetInt("axis", 0));
  TPUSIM_ASSIGN_OR_RETURN(plan.axis, NormalizeAxis(node, axis, in[0].shape.size()));
  TPUSIM_ASSIGN_OR_RETURN(int64_t keepdims, node.GetInt("keepdims", 1));
  TPUSIM_ASSIGN_OR_RETURN(int64_t last, node.GetInt("select_last_index", 0));
  plan.keepdims = keepdims != 0;
  plan.last = last != 0;
  if (in[0].shape[plan.axis] == 0) return KernelError(node, "cannot take ArgMax over an empty axis");
  return plan;
}

absl::StatusOr<std::vector<KernelOutputInfo>> InferArgMax(const Node& node, const std::vector<KernelInputInfo>& in) {
  TPUSIM_ASSIGN_OR_RETURN(ArgMaxPlan plan, PlanArgMax(node, in));
  std::vector<bool> reduce(in[0].shape.size(), false);
  reduce[plan.axis] = true;
  return std::vector<KernelOutputInfo>{{DataType::kInt64, ReducedShape(in[0].shape, reduce, plan.keepdims)}};
}

template <typename T>
void ArgMaxLines(const T* src, int64_t* dst, int64_t outer, int64_t len, int64_t inner, bool last) {
  for (int64_t o = 0; o < outer; ++o) {
    for (int64_t i = 0; i < inner; ++i) {
      const T* line = src + o * len * inner + i;
      int64_t best = 0;
      for (int64_t k = 1; k < len; ++k) {
        const T v = line[k * inner];
        const T b = line[best * inner];
        if (v > b || (last && v == b)) best = k;
      }
      dst[o * inner + i] = best;
    }
  }
}

absl::StatusOr<std::vector<Tensor>> ComputeArgMax(const Node& node, const std::vector<const Tensor*>& in) {
  TPUSIM_ASSIGN_OR_RETURN(std::vector<KernelOutputInfo> info, InferArgMax(node, InfosOf(in)));
  TPUSIM_ASSIGN_OR_RETURN(ArgMaxPlan plan, PlanArgMax(node, InfosOf(in)));
  const Shape& s = in[0]->shape();
  int64_t outer = 1, inner = 1;
  for (int64_t d = 0; d < static_cast<int64_t>(s.size()); ++d) {
    if (d < plan.axis) outer *= s[d];
    if (d > plan.axis) inner *= s[d];
  }
  Tensor out(DataType::kInt64, info[0].shape);
  const int64_t len = s[plan.axis];
  switch (in[0]->dtype()) {
    case DataType::kFloat32: ArgMaxLines(in[0]->as<float>(), out.as<int64_t>(), outer, len, inner, plan.last); break;
    case DataType::kInt32: ArgMaxLines(in[0]->as<int32_t>(), out.as<int64_t>(), outer, len, inner, plan.last); break;
    default: ArgMaxLines(in[0]->as<int64_t>(), out.as<int64_t>(), outer, len, inner, plan.last); break;
  }
  return std::vector<Tensor>{std::move(out)};
}

struct ReducePlan {
  std::vector<bool> reduce;  // per input dim
  bool keepdims = true;
  Shape out;
};

absl::StatusOr<ReducePlan> PlanReduce(const Node& node, const std::vector<KernelInputInfo>& in) {
  TPUSIM_RETURN_IF_ERROR(CheckArity(node, in, 1, 2));
  if (in[0].dtype != DataType::kFloat32) {
    return KernelError(node, absl::StrCat("dtype ", std::string(compiler::DataTypeName(in[0].dtype)), " is not supported (float32)"));
  }
  std::vector<int64_t> axes;
  if (in.size() == 2 && in[1].present) {  // opset 18: axes is an input
    if (in[1].constant == nullptr) {
      return absl::FailedPreconditionError(absl::StrCat(Where(node), ": the axes input is not a constant"));
    }
    if (in[1].constant->dtype() != DataType::kInt64) return KernelError(node, "axes must be int64");
    axes.assign(in[1].constant->as<int64_t>(), in[1].constant->as<int64_t>() + in[1].constant->num_elements());
  } else {
    TPUSIM_ASSIGN_OR_RETURN(axes, node.GetInts("axes", std::vector<int64_t>{}));
  }
  TPUSIM_ASSIGN_OR_RETURN(int64_t keepdims, node.GetInt("keepdims", 1));
  TPUSIM_ASSIGN_OR_RETURN(int64_t noop, node.GetInt("noop_with_empty_axes", 0));
  const size_t rank = in[0].shape.size();
  ReducePlan plan;
  plan.keepdims = keepdims != 0;
  plan.reduce.assign(rank, axes.empty() && noop == 0);
  for (int64_t axis : axes) {
    TPUSIM_ASSIGN_OR_RETURN(int64_t a, NormalizeAxis(node, axis, rank));
    plan.reduce[a] = true;
  }
  plan.out = ReducedShape(in[0].shape, plan.reduce, plan.keepdims);
  return plan;
}

absl::StatusOr<std::vector<KernelOutputInfo>> InferReduce(const Node& node, const std::vector<KernelInputInfo>& in) {
  TPUSIM_ASSIGN_OR_RETURN(ReducePlan plan, PlanReduce(node, in));
  return std::vector<KernelOutputInfo>{{DataType::kFloat32, plan.out}};
}

enum class ReduceOp { kSum, kMean, kMax };

template <ReduceOp kOp>
absl::StatusOr<std::vector<Tensor>> ComputeReduce(const Node& node, const std::vector<const Tensor*>& in) {
  TPUSIM_ASSIGN_OR_RETURN(ReducePlan plan, PlanReduce(node, InfosOf(in)));
  const Shape& s = in[0]->shape();
  const size_t rank = s.size();
  // Output strides along the input dims (0 along reduced dims), in the keepdims layout.
  Shape kept(rank);
  for (size_t d = 0; d < rank; ++d) kept[d] = plan.reduce[d] ? 1 : s[d];
  std::vector<int64_t> out_strides = Strides(kept);
  for (size_t d = 0; d < rank; ++d) {
    if (plan.reduce[d]) out_strides[d] = 0;
  }
  Tensor out(DataType::kFloat32, plan.out);
  std::vector<double> acc(out.num_elements(), kOp == ReduceOp::kMax ? -INFINITY : 0.0);
  const int64_t total = in[0]->num_elements();
  const int64_t count = out.num_elements() == 0 ? 1 : total / std::max<int64_t>(out.num_elements(), 1);
  std::vector<int64_t> index(rank, 0);
  const float* src = in[0]->as<float>();
  for (int64_t i = 0; i < total; ++i) {
    int64_t o = 0;
    for (size_t d = 0; d < rank; ++d) o += index[d] * out_strides[d];
    if constexpr (kOp == ReduceOp::kMax) {
      if (std::isnan(src[i]) || src[i] > acc[o]) acc[o] = std::isnan(acc[o]) ? acc[o] : src[i];
    } else {
      acc[o] += src[i];
    }
    for (int d = static_cast<int>(rank) - 1; d >= 0; --d) {
      if (++index[d] < s[d]) break;
      index[d] = 0;
    }
  }
  float* dst = out.as<float>();
  for (int64_t o = 0; o < out.num_elements(); ++o) {
    if constexpr (kOp == ReduceOp::kMean) {
      dst[o] = count == 0 ? NAN : static_cast<float>(acc[o] / static_cast<double>(count));
    } else {
      dst[o] = static_cast<float>(acc[o]);
    }
  }
  return std::vector<Tensor>{std::move(out)};
}

}  // namespace

void AppendReduceKernels(std::vector<CpuKernel>& out) {
  out.push_back({"ArgMax", InferArgMax, ComputeArgMax});
  out.push_back({"ReduceSum", InferReduce, ComputeReduce<ReduceOp::kSum>});
  out.push_back({"ReduceMean", InferReduce, ComputeReduce<ReduceOp::kMean>});
  out.push_back({"ReduceMax", InferReduce, ComputeReduce<ReduceOp::kMax>});
}

}  // namespace tpusim::runtime::detail
