// Attribute resolution of Conv, BatchNormalization and Pad (lower_conv.h), their shape functions
// (shape_functions.h) and the TPU support checks of Conv and BatchNormalization (Pad's: lower_pad.cc).
#include <algorithm>
#include <cmath>
#include <string>
#include <vector>

#include "absl/status/status.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_join.h"
#include "internal.h"
#include "lower_conv.h"
#include "shape_functions.h"
#include "tpusim/isa/status_macros.h"

namespace tpusim::compiler::detail {
namespace {

template <typename... Args>
absl::Status Invalid(const Node& node, const Args&... args) {
  return absl::InvalidArgumentError(absl::StrCat(NodeLabel(node), ": ", args...));
}

template <typename... Args>
absl::Status Unsupported(const Node& node, const Args&... args) {
  return absl::UnimplementedError(absl::StrCat(node.op_type, " ", args...));
}

std::string AutoPad(const Node& node) {
  auto it = node.attrs.find("auto_pad");
  if (it == node.attrs.end()) return "NOTSET";
  const std::string* s = std::get_if<std::string>(&it->second);
  return s == nullptr ? "<not a string>" : *s;
}

// A per-spatial-dim attribute list of length k (default `dflt` when absent).
absl::StatusOr<std::vector<int64_t>> SpatialInts(const Node& node, const std::string& key, size_t k, int64_t dflt) {
  TPUSIM_ASSIGN_OR_RETURN(std::vector<int64_t> v, node.GetInts(key, std::vector<int64_t>(k, dflt)));
  if (v.size() != k) return Invalid(node, key, " has ", v.size(), " values, expected ", k);
  return v;
}

}  // namespace

absl::StatusOr<ConvGeometry> ResolveConv(const Node& node, const Shape& x, const Shape& w) {
  if (x.size() < 3 || w.size() != x.size()) {
    return Invalid(node, "X ", ShapeToString(x), " and W ", ShapeToString(w),
                   " must have the same rank, at least 3 ([N, C, spatial...])");
  }
  const size_t k = x.size() - 2;
  ConvGeometry g;
  g.batch = x[0];
  g.in_channels = x[1];
  g.out_channels = w[0];
  TPUSIM_ASSIGN_OR_RETURN(g.group, node.GetInt("group", 1));
  if (g.group <= 0 || g.in_channels % g.group != 0 || g.out_channels % g.group != 0 ||
      w[1] != g.in_channels / g.group) {
    return Invalid(node, "group ", g.group, " does not fit X ", ShapeToString(x), " and W ", ShapeToString(w),
                   " (needs C % group == 0, M % group == 0, W[1] == C / group)");
  }
  g.in.assign(x.begin() + 2, x.end());
  g.kernel.assign(w.begin() + 2, w.end());
  if (node.attrs.count("kernel_shape") != 0) {
    TPUSIM_ASSIGN_OR_RETURN(std::vector<int64_t> ks, node.GetInts("kernel_shape"));
    if (ks != g.kernel) {
      return Invalid(node, "kernel_shape [", absl::StrJoin(ks, ","), "] disagrees with W ", ShapeToString(w));
    }
  }
  TPUSIM_ASSIGN_OR_RETURN(g.stride, SpatialInts(node, "strides", k, 1));
  TPUSIM_ASSIGN_OR_RETURN(g.dilation, SpatialInts(node, "dilations", k, 1));
  TPUSIM_ASSIGN_OR_RETURN(std::vector<int64_t> pads, SpatialInts(node, "pads", 2 * k, 0));
  const std::string auto_pad = AutoPad(node);
  g.pad_begin.assign(pads.begin(), pads.begin() + static_cast<int64_t>(k));
  g.pad_end.assign(pads.begin() + static_cast<int64_t>(k), pads.end());
  for (size_t d = 0; d < k; ++d) {
    if (g.stride[d] <= 0 || g.dilation[d] <= 0 || g.pad_begin[d] < 0 || g.pad_end[d] < 0 || g.kernel[d] <= 0) {
      return Invalid(node, "needs positive kernel, strides and dilations and non-negative pads");
    }
    const int64_t span = (g.kernel[d] - 1) * g.dilation[d] + 1;  // receptive extent of one output
    if (auto_pad == "VALID") {
      g.pad_begin[d] = g.pad_end[d] = 0;
    } else if (auto_pad == "SAME_UPPER" || auto_pad == "SAME_LOWER") {
      const int64_t out = (g.in[d] + g.stride[d] - 1) / g.stride[d];
      const int64_t total = std::max<int64_t>(0, (out - 1) * g.stride[d] + span - g.in[d]);
      g.pad_begin[d] = auto_pad == "SAME_UPPER" ? total / 2 : total - total / 2;
      g.pad_end[d] = total - g.pad_begin[d];
    } else if (auto_pad != "NOTSET") {
      return Invalid(node, "auto_pad '", auto_pad, "' is not NOTSET, VALID, SAME_UPPER or SAME_LOWER");
    }
    const int64_t padded = g.in[d] + g.pad_begin[d] + g.pad_end[d];
    if (padded < span) {
      return Invalid(node, "spatial dim ", d, ": input ", g.in[d], " padded to ", padded,
                     " is smaller than the dilated kernel ", span);
    }
    g.out.push_back((padded - span) / g.stride[d] + 1);
  }
  return g;
}

absl::Status CheckBatchNormForm(const Node& node) {
  if (node.inputs.size() != 5) return Invalid(node, "needs inputs X, scale, B, mean, var");
  size_t outputs = 0;
  for (const std::string& o : node.outputs) outputs += o.empty() ? 0 : 1;
  TPUSIM_ASSIGN_OR_RETURN(int64_t training, node.GetInt("training_mode", 0));
  if (training != 0 || outputs != 1) {
    return Unsupported(node, "in training mode (training_mode=1 or running statistics outputs) runs on the CPU only");
  }
  TPUSIM_ASSIGN_OR_RETURN(int64_t spatial, node.GetInt("spatial", 1));
  if (spatial != 1) return Unsupported(node, "with attribute spatial=0 (per-element statistics) runs on the CPU only");
  return node.GetFloat("epsilon", 1e-5f).status();
}

absl::StatusOr<ChannelAffine> BatchNormAffine(const Node& node, const Graph& graph, int64_t channels) {
  TPUSIM_RETURN_IF_ERROR(CheckBatchNormForm(node));
  TPUSIM_ASSIGN_OR_RETURN(float eps, node.GetFloat("epsilon", 1e-5f));
  static const char* const kNames[] = {"X", "scale", "B", "mean", "var"};
  std::vector<const float*> p(5, nullptr);
  for (size_t i = 1; i < 5; ++i) {
    const Value* v = graph.FindValue(node.inputs[i]);
    if (v == nullptr || !v->constant.has_value() || v->constant->dtype() != DataType::kFloat32) {
      return Unsupported(node, "with input ", kNames[i], " ('", node.inputs[i],
                         "') that is not a float32 constant is not supported on the TPU");
    }
    if (v->constant->num_elements() != channels) {
      return Invalid(node, "input ", kNames[i], " has ", v->constant->num_elements(), " elements, X has ", channels,
                     " channels");
    }
    p[i] = v->constant->as<float>();
  }
  ChannelAffine out;
  for (int64_t c = 0; c < channels; ++c) {
    const double a = static_cast<double>(p[1][c]) / std::sqrt(static_cast<double>(p[4][c]) + eps);
    out.a.push_back(static_cast<float>(a));
    out.b.push_back(static_cast<float>(static_cast<double>(p[2][c]) - static_cast<double>(p[3][c]) * a));
  }
  return out;
}

absl::StatusOr<PadSpec> ResolvePad(const Node& node, const Shape& x, const Graph& graph) {
  PadSpec spec;
  TPUSIM_ASSIGN_OR_RETURN(spec.mode, [&]() -> absl::StatusOr<std::string> {
    auto it = node.attrs.find("mode");
    if (it == node.attrs.end()) return std::string("constant");
    const std::string* s = std::get_if<std::string>(&it->second);
    if (s == nullptr) return Invalid(node, "attribute mode is not a string");
    return *s;
  }());
  if (spec.mode != "constant" && spec.mode != "reflect" && spec.mode != "edge" && spec.mode != "wrap") {
    return Invalid(node, "mode '", spec.mode, "' is not constant, reflect, edge or wrap");
  }
  const size_t rank = x.size();
  std::vector<int64_t> pads;
  std::vector<int64_t> axes;
  if (node.opset >= 11) {
    if (!Present(node, 1)) return Invalid(node, "required input 'pads' is missing");
    TPUSIM_ASSIGN_OR_RETURN(pads, ConstantInts(node, 1, graph, "pads"));
    if (Present(node, 2)) {
      const Value* v = graph.FindValue(node.inputs[2]);
      if (v == nullptr || !v->constant.has_value()) return Invalid(node, "needs a constant constant_value");
      TPUSIM_ASSIGN_OR_RETURN(spec.value, ScalarAsFloat(*v->constant, "constant_value"));
    }
    if (Present(node, 3)) {
      TPUSIM_ASSIGN_OR_RETURN(axes, ConstantInts(node, 3, graph, "axes"));
    }
  } else {
    const char* key = node.opset < 2 ? "paddings" : "pads";
    TPUSIM_ASSIGN_OR_RETURN(pads, node.GetInts(key));
    TPUSIM_ASSIGN_OR_RETURN(spec.value, node.GetFloat("value", 0.0f));
  }
  if (axes.empty()) {
    for (size_t d = 0; d < rank; ++d) axes.push_back(static_cast<int64_t>(d));
  }
  if (pads.size() != 2 * axes.size()) {
    return Invalid(node, "has ", pads.size(), " pads for ", axes.size(), " axes of input ", ShapeToString(x));
  }
  spec.begin.assign(rank, 0);
  spec.end.assign(rank, 0);
  for (size_t i = 0; i < axes.size(); ++i) {
    TPUSIM_ASSIGN_OR_RETURN(int64_t a, NormalizeAxis(node, axes[i], static_cast<int64_t>(rank)));
    spec.begin[a] = pads[i];
    spec.end[a] = pads[i + axes.size()];
  }
  for (size_t d = 0; d < rank; ++d) {
    const int64_t n = x[d] + spec.begin[d] + spec.end[d];
    if (n < 0) return Invalid(node, "pads remove more than dim ", d, " of ", ShapeToString(x), " holds");
    spec.out.push_back(n);
  }
  return spec;
}

absl::StatusOr<Shape> ConvShape(const Node& node, const std::vector<Shape>& in, const Graph& graph) {
  (void)graph;
  TPUSIM_RETURN_IF_ERROR(RequireInputs(node, 2, 3));
  TPUSIM_ASSIGN_OR_RETURN(ConvGeometry g, ResolveConv(node, in[0], in[1]));
  if (Present(node, 2) && (in[2].size() != 1 || in[2][0] != g.out_channels)) {
    return Invalid(node, "bias ", ShapeToString(in[2]), " is not [", g.out_channels, "]");
  }
  Shape out = {g.batch, g.out_channels};
  out.insert(out.end(), g.out.begin(), g.out.end());
  return out;
}

absl::StatusOr<Shape> BatchNormShape(const Node& node, const std::vector<Shape>& in, const Graph& graph) {
  (void)graph;
  TPUSIM_RETURN_IF_ERROR(RequireInputs(node, 5, 5));
  if (in[0].size() < 2) return Invalid(node, "X ", ShapeToString(in[0]), " needs rank >= 2 ([N, C, ...])");
  return in[0];
}

absl::StatusOr<Shape> PadShape(const Node& node, const std::vector<Shape>& in, const Graph& graph) {
  TPUSIM_RETURN_IF_ERROR(RequireInputs(node, node.opset >= 11 ? 2 : 1, node.opset >= 11 ? 4 : 1));
  TPUSIM_ASSIGN_OR_RETURN(PadSpec spec, ResolvePad(node, in[0], graph));
  return spec.out;
}

absl::Status CheckConvFamilySupport(const Node& node, const Graph& graph) {
  auto shape_of = [&](size_t i) -> const Shape* {
    const Value* v = i < node.inputs.size() ? graph.FindValue(node.inputs[i]) : nullptr;
    if (v == nullptr) return nullptr;
    if (v->shape.has_value()) return &*v->shape;
    return v->constant.has_value() ? &v->constant->shape() : nullptr;
  };
  if (node.op_type == "Conv") {
    if (node.inputs.size() < 2) return Unsupported(node, "needs inputs X and W");
    const Shape* x = shape_of(0);
    const Shape* w = shape_of(1);
    if (x != nullptr && w != nullptr) TPUSIM_RETURN_IF_ERROR(ResolveConv(node, *x, *w).status());
    return absl::OkStatus();
  }
  if (node.op_type == "BatchNormalization") {
    TPUSIM_RETURN_IF_ERROR(CheckBatchNormForm(node));
    const Shape* x = shape_of(0);
    if (x == nullptr) return absl::OkStatus();
    if (x->size() < 2) return Invalid(node, "X needs rank >= 2");
    // Parameters that are compile-time graph inputs (tpu_support.cc has checked they are known then)
    // are judged when the program is compiled.
    for (size_t i = 1; i < 5; ++i) {
      const Value* v = graph.FindValue(node.inputs[i]);
      if (v == nullptr || !v->constant.has_value()) return absl::OkStatus();
    }
    return BatchNormAffine(node, graph, (*x)[1]).status();
  }
  return absl::OkStatus();
}

}  // namespace tpusim::compiler::detail
