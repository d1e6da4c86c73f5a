// ONNX frontend rules on hand-built ModelProtos: references, duplicates, domains, opsets, initializers,
// Constant attributes, data types and symbolic dims.
#include <gmock/gmock.h>
#include <gtest/gtest.h>
#include <onnx/onnx_pb.h>

#include "tpusim/compiler_backend/onnx_frontend.h"

namespace tpusim::compiler {
namespace {

using ::testing::ElementsAre;
using ::testing::HasSubstr;

void SetTensorType(onnx::ValueInfoProto* v, const std::string& name, int elem_type, std::vector<int64_t> dims) {
  v->set_name(name);
  auto* tt = v->mutable_type()->mutable_tensor_type();
  tt->set_elem_type(elem_type);
  auto* shape = tt->mutable_shape();
  for (int64_t d : dims) shape->add_dim()->set_dim_value(d);
}

onnx::NodeProto* AddNode(onnx::GraphProto* g, const std::string& op, std::vector<std::string> inputs,
                         std::vector<std::string> outputs, const std::string& name = "") {
  onnx::NodeProto* n = g->add_node();
  n->set_op_type(op);
  n->set_name(name);
  for (const auto& i : inputs) n->add_input(i);
  for (const auto& o : outputs) n->add_output(o);
  return n;
}

// x[2,3] -> Relu -> y
onnx::ModelProto ReluModel(int opset = 13) {
  onnx::ModelProto m;
  m.set_ir_version(7);
  auto* op = m.add_opset_import();
  op->set_domain("");
  op->set_version(opset);
  onnx::GraphProto* g = m.mutable_graph();
  SetTensorType(g->add_input(), "x", onnx::TensorProto::FLOAT, {2, 3});
  AddNode(g, "Relu", {"x"}, {"y"}, "relu");
  SetTensorType(g->add_output(), "y", onnx::TensorProto::FLOAT, {2, 3});
  return m;
}

absl::StatusOr<Graph> Import(const onnx::ModelProto& m) { return ImportOnnxModel(m.SerializeAsString()); }

TEST(OnnxImportRulesTest, ModelWithoutGraphIsRejected) {
  onnx::ModelProto m;
  m.set_ir_version(7);
  EXPECT_THAT(std::string(Import(m).status().message()), HasSubstr("no graph"));
}

TEST(OnnxImportRulesTest, UnknownValueReferenceIsNamed) {
  onnx::ModelProto m = ReluModel();
  AddNode(m.mutable_graph(), "Add", {"y", "ghost"}, {"z"}, "add");
  absl::Status s = Import(m).status();
  EXPECT_EQ(s.code(), absl::StatusCode::kInvalidArgument);
  EXPECT_THAT(std::string(s.message()), HasSubstr("node 'add' (Add): input 'ghost'"));
}

TEST(OnnxImportRulesTest, DuplicateOutputNameIsRejected) {
  onnx::ModelProto m = ReluModel();
  AddNode(m.mutable_graph(), "Sigmoid", {"x"}, {"y"}, "sig");
  absl::Status s = Import(m).status();
  EXPECT_EQ(s.code(), absl::StatusCode::kInvalidArgument);
  EXPECT_THAT(std::string(s.message()), HasSubstr("output 'y' is already produced by node 'relu'"));
}

TEST(OnnxImportRulesTest, GraphOutputMustBeProduced) {
  onnx::ModelProto m = ReluModel();
  SetTensorType(m.mutable_graph()->add_output(), "nowhere", onnx::TensorProto::FLOAT, {1});
  EXPECT_THAT(std::string(Import(m).status().message()), HasSubstr("graph output 'nowhere'"));
}

TEST(OnnxImportRulesTest, OpsetGoesIntoEveryNodeAndOtherDomainsArePrefixed) {
  onnx::ModelProto m = ReluModel(11);
  auto* ms = m.add_opset_import();
  ms->set_domain("com.microsoft");
  ms->set_version(1);
  m.mutable_opset_import(0)->set_domain("ai.onnx");
  onnx::NodeProto* n = AddNode(m.mutable_graph(), "FusedGemm", {"y"}, {"z"});
  n->set_domain("com.microsoft");
  absl::StatusOr<Graph> g = Import(m);
  ASSERT_TRUE(g.ok()) << g.status();
  ASSERT_EQ(g->nodes.size(), 2u);
  EXPECT_EQ(g->nodes[0].opset, 11);
  EXPECT_EQ(g->nodes[1].op_type, "com.microsoft.FusedGemm");
  EXPECT_EQ(g->nodes[1].name, "com.microsoft.FusedGemm");
}

TEST(OnnxImportRulesTest, InitializersAreConstantsEvenWhenListedAsInputs) {
  onnx::ModelProto m = ReluModel();
  onnx::GraphProto* g = m.mutable_graph();
  onnx::TensorProto* w = g->add_initializer();
  w->set_name("w");
  w->set_data_type(onnx::TensorProto::FLOAT);
  w->add_dims(3);
  for (float v : {1.0f, 2.0f, 3.0f}) w->add_float_data(v);
  SetTensorType(g->add_input(), "w", onnx::TensorProto::FLOAT, {3});
  AddNode(g, "Add", {"y", "w"}, {"z"});
  absl::StatusOr<Graph> graph = Import(m);
  ASSERT_TRUE(graph.ok()) << graph.status();
  EXPECT_THAT(graph->inputs, ElementsAre("x"));
  const Value* v = graph->FindValue("w");
  ASSERT_TRUE(v->constant.has_value());
  EXPECT_EQ(v->shape, Shape({3}));
  EXPECT_EQ(v->constant->as<float>()[2], 3.0f);
}

TEST(OnnxImportRulesTest, ConstantAttributeFormsAreFolded) {
  onnx::ModelProto m = ReluModel();
  onnx::GraphProto* g = m.mutable_graph();
  auto add_const = [&](const std::string& out, auto fill) {
    onnx::NodeProto* n = AddNode(g, "Constant", {}, {out});
    fill(n->add_attribute());
  };
  add_const("f", [](onnx::AttributeProto* a) {
    a->set_name("value_float");
    a->set_type(onnx::AttributeProto::FLOAT);
    a->set_f(0.5f);
  });
  add_const("fs", [](onnx::AttributeProto* a) {
    a->set_name("value_floats");
    a->set_type(onnx::AttributeProto::FLOATS);
    a->add_floats(1.0f);
    a->add_floats(2.0f);
  });
  add_const("i", [](onnx::AttributeProto* a) {
    a->set_name("value_int");
    a->set_type(onnx::AttributeProto::INT);
    a->set_i(-4);
  });
  add_const("is", [](onnx::AttributeProto* a) {
    a->set_name("value_ints");
    a->set_type(onnx::AttributeProto::INTS);
    for (int v : {3, -1}) a->add_ints(v);
  });
  absl::StatusOr<Graph> graph = Import(m);
  ASSERT_TRUE(graph.ok()) << graph.status();
  EXPECT_EQ(graph->nodes.size(), 1u);  // only the Relu remains
  EXPECT_EQ(graph->FindValue("f")->constant->shape(), Shape{});
  EXPECT_EQ(graph->FindValue("f")->constant->as<float>()[0], 0.5f);
  EXPECT_EQ(graph->FindValue("fs")->constant->shape(), Shape({2}));
  EXPECT_EQ(graph->FindValue("i")->constant->dtype(), DataType::kInt64);
  EXPECT_EQ(graph->FindValue("i")->constant->as<int64_t>()[0], -4);
  EXPECT_EQ(graph->FindValue("is")->constant->as<int64_t>()[1], -1);
}

TEST(OnnxImportRulesTest, ConstantWithoutAValueIsRejected) {
  onnx::ModelProto m = ReluModel();
  AddNode(m.mutable_graph(), "Constant", {}, {"c"}, "empty_const");
  EXPECT_THAT(std::string(Import(m).status().message()), HasSubstr("node 'empty_const' (Constant)"));
}

TEST(OnnxImportRulesTest, UnsupportedDataTypeNamesTheTensor) {
  onnx::ModelProto m = ReluModel();
  m.mutable_graph()->mutable_input(0)->mutable_type()->mutable_tensor_type()->set_elem_type(
      onnx::TensorProto::DOUBLE);
  absl::Status s = Import(m).status();
  EXPECT_EQ(s.code(), absl::StatusCode::kInvalidArgument);
  EXPECT_THAT(std::string(s.message()), HasSubstr("graph input 'x'"));
  EXPECT_THAT(std::string(s.message()), HasSubstr("DOUBLE"));
}

TEST(OnnxImportRulesTest, SupportedDataTypesAreMapped) {
  const std::vector<std::pair<int, DataType>> types = {
      {onnx::TensorProto::FLOAT, DataType::kFloat32}, {onnx::TensorProto::INT8, DataType::kInt8},
      {onnx::TensorProto::INT32, DataType::kInt32},   {onnx::TensorProto::INT64, DataType::kInt64},
      {onnx::TensorProto::BOOL, DataType::kBool}};
  for (const auto& [onnx_type, dtype] : types) {
    onnx::ModelProto m = ReluModel();
    m.mutable_graph()->mutable_input(0)->mutable_type()->mutable_tensor_type()->set_elem_type(onnx_type);
    absl::StatusOr<Graph> g = Import(m);
    ASSERT_TRUE(g.ok()) << g.status();
    EXPECT_EQ(g->FindValue("x")->dtype, dtype);
  }
}

TEST(OnnxImportRulesTest, SymbolicDimLeavesShapeUnknown) {
  onnx::ModelProto m = ReluModel();
  auto* shape = m.mutable_graph()->mutable_input(0)->mutable_type()->mutable_tensor_type()->mutable_shape();
  shape->mutable_dim(0)->set_dim_param("batch");
  absl::StatusOr<Graph> g = Import(m);
  ASSERT_TRUE(g.ok()) << g.status();
  EXPECT_FALSE(g->FindValue("x")->shape.has_value());
}

TEST(OnnxImportRulesTest, AttributeKindsAreConverted) {
  onnx::ModelProto m = ReluModel();
  onnx::NodeProto* n = m.mutable_graph()->mutable_node(0);
  onnx::AttributeProto* s = n->add_attribute();
  s->set_name("mode");
  s->set_type(onnx::AttributeProto::STRING);
  s->set_s("fast");
  onnx::AttributeProto* fs = n->add_attribute();
  fs->set_name("scales");
  fs->set_type(onnx::AttributeProto::FLOATS);
  fs->add_floats(0.5f);
  onnx::AttributeProto* untyped = n->add_attribute();  // old exporters leave the type UNDEFINED
  untyped->set_name("old");
  untyped->set_i(9);
  absl::StatusOr<Graph> g = Import(m);
  ASSERT_TRUE(g.ok()) << g.status();
  const Node& node = g->nodes[0];
  EXPECT_EQ(std::get<std::string>(node.attrs.at("mode")), "fast");
  EXPECT_EQ(std::get<std::vector<float>>(node.attrs.at("scales")), std::vector<float>({0.5f}));
  EXPECT_EQ(*node.GetInt("old"), 9);
}

}  // namespace
}  // namespace tpusim::compiler
