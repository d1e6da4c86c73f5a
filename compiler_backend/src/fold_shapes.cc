// FoldShapeSubgraphs (compiler.h): compile-time evaluation of the shape computations exporters emit
// (PyTorch: Shape -> Gather -> Unsqueeze -> Concat -> Reshape). A node folds when what it reads is
// known: Shape and Size need only their input's shape; the others need every present input constant.
// Folded outputs become constants (Value::constant) and the node leaves the graph, as the frontend does
// with Constant nodes. Arithmetic (Neg, Add, Sub, Mul, Div) folds on integer tensors only, so float compute
// stays where placement puts it; the data-movement ops fold on any type. Outputs above kMaxFoldElements
// are left alone (a ConstantOfShape of activations' size is better computed than stored). A node whose
// evaluation fails (an index out of range, a Cast to a type the IR lacks) is left for its kernel.
// A Cast to the type its input already has becomes an Identity.
#include <algorithm>
#include <cmath>
#include <cstring>
#include <optional>
#include <set>
#include <string>
#include <utility>
#include <vector>

#include "absl/status/status.h"
#include "absl/strings/str_cat.h"
#include "internal.h"
#include "shape_functions.h"
#include "tpusim/compiler_backend/compiler.h"
#include "tpusim/compiler_backend/shape_inference.h"
#include "tpusim/isa/status_macros.h"

namespace tpusim::compiler {
namespace {

constexpr int64_t kMaxFoldElements = int64_t{1} << 16;

bool IsInt(DataType t) { return t == DataType::kInt64 || t == DataType::kInt32 || t == DataType::kInt8; }

int64_t IntAt(const Tensor& t, int64_t i) {
  switch (t.dtype()) {
    case DataType::kInt64: return t.as<int64_t>()[i];
    case DataType::kInt32: return t.as<int32_t>()[i];
    case DataType::kInt8: return t.as<int8_t>()[i];
    case DataType::kFloat32: return static_cast<int64_t>(t.as<float>()[i]);
    default: return t.as<uint8_t>()[i];  // bool, uint8
  }
}
double RealAt(const Tensor& t, int64_t i) {
  return t.dtype() == DataType::kFloat32 ? t.as<float>()[i] : static_cast<double>(IntAt(t, i));
}
void SetAt(Tensor& t, int64_t i, double real, int64_t integer) {
  switch (t.dtype()) {
    case DataType::kInt64: t.as<int64_t>()[i] = integer; break;
    case DataType::kInt32: t.as<int32_t>()[i] = static_cast<int32_t>(integer); break;
    case DataType::kInt8: t.as<int8_t>()[i] = static_cast<int8_t>(integer); break;
    case DataType::kBool: t.as<uint8_t>()[i] = integer != 0; break;
    case DataType::kFloat32: t.as<float>()[i] = static_cast<float>(real); break;
    default: t.as<uint8_t>()[i] = static_cast<uint8_t>(integer); break;  // uint8
  }
}

// Element offset into `in` (numpy-broadcast to `out`) of output element `e`.
int64_t BroadcastOffset(const Shape& in, const Shape& out, int64_t e) {
  int64_t off = 0, in_stride = 1;
  for (size_t k = 0; k < out.size(); ++k) {
    const size_t d = out.size() - 1 - k;
    const int64_t idx = e % out[d];
    e /= out[d];
    if (k < in.size()) {
      const int64_t n = in[in.size() - 1 - k];
      if (n != 1) off += idx * in_stride;
      in_stride *= n;
    }
  }
  return off;
}

// The folded outputs of `node` (every needed input known), or std::nullopt when it does not fold.
absl::StatusOr<std::optional<Tensor>> Evaluate(const Node& node, const std::vector<const Tensor*>& in,
                                               const std::vector<Shape>& shapes, const Graph& graph) {
  const std::string& op = node.op_type;
  if (op == "Shape") {
    const int64_t rank = static_cast<int64_t>(shapes[0].size());
    TPUSIM_ASSIGN_OR_RETURN(int64_t start, node.GetInt("start", 0));
    TPUSIM_ASSIGN_OR_RETURN(int64_t end, node.GetInt("end", rank));
    start = std::clamp<int64_t>(start < 0 ? start + rank : start, 0, rank);
    end = std::clamp<int64_t>(end < 0 ? end + rank : end, 0, rank);
    std::vector<int64_t> dims(shapes[0].begin() + start, shapes[0].begin() + std::max(start, end));
    return Tensor::FromInt64s({static_cast<int64_t>(dims.size())}, dims);
  }
  if (op == "Size") return Tensor::FromInt64s({}, {NumElements(shapes[0])});
  if (op == "ConstantOfShape") {
    std::vector<int64_t> dims(in[0]->as<int64_t>(), in[0]->as<int64_t>() + in[0]->num_elements());
    Tensor value = Tensor::FromFloats({1}, {0.0f});
    if (auto it = node.attrs.find("value"); it != node.attrs.end() && std::holds_alternative<Tensor>(it->second)) {
      value = std::get<Tensor>(it->second);
    }
    if (NumElements(dims) > kMaxFoldElements || value.num_elements() != 1) return std::optional<Tensor>();
    Tensor out(value.dtype(), dims);
    const size_t esize = DataTypeBytes(value.dtype());
    for (int64_t i = 0; i < out.num_elements(); ++i) std::memcpy(out.data() + i * esize, value.data(), esize);
    return out;
  }
  if (op == "Range") {
    const double start = RealAt(*in[0], 0), limit = RealAt(*in[1], 0), delta = RealAt(*in[2], 0);
    if (delta == 0) return absl::InvalidArgumentError(absl::StrCat(detail::NodeLabel(node), ": delta is 0"));
    const int64_t n = std::max<int64_t>(0, static_cast<int64_t>(std::ceil((limit - start) / delta)));
    if (n > kMaxFoldElements) return std::optional<Tensor>();
    Tensor out(in[0]->dtype(), {n});
    const int64_t istart = IntAt(*in[0], 0), idelta = IntAt(*in[2], 0);
    for (int64_t i = 0; i < n; ++i) SetAt(out, i, start + i * delta, istart + i * idelta);
    return out;
  }
  if (op == "Neg") {
    if (!IsInt(in[0]->dtype())) return std::optional<Tensor>();
    Tensor out(in[0]->dtype(), in[0]->shape());
    for (int64_t i = 0; i < out.num_elements(); ++i) SetAt(out, i, 0, -IntAt(*in[0], i));
    return out;
  }
  if (op == "Cast") {
    TPUSIM_ASSIGN_OR_RETURN(int64_t to, node.GetInt("to"));
    TPUSIM_ASSIGN_OR_RETURN(DataType dtype, detail::DataTypeFromOnnx(static_cast<int32_t>(to), "Cast 'to'"));
    Tensor out(dtype, in[0]->shape());
    for (int64_t i = 0; i < out.num_elements(); ++i) SetAt(out, i, RealAt(*in[0], i), IntAt(*in[0], i));
    return out;
  }
  const bool arith = op == "Add" || op == "Sub" || op == "Mul" || op == "Div";
  if (arith || op == "Equal" || op == "Where") {
    Shape out_shape;
    for (const Shape& s : shapes) {
      const size_t rank = std::max(out_shape.size(), s.size());
      Shape b(rank, 1);
      for (size_t k = 0; k < rank; ++k) {
        const int64_t x = k < out_shape.size() ? out_shape[out_shape.size() - 1 - k] : 1;
        const int64_t y = k < s.size() ? s[s.size() - 1 - k] : 1;
        if (x != y && x != 1 && y != 1) return std::optional<Tensor>();  // shape inference reports it
        b[rank - 1 - k] = x == 1 ? y : x;
      }
      out_shape = b;
    }
    const Tensor& a = *in[op == "Where" ? 1 : 0];
    const Tensor& b = *in[op == "Where" ? 2 : 1];
    if (arith && (!IsInt(a.dtype()) || a.dtype() != b.dtype())) return std::optional<Tensor>();
    Tensor out(op == "Equal" ? DataType::kBool : a.dtype(), out_shape);
    const Shape& sa = a.shape();
    const Shape& sb = b.shape();
    for (int64_t e = 0; e < out.num_elements(); ++e) {
      const int64_t ia = BroadcastOffset(sa, out_shape, e), ib = BroadcastOffset(sb, out_shape, e);
      if (op == "Where") {
        const bool c = IntAt(*in[0], BroadcastOffset(in[0]->shape(), out_shape, e)) != 0;
        const Tensor& src = c ? a : b;
        SetAt(out, e, RealAt(src, c ? ia : ib), IntAt(src, c ? ia : ib));
      } else if (op == "Equal") {
        SetAt(out, e, 0, IsInt(a.dtype()) ? IntAt(a, ia) == IntAt(b, ib) : RealAt(a, ia) == RealAt(b, ib));
      } else {
        const int64_t x = IntAt(a, ia), y = IntAt(b, ib);
        if (op == "Div" && y == 0) return absl::InvalidArgumentError(absl::StrCat(detail::NodeLabel(node), ": division by 0"));
        const int64_t r = op == "Add" ? x + y : op == "Sub" ? x - y : op == "Mul" ? x * y : x / y;
        SetAt(out, e, static_cast<double>(r), r);
      }
    }
    return out;
  }
  // Data movement: the output shape from the compiler's shape functions, then the bytes.
  TPUSIM_ASSIGN_OR_RETURN(std::vector<Shape> out_shapes, InferNodeShapes(node, shapes, graph));
  const Shape& out_shape = out_shapes[0];
  if (NumElements(out_shape) > kMaxFoldElements) return std::optional<Tensor>();
  const Tensor& x = *in[0];
  if (op == "Identity" || op == "Reshape" || op == "Squeeze" || op == "Unsqueeze" || op == "Flatten") {
    TPUSIM_ASSIGN_OR_RETURN(Tensor out, x.Reshaped(out_shape));
    return out;
  }
  const size_t esize = DataTypeBytes(x.dtype());
  Tensor out(x.dtype(), out_shape);
  const int64_t n_out = out.num_elements();
  if (op == "Gather" || op == "Concat") {
    TPUSIM_ASSIGN_OR_RETURN(int64_t axis, node.GetInt("axis", 0));
    TPUSIM_ASSIGN_OR_RETURN(axis, detail::NormalizeAxis(node, axis, static_cast<int64_t>(x.shape().size())));
    int64_t outer = 1, inner = 1;
    for (int64_t d = 0; d < axis; ++d) outer *= x.shape()[d];
    for (size_t d = axis + 1; d < x.shape().size(); ++d) inner *= x.shape()[d];
    if (op == "Gather") {
      const int64_t extent = x.shape()[axis], n = in[1]->num_elements();
      for (int64_t j = 0; j < n; ++j) {
        int64_t i = IntAt(*in[1], j);
        if (i < -extent || i >= extent) {
          return absl::InvalidArgumentError(absl::StrCat(detail::NodeLabel(node), ": index ", i, " out of range"));
        }
        if (i < 0) i += extent;
        for (int64_t o = 0; o < outer; ++o) {
          std::memcpy(out.data() + (o * n + j) * inner * esize, x.data() + (o * extent + i) * inner * esize, inner * esize);
        }
      }
      return out;
    }
    int64_t col = 0;
    const int64_t out_row = out_shape[axis] * inner;
    for (const Tensor* t : in) {
      const int64_t row = t->shape()[axis] * inner;
      for (int64_t o = 0; o < outer; ++o) {
        std::memcpy(out.data() + (o * out_row + col) * esize, t->data() + o * row * esize, row * esize);
      }
      col += row;
    }
    return out;
  }
  if (op == "Slice") {
    TPUSIM_ASSIGN_OR_RETURN(detail::SliceDims s, detail::ResolveSlice(node, x.shape(), graph));
    const Shape& xs = x.shape();
    for (int64_t e = 0; e < n_out; ++e) {
      int64_t rest = e, src = 0, stride = 1;
      for (size_t d = xs.size(); d-- > 0;) {
        src += (s.start[d] + rest % out_shape[d] * s.step[d]) * stride;
        rest /= out_shape[d];
        stride *= xs[d];
      }
      std::memcpy(out.data() + e * esize, x.data() + src * esize, esize);
    }
    return out;
  }
  return std::optional<Tensor>();
}

const std::set<std::string>& FoldableOps() {
  static const auto* ops = new std::set<std::string>{
      "Shape", "Size",  "Gather", "Slice", "Concat", "Unsqueeze", "Squeeze", "Reshape", "Flatten", "Identity",
      "Cast",  "Equal", "Where",  "ConstantOfShape", "Range", "Neg", "Add", "Sub", "Mul", "Div"};
  return *ops;
}

// A Cast to the type its input already has.
bool IsNoOpCast(const Node& node, const Graph& graph) {
  if (node.op_type != "Cast" || node.inputs.size() != 1 || node.outputs.size() != 1) return false;
  const Value* v = graph.FindValue(node.inputs[0]);
  absl::StatusOr<int64_t> to = node.GetInt("to");
  if (v == nullptr || !to.ok()) return false;
  absl::StatusOr<DataType> dtype = detail::DataTypeFromOnnx(static_cast<int32_t>(*to), "Cast 'to'");
  return dtype.ok() && *dtype == v->dtype;
}

}  // namespace

absl::StatusOr<int> FoldShapeSubgraphs(Graph& graph) {
  std::vector<Node> kept;
  int folded = 0;
  for (Node& node : graph.nodes) {
    if (IsNoOpCast(node, graph)) {  // e.g. LayerNormalization's expansion casting to its stash type
      node.op_type = "Identity";
      node.attrs.clear();
    }
    bool known = FoldableOps().count(node.op_type) != 0 && node.outputs.size() == 1 && !node.inputs.empty();
    const bool shape_only = node.op_type == "Shape" || node.op_type == "Size";
    std::vector<const Tensor*> in(node.inputs.size(), nullptr);
    std::vector<Shape> shapes(node.inputs.size());
    for (size_t i = 0; known && i < node.inputs.size(); ++i) {
      if (node.inputs[i].empty()) continue;
      const Value* v = graph.FindValue(node.inputs[i]);
      if (v != nullptr && v->constant.has_value()) {
        in[i] = &*v->constant;
        shapes[i] = v->constant->shape();
      } else if (shape_only && i == 0 && v != nullptr && v->shape.has_value()) {
        shapes[i] = *v->shape;
      } else {
        known = false;
      }
    }
    std::optional<Tensor> value;
    if (known) {  // an op that fails here stays in the graph: its kernel reports the error at run time
      absl::StatusOr<std::optional<Tensor>> result = Evaluate(node, in, shapes, graph);
      if (result.ok()) value = *std::move(result);
    }
    if (!value.has_value()) {
      kept.push_back(std::move(node));
      continue;
    }
    Value& out = graph.values[node.outputs[0]];
    out.name = node.outputs[0];
    out.dtype = value->dtype();
    out.shape = value->shape();
    out.constant = std::move(*value);
    ++folded;
  }
  graph.nodes = std::move(kept);
  return folded;
}

}  // namespace tpusim::compiler
