// Shape functions: MaxPool, AveragePool, GlobalAveragePool, GlobalMaxPool (and their window geometry,
// shared with the lowering), Gather, PRelu, and the multi-output ops Split and LayerNormalization.
#include <algorithm>
#include <map>
#include <string>
#include <utility>

#include "absl/status/status.h"
#include "absl/strings/str_cat.h"
#include "internal.h"
#include "shape_functions.h"
#include "tpusim/isa/status_macros.h"

namespace tpusim::compiler::detail {
namespace {

template <typename... Args>
absl::Status Invalid(const Node& node, const Args&... args) {
  return absl::InvalidArgumentError(absl::StrCat(NodeLabel(node), ": ", args...));
}

absl::StatusOr<std::string> StringAttr(const Node& node, const std::string& key, const std::string& dflt) {
  auto it = node.attrs.find(key);
  if (it == node.attrs.end()) return dflt;
  if (const auto* s = std::get_if<std::string>(&it->second)) return *s;
  return Invalid(node, "attribute '", key, "' is not a string");
}

// An int list attribute of length `n` (default: `n` copies of `fill`).
absl::StatusOr<std::vector<int64_t>> PerDim(const Node& node, const std::string& key, size_t n, int64_t fill) {
  TPUSIM_ASSIGN_OR_RETURN(std::vector<int64_t> v, node.GetInts(key, std::vector<int64_t>(n, fill)));
  if (v.size() != n) return Invalid(node, "attribute '", key, "' has ", v.size(), " values, expected ", n);
  return v;
}

int64_t CeilDiv(int64_t a, int64_t b) { return a >= 0 ? (a + b - 1) / b : -((-a) / b); }
int64_t FloorDiv(int64_t a, int64_t b) { return a >= 0 ? a / b : -((-a + b - 1) / b); }

}  // namespace

absl::StatusOr<PoolDims> ResolvePool(const Node& node, const Shape& x) {
  if (x.size() < 3) return Invalid(node, "input ", ShapeToString(x), " needs rank >= 3 ([N, C, spatial...])");
  const size_t k = x.size() - 2;
  PoolDims p;
  p.in.assign(x.begin() + 2, x.end());
  if (node.op_type == "GlobalAveragePool" || node.op_type == "GlobalMaxPool") {
    p.kernel = p.in;
    p.stride = p.dilation = p.out = std::vector<int64_t>(k, 1);
    p.pad_begin = p.pad_end = std::vector<int64_t>(k, 0);
    return p;
  }
  if (node.attrs.count("kernel_shape") == 0) return Invalid(node, "attribute 'kernel_shape' is missing");
  TPUSIM_ASSIGN_OR_RETURN(p.kernel, PerDim(node, "kernel_shape", k, 1));
  TPUSIM_ASSIGN_OR_RETURN(p.stride, PerDim(node, "strides", k, 1));
  TPUSIM_ASSIGN_OR_RETURN(p.dilation, PerDim(node, "dilations", k, 1));
  TPUSIM_ASSIGN_OR_RETURN(std::vector<int64_t> pads, PerDim(node, "pads", 2 * k, 0));
  TPUSIM_ASSIGN_OR_RETURN(std::string auto_pad, StringAttr(node, "auto_pad", "NOTSET"));
  TPUSIM_ASSIGN_OR_RETURN(int64_t ceil_mode, node.GetInt("ceil_mode", 0));
  p.pad_begin.assign(pads.begin(), pads.begin() + k);
  p.pad_end.assign(pads.begin() + k, pads.end());
  p.out.resize(k);
  for (size_t d = 0; d < k; ++d) {
    if (p.kernel[d] < 1 || p.stride[d] < 1 || p.dilation[d] < 1 || p.pad_begin[d] < 0 || p.pad_end[d] < 0) {
      return Invalid(node, "kernel_shape, strides and dilations must be >= 1 and pads >= 0 (dim ", d, ")");
    }
    const int64_t span = (p.kernel[d] - 1) * p.dilation[d] + 1;  // the window's extent
    if (auto_pad == "SAME_UPPER" || auto_pad == "SAME_LOWER") {
      p.out[d] = CeilDiv(p.in[d], p.stride[d]);
      const int64_t total = std::max<int64_t>(0, (p.out[d] - 1) * p.stride[d] + span - p.in[d]);
      p.pad_begin[d] = auto_pad == "SAME_UPPER" ? total / 2 : total - total / 2;
      p.pad_end[d] = total - p.pad_begin[d];
      continue;
    }
    if (auto_pad == "VALID") {
      p.pad_begin[d] = p.pad_end[d] = 0;
    } else if (auto_pad != "NOTSET") {
      return Invalid(node, "auto_pad '", auto_pad, "' is not NOTSET, SAME_UPPER, SAME_LOWER or VALID");
    }
    const int64_t room = p.in[d] + p.pad_begin[d] + p.pad_end[d] - span;
    if (room < 0) {
      return Invalid(node, "window of ", span, " elements does not fit the padded input of ",
                     p.in[d] + p.pad_begin[d] + p.pad_end[d], " (spatial dim ", d, " of ", ShapeToString(x), ")");
    }
    p.out[d] = (ceil_mode != 0 ? CeilDiv(room, p.stride[d]) : FloorDiv(room, p.stride[d])) + 1;
  }
  return p;
}

absl::StatusOr<Shape> PoolShape(const Node& node, const std::vector<Shape>& in, const Graph&) {
  TPUSIM_RETURN_IF_ERROR(RequireInputs(node, 1, 1));
  TPUSIM_ASSIGN_OR_RETURN(PoolDims p, ResolvePool(node, in[0]));
  Shape out = {in[0][0], in[0][1]};
  out.insert(out.end(), p.out.begin(), p.out.end());
  return out;
}

absl::StatusOr<Shape> GatherShape(const Node& node, const std::vector<Shape>& in, const Graph&) {
  TPUSIM_RETURN_IF_ERROR(RequireInputs(node, 2, 2));
  const Shape& data = in[0];
  if (data.empty()) return Invalid(node, "data must have rank >= 1");
  TPUSIM_ASSIGN_OR_RETURN(int64_t axis_attr, node.GetInt("axis", 0));
  TPUSIM_ASSIGN_OR_RETURN(int64_t axis, NormalizeAxis(node, axis_attr, static_cast<int64_t>(data.size())));
  Shape out(data.begin(), data.begin() + axis);
  out.insert(out.end(), in[1].begin(), in[1].end());
  out.insert(out.end(), data.begin() + axis + 1, data.end());
  return out;
}

absl::StatusOr<Shape> PReluShape(const Node& node, const std::vector<Shape>& in, const Graph&) {
  TPUSIM_RETURN_IF_ERROR(RequireInputs(node, 2, 2));
  TPUSIM_ASSIGN_OR_RETURN(Shape out, BroadcastShapes(node, in[0], in[1]));
  if (out != in[0]) {
    return Invalid(node, "slope ", ShapeToString(in[1]), " does not broadcast to X ", ShapeToString(in[0]));
  }
  return out;
}

absl::StatusOr<std::vector<int64_t>> SplitSizes(const Node& node, const Shape& x, int64_t axis, const Graph& graph) {
  const int64_t n_out = static_cast<int64_t>(node.outputs.size());
  const int64_t extent = x[axis];
  std::vector<int64_t> sizes;
  if (node.opset >= 13 && Present(node, 1)) {
    TPUSIM_ASSIGN_OR_RETURN(sizes, ConstantInts(node, 1, graph, "split"));
  } else if (node.opset < 13 && node.attrs.count("split") != 0) {
    TPUSIM_ASSIGN_OR_RETURN(sizes, node.GetInts("split"));
  } else if (n_out > 0) {
    TPUSIM_ASSIGN_OR_RETURN(int64_t parts, node.GetInt("num_outputs", n_out));
    if (parts != n_out) return Invalid(node, "num_outputs ", parts, " but ", n_out, " outputs");
    const int64_t part = node.opset >= 18 ? (extent + n_out - 1) / n_out : extent / n_out;
    if (node.opset < 18 && extent % n_out != 0) {
      return Invalid(node, "dim ", axis, " of ", ShapeToString(x), " does not split into ", n_out, " equal parts");
    }
    for (int64_t i = 0; i < n_out; ++i) sizes.push_back(std::max<int64_t>(0, std::min(part, extent - i * part)));
  }
  int64_t total = 0;
  for (int64_t s : sizes) {
    if (s < 0) return Invalid(node, "split sizes must be >= 0");
    total += s;
  }
  if (static_cast<int64_t>(sizes.size()) != n_out || total != extent) {
    return Invalid(node, sizes.size(), " split sizes summing to ", total, " for ", n_out, " outputs and dim ", axis,
                   " of ", ShapeToString(x));
  }
  return sizes;
}

namespace {

absl::StatusOr<std::vector<Shape>> SplitShapes(const Node& node, const std::vector<Shape>& in, const Graph& graph) {
  TPUSIM_RETURN_IF_ERROR(RequireInputs(node, 1, 2));
  TPUSIM_ASSIGN_OR_RETURN(int64_t axis_attr, node.GetInt("axis", 0));
  TPUSIM_ASSIGN_OR_RETURN(int64_t axis, NormalizeAxis(node, axis_attr, static_cast<int64_t>(in[0].size())));
  TPUSIM_ASSIGN_OR_RETURN(std::vector<int64_t> sizes, SplitSizes(node, in[0], axis, graph));
  std::vector<Shape> out;
  for (int64_t s : sizes) {
    Shape shape = in[0];
    shape[axis] = s;
    out.push_back(std::move(shape));
  }
  return out;
}

absl::StatusOr<std::vector<Shape>> LayerNormShapes(const Node& node, const std::vector<Shape>& in, const Graph&) {
  TPUSIM_RETURN_IF_ERROR(RequireInputs(node, 2, 3));
  if (node.outputs.empty() || node.outputs.size() > 3) return Invalid(node, "has 1 to 3 outputs");
  const int64_t rank = static_cast<int64_t>(in[0].size());
  TPUSIM_ASSIGN_OR_RETURN(int64_t axis_attr, node.GetInt("axis", -1));
  TPUSIM_ASSIGN_OR_RETURN(int64_t axis, NormalizeAxis(node, axis_attr, rank));
  const Shape normalized(in[0].begin() + axis, in[0].end());
  for (size_t i = 1; i < in.size(); ++i) {
    if (!Present(node, i)) continue;
    TPUSIM_ASSIGN_OR_RETURN(Shape b, BroadcastShapes(node, normalized, in[i]));
    if (b != normalized) {
      return Invalid(node, "input ", i, " ", ShapeToString(in[i]), " does not broadcast to the normalized dims ",
                     ShapeToString(normalized));
    }
  }
  Shape stat(in[0].begin(), in[0].begin() + axis);
  stat.resize(in[0].size(), 1);
  std::vector<Shape> out = {in[0]};
  while (out.size() < node.outputs.size()) out.push_back(stat);
  return out;
}

}  // namespace

MultiShapeFn FindMultiOutputShapeFn(std::string_view op_type) {
  if (op_type == "Split") return SplitShapes;
  if (op_type == "LayerNormalization") return LayerNormShapes;
  return nullptr;
}

absl::Status CheckPoolOrMiscSupport(const Node& node, const Graph& graph) {
  auto unsupported = [&](const std::string& why) {
    return absl::UnimplementedError(absl::StrCat(node.op_type, " ", why));
  };
  const Value* x = Present(node, 0) ? graph.FindValue(node.inputs[0]) : nullptr;
  const Shape* x_shape = x == nullptr ? nullptr : (x->shape.has_value() ? &*x->shape : nullptr);
  if (node.op_type == "MaxPool" || node.op_type == "AveragePool") {
    if (node.outputs.size() > 1 && !node.outputs[1].empty()) {
      return unsupported("with the Indices output is not supported on the TPU");
    }
    if (x_shape != nullptr) {
      absl::Status geometry = ResolvePool(node, *x_shape).status();
      if (!geometry.ok()) return unsupported(absl::StrCat("on the TPU: ", geometry.message()));
    }
  }
  if (node.op_type == "LayerNormalization" && x_shape != nullptr) {
    TPUSIM_ASSIGN_OR_RETURN(int64_t axis, node.GetInt("axis", -1));
    const int64_t rank = static_cast<int64_t>(x_shape->size());
    if (axis < -rank || axis >= rank) return unsupported(absl::StrCat("with axis ", axis, " out of range"));
    if (axis < 0) axis += rank;
    const int64_t s = NumElements(Shape(x_shape->begin() + axis, x_shape->end()));
    for (size_t i = 1; i <= 2; ++i) {
      const Value* v = Present(node, i) ? graph.FindValue(node.inputs[i]) : nullptr;
      if (v == nullptr || !v->shape.has_value()) continue;
      const int64_t n = NumElements(*v->shape);
      if (n != s && n != 1) {
        return unsupported(absl::StrCat("with a ", i == 1 ? "scale" : "bias", " of ", n, " elements (not ", s,
                                        " or 1) is not supported on the TPU"));
      }
    }
  }
  return absl::OkStatus();
}

}  // namespace tpusim::compiler::detail
