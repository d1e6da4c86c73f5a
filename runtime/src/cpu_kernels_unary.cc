// One-input elementwise kernels with ONNX semantics: Log, Sqrt, Reciprocal, Erf, LeakyRelu (float32),
// Abs, Neg (float32, int8, int32, int64), Clip (min/max as attributes before opset 11, optional scalar
// inputs from 11; absent bounds clamp nothing; NaN passes through), and Pow (base float32/int32/int64,
// exponent float32/int32/int64, numpy broadcasting; float bases use powf, integer bases pow in double
// then truncate to the base type, as numpy's astype does).
#include <cmath>
#include <optional>

#include "cpu_kernels_internal.h"
#include "tpusim/isa/status_macros.h"

namespace tpusim::runtime::detail {
namespace {

bool IsNumeric(DataType t) {
  return t == DataType::kFloat32 || t == DataType::kInt8 || t == DataType::kInt32 || t == DataType::kInt64;
}

absl::Status RequireDtype(const Node& node, DataType t, bool float_only) {
  if (float_only ? t == DataType::kFloat32 : IsNumeric(t)) return absl::OkStatus();
  return KernelError(node, absl::StrCat("dtype ", std::string(compiler::DataTypeName(t)), " is not supported (",
                                        float_only ? "float32" : "float32, int8, int32, int64", ")"));
}

template <bool kFloatOnly>
absl::StatusOr<std::vector<KernelOutputInfo>> InferSame(const Node& node, const std::vector<KernelInputInfo>& in) {
  TPUSIM_RETURN_IF_ERROR(CheckArity(node, in, 1, 1));
  TPUSIM_RETURN_IF_ERROR(RequireDtype(node, in[0].dtype, kFloatOnly));
  return std::vector<KernelOutputInfo>{{in[0].dtype, in[0].shape}};
}

// Applies f to every element of in[0] (of type T), writing a tensor of the same dtype and shape.
template <typename T, typename F>
Tensor Map(const Tensor& x, F f) {
  Tensor out(x.dtype(), x.shape());
  const T* src = x.as<T>();
  T* dst = out.as<T>();
  for (int64_t i = 0; i < x.num_elements(); ++i) dst[i] = f(src[i]);
  return out;
}

template <float (*kFn)(float)>
absl::StatusOr<std::vector<Tensor>> ComputeFloat(const Node& node, const std::vector<const Tensor*>& in) {
  TPUSIM_RETURN_IF_ERROR(InferSame<true>(node, InfosOf(in)).status());
  return std::vector<Tensor>{Map<float>(*in[0], kFn)};
}

float Log(float x) { return std::log(x); }
float Sqrt(float x) { return std::sqrt(x); }
float Reciprocal(float x) { return 1.0f / x; }
float Erf(float x) { return std::erf(x); }

absl::StatusOr<std::vector<Tensor>> ComputeLeakyRelu(const Node& node, const std::vector<const Tensor*>& in) {
  TPUSIM_RETURN_IF_ERROR(InferSame<true>(node, InfosOf(in)).status());
  TPUSIM_ASSIGN_OR_RETURN(float alpha, node.GetFloat("alpha", 0.01f));
  return std::vector<Tensor>{Map<float>(*in[0], [alpha](float x) { return x < 0.0f ? alpha * x : x; })};
}

// Calls the typed functor with the element type of `t` (IsNumeric types only).
template <typename F>
auto Dispatch(DataType t, F f) {
  switch (t) {
    case DataType::kInt8: return f(int8_t{});
    case DataType::kInt32: return f(int32_t{});
    case DataType::kInt64: return f(int64_t{});
    default: return f(float{});
  }
}

absl::StatusOr<std::vector<Tensor>> ComputeAbs(const Node& node, const std::vector<const Tensor*>& in) {
  TPUSIM_RETURN_IF_ERROR(InferSame<false>(node, InfosOf(in)).status());
  return std::vector<Tensor>{Dispatch(in[0]->dtype(), [&](auto t) {
    using T = decltype(t);
    return Map<T>(*in[0], [](T x) {
      if constexpr (std::is_same_v<T, float>) {
        return std::fabs(x);  // -0 -> +0, NaN stays NaN
      } else {
        return static_cast<T>(x < 0 ? -x : x);  // wraps for the most negative value, like numpy
      }
    });
  })};
}

absl::StatusOr<std::vector<Tensor>> ComputeNeg(const Node& node, const std::vector<const Tensor*>& in) {
  TPUSIM_RETURN_IF_ERROR(InferSame<false>(node, InfosOf(in)).status());
  return std::vector<Tensor>{Dispatch(in[0]->dtype(), [&](auto t) {
    using T = decltype(t);
    return Map<T>(*in[0], [](T x) { return static_cast<T>(-x); });
  })};
}

absl::StatusOr<std::vector<KernelOutputInfo>> InferClip(const Node& node, const std::vector<KernelInputInfo>& in) {
  TPUSIM_RETURN_IF_ERROR(CheckArity(node, in, 1, node.opset >= 11 ? 3 : 1));
  TPUSIM_RETURN_IF_ERROR(RequireDtype(node, in[0].dtype, false));
  for (size_t i = 1; i < in.size(); ++i) {
    if (!in[i].present) continue;
    if (in[i].dtype != in[0].dtype) return KernelError(node, "min and max must have the input's dtype");
    if (compiler::NumElements(in[i].shape) != 1) {
      return KernelError(node, absl::StrCat(i == 1 ? "min" : "max", " must be a scalar, not ",
                                            compiler::ShapeToString(in[i].shape)));
    }
  }
  return std::vector<KernelOutputInfo>{{in[0].dtype, in[0].shape}};
}

template <typename T>
absl::StatusOr<std::optional<T>> ClipBound(const Node& node, const std::vector<const Tensor*>& in, size_t index) {
  const char* name = index == 1 ? "min" : "max";
  if (node.opset < 11) {
    if (node.attrs.count(name) == 0) return std::optional<T>();
    TPUSIM_ASSIGN_OR_RETURN(float v, node.GetFloat(name));
    return std::optional<T>(static_cast<T>(v));
  }
  if (index >= in.size() || in[index] == nullptr) return std::optional<T>();
  return std::optional<T>(in[index]->as<T>()[0]);
}

absl::StatusOr<std::vector<Tensor>> ComputeClip(const Node& node, const std::vector<const Tensor*>& in) {
  TPUSIM_RETURN_IF_ERROR(InferClip(node, InfosOf(in)).status());
  return Dispatch(in[0]->dtype(), [&](auto t) -> absl::StatusOr<std::vector<Tensor>> {
    using T = decltype(t);
    TPUSIM_ASSIGN_OR_RETURN(std::optional<T> lo, ClipBound<T>(node, in, 1));
    TPUSIM_ASSIGN_OR_RETURN(std::optional<T> hi, ClipBound<T>(node, in, 2));
    return std::vector<Tensor>{Map<T>(*in[0], [lo, hi](T x) {
      if (lo.has_value() && x < *lo) x = *lo;  // NaN compares false both times and passes through
      if (hi.has_value() && x > *hi) x = *hi;
      return x;
    })};
  });
}

absl::StatusOr<std::vector<KernelOutputInfo>> InferPow(const Node& node, const std::vector<KernelInputInfo>& in) {
  TPUSIM_RETURN_IF_ERROR(CheckArity(node, in, 2, 2));
  for (const KernelInputInfo& i : in) {
    if (i.dtype == DataType::kInt8 || !IsNumeric(i.dtype)) {
      return KernelError(node, absl::StrCat("dtype ", std::string(compiler::DataTypeName(i.dtype)),
                                            " is not supported (float32, int32, int64)"));
    }
  }
  TPUSIM_ASSIGN_OR_RETURN(Shape out, BroadcastShapes(node, in[0].shape, in[1].shape));
  return std::vector<KernelOutputInfo>{{in[0].dtype, out}};
}

absl::StatusOr<std::vector<Tensor>> ComputePow(const Node& node, const std::vector<const Tensor*>& in) {
  TPUSIM_ASSIGN_OR_RETURN(std::vector<KernelOutputInfo> info, InferPow(node, InfosOf(in)));
  Tensor out(info[0].dtype, info[0].shape);
  const Shape& shape = out.shape();
  const std::vector<int64_t> sa = BroadcastStrides(in[0]->shape(), shape);
  const std::vector<int64_t> sb = BroadcastStrides(in[1]->shape(), shape);
  Dispatch(in[0]->dtype(), [&](auto base_tag) {
    using T = decltype(base_tag);
    Dispatch(in[1]->dtype(), [&](auto exp_tag) {
      using E = decltype(exp_tag);
      const T* a = in[0]->as<T>();
      const E* b = in[1]->as<E>();
      T* o = out.as<T>();
      std::vector<int64_t> index(shape.size(), 0);
      for (int64_t i = 0; i < out.num_elements(); ++i) {
        int64_t ia = 0, ib = 0;
        for (size_t d = 0; d < shape.size(); ++d) {
          ia += index[d] * sa[d];
          ib += index[d] * sb[d];
        }
        if constexpr (std::is_same_v<T, float>) {
          o[i] = std::pow(a[ia], static_cast<float>(b[ib]));
        } else {
          o[i] = static_cast<T>(std::pow(static_cast<double>(a[ia]), static_cast<double>(b[ib])));
        }
        for (size_t d = shape.size(); d-- > 0;) {
          if (++index[d] < shape[d]) break;
          index[d] = 0;
        }
      }
      return 0;
    });
    return 0;
  });
  return std::vector<Tensor>{std::move(out)};
}

}  // namespace

void AppendUnaryKernels(std::vector<CpuKernel>& out) {
  out.push_back({"Log", InferSame<true>, ComputeFloat<Log>});
  out.push_back({"Sqrt", InferSame<true>, ComputeFloat<Sqrt>});
  out.push_back({"Reciprocal", InferSame<true>, ComputeFloat<Reciprocal>});
  out.push_back({"Erf", InferSame<true>, ComputeFloat<Erf>});
  out.push_back({"LeakyRelu", InferSame<true>, ComputeLeakyRelu});
  out.push_back({"Abs", InferSame<false>, ComputeAbs});
  out.push_back({"Neg", InferSame<false>, ComputeNeg});
  out.push_back({"Clip", InferClip, ComputeClip});
  out.push_back({"Pow", InferPow, ComputePow});
}

}  // namespace tpusim::runtime::detail
