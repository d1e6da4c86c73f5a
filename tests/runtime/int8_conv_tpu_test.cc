// ConvInteger and QLinearConv on the TPU in the array's int8 mode (docs/quantization.md): outputs equal a
// naive 2-D reference loop written here and the CPU kernels bit for bit, on the functional and cycle
// engines of `tiny` (channel counts above the 8-row array, output channels above the 8 columns, padding
// filled with the zero point, strides and dilations, runtime and constant W), plus the shipped ONNX node
// tests of all the int8-mode ops as the conformance suite runs them.
#include <gtest/gtest.h>

#include "int8_test_util.h"
#include "onnx_test_data.h"
#include "tpusim/isa/arch_config.h"
#include "tpusim/rtl/rtl_engine.h"

namespace tpusim::runtime {
namespace {

using namespace int8_test;  // NOLINT: the shared helpers of these tests

// Naive 2-D ONNX ConvInteger (group 1, symmetric pads, scalar zero points), int32 wrap-around.
std::vector<int32_t> RefConvInteger(const Tensor& x, int32_t zx, const Tensor& w, int32_t zw, int64_t stride,
                                    int64_t pad, int64_t dil) {
  const int64_t n = x.shape()[0], c = x.shape()[1], h = x.shape()[2], wd = x.shape()[3];
  const int64_t m = w.shape()[0], kh = w.shape()[2], kw = w.shape()[3];
  const int64_t oh = (h + 2 * pad - (kh - 1) * dil - 1) / stride + 1, ow = (wd + 2 * pad - (kw - 1) * dil - 1) / stride + 1;
  std::vector<int32_t> y(n * m * oh * ow);
  for (int64_t b = 0; b < n; ++b)
    for (int64_t o = 0; o < m; ++o)
      for (int64_t i = 0; i < oh; ++i)
        for (int64_t j = 0; j < ow; ++j) {
          uint32_t acc = 0;
          for (int64_t ci = 0; ci < c; ++ci)
            for (int64_t u = 0; u < kh; ++u)
              for (int64_t v = 0; v < kw; ++v) {
                const int64_t r = i * stride + u * dil - pad, q = j * stride + v * dil - pad;
                if (r < 0 || r >= h || q < 0 || q >= wd) continue;
                const int32_t xv = At(x, ((b * c + ci) * h + r) * wd + q) - zx;
                const int32_t wv = At(w, ((o * c + ci) * kh + u) * kw + v) - zw;
                acc += static_cast<uint32_t>(xv * wv);
              }
          y[((b * m + o) * oh + i) * ow + j] = static_cast<int32_t>(acc);
        }
  return y;
}

struct ConvCase {
  Tensor x, w;
  int32_t zx = 0, zw = 0;
  int64_t stride = 1, pad = 0, dil = 1;
  bool w_constant = false;
  bool qlinear = false;
  std::vector<int32_t> bias;  // QLinearConv's B (constant)
  float sx = 0.01f, sw = 0.004f, sy = 0.3f;
  int32_t zy = 0;
  DataType y_type = DataType::kUint8;
};

Graph BuildConvGraph(const ConvCase& c, std::map<std::string, Tensor>& feeds) {
  Graph g;
  auto input = [&](const std::string& name, const Tensor& t) { AddFedInput(g, feeds, name, t); };
  input("x", c.x);
  if (c.w_constant) g.AddValue("w", c.w.dtype()).constant = c.w;
  else input("w", c.w);
  Node n;
  if (c.qlinear) {
    input("sx", ScalarF(c.sx));
    input("zx", Scalar(c.x.dtype(), c.zx));
    input("sw", ScalarF(c.sw));
    input("zw", Scalar(c.w.dtype(), c.zw));
    input("sy", ScalarF(c.sy));
    input("zy", Scalar(c.y_type, c.zy));
    std::vector<std::string> in = {"x", "sx", "zx", "w", "sw", "zw", "sy", "zy"};
    if (!c.bias.empty()) {
      Tensor b(DataType::kInt32, Shape{static_cast<int64_t>(c.bias.size())});
      std::copy(c.bias.begin(), c.bias.end(), b.as<int32_t>());
      g.AddValue("bias", DataType::kInt32).constant = b;
      in.push_back("bias");
    }
    g.AddValue("y", c.y_type);
    n = MakeNode("QLinearConv", in, "y");
  } else {
    input("zx", Scalar(c.x.dtype(), c.zx));
    input("zw", Scalar(c.w.dtype(), c.zw));
    g.AddValue("y", DataType::kInt32);
    n = MakeNode("ConvInteger", {"x", "w", "zx", "zw"}, "y");
  }
  n.attrs["strides"] = std::vector<int64_t>{c.stride, c.stride};
  n.attrs["pads"] = std::vector<int64_t>{c.pad, c.pad, c.pad, c.pad};
  n.attrs["dilations"] = std::vector<int64_t>{c.dil, c.dil};
  g.nodes = {n};
  g.outputs = {"y"};
  return g;
}

void CheckConvCase(const ConvCase& c, const std::string& what) {
  std::map<std::string, Tensor> feeds;
  const Graph g = BuildConvGraph(c, feeds);
  std::vector<int32_t> want = RefConvInteger(c.x, c.zx, c.w, c.zw, c.stride, c.pad, c.dil);
  if (c.qlinear) {
    const int64_t m = c.w.shape()[0], plane = static_cast<int64_t>(want.size()) / (c.x.shape()[0] * m);
    for (size_t i = 0; i < want.size(); ++i) {
      const int64_t ch = (static_cast<int64_t>(i) / plane) % m;
      const int32_t acc = static_cast<int32_t>(static_cast<uint32_t>(want[i]) + (c.bias.empty() ? 0u : static_cast<uint32_t>(c.bias[ch])));
      want[i] = RefRequantize(acc, c.sx, c.sw, c.sy, c.zy, c.y_type);
    }
  }
  ExpectCpuAndTpuGive(g, feeds, want, c.qlinear ? c.y_type : DataType::kInt32, what);
}

TEST(Int8ConvTpu, ConvIntegerPaddedStridedDilatedManyChannels) {
  Lcg rng{21};
  ConvCase c;
  c.x = RandomQuant(DataType::kUint8, {2, 11, 7, 9}, rng);  // C 11 = 2 channel blocks of the 8-row array
  c.w = RandomQuant(DataType::kUint8, {10, 11, 3, 3}, rng);  // M 10 = 2 column tiles
  c.zx = 0;  // device -128: padded taps hold -128, and -zx = 128 is two streamed passes
  c.zw = 77;
  c.pad = 1;
  CheckConvCase(c, "runtime W, pad 1");
  c.w_constant = true;
  c.stride = 2;
  c.dil = 2;
  c.pad = 2;
  c.zx = 140;
  CheckConvCase(c, "constant W, stride 2, dilation 2, pad 2");
}

TEST(Int8ConvTpu, QLinearConvWithBias) {
  Lcg rng{33};
  ConvCase c;
  c.qlinear = true;
  c.x = RandomQuant(DataType::kUint8, {1, 3, 6, 5}, rng);
  c.w = RandomQuant(DataType::kInt8, {4, 3, 2, 2}, rng);
  c.w_constant = true;
  c.zx = 128;
  c.zw = 0;
  c.zy = 100;
  c.bias = {1000, -2000, 0, 123456};
  c.pad = 1;
  CheckConvCase(c, "qlinear uint8 x, int8 w, bias");
  c.x = RandomQuant(DataType::kInt8, {1, 3, 6, 5}, rng);
  c.zx = -7;
  c.y_type = DataType::kInt8;
  c.zy = -3;
  c.w_constant = false;
  c.bias.clear();
  CheckConvCase(c, "qlinear int8, runtime w");
}

// The shipped ONNX node tests of the int8-mode ops on the RTL core (Verilated SystemVerilog), where this
// build has it, as the conformance suite runs them on functional and cycle (they are in
// tests/onnx_conformance_pass.txt): tiny, precision highest, no CPU fallback.
TEST(Int8OnnxNodeTests, PassOnTheRtlEngine) {
  absl::StatusOr<isa::ArchConfig> tiny = isa::LoadPreset("tiny");
  if (rtl::CoreModelNames().empty() || !tiny.ok() || !rtl::CheckRtlArch(*tiny).ok()) {
    GTEST_SKIP() << "no RTL core model for tiny in this build";
  }
  for (const char* name : {"test_matmulinteger", "test_qlinearmatmul_2D", "test_qlinearmatmul_3D",
                           "test_basic_convinteger", "test_convinteger_with_padding",
                           "test_convinteger_without_padding", "test_qlinearconv"}) {
    EXPECT_EQ(tpusim::testing::RunOnnxTest(tpusim::testing::OnnxNodeTestDir(name), "rtl"), "") << name;
  }
}

}  // namespace
}  // namespace tpusim::runtime
