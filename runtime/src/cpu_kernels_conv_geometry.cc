// The convolution geometry shared by the float (cpu_kernels_conv.cc) and quantized
// (cpu_kernels_quant_conv.cc) reference kernels: ONNX's output-size formula, auto_pad, and the
// input offset of each (output position, kernel tap) pair.
#include <algorithm>
#include <string>
#include <variant>
#include <vector>

#include "cpu_kernels_internal.h"
#include "tpusim/isa/status_macros.h"

namespace tpusim::runtime::detail {
namespace {

absl::StatusOr<std::vector<int64_t>> ListAttr(const Node& node, const std::string& key, size_t len, int64_t dflt) {
  TPUSIM_ASSIGN_OR_RETURN(std::vector<int64_t> v, node.GetInts(key, std::vector<int64_t>(len, dflt)));
  if (v.size() != len) return KernelError(node, absl::StrCat(key, " needs ", len, " values, got ", v.size()));
  return v;
}

}  // namespace

absl::StatusOr<ConvGeometry> PlanConvGeometry(const Node& node, const Shape& x, const Shape& w) {
  if (x.size() < 3 || w.size() != x.size()) {
    return KernelError(node, absl::StrCat("X ", compiler::ShapeToString(x), " and W ", compiler::ShapeToString(w),
                                          " need equal rank >= 3"));
  }
  const size_t k = x.size() - 2;
  ConvGeometry p;
  p.n = x[0];
  p.c = x[1];
  p.m = w[0];
  TPUSIM_ASSIGN_OR_RETURN(p.group, node.GetInt("group", 1));
  if (p.group <= 0 || p.c % p.group != 0 || p.m % p.group != 0 || w[1] * p.group != p.c) {
    return KernelError(node, absl::StrCat("group ", p.group, " does not fit X ", compiler::ShapeToString(x),
                                          " and W ", compiler::ShapeToString(w)));
  }
  p.in.assign(x.begin() + 2, x.end());
  p.kernel.assign(w.begin() + 2, w.end());
  TPUSIM_ASSIGN_OR_RETURN(std::vector<int64_t> ks, ListAttr(node, "kernel_shape", k, 0));
  if (node.attrs.count("kernel_shape") != 0 && ks != p.kernel) return KernelError(node, "kernel_shape disagrees with W");
  TPUSIM_ASSIGN_OR_RETURN(p.stride, ListAttr(node, "strides", k, 1));
  TPUSIM_ASSIGN_OR_RETURN(p.dil, ListAttr(node, "dilations", k, 1));
  TPUSIM_ASSIGN_OR_RETURN(std::vector<int64_t> pads, ListAttr(node, "pads", 2 * k, 0));
  std::string auto_pad = "NOTSET";
  if (auto it = node.attrs.find("auto_pad"); it != node.attrs.end()) {
    if (const auto* s = std::get_if<std::string>(&it->second)) auto_pad = *s;
  }
  for (size_t d = 0; d < k; ++d) {
    if (p.stride[d] < 1 || p.dil[d] < 1 || pads[d] < 0 || pads[d + k] < 0) {
      return KernelError(node, "strides and dilations must be positive and pads non-negative");
    }
    const int64_t eff = (p.kernel[d] - 1) * p.dil[d] + 1;
    int64_t lo = pads[d], hi = pads[d + k];
    if (auto_pad == "VALID") {
      lo = hi = 0;
    } else if (auto_pad == "SAME_UPPER" || auto_pad == "SAME_LOWER") {
      const int64_t o = (p.in[d] + p.stride[d] - 1) / p.stride[d];
      const int64_t total = std::max<int64_t>(0, (o - 1) * p.stride[d] + eff - p.in[d]);
      lo = auto_pad == "SAME_LOWER" ? (total + 1) / 2 : total / 2;
      hi = total - lo;
    } else if (auto_pad != "NOTSET") {
      return KernelError(node, absl::StrCat("unknown auto_pad '", auto_pad, "'"));
    }
    const int64_t span = p.in[d] + lo + hi - eff;
    if (span < 0) return KernelError(node, "the dilated kernel is larger than the padded input");
    p.pad_lo.push_back(lo);
    p.out.push_back(span / p.stride[d] + 1);
  }
  return p;
}

ConvIndex::ConvIndex(const ConvGeometry& geometry)
    : g(geometry), in_strides(Strides(g.in)), out_strides(Strides(g.out)), k_strides(Strides(g.kernel)) {
  for (size_t d = 0; d < g.in.size(); ++d) {
    in_size *= g.in[d];
    out_size *= g.out[d];
    k_size *= g.kernel[d];
  }
}

int64_t ConvIndex::InputOffset(int64_t o, int64_t kk) const {
  int64_t off = 0;
  for (size_t d = 0; d < g.in.size(); ++d) {
    const int64_t od = (o / out_strides[d]) % g.out[d];
    const int64_t kd = (kk / k_strides[d]) % g.kernel[d];
    const int64_t id = od * g.stride[d] + kd * g.dil[d] - g.pad_lo[d];
    if (id < 0 || id >= g.in[d]) return -1;
    off += id * in_strides[d];
  }
  return off;
}

}  // namespace tpusim::runtime::detail
