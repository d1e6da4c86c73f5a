// The ONNX linear-quantization ops on the CPU: QuantizeLinear, DequantizeLinear (per-tensor and
// per-axis scales; int8 or uint8 zero points), MatMulInteger and QLinearMatMul (numpy batching).
//
// Numerics (ONNX's, as ONNX Runtime computes them):
//   QuantizeLinear:   y = saturate(round_half_even(x / scale) + zero_point); x / scale is an fp32
//                     division (a double one for int32 x); NaN quantizes to zero_point.
//   DequantizeLinear: y = (fp32(x) - fp32(zero_point)) * scale, fp32 arithmetic.
//   MatMulInteger:    y = sum_k (a - a_zp)(b - b_zp) in int32 with two's-complement wrap; a_zp is a
//                     scalar or one per row of A, b_zp a scalar or one per column of B.
//   QLinearMatMul:    acc as MatMulInteger; y = saturate(round_half_even(fp32(acc) * m) + y_zp) with the
//                     multiplier m = fp32(fp32(a_scale * b_scale) / y_scale) — the same formula as
//                     isa::numerics::Requantize (the ACTIVATE requantize of the array's int8 mode).
#include <cmath>
#include <cstdint>
#include <limits>

#include "cpu_kernels_internal.h"
#include "tpusim/isa/status_macros.h"

namespace tpusim::runtime::detail {
namespace {

bool IsQuantType(DataType t) { return t == DataType::kInt8 || t == DataType::kUint8; }

int32_t QuantAt(const Tensor& t, int64_t i) {
  switch (t.dtype()) {
    case DataType::kInt8: return t.as<int8_t>()[i];
    case DataType::kUint8: return t.as<uint8_t>()[i];
    case DataType::kInt32: return t.as<int32_t>()[i];
    default: return 0;
  }
}

// Rounds half to even in the current (default: to-nearest-even) floating-point mode.
double RoundHalfEven(double v) { return std::nearbyint(v); }

int32_t Saturate(double v, DataType t) {
  const double lo = t == DataType::kUint8 ? 0.0 : -128.0;
  const double hi = t == DataType::kUint8 ? 255.0 : 127.0;
  return static_cast<int32_t>(std::min(hi, std::max(lo, v)));
}

void StoreQuant(Tensor& t, int64_t i, int32_t v) {
  if (t.dtype() == DataType::kUint8) {
    t.as<uint8_t>()[i] = static_cast<uint8_t>(v);
  } else {
    t.as<int8_t>()[i] = static_cast<int8_t>(v);
  }
}

// How a scale / zero-point tensor maps onto the data: one value for all, or one per index along `axis`.
struct ScaleLayout {
  bool per_axis = false;
  int64_t axis = 0;
  int64_t inner = 1;  // elements after `axis` (per_axis only)
  int64_t count = 1;  // size of `axis`
  int64_t IndexOf(int64_t element) const { return per_axis ? (element / inner) % count : 0; }
};

absl::StatusOr<ScaleLayout> PlanScale(const Node& node, const Shape& data, const KernelInputInfo& scale,
                                      const KernelInputInfo* zero_point) {
  if (scale.dtype != DataType::kFloat32) return KernelError(node, "scale must be float32");
  TPUSIM_ASSIGN_OR_RETURN(int64_t block, node.GetInt("block_size", 0));
  if (block != 0) return absl::UnimplementedError(absl::StrCat(Where(node), ": blocked quantization is not supported"));
  ScaleLayout layout;
  const int64_t n = compiler::NumElements(scale.shape);
  if (scale.shape.size() > 1) return KernelError(node, absl::StrCat("scale must be a scalar or 1-D, got ",
                                                                    compiler::ShapeToString(scale.shape)));
  if (n != 1) {  // one value (a scalar or a 1-element 1-D tensor) is per-tensor
    TPUSIM_ASSIGN_OR_RETURN(int64_t axis, node.GetInt("axis", 1));
    TPUSIM_ASSIGN_OR_RETURN(layout.axis, NormalizeAxis(node, axis, static_cast<int64_t>(data.size())));
    layout.count = data[layout.axis];
    if (n != layout.count) {
      return KernelError(node, absl::StrCat("scale has ", n, " values but axis ", axis, " of ",
                                            compiler::ShapeToString(data), " has ", layout.count));
    }
    layout.per_axis = true;
    for (size_t d = layout.axis + 1; d < data.size(); ++d) layout.inner *= data[d];
  }
  if (zero_point != nullptr && zero_point->present && zero_point->shape != scale.shape) {
    return KernelError(node, absl::StrCat("zero point ", compiler::ShapeToString(zero_point->shape),
                                          " and scale ", compiler::ShapeToString(scale.shape), " differ in shape"));
  }
  return layout;
}

absl::StatusOr<DataType> QuantizedOutputType(const Node& node, const std::vector<KernelInputInfo>& in) {
  DataType t = in.size() > 2 && in[2].present ? in[2].dtype : DataType::kUint8;
  TPUSIM_ASSIGN_OR_RETURN(int64_t output_dtype, node.GetInt("output_dtype", 0));
  if (output_dtype == 2 || output_dtype == 3) {  // ONNX UINT8 / INT8
    const DataType wanted = output_dtype == 2 ? DataType::kUint8 : DataType::kInt8;
    if (in.size() > 2 && in[2].present && wanted != t) return KernelError(node, "output_dtype differs from the zero point's type");
    t = wanted;
  } else if (output_dtype != 0) {
    return absl::UnimplementedError(absl::StrCat(Where(node), ": output_dtype ", output_dtype, " is not supported"));
  }
  if (!IsQuantType(t)) {
    return absl::UnimplementedError(absl::StrCat(Where(node), ": zero point type ",
                                                 std::string(compiler::DataTypeName(t)),
                                                 " is not supported (int8, uint8)"));
  }
  return t;
}

absl::StatusOr<std::vector<KernelOutputInfo>> InferQuantize(const Node& node, const std::vector<KernelInputInfo>& in) {
  TPUSIM_RETURN_IF_ERROR(CheckArity(node, in, 2, 3));
  if (in[0].dtype != DataType::kFloat32 && in[0].dtype != DataType::kInt32) {
    return KernelError(node, "input must be float32 or int32");
  }
  TPUSIM_ASSIGN_OR_RETURN(DataType t, QuantizedOutputType(node, in));
  TPUSIM_RETURN_IF_ERROR(PlanScale(node, in[0].shape, in[1], in.size() > 2 ? &in[2] : nullptr).status());
  return std::vector<KernelOutputInfo>{{t, in[0].shape}};
}

absl::StatusOr<std::vector<Tensor>> ComputeQuantize(const Node& node, const std::vector<const Tensor*>& in) {
  const std::vector<KernelInputInfo> infos = InfosOf(in);
  TPUSIM_ASSIGN_OR_RETURN(std::vector<KernelOutputInfo> info, InferQuantize(node, infos));
  TPUSIM_ASSIGN_OR_RETURN(ScaleLayout layout, PlanScale(node, in[0]->shape(), infos[1], in.size() > 2 ? &infos[2] : nullptr));
  const Tensor& x = *in[0];
  const Tensor* zp = in.size() > 2 ? in[2] : nullptr;
  Tensor y(info[0].dtype, info[0].shape);
  for (int64_t i = 0; i < x.num_elements(); ++i) {
    const int64_t c = layout.IndexOf(i);
    const float scale = in[1]->as<float>()[c];
    const int32_t z = zp != nullptr ? QuantAt(*zp, c) : 0;
    double q;
    if (x.dtype() == DataType::kFloat32) {
      q = static_cast<double>(x.as<float>()[i] / scale);  // the fp32 division
    } else {
      q = static_cast<double>(x.as<int32_t>()[i]) / static_cast<double>(scale);
    }
    StoreQuant(y, i, std::isnan(q) ? Saturate(z, y.dtype()) : Saturate(RoundHalfEven(q) + z, y.dtype()));
  }
  return std::vector<Tensor>{std::move(y)};
}

absl::StatusOr<std::vector<KernelOutputInfo>> InferDequantize(const Node& node, const std::vector<KernelInputInfo>& in) {
  TPUSIM_RETURN_IF_ERROR(CheckArity(node, in, 2, 3));
  if (!IsQuantType(in[0].dtype) && in[0].dtype != DataType::kInt32) {
    return KernelError(node, absl::StrCat("input type ", std::string(compiler::DataTypeName(in[0].dtype)),
                                          " is not supported (int8, uint8, int32)"));
  }
  if (in.size() > 2 && in[2].present && in[2].dtype != in[0].dtype) {
    return KernelError(node, "zero point and input differ in type");
  }
  TPUSIM_RETURN_IF_ERROR(PlanScale(node, in[0].shape, in[1], in.size() > 2 ? &in[2] : nullptr).status());
  return std::vector<KernelOutputInfo>{{DataType::kFloat32, in[0].shape}};
}

absl::StatusOr<std::vector<Tensor>> ComputeDequantize(const Node& node, const std::vector<const Tensor*>& in) {
  const std::vector<KernelInputInfo> infos = InfosOf(in);
  TPUSIM_ASSIGN_OR_RETURN(std::vector<KernelOutputInfo> info, InferDequantize(node, infos));
  TPUSIM_ASSIGN_OR_RETURN(ScaleLayout layout, PlanScale(node, in[0]->shape(), infos[1], in.size() > 2 ? &infos[2] : nullptr));
  const Tensor* zp = in.size() > 2 ? in[2] : nullptr;
  Tensor y(DataType::kFloat32, info[0].shape);
  for (int64_t i = 0; i < y.num_elements(); ++i) {
    const int64_t c = layout.IndexOf(i);
    const float z = zp != nullptr ? static_cast<float>(QuantAt(*zp, c)) : 0.0f;
    y.as<float>()[i] = (static_cast<float>(QuantAt(*in[0], i)) - z) * in[1]->as<float>()[c];
  }
  return std::vector<Tensor>{std::move(y)};
}

// ---- Integer matrix products ---------------------------------------------------------------------

// numpy matmul of two rank >= 2 operands (1-D operands promoted), with batch broadcasting.
struct IntMatMulPlan {
  int64_t m = 0, k = 0, n = 0;
  Shape batch, out;
  std::vector<int64_t> a_strides, b_strides;  // per batch dim, in matrices
};

absl::StatusOr<IntMatMulPlan> PlanIntMatMul(const Node& node, const Shape& a, const Shape& b) {
  if (a.empty() || b.empty()) return KernelError(node, "operands must have rank >= 1");
  const Shape a2 = a.size() == 1 ? Shape{1, a[0]} : a;
  const Shape b2 = b.size() == 1 ? Shape{b[0], 1} : b;
  IntMatMulPlan plan;
  plan.m = a2[a2.size() - 2];
  plan.k = a2.back();
  plan.n = b2.back();
  if (b2[b2.size() - 2] != plan.k) {
    return KernelError(node, absl::StrCat("inner dimensions differ: ", compiler::ShapeToString(a), " x ",
                                          compiler::ShapeToString(b)));
  }
  const Shape ab(a2.begin(), a2.end() - 2), bb(b2.begin(), b2.end() - 2);
  TPUSIM_ASSIGN_OR_RETURN(plan.batch, BroadcastShapes(node, ab, bb));
  plan.a_strides = BroadcastStrides(ab, plan.batch);
  plan.b_strides = BroadcastStrides(bb, plan.batch);
  plan.out = plan.batch;
  if (a.size() != 1) plan.out.push_back(plan.m);
  if (b.size() != 1) plan.out.push_back(plan.n);
  return plan;
}

// A zero point that is a scalar (or one value) or one value per row (A) / column (B).
absl::Status CheckZeroPoint(const Node& node, const KernelInputInfo& zp, DataType data, int64_t per, const char* what) {
  if (!zp.present) return absl::OkStatus();
  if (zp.dtype != data) return KernelError(node, absl::StrCat(what, " zero point and data differ in type"));
  const int64_t n = compiler::NumElements(zp.shape);
  if (n != 1 && !(zp.shape.size() == 1 && n == per)) {
    return absl::UnimplementedError(absl::StrCat(Where(node), ": ", what, " zero point of shape ",
                                                 compiler::ShapeToString(zp.shape), " is not supported (a scalar or ",
                                                 per, " values)"));
  }
  return absl::OkStatus();
}

// acc[batch][m][n] = sum_k (a - a_zp)(b - b_zp), int32 with wrap-around (computed in uint32).
std::vector<int32_t> IntegerMatMul(const IntMatMulPlan& plan, const Tensor& a, const Tensor* a_zp, const Tensor& b,
                                   const Tensor* b_zp) {
  const int64_t batches = compiler::NumElements(plan.batch);
  std::vector<int32_t> acc(static_cast<size_t>(batches * plan.m * plan.n));
  std::vector<int64_t> index(plan.batch.size(), 0);
  auto zp_at = [](const Tensor* zp, int64_t i) { return zp == nullptr ? 0 : QuantAt(*zp, zp->num_elements() == 1 ? 0 : i); };
  for (int64_t bi = 0; bi < batches; ++bi) {
    int64_t a_off = 0, b_off = 0;
    for (size_t d = 0; d < index.size(); ++d) {
      a_off += index[d] * plan.a_strides[d];
      b_off += index[d] * plan.b_strides[d];
    }
    a_off *= plan.m * plan.k;
    b_off *= plan.k * plan.n;
    for (int64_t i = 0; i < plan.m; ++i) {
      for (int64_t j = 0; j < plan.n; ++j) {
        uint32_t s = 0;
        for (int64_t p = 0; p < plan.k; ++p) {
          const int32_t av = QuantAt(a, a_off + i * plan.k + p) - zp_at(a_zp, i);
          const int32_t bv = QuantAt(b, b_off + p * plan.n + j) - zp_at(b_zp, j);
          s += static_cast<uint32_t>(av * bv);  // |av|, |bv| <= 255: the product fits
        }
        acc[(bi * plan.m + i) * plan.n + j] = static_cast<int32_t>(s);
      }
    }
    for (int d = static_cast<int>(index.size()) - 1; d >= 0; --d) {
      if (++index[d] < plan.batch[d]) break;
      index[d] = 0;
    }
  }
  return acc;
}

absl::StatusOr<std::vector<KernelOutputInfo>> InferMatMulInteger(const Node& node,
                                                                 const std::vector<KernelInputInfo>& in) {
  TPUSIM_RETURN_IF_ERROR(CheckArity(node, in, 2, 4));
  if (!IsQuantType(in[0].dtype) || !IsQuantType(in[1].dtype)) return KernelError(node, "A and B must be int8 or uint8");
  TPUSIM_ASSIGN_OR_RETURN(IntMatMulPlan plan, PlanIntMatMul(node, in[0].shape, in[1].shape));
  if (in.size() > 2) TPUSIM_RETURN_IF_ERROR(CheckZeroPoint(node, in[2], in[0].dtype, plan.m, "a"));
  if (in.size() > 3) TPUSIM_RETURN_IF_ERROR(CheckZeroPoint(node, in[3], in[1].dtype, plan.n, "b"));
  return std::vector<KernelOutputInfo>{{DataType::kInt32, plan.out}};
}

absl::StatusOr<std::vector<Tensor>> ComputeMatMulInteger(const Node& node, const std::vector<const Tensor*>& in) {
  TPUSIM_ASSIGN_OR_RETURN(std::vector<KernelOutputInfo> info, InferMatMulInteger(node, InfosOf(in)));
  TPUSIM_ASSIGN_OR_RETURN(IntMatMulPlan plan, PlanIntMatMul(node, in[0]->shape(), in[1]->shape()));
  const std::vector<int32_t> acc =
      IntegerMatMul(plan, *in[0], in.size() > 2 ? in[2] : nullptr, *in[1], in.size() > 3 ? in[3] : nullptr);
  Tensor y(DataType::kInt32, info[0].shape);
  std::copy(acc.begin(), acc.end(), y.as<int32_t>());
  return std::vector<Tensor>{std::move(y)};
}

absl::StatusOr<std::vector<KernelOutputInfo>> InferQLinearMatMul(const Node& node,
                                                                 const std::vector<KernelInputInfo>& in) {
  TPUSIM_RETURN_IF_ERROR(CheckArity(node, in, 8, 8));
  if (!IsQuantType(in[0].dtype) || !IsQuantType(in[3].dtype) || !IsQuantType(in[7].dtype)) {
    return KernelError(node, "a, b and y_zero_point must be int8 or uint8");
  }
  for (size_t s : {size_t{1}, size_t{4}, size_t{6}}) {
    if (in[s].dtype != DataType::kFloat32 || compiler::NumElements(in[s].shape) != 1) {
      return absl::UnimplementedError(absl::StrCat(Where(node), ": input ", s, " must be one float32 scale "
                                                   "(per-row / per-column scales are not supported)"));
    }
  }
  TPUSIM_ASSIGN_OR_RETURN(IntMatMulPlan plan, PlanIntMatMul(node, in[0].shape, in[3].shape));
  TPUSIM_RETURN_IF_ERROR(CheckZeroPoint(node, in[2], in[0].dtype, 1, "a"));
  TPUSIM_RETURN_IF_ERROR(CheckZeroPoint(node, in[5], in[3].dtype, 1, "b"));
  TPUSIM_RETURN_IF_ERROR(CheckZeroPoint(node, in[7], in[7].dtype, 1, "y"));
  return std::vector<KernelOutputInfo>{{in[7].dtype, plan.out}};
}

absl::StatusOr<std::vector<Tensor>> ComputeQLinearMatMul(const Node& node, const std::vector<const Tensor*>& in) {
  TPUSIM_ASSIGN_OR_RETURN(std::vector<KernelOutputInfo> info, InferQLinearMatMul(node, InfosOf(in)));
  TPUSIM_ASSIGN_OR_RETURN(IntMatMulPlan plan, PlanIntMatMul(node, in[0]->shape(), in[3]->shape()));
  const std::vector<int32_t> acc = IntegerMatMul(plan, *in[0], in[2], *in[3], in[5]);
  const float multiplier = (in[1]->as<float>()[0] * in[4]->as<float>()[0]) / in[6]->as<float>()[0];
  const int32_t zy = QuantAt(*in[7], 0);
  Tensor y(info[0].dtype, info[0].shape);
  for (size_t i = 0; i < acc.size(); ++i) {
    const float v = static_cast<float>(acc[i]) * multiplier;  // fp32(acc) * m, an fp32 multiply
    const int64_t idx = static_cast<int64_t>(i);
    StoreQuant(y, idx, std::isnan(v) ? Saturate(zy, y.dtype()) : Saturate(RoundHalfEven(v) + zy, y.dtype()));
  }
  return std::vector<Tensor>{std::move(y)};
}

}  // namespace

void AppendQuantKernels(std::vector<CpuKernel>& out) {
  out.push_back({"QuantizeLinear", InferQuantize, ComputeQuantize});
  out.push_back({"DequantizeLinear", InferDequantize, ComputeDequantize});
  out.push_back({"MatMulInteger", InferMatMulInteger, ComputeMatMulInteger});
  out.push_back({"QLinearMatMul", InferQLinearMatMul, ComputeQLinearMatMul});
}

}  // namespace tpusim::runtime::detail
