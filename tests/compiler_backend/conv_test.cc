// Conv, BatchNormalization and Pad on the TPU (tiny arch): compiled programs against naive reference
// loops written here (double accumulation), at precision highest (6 bf16 passes: errors of a few fp32
// ulps of the products' magnitude, bounded below by 1e-5 * (sum |x*w| + 1e-3)) and at bf16 (3 * 2^-8 of
// the same sum: two operand roundings of 2^-9 each plus fp32 accumulation). BatchNormalization folding
// into a preceding Conv / Gemm / MatMul is checked to remove the node and to change no result beyond
// float rounding.
#include <cmath>
#include <string>
#include <vector>

#include "codegen_test_util.h"
#include "gmock/gmock.h"
#include "gtest/gtest.h"

namespace tpusim::compiler::testing {
namespace {

struct ConvCase {
  std::string name;
  Shape x, w;                 // [N, C, spatial...], [M, C/group, kernel...]
  std::vector<int64_t> strides, pads, dilations;  // empty: attribute absent
  int64_t group = 1;
  std::string auto_pad;       // "" = absent
  bool bias = true;
  bool constant_w = true;
};

ConvCase Case(std::string name, Shape x, Shape w, std::vector<int64_t> strides = {}, std::vector<int64_t> pads = {},
              std::vector<int64_t> dilations = {}, int64_t group = 1, std::string auto_pad = "", bool bias = true,
              bool constant_w = true) {
  ConvCase c;
  c.name = std::move(name);
  c.x = std::move(x);
  c.w = std::move(w);
  c.strides = std::move(strides);
  c.pads = std::move(pads);
  c.dilations = std::move(dilations);
  c.group = group;
  c.auto_pad = std::move(auto_pad);
  c.bias = bias;
  c.constant_w = constant_w;
  return c;
}

// Naive NCHW convolution with explicit begin pads; returns y and, per element, sum |x*w| (+|b|).
struct Ref {
  Shape shape;
  std::vector<double> y, mag;
};
Ref NaiveConv(const ConvCase& c, const std::vector<float>& x, const std::vector<float>& w,
              const std::vector<float>& b, const std::vector<int64_t>& pad_lo, const std::vector<int64_t>& out) {
  const size_t k = c.x.size() - 2;
  const int64_t N = c.x[0], C = c.x[1], M = c.w[0], cg = C / c.group, mg = M / c.group;
  int64_t in_size = 1, out_size = 1, k_size = 1;
  for (size_t d = 0; d < k; ++d) {
    in_size *= c.x[2 + d];
    out_size *= out[d];
    k_size *= c.w[2 + d];
  }
  Ref r;
  r.shape = {N, M};
  r.shape.insert(r.shape.end(), out.begin(), out.end());
  r.y.assign(static_cast<size_t>(N * M * out_size), 0.0);
  r.mag = r.y;
  for (int64_t n = 0; n < N; ++n) {
    for (int64_t m = 0; m < M; ++m) {
      for (int64_t o = 0; o < out_size; ++o) {
        double acc = c.bias ? b[m] : 0.0, mag = c.bias ? std::abs(b[m]) : 0.0;
        for (int64_t ci = 0; ci < cg; ++ci) {
          for (int64_t kk = 0; kk < k_size; ++kk) {
            int64_t off = 0, orest = o, krest = kk, istride = in_size;
            bool inside = true;
            for (size_t d = 0; d < k; ++d) {  // outermost spatial dim first
              int64_t osz = 1, ksz = 1;
              for (size_t e = d + 1; e < k; ++e) {
                osz *= out[e];
                ksz *= c.w[2 + e];
              }
              istride /= c.x[2 + d];
              const int64_t od = orest / osz, kd = krest / ksz;
              orest %= osz;
              krest %= ksz;
              const int64_t s = c.strides.empty() ? 1 : c.strides[d], dil = c.dilations.empty() ? 1 : c.dilations[d];
              const int64_t id = od * s + kd * dil - pad_lo[d];
              inside = inside && id >= 0 && id < c.x[2 + d];
              off += id * istride;
            }
            if (!inside) continue;
            const double p = static_cast<double>(x[(n * C + (m / mg) * cg + ci) * in_size + off]) *
                             w[(m * cg + ci) * k_size + kk];
            acc += p;
            mag += std::abs(p);
          }
        }
        r.y[(n * M + m) * out_size + o] = acc;
        r.mag[(n * M + m) * out_size + o] = mag;
      }
    }
  }
  return r;
}

std::map<std::string, Attribute> Attrs(const ConvCase& c) {
  std::map<std::string, Attribute> a;
  if (!c.strides.empty()) a["strides"] = c.strides;
  if (!c.pads.empty()) a["pads"] = c.pads;
  if (!c.dilations.empty()) a["dilations"] = c.dilations;
  if (c.group != 1) a["group"] = c.group;
  if (!c.auto_pad.empty()) a["auto_pad"] = c.auto_pad;
  return a;
}

// Pads and output extents worked out by hand for each case below.
struct Expected {
  std::vector<int64_t> pad_lo, out;
};

class ConvLowering : public ::testing::TestWithParam<std::tuple<ConvCase, Expected>> {};

TEST_P(ConvLowering, MatchesNaiveLoopAtHighestAndBf16) {
  const auto& [c, e] = GetParam();
  const std::vector<float> x = RandomFloats(static_cast<size_t>(NumElements(c.x)), 1);
  const std::vector<float> w = RandomFloats(static_cast<size_t>(NumElements(c.w)), 2);
  const std::vector<float> b = RandomFloats(static_cast<size_t>(c.w[0]), 3);
  const Ref ref = NaiveConv(c, x, w, b, e.pad_lo, e.out);
  for (Precision p : {Precision::kHighest, Precision::kBf16}) {
    GraphBuilder gb;
    gb.Input("x", c.x);
    std::vector<std::vector<float>> inputs = {x};
    if (c.constant_w) {
      gb.Constant("w", c.w, w);
    } else {
      gb.Input("w", c.w);
      inputs.push_back(w);
    }
    std::vector<std::string> ins = {"x", "w"};
    if (c.bias) ins.push_back(gb.Constant("b", {c.w[0]}, b));
    gb.Op("Conv", ins, "y", ref.shape, Attrs(c), 11);
    gb.Output("y");
    const RunResult r = CompileAndRun(gb.graph(), inputs, p);
    ASSERT_EQ(r.outputs.size(), 1u) << c.name;
    std::vector<double> bound(ref.y.size());
    for (size_t i = 0; i < bound.size(); ++i) {
      bound[i] = p == Precision::kHighest ? 1e-5 * (ref.mag[i] + 1e-3) : 3.0 / 256 * ref.mag[i] + 1e-6;
    }
    ExpectWithinBound(r.outputs[0], ref.y, bound, c.name + " at " + std::string(PrecisionName(p)));
  }
}

// Output extent: floor((in + pads - ((k - 1) * d + 1)) / s) + 1.
INSTANTIATE_TEST_SUITE_P(
    Cases, ConvLowering,
    ::testing::Values(
        // 5x5, 3x3, pads 1: out 5.
        std::make_tuple(Case("pad1", {1, 3, 5, 5}, {4, 3, 3, 3}, {}, {1, 1, 1, 1}), Expected{{1, 1}, {5, 5}}),
        // 7x5, stride 2, pads (1,0,1,0): out floor((7+2-3)/2)+1 = 4, floor((5-3)/2)+1 = 2.
        std::make_tuple(Case("stride2_asym", {1, 2, 7, 5}, {3, 2, 3, 3}, {2, 2}, {1, 0, 1, 0}),
                        Expected{{1, 0}, {4, 2}}),
        // dilation 2: span 5; 6x6 pads 0: out 2.
        std::make_tuple(Case("dilated", {1, 2, 6, 6}, {2, 2, 3, 3}, {}, {}, {2, 2}), Expected{{0, 0}, {2, 2}}),
        // group 2, batch 2: C 4 -> 2 per group, M 6 -> 3 per group; out 4x4.
        std::make_tuple(Case("group2_batch2", {2, 4, 4, 4}, {6, 2, 3, 3}, {}, {1, 1, 1, 1}, {}, 2),
                        Expected{{1, 1}, {4, 4}}),
        // depthwise, channel multiplier 2: group = C = 3, M = 6.
        std::make_tuple(Case("depthwise", {1, 3, 6, 5}, {6, 1, 3, 3}, {}, {1, 1, 1, 1}, {}, 3),
                        Expected{{1, 1}, {6, 5}}),
        // 1x1, stride 1, no pads, N = 1: A is X itself. 9 channels span two k-tiles of the 8-row array.
        std::make_tuple(Case("pointwise", {1, 9, 3, 4}, {10, 9, 1, 1}), Expected{{0, 0}, {3, 4}}),
        // 1-D: length 9, kernel 4, stride 3, pads 2/1: out floor((9+3-4)/3)+1 = 3.
        std::make_tuple(Case("conv1d", {2, 3, 9}, {5, 3, 4}, {3}, {2, 1}), Expected{{2}, {3}}),
        // SAME_UPPER, stride 2: out ceil(5/2) = 3, total pad (3-1)*2+3-5 = 2 -> 1 before.
        // SAME_LOWER, 4x4 kernel 2: out 4, total pad 1 -> 1 before (the odd one leads).
        std::make_tuple(Case("same_upper", {1, 2, 5, 5}, {2, 2, 3, 3}, {2, 2}, {}, {}, 1, "SAME_UPPER"),
                        Expected{{1, 1}, {3, 3}}),
        std::make_tuple(Case("same_lower", {1, 2, 4, 4}, {3, 2, 2, 2}, {}, {}, {}, 1, "SAME_LOWER"),
                        Expected{{1, 1}, {4, 4}}),
        // W computed at run time (a graph input), no bias.
        std::make_tuple(Case("runtime_w", {1, 2, 4, 4}, {3, 2, 3, 3}, {}, {}, {}, 1, "", false, false),
                        Expected{{0, 0}, {2, 2}}),
        // 3-D: 4x3x3, kernel 2x2x2, pads 1 on the first dim only: out 5x2x2.
        std::make_tuple(Case("conv3d", {1, 2, 4, 3, 3}, {2, 2, 2, 2, 2}, {}, {1, 0, 0, 1, 0, 0}),
                        Expected{{1, 0, 0}, {5, 2, 2}}),
        // >= 4 channels (tiny: array_rows / 2): shifted GEMMs; 9 = two channel blocks (8 + 1); out 6x5.
        std::make_tuple(Case("shifted_pad1", {1, 9, 6, 5}, {10, 9, 3, 3}, {}, {1, 1, 1, 1}), Expected{{1, 1}, {6, 5}}),
        // stride 2, pads (1,0,1,0): out floor((7+2-3)/2)+1 = 4, floor((6-3)/2)+1 = 2.
        std::make_tuple(Case("shifted_stride2", {1, 4, 7, 6}, {3, 4, 3, 3}, {2, 2}, {1, 0, 1, 0}),
                        Expected{{1, 0}, {4, 2}}),
        // 1x1 stride 2, no pads: out 3x3 (a 1x1 kernel stays on im2col). Dilation 2, pads 2: out 7x7.
        std::make_tuple(Case("im2col_1x1_stride2", {1, 4, 5, 5}, {6, 4, 1, 1}, {2, 2}), Expected{{0, 0}, {3, 3}}),
        std::make_tuple(Case("shifted_dilated", {1, 5, 7, 7}, {2, 5, 3, 3}, {}, {2, 2, 2, 2}, {2, 2}),
                        Expected{{2, 2}, {7, 7}}),
        // W a graph input, no bias; kernel 2x3 on 5x4 pads 1: out (5+2-2)+1 = 6, (4+2-3)+1 = 4.
        std::make_tuple(Case("shifted_runtime_w", {1, 4, 5, 4}, {3, 4, 2, 3}, {}, {1, 1, 1, 1}, {}, 1, "", 0, 0),
                        Expected{{1, 1}, {6, 4}}),
        // 1-D as conv1d above: out 3.
        std::make_tuple(Case("shifted_conv1d", {1, 6, 9}, {5, 6, 4}, {3}, {2, 1}), Expected{{2}, {3}}),
        // Depthwise, multiplier 1, batch 1: the vector unit; 11 channels = two blocks of 8 lanes; out 6x5.
        std::make_tuple(Case("dw_vector", {1, 11, 6, 5}, {11, 1, 3, 3}, {}, {1, 1, 1, 1}, {}, 11),
                        Expected{{1, 1}, {6, 5}}),
        // stride 2, pads (1,0,1,0): out 4x2 (as shifted_stride2).
        std::make_tuple(Case("dw_vector_stride2", {1, 4, 7, 6}, {4, 1, 3, 3}, {2, 2}, {1, 0, 1, 0}, {}, 4),
                        Expected{{1, 0}, {4, 2}}),
        // W a graph input, no bias, kernel 2x3, pads 1: out 6x4 (as shifted_runtime_w).
        std::make_tuple(Case("dw_vector_runtime_w", {1, 3, 5, 4}, {3, 1, 2, 3}, {}, {1, 1, 1, 1}, {}, 3, "", 0, 0),
                        Expected{{1, 1}, {6, 4}}),
        // 3-D: 4x3x3, kernel 2x2x2, pads 1 on the first dim only: out 5x2x2.
        std::make_tuple(Case("shifted_conv3d", {1, 4, 4, 3, 3}, {2, 4, 2, 2, 2}, {}, {1, 0, 0, 1, 0, 0}),
                        Expected{{1, 0, 0}, {5, 2, 2}})),
    [](const auto& info) { return std::get<0>(info.param).name; });

TEST(ConvLowering, CycleEngineGivesTheFunctionalBits) {
  GraphBuilder gb;
  gb.Input("x", {2, 3, 5, 5});
  gb.Constant("w", {4, 3, 3, 3}, RandomFloats(108, 5));
  gb.Constant("b", {4}, RandomFloats(4, 6));
  gb.Op("Conv", {"x", "w", "b"}, "y", {2, 4, 3, 3}, {{"strides", std::vector<int64_t>{2, 2}},
                                                    {"pads", std::vector<int64_t>{1, 1, 1, 1}}});
  gb.Output("y");
  auto prog = Compile(gb.graph(), Options(Precision::kHigh));
  ASSERT_TRUE(prog.ok()) << prog.status();
  const std::vector<float> x = RandomFloats(150, 7);
  auto f = RunOnEngine(*prog, {x}, "functional");
  auto c = RunOnEngine(*prog, {x}, "cycle");
  ASSERT_TRUE(f.ok()) << f.status();
  ASSERT_TRUE(c.ok()) << c.status();
  EXPECT_EQ(f->outputs, c->outputs);
}

// BatchNormalization parameters for C channels and the per-channel affine map in double.
struct Bn {
  std::vector<float> scale, bias, mean, var;
  float eps = 1e-3f;
  double At(int64_t c, double v) const { return (v - mean[c]) / std::sqrt(double(var[c]) + eps) * scale[c] + bias[c]; }
};
Bn MakeBn(int64_t c, uint32_t seed) {
  return {RandomFloats(c, seed), RandomFloats(c, seed + 1), RandomFloats(c, seed + 2),
          RandomFloats(c, seed + 3, 0.1f, 2.0f)};
}
void AddBn(GraphBuilder& gb, const Bn& bn, const std::string& in, const std::string& out, const Shape& shape) {
  const int64_t c = shape[1];
  gb.Constant(out + "_s", {c}, bn.scale);
  gb.Constant(out + "_b", {c}, bn.bias);
  gb.Constant(out + "_m", {c}, bn.mean);
  gb.Constant(out + "_v", {c}, bn.var);
  gb.Op("BatchNormalization", {in, out + "_s", out + "_b", out + "_m", out + "_v"}, out, shape,
        {{"epsilon", bn.eps}}, 15);
}

bool HasOpNamed(const isa::Program& prog, const std::string& prefix) {
  for (const std::string& n : prog.op_names()) {
    if (n.rfind(prefix, 0) == 0) return true;
  }
  return false;
}

TEST(BatchNormLowering, StandaloneMatchesNaiveAffine) {
  for (const Shape& shape : {Shape{2, 3, 4, 5}, Shape{5, 4}, Shape{1, 2, 3}}) {
    const Bn bn = MakeBn(shape[1], 20);
    GraphBuilder gb;
    gb.Input("x", shape);
    AddBn(gb, bn, "x", "y", shape);
    gb.Output("y");
    const std::vector<float> x = RandomFloats(static_cast<size_t>(NumElements(shape)), 21);
    const RunResult r = CompileAndRun(gb.graph(), {x});
    ASSERT_EQ(r.outputs.size(), 1u);
    int64_t plane = NumElements(shape) / (shape[0] * shape[1]);
    std::vector<double> want(x.size()), bound(x.size());
    for (size_t i = 0; i < x.size(); ++i) {
      const int64_t c = (static_cast<int64_t>(i) / plane) % shape[1];
      want[i] = bn.At(c, x[i]);
      bound[i] = 1e-5 * (std::abs(want[i]) + 1);  // a few fp32 roundings (vector unit in fp32)
    }
    ExpectWithinBound(r.outputs[0], want, bound, "BatchNormalization " + ShapeToString(shape));
  }
}

TEST(BatchNormFolding, ConvBatchNormFoldsAndKeepsResults) {
  const Shape xs = {1, 3, 5, 5}, ys = {1, 4, 5, 5};
  const std::vector<float> x = RandomFloats(75, 30), w = RandomFloats(108, 31), b = RandomFloats(4, 32);
  const Bn bn = MakeBn(4, 33);
  for (bool expose_conv : {false, true}) {
    GraphBuilder gb;
    gb.Input("x", xs);
    gb.Constant("w", {4, 3, 3, 3}, w);
    gb.Constant("b", {4}, b);
    gb.Op("Conv", {"x", "w", "b"}, "c", ys, {{"pads", std::vector<int64_t>{1, 1, 1, 1}}});
    AddBn(gb, bn, "c", "y", ys);
    gb.Output("y");
    if (expose_conv) gb.Output("c");  // a second reader of c: no folding
    isa::Program prog;
    const RunResult r = CompileAndRun(gb.graph(), {x}, Precision::kHighest, &prog);
    ASSERT_FALSE(r.outputs.empty());
    EXPECT_EQ(HasOpNamed(prog, "BatchNormalization"), expose_conv) << "expose_conv " << expose_conv;
    // Unfolded reference: conv in double, then the affine map in double.
    ConvCase cc = Case("c", xs, {4, 3, 3, 3});
    const Ref ref = NaiveConv(cc, x, w, b, {1, 1}, {5, 5});
    std::vector<double> want(ref.y.size()), bound(ref.y.size());
    for (size_t i = 0; i < want.size(); ++i) {
      const int64_t c = static_cast<int64_t>(i) / 25;
      want[i] = bn.At(c, ref.y[i]);
      const double gain = std::abs(bn.scale[c]) / std::sqrt(double(bn.var[c]) + bn.eps);
      bound[i] = 1e-5 * (gain * ref.mag[i] + std::abs(want[i]) + 1e-3);
    }
    ExpectWithinBound(r.outputs[0], want, bound, expose_conv ? "unfolded" : "folded");
  }
}

TEST(BatchNormFolding, GemmAndMatMulBatchNormFold) {
  const std::vector<float> a = RandomFloats(5 * 6, 40), w = RandomFloats(6 * 3, 41), c = RandomFloats(3, 42);
  const Bn bn = MakeBn(3, 43);
  for (const std::string op : {"Gemm", "MatMul"}) {
    GraphBuilder gb;
    gb.Input("a", {5, 6});
    gb.Constant("w", {3, 6}, w);  // Gemm: transB = 1; MatMul: used as [6, 3] (same bytes)
    std::vector<std::string> ins = {"a", "w"};
    std::map<std::string, Attribute> attrs;
    if (op == "Gemm") {
      ins.push_back(gb.Constant("c", {3}, c));
      attrs = {{"transB", int64_t{1}}, {"alpha", 0.5f}, {"beta", 2.0f}};
    } else {
      gb.graph().values["w"].constant = *gb.graph().values["w"].constant->Reshaped({6, 3});
      gb.graph().values["w"].shape = Shape{6, 3};
    }
    gb.Op(op, ins, "h", {5, 3}, attrs);
    AddBn(gb, bn, "h", "y", {5, 3});
    gb.Output("y");
    isa::Program prog;
    const RunResult r = CompileAndRun(gb.graph(), {a}, Precision::kHighest, &prog);
    ASSERT_FALSE(r.outputs.empty()) << op;
    EXPECT_FALSE(HasOpNamed(prog, "BatchNormalization")) << op;
    std::vector<double> want(15), bound(15);
    for (int64_t m = 0; m < 5; ++m) {
      for (int64_t n = 0; n < 3; ++n) {
        double acc = 0, mag = 0;
        for (int64_t k = 0; k < 6; ++k) {
          const double bw = op == "Gemm" ? w[n * 6 + k] : w[k * 3 + n];
          acc += a[m * 6 + k] * bw;
          mag += std::abs(a[m * 6 + k] * bw);
        }
        const double h = op == "Gemm" ? 0.5 * acc + 2.0 * c[n] : acc;
        want[m * 3 + n] = bn.At(n, h);
        bound[m * 3 + n] = 1e-5 * (std::abs(bn.scale[n]) / std::sqrt(double(bn.var[n]) + bn.eps) * (mag + 4) + 1);
      }
    }
    ExpectWithinBound(r.outputs[0], want, bound, op);
  }
}

TEST(PadLowering, ConstantModeGrowsAndCrops) {
  // x [2, 3, 4]; pads begin (0, 1, -1), end (1, 2, 2): out [3, 6, 5]; y[i][j][k] = x[i][j-1][k+1] inside.
  GraphBuilder gb;
  gb.Input("x", {2, 3, 4});
  Value& pads = gb.graph().AddValue("pads", DataType::kInt64, Shape{6});
  pads.constant = Tensor::FromInt64s({6}, {0, 1, -1, 1, 2, 2});
  gb.Constant("v", {}, {2.5f});
  gb.Op("Pad", {"x", "pads", "v"}, "y", {3, 6, 5}, {}, 13);
  gb.Output("y");
  std::vector<float> x(24);
  for (size_t i = 0; i < x.size(); ++i) x[i] = static_cast<float>(i);
  const RunResult r = CompileAndRun(gb.graph(), {x});
  ASSERT_EQ(r.outputs.size(), 1u);
  std::vector<float> want;
  for (int i = 0; i < 3; ++i) {
    for (int j = 0; j < 6; ++j) {
      for (int k = 0; k < 5; ++k) {
        const int sj = j - 1, sk = k + 1;
        const bool in = i < 2 && sj >= 0 && sj < 3 && sk < 4;
        want.push_back(in ? x[(i * 3 + sj) * 4 + sk] : 2.5f);
      }
    }
  }
  EXPECT_EQ(r.outputs[0], want);
}

TEST(ConvFamilySupport, UnsupportedFormsAreUnimplementedAndNamed) {
  GraphBuilder gb;
  gb.Input("x", {1, 2, 3, 3});
  gb.Op("Pad", {"x"}, "p", {1, 2, 5, 5}, {{"mode", std::string("wrap")},
                                           {"pads", std::vector<int64_t>{0, 0, 1, 1, 0, 0, 1, 1}}}, 2);
  absl::Status s = CheckTpuSupport(gb.graph().nodes[0], gb.graph());
  EXPECT_EQ(s.code(), absl::StatusCode::kUnimplemented);
  EXPECT_THAT(std::string(s.message()), ::testing::HasSubstr("wrap"));

  gb.Input("mean", {2});
  gb.Constant("one", {2}, {1, 1});
  gb.Op("BatchNormalization", {"x", "one", "one", "mean", "one"}, "y", {1, 2, 3, 3}, {}, 15);
  s = CheckTpuSupport(gb.graph().nodes[1], gb.graph());
  EXPECT_EQ(s.code(), absl::StatusCode::kUnimplemented);
  EXPECT_THAT(std::string(s.message()), ::testing::HasSubstr("mean"));

  gb.Op("BatchNormalization", {"x", "one", "one", "one", "one"}, "z", {1, 2, 3, 3},
        {{"training_mode", int64_t{1}}}, 15);
  s = CheckTpuSupport(gb.graph().nodes[2], gb.graph());
  EXPECT_TRUE(s.ok()) << s;  // training mode: expanded into TPU ops (expand_batchnorm_training.cc)

  gb.Constant("w", {2, 2, 2, 2}, RandomFloats(16, 1));
  gb.Op("Conv", {"x", "w"}, "c", {1, 2, 2, 2}, {{"group", int64_t{3}}});
  s = CheckTpuSupport(gb.graph().nodes[3], gb.graph());
  EXPECT_EQ(s.code(), absl::StatusCode::kUnimplemented);
  EXPECT_THAT(std::string(s.message()), ::testing::HasSubstr("group"));
}

}  // namespace
}  // namespace tpusim::compiler::testing
