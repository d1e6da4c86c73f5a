// ResNet block tails end to end: a TPU session (tiny, precision highest, no CPU fallback) against the
// CPU reference kernels (a CPU-only session) on the functional and cycle engines. The graphs hit the
// residual fusion (Conv -> BatchNormalization -> Add -> Relu: lower_fused.cc after the BN fold) in its
// forms: the packed shifted GEMM (4 channels, 3x3: lower_conv_shifted.cc packing), the unpacked shifted
// GEMM (5 channels), and the downsample block whose shortcut 1x1 stride-2 conv (im2col GEMM) comes
// later in the graph and so heads the fusion. Odd extents, channel counts not multiples of the 8x8
// array. Tolerance: rtol 1e-4, atol 1e-5 (about fp32 GEMMs; only the summation order differs from the
// CPU's loops, ~1e-7 relative per layer).
#include <gtest/gtest.h>

#include <cmath>
#include <map>
#include <string>
#include <vector>

#include "cpu_kernel_test_util.h"
#include "onnx_test_data.h"
#include "tpusim/isa/arch_config.h"
#include "tpusim/runtime/session.h"

namespace tpusim::runtime {
namespace {

using compiler::Attribute;
using compiler::Shape;
using compiler::Tensor;

class BlockBuilder {
 public:
  BlockBuilder(const Shape& x) {
    g_.AddValue("x", compiler::DataType::kFloat32, x);
    g_.inputs = {"x"};
  }
  void Constant(const std::string& name, const Shape& shape, uint32_t seed, float lo, float span) {
    std::vector<float> v(static_cast<size_t>(compiler::NumElements(shape)));
    for (size_t i = 0; i < v.size(); ++i) v[i] = lo + span * static_cast<float>((i * 37 + seed) % 17) / 16.0f;
    g_.AddValue(name, compiler::DataType::kFloat32, shape).constant = Tensor::FromFloats(shape, v);
  }
  void Node(const std::string& op, std::vector<std::string> in, const std::string& out,
            std::map<std::string, Attribute> attrs = {}) {
    compiler::Node n;
    n.name = out;
    n.op_type = op;
    n.opset = 17;
    n.inputs = std::move(in);
    n.outputs = {out};
    n.attrs = std::move(attrs);
    g_.nodes.push_back(n);
    g_.AddValue(out, compiler::DataType::kFloat32);
  }
  // Conv (kernel k, stride s, pad (k-1)/2, no bias) -> BatchNormalization with per-channel constants.
  void ConvBn(const std::string& in, const std::string& out, int64_t cin, int64_t cout, int64_t k, int64_t s,
              uint32_t seed) {
    Constant(out + "_w", {cout, cin, k, k}, seed, -0.5f, 1.0f);
    Constant(out + "_scale", {cout}, seed + 1, 0.5f, 1.0f);
    Constant(out + "_beta", {cout}, seed + 2, -0.25f, 0.5f);
    Constant(out + "_mean", {cout}, seed + 3, -0.25f, 0.5f);
    Constant(out + "_var", {cout}, seed + 4, 0.5f, 1.0f);
    const int64_t p = (k - 1) / 2;
    Node("Conv", {in, out + "_w"}, out + "_conv",
         {{"pads", std::vector<int64_t>{p, p, p, p}}, {"strides", std::vector<int64_t>{s, s}}});
    Node("BatchNormalization", {out + "_conv", out + "_scale", out + "_beta", out + "_mean", out + "_var"}, out);
  }
  compiler::Graph Finish(const std::string& out) {
    g_.outputs = {out};
    return g_;
  }

 private:
  compiler::Graph g_;
};

// Basic block: relu(bn(conv3x3(relu(bn(conv3x3(x))))) + x).
compiler::Graph BasicBlock(int64_t c) {
  BlockBuilder b({1, c, 7, 5});
  b.ConvBn("x", "a", c, c, 3, 1, 1);
  b.Node("Relu", {"a"}, "ar");
  b.ConvBn("ar", "bb", c, c, 3, 1, 11);
  b.Node("Add", {"bb", "x"}, "sum");
  b.Node("Relu", {"sum"}, "y");
  return b.Finish("y");
}

// Downsample bottleneck: relu(bn(conv1x1(relu(bn(conv3x3/2(x))))) + bn(conv1x1/2(x))), the shortcut
// listed after the main path's last conv.
compiler::Graph DownsampleBlock() {
  BlockBuilder b({1, 4, 9, 7});
  b.ConvBn("x", "a", 4, 4, 3, 2, 21);
  b.Node("Relu", {"a"}, "ar");
  b.ConvBn("ar", "main", 4, 10, 1, 1, 31);
  b.ConvBn("x", "short", 4, 10, 1, 2, 41);
  b.Node("Add", {"main", "short"}, "sum");
  b.Node("Relu", {"sum"}, "y");
  return b.Finish("y");
}

void ExpectTpuMatchesCpu(const compiler::Graph& graph, const Shape& x_shape, const std::string& what) {
  std::vector<float> xv(static_cast<size_t>(compiler::NumElements(x_shape)));
  for (size_t i = 0; i < xv.size(); ++i) xv[i] = std::sin(0.7f * static_cast<float>(i));
  const std::map<std::string, Tensor> feeds = {{"x", Tensor::FromFloats(x_shape, xv)}};
  SessionOptions cpu;
  cpu.device = "cpu";
  auto cpu_session = Session::Create(graph, cpu);
  ASSERT_TRUE(cpu_session.ok()) << what << ": " << cpu_session.status();
  auto want = (*cpu_session)->Run(feeds);
  ASSERT_TRUE(want.ok()) << what << ": " << want.status();
  for (const std::string engine : {"functional", "cycle"}) {
    const SessionOptions tpu = testing::TinyOptions("tpu", engine);
    auto session = Session::Create(graph, tpu);
    ASSERT_TRUE(session.ok()) << what << ": " << session.status();
    for (const Placement& p : (*session)->placements()) EXPECT_EQ(p.device, kTpuDeviceName) << what << " " << p.node;
    auto got = (*session)->Run(feeds);
    ASSERT_TRUE(got.ok()) << what << ": " << got.status();
    EXPECT_EQ(tpusim::testing::AllCloseMismatch(got->at("y"), want->at("y"), 1e-4, 1e-5), "") << what << " " << engine;
  }
}

TEST(ConvResidualSession, BasicBlockTpuMatchesCpu) {
  ExpectTpuMatchesCpu(BasicBlock(4), {1, 4, 7, 5}, "basic block, 4 channels (packed shifted GEMM)");
  ExpectTpuMatchesCpu(BasicBlock(5), {1, 5, 7, 5}, "basic block, 5 channels (shifted GEMM)");
}

TEST(ConvResidualSession, DownsampleBlockTpuMatchesCpu) {
  ExpectTpuMatchesCpu(DownsampleBlock(), {1, 4, 9, 7}, "downsample bottleneck");
}

}  // namespace
}  // namespace tpusim::runtime
