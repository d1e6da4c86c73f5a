// Codegen for several matrix units (GemmPlan::units > 1): GEMMs and convolutions compiled for `tiny`
// variants with mxu_count 2 or 4, run on the functional engine and compared with naive loops written
// here (double accumulation); the programs must drive every unit and, in program order, never hold
// more than weight_fifo_depth tiles in any unit's FIFO (opcodes.def LOAD_WEIGHTS / MATMUL); the cycle
// engine must produce the functional engine's bits.
//
// Error bounds per output element, S = sum_k |a_k b_k| (+ |bias| or |beta c|): bf16 (one pass) rounds
// both operands to bf16 (2^-9 relative each, so (2^-8 + 2^-18) S for the product) plus fp32
// accumulation over K <= 400 terms (< 2^-15 S): 3 * 2^-8 * S + 1e-6 covers both with margin. highest
// (six bf16 passes) is within a few fp32 ulps of S: 1e-5 * (S + 1e-3).
#include <algorithm>
#include <cmath>
#include <string>
#include <vector>

#include "codegen_test_util.h"
#include "gtest/gtest.h"
#include "tpusim/isa/program.h"

namespace tpusim::compiler::testing {
namespace {

// tiny (8x8 arrays, 64 accumulator rows, FIFO depth 2) with `units` matrix units. `fast_dram`: 1 TB/s
// (a weight tile moves in one cycle), where cutting an m-tile's rows over the units pays off.
CompileOptions UnitOptions(uint32_t units, Precision p, bool fast_dram = false) {
  CompileOptions o = Options(p);
  o.arch.set_mxu_count(units);
  if (fast_dram) o.arch.set_dram_bandwidth_gbps(1000);
  return o;
}

struct UnitUse {
  std::vector<uint64_t> matmuls;  // per unit
  uint64_t max_fifo = 0;          // most tiles any unit's FIFO held, in program order
  bool underflow = false;         // a pop from an empty FIFO, in program order
};

// Per unit, the MATMULs and the FIFO occupancy walking the program in order (pushes by LOAD_WEIGHTS,
// pops by MATMUL pop_weights=1).
UnitUse CountUnits(const isa::Program& prog, uint32_t units) {
  UnitUse u;
  u.matmuls.assign(units, 0);
  std::vector<int64_t> fifo(units, 0);
  auto code = isa::DecodeCode(prog);
  EXPECT_TRUE(code.ok()) << code.status();
  if (!code.ok()) return u;
  for (const isa::Instruction& inst : *code) {
    if (inst.opcode == isa::Opcode::LOAD_WEIGHTS) {
      const uint64_t m = inst.as<isa::WeightsArgs>().mxu;
      EXPECT_LT(m, units);
      if (m >= units) continue;
      u.max_fifo = std::max<uint64_t>(u.max_fifo, static_cast<uint64_t>(++fifo[m]));
    } else if (inst.opcode == isa::Opcode::MATMUL) {
      const isa::MatmulArgs& a = inst.as<isa::MatmulArgs>();
      EXPECT_LT(a.mxu, units);
      if (a.mxu >= units) continue;
      u.matmuls[a.mxu]++;
      if (a.pop_weights != 0 && --fifo[a.mxu] < 0) u.underflow = true;
    }
  }
  return u;
}

// Compiles for `o`, checks every unit is used within the FIFO bound, runs on the functional engine
// (and, when `cycle`, on the cycle engine: same bits) and returns the outputs.
std::vector<std::vector<float>> CompileRunAndCheckUnits(const Graph& g, const CompileOptions& o,
                                                         const std::vector<std::vector<float>>& inputs,
                                                         bool cycle, const std::string& what) {
  auto prog = Compile(g, o);
  EXPECT_TRUE(prog.ok()) << what << ": " << prog.status();
  if (!prog.ok()) return {};
  const UnitUse use = CountUnits(*prog, o.arch.mxu_count());
  for (uint32_t m = 0; m < o.arch.mxu_count(); ++m) EXPECT_GT(use.matmuls[m], 0u) << what << ": unit " << m << " idle";
  EXPECT_LE(use.max_fifo, o.arch.weight_fifo_depth()) << what;
  EXPECT_FALSE(use.underflow) << what;
  auto f = RunOnEngine(*prog, inputs, "functional");
  EXPECT_TRUE(f.ok()) << what << ": " << f.status();
  if (!f.ok()) return {};
  if (cycle) {
    auto c = RunOnEngine(*prog, inputs, "cycle");
    EXPECT_TRUE(c.ok()) << what << ": " << c.status();
    if (c.ok()) {
      EXPECT_EQ(c->outputs, f->outputs) << what;
    }
  }
  return f->outputs;
}

std::vector<double> Bound(const std::vector<double>& mag, Precision p) {
  std::vector<double> b(mag.size());
  for (size_t i = 0; i < b.size(); ++i) b[i] = p == Precision::kHighest ? 1e-5 * (mag[i] + 1e-3) : 3.0 / 256 * mag[i] + 1e-6;
  return b;
}

// Y = alpha * A B + beta * C (C [N] a bias row, or [M, N]), naive, with the magnitudes.
struct Ref {
  std::vector<double> y, mag;
};
Ref NaiveGemm(int64_t M, int64_t N, int64_t K, const std::vector<float>& a, const std::vector<float>& b,
              const std::vector<float>& c, bool c_full, double alpha, double beta) {
  Ref r{std::vector<double>(M * N), std::vector<double>(M * N)};
  for (int64_t m = 0; m < M; ++m) {
    for (int64_t n = 0; n < N; ++n) {
      double acc = 0, mag = 0;
      for (int64_t k = 0; k < K; ++k) {
        acc += double(a[m * K + k]) * b[k * N + n];
        mag += std::abs(double(a[m * K + k]) * b[k * N + n]);
      }
      const double cv = c_full ? c[m * N + n] : c[n];
      r.y[m * N + n] = alpha * acc + beta * cv;
      r.mag[m * N + n] = std::abs(alpha) * mag + std::abs(beta * cv);
    }
  }
  return r;
}

void RunGemmCase(int64_t M, int64_t N, int64_t K, bool c_full, float alpha, float beta, uint32_t units,
                 bool fast_dram, const std::string& name) {
  const std::vector<float> a = RandomFloats(M * K, 11), b = RandomFloats(K * N, 12);
  const std::vector<float> c = RandomFloats(c_full ? M * N : N, 13);
  const Ref ref = NaiveGemm(M, N, K, a, b, c, c_full, alpha, beta);
  for (Precision p : {Precision::kBf16, Precision::kHighest}) {
    GraphBuilder gb;
    gb.Input("a", {M, K});
    gb.Constant("b", {K, N}, b);
    gb.Constant("c", c_full ? Shape{M, N} : Shape{N}, c);
    gb.Op("Gemm", {"a", "b", "c"}, "y", {M, N}, {{"alpha", alpha}, {"beta", beta}});
    gb.Output("y");
    const std::string what = name + " at " + std::string(PrecisionName(p));
    const auto out = CompileRunAndCheckUnits(gb.graph(), UnitOptions(units, p, fast_dram), {a}, p == Precision::kBf16, what);
    ASSERT_EQ(out.size(), 1u) << what;
    ExpectWithinBound(out[0], ref.y, Bound(ref.mag, p), what);
  }
}

// 36 columns = 5 n-tiles of 8 (the last 4 wide): waves of 4 n-tiles then 1, over 4 units, with the
// bias-row epilogue (C [N], alpha = beta = 1).
TEST(CodegenMxu, GemmColumnTilesOverFourUnitsWithBias) {
  RunGemmCase(/*M=*/60, /*N=*/36, /*K=*/40, /*c_full=*/false, 1.0f, 1.0f, 4, false, "bias 60x36x40");
}

// A full C with alpha and beta (the vector-unit epilogue) and 2 units; M beyond one wave's
// accumulator share (64 rows / 2 tiles), so several m-tiles.
TEST(CodegenMxu, GemmWithFullCOverTwoUnits) {
  RunGemmCase(/*M=*/100, /*N=*/20, /*K=*/30, /*c_full=*/true, 0.5f, 2.0f, 2, false, "C 100x20x30");
}

// One n-tile (N = 8) and many rows on fast DRAM: the rows are cut over the 4 units, each with its own
// copy of every weight tile.
TEST(CodegenMxu, NarrowGemmSplitsRowsOverUnits) {
  RunGemmCase(/*M=*/200, /*N=*/8, /*K=*/24, /*c_full=*/false, 1.0f, 1.0f, 4, true, "narrow 200x8x24");
}

// K = 400 (50 k-tiles): an m-tile's A does not fit tiny's 512 UB rows, so A comes in chunks per wave;
// 4 n-tiles over 4 units.
TEST(CodegenMxu, LongReductionLoadsAInChunks) {
  RunGemmCase(/*M=*/40, /*N=*/32, /*K=*/400, /*c_full=*/false, 1.0f, 1.0f, 4, false, "long K 40x32x400");
}

// Naive NCHW 3x3 convolution, stride 1, pads 1, batch 1, with bias.
Ref NaiveConv3x3(int64_t C, int64_t H, int64_t W, int64_t M, const std::vector<float>& x, const std::vector<float>& w,
                 const std::vector<float>& bias) {
  Ref r{std::vector<double>(M * H * W), std::vector<double>(M * H * W)};
  for (int64_t m = 0; m < M; ++m) {
    for (int64_t i = 0; i < H; ++i) {
      for (int64_t j = 0; j < W; ++j) {
        double acc = bias[m], mag = std::abs(double(bias[m]));
        for (int64_t c = 0; c < C; ++c) {
          for (int64_t di = 0; di < 3; ++di) {
            for (int64_t dj = 0; dj < 3; ++dj) {
              const int64_t ii = i + di - 1, jj = j + dj - 1;
              if (ii < 0 || ii >= H || jj < 0 || jj >= W) continue;
              const double p = double(x[(c * H + ii) * W + jj]) * w[((m * C + c) * 3 + di) * 3 + dj];
              acc += p;
              mag += std::abs(p);
            }
          }
        }
        r.y[(m * H + i) * W + j] = acc;
        r.mag[(m * H + i) * W + j] = mag;
      }
    }
  }
  return r;
}

void RunConvCase(int64_t C, int64_t H, int64_t W, int64_t M, uint32_t units, bool fast_dram, const std::string& name) {
  const std::vector<float> x = RandomFloats(C * H * W, 21), w = RandomFloats(M * C * 9, 22), b = RandomFloats(M, 23);
  const Ref ref = NaiveConv3x3(C, H, W, M, x, w, b);
  for (Precision p : {Precision::kBf16, Precision::kHighest}) {
    GraphBuilder gb;
    gb.Input("x", {1, C, H, W});
    gb.Constant("w", {M, C, 3, 3}, w);
    gb.Constant("b", {M}, b);
    gb.Op("Conv", {"x", "w", "b"}, "y", {1, M, H, W}, {{"pads", std::vector<int64_t>{1, 1, 1, 1}}}, 11);
    gb.Output("y");
    const std::string what = name + " at " + std::string(PrecisionName(p));
    const auto out = CompileRunAndCheckUnits(gb.graph(), UnitOptions(units, p, fast_dram), {x}, p == Precision::kBf16, what);
    ASSERT_EQ(out.size(), 1u) << what;
    ExpectWithinBound(out[0], ref.y, Bound(ref.mag, p), what);
  }
}

// 16 output channels = 2 n-tiles on 2 units.
TEST(CodegenMxu, ConvOverTwoUnits) { RunConvCase(/*C=*/5, /*H=*/9, /*W=*/11, /*M=*/16, 2, false, "conv 5->16"); }

// 8 output channels (one n-tile) over 4 units: rows cut over the units.
TEST(CodegenMxu, NarrowConvSplitsRowsOverFourUnits) {
  RunConvCase(/*C=*/6, /*H=*/12, /*W=*/12, /*M=*/8, 4, true, "conv 6->8");
}

}  // namespace
}  // namespace tpusim::compiler::testing
