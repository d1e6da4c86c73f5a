// MatMulInteger and QLinearMatMul on the TPU in the array's int8 mode (docs/quantization.md): outputs
// equal a naive reference loop written here (ONNX's definitions) and the CPU kernels bit for bit, on
// the functional and cycle engines of `tiny` (8x8 array, 64 accumulator rows), with uint8 and int8
// operands, nonzero zero points (including uint8 zero point 0, whose device value -128 needs the
// two-pass correction), K > 8 (several k-tiles), M > 64 (several m-tiles), N > 8 (several n-tiles),
// runtime and constant B, and batches. tpu-v4 has no INT8_INT32 mode: the ops fall back to the CPU with
// the reason in the placement.
#include <gtest/gtest.h>

#include <cmath>
#include <cstring>
#include <set>

#include "absl/strings/str_cat.h"
#include "int8_test_util.h"
#include "tpusim/isa/arch_config.h"
#include "tpusim/runtime/quantize.h"
#include "tpusim/runtime/session.h"

namespace tpusim::runtime {
namespace {

using namespace int8_test;  // NOLINT: the shared helpers of these tests

struct Case {
  Tensor a, b;
  int32_t za = 0, zb = 0;
  bool b_constant = false;
  bool qlinear = false;
  bool no_zero_points = false;  // MatMulInteger without zero point inputs: 0 of the operand's type
  float sa = 0.02f, sb = 0.003f, sy = 0.05f;
  int32_t zy = 0;
  DataType y_type = DataType::kInt8;
};

Graph BuildGraph(const Case& c, std::map<std::string, Tensor>& feeds) {
  Graph g;
  auto input = [&](const std::string& name, const Tensor& t) { AddFedInput(g, feeds, name, t); };
  input("a", c.a);
  if (c.b_constant) {
    g.AddValue("b", c.b.dtype()).constant = c.b;
  } else {
    input("b", c.b);
  }
  if (c.qlinear) {
    input("sa", ScalarF(c.sa));
    input("za", Scalar(c.a.dtype(), c.za));
    input("sb", ScalarF(c.sb));
    input("zb", Scalar(c.b.dtype(), c.zb));
    input("sy", ScalarF(c.sy));
    input("zy", Scalar(c.y_type, c.zy));
    g.AddValue("y", c.y_type);
    g.nodes = {MakeNode("QLinearMatMul", {"a", "sa", "za", "b", "sb", "zb", "sy", "zy"}, "y")};
  } else {
    input("za", Scalar(c.a.dtype(), c.za));
    input("zb", Scalar(c.b.dtype(), c.zb));
    g.AddValue("y", DataType::kInt32);
    g.nodes = {MakeNode("MatMulInteger", {"a", "b", "za", "zb"}, "y")};
    if (c.no_zero_points) {
      g.inputs = {"a"};
      if (!c.b_constant) g.inputs.push_back("b");
      feeds.erase("za");
      feeds.erase("zb");
      g.nodes[0].inputs = {"a", "b"};
    }
  }
  g.outputs = {"y"};
  return g;
}

std::vector<int32_t> Expected(const Case& c) {
  std::vector<int32_t> acc = RefMatMulInteger(c.a, c.za, c.b, c.zb);
  if (c.qlinear) {
    for (int32_t& v : acc) v = RefRequantize(v, c.sa, c.sb, c.sy, c.zy, c.y_type);
  }
  return acc;
}

// The case on the CPU and on both TPU engines with both schedules (no fallback): all equal Expected(c).
void CheckCase(const Case& c, const std::string& what) {
  std::map<std::string, Tensor> feeds;
  const Graph g = BuildGraph(c, feeds);
  ExpectCpuAndTpuGive(g, feeds, Expected(c), c.qlinear ? c.y_type : DataType::kInt32, what,
                      {compiler::Schedule::kTokens, compiler::Schedule::kSerial});
}

TEST(Int8Tpu, MatMulIntegerUint8RuntimeOperandsManyTiles) {
  Lcg rng{7};
  Case c;
  c.a = RandomQuant(DataType::kUint8, {70, 20}, rng);  // M 70 > 64 accumulator rows; K 20 = 3 k-tiles
  c.b = RandomQuant(DataType::kUint8, {20, 11}, rng);  // N 11 = 2 n-tiles
  c.za = 0;                                            // device value -128: -za = 128 is two passes
  c.zb = 200;
  CheckCase(c, "uint8 za=0 zb=200");
  c.za = 131;
  c.zb = 0;
  CheckCase(c, "uint8 za=131 zb=0");
}

TEST(Int8Tpu, MatMulIntegerInt8ConstantWeights) {
  Lcg rng{11};
  Case c;
  c.a = RandomQuant(DataType::kInt8, {9, 17}, rng);
  c.b = RandomQuant(DataType::kInt8, {17, 10}, rng);
  c.b_constant = true;
  c.za = -5;
  c.zb = 0;  // B - zb fits int8: folded into the weights
  CheckCase(c, "int8 const B zb=0");
  c.zb = 100;  // B - zb does not fit: a -zb weight pass
  CheckCase(c, "int8 const B zb=100");
  c.zb = -128;  // -zb = 128: two passes
  c.za = 127;
  CheckCase(c, "int8 const B zb=-128");
}

TEST(Int8Tpu, MatMulIntegerBatched) {
  Lcg rng{3};
  Case c;
  c.a = RandomQuant(DataType::kUint8, {3, 5, 9}, rng);
  c.b = RandomQuant(DataType::kUint8, {3, 9, 4}, rng);
  c.za = 12;
  c.zb = 250;
  CheckCase(c, "batched A and B");
  c.b = RandomQuant(DataType::kUint8, {9, 4}, rng);
  c.b_constant = true;
  CheckCase(c, "batched A, constant 2-D B");
  c.no_zero_points = true;  // uint8 zero points default to 0 (device -128)
  c.za = c.zb = 0;
  CheckCase(c, "no zero points, constant B");
  c.b_constant = false;
  CheckCase(c, "no zero points, runtime B");
}

TEST(Int8Tpu, QLinearMatMulUint8AndInt8) {
  Lcg rng{5};
  Case c;
  c.qlinear = true;
  c.a = RandomQuant(DataType::kUint8, {66, 19}, rng);
  c.b = RandomQuant(DataType::kUint8, {19, 9}, rng);
  c.za = 113;
  c.zb = 114;
  c.y_type = DataType::kUint8;
  c.zy = 118;
  c.sa = 0.0066f;
  c.sb = 0.00705f;
  c.sy = 0.0107f;
  CheckCase(c, "qlinear uint8");
  c.a = RandomQuant(DataType::kInt8, {4, 2, 10}, rng);
  c.b = RandomQuant(DataType::kInt8, {10, 3}, rng);
  c.b_constant = true;
  c.za = -3;
  c.zb = 7;
  c.y_type = DataType::kInt8;
  c.zy = -9;
  c.sy = 0.02f;  // larger accumulators than the output range: saturation at both ends
  CheckCase(c, "qlinear int8 3-D A, constant B");
}

// Other int8-capable targets: tpu-v1 (256x256, int8 only: no float mode at all) and rtl-16x16.
TEST(Int8Tpu, RunsOnTpuV1AndRtl16x16) {
  Lcg rng{17};
  Case c;
  c.qlinear = true;
  c.a = RandomQuant(DataType::kUint8, {20, 40}, rng);
  c.b = RandomQuant(DataType::kUint8, {40, 18}, rng);
  c.za = 1;
  c.zb = 255;
  c.y_type = DataType::kUint8;
  c.zy = 7;
  std::map<std::string, Tensor> feeds;
  const Graph g = BuildGraph(c, feeds);
  for (const auto& [arch, engine] : std::vector<std::pair<std::string, std::string>>{
           {"tpu-v1", "functional"}, {"rtl-16x16", "functional"}, {"rtl-16x16", "cycle"}}) {
    auto s = Session::Create(g, Tpu(engine, arch));
    ASSERT_TRUE(s.ok()) << arch << ": " << s.status();
    RunReport report;
    auto out = (*s)->Run(feeds, &report);
    ASSERT_TRUE(out.ok()) << arch << ": " << out.status();
    EXPECT_EQ(report.tpu_launches, 1) << arch;
    EXPECT_EQ(Values(out->at("y")), Expected(c)) << arch << " " << engine;
  }
}

// Two QLinearMatMuls in a row form one int8 segment: the uint8 intermediate stays on the device in its
// int8 representation (one launch); the result equals the reference applied twice.
TEST(Int8Tpu, ChainedQLinearMatMulsShareOneProgram) {
  Lcg rng{41};
  Case first;
  first.qlinear = true;
  first.a = RandomQuant(DataType::kUint8, {12, 10}, rng);
  first.b = RandomQuant(DataType::kUint8, {10, 9}, rng);
  first.b_constant = true;
  first.za = 100;
  first.zb = 128;
  first.y_type = DataType::kUint8;
  first.zy = 120;
  first.sa = 0.01f;
  first.sb = 0.01f;
  first.sy = 0.05f;
  std::map<std::string, Tensor> feeds;
  Graph g = BuildGraph(first, feeds);
  // y (uint8 [12,9]) x c (uint8 [9,5], constant) -> z, with y's scale and zero point.
  Case second = first;
  second.b = RandomQuant(DataType::kUint8, {9, 5}, rng);
  second.za = first.zy;
  second.sa = first.sy;
  second.zb = 3;
  second.zy = 50;
  g.AddValue("c", DataType::kUint8).constant = second.b;
  g.AddValue("zc", DataType::kUint8).constant = Scalar(DataType::kUint8, second.zb);
  g.AddValue("sz", DataType::kFloat32).constant = ScalarF(second.sy);
  g.AddValue("zz", DataType::kUint8).constant = Scalar(DataType::kUint8, second.zy);
  g.AddValue("z", DataType::kUint8);
  Node n2 = MakeNode("QLinearMatMul", {"y", "sy", "zy", "c", "sb", "zc", "sz", "zz"}, "z");
  n2.name = "second";
  g.nodes.push_back(n2);
  g.outputs = {"z"};
  second.a = Tensor(DataType::kUint8, Shape{12, 9});
  const std::vector<int32_t> y = Expected(first);
  for (size_t i = 0; i < y.size(); ++i) second.a.as<uint8_t>()[i] = static_cast<uint8_t>(y[i]);
  for (const std::string engine : {"functional", "cycle"}) {
    auto s = Session::Create(g, Tpu(engine));
    ASSERT_TRUE(s.ok()) << s.status();
    RunReport report;
    auto out = (*s)->Run(feeds, &report);
    ASSERT_TRUE(out.ok()) << out.status();
    EXPECT_EQ(report.tpu_launches, 1);
    EXPECT_EQ(Values(out->at("z")), Expected(second)) << engine;
  }
}

// tpu-v4 has no INT8_INT32 mode: the node runs on the CPU kernel, and the placement says why.
TEST(Int8Tpu, ArchWithoutInt8ModeFallsBackToTheCpu) {
  Lcg rng{9};
  Case c;
  c.a = RandomQuant(DataType::kUint8, {4, 6}, rng);
  c.b = RandomQuant(DataType::kUint8, {6, 3}, rng);
  c.za = 3;
  c.zb = 9;
  std::map<std::string, Tensor> feeds;
  const Graph g = BuildGraph(c, feeds);
  auto s = Session::Create(g, Tpu("functional", "tpu-v4", /*fallback=*/true));
  ASSERT_TRUE(s.ok()) << s.status();
  ASSERT_EQ((*s)->placements().size(), 1u);
  EXPECT_EQ((*s)->placements()[0].device, kCpuDeviceName);
  EXPECT_NE((*s)->placements()[0].reason.find("INT8_INT32"), std::string::npos) << (*s)->placements()[0].reason;
  RunReport report;
  auto out = (*s)->Run(feeds, &report);
  ASSERT_TRUE(out.ok()) << out.status();
  EXPECT_EQ(report.tpu_launches, 0);
  EXPECT_EQ(Values(out->at("y")), Expected(c));
  auto strict = Session::Create(g, Tpu("functional", "tpu-v4", /*fallback=*/false));
  EXPECT_FALSE(strict.ok());
}

// Float and int8 nodes in one graph: MatMulInteger's segment is int8 mode, the Relu after a Cast-free
// float path is its own float segment. Here: the PTQ MLP of runtime/quantize.h, whose MatMulIntegers
// now run on the TPU; outputs equal the CPU session's bit for bit (the int32 accumulators are exact,
// the float ops around them are the same IEEE operations).
TEST(Int8Tpu, QuantizedMlpRunsItsMatMulIntegersOnTheTpu) {
  Lcg rng{2024};
  absl::StatusOr<Graph> q = QuantizedMlp(rng);
  ASSERT_TRUE(q.ok()) << q.status();
  auto cpu = Session::Create(*q, Cpu());
  auto tpu = Session::Create(*q, Tpu("functional", "tiny", /*fallback=*/true));
  ASSERT_TRUE(cpu.ok() && tpu.ok());
  int on_tpu = 0;
  for (const Placement& p : (*tpu)->placements()) {
    if (p.op_type == "MatMulInteger") {
      EXPECT_EQ(p.device, kTpuDeviceName) << p.node << ": " << p.reason;
      ++on_tpu;
    }
  }
  EXPECT_EQ(on_tpu, 2);
  for (int trial = 0; trial < 3; ++trial) {
    std::map<std::string, Tensor> feed = {{"x", RandomFloats({4, 16}, 2.0f, rng)}};
    auto want = (*cpu)->Run(feed);
    RunReport report;
    auto got = (*tpu)->Run(feed, &report);
    ASSERT_TRUE(want.ok() && got.ok()) << got.status();
    EXPECT_GE(report.tpu_launches, 2);
    int int8_launches = 0;  // the MatMulIntegers' segments are int8-mode programs, the rest float mode
    for (const LaunchRecord& l : report.launches) int8_launches += l.label.find("[int8]") != std::string::npos;
    EXPECT_EQ(int8_launches, 2);
    ExpectSameBits(want->at("y"), got->at("y"), absl::StrCat("trial ", trial));
  }
}

}  // namespace
}  // namespace tpusim::runtime
