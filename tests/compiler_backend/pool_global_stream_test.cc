// Latency-hiding forms of the pool and conv data movement (lower_pool_global.cc; lower_pool_merged.cc's
// single-tile form and border-only -Inf; lower_conv_packed.cc's copies built straight from X with
// border-only zeros; the shifted conv's direct output stores; strided 1x1 convs without im2col),
// checked against naive loops written here on the functional and cycle engines under both schedules
// (kSerial keeps the old forms, so both must agree with the reference).
#include <algorithm>
#include <cmath>
#include <limits>
#include <string>
#include <vector>

#include "codegen_test_util.h"
#include "gtest/gtest.h"

namespace tpusim::compiler::testing {
namespace {

void RunBoth(Graph g, const std::vector<float>& x, const std::vector<double>& want, double tol, const std::string& what) {
  for (Schedule schedule : {Schedule::kTokens, Schedule::kSerial}) {
    CompileOptions o = Options(Precision::kHighest);
    o.schedule = schedule;
    auto prog = Compile(g, o);
    ASSERT_TRUE(prog.ok()) << what << ": " << prog.status();
    ASSERT_TRUE(isa::ValidateProgram(*prog).ok()) << what;
    for (const std::string engine : {"functional", "cycle"}) {
      auto r = RunOnEngine(*prog, {x}, engine);
      ASSERT_TRUE(r.ok()) << what << " " << engine << ": " << r.status();
      ASSERT_EQ(r->outputs[0].size(), want.size()) << what;
      for (size_t i = 0; i < want.size(); ++i) {
        ASSERT_LE(std::abs(r->outputs[0][i] - want[i]), tol) << what << " " << engine << " element " << i;
      }
    }
  }
}

// Global pools over N x C planes of hw elements: on tiny (8 lanes, 512 UB rows) 26 planes are 4 lane
// chunks (the last one of 2 planes); 64 planes of 144 are 8 chunks in 3 UB regions (they rotate); 2 x 5
// planes of 300 do not fit two regions (lower_reduce.cc's chunked form runs them).
TEST(GlobalPoolStreamed, MatchesNaiveMeanAndMax) {
  const std::vector<Shape> shapes = {{2, 13, 5, 6}, {1, 64, 12, 12}, {2, 5, 15, 20}, {1, 3, 7}};
  for (const Shape& s : shapes) {
    const int64_t planes = s[0] * s[1];
    int64_t hw = 1;
    for (size_t d = 2; d < s.size(); ++d) hw *= s[d];
    const std::vector<float> x = RandomFloats(static_cast<size_t>(planes * hw), 71);
    for (const std::string op : {"GlobalAveragePool", "GlobalMaxPool"}) {
      GraphBuilder gb;
      gb.Input("x", s);
      Shape out = {s[0], s[1]};
      for (size_t d = 2; d < s.size(); ++d) out.push_back(1);
      gb.Op(op, {"x"}, "y", out);
      gb.Output("y");
      std::vector<double> want;
      for (int64_t p = 0; p < planes; ++p) {
        double sum = 0, mx = -std::numeric_limits<double>::infinity();
        for (int64_t i = 0; i < hw; ++i) {
          sum += x[static_cast<size_t>(p * hw + i)];
          mx = std::max<double>(mx, x[static_cast<size_t>(p * hw + i)]);
        }
        want.push_back(op == "GlobalMaxPool" ? mx : sum / static_cast<double>(hw));
      }
      // fp32 sums of at most 300 values in [-1, 1]: well within 1e-4; the max is exact.
      RunBoth(gb.graph(), x, want, 1e-4, op + " " + std::to_string(planes) + "x" + std::to_string(hw));
    }
  }
}

// ResNet's stem pool shape scaled down: 3x3 / 2, pad 1, 4 planes of 8 x 10. On tiny 16 output rows of
// 9 offsets fit one tile (16 <= 512 / 9): one buffer per offset.
TEST(MergedMaxPoolSingleTile, MatchesNaiveMaxPool) {
  const int64_t C = 4, H = 8, W = 10, OH = 4, OW = 5;
  const std::vector<float> x = RandomFloats(static_cast<size_t>(C * H * W), 72);
  GraphBuilder gb;
  gb.Input("x", {1, C, H, W});
  gb.Op("MaxPool", {"x"}, "y", {1, C, OH, OW},
        {{"kernel_shape", std::vector<int64_t>{3, 3}}, {"strides", std::vector<int64_t>{2, 2}},
         {"pads", std::vector<int64_t>{1, 1, 1, 1}}});
  gb.Output("y");
  std::vector<double> want;
  for (int64_t c = 0; c < C; ++c) {
    for (int64_t oh = 0; oh < OH; ++oh) {
      for (int64_t ow = 0; ow < OW; ++ow) {
        double m = -std::numeric_limits<double>::infinity();
        for (int64_t i = 0; i < 3; ++i) {
          for (int64_t j = 0; j < 3; ++j) {
            const int64_t h = oh * 2 - 1 + i, w = ow * 2 - 1 + j;
            if (h >= 0 && h < H && w >= 0 && w < W) m = std::max<double>(m, x[static_cast<size_t>((c * H + h) * W + w)]);
          }
        }
        want.push_back(m);
      }
    }
  }
  RunBoth(gb.graph(), x, want, 0.0, "maxpool 3x3/2");
}

// Packed shifted conv whose shifted copies reach before X's first element in the padded image: C = 2
// on tiny packs bw = 4 offsets of a 1x5 kernel, shifts up to 3 > the interior offset 1 (pad 0 x 1), so
// copy 0 is built first and the others from it; a 3x3 pad 1 conv (shift 1 <= 9 + 1) builds every copy
// straight from X. Reference: naive double-precision conv; highest precision: |error| < 1e-4.
TEST(PackedConvCopies, BothConstructionsMatchNaiveConv) {
  struct Case {
    int64_t C, H, W, KH, KW, PH, PW, M;
  };
  for (const Case& c : {Case{2, 5, 9, 1, 5, 0, 1, 3}, Case{4, 6, 7, 3, 3, 1, 1, 5}}) {
    const int64_t OH = c.H + 2 * c.PH - c.KH + 1, OW = c.W + 2 * c.PW - c.KW + 1;
    const std::vector<float> x = RandomFloats(static_cast<size_t>(c.C * c.H * c.W), 73);
    const std::vector<float> w = RandomFloats(static_cast<size_t>(c.M * c.C * c.KH * c.KW), 74);
    GraphBuilder gb;
    gb.Input("x", {1, c.C, c.H, c.W});
    gb.Constant("w", {c.M, c.C, c.KH, c.KW}, w);
    gb.Op("Conv", {"x", "w"}, "y", {1, c.M, OH, OW},
          {{"kernel_shape", std::vector<int64_t>{c.KH, c.KW}}, {"pads", std::vector<int64_t>{c.PH, c.PW, c.PH, c.PW}}},
          11);
    gb.Output("y");
    std::vector<double> want;
    for (int64_t m = 0; m < c.M; ++m) {
      for (int64_t oh = 0; oh < OH; ++oh) {
        for (int64_t ow = 0; ow < OW; ++ow) {
          double acc = 0;
          for (int64_t ci = 0; ci < c.C; ++ci) {
            for (int64_t i = 0; i < c.KH; ++i) {
              for (int64_t j = 0; j < c.KW; ++j) {
                const int64_t h = oh - c.PH + i, ww = ow - c.PW + j;
                if (h < 0 || h >= c.H || ww < 0 || ww >= c.W) continue;
                acc += static_cast<double>(x[static_cast<size_t>((ci * c.H + h) * c.W + ww)]) *
                       w[static_cast<size_t>(((m * c.C + ci) * c.KH + i) * c.KW + j)];
              }
            }
          }
          want.push_back(acc);
        }
      }
    }
    RunBoth(gb.graph(), x, want, 1e-4, "conv C=" + std::to_string(c.C));
  }
}

// 1x1 convs with strides read X straight from the GEMM (one LOAD per output row) under kTokens and
// through im2col under kSerial: both against a naive loop. 2-D stride 2 x 3 over 9 x 11 (out 5 x 4; 20
// channels: 3 k-tiles on tiny's 8-row array), and 1-D stride 3. Highest precision: |error| < 1e-4.
TEST(StridedOneByOneConv, MatchesNaiveConv) {
  struct Case {
    Shape x;
    std::vector<int64_t> stride;
    int64_t M;
  };
  for (const Case& c : {Case{{1, 20, 9, 11}, {2, 3}, 6}, Case{{1, 5, 10}, {3}, 4}}) {
    const int64_t C = c.x[1];
    Shape y = {1, c.M};
    int64_t out_size = 1, in_size = 1;
    for (size_t d = 0; d < c.stride.size(); ++d) {
      y.push_back((c.x[d + 2] - 1) / c.stride[d] + 1);
      out_size *= y.back();
      in_size *= c.x[d + 2];
    }
    const std::vector<float> x = RandomFloats(static_cast<size_t>(C * in_size), 75);
    Shape ws = {c.M, C};
    for (size_t d = 0; d < c.stride.size(); ++d) ws.push_back(1);
    const std::vector<float> w = RandomFloats(static_cast<size_t>(c.M * C), 76);
    GraphBuilder gb;
    gb.Input("x", c.x);
    gb.Constant("w", ws, w);
    gb.Op("Conv", {"x", "w"}, "y", y, {{"strides", c.stride}}, 11);
    gb.Output("y");
    std::vector<double> want;
    for (int64_t m = 0; m < c.M; ++m) {
      for (int64_t o = 0; o < out_size; ++o) {
        // Input element of output o: each spatial index times its stride.
        int64_t in_index = 0;
        if (c.stride.size() == 1) {
          in_index = o * c.stride[0];
        } else {
          in_index = (o / y[3]) * c.stride[0] * c.x[3] + (o % y[3]) * c.stride[1];
        }
        double acc = 0;
        for (int64_t ci = 0; ci < C; ++ci) {
          acc += static_cast<double>(x[static_cast<size_t>(ci * in_size + in_index)]) * w[static_cast<size_t>(m * C + ci)];
        }
        want.push_back(acc);
      }
    }
    RunBoth(gb.graph(), x, want, 1e-4, "1x1 strided rank " + std::to_string(c.stride.size()));
  }
}

}  // namespace
}  // namespace tpusim::compiler::testing
