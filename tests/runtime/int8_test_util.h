// Shared helpers of the int8-mode TPU tests (int8_tpu_test.cc, int8_conv_tpu_test.cc,
// quantize_tpu_test.cc): deterministic quantized data, scalar tensors, session options, ONNX's
// requantization written out independently, the PTQ MLP and the CPU-versus-TPU check of one output.
#pragma once

#include <gtest/gtest.h>

#include <algorithm>
#include <cmath>
#include <cstring>
#include <map>
#include <optional>
#include <string>
#include <vector>

#include "tpusim/isa/arch_config.h"
#include "tpusim/runtime/quantize.h"
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

// The elements of an int8, uint8 or int32 tensor as int32.
inline std::vector<int32_t> Values(const Tensor& t) {
  std::vector<int32_t> out(t.num_elements());
  for (int64_t i = 0; i < t.num_elements(); ++i) out[i] = t.dtype() == DataType::kInt32 ? t.as<int32_t>()[i] : At(t, i);
  return out;
}

// Declares `name` a graph input of t's type and shape, and feeds it t.
inline void AddFedInput(Graph& g, std::map<std::string, Tensor>& feeds, const std::string& name, const Tensor& t) {
  g.AddValue(name, t.dtype(), t.shape());
  g.inputs.push_back(name);
  feeds[name] = t;
}

// Runs g on the CPU kernels and on the functional and cycle engines of tiny (no CPU fallback), once per
// schedule in `schedules`: output "y" is of type y_type and equals `want` everywhere, and each TPU run
// is one launch with no CPU kernel.
inline void ExpectCpuAndTpuGive(const Graph& g, const std::map<std::string, Tensor>& feeds,
                                const std::vector<int32_t>& want, DataType y_type, const std::string& what,
                                const std::vector<compiler::Schedule>& schedules = {compiler::Schedule::kTokens}) {
  auto cpu = Session::Create(g, Cpu());
  ASSERT_TRUE(cpu.ok()) << what << ": " << cpu.status();
  auto cpu_out = (*cpu)->Run(feeds);
  ASSERT_TRUE(cpu_out.ok()) << what << ": " << cpu_out.status();
  EXPECT_EQ(cpu_out->at("y").dtype(), y_type) << what << " (cpu kernel)";
  EXPECT_EQ(Values(cpu_out->at("y")), want) << what << " (cpu kernel)";
  for (const std::string engine : {"functional", "cycle"}) {
    for (compiler::Schedule schedule : schedules) {
      SessionOptions o = Tpu(engine);
      o.schedule = schedule;
      auto tpu = Session::Create(g, o);
      ASSERT_TRUE(tpu.ok()) << what << " " << engine << ": " << tpu.status();
      RunReport report;
      auto out = (*tpu)->Run(feeds, &report);
      ASSERT_TRUE(out.ok()) << what << " " << engine << ": " << out.status();
      EXPECT_EQ(report.tpu_launches, 1) << what;
      EXPECT_EQ(report.cpu_kernels, 0) << what;
      EXPECT_EQ(out->at("y").dtype(), y_type) << what;
      EXPECT_EQ(out->at("y").shape(), cpu_out->at("y").shape()) << what;
      EXPECT_EQ(Values(out->at("y")), want) << what << " on " << engine;
    }
  }
}

// Runs g on the CPU kernels (unless !check_cpu) and on the functional and cycle engines of tiny with
// both schedules (no CPU fallback): output "y" holds `want`'s bytes everywhere, the TPU's dtype and
// shape are the CPU's (without the CPU run: y's declared dtype), and each TPU run is one launch with
// no CPU kernel.
inline void ExpectCpuAndTpuGiveBytes(const Graph& g, const std::map<std::string, Tensor>& feeds,
                                     const std::vector<uint8_t>& want, const std::string& what, bool check_cpu = true) {
  std::optional<Tensor> c;
  if (check_cpu) {
    auto s = Session::Create(g, Cpu());
    ASSERT_TRUE(s.ok()) << what << ": " << s.status();
    auto out = (*s)->Run(feeds);
    ASSERT_TRUE(out.ok()) << what << ": " << out.status();
    c = out->at("y");
    ASSERT_EQ(c->byte_size(), want.size()) << what;
    EXPECT_EQ(std::memcmp(c->data(), want.data(), want.size()), 0) << what << " (cpu kernel vs reference)";
  }
  for (const std::string engine : {"functional", "cycle"}) {
    for (compiler::Schedule schedule : {compiler::Schedule::kTokens, compiler::Schedule::kSerial}) {
      SessionOptions o = Tpu(engine);
      o.schedule = schedule;
      auto tpu = Session::Create(g, o);
      ASSERT_TRUE(tpu.ok()) << what << " " << engine << ": " << tpu.status();
      RunReport report;
      auto out = (*tpu)->Run(feeds, &report);
      ASSERT_TRUE(out.ok()) << what << " " << engine << ": " << out.status();
      EXPECT_EQ(report.tpu_launches, 1) << what;
      EXPECT_EQ(report.cpu_kernels, 0) << what;
      const Tensor& y = out->at("y");
      EXPECT_EQ(y.dtype(), c ? c->dtype() : g.FindValue("y")->dtype) << what;
      if (c) {
        EXPECT_EQ(y.shape(), c->shape()) << what;
      }
      ASSERT_EQ(y.byte_size(), want.size()) << what;
      for (size_t i = 0; i < want.size(); ++i) {
        if (y.data()[i] != want[i]) {
          ADD_FAILURE() << what << " on " << engine << ": byte " << i << " is " << int{y.data()[i]} << ", want "
                        << int{want[i]};
          break;
        }
      }
    }
  }
}

// A float32 tensor of `shape`, uniform in [-scale/2, scale/2) from rng.
inline Tensor RandomFloats(Shape shape, float scale, Lcg& rng) {
  Tensor t(DataType::kFloat32, std::move(shape));
  for (int64_t i = 0; i < t.num_elements(); ++i) {
    t.as<float>()[i] = scale * (static_cast<float>(rng.Next() >> 8) / 16777216.0f - 0.5f);
  }
  return t;
}

// The PTQ MLP: x [4,16] -> Gemm fc1 (w1 [16,32], b1) -> Relu -> MatMul fc2 (w2 [32,10]) -> y, its
// weights and 8 calibration samples of x drawn from rng, quantized by runtime/quantize.h.
inline absl::StatusOr<Graph> QuantizedMlp(Lcg& rng) {
  Graph fp32;
  fp32.AddValue("x", DataType::kFloat32, Shape{4, 16});
  fp32.inputs = {"x"};
  fp32.AddValue("w1", DataType::kFloat32).constant = RandomFloats({16, 32}, 1.0f, rng);
  fp32.AddValue("b1", DataType::kFloat32).constant = RandomFloats({32}, 0.2f, rng);
  fp32.AddValue("w2", DataType::kFloat32).constant = RandomFloats({32, 10}, 1.0f, rng);
  for (const char* v : {"h", "r", "y"}) fp32.AddValue(v, DataType::kFloat32);
  fp32.nodes = {MakeNode("Gemm", {"x", "w1", "b1"}, "h"), MakeNode("Relu", {"h"}, "r"),
                MakeNode("MatMul", {"r", "w2"}, "y")};
  fp32.nodes[0].name = "fc1";
  fp32.nodes[2].name = "fc2";
  fp32.outputs = {"y"};
  std::vector<std::map<std::string, Tensor>> samples;
  for (int i = 0; i < 8; ++i) samples.push_back({{"x", RandomFloats({4, 16}, 2.0f, rng)}});
  return QuantizeGraph(fp32, samples);
}

// want and got hold the same bytes (same size first).
inline void ExpectSameBits(const Tensor& want, const Tensor& got, const std::string& what) {
  ASSERT_EQ(want.byte_size(), got.byte_size()) << what;
  EXPECT_EQ(std::memcmp(want.data(), got.data(), want.byte_size()), 0) << what;
}

}  // namespace tpusim::runtime::int8_test
