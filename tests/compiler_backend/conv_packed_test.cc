// Packed shifted-GEMM convolution (lower_conv_shifted.cc, ShiftedPackFactor > 1): with a constant W
// and C <= array_rows / 2, one k-tile covers F neighbouring kernel offsets along the last spatial dim
// (F copies of the padded input, W rearranged at compile time). Checked against a naive
// double-precision convolution written here, on the functional and cycle engines, both schedules:
// precision highest (about fp32: |error| < 1e-4 for |inputs|, |weights| <= 1 and <= 80 products) and
// bf16 (each product rounds its operands to 8 mantissa bits: |error| <= 2^-7 * sum |x * w| + 1e-6).
// Shapes on tiny (8x8 array): channels 2..4 (not multiples of the array), odd extents, padding or none,
// stride 2, dilation 2, a kernel whose last extent is not a multiple of F, 1-D and 3-D convs.
#include <cmath>
#include <string>
#include <vector>

#include "codegen_test_util.h"
#include "gtest/gtest.h"

namespace tpusim::compiler::testing {
namespace {

struct Case {
  std::string name;
  Shape x, w;
  std::vector<int64_t> stride, pad, dilation;  // pad: begin = end, per spatial dim
};

Shape OutShape(const Case& c) {
  Shape y = {c.x[0], c.w[0]};
  for (size_t d = 0; d + 2 < c.x.size(); ++d) {
    y.push_back((c.x[d + 2] + 2 * c.pad[d] - ((c.w[d + 2] - 1) * c.dilation[d] + 1)) / c.stride[d] + 1);
  }
  return y;
}

Graph ConvGraph(const Case& c) {
  GraphBuilder gb;
  gb.Input("x", c.x);
  gb.Constant("w", c.w, RandomFloats(static_cast<size_t>(NumElements(c.w)), 41));
  gb.Constant("b", {c.w[0]}, RandomFloats(static_cast<size_t>(c.w[0]), 42));
  std::vector<int64_t> pads = c.pad;
  pads.insert(pads.end(), c.pad.begin(), c.pad.end());
  gb.Op("Conv", {"x", "w", "b"}, "y", OutShape(c),
        {{"pads", pads}, {"strides", c.stride}, {"dilations", c.dilation}}, 11);
  gb.Output("y");
  return gb.graph();
}

// Naive conv over any spatial rank (batch 1 or more, group 1): returns values and sum |x * w| + |b|.
void Reference(const Case& c, const std::vector<float>& x, std::vector<double>& y, std::vector<double>& mag) {
  const std::vector<float> w = RandomFloats(static_cast<size_t>(NumElements(c.w)), 41);
  const std::vector<float> b = RandomFloats(static_cast<size_t>(c.w[0]), 42);
  const Shape ys = OutShape(c);
  const size_t k = c.x.size() - 2;
  const int64_t C = c.x[1];
  int64_t in_size = 1, out_size = 1, kk_size = 1;
  for (size_t d = 0; d < k; ++d) {
    in_size *= c.x[d + 2];
    out_size *= ys[d + 2];
    kk_size *= c.w[d + 2];
  }
  for (int64_t n = 0; n < c.x[0]; ++n) {
    for (int64_t m = 0; m < c.w[0]; ++m) {
      for (int64_t o = 0; o < out_size; ++o) {
        double acc = b[static_cast<size_t>(m)], abs = std::abs(b[static_cast<size_t>(m)]);
        for (int64_t ci = 0; ci < C; ++ci) {
          for (int64_t kk = 0; kk < kk_size; ++kk) {
            int64_t in_index = 0, orest = o, krest = kk;
            bool inside = true;
            std::vector<int64_t> od(k), kd(k);
            for (size_t d = k; d-- > 0;) {
              od[d] = orest % ys[d + 2];
              orest /= ys[d + 2];
              kd[d] = krest % c.w[d + 2];
              krest /= c.w[d + 2];
            }
            for (size_t d = 0; d < k; ++d) {
              const int64_t i = od[d] * c.stride[d] - c.pad[d] + kd[d] * c.dilation[d];
              inside = inside && i >= 0 && i < c.x[d + 2];
              in_index = in_index * c.x[d + 2] + i;
            }
            if (!inside) continue;
            const double p = static_cast<double>(x[static_cast<size_t>((n * C + ci) * in_size + in_index)]) *
                             w[static_cast<size_t>((m * C + ci) * kk_size + kk)];
            acc += p;
            abs += std::abs(p);
          }
        }
        y.push_back(acc);
        mag.push_back(abs);
      }
    }
  }
}

TEST(ConvPacked, MatchesNaiveConvolutionOnBothEngines) {
  const std::vector<Case> cases = {
      {"c4_3x3_pad1", {1, 4, 5, 7}, {5, 4, 3, 3}, {1, 1}, {1, 1}, {1, 1}},
      {"c4_3x3_stride2", {1, 4, 7, 6}, {9, 4, 3, 3}, {2, 2}, {1, 1}, {1, 1}},
      {"c2_3x5_nopad", {1, 2, 6, 9}, {3, 2, 3, 5}, {1, 1}, {0, 0}, {1, 1}},
      {"c3_3x3_dilation2", {1, 3, 7, 7}, {4, 3, 3, 3}, {1, 1}, {2, 2}, {2, 2}},
      {"c2_1d_k7", {1, 2, 13}, {3, 2, 7}, {1}, {3}, {1}},
      {"c4_3d_2x2x3", {1, 4, 3, 4, 5}, {2, 4, 2, 2, 3}, {1, 1, 1}, {0, 1, 1}, {1, 1, 1}},
  };
  for (const Case& c : cases) {
    const std::vector<float> x = RandomFloats(static_cast<size_t>(NumElements(c.x)), 43);
    std::vector<double> want, mag;
    Reference(c, x, want, mag);
    for (Precision p : {Precision::kHighest, Precision::kBf16}) {
      for (Schedule schedule : {Schedule::kTokens, Schedule::kSerial}) {
        CompileOptions o = Options(p);
        o.schedule = schedule;
        auto prog = Compile(ConvGraph(c), o);
        ASSERT_TRUE(prog.ok()) << c.name << ": " << prog.status();
        ASSERT_TRUE(isa::ValidateProgram(*prog).ok()) << c.name;
        bool packed = false;
        for (const isa::Segment& seg : prog->constants()) {
          packed = packed || seg.name().find("/packed_w_part") != std::string::npos;
        }
        EXPECT_TRUE(packed) << c.name << ": expected the packed form";
        for (const std::string engine : {"functional", "cycle"}) {
          auto r = RunOnEngine(*prog, {x}, engine);
          ASSERT_TRUE(r.ok()) << c.name << " " << engine << ": " << r.status();
          const std::vector<float>& got = r->outputs[0];
          ASSERT_EQ(got.size(), want.size()) << c.name;
          for (size_t i = 0; i < got.size(); ++i) {
            const double bound = p == Precision::kHighest ? 1e-4 : std::ldexp(mag[i], -7) + 1e-6;
            ASSERT_LE(std::abs(got[i] - want[i]), bound)
                << c.name << " " << engine << " " << PrecisionName(p) << " element " << i;
          }
        }
      }
    }
  }
}

TEST(ConvPacked, FewChannelsWithStrideKeepIm2col) {
  // 3 channels (< 8 / 2) and stride 2: packing would copy the input per offset and compute 4x the
  // positions, so im2col runs it (no packed segments); the values still match the naive loop.
  const Case c{"c3_3x3_stride2", {1, 3, 7, 6}, {9, 3, 3, 3}, {2, 2}, {1, 1}, {1, 1}};
  const std::vector<float> x = RandomFloats(static_cast<size_t>(NumElements(c.x)), 44);
  std::vector<double> want, mag;
  Reference(c, x, want, mag);
  auto prog = Compile(ConvGraph(c), Options(Precision::kHighest));
  ASSERT_TRUE(prog.ok()) << prog.status();
  for (const isa::Segment& seg : prog->constants()) EXPECT_EQ(seg.name().find("/packed_w_part"), std::string::npos);
  auto r = RunFunctional(*prog, {x});
  ASSERT_TRUE(r.ok()) << r.status();
  EXPECT_LT(MaxAbsError(r->outputs[0], want), 1e-4);
}

TEST(ConvPacked, RuntimeWeightsKeepTheUnpackedForms) {
  // W as a graph input (not a constant): no packed segments; the conv still computes correctly.
  const Case c{"c4_3x3_pad1", {1, 4, 5, 7}, {5, 4, 3, 3}, {1, 1}, {1, 1}, {1, 1}};
  GraphBuilder gb;
  gb.Input("x", c.x);
  gb.Input("w", c.w);
  gb.Op("Conv", {"x", "w"}, "y", OutShape(c), {{"pads", std::vector<int64_t>{1, 1, 1, 1}}}, 11);
  gb.Output("y");
  auto prog = Compile(gb.graph(), Options(Precision::kHighest));
  ASSERT_TRUE(prog.ok()) << prog.status();
  for (const isa::Segment& seg : prog->constants()) EXPECT_EQ(seg.name().find("/packed_w_part"), std::string::npos);
}

}  // namespace
}  // namespace tpusim::compiler::testing
