// Data-movement kernels with index inputs (any dtype; they copy bytes): Slice (starts/ends/axes/steps
// as inputs from opset 10, attributes before; ONNX clamping; negative steps), Squeeze and Unsqueeze
// (axes as an input from opset 13, an attribute before) and Expand (numpy broadcasting with `shape`).
// Their inference needs the index inputs' values: FailedPrecondition when they are not constants.
#include <algorithm>
#include <cstring>

#include "cpu_kernels_internal.h"
#include "tpusim/isa/status_macros.h"

namespace tpusim::runtime::detail {
namespace {

struct IntList {
  bool present = false;
  std::vector<int64_t> values;
};

// Input `index` (opset >= input_from) or attribute `name` (earlier) as int64s.
absl::StatusOr<IntList> Ints(const Node& node, const std::vector<KernelInputInfo>& in, size_t index,
                             int input_from, const std::string& name) {
  IntList list;
  if (node.opset < input_from) {
    if (node.attrs.count(name) == 0) return list;
    TPUSIM_ASSIGN_OR_RETURN(list.values, node.GetInts(name));
    list.present = true;
    return list;
  }
  if (index >= in.size() || !in[index].present) return list;
  if (in[index].constant == nullptr) {
    return absl::FailedPreconditionError(absl::StrCat(Where(node), ": the ", name, " input is not a constant"));
  }
  const Tensor& t = *in[index].constant;
  if (t.dtype() != DataType::kInt64 || t.shape().size() > 1) {
    return KernelError(node, absl::StrCat(name, " must be a 1-D int64 tensor"));
  }
  list.values.assign(t.as<int64_t>(), t.as<int64_t>() + t.num_elements());
  list.present = true;
  return list;
}

struct SlicePlan {
  std::vector<int64_t> start, step;
  Shape out;
};

absl::StatusOr<SlicePlan> PlanSlice(const Node& node, const std::vector<KernelInputInfo>& in) {
  TPUSIM_RETURN_IF_ERROR(CheckArity(node, in, node.opset >= 10 ? 3 : 1, node.opset >= 10 ? 5 : 1));
  const Shape& s = in[0].shape;
  TPUSIM_ASSIGN_OR_RETURN(IntList starts, Ints(node, in, 1, 10, "starts"));
  TPUSIM_ASSIGN_OR_RETURN(IntList ends, Ints(node, in, 2, 10, "ends"));
  TPUSIM_ASSIGN_OR_RETURN(IntList axes, Ints(node, in, 3, 10, "axes"));
  TPUSIM_ASSIGN_OR_RETURN(IntList steps, Ints(node, in, 4, 10, "steps"));
  if (!starts.present || !ends.present) return KernelError(node, "starts and ends are required");
  const size_t n = starts.values.size();
  if (!axes.present) {
    for (size_t i = 0; i < n; ++i) axes.values.push_back(static_cast<int64_t>(i));
  }
  if (!steps.present) steps.values.assign(n, 1);
  if (ends.values.size() != n || axes.values.size() != n || steps.values.size() != n) {
    return KernelError(node, "starts, ends, axes and steps must have the same length");
  }
  SlicePlan plan{std::vector<int64_t>(s.size(), 0), std::vector<int64_t>(s.size(), 1), s};
  std::vector<bool> seen(s.size(), false);
  for (size_t i = 0; i < n; ++i) {
    TPUSIM_ASSIGN_OR_RETURN(int64_t a, NormalizeAxis(node, axes.values[i], static_cast<int64_t>(s.size())));
    if (seen[a]) return KernelError(node, absl::StrCat("axis ", axes.values[i], " appears twice"));
    seen[a] = true;
    const int64_t dim = s[a], step = steps.values[i];
    if (step == 0) return KernelError(node, "steps must not be 0");
    // ONNX: negative indices count from the end; then clamp to [0, dim] (step > 0) or [-1, dim - 1].
    int64_t b = starts.values[i] < 0 ? starts.values[i] + dim : starts.values[i];
    int64_t e = ends.values[i] < 0 ? ends.values[i] + dim : ends.values[i];
    int64_t count = 0;
    if (step > 0) {
      b = std::min(std::max<int64_t>(b, 0), dim);
      e = std::min(std::max<int64_t>(e, 0), dim);
      if (e > b) count = (e - b - 1) / step + 1;  // indices b, b + step, ... below e
    } else {
      b = std::min(std::max<int64_t>(b, 0), dim - 1);
      e = std::min(std::max<int64_t>(e, -1), dim - 1);
      const uint64_t stride = 0 - static_cast<uint64_t>(step);  // |step|, also for INT64_MIN
      if (b > e) count = static_cast<int64_t>(static_cast<uint64_t>(b - e - 1) / stride + 1);
    }
    plan.start[a] = b;
    plan.step[a] = step;
    plan.out[a] = count;
  }
  return plan;
}

absl::StatusOr<std::vector<KernelOutputInfo>> InferSlice(const Node& node, const std::vector<KernelInputInfo>& in) {
  TPUSIM_ASSIGN_OR_RETURN(SlicePlan plan, PlanSlice(node, in));
  return std::vector<KernelOutputInfo>{{in[0].dtype, plan.out}};
}

absl::StatusOr<std::vector<Tensor>> ComputeSlice(const Node& node, const std::vector<const Tensor*>& in) {
  TPUSIM_ASSIGN_OR_RETURN(SlicePlan plan, PlanSlice(node, InfosOf(in)));
  Tensor out(in[0]->dtype(), plan.out);
  const size_t rank = plan.out.size();
  const size_t esize = compiler::DataTypeBytes(out.dtype());
  const std::vector<int64_t> strides = Strides(in[0]->shape());
  std::vector<int64_t> index(rank, 0);
  for (int64_t o = 0; o < out.num_elements(); ++o) {
    int64_t src = 0;
    for (size_t d = 0; d < rank; ++d) src += (plan.start[d] + index[d] * plan.step[d]) * strides[d];
    std::memcpy(out.data() + o * esize, in[0]->data() + src * esize, esize);
    for (size_t d = rank; d-- > 0;) {
      if (++index[d] < plan.out[d]) break;
      index[d] = 0;
    }
  }
  return std::vector<Tensor>{std::move(out)};
}

absl::StatusOr<std::vector<KernelOutputInfo>> InferSqueeze(const Node& node, const std::vector<KernelInputInfo>& in) {
  TPUSIM_RETURN_IF_ERROR(CheckArity(node, in, 1, node.opset >= 13 ? 2 : 1));
  const Shape& s = in[0].shape;
  TPUSIM_ASSIGN_OR_RETURN(IntList axes, Ints(node, in, 1, 13, "axes"));
  std::vector<bool> drop(s.size(), false);
  for (size_t d = 0; d < s.size() && axes.values.empty(); ++d) drop[d] = s[d] == 1;
  for (int64_t axis : axes.values) {
    TPUSIM_ASSIGN_OR_RETURN(int64_t a, NormalizeAxis(node, axis, static_cast<int64_t>(s.size())));
    if (s[a] != 1) return KernelError(node, absl::StrCat("axis ", axis, " of ", compiler::ShapeToString(s), " is not 1"));
    drop[a] = true;
  }
  Shape out;
  for (size_t d = 0; d < s.size(); ++d) {
    if (!drop[d]) out.push_back(s[d]);
  }
  return std::vector<KernelOutputInfo>{{in[0].dtype, out}};
}

absl::StatusOr<std::vector<KernelOutputInfo>> InferUnsqueeze(const Node& node, const std::vector<KernelInputInfo>& in) {
  const size_t arity = node.opset >= 13 ? 2 : 1;
  TPUSIM_RETURN_IF_ERROR(CheckArity(node, in, arity, arity));
  TPUSIM_ASSIGN_OR_RETURN(IntList axes, Ints(node, in, 1, 13, "axes"));
  if (!axes.present) return KernelError(node, "axes are required");
  const int64_t rank = static_cast<int64_t>(in[0].shape.size() + axes.values.size());
  std::vector<bool> ones(static_cast<size_t>(rank), false);
  for (int64_t axis : axes.values) {
    TPUSIM_ASSIGN_OR_RETURN(int64_t a, NormalizeAxis(node, axis, rank));
    if (ones[a]) return KernelError(node, absl::StrCat("axis ", axis, " appears twice"));
    ones[a] = true;
  }
  Shape out;
  size_t next = 0;
  for (int64_t d = 0; d < rank; ++d) out.push_back(ones[d] ? 1 : in[0].shape[next++]);
  return std::vector<KernelOutputInfo>{{in[0].dtype, out}};
}

template <absl::StatusOr<std::vector<KernelOutputInfo>> (*kInfer)(const Node&, const std::vector<KernelInputInfo>&)>
absl::StatusOr<std::vector<Tensor>> ComputeReshaping(const Node& node, const std::vector<const Tensor*>& in) {
  TPUSIM_ASSIGN_OR_RETURN(std::vector<KernelOutputInfo> info, kInfer(node, InfosOf(in)));
  TPUSIM_ASSIGN_OR_RETURN(Tensor out, in[0]->Reshaped(info[0].shape));
  return std::vector<Tensor>{std::move(out)};
}

absl::StatusOr<std::vector<KernelOutputInfo>> InferExpand(const Node& node, const std::vector<KernelInputInfo>& in) {
  TPUSIM_RETURN_IF_ERROR(CheckArity(node, in, 2, 2));
  TPUSIM_ASSIGN_OR_RETURN(IntList shape, Ints(node, in, 1, 0, "shape"));
  for (int64_t d : shape.values) {
    if (d < 0) return KernelError(node, absl::StrCat("shape ", compiler::ShapeToString(shape.values), " is negative"));
  }
  TPUSIM_ASSIGN_OR_RETURN(Shape out, BroadcastShapes(node, in[0].shape, shape.values));
  return std::vector<KernelOutputInfo>{{in[0].dtype, out}};
}

absl::StatusOr<std::vector<Tensor>> ComputeExpand(const Node& node, const std::vector<const Tensor*>& in) {
  TPUSIM_ASSIGN_OR_RETURN(std::vector<KernelOutputInfo> info, InferExpand(node, InfosOf(in)));
  Tensor out(info[0].dtype, info[0].shape);
  const Shape& shape = out.shape();
  const size_t esize = compiler::DataTypeBytes(out.dtype());
  const std::vector<int64_t> src_strides = BroadcastStrides(in[0]->shape(), shape);
  std::vector<int64_t> index(shape.size(), 0);
  for (int64_t o = 0; o < out.num_elements(); ++o) {
    int64_t src = 0;
    for (size_t d = 0; d < shape.size(); ++d) src += index[d] * src_strides[d];
    std::memcpy(out.data() + o * esize, in[0]->data() + src * esize, esize);
    for (size_t d = shape.size(); d-- > 0;) {
      if (++index[d] < shape[d]) break;
      index[d] = 0;
    }
  }
  return std::vector<Tensor>{std::move(out)};
}

}  // namespace

void AppendSliceKernels(std::vector<CpuKernel>& out) {
  out.push_back({"Slice", InferSlice, ComputeSlice});
  out.push_back({"Squeeze", InferSqueeze, ComputeReshaping<InferSqueeze>});
  out.push_back({"Unsqueeze", InferUnsqueeze, ComputeReshaping<InferUnsqueeze>});
  out.push_back({"Expand", InferExpand, ComputeExpand});
}

}  // namespace tpusim::runtime::detail
