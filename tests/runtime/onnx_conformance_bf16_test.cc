// ONNX backend node tests at precision `bf16` (one bf16 pass per matrix op), tiny arch, no CPU fallback,
// functional and cycle engines, against the shipped outputs with a derived tolerance. The tests run
// are tests/onnx_conformance_pass_bf16.txt (a subset of the node pass list; may only grow). Scan:
//   TPUSIM_CONFORMANCE_SCAN=1 build/tests/test_runtime --gtest_filter='OnnxConformanceScan.NodeTestsAtBf16'
//
// Tolerance (docs/conformance.md "bf16"). Precision changes only the MXU ops (MatMul, Gemm, Conv; the
// LSTM/GRU/RNN expansions are matmuls too): at bf16 each operand is rounded once to bf16 (8 significant
// bits, relative rounding error <= u_b = 2^-9), so each product a*w carries a relative error of at most
// (1+u_b)^2 - 1 = 2^-8 + 2^-18; summing K products in fp32 adds at most 2 K u (u = 2^-24, one pass plus
// the reference's own sum, as in mlp_differential_test.cc). So an MXU op's output j differs from its
// exact value by at most g * sum_k |a_k w_kj| with g = 2^-8 + 2^-18 + 2 K u. For a graph whose ops
// are all "magnitude-monotone" (MXU ops, Add, Relu, pooling, data movement: each output is a
// non-negative combination or a selection of its inputs, so its error is bounded by the same
// combination of the input errors), an output built through at most L MXU ops has error at most
// ((1 + g)^L - 1) * M, where M is the same graph evaluated on |inputs|, |initializers| and |alpha|,
// |beta| (the sum over paths of |products|). The check is then
//     |actual - expected| <= atol + rtol |expected| + ((1 + g)^L - 1) * M
// with ONNX's atol 1e-7, rtol 1e-3 covering the fp32 vector work exactly as at `highest`. Graphs with no
// MXU op get ONNX's tolerance alone (bf16 does not change them). Graphs that mix MXU ops with other ops
// (BatchNormalization folded into weights, LSTM's sigmoid/tanh recurrences, Sub, Mul, ...) have no bound
// derived here: the scan reports them as NO-BOUND and they stay out of the bf16 list.
#include <gtest/gtest.h>

#include <cmath>
#include <cstdlib>
#include <iostream>
#include <memory>
#include <tuple>

#include "onnx_test_data.h"
#include "tpusim/compiler_backend/onnx_frontend.h"
#include "tpusim/runtime/session.h"

namespace tpusim::runtime {
namespace {

using compiler::DataType;
using compiler::Tensor;

constexpr double kU = 1.0 / (1 << 24);            // fp32 unit roundoff
constexpr double kProductError = 1.0 / 256 + 1.0 / (1 << 18);  // (1 + 2^-9)^2 - 1

const std::set<std::string> kMxuOps = {"MatMul", "Gemm", "Conv", "LSTM", "GRU", "RNN"};
// Ops whose output error is bounded by the same ops applied to the input errors' magnitudes.
const std::set<std::string> kMagnitudeMonotoneOps = {
    "MatMul",  "Gemm",      "Conv",    "Add",     "Relu",        "MaxPool",           "GlobalMaxPool",
    "AveragePool", "GlobalAveragePool", "Identity", "Reshape", "Flatten", "Transpose", "Squeeze",
    "Unsqueeze", "Concat",  "Slice",   "Split",   "Gather",      "Expand",            "Pad",
    "Constant", "Shape",    "Size"};

std::string Bf16ListPath() { return std::string(TPUSIM_SOURCE_DIR) + "/tests/onnx_conformance_pass_bf16.txt"; }

Tensor Abs(const Tensor& t) {
  Tensor out = t;
  if (t.dtype() != DataType::kFloat32) return out;
  float* p = out.as<float>();
  for (int64_t i = 0; i < out.num_elements(); ++i) p[i] = std::fabs(p[i]);
  return out;
}

// The derived bound for one test: the magnitude graph's CPU session, L and the largest K.
class Bf16Bound {
 public:
  // "" when a bound is derived (or none is needed), else why not.
  std::string Init(const std::string& test_dir) {
    absl::StatusOr<compiler::Graph> graph = compiler::ImportOnnxFile(test_dir + "/model.onnx");
    if (!graph.ok()) return graph.status().ToString();
    for (const compiler::Node& n : graph->nodes) {
      if (kMxuOps.count(n.op_type) != 0) ++mxu_ops_;
    }
    if (mxu_ops_ == 0) return "";
    for (compiler::Node& n : graph->nodes) {
      if (kMagnitudeMonotoneOps.count(n.op_type) == 0) return absl::StrCat("MXU ops alongside ", n.op_type);
      for (const char* key : {"alpha", "beta"}) {
        auto it = n.attrs.find(key);
        if (n.op_type == "Gemm" && it != n.attrs.end() && std::holds_alternative<float>(it->second)) {
          it->second = std::fabs(std::get<float>(it->second));
        }
      }
    }
    for (auto& [name, value] : graph->values) {
      if (value.constant.has_value()) value.constant = Abs(*value.constant);
    }
    SessionOptions options;
    options.device = "cpu";
    absl::StatusOr<std::unique_ptr<Session>> s = Session::Create(*std::move(graph), options);
    if (!s.ok()) return s.status().ToString();
    magnitude_ = *std::move(s);
    for (const compiler::Node& n : magnitude_->graph().nodes) {
      if (kMxuOps.count(n.op_type) == 0) continue;  // (only MatMul, Gemm, Conv get here)
      const compiler::Value* v = magnitude_->graph().FindValue(n.inputs[n.op_type == "Conv" ? 1 : 0]);
      if (v == nullptr || !v->shape.has_value() || v->shape->empty()) return "unknown reduction length";
      const compiler::Shape& s = *v->shape;
      int64_t k = s.back();
      if (n.op_type == "Conv") {
        k = 1;
        for (size_t i = 1; i < s.size(); ++i) k *= s[i];
      } else if (n.op_type == "Gemm" && n.GetInt("transA", 0).value_or(0) != 0) {
        k = s[0];
      }
      max_k_ = std::max(max_k_, k);
    }
    return "";
  }

  std::string Check(const std::string& set_dir, const std::map<std::string, Tensor>& feeds, size_t k,
                    const Tensor& actual, const Tensor& expected) {
    if (mxu_ops_ == 0) return testing::AllCloseMismatch(actual, expected);
    if (cached_set_ != set_dir) {
      std::map<std::string, Tensor> abs_feeds;
      for (const auto& [name, t] : feeds) abs_feeds[name] = Abs(t);
      absl::StatusOr<std::map<std::string, Tensor>> m = magnitude_->Run(abs_feeds);
      if (!m.ok()) return absl::StrCat("magnitude run: ", m.status().ToString());
      magnitudes_ = *std::move(m);
      cached_set_ = set_dir;
    }
    const Tensor& m = magnitudes_.at(magnitude_->graph().outputs[k]);
    if (actual.dtype() != DataType::kFloat32) return testing::AllCloseMismatch(actual, expected);
    if (actual.shape() != expected.shape() || m.num_elements() != expected.num_elements()) {
      return testing::AllCloseMismatch(actual, expected) + " (shape)";
    }
    const double g = kProductError + 2.0 * static_cast<double>(max_k_) * kU;
    const double growth = std::pow(1.0 + g, mxu_ops_) - 1.0;
    for (int64_t i = 0; i < expected.num_elements(); ++i) {
      const double a = actual.as<float>()[i], e = expected.as<float>()[i];
      const double tol = 1e-7 + 1e-3 * std::fabs(e) + growth * m.as<float>()[i];
      const double term = growth * m.as<float>()[i];
      if (term > 0) worst_ = std::max(worst_, std::fabs(a - e) / term);
      if (!(std::fabs(a - e) <= tol)) {
        return absl::StrCat("element ", i, ": actual ", a, " vs expected ", e, ", |diff| ", std::fabs(a - e),
                            " > bound ", tol, " (L ", mxu_ops_, ", K ", max_k_, ", M ", m.as<float>()[i], ")");
      }
    }
    return "";
  }

 // The largest |actual - expected| / bound seen by Check (MXU graphs only; 0 otherwise).
  double worst() const { return worst_; }

 private:
  double worst_ = 0;
  int mxu_ops_ = 0;
  int64_t max_k_ = 1;
  std::unique_ptr<Session> magnitude_;
  std::string cached_set_;  // the data set magnitudes_ belongs to
  std::map<std::string, Tensor> magnitudes_;
};

// "NO-BOUND: ..." when no bound is derived, "" on success, else the failure.
std::string RunAtBf16(const std::string& name, const std::string& engine, double* worst = nullptr) {
  const std::string dir = testing::OnnxTestDir("node", name);
  Bf16Bound bound;
  const std::string why = bound.Init(dir);
  if (!why.empty()) return "NO-BOUND: " + why;
  const std::string r = testing::RunOnnxTest(dir, engine, compiler::Precision::kBf16,
                              [&bound](const std::string& set, const std::map<std::string, Tensor>& feeds, size_t k,
                                       const Tensor& actual, const Tensor& expected) {
                                return bound.Check(set, feeds, k, actual, expected);
                              });
  if (worst != nullptr) *worst = bound.worst();
  return r;
}

using TestAndEngine = std::tuple<std::string, std::string>;
class OnnxConformanceBf16 : public ::testing::TestWithParam<TestAndEngine> {};

TEST_P(OnnxConformanceBf16, MatchesShippedOutputsWithinTheBf16Bound) {
  const auto& [test, engine] = GetParam();
  EXPECT_EQ(RunAtBf16(test, engine), "") << test << " on the " << engine << " engine";
}

GTEST_ALLOW_UNINSTANTIATED_PARAMETERIZED_TEST(OnnxConformanceBf16);
INSTANTIATE_TEST_SUITE_P(OnnxNodeTestsBf16, OnnxConformanceBf16,
                         ::testing::Combine(::testing::ValuesIn(testing::ReadNameList(Bf16ListPath())),
                                            ::testing::Values("functional", "cycle")),
                         [](const ::testing::TestParamInfo<TestAndEngine>& info) {
                           return std::get<0>(info.param) + "_" + std::get<1>(info.param);
                         });

TEST(OnnxConformancePassList, Bf16ListIsSortedAndInTheNodeList) {
  const std::vector<std::string> names = testing::ReadNameList(Bf16ListPath());
  const std::vector<std::string> node = testing::ConformancePassList();
  const std::set<std::string> node_set(node.begin(), node.end());
  ASSERT_FALSE(names.empty());
  for (size_t i = 1; i < names.size(); ++i) EXPECT_LT(names[i - 1], names[i]) << "at " << names[i];
  for (const std::string& n : names) EXPECT_EQ(node_set.count(n), 1u) << n << " is not in the node pass list";
}

// Every node pass-list test at bf16 on the functional engine: PASS, FAIL (bound exceeded or refused)
// or NO-BOUND lines, then the PASS names (the content of tests/onnx_conformance_pass_bf16.txt).
TEST(OnnxConformanceScan, NodeTestsAtBf16) {
  const char* scan = std::getenv("TPUSIM_CONFORMANCE_SCAN");
  if (scan == nullptr || std::string(scan) != "1") GTEST_SKIP() << "set TPUSIM_CONFORMANCE_SCAN=1 to scan";
  std::vector<std::string> passed;
  const std::vector<std::string> names = testing::ConformancePassList();
  for (const std::string& name : names) {
    double worst = 0;
    const std::string r = RunAtBf16(name, "functional", &worst);
    const bool no_bound = r.rfind("NO-BOUND: ", 0) == 0;
    std::cout << (r.empty() ? "PASS " : no_bound ? "NO-BOUND " : "FAIL ") << name << (r.empty() ? "" : ": ")
              << (no_bound ? r.substr(10) : r);
    if (worst > 0) std::cout << " (largest |diff| / bf16 term: " << worst << ")";
    std::cout << "\n";
    if (r.empty()) passed.push_back(name);
  }
  std::cout << passed.size() << " of " << names.size() << " node pass-list tests pass at bf16. Pass list:\n";
  for (const std::string& name : passed) std::cout << name << "\n";
}

}  // namespace
}  // namespace tpusim::runtime
