// MaxPool with planes and output rows merged (lower_pool_merged.cc) against a naive max loop written
// here (padding never wins), on the functional and cycle engines under both schedules. max is exact, so
// the outputs must equal the reference bit for bit. Shapes: ResNet's 3x3/2 pad 1 (the top-row fix-up
// pass), batch 2 with odd channel counts (planes = N * C), 2x2/2 without padding (no fix-up), a 5x3
// kernel with stride (2, 3) and pads (3, 1, 1, 1) (two fix-up rows, asymmetric), and two the merged
// form does not take (3x3/1 pad 1 reaches the bottom padding; odd in_h): the flat form runs them.
#include <cmath>
#include <string>
#include <vector>

#include "codegen_test_util.h"
#include "gtest/gtest.h"

namespace tpusim::compiler::testing {
namespace {

struct Case {
  std::string name;
  Shape x;
  int64_t kh, kw, sh, sw, pt, pl, pb, pr;  // pads: top, left, bottom, right
};

Shape Out(const Case& c) {
  return {c.x[0], c.x[1], (c.x[2] + c.pt + c.pb - c.kh) / c.sh + 1, (c.x[3] + c.pl + c.pr - c.kw) / c.sw + 1};
}

std::vector<float> Naive(const Case& c, const std::vector<float>& x) {
  const Shape y = Out(c);
  std::vector<float> out;
  for (int64_t p = 0; p < c.x[0] * c.x[1]; ++p) {
    for (int64_t oh = 0; oh < y[2]; ++oh) {
      for (int64_t ow = 0; ow < y[3]; ++ow) {
        float m = -INFINITY;
        for (int64_t i = 0; i < c.kh; ++i) {
          for (int64_t j = 0; j < c.kw; ++j) {
            const int64_t r = oh * c.sh - c.pt + i, q = ow * c.sw - c.pl + j;
            if (r < 0 || r >= c.x[2] || q < 0 || q >= c.x[3]) continue;
            m = std::max(m, x[static_cast<size_t>((p * c.x[2] + r) * c.x[3] + q)]);
          }
        }
        out.push_back(m);
      }
    }
  }
  return out;
}

TEST(PoolMerged, MaxPoolMatchesNaiveLoopOnBothEngines) {
  const std::vector<Case> cases = {
      // merged (in_h = out_h * stride_h, no window below a plane):
      {"resnet_3x3s2p1", {1, 5, 12, 10}, 3, 3, 2, 2, 1, 1, 1, 1},
      {"batch2_3x3s2p1", {2, 3, 8, 9}, 3, 3, 2, 2, 1, 1, 1, 1},
      {"2x2s2", {1, 3, 6, 7}, 2, 2, 2, 2, 0, 0, 0, 0},
      {"5x3_s2x3_two_fixup_rows", {1, 3, 10, 11}, 5, 3, 2, 3, 3, 1, 1, 1},
      // the flat form (a window reaches the bottom padding; odd in_h):
      {"3x3s1p1", {1, 2, 5, 6}, 3, 3, 1, 1, 1, 1, 1, 1},
      {"flat_fallback_odd_height", {1, 3, 7, 8}, 3, 3, 2, 2, 1, 1, 1, 1},
  };
  for (const Case& c : cases) {
    GraphBuilder gb;
    gb.Input("x", c.x);
    gb.Op("MaxPool", {"x"}, "y", Out(c),
          {{"kernel_shape", std::vector<int64_t>{c.kh, c.kw}},
           {"strides", std::vector<int64_t>{c.sh, c.sw}},
           {"pads", std::vector<int64_t>{c.pt, c.pl, c.pb, c.pr}}});
    gb.Output("y");
    const std::vector<float> x = RandomFloats(static_cast<size_t>(NumElements(c.x)), 51, -2.0f, 1.0f);
    const std::vector<float> want = Naive(c, x);
    for (Schedule schedule : {Schedule::kTokens, Schedule::kSerial}) {
      CompileOptions o = Options();
      o.schedule = schedule;
      auto prog = Compile(gb.graph(), o);
      ASSERT_TRUE(prog.ok()) << c.name << ": " << prog.status();
      ASSERT_TRUE(isa::ValidateProgram(*prog).ok()) << c.name;
      for (const std::string engine : {"functional", "cycle"}) {
        auto r = RunOnEngine(*prog, {x}, engine);
        ASSERT_TRUE(r.ok()) << c.name << " " << engine << ": " << r.status();
        EXPECT_EQ(r->outputs[0], want) << c.name << " on " << engine;
      }
    }
  }
}

}  // namespace
}  // namespace tpusim::compiler::testing
