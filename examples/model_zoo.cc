// The model builders of model_zoo.h over a small ONNX graph-building helper.
#include "model_zoo.h"

#include <algorithm>
#include <cmath>
#include <cstring>
#include <map>
#include <string>
#include <utility>
#include <vector>

namespace tpusim::models {
namespace {

// SplitMix64: a fixed, portable sequence (std::*_distribution results differ between libraries).
class Rng {
 public:
  explicit Rng(uint64_t seed) : state_(seed) {}
  // Uniform in [lo, hi).
  float Uniform(float lo, float hi) {
    uint64_t z = (state_ += 0x9E3779B97F4A7C15ull);
    z = (z ^ (z >> 30)) * 0xBF58476D1CE4E5B9ull;
    z = (z ^ (z >> 27)) * 0x94D049BB133111EBull;
    z ^= z >> 31;
    return lo + (hi - lo) * static_cast<float>(static_cast<double>(z >> 11) * 0x1.0p-53);
  }

 private:
  uint64_t state_;
};

// Builds one GraphProto: initializers, nodes, typed inputs and outputs. Names are made unique with a
// per-kind counter ("conv_3").
class Builder {
 public:
  Builder(const std::string& name, uint64_t seed) : rng_(seed) {
    model_.set_ir_version(8);
    model_.set_producer_name("tpusim_models");
    model_.add_opset_import()->set_version(17);
    model_.mutable_graph()->set_name(name);
  }

  void Input(const std::string& name, const std::vector<int64_t>& shape) { ValueInfo(model_.mutable_graph()->add_input(), name, shape); }
  void Output(const std::string& name, const std::vector<int64_t>& shape) { ValueInfo(model_.mutable_graph()->add_output(), name, shape); }

  std::string Fresh(const std::string& kind) { return kind + "_" + std::to_string(counters_[kind]++); }

  // A float initializer filled by `fill` (called once per element, in row-major order).
  template <typename F>
  std::string Weight(const std::string& kind, const std::vector<int64_t>& dims, F fill) {
    onnx::TensorProto* t = model_.mutable_graph()->add_initializer();
    t->set_name(Fresh(kind));
    t->set_data_type(onnx::TensorProto::FLOAT);
    int64_t n = 1;
    for (int64_t d : dims) {
      t->add_dims(d);
      n *= d;
    }
    std::string raw(static_cast<size_t>(n) * sizeof(float), '\0');
    for (int64_t i = 0; i < n; ++i) {
      const float v = fill();
      std::memcpy(&raw[static_cast<size_t>(i) * sizeof(float)], &v, sizeof(float));
    }
    t->set_raw_data(std::move(raw));
    return t->name();
  }
  // He-uniform: U(-sqrt(6 / fan_in), sqrt(6 / fan_in)), which keeps ReLU activations O(1).
  std::string HeWeight(const std::string& kind, const std::vector<int64_t>& dims, int64_t fan_in) {
    const float a = static_cast<float>(std::sqrt(6.0 / static_cast<double>(std::max<int64_t>(fan_in, 1))));
    return Weight(kind, dims, [&] { return rng_.Uniform(-a, a); });
  }
  std::string UniformWeight(const std::string& kind, const std::vector<int64_t>& dims, float lo, float hi) {
    return Weight(kind, dims, [&] { return rng_.Uniform(lo, hi); });
  }
  std::string Ints(const std::vector<int64_t>& values) {
    onnx::TensorProto* t = model_.mutable_graph()->add_initializer();
    t->set_name(Fresh("shape"));
    t->set_data_type(onnx::TensorProto::INT64);
    t->add_dims(static_cast<int64_t>(values.size()));
    for (int64_t v : values) t->add_int64_data(v);
    return t->name();
  }
  std::string Scalar(float v) { return Weight("scalar", {}, [v] { return v; }); }

  // One node with one output (named `out`, or "<op>_k").
  std::string Node(const std::string& op, const std::vector<std::string>& inputs,
                   std::vector<onnx::AttributeProto> attrs = {}, std::string out = "") {
    onnx::NodeProto* n = model_.mutable_graph()->add_node();
    n->set_op_type(op);
    n->set_name(Fresh(op));
    if (out.empty()) out = n->name();
    for (const std::string& in : inputs) n->add_input(in);
    n->add_output(out);
    for (onnx::AttributeProto& a : attrs) *n->add_attribute() = std::move(a);
    return out;
  }
  onnx::NodeProto* LastNode() { return model_.mutable_graph()->mutable_node(model_.graph().node_size() - 1); }

  onnx::ModelProto Finish() { return std::move(model_); }

 private:
  static void ValueInfo(onnx::ValueInfoProto* v, const std::string& name, const std::vector<int64_t>& shape) {
    v->set_name(name);
    onnx::TypeProto_Tensor* t = v->mutable_type()->mutable_tensor_type();
    t->set_elem_type(onnx::TensorProto::FLOAT);
    for (int64_t d : shape) t->mutable_shape()->add_dim()->set_dim_value(d);
  }

  onnx::ModelProto model_;
  Rng rng_;
  std::map<std::string, int> counters_;
};

onnx::AttributeProto IntAttr(const std::string& name, int64_t v) {
  onnx::AttributeProto a;
  a.set_name(name);
  a.set_type(onnx::AttributeProto::INT);
  a.set_i(v);
  return a;
}
onnx::AttributeProto IntsAttr(const std::string& name, const std::vector<int64_t>& v) {
  onnx::AttributeProto a;
  a.set_name(name);
  a.set_type(onnx::AttributeProto::INTS);
  for (int64_t x : v) a.add_ints(x);
  return a;
}
onnx::AttributeProto FloatAttr(const std::string& name, float v) {
  onnx::AttributeProto a;
  a.set_name(name);
  a.set_type(onnx::AttributeProto::FLOAT);
  a.set_f(v);
  return a;
}
onnx::AttributeProto StringAttr(const std::string& name, const std::string& v) {
  onnx::AttributeProto a;
  a.set_name(name);
  a.set_type(onnx::AttributeProto::STRING);
  a.set_s(v);
  return a;
}

int64_t Scaled(int64_t channels, double width) {
  return std::max<int64_t>(1, static_cast<int64_t>(std::lround(static_cast<double>(channels) * width)));
}

// Conv (no bias: the BatchNormalization after it carries the shift) + BatchNormalization, optionally
// followed by Relu ("relu") or ReLU6 ("relu6", a Clip to [0, 6]).
std::string ConvBn(Builder& b, const std::string& x, int64_t cin, int64_t cout, int64_t k, int64_t stride,
                   int64_t group, const std::string& act) {
  const std::string w = b.HeWeight("conv_w", {cout, cin / group, k, k}, cin / group * k * k);
  std::string y = b.Node("Conv", {x, w},
                         {IntsAttr("kernel_shape", {k, k}), IntsAttr("strides", {stride, stride}),
                          IntsAttr("pads", {k / 2, k / 2, k / 2, k / 2}), IntAttr("group", group)});
  // Statistics near the identity: scale in [0.5, 1], shift small, so magnitudes stay O(1).
  const std::string gamma = b.UniformWeight("bn_scale", {cout}, 0.5f, 1.0f);
  const std::string beta = b.UniformWeight("bn_bias", {cout}, -0.1f, 0.1f);
  const std::string mean = b.UniformWeight("bn_mean", {cout}, -0.1f, 0.1f);
  const std::string var = b.UniformWeight("bn_var", {cout}, 0.5f, 1.5f);
  y = b.Node("BatchNormalization", {y, gamma, beta, mean, var}, {FloatAttr("epsilon", 1e-5f)});
  if (act == "relu") return b.Node("Relu", {y});
  if (act == "relu6") return b.Node("Clip", {y, b.Scalar(0.0f), b.Scalar(6.0f)});
  return y;
}

// GlobalAveragePool -> Flatten -> Gemm (transB, as torchvision's Linear exports).
std::string Head(Builder& b, const std::string& x, int64_t channels, int64_t classes) {
  std::string y = b.Node("GlobalAveragePool", {x});
  y = b.Node("Flatten", {y}, {IntAttr("axis", 1)});
  const std::string w = b.HeWeight("fc_w", {classes, channels}, channels);
  const std::string bias = b.UniformWeight("fc_b", {classes}, -0.1f, 0.1f);
  return b.Node("Gemm", {y, w, bias}, {IntAttr("transB", 1)}, "logits");
}

}  // namespace

onnx::ModelProto ResNet(const ResNetOptions& o) {
  Builder b(o.depth == 18 ? "resnet18" : "resnet50", o.seed);
  b.Input("input", {o.batch, 3, o.image_size, o.image_size});
  const int64_t stem = Scaled(64, o.width);
  std::string x = ConvBn(b, "input", 3, stem, 7, 2, 1, "relu");
  x = b.Node("MaxPool", {x}, {IntsAttr("kernel_shape", {3, 3}), IntsAttr("strides", {2, 2}), IntsAttr("pads", {1, 1, 1, 1})});
  const bool basic = o.depth == 18;
  const std::vector<int> blocks = basic ? std::vector<int>{2, 2, 2, 2} : std::vector<int>{3, 4, 6, 3};
  const int64_t expansion = basic ? 1 : 4;
  int64_t cin = stem;
  for (int stage = 0; stage < 4; ++stage) {
    const int64_t mid = Scaled(64 << stage, o.width);
    const int64_t cout = mid * expansion;
    for (int i = 0; i < blocks[stage]; ++i) {
      const int64_t stride = stage > 0 && i == 0 ? 2 : 1;
      std::string y;
      if (basic) {
        y = ConvBn(b, x, cin, mid, 3, stride, 1, "relu");
        y = ConvBn(b, y, mid, cout, 3, 1, 1, "");
      } else {  // torchvision's v1.5 bottleneck: the stride sits on the 3x3
        y = ConvBn(b, x, cin, mid, 1, 1, 1, "relu");
        y = ConvBn(b, y, mid, mid, 3, stride, 1, "relu");
        y = ConvBn(b, y, mid, cout, 1, 1, 1, "");
      }
      const std::string shortcut = stride != 1 || cin != cout ? ConvBn(b, x, cin, cout, 1, stride, 1, "") : x;
      x = b.Node("Relu", {b.Node("Add", {y, shortcut})});
      cin = cout;
    }
  }
  Head(b, x, cin, o.classes);
  b.Output("logits", {o.batch, o.classes});
  return b.Finish();
}

onnx::ModelProto MobileNetBlock(const MobileNetOptions& o) {
  Builder b("mobilenet_block", o.seed);
  b.Input("input", {o.batch, 3, o.image_size, o.image_size});
  const int64_t c = o.channels;
  std::string x = ConvBn(b, "input", 3, c, 3, 2, 1, "relu6");
  // v1 depthwise-separable: depthwise 3x3 (group = channels), pointwise 1x1 to 2c.
  x = ConvBn(b, x, c, c, 3, 1, c, "relu6");
  x = ConvBn(b, x, c, 2 * c, 1, 1, 1, "relu6");
  // v2 inverted residual at 2c: expand, depthwise, linear projection, residual Add.
  const int64_t e = 2 * c * o.expansion;
  std::string y = ConvBn(b, x, 2 * c, e, 1, 1, 1, "relu6");
  y = ConvBn(b, y, e, e, 3, 1, e, "relu6");
  y = ConvBn(b, y, e, 2 * c, 1, 1, 1, "");
  x = b.Node("Add", {x, y});
  Head(b, x, 2 * c, o.classes);
  b.Output("logits", {o.batch, o.classes});
  return b.Finish();
}

namespace {

std::string Linear(Builder& b, const std::string& x, int64_t in, int64_t out) {
  const std::string w = b.HeWeight("dense_w", {in, out}, in);
  return b.Node("Add", {b.Node("MatMul", {x, w}), b.UniformWeight("dense_b", {out}, -0.1f, 0.1f)});
}

std::string LayerNorm(Builder& b, const std::string& x, int64_t hidden, bool op) {
  const std::string gamma = b.UniformWeight("ln_scale", {hidden}, 0.8f, 1.2f);
  const std::string beta = b.UniformWeight("ln_bias", {hidden}, -0.1f, 0.1f);
  if (op) return b.Node("LayerNormalization", {x, gamma, beta}, {IntAttr("axis", -1), FloatAttr("epsilon", 1e-12f)});
  const std::string mean = b.Node("ReduceMean", {x}, {IntsAttr("axes", {-1})});
  const std::string d = b.Node("Sub", {x, mean});
  const std::string var = b.Node("ReduceMean", {b.Node("Pow", {d, b.Scalar(2.0f)})}, {IntsAttr("axes", {-1})});
  const std::string norm = b.Node("Div", {d, b.Node("Sqrt", {b.Node("Add", {var, b.Scalar(1e-12f)})})});
  return b.Node("Add", {b.Node("Mul", {norm, gamma}), beta});
}

}  // namespace

onnx::ModelProto BertLayer(const BertOptions& o) {
  Builder b("bert_encoder_layer", o.seed);
  const int64_t H = o.hidden, dh = o.hidden / o.heads;
  b.Input("hidden_states", {o.batch, o.seq, H});
  const std::string x = "hidden_states";
  const std::string split = b.Ints({o.batch, o.seq, o.heads, dh});
  auto heads = [&](const std::string& proj, const std::vector<int64_t>& perm) {
    return b.Node("Transpose", {b.Node("Reshape", {proj, split})}, {IntsAttr("perm", perm)});
  };
  const std::string q = heads(Linear(b, x, H, H), {0, 2, 1, 3});  // [B, h, S, dh]
  const std::string k = heads(Linear(b, x, H, H), {0, 2, 3, 1});  // [B, h, dh, S]
  const std::string v = heads(Linear(b, x, H, H), {0, 2, 1, 3});
  std::string s = b.Node("MatMul", {q, k});
  s = b.Node("Div", {s, b.Scalar(static_cast<float>(std::sqrt(static_cast<double>(dh))))});
  const std::string p = b.Node("Softmax", {s}, {IntAttr("axis", -1)});
  std::string ctx = b.Node("Transpose", {b.Node("MatMul", {p, v})}, {IntsAttr("perm", {0, 2, 1, 3})});
  ctx = b.Node("Reshape", {ctx, b.Ints({o.batch, o.seq, H})});
  const std::string attn = LayerNorm(b, b.Node("Add", {Linear(b, ctx, H, H), x}), H, o.layernorm_op);
  // FFN with exact Gelu: 0.5 * h * (1 + erf(h / sqrt(2))).
  const std::string h = Linear(b, attn, H, o.ffn);
  const std::string erf = b.Node("Erf", {b.Node("Div", {h, b.Scalar(static_cast<float>(std::sqrt(2.0)))})});
  const std::string gelu =
      b.Node("Mul", {b.Node("Mul", {h, b.Node("Add", {erf, b.Scalar(1.0f)})}), b.Scalar(0.5f)});
  const std::string out = LayerNorm(b, b.Node("Add", {Linear(b, gelu, o.ffn, H), attn}), H, o.layernorm_op);
  b.Node("Identity", {out}, {}, "output");
  b.Output("output", {o.batch, o.seq, H});
  return b.Finish();
}

onnx::ModelProto LstmClassifier(const LstmOptions& o) {
  Builder b("lstm_classifier", o.seed);
  const int64_t dirs = o.bidirectional ? 2 : 1, H = o.hidden;
  b.Input("sequence", {o.seq, o.batch, o.features});
  // PyTorch's nn.LSTM default init: U(-1/sqrt(H), 1/sqrt(H)) for weights and biases.
  const float a = static_cast<float>(1.0 / std::sqrt(static_cast<double>(H)));
  const std::string w = b.UniformWeight("lstm_w", {dirs, 4 * H, o.features}, -a, a);
  const std::string r = b.UniformWeight("lstm_r", {dirs, 4 * H, H}, -a, a);
  const std::string bias = b.UniformWeight("lstm_b", {dirs, 8 * H}, -a, a);
  b.Node("LSTM", {"sequence", w, r, bias},
         {IntAttr("hidden_size", H), StringAttr("direction", o.bidirectional ? "bidirectional" : "forward")});
  onnx::NodeProto* lstm = b.LastNode();
  lstm->clear_output();
  lstm->add_output("");
  lstm->add_output("lstm_h");
  // Y_h [dirs, batch, H] -> [batch, dirs * H] (Transpose first so each row is one batch entry).
  std::string h = b.Node("Transpose", {"lstm_h"}, {IntsAttr("perm", {1, 0, 2})});
  h = b.Node("Reshape", {h, b.Ints({o.batch, dirs * H})});
  const std::string fc = b.HeWeight("fc_w", {o.classes, dirs * H}, dirs * H);
  const std::string logits = b.Node("Gemm", {h, fc, b.UniformWeight("fc_b", {o.classes}, -0.1f, 0.1f)},
                                    {IntAttr("transB", 1)});
  b.Node("Softmax", {logits}, {IntAttr("axis", -1)}, "probs");
  b.Output("probs", {o.batch, o.classes});
  return b.Finish();
}

std::vector<NamedModel> AllModels(bool full) {
  std::vector<NamedModel> out;
  ResNetOptions r18;
  r18.depth = 18;
  ResNetOptions r50;
  MobileNetOptions mb;
  BertOptions bert;
  LstmOptions lstm;
  if (!full) {
    r18.image_size = r50.image_size = 32;
    r18.width = 0.125;   // channels 8, 16, 32, 64
    r50.width = 0.0625;  // bottleneck widths 4..32, outputs 16..128
    r18.classes = r50.classes = mb.classes = 10;
    mb.image_size = 16;
    mb.channels = 8;
    mb.expansion = 2;
    bert.seq = 8;
    bert.hidden = 32;
    bert.heads = 2;
    bert.ffn = 64;
    lstm.seq = 5;
    lstm.batch = 2;
    lstm.features = 8;
    lstm.hidden = 16;
  }
  BertOptions bert_decomposed = bert;
  bert_decomposed.layernorm_op = false;
  out.push_back({"resnet18", ResNet(r18)});
  out.push_back({"resnet50", ResNet(r50)});
  out.push_back({"mobilenet_block", MobileNetBlock(mb)});
  out.push_back({"bert_layer", BertLayer(bert)});
  out.push_back({"bert_layer_decomposed_ln", BertLayer(bert_decomposed)});
  out.push_back({"lstm_classifier", LstmClassifier(lstm)});
  return out;
}

}  // namespace tpusim::models
