// Shape inference reproduces the output shapes declared by the ONNX node-test models (libonnx-testdata).
#include <algorithm>

#include <gtest/gtest.h>

#include "tpusim/compiler_backend/compiler.h"
#include "tpusim/compiler_backend/onnx_frontend.h"

namespace tpusim::compiler {
namespace {

const std::string kNodeDir = "/usr/share/libonnx-testdata/data/node/";

TEST(ShapeInferenceOnnxTest, MatchesDeclaredOutputShapes) {
  // Tests whose second input is data-dependent (a shape or axes tensor) get it folded into a constant
  // from test_data_set_0, the way the runtime folds fed values before compiling.
  const std::vector<std::pair<std::string, bool>> tests = {
      {"test_matmul_2d", false},           {"test_matmul_3d", false},
      {"test_matmul_4d", false},           {"test_gemm_all_attributes", false},
      {"test_gemm_default_scalar_bias", false}, {"test_gemm_default_vector_bias", false},
      {"test_gemm_transposeA", false},     {"test_add_bcast", false},
      {"test_div_bcast", false},           {"test_softmax_axis_0", false},
      {"test_softmax_negative_axis", false}, {"test_flatten_axis0", false},
      {"test_flatten_axis3", false},       {"test_flatten_negative_axis1", false},
      {"test_flatten_negative_axis4", false}, {"test_flatten_default_axis", false},
      {"test_reshape_negative_dim", true}, {"test_reshape_zero_dim", true},
      {"test_reshape_zero_and_negative_dim", true}, {"test_reshape_allowzero_reordered", true},
      {"test_reshape_reordered_all_dims", true}, {"test_reshape_one_dim", true},
      {"test_identity", false},            {"test_exp", false},
      {"test_argmax_keepdims_example", false}, {"test_argmax_no_keepdims_example", false},
      {"test_transpose_default", false},   {"test_transpose_all_permutations_3", false},
      {"test_reduce_mean_keepdims_example", false}, {"test_reduce_mean_do_not_keepdims_example", false},
      {"test_reduce_sum_keepdims_example", true}, {"test_concat_3d_axis_negative_2", false},
  };
  for (const auto& [test, fold_second_input] : tests) {
    SCOPED_TRACE(test);
    absl::StatusOr<Graph> g = ImportOnnxFile(kNodeDir + test + "/model.onnx");
    ASSERT_TRUE(g.ok()) << g.status();
    ASSERT_EQ(g->outputs.size(), 1u);
    Value& out = g->values[g->outputs[0]];
    ASSERT_TRUE(out.shape.has_value());
    const Shape declared = *out.shape;
    const DataType declared_type = out.dtype;
    out.shape.reset();
    out.dtype = DataType::kBool;
    if (fold_second_input) {
      const std::string name = g->nodes[0].inputs[1];
      absl::StatusOr<Tensor> t = ReadTensorProtoFile(kNodeDir + test + "/test_data_set_0/input_1.pb");
      ASSERT_TRUE(t.ok()) << t.status();
      g->values[name].constant = *t;
      g->inputs.erase(std::find(g->inputs.begin(), g->inputs.end(), name));
    }
    absl::Status s = InferShapes(*g);
    ASSERT_TRUE(s.ok()) << s;
    EXPECT_EQ(*out.shape, declared);
    EXPECT_EQ(out.dtype, declared_type);
  }
}

}  // namespace
}  // namespace tpusim::compiler
