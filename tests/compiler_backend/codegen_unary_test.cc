// Codegen of the one-input vector ops (Exp, Log, Sqrt, Reciprocal, Abs, Neg, Erf, LeakyRelu, Clip,
// Pow with a constant exponent), run on the functional engine (`tiny`) and compared with reference
// loops written here. Each op is one binary32 operation of the vector unit whose definition is the C
// library's float function (numerics.h), so on normal inputs and results the TPU must equal that
// function applied here, bit for bit.
#include <cmath>
#include <functional>
#include <limits>
#include <string>
#include <vector>

#include "codegen_test_util.h"
#include "gtest/gtest.h"

namespace tpusim::compiler::testing {
namespace {

uint32_t Bits(float x) {
  uint32_t u;
  std::memcpy(&u, &x, 4);
  return u;
}

// Runs y = op(x) for x of `shape` and checks every element against want(x) bit for bit (NaNs match
// any NaN).
void ExpectUnary(const std::string& op, const Shape& shape, const std::vector<float>& x,
                 const std::function<float(float)>& want, std::map<std::string, Attribute> attrs = {},
                 int opset = 13) {
  GraphBuilder gb;
  gb.Input("x", shape);
  gb.Op(op, {"x"}, "y", shape, std::move(attrs), opset);
  gb.Output("y");
  RunResult r = CompileAndRun(gb.graph(), {x});
  ASSERT_EQ(r.outputs.size(), 1u) << op;
  ASSERT_EQ(r.outputs[0].size(), x.size()) << op;
  for (size_t i = 0; i < x.size(); ++i) {
    const float w = want(x[i]), g = r.outputs[0][i];
    if (std::isnan(w)) {
      EXPECT_TRUE(std::isnan(g)) << op << "(" << x[i] << ") = " << g;
    } else {
      EXPECT_EQ(Bits(g), Bits(w)) << op << "(" << x[i] << "): got " << g << ", want " << w;
    }
  }
}

// 3 x 7 x 11 = 231 elements: 28 full 8-lane UB rows and a partial one.
const Shape kShape = {3, 7, 11};

TEST(CodegenUnary, TranscendentalsMatchTheBinary32LibraryFunctions) {
  const std::vector<float> any = RandomFloats(231, 11, -5.0f, 5.0f);
  const std::vector<float> positive = RandomFloats(231, 12, 0.01f, 100.0f);
  ExpectUnary("Exp", kShape, any, [](float v) { return std::exp(v); });
  ExpectUnary("Log", kShape, positive, [](float v) { return std::log(v); });
  ExpectUnary("Sqrt", kShape, positive, [](float v) { return std::sqrt(v); });
  ExpectUnary("Erf", kShape, any, [](float v) { return std::erf(v); });
  ExpectUnary("Reciprocal", kShape, any, [](float v) { return 1.0f / v; });
  // Outside the domain: log(-1) and sqrt(-1) are NaN, log(0) = -Inf, 1/0 = Inf.
  const std::vector<float> edges = {-1.0f, 0.0f, 1.0f, 4.0f, INFINITY};
  ExpectUnary("Log", {5}, edges, [](float v) { return std::log(v); });
  ExpectUnary("Sqrt", {5}, edges, [](float v) { return std::sqrt(v); });
  ExpectUnary("Reciprocal", {5}, edges, [](float v) { return 1.0f / v; });
}

TEST(CodegenUnary, AbsNegAndLeakyReluAreExact) {
  const std::vector<float> x = RandomFloats(231, 13, -3.0f, 3.0f);
  ExpectUnary("Abs", kShape, x, [](float v) { return std::fabs(v); });
  ExpectUnary("Neg", kShape, x, [](float v) { return -v; });
  // alpha defaults to 0.01; y = x < 0 ? alpha * x : x (one fp32 multiply).
  ExpectUnary("LeakyRelu", kShape, x, [](float v) { return v < 0 ? 0.01f * v : v; });
  ExpectUnary("LeakyRelu", kShape, x, [](float v) { return v < 0 ? 0.25f * v : v; }, {{"alpha", 0.25f}});
}

TEST(CodegenUnary, ClipBoundsFromAttributesOrConstantInputs) {
  const std::vector<float> x = RandomFloats(231, 14, -3.0f, 3.0f);
  auto clip = [](float lo, float hi) { return [lo, hi](float v) { return std::min(std::max(v, lo), hi); }; };
  // Opset 6: attributes.
  ExpectUnary("Clip", kShape, x, clip(-1.0f, 0.5f), {{"min", -1.0f}, {"max", 0.5f}}, 6);
  // Opset 13: constant scalar inputs; either may be omitted ("" or missing), clamping nothing on that side.
  struct Case {
    std::vector<std::string> bounds;
    float lo, hi;
  };
  const float inf = std::numeric_limits<float>::infinity();
  for (const Case& c : {Case{{"lo", "hi"}, -0.5f, 2.0f}, Case{{"lo"}, -0.5f, inf}, Case{{"", "hi"}, -inf, 2.0f},
                        Case{{}, -inf, inf}}) {
    GraphBuilder gb;
    gb.Input("x", kShape);
    gb.Constant("lo", {}, {-0.5f});
    gb.Constant("hi", {}, {2.0f});
    std::vector<std::string> inputs = {"x"};
    inputs.insert(inputs.end(), c.bounds.begin(), c.bounds.end());
    gb.Op("Clip", inputs, "y", kShape);
    gb.Output("y");
    RunResult r = CompileAndRun(gb.graph(), {x});
    ASSERT_EQ(r.outputs.size(), 1u);
    for (size_t i = 0; i < x.size(); ++i) EXPECT_EQ(r.outputs[0][i], clip(c.lo, c.hi)(x[i])) << i;
  }
  // NaN passes through; ±Inf are clamped only by a bound that is present.
  ExpectUnary("Clip", {3}, {NAN, -INFINITY, INFINITY}, [](float v) { return std::isnan(v) ? v : (v < 0 ? -1.0f : 1.0f); },
              {{"min", -1.0f}, {"max", 1.0f}}, 6);
}

TEST(CodegenUnary, PowWithAConstantExponent) {
  const std::vector<float> x = RandomFloats(231, 15, 0.1f, 4.0f);
  struct Case {
    float exponent;
    std::function<float(float)> want;
  };
  for (const Case& c : {Case{2.0f, [](float v) { return v * v; }}, Case{0.5f, [](float v) { return std::sqrt(v); }},
                        Case{-1.0f, [](float v) { return 1.0f / v; }}, Case{1.0f, [](float v) { return v; }}}) {
    GraphBuilder gb;
    gb.Input("x", kShape);
    gb.Constant("e", {}, {c.exponent});
    gb.Op("Pow", {"x", "e"}, "y", kShape);
    gb.Output("y");
    isa::Program prog;
    RunResult r = CompileAndRun(gb.graph(), {x}, Precision::kBf16, &prog);
    ASSERT_EQ(r.outputs.size(), 1u);
    for (size_t i = 0; i < x.size(); ++i) {
      EXPECT_EQ(Bits(r.outputs[0][i]), Bits(c.want(x[i]))) << "x^" << c.exponent << " at " << i;
    }
    // The exponent is folded into the code: no segment carries it.
    for (const isa::Segment& seg : prog.constants()) EXPECT_NE(seg.name(), "e");
  }
  // Other exponents: exp(3 log|x|) (lower_pow.cc), within a few ulps of powf (here x in [0.1, 4]:
  // |3 log x| <= 4.2, relative error below 4.2 * 2^-24 plus the exp and log roundings).
  GraphBuilder gb;
  gb.Input("x", kShape);
  gb.Constant("e", {}, {3.0f});
  gb.Op("Pow", {"x", "e"}, "y", kShape);
  gb.Output("y");
  RunResult r = CompileAndRun(gb.graph(), {x}, Precision::kBf16);
  ASSERT_EQ(r.outputs.size(), 1u);
  for (size_t i = 0; i < x.size(); ++i) {
    const float want = x[i] * x[i] * x[i];
    EXPECT_NEAR(r.outputs[0][i], want, 1e-6f * std::fabs(want)) << "x^3 at " << i;
  }
}

}  // namespace
}  // namespace tpusim::compiler::testing
