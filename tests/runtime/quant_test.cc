// QuantizeLinear, DequantizeLinear, MatMulInteger and QLinearMatMul on the CPU reference kernels:
// hand-computed values (rounding half to even, saturation, per-axis scales, zero points), the
// requantize formula against isa::numerics::Requantize (the array's ACTIVATE requantize), and the ONNX
// node tests of these ops on the `cpu` device and through a `tpu` session with CPU fallback.
#include <gtest/gtest.h>

#include <cstdint>
#include <vector>

#include "cpu_kernel_test_util.h"
#include "onnx_test_data.h"
#include "tpusim/compiler_backend/onnx_frontend.h"
#include "tpusim/isa/arch_config.h"
#include "tpusim/isa/numerics.h"
#include "tpusim/runtime/session.h"

namespace tpusim::runtime {
namespace {

using compiler::DataType;
using compiler::Tensor;
using testing::MakeNode;
using testing::Run1;

template <typename T>
Tensor Make(DataType dtype, compiler::Shape shape, std::vector<T> values) {
  Tensor t(dtype, std::move(shape));
  for (size_t i = 0; i < values.size(); ++i) t.as<T>()[i] = values[i];
  return t;
}

template <typename T>
std::vector<int> Ints(const Tensor& t) {
  std::vector<int> out;
  for (int64_t i = 0; i < t.num_elements(); ++i) out.push_back(t.as<T>()[i]);
  return out;
}

Tensor Scalar(float v) { return Make<float>(DataType::kFloat32, {}, {v}); }

TEST(QuantCpuKernels, QuantizeLinearRoundsHalfToEvenThenAddsZeroPointAndSaturates) {
  const Tensor x = Make<float>(DataType::kFloat32, {8}, {0.5f, 1.5f, 2.5f, -0.5f, -1.5f, 300.0f, -300.0f, 3.0f});
  const Tensor scale = Scalar(1.0f);
  // int8, zero point 0: rint gives 0, 2, 2, -0, -2; 300 and -300 saturate.
  const Tensor zp_i8 = Make<int8_t>(DataType::kInt8, {}, {0});
  absl::StatusOr<Tensor> y = Run1(MakeNode("QuantizeLinear", 3), {&x, &scale, &zp_i8});
  ASSERT_TRUE(y.ok()) << y.status();
  EXPECT_EQ(y->dtype(), DataType::kInt8);
  EXPECT_EQ(Ints<int8_t>(*y), (std::vector<int>{0, 2, 2, 0, -2, 127, -128, 3}));
  // uint8, zero point 128: the same roundings shifted by 128, saturating at 0 and 255.
  const Tensor zp_u8 = Make<uint8_t>(DataType::kUint8, {}, {128});
  y = Run1(MakeNode("QuantizeLinear", 3), {&x, &scale, &zp_u8});
  ASSERT_TRUE(y.ok()) << y.status();
  EXPECT_EQ(Ints<uint8_t>(*y), (std::vector<int>{128, 130, 130, 128, 126, 255, 0, 131}));
  // Zero point 1 is added after rounding: round(0.5) + 1 = 1 (not rint(1.5) = 2). No zero point: uint8.
  const Tensor zp_one = Make<uint8_t>(DataType::kUint8, {}, {1});
  y = Run1(MakeNode("QuantizeLinear", 3), {&x, &scale, &zp_one});
  ASSERT_TRUE(y.ok()) << y.status();
  EXPECT_EQ(Ints<uint8_t>(*y)[0], 1);
  y = Run1(MakeNode("QuantizeLinear", 2), {&x, &scale});
  ASSERT_TRUE(y.ok()) << y.status();
  EXPECT_EQ(y->dtype(), DataType::kUint8);
  EXPECT_EQ(Ints<uint8_t>(*y), (std::vector<int>{0, 2, 2, 0, 0, 255, 0, 3}));
}

TEST(QuantCpuKernels, PerAxisScalesAndZeroPoints) {
  // x [2,3], axis 1: column c uses scale {1,2,4}[c] and zero point {0,10,20}[c].
  // Row 0: 4/1+0 = 4, 4/2+10 = 12, 4/4+20 = 21. Row 1: -4 -> 0 (saturated), 8/2+10 = 14, rint(2.5)+20 = 22.
  const Tensor x = Make<float>(DataType::kFloat32, {2, 3}, {4, 4, 4, -4, 8, 10});
  const Tensor scale = Make<float>(DataType::kFloat32, {3}, {1, 2, 4});
  const Tensor zp = Make<uint8_t>(DataType::kUint8, {3}, {0, 10, 20});
  absl::StatusOr<Tensor> q = Run1(MakeNode("QuantizeLinear", 3, {{"axis", int64_t{1}}}), {&x, &scale, &zp});
  ASSERT_TRUE(q.ok()) << q.status();
  EXPECT_EQ(Ints<uint8_t>(*q), (std::vector<int>{4, 12, 21, 0, 14, 22}));
  // Dequantized back: (q - zp) * scale = 4, 4, 4, 0, 8, 8.
  absl::StatusOr<Tensor> d = Run1(MakeNode("DequantizeLinear", 3, {{"axis", int64_t{-1}}}), {&*q, &scale, &zp});
  ASSERT_TRUE(d.ok()) << d.status();
  EXPECT_EQ(testing::Floats(*d), (std::vector<float>{4, 4, 4, 0, 8, 8}));
  // A scale count that matches no axis is an error naming the node.
  const Tensor bad = Make<float>(DataType::kFloat32, {2}, {1, 2});
  absl::StatusOr<Tensor> e = Run1(MakeNode("QuantizeLinear", 2, {{"axis", int64_t{1}}}), {&x, &bad});
  EXPECT_EQ(e.status().code(), absl::StatusCode::kInvalidArgument) << e.status();
  e = Run1(MakeNode("QuantizeLinear", 2, {{"block_size", int64_t{2}}}), {&x, &scale});
  EXPECT_EQ(e.status().code(), absl::StatusCode::kUnimplemented) << e.status();
}

TEST(QuantCpuKernels, DequantizeLinearInt8) {
  // (x - zp) * scale with zp = -1, scale 0.5: (-128+1)/2 = -63.5, (0+1)/2 = 0.5, (127+1)/2 = 64.
  const Tensor x = Make<int8_t>(DataType::kInt8, {3}, {-128, 0, 127});
  const Tensor scale = Scalar(0.5f);
  const Tensor zp = Make<int8_t>(DataType::kInt8, {}, {-1});
  absl::StatusOr<Tensor> y = Run1(MakeNode("DequantizeLinear", 3), {&x, &scale, &zp});
  ASSERT_TRUE(y.ok()) << y.status();
  EXPECT_EQ(testing::Floats(*y), (std::vector<float>{-63.5f, 0.5f, 64.0f}));
}

TEST(QuantCpuKernels, MatMulIntegerSubtractsScalarAndPerColumnZeroPoints) {
  // A - 1 = [[0,1,2],[3,4,5]]; B - {0,1} per column = [[1,-2],[2,-1],[-3,4]].
  // Row 0: 0+2-6 = -4, 0-1+8 = 7. Row 1: 3+8-15 = -4, -6-4+20 = 10.
  const Tensor a = Make<uint8_t>(DataType::kUint8, {2, 3}, {1, 2, 3, 4, 5, 6});
  const Tensor b = Make<int8_t>(DataType::kInt8, {3, 2}, {1, -1, 2, 0, -3, 5});
  const Tensor za = Make<uint8_t>(DataType::kUint8, {}, {1});
  const Tensor zb = Make<int8_t>(DataType::kInt8, {2}, {0, 1});
  absl::StatusOr<Tensor> y = Run1(MakeNode("MatMulInteger", 4), {&a, &b, &za, &zb});
  ASSERT_TRUE(y.ok()) << y.status();
  EXPECT_EQ(y->dtype(), DataType::kInt32);
  EXPECT_EQ(y->shape(), (compiler::Shape{2, 2}));
  EXPECT_EQ(Ints<int32_t>(*y), (std::vector<int>{-4, 7, -4, 10}));
  // Batched A [2,1,3] against the same B: the rows of the first case, one per batch.
  const Tensor a3 = Make<uint8_t>(DataType::kUint8, {2, 1, 3}, {1, 2, 3, 4, 5, 6});
  y = Run1(MakeNode("MatMulInteger", 4), {&a3, &b, &za, &zb});
  ASSERT_TRUE(y.ok()) << y.status();
  EXPECT_EQ(y->shape(), (compiler::Shape{2, 1, 2}));
  EXPECT_EQ(Ints<int32_t>(*y), (std::vector<int>{-4, 7, -4, 10}));
}

TEST(QuantCpuKernels, QLinearMatMulRequantizes) {
  // acc = (10-10)(3-1) + (20-10)(5-1) = 40. m = 0.5 * 0.25 / y_scale.
  const Tensor a = Make<uint8_t>(DataType::kUint8, {1, 2}, {10, 20});
  const Tensor b = Make<uint8_t>(DataType::kUint8, {2, 1}, {3, 5});
  const Tensor sa = Scalar(0.5f), sb = Scalar(0.25f);
  const Tensor za = Make<uint8_t>(DataType::kUint8, {}, {10});
  const Tensor zb = Make<uint8_t>(DataType::kUint8, {}, {1});
  const Tensor zy = Make<uint8_t>(DataType::kUint8, {}, {100});
  auto run = [&](float y_scale) {
    const Tensor sy = Scalar(y_scale);
    absl::StatusOr<Tensor> y = Run1(MakeNode("QLinearMatMul", 8), {&a, &sa, &za, &b, &sb, &zb, &sy, &zy});
    EXPECT_TRUE(y.ok()) << y.status();
    return y.ok() ? Ints<uint8_t>(*y)[0] : -1;
  };
  EXPECT_EQ(run(0.125f), 140);  // m = 1: 40 + 100
  EXPECT_EQ(run(2.0f), 102);    // m = 1/16: 2.5 rounds to 2 (even), + 100
  EXPECT_EQ(run(0.0125f), 255); // m = 10: 400 + 100 saturates
}

TEST(QuantCpuKernels, QLinearMatMulInt8MatchesTheArraysRequantize) {
  // For int8 outputs the kernel's requantization is numerics::Requantize(acc, m, zp) with
  // m = fp32(fp32(a_scale * b_scale) / y_scale): the formula the array's ACTIVATE requantize computes.
  uint32_t lcg = 7;
  auto next = [&] { return lcg = lcg * 1664525u + 1013904223u; };
  for (int trial = 0; trial < 200; ++trial) {
    const int k = 1 + static_cast<int>(next() % 16);
    std::vector<int8_t> av(k), bv(k);
    int32_t acc = 0;
    const int8_t za = static_cast<int8_t>(next() >> 24), zb = static_cast<int8_t>(next() >> 24);
    for (int i = 0; i < k; ++i) {
      av[i] = static_cast<int8_t>(next() >> 24);
      bv[i] = static_cast<int8_t>(next() >> 24);
      acc += (av[i] - za) * (bv[i] - zb);
    }
    const float sa = 0.001f * static_cast<float>(1 + next() % 1000);
    const float sb = 0.001f * static_cast<float>(1 + next() % 1000);
    const float sy = 0.01f * static_cast<float>(1 + next() % 1000);
    const int8_t zy = static_cast<int8_t>(next() >> 24);
    const Tensor a = Make<int8_t>(DataType::kInt8, {1, k}, av), b = Make<int8_t>(DataType::kInt8, {k, 1}, bv);
    const Tensor ta = Scalar(sa), tb = Scalar(sb), ty = Scalar(sy);
    const Tensor tza = Make<int8_t>(DataType::kInt8, {}, {za}), tzb = Make<int8_t>(DataType::kInt8, {}, {zb});
    const Tensor tzy = Make<int8_t>(DataType::kInt8, {}, {zy});
    absl::StatusOr<Tensor> y = Run1(MakeNode("QLinearMatMul", 8), {&a, &ta, &tza, &b, &tb, &tzb, &ty, &tzy});
    ASSERT_TRUE(y.ok()) << y.status();
    EXPECT_EQ(y->as<int8_t>()[0], isa::numerics::Requantize(acc, (sa * sb) / sy, zy)) << "trial " << trial;
  }
}

// Runs one ONNX node test through a session; "" when every data set matches exactly.
std::string RunNodeTest(const std::string& name, const SessionOptions& options, RunReport* report = nullptr) {
  const std::string dir = tpusim::testing::OnnxNodeTestDir(name);
  absl::StatusOr<compiler::Graph> graph = compiler::ImportOnnxFile(dir + "/model.onnx");
  if (!graph.ok()) return absl::StrCat("import: ", graph.status().ToString());
  absl::StatusOr<std::unique_ptr<Session>> session = Session::Create(*std::move(graph), options);
  if (!session.ok()) return absl::StrCat("session: ", session.status().ToString());
  const compiler::Graph& g = (*session)->graph();
  const std::vector<std::string> sets = tpusim::testing::OnnxDataSets(dir);
  if (sets.empty()) return "no data sets";
  for (const std::string& set : sets) {
    const std::vector<std::string> inputs = tpusim::testing::OnnxDataFiles(set, "input");
    const std::vector<std::string> outputs = tpusim::testing::OnnxDataFiles(set, "output");
    if (inputs.size() != g.inputs.size() || outputs.size() != g.outputs.size()) return "input/output count";
    std::map<std::string, Tensor> feeds;
    for (size_t k = 0; k < inputs.size(); ++k) {
      absl::StatusOr<Tensor> t = compiler::ReadTensorProtoFile(inputs[k]);
      if (!t.ok()) return t.status().ToString();
      feeds[g.inputs[k]] = *std::move(t);
    }
    absl::StatusOr<std::map<std::string, Tensor>> got = (*session)->Run(feeds, report);
    if (!got.ok()) return absl::StrCat(set, ": ", got.status().ToString());
    for (size_t k = 0; k < outputs.size(); ++k) {
      absl::StatusOr<Tensor> want = compiler::ReadTensorProtoFile(outputs[k]);
      if (!want.ok()) return want.status().ToString();
      const std::string mismatch = tpusim::testing::AllCloseMismatch(got->at(g.outputs[k]), *want);
      if (!mismatch.empty()) return absl::StrCat(set, ": output ", k, ": ", mismatch);
    }
  }
  return "";
}

const std::vector<std::string> kQuantNodeTests = {
    "test_dequantizelinear", "test_dequantizelinear_axis", "test_matmulinteger", "test_qlinearmatmul_2D",
    "test_qlinearmatmul_3D", "test_quantizelinear",        "test_quantizelinear_axis"};

TEST(QuantOnnxNodeTests, PassOnTheCpuDevice) {
  SessionOptions options;
  options.device = "cpu";
  for (const std::string& name : kQuantNodeTests) EXPECT_EQ(RunNodeTest(name, options), "") << name;
}

TEST(QuantOnnxNodeTests, PassThroughATpuSessionWithCpuFallback) {
  SessionOptions options;
  options.device = "tpu";
  options.engine = "functional";
  options.arch = *isa::LoadPreset("tiny");
  options.allow_cpu_fallback = true;
  for (const std::string& name : kQuantNodeTests) {
    RunReport report;
    EXPECT_EQ(RunNodeTest(name, options, &report), "") << name;
    // MatMulInteger and QLinearMatMul run in int8 mode (int8_tpu_test.cc), Quantize/Dequantize (scalar
    // and per-axis) in float mode (quantize_tpu_test.cc): every test is one TPU launch, no CPU kernel.
    EXPECT_EQ(report.tpu_launches, 1) << name;
    EXPECT_EQ(report.cpu_kernels, 0) << name;
  }
}

// A QuantizeLinear whose scale is computed at run time (here by an Abs) has no TPU lowering: without
// fallback, creating the session fails naming the node and the reason.
TEST(QuantOnnxNodeTests, TpuWithoutFallbackGivesAClearError) {
  compiler::Graph g;
  g.AddValue("x", DataType::kFloat32, compiler::Shape{4});
  g.AddValue("s_in", DataType::kFloat32, compiler::Shape{});
  g.AddValue("s", DataType::kFloat32);
  g.AddValue("y", DataType::kInt8);
  g.AddValue("z", DataType::kInt8).constant = Make<int8_t>(DataType::kInt8, {}, {0});
  g.inputs = {"x", "s_in"};
  g.nodes = {testing::Op("Abs", {"s_in"}, {"s"}), testing::Op("QuantizeLinear", {"x", "s", "z"}, {"y"})};
  g.outputs = {"y"};
  // tiny, functional, no CPU fallback (TinyOptions).
  absl::StatusOr<std::unique_ptr<Session>> session = Session::Create(g, testing::TinyOptions("tpu", "functional"));
  ASSERT_FALSE(session.ok());
  const std::string failure(session.status().message());
  EXPECT_NE(failure.find("QuantizeLinear"), std::string::npos) << failure;
  EXPECT_NE(failure.find("run time"), std::string::npos) << failure;
}

}  // namespace
}  // namespace tpusim::runtime
