// Shared helpers of the int8-mode TPU tests (int8_tpu_test.cc, int8_conv_tpu_test.cc): deterministic
// quantized data, scalar tensors, session options and ONNX's requantization written out independently.
#pragma once

#include <algorithm>
#include <cmath>
#include <map>
#include <string>
#include <vector>

#include "tpusim/isa/arch_config.h"
#include "tpusim/runtime/session.h"

namespace tpusim::runtime::int8_test {

using compiler::DataType;
using compiler::Graph;
using compiler::Node;
using compiler::Shape;
using compiler::Tensor;

struct Lcg {
  uint32_t s;
  uint32_t Next() { return s = s * 1664525u + 1013904223u; }
};

inline Tensor RandomQuant(DataType t, Shape shape, Lcg& rng) {
  Tensor x(t, std::move(shape));
  for (int64_t i = 0; i < x.num_elements(); ++i) x.data()[i] = static_cast<uint8_t>(rng.Next() >> 24);
  return x;
}

inline Tensor Scalar(DataType t, int32_t v) {
  Tensor x(t, Shape{});
  if (t == DataType::kUint8) x.as<uint8_t>()[0] = static_cast<uint8_t>(v);
  else x.as<int8_t>()[0] = static_cast<int8_t>(v);
  return x;
}

inline Tensor ScalarF(float v) {
  Tensor x(DataType::kFloat32, Shape{});
  x.as<float>()[0] = v;
  return x;
}

inline int32_t At(const Tensor& t, int64_t i) {
  return t.dtype() == DataType::kUint8 ? int32_t{t.as<uint8_t>()[i]} : int32_t{t.as<int8_t>()[i]};
}

// Naive ONNX MatMulInteger (scalar zero points; B batched like A or 2-D) with int32 wrap-around.
inline std::vector<int32_t> RefMatMulInteger(const Tensor& a, int32_t za, const Tensor& b, int32_t zb) {
  const Shape& as = a.shape();
  const Shape& bs = b.shape();
  const int64_t m = as[as.size() - 2], k = as.back(), n = bs.back();
  const int64_t batch = a.num_elements() / (m * k);
  const bool b_batched = bs.size() > 2;
  std::vector<int32_t> y(batch * m * n);
  for (int64_t p = 0; p < batch; ++p) {
    for (int64_t i = 0; i < m; ++i) {
      for (int64_t j = 0; j < n; ++j) {
        uint32_t acc = 0;
        for (int64_t q = 0; q < k; ++q) {
          const int32_t av = At(a, (p * m + i) * k + q) - za;
          const int32_t bv = At(b, ((b_batched ? p : 0) * k + q) * n + j) - zb;
          acc += static_cast<uint32_t>(av * bv);
        }
        y[(p * m + i) * n + j] = static_cast<int32_t>(acc);
      }
    }
  }
  return y;
}

// ONNX QLinearMatMul requantization as ONNX Runtime computes it: multiplier fp32(fp32(sa*sb)/sy),
// fp32(acc) * multiplier in fp32, round half to even, + y_zero_point, saturate to the output type.
inline int32_t RefRequantize(int32_t acc, float sa, float sb, float sy, int32_t zy, DataType t) {
  const float multiplier = (sa * sb) / sy;
  const float product = static_cast<float>(acc) * multiplier;
  const double q = std::nearbyint(static_cast<double>(product)) + zy;
  const double lo = t == DataType::kUint8 ? 0.0 : -128.0, hi = t == DataType::kUint8 ? 255.0 : 127.0;
  return static_cast<int32_t>(std::min(hi, std::max(lo, q)));
}

inline SessionOptions Tpu(const std::string& engine, const std::string& arch = "tiny", bool fallback = false) {
  SessionOptions o;
  o.device = "tpu";
  o.engine = engine;
  o.arch = *isa::LoadPreset(arch);
  o.precision = compiler::Precision::kHighest;
  o.allow_cpu_fallback = fallback;
  return o;
}

inline SessionOptions Cpu() {
  SessionOptions o;
  o.device = "cpu";
  return o;
}

inline Node MakeNode(const std::string& op, std::vector<std::string> in, const std::string& out) {
  Node n;
  n.name = op + "_node";
  n.op_type = op;
  n.inputs = std::move(in);
  n.outputs = {out};
  n.opset = 13;
  return n;
}

// One MatMulInteger / QLinearMatMul node; a, b (and zero points, scales) fed, or b constant.
inline std::vector<int32_t> Values(const Tensor& t) {
  std::vector<int32_t> out(t.num_elements());
  for (int64_t i = 0; i < t.num_elements(); ++i) out[i] = t.dtype() == DataType::kInt32 ? t.as<int32_t>()[i] : At(t, i);
  return out;
}

// Runs the case on the CPU and on both TPU engines (no fallback): all equal the reference.
}  // namespace tpusim::runtime::int8_test
