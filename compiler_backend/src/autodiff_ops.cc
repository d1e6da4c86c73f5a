// Gradient rules of the dense and elementwise ops (autodiff.h), and the rule registry. Each rule
// emits only ops the TPU lowers (MatMul/Gemm with transposes, elementwise, ReduceSum, Reshape,
// Expand, Clip), so a gradient graph places like its forward graph.
#include <algorithm>
#include <numeric>
#include <string>
#include <vector>

#include "absl/status/status.h"
#include "absl/strings/str_cat.h"
#include "autodiff_internal.h"
#include "tpusim/isa/status_macros.h"

namespace tpusim::compiler::detail {
namespace {

#define TPUSIM_GRAD_RULE(fn)                                                                          \
  absl::Status fn(const GradContext& ctx, const Node& n, const std::vector<std::string>& g, GradEmitter& e, \
                  std::vector<Contribution>* out)

template <typename... Args>
absl::Status Unsupported(const Node& n, const Args&... args) {
  return absl::UnimplementedError(absl::StrCat("autodiff: ", n.op_type, " (node '", n.name, "'): ", args...));
}

int64_t Rank(GradEmitter& e, const std::string& v) { return static_cast<int64_t>(e.ShapeOf(v).size()); }

absl::Status CheckNumpyBroadcast(const Node& n) {
  if (n.opset < 7 && n.attrs.count("broadcast") != 0) return Unsupported(n, "opset-6 broadcast attributes");
  return absl::OkStatus();
}

TPUSIM_GRAD_RULE(AddGrad) {
  TPUSIM_RETURN_IF_ERROR(CheckNumpyBroadcast(n));
  for (size_t i = 0; i < 2; ++i) {
    if (!ctx.Needs(n.inputs[i])) continue;
    std::string gi = g[0];
    if (n.op_type == "Sub" && i == 1) {
      TPUSIM_ASSIGN_OR_RETURN(gi, e.Op("Neg", {gi}));
    }
    TPUSIM_ASSIGN_OR_RETURN(gi, e.SumTo(gi, e.ShapeOf(n.inputs[i])));
    out->emplace_back(n.inputs[i], gi);
  }
  return absl::OkStatus();
}

TPUSIM_GRAD_RULE(MulGrad) {
  TPUSIM_RETURN_IF_ERROR(CheckNumpyBroadcast(n));
  for (size_t i = 0; i < 2; ++i) {
    if (!ctx.Needs(n.inputs[i])) continue;
    TPUSIM_ASSIGN_OR_RETURN(std::string gi, e.Op("Mul", {g[0], n.inputs[1 - i]}));
    TPUSIM_ASSIGN_OR_RETURN(gi, e.SumTo(gi, e.ShapeOf(n.inputs[i])));
    out->emplace_back(n.inputs[i], gi);
  }
  return absl::OkStatus();
}

// y = a / b: da = g / b, db = -g * y / b.
TPUSIM_GRAD_RULE(DivGrad) {
  TPUSIM_RETURN_IF_ERROR(CheckNumpyBroadcast(n));
  if (ctx.Needs(n.inputs[0])) {
    TPUSIM_ASSIGN_OR_RETURN(std::string ga, e.Op("Div", {g[0], n.inputs[1]}));
    TPUSIM_ASSIGN_OR_RETURN(ga, e.SumTo(ga, e.ShapeOf(n.inputs[0])));
    out->emplace_back(n.inputs[0], ga);
  }
  if (ctx.Needs(n.inputs[1])) {
    TPUSIM_ASSIGN_OR_RETURN(std::string q, e.Op("Div", {n.outputs[0], n.inputs[1]}));
    TPUSIM_ASSIGN_OR_RETURN(std::string gb, e.Op("Mul", {g[0], q}));
    TPUSIM_ASSIGN_OR_RETURN(gb, e.Op("Neg", {gb}));
    TPUSIM_ASSIGN_OR_RETURN(gb, e.SumTo(gb, e.ShapeOf(n.inputs[1])));
    out->emplace_back(n.inputs[1], gb);
  }
  return absl::OkStatus();
}

TPUSIM_GRAD_RULE(UnaryGrad) {
  std::string gx;
  if (n.op_type == "Identity") {
    gx = g[0];
  } else if (n.op_type == "Neg") {
    TPUSIM_ASSIGN_OR_RETURN(gx, e.Op("Neg", {g[0]}));
  } else if (n.op_type == "Exp") {
    TPUSIM_ASSIGN_OR_RETURN(gx, e.Op("Mul", {g[0], n.outputs[0]}));
  } else if (n.op_type == "Relu") {
    TPUSIM_ASSIGN_OR_RETURN(std::string mask, e.PositiveMask(n.outputs[0]));
    TPUSIM_ASSIGN_OR_RETURN(gx, e.Op("Mul", {g[0], mask}));
  } else {  // Reshape, Flatten, Squeeze, Unsqueeze: same elements, input shape
    TPUSIM_ASSIGN_OR_RETURN(gx, e.Reshape(g[0], e.ShapeOf(n.inputs[0])));
  }
  if (ctx.Needs(n.inputs[0])) out->emplace_back(n.inputs[0], gx);
  return absl::OkStatus();
}

TPUSIM_GRAD_RULE(TransposeGrad) {
  const int64_t rank = Rank(e, n.inputs[0]);
  std::vector<int64_t> reversed(static_cast<size_t>(rank));
  std::iota(reversed.rbegin(), reversed.rend(), 0);
  TPUSIM_ASSIGN_OR_RETURN(std::vector<int64_t> perm, n.GetInts("perm", reversed));
  if (static_cast<int64_t>(perm.size()) != rank) return Unsupported(n, "perm does not match the input rank");
  std::vector<int64_t> inverse(perm.size());
  for (size_t i = 0; i < perm.size(); ++i) inverse[static_cast<size_t>(perm[i])] = static_cast<int64_t>(i);
  TPUSIM_ASSIGN_OR_RETURN(std::string gx, e.Transpose(g[0], inverse));
  if (ctx.Needs(n.inputs[0])) out->emplace_back(n.inputs[0], gx);
  return absl::OkStatus();
}

absl::StatusOr<std::string> Gemm(GradEmitter& e, const std::string& a, const std::string& b, float alpha,
                                 int64_t trans_a, int64_t trans_b) {
  return e.Op("Gemm", {a, b}, {{"alpha", alpha}, {"transA", trans_a}, {"transB", trans_b}});
}

// A [.., K] x B [K, N]: flattened to 2-D, dA = g B^T, dB = A^T g, as Gemms with transposes.
TPUSIM_GRAD_RULE(MatMulGrad) {
  const Shape a = e.ShapeOf(n.inputs[0]);
  const Shape b = e.ShapeOf(n.inputs[1]);
  if (a.size() < 2 || b.size() != 2) return Unsupported(n, "gradients need A of rank >= 2 and a 2-D B");
  const int64_t rows = NumElements(a) / a.back();
  TPUSIM_ASSIGN_OR_RETURN(std::string g2, e.Reshape(g[0], {rows, b[1]}));
  if (ctx.Needs(n.inputs[0])) {
    TPUSIM_ASSIGN_OR_RETURN(std::string ga, Gemm(e, g2, n.inputs[1], 1.0f, 0, 1));
    TPUSIM_ASSIGN_OR_RETURN(ga, e.Reshape(ga, a));
    out->emplace_back(n.inputs[0], ga);
  }
  if (ctx.Needs(n.inputs[1])) {
    TPUSIM_ASSIGN_OR_RETURN(std::string a2, e.Reshape(n.inputs[0], {rows, a.back()}));
    TPUSIM_ASSIGN_OR_RETURN(std::string gb, Gemm(e, a2, g2, 1.0f, 1, 0));
    out->emplace_back(n.inputs[1], gb);
  }
  return absl::OkStatus();
}

// Y = alpha op(A) op(B) + beta C. d op(A) = alpha g op(B)^T, d op(B) = alpha op(A)^T g; each written
// as one Gemm whose trans flags absorb the transposes.
TPUSIM_GRAD_RULE(GemmGrad) {
  TPUSIM_ASSIGN_OR_RETURN(float alpha, n.GetFloat("alpha", 1.0f));
  TPUSIM_ASSIGN_OR_RETURN(float beta, n.GetFloat("beta", 1.0f));
  TPUSIM_ASSIGN_OR_RETURN(int64_t ta, n.GetInt("transA", 0));
  TPUSIM_ASSIGN_OR_RETURN(int64_t tb, n.GetInt("transB", 0));
  ta = ta != 0;
  tb = tb != 0;
  const std::string& a = n.inputs[0];
  const std::string& b = n.inputs[1];
  if (ctx.Needs(a)) {
    TPUSIM_ASSIGN_OR_RETURN(std::string ga, ta == 0 ? Gemm(e, g[0], b, alpha, 0, 1 - tb) : Gemm(e, b, g[0], alpha, tb, 1));
    out->emplace_back(a, ga);
  }
  if (ctx.Needs(b)) {
    TPUSIM_ASSIGN_OR_RETURN(std::string gb, tb == 0 ? Gemm(e, a, g[0], alpha, 1 - ta, 0) : Gemm(e, g[0], a, alpha, 1, ta));
    out->emplace_back(b, gb);
  }
  if (n.inputs.size() > 2 && !n.inputs[2].empty() && ctx.Needs(n.inputs[2])) {
    TPUSIM_ASSIGN_OR_RETURN(std::string gc, e.Scale(g[0], beta));
    TPUSIM_ASSIGN_OR_RETURN(gc, e.SumTo(gc, e.ShapeOf(n.inputs[2])));
    out->emplace_back(n.inputs[2], gc);
  }
  return absl::OkStatus();
}

// The one axis Softmax / LogSoftmax normalise over; opset < 13 coerces to 2-D at `axis`, which is the
// same only when that axis is the last.
absl::StatusOr<int64_t> SoftmaxAxis(const Node& n, int64_t rank) {
  TPUSIM_ASSIGN_OR_RETURN(int64_t axis, n.GetInt("axis", n.opset >= 13 ? -1 : 1));
  if (axis < 0) axis += rank;
  if (axis < 0 || axis >= rank) return Unsupported(n, "axis out of range");
  if (n.opset < 13 && axis != rank - 1) return Unsupported(n, "opset < 13 with an axis other than the last");
  return axis;
}

// dz = y * (g - sum(g * y)).
TPUSIM_GRAD_RULE(SoftmaxGrad) {
  TPUSIM_ASSIGN_OR_RETURN(int64_t axis, SoftmaxAxis(n, Rank(e, n.inputs[0])));
  const std::string& y = n.outputs[0];
  TPUSIM_ASSIGN_OR_RETURN(std::string gy, e.Op("Mul", {g[0], y}));
  TPUSIM_ASSIGN_OR_RETURN(std::string s, e.SumKeep(gy, {axis}));
  TPUSIM_ASSIGN_OR_RETURN(std::string d, e.Op("Sub", {g[0], s}));
  TPUSIM_ASSIGN_OR_RETURN(std::string gz, e.Op("Mul", {y, d}));
  if (ctx.Needs(n.inputs[0])) out->emplace_back(n.inputs[0], gz);
  return absl::OkStatus();
}

// LogSoftmax with p = softmax(z): dz = g - p * sum(g).
absl::StatusOr<std::string> LogSoftmaxInputGrad(GradEmitter& e, const std::string& g, const std::string& p,
                                                int64_t axis) {
  TPUSIM_ASSIGN_OR_RETURN(std::string s, e.SumKeep(g, {axis}));
  TPUSIM_ASSIGN_OR_RETURN(std::string ps, e.Op("Mul", {p, s}));
  return e.Op("Sub", {g, ps});
}

TPUSIM_GRAD_RULE(LogSoftmaxGrad) {
  TPUSIM_ASSIGN_OR_RETURN(int64_t axis, SoftmaxAxis(n, Rank(e, n.inputs[0])));
  TPUSIM_ASSIGN_OR_RETURN(std::string p, e.Op("Exp", {n.outputs[0]}));
  TPUSIM_ASSIGN_OR_RETURN(std::string gz, LogSoftmaxInputGrad(e, g[0], p, axis));
  if (ctx.Needs(n.inputs[0])) out->emplace_back(n.inputs[0], gz);
  return absl::OkStatus();
}

// Log(Softmax(z)) with the Softmax read only here: the LogSoftmax rule straight to z (no division by
// a probability that may underflow). Otherwise dx = g / x.
TPUSIM_GRAD_RULE(LogGrad) {
  const std::string& x = n.inputs[0];
  const Node* p = ctx.Producer(x);
  if (p != nullptr && p->op_type == "Softmax" && ctx.Readers(x) == 1) {
    TPUSIM_ASSIGN_OR_RETURN(int64_t axis, SoftmaxAxis(*p, Rank(e, x)));
    TPUSIM_ASSIGN_OR_RETURN(std::string gz, LogSoftmaxInputGrad(e, g[0], x, axis));
    if (ctx.Needs(p->inputs[0])) out->emplace_back(p->inputs[0], gz);
    return absl::OkStatus();
  }
  TPUSIM_ASSIGN_OR_RETURN(std::string gx, e.Op("Div", {g[0], x}));
  if (ctx.Needs(x)) out->emplace_back(x, gx);
  return absl::OkStatus();
}

absl::StatusOr<std::vector<int64_t>> ReduceAxes(const GradContext& ctx, const Node& n, int64_t rank) {
  std::vector<int64_t> axes;
  if (n.inputs.size() > 1 && !n.inputs[1].empty()) {
    const Value* v = ctx.graph->FindValue(n.inputs[1]);
    if (v == nullptr || !v->constant.has_value() || v->constant->dtype() != DataType::kInt64) {
      return Unsupported(n, "axes must be an int64 constant");
    }
    axes.assign(v->constant->as<int64_t>(), v->constant->as<int64_t>() + v->constant->num_elements());
  } else {
    TPUSIM_ASSIGN_OR_RETURN(axes, n.GetInts("axes", std::vector<int64_t>{}));
  }
  TPUSIM_ASSIGN_OR_RETURN(int64_t noop, n.GetInt("noop_with_empty_axes", 0));
  if (axes.empty() && noop == 0) {
    axes.resize(static_cast<size_t>(rank));
    std::iota(axes.begin(), axes.end(), 0);
  }
  for (int64_t& a : axes) {
    if (a < 0) a += rank;
    if (a < 0 || a >= rank) return Unsupported(n, "axis out of range");
  }
  return axes;
}

// g broadcast back over the reduced axes (Reshape to the keepdims shape, Expand), / count for Mean.
TPUSIM_GRAD_RULE(ReduceGrad) {
  const Shape x = e.ShapeOf(n.inputs[0]);
  TPUSIM_ASSIGN_OR_RETURN(std::vector<int64_t> axes, ReduceAxes(ctx, n, static_cast<int64_t>(x.size())));
  Shape kept = x;
  int64_t count = 1;
  for (int64_t a : axes) {
    count *= x[static_cast<size_t>(a)];
    kept[static_cast<size_t>(a)] = 1;
  }
  TPUSIM_ASSIGN_OR_RETURN(std::string gx, e.Reshape(g[0], kept));
  if (n.op_type == "ReduceMean" && count > 0) {
    TPUSIM_ASSIGN_OR_RETURN(gx, e.Scale(gx, 1.0f / static_cast<float>(count)));
  }
  if (kept != x) {
    TPUSIM_ASSIGN_OR_RETURN(gx, e.Op("Expand", {gx, e.Ints(x)}));
  }
  if (ctx.Needs(n.inputs[0])) out->emplace_back(n.inputs[0], gx);
  return absl::OkStatus();
}

const std::map<std::string, GradRule>& Rules() {
  static const auto* rules = new std::map<std::string, GradRule>{
      {"Add", AddGrad},         {"Sub", AddGrad},           {"Mul", MulGrad},           {"Div", DivGrad},
      {"Neg", UnaryGrad},       {"Exp", UnaryGrad},         {"Identity", UnaryGrad},    {"Relu", UnaryGrad},
      {"Reshape", UnaryGrad},   {"Flatten", UnaryGrad},     {"Squeeze", UnaryGrad},     {"Unsqueeze", UnaryGrad},
      {"Transpose", TransposeGrad}, {"MatMul", MatMulGrad}, {"Gemm", GemmGrad},         {"Softmax", SoftmaxGrad},
      {"LogSoftmax", LogSoftmaxGrad}, {"Log", LogGrad},     {"ReduceSum", ReduceGrad},  {"ReduceMean", ReduceGrad},
      {"Conv", ConvGrad},       {"MaxPool", MaxPoolGrad},
  };
  return *rules;
}

}  // namespace

GradRule FindGradRule(const std::string& op_type) {
  auto it = Rules().find(op_type);
  return it == Rules().end() ? nullptr : it->second;
}

std::vector<std::string> GradRuleOps() {
  std::vector<std::string> ops;
  for (const auto& [op, rule] : Rules()) ops.push_back(op);
  return ops;
}

}  // namespace tpusim::compiler::detail
