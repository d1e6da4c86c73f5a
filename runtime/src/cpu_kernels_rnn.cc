// LSTM, GRU and RNN reference kernels with ONNX semantics (opset 7..14): default activations only
// (sigmoid/tanh for the gates, tanh for the cell/candidate/hidden), direction forward, reverse or
// bidirectional, layout 0 ([seq, batch, ...]) and 1 (batch first), optional B, sequence_lens,
// initial_h, initial_c and P (LSTM peepholes), `clip`, GRU's linear_before_reset. LSTM's input_forget=1
// is Unimplemented. (The ONNX frontend cannot carry the STRINGS attribute `activations`, so a model
// that names non-default activations is not representable in the IR at all.)
//
// sequence_lens: batch entry b runs lens[b] steps (the reverse direction starts at lens[b]-1); Y is 0
// past lens[b] and Y_h / Y_c hold the state after its last step, as in ONNX's reference.
// Naive loops in fp32 (the sizes these kernels see are small; they are the reference, not the speed).
#include <algorithm>
#include <cmath>
#include <string>

#include "cpu_kernels_internal.h"
#include "tpusim/isa/status_macros.h"

namespace tpusim::runtime::detail {
namespace {

// The recurrence's dimensions and attributes, from the node and its input shapes.
struct RnnDims {
  int gates = 1;  // LSTM 4 (i, o, f, c), GRU 3 (z, r, h), RNN 1
  int64_t seq = 0, batch = 0, input = 0, hidden = 0, dirs = 1;
  bool reverse_only = false;
  int64_t layout = 0;
  float clip = 0.0f;  // 0: no clipping
  bool linear_before_reset = false;
};

int GatesOf(const std::string& op) { return op == "LSTM" ? 4 : op == "GRU" ? 3 : 1; }

absl::StatusOr<RnnDims> PlanRnn(const Node& node, const std::vector<KernelInputInfo>& in) {
  const bool lstm = node.op_type == "LSTM";
  TPUSIM_RETURN_IF_ERROR(CheckArity(node, in, 3, lstm ? 8 : 6));
  for (size_t i = 0; i < in.size(); ++i) {
    if (!in[i].present) continue;
    const DataType want = i == 4 ? DataType::kInt32 : DataType::kFloat32;
    if (in[i].dtype != want) {
      return KernelError(node, absl::StrCat("input ", i, " has dtype ", std::string(compiler::DataTypeName(in[i].dtype)),
                                            ", expected ", std::string(compiler::DataTypeName(want))));
    }
  }
  RnnDims d;
  d.gates = GatesOf(node.op_type);
  auto str = node.attrs.find("direction");
  std::string direction = "forward";
  if (str != node.attrs.end()) {
    const std::string* s = std::get_if<std::string>(&str->second);
    if (s == nullptr) return KernelError(node, "attribute 'direction' must be a string");
    direction = *s;
  }
  if (direction == "bidirectional") {
    d.dirs = 2;
  } else if (direction == "reverse") {
    d.reverse_only = true;
  } else if (direction != "forward") {
    return KernelError(node, absl::StrCat("direction '", direction, "' is not forward, reverse or bidirectional"));
  }
  TPUSIM_ASSIGN_OR_RETURN(d.layout, node.GetInt("layout", 0));
  if (d.layout != 0 && d.layout != 1) return KernelError(node, absl::StrCat("layout ", d.layout, " is not 0 or 1"));
  TPUSIM_ASSIGN_OR_RETURN(d.clip, node.GetFloat("clip", 0.0f));
  if (d.clip < 0.0f) return KernelError(node, absl::StrCat("clip ", d.clip, " is negative"));
  TPUSIM_ASSIGN_OR_RETURN(int64_t lbr, node.GetInt("linear_before_reset", 0));
  d.linear_before_reset = lbr != 0;
  TPUSIM_ASSIGN_OR_RETURN(int64_t input_forget, node.GetInt("input_forget", 0));
  if (lstm && input_forget != 0) {
    return absl::UnimplementedError(absl::StrCat(Where(node), ": input_forget=1 is not supported"));
  }
  const Shape& x = in[0].shape;
  const Shape& w = in[1].shape;
  const Shape& r = in[2].shape;
  if (x.size() != 3 || w.size() != 3 || r.size() != 3) {
    return KernelError(node, absl::StrCat("X, W, R must have rank 3, got ", compiler::ShapeToString(x), ", ",
                                          compiler::ShapeToString(w), ", ", compiler::ShapeToString(r)));
  }
  d.seq = d.layout == 0 ? x[0] : x[1];
  d.batch = d.layout == 0 ? x[1] : x[0];
  d.input = x[2];
  d.hidden = r[2];
  TPUSIM_ASSIGN_OR_RETURN(int64_t hidden_attr, node.GetInt("hidden_size", d.hidden));
  const int64_t gh = d.gates * d.hidden;
  if (hidden_attr != d.hidden || w != Shape{d.dirs, gh, d.input} || r != Shape{d.dirs, gh, d.hidden}) {
    return KernelError(node, absl::StrCat("W ", compiler::ShapeToString(w), " and R ", compiler::ShapeToString(r),
                                          " do not match X ", compiler::ShapeToString(x), ", hidden_size ",
                                          hidden_attr, " and ", d.dirs, " direction(s)"));
  }
  auto expect = [&](size_t i, const Shape& want, const char* name) -> absl::Status {
    if (i >= in.size() || !in[i].present || in[i].shape == want) return absl::OkStatus();
    return KernelError(node, absl::StrCat(name, " has shape ", compiler::ShapeToString(in[i].shape), ", expected ",
                                          compiler::ShapeToString(want)));
  };
  const Shape state = d.layout == 0 ? Shape{d.dirs, d.batch, d.hidden} : Shape{d.batch, d.dirs, d.hidden};
  TPUSIM_RETURN_IF_ERROR(expect(3, {d.dirs, 2 * gh}, "B"));
  TPUSIM_RETURN_IF_ERROR(expect(4, {d.batch}, "sequence_lens"));
  TPUSIM_RETURN_IF_ERROR(expect(5, state, "initial_h"));
  TPUSIM_RETURN_IF_ERROR(expect(6, state, "initial_c"));
  TPUSIM_RETURN_IF_ERROR(expect(7, {d.dirs, 3 * d.hidden}, "P"));
  return d;
}

absl::StatusOr<std::vector<KernelOutputInfo>> InferRnn(const Node& node, const std::vector<KernelInputInfo>& in) {
  TPUSIM_ASSIGN_OR_RETURN(RnnDims d, PlanRnn(node, in));
  const size_t max_outputs = node.op_type == "LSTM" ? 3 : 2;
  if (node.outputs.size() > max_outputs) {
    return KernelError(node, absl::StrCat("has ", node.outputs.size(), " outputs, at most ", max_outputs));
  }
  const Shape y = d.layout == 0 ? Shape{d.seq, d.dirs, d.batch, d.hidden} : Shape{d.batch, d.seq, d.dirs, d.hidden};
  const Shape state = d.layout == 0 ? Shape{d.dirs, d.batch, d.hidden} : Shape{d.batch, d.dirs, d.hidden};
  std::vector<KernelOutputInfo> out;
  for (size_t i = 0; i < node.outputs.size(); ++i) out.push_back({DataType::kFloat32, i == 0 ? y : state});
  return out;
}

float Sigmoid(float x) { return 1.0f / (1.0f + std::exp(-x)); }

// Runs one direction for one batch entry, writing Y and the final states.
class Recurrence {
 public:
  Recurrence(const Node& node, const RnnDims& d, const std::vector<const Tensor*>& in) : node_(node), d_(d), in_(in) {}

  // Element offsets of (t, dir, b, j) in Y and (dir, b, j) in states, per layout.
  int64_t YAt(int64_t t, int64_t dir, int64_t b) const {
    return d_.layout == 0 ? ((t * d_.dirs + dir) * d_.batch + b) * d_.hidden
                          : ((b * d_.seq + t) * d_.dirs + dir) * d_.hidden;
  }
  int64_t StateAt(int64_t dir, int64_t b) const {
    return d_.layout == 0 ? (dir * d_.batch + b) * d_.hidden : (b * d_.dirs + dir) * d_.hidden;
  }

  void Run(int64_t dir, int64_t b, bool reverse, float* y, float* y_h, float* y_c) const {
    const int64_t H = d_.hidden, G = d_.gates, I = d_.input;
    const float* w = in_[1]->as<float>() + dir * G * H * I;
    const float* r = in_[2]->as<float>() + dir * G * H * H;
    const float* bias = Has(3) ? in_[3]->as<float>() + dir * 2 * G * H : nullptr;
    const float* peep = Has(7) ? in_[7]->as<float>() + dir * 3 * H : nullptr;
    std::vector<float> h(H, 0.0f), c(H, 0.0f), pre(G * H), rec(G * H), next(H);
    if (Has(5)) std::copy_n(in_[5]->as<float>() + StateAt(dir, b), H, h.begin());
    if (Has(6)) std::copy_n(in_[6]->as<float>() + StateAt(dir, b), H, c.begin());
    const int64_t len = Has(4) ? std::clamp<int64_t>(in_[4]->as<int32_t>()[b], 0, d_.seq) : d_.seq;
    for (int64_t step = 0; step < len; ++step) {
      const int64_t t = reverse ? len - 1 - step : step;
      const float* x = in_[0]->as<float>() + (d_.layout == 0 ? (t * d_.batch + b) : (b * d_.seq + t)) * I;
      for (int64_t g = 0; g < G * H; ++g) {
        float acc = bias != nullptr ? bias[g] : 0.0f, racc = bias != nullptr ? bias[G * H + g] : 0.0f;
        for (int64_t k = 0; k < I; ++k) acc += x[k] * w[g * I + k];
        for (int64_t k = 0; k < H; ++k) racc += h[k] * r[g * H + k];
        pre[g] = acc;
        rec[g] = racc;
      }
      Step(h, c, pre, rec, r, bias, peep, next);
      if (y != nullptr) std::copy_n(h.begin(), H, y + YAt(t, dir, b));
    }
    std::copy_n(h.begin(), H, y_h + StateAt(dir, b));
    if (y_c != nullptr) std::copy_n(c.begin(), H, y_c + StateAt(dir, b));
  }

 private:
  bool Has(size_t i) const { return i < in_.size() && in_[i] != nullptr; }
  float Clip(float v) const { return d_.clip > 0.0f ? std::clamp(v, -d_.clip, d_.clip) : v; }

  // One time step: pre = x W^T + Wb, rec = h R^T + Rb (per gate row), updates h (and c).
  void Step(std::vector<float>& h, std::vector<float>& c, const std::vector<float>& pre, const std::vector<float>& rec,
            const float* r, const float* bias, const float* peep, std::vector<float>& next) const {
    const int64_t H = d_.hidden;
    if (node_.op_type == "RNN") {
      for (int64_t j = 0; j < H; ++j) h[j] = std::tanh(Clip(pre[j] + rec[j]));
      return;
    }
    if (node_.op_type == "LSTM") {  // gate rows: i, o, f, c
      for (int64_t j = 0; j < H; ++j) {
        auto gate = [&](int k) { return pre[k * H + j] + rec[k * H + j]; };
        const float pi = peep != nullptr ? peep[j] : 0.0f, po = peep != nullptr ? peep[H + j] : 0.0f;
        const float pf = peep != nullptr ? peep[2 * H + j] : 0.0f;
        const float i = Sigmoid(Clip(gate(0) + pi * c[j]));
        const float f = Sigmoid(Clip(gate(2) + pf * c[j]));
        const float cand = std::tanh(Clip(gate(3)));
        c[j] = f * c[j] + i * cand;
        const float o = Sigmoid(Clip(gate(1) + po * c[j]));
        h[j] = o * std::tanh(c[j]);
      }
      return;
    }
    // GRU, gate rows z, r, h.
    std::vector<float> rh(H);  // r (.) h, for linear_before_reset = 0
    std::vector<float> z(H), rg(H);
    for (int64_t j = 0; j < H; ++j) {
      z[j] = Sigmoid(Clip(pre[j] + rec[j]));
      rg[j] = Sigmoid(Clip(pre[H + j] + rec[H + j]));
      rh[j] = rg[j] * h[j];
    }
    for (int64_t j = 0; j < H; ++j) {
      float hh;
      if (d_.linear_before_reset) {
        hh = rg[j] * rec[2 * H + j];  // r (.) (h Rh^T + Rbh)
      } else {
        hh = bias != nullptr ? bias[3 * H + 2 * H + j] : 0.0f;  // (r (.) h) Rh^T + Rbh
        for (int64_t k = 0; k < H; ++k) hh += rh[k] * r[(2 * H + j) * H + k];
      }
      const float cand = std::tanh(Clip(pre[2 * H + j] + hh));
      next[j] = (1.0f - z[j]) * cand + z[j] * h[j];
    }
    h = next;
  }

  const Node& node_;
  const RnnDims& d_;
  const std::vector<const Tensor*>& in_;
};

absl::StatusOr<std::vector<Tensor>> ComputeRnn(const Node& node, const std::vector<const Tensor*>& in) {
  const std::vector<KernelInputInfo> infos = InfosOf(in);
  TPUSIM_ASSIGN_OR_RETURN(RnnDims d, PlanRnn(node, infos));
  TPUSIM_ASSIGN_OR_RETURN(std::vector<KernelOutputInfo> shapes, InferRnn(node, infos));
  std::vector<Tensor> out;
  for (const KernelOutputInfo& s : shapes) out.emplace_back(s.dtype, s.shape);
  // Y_h is always computed (into a scratch tensor when the node does not name it).
  Tensor y_h_scratch(DataType::kFloat32, shapes.size() > 1 ? shapes[1].shape : Shape{});
  if (shapes.size() < 2) y_h_scratch = Tensor(DataType::kFloat32, d.layout == 0 ? Shape{d.dirs, d.batch, d.hidden}
                                                                             : Shape{d.batch, d.dirs, d.hidden});
  float* y = !out.empty() ? out[0].as<float>() : nullptr;
  float* y_h = out.size() > 1 ? out[1].as<float>() : y_h_scratch.as<float>();
  float* y_c = out.size() > 2 ? out[2].as<float>() : nullptr;
  Recurrence rec(node, d, in);
  for (int64_t dir = 0; dir < d.dirs; ++dir) {
    for (int64_t b = 0; b < d.batch; ++b) rec.Run(dir, b, d.reverse_only || dir == 1, y, y_h, y_c);
  }
  return out;
}

}  // namespace

void AppendRnnKernels(std::vector<CpuKernel>& out) {
  out.push_back({"LSTM", InferRnn, ComputeRnn});
  out.push_back({"GRU", InferRnn, ComputeRnn});
  out.push_back({"RNN", InferRnn, ComputeRnn});
}

}  // namespace tpusim::runtime::detail
