// Data-movement kernels (any dtype; they copy bytes): Flatten, Reshape, Identity, Transpose, Concat,
// Constant, and ConstantOfShape (its shape an int64 tensor, possibly computed at run time; `value` a
// one-element tensor, default float32 0).
#include <algorithm>
#include <cstring>

#include "cpu_kernels_internal.h"
#include "tpusim/isa/status_macros.h"

namespace tpusim::runtime::detail {
namespace {

std::vector<KernelOutputInfo> One(DataType dtype, Shape shape) { return {{dtype, std::move(shape)}}; }

// A kernel whose output holds the input bytes under a new shape.
template <absl::StatusOr<std::vector<KernelOutputInfo>> (*kInfer)(const Node&, const std::vector<KernelInputInfo>&)>
absl::StatusOr<std::vector<Tensor>> ComputeReshaping(const Node& node, const std::vector<const Tensor*>& in) {
  TPUSIM_ASSIGN_OR_RETURN(std::vector<KernelOutputInfo> info, kInfer(node, InfosOf(in)));
  TPUSIM_ASSIGN_OR_RETURN(Tensor out, in[0]->Reshaped(info[0].shape));
  return std::vector<Tensor>{std::move(out)};
}

absl::StatusOr<std::vector<KernelOutputInfo>> InferIdentity(const Node& node, const std::vector<KernelInputInfo>& in) {
  TPUSIM_RETURN_IF_ERROR(CheckArity(node, in, 1, 1));
  return One(in[0].dtype, in[0].shape);
}

absl::StatusOr<std::vector<KernelOutputInfo>> InferFlatten(const Node& node, const std::vector<KernelInputInfo>& in) {
  TPUSIM_RETURN_IF_ERROR(CheckArity(node, in, 1, 1));
  const Shape& s = in[0].shape;
  TPUSIM_ASSIGN_OR_RETURN(int64_t axis_attr, node.GetInt("axis", 1));
  TPUSIM_ASSIGN_OR_RETURN(int64_t axis, NormalizeAxis(node, axis_attr, s.size(), /*allow_rank=*/true));
  int64_t outer = 1, inner = 1;
  for (size_t d = 0; d < s.size(); ++d) (static_cast<int64_t>(d) < axis ? outer : inner) *= s[d];
  return One(in[0].dtype, {outer, inner});
}

absl::StatusOr<std::vector<KernelOutputInfo>> InferReshape(const Node& node, const std::vector<KernelInputInfo>& in) {
  TPUSIM_RETURN_IF_ERROR(CheckArity(node, in, 1, 2));
  std::vector<int64_t> target;
  if (in.size() == 2) {
    if (in[1].constant == nullptr) {
      return absl::FailedPreconditionError(absl::StrCat(Where(node), ": the shape input is not a constant"));
    }
    const Tensor& t = *in[1].constant;
    if (t.dtype() != DataType::kInt64 || t.shape().size() != 1) {
      return KernelError(node, absl::StrCat("the shape input must be a 1-D int64 tensor, got ",
                                            std::string(compiler::DataTypeName(t.dtype())), " ", compiler::ShapeToString(t.shape())));
    }
    target.assign(t.as<int64_t>(), t.as<int64_t>() + t.num_elements());
  } else {
    TPUSIM_ASSIGN_OR_RETURN(target, node.GetInts("shape"));  // opset < 5
  }
  TPUSIM_ASSIGN_OR_RETURN(int64_t allow_zero, node.GetInt("allowzero", 0));
  const Shape& s = in[0].shape;
  Shape out(target.size());
  int infer_at = -1;
  int64_t known = 1;
  for (size_t i = 0; i < target.size(); ++i) {
    int64_t d = target[i];
    if (d == 0 && allow_zero == 0) {
      if (i >= s.size()) return KernelError(node, absl::StrCat("shape[", i, "] = 0 copies a dim the input lacks"));
      d = s[i];
    }
    if (d == -1) {
      if (infer_at >= 0) return KernelError(node, "more than one -1 in the shape");
      infer_at = static_cast<int>(i);
      continue;
    }
    if (d < 0) return KernelError(node, absl::StrCat("shape[", i, "] = ", d, " is invalid"));
    out[i] = d;
    known *= d;
  }
  const int64_t total = compiler::NumElements(s);
  if (infer_at >= 0) {
    if (known == 0 || total % known != 0) {
      return KernelError(node, absl::StrCat("cannot reshape ", compiler::ShapeToString(s), " to ",
                                            compiler::ShapeToString(target)));
    }
    out[infer_at] = total / known;
  } else if (known != total) {
    return KernelError(node, absl::StrCat("cannot reshape ", compiler::ShapeToString(s), " (", total, " elements) to ",
                                          compiler::ShapeToString(target)));
  }
  return One(in[0].dtype, out);
}

absl::StatusOr<std::vector<int64_t>> Permutation(const Node& node, size_t rank) {
  std::vector<int64_t> reversed(rank);
  for (size_t i = 0; i < rank; ++i) reversed[i] = static_cast<int64_t>(rank - 1 - i);
  TPUSIM_ASSIGN_OR_RETURN(std::vector<int64_t> perm, node.GetInts("perm", reversed));
  std::vector<int64_t> sorted = perm;
  std::sort(sorted.begin(), sorted.end());
  bool ok = perm.size() == rank;
  for (size_t i = 0; ok && i < rank; ++i) ok = sorted[i] == static_cast<int64_t>(i);
  if (!ok) {
    return KernelError(node, absl::StrCat("perm ", compiler::ShapeToString(perm), " is not a permutation of ", rank,
                                          " dims"));
  }
  return perm;
}

absl::StatusOr<std::vector<KernelOutputInfo>> InferTranspose(const Node& node,
                                                             const std::vector<KernelInputInfo>& in) {
  TPUSIM_RETURN_IF_ERROR(CheckArity(node, in, 1, 1));
  TPUSIM_ASSIGN_OR_RETURN(std::vector<int64_t> perm, Permutation(node, in[0].shape.size()));
  Shape out(perm.size());
  for (size_t i = 0; i < perm.size(); ++i) out[i] = in[0].shape[perm[i]];
  return One(in[0].dtype, out);
}

absl::StatusOr<std::vector<Tensor>> ComputeTranspose(const Node& node, const std::vector<const Tensor*>& in) {
  TPUSIM_ASSIGN_OR_RETURN(std::vector<KernelOutputInfo> info, InferTranspose(node, InfosOf(in)));
  TPUSIM_ASSIGN_OR_RETURN(std::vector<int64_t> perm, Permutation(node, in[0]->shape().size()));
  Tensor out(info[0].dtype, info[0].shape);
  const size_t rank = perm.size();
  const size_t esize = compiler::DataTypeBytes(out.dtype());
  const std::vector<int64_t> in_strides = Strides(in[0]->shape());
  std::vector<int64_t> src_strides(rank);  // input stride of each output dim
  for (size_t i = 0; i < rank; ++i) src_strides[i] = in_strides[perm[i]];
  std::vector<int64_t> index(rank, 0);
  const uint8_t* src = in[0]->data();
  uint8_t* dst = out.data();
  for (int64_t o = 0; o < out.num_elements(); ++o) {
    int64_t off = 0;
    for (size_t d = 0; d < rank; ++d) off += index[d] * src_strides[d];
    std::memcpy(dst + o * esize, src + off * esize, esize);
    for (int d = static_cast<int>(rank) - 1; d >= 0; --d) {
      if (++index[d] < info[0].shape[d]) break;
      index[d] = 0;
    }
  }
  return std::vector<Tensor>{std::move(out)};
}

absl::StatusOr<std::vector<KernelOutputInfo>> InferConcat(const Node& node, const std::vector<KernelInputInfo>& in) {
  if (in.empty()) return KernelError(node, "expects at least one input");
  TPUSIM_ASSIGN_OR_RETURN(int64_t axis_attr, node.GetInt("axis"));
  const Shape& first = in[0].shape;
  TPUSIM_ASSIGN_OR_RETURN(int64_t axis, NormalizeAxis(node, axis_attr, first.size()));
  Shape out = first;
  out[axis] = 0;
  for (size_t i = 0; i < in.size(); ++i) {
    const Shape& s = in[i].shape;
    bool ok = in[i].present && in[i].dtype == in[0].dtype && s.size() == first.size();
    for (size_t d = 0; ok && d < s.size(); ++d) ok = static_cast<int64_t>(d) == axis || s[d] == first[d];
    if (!ok) {
      return KernelError(node, absl::StrCat("input ", i, " ", compiler::ShapeToString(s), " does not match input 0 ",
                                            compiler::ShapeToString(first), " outside axis ", axis_attr));
    }
    out[axis] += s[axis];
  }
  return One(in[0].dtype, out);
}

absl::StatusOr<std::vector<Tensor>> ComputeConcat(const Node& node, const std::vector<const Tensor*>& in) {
  TPUSIM_ASSIGN_OR_RETURN(std::vector<KernelOutputInfo> info, InferConcat(node, InfosOf(in)));
  TPUSIM_ASSIGN_OR_RETURN(int64_t axis_attr, node.GetInt("axis"));
  const Shape& shape = info[0].shape;
  const int64_t axis = axis_attr < 0 ? axis_attr + static_cast<int64_t>(shape.size()) : axis_attr;
  const size_t esize = compiler::DataTypeBytes(info[0].dtype);
  int64_t outer = 1, inner = 1;
  for (int64_t d = 0; d < static_cast<int64_t>(shape.size()); ++d) {
    if (d < axis) outer *= shape[d];
    if (d > axis) inner *= shape[d];
  }
  Tensor out(info[0].dtype, shape);
  const int64_t out_row = shape[axis] * inner * static_cast<int64_t>(esize);
  int64_t col = 0;  // bytes into each output row
  for (const Tensor* t : in) {
    const int64_t row = t->shape()[axis] * inner * static_cast<int64_t>(esize);
    for (int64_t o = 0; o < outer; ++o) std::memcpy(out.data() + o * out_row + col, t->data() + o * row, row);
    col += row;
  }
  return std::vector<Tensor>{std::move(out)};
}

absl::StatusOr<Tensor> ConstantValue(const Node& node) {
  if (auto it = node.attrs.find("value"); it != node.attrs.end()) {
    if (const Tensor* t = std::get_if<Tensor>(&it->second)) return *t;
    return KernelError(node, "attribute 'value' is not a tensor");
  }
  if (node.attrs.count("value_float")) {
    TPUSIM_ASSIGN_OR_RETURN(float v, node.GetFloat("value_float"));
    return Tensor::FromFloats({}, {v});
  }
  if (auto it = node.attrs.find("value_floats"); it != node.attrs.end()) {
    if (const auto* v = std::get_if<std::vector<float>>(&it->second)) {
      return Tensor::FromFloats({static_cast<int64_t>(v->size())}, *v);
    }
  }
  if (node.attrs.count("value_int")) {
    TPUSIM_ASSIGN_OR_RETURN(int64_t v, node.GetInt("value_int"));
    return Tensor::FromInt64s({}, {v});
  }
  if (node.attrs.count("value_ints")) {
    TPUSIM_ASSIGN_OR_RETURN(std::vector<int64_t> v, node.GetInts("value_ints"));
    return Tensor::FromInt64s({static_cast<int64_t>(v.size())}, v);
  }
  return absl::UnimplementedError(absl::StrCat(Where(node), ": no supported value attribute"));
}

absl::StatusOr<std::vector<KernelOutputInfo>> InferConstant(const Node& node, const std::vector<KernelInputInfo>& in) {
  TPUSIM_RETURN_IF_ERROR(CheckArity(node, in, 0, 0));
  TPUSIM_ASSIGN_OR_RETURN(Tensor value, ConstantValue(node));
  return One(value.dtype(), value.shape());
}

absl::StatusOr<std::vector<Tensor>> ComputeConstant(const Node& node, const std::vector<const Tensor*>& in) {
  TPUSIM_RETURN_IF_ERROR(CheckArity(node, InfosOf(in), 0, 0));
  TPUSIM_ASSIGN_OR_RETURN(Tensor value, ConstantValue(node));
  return std::vector<Tensor>{std::move(value)};
}

// ConstantOfShape's `value` attribute: a one-element tensor (float32 0 when absent).
absl::StatusOr<Tensor> FillValue(const Node& node) {
  auto it = node.attrs.find("value");
  if (it == node.attrs.end()) return Tensor(DataType::kFloat32, Shape{1});
  const Tensor* t = std::get_if<Tensor>(&it->second);
  if (t == nullptr || t->num_elements() != 1) return KernelError(node, "attribute value must be a one-element tensor");
  return *t;
}

absl::StatusOr<Shape> FillShape(const Node& node, const Tensor& shape) {
  if (shape.dtype() != DataType::kInt64 || shape.shape().size() != 1) {
    return KernelError(node, "input must be a 1-D int64 tensor");
  }
  Shape out(shape.as<int64_t>(), shape.as<int64_t>() + shape.num_elements());
  for (int64_t d : out) {
    if (d < 0) return KernelError(node, absl::StrCat("negative dimension in shape ", compiler::ShapeToString(out)));
  }
  return out;
}

absl::StatusOr<std::vector<KernelOutputInfo>> InferConstantOfShape(const Node& node,
                                                                   const std::vector<KernelInputInfo>& in) {
  TPUSIM_RETURN_IF_ERROR(CheckArity(node, in, 1, 1));
  TPUSIM_ASSIGN_OR_RETURN(Tensor value, FillValue(node));
  if (in[0].dtype != DataType::kInt64 || in[0].shape.size() != 1) {
    return KernelError(node, "input must be a 1-D int64 tensor");
  }
  if (in[0].constant == nullptr) {
    return absl::FailedPreconditionError(absl::StrCat(Where(node), ": the output shape is the value of input 0"));
  }
  TPUSIM_ASSIGN_OR_RETURN(Shape out, FillShape(node, *in[0].constant));
  return std::vector<KernelOutputInfo>{{value.dtype(), out}};
}

absl::StatusOr<std::vector<Tensor>> ComputeConstantOfShape(const Node& node, const std::vector<const Tensor*>& in) {
  TPUSIM_RETURN_IF_ERROR(CheckArity(node, InfosOf(in), 1, 1));
  TPUSIM_ASSIGN_OR_RETURN(Tensor value, FillValue(node));
  TPUSIM_ASSIGN_OR_RETURN(Shape shape, FillShape(node, *in[0]));
  Tensor out(value.dtype(), shape);
  const size_t bytes = compiler::DataTypeBytes(value.dtype());
  for (int64_t i = 0; i < out.num_elements(); ++i) std::memcpy(out.data() + i * bytes, value.data(), bytes);
  return std::vector<Tensor>{std::move(out)};
}

}  // namespace

void AppendShapeKernels(std::vector<CpuKernel>& out) {
  out.push_back({"Identity", InferIdentity, ComputeReshaping<InferIdentity>});
  out.push_back({"Flatten", InferFlatten, ComputeReshaping<InferFlatten>});
  out.push_back({"Reshape", InferReshape, ComputeReshaping<InferReshape>});
  out.push_back({"Transpose", InferTranspose, ComputeTranspose});
  out.push_back({"Concat", InferConcat, ComputeConcat});
  out.push_back({"Constant", InferConstant, ComputeConstant});
  out.push_back({"ConstantOfShape", InferConstantOfShape, ComputeConstantOfShape});
}

}  // namespace tpusim::runtime::detail
