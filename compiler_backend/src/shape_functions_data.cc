// Shape functions: Slice, Squeeze, Unsqueeze, Expand (data movement) and Clip, Pow.
#include <algorithm>
#include <utility>

#include "absl/status/status.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_join.h"
#include "internal.h"
#include "shape_functions.h"
#include "tpusim/isa/status_macros.h"

namespace tpusim::compiler::detail {
namespace {

template <typename... Args>
absl::Status Invalid(const Node& node, const Args&... args) {
  return absl::InvalidArgumentError(absl::StrCat(NodeLabel(node), ": ", args...));
}

// The int64 list of input `index` (opset >= `input_from`) or of attribute `attr` (earlier opsets);
// `present` false when it is absent and optional.
struct IntList {
  bool present = false;
  std::vector<int64_t> values;
};
absl::StatusOr<IntList> IntsOperand(const Node& node, size_t index, int input_from, const Graph& graph,
                                    const std::string& attr, bool required) {
  IntList list;
  if (node.opset >= input_from) {
    if (!Present(node, index)) {
      if (required) return Invalid(node, "required input '", attr, "' is missing");
      return list;
    }
    TPUSIM_ASSIGN_OR_RETURN(list.values, ConstantInts(node, index, graph, attr));
  } else {
    if (node.attrs.count(attr) == 0) {
      if (required) return Invalid(node, "attribute '", attr, "' is missing");
      return list;
    }
    TPUSIM_ASSIGN_OR_RETURN(list.values, node.GetInts(attr));
  }
  list.present = true;
  return list;
}

}  // namespace

absl::StatusOr<SliceDims> ResolveSlice(const Node& node, const Shape& in, const Graph& graph) {
  const int64_t rank = static_cast<int64_t>(in.size());
  TPUSIM_ASSIGN_OR_RETURN(IntList starts_in, IntsOperand(node, 1, 10, graph, "starts", true));
  TPUSIM_ASSIGN_OR_RETURN(IntList ends_in, IntsOperand(node, 2, 10, graph, "ends", true));
  TPUSIM_ASSIGN_OR_RETURN(IntList axes_in, IntsOperand(node, 3, 10, graph, "axes", false));
  IntList steps_in;
  if (node.opset >= 10) {
    TPUSIM_ASSIGN_OR_RETURN(steps_in, IntsOperand(node, 4, 10, graph, "steps", false));
  }
  const std::vector<int64_t>& starts = starts_in.values;
  const std::vector<int64_t>& ends = ends_in.values;
  const size_t n = starts.size();
  std::vector<int64_t> axes = axes_in.values, steps = steps_in.values;
  if (!axes_in.present) {
    axes.resize(n);
    for (size_t i = 0; i < n; ++i) axes[i] = static_cast<int64_t>(i);
  }
  if (!steps_in.present) steps.assign(n, 1);
  if (ends.size() != n || axes.size() != n || steps.size() != n) {
    return Invalid(node, "starts, ends, axes and steps have different lengths (", n, ", ", ends.size(), ", ",
                   axes.size(), ", ", steps.size(), ")");
  }
  SliceDims s;
  s.start.assign(in.size(), 0);
  s.step.assign(in.size(), 1);
  s.size = in;
  std::vector<bool> seen(in.size(), false);
  for (size_t i = 0; i < n; ++i) {
    TPUSIM_ASSIGN_OR_RETURN(int64_t axis, NormalizeAxis(node, axes[i], rank));
    if (seen[axis]) return Invalid(node, "axis ", axes[i], " is sliced twice");
    seen[axis] = true;
    const int64_t dim = in[axis], step = steps[i];
    if (step == 0) return Invalid(node, "step 0 on axis ", axes[i]);
    int64_t start = starts[i], end = ends[i];
    if (start < 0) start += dim;  // no overflow: dim >= 0 and start < 0
    if (end < 0) end += dim;
    int64_t size = 0;
    if (step > 0) {
      start = std::clamp<int64_t>(start, 0, dim);
      end = std::clamp<int64_t>(end, 0, dim);
      size = end > start ? (end - start - 1) / step + 1 : 0;  // no overflow for any step
    } else if (dim > 0) {
      start = std::clamp<int64_t>(start, 0, dim - 1);
      end = std::clamp<int64_t>(end, -1, dim - 1);
      // step >= -2^63 + 1 is not guaranteed: widen the division's operands.
      const __int128 span = static_cast<__int128>(start) - end, neg = -static_cast<__int128>(step);
      size = span > 0 ? static_cast<int64_t>((span + neg - 1) / neg) : 0;
    }
    s.start[axis] = size > 0 ? start : 0;
    s.step[axis] = step;
    s.size[axis] = size;
  }
  return s;
}

absl::StatusOr<Shape> SliceShape(const Node& node, const std::vector<Shape>& in, const Graph& graph) {
  TPUSIM_RETURN_IF_ERROR(RequireInputs(node, node.opset >= 10 ? 3 : 1, node.opset >= 10 ? 5 : 1));
  TPUSIM_ASSIGN_OR_RETURN(SliceDims s, ResolveSlice(node, in[0], graph));
  return s.size;
}

// Squeeze: the listed size-1 dims (input `axes` from opset 13, attribute before) are removed; without
// axes every size-1 dim is.
absl::StatusOr<Shape> SqueezeShape(const Node& node, const std::vector<Shape>& in, const Graph& graph) {
  TPUSIM_RETURN_IF_ERROR(RequireInputs(node, 1, node.opset >= 13 ? 2 : 1));
  const Shape& x = in[0];
  TPUSIM_ASSIGN_OR_RETURN(IntList axes, IntsOperand(node, 1, 13, graph, "axes", false));
  std::vector<bool> drop(x.size(), false);
  if (axes.values.empty()) {
    for (size_t i = 0; i < x.size(); ++i) drop[i] = x[i] == 1;
  } else {
    for (int64_t axis : axes.values) {
      TPUSIM_ASSIGN_OR_RETURN(int64_t a, NormalizeAxis(node, axis, static_cast<int64_t>(x.size())));
      if (x[a] != 1) return Invalid(node, "cannot squeeze axis ", axis, " of ", ShapeToString(x), ": its size is not 1");
      drop[a] = true;
    }
  }
  Shape out;
  for (size_t i = 0; i < x.size(); ++i) {
    if (!drop[i]) out.push_back(x[i]);
  }
  return out;
}

// Unsqueeze: a size-1 dim is inserted at each listed axis of the output (rank + number of axes).
absl::StatusOr<Shape> UnsqueezeShape(const Node& node, const std::vector<Shape>& in, const Graph& graph) {
  TPUSIM_RETURN_IF_ERROR(RequireInputs(node, node.opset >= 13 ? 2 : 1, node.opset >= 13 ? 2 : 1));
  const Shape& x = in[0];
  TPUSIM_ASSIGN_OR_RETURN(IntList axes, IntsOperand(node, 1, 13, graph, "axes", true));
  const int64_t rank = static_cast<int64_t>(x.size() + axes.values.size());
  std::vector<bool> inserted(static_cast<size_t>(rank), false);
  for (int64_t axis : axes.values) {
    TPUSIM_ASSIGN_OR_RETURN(int64_t a, NormalizeAxis(node, axis, rank));
    if (inserted[a]) return Invalid(node, "axis ", axis, " is listed twice");
    inserted[a] = true;
  }
  Shape out;
  size_t next = 0;
  for (int64_t i = 0; i < rank; ++i) out.push_back(inserted[i] ? 1 : x[next++]);
  return out;
}

// Expand: numpy broadcasting of the input with the constant `shape` input (either may stretch).
absl::StatusOr<Shape> ExpandShape(const Node& node, const std::vector<Shape>& in, const Graph& graph) {
  TPUSIM_RETURN_IF_ERROR(RequireInputs(node, 2, 2));
  TPUSIM_ASSIGN_OR_RETURN(std::vector<int64_t> target, ConstantInts(node, 1, graph, "shape"));
  for (int64_t d : target) {
    if (d < 0) return Invalid(node, "shape [", absl::StrJoin(target, ","), "] has a negative dimension");
  }
  return BroadcastShapes(node, in[0], target);
}

// Clip: the input's shape; min and max (inputs from opset 11) must hold one value each.
absl::StatusOr<Shape> ClipShape(const Node& node, const std::vector<Shape>& in, const Graph& graph) {
  TPUSIM_RETURN_IF_ERROR(RequireInputs(node, 1, node.opset >= 11 ? 3 : 1));
  for (size_t i = 1; i < in.size(); ++i) {
    if (Present(node, i) && NumElements(in[i]) != 1) {
      return Invalid(node, i == 1 ? "min" : "max", " must be a scalar, not ", ShapeToString(in[i]));
    }
  }
  return in[0];
}

absl::StatusOr<Shape> PowShape(const Node& node, const std::vector<Shape>& in, const Graph& graph) {
  TPUSIM_RETURN_IF_ERROR(RequireInputs(node, 2, 2));
  return BroadcastShapes(node, in[0], in[1]);
}

}  // namespace tpusim::compiler::detail
