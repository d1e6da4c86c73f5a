// Pow on the vector unit, matching std::pow (numpy's float32 power) within ONNX's tolerance.
//
// Exact special cases for a constant scalar exponent (one correctly rounded IEEE operation each):
//   1 -> a copy, 2 -> x*x (mul with the chunk as both operands), 0.5 -> sqrt, -1 -> reciprocal
// (they equal powf except pow(-Inf, 0.5) = +Inf (sqrt gives NaN) and pow(-0, 0.5) = +0 (sqrt: -0)).
//
// Every other exponent (a constant of any value, a constant tensor, or a run-time tensor, broadcast
// numpy-style) is computed as
//   r    = exp(y * clamp(log|x|, -FLT_MAX, FLT_MAX))   (clamp: 0^0 = inf^0 = 1, 0^y = 0 for y > 0)
//   neg  = min(max(-x * 2^126 * 2^126, 0), 1)          (1 for x < 0 incl. subnormals, 0 for x >= 0)
//   odd  = 1 if y is an odd integer, else 0; frac = 1 if y is not an integer, else 0
//   out  = r * (1 - 2 * neg * odd) + log(1 - 2 * neg * frac)   (log(-1) = NaN: negative base with a
//                                                               non-integral exponent, as std::pow)
// odd and frac of a run-time y use the round-to-nearest trick (v + 1.5*2^23) - 1.5*2^23 = rint(v),
// exact for |v| <= 2^22, on y clamped to [-2^22, 2^22] (larger magnitudes count as even integers).
// The relative error is that of exp and log plus |y log|x|| * 2^-24, far inside rtol 1e-3.
// Known differences from std::pow (edge values only): pow(NaN, 0) and pow(1, NaN) give NaN (pow: 1);
// pow(-1, +-Inf) gives NaN (pow: 1); pow(-0, negative odd integer) gives +Inf (pow: -Inf); a run-time
// odd integer exponent of magnitude above 2^22 loses the sign of a negative base; exponents whose
// product with FLT_MAX stays below 88 in magnitude (|y| < 2.6e-37) give 0^y = e^(y * -FLT_MAX) != 0.
#include <cfloat>
#include <cmath>
#include <optional>
#include <string>
#include <vector>

#include "absl/status/status.h"
#include "absl/strings/str_cat.h"
#include "codegen_copy.h"
#include "codegen_vector.h"
#include "internal.h"
#include "lowering.h"
#include "tpusim/isa/status_macros.h"

namespace tpusim::compiler::codegen {
namespace {

using isa::VectorOp;

constexpr float kTwo126 = 8.507059173023462e37f;  // 2^126
constexpr float kTwo22 = 4194304.0f;              // 2^22
constexpr float kRoundMagic = 12582912.0f;        // 1.5 * 2^23
constexpr float kTwo60 = 1.152921504606847e18f;   // 2^60

bool IsExactExponent(float e) { return e == 1.0f || e == 2.0f || e == 0.5f || e == -1.0f; }

// The exponent as a compile-time scalar, if it is one.
std::optional<float> ConstantScalarExponent(const Node& node, const CodegenContext& ctx) {
  if (node.inputs.size() != 2 || node.inputs[1].empty()) return std::nullopt;
  const Value& e = ctx.ValueOf(node.inputs[1]);
  if (!e.constant.has_value()) return std::nullopt;
  absl::StatusOr<float> v = detail::ScalarAsFloat(*e.constant, "exponent");
  if (!v.ok()) return std::nullopt;
  return *v;
}

std::string ScratchKey(const Node& node, int k) { return absl::StrCat(node.name, "/pow_", k); }

// Scratch buffers of n elements: 0..2 for the run-time exponent path, 3 and 4 for broadcast copies of
// x and y. Which exist depends on the operands (PlanPowNode and EmitPowNode agree through these).
bool NeedsBroadcastCopy(const Shape& in, const Shape& out) {
  return NumElements(in) != 1 && NumElements(in) != NumElements(out);
}

// A flat operand of n elements for `name` broadcast to `out`: the value itself, one scalar, or a
// strided copy into scratch `key`.
absl::StatusOr<FlatOperand> FlatInput(const Node& node, CodegenContext& ctx, const std::string& name,
                                      const Shape& out, int key) {
  TPUSIM_ASSIGN_OR_RETURN(uint64_t addr, ctx.F32Region(name));
  const Shape& in = ctx.ShapeOf(name);
  if (NumElements(in) == 1 && NumElements(out) != 1) return FlatOperand{addr, true};
  if (!NeedsBroadcastCopy(in, out)) return FlatOperand{addr, false};
  if (in.size() > out.size()) {
    return absl::InvalidArgumentError(absl::StrCat(NodeLabel(node), ": input ", ShapeToString(in),
                                                   " has a higher rank than the output ", ShapeToString(out)));
  }
  TPUSIM_ASSIGN_OR_RETURN(uint64_t dst, ctx.Scratch(ScratchKey(node, key)));
  const std::vector<uint64_t> out_strides = RowMajorStrides(out);
  std::vector<CopyDim> dims;
  int64_t run = 1;
  std::vector<int64_t> in_strides(out.size(), 0);
  for (size_t i = out.size(); i-- > 0;) {
    const size_t from_end = out.size() - 1 - i;
    const int64_t d = from_end < in.size() ? in[in.size() - 1 - from_end] : 1;
    if (d != 1 && d != out[i]) {
      return absl::InvalidArgumentError(absl::StrCat(NodeLabel(node), ": input ", ShapeToString(in),
                                                     " does not broadcast to ", ShapeToString(out)));
    }
    in_strides[i] = d == 1 ? 0 : run;
    run *= d;
  }
  for (size_t i = 0; i < out.size(); ++i) {
    dims.push_back({static_cast<uint64_t>(out[i]), in_strides[i], out_strides[i]});
  }
  EmitStridedCopy(ctx, addr, dst, dims);
  return FlatOperand{dst, false};
}

// neg = 1 for x < 0, else 0 (NaN stays NaN), followed by `then`.
std::vector<VectorStep> NegIndicator(std::vector<VectorStep> then) {
  std::vector<VectorStep> s = {{VectorOp::MulImm, kTwo126}, {VectorOp::MaxImm, 0.0f}, {VectorOp::MinImm, 1.0f}};
  s.insert(s.end(), then.begin(), then.end());
  return s;
}

}  // namespace

absl::Status PlanPowNode(const Node& node, CodegenContext& ctx) {
  if (node.inputs.size() != 2 || node.inputs[0].empty() || node.inputs[1].empty() || node.outputs.empty()) {
    return absl::InvalidArgumentError(absl::StrCat(NodeLabel(node), ": needs inputs X and Y and an output"));
  }
  TPUSIM_RETURN_IF_ERROR(ctx.RequireFloat(node, node.inputs[0]));
  TPUSIM_RETURN_IF_ERROR(ctx.F32Region(node.inputs[0]).status());
  const Shape& out = ctx.ShapeOf(node.outputs[0]);
  const uint64_t bytes = static_cast<uint64_t>(NumElements(out)) * kF32Bytes;
  if (NeedsBroadcastCopy(ctx.ShapeOf(node.inputs[0]), out)) ctx.AllocateScratch(ScratchKey(node, 3), bytes);
  if (ConstantScalarExponent(node, ctx).has_value()) {
    ctx.AllocateScratch(ScratchKey(node, 0), bytes);
    return absl::OkStatus();
  }
  TPUSIM_RETURN_IF_ERROR(ctx.RequireFloat(node, node.inputs[1]));
  TPUSIM_RETURN_IF_ERROR(ctx.F32Region(node.inputs[1]).status());
  if (NeedsBroadcastCopy(ctx.ShapeOf(node.inputs[1]), out)) ctx.AllocateScratch(ScratchKey(node, 4), bytes);
  for (int k = 0; k < 3; ++k) ctx.AllocateScratch(ScratchKey(node, k), bytes);
  return absl::OkStatus();
}

absl::Status EmitPowNode(const Node& node, CodegenContext& ctx) {
  TPUSIM_RETURN_IF_ERROR(ctx.RequireFloat(node, node.outputs[0]));
  TPUSIM_ASSIGN_OR_RETURN(uint64_t out, ctx.F32Region(node.outputs[0]));
  const Shape& out_shape = ctx.ShapeOf(node.outputs[0]);
  const uint64_t n = static_cast<uint64_t>(NumElements(out_shape));
  if (n == 0) return absl::OkStatus();
  TPUSIM_ASSIGN_OR_RETURN(FlatOperand x, FlatInput(node, ctx, node.inputs[0], out_shape, 3));
  const std::optional<float> constant = ConstantScalarExponent(node, ctx);

  if (constant.has_value()) {
    const float e = *constant;
    if (IsExactExponent(e) && !x.scalar) {
      if (e == 1.0f) EmitFlat(ctx, std::nullopt, {x}, out, n);
      if (e == 2.0f) EmitFlat(ctx, std::nullopt, {x}, out, n, 0.0f, {VectorStep{VectorOp::Mul}});
      if (e == 0.5f) EmitFlat(ctx, VectorOp::Sqrt, {x}, out, n);
      if (e == -1.0f) EmitFlat(ctx, VectorOp::Reciprocal, {x}, out, n);
      return absl::OkStatus();
    }
    // out = exp(e * clamp(log|x|)); the sign and NaN rules follow from e at compile time.
    EmitFlat(ctx, VectorOp::Abs, {x}, out, n, 0.0f,
             {{VectorOp::Log}, {VectorOp::MaxImm, -FLT_MAX}, {VectorOp::MinImm, FLT_MAX}, {VectorOp::MulImm, e},
              {VectorOp::Exp}});
    const bool integral = std::isfinite(e) ? std::floor(e) == e : !std::isnan(e);
    const bool odd = integral && std::isfinite(e) && std::fabs(e) < 16777216.0f && std::fmod(e, 2.0f) != 0.0f;
    if (!integral) {  // + log(1 - 2 neg): NaN where x < 0
      TPUSIM_ASSIGN_OR_RETURN(uint64_t t, ctx.Scratch(ScratchKey(node, 0)));
      EmitFlat(ctx, VectorOp::MulImm, {x}, t, n, -kTwo126,
               NegIndicator({{VectorOp::MulImm, -2.0f}, {VectorOp::AddImm, 1.0f}, {VectorOp::Log}}));
      EmitFlat(ctx, VectorOp::Add, {FlatOperand{out, false}, FlatOperand{t, false}}, out, n);
    } else if (odd) {  // * (1 - 2 neg)
      TPUSIM_ASSIGN_OR_RETURN(uint64_t t, ctx.Scratch(ScratchKey(node, 0)));
      EmitFlat(ctx, VectorOp::MulImm, {x}, t, n, -kTwo126,
               NegIndicator({{VectorOp::MulImm, -2.0f}, {VectorOp::AddImm, 1.0f}}));
      EmitFlat(ctx, VectorOp::Mul, {FlatOperand{out, false}, FlatOperand{t, false}}, out, n);
    }
    return absl::OkStatus();
  }

  TPUSIM_ASSIGN_OR_RETURN(FlatOperand y, FlatInput(node, ctx, node.inputs[1], out_shape, 4));
  TPUSIM_ASSIGN_OR_RETURN(uint64_t a, ctx.Scratch(ScratchKey(node, 0)));
  TPUSIM_ASSIGN_OR_RETURN(uint64_t b, ctx.Scratch(ScratchKey(node, 1)));
  TPUSIM_ASSIGN_OR_RETURN(uint64_t c, ctx.Scratch(ScratchKey(node, 2)));
  const FlatOperand fa{a, false}, fb{b, false}, fc{c, false}, fo{out, false};
  // a = clamp(log|x|); a = exp(a * y)
  EmitFlat(ctx, VectorOp::Abs, {x}, a, n, 0.0f,
           {{VectorOp::Log}, {VectorOp::MaxImm, -FLT_MAX}, {VectorOp::MinImm, FLT_MAX}});
  EmitFlat(ctx, VectorOp::Mul, {fa, y}, a, n, 0.0f, {{VectorOp::Exp}});
  // c = yc = clamp(y, -2^22, 2^22); b = rint(yc); b = frac = min(|yc - rint(yc)| * 2^60, 1)
  EmitFlat(ctx, VectorOp::MaxImm, {y}, c, n, -kTwo22, {{VectorOp::MinImm, kTwo22}});
  EmitFlat(ctx, VectorOp::AddImm, {fc}, b, n, kRoundMagic, {{VectorOp::AddImm, -kRoundMagic}});
  EmitFlat(ctx, VectorOp::Sub, {fc, fb}, b, n, 0.0f,
           {{VectorOp::Abs}, {VectorOp::MulImm, kTwo60}, {VectorOp::MinImm, 1.0f}});
  // c = yc / 2 (exact); out = rint(c); out = odd = |c - rint(c)| * 2
  EmitFlat(ctx, VectorOp::MulImm, {fc}, c, n, 0.5f);
  EmitFlat(ctx, VectorOp::AddImm, {fc}, out, n, kRoundMagic, {{VectorOp::AddImm, -kRoundMagic}});
  EmitFlat(ctx, VectorOp::Sub, {fc, fo}, out, n, 0.0f, {{VectorOp::Abs}, {VectorOp::MulImm, 2.0f}});
  // c = neg; out = sign = 1 - 2 neg odd; b = log(1 - 2 neg frac)
  EmitFlat(ctx, VectorOp::MulImm, {x}, c, n, -kTwo126, NegIndicator({}));
  EmitFlat(ctx, VectorOp::Mul, {fc, fo}, out, n, 0.0f, {{VectorOp::MulImm, -2.0f}, {VectorOp::AddImm, 1.0f}});
  EmitFlat(ctx, VectorOp::Mul, {fc, fb}, b, n, 0.0f,
           {{VectorOp::MulImm, -2.0f}, {VectorOp::AddImm, 1.0f}, {VectorOp::Log}});
  // out = a * sign + b
  EmitFlat(ctx, VectorOp::Mul, {fa, fo}, out, n);
  EmitFlat(ctx, VectorOp::Add, {fo, fb}, out, n);
  return absl::OkStatus();
}

}  // namespace tpusim::compiler::codegen
