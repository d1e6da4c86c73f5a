// CheckTpuSupport: which ops, types, sizes and opset semantics the TPU codegen accepts.
#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include "tpusim/compiler_backend/compiler.h"
#include "tpusim/compiler_backend/onnx_frontend.h"

namespace tpusim::compiler {
namespace {

const std::string kNodeDir = "/usr/share/libonnx-testdata/data/node/";

// One node `op` over inputs of `dtype` with the given shapes; output "out" of the same type and `out_shape`.
Graph OneNodeGraph(const std::string& op, std::vector<Shape> shapes, DataType dtype = DataType::kFloat32,
                   Shape out_shape = {2, 2}, int opset = 13) {
  Graph g;
  Node n;
  n.name = "n";
  n.op_type = op;
  n.opset = opset;
  for (size_t i = 0; i < shapes.size(); ++i) {
    const std::string name = "in" + std::to_string(i);
    g.AddValue(name, dtype, shapes[i]);
    g.inputs.push_back(name);
    n.inputs.push_back(name);
  }
  n.outputs = {"out"};
  g.AddValue("out", dtype, out_shape);
  g.outputs = {"out"};
  g.nodes.push_back(n);
  return g;
}

absl::Status Check(const Graph& g) { return CheckTpuSupport(g.nodes[0], g); }

TEST(TpuSupportTest, SupportedOpsOnFloat32) {
  for (const char* op : {"Add", "Sub", "Mul", "MatMul", "Gemm"}) {
    EXPECT_TRUE(Check(OneNodeGraph(op, {{2, 2}, {2, 2}})).ok()) << op;
  }
  for (const char* op : {"Relu", "Sigmoid", "Tanh", "Softmax", "Flatten", "Identity"}) {
    EXPECT_TRUE(Check(OneNodeGraph(op, {{2, 2}})).ok()) << op;
  }
}

TEST(TpuSupportTest, SoftmaxBothOpsetSemantics) {
  Graph g = OneNodeGraph("Softmax", {{2, 3, 4}}, DataType::kFloat32, {2, 3, 4}, 11);
  g.nodes[0].attrs["axis"] = int64_t{1};
  EXPECT_TRUE(Check(g).ok());
  g.nodes[0].opset = 13;
  EXPECT_TRUE(Check(g).ok());
}

TEST(TpuSupportTest, UnsupportedOpIsUnimplementedWithReason) {
  absl::Status s = Check(OneNodeGraph("ArgMax", {{2, 2}}));
  EXPECT_EQ(s.code(), absl::StatusCode::kUnimplemented);
  EXPECT_EQ(s.message(), "ArgMax is not supported on the TPU");
  EXPECT_EQ(Check(OneNodeGraph("Floor", {{2, 2}})).code(), absl::StatusCode::kUnimplemented);
  EXPECT_EQ(Check(OneNodeGraph("com.microsoft.FusedGemm", {{2, 2}})).code(), absl::StatusCode::kUnimplemented);
}

TEST(TpuSupportTest, DivRunsOnTheVectorUnit) {
  EXPECT_TRUE(Check(OneNodeGraph("Div", {{2, 2}, {2, 2}})).ok());
}

TEST(TpuSupportTest, NonFloatTensorsAreUnimplemented) {
  absl::Status s = Check(OneNodeGraph("Add", {{2, 2}, {2, 2}}, DataType::kInt64));
  EXPECT_EQ(s.code(), absl::StatusCode::kUnimplemented);
  EXPECT_EQ(s.message(), "Add on int64 tensors is not supported on the TPU");
  EXPECT_EQ(Check(OneNodeGraph("Relu", {{2, 2}}, DataType::kInt8)).code(), absl::StatusCode::kUnimplemented);
}

TEST(TpuSupportTest, TensorsBeyond2To31ElementsAreUnimplemented) {
  // 65536 x 65537 = 2^32 + 2^16 elements > 2^31.
  Graph g = OneNodeGraph("Relu", {{65536, 65537}}, DataType::kFloat32, {65536, 65537});
  absl::Status s = Check(g);
  EXPECT_EQ(s.code(), absl::StatusCode::kUnimplemented);
  EXPECT_THAT(std::string(s.message()), ::testing::HasSubstr("2^31"));
}

TEST(TpuSupportTest, ReshapeNeedsAConstantInt64ShapeButItsTypeIsNotChecked) {
  Graph g = OneNodeGraph("Reshape", {{2, 3}, {2}}, DataType::kFloat32, {3, 2}, 14);
  g.values["in1"].dtype = DataType::kInt64;
  EXPECT_EQ(Check(g).code(), absl::StatusCode::kUnimplemented);  // shape computed at run time
  g.values["in1"].constant = Tensor::FromInt64s({2}, {3, 2});
  g.inputs = {"in0"};
  EXPECT_TRUE(Check(g).ok());
}

TEST(TpuSupportTest, ReshapeShapeMayBeACompileTimeInput) {
  Graph g = OneNodeGraph("Reshape", {{2, 3}, {2}}, DataType::kFloat32, {3, 2}, 14);
  g.values["in1"].dtype = DataType::kInt64;
  EXPECT_TRUE(CheckTpuSupport(g.nodes[0], g, {"in1"}).ok());
  // Only the shape input counts: a compile-time data input does not make the shape known.
  EXPECT_EQ(CheckTpuSupport(g.nodes[0], g, {"in0"}).code(), absl::StatusCode::kUnimplemented);
}

TEST(TpuSupportTest, Opset6InnerAxisBroadcastIsUnimplemented) {
  Graph g = OneNodeGraph("Add", {{2, 3}, {2}}, DataType::kFloat32, {2, 3}, 6);
  g.nodes[0].attrs["broadcast"] = int64_t{1};
  g.nodes[0].attrs["axis"] = int64_t{0};
  EXPECT_EQ(Check(g).code(), absl::StatusCode::kUnimplemented);
  g.values["in1"].shape = Shape{3};
  g.nodes[0].attrs["axis"] = int64_t{1};  // suffix-aligned: same as numpy
  EXPECT_TRUE(Check(g).ok());
}

TEST(TpuSupportTest, ImportedNodeTestModelsAreSupported) {
  for (const char* test : {"test_matmul_2d", "test_matmul_3d", "test_gemm_all_attributes", "test_add_bcast",
                           "test_sub", "test_mul_bcast", "test_relu", "test_sigmoid", "test_tanh",
                           "test_softmax_axis_0", "test_flatten_negative_axis1", "test_identity"}) {
    SCOPED_TRACE(test);
    absl::StatusOr<Graph> g = ImportOnnxFile(kNodeDir + test + "/model.onnx");
    ASSERT_TRUE(g.ok()) << g.status();
    ASSERT_TRUE(InferShapes(*g).ok());
    EXPECT_TRUE(CheckTpuSupport(g->nodes[0], *g).ok()) << CheckTpuSupport(g->nodes[0], *g);
  }
  absl::StatusOr<Graph> argmax = ImportOnnxFile(kNodeDir + "test_argmax_keepdims_example/model.onnx");
  ASSERT_TRUE(argmax.ok()) << argmax.status();
  EXPECT_EQ(CheckTpuSupport(argmax->nodes[0], *argmax).code(), absl::StatusCode::kUnimplemented);
}

}  // namespace
}  // namespace tpusim::compiler
