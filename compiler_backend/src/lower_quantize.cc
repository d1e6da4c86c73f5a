// QuantizeLinear and DequantizeLinear in float mode (docs/quantization.md "Conversions on the TPU"):
// the int8 side is an i8 DMA (LOAD sign-extends into an int32 word, STORE narrows a word with int8
// saturation), the conversion is the vector unit's cvt_i2f / cvt_f2i, the arithmetic is fp32. uint8
// tensors are on the device as u - 128 with the zero point shifted by -128 (ToDeviceInt8), so the
// differences x - zero_point are unchanged.
//
//   DequantizeLinear: LOAD i8 (or i32) -> cvt_i2f -> add_imm(-fp32(z)) -> mul_imm(scale) -> STORE f32
//       = (fp32(x) - fp32(z)) * scale, the CPU kernel's fp32 arithmetic bit for bit (x - z is exact for
//       int8 and uint8; for int32 both sides round fp32(x) and fp32(z) the same way, and a + (-b) is
//       a - b in IEEE). A subnormal scale would be flushed: CheckQuantizeSupport keeps those on the CPU.
//   QuantizeLinear:   LOAD f32 -> div(x, scale) -> cvt_f2i -> cvt_i2f -> add_imm(z) -> cvt_f2i -> STORE i8
//       = saturate(round_half_even(x / scale) + z): the fp32 division is the CPU kernel's; cvt_f2i rounds
//       half to even (NaN -> 0, so a NaN quotient gives saturate(z), as on the CPU); r + z is exact in
//       fp32 while |r| < 2^24 - 128 and any larger |r| saturates either way; the i8 STORE saturates
//       to [-128, 127], which is [0, 255] for uint8 in the device representation. Subnormal x flushes
//       to 0, which differs from the CPU only when |scale| < 2^-125 (CPU fallback).
//   Per-axis scales and zero points (1-D, one per index of `axis`) are expanded at compile time to fp32
//   constants of x's size, and the imm steps become binary ops with them (add of -z / + z, mul, div): the same
//   fp32 operations element by element.
#include <algorithm>
#include <cmath>
#include <cstdint>
#include <optional>
#include <set>
#include <string>
#include <vector>

#include "absl/status/status.h"
#include "absl/strings/str_cat.h"
#include "codegen_vector.h"
#include "internal.h"
#include "lower_int8.h"
#include "lowering.h"
#include "tpusim/compiler_backend/compiler.h"
#include "tpusim/isa/isa.h"
#include "tpusim/isa/status_macros.h"

namespace tpusim::compiler {
namespace {

bool IsQuant(DataType t) { return t == DataType::kInt8 || t == DataType::kUint8; }

absl::Status No(const Node& node, const std::string& why) {
  return absl::UnimplementedError(absl::StrCat(node.op_type, " ", why));
}

// The smallest |scale| whose results the TPU matches bit for bit (see the file comment).
constexpr float kMinScale = 0x1p-125f;

// The output type of QuantizeLinear: the zero point's, else output_dtype, else uint8.
absl::StatusOr<DataType> QuantizeOutputType(const Node& node, const Value* zp) {
  if (zp != nullptr) return zp->dtype;
  TPUSIM_ASSIGN_OR_RETURN(int64_t output_dtype, node.GetInt("output_dtype", 0));
  if (output_dtype == 3) return DataType::kInt8;
  if (output_dtype == 0 || output_dtype == 2) return DataType::kUint8;
  return No(node, absl::StrCat("with output_dtype ", output_dtype, " is not supported on the TPU"));
}

}  // namespace

namespace detail {

bool IsQuantizeCompileTimeOperand(const Node& node, size_t index) {
  return (node.op_type == "QuantizeLinear" || node.op_type == "DequantizeLinear") && (index == 1 || index == 2);
}

absl::StatusOr<Shape> QuantizeLinearShape(const Node& node, const std::vector<Shape>& in, const Graph&) {
  if (in.size() < 2 || in.size() > 3 || node.inputs[0].empty()) {
    return absl::InvalidArgumentError(absl::StrCat(NodeLabel(node), ": has ", in.size(),
                                                   " inputs, expected 2 or 3"));
  }
  return in[0];
}

absl::Status CheckQuantizeSupport(const Node& node, const Graph& graph, const std::set<std::string>& compile_time_inputs) {
  if (node.inputs.size() < 2 || node.outputs.size() != 1 || node.inputs[0].empty() || node.inputs[1].empty()) {
    return No(node, "with missing inputs is not supported on the TPU");
  }
  const bool quantize = node.op_type == "QuantizeLinear";
  const Value* x = graph.FindValue(node.inputs[0]);
  const Value* y = graph.FindValue(node.outputs[0]);
  if (x == nullptr || y == nullptr) return No(node, "refers to an unknown value");
  if (!x->shape.has_value()) return No(node, "on a tensor of unknown shape is not supported on the TPU");
  absl::StatusOr<int64_t> block = node.GetInt("block_size", 0);
  if (!block.ok() || *block != 0) return No(node, "with blocked scales is not supported on the TPU");
  const Value* values[2] = {nullptr, nullptr};  // scale, zero point
  for (size_t i = 1; i < node.inputs.size() && i <= 2; ++i) {
    if (node.inputs[i].empty()) continue;
    const Value* v = graph.FindValue(node.inputs[i]);
    if (v == nullptr) return No(node, "refers to an unknown value");
    const bool known = v->constant.has_value() || compile_time_inputs.count(node.inputs[i]) != 0;
    if (!known) return No(node, "with a scale or zero point computed at run time is not supported on the TPU");
    const Shape* s = v->constant.has_value() ? &v->constant->shape() : (v->shape ? &*v->shape : nullptr);
    if (s == nullptr || s->size() > 1) return No(node, "with a scale or zero point of rank > 1 is not supported on the TPU");
    if (NumElements(*s) != 1) {  // per-axis: one value per index of `axis`
      absl::StatusOr<int64_t> axis = node.GetInt("axis", 1);
      const int64_t rank = static_cast<int64_t>(x->shape->size());
      if (!axis.ok() || *axis < -rank || *axis >= rank) return No(node, "with a bad axis is not supported on the TPU");
      const int64_t a = *axis < 0 ? *axis + rank : *axis;
      if (NumElements(*s) != (*x->shape)[a]) return No(node, "with a per-axis scale of the wrong length runs on the CPU");
    }
    values[i - 1] = v;
  }
  if (values[0]->dtype != DataType::kFloat32) return No(node, "with a non-float32 scale is not supported on the TPU");
  if (values[0]->constant.has_value()) {
    const Tensor& t = *values[0]->constant;
    for (int64_t i = 0; i < t.num_elements(); ++i) {
      const float scale = t.as<float>()[i];
      if (!std::isnan(scale) && std::fabs(scale) < kMinScale) {
        return No(node, absl::StrCat("with scale ", scale, " (|scale| < 2^-125, flushed by the vector unit) runs on the CPU"));
      }
    }
  }
  if (quantize) {
    if (x->dtype != DataType::kFloat32) return No(node, "on the TPU needs float32 input");
    TPUSIM_ASSIGN_OR_RETURN(DataType t, QuantizeOutputType(node, values[1]));
    if (!IsQuant(t) || y->dtype != t) return No(node, "on the TPU produces int8 or uint8 only");
  } else {
    if (!IsQuant(x->dtype) && x->dtype != DataType::kInt32) return No(node, "on the TPU needs int8, uint8 or int32 input");
    if (values[1] != nullptr && values[1]->dtype != x->dtype) return No(node, "with a zero point of another type than x");
    if (y->dtype != DataType::kFloat32) return No(node, "on the TPU produces float32 only");
  }
  if (NumElements(*x->shape) > (int64_t{1} << 31)) return No(node, "on more than 2^31 elements is not supported on the TPU");
  return absl::OkStatus();
}

}  // namespace detail

namespace codegen {
namespace {

// One step of a conversion chain over a chunk `a` of the data: a unary or imm op, or a binary op whose
// b is either `operand` (n contiguous fp32 values, loaded alongside the chunk) or, with `fill`, a row
// filled with imm once per call and broadcast.
struct ConvertStep {
  isa::VectorOp op;
  float imm = 0.0f;
  std::optional<uint64_t> operand;
  bool fill = false;
};

ConvertStep Step(isa::VectorOp op, float imm = 0.0f) { return ConvertStep{op, imm, std::nullopt, false}; }
ConvertStep WithOperand(isa::VectorOp op, std::optional<uint64_t> operand) { return ConvertStep{op, 0.0f, operand, false}; }
ConvertStep WithFilledRow(isa::VectorOp op, float imm) { return ConvertStep{op, imm, std::nullopt, true}; }

// Streams n contiguous elements from `in` (in_dtype) through `steps` to `out` (out_dtype): full UB rows
// plus one partial row, chunks that fit the UB, double-buffered under kTokens.
void EmitConvert(CodegenContext& ctx, isa::DType in_dtype, uint64_t in, isa::DType out_dtype, uint64_t out,
                 uint64_t n, const std::vector<ConvertStep>& steps) {
  const uint64_t L = ctx.lanes();
  const uint64_t in_bytes = isa::DTypeBytes(in_dtype), out_bytes = isa::DTypeBytes(out_dtype);
  const bool fill = std::any_of(steps.begin(), steps.end(), [](const ConvertStep& s) { return s.fill; });
  const bool operands = std::any_of(steps.begin(), steps.end(), [](const ConvertStep& s) { return s.operand.has_value(); });
  const uint64_t slots = ctx.overlapped() ? 2 : 1;
  UbAllocator ub = ctx.NewUb();
  const uint64_t fill_row = fill ? ub.Take(1) : 0;
  const uint64_t chunk_cap = std::min<uint64_t>(ub.free() / (slots * (operands ? 2 : 1)), kMaxInstRows);
  TPUSIM_CHECK(chunk_cap >= 1, "EmitConvert: UB too small");
  std::vector<uint64_t> a_buf(slots), b_buf(slots, 0);
  for (uint64_t k = 0; k < slots; ++k) {
    a_buf[k] = ub.Take(chunk_cap);
    if (operands) b_buf[k] = ub.Take(chunk_cap);
  }
  for (const ConvertStep& s : steps) {
    if (s.fill) ctx.Vector(isa::VectorOp::Fill, fill_row, fill_row, fill_row, 1, false, s.imm);
  }
  const uint64_t full = n / L;
  auto block = [&](uint64_t first_row, uint64_t rows, uint64_t lanes) {
    for (uint64_t r0 = 0; r0 < rows; r0 += chunk_cap) {
      const uint64_t nr = std::min(chunk_cap, rows - r0);
      const uint64_t slot = ctx.stream_phase()++ % slots;
      const uint64_t a = a_buf[slot], b = b_buf[slot];
      const uint64_t row = first_row + r0;
      ctx.Load(in_dtype, {in + row * L * in_bytes, L, 1}, a, nr, lanes);
      for (const ConvertStep& s : steps) {
        if (s.fill) {
          ctx.Vector(s.op, a, a, fill_row, nr, true);
        } else if (s.operand.has_value()) {
          ctx.Load(isa::DType::F32, {*s.operand + row * L * kF32Bytes, L, 1}, b, nr, lanes);
          ctx.Vector(s.op, a, a, b, nr);
        } else {
          ctx.Vector(s.op, a, a, a, nr, false, s.imm);
        }
      }
      ctx.Store(out_dtype, {out + row * L * out_bytes, L, 1}, a, nr, lanes);
    }
  };
  if (full > 0) block(0, full, L);
  if (n % L != 0) block(full, 1, n % L);
}

isa::DType DeviceType(DataType t) { return t == DataType::kInt32 ? isa::DType::I32 : isa::DType::I8; }

// The per-axis layout of a node's scale over x: element i uses index (i / inner) % count.
struct Layout {
  bool per_axis = false;
  int64_t inner = 1, count = 1;
  int64_t IndexOf(int64_t i) const { return per_axis ? (i / inner) % count : 0; }
};

absl::StatusOr<Layout> LayoutOf(const Node& node, CodegenContext& ctx) {
  Layout l;
  const Shape& x = ctx.ShapeOf(node.inputs[0]);
  const Tensor& scale = *ctx.ValueOf(node.inputs[1]).constant;
  if (scale.num_elements() == 1) return l;
  TPUSIM_ASSIGN_OR_RETURN(int64_t axis, node.GetInt("axis", 1));
  if (axis < 0) axis += static_cast<int64_t>(x.size());
  l.per_axis = true;
  l.count = x[axis];
  for (size_t d = static_cast<size_t>(axis) + 1; d < x.size(); ++d) l.inner *= x[d];
  return l;
}

// The quantization parameters, one per index of the axis (one for per-tensor): scales, and zero points
// as the fp32 the arithmetic uses (the device's: uint8 shifted by -128; int32 x: fp32 of the value).
struct Params {
  std::vector<float> scale, zp;
};

absl::StatusOr<Params> ParamsOf(const Node& node, CodegenContext& ctx, DataType quant_type) {
  const Value& s = ctx.ValueOf(node.inputs[1]);
  if (!s.constant.has_value()) return absl::InternalError(absl::StrCat(NodeLabel(node), ": scale is not a constant"));
  Params p;
  p.scale.assign(s.constant->as<float>(), s.constant->as<float>() + s.constant->num_elements());
  const bool has_zp = node.inputs.size() > 2 && !node.inputs[2].empty();
  if (has_zp && !ctx.ValueOf(node.inputs[2]).constant.has_value()) {
    return absl::InternalError(absl::StrCat(NodeLabel(node), ": zero point is not a constant"));
  }
  const Tensor* zp = has_zp ? &*ctx.ValueOf(node.inputs[2]).constant : nullptr;
  for (size_t i = 0; i < p.scale.size(); ++i) {
    if (!std::isnan(p.scale[i]) && std::fabs(p.scale[i]) < kMinScale) {
      return absl::UnimplementedError(absl::StrCat(NodeLabel(node), ": scale ", p.scale[i], " is below 2^-125"));
    }
    if (quant_type == DataType::kInt32) {
      p.zp.push_back(zp != nullptr ? static_cast<float>(zp->as<int32_t>()[zp->num_elements() == 1 ? 0 : i]) : 0.0f);
    } else if (zp != nullptr && zp->num_elements() > 1) {
      Tensor one(zp->dtype(), Shape{});
      one.data()[0] = zp->data()[i];
      p.zp.push_back(static_cast<float>(detail::DeviceZeroPoint(&one, quant_type)));
    } else {
      p.zp.push_back(static_cast<float>(detail::DeviceZeroPoint(zp, quant_type)));
    }
  }
  return p;
}


// Per-axis parameters expanded to x's n elements (fp32 constant segments "<node>/scale", "<node>/zp"):
// the b operands of the binary steps. Planned once; bound under those keys.
absl::Status PlanExpanded(const Node& node, CodegenContext& ctx, const std::string& what, const std::vector<float>& v,
                          const Layout& l, uint64_t n) {
  const std::string key = absl::StrCat(node.name, "/", what);
  std::vector<float> full(n);
  for (uint64_t i = 0; i < n; ++i) full[i] = v[static_cast<size_t>(l.IndexOf(static_cast<int64_t>(i)))];
  const uint64_t offset = ctx.Allocate(n * kF32Bytes);
  isa::Segment seg;
  seg.set_name(key);
  seg.set_dram_offset(offset);
  seg.set_data(reinterpret_cast<const char*>(full.data()), n * kF32Bytes);
  ctx.segments().push_back(std::move(seg));
  ctx.Bind(key, offset);
  return absl::OkStatus();
}

bool NeedsZeroPoint(const Params& p) {
  return std::any_of(p.zp.begin(), p.zp.end(), [](float z) { return z != 0.0f; });
}

DataType QuantTypeOf(const Node& node, CodegenContext& ctx) {
  return ctx.ValueOf(node.op_type == "QuantizeLinear" ? node.outputs[0] : node.inputs[0]).dtype;
}

}  // namespace

// The frame region of an int8 / uint8 / int32 value: bound already (a program input, an earlier
// QuantizeLinear's output), or, for a constant, a segment of its device bytes (uint8 as u - 128).
absl::StatusOr<uint64_t> IntValueRegion(const std::string& name, CodegenContext& ctx) {
  if (ctx.IsBound(name)) return ctx.F32Region(name);
  const Value& v = ctx.ValueOf(name);
  if (!ctx.planning() || !v.constant.has_value()) {
    return absl::InternalError(absl::StrCat("codegen: value '", name, "' has no frame region"));
  }
  const Tensor t = ToDeviceInt8(*v.constant);
  const uint64_t offset = ctx.Allocate(t.byte_size());
  isa::Segment seg;
  seg.set_name(name);
  seg.set_dram_offset(offset);
  seg.set_data(reinterpret_cast<const char*>(t.data()), t.byte_size());
  ctx.segments().push_back(std::move(seg));
  ctx.Bind(name, offset);
  return offset;
}

absl::Status PlanQuantizeNode(const Node& node, CodegenContext& ctx) {
  const std::string& out = node.outputs[0];
  if (node.op_type == "DequantizeLinear") {
    TPUSIM_RETURN_IF_ERROR(IntValueRegion(node.inputs[0], ctx).status());
  } else {
    TPUSIM_RETURN_IF_ERROR(ctx.F32Region(node.inputs[0]).status());
    if (!ctx.IsBound(out)) ctx.Bind(out, ctx.Allocate(static_cast<uint64_t>(NumElements(ctx.ShapeOf(out)))));
  }
  TPUSIM_ASSIGN_OR_RETURN(Layout l, LayoutOf(node, ctx));
  if (!l.per_axis) return absl::OkStatus();
  TPUSIM_ASSIGN_OR_RETURN(Params p, ParamsOf(node, ctx, QuantTypeOf(node, ctx)));
  const uint64_t n = static_cast<uint64_t>(NumElements(ctx.ShapeOf(node.inputs[0])));
  TPUSIM_RETURN_IF_ERROR(PlanExpanded(node, ctx, "scale", p.scale, l, n));
  if (NeedsZeroPoint(p)) {
    std::vector<float> zp = p.zp;
    if (node.op_type == "DequantizeLinear") {
      for (float& z : zp) z = -z;  // added: x + (-z) is x - z
    }
    TPUSIM_RETURN_IF_ERROR(PlanExpanded(node, ctx, "zp", zp, l, n));
  }
  return absl::OkStatus();
}

absl::Status EmitQuantizeNode(const Node& node, CodegenContext& ctx) {
  const std::string& x = node.inputs[0];
  const std::string& y = node.outputs[0];
  const uint64_t n = static_cast<uint64_t>(NumElements(ctx.ShapeOf(x)));
  TPUSIM_ASSIGN_OR_RETURN(uint64_t in, ctx.F32Region(x));
  TPUSIM_ASSIGN_OR_RETURN(uint64_t out, ctx.F32Region(y));
  TPUSIM_ASSIGN_OR_RETURN(Layout l, LayoutOf(node, ctx));
  TPUSIM_ASSIGN_OR_RETURN(Params p, ParamsOf(node, ctx, QuantTypeOf(node, ctx)));
  const bool zp = NeedsZeroPoint(p);
  std::optional<uint64_t> scale_full, zp_full;
  if (l.per_axis) {
    TPUSIM_ASSIGN_OR_RETURN(uint64_t s, ctx.F32Region(absl::StrCat(node.name, "/scale")));
    scale_full = s;
    if (zp) {
      TPUSIM_ASSIGN_OR_RETURN(uint64_t z, ctx.F32Region(absl::StrCat(node.name, "/zp")));
      zp_full = z;
    }
  }
  using isa::VectorOp;
  std::vector<ConvertStep> steps;
  if (node.op_type == "DequantizeLinear") {
    steps.push_back(Step(VectorOp::CvtI2f));
    // x - z as x + (-fp32(z)): fp32 rounding is symmetric, so -fp32(z) is exactly -(the CPU's fp32(z)).
    if (zp) steps.push_back(l.per_axis ? WithOperand(VectorOp::Add, zp_full) : Step(VectorOp::AddImm, -p.zp[0]));
    steps.push_back(l.per_axis ? WithOperand(VectorOp::Mul, scale_full) : Step(VectorOp::MulImm, p.scale[0]));
    EmitConvert(ctx, DeviceType(ctx.ValueOf(x).dtype), in, isa::DType::F32, out, n, steps);
    return absl::OkStatus();
  }
  steps.push_back(l.per_axis ? WithOperand(VectorOp::Div, scale_full) : WithFilledRow(VectorOp::Div, p.scale[0]));
  steps.push_back(Step(VectorOp::CvtF2i));
  if (zp) {
    steps.push_back(Step(VectorOp::CvtI2f));
    steps.push_back(l.per_axis ? WithOperand(VectorOp::Add, zp_full) : Step(VectorOp::AddImm, p.zp[0]));
    steps.push_back(Step(VectorOp::CvtF2i));
  }
  EmitConvert(ctx, isa::DType::F32, in, isa::DType::I8, out, n, steps);
  return absl::OkStatus();
}

}  // namespace codegen
}  // namespace tpusim::compiler
