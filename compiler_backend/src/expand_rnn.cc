// Compile-time unrolling of LSTM, GRU and RNN nodes into MatMul, Add, Mul, Sub, Sigmoid, Tanh, Clip,
// Slice, Reshape, Transpose and Concat nodes, which the existing lowerings run on the TPU.
//
// Per direction: the input projection of every time step is one MatMul (X [seq, batch, I] x W^T
// [I, G*H]) plus the bias row(s) (fused into the GEMM epilogue when B is a constant); then per step the
// recurrent MatMul (h [batch, H] x R^T [H, G*H]) and the gate arithmetic on [batch, H] slices. Slices
// and transposes of constant weights are folded here (host arithmetic, exact), so a model with
// initializer weights gets pre-transposed weight segments and no runtime data movement for them.
// The result is numerically the ONNX formula evaluated with the TPU's GEMM precision and vector unit.
#include <algorithm>
#include <map>
#include <string>
#include <vector>

#include "absl/status/status.h"
#include "absl/strings/str_cat.h"
#include "internal.h"
#include "node_emitter.h"
#include "rnn_internal.h"
#include "shape_functions.h"
#include "tpusim/compiler_backend/compiler.h"
#include "tpusim/isa/status_macros.h"

namespace tpusim::compiler::detail {
namespace {

// Builds the replacement nodes of one recurrent node; folds ops whose inputs are all constants.
class Unroller : public NodeEmitter {
 public:
  Unroller(Graph& graph, const Node& rnn, std::vector<Node>& out) : NodeEmitter(graph, rnn, out) {}

  // x[..., start:end, ...] along `axis`.
  std::string Slice(const std::string& x, int64_t axis, int64_t start, int64_t end) {
    Shape shape = ShapeOf(x);
    if (start == 0 && end == shape[axis]) return x;
    shape[axis] = end - start;
    if (IsConst(x)) {
      const Tensor& t = *g_.FindValue(x)->constant;
      int64_t outer = 1, inner = 1;
      for (int64_t i = 0; i < axis; ++i) outer *= t.shape()[i];
      for (size_t i = axis + 1; i < t.shape().size(); ++i) inner *= t.shape()[i];
      Tensor r(t.dtype(), shape);
      const size_t bytes = DataTypeBytes(t.dtype());
      const size_t row = static_cast<size_t>((end - start) * inner) * bytes;
      for (int64_t o = 0; o < outer; ++o) {
        std::copy_n(t.data() + static_cast<size_t>((o * t.shape()[axis] + start) * inner) * bytes, row,
                    r.data() + static_cast<size_t>(o) * row);
      }
      return Constant(std::move(r));
    }
    return Emit("Slice", {x, Ints({start}), Ints({end}), Ints({axis})}, shape);
  }

  std::string Reshape(const std::string& x, const Shape& shape, const std::string& out = "") {
    if (out.empty() && IsConst(x)) return Constant(*g_.FindValue(x)->constant->Reshaped(shape));
    return Emit("Reshape", {x, Ints(shape)}, shape, {}, out);
  }

  std::string Transpose(const std::string& x, const std::vector<int64_t>& perm, const std::string& out = "") {
    const Shape& in = ShapeOf(x);
    Shape shape;
    for (int64_t p : perm) shape.push_back(in[p]);
    if (out.empty() && IsConst(x) && in.size() == 2 && perm == std::vector<int64_t>{1, 0}) {
      const Tensor& t = *g_.FindValue(x)->constant;
      Tensor r(DataType::kFloat32, shape);
      for (int64_t i = 0; i < in[0]; ++i) {
        for (int64_t j = 0; j < in[1]; ++j) r.as<float>()[j * in[0] + i] = t.as<float>()[i * in[1] + j];
      }
      return Constant(std::move(r));
    }
    return Emit("Transpose", {x}, shape, {{"perm", perm}}, out);
  }

  // Elementwise binary op of same-shaped operands (or a [n] row against [batch, n]); "" operands of Add
  // mean zero.
  std::string Binary(const std::string& op, const std::string& a, const std::string& b) {
    if (op == "Add" && a.empty()) return b;
    if (op == "Add" && b.empty()) return a;
    const Shape& sa = ShapeOf(a);
    const Shape& sb = ShapeOf(b);
    const Shape& shape = sa.size() >= sb.size() ? sa : sb;
    if (IsConst(a) && IsConst(b) && sa == sb) {
      Tensor r(DataType::kFloat32, sa);
      const float* x = g_.FindValue(a)->constant->as<float>();
      const float* y = g_.FindValue(b)->constant->as<float>();
      for (int64_t i = 0; i < r.num_elements(); ++i) {
        r.as<float>()[i] = op == "Add" ? x[i] + y[i] : op == "Sub" ? x[i] - y[i] : x[i] * y[i];
      }
      return Constant(std::move(r));
    }
    return Emit(op, {a, b}, shape);
  }

  std::string Unary(const std::string& op, const std::string& x) { return Emit(op, {x}, ShapeOf(x)); }

  std::string MatMul(const std::string& a, const std::string& b) {
    Shape shape = ShapeOf(a);
    shape.back() = ShapeOf(b).back();
    return Emit("MatMul", {a, b}, shape);
  }

  // Concat along `axis`; one piece becomes an Identity (a Reshape alias) so `out` can still be named.
  std::string Concat(const std::vector<std::string>& pieces, int64_t axis, const std::string& out = "") {
    Shape shape = ShapeOf(pieces[0]);
    if (pieces.size() == 1) return out.empty() ? pieces[0] : Reshape(pieces[0], shape, out);
    shape[axis] = 0;
    for (const std::string& p : pieces) shape[axis] += ShapeOf(p)[axis];
    return Emit("Concat", pieces, shape, {{"axis", axis}}, out);
  }

  std::string Zeros(const Shape& shape) { return Constant(Tensor(DataType::kFloat32, shape)); }

  // Gate pre-activation clipping (ONNX `clip`), as an opset-6 Clip with attribute bounds.
  std::string Clip(const std::string& x, float clip) {
    if (clip <= 0.0f) return x;
    return Emit("Clip", {x}, ShapeOf(x), {{"min", -clip}, {"max", clip}}, "", 6);
  }

};

// The expansion of one direction: returns every step's h (in time order) and the final h and c.
struct DirectionResult {
  std::vector<std::string> hs;
  std::string h, c;
};

absl::StatusOr<DirectionResult> UnrollDirection(Unroller& u, const Node& n, const RnnSpec& s, const std::string& x,
                                                int64_t dir) {
  const int64_t H = s.hidden, G = s.gates, GH = G * H, B = s.batch;
  const bool reverse = s.reverse_only || dir == 1;
  auto input = [&](size_t i) { return Present(n, i) ? n.inputs[i] : std::string(); };
  auto per_dir = [&](const std::string& v, int64_t axis, const Shape& shape) {
    return u.Reshape(u.Slice(v, axis, dir, dir + 1), shape);
  };
  const std::string wt = u.Transpose(per_dir(n.inputs[1], 0, {GH, s.input}), {1, 0});  // [I, GH]
  const std::string rt = u.Transpose(per_dir(n.inputs[2], 0, {GH, H}), {1, 0});        // [H, GH]
  std::string bias_x, rbh;
  if (!input(3).empty()) {
    const std::string b = per_dir(input(3), 0, {2 * GH});
    const std::string wb = u.Slice(b, 0, 0, GH), rb = u.Slice(b, 0, GH, 2 * GH);
    if (s.gates == 3 && s.linear_before_reset) {
      rbh = u.Slice(rb, 0, 2 * H, 3 * H);
      bias_x = u.Binary("Add", wb, u.Concat({u.Slice(rb, 0, 0, 2 * H), u.Zeros({H})}, 0));
    } else {
      bias_x = u.Binary("Add", wb, rb);
    }
  }
  const std::string xw = u.Binary("Add", u.MatMul(x, wt), bias_x);  // [seq, B, GH]
  const int64_t state_axis = s.layout == 0 ? 0 : 1;
  DirectionResult r;
  if (!input(5).empty()) r.h = per_dir(input(5), state_axis, {B, H});
  if (!input(6).empty()) r.c = per_dir(input(6), state_axis, {B, H});
  std::string pi, po, pf;
  if (!input(7).empty()) {
    const std::string p = per_dir(input(7), 0, {3 * H});
    pi = u.Slice(p, 0, 0, H), po = u.Slice(p, 0, H, 2 * H), pf = u.Slice(p, 0, 2 * H, 3 * H);
  }
  r.hs.assign(s.seq, "");
  for (int64_t step = 0; step < s.seq; ++step) {
    const int64_t t = reverse ? s.seq - 1 - step : step;
    const std::string xg = u.Reshape(u.Slice(xw, 0, t, t + 1), {B, GH});
    if (s.gates == 1) {  // RNN: h = tanh(x Wi^T + h Ri^T + Wbi + Rbi)
      r.h = u.Unary("Tanh", u.Clip(u.Binary("Add", xg, r.h.empty() ? "" : u.MatMul(r.h, rt)), s.clip));
    } else if (s.gates == 4) {  // LSTM, gate columns i, o, f, c
      const std::string g = u.Binary("Add", xg, r.h.empty() ? "" : u.MatMul(r.h, rt));
      auto gate = [&](int k) { return u.Slice(g, 1, k * H, (k + 1) * H); };
      auto peep = [&](const std::string& pre, const std::string& p, const std::string& c) {
        return p.empty() || c.empty() ? pre : u.Binary("Add", pre, u.Binary("Mul", p, c));
      };
      const std::string i = u.Unary("Sigmoid", u.Clip(peep(gate(0), pi, r.c), s.clip));
      const std::string f = u.Unary("Sigmoid", u.Clip(peep(gate(2), pf, r.c), s.clip));
      const std::string cand = u.Unary("Tanh", u.Clip(gate(3), s.clip));
      const std::string ic = u.Binary("Mul", i, cand);
      r.c = r.c.empty() ? ic : u.Binary("Add", u.Binary("Mul", f, r.c), ic);
      const std::string o = u.Unary("Sigmoid", u.Clip(peep(gate(1), po, r.c), s.clip));
      r.h = u.Binary("Mul", o, u.Unary("Tanh", r.c));
    } else {  // GRU, gate columns z, r, h
      std::string zr = u.Slice(xg, 1, 0, 2 * H);
      if (!r.h.empty()) zr = u.Binary("Add", zr, u.MatMul(r.h, u.Slice(rt, 1, 0, 2 * H)));
      const std::string z = u.Unary("Sigmoid", u.Clip(u.Slice(zr, 1, 0, H), s.clip));
      const std::string rg = u.Unary("Sigmoid", u.Clip(u.Slice(zr, 1, H, 2 * H), s.clip));
      const std::string rt_h = u.Slice(rt, 1, 2 * H, 3 * H);
      std::string hh;  // the recurrent term of the candidate
      if (s.linear_before_reset) {
        const std::string lin = r.h.empty() ? rbh : u.Binary("Add", u.MatMul(r.h, rt_h), rbh);
        hh = lin.empty() ? "" : u.Binary("Mul", rg, lin);
      } else if (!r.h.empty()) {
        hh = u.MatMul(u.Binary("Mul", rg, r.h), rt_h);
      }
      const std::string cand = u.Unary("Tanh", u.Clip(u.Binary("Add", u.Slice(xg, 1, 2 * H, 3 * H), hh), s.clip));
      // h' = (1 - z) * cand + z * h = cand - z * cand + z * h
      std::string next = u.Binary("Sub", cand, u.Binary("Mul", z, cand));
      if (!r.h.empty()) next = u.Binary("Add", next, u.Binary("Mul", z, r.h));
      r.h = next;
    }
    r.hs[t] = r.h;
  }
  return r;
}

absl::Status ExpandOne(Graph& graph, const Node& n, std::vector<Node>& out) {
  TPUSIM_ASSIGN_OR_RETURN(RnnSpec s, ReadRnnSpec(n, graph));
  if (Present(n, 4)) {
    const Value* lens = graph.FindValue(n.inputs[4]);
    if (lens == nullptr || !lens->constant.has_value()) {
      return absl::UnimplementedError(absl::StrCat(NodeLabel(n), ": sequence_lens must be known at compile time"));
    }
    TPUSIM_RETURN_IF_ERROR(CheckFullSequenceLengths(n, *lens->constant, s.seq));
  }
  Unroller u(graph, n, out);
  const int64_t H = s.hidden, B = s.batch, D = s.dirs;
  const std::string x = s.layout == 0 ? n.inputs[0] : u.Transpose(n.inputs[0], {1, 0, 2});  // [seq, B, I]
  std::vector<DirectionResult> dirs;
  for (int64_t d = 0; d < D; ++d) {
    TPUSIM_ASSIGN_OR_RETURN(DirectionResult r, UnrollDirection(u, n, s, x, d));
    dirs.push_back(std::move(r));
  }
  auto output = [&](size_t i) { return i < n.outputs.size() ? n.outputs[i] : std::string(); };
  if (!output(0).empty()) {
    std::vector<std::string> per_dir;
    for (const DirectionResult& r : dirs) {
      std::vector<std::string> steps;
      for (const std::string& h : r.hs) steps.push_back(u.Reshape(h, {1, 1, B, H}));
      per_dir.push_back(u.Concat(steps, 0));  // [seq, 1, B, H]
    }
    if (s.layout == 0) {
      u.Concat(per_dir, 1, output(0));
    } else {
      u.Transpose(u.Concat(per_dir, 1), {2, 0, 1, 3}, output(0));  // [B, seq, D, H]
    }
  }
  for (size_t k = 1; k <= 2; ++k) {
    if (output(k).empty()) continue;
    std::vector<std::string> states;
    for (const DirectionResult& r : dirs) {
      const std::string& v = k == 1 ? r.h : r.c;
      states.push_back(u.Reshape(v, s.layout == 0 ? Shape{1, B, H} : Shape{B, 1, H}));
    }
    u.Concat(states, s.layout == 0 ? 0 : 1, output(k));
  }
  return absl::OkStatus();
}

bool HasUnknownInputShape(const Graph& g, const Node& n) {
  for (const std::string& in : n.inputs) {
    if (in.empty()) continue;
    const Value* v = g.FindValue(in);
    if (v == nullptr || (!v->shape.has_value() && !v->constant.has_value())) return true;
  }
  return false;
}

}  // namespace

bool HasRecurrentNodes(const Graph& graph) {
  return std::any_of(graph.nodes.begin(), graph.nodes.end(), [](const Node& n) { return IsRecurrentOp(n.op_type); });
}

absl::StatusOr<Graph> ExpandRecurrentNodes(const Graph& graph_in) {
  Graph g = graph_in;
  for (auto& [name, v] : g.values) {
    if (v.constant.has_value()) v.shape = v.constant->shape();
  }
  std::vector<Node> nodes = std::move(g.nodes);
  g.nodes.clear();
  for (size_t i = 0; i < nodes.size(); ++i) {
    const Node& n = nodes[i];
    if (!IsRecurrentOp(n.op_type)) {
      g.nodes.push_back(n);
      continue;
    }
    if (HasUnknownInputShape(g, n)) {
      // Shapes produced by earlier nodes: infer over what is built so far (ops without a shape function
      // leave theirs unknown, which the check below reports).
      Graph partial = g;
      absl::Status st = InferShapes(partial);
      if (!st.ok() && !absl::IsUnimplemented(st)) return st;
      for (auto& [name, v] : partial.values) {
        if (v.shape.has_value() && !g.values[name].shape.has_value()) g.values[name].shape = v.shape;
      }
      if (HasUnknownInputShape(g, n)) {
        return absl::InvalidArgumentError(absl::StrCat(NodeLabel(n), ": an input has no shape; the TPU unrolls "
                                                                     "the recurrence over a static sequence length"));
      }
    }
    TPUSIM_RETURN_IF_ERROR(ExpandOne(g, n, g.nodes));
  }
  return g;
}

absl::StatusOr<isa::Program> CompileRecurrent(const Graph& graph, const CompileOptions& options) {
  TPUSIM_ASSIGN_OR_RETURN(Graph unrolled, ExpandRecurrentNodes(graph));
  TPUSIM_ASSIGN_OR_RETURN(isa::Program program, Compile(unrolled, options));
  for (const Node& n : graph.nodes) {
    if (!IsRecurrentOp(n.op_type)) continue;
    const std::string prefix = n.name + "/";
    for (std::string& op : *program.mutable_op_names()) {
      if (op.compare(0, prefix.size(), prefix) == 0) op = n.name;
    }
  }
  return program;
}

}  // namespace tpusim::compiler::detail
