// Post-training int8 quantization (quantize.h): calibration on the CPU reference kernels, then the
// MatMul / Gemm -> QuantizeLinear + MatMulInteger + DequantizeLinear rewrite.
#include "tpusim/runtime/quantize.h"

#include <algorithm>
#include <cmath>
#include <optional>
#include <set>

#include "absl/strings/str_cat.h"
#include "tpusim/isa/status_macros.h"
#include "tpusim/runtime/session.h"

namespace tpusim::runtime {
namespace {

using compiler::DataType;
using compiler::Graph;
using compiler::Node;
using compiler::Tensor;

// A MatMul / Gemm the rewrite applies to: activation input, the constant weight as [K, N] with alpha
// folded in, and Gemm's beta * C (empty when none).
struct Candidate {
  size_t node_index = 0;
  std::string x;
  std::vector<float> w;  // [K, N] row-major
  int64_t k = 0, n = 0;
  std::optional<Tensor> bias;
};

absl::StatusOr<std::optional<Candidate>> Match(const Graph& g, size_t index, std::string* why) {
  const Node& node = g.nodes[index];
  if (node.op_type != "MatMul" && node.op_type != "Gemm") return std::optional<Candidate>();
  const compiler::Value* w = node.inputs.size() > 1 ? g.FindValue(node.inputs[1]) : nullptr;
  if (w == nullptr || !w->constant.has_value() || w->constant->dtype() != DataType::kFloat32 ||
      w->constant->shape().size() != 2) {
    *why = "weight is not a constant 2-D float32 tensor";
    return std::optional<Candidate>();
  }
  const compiler::Value* x = g.FindValue(node.inputs[0]);
  if (x == nullptr || x->dtype != DataType::kFloat32 || x->constant.has_value()) {
    *why = "data input is not a float32 activation";
    return std::optional<Candidate>();
  }
  Candidate c;
  c.node_index = index;
  c.x = node.inputs[0];
  const Tensor& wt = *w->constant;
  bool trans_b = false;
  float alpha = 1.0f;
  if (node.op_type == "Gemm") {
    TPUSIM_ASSIGN_OR_RETURN(int64_t trans_a, node.GetInt("transA", 0));
    TPUSIM_ASSIGN_OR_RETURN(int64_t tb, node.GetInt("transB", 0));
    TPUSIM_ASSIGN_OR_RETURN(alpha, node.GetFloat("alpha", 1.0f));
    TPUSIM_ASSIGN_OR_RETURN(float beta, node.GetFloat("beta", 1.0f));
    trans_b = tb != 0;
    if (trans_a != 0) {
      *why = "Gemm with transA";
      return std::optional<Candidate>();
    }
    if (node.inputs.size() > 2 && !node.inputs[2].empty()) {
      const compiler::Value* cv = g.FindValue(node.inputs[2]);
      if (cv == nullptr || !cv->constant.has_value() || cv->constant->dtype() != DataType::kFloat32) {
        *why = "Gemm bias C is not a float32 constant";
        return std::optional<Candidate>();
      }
      Tensor bias = *cv->constant;
      for (int64_t i = 0; i < bias.num_elements(); ++i) bias.as<float>()[i] *= beta;
      c.bias = std::move(bias);
    }
  }
  c.k = wt.shape()[trans_b ? 1 : 0];
  c.n = wt.shape()[trans_b ? 0 : 1];
  c.w.resize(static_cast<size_t>(c.k * c.n));
  for (int64_t i = 0; i < c.k; ++i) {
    for (int64_t j = 0; j < c.n; ++j) {
      c.w[i * c.n + j] = alpha * wt.as<float>()[trans_b ? j * c.k + i : i * c.n + j];
    }
  }
  return std::optional<Candidate>(std::move(c));
}

// Runs the graph on the CPU with every calibrated value as an extra output; min/max over all samples.
absl::StatusOr<std::map<std::string, std::pair<float, float>>> Calibrate(
    const Graph& graph, const std::set<std::string>& values,
    const std::vector<std::map<std::string, Tensor>>& samples) {
  Graph probe = graph;
  for (const std::string& v : values) {
    if (std::find(probe.outputs.begin(), probe.outputs.end(), v) == probe.outputs.end()) probe.outputs.push_back(v);
  }
  SessionOptions options;
  options.device = "cpu";
  TPUSIM_ASSIGN_OR_RETURN(std::unique_ptr<Session> session, Session::Create(std::move(probe), options));
  std::map<std::string, std::pair<float, float>> ranges;
  for (const std::string& v : values) ranges[v] = {0.0f, 0.0f};  // every range includes 0
  for (const auto& feeds : samples) {
    TPUSIM_ASSIGN_OR_RETURN(auto outputs, session->Run(feeds));
    for (const std::string& v : values) {
      const Tensor& t = outputs.at(v);
      for (int64_t i = 0; i < t.num_elements(); ++i) {
        const float x = t.as<float>()[i];
        if (std::isfinite(x)) ranges[v] = {std::min(ranges[v].first, x), std::max(ranges[v].second, x)};
      }
    }
  }
  return ranges;
}

// Asymmetric int8 parameters of [lo, hi] (lo <= 0 <= hi): scale and zero point.
std::pair<float, int8_t> ActivationParams(float lo, float hi) {
  float scale = (hi - lo) / 255.0f;
  if (!(scale > 0.0f)) scale = 1.0f;
  const float zp = std::nearbyint(-128.0f - lo / scale);
  return {scale, static_cast<int8_t>(std::clamp(zp, -128.0f, 127.0f))};
}

Tensor ScalarTensor(DataType t, float v) {
  Tensor s(t, {});
  if (t == DataType::kFloat32) s.as<float>()[0] = v;
  else s.as<int8_t>()[0] = static_cast<int8_t>(v);
  return s;
}

// Unique value name in `g` starting with `base`.
std::string Fresh(const Graph& g, const std::string& base) {
  std::string name = base;
  for (int i = 1; g.values.count(name); ++i) name = absl::StrCat(base, "_", i);
  return name;
}

std::string AddConstant(Graph& g, const std::string& base, Tensor t) {
  const std::string name = Fresh(g, base);
  compiler::Value& v = g.AddValue(name, t.dtype(), t.shape());
  v.constant = std::move(t);
  return name;
}

// The rewritten nodes replacing candidate `c` (whose output is `y`), quantizing its input with `range`.
std::vector<Node> Rewrite(Graph& g, const Node& node, const Candidate& c, std::pair<float, float> range) {
  const std::string p = node.name + "_q";
  const auto [sx, zx] = ActivationParams(range.first, range.second);
  Tensor wq(DataType::kInt8, {c.k, c.n});
  Tensor scales(DataType::kFloat32, {c.n});
  for (int64_t j = 0; j < c.n; ++j) {
    float amax = 0.0f;
    for (int64_t i = 0; i < c.k; ++i) amax = std::max(amax, std::fabs(c.w[i * c.n + j]));
    const float sw = amax > 0.0f ? amax / 127.0f : 1.0f;
    for (int64_t i = 0; i < c.k; ++i) {
      wq.as<int8_t>()[i * c.n + j] =
          static_cast<int8_t>(std::clamp(std::nearbyint(c.w[i * c.n + j] / sw), -127.0f, 127.0f));
    }
    scales.as<float>()[j] = sx * sw;
  }
  const std::string sx_name = AddConstant(g, p + "_x_scale", ScalarTensor(DataType::kFloat32, sx));
  const std::string zx_name = AddConstant(g, p + "_x_zero_point", ScalarTensor(DataType::kInt8, zx));
  const std::string w_name = AddConstant(g, p + "_w", std::move(wq));
  const std::string s_name = AddConstant(g, p + "_scale", std::move(scales));
  const std::string xq = Fresh(g, p + "_x");
  g.AddValue(xq, DataType::kInt8);
  const std::string acc = Fresh(g, p + "_acc");
  g.AddValue(acc, DataType::kInt32);
  const std::string y = node.outputs[0];
  const std::string deq = c.bias ? Fresh(g, p + "_y") : y;
  if (c.bias) g.AddValue(deq, DataType::kFloat32);
  auto make = [&](std::string suffix, std::string op, std::vector<std::string> in, std::string out) {
    Node n;
    n.name = node.name + suffix;
    n.op_type = std::move(op);
    n.inputs = std::move(in);
    n.outputs = {std::move(out)};
    n.requested_device = node.requested_device;
    return n;
  };
  std::vector<Node> nodes;
  nodes.push_back(make("_quantize", "QuantizeLinear", {c.x, sx_name, zx_name}, xq));
  nodes.push_back(make("_matmul", "MatMulInteger", {xq, w_name, zx_name}, acc));
  Node dq = make("_dequantize", "DequantizeLinear", {acc, s_name}, deq);
  dq.attrs["axis"] = int64_t{-1};
  nodes.push_back(std::move(dq));
  if (c.bias) nodes.push_back(make("_bias", "Add", {deq, AddConstant(g, p + "_bias", *c.bias)}, y));
  return nodes;
}

}  // namespace

absl::StatusOr<Graph> QuantizeGraph(const Graph& graph, const std::vector<std::map<std::string, Tensor>>& samples,
                                    QuantizationReport* report) {
  if (samples.empty()) return absl::InvalidArgumentError("QuantizeGraph: no calibration samples");
  TPUSIM_RETURN_IF_ERROR(graph.Validate());
  QuantizationReport local;
  QuantizationReport& rep = report != nullptr ? *report : local;
  rep = QuantizationReport();
  std::vector<std::optional<Candidate>> candidates;
  std::set<std::string> to_calibrate;
  for (size_t i = 0; i < graph.nodes.size(); ++i) {
    std::string why;
    TPUSIM_ASSIGN_OR_RETURN(std::optional<Candidate> c, Match(graph, i, &why));
    if (!why.empty()) rep.skipped.push_back(absl::StrCat(graph.nodes[i].name, ": ", why));
    if (c) to_calibrate.insert(c->x);
    candidates.push_back(std::move(c));
  }
  TPUSIM_ASSIGN_OR_RETURN(auto ranges, Calibrate(graph, to_calibrate, samples));
  Graph out = graph;
  out.nodes.clear();
  for (size_t i = 0; i < graph.nodes.size(); ++i) {
    if (!candidates[i]) {
      out.nodes.push_back(graph.nodes[i]);
      continue;
    }
    for (Node& n : Rewrite(out, graph.nodes[i], *candidates[i], ranges.at(candidates[i]->x))) {
      out.nodes.push_back(std::move(n));
    }
    rep.quantized.push_back(graph.nodes[i].name);
    rep.ranges[candidates[i]->x] = ranges.at(candidates[i]->x);
  }
  TPUSIM_RETURN_IF_ERROR(out.Validate());
  return out;
}

}  // namespace tpusim::runtime
