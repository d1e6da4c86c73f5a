// The quantization ops in the compiler: ONNX uint8 tensors import as DataType::kUint8, and
// CheckTpuSupport admits QuantizeLinear / DequantizeLinear with compile-time scales and zero points
// (float mode, cvt_f2i / cvt_i2f: tests/runtime/quantize_tpu_test.cc). MatMulInteger and QLinearMatMul run in int8
// mode: tests/compiler_backend/int8_codegen_test.cc.
#include <gtest/gtest.h>

#include <set>
#include <string>

#include "tpusim/compiler_backend/compiler.h"
#include "tpusim/compiler_backend/onnx_frontend.h"

namespace tpusim::compiler {
namespace {

const std::string kNodeDir = "/usr/share/libonnx-testdata/data/node/";

TEST(QuantImport, Uint8TensorsImportAsUint8) {
  absl::StatusOr<Graph> g = ImportOnnxFile(kNodeDir + "test_qlinearmatmul_2D/model.onnx");
  ASSERT_TRUE(g.ok()) << g.status();
  ASSERT_EQ(g->inputs.size(), 8u);
  EXPECT_EQ(g->FindValue(g->inputs[0])->dtype, DataType::kUint8);
  EXPECT_EQ(g->FindValue(g->inputs[1])->dtype, DataType::kFloat32);
  // a_zero_point = 'q' = 113 in the shipped data.
  absl::StatusOr<Tensor> zp = ReadTensorProtoFile(kNodeDir + "test_qlinearmatmul_2D/test_data_set_0/input_2.pb");
  ASSERT_TRUE(zp.ok()) << zp.status();
  EXPECT_EQ(zp->dtype(), DataType::kUint8);
  EXPECT_EQ(zp->as<uint8_t>()[0], 113);
  EXPECT_EQ(DataTypeName(DataType::kUint8), "uint8");
  EXPECT_EQ(DataTypeBytes(DataType::kUint8), 1u);
}

TEST(QuantTpuSupport, QuantOpsRunOnTheTpuWithCompileTimeScales) {
  for (const char* test : {"test_quantizelinear", "test_dequantizelinear", "test_quantizelinear_axis",
                           "test_dequantizelinear_axis"}) {
    absl::StatusOr<Graph> g = ImportOnnxFile(kNodeDir + test + "/model.onnx");
    ASSERT_TRUE(g.ok()) << g.status();
    const Node& node = g->nodes[0];
    EXPECT_TRUE(IsCompileTimeOperand(node, 1));
    EXPECT_TRUE(IsCompileTimeOperand(node, 2));
    EXPECT_FALSE(IsCompileTimeOperand(node, 0));
    // The scale and zero point are graph inputs here: the session feeds them as compile-time inputs.
    const std::set<std::string> compile_time(node.inputs.begin() + 1, node.inputs.end());
    const absl::Status ok = CheckTpuSupport(node, *g, compile_time);
    EXPECT_TRUE(ok.ok()) << test << ": " << ok;
    // Without their values the TPU cannot lower the node: the CPU runs it, and the reason says why.
    const absl::Status no = CheckTpuSupport(node, *g);
    EXPECT_EQ(no.code(), absl::StatusCode::kUnimplemented) << test;
    EXPECT_NE(no.message().find("run time"), std::string::npos) << no;
  }
}

}  // namespace
}  // namespace tpusim::compiler
