// AppendGradients (autodiff.h): the structure of gradient graphs — valid, shaped like the parameters,
// made only of ops the TPU accepts — and its errors. The numbers (finite differences, TPU vs CPU,
// training) are checked in tests/runtime/training_test.cc, where graphs can run.
#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include <algorithm>

#include "../runtime/training_test_util.h"  // the models (test-only code over the IR, no runtime)
#include "tpusim/compiler_backend/autodiff.h"
#include "tpusim/compiler_backend/compiler.h"

namespace tpusim::compiler {
namespace {

using ::testing::HasSubstr;
using runtime::testing::CnnModel;
using runtime::testing::MlpModel;
using runtime::testing::ModelBuilder;

// Every node the pass added (after `first`) is accepted by CheckTpuSupport.
void ExpectAllOnTpu(const Graph& g, size_t first) {
  for (size_t i = first; i < g.nodes.size(); ++i) {
    absl::Status s = CheckTpuSupport(g.nodes[i], g);
    EXPECT_TRUE(s.ok()) << g.nodes[i].name << ": " << s;
  }
}

void ExpectGradientShapes(const Graph& g, const GradientResult& r, const std::vector<std::string>& params) {
  ASSERT_EQ(r.gradients.size(), params.size());
  for (const std::string& p : params) {
    const Value* grad = g.FindValue(r.gradients.at(p));
    ASSERT_NE(grad, nullptr) << p;
    ASSERT_TRUE(grad->shape.has_value()) << p;
    EXPECT_EQ(*grad->shape, *g.FindValue(p)->shape) << p;
    EXPECT_NE(std::find(g.outputs.begin(), g.outputs.end(), r.gradients.at(p)), g.outputs.end()) << p;
  }
}

TEST(AutodiffTest, MlpGradientGraphIsValidAndEveryGradientOpRunsOnTheTpu) {
  Graph g = MlpModel(1);
  const size_t forward = g.nodes.size();
  const std::string loss = g.outputs[0];
  const std::vector<std::string> params = {"w1", "b1", "w2", "b2"};
  absl::StatusOr<GradientResult> r = AppendGradients(g, loss, params);
  ASSERT_TRUE(r.ok()) << r.status();
  EXPECT_TRUE(g.Validate().ok());
  EXPECT_EQ(r->nodes_added, static_cast<int>(g.nodes.size() - forward));
  ExpectGradientShapes(g, *r, params);
  ExpectAllOnTpu(g, forward);
}

TEST(AutodiffTest, CnnGradientGraphsAreValidAndEveryGradientOpRunsOnTheTpu) {
  for (bool overlap : {false, true}) {
    SCOPED_TRACE(overlap ? "overlapping padded pool" : "strided conv");
    Graph g = CnnModel(2, overlap);
    const size_t forward = g.nodes.size();
    const std::vector<std::string> params = {"wc", "bc", "wf", "bf"};
    absl::StatusOr<GradientResult> r = AppendGradients(g, g.outputs[0], params);
    ASSERT_TRUE(r.ok()) << r.status();
    EXPECT_TRUE(g.Validate().ok());
    ExpectGradientShapes(g, *r, params);
    ExpectAllOnTpu(g, forward);
  }
}

TEST(AutodiffTest, LogOfSoftmaxIsDifferentiatedWithoutDividingByProbabilities) {
  Graph g = MlpModel(1);
  const size_t forward = g.nodes.size();
  ASSERT_TRUE(AppendGradients(g, g.outputs[0], {"w2"}).ok());
  for (size_t i = forward; i < g.nodes.size(); ++i) EXPECT_NE(g.nodes[i].op_type, "Div") << g.nodes[i].name;
}

TEST(AutodiffTest, PlainLogDividesByItsInput) {
  ModelBuilder b;
  const std::string w = b.Const("w", Tensor::FromFloats({2}, {1.0f, 2.0f}));
  const std::string loss = b.Op("ReduceSum", {b.Op("Log", {w})}, {{"keepdims", int64_t{0}}});
  Graph g = b.graph();
  ASSERT_TRUE(AppendGradients(g, loss, {"w"}).ok());
  EXPECT_TRUE(std::any_of(g.nodes.begin(), g.nodes.end(), [](const Node& n) { return n.op_type == "Div"; }));
}

TEST(AutodiffTest, ParameterTheLossDoesNotReadGetsAZeroGradient) {
  ModelBuilder b;
  const std::string w = b.Const("w", Tensor::FromFloats({2}, {1.0f, 2.0f}));
  b.Const("unused", Tensor::FromFloats({3}, {1.0f, 2.0f, 3.0f}));
  const std::string loss = b.Op("ReduceSum", {b.Op("Relu", {w})}, {{"keepdims", int64_t{0}}});
  Graph g = b.graph();
  absl::StatusOr<GradientResult> r = AppendGradients(g, loss, {"unused"});
  ASSERT_TRUE(r.ok()) << r.status();
  const Value* grad = g.FindValue(r->gradients.at("unused"));
  ASSERT_TRUE(grad != nullptr && grad->constant.has_value());
  for (int i = 0; i < 3; ++i) EXPECT_EQ(grad->constant->as<float>()[i], 0.0f);
}

TEST(AutodiffTest, OpWithoutARuleOnThePathIsUnimplementedAndLeavesTheGraphAlone) {
  ModelBuilder b;
  const std::string w = b.Const("w", Tensor::FromFloats({2}, {1.0f, 2.0f}));
  const std::string s = b.Op("Sigmoid", {w});
  const std::string loss = b.Op("ReduceSum", {s}, {{"keepdims", int64_t{0}}});
  Graph g = b.graph();
  const size_t nodes = g.nodes.size();
  absl::StatusOr<GradientResult> r = AppendGradients(g, loss, {"w"});
  ASSERT_FALSE(r.ok());
  EXPECT_EQ(r.status().code(), absl::StatusCode::kUnimplemented);
  EXPECT_THAT(std::string(r.status().message()), HasSubstr("Sigmoid (node '" + s + "')"));
  EXPECT_EQ(g.nodes.size(), nodes);
  EXPECT_EQ(g.outputs.size(), 0u);
}

TEST(AutodiffTest, BadLossOrParameterIsInvalidArgument) {
  Graph g = MlpModel(1);
  const std::string loss = g.outputs[0];
  EXPECT_EQ(AppendGradients(g, "nope", {"w1"}).status().code(), absl::StatusCode::kInvalidArgument);
  EXPECT_EQ(AppendGradients(g, loss, {"nope"}).status().code(), absl::StatusCode::kInvalidArgument);
  // A node output is not a parameter; a [4,5] value is not a scalar loss.
  const std::string hidden = g.nodes[0].outputs[0];
  EXPECT_EQ(AppendGradients(g, loss, {hidden}).status().code(), absl::StatusCode::kInvalidArgument);
  EXPECT_EQ(AppendGradients(g, hidden, {"w1"}).status().code(), absl::StatusCode::kInvalidArgument);
}

TEST(AutodiffTest, DifferentiableOpsCoverTheMlpAndCnnOps) {
  const std::vector<std::string> ops = DifferentiableOps();
  for (const char* op : {"MatMul", "Gemm", "Add", "Sub", "Mul", "Relu", "Reshape", "Flatten", "Conv", "MaxPool",
                         "Softmax", "LogSoftmax", "Log", "ReduceSum", "ReduceMean", "Neg"}) {
    EXPECT_NE(std::find(ops.begin(), ops.end(), op), ops.end()) << op;
  }
  EXPECT_TRUE(std::is_sorted(ops.begin(), ops.end()));
}

}  // namespace
}  // namespace tpusim::compiler
