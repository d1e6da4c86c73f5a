// ONNX frontend: the node-test models shipped by Debian's libonnx-testdata, and hand-built bad models.
// Expected shapes and opsets were read from the models with `protoc --decode=onnx.ModelProto`.
#include "tpusim/compiler_backend/onnx_frontend.h"

#include <gmock/gmock.h>
#include <gtest/gtest.h>
#include <onnx/onnx_pb.h>

#include <fstream>
#include <sstream>

namespace tpusim::compiler {
namespace {

using ::testing::ElementsAre;
using ::testing::HasSubstr;

const std::string kNodeDir = "/usr/share/libonnx-testdata/data/node/";

std::string ReadBytes(const std::string& path) {
  std::ifstream in(path, std::ios::binary);
  std::ostringstream s;
  s << in.rdbuf();
  return s.str();
}

struct ModelCase {
  std::string test;
  std::string op_type;
  int opset;
  std::vector<std::string> inputs;
  std::vector<Shape> input_shapes;
  std::string output;
  Shape output_shape;
};

TEST(OnnxFrontendTest, ImportsNodeTestModels) {
  const std::vector<ModelCase> cases = {
      {"test_matmul_2d", "MatMul", 13, {"a", "b"}, {{3, 4}, {4, 3}}, "c", {3, 3}},
      {"test_matmul_4d", "MatMul", 13, {"a", "b"}, {{1, 2, 3, 4}, {1, 2, 4, 3}}, "c", {1, 2, 3, 3}},
      {"test_gemm_default_no_bias", "Gemm", 13, {"a", "b"}, {{2, 10}, {10, 3}}, "y", {2, 3}},
      {"test_gemm_all_attributes", "Gemm", 13, {"a", "b", "c"}, {{4, 3}, {5, 4}, {1, 5}}, "y", {3, 5}},
      {"test_gemm_default_scalar_bias", "Gemm", 13, {"a", "b", "c"}, {{2, 3}, {3, 4}, {}}, "y", {2, 4}},
      {"test_add_bcast", "Add", 14, {"x", "y"}, {{3, 4, 5}, {5}}, "sum", {3, 4, 5}},
      {"test_sub_bcast", "Sub", 14, {"x", "y"}, {{3, 4, 5}, {5}}, "z", {3, 4, 5}},
      {"test_mul_bcast", "Mul", 14, {"x", "y"}, {{3, 4, 5}, {5}}, "z", {3, 4, 5}},
      {"test_relu", "Relu", 14, {"x"}, {{3, 4, 5}}, "y", {3, 4, 5}},
      {"test_sigmoid", "Sigmoid", 13, {"x"}, {{3, 4, 5}}, "y", {3, 4, 5}},
      {"test_tanh", "Tanh", 13, {"x"}, {{3, 4, 5}}, "y", {3, 4, 5}},
      {"test_softmax_axis_0", "Softmax", 13, {"x"}, {{3, 4, 5}}, "y", {3, 4, 5}},
      {"test_flatten_axis0", "Flatten", 13, {"a"}, {{2, 3, 4, 5}}, "b", {1, 120}},
      {"test_reshape_negative_dim", "Reshape", 14, {"data", "shape"}, {{2, 3, 4}, {3}}, "reshaped", {2, 6, 2}},
      {"test_identity", "Identity", 16, {"x"}, {{1, 1, 2, 2}}, "y", {1, 1, 2, 2}},
  };
  for (const ModelCase& c : cases) {
    SCOPED_TRACE(c.test);
    absl::StatusOr<Graph> g = ImportOnnxFile(kNodeDir + c.test + "/model.onnx");
    ASSERT_TRUE(g.ok()) << g.status();
    EXPECT_EQ(g->inputs, c.inputs);
    ASSERT_EQ(g->outputs, std::vector<std::string>{c.output});
    ASSERT_EQ(g->nodes.size(), 1u);
    EXPECT_EQ(g->nodes[0].op_type, c.op_type);
    EXPECT_EQ(g->nodes[0].opset, c.opset);
    EXPECT_EQ(g->nodes[0].inputs, c.inputs);
    for (size_t i = 0; i < c.inputs.size(); ++i) {
      const Value* v = g->FindValue(c.inputs[i]);
      ASSERT_NE(v, nullptr);
      EXPECT_EQ(v->shape, c.input_shapes[i]) << c.inputs[i];
      EXPECT_FALSE(v->constant.has_value());
    }
    EXPECT_EQ(g->FindValue(c.output)->shape, c.output_shape);
    EXPECT_EQ(g->FindValue(c.output)->dtype, DataType::kFloat32);
  }
}

TEST(OnnxFrontendTest, UnnamedNodesGetTensorFlowStyleNames) {
  absl::StatusOr<Graph> g = ImportOnnxFile(kNodeDir + "test_matmul_2d/model.onnx");
  ASSERT_TRUE(g.ok()) << g.status();
  EXPECT_EQ(g->nodes[0].name, "MatMul");
}

TEST(OnnxFrontendTest, ReadsAttributes) {
  absl::StatusOr<Graph> g = ImportOnnxFile(kNodeDir + "test_gemm_all_attributes/model.onnx");
  ASSERT_TRUE(g.ok()) << g.status();
  const Node& n = g->nodes[0];
  EXPECT_EQ(*n.GetFloat("alpha"), 0.25f);
  EXPECT_EQ(*n.GetFloat("beta"), 0.35f);
  EXPECT_EQ(*n.GetInt("transA"), 1);
  EXPECT_EQ(*n.GetInt("transB"), 1);
  absl::StatusOr<Graph> s = ImportOnnxFile(kNodeDir + "test_softmax_axis_0/model.onnx");
  ASSERT_TRUE(s.ok()) << s.status();
  EXPECT_EQ(*s->nodes[0].GetInt("axis"), 0);
  EXPECT_EQ(*s->nodes[0].GetInt("axis", 7), 0);
}

TEST(OnnxFrontendTest, ConstantNodeIsFoldedIntoAConstantValue) {
  absl::StatusOr<Graph> g = ImportOnnxFile(kNodeDir + "test_constant/model.onnx");
  ASSERT_TRUE(g.ok()) << g.status();
  EXPECT_TRUE(g->nodes.empty());
  EXPECT_TRUE(g->inputs.empty());
  EXPECT_THAT(g->outputs, ElementsAre("values"));
  const Value* v = g->FindValue("values");
  ASSERT_NE(v, nullptr);
  ASSERT_TRUE(v->constant.has_value());
  EXPECT_EQ(v->constant->shape(), Shape({5, 5}));
  // float_data in the model: first 1.76405239, last 2.26975465 (numpy seed-0 randn).
  EXPECT_FLOAT_EQ(v->constant->as<float>()[0], 1.76405239f);
  EXPECT_FLOAT_EQ(v->constant->as<float>()[24], 2.26975465f);
}

TEST(OnnxFrontendTest, ReadsTestDataTensors) {
  absl::StatusOr<Tensor> a = ReadTensorProtoFile(kNodeDir + "test_matmul_2d/test_data_set_0/input_0.pb");
  ASSERT_TRUE(a.ok()) << a.status();
  EXPECT_EQ(a->dtype(), DataType::kFloat32);
  EXPECT_EQ(a->shape(), Shape({3, 4}));
  // raw_data bytes 78 cc e1 3f and a2 25 ba 3f, decoded by hand as little-endian IEEE floats.
  EXPECT_FLOAT_EQ(a->as<float>()[0], 1.7640524f);
  EXPECT_FLOAT_EQ(a->as<float>()[11], 1.4542735f);

  absl::StatusOr<Tensor> shape = ReadTensorProtoFile(kNodeDir + "test_reshape_negative_dim/test_data_set_0/input_1.pb");
  ASSERT_TRUE(shape.ok()) << shape.status();
  EXPECT_EQ(shape->dtype(), DataType::kInt64);
  ASSERT_EQ(shape->shape(), Shape({3}));
  EXPECT_EQ(shape->as<int64_t>()[0], 2);
  EXPECT_EQ(shape->as<int64_t>()[1], -1);
  EXPECT_EQ(shape->as<int64_t>()[2], 2);

  // ArgMax example: input [[2, 1], [3, 10]], output int64 [[0], [1]].
  absl::StatusOr<Tensor> out = ReadTensorProtoFile(kNodeDir + "test_argmax_keepdims_example/test_data_set_0/output_0.pb");
  ASSERT_TRUE(out.ok()) << out.status();
  EXPECT_EQ(out->shape(), Shape({2, 1}));
  EXPECT_EQ(out->as<int64_t>()[1], 1);
}

TEST(OnnxFrontendTest, TensorProtoFileRoundTrips) {
  const std::string path = ::testing::TempDir() + "/tpusim_roundtrip.pb";
  Tensor t = Tensor::FromFloats({2, 2}, {1.5f, -2.0f, 0.0f, 3.25f});
  ASSERT_TRUE(WriteTensorProtoFile(t, "probs", path).ok());
  onnx::TensorProto proto;
  ASSERT_TRUE(proto.ParseFromString(ReadBytes(path)));
  EXPECT_EQ(proto.name(), "probs");
  EXPECT_EQ(proto.data_type(), onnx::TensorProto::FLOAT);
  EXPECT_THAT(proto.dims(), ElementsAre(2, 2));
  EXPECT_EQ(proto.raw_data().size(), 16u);
  absl::StatusOr<Tensor> back = ReadTensorProtoFile(path);
  ASSERT_TRUE(back.ok()) << back.status();
  EXPECT_EQ(back->shape(), Shape({2, 2}));
  EXPECT_EQ(back->as<float>()[3], 3.25f);
}

TEST(OnnxFrontendTest, TensorProtoTypedFieldsAndErrors) {
  onnx::TensorProto p;
  p.set_name("t");
  p.set_data_type(onnx::TensorProto::INT32);
  p.add_dims(3);
  for (int v : {4, -5, 6}) p.add_int32_data(v);
  absl::StatusOr<Tensor> t = ParseTensorProto(p.SerializeAsString());
  ASSERT_TRUE(t.ok()) << t.status();
  EXPECT_EQ(t->as<int32_t>()[1], -5);

  p.add_int32_data(7);  // 4 values for 3 elements
  EXPECT_THAT(std::string(ParseTensorProto(p.SerializeAsString()).status().message()), HasSubstr("tensor 't'"));

  onnx::TensorProto d;
  d.set_name("dbl");
  d.set_data_type(onnx::TensorProto::DOUBLE);
  d.add_double_data(1.0);
  d.add_dims(1);
  absl::Status s = ParseTensorProto(d.SerializeAsString()).status();
  EXPECT_EQ(s.code(), absl::StatusCode::kInvalidArgument);
  EXPECT_THAT(std::string(s.message()), HasSubstr("DOUBLE"));

  onnx::TensorProto e;
  e.set_name("ext");
  e.set_data_type(onnx::TensorProto::FLOAT);
  e.set_data_location(onnx::TensorProto::EXTERNAL);
  EXPECT_THAT(std::string(ParseTensorProto(e.SerializeAsString()).status().message()), HasSubstr("external"));

  EXPECT_EQ(ParseTensorProto("\xff\xff garbage").status().code(), absl::StatusCode::kInvalidArgument);
}

TEST(OnnxFrontendTest, MissingFilesAreNotFound) {
  EXPECT_EQ(ImportOnnxFile("/nonexistent/model.onnx").status().code(), absl::StatusCode::kNotFound);
  EXPECT_EQ(ReadTensorProtoFile("/nonexistent/input_0.pb").status().code(), absl::StatusCode::kNotFound);
}

TEST(OnnxFrontendTest, GarbageIsNotAModel) {
  absl::StatusOr<Graph> g = ImportOnnxModel("garbage");
  EXPECT_EQ(g.status().code(), absl::StatusCode::kInvalidArgument);
  EXPECT_EQ(g.status().message(), "malformed ONNX model: not a valid ModelProto");
}

TEST(OnnxFrontendTest, TruncatedModelsAreErrorsNotCrashes) {
  for (const char* test : {"test_matmul_2d", "test_constant", "test_gemm_all_attributes"}) {
    SCOPED_TRACE(test);
    const std::string bytes = ReadBytes(kNodeDir + test + "/model.onnx");
    ASSERT_GT(bytes.size(), 10u);
    absl::StatusOr<Graph> g = ImportOnnxModel(std::string_view(bytes).substr(0, bytes.size() / 2));
    EXPECT_FALSE(g.ok());
    EXPECT_EQ(g.status().code(), absl::StatusCode::kInvalidArgument);
  }
}

}  // namespace
}  // namespace tpusim::compiler
