// Codegen of MatMul and Gemm, executed on the functional engine (`tiny`: 8x8 array, 512 UB rows, 64
// accumulator rows, so every shape here is tiled) and compared with a naive double-precision loop.
//
// Error bounds (u = 2^-24, fp32 unit roundoff; S = sum_k |a_k b_k| for the output element):
//  * representation: the array multiplies bf16 parts exactly, so the only product error is the parts
//    the precision drops. bf16 (1 pass): a' = bf16(a) has |a' - a| <= 2^-8 |a| (8-bit significand), so
//    |a'b' - ab| <= (2^-7 + 2^-16)|ab|. high (bf16x2, 3 passes) drops a1b1, a0*eb, ea*b0, ... with
//    |a1| <= 2^-8|a|, |ea| <= 2^-16|a|: about 3 * 2^-16 |ab| < 2^-14 |ab|. highest (bf16x3, 6 passes)
//    drops a1b2, a2b1, a2b2 and the 2^-24 residuals: about 4 * 2^-24 |ab| < 2^-21 |ab|.
//  * accumulation: every partial sum is an fp32 add (down a column, then into the accumulator) whose
//    magnitude is at most ~S, so passes * (K + K/R) adds contribute at most that many u*S.
// The sum is a rigorous worst case. On random data the error is far smaller; the normwise check
// max|err| <= 1e-5 max|ref| for highest reflects that bf16x3 carries ~24 significant bits (fp32).
#include <cmath>
#include <string>
#include <vector>

#include "codegen_test_util.h"
#include "gtest/gtest.h"

namespace tpusim::compiler::testing {
namespace {

constexpr double kU = 1.0 / (1 << 24);
constexpr int kTinyRows = 8;  // tiny's array_rows

double RepresentationBound(Precision p) {
  switch (p) {
    case Precision::kBf16: return std::ldexp(1.0, -7) + std::ldexp(1.0, -16);
    case Precision::kHigh: return std::ldexp(1.0, -14);
    case Precision::kHighest: return std::ldexp(1.0, -21);
  }
  return 1;
}
int Passes(Precision p) { return p == Precision::kBf16 ? 1 : p == Precision::kHigh ? 3 : 6; }
double GemmBoundFactor(Precision p, int64_t k) {
  return RepresentationBound(p) + 1.01 * Passes(p) * (k + (k + kTinyRows - 1) / kTinyRows + 1) * kU;
}

// Row-major Y[M,N] = A[M,K] B[K,N] with element accessors, in double; s = sum |a||b|.
struct GemmRef {
  std::vector<double> y, s;
};
template <typename FA, typename FB>
GemmRef Reference(int64_t m_count, int64_t n_count, int64_t k_count, FA a, FB b) {
  GemmRef r{std::vector<double>(m_count * n_count), std::vector<double>(m_count * n_count)};
  for (int64_t m = 0; m < m_count; ++m) {
    for (int64_t n = 0; n < n_count; ++n) {
      double acc = 0, mag = 0;
      for (int64_t k = 0; k < k_count; ++k) {
        double p = static_cast<double>(a(m, k)) * static_cast<double>(b(k, n));
        acc += p;
        mag += std::abs(p);
      }
      r.y[m * n_count + n] = acc;
      r.s[m * n_count + n] = mag;
    }
  }
  return r;
}

std::vector<double> Scaled(const std::vector<double>& s, double f) {
  std::vector<double> out(s.size());
  for (size_t i = 0; i < s.size(); ++i) out[i] = s[i] * f;
  return out;
}

TEST(CodegenGemm, LargeMatMulOnTinyMeetsEachPrecisionBound) {
  const int64_t M = 1000, K = 784, N = 100;  // far beyond the 8x8 array and the 16 KiB UB
  std::vector<float> a = RandomFloats(M * K, 1), w = RandomFloats(K * N, 2);
  GraphBuilder gb;
  gb.Input("x", {M, K});
  gb.Constant("w", {K, N}, w);
  gb.Op("MatMul", {"x", "w"}, "y", {M, N});
  gb.Output("y");
  GemmRef ref = Reference(M, N, K, [&](int64_t m, int64_t k) { return a[m * K + k]; },
                          [&](int64_t k, int64_t n) { return w[k * N + n]; });
  double max_ref = 0;
  for (double v : ref.y) max_ref = std::max(max_ref, std::abs(v));

  std::vector<double> max_err;
  for (Precision p : {Precision::kBf16, Precision::kHigh, Precision::kHighest}) {
    RunResult r = CompileAndRun(gb.graph(), {a}, p);
    ASSERT_EQ(r.outputs.size(), 1u);
    ExpectWithinBound(r.outputs[0], ref.y, Scaled(ref.s, GemmBoundFactor(p, K)), std::string(PrecisionName(p)));
    max_err.push_back(MaxAbsError(r.outputs[0], ref.y));
    EXPECT_EQ(r.stats.useful_macs > 0, true);
  }
  // highest: fp32-level accuracy, normwise within rtol 1e-5.
  EXPECT_LE(max_err[2], 1e-5 * max_ref) << "highest max error " << max_err[2] << " vs max |ref| " << max_ref;
  // Each level is much more accurate than the one below (bf16 ~2^-8, high ~2^-16, highest ~2^-24 terms).
  EXPECT_LT(max_err[1] * 16, max_err[0]) << "high " << max_err[1] << " vs bf16 " << max_err[0];
  EXPECT_LT(max_err[2], max_err[1]) << "highest " << max_err[2] << " vs high " << max_err[1];
  // A plain fp32 loop (sequential fp32 accumulation) for scale: highest should be of the same order.
  double fp32_err = 0;
  for (int64_t m = 0; m < M; ++m) {
    for (int64_t n = 0; n < N; ++n) {
      float acc = 0;
      for (int64_t k = 0; k < K; ++k) acc += a[m * K + k] * w[k * N + n];
      fp32_err = std::max(fp32_err, std::abs(acc - ref.y[m * N + n]));
    }
  }
  EXPECT_LE(max_err[2], 4 * fp32_err) << "highest should be as accurate as fp32 accumulation";
  std::printf("max |err|: bf16 %.3g high %.3g highest %.3g fp32 loop %.3g (max |ref| %.3g)\n", max_err[0], max_err[1],
              max_err[2], fp32_err, max_ref);
}

TEST(CodegenGemm, NonConstantWeightsAreSplitOnTheVectorUnit) {
  const int64_t M = 37, K = 50, N = 21;
  std::vector<float> a = RandomFloats(M * K, 3), b = RandomFloats(K * N, 4);
  GraphBuilder gb;
  gb.Input("a", {M, K});
  gb.Input("b", {K, N});
  gb.Op("MatMul", {"a", "b"}, "y", {M, N});
  gb.Output("y");
  GemmRef ref = Reference(M, N, K, [&](int64_t m, int64_t k) { return a[m * K + k]; },
                          [&](int64_t k, int64_t n) { return b[k * N + n]; });
  for (Precision p : {Precision::kBf16, Precision::kHigh, Precision::kHighest}) {
    RunResult r = CompileAndRun(gb.graph(), {a, b}, p);
    ASSERT_EQ(r.outputs.size(), 1u);
    ExpectWithinBound(r.outputs[0], ref.y, Scaled(ref.s, GemmBoundFactor(p, K)), std::string(PrecisionName(p)));
  }
}

// Gemm: Y = alpha * A' B' + beta * C for every transpose combination and C broadcast shape.
TEST(CodegenGemm, GemmTransposesAlphaBetaAndBroadcastC) {
  const int64_t M = 19, K = 27, N = 13;
  const std::vector<Shape> c_shapes = {{}, {N}, {1, N}, {M, 1}, {M, N}, {1, 1}};
  for (int ta = 0; ta < 2; ++ta) {
    for (int tb = 0; tb < 2; ++tb) {
      for (size_t ci = 0; ci <= c_shapes.size(); ++ci) {  // ci == size(): no C
        const bool has_c = ci < c_shapes.size();
        const float alpha = has_c ? 0.5f : 1.0f, beta = ci % 2 ? 2.0f : 1.0f;
        std::vector<float> a = RandomFloats(M * K, 10 + ta), b = RandomFloats(K * N, 20 + tb);
        GraphBuilder gb;
        gb.Input("a", ta ? Shape{K, M} : Shape{M, K});
        if (tb) gb.Input("b", {N, K}); else gb.Constant("b", {K, N}, b);
        std::vector<std::string> ins = {"a", "b"};
        std::vector<float> c;
        Shape cs;
        if (has_c) {
          cs = c_shapes[ci];
          c = RandomFloats(static_cast<size_t>(NumElements(cs)), 30 + ci);
          gb.Constant("c", cs, c);
          ins.push_back("c");
        }
        gb.Op("Gemm", ins, "y", {M, N},
              {{"transA", int64_t{ta}}, {"transB", int64_t{tb}}, {"alpha", alpha}, {"beta", beta}});
        gb.Output("y");
        auto a_at = [&](int64_t m, int64_t k) { return ta ? a[k * M + m] : a[m * K + k]; };
        auto b_at = [&](int64_t k, int64_t n) { return tb ? b[n * K + k] : b[k * N + n]; };
        GemmRef ref = Reference(M, N, K, a_at, b_at);
        std::vector<double> want(M * N), bound(M * N);
        for (int64_t m = 0; m < M; ++m) {
          for (int64_t n = 0; n < N; ++n) {
            double cv = 0;
            if (has_c) {
              Shape c2 = cs;
              while (c2.size() < 2) c2.insert(c2.begin(), 1);
              cv = c[(c2[0] == 1 ? 0 : m) * c2[1] + (c2[1] == 1 ? 0 : n)];
            }
            const size_t i = m * N + n;
            want[i] = alpha * ref.y[i] + beta * cv;
            // GEMM bound scaled by alpha, plus three fp32 roundings (alpha*, beta*, +) of the epilogue.
            bound[i] = alpha * ref.s[i] * GemmBoundFactor(Precision::kHighest, K) +
                       3 * kU * (alpha * ref.s[i] + std::abs(beta * cv));
          }
        }
        std::vector<std::vector<float>> inputs = {a};
        if (tb) inputs.push_back(b);
        RunResult r = CompileAndRun(gb.graph(), inputs, Precision::kHighest);
        ASSERT_EQ(r.outputs.size(), 1u);
        ExpectWithinBound(r.outputs[0], want, bound,
                          "transA=" + std::to_string(ta) + " transB=" + std::to_string(tb) +
                              " C=" + (has_c ? ShapeToString(cs) : "none"));
      }
    }
  }
}

// out[batch..., M, N] with numpy batch broadcasting; 1-D operands drop their matrix dimension.
struct BatchCase {
  Shape a, b, y;
};

TEST(CodegenGemm, BatchedMatMulBroadcastsLikeNumpy) {
  const std::vector<BatchCase> cases = {
      {{2, 1, 5, 12}, {3, 12, 7}, {2, 3, 5, 7}},  // both broadcast: one GEMM per batch index
      {{4, 5, 12}, {12, 7}, {4, 5, 7}},           // B without batch: A's batch folds into M
      {{5, 12}, {3, 12, 7}, {3, 5, 7}},           // A broadcast over B's batch
      {{12}, {3, 12, 7}, {3, 7}},                 // 1-D A
      {{2, 5, 12}, {12}, {2, 5}},                 // 1-D B
      {{12}, {12}, {}},                           // dot product
  };
  for (const BatchCase& c : cases) {
    std::vector<float> a = RandomFloats(NumElements(c.a), 40), b = RandomFloats(NumElements(c.b), 41);
    GraphBuilder gb;
    gb.Input("a", c.a);
    gb.Constant("b", c.b, b);
    gb.Op("MatMul", {"a", "b"}, "y", c.y);
    gb.Output("y");
    // Reference: promote 1-D operands, broadcast batch dims, loop.
    Shape a2 = c.a, b2 = c.b;
    if (a2.size() == 1) a2.insert(a2.begin(), 1);
    if (b2.size() == 1) b2.push_back(1);
    const int64_t M = a2[a2.size() - 2], K = a2.back(), N = b2.back();
    const size_t rank = std::max(a2.size(), b2.size()) - 2;
    Shape batch(rank);
    for (size_t i = 0; i < rank; ++i) {
      int64_t ad = i < a2.size() - 2 ? a2[a2.size() - 3 - i] : 1, bd = i < b2.size() - 2 ? b2[b2.size() - 3 - i] : 1;
      batch[rank - 1 - i] = std::max(ad, bd);
    }
    std::vector<double> want, bound;
    for (int64_t bi = 0; bi < NumElements(batch); ++bi) {
      // Batch offsets: decompose bi, map to each operand (dim 1 -> index 0).
      int64_t rem = bi, a_off = 0, b_off = 0, a_mul = M * K, b_mul = K * N;
      for (size_t i = 0; i < rank; ++i) {
        const int64_t d = batch[rank - 1 - i], idx = rem % d;
        rem /= d;
        int64_t ad = i < a2.size() - 2 ? a2[a2.size() - 3 - i] : 1, bd = i < b2.size() - 2 ? b2[b2.size() - 3 - i] : 1;
        a_off += (ad == 1 ? 0 : idx) * a_mul;
        b_off += (bd == 1 ? 0 : idx) * b_mul;
        a_mul *= ad;
        b_mul *= bd;
      }
      GemmRef ref = Reference(M, N, K, [&](int64_t m, int64_t k) { return a[a_off + m * K + k]; },
                              [&](int64_t k, int64_t n) { return b[b_off + k * N + n]; });
      want.insert(want.end(), ref.y.begin(), ref.y.end());
      std::vector<double> bd = Scaled(ref.s, GemmBoundFactor(Precision::kHighest, K));
      bound.insert(bound.end(), bd.begin(), bd.end());
    }
    RunResult r = CompileAndRun(gb.graph(), {a}, Precision::kHighest);
    ASSERT_EQ(r.outputs.size(), 1u);
    ExpectWithinBound(r.outputs[0], want, bound, ShapeToString(c.a) + " x " + ShapeToString(c.b));
  }
}

}  // namespace
}  // namespace tpusim::compiler::testing
