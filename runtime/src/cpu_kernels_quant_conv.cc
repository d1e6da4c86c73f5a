// Quantized convolution reference kernels: ConvInteger and QLinearConv (any spatial rank; strides,
// pads, dilations, group, auto_pad). Straight loops, written independently of the TPU lowering (which
// they judge).
//
// Numerics (ONNX's, as ONNX Runtime computes them):
//   ConvInteger: y = sum (x - x_zp)(w - w_zp) in int32 with two's-complement wrap-around; padded taps
//                contribute nothing (the padding value is x_zp). w_zp is a scalar or one per output
//                channel.
//   QLinearConv: acc as ConvInteger (+ the int32 bias B[m]); y = saturate(round_half_even(fp32(acc) * m)
//                + y_zp) with m = fp32(fp32(x_scale * w_scale[m]) / y_scale) (w_scale scalar or per
//                channel), saturated to y_zp's type.
#include <algorithm>
#include <cmath>
#include <string>
#include <vector>

#include "cpu_kernels_internal.h"
#include "tpusim/isa/status_macros.h"

namespace tpusim::runtime::detail {
namespace {

bool IsQuant(DataType t) { return t == DataType::kInt8 || t == DataType::kUint8; }

int32_t Q(const Tensor& t, int64_t i) {
  return t.dtype() == DataType::kUint8 ? int32_t{t.as<uint8_t>()[i]} : int32_t{t.as<int8_t>()[i]};
}

// The geometry, and the input index of each operand (-1: not an input of this op).
struct QConvPlan : ConvGeometry {
  int x = 0, w = 1, xz = 2, wz = 3, xs = -1, ws = -1, ys = -1, yz = -1, bias = -1;
};

bool Has(const std::vector<KernelInputInfo>& in, int i) { return i >= 0 && static_cast<size_t>(i) < in.size() && in[i].present; }

absl::StatusOr<QConvPlan> PlanQConv(const Node& node, const std::vector<KernelInputInfo>& in) {
  QConvPlan p;
  if (node.op_type == "QLinearConv") {
    TPUSIM_RETURN_IF_ERROR(CheckArity(node, in, 8, 9));
    p.x = 0, p.xs = 1, p.xz = 2, p.w = 3, p.ws = 4, p.wz = 5, p.ys = 6, p.yz = 7, p.bias = 8;
  } else {
    TPUSIM_RETURN_IF_ERROR(CheckArity(node, in, 2, 4));
  }
  if (!IsQuant(in[p.x].dtype) || !IsQuant(in[p.w].dtype)) return KernelError(node, "X and W must be int8 or uint8");
  TPUSIM_ASSIGN_OR_RETURN(static_cast<ConvGeometry&>(p), PlanConvGeometry(node, in[p.x].shape, in[p.w].shape));
  for (int zi : {p.xz, p.yz}) {
    if (Has(in, zi) && compiler::NumElements(in[zi].shape) != 1) return KernelError(node, "x/y zero points must be scalars");
  }
  for (int i : {p.wz, p.ws}) {
    if (Has(in, i) && compiler::NumElements(in[i].shape) != 1 && compiler::NumElements(in[i].shape) != p.m) {
      return KernelError(node, "w_scale / w_zero_point must have 1 or M values");
    }
  }
  if (Has(in, p.bias) && (in[p.bias].dtype != DataType::kInt32 || compiler::NumElements(in[p.bias].shape) != p.m)) {
    return KernelError(node, "B must be int32 with M values");
  }
  return p;
}

absl::StatusOr<std::vector<KernelOutputInfo>> InferQConv(const Node& node, const std::vector<KernelInputInfo>& in) {
  TPUSIM_ASSIGN_OR_RETURN(QConvPlan p, PlanQConv(node, in));
  Shape out = {p.n, p.m};
  out.insert(out.end(), p.out.begin(), p.out.end());
  const DataType t = p.yz >= 0 ? in[p.yz].dtype : DataType::kInt32;
  return std::vector<KernelOutputInfo>{{t, out}};
}

absl::StatusOr<std::vector<Tensor>> ComputeQConv(const Node& node, const std::vector<const Tensor*>& in) {
  TPUSIM_ASSIGN_OR_RETURN(QConvPlan p, PlanQConv(node, InfosOf(in)));
  TPUSIM_ASSIGN_OR_RETURN(std::vector<KernelOutputInfo> info, InferQConv(node, InfosOf(in)));
  auto at = [&](int i) -> const Tensor* { return i >= 0 && static_cast<size_t>(i) < in.size() ? in[i] : nullptr; };
  const Tensor& x = *in[p.x];
  const Tensor& w = *in[p.w];
  const int32_t xz = at(p.xz) != nullptr ? Q(*at(p.xz), 0) : 0;
  const ConvIndex ix(p);
  const int64_t cg = p.c / p.group, mg = p.m / p.group;
  Tensor y(info[0].dtype, info[0].shape);
  for (int64_t n = 0; n < p.n; ++n) {
    for (int64_t m = 0; m < p.m; ++m) {
      const int64_t grp = m / mg;
      const Tensor* wz_t = at(p.wz);
      const int32_t wz = wz_t != nullptr ? Q(*wz_t, wz_t->num_elements() == 1 ? 0 : m) : 0;
      for (int64_t o = 0; o < ix.out_size; ++o) {
        uint32_t acc = at(p.bias) != nullptr ? static_cast<uint32_t>(at(p.bias)->as<int32_t>()[m]) : 0u;
        for (int64_t kk = 0; kk < ix.k_size; ++kk) {
          const int64_t off = ix.InputOffset(o, kk);
          if (off < 0) continue;  // the padding value is x_zp: (x_zp - x_zp) * w = 0
          for (int64_t ci = 0; ci < cg; ++ci) {
            const int32_t xv = Q(x, (n * p.c + grp * cg + ci) * ix.in_size + off) - xz;
            const int32_t wv = Q(w, (m * cg + ci) * ix.k_size + kk) - wz;
            acc += static_cast<uint32_t>(xv * wv);
          }
        }
        const int64_t idx = (n * p.m + m) * ix.out_size + o;
        if (p.yz < 0) {
          y.as<int32_t>()[idx] = static_cast<int32_t>(acc);
          continue;
        }
        const Tensor* ws = at(p.ws);
        const float mult = (at(p.xs)->as<float>()[0] * ws->as<float>()[ws->num_elements() == 1 ? 0 : m]) /
                           at(p.ys)->as<float>()[0];
        const float product = static_cast<float>(static_cast<int32_t>(acc)) * mult;
        const bool u8 = y.dtype() == DataType::kUint8;
        double q = std::isnan(product) ? 0.0 : std::nearbyint(static_cast<double>(product));
        q += Q(*at(p.yz), 0);
        q = std::min(u8 ? 255.0 : 127.0, std::max(u8 ? 0.0 : -128.0, q));
        if (u8) y.as<uint8_t>()[idx] = static_cast<uint8_t>(q);
        else y.as<int8_t>()[idx] = static_cast<int8_t>(q);
      }
    }
  }
  return std::vector<Tensor>{std::move(y)};
}

}  // namespace

void AppendQuantConvKernels(std::vector<CpuKernel>& out) {
  out.push_back({"ConvInteger", InferQConv, ComputeQConv});
  out.push_back({"QLinearConv", InferQConv, ComputeQConv});
}

}  // namespace tpusim::runtime::detail
