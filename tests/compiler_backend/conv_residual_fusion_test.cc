// Residual fusion (lower_fused.cc FindResidualFusions, lower_conv.cc, lower_conv_residual.cc,
// GemmEpilogue::c_then_func): Conv -> Add(other) [-> Relu | Sigmoid | Tanh] becomes one Conv that writes
// func(conv + bias + other). The fused form runs the same fp32 operations in the same order as the
// unfused nodes (ACTIVATE adds the bias, one VECTOR add, the activation as the VECTOR op of the same
// numerics function), so fused and unfused outputs must agree bit for bit, on the functional and the
// cycle engine, under both schedules. Fusion is blocked by making the Add's input a graph output. A
// naive double-precision reference loop written here checks the values at precision highest.
//
// Cases (tiny: 8x8 array) cover every conv form: 1x1 direct GEMM (residual in the GEMM epilogue), 1x1
// stride 2 (im2col GEMM), 3x3 shifted GEMM (>= 4 channels; pick + add + act in one pass), shifted with
// stride 2, packed shifted GEMM (4 channels), grouped and batch-2 im2col (a separate vector pass), the
// depthwise vector conv; odd spatial
// sizes and channel counts that are not multiples of the array. The downsample pattern (the residual is
// a second conv that comes later in the graph) makes the later conv the head.
#include <cmath>
#include <string>
#include <vector>

#include "codegen_test_util.h"
#include "gtest/gtest.h"

namespace tpusim::compiler::testing {
namespace {

struct Case {
  std::string name;
  Shape x, w, y;
  int64_t group, stride, pad;
};

std::map<std::string, Attribute> ConvAttrs(const Case& c) {
  return {{"pads", std::vector<int64_t>{c.pad, c.pad, c.pad, c.pad}},
          {"strides", std::vector<int64_t>{c.stride, c.stride}},
          {"group", c.group}};
}

// x -> Conv(w, b) = h; y = act(h + r) with r a graph input (or, downsample, a second 1x1 conv of x
// with the same stride listed after the first). act "" = no activation. expose: h is a graph output.
Graph Residual(const Case& c, const std::string& act, bool downsample, bool expose) {
  GraphBuilder gb;
  gb.Input("x", c.x);
  gb.Constant("w", c.w, RandomFloats(static_cast<size_t>(NumElements(c.w)), 31));
  gb.Constant("b", {c.w[0]}, RandomFloats(static_cast<size_t>(c.w[0]), 32));
  gb.Op("Conv", {"x", "w", "b"}, "h", c.y, ConvAttrs(c), 11);
  if (downsample) {
    const Shape wd = {c.y[1], c.x[1], 1, 1};
    gb.Constant("wd", wd, RandomFloats(static_cast<size_t>(NumElements(wd)), 33));
    gb.Op("Conv", {"x", "wd"}, "r", c.y,
          {{"strides", std::vector<int64_t>{c.stride, c.stride}}, {"pads", std::vector<int64_t>{0, 0, 0, 0}}}, 11);
  } else {
    gb.Input("r", c.y);
  }
  gb.Op("Add", {"r", "h"}, "s", c.y);
  if (!act.empty()) gb.Op(act, {"s"}, "y", c.y);
  gb.Output(act.empty() ? "s" : "y");
  if (expose) gb.Output("h");
  return gb.graph();
}

std::vector<Case> Cases() {
  // Output extents: floor((in + 2 * pad - k) / stride) + 1.
  return {
      {"direct_1x1", {1, 5, 3, 5}, {11, 5, 1, 1}, {1, 11, 3, 5}, 1, 1, 0},
      {"im2col_1x1_stride2", {1, 6, 5, 7}, {9, 6, 1, 1}, {1, 9, 3, 4}, 1, 2, 0},
      {"shifted_3x3", {1, 5, 5, 3}, {10, 5, 3, 3}, {1, 10, 5, 3}, 1, 1, 1},
      {"shifted_3x3_stride2", {1, 6, 7, 5}, {3, 6, 3, 3}, {1, 3, 4, 3}, 1, 2, 1},
      {"im2col_grouped_batch2", {2, 4, 5, 3}, {6, 2, 3, 3}, {2, 6, 5, 3}, 2, 1, 1},
      {"depthwise_vector", {1, 10, 5, 3}, {10, 1, 3, 3}, {1, 10, 5, 3}, 10, 1, 1},
      {"packed_shifted_3x3", {1, 4, 5, 3}, {6, 4, 3, 3}, {1, 6, 5, 3}, 1, 1, 1},
  };
}

double Act(const std::string& act, double v) {
  if (act == "Relu") return v > 0 ? v : 0;
  if (act == "Sigmoid") return 1 / (1 + std::exp(-v));
  if (act == "Tanh") return std::tanh(v);
  return v;
}

// Naive NCHW conv + bias + r, then act, in double.
std::vector<double> Reference(const Case& c, const std::string& act, const std::vector<float>& x,
                              const std::vector<float>& r) {
  const std::vector<float> w = RandomFloats(static_cast<size_t>(NumElements(c.w)), 31);
  const std::vector<float> b = RandomFloats(static_cast<size_t>(c.w[0]), 32);
  const int64_t N = c.x[0], C = c.x[1], H = c.x[2], W = c.x[3], M = c.y[1], OH = c.y[2], OW = c.y[3];
  const int64_t KH = c.w[2], KW = c.w[3], cg = C / c.group, mg = M / c.group;
  std::vector<double> y;
  for (int64_t n = 0; n < N; ++n) {
    for (int64_t m = 0; m < M; ++m) {
      for (int64_t oh = 0; oh < OH; ++oh) {
        for (int64_t ow = 0; ow < OW; ++ow) {
          double acc = b[static_cast<size_t>(m)];
          for (int64_t ci = 0; ci < cg; ++ci) {
            const int64_t cin = (m / mg) * cg + ci;
            for (int64_t kh = 0; kh < KH; ++kh) {
              for (int64_t kw = 0; kw < KW; ++kw) {
                const int64_t ih = oh * c.stride - c.pad + kh, iw = ow * c.stride - c.pad + kw;
                if (ih < 0 || ih >= H || iw < 0 || iw >= W) continue;
                acc += static_cast<double>(x[static_cast<size_t>(((n * C + cin) * H + ih) * W + iw)]) *
                       w[static_cast<size_t>(((m * cg + ci) * KH + kh) * KW + kw)];
              }
            }
          }
          acc += r[y.size()];
          y.push_back(Act(act, acc));
        }
      }
    }
  }
  return y;
}

isa::Program CompileChecked(const Graph& g, Precision p, Schedule schedule) {
  CompileOptions o = Options(p);
  o.schedule = schedule;
  auto prog = Compile(g, o);
  EXPECT_TRUE(prog.ok()) << prog.status();
  if (!prog.ok()) return {};
  absl::Status valid = isa::ValidateProgram(*prog);
  EXPECT_TRUE(valid.ok()) << valid;
  return *prog;
}

// Instructions of the ops named with `prefix` (GraphBuilder names ops "<type>_<index>_<output>").
uint64_t InstructionsOf(const isa::Program& prog, const std::string& prefix) {
  const std::vector<uint64_t> per_op = InstructionsPerOp(prog);
  uint64_t n = 0;
  for (int i = 0; i < prog.op_names_size(); ++i) {
    if (prog.op_names(i).rfind(prefix, 0) == 0) n += per_op[static_cast<size_t>(i)];
  }
  return n;
}

TEST(ConvResidualFusion, FusedMatchesUnfusedBitForBitOnBothEngines) {
  for (const Case& c : Cases()) {
    for (const std::string act : {"Relu", "", "Sigmoid"}) {
      const std::vector<float> x = RandomFloats(static_cast<size_t>(NumElements(c.x)), 34);
      const std::vector<float> r = RandomFloats(static_cast<size_t>(NumElements(c.y)), 35);
      for (Precision p : {Precision::kBf16, Precision::kHighest}) {
        for (Schedule schedule : {Schedule::kTokens, Schedule::kSerial}) {
          const std::string what = c.name + " act=" + act + " " + std::string(PrecisionName(p)) +
                                   (schedule == Schedule::kTokens ? " tokens" : " serial");
          const isa::Program fused = CompileChecked(Residual(c, act, false, false), p, schedule);
          const isa::Program unfused = CompileChecked(Residual(c, act, false, true), p, schedule);
          EXPECT_EQ(InstructionsOf(fused, "Add_"), 0u) << what << ": the Add is fused into the Conv";
          EXPECT_GT(InstructionsOf(unfused, "Add_"), 0u) << what << ": h is a graph output, nothing fused";
          for (const std::string engine : {"functional", "cycle"}) {
            auto f = RunOnEngine(fused, {x, r}, engine);
            auto u = RunOnEngine(unfused, {x, r}, engine);
            ASSERT_TRUE(f.ok()) << what << " " << engine << ": " << f.status();
            ASSERT_TRUE(u.ok()) << what << " " << engine << ": " << u.status();
            EXPECT_EQ(f->outputs[0], u->outputs[0]) << what << " on " << engine;
            if (p == Precision::kHighest) {
              // ~fp32 GEMM (six bf16 passes): inputs and weights in [-1, 1], at most 54 products per
              // output, so |sum| <= 56 and fp32 rounding stays far below 1e-4.
              EXPECT_LT(MaxAbsError(f->outputs[0], Reference(c, act, x, r)), 1e-4) << what;
            }
          }
        }
      }
    }
  }
}

TEST(ConvResidualFusion, DownsampleBlockFusesIntoTheLaterConv) {
  // Add(r, h) with r = a 1x1 conv listed after h's conv: the later conv (producing r) is the head and
  // reads h; both orders of computing are the same fp32 add.
  for (const Case& c : {Cases()[0], Cases()[1], Cases()[2], Cases()[3]}) {
    const std::vector<float> x = RandomFloats(static_cast<size_t>(NumElements(c.x)), 36);
    for (Precision p : {Precision::kBf16, Precision::kHighest}) {
      const isa::Program fused = CompileChecked(Residual(c, "Relu", true, false), p, Schedule::kTokens);
      const isa::Program unfused = CompileChecked(Residual(c, "Relu", true, true), p, Schedule::kTokens);
      EXPECT_EQ(InstructionsOf(fused, "Add_"), 0u) << c.name;
      EXPECT_EQ(InstructionsOf(fused, "Relu_"), 0u) << c.name;
      for (const std::string engine : {"functional", "cycle"}) {
        auto f = RunOnEngine(fused, {x}, engine);
        auto u = RunOnEngine(unfused, {x}, engine);
        ASSERT_TRUE(f.ok()) << c.name << ": " << f.status();
        ASSERT_TRUE(u.ok()) << c.name << ": " << u.status();
        EXPECT_EQ(f->outputs[0], u->outputs[0]) << c.name << " " << engine;
        for (float v : f->outputs[0]) EXPECT_GE(v, 0.0f) << c.name;
      }
    }
  }
}

TEST(ConvResidualFusion, BroadcastingAddIsNotFused) {
  // r [1, C, 1, 1] broadcasts over the positions: not a residual of the conv's shape, left to Add.
  const Case c = Cases()[0];
  GraphBuilder gb;
  gb.Input("x", c.x);
  gb.Constant("w", c.w, RandomFloats(static_cast<size_t>(NumElements(c.w)), 31));
  gb.Op("Conv", {"x", "w"}, "h", c.y, ConvAttrs(c), 11);
  gb.Input("r", {1, c.y[1], 1, 1});
  gb.Op("Add", {"h", "r"}, "y", c.y);
  gb.Output("y");
  const isa::Program prog = CompileChecked(gb.graph(), Precision::kBf16, Schedule::kTokens);
  EXPECT_GT(InstructionsOf(prog, "Add_"), 0u);
}

}  // namespace
}  // namespace tpusim::compiler::testing
