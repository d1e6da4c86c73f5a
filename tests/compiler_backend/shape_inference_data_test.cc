// Shape inference of Slice, Squeeze, Unsqueeze, Expand, Clip and Pow: shapes worked out by hand from
// the ONNX operator specs, then the shapes declared by the ONNX node-test models.
#include <algorithm>
#include <limits>

#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include "tpusim/compiler_backend/compiler.h"
#include "tpusim/compiler_backend/onnx_frontend.h"

namespace tpusim::compiler {
namespace {

using ::testing::HasSubstr;

// One node `op` reading x (float, `x_shape`) and constant int64 inputs `ints` (in order), or float
// inputs `floats` when given; output "out".
Graph MakeGraph(const std::string& op, const Shape& x_shape, const std::vector<std::vector<int64_t>>& ints,
                std::map<std::string, Attribute> attrs = {}, int opset = 13) {
  Graph g;
  Node n;
  n.name = "n";
  n.op_type = op;
  n.attrs = std::move(attrs);
  n.opset = opset;
  g.AddValue("x", DataType::kFloat32, x_shape);
  g.inputs.push_back("x");
  n.inputs.push_back("x");
  for (size_t i = 0; i < ints.size(); ++i) {
    const std::string name = "k" + std::to_string(i);
    const Shape s = {static_cast<int64_t>(ints[i].size())};
    g.AddValue(name, DataType::kInt64, s).constant = Tensor::FromInt64s(s, ints[i]);
    n.inputs.push_back(name);
  }
  n.outputs = {"out"};
  g.AddValue("out", DataType::kFloat32);
  g.outputs = {"out"};
  g.nodes.push_back(n);
  return g;
}

absl::StatusOr<Shape> Infer(Graph g) {
  absl::Status s = InferShapes(g);
  if (!s.ok()) return s;
  return *g.FindValue("out")->shape;
}

constexpr int64_t kMax = std::numeric_limits<int64_t>::max();
constexpr int64_t kMin = std::numeric_limits<int64_t>::min();

TEST(ShapeInferenceDataTest, SliceClampsAndCountsSteps) {
  const Shape x = {20, 10, 5};
  // starts, ends[, axes[, steps]]
  EXPECT_EQ(*Infer(MakeGraph("Slice", x, {{0, 0}, {3, 10}, {0, 1}, {1, 1}})), Shape({3, 10, 5}));
  EXPECT_EQ(*Infer(MakeGraph("Slice", x, {{0, 0, 3}, {20, 10, 4}})), Shape({20, 10, 1}));  // default axes
  EXPECT_EQ(*Infer(MakeGraph("Slice", x, {{1}, {1000}, {1}, {1}})), Shape({20, 9, 5}));    // end clamped
  EXPECT_EQ(*Infer(MakeGraph("Slice", x, {{1000}, {1000}, {1}, {1}})), Shape({20, 0, 5}));  // start clamped
  EXPECT_EQ(*Infer(MakeGraph("Slice", x, {{0}, {-1}, {1}, {1}})), Shape({20, 9, 5}));       // end from the back
  // Negative steps: start clamped to dim - 1, end to -1. 20 -> 19 .. 1 (19); 10 -> 9, 6, 3 (3); 4, 2 (2).
  EXPECT_EQ(*Infer(MakeGraph("Slice", x, {{20, 10, 4}, {0, 0, 1}, {0, 1, 2}, {-1, -3, -2}})), Shape({19, 3, 2}));
  EXPECT_EQ(*Infer(MakeGraph("Slice", x, {{-1}, {kMin}, {0}, {-1}})), Shape({20, 10, 5}));  // full reverse
  EXPECT_EQ(*Infer(MakeGraph("Slice", x, {{1}, {kMax}, {1}, {3}})), Shape({20, 3, 5}));     // 1, 4, 7
  EXPECT_EQ(*Infer(MakeGraph("Slice", x, {{0}, {10}, {1}, {kMax}})), Shape({20, 1, 5}));
  EXPECT_EQ(*Infer(MakeGraph("Slice", x, {{9}, {0}, {1}, {kMin}})), Shape({20, 1, 5}));
  // Opset 1: attributes, no steps.
  EXPECT_EQ(*Infer(MakeGraph("Slice", x, {}, {{"starts", std::vector<int64_t>{2}}, {"ends", std::vector<int64_t>{5}},
                                              {"axes", std::vector<int64_t>{-1}}}, 1)),
            Shape({20, 10, 3}));
  absl::StatusOr<Shape> zero_step = Infer(MakeGraph("Slice", x, {{0}, {1}, {0}, {0}}));
  EXPECT_EQ(zero_step.status().code(), absl::StatusCode::kInvalidArgument);
  EXPECT_THAT(std::string(zero_step.status().message()), HasSubstr("step 0"));
  EXPECT_FALSE(Infer(MakeGraph("Slice", x, {{0, 0}, {1, 1}, {1, -2}})).ok());  // axis 1 twice
  EXPECT_FALSE(Infer(MakeGraph("Slice", x, {{0, 0}, {1}})).ok());              // lengths differ
}

TEST(ShapeInferenceDataTest, SqueezeAndUnsqueeze) {
  EXPECT_EQ(*Infer(MakeGraph("Squeeze", {1, 3, 1, 5}, {{0}})), Shape({3, 1, 5}));
  EXPECT_EQ(*Infer(MakeGraph("Squeeze", {1, 3, 1, 5}, {{-2, 0}})), Shape({3, 5}));
  EXPECT_EQ(*Infer(MakeGraph("Squeeze", {1, 3, 1, 5}, {})), Shape({3, 5}));  // every size-1 dim
  EXPECT_EQ(*Infer(MakeGraph("Squeeze", {1, 3, 1, 5}, {}, {{"axes", std::vector<int64_t>{2}}}, 11)), Shape({1, 3, 5}));
  EXPECT_FALSE(Infer(MakeGraph("Squeeze", {1, 3, 1, 5}, {{1}})).ok());  // size 3
  // Unsqueeze: axes index the output (rank 3 + 2 here), in any order.
  EXPECT_EQ(*Infer(MakeGraph("Unsqueeze", {3, 4, 5}, {{4, 0}})), Shape({1, 3, 4, 5, 1}));
  EXPECT_EQ(*Infer(MakeGraph("Unsqueeze", {3, 4, 5}, {{-1}})), Shape({3, 4, 5, 1}));
  EXPECT_EQ(*Infer(MakeGraph("Unsqueeze", {3}, {}, {{"axes", std::vector<int64_t>{1}}}, 11)), Shape({3, 1}));
  EXPECT_FALSE(Infer(MakeGraph("Unsqueeze", {3, 4, 5}, {{1, 1}})).ok());
  EXPECT_FALSE(Infer(MakeGraph("Unsqueeze", {3, 4, 5}, {{5}})).ok());
}

TEST(ShapeInferenceDataTest, ExpandBroadcastsBothWays) {
  EXPECT_EQ(*Infer(MakeGraph("Expand", {3, 1}, {{2, 1, 6}})), Shape({2, 3, 6}));
  EXPECT_EQ(*Infer(MakeGraph("Expand", {3, 1}, {{3, 4}})), Shape({3, 4}));
  EXPECT_EQ(*Infer(MakeGraph("Expand", {3, 4}, {{1}})), Shape({3, 4}));  // the input may be the larger
  EXPECT_FALSE(Infer(MakeGraph("Expand", {3, 4}, {{2, 4}})).ok());
}

TEST(ShapeInferenceDataTest, ClipAndPow) {
  Graph clip = MakeGraph("Clip", {2, 3}, {});
  for (const char* bound : {"lo", "hi"}) {
    clip.AddValue(bound, DataType::kFloat32, Shape{}).constant = Tensor::FromFloats({}, {0.0f});
    clip.nodes[0].inputs.push_back(bound);
  }
  EXPECT_EQ(*Infer(clip), Shape({2, 3}));
  clip.values["hi"].constant = Tensor::FromFloats({2}, {0.0f, 1.0f});
  clip.values["hi"].shape = Shape{2};
  EXPECT_FALSE(Infer(clip).ok());  // max must be a scalar

  Graph pow = MakeGraph("Pow", {2, 3}, {{2}});  // int64 exponent [1]; the output takes the base's type
  EXPECT_EQ(*Infer(pow), Shape({2, 3}));
  ASSERT_TRUE(InferShapes(pow).ok());
  EXPECT_EQ(pow.FindValue("out")->dtype, DataType::kFloat32);
}

TEST(ShapeInferenceDataTest, MatchesDeclaredShapesOfOnnxNodeTests) {
  // Every int64 graph input (starts, axes, shape, ...) is folded into a constant from test_data_set_0,
  // as the runtime does with compile-time inputs.
  const std::string dir = "/usr/share/libonnx-testdata/data/node/";
  for (const char* test : {"test_slice", "test_slice_neg_steps", "test_slice_default_axes", "test_slice_default_steps",
                           "test_slice_start_out_of_bounds", "test_squeeze", "test_squeeze_negative_axes",
                           "test_unsqueeze_unsorted_axes", "test_unsqueeze_three_axes", "test_expand_dim_changed",
                           "test_expand_dim_unchanged", "test_clip", "test_clip_default_min", "test_pow",
                           "test_pow_bcast_array"}) {
    SCOPED_TRACE(test);
    absl::StatusOr<Graph> g = ImportOnnxFile(dir + test + "/model.onnx");
    ASSERT_TRUE(g.ok()) << g.status();
    Value& out = g->values[g->outputs[0]];
    const Shape declared = *out.shape;
    out.shape.reset();
    for (size_t i = g->inputs.size(); i-- > 0;) {
      const std::string name = g->inputs[i];
      if (g->values[name].dtype != DataType::kInt64) continue;
      absl::StatusOr<Tensor> t = ReadTensorProtoFile(dir + test + "/test_data_set_0/input_" + std::to_string(i) + ".pb");
      ASSERT_TRUE(t.ok()) << t.status();
      g->values[name].constant = *t;
      g->inputs.erase(g->inputs.begin() + static_cast<std::ptrdiff_t>(i));
    }
    absl::Status s = InferShapes(*g);
    ASSERT_TRUE(s.ok()) << s;
    EXPECT_EQ(*out.shape, declared);
  }
}

}  // namespace
}  // namespace tpusim::compiler
