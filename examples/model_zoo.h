// Real-model-shaped ONNX models with deterministic weights, for tests, benchmarks and `tpusim profile`
// studies: ResNet-18 / ResNet-50 (torchvision layer shapes), a MobileNet-style depthwise-separable
// network, a BERT-base encoder layer and an LSTM classifier. The weights are not trained: they come
// from a fixed-seed generator (SplitMix64, He-uniform for weights, batch-norm statistics near identity)
// so every build writes the same bytes, and activations stay O(1) through every layer, which keeps
// bf16 error comparable across models.
//
// Every builder returns a self-contained ModelProto (opset 17, default domain; graph inputs and outputs
// with static shapes). Sizes are options so tests can use tiny versions of the same topology.
#pragma once

#include <onnx/onnx_pb.h>

#include <cstdint>
#include <string>
#include <vector>

namespace tpusim::models {

struct ResNetOptions {
  int depth = 50;            // 18 (basic blocks 2-2-2-2) or 50 (bottlenecks 3-4-6-3)
  int64_t batch = 1;
  int64_t image_size = 224;  // input [batch, 3, image_size, image_size]
  double width = 1.0;        // channel multiplier (64 * width at the stem; at least 1 channel)
  int64_t classes = 1000;
  uint64_t seed = 1;
};
onnx::ModelProto ResNet(const ResNetOptions& o);

// MobileNet-style: stem conv 3x3/2 + BN + ReLU6, a depthwise-separable block (MobileNet v1: depthwise
// 3x3 + BN + ReLU6, pointwise 1x1 + BN + ReLU6), an inverted-residual block (MobileNet v2: expand 1x1,
// depthwise 3x3, project 1x1, residual Add), GlobalAveragePool, Gemm.
struct MobileNetOptions {
  int64_t batch = 1;
  int64_t image_size = 224;
  int64_t channels = 32;  // stem output channels
  int64_t expansion = 6;  // inverted-residual expansion factor
  int64_t classes = 1000;
  uint64_t seed = 2;
};
onnx::ModelProto MobileNetBlock(const MobileNetOptions& o);

// One BERT encoder layer (post-LN): multi-head self-attention (Q/K/V MatMul + bias, Reshape,
// Transpose, scaled MatMul, Softmax, MatMul, output projection), residual Add + LayerNorm, FFN with
// Gelu written as 0.5 x (1 + Erf(x / sqrt 2)), residual Add + LayerNorm. LayerNorm is the
// LayerNormalization op, or (layernorm_op = false) its decomposition as PyTorch exports it before
// opset 17: ReduceMean, Sub, Pow 2, ReduceMean, Add eps, Sqrt, Div, Mul gamma, Add beta.
struct BertOptions {
  int64_t batch = 1;
  int64_t seq = 128;
  int64_t hidden = 768;
  int64_t heads = 12;
  int64_t ffn = 3072;
  bool layernorm_op = true;
  uint64_t seed = 3;
};
onnx::ModelProto BertLayer(const BertOptions& o);

// input [seq, batch, features] -> LSTM -> Y_h -> Reshape [batch, dirs*hidden] -> Gemm -> Softmax.
struct LstmOptions {
  int64_t seq = 32;
  int64_t batch = 1;
  int64_t features = 64;
  int64_t hidden = 128;
  bool bidirectional = false;
  int64_t classes = 10;
  uint64_t seed = 4;
};
onnx::ModelProto LstmClassifier(const LstmOptions& o);

struct NamedModel {
  std::string name;  // file stem: "resnet50", ...
  onnx::ModelProto model;
};
// The shipped set. full = the real shapes (ResNets at 224x224, BERT-base at seq 128, ...); otherwise
// the small versions the tests run on the tiny arch (same topology, fewer channels and pixels).
std::vector<NamedModel> AllModels(bool full);

}  // namespace tpusim::models
