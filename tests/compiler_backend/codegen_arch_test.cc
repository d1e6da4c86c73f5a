// Codegen reads every size from the ArchConfig: non-square and odd arrays, a one-deep weight FIFO,
// few accumulator rows and a UB of a handful of rows all still produce correct programs. One graph with
// a Gemm, a fused MatMul+bias+Relu, a Softmax and a broadcast Mul runs on each variant of `tiny`.
#include <cmath>
#include <string>
#include <vector>

#include "codegen_test_util.h"
#include "gmock/gmock.h"
#include "gtest/gtest.h"
#include "tpusim/isa/arch_config.h"

namespace tpusim::compiler::testing {
namespace {

constexpr double kU = 1.0 / (1 << 24);

struct ArchVariant {
  uint32_t rows, cols, fifo, acc_entries, ub_rows;
};

isa::ArchConfig Variant(const ArchVariant& v) {
  isa::ArchConfig arch = Tiny();
  arch.set_array_rows(v.rows);
  arch.set_array_cols(v.cols);
  arch.set_weight_fifo_depth(v.fifo);
  arch.set_accumulator_entries(v.acc_entries);
  arch.set_ub_bytes(uint64_t{v.ub_rows} * std::max(v.rows, v.cols) * 4);
  arch.set_vector_lanes(std::max(v.rows, v.cols));
  return arch;
}

// y[m][n] = sum_k a(m,k) b(k,n) in double, and the highest-precision bound (codegen_gemm_test.cc
// derives it): (2^-21 + 6 passes * (2K + 1) fp32 adds * u) * sum |a b|.
template <typename FA, typename FB>
void GemmRef(int64_t M, int64_t N, int64_t K, FA a, FB b, std::vector<double>& y, std::vector<double>& s) {
  y.assign(M * N, 0);
  s.assign(M * N, 0);
  for (int64_t m = 0; m < M; ++m) {
    for (int64_t n = 0; n < N; ++n) {
      for (int64_t k = 0; k < K; ++k) {
        const double p = static_cast<double>(a(m, k)) * b(k, n);
        y[m * N + n] += p;
        s[m * N + n] += std::abs(p);
      }
    }
  }
}
double HighestFactor(int64_t K) { return std::ldexp(1.0, -21) + 6.0 * (2 * K + 1) * kU * 1.01; }

TEST(CodegenArch, NonSquareArraysSmallFifoAccumulatorsAndUb) {
  const std::vector<ArchVariant> variants = {
      {8, 4, 1, 5, 8},     // K tile > N tile, one-deep FIFO, 5 accumulator rows, 8 UB rows
      {4, 16, 3, 7, 64},   // N tile > K tile (16-lane UB rows)
      {3, 5, 2, 64, 16},   // odd sizes
      {8, 8, 2, 64, 6},    // the fewest UB rows highest precision accepts (GemmMinUbRows)
  };
  const int64_t M = 11, K = 19, N = 9;
  std::vector<float> a = RandomFloats(K * M, 1), bt = RandomFloats(N * K, 2), c = RandomFloats(M, 3);
  std::vector<float> x = RandomFloats(2 * 3 * K, 4), w = RandomFloats(K * N, 5), bias = RandomFloats(N, 6);
  std::vector<float> z = RandomFloats(3 * 50, 7, -4.0f, 4.0f), p = RandomFloats(15, 8), q = RandomFloats(4, 9);
  GraphBuilder gb;
  gb.Input("a", {K, M});  // transA
  gb.Input("bt", {N, K});  // transB, split on the vector unit
  gb.Constant("c", {M, 1}, c);
  gb.Op("Gemm", {"a", "bt", "c"}, "g", {M, N},
        {{"transA", int64_t{1}}, {"transB", int64_t{1}}, {"alpha", 0.75f}, {"beta", -1.5f}});
  gb.Input("x", {2, 3, K});
  gb.Constant("w", {K, N}, w);
  gb.Constant("bias", {N}, bias);
  gb.Op("MatMul", {"x", "w"}, "h0", {2, 3, N});
  gb.Op("Add", {"h0", "bias"}, "h1", {2, 3, N});
  gb.Op("Relu", {"h1"}, "h", {2, 3, N});
  gb.Input("z", {3, 50});
  gb.Op("Softmax", {"z"}, "s", {3, 50}, {{"axis", int64_t{-1}}});
  gb.Input("p", {3, 1, 5});
  gb.Constant("q", {1, 4, 1}, q);
  gb.Op("Mul", {"p", "q"}, "e", {3, 4, 5});
  for (const char* out : {"g", "h", "s", "e"}) gb.Output(out);

  // References.
  std::vector<double> g_want, g_s, h_want, h_s;
  GemmRef(M, N, K, [&](int64_t m, int64_t k) { return a[k * M + m]; },
          [&](int64_t k, int64_t n) { return bt[n * K + k]; }, g_want, g_s);
  std::vector<double> g_bound(M * N);
  for (int64_t i = 0; i < M * N; ++i) {
    const double cv = c[i / N];
    g_want[i] = 0.75 * g_want[i] - 1.5 * cv;
    g_bound[i] = 0.75 * g_s[i] * HighestFactor(K) + 3 * kU * (0.75 * g_s[i] + 1.5 * std::abs(cv));
  }
  GemmRef(6, N, K, [&](int64_t m, int64_t k) { return x[m * K + k]; }, [&](int64_t k, int64_t n) { return w[k * N + n]; },
          h_want, h_s);
  std::vector<double> h_bound(6 * N);
  for (int64_t i = 0; i < 6 * N; ++i) {
    h_want[i] = std::max(0.0, h_want[i] + bias[i % N]);
    h_bound[i] = h_s[i] * HighestFactor(K) + kU * (h_s[i] + std::abs(bias[i % N]));
  }
  std::vector<double> s_want(150), s_bound(150);
  for (int r = 0; r < 3; ++r) {
    double mx = -INFINITY, sum = 0;
    for (int j = 0; j < 50; ++j) mx = std::max(mx, static_cast<double>(z[r * 50 + j]));
    for (int j = 0; j < 50; ++j) sum += std::exp(z[r * 50 + j] - mx);
    for (int j = 0; j < 50; ++j) {
      s_want[r * 50 + j] = std::exp(z[r * 50 + j] - mx) / sum;
      s_bound[r * 50 + j] = (50 + 4 + 2 * 8) * kU * s_want[r * 50 + j];  // softmax bound, spread <= 8
    }
  }

  for (const ArchVariant& v : variants) {
    CompileOptions options;
    options.arch = Variant(v);
    options.precision = Precision::kHighest;
    const std::string what = "array " + std::to_string(v.rows) + "x" + std::to_string(v.cols) + " fifo " +
                             std::to_string(v.fifo) + " acc " + std::to_string(v.acc_entries) + " ub rows " +
                             std::to_string(v.ub_rows);
    ASSERT_TRUE(isa::ValidateArchConfig(options.arch, what).ok()) << isa::ValidateArchConfig(options.arch, what);
    auto prog = Compile(gb.graph(), options);
    ASSERT_TRUE(prog.ok()) << what << ": " << prog.status();
    ASSERT_TRUE(isa::ValidateProgram(*prog).ok()) << what;
    auto r = RunFunctional(*prog, {a, bt, x, z, p});
    ASSERT_TRUE(r.ok()) << what << ": " << r.status();
    ExpectWithinBound(r->outputs[0], g_want, g_bound, what + " Gemm");
    ExpectWithinBound(r->outputs[1], h_want, h_bound, what + " MatMul+Add+Relu");
    ExpectWithinBound(r->outputs[2], s_want, s_bound, what + " Softmax");
    for (int i = 0; i < 60; ++i) {
      ASSERT_EQ(r->outputs[3][i], p[(i / 20) * 5 + i % 5] * q[(i / 5) % 4]) << what << " Mul element " << i;
    }
  }
}

TEST(CodegenArch, UbTooSmallForThePrecisionIsResourceExhausted) {
  CompileOptions options;
  options.arch = Variant({8, 8, 2, 64, 5});  // highest needs 6 rows (3 parts + output + C + bias)
  options.precision = Precision::kHighest;
  GraphBuilder gb;
  gb.Input("x", {4, 4});
  gb.Input("w", {4, 4});
  gb.Op("MatMul", {"x", "w"}, "y", {4, 4});
  gb.Output("y");
  auto prog = Compile(gb.graph(), options);
  ASSERT_FALSE(prog.ok());
  EXPECT_EQ(prog.status().code(), absl::StatusCode::kResourceExhausted) << prog.status();
  EXPECT_THAT(std::string(prog.status().message()), ::testing::HasSubstr(gb.graph().nodes[0].name));
  options.precision = Precision::kBf16;  // one part: 4 rows suffice
  EXPECT_TRUE(Compile(gb.graph(), options).ok());
}

}  // namespace
}  // namespace tpusim::compiler::testing
