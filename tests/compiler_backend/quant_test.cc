// The quantization ops in the compiler: ONNX uint8 tensors import as DataType::kUint8, and
// CheckTpuSupport places QuantizeLinear / DequantizeLinear on the CPU with a message that says why
// (float32 <-> int8 conversion is in neither matrix mode). MatMulInteger and QLinearMatMul run in int8
// mode: tests/compiler_backend/int8_codegen_test.cc.
#include <gtest/gtest.h>

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

TEST(QuantTpuSupport, QuantOpsAreCpuOpsWithAReason) {
  for (const char* test : {"test_quantizelinear", "test_dequantizelinear"}) {
    absl::StatusOr<Graph> g = ImportOnnxFile(kNodeDir + test + "/model.onnx");
    ASSERT_TRUE(g.ok()) << g.status();
    const absl::Status s = CheckTpuSupport(g->nodes[0], *g);
    EXPECT_EQ(s.code(), absl::StatusCode::kUnimplemented) << test;
    EXPECT_NE(s.message().find("uint8"), std::string::npos) << s;
    EXPECT_NE(s.message().find("int8 mode"), std::string::npos) << s;
  }
}

}  // namespace
}  // namespace tpusim::compiler
