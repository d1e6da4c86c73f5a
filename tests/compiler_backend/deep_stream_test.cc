// Deep streams (compiler_backend/src/codegen_stream_deep.h) and the GEMM's k-tile-major order over the
// n-tiles of a resident m-tile (codegen_gemm.cc, interleave).
//
// Deep streams: the conv lowerings that move data through them (the padded input and output pick of
// the shifted GEMM, the residual pick, the im2col of several kernel offsets, the batch reorder) checked
// against a naive double-precision convolution written here, on the functional and cycle engines and
// both schedules, on tiny (512 UB rows: the streams here have more chunks than the 4 slots hold, so
// slots are reused and their WAR hazards must be ordered). bf16
// bound: each product rounds its operands to 8 mantissa bits, |error| <= 2^-7 * sum |x * w| + 1e-6.
#include <algorithm>
#include <cmath>
#include <string>
#include <vector>

#include "codegen_test_util.h"
#include "gtest/gtest.h"
#include "tpusim/isa/isa.h"

namespace tpusim::compiler::testing {
namespace {

struct Case {
  std::string name;
  Shape x, w;
  int64_t stride, pad;
  bool residual;  // y = relu(conv + r), r a graph input (the fused residual pick)
};

Shape OutShape(const Case& c) {
  Shape y = {c.x[0], c.w[0]};
  for (size_t d = 2; d < c.x.size(); ++d) y.push_back((c.x[d] + 2 * c.pad - c.w[d]) / c.stride + 1);
  return y;
}

Graph ConvGraph(const Case& c) {
  GraphBuilder gb;
  gb.Input("x", c.x);
  gb.Constant("w", c.w, RandomFloats(static_cast<size_t>(NumElements(c.w)), 51));
  const Shape ys = OutShape(c);
  std::vector<int64_t> pads(4, c.pad);
  gb.Op("Conv", {"x", "w"}, c.residual ? "conv" : "y", ys,
        {{"pads", pads}, {"strides", std::vector<int64_t>{c.stride, c.stride}}}, 11);
  if (c.residual) {
    gb.Input("r", ys);
    gb.Op("Add", {"conv", "r"}, "sum", ys, {}, 14);
    gb.Op("Relu", {"sum"}, "y", ys, {}, 14);
  }
  gb.Output("y");
  return gb.graph();
}

// Naive 2-D conv (group 1): values and sum |x * w| (+ |r|) per output.
void Reference(const Case& c, const std::vector<float>& x, const std::vector<float>& r, std::vector<double>& y,
               std::vector<double>& mag) {
  const std::vector<float> w = RandomFloats(static_cast<size_t>(NumElements(c.w)), 51);
  const Shape ys = OutShape(c);
  const int64_t C = c.x[1], H = c.x[2], W = c.x[3], KH = c.w[2], KW = c.w[3];
  size_t i = 0;
  for (int64_t n = 0; n < c.x[0]; ++n) {
    for (int64_t m = 0; m < c.w[0]; ++m) {
      for (int64_t oh = 0; oh < ys[2]; ++oh) {
        for (int64_t ow = 0; ow < ys[3]; ++ow, ++i) {
          double acc = 0, abs = 0;
          for (int64_t ci = 0; ci < C; ++ci) {
            for (int64_t kh = 0; kh < KH; ++kh) {
              for (int64_t kw = 0; kw < KW; ++kw) {
                const int64_t ih = oh * c.stride - c.pad + kh, iw = ow * c.stride - c.pad + kw;
                if (ih < 0 || ih >= H || iw < 0 || iw >= W) continue;
                const double p = static_cast<double>(x[static_cast<size_t>(((n * C + ci) * H + ih) * W + iw)]) *
                                 w[static_cast<size_t>(((m * C + ci) * KH + kh) * KW + kw)];
                acc += p;
                abs += std::abs(p);
              }
            }
          }
          if (c.residual) {
            acc = std::max(0.0, acc + r[i]);
            abs += std::abs(r[i]);
          }
          y.push_back(acc);
          mag.push_back(abs);
        }
      }
    }
  }
}

TEST(DeepStream, ConvDataMovementMatchesNaiveConvolution) {
  const std::vector<Case> cases = {
      // 8 channels (>= 8 / 2, unpacked shifted GEMM): padded copy of 8 channels x 70 image rows (560
      // UB rows; slots hold 512 / 4 = 128 rows, so 5 chunks and slot 0 is reused) and the output pick.
      {"shifted_c8_pad1", {1, 8, 70, 5}, {6, 8, 3, 3}, 1, 1, false},
      // The residual pick is binary (64-row slots): 8 x 40 = 320 rows, 5 chunks.
      {"shifted_c8_residual", {1, 8, 40, 6}, {8, 8, 3, 3}, 1, 1, true},
      // 3 channels, stride 2: im2col, the 9 kernel offsets streamed together (9 x 3 x 23 = 621 rows).
      {"im2col_c3_stride2", {1, 3, 45, 7}, {5, 3, 3, 3}, 2, 1, false},
      // batch 2: im2col (9 x 3 x 2 x 30 rows) and the [Cout][N][out] -> [N][Cout][out] reorder.
      {"im2col_batch2", {2, 3, 30, 6}, {4, 3, 3, 3}, 1, 1, false},
  };
  for (const Case& c : cases) {
    const std::vector<float> x = RandomFloats(static_cast<size_t>(NumElements(c.x)), 52);
    const std::vector<float> r = RandomFloats(static_cast<size_t>(NumElements(OutShape(c))), 53);
    std::vector<double> want, mag;
    Reference(c, x, r, want, mag);
    std::vector<std::vector<float>> inputs = {x};
    if (c.residual) inputs.push_back(r);
    for (Schedule schedule : {Schedule::kTokens, Schedule::kSerial}) {
      CompileOptions o = Options(Precision::kBf16);
      o.schedule = schedule;
      auto prog = Compile(ConvGraph(c), o);
      ASSERT_TRUE(prog.ok()) << c.name << ": " << prog.status();
      ASSERT_TRUE(isa::ValidateProgram(*prog).ok()) << c.name;
      for (const std::string engine : {"functional", "cycle"}) {
        auto res = RunOnEngine(*prog, inputs, engine);
        ASSERT_TRUE(res.ok()) << c.name << " " << engine << ": " << res.status();
        const std::vector<float>& got = res->outputs[0];
        ASSERT_EQ(got.size(), want.size()) << c.name;
        for (size_t i = 0; i < got.size(); ++i) {
          ASSERT_LE(std::abs(got[i] - want[i]), std::ldexp(mag[i], -7) + 1e-6)
              << c.name << " " << engine << " " << ScheduleName(schedule) << " element " << i;
        }
      }
    }
  }
}

TEST(GemmInterleave, FewNTilesResidentMatchesNaiveLoopWithBiasAndResidual) {
  // Gemm Y = relu(A . B + bias + C) as Gemm then Add then Relu, on tiny: M = 10 (resident; 2 x 3 x 10 accumulator rows <= 64), K = 20 (3
  // k-tiles of the 8-row array), N = 19 (3 n-tiles, one partial): under kTokens the MATMULs of the 3
  // n-tiles alternate per k-tile, each with its own accumulator region and bias row. Reference: a
  // naive double loop; bf16 bound |error| <= 2^-7 * sum |a * b| + 1e-6 (plus |bias| + |c| exactly).
  const int64_t M = 10, K = 20, N = 19;
  const std::vector<float> a = RandomFloats(M * K, 61), b = RandomFloats(K * N, 62), bias = RandomFloats(N, 63);
  const std::vector<float> c = RandomFloats(M * N, 64);
  GraphBuilder gb;
  gb.Input("a", {M, K});
  gb.Input("c", {M, N});
  gb.Constant("b", {K, N}, b);
  gb.Constant("bias", {N}, bias);
  gb.Op("Gemm", {"a", "b", "bias"}, "g", {M, N}, {}, 13);
  gb.Op("Add", {"g", "c"}, "s", {M, N}, {}, 14);
  gb.Op("Relu", {"s"}, "y", {M, N}, {}, 14);
  gb.Output("y");
  std::vector<double> want, mag;
  for (int64_t m = 0; m < M; ++m) {
    for (int64_t n = 0; n < N; ++n) {
      double acc = bias[static_cast<size_t>(n)], abs = 0;
      for (int64_t k = 0; k < K; ++k) {
        const double p = static_cast<double>(a[static_cast<size_t>(m * K + k)]) * b[static_cast<size_t>(k * N + n)];
        acc += p;
        abs += std::abs(p);
      }
      want.push_back(std::max(0.0, acc + c[static_cast<size_t>(m * N + n)]));
      mag.push_back(abs);
    }
  }
  for (Schedule schedule : {Schedule::kTokens, Schedule::kSerial}) {
    CompileOptions o = Options(Precision::kBf16);
    o.schedule = schedule;
    auto prog = Compile(gb.graph(), o);
    ASSERT_TRUE(prog.ok()) << prog.status();
    if (schedule == Schedule::kTokens) {  // the first three MATMULs: k-tile 0 of n-tiles 0, 1, 2
      auto code = isa::DecodeCode(*prog);
      ASSERT_TRUE(code.ok()) << code.status();
      std::vector<uint64_t> acc_rows;
      for (const isa::Instruction& inst : *code) {
        if (inst.opcode == isa::Opcode::MATMUL && acc_rows.size() < 3) acc_rows.push_back(inst.as<isa::MatmulArgs>().acc_row);
      }
      EXPECT_EQ(acc_rows, (std::vector<uint64_t>{0, 10, 20}));
    }
    for (const std::string engine : {"functional", "cycle"}) {
      auto res = RunOnEngine(*prog, {a, c}, engine);
      ASSERT_TRUE(res.ok()) << engine << ": " << res.status();
      ASSERT_EQ(res->outputs[0].size(), want.size());
      for (size_t i = 0; i < want.size(); ++i) {
        ASSERT_LE(std::abs(res->outputs[0][i] - want[i]), std::ldexp(mag[i], -7) + 1e-5)
            << engine << " " << ScheduleName(schedule) << " element " << i;
      }
    }
  }
}

}  // namespace
}  // namespace tpusim::compiler::testing
