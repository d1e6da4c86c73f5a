// Shape functions: MatMul, Gemm, ArgMax/ArgMin, Reduce*, Transpose, Concat.
#include <set>
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

}  // namespace

// numpy.matmul: a 1-D left operand gets a leading 1 and a 1-D right operand a trailing 1 (both removed
// from the result); the leading (batch) dims broadcast.
absl::StatusOr<Shape> MatMulShape(const Node& node, const std::vector<Shape>& in, const Graph& graph) {
  TPUSIM_RETURN_IF_ERROR(RequireInputs(node, 2, 2));
  Shape a = in[0];
  Shape b = in[1];
  const std::string operands = absl::StrCat(ShapeToString(a), " x ", ShapeToString(b));
  if (a.empty() || b.empty()) return Invalid(node, "operands must not be scalars: ", operands);
  const bool a_vector = a.size() == 1;
  const bool b_vector = b.size() == 1;
  if (a_vector) a.insert(a.begin(), 1);
  if (b_vector) b.push_back(1);
  if (a.back() != b[b.size() - 2]) return Invalid(node, "inner dimensions differ: ", operands);
  const Shape a_batch(a.begin(), a.end() - 2);
  const Shape b_batch(b.begin(), b.end() - 2);
  absl::StatusOr<Shape> batch = BroadcastShapes(node, a_batch, b_batch);
  if (!batch.ok()) return Invalid(node, "batch dimensions cannot be broadcast: ", operands);
  Shape out = *std::move(batch);
  if (!a_vector) out.push_back(a[a.size() - 2]);
  if (!b_vector) out.push_back(b.back());
  return out;
}

// Y = alpha * op(A) * op(B) + beta * C: A, B 2-D; C (optional) unidirectionally broadcastable to (M, N).
absl::StatusOr<Shape> GemmShape(const Node& node, const std::vector<Shape>& in, const Graph& graph) {
  TPUSIM_RETURN_IF_ERROR(RequireInputs(node, 2, 3));
  const Shape& a = in[0];
  const Shape& b = in[1];
  if (a.size() != 2 || b.size() != 2) {
    return Invalid(node, "A and B must be 2-D: ", ShapeToString(a), " x ", ShapeToString(b));
  }
  TPUSIM_ASSIGN_OR_RETURN(int64_t trans_a, node.GetInt("transA", 0));
  TPUSIM_ASSIGN_OR_RETURN(int64_t trans_b, node.GetInt("transB", 0));
  const int64_t m = trans_a ? a[1] : a[0];
  const int64_t k = trans_a ? a[0] : a[1];
  const int64_t kb = trans_b ? b[1] : b[0];
  const int64_t n = trans_b ? b[0] : b[1];
  if (k != kb) {
    return Invalid(node, "inner dimensions differ: ", ShapeToString(a), " x ", ShapeToString(b),
                   " (transA=", trans_a, ", transB=", trans_b, ")");
  }
  const Shape out = {m, n};
  if (Present(node, 2)) {
    const Shape& c = in[2];
    bool ok = c.size() <= 2;
    for (size_t i = 0; ok && i < c.size(); ++i) {
      const int64_t target = out[2 - c.size() + i];
      ok = c[i] == 1 || c[i] == target;
    }
    if (!ok) return Invalid(node, "C ", ShapeToString(c), " is not broadcastable to ", ShapeToString(out));
  }
  return out;
}

// ArgMax / ArgMin: `axis` (default 0) is removed, or kept as 1 when keepdims (default 1).
absl::StatusOr<Shape> ArgReduceShape(const Node& node, const std::vector<Shape>& in, const Graph& graph) {
  TPUSIM_RETURN_IF_ERROR(RequireInputs(node, 1, 1));
  Shape out = in[0];
  TPUSIM_ASSIGN_OR_RETURN(int64_t axis, node.GetInt("axis", 0));
  TPUSIM_ASSIGN_OR_RETURN(int64_t keepdims, node.GetInt("keepdims", 1));
  TPUSIM_ASSIGN_OR_RETURN(axis, NormalizeAxis(node, axis, static_cast<int64_t>(out.size())));
  if (keepdims != 0) {
    out[axis] = 1;
  } else {
    out.erase(out.begin() + axis);
  }
  return out;
}

absl::StatusOr<std::vector<bool>> ReduceAxes(const Node& node, int64_t rank, const Graph& graph) {
  std::vector<int64_t> axes;
  if (Present(node, 1)) {
    TPUSIM_ASSIGN_OR_RETURN(axes, ConstantInts(node, 1, graph, "axes"));
  } else {
    TPUSIM_ASSIGN_OR_RETURN(axes, node.GetInts("axes", std::vector<int64_t>{}));
  }
  TPUSIM_ASSIGN_OR_RETURN(int64_t noop, node.GetInt("noop_with_empty_axes", 0));
  if (axes.empty()) return std::vector<bool>(static_cast<size_t>(rank), noop == 0);
  std::vector<bool> reduced(static_cast<size_t>(rank), false);
  for (int64_t axis : axes) {
    TPUSIM_ASSIGN_OR_RETURN(int64_t a, NormalizeAxis(node, axis, rank));
    if (reduced[a]) return Invalid(node, "axis ", axis, " is reduced twice");
    reduced[a] = true;
  }
  return reduced;
}

// Reduce*: the reduced dims (ReduceAxes) are removed, or kept as 1 when keepdims (default 1).
absl::StatusOr<Shape> ReduceShape(const Node& node, const std::vector<Shape>& in, const Graph& graph) {
  TPUSIM_RETURN_IF_ERROR(RequireInputs(node, 1, 2));
  const Shape& x = in[0];
  TPUSIM_ASSIGN_OR_RETURN(std::vector<bool> reduced, ReduceAxes(node, static_cast<int64_t>(x.size()), graph));
  TPUSIM_ASSIGN_OR_RETURN(int64_t keepdims, node.GetInt("keepdims", 1));
  Shape out;
  for (size_t i = 0; i < x.size(); ++i) {
    if (!reduced[i]) {
      out.push_back(x[i]);
    } else if (keepdims != 0) {
      out.push_back(1);
    }
  }
  return out;
}

absl::StatusOr<Shape> TransposeShape(const Node& node, const std::vector<Shape>& in, const Graph& graph) {
  TPUSIM_RETURN_IF_ERROR(RequireInputs(node, 1, 1));
  const Shape& x = in[0];
  const int64_t rank = static_cast<int64_t>(x.size());
  std::vector<int64_t> reversed;
  for (int64_t i = rank - 1; i >= 0; --i) reversed.push_back(i);
  TPUSIM_ASSIGN_OR_RETURN(std::vector<int64_t> perm, node.GetInts("perm", reversed));
  std::set<int64_t> seen;
  for (int64_t p : perm) {
    if (p < 0 || p >= rank || !seen.insert(p).second) break;
  }
  if (static_cast<int64_t>(perm.size()) != rank || static_cast<int64_t>(seen.size()) != rank) {
    return Invalid(node, "perm [", absl::StrJoin(perm, ","), "] is not a permutation of the axes of ",
                   ShapeToString(x));
  }
  Shape out;
  for (int64_t p : perm) out.push_back(x[p]);
  return out;
}

absl::StatusOr<Shape> ConcatShape(const Node& node, const std::vector<Shape>& in, const Graph& graph) {
  TPUSIM_RETURN_IF_ERROR(RequireInputs(node, 1, node.inputs.size() < 1 ? 1 : node.inputs.size()));
  for (size_t i = 0; i < node.inputs.size(); ++i) {
    if (!Present(node, i)) return Invalid(node, "input ", i, " is missing");
  }
  // Concat-1 defaulted axis to 1; from opset 4 it is required.
  std::optional<int64_t> dflt;
  if (node.opset < 4) dflt = 1;
  TPUSIM_ASSIGN_OR_RETURN(int64_t axis, node.GetInt("axis", dflt));
  Shape out = in[0];
  TPUSIM_ASSIGN_OR_RETURN(axis, NormalizeAxis(node, axis, static_cast<int64_t>(out.size())));
  for (size_t i = 1; i < in.size(); ++i) {
    bool ok = in[i].size() == out.size();
    for (size_t d = 0; ok && d < out.size(); ++d) ok = static_cast<int64_t>(d) == axis || in[i][d] == out[d];
    if (!ok) {
      return Invalid(node, "input ", i, " has shape ", ShapeToString(in[i]), ", which does not concatenate with ",
                     ShapeToString(in[0]), " along axis ", axis);
    }
    if (__builtin_add_overflow(out[axis], in[i][axis], &out[axis])) return Invalid(node, "too many elements");
  }
  return out;
}

}  // namespace tpusim::compiler::detail
