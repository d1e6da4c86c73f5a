// Differential tests of random MLPs: a TPU session (tiny arch) against a CPU session, at each
// precision, plus the CPU session against a naive double-precision forward pass. One parameterised
// suite over (case, TPU engine): every engine must meet the bound, and the engines must agree bit for
// bit with each other (TpuEnginesAgreeBitForBit).
//
// Error model (u = 2^-24, the fp32 unit roundoff; u_bf16 = 2^-9 for 8 significant bits):
//  - Per product a*w the TPU's relative error is at most eps_p: bf16 rounds both operands, so
//    (1+d_a)(1+d_w) - 1 <= 2*u_bf16 + u_bf16^2 ~ 2^-8; "high" splits each operand into 2 bf16 parts
//    (residual <= 2^-18 relative each) and drops lo*lo (<= 2^-18): 3 * 2^-18; "highest" splits into 3
//    parts and drops 3 terms of order 2^-27: 6 * 2^-27.
//  - Accumulating n terms in fp32, in any order, adds at most n*u*sum|terms|. The TPU accumulates
//    P*K terms (P passes, K the reduction length); the CPU reference K.
//  - So for z = h W + b the TPU-vs-CPU difference of z_j is at most
//      sum_k e_k |W_kj|  +  (eps_p + (P+1) K u) * sum_k (|h_k| + e_k) |W_kj|  +  4u (|z_j| + 1)
//    where e_k bounds the difference already present in h_k (bias add: one rounding per side).
//  - Activations: relu is 1-Lipschitz and exact; tanh 1-Lipschitz, sigmoid 1/4-Lipschitz, each
//    plus a few ulps: |dy| <= L |dz| + 8u (|y| + 1).
//  - Softmax: if every logit moves by at most D, each p_i moves by at most p_i (e^{2D} - 1) (exact:
//    p_i' = p_i e^{d_i} / sum_j p_j e^{d_j}); plus (N + 16) u p_i for the exps, the sum and the divide.
// The bound is a worst case (every rounding error aligned); actual errors are far smaller, and a
// wrong precision (e.g. bf16 passes when `highest` was asked for) exceeds it by orders of magnitude.
#include <cmath>
#include <cstring>
#include <random>
#include <tuple>

#include "absl/strings/str_cat.h"
#include "gtest/gtest.h"
#include "tpusim/isa/arch_config.h"
#include "tpusim/runtime/builder.h"
#include "tpusim/runtime/session.h"

namespace tpusim::runtime {
namespace {

using compiler::DataType;
using compiler::Precision;
using compiler::Tensor;

constexpr double kU = 1.0 / (1 << 24);

enum class Act { kRelu, kSigmoid, kTanh };

struct MlpCase {
  uint32_t seed;
  int batch;
  std::vector<int> dims;  // input, hidden..., classes
  Act act;
  Precision precision;
};

std::string CaseName(const ::testing::TestParamInfo<MlpCase>& info) {
  const MlpCase& c = info.param;
  std::string name = absl::StrCat("seed", c.seed, "_b", c.batch);
  for (int d : c.dims) absl::StrAppend(&name, "_", d);
  const char* acts[] = {"relu", "sigmoid", "tanh"};
  absl::StrAppend(&name, "_", acts[static_cast<int>(c.act)], "_", std::string(compiler::PrecisionName(c.precision)));
  return name;
}

struct Mlp {
  std::vector<Tensor> weights, biases;  // weights[l]: [dims[l], dims[l+1]]
  Tensor x;
};

Mlp RandomMlp(const MlpCase& c) {
  std::mt19937 rng(c.seed);
  Mlp mlp;
  auto uniform = [&](std::vector<int64_t> shape, float scale) {
    std::uniform_real_distribution<float> dist(-scale, scale);
    std::vector<float> v(compiler::NumElements(shape));
    for (float& f : v) f = dist(rng);
    return Tensor::FromFloats(shape, v);
  };
  mlp.x = uniform({c.batch, c.dims[0]}, 1.0f);
  for (size_t l = 0; l + 1 < c.dims.size(); ++l) {
    const float scale = 1.0f / std::sqrt(static_cast<float>(c.dims[l]));  // keeps activations O(1)
    mlp.weights.push_back(uniform({c.dims[l], c.dims[l + 1]}, scale));
    mlp.biases.push_back(uniform({c.dims[l + 1]}, 0.1f));
  }
  return mlp;
}

// Hidden layers use c.act; the last layer's logits feed Softmax. Outputs: "logits", "probs".
compiler::Graph BuildMlp(const MlpCase& c, const Mlp& mlp) {
  GraphBuilder b;
  Output h = b.Placeholder("x", {c.batch, c.dims[0]});
  const size_t layers = mlp.weights.size();
  for (size_t l = 0; l < layers; ++l) {
    Output z = b.Add(b.MatMul(h, b.Variable(absl::StrCat("w", l), mlp.weights[l])),
                     b.Variable(absl::StrCat("b", l), mlp.biases[l]), l + 1 == layers ? "logits" : "");
    if (l + 1 == layers) {
      h = z;
    } else if (c.act == Act::kRelu) {
      h = b.Relu(z);
    } else if (c.act == Act::kSigmoid) {
      h = b.Sigmoid(z);
    } else {
      h = b.Tanh(z);
    }
  }
  Output probs = b.Softmax(h, -1, "probs");
  absl::StatusOr<compiler::Graph> g = b.Build({h, probs});
  EXPECT_TRUE(g.ok()) << g.status();
  return g.ok() ? *g : compiler::Graph{};
}

// The exact forward pass (double) and the TPU-vs-CPU bound of every logit and probability.
struct Expected {
  std::vector<double> logits, probs;
  std::vector<double> logit_bound, prob_bound;
};

Expected ForwardWithBounds(const MlpCase& c, const Mlp& mlp, double eps_p, int passes) {
  const int n = c.batch;
  std::vector<double> h(mlp.x.as<float>(), mlp.x.as<float>() + mlp.x.num_elements());
  std::vector<double> e(h.size(), 0.0);
  Expected out;
  for (size_t l = 0; l < mlp.weights.size(); ++l) {
    const int kdim = c.dims[l], jdim = c.dims[l + 1];
    const float* w = mlp.weights[l].as<float>();
    const float* bias = mlp.biases[l].as<float>();
    const double gamma = eps_p + (passes + 1) * kdim * kU;
    std::vector<double> z(n * jdim), ez(n * jdim);
    for (int i = 0; i < n; ++i) {
      for (int j = 0; j < jdim; ++j) {
        double s = bias[j], propagated = 0, magnitude = 0;
        for (int k = 0; k < kdim; ++k) {
          const double wk = w[k * jdim + j];
          s += h[i * kdim + k] * wk;
          propagated += e[i * kdim + k] * std::abs(wk);
          magnitude += (std::abs(h[i * kdim + k]) + e[i * kdim + k]) * std::abs(wk);
        }
        z[i * jdim + j] = s;
        ez[i * jdim + j] = propagated + gamma * magnitude + 4 * kU * (std::abs(s) + 1);
      }
    }
    if (l + 1 == mlp.weights.size()) {
      out.logits = z;
      out.logit_bound = ez;
      break;
    }
    for (size_t t = 0; t < z.size(); ++t) {
      double y = z[t], lipschitz = 1;
      if (c.act == Act::kRelu) {
        y = std::max(0.0, z[t]);
      } else if (c.act == Act::kSigmoid) {
        y = 1 / (1 + std::exp(-z[t]));
        lipschitz = 0.25;
      } else {
        y = std::tanh(z[t]);
      }
      z[t] = y;
      ez[t] = lipschitz * ez[t] + (c.act == Act::kRelu ? 0 : 8 * kU * (std::abs(y) + 1));
    }
    h = z;
    e = ez;
  }
  const int classes = c.dims.back();
  out.probs.resize(out.logits.size());
  out.prob_bound.resize(out.logits.size());
  for (int i = 0; i < n; ++i) {
    double max = -INFINITY, sum = 0, d = 0;
    for (int j = 0; j < classes; ++j) {
      max = std::max(max, out.logits[i * classes + j]);
      d = std::max(d, out.logit_bound[i * classes + j]);
    }
    for (int j = 0; j < classes; ++j) sum += std::exp(out.logits[i * classes + j] - max);
    for (int j = 0; j < classes; ++j) {
      const double p = std::exp(out.logits[i * classes + j] - max) / sum;
      out.probs[i * classes + j] = p;
      out.prob_bound[i * classes + j] = p * (std::expm1(2 * d) + (classes + 16) * kU);
    }
  }
  return out;
}

double PassEps(Precision p) {
  switch (p) {
    case Precision::kBf16: return 2.0 / 512 + 1.0 / (512.0 * 512.0);
    case Precision::kHigh: return 3.0 / (1 << 18);
    case Precision::kHighest: return 6.0 / (1 << 27);
  }
  return 1;
}

int Passes(Precision p) { return p == Precision::kBf16 ? 1 : p == Precision::kHigh ? 3 : 6; }

std::map<std::string, Tensor> RunSession(const compiler::Graph& g, const std::string& device, Precision precision,
                                         const Tensor& x, const std::string& engine = "functional") {
  SessionOptions options;
  options.device = device;
  options.engine = engine;
  options.precision = precision;
  absl::StatusOr<isa::ArchConfig> arch = isa::LoadPreset("tiny");
  EXPECT_TRUE(arch.ok()) << arch.status();
  if (arch.ok()) options.arch = *arch;
  absl::StatusOr<std::unique_ptr<Session>> s = Session::Create(g, options);
  EXPECT_TRUE(s.ok()) << s.status();
  if (!s.ok()) return {};
  absl::StatusOr<std::map<std::string, Tensor>> out = (*s)->Run({{"x", x}});
  EXPECT_TRUE(out.ok()) << out.status();
  return out.ok() ? *out : std::map<std::string, Tensor>{};
}

const std::vector<std::string> kEngines = {"functional", "cycle"};

using CaseAndEngine = std::tuple<MlpCase, std::string>;
class MlpDifferentialTest : public ::testing::TestWithParam<CaseAndEngine> {};

TEST_P(MlpDifferentialTest, TpuMatchesCpuWithinThePrecisionBound) {
  const MlpCase& c = std::get<0>(GetParam());
  const std::string& engine = std::get<1>(GetParam());
  Mlp mlp = RandomMlp(c);
  compiler::Graph g = BuildMlp(c, mlp);
  std::map<std::string, Tensor> cpu = RunSession(g, "cpu", c.precision, mlp.x);
  std::map<std::string, Tensor> tpu = RunSession(g, "tpu", c.precision, mlp.x, engine);
  ASSERT_EQ(cpu.size(), 2u);
  ASSERT_EQ(tpu.size(), 2u);
  // CPU against the exact pass: only the CPU's own fp32 rounding (eps_p = 0, no TPU passes).
  const Expected exact = ForwardWithBounds(c, mlp, /*eps_p=*/0, /*passes=*/0);
  const Expected bound = ForwardWithBounds(c, mlp, PassEps(c.precision), Passes(c.precision));
  double worst_ratio = 0, max_prob_diff = 0;
  for (const char* name : {"logits", "probs"}) {
    const bool is_logits = std::string(name) == "logits";
    const Tensor& tc = cpu.at(name);
    const Tensor& tt = tpu.at(name);
    ASSERT_EQ(tc.shape(), tt.shape()) << name;
    ASSERT_EQ(tc.num_elements(), static_cast<int64_t>(exact.logits.size())) << name;
    for (int64_t i = 0; i < tc.num_elements(); ++i) {
      const double ref = is_logits ? exact.logits[i] : exact.probs[i];
      const double cpu_bound = is_logits ? exact.logit_bound[i] : exact.prob_bound[i];
      const double tpu_bound = is_logits ? bound.logit_bound[i] : bound.prob_bound[i];
      const double vc = tc.as<float>()[i], vt = tt.as<float>()[i];
      ASSERT_LE(std::abs(vc - ref), cpu_bound) << name << "[" << i << "] CPU vs exact";
      ASSERT_LE(std::abs(vt - vc), tpu_bound) << name << "[" << i << "] TPU vs CPU";
      worst_ratio = std::max(worst_ratio, std::abs(vt - vc) / tpu_bound);
      // The fixed tolerances (np.allclose form: |a - b| <= atol + rtol |b|) for the multi-pass modes.
      if (c.precision == Precision::kHighest) {
        ASSERT_LE(std::abs(vt - vc), 1e-6 + 1e-5 * std::abs(vc)) << name << "[" << i << "] highest";
      } else if (c.precision == Precision::kHigh) {
        ASSERT_LE(std::abs(vt - vc), 1e-5 + 1e-4 * std::abs(vc)) << name << "[" << i << "] high";
      }
      if (!is_logits) max_prob_diff = std::max(max_prob_diff, std::abs(vt - vc));
    }
  }
  RecordProperty("worst_error_over_bound", absl::StrCat(worst_ratio));
  RecordProperty("max_prob_diff", absl::StrCat(max_prob_diff));
}

std::vector<MlpCase> Cases() {
  std::vector<MlpCase> cases;
  for (Precision p : {Precision::kBf16, Precision::kHigh, Precision::kHighest}) {
    cases.push_back({1, 32, {100, 64, 10}, Act::kRelu, p});
    cases.push_back({2, 32, {100, 64, 10}, Act::kSigmoid, p});
    cases.push_back({3, 32, {100, 64, 10}, Act::kTanh, p});
    cases.push_back({4, 13, {37, 29, 17, 5}, Act::kRelu, p});  // sizes off the 8x8 array grid
  }
  return cases;
}

INSTANTIATE_TEST_SUITE_P(RandomMlps, MlpDifferentialTest,
                         ::testing::Combine(::testing::ValuesIn(Cases()), ::testing::ValuesIn(kEngines)),
                         [](const ::testing::TestParamInfo<CaseAndEngine>& info) {
                           return CaseName({std::get<0>(info.param), info.index}) + "_" + std::get<1>(info.param);
                         });

// Same program, same bits: the cycle engine's outputs equal the functional engine's byte for byte.
class MlpEngineAgreementTest : public ::testing::TestWithParam<MlpCase> {};

TEST_P(MlpEngineAgreementTest, TpuEnginesAgreeBitForBit) {
  const MlpCase& c = GetParam();
  Mlp mlp = RandomMlp(c);
  compiler::Graph g = BuildMlp(c, mlp);
  std::map<std::string, Tensor> functional = RunSession(g, "tpu", c.precision, mlp.x, "functional");
  std::map<std::string, Tensor> cycle = RunSession(g, "tpu", c.precision, mlp.x, "cycle");
  ASSERT_EQ(functional.size(), 2u);
  ASSERT_EQ(cycle.size(), 2u);
  for (const auto& [name, want] : functional) {
    const Tensor& got = cycle.at(name);
    ASSERT_EQ(got.shape(), want.shape()) << name;
    ASSERT_EQ(got.byte_size(), want.byte_size()) << name;
    EXPECT_EQ(std::memcmp(got.data(), want.data(), want.byte_size()), 0) << name << " differs";
  }
}

INSTANTIATE_TEST_SUITE_P(RandomMlps, MlpEngineAgreementTest, ::testing::ValuesIn(Cases()), CaseName);

}  // namespace
}  // namespace tpusim::runtime
