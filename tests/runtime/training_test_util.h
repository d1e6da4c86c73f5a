// Test helpers for the training tests: a naive double-precision interpreter of the forward ops the
// gradient tests use (the independent reference for central finite differences), and the models.
#pragma once

#include <algorithm>
#include <cmath>
#include <limits>
#include <map>
#include <random>
#include <string>
#include <vector>

#include "gtest/gtest.h"
#include "tpusim/compiler_backend/ir.h"

namespace tpusim::runtime::testing {

using compiler::Graph;
using compiler::Node;
using compiler::Shape;
using compiler::Tensor;

struct DTensor {
  Shape shape;
  std::vector<double> v;
};

inline DTensor ToD(const Tensor& t) {
  DTensor d{t.shape(), {}};
  if (t.dtype() == compiler::DataType::kInt64) {
    for (int64_t i = 0; i < t.num_elements(); ++i) d.v.push_back(static_cast<double>(t.as<int64_t>()[i]));
  } else {
    for (int64_t i = 0; i < t.num_elements(); ++i) d.v.push_back(t.as<float>()[i]);
  }
  return d;
}

// Row-major strides of `s` as seen from an output of rank `rank` (numpy broadcasting: size-1 dims and
// missing leading dims get stride 0).
inline std::vector<int64_t> BroadcastStrides(const Shape& s, size_t rank) {
  std::vector<int64_t> st(rank, 0);
  int64_t acc = 1;
  for (size_t i = 0; i < s.size(); ++i) {
    const size_t d = s.size() - 1 - i;
    st[rank - 1 - i] = s[d] == 1 ? 0 : acc;
    acc *= s[d];
  }
  return st;
}

template <typename F>
DTensor Broadcast(const DTensor& a, const DTensor& b, F f) {
  const size_t rank = std::max(a.shape.size(), b.shape.size());
  Shape out(rank, 1);
  for (size_t i = 0; i < rank; ++i) {
    const int64_t da = i + a.shape.size() >= rank ? a.shape[i + a.shape.size() - rank] : 1;
    const int64_t db = i + b.shape.size() >= rank ? b.shape[i + b.shape.size() - rank] : 1;
    out[i] = std::max(da, db);
  }
  const auto sa = BroadcastStrides(a.shape, rank), sb = BroadcastStrides(b.shape, rank);
  DTensor r{out, std::vector<double>(static_cast<size_t>(compiler::NumElements(out)))};
  std::vector<int64_t> idx(rank, 0);
  for (size_t k = 0; k < r.v.size(); ++k) {
    int64_t ia = 0, ib = 0;
    for (size_t d = 0; d < rank; ++d) ia += idx[d] * sa[d], ib += idx[d] * sb[d];
    r.v[k] = f(a.v[static_cast<size_t>(ia)], b.v[static_cast<size_t>(ib)]);
    for (size_t d = rank; d-- > 0;) {
      if (++idx[d] < out[d]) break;
      idx[d] = 0;
    }
  }
  return r;
}

inline int64_t IntAttr(const Node& n, const std::string& k, int64_t dflt) {
  auto it = n.attrs.find(k);
  return it == n.attrs.end() ? dflt : std::get<int64_t>(it->second);
}
inline std::vector<int64_t> IntsAttr(const Node& n, const std::string& k, std::vector<int64_t> dflt) {
  auto it = n.attrs.find(k);
  return it == n.attrs.end() ? dflt : std::get<std::vector<int64_t>>(it->second);
}

// C = op(A) op(B) for 2-D operands.
inline DTensor MatMul2(const DTensor& a, const DTensor& b, bool ta, bool tb) {
  const int64_t m = ta ? a.shape[1] : a.shape[0], k = ta ? a.shape[0] : a.shape[1];
  const int64_t n = tb ? b.shape[0] : b.shape[1];
  DTensor c{{m, n}, std::vector<double>(static_cast<size_t>(m * n), 0.0)};
  for (int64_t i = 0; i < m; ++i)
    for (int64_t j = 0; j < n; ++j)
      for (int64_t p = 0; p < k; ++p) {
        const double x = ta ? a.v[p * a.shape[1] + i] : a.v[i * a.shape[1] + p];
        const double y = tb ? b.v[j * b.shape[1] + p] : b.v[p * b.shape[1] + j];
        c.v[i * n + j] += x * y;
      }
  return c;
}

// Conv (2-D, group 1, no dilation) and MaxPool (2-D; first max) in double.
inline DTensor Conv2(const Node& node, const DTensor& x, const DTensor& w, const DTensor* b) {
  const auto st = IntsAttr(node, "strides", {1, 1});
  const auto pd = IntsAttr(node, "pads", {0, 0, 0, 0});
  const int64_t n = x.shape[0], c = x.shape[1], h = x.shape[2], wd = x.shape[3];
  const int64_t m = w.shape[0], kh = w.shape[2], kw = w.shape[3];
  const int64_t oh = (h + pd[0] + pd[2] - kh) / st[0] + 1, ow = (wd + pd[1] + pd[3] - kw) / st[1] + 1;
  DTensor y{{n, m, oh, ow}, std::vector<double>(static_cast<size_t>(n * m * oh * ow), 0.0)};
  for (int64_t in = 0; in < n; ++in)
    for (int64_t im = 0; im < m; ++im)
      for (int64_t i = 0; i < oh; ++i)
        for (int64_t j = 0; j < ow; ++j) {
          double s = b != nullptr ? b->v[im] : 0.0;
          for (int64_t ic = 0; ic < c; ++ic)
            for (int64_t a = 0; a < kh; ++a)
              for (int64_t bb = 0; bb < kw; ++bb) {
                const int64_t r = i * st[0] + a - pd[0], q = j * st[1] + bb - pd[1];
                if (r < 0 || r >= h || q < 0 || q >= wd) continue;
                s += x.v[((in * c + ic) * h + r) * wd + q] * w.v[((im * c + ic) * kh + a) * kw + bb];
              }
          y.v[((in * m + im) * oh + i) * ow + j] = s;
        }
  return y;
}

inline DTensor MaxPool2(const Node& node, const DTensor& x) {
  const auto k = IntsAttr(node, "kernel_shape", {1, 1});
  const auto st = IntsAttr(node, "strides", {1, 1});
  const auto pd = IntsAttr(node, "pads", {0, 0, 0, 0});
  const int64_t nc = x.shape[0] * x.shape[1], h = x.shape[2], w = x.shape[3];
  const int64_t oh = (h + pd[0] + pd[2] - k[0]) / st[0] + 1, ow = (w + pd[1] + pd[3] - k[1]) / st[1] + 1;
  DTensor y{{x.shape[0], x.shape[1], oh, ow}, {}};
  for (int64_t p = 0; p < nc; ++p)
    for (int64_t i = 0; i < oh; ++i)
      for (int64_t j = 0; j < ow; ++j) {
        double best = -std::numeric_limits<double>::infinity();
        for (int64_t a = 0; a < k[0]; ++a)
          for (int64_t b = 0; b < k[1]; ++b) {
            const int64_t r = i * st[0] + a - pd[0], q = j * st[1] + b - pd[1];
            if (r >= 0 && r < h && q >= 0 && q < w) best = std::max(best, x.v[(p * h + r) * w + q]);
          }
        y.v.push_back(best);
      }
  return y;
}

// Evaluates `value` of a graph of MatMul (2-D), Gemm, Add, Sub, Mul, Relu, Flatten, Reshape, Conv,
// MaxPool, Softmax (last axis), Log, Neg, ReduceSum/ReduceMean over all axes, in double.
// `feeds` override constants (the finite differences perturb parameters in double).
inline DTensor EvalDouble(const Graph& g, const std::map<std::string, DTensor>& feeds, const std::string& value) {
  std::map<std::string, DTensor> env;
  for (const auto& [name, v] : g.values) {
    if (v.constant.has_value()) env[name] = ToD(*v.constant);
  }
  for (const auto& [name, t] : feeds) env[name] = t;
  for (const Node& n : g.nodes) {
    const DTensor& a = env[n.inputs[0]];
    DTensor y;
    const std::string& op = n.op_type;
    if (op == "Add") y = Broadcast(a, env[n.inputs[1]], [](double p, double q) { return p + q; });
    else if (op == "Sub") y = Broadcast(a, env[n.inputs[1]], [](double p, double q) { return p - q; });
    else if (op == "Mul") y = Broadcast(a, env[n.inputs[1]], [](double p, double q) { return p * q; });
    else if (op == "MatMul") y = MatMul2(a, env[n.inputs[1]], false, false);
    else if (op == "Gemm") {
      y = MatMul2(a, env[n.inputs[1]], IntAttr(n, "transA", 0) != 0, IntAttr(n, "transB", 0) != 0);
      const double alpha = n.attrs.count("alpha") ? std::get<float>(n.attrs.at("alpha")) : 1.0;
      const double beta = n.attrs.count("beta") ? std::get<float>(n.attrs.at("beta")) : 1.0;
      for (double& e : y.v) e *= alpha;
      if (n.inputs.size() > 2) y = Broadcast(y, env[n.inputs[2]], [beta](double p, double q) { return p + beta * q; });
    } else if (op == "Relu") {
      y = a;
      for (double& e : y.v) e = std::max(e, 0.0);
    } else if (op == "Neg" || op == "Log") {
      y = a;
      for (double& e : y.v) e = op == "Neg" ? -e : std::log(e);
    } else if (op == "Flatten") {
      y = a;
      y.shape = {a.shape[0], compiler::NumElements(a.shape) / a.shape[0]};
    } else if (op == "Reshape") {
      y = a;
      y.shape.clear();
      for (double d : env[n.inputs[1]].v) y.shape.push_back(static_cast<int64_t>(d));
    } else if (op == "Conv") {
      y = Conv2(n, a, env[n.inputs[1]], n.inputs.size() > 2 ? &env[n.inputs[2]] : nullptr);
    } else if (op == "MaxPool") {
      y = MaxPool2(n, a);
    } else if (op == "Softmax") {
      y = a;
      const int64_t c = a.shape.back();
      for (size_t r = 0; r < y.v.size(); r += static_cast<size_t>(c)) {
        double mx = -1e300, s = 0;
        for (int64_t j = 0; j < c; ++j) mx = std::max(mx, y.v[r + j]);
        for (int64_t j = 0; j < c; ++j) s += (y.v[r + j] = std::exp(y.v[r + j] - mx));
        for (int64_t j = 0; j < c; ++j) y.v[r + j] /= s;
      }
    } else if (op == "ReduceSum" || op == "ReduceMean") {
      double s = 0;
      for (double e : a.v) s += e;
      if (op == "ReduceMean") s /= static_cast<double>(a.v.size());
      y = DTensor{{}, {s}};
    } else {
      ADD_FAILURE() << "EvalDouble: no reference for " << op;
      return {};
    }
    env[n.outputs[0]] = y;
  }
  return env[value];
}

inline Tensor RandomTensor(Shape shape, std::mt19937& rng, float scale = 1.0f) {
  std::uniform_real_distribution<float> u(-scale, scale);
  std::vector<float> v(static_cast<size_t>(compiler::NumElements(shape)));
  for (float& e : v) e = u(rng);
  return Tensor::FromFloats(std::move(shape), std::move(v));
}

}  // namespace tpusim::runtime::testing

namespace tpusim::runtime::testing {

// Builds small graphs by hand: inputs, constants (initial parameters) and one-output nodes.
class ModelBuilder {
 public:
  std::string Input(const std::string& name, Shape shape) {
    g_.AddValue(name, compiler::DataType::kFloat32, std::move(shape));
    g_.inputs.push_back(name);
    return name;
  }
  std::string Const(const std::string& name, Tensor t) {
    compiler::Value& v = g_.AddValue(name, t.dtype(), t.shape());
    v.constant = std::move(t);
    return name;
  }
  std::string Op(const std::string& op, std::vector<std::string> inputs, std::map<std::string, compiler::Attribute> attrs = {}) {
    Node n;
    n.name = op + "_" + std::to_string(counter_++);
    n.op_type = op;
    n.inputs = std::move(inputs);
    n.outputs = {n.name};
    n.attrs = std::move(attrs);
    g_.AddValue(n.name, compiler::DataType::kFloat32);
    g_.nodes.push_back(n);
    return n.name;
  }
  // Mean (over the batch of `n` rows) softmax cross-entropy of `logits` against one-hot `labels`, as
  // the decomposition Softmax -> Log -> Mul -> ReduceSum -> Neg -> scale.
  std::string CrossEntropy(const std::string& logits, const std::string& labels, int64_t n) {
    const std::string p = Op("Softmax", {logits}, {{"axis", int64_t{-1}}});
    const std::string s = Op("ReduceSum", {Op("Mul", {Op("Log", {p}), labels})}, {{"keepdims", int64_t{0}}});
    return Op("Mul", {Op("Neg", {s}), Const("inv_batch", Tensor::FromFloats({}, {1.0f / static_cast<float>(n)}))});
  }
  Graph& graph() { return g_; }

 private:
  Graph g_;
  int counter_ = 0;
};

inline Tensor OneHot(const std::vector<int>& labels, int64_t classes) {
  std::vector<float> v(labels.size() * static_cast<size_t>(classes), 0.0f);
  for (size_t i = 0; i < labels.size(); ++i) v[i * static_cast<size_t>(classes) + static_cast<size_t>(labels[i])] = 1.0f;
  return Tensor::FromFloats({static_cast<int64_t>(labels.size()), classes}, std::move(v));
}

// MLP: x[4,3] -> MatMul w1[3,5] + b1 -> Relu -> Gemm(w2[3,5], b2[3], alpha .7, beta .5, transB) ->
// softmax cross-entropy, plus 0.1 * ReduceMean((w1 - 0.25)^2) (Sub, Mul of a value by itself).
inline Graph MlpModel(uint32_t seed) {
  std::mt19937 rng(seed);
  ModelBuilder b;
  const std::string x = b.Input("x", {4, 3});
  const std::string y = b.Input("labels", {4, 3});
  const std::string w1 = b.Const("w1", RandomTensor({3, 5}, rng));
  const std::string b1 = b.Const("b1", RandomTensor({5}, rng, 0.5f));
  const std::string w2 = b.Const("w2", RandomTensor({3, 5}, rng));
  const std::string b2 = b.Const("b2", RandomTensor({3}, rng, 0.5f));
  const std::string h = b.Op("Relu", {b.Op("Add", {b.Op("MatMul", {x, w1}), b1})});
  const std::string z = b.Op("Gemm", {h, w2, b2}, {{"alpha", 0.7f}, {"beta", 0.5f}, {"transB", int64_t{1}}});
  const std::string ce = b.CrossEntropy(z, y, 4);
  const std::string d = b.Op("Sub", {w1, b.Const("c", Tensor::FromFloats({}, {0.25f}))});
  const std::string reg = b.Op("ReduceMean", {b.Op("Mul", {d, d})}, {{"keepdims", int64_t{0}}});
  const std::string loss = b.Op("Add", {ce, b.Op("Mul", {reg, b.Const("l2", Tensor::FromFloats({}, {0.1f}))})});
  b.graph().outputs = {loss};
  return b.graph();
}

// CNN: x[2,2,8,8] -> Conv(wc[3,2,3,3], bc, strides 2, pads 1) -> Relu -> MaxPool(2x2, stride 2) ->
// Flatten -> MatMul wf[12,4] + bf -> softmax cross-entropy. `overlap`: MaxPool 3x3 stride 2 pads 1
// (overlapping, padded windows: [2,3,2,2] still) and Conv stride 1 pads 0 on x[2,2,5,5].
inline Graph CnnModel(uint32_t seed, bool overlap) {
  std::mt19937 rng(seed);
  ModelBuilder b;
  const int64_t side = overlap ? 5 : 8;
  const std::string x = b.Input("x", {2, 2, side, side});
  const std::string y = b.Input("labels", {2, 4});
  const std::string wc = b.Const("wc", RandomTensor({3, 2, 3, 3}, rng));
  const std::string bc = b.Const("bc", RandomTensor({3}, rng, 0.5f));
  const std::string wf = b.Const("wf", RandomTensor({12, 4}, rng));
  const std::string bf = b.Const("bf", RandomTensor({4}, rng, 0.5f));
  std::map<std::string, compiler::Attribute> conv = {{"strides", std::vector<int64_t>{2, 2}},
                                                     {"pads", std::vector<int64_t>{1, 1, 1, 1}}};
  std::map<std::string, compiler::Attribute> pool = {{"kernel_shape", std::vector<int64_t>{2, 2}},
                                                     {"strides", std::vector<int64_t>{2, 2}}};
  if (overlap) {
    conv = {};
    pool = {{"kernel_shape", std::vector<int64_t>{3, 3}},
            {"strides", std::vector<int64_t>{2, 2}},
            {"pads", std::vector<int64_t>{1, 1, 1, 1}}};
  }
  const std::string c = b.Op("Relu", {b.Op("Conv", {x, wc, bc}, conv)});
  const std::string m = b.Op("MaxPool", {c}, pool);
  const std::string f = overlap ? b.Op("Reshape", {m, b.Const("shape", Tensor::FromInt64s({2}, {2, 12}))})
                                : b.Op("Flatten", {m});
  const std::string z = b.Op("Add", {b.Op("MatMul", {f, wf}), bf});
  b.graph().outputs = {b.CrossEntropy(z, y, 2)};
  return b.graph();
}

}  // namespace tpusim::runtime::testing
