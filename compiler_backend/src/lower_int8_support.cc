// The int8-mode ops' support rules, compile-time operands, shape functions and the one definition of
// the device representation of uint8 tensors (docs/quantization.md).
#include <algorithm>
#include <utility>

#include "absl/status/status.h"
#include "absl/strings/str_cat.h"
#include "lower_conv.h"
#include "lower_int8.h"
#include "shape_functions.h"
#include "tpusim/compiler_backend/compiler.h"
#include "tpusim/isa/status_macros.h"

namespace tpusim::compiler {

// ---- The device representation (the one place that defines it) -----------------------------------
// The ISA has int8 but no uint8 element type. A uint8 tensor lives on the device as int8 s = u - 128
// (the byte with its top bit flipped) and its zero point moves by -128 as well, so every difference
// (q - zero_point) the quantized ops compute is unchanged.
Tensor ToDeviceInt8(const Tensor& t) {
  if (t.dtype() != DataType::kUint8) return t;
  Tensor out(DataType::kInt8, t.shape());
  const uint8_t* in = t.data();
  uint8_t* dst = out.data();
  for (size_t i = 0; i < t.byte_size(); ++i) dst[i] = in[i] ^ 0x80u;  // u - 128 in two's complement
  return out;
}

Tensor FromDeviceInt8(const Tensor& t, DataType want) {
  if (want != DataType::kUint8 || t.dtype() != DataType::kInt8) return t;
  Tensor out(DataType::kUint8, t.shape());
  for (size_t i = 0; i < t.byte_size(); ++i) out.data()[i] = t.data()[i] ^ 0x80u;  // s + 128
  return out;
}

bool IsInt8ModeOp(const Node& node) { return detail::IsInt8ModeOpType(node.op_type); }

namespace detail {
namespace {

bool IsQuant(DataType t) { return t == DataType::kInt8 || t == DataType::kUint8; }

absl::Status No(const Node& node, const std::string& why) {
  return absl::UnimplementedError(absl::StrCat(node.op_type, " ", why));
}

}  // namespace

bool IsInt8ModeOpType(std::string_view op_type) {
  return op_type == "MatMulInteger" || op_type == "QLinearMatMul" || op_type == "ConvInteger" || op_type == "QLinearConv";
}

bool IsInt8Conv(const Node& node) { return node.op_type == "ConvInteger" || node.op_type == "QLinearConv"; }

Int8Inputs Int8InputsOf(const Node& node) {
  if (node.op_type == "QLinearMatMul" || node.op_type == "QLinearConv") {
    Int8Inputs in{0, 3, 2, 5, 1, 4, 6, 7, -1};
    if (node.op_type == "QLinearConv") in.bias = 8;
    return in;
  }
  return Int8Inputs{};  // MatMulInteger, ConvInteger: A/X 0, B/W 1, zero points 2 and 3
}

bool HasInt8ModeNodes(const Graph& graph) {
  return std::any_of(graph.nodes.begin(), graph.nodes.end(), [](const Node& n) { return IsInt8ModeOpType(n.op_type); });
}

bool IsInt8CompileTimeOperand(const Node& node, size_t index) {
  if (node.op_type == "MatMulInteger" || node.op_type == "ConvInteger") return index == 2 || index == 3;
  if (node.op_type == "QLinearMatMul" || node.op_type == "QLinearConv") return index == 1 || index == 2 || index >= 4;
  return false;
}

int32_t DeviceZeroPoint(const Tensor* zp, DataType operand) {
  if (zp == nullptr || zp->num_elements() < 1) return operand == DataType::kUint8 ? -128 : 0;
  if (zp->dtype() == DataType::kUint8) return static_cast<int32_t>(zp->as<uint8_t>()[0]) - 128;
  if (zp->dtype() == DataType::kInt8) return zp->as<int8_t>()[0];
  return 0;
}

std::vector<int8_t> Int8Terms(int32_t v) {
  if (v == 0) return {};
  if (v >= -128 && v <= 127) return {static_cast<int8_t>(v)};
  const int32_t half = v / 2;
  return {static_cast<int8_t>(half), static_cast<int8_t>(v - half)};
}

absl::Status CheckInt8Support(const Node& node, const Graph& graph, const std::set<std::string>& compile_time_inputs) {
  const Int8Inputs io = Int8InputsOf(node);
  const size_t need = io.zy >= 0 ? 8 : 2;
  if (node.inputs.size() < need || node.outputs.size() != 1) {
    return No(node, "with missing inputs is not supported on the TPU");
  }
  const Value* a = graph.FindValue(node.inputs[io.a]);
  const Value* b = graph.FindValue(node.inputs[io.b]);
  if (a == nullptr || b == nullptr) return No(node, "refers to an unknown value");
  if (!IsQuant(a->dtype) || !IsQuant(b->dtype)) {
    return No(node, "on the TPU needs int8 or uint8 data and weights");
  }
  auto shape_of = [](const Value* v) -> const Shape* {
    return v->shape.has_value() ? &*v->shape : v->constant.has_value() ? &v->constant->shape() : nullptr;
  };
  if (shape_of(a) == nullptr || shape_of(b) == nullptr) {
    return No(node, "with unknown operand shapes is not supported on the TPU");
  }
  const Shape& as = *shape_of(a);
  const Shape& bs = *shape_of(b);
  for (const Shape* s : {&as, &bs}) {
    if (NumElements(*s) == 0 || NumElements(*s) > (int64_t{1} << 31)) {
      return No(node, absl::StrCat("on a tensor of shape ", ShapeToString(*s), " is not supported on the TPU"));
    }
  }
  if (IsInt8Conv(node)) {
    absl::StatusOr<ConvGeometry> g = ResolveConv(node, as, bs);
    if (!g.ok()) return No(node, absl::StrCat("is not supported on the TPU: ", g.status().message()));
    if (g->group != 1) return No(node, "with group > 1 is not supported on the TPU (int8 mode)");
    if (g->spatial_rank() < 1 || g->spatial_rank() > 2) {
      return No(node, "with other than 1 or 2 spatial dims is not supported on the TPU (int8 mode)");
    }
  } else {
    if (as.size() < 2 || bs.size() < 2) return No(node, "with a 1-D operand is not supported on the TPU (int8 mode)");
    const Shape ab(as.begin(), as.end() - 2), bb(bs.begin(), bs.end() - 2);
    if (!ab.empty() && !bb.empty() && ab != bb) {
      return No(node, "with broadcast batch dimensions is not supported on the TPU (int8 mode)");
    }
  }
  for (size_t i = 0; i < node.inputs.size(); ++i) {
    if (node.inputs[i].empty() || !IsInt8CompileTimeOperand(node, i)) continue;
    const Value* v = graph.FindValue(node.inputs[i]);
    const bool known = v != nullptr && (v->constant.has_value() || compile_time_inputs.count(node.inputs[i]) != 0);
    if (!known) return No(node, absl::StrCat("with input ", i, " computed at run time is not supported on the TPU"));
    const Shape* shape = shape_of(v);
    if (static_cast<int>(i) == io.bias) {
      if (v->dtype != DataType::kInt32) return No(node, "needs an int32 bias");
      continue;
    }
    if (shape != nullptr && NumElements(*shape) != 1) {
      return No(node, absl::StrCat("with a per-axis scale or zero point (input ", i,
                                   ") is not supported on the TPU (int8 mode lowers scalar ones)"));
    }
  }
  for (int i : {io.sa, io.sb, io.sy}) {
    if (i >= 0 && graph.FindValue(node.inputs[i])->dtype != DataType::kFloat32) return No(node, "needs float32 scales");
  }
  for (auto [zp, operand] : {std::pair{io.za, io.a}, std::pair{io.zb, io.b}, std::pair{io.zy, -1}}) {
    if (zp < 0 || static_cast<size_t>(zp) >= node.inputs.size() || node.inputs[zp].empty()) continue;
    const DataType zt = graph.FindValue(node.inputs[zp])->dtype;
    const DataType want = operand >= 0 ? graph.FindValue(node.inputs[operand])->dtype : zt;
    if (!IsQuant(zt) || zt != want) return No(node, "needs int8 or uint8 zero points of its operand's type");
  }
  return absl::OkStatus();
}

namespace {
absl::StatusOr<Shape> MatMulOf(const Node& node, const Shape& a, const Shape& b, const Graph& graph) {
  Node mm = node;
  mm.inputs = {"a", "b"};
  return MatMulShape(mm, {a, b}, graph);
}
}  // namespace

absl::StatusOr<Shape> MatMulIntegerShape(const Node& node, const std::vector<Shape>& in, const Graph& graph) {
  TPUSIM_RETURN_IF_ERROR(RequireInputs(node, 2, 4));
  return MatMulOf(node, in[0], in[1], graph);
}

absl::StatusOr<Shape> QLinearMatMulShape(const Node& node, const std::vector<Shape>& in, const Graph& graph) {
  TPUSIM_RETURN_IF_ERROR(RequireInputs(node, 8, 8));
  return MatMulOf(node, in[0], in[3], graph);
}

namespace {
absl::StatusOr<Shape> ConvOf(const Node& node, const Shape& x, const Shape& w, const Graph& graph) {
  Node conv = node;
  conv.inputs = {"x", "w"};
  return ConvShape(conv, {x, w}, graph);
}
}  // namespace

absl::StatusOr<Shape> ConvIntegerShape(const Node& node, const std::vector<Shape>& in, const Graph& graph) {
  TPUSIM_RETURN_IF_ERROR(RequireInputs(node, 2, 4));
  return ConvOf(node, in[0], in[1], graph);
}

absl::StatusOr<Shape> QLinearConvShape(const Node& node, const std::vector<Shape>& in, const Graph& graph) {
  TPUSIM_RETURN_IF_ERROR(RequireInputs(node, 8, 9));
  return ConvOf(node, in[0], in[3], graph);
}

}  // namespace detail
}  // namespace tpusim::compiler
