// Elementwise kernels: Add/Sub/Mul/Div with multidirectional broadcast, Relu/Sigmoid/Tanh/Exp, and
// Softmax (both the opset < 13 coerce-to-2-D and the opset >= 13 single-axis semantics).
#include <cmath>
#include <cstring>

#include "cpu_kernels_internal.h"
#include "tpusim/isa/status_macros.h"

namespace tpusim::runtime::detail {
namespace {

enum class BinaryOp { kAdd, kSub, kMul, kDiv };

absl::StatusOr<std::vector<KernelOutputInfo>> InferBinary(const Node& node, const std::vector<KernelInputInfo>& in) {
  TPUSIM_RETURN_IF_ERROR(CheckArity(node, in, 2, 2));
  if (in[0].dtype != in[1].dtype) {
    return KernelError(node, absl::StrCat("operand dtypes differ: ", std::string(compiler::DataTypeName(in[0].dtype)), " and ",
                                          std::string(compiler::DataTypeName(in[1].dtype))));
  }
  const DataType t = in[0].dtype;
  if (t != DataType::kFloat32 && t != DataType::kInt32 && t != DataType::kInt64 && t != DataType::kUint8) {
    return KernelError(node, absl::StrCat("dtype ", std::string(compiler::DataTypeName(t)),
                                          " is not supported (float32, int32, int64, uint8)"));
  }
  TPUSIM_ASSIGN_OR_RETURN(Shape out, BroadcastShapes(node, in[0].shape, in[1].shape));
  return std::vector<KernelOutputInfo>{{t, out}};
}

template <typename T>
absl::Status ApplyBinary(const Node& node, BinaryOp op, const Tensor& a, const Tensor& b, Tensor& out) {
  const Shape& shape = out.shape();
  const std::vector<int64_t> sa = BroadcastStrides(a.shape(), shape);
  const std::vector<int64_t> sb = BroadcastStrides(b.shape(), shape);
  const T* pa = a.as<T>();
  const T* pb = b.as<T>();
  T* po = out.as<T>();
  const int64_t total = out.num_elements();
  if constexpr (std::is_integral_v<T>) {
    if (op == BinaryOp::kDiv) {
      for (int64_t i = 0; i < b.num_elements(); ++i) {
        if (pb[i] == 0) return KernelError(node, "integer division by zero");
      }
    }
  }
  auto apply = [op](T x, T y) -> T {
    switch (op) {
      case BinaryOp::kAdd: return x + y;
      case BinaryOp::kSub: return x - y;
      case BinaryOp::kMul: return x * y;
      case BinaryOp::kDiv: return x / y;
    }
    return T{};
  };
  if (a.shape() == shape && b.shape() == shape) {
    for (int64_t i = 0; i < total; ++i) po[i] = apply(pa[i], pb[i]);
    return absl::OkStatus();
  }
  // General case: walk the output in row-major order; the innermost dim is a tight loop.
  const size_t rank = shape.size();
  if (rank == 0) {
    po[0] = apply(pa[0], pb[0]);
    return absl::OkStatus();
  }
  const int64_t inner = shape[rank - 1];
  const int64_t ia = sa[rank - 1], ib = sb[rank - 1];
  std::vector<int64_t> index(rank, 0);
  for (int64_t base = 0; base < total; base += inner) {
    int64_t oa = 0, ob = 0;
    for (size_t d = 0; d + 1 < rank; ++d) {
      oa += index[d] * sa[d];
      ob += index[d] * sb[d];
    }
    for (int64_t j = 0; j < inner; ++j) po[base + j] = apply(pa[oa + j * ia], pb[ob + j * ib]);
    for (int d = static_cast<int>(rank) - 2; d >= 0; --d) {
      if (++index[d] < shape[d]) break;
      index[d] = 0;
    }
  }
  return absl::OkStatus();
}

template <BinaryOp kOp>
absl::StatusOr<std::vector<Tensor>> ComputeBinary(const Node& node, const std::vector<const Tensor*>& in) {
  TPUSIM_ASSIGN_OR_RETURN(std::vector<KernelOutputInfo> info, InferBinary(node, InfosOf(in)));
  Tensor out(info[0].dtype, info[0].shape);
  switch (info[0].dtype) {
    case DataType::kFloat32: TPUSIM_RETURN_IF_ERROR(ApplyBinary<float>(node, kOp, *in[0], *in[1], out)); break;
    case DataType::kInt32: TPUSIM_RETURN_IF_ERROR(ApplyBinary<int32_t>(node, kOp, *in[0], *in[1], out)); break;
    case DataType::kInt64: TPUSIM_RETURN_IF_ERROR(ApplyBinary<int64_t>(node, kOp, *in[0], *in[1], out)); break;
    // uint8: numpy's wrap mod 256 (the int result converted back to uint8); Div truncates.
    case DataType::kUint8: TPUSIM_RETURN_IF_ERROR(ApplyBinary<uint8_t>(node, kOp, *in[0], *in[1], out)); break;
    default: return KernelError(node, "unsupported dtype");
  }
  return std::vector<Tensor>{std::move(out)};
}

absl::StatusOr<std::vector<KernelOutputInfo>> InferUnaryFloat(const Node& node,
                                                              const std::vector<KernelInputInfo>& in) {
  TPUSIM_RETURN_IF_ERROR(CheckArity(node, in, 1, 1));
  if (in[0].dtype != DataType::kFloat32) {
    return KernelError(node, absl::StrCat("dtype ", std::string(compiler::DataTypeName(in[0].dtype)),
                                          " is not supported (float32 only)"));
  }
  return std::vector<KernelOutputInfo>{{DataType::kFloat32, in[0].shape}};
}

float Relu(float x) { return x > 0.0f ? x : (x == x ? 0.0f : x); }  // NaN propagates, like numpy
float Sigmoid(float x) { return 1.0f / (1.0f + std::exp(-x)); }
float Tanh(float x) { return std::tanh(x); }
float Exp(float x) { return std::exp(x); }

template <float (*kFn)(float)>
absl::StatusOr<std::vector<Tensor>> ComputeUnary(const Node& node, const std::vector<const Tensor*>& in) {
  TPUSIM_ASSIGN_OR_RETURN(std::vector<KernelOutputInfo> info, InferUnaryFloat(node, InfosOf(in)));
  Tensor out(DataType::kFloat32, info[0].shape);
  const float* src = in[0]->as<float>();
  float* dst = out.as<float>();
  for (int64_t i = 0; i < out.num_elements(); ++i) dst[i] = kFn(src[i]);
  return std::vector<Tensor>{std::move(out)};
}

// Softmax over `len` elements spaced `stride` apart: max-subtracted exponentials, sum in double.
void SoftmaxLine(const float* src, float* dst, int64_t len, int64_t stride) {
  float max = -INFINITY;
  for (int64_t i = 0; i < len; ++i) max = std::max(max, src[i * stride]);
  double sum = 0;
  for (int64_t i = 0; i < len; ++i) {
    const float e = std::exp(src[i * stride] - max);
    dst[i * stride] = e;
    sum += e;
  }
  const float inv = static_cast<float>(sum);
  for (int64_t i = 0; i < len; ++i) dst[i * stride] /= inv;
}

absl::StatusOr<std::vector<Tensor>> ComputeSoftmax(const Node& node, const std::vector<const Tensor*>& in) {
  TPUSIM_ASSIGN_OR_RETURN(std::vector<KernelOutputInfo> info, InferUnaryFloat(node, InfosOf(in)));
  const Shape& shape = info[0].shape;
  const int64_t rank = static_cast<int64_t>(shape.size());
  TPUSIM_ASSIGN_OR_RETURN(int64_t axis_attr, node.GetInt("axis", node.opset < 13 ? 1 : -1));
  Tensor out(DataType::kFloat32, shape);
  if (rank == 0) {  // softmax of one element
    out.as<float>()[0] = std::isnan(in[0]->as<float>()[0]) ? in[0]->as<float>()[0] : 1.0f;
    return std::vector<Tensor>{std::move(out)};
  }
  TPUSIM_ASSIGN_OR_RETURN(int64_t axis, NormalizeAxis(node, axis_attr, rank));
  int64_t outer = 1, len = 1, inner = 1;
  for (int64_t d = 0; d < rank; ++d) {
    if (d < axis) {
      outer *= shape[d];
    } else if (node.opset < 13 || d == axis) {
      len *= shape[d];  // opset < 13: every dim from `axis` on is one flattened softmax row
    } else {
      inner *= shape[d];
    }
  }
  const float* src = in[0]->as<float>();
  float* dst = out.as<float>();
  for (int64_t o = 0; o < outer; ++o) {
    for (int64_t i = 0; i < inner; ++i) {
      SoftmaxLine(src + o * len * inner + i, dst + o * len * inner + i, len, inner);
    }
  }
  return std::vector<Tensor>{std::move(out)};
}

}  // namespace

void AppendElementwiseKernels(std::vector<CpuKernel>& out) {
  out.push_back({"Add", InferBinary, ComputeBinary<BinaryOp::kAdd>});
  out.push_back({"Sub", InferBinary, ComputeBinary<BinaryOp::kSub>});
  out.push_back({"Mul", InferBinary, ComputeBinary<BinaryOp::kMul>});
  out.push_back({"Div", InferBinary, ComputeBinary<BinaryOp::kDiv>});
  out.push_back({"Relu", InferUnaryFloat, ComputeUnary<Relu>});
  out.push_back({"Sigmoid", InferUnaryFloat, ComputeUnary<Sigmoid>});
  out.push_back({"Tanh", InferUnaryFloat, ComputeUnary<Tanh>});
  out.push_back({"Exp", InferUnaryFloat, ComputeUnary<Exp>});
  out.push_back({"Softmax", InferUnaryFloat, ComputeSoftmax});
}

}  // namespace tpusim::runtime::detail
