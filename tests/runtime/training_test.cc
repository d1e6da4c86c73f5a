// Training on the TPU (autodiff.h, training.h): gradients against central finite differences of an
// independent double-precision forward pass, TPU gradients against CPU gradients, placement of a
// training step, SGD-with-momentum arithmetic, and a small MLP learning a separable dataset on the TPU.
#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include <cmath>
#include <iostream>
#include <random>
#include <sstream>

#include "training_test_util.h"
#include "tpusim/compiler_backend/autodiff.h"
#include "tpusim/isa/arch_config.h"
#include "tpusim/runtime/session.h"
#include "tpusim/runtime/training.h"

namespace tpusim::runtime {
namespace {

using compiler::Graph;
using compiler::Tensor;
using testing::CnnModel;
using testing::DTensor;
using testing::MlpModel;
using testing::OneHot;
using testing::RandomTensor;

SessionOptions Options(const std::string& device) {
  SessionOptions o;
  o.device = device;
  o.precision = compiler::Precision::kHighest;
  absl::StatusOr<isa::ArchConfig> arch = isa::LoadPreset("tiny");
  EXPECT_TRUE(arch.ok()) << arch.status();
  if (arch.ok()) o.arch = *arch;
  return o;
}

struct Case {
  Graph model;
  std::vector<std::string> params;
  std::map<std::string, Tensor> feeds;
};

Case Mlp() {
  std::mt19937 rng(11);
  return {MlpModel(7), {"w1", "b1", "w2", "b2", "x"}, {{"x", RandomTensor({4, 3}, rng)}, {"labels", OneHot({0, 2, 1, 2}, 3)}}};
}

Case Cnn(bool overlap) {
  std::mt19937 rng(12);
  const int64_t side = overlap ? 5 : 8;
  return {CnnModel(8, overlap), {"wc", "bc", "wf", "bf", "x"},
          {{"x", RandomTensor({2, 2, side, side}, rng)}, {"labels", OneHot({3, 1}, 4)}}};
}

// The gradient graph of `c` run by a session on `device`: parameter -> gradient.
std::map<std::string, Tensor> Gradients(const Case& c, const std::string& device, std::vector<Placement>* placements = nullptr) {
  Graph g = c.model;
  absl::StatusOr<compiler::GradientResult> r = compiler::AppendGradients(g, g.outputs[0], c.params);
  EXPECT_TRUE(r.ok()) << r.status();
  if (!r.ok()) return {};
  auto session = Session::Create(g, Options(device));
  EXPECT_TRUE(session.ok()) << session.status();
  if (!session.ok()) return {};
  if (placements != nullptr) *placements = (*session)->placements();
  auto out = (*session)->Run(c.feeds);
  EXPECT_TRUE(out.ok()) << out.status();
  std::map<std::string, Tensor> grads;
  if (out.ok()) {
    for (const std::string& p : c.params) grads[p] = out->at(r->gradients.at(p));
  }
  return grads;
}

// Central differences of the double-precision loss, (L(w + h e_i) - L(w - h e_i)) / 2h, compared with
// the CPU kernels' fp32 gradient. h = 1e-5: the truncation error is O(h^2 L''') ~ 1e-10 and the
// rounding error of double ~ 1e-16 / h ~ 1e-11, so the difference is the fp32 error of the analytic
// gradient: sums of <= ~50 terms of size <= ~4 rounded to fp32 (2^-24 each) stay well under 2e-5;
// tolerance 1e-4 absolute + 1e-4 relative. (Random inputs put no ReLU input or pool window within h
// of a kink or a tie, where the one-sided derivatives differ.)
void ExpectMatchesFiniteDifferences(const Case& c) {
  const std::map<std::string, Tensor> grads = Gradients(c, "cpu");
  ASSERT_EQ(grads.size(), c.params.size());
  const std::string loss = c.model.outputs[0];
  std::map<std::string, DTensor> feeds;
  for (const auto& [name, t] : c.feeds) feeds[name] = testing::ToD(t);
  const double h = 1e-5;
  for (const std::string& p : c.params) {
    const auto fed = c.feeds.find(p);  // a graph input as parameter: its gradient flows through MatMul's A, Conv's X
    DTensor w = testing::ToD(fed != c.feeds.end() ? fed->second : *c.model.FindValue(p)->constant);
    for (size_t i = 0; i < w.v.size(); ++i) {
      std::map<std::string, DTensor> plus = feeds, minus = feeds;
      plus[p] = w;
      plus[p].v[i] += h;
      minus[p] = w;
      minus[p].v[i] -= h;
      const double fd = (testing::EvalDouble(c.model, plus, loss).v[0] - testing::EvalDouble(c.model, minus, loss).v[0]) / (2 * h);
      const double got = grads.at(p).as<float>()[i];
      EXPECT_NEAR(got, fd, 1e-4 + 1e-4 * std::fabs(fd)) << p << "[" << i << "]";
    }
  }
}

TEST(TrainingGradientTest, MlpGradientsMatchFiniteDifferences) { ExpectMatchesFiniteDifferences(Mlp()); }
TEST(TrainingGradientTest, StridedPaddedCnnGradientsMatchFiniteDifferences) { ExpectMatchesFiniteDifferences(Cnn(false)); }
TEST(TrainingGradientTest, OverlappingPaddedPoolCnnGradientsMatchFiniteDifferences) {
  ExpectMatchesFiniteDifferences(Cnn(true));
}

// TPU (precision highest: bf16x3, about fp32) against the CPU: the products agree to a few fp32 ulps
// and only the summation order and the vector unit's exp/log differ, so 1e-4 of the largest gradient
// magnitude (plus 1e-6) bounds the difference. Every gradient op is placed on the TPU.
void ExpectTpuMatchesCpu(const Case& c) {
  std::vector<Placement> placements;
  const std::map<std::string, Tensor> tpu = Gradients(c, "tpu", &placements);
  const std::map<std::string, Tensor> cpu = Gradients(c, "cpu");
  ASSERT_EQ(tpu.size(), c.params.size());
  ASSERT_EQ(cpu.size(), c.params.size());
  for (const Placement& pl : placements) EXPECT_EQ(pl.device, kTpuDeviceName) << pl.node << ": " << pl.reason;
  for (const std::string& p : c.params) {
    float scale = 0;
    for (int64_t i = 0; i < cpu.at(p).num_elements(); ++i) scale = std::max(scale, std::fabs(cpu.at(p).as<float>()[i]));
    for (int64_t i = 0; i < cpu.at(p).num_elements(); ++i) {
      EXPECT_NEAR(tpu.at(p).as<float>()[i], cpu.at(p).as<float>()[i], 1e-6 + 1e-4 * scale) << p << "[" << i << "]";
    }
  }
}

TEST(TrainingGradientTest, MlpTpuGradientsMatchCpu) { ExpectTpuMatchesCpu(Mlp()); }
TEST(TrainingGradientTest, CnnTpuGradientsMatchCpu) {
  ExpectTpuMatchesCpu(Cnn(false));
  ExpectTpuMatchesCpu(Cnn(true));
}

// Ties: a window of equal values sends its whole gradient to its first element (row-major), as the
// CPU MaxPool keeps the first maximum. x = all 1 in [1,1,4,4], 2x2 stride 2, loss = sum(y * [1,2;3,4])
// -> dx has 1,2,3,4 at (0,0),(0,2),(2,0),(2,2) and 0 elsewhere.
TEST(TrainingGradientTest, MaxPoolTiesRouteTheGradientToTheFirstMaximum) {
  for (const std::string device : {"cpu", "tpu"}) {
    testing::ModelBuilder b;
    const std::string x = b.Const("x", Tensor::FromFloats({1, 1, 4, 4}, std::vector<float>(16, 1.0f)));
    const std::string y = b.Op("MaxPool", {x}, {{"kernel_shape", std::vector<int64_t>{2, 2}},
                                                {"strides", std::vector<int64_t>{2, 2}}});
    const std::string wy = b.Op("Mul", {y, b.Const("k", Tensor::FromFloats({1, 1, 2, 2}, {1, 2, 3, 4}))});
    const std::string loss = b.Op("ReduceSum", {wy}, {{"keepdims", int64_t{0}}});
    Graph g = b.graph();
    Graph model = g;
    model.outputs = {loss};
    Case c{model, {"x"}, {}};
    const std::map<std::string, Tensor> grads = Gradients(c, device);
    ASSERT_EQ(grads.size(), 1u);
    const std::vector<float> want = {1, 0, 2, 0, 0, 0, 0, 0, 3, 0, 4, 0, 0, 0, 0, 0};
    for (int i = 0; i < 16; ++i) EXPECT_EQ(grads.at("x").as<float>()[i], want[static_cast<size_t>(i)]) << device << " " << i;
  }
}

// v <- mu v + g; w <- w - lr v with loss = sum(w * c), so g = c at every step:
// step 1: v = c, w = w0 - 0.1 c; step 2: v = 1.9 c, w = w0 - 0.29 c; the loss returned by step 2 is
// sum((w0 - 0.1 c) c) = (1 - .05)*.5 + (2 + .1)*-1 + (3 - .2)*2 = 0.475 - 2.1 + 5.6 = 3.975.
TEST(TrainerTest, SgdWithMomentumFollowsTheUpdateRule) {
  for (const std::string device : {"cpu", "tpu"}) {
    testing::ModelBuilder b;
    const std::string w = b.Const("w", Tensor::FromFloats({3}, {1, 2, 3}));
    const std::string wc = b.Op("Mul", {w, b.Const("c", Tensor::FromFloats({3}, {0.5f, -1, 2}))});
    const std::string loss = b.Op("ReduceSum", {wc}, {{"keepdims", int64_t{0}}});
    TrainerOptions options{Options(device), 0.1f, 0.9f};
    auto trainer = Trainer::Create(b.graph(), loss, {"w"}, options);
    ASSERT_TRUE(trainer.ok()) << trainer.status();
    ASSERT_TRUE((*trainer)->Step({}).ok());
    absl::StatusOr<float> l = (*trainer)->Step({});
    ASSERT_TRUE(l.ok()) << l.status();
    EXPECT_NEAR(*l, 3.975f, 1e-5) << device;
    const float* got = (*trainer)->parameters().at("w").as<float>();
    const float want[] = {1 - 0.29f * 0.5f, 2 + 0.29f, 3 - 0.29f * 2};
    for (int i = 0; i < 3; ++i) EXPECT_NEAR(got[i], want[i], 1e-6) << device << " " << i;
    EXPECT_EQ((*trainer)->steps_done(), 2);
  }
}

// Points in [-1,1]^2 labelled by the side of the line x0 - 0.5 x1 + 0.1 = 0, at least 0.1 from it.
void SeparableBatch(std::mt19937& rng, int n, Tensor* x, Tensor* labels, std::vector<int>* classes) {
  std::uniform_real_distribution<float> u(-1, 1);
  std::vector<float> xs;
  classes->clear();
  while (static_cast<int>(classes->size()) < n) {
    const float a = u(rng), c = u(rng), side = a - 0.5f * c + 0.1f;
    if (std::fabs(side) < 0.1f) continue;
    xs.push_back(a);
    xs.push_back(c);
    classes->push_back(side > 0 ? 1 : 0);
  }
  *x = Tensor::FromFloats({n, 2}, xs);
  *labels = OneHot(*classes, 2);
}

// A 2-16-2 MLP (MatMul + Add + Relu, twice; softmax cross-entropy), full-batch SGD with momentum on
// 64 points for 200 steps on the TPU (functional engine, tiny arch), then > 95% accuracy on 256 new
// points. Seeds fixed: the run is deterministic.
TEST(TrainerTest, MlpLearnsSeparableDataOnTheTpu) {
  std::mt19937 rng(5);
  testing::ModelBuilder b;
  const std::string x = b.Input("x", {64, 2});
  const std::string y = b.Input("labels", {64, 2});
  const std::string w1 = b.Const("w1", RandomTensor({2, 16}, rng, 0.7f));
  const std::string b1 = b.Const("b1", Tensor::FromFloats({16}, std::vector<float>(16, 0.0f)));
  const std::string w2 = b.Const("w2", RandomTensor({16, 2}, rng, 0.25f));
  const std::string b2 = b.Const("b2", Tensor::FromFloats({2}, {0, 0}));
  const std::string h = b.Op("Relu", {b.Op("Add", {b.Op("MatMul", {x, w1}), b1})});
  const std::string logits = b.Op("Add", {b.Op("MatMul", {h, w2}), b2});
  const std::string loss = b.CrossEntropy(logits, y, 64);
  b.graph().outputs = {logits};
  TrainerOptions options{Options("tpu"), 0.2f, 0.9f};
  std::ostringstream log;
  options.session.log_device_placement = true;
  options.session.log = &log;
  auto trainer = Trainer::Create(b.graph(), loss, {"w1", "b1", "w2", "b2"}, options);
  ASSERT_TRUE(trainer.ok()) << trainer.status();
  for (const Placement& p : (*trainer)->step_placements()) EXPECT_EQ(p.device, kTpuDeviceName) << p.node << ": " << p.reason;
  EXPECT_THAT(log.str(), ::testing::HasSubstr("Gemm"));
  Tensor xs, ys;
  std::vector<int> classes;
  SeparableBatch(rng, 64, &xs, &ys, &classes);
  float first = 0, last = 0;
  RunReport report;
  for (int step = 0; step < 200; ++step) {
    absl::StatusOr<float> l = (*trainer)->Step({{"x", xs}, {"labels", ys}}, &report);
    ASSERT_TRUE(l.ok()) << l.status();
    if (step == 0) first = *l;
    last = *l;
  }
  EXPECT_LT(last, 0.5f * first);
  EXPECT_EQ(report.cpu_kernels, 0);  // the whole step, update included, is one TPU launch
  EXPECT_EQ(report.tpu_launches, 1);
  EXPECT_EQ(report.programs_compiled, 0);  // compiled at step 0, cached since
  int correct = 0;
  for (int batch = 0; batch < 4; ++batch) {
    SeparableBatch(rng, 64, &xs, &ys, &classes);
    auto out = (*trainer)->Evaluate({{"x", xs}});
    ASSERT_TRUE(out.ok()) << out.status();
    const float* z = out->at(logits).as<float>();
    for (int i = 0; i < 64; ++i) correct += ((z[2 * i + 1] > z[2 * i]) ? 1 : 0) == classes[static_cast<size_t>(i)];
  }
  RecordProperty("first_loss", std::to_string(first));
  RecordProperty("last_loss", std::to_string(last));
  RecordProperty("test_accuracy", std::to_string(correct / 256.0));
  std::cout << "loss " << first << " -> " << last << ", accuracy " << correct << "/256\n";
  EXPECT_GT(correct, 0.95 * 256);
}

}  // namespace
}  // namespace tpusim::runtime
