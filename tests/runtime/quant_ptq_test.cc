// Post-training quantization (runtime/quantize.h) of a small fp32 MLP: the rewrite's structure, and the
// accuracy change against fp32 on held-out inputs, checked against a worst-case error bound derived in
// the test from the quantization step sizes (not from the code under test).
#include <gtest/gtest.h>

#include <algorithm>
#include <cmath>
#include <iostream>
#include <set>

#include "tpusim/runtime/quantize.h"
#include "tpusim/runtime/session.h"

namespace tpusim::runtime {
namespace {

using compiler::DataType;
using compiler::Graph;
using compiler::Node;
using compiler::Tensor;

constexpr int64_t kIn = 16, kHidden = 32, kOut = 10, kBatch = 4;

struct Lcg {
  uint32_t s;
  float Uniform(float lo, float hi) {  // 24 random bits -> [lo, hi)
    s = s * 1664525u + 1013904223u;
    return lo + (hi - lo) * static_cast<float>(s >> 8) / 16777216.0f;
  }
};

Tensor RandomTensor(compiler::Shape shape, Lcg& rng, float lo, float hi) {
  Tensor t(DataType::kFloat32, std::move(shape));
  for (int64_t i = 0; i < t.num_elements(); ++i) t.as<float>()[i] = rng.Uniform(lo, hi);
  return t;
}

// x[4,16] -> Gemm(W1[16,32], b1) -> Relu -> MatMul(W2[32,10]) -> y.
Graph MakeMlp(Lcg& rng) {
  Graph g;
  g.AddValue("x", DataType::kFloat32, compiler::Shape{kBatch, kIn});
  g.inputs = {"x"};
  g.AddValue("w1", DataType::kFloat32).constant = RandomTensor({kIn, kHidden}, rng, -0.5f, 0.5f);
  g.AddValue("b1", DataType::kFloat32).constant = RandomTensor({kHidden}, rng, -0.1f, 0.1f);
  g.AddValue("w2", DataType::kFloat32).constant = RandomTensor({kHidden, kOut}, rng, -0.5f, 0.5f);
  for (const char* v : {"h", "r", "y"}) g.AddValue(v, DataType::kFloat32);
  auto node = [](const char* name, const char* op, std::vector<std::string> in, const char* out) {
    Node n;
    n.name = name;
    n.op_type = op;
    n.inputs = std::move(in);
    n.outputs = {out};
    return n;
  };
  g.nodes = {node("fc1", "Gemm", {"x", "w1", "b1"}, "h"), node("relu", "Relu", {"h"}, "r"),
             node("fc2", "MatMul", {"r", "w2"}, "y")};
  g.outputs = {"y"};
  return g;
}

std::map<std::string, Tensor> Feed(Tensor x) { return {{"x", std::move(x)}}; }

// Max |w[k][n]| / 127 per column n: the per-channel weight step (|w_hat - w| <= step / 2).
std::vector<float> WeightSteps(const Tensor& w) {
  const int64_t k = w.shape()[0], n = w.shape()[1];
  std::vector<float> steps(n, 0.0f);
  for (int64_t j = 0; j < n; ++j) {
    for (int64_t i = 0; i < k; ++i) steps[j] = std::max(steps[j], std::fabs(w.as<float>()[i * n + j]) / 127.0f);
  }
  return steps;
}

// One layer y = x.W (x: one row) and its worst-case output error when x carries an error of at most
// ex[k] and W is quantized with per-column steps: sum_k ex|w| + (|x| + ex) step/2, plus fp32 slack.
std::vector<float> LayerBound(const std::vector<float>& x, const std::vector<float>& ex, const Tensor& w,
                              const std::vector<float>& steps) {
  const int64_t k = w.shape()[0], n = w.shape()[1];
  std::vector<float> bound(n, 0.0f);
  for (int64_t j = 0; j < n; ++j) {
    double b = 0.0, mag = 0.0;
    for (int64_t i = 0; i < k; ++i) {
      const double wv = std::fabs(w.as<float>()[i * n + j]);
      b += ex[i] * wv + (std::fabs(x[i]) + ex[i]) * steps[j] / 2.0;
      mag += std::fabs(x[i]) * wv;
    }
    bound[j] = static_cast<float>(b + 1e-5 * (1.0 + mag));
  }
  return bound;
}

TEST(PostTrainingQuantization, MlpAccuracyWithinTheQuantizationBound) {
  Lcg rng{2024};
  const Graph fp32 = MakeMlp(rng);
  // Calibration: 16 random batches plus one all +1 and one all -1 batch, so the input range is [-1, 1].
  std::vector<std::map<std::string, Tensor>> samples;
  for (int i = 0; i < 16; ++i) samples.push_back(Feed(RandomTensor({kBatch, kIn}, rng, -1.0f, 1.0f)));
  samples.push_back(Feed(RandomTensor({kBatch, kIn}, rng, 1.0f, 1.0f)));
  samples.push_back(Feed(RandomTensor({kBatch, kIn}, rng, -1.0f, -1.0f)));
  QuantizationReport report;
  absl::StatusOr<Graph> q = QuantizeGraph(fp32, samples, &report);
  ASSERT_TRUE(q.ok()) << q.status();
  EXPECT_EQ(report.quantized, (std::vector<std::string>{"fc1", "fc2"}));
  EXPECT_TRUE(report.skipped.empty());
  std::set<std::string> ops;
  for (const Node& n : q->nodes) ops.insert(n.op_type);
  EXPECT_EQ(ops, (std::set<std::string>{"QuantizeLinear", "MatMulInteger", "DequantizeLinear", "Add", "Relu"}));
  ASSERT_EQ(report.ranges.count("x"), 1u);
  ASSERT_EQ(report.ranges.count("r"), 1u);
  EXPECT_EQ(report.ranges["x"], (std::pair<float, float>{-1.0f, 1.0f}));

  SessionOptions cpu;
  cpu.device = "cpu";
  auto ref = Session::Create(fp32, cpu);
  auto quant = Session::Create(*q, cpu);
  ASSERT_TRUE(ref.ok() && quant.ok());
  const Tensor& w1 = *fp32.FindValue("w1")->constant;
  const Tensor& b1 = *fp32.FindValue("b1")->constant;
  const Tensor& w2 = *fp32.FindValue("w2")->constant;
  const std::vector<float> steps1 = WeightSteps(w1), steps2 = WeightSteps(w2);
  const auto [lo1, hi1] = report.ranges["x"];
  const auto [lo2, hi2] = report.ranges["r"];
  const float s1 = (hi1 - lo1) / 255.0f, s2 = (hi2 - lo2) / 255.0f;  // activation steps

  double max_err = 0.0, max_bound = 0.0, max_abs_y = 0.0;
  int agree = 0, decided = 0, rows = 0;
  for (int trial = 0; trial < 16; ++trial) {
    Tensor x = RandomTensor({kBatch, kIn}, rng, -1.0f, 1.0f);
    auto want = (*ref)->Run(Feed(x));
    auto got = (*quant)->Run(Feed(x));
    ASSERT_TRUE(want.ok() && got.ok());
    const Tensor& yr = want->at("y");
    const Tensor& yq = got->at("y");
    for (int64_t b = 0; b < kBatch; ++b, ++rows) {
      // Layer 1 (inputs inside the calibrated range: error <= s1 / 2), then the bias and Relu.
      std::vector<float> x1(x.as<float>() + b * kIn, x.as<float>() + (b + 1) * kIn);
      std::vector<float> e1 = LayerBound(x1, std::vector<float>(kIn, s1 / 2.0f), w1, steps1);
      std::vector<float> h(kHidden), ex2(kHidden);
      for (int64_t j = 0; j < kHidden; ++j) {
        double acc = b1.as<float>()[j];
        for (int64_t i = 0; i < kIn; ++i) acc += x1[i] * w1.as<float>()[i * kHidden + j];
        h[j] = std::max(0.0f, static_cast<float>(acc));
        // Quantizing relu(h_hat), |h_hat - h| <= e1: step / 2, plus what exceeds the calibrated max.
        ex2[j] = s2 / 2.0f + e1[j] + std::max(0.0f, h[j] + e1[j] - hi2);
      }
      const std::vector<float> e2 = LayerBound(h, ex2, w2, steps2);
      int best_r = 0, best_q = 0;
      std::vector<float> sorted;
      for (int64_t j = 0; j < kOut; ++j) {
        const float r = yr.as<float>()[b * kOut + j], v = yq.as<float>()[b * kOut + j];
        EXPECT_LE(std::fabs(v - r), e2[j]) << "row " << rows << " output " << j;
        max_err = std::max(max_err, static_cast<double>(std::fabs(v - r)));
        max_bound = std::max(max_bound, static_cast<double>(e2[j]));
        max_abs_y = std::max(max_abs_y, static_cast<double>(std::fabs(r)));
        if (r > yr.as<float>()[b * kOut + best_r]) best_r = static_cast<int>(j);
        if (v > yq.as<float>()[b * kOut + best_q]) best_q = static_cast<int>(j);
        sorted.push_back(r);
      }
      std::sort(sorted.rbegin(), sorted.rend());
      agree += best_r == best_q;
      // Where the fp32 margin exceeds twice the bound, the quantized argmax cannot differ.
      const float bound = *std::max_element(e2.begin(), e2.end());
      if (sorted[0] - sorted[1] > 2.0f * bound) {
        ++decided;
        EXPECT_EQ(best_r, best_q) << "row " << rows;
      }
    }
  }
  std::cout << "PTQ MLP 16-32-10: max |y_int8 - y_fp32| = " << max_err << " (max |y| " << max_abs_y
            << ", worst-case bound " << max_bound << "); argmax agrees on " << agree << " of " << rows
            << " rows (" << decided << " rows have a margin that guarantees it)\n";
}

TEST(PostTrainingQuantization, SkipsWhatDoesNotFitAndRejectsNoSamples) {
  Lcg rng{7};
  Graph g = MakeMlp(rng);
  EXPECT_EQ(QuantizeGraph(g, {}).status().code(), absl::StatusCode::kInvalidArgument);
  g.nodes[0].attrs["transA"] = int64_t{1};  // Gemm with transA stays fp32 (x is [4,16]: use shape [16,4])
  g.values["x"].shape = compiler::Shape{kIn, kBatch};
  QuantizationReport report;
  absl::StatusOr<Graph> q = QuantizeGraph(g, {Feed(RandomTensor({kIn, kBatch}, rng, -1.0f, 1.0f))}, &report);
  ASSERT_TRUE(q.ok()) << q.status();
  EXPECT_EQ(report.quantized, (std::vector<std::string>{"fc2"}));
  ASSERT_EQ(report.skipped.size(), 1u);
  EXPECT_NE(report.skipped[0].find("transA"), std::string::npos);
}

}  // namespace
}  // namespace tpusim::runtime
