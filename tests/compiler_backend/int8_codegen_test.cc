// The int8-mode compile path (lower_int8*.cc, docs/quantization.md): support rules and compile-time
// operands of MatMulInteger / QLinearMatMul, the program it emits (precision "int8", INT8/INT32
// bindings, int8 MATMULs, a requantizing ACTIVATE), the uint8 device representation, and the errors
// for an arch without int8 mode and for mixed-mode graphs. Numerical results: tests/runtime/int8_tpu_test.cc.
#include <gtest/gtest.h>

#include <algorithm>
#include <set>
#include <string>

#include "tpusim/compiler_backend/compiler.h"
#include "tpusim/compiler_backend/onnx_frontend.h"
#include "tpusim/isa/arch_config.h"
#include "tpusim/isa/isa.h"
#include "tpusim/isa/program.h"

namespace tpusim::compiler {
namespace {

const std::string kNodeDir = "/usr/share/libonnx-testdata/data/node/";

Tensor Scalar(DataType t, uint8_t byte) {
  Tensor x(t, Shape{});
  x.data()[0] = byte;
  return x;
}

// a uint8 [5,12] (graph input) x b uint8 [12,3] (constant), za = 3, zb = 250 -> y int32 [5,3].
Graph MatMulIntegerGraph() {
  Graph g;
  g.AddValue("a", DataType::kUint8, Shape{5, 12});
  g.inputs = {"a"};
  Tensor b(DataType::kUint8, Shape{12, 3});
  for (int i = 0; i < 36; ++i) b.data()[i] = static_cast<uint8_t>(i * 7);
  g.AddValue("b", DataType::kUint8).constant = b;
  g.AddValue("za", DataType::kUint8).constant = Scalar(DataType::kUint8, 3);
  g.AddValue("zb", DataType::kUint8).constant = Scalar(DataType::kUint8, 250);
  g.AddValue("y", DataType::kInt32);
  Node n;
  n.name = "mm";
  n.op_type = "MatMulInteger";
  n.inputs = {"a", "b", "za", "zb"};
  n.outputs = {"y"};
  g.nodes = {n};
  g.outputs = {"y"};
  return g;
}

CompileOptions Options(const std::string& arch) {
  CompileOptions o;
  o.arch = *isa::LoadPreset(arch);
  o.precision = Precision::kHighest;  // ignored by int8 programs
  return o;
}

TEST(Int8Codegen, Uint8DeviceRepresentationShiftsBy128) {
  Tensor u(DataType::kUint8, Shape{4});
  const uint8_t values[] = {0, 127, 128, 255};
  std::copy(values, values + 4, u.data());
  const Tensor d = ToDeviceInt8(u);
  ASSERT_EQ(d.dtype(), DataType::kInt8);
  // u - 128: -128, -1, 0, 127.
  EXPECT_EQ(d.as<int8_t>()[0], -128);
  EXPECT_EQ(d.as<int8_t>()[1], -1);
  EXPECT_EQ(d.as<int8_t>()[2], 0);
  EXPECT_EQ(d.as<int8_t>()[3], 127);
  const Tensor back = FromDeviceInt8(d, DataType::kUint8);
  ASSERT_EQ(back.dtype(), DataType::kUint8);
  EXPECT_TRUE(std::equal(values, values + 4, back.data()));
  EXPECT_EQ(FromDeviceInt8(d, DataType::kInt8).dtype(), DataType::kInt8);  // int8 stays as it is
}

TEST(Int8Codegen, OnnxTestsAreSupportedWithCompileTimeZeroPointsAndScales) {
  absl::StatusOr<Graph> mm = ImportOnnxFile(kNodeDir + "test_matmulinteger/model.onnx");
  ASSERT_TRUE(mm.ok()) << mm.status();
  EXPECT_TRUE(IsInt8ModeOp(mm->nodes[0]));
  EXPECT_TRUE(IsCompileTimeOperand(mm->nodes[0], 2));
  EXPECT_TRUE(IsCompileTimeOperand(mm->nodes[0], 3));
  EXPECT_FALSE(IsCompileTimeOperand(mm->nodes[0], 1));  // B is data
  // Zero points fed at run time are not known to the compiler: not supported...
  absl::Status s = CheckTpuSupport(mm->nodes[0], *mm);
  EXPECT_EQ(s.code(), absl::StatusCode::kUnimplemented);
  EXPECT_NE(s.message().find("run time"), std::string::npos) << s;
  // ...as compile-time inputs (baked into the program) they are.
  EXPECT_TRUE(CheckTpuSupport(mm->nodes[0], *mm, {"a_zero_point", "b_zero_point"}).ok());

  absl::StatusOr<Graph> ql = ImportOnnxFile(kNodeDir + "test_qlinearmatmul_2D/model.onnx");
  ASSERT_TRUE(ql.ok()) << ql.status();
  for (size_t i : {1, 2, 4, 5, 6, 7}) EXPECT_TRUE(IsCompileTimeOperand(ql->nodes[0], i)) << i;
  for (size_t i : {0, 3}) EXPECT_FALSE(IsCompileTimeOperand(ql->nodes[0], i)) << i;
  std::set<std::string> cti(ql->inputs.begin(), ql->inputs.end());
  cti.erase("a");
  cti.erase("b");
  EXPECT_TRUE(CheckTpuSupport(ql->nodes[0], *ql, cti).ok());
}

TEST(Int8Codegen, PerAxisZeroPointsStayOnTheCpu) {
  Graph g = MatMulIntegerGraph();
  g.values["zb"].constant = Tensor(DataType::kUint8, Shape{3});  // one per column of B
  const absl::Status s = CheckTpuSupport(g.nodes[0], g);
  EXPECT_EQ(s.code(), absl::StatusCode::kUnimplemented);
  EXPECT_NE(s.message().find("per-axis"), std::string::npos) << s;
}

TEST(Int8Codegen, ConvSupportRules) {
  absl::StatusOr<Graph> g = ImportOnnxFile(kNodeDir + "test_convinteger_with_padding/model.onnx");
  ASSERT_TRUE(g.ok()) << g.status();
  EXPECT_TRUE(IsInt8ModeOp(g->nodes[0]));
  EXPECT_TRUE(CheckTpuSupport(g->nodes[0], *g, {"x_zero_point"}).ok());
  Graph grouped = *g;
  grouped.nodes[0].attrs["group"] = int64_t{2};  // C = 1: also inconsistent, either way not on the TPU
  EXPECT_EQ(CheckTpuSupport(grouped.nodes[0], grouped, {"x_zero_point"}).code(), absl::StatusCode::kUnimplemented);
  absl::StatusOr<Graph> q = ImportOnnxFile(kNodeDir + "test_qlinearconv/model.onnx");
  ASSERT_TRUE(q.ok()) << q.status();
  for (size_t i : {1, 2, 4, 5, 6, 7, 8}) EXPECT_TRUE(IsCompileTimeOperand(q->nodes[0], i)) << i;
  for (size_t i : {0, 3}) EXPECT_FALSE(IsCompileTimeOperand(q->nodes[0], i)) << i;
}

TEST(Int8Codegen, EmitsAnInt8ModeProgram) {
  absl::StatusOr<isa::Program> p = Compile(MatMulIntegerGraph(), Options("tiny"));
  ASSERT_TRUE(p.ok()) << p.status();
  EXPECT_EQ(p->precision(), "int8");
  ASSERT_EQ(p->inputs_size(), 1);
  EXPECT_EQ(p->inputs(0).dtype(), isa::INT8);  // uint8 held as int8 (u - 128)
  ASSERT_EQ(p->outputs_size(), 1);
  EXPECT_EQ(p->outputs(0).dtype(), isa::INT32);
  absl::StatusOr<std::vector<isa::Instruction>> code = isa::DecodeCode(*p);
  ASSERT_TRUE(code.ok()) << code.status();
  int matmuls = 0;
  for (const isa::Instruction& inst : *code) {
    if (inst.opcode != isa::Opcode::MATMUL) continue;
    ++matmuls;
    EXPECT_EQ(inst.as<isa::MatmulArgs>().dtype, static_cast<uint64_t>(isa::DType::I8));
  }
  // K = 12: two k-tiles of the 8x8 array. zb = 250 (device 122): B - 122 leaves int8, so each k-tile
  // has the A.B pass and one A.(-zb) pass; za is folded into the bias (constant B).
  EXPECT_EQ(matmuls, 4);
}

TEST(Int8Codegen, QLinearMatMulRequantizesInActivate) {
  absl::StatusOr<Graph> g = ImportOnnxFile(kNodeDir + "test_qlinearmatmul_2D/model.onnx");
  ASSERT_TRUE(g.ok()) << g.status();
  // Bake the shipped scales and zero points in as constants (as the runtime does for compile-time inputs).
  const std::string set = kNodeDir + "test_qlinearmatmul_2D/test_data_set_0/input_";
  for (int i : {1, 2, 4, 5, 6, 7}) {
    absl::StatusOr<Tensor> t = ReadTensorProtoFile(set + std::to_string(i) + ".pb");
    ASSERT_TRUE(t.ok()) << t.status();
    g->values[g->inputs[i]].constant = *t;
  }
  g->inputs = {g->inputs[0], g->inputs[3]};
  absl::StatusOr<isa::Program> p = Compile(*g, Options("tiny"));
  ASSERT_TRUE(p.ok()) << p.status();
  EXPECT_EQ(p->outputs(0).dtype(), isa::INT8);
  absl::StatusOr<std::vector<isa::Instruction>> code = isa::DecodeCode(*p);
  ASSERT_TRUE(code.ok()) << code.status();
  bool requantize = false;
  for (const isa::Instruction& inst : *code) {
    if (inst.opcode != isa::Opcode::ACTIVATE) continue;
    const isa::ActivateArgs& a = inst.as<isa::ActivateArgs>();
    if (a.func != static_cast<uint64_t>(isa::ActFunc::Requantize)) continue;
    requantize = true;
    // y_zero_point 118 (uint8) -> device -10; scale = fp32(fp32(0.0066 * 0.00705) / 0.0107).
    EXPECT_EQ(static_cast<int8_t>(a.zero_point), -10);
    EXPECT_EQ(isa::BitsF32(a.scale), (0.0066f * 0.00705f) / 0.0107f);
  }
  EXPECT_TRUE(requantize);
}

TEST(Int8Codegen, ArchWithoutInt8ModeAndMixedGraphsAreRejected) {
  absl::StatusOr<isa::Program> v4 = Compile(MatMulIntegerGraph(), Options("tpu-v4"));
  EXPECT_EQ(v4.status().code(), absl::StatusCode::kUnimplemented);
  EXPECT_NE(v4.status().message().find("INT8_INT32"), std::string::npos) << v4.status();

  Graph mixed = MatMulIntegerGraph();
  mixed.AddValue("f", DataType::kFloat32, Shape{2});
  mixed.inputs.push_back("f");
  mixed.AddValue("g", DataType::kFloat32);
  Node relu;
  relu.name = "relu";
  relu.op_type = "Relu";
  relu.inputs = {"f"};
  relu.outputs = {"g"};
  mixed.nodes.push_back(relu);
  mixed.outputs.push_back("g");
  absl::StatusOr<isa::Program> p = Compile(mixed, Options("tiny"));
  EXPECT_EQ(p.status().code(), absl::StatusCode::kUnimplemented);
  EXPECT_NE(p.status().message().find("one matrix mode"), std::string::npos) << p.status();
}

}  // namespace
}  // namespace tpusim::compiler
