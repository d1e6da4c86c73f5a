// Codegen of the data-movement ops (Transpose, Concat, Slice, Expand, Squeeze, Unsqueeze) on the
// functional engine (`tiny`: 8-lane UB rows, 512 rows), compared with index arithmetic written here.
// They only move fp32 words, so every output must equal the input element it names, bit for bit.
#include <algorithm>
#include <numeric>
#include <string>
#include <vector>

#include "codegen_test_util.h"
#include "gtest/gtest.h"

namespace tpusim::compiler::testing {
namespace {

// Row-major multi-index of `flat` in `shape`.
std::vector<int64_t> Unflatten(int64_t flat, const Shape& shape) {
  std::vector<int64_t> idx(shape.size());
  for (size_t d = shape.size(); d-- > 0;) {
    idx[d] = flat % shape[d];
    flat /= shape[d];
  }
  return idx;
}

int64_t Flatten(const std::vector<int64_t>& idx, const Shape& shape) {
  int64_t flat = 0;
  for (size_t d = 0; d < shape.size(); ++d) flat = flat * shape[d] + idx[d];
  return flat;
}

// Element i (int-valued, so the comparison is exact) of a deterministic test tensor.
std::vector<float> Iota(int64_t n) {
  std::vector<float> v(static_cast<size_t>(n));
  std::iota(v.begin(), v.end(), 0.0f);
  return v;
}

TEST(CodegenTranspose, EveryPermutationOfA4DTensor) {
  const Shape x_shape = {2, 3, 4, 5};
  const std::vector<float> x = Iota(120);
  std::vector<int64_t> perm = {0, 1, 2, 3};
  do {
    Shape y_shape;
    for (int64_t p : perm) y_shape.push_back(x_shape[p]);
    GraphBuilder gb;
    gb.Input("x", x_shape);
    gb.Op("Transpose", {"x"}, "y", y_shape, {{"perm", perm}});
    gb.Output("y");
    RunResult r = CompileAndRun(gb.graph(), {x});
    ASSERT_EQ(r.outputs.size(), 1u);
    for (int64_t i = 0; i < 120; ++i) {
      const std::vector<int64_t> yi = Unflatten(i, y_shape);
      std::vector<int64_t> xi(4);
      for (size_t d = 0; d < 4; ++d) xi[perm[d]] = yi[d];
      ASSERT_EQ(r.outputs[0][i], x[Flatten(xi, x_shape)]) << "perm " << ShapeToString(perm) << " element " << i;
    }
  } while (std::next_permutation(perm.begin(), perm.end()));
}

TEST(CodegenTranspose, LargerThanTheUbAndDefaultPerm) {
  // [70, 130] -> [130, 70]: 9100 elements, more than the 4096 the UB holds; perm defaults to reversed.
  const std::vector<float> x = Iota(9100);
  GraphBuilder gb;
  gb.Input("x", {70, 130});
  gb.Op("Transpose", {"x"}, "y", {130, 70});
  gb.Output("y");
  RunResult r = CompileAndRun(gb.graph(), {x});
  ASSERT_EQ(r.outputs.size(), 1u);
  for (int64_t i = 0; i < 130; ++i) {
    for (int64_t j = 0; j < 70; ++j) ASSERT_EQ(r.outputs[0][i * 70 + j], x[j * 130 + i]) << i << "," << j;
  }
}

TEST(CodegenConcat, EachAxisWithAConstantInput) {
  const Shape a = {2, 3, 4};
  for (int64_t axis : {0, 1, 2, -1}) {
    const int64_t ax = axis < 0 ? axis + 3 : axis;
    Shape b = a, c = a, y = a;
    b[ax] = 1;
    c[ax] = 5;
    y[ax] = a[ax] + 1 + 5;
    const std::vector<float> xa = Iota(24), xb = RandomFloats(NumElements(b), 3), xc = RandomFloats(NumElements(c), 4);
    GraphBuilder gb;
    gb.Input("a", a);
    gb.Constant("b", b, xb);
    gb.Input("c", c);
    gb.Op("Concat", {"a", "b", "c"}, "y", y, {{"axis", axis}});
    gb.Output("y");
    RunResult r = CompileAndRun(gb.graph(), {xa, xc});
    ASSERT_EQ(r.outputs.size(), 1u);
    for (int64_t i = 0; i < NumElements(y); ++i) {
      std::vector<int64_t> idx = Unflatten(i, y);
      float want;
      if (idx[ax] < a[ax]) {
        want = xa[Flatten(idx, a)];
      } else if (idx[ax] < a[ax] + 1) {
        idx[ax] -= a[ax];
        want = xb[Flatten(idx, b)];
      } else {
        idx[ax] -= a[ax] + 1;
        want = xc[Flatten(idx, c)];
      }
      ASSERT_EQ(r.outputs[0][i], want) << "axis " << axis << " element " << i;
    }
  }
}

struct SliceCase {
  std::vector<int64_t> starts, ends, axes, steps;
  Shape y;
};

TEST(CodegenSlice, ClampedBoundsAndPositiveAndNegativeSteps) {
  const Shape x_shape = {20, 10, 5};
  const std::vector<float> x = Iota(1000);
  const int64_t big = std::numeric_limits<int64_t>::max();
  const std::vector<SliceCase> cases = {
      {{0, 0}, {3, 10}, {0, 1}, {1, 1}, {3, 10, 5}},             // ONNX test_slice
      {{1}, {big}, {1}, {3}, {20, 3, 5}},                        // end clamped, step 3: rows 1, 4, 7
      {{20, 10, 4}, {0, 0, 1}, {0, 1, 2}, {-1, -3, -2}, {19, 3, 2}},  // test_slice_neg_steps
      {{-1}, {-big}, {-1}, {-1}, {20, 10, 5}},                   // reversed last axis
      {{2, 1}, {18, 9}, {-3, -2}, {4, 2}, {4, 4, 5}},            // negative axes
      {{1000}, {1000}, {1}, {1}, {20, 0, 5}},                    // empty
  };
  for (const SliceCase& c : cases) {
    GraphBuilder gb;
    gb.Input("x", x_shape);
    auto ints = [&](const std::string& name, const std::vector<int64_t>& v) {
      Value& value = gb.graph().AddValue(name, DataType::kInt64, Shape{static_cast<int64_t>(v.size())});
      value.constant = Tensor::FromInt64s({static_cast<int64_t>(v.size())}, v);
      return name;
    };
    gb.Op("Slice", {"x", ints("s", c.starts), ints("e", c.ends), ints("a", c.axes), ints("t", c.steps)}, "y", c.y);
    gb.Output("y");
    RunResult r = CompileAndRun(gb.graph(), {x});
    ASSERT_EQ(r.outputs.size(), 1u);
    ASSERT_EQ(r.outputs[0].size(), static_cast<size_t>(NumElements(c.y)));
    // Reference: per dim, the first index and the step after ONNX's clamping, worked out by hand.
    std::vector<int64_t> first = {0, 0, 0}, step = {1, 1, 1};
    for (size_t k = 0; k < c.axes.size(); ++k) {
      const int64_t d = c.axes[k] < 0 ? c.axes[k] + 3 : c.axes[k];
      int64_t s = c.starts[k] < 0 ? c.starts[k] + x_shape[d] : c.starts[k];
      s = c.steps[k] > 0 ? std::clamp<int64_t>(s, 0, x_shape[d]) : std::clamp<int64_t>(s, 0, x_shape[d] - 1);
      first[d] = s;
      step[d] = c.steps[k];
    }
    for (int64_t i = 0; i < NumElements(c.y); ++i) {
      std::vector<int64_t> idx = Unflatten(i, c.y);
      for (size_t d = 0; d < 3; ++d) idx[d] = first[d] + idx[d] * step[d];
      ASSERT_EQ(r.outputs[0][i], x[Flatten(idx, x_shape)]) << ShapeToString(c.starts) << " element " << i;
    }
  }
}

TEST(CodegenExpand, BroadcastsSizeOneAndMissingDims) {
  // [3, 1] expanded with shape [2, 1, 6] -> [2, 3, 6] (ONNX test_expand_dim_changed).
  const std::vector<float> x = {1.0f, 2.0f, 3.0f};
  GraphBuilder gb;
  gb.Input("x", {3, 1});
  Value& shape = gb.graph().AddValue("shape", DataType::kInt64, Shape{3});
  shape.constant = Tensor::FromInt64s({3}, {2, 1, 6});
  gb.Op("Expand", {"x", "shape"}, "y", {2, 3, 6});
  gb.Output("y");
  RunResult r = CompileAndRun(gb.graph(), {x});
  ASSERT_EQ(r.outputs.size(), 1u);
  for (int64_t i = 0; i < 36; ++i) EXPECT_EQ(r.outputs[0][i], x[(i / 6) % 3]) << i;
}

TEST(CodegenSqueeze, OutputsAliasTheirInputUnlessTheyAreGraphOutputs) {
  // x [1, 3, 4] -> Squeeze(axes 0) -> s [3, 4] -> Unsqueeze(axes 1) -> y [3, 1, 4] (a graph output: copied).
  const std::vector<float> x = Iota(12);
  GraphBuilder gb;
  gb.Input("x", {1, 3, 4});
  Value& axes0 = gb.graph().AddValue("axes0", DataType::kInt64, Shape{1});
  axes0.constant = Tensor::FromInt64s({1}, {0});
  Value& axes1 = gb.graph().AddValue("axes1", DataType::kInt64, Shape{1});
  axes1.constant = Tensor::FromInt64s({1}, {1});
  gb.Op("Squeeze", {"x", "axes0"}, "s", {3, 4});
  gb.Op("Unsqueeze", {"s", "axes1"}, "y", {3, 1, 4});
  gb.Output("y");
  isa::Program prog;
  RunResult r = CompileAndRun(gb.graph(), {x}, Precision::kBf16, &prog);
  ASSERT_EQ(r.outputs.size(), 1u);
  EXPECT_EQ(r.outputs[0], x);
  const std::vector<uint64_t> per_op = InstructionsPerOp(prog);
  EXPECT_EQ(per_op[0], 0u);  // Squeeze: an alias, no instructions
  EXPECT_GT(per_op[1], 0u);  // Unsqueeze into the graph output's own region: a copy
}

}  // namespace
}  // namespace tpusim::compiler::testing
