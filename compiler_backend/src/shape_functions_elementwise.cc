// Shape functions: shared helpers, elementwise ops, Softmax, Flatten, Reshape, Constant.
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

// Opset < 7 Add/Sub/Mul/Div: without `broadcast` the shapes must match; with it, B is broadcast onto A
// aligned at `axis` (default: suffix-aligned), and size-1 dims of B stretch.
absl::StatusOr<Shape> LegacyBroadcast(const Node& node, const Shape& a, const Shape& b) {
  TPUSIM_ASSIGN_OR_RETURN(int64_t broadcast, node.GetInt("broadcast", 0));
  if (broadcast == 0) {
    if (a != b) {
      return Invalid(node, "shapes ", ShapeToString(a), " and ", ShapeToString(b),
                     " differ and broadcast is off (opset ", node.opset, ")");
    }
    return a;
  }
  const int64_t ra = static_cast<int64_t>(a.size());
  const int64_t rb = static_cast<int64_t>(b.size());
  TPUSIM_ASSIGN_OR_RETURN(int64_t axis, node.GetInt("axis", ra - rb));
  if (rb > ra || axis < 0 || axis + rb > ra) {
    return Invalid(node, "cannot broadcast ", ShapeToString(b), " onto ", ShapeToString(a), " at axis ", axis);
  }
  for (int64_t i = 0; i < rb; ++i) {
    if (b[i] != 1 && b[i] != a[axis + i]) {
      return Invalid(node, "cannot broadcast ", ShapeToString(b), " onto ", ShapeToString(a), " at axis ", axis);
    }
  }
  return a;
}

}  // namespace

absl::Status RequireInputs(const Node& node, size_t min, size_t max) {
  if (node.inputs.size() < min || node.inputs.size() > max) {
    return Invalid(node, "has ", node.inputs.size(), " inputs, expected ",
                   min == max ? absl::StrCat(min) : absl::StrCat(min, " to ", max));
  }
  for (size_t i = 0; i < min; ++i) {
    if (node.inputs[i].empty()) return Invalid(node, "required input ", i, " is missing");
  }
  return absl::OkStatus();
}

absl::StatusOr<int64_t> NormalizeAxis(const Node& node, int64_t axis, int64_t rank, bool allow_rank) {
  const int64_t hi = allow_rank ? rank : rank - 1;
  if (axis < -rank || axis > hi) {
    return Invalid(node, "axis ", axis, " is out of range [", -rank, ", ", hi, "] for rank ", rank);
  }
  return axis < 0 ? axis + rank : axis;
}

absl::StatusOr<Shape> BroadcastShapes(const Node& node, const Shape& a, const Shape& b) {
  const size_t rank = std::max(a.size(), b.size());
  Shape out(rank);
  for (size_t i = 0; i < rank; ++i) {
    const int64_t da = i < rank - a.size() ? 1 : a[i - (rank - a.size())];
    const int64_t db = i < rank - b.size() ? 1 : b[i - (rank - b.size())];
    if (da != db && da != 1 && db != 1) {
      return Invalid(node, "shapes ", ShapeToString(a), " and ", ShapeToString(b), " cannot be broadcast together");
    }
    out[i] = da == 1 ? db : da;
  }
  return out;
}

absl::StatusOr<std::vector<int64_t>> ConstantInts(const Node& node, size_t index, const Graph& graph,
                                                  const std::string& what) {
  const Value* v = Present(node, index) ? graph.FindValue(node.inputs[index]) : nullptr;
  if (v == nullptr || !v->constant.has_value()) {
    return Invalid(node, node.op_type, " needs a constant ", what, Present(node, index) ?
                   absl::StrCat(" (input '", node.inputs[index], "' is computed at run time)") : std::string());
  }
  const Tensor& t = *v->constant;
  if (t.dtype() != DataType::kInt64 || t.shape().size() > 1) {
    return Invalid(node, what, " '", node.inputs[index], "' must be a 1-D int64 tensor, not ",
                   std::string(DataTypeName(t.dtype())), " ", ShapeToString(t.shape()));
  }
  return std::vector<int64_t>(t.as<int64_t>(), t.as<int64_t>() + t.num_elements());
}

absl::StatusOr<Shape> SameShape(const Node& node, const std::vector<Shape>& in, const Graph& graph) {
  TPUSIM_RETURN_IF_ERROR(RequireInputs(node, 1, 1));
  return in[0];
}

absl::StatusOr<Shape> BinaryShape(const Node& node, const std::vector<Shape>& in, const Graph& graph) {
  TPUSIM_RETURN_IF_ERROR(RequireInputs(node, 2, 2));
  if (node.opset < 7) return LegacyBroadcast(node, in[0], in[1]);
  return BroadcastShapes(node, in[0], in[1]);
}

// Opset >= 13: normalise along one axis (default -1). Before: coerce to 2-D at `axis` (default 1), which
// may equal the rank.
absl::StatusOr<Shape> SoftmaxShape(const Node& node, const std::vector<Shape>& in, const Graph& graph) {
  TPUSIM_RETURN_IF_ERROR(RequireInputs(node, 1, 1));
  const bool single_axis = node.opset >= 13;
  TPUSIM_ASSIGN_OR_RETURN(int64_t axis, node.GetInt("axis", single_axis ? -1 : 1));
  TPUSIM_RETURN_IF_ERROR(NormalizeAxis(node, axis, static_cast<int64_t>(in[0].size()), !single_axis).status());
  return in[0];
}

absl::StatusOr<Shape> FlattenShape(const Node& node, const std::vector<Shape>& in, const Graph& graph) {
  TPUSIM_RETURN_IF_ERROR(RequireInputs(node, 1, 1));
  const Shape& x = in[0];
  TPUSIM_ASSIGN_OR_RETURN(int64_t axis, node.GetInt("axis", 1));
  TPUSIM_ASSIGN_OR_RETURN(axis, NormalizeAxis(node, axis, static_cast<int64_t>(x.size()), /*allow_rank=*/true));
  return Shape{NumElements(Shape(x.begin(), x.begin() + axis)), NumElements(Shape(x.begin() + axis, x.end()))};
}

absl::StatusOr<Shape> ReshapeShape(const Node& node, const std::vector<Shape>& in, const Graph& graph) {
  std::vector<int64_t> target;
  if (node.opset < 5) {
    TPUSIM_RETURN_IF_ERROR(RequireInputs(node, 1, 1));
    TPUSIM_ASSIGN_OR_RETURN(target, node.GetInts("shape"));
  } else {
    TPUSIM_RETURN_IF_ERROR(RequireInputs(node, 2, 2));
    TPUSIM_ASSIGN_OR_RETURN(target, ConstantInts(node, 1, graph, "shape"));
  }
  TPUSIM_ASSIGN_OR_RETURN(int64_t allowzero, node.GetInt("allowzero", 0));
  const Shape& x = in[0];
  const auto fail = [&](const std::string& why) {
    return Invalid(node, "cannot reshape ", ShapeToString(x), " to [", absl::StrJoin(target, ","), "]: ", why);
  };
  Shape out(target.size());
  int64_t infer_at = -1;
  int64_t known = 1;
  bool has_zero = false;
  for (size_t i = 0; i < target.size(); ++i) {
    int64_t d = target[i];
    if (d == -1) {
      if (infer_at >= 0) return fail("more than one -1");
      infer_at = static_cast<int64_t>(i);
      continue;
    }
    if (d < -1) return fail("negative dimension");
    if (d == 0 && allowzero == 0) {
      if (i >= x.size()) return fail("0 copies a dimension the input does not have");
      d = x[i];
    }
    has_zero = has_zero || target[i] == 0;
    out[i] = d;
    if (__builtin_mul_overflow(known, d, &known)) return fail("too many elements");
  }
  if (allowzero != 0 && has_zero && infer_at >= 0) return fail("0 and -1 together with allowzero");
  const int64_t total = NumElements(x);
  if (infer_at >= 0) {
    if (known == 0 || total % known != 0) return fail("the -1 dimension cannot be inferred");
    out[infer_at] = total / known;
  } else if (known != total) {
    return fail(absl::StrCat(total, " elements do not fit ", known));
  }
  return out;
}

absl::StatusOr<Shape> ConstantShape(const Node& node, const std::vector<Shape>& in, const Graph& graph) {
  TPUSIM_RETURN_IF_ERROR(RequireInputs(node, 0, 0));
  TPUSIM_ASSIGN_OR_RETURN(Tensor t, ConstantNodeValue(node));
  return t.shape();
}

}  // namespace tpusim::compiler::detail
