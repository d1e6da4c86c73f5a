// Codegen of elementwise ops (with numpy broadcasting) and Softmax, executed on the functional engine
// (`tiny`: 8-lane UB rows, 512 rows) and compared with naive reference loops written here.
#include <cmath>
#include <functional>
#include <string>
#include <vector>

#include "codegen_test_util.h"
#include "gtest/gtest.h"

namespace tpusim::compiler::testing {
namespace {

// Index of output element `flat` (row-major in `out`) inside an operand of shape `in` broadcast to it.
int64_t BroadcastIndex(const Shape& in, const Shape& out, int64_t flat) {
  int64_t index = 0, in_mul = 1;
  for (size_t i = 0; i < out.size(); ++i) {
    const size_t d = out.size() - 1 - i;
    const int64_t coord = flat % out[d];
    flat /= out[d];
    if (i < in.size()) {
      const int64_t in_dim = in[in.size() - 1 - i];
      index += (in_dim == 1 ? 0 : coord) * in_mul;
      in_mul *= in_dim;
    }
  }
  return index;
}

struct BinaryCase {
  Shape a, b, y;
};

// Add/Sub/Mul/Div on floats are single IEEE fp32 operations (round to nearest even) on the vector unit,
// so the result must equal the same fp32 operation computed here, bit for bit.
TEST(CodegenElementwise, BinaryOpsBroadcastLikeNumpy) {
  const std::vector<BinaryCase> cases = {
      {{3, 4, 5}, {5}, {3, 4, 5}},        {{3, 1, 5}, {1, 4, 1}, {3, 4, 5}}, {{3, 4, 5}, {}, {3, 4, 5}},
      {{}, {3, 4, 5}, {3, 4, 5}},         {{2, 1000}, {1, 1000}, {2, 1000}}, {{37}, {37}, {37}},
      {{4, 1}, {3}, {4, 3}},              {{}, {}, {}},                      {{2, 3, 1, 20}, {3, 7, 1}, {2, 3, 7, 20}},
      {{600, 9}, {600, 9}, {600, 9}},
  };
  const std::vector<std::pair<std::string, std::function<float(float, float)>>> ops = {
      {"Add", [](float x, float y) { return x + y; }},
      {"Sub", [](float x, float y) { return x - y; }},
      {"Mul", [](float x, float y) { return x * y; }},
      {"Div", [](float x, float y) { return x / y; }},
  };
  for (const auto& [op, fn] : ops) {
    for (const BinaryCase& c : cases) {
      std::vector<float> a = RandomFloats(NumElements(c.a), 1), b = RandomFloats(NumElements(c.b), 2, 0.5f, 2.0f);
      GraphBuilder gb;
      gb.Input("a", c.a);
      gb.Constant("b", c.b, b);  // constants and graph inputs share the path; one of each
      gb.Op(op, {"a", "b"}, "y", c.y);
      gb.Output("y");
      RunResult r = CompileAndRun(gb.graph(), {a});
      ASSERT_EQ(r.outputs.size(), 1u);
      const std::string what = op + " " + ShapeToString(c.a) + " " + ShapeToString(c.b);
      ASSERT_EQ(r.outputs[0].size(), static_cast<size_t>(NumElements(c.y))) << what;
      for (int64_t i = 0; i < NumElements(c.y); ++i) {
        const float want = fn(a[BroadcastIndex(c.a, c.y, i)], b[BroadcastIndex(c.b, c.y, i)]);
        ASSERT_EQ(r.outputs[0][i], want) << what << " element " << i;
      }
    }
  }
}

// Relu is exact; sigmoid = 1/(1+exp(-x)) and tanh use binary32 exp/tanh, a few ulp from the exact
// value, so the reference (double) is met within 4 fp32 ulps (4 * 2^-24 relative, plus 2^-30 near 0).
TEST(CodegenElementwise, UnaryActivations) {
  const Shape shape = {3, 7, 11};
  std::vector<float> x = RandomFloats(NumElements(shape), 5, -6.0f, 6.0f);
  const std::vector<std::pair<std::string, std::function<double(double)>>> ops = {
      {"Relu", [](double v) { return v > 0 ? v : 0.0; }},
      {"Sigmoid", [](double v) { return 1.0 / (1.0 + std::exp(-v)); }},
      {"Tanh", [](double v) { return std::tanh(v); }},
  };
  for (const auto& [op, fn] : ops) {
    GraphBuilder gb;
    gb.Input("x", shape);
    gb.Op(op, {"x"}, "y", shape);
    gb.Output("y");
    RunResult r = CompileAndRun(gb.graph(), {x});
    ASSERT_EQ(r.outputs.size(), 1u);
    std::vector<double> want(x.size()), bound(x.size());
    for (size_t i = 0; i < x.size(); ++i) {
      want[i] = fn(x[i]);
      bound[i] = 4 * std::ldexp(std::abs(want[i]), -24) + std::ldexp(1.0, -30);
    }
    ExpectWithinBound(r.outputs[0], want, bound, op);
  }
}

TEST(CodegenElementwise, ChainOfOpsThroughIntermediates) {
  // y = relu(a * b - c) with a [6,10], b [10], c scalar: intermediates live in the frame.
  std::vector<float> a = RandomFloats(60, 7), b = RandomFloats(10, 8), c = {0.25f};
  GraphBuilder gb;
  gb.Input("a", {6, 10});
  gb.Input("b", {10});
  gb.Constant("c", {}, c);
  gb.Op("Mul", {"a", "b"}, "t0", {6, 10});
  gb.Op("Sub", {"t0", "c"}, "t1", {6, 10});
  gb.Op("Relu", {"t1"}, "y", {6, 10});
  gb.Output("y");
  RunResult r = CompileAndRun(gb.graph(), {a, b});
  ASSERT_EQ(r.outputs.size(), 1u);
  for (int i = 0; i < 60; ++i) {
    const float t = a[i] * b[i % 10] - c[0];
    EXPECT_EQ(r.outputs[0][i], t > 0 ? t : 0.0f) << i;
  }
}

// Softmax reference in double, with a per-element error bound for the fp32 evaluation: x - max is
// rounded (relative 2^-24), which exp turns into an error of |x - max| * 2^-24 relative; exp and the
// division add about one ulp each; the fp32 sum of S such terms is within (S + D) * 2^-24 relative,
// D = max |x - max| of the column. So |err| <= (S + 4 + 2 D) * 2^-24 * y.
struct SoftmaxWant {
  std::vector<double> y, bound;
};
SoftmaxWant SoftmaxRef(const std::vector<float>& x, int64_t outer, int64_t s, int64_t inner) {
  std::vector<double> y(x.size()), bound(x.size());
  for (int64_t o = 0; o < outer; ++o) {
    for (int64_t i = 0; i < inner; ++i) {
      auto at = [&](int64_t r) { return (o * s + r) * inner + i; };
      double mx = -INFINITY, sum = 0;
      for (int64_t r = 0; r < s; ++r) mx = std::max(mx, static_cast<double>(x[at(r)]));
      for (int64_t r = 0; r < s; ++r) sum += std::exp(x[at(r)] - mx);
      double spread = 0;
      for (int64_t r = 0; r < s; ++r) spread = std::max(spread, mx - x[at(r)]);
      for (int64_t r = 0; r < s; ++r) {
        y[at(r)] = std::exp(x[at(r)] - mx) / sum;
        bound[at(r)] = (s + 4 + 2 * spread) * std::ldexp(y[at(r)], -24);
      }
    }
  }
  return {y, bound};
}

struct SoftmaxCase {
  Shape shape;
  int64_t axis;
  int opset;
  int64_t outer, s, inner;  // the [O, S, I] view the reference uses
};

TEST(CodegenSoftmax, EachAxisAndTheThreePassPath) {
  const std::vector<SoftmaxCase> cases = {
      {{3, 4, 5}, 0, 13, 1, 3, 20},   {{3, 4, 5}, 1, 13, 3, 4, 5},  {{3, 4, 5}, -1, 13, 12, 5, 1},
      {{3, 4, 5}, 2, 13, 12, 5, 1},   {{3, 4, 5}, 1, 11, 3, 20, 1},  // opset 11: coerced to [3, 20]
      {{2, 1000}, -1, 13, 2, 1000, 1},  // 1000 rows exceed tiny's 512-row UB: three passes
      {{700, 3}, 0, 13, 1, 700, 3},     // three passes with I > 1
  };
  for (const SoftmaxCase& c : cases) {
    std::vector<float> x = RandomFloats(NumElements(c.shape), 9, -5.0f, 5.0f);
    GraphBuilder gb;
    gb.Input("x", c.shape);
    gb.Op("Softmax", {"x"}, "y", c.shape, {{"axis", c.axis}}, c.opset);
    gb.Output("y");
    RunResult r = CompileAndRun(gb.graph(), {x});
    ASSERT_EQ(r.outputs.size(), 1u);
    SoftmaxWant want = SoftmaxRef(x, c.outer, c.s, c.inner);
    ExpectWithinBound(r.outputs[0], want.y, want.bound,
                      "Softmax " + ShapeToString(c.shape) + " axis " + std::to_string(c.axis) + " opset " +
                          std::to_string(c.opset));
  }
}

}  // namespace
}  // namespace tpusim::compiler::testing
