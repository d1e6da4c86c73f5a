// QuantizeLinear and DequantizeLinear on the TPU in float mode (docs/quantization.md, lower_quantize.cc):
// outputs equal a naive reference loop written here from ONNX's definitions and the CPU session, bit for
// bit, on the functional and cycle engines of `tiny`, both schedules, with no CPU fallback; int8 and
// uint8, with and without zero points, constant and fed (compile-time) scales, rounding ties, NaN,
// infinities, saturation, subnormals. Then a Q -> QLinearMatMul -> DQ graph and the PTQ MLP of
// runtime/quantize.h run with every node on the TPU and the CPU session's bits.
#include <gtest/gtest.h>

#include <cmath>
#include <cstring>
#include <limits>

#include "absl/strings/str_cat.h"
#include "int8_test_util.h"
#include "onnx_test_data.h"
#include "tpusim/rtl/rtl_engine.h"
#include "tpusim/runtime/quantize.h"
#include "tpusim/runtime/session.h"

namespace tpusim::runtime {
namespace {

using namespace int8_test;  // NOLINT: the shared helpers of the int8 tests

// ONNX QuantizeLinear: saturate(round_half_even(x / scale) + zp), the division in fp32; NaN -> zp.
int32_t RefQuantize(float x, float scale, int32_t zp, DataType t) {
  const float q = x / scale;
  const double lo = t == DataType::kUint8 ? 0.0 : -128.0, hi = t == DataType::kUint8 ? 255.0 : 127.0;
  const double v = std::isnan(q) ? zp : std::nearbyint(static_cast<double>(q)) + zp;
  return static_cast<int32_t>(std::min(hi, std::max(lo, v)));
}

// ONNX DequantizeLinear: (x - zp) * scale in fp32.
float RefDequantize(int32_t x, int32_t zp, float scale) {
  return (static_cast<float>(x) - static_cast<float>(zp)) * scale;
}

uint32_t Bits(float f) {
  uint32_t u;
  std::memcpy(&u, &f, 4);
  return u;
}

// x values: ties of x / scale (k + 0.5 for scale 0.5: x = 0.25, 0.75, ...), NaN, infinities, huge,
// subnormals, -0 and a ramp.
Tensor FloatInput(Shape shape) {
  Tensor x(DataType::kFloat32, std::move(shape));
  const float special[] = {0.25f, 0.75f, 1.25f, -0.25f, -0.75f, -1.25f, 63.75f, -64.25f,
                           std::numeric_limits<float>::quiet_NaN(), INFINITY, -INFINITY, 3e38f, -1e10f,
                           1e-40f, -1e-45f, -0.0f, 0.0f};
  for (int64_t i = 0; i < x.num_elements(); ++i) {
    x.as<float>()[i] = i < 17 ? special[i] : static_cast<float>(i % 157) * 0.37f - 29.0f;
  }
  return x;
}

struct Io {
  Graph g;
  std::map<std::string, Tensor> feeds;
};

// y = QuantizeLinear(x, scale, zp) or DequantizeLinear(x, scale, zp); scale and zp fed (the ONNX node
// tests' way: compile-time inputs) or constants; zp absent when has_zp is false.
Io OneNode(bool quantize, const Tensor& x, float scale, DataType qtype, int32_t zp, bool has_zp, bool fed) {
  Io io;
  io.g.AddValue("x", x.dtype(), x.shape());
  io.g.inputs = {"x"};
  io.feeds["x"] = x;
  auto param = [&](const std::string& name, const Tensor& t) {
    if (fed) {
      io.g.AddValue(name, t.dtype(), t.shape());
      io.g.inputs.push_back(name);
      io.feeds[name] = t;
    } else {
      io.g.AddValue(name, t.dtype()).constant = t;
    }
  };
  param("s", ScalarF(scale));
  std::vector<std::string> in = {"x", "s"};
  if (has_zp) {
    param("z", Scalar(qtype, zp));
    in.push_back("z");
  }
  io.g.AddValue("y", quantize ? qtype : DataType::kFloat32);
  io.g.nodes = {MakeNode(quantize ? "QuantizeLinear" : "DequantizeLinear", in, "y")};
  io.g.outputs = {"y"};
  return io;
}

// ExpectCpuAndTpuGiveBytes on `io` (int8_test_util.h): the CPU and both TPU engines and schedules.
void CheckAll(const Io& io, const std::vector<uint8_t>& want, const std::string& what) {
  ExpectCpuAndTpuGiveBytes(io.g, io.feeds, want, what);
}

TEST(QuantizeTpu, QuantizeLinearMatchesTheReferenceAndTheCpu) {
  for (const Shape& shape : {Shape{3, 7}, Shape{70, 9}}) {  // 21 elements (partial row); 630 (many rows)
    const Tensor x = FloatInput(shape);
    struct P { DataType t; int32_t zp; bool has_zp; float scale; };
    for (const P& p : {P{DataType::kInt8, 0, true, 0.5f}, P{DataType::kInt8, -3, true, 0.5f},
                       P{DataType::kUint8, 128, true, 0.5f}, P{DataType::kUint8, 17, true, 0.37f},
                       P{DataType::kUint8, 0, false, 0.5f}, P{DataType::kInt8, 100, true, 3.0f},
                       P{DataType::kInt8, 5, true, std::numeric_limits<float>::quiet_NaN()},
                       P{DataType::kUint8, 9, true, 1e-30f}}) {
      for (bool fed : {true, false}) {
        std::vector<uint8_t> want;
        for (int64_t i = 0; i < x.num_elements(); ++i) {
          want.push_back(static_cast<uint8_t>(RefQuantize(x.as<float>()[i], p.scale, p.zp, p.t)));
        }
        CheckAll(OneNode(true, x, p.scale, p.t, p.zp, p.has_zp, fed), want,
                 absl::StrCat("quantize ", compiler::ShapeToString(shape), " ", std::string(compiler::DataTypeName(p.t)),
                              " zp=", p.zp, p.has_zp ? "" : " (absent)", " scale=", p.scale, fed ? " fed" : " constant"));
      }
    }
  }
}

TEST(QuantizeTpu, DequantizeLinearMatchesTheReferenceAndTheCpu) {
  Lcg rng{99};
  for (DataType t : {DataType::kInt8, DataType::kUint8}) {
    Tensor x = RandomQuant(t, {9, 13}, rng);
    x.data()[0] = 0x80;  // -128 / 128
    x.data()[1] = 0x7f;
    x.data()[2] = 0xff;
    struct P { int32_t zp; bool has_zp; float scale; };
    for (const P& p : {P{0, true, 0.02f}, P{-7, true, 0.125f}, P{72, true, -3.5f}, P{0, false, 1e-20f},
                       P{1, true, std::numeric_limits<float>::infinity()}}) {
      for (bool fed : {true, false}) {
        std::vector<uint8_t> want;
        for (int64_t i = 0; i < x.num_elements(); ++i) {
          const int32_t z = p.has_zp ? At(Scalar(t, p.zp), 0) : 0;  // the zero point as fed (uint8: mod 256)
          const uint32_t b = Bits(RefDequantize(At(x, i), z, p.scale));
          for (int k = 0; k < 4; ++k) want.push_back(static_cast<uint8_t>(b >> (8 * k)));
        }
        CheckAll(OneNode(false, x, p.scale, t, p.zp, p.has_zp, fed), want,
                 absl::StrCat("dequantize ", std::string(compiler::DataTypeName(t)), " zp=", p.zp,
                              p.has_zp ? "" : " (absent)", " scale=", p.scale, fed ? " fed" : " constant"));
      }
    }
  }
}

// Per-axis scales and zero points (axis 1 of a [3, 4, 5] tensor: one per index of dim 1), Quantize then
// Dequantize as separate one-node graphs, int8 and uint8.
TEST(QuantizeTpu, PerAxisScalesAndZeroPoints) {
  const Tensor x = FloatInput({3, 4, 5});
  const float scales[] = {0.5f, 0.3f, 2.0f, 0.07f};
  for (DataType t : {DataType::kInt8, DataType::kUint8}) {
    const int32_t zps[] = {t == DataType::kUint8 ? 128 : 0, 3, t == DataType::kUint8 ? 250 : -100, 17};
    Tensor s(DataType::kFloat32, Shape{4}), z(t, Shape{4});
    for (int c = 0; c < 4; ++c) {
      s.as<float>()[c] = scales[c];
      z.data()[c] = static_cast<uint8_t>(zps[c]);
    }
    for (bool quantize : {true, false}) {
      Tensor in = x;
      if (!quantize) {
        Lcg rng{5};
        in = RandomQuant(t, {3, 4, 5}, rng);
      }
      Io io;
      io.g.AddValue("x", in.dtype(), in.shape());
      io.g.inputs = {"x"};
      io.feeds["x"] = in;
      io.g.AddValue("s", DataType::kFloat32).constant = s;
      io.g.AddValue("z", t).constant = z;
      io.g.AddValue("y", quantize ? t : DataType::kFloat32);
      io.g.nodes = {MakeNode(quantize ? "QuantizeLinear" : "DequantizeLinear", {"x", "s", "z"}, "y")};
      io.g.nodes[0].attrs["axis"] = int64_t{1};
      io.g.outputs = {"y"};
      std::vector<uint8_t> want;
      for (int64_t i = 0; i < in.num_elements(); ++i) {
        const int64_t c = (i / 5) % 4;
        if (quantize) {
          want.push_back(static_cast<uint8_t>(RefQuantize(in.as<float>()[i], scales[c], zps[c], t)));
        } else {
          const uint32_t b = Bits(RefDequantize(At(in, i), At(z, c), scales[c]));
          for (int k = 0; k < 4; ++k) want.push_back(static_cast<uint8_t>(b >> (8 * k)));
        }
      }
      CheckAll(io, want, absl::StrCat(quantize ? "quantize" : "dequantize", " per-axis ",
                                      std::string(compiler::DataTypeName(t))));
    }
  }
}

// The int32 input of DequantizeLinear (MatMulInteger's accumulators in the PTQ graphs): fp32(x) rounds
// to nearest even (16777217 -> 16777216), then * scale.
TEST(QuantizeTpu, DequantizeLinearOfInt32) {
  Tensor x(DataType::kInt32, Shape{2, 5});
  const int32_t v[] = {0, 1, -1, 16777217, -16777219, 2147483647, -2147483647 - 1, 1000, -77, 5};
  for (int i = 0; i < 10; ++i) x.as<int32_t>()[i] = v[i];
  Io io;
  io.g.AddValue("x", DataType::kInt32, x.shape());
  io.g.inputs = {"x"};
  io.feeds["x"] = x;
  io.g.AddValue("s", DataType::kFloat32).constant = ScalarF(0.001f);
  io.g.AddValue("y", DataType::kFloat32);
  io.g.nodes = {MakeNode("DequantizeLinear", {"x", "s"}, "y")};
  io.g.outputs = {"y"};
  std::vector<uint8_t> want;
  for (int32_t a : v) {
    const uint32_t b = Bits(static_cast<float>(a) * 0.001f);  // zero point 0: fp32(x) - 0 = fp32(x)
    for (int k = 0; k < 4; ++k) want.push_back(static_cast<uint8_t>(b >> (8 * k)));
  }
  CheckAll(io, want, "dequantize int32");
}

// DequantizeLinear needs only ops the RTL core implements (cvt_i2f, add/add_imm, mul/mul_imm): the ONNX
// node tests pass on the rtl engine too, where this build has a core model for tiny. (QuantizeLinear
// divides, which the RTL core does not implement: the rtl engine refuses such programs.)
TEST(QuantizeTpu, DequantizeNodeTestsPassOnTheRtlEngine) {
  absl::StatusOr<isa::ArchConfig> tiny = isa::LoadPreset("tiny");
  if (rtl::CoreModelNames().empty() || !tiny.ok() || !rtl::CheckRtlArch(*tiny).ok()) {
    GTEST_SKIP() << "no RTL core model for tiny in this build";
  }
  for (const char* name : {"test_dequantizelinear", "test_dequantizelinear_axis"}) {
    EXPECT_EQ(tpusim::testing::RunOnnxTest(tpusim::testing::OnnxNodeTestDir(name), "rtl"), "") << name;
  }
}

// A subnormal scale would be flushed by the vector unit: the node stays on the CPU, with the reason.
TEST(QuantizeTpu, SubnormalScaleFallsBackToTheCpu) {
  const Io io = OneNode(true, FloatInput({2, 9}), 1e-40f, DataType::kInt8, 0, true, false);
  auto s = Session::Create(io.g, Tpu("functional", "tiny", /*fallback=*/true));
  ASSERT_TRUE(s.ok()) << s.status();
  ASSERT_EQ((*s)->placements().size(), 1u);
  EXPECT_EQ((*s)->placements()[0].device, kCpuDeviceName);
  EXPECT_NE((*s)->placements()[0].reason.find("2^-125"), std::string::npos) << (*s)->placements()[0].reason;
}

// x (float) -> QuantizeLinear (uint8) -> QLinearMatMul (uint8 x int8 -> uint8) -> DequantizeLinear:
// three TPU segments (float, int8, float), no CPU kernel, the CPU session's bits.
TEST(QuantizeTpu, QuantizeQLinearMatMulDequantizeRunsWithoutTheCpu) {
  Graph g;
  g.AddValue("x", DataType::kFloat32, Shape{5, 12});
  g.inputs = {"x"};
  Lcg rng{31};
  g.AddValue("sx", DataType::kFloat32).constant = ScalarF(0.05f);
  g.AddValue("zx", DataType::kUint8).constant = Scalar(DataType::kUint8, 120);
  g.AddValue("w", DataType::kInt8).constant = RandomQuant(DataType::kInt8, {12, 6}, rng);
  g.AddValue("sw", DataType::kFloat32).constant = ScalarF(0.01f);
  g.AddValue("zw", DataType::kInt8).constant = Scalar(DataType::kInt8, 3);
  g.AddValue("sy", DataType::kFloat32).constant = ScalarF(0.07f);
  g.AddValue("zy", DataType::kUint8).constant = Scalar(DataType::kUint8, 130);
  for (const char* v : {"xq", "yq"}) g.AddValue(v, DataType::kUint8);
  g.AddValue("y", DataType::kFloat32);
  g.nodes = {MakeNode("QuantizeLinear", {"x", "sx", "zx"}, "xq"),
             MakeNode("QLinearMatMul", {"xq", "sx", "zx", "w", "sw", "zw", "sy", "zy"}, "yq"),
             MakeNode("DequantizeLinear", {"yq", "sy", "zy"}, "y")};
  g.outputs = {"y"};
  Tensor x(DataType::kFloat32, Shape{5, 12});
  for (int64_t i = 0; i < x.num_elements(); ++i) x.as<float>()[i] = static_cast<float>(i % 23) * 0.11f - 1.2f;
  auto cpu = Session::Create(g, Cpu());
  ASSERT_TRUE(cpu.ok()) << cpu.status();
  auto want = (*cpu)->Run({{"x", x}});
  ASSERT_TRUE(want.ok()) << want.status();
  for (const std::string engine : {"functional", "cycle"}) {
    auto tpu = Session::Create(g, Tpu(engine));  // no CPU fallback
    ASSERT_TRUE(tpu.ok()) << engine << ": " << tpu.status();
    for (const Placement& p : (*tpu)->placements()) EXPECT_EQ(p.device, kTpuDeviceName) << p.node << ": " << p.reason;
    RunReport report;
    auto got = (*tpu)->Run({{"x", x}}, &report);
    ASSERT_TRUE(got.ok()) << engine << ": " << got.status();
    EXPECT_EQ(report.cpu_kernels, 0);
    EXPECT_EQ(report.tpu_launches, 3);
    ExpectSameBits(want->at("y"), got->at("y"), engine);
  }
}

// The PTQ MLP (QuantizeLinear -> MatMulInteger -> DequantizeLinear -> Add -> Relu -> ...): every node on
// the TPU (no fallback), the CPU session's bits.
TEST(QuantizeTpu, PtqMlpRunsEntirelyOnTheTpu) {
  Lcg rng{2024};
  absl::StatusOr<Graph> q = QuantizedMlp(rng);
  ASSERT_TRUE(q.ok()) << q.status();
  auto cpu = Session::Create(*q, Cpu());
  ASSERT_TRUE(cpu.ok()) << cpu.status();
  for (const std::string engine : {"functional", "cycle"}) {
    auto tpu = Session::Create(*q, Tpu(engine));  // no CPU fallback: every node must be placed on the TPU
    ASSERT_TRUE(tpu.ok()) << engine << ": " << tpu.status();
    int quant_nodes = 0;
    for (const Placement& p : (*tpu)->placements()) {
      EXPECT_EQ(p.device, kTpuDeviceName) << p.node << ": " << p.reason;
      quant_nodes += p.op_type == "QuantizeLinear" || p.op_type == "DequantizeLinear";
    }
    EXPECT_EQ(quant_nodes, 4);
    for (int trial = 0; trial < 2; ++trial) {
      std::map<std::string, Tensor> feed = {{"x", RandomFloats({4, 16}, 2.0f, rng)}};
      auto want = (*cpu)->Run(feed);
      RunReport report;
      auto got = (*tpu)->Run(feed, &report);
      ASSERT_TRUE(want.ok() && got.ok()) << got.status();
      EXPECT_EQ(report.cpu_kernels, 0);
      ExpectSameBits(want->at("y"), got->at("y"), absl::StrCat(engine, " trial ", trial));
    }
  }
}

}  // namespace
}  // namespace tpusim::runtime
