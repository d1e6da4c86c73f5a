// Codegen of ReduceSum, ReduceMean, ReduceMax on the functional engine (`tiny`: 8 lanes, 512 UB
// rows), compared with reference loops written here. Max is exact. Sums are checked two ways: on
// integer-valued data every partial sum is exact in fp32 (|sum| < 2^24), so the result must equal
// the exact sum whatever the order; on random data against the double sum within the bound of any
// sequential fp32 summation, (n - 1) * 2^-24 * sum |x| (Mean: plus 2^-23 relative for the 1/n scale).
#include <cmath>
#include <string>
#include <vector>

#include "codegen_test_util.h"
#include "gtest/gtest.h"

namespace tpusim::compiler::testing {
namespace {

struct ReduceCase {
  Shape x;
  std::vector<int64_t> axes;  // empty: every axis
  bool keepdims;
};

// Reference in double: per output, the sum, sum of |x|, max and count of its reduced elements.
struct Ref {
  std::vector<double> sum, abs_sum, max;
  int64_t count = 0;
  Shape y;
};

Ref Reference(const std::vector<float>& x, const ReduceCase& c) {
  const size_t rank = c.x.size();
  std::vector<bool> reduced(rank, c.axes.empty());
  for (int64_t a : c.axes) reduced[a < 0 ? a + static_cast<int64_t>(rank) : a] = true;
  Ref r;
  Shape kept;
  for (size_t d = 0; d < rank; ++d) {
    if (!reduced[d]) kept.push_back(c.x[d]);
    if (!reduced[d] || c.keepdims) r.y.push_back(reduced[d] ? 1 : c.x[d]);
  }
  const int64_t n_out = NumElements(kept);
  r.sum.assign(n_out, 0.0);
  r.abs_sum.assign(n_out, 0.0);
  r.max.assign(n_out, -INFINITY);
  r.count = n_out == 0 ? 0 : NumElements(c.x) / n_out;
  std::vector<int64_t> idx(rank, 0);
  for (int64_t i = 0; i < NumElements(c.x); ++i) {
    int64_t o = 0;
    for (size_t d = 0; d < rank; ++d) {
      if (!reduced[d]) o = o * c.x[d] + idx[d];
    }
    r.sum[o] += x[i];
    r.abs_sum[o] += std::abs(x[i]);
    r.max[o] = std::max(r.max[o], static_cast<double>(x[i]));
    for (size_t d = rank; d-- > 0;) {
      if (++idx[d] < c.x[d]) break;
      idx[d] = 0;
    }
  }
  return r;
}

std::vector<float> RunReduce(const std::string& op, const ReduceCase& c, const Shape& y, const std::vector<float>& x) {
  GraphBuilder gb;
  gb.Input("x", c.x);
  std::map<std::string, Attribute> attrs = {{"keepdims", int64_t{c.keepdims ? 1 : 0}}};
  if (!c.axes.empty()) attrs["axes"] = c.axes;
  gb.Op(op, {"x"}, "y", y, attrs, 11);  // opset 11: axes as an attribute
  gb.Output("y");
  RunResult r = CompileAndRun(gb.graph(), {x});
  EXPECT_EQ(r.outputs.size(), 1u) << op;
  return r.outputs.empty() ? std::vector<float>() : r.outputs[0];
}

const std::vector<ReduceCase> kCases = {
    {{3, 4, 5}, {1}, true},       {{3, 4, 5}, {0, 2}, false},  {{3, 4, 5}, {}, true},
    {{3, 4, 5}, {-1}, false},     {{2, 3, 4, 5}, {1, 3}, true}, {{6, 1, 7}, {1}, false},
    {{1200, 3}, {0}, true},       // 1200 reduced rows: several UB chunks, accumulated
    {{3, 1200}, {1}, false},      // reduced along lanes' neighbour: rows with stride 1
    {{10, 700}, {}, false},       // everything into one value
};

TEST(CodegenReduce, SumOfIntegersIsExactInAnyOrder) {
  for (const ReduceCase& c : kCases) {
    std::vector<float> x(static_cast<size_t>(NumElements(c.x)));
    for (size_t i = 0; i < x.size(); ++i) x[i] = static_cast<float>(static_cast<int>(i % 13) - 6);
    const Ref ref = Reference(x, c);
    const std::vector<float> got = RunReduce("ReduceSum", c, ref.y, x);
    ASSERT_EQ(got.size(), ref.sum.size()) << ShapeToString(c.x);
    for (size_t o = 0; o < got.size(); ++o) EXPECT_EQ(got[o], ref.sum[o]) << ShapeToString(c.x) << " output " << o;
  }
}

TEST(CodegenReduce, SumAndMeanOfRandomDataWithinTheSequentialSummationBound) {
  for (const ReduceCase& c : kCases) {
    const std::vector<float> x = RandomFloats(NumElements(c.x), 21, -2.0f, 3.0f);
    const Ref ref = Reference(x, c);
    const double n = static_cast<double>(ref.count);
    std::vector<double> sum_bound(ref.sum.size()), mean(ref.sum.size()), mean_bound(ref.sum.size());
    for (size_t o = 0; o < ref.sum.size(); ++o) {
      sum_bound[o] = (n - 1) * std::ldexp(ref.abs_sum[o], -24);
      mean[o] = ref.sum[o] / n;
      mean_bound[o] = sum_bound[o] / n + std::ldexp(std::abs(mean[o]), -23);
    }
    ExpectWithinBound(RunReduce("ReduceSum", c, ref.y, x), ref.sum, sum_bound, "ReduceSum " + ShapeToString(c.x));
    ExpectWithinBound(RunReduce("ReduceMean", c, ref.y, x), mean, mean_bound, "ReduceMean " + ShapeToString(c.x));
  }
}

TEST(CodegenReduce, MaxIsExactAndPropagatesNan) {
  for (const ReduceCase& c : kCases) {
    std::vector<float> x = RandomFloats(NumElements(c.x), 22, -5.0f, 5.0f);
    const Ref ref = Reference(x, c);
    const std::vector<float> got = RunReduce("ReduceMax", c, ref.y, x);
    ASSERT_EQ(got.size(), ref.max.size());
    for (size_t o = 0; o < got.size(); ++o) EXPECT_EQ(got[o], ref.max[o]) << ShapeToString(c.x) << " output " << o;
  }
  const ReduceCase c{{2, 3}, {1}, false};
  const std::vector<float> got = RunReduce("ReduceMax", c, {2}, {1.0f, NAN, 3.0f, 4.0f, 5.0f, 6.0f});
  ASSERT_EQ(got.size(), 2u);
  EXPECT_TRUE(std::isnan(got[0]));
  EXPECT_EQ(got[1], 6.0f);
}

TEST(CodegenReduce, EmptyReductionsGiveTheIdentityAndNoopCopies) {
  // [2, 0, 3] reduced over axis 1: Sum 0, Mean NaN (0/0), Max -Inf, for each of the 6 outputs.
  const ReduceCase c{{2, 0, 3}, {1}, false};
  EXPECT_EQ(RunReduce("ReduceSum", c, {2, 3}, {}), std::vector<float>(6, 0.0f));
  EXPECT_EQ(RunReduce("ReduceMax", c, {2, 3}, {}), std::vector<float>(6, -INFINITY));
  for (float v : RunReduce("ReduceMean", c, {2, 3}, {})) EXPECT_TRUE(std::isnan(v));
  // noop_with_empty_axes with no axes: the identity.
  GraphBuilder gb;
  gb.Input("x", {2, 3});
  gb.Op("ReduceSum", {"x"}, "y", {2, 3}, {{"noop_with_empty_axes", int64_t{1}}});
  gb.Output("y");
  const std::vector<float> x = {1, 2, 3, 4, 5, 6};
  RunResult r = CompileAndRun(gb.graph(), {x});
  ASSERT_EQ(r.outputs.size(), 1u);
  EXPECT_EQ(r.outputs[0], x);
}

}  // namespace
}  // namespace tpusim::compiler::testing
