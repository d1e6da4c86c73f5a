// LSTM, GRU and RNN: the CPU reference kernels against ONNX's shipped test data and hand arithmetic,
// and the TPU (unrolled at compile time, expand_rnn.cc) against the shipped outputs and the CPU kernel.
#include <gtest/gtest.h>

#include <cmath>
#include <memory>

#include "cpu_kernel_test_util.h"
#include "onnx_test_data.h"
#include "tpusim/compiler_backend/compiler.h"
#include "tpusim/compiler_backend/onnx_frontend.h"
#include "tpusim/isa/arch_config.h"
#include "tpusim/runtime/cpu_kernels.h"
#include "tpusim/runtime/session.h"

namespace tpusim::runtime {
namespace {

using compiler::Graph;
using compiler::Node;
using compiler::Shape;
using compiler::Tensor;

// Every recurrent node test of libonnx-testdata (test_lstm_with_peepholes feeds sequence_lens, which
// the TPU takes as a compile-time input equal to the sequence length).
const std::vector<std::string> kNodeTests = {
    "test_gru_batchwise",        "test_gru_defaults",          "test_gru_seq_length",
    "test_gru_with_initial_bias", "test_lstm_batchwise",       "test_lstm_defaults",
    "test_lstm_with_initial_bias", "test_lstm_with_peepholes", "test_rnn_seq_length",
    "test_simple_rnn_batchwise", "test_simple_rnn_defaults",   "test_simple_rnn_with_initial_bias",
};

// Runs a node test on `device` ("cpu", or "tpu" with no fallback at highest on `engine`); "" on success.
std::string RunNodeTest(const std::string& name, const std::string& device, const std::string& engine) {
  const std::string dir = tpusim::testing::OnnxNodeTestDir(name);
  absl::StatusOr<Graph> graph = compiler::ImportOnnxFile(dir + "/model.onnx");
  if (!graph.ok()) return graph.status().ToString();
  absl::StatusOr<std::unique_ptr<Session>> session =
      Session::Create(*std::move(graph), testing::TinyOptions(device, engine));
  if (!session.ok()) return session.status().ToString();
  const Graph& g = (*session)->graph();
  for (const std::string& set : tpusim::testing::OnnxDataSets(dir)) {
    const std::vector<std::string> inputs = tpusim::testing::OnnxDataFiles(set, "input");
    const std::vector<std::string> outputs = tpusim::testing::OnnxDataFiles(set, "output");
    if (inputs.size() != g.inputs.size() || outputs.size() != g.outputs.size()) return "input/output count";
    std::map<std::string, Tensor> feeds;
    for (size_t k = 0; k < inputs.size(); ++k) feeds[g.inputs[k]] = *compiler::ReadTensorProtoFile(inputs[k]);
    absl::StatusOr<std::map<std::string, Tensor>> got = (*session)->Run(feeds);
    if (!got.ok()) return got.status().ToString();
    for (size_t k = 0; k < outputs.size(); ++k) {
      const std::string mismatch = tpusim::testing::AllCloseMismatch(got->at(g.outputs[k]), *compiler::ReadTensorProtoFile(outputs[k]));
      if (!mismatch.empty()) return absl::StrCat(g.outputs[k], ": ", mismatch);
    }
  }
  return "";
}

class RnnNodeTest : public ::testing::TestWithParam<std::string> {};

TEST_P(RnnNodeTest, CpuKernelMatchesShippedOutputs) { EXPECT_EQ(RunNodeTest(GetParam(), "cpu", ""), ""); }

TEST_P(RnnNodeTest, TpuFunctionalMatchesShippedOutputsAtHighest) {
  EXPECT_EQ(RunNodeTest(GetParam(), "tpu", "functional"), "");
}

TEST_P(RnnNodeTest, TpuCycleMatchesShippedOutputsAtHighest) { EXPECT_EQ(RunNodeTest(GetParam(), "tpu", "cycle"), ""); }

INSTANTIATE_TEST_SUITE_P(OnnxNodeTests, RnnNodeTest, ::testing::ValuesIn(kNodeTests));

// A one-node recurrent graph: inputs X, W, R (+ the named optional ones as graph inputs), outputs
// Y, Y_h (and Y_c for LSTM).
Graph OneNode(const std::string& op, std::map<std::string, compiler::Attribute> attrs,
              const std::vector<std::pair<std::string, Shape>>& inputs) {
  Graph g;
  Node n;
  n.name = "rnn";
  n.op_type = op;
  n.opset = 14;
  n.attrs = std::move(attrs);
  static const char* const kSlots[] = {"X", "W", "R", "B", "sequence_lens", "initial_h", "initial_c", "P"};
  size_t last = 0;
  for (size_t i = 0; i < 8; ++i) {
    for (const auto& [name, shape] : inputs) {
      if (name == kSlots[i]) last = i;
    }
  }
  n.inputs.assign(last + 1, "");
  for (const auto& [name, shape] : inputs) {
    for (size_t i = 0; i < 8; ++i) {
      if (name == kSlots[i]) n.inputs[i] = name;
    }
    g.AddValue(name, name == "sequence_lens" ? compiler::DataType::kInt32 : compiler::DataType::kFloat32, shape);
    g.inputs.push_back(name);
  }
  n.outputs = {"Y", "Y_h"};
  if (op == "LSTM") n.outputs.push_back("Y_c");
  for (const std::string& out : n.outputs) {
    g.AddValue(out, compiler::DataType::kFloat32);
    g.outputs.push_back(out);
  }
  g.nodes.push_back(n);
  return g;
}

// Deterministic values in [-1, 1).
Tensor Ramp(const Shape& shape, int seed) {
  std::vector<float> v(compiler::NumElements(shape));
  uint32_t s = 2654435761u * static_cast<uint32_t>(seed + 1);
  for (float& x : v) {
    s = s * 1664525u + 1013904223u;
    x = static_cast<float>(s >> 8) / static_cast<float>(1 << 24) * 2.0f - 1.0f;
  }
  return Tensor::FromFloats(shape, v);
}

absl::StatusOr<std::map<std::string, Tensor>> RunOn(const Graph& g, const std::map<std::string, Tensor>& feeds,
                                                    const std::string& device, bool fallback = false) {
  SessionOptions options;
  options.device = device;
  options.arch = *isa::LoadPreset("tiny");
  options.precision = compiler::Precision::kHighest;
  options.allow_cpu_fallback = fallback;
  absl::StatusOr<std::unique_ptr<Session>> session = Session::Create(g, options);
  if (!session.ok()) return session.status();
  return (*session)->Run(feeds);
}

// Hand arithmetic: a 1-unit RNN over two steps, W = 0.5, R = -1, Wb + Rb = 0.25, x = (1, 2):
// h1 = tanh(0.5 + 0.25) = tanh(0.75), h2 = tanh(1.0 - h1 + 0.25).
TEST(RnnCpuKernel, OneUnitRnnFollowsTheRecurrence) {
  Node n;
  n.name = "rnn";
  n.op_type = "RNN";
  n.inputs = {"X", "W", "R", "B"};
  n.outputs = {"Y", "Y_h"};
  const Tensor x = Tensor::FromFloats({2, 1, 1}, {1, 2});
  const Tensor w = Tensor::FromFloats({1, 1, 1}, {0.5f});
  const Tensor r = Tensor::FromFloats({1, 1, 1}, {-1});
  const Tensor b = Tensor::FromFloats({1, 2}, {0.125f, 0.125f});
  absl::StatusOr<std::vector<Tensor>> out = RunCpuKernel(n, {&x, &w, &r, &b});
  ASSERT_TRUE(out.ok()) << out.status();
  const float h1 = std::tanh(0.75f), h2 = std::tanh(1.25f - h1);
  EXPECT_EQ((*out)[0].shape(), (Shape{2, 1, 1, 1}));
  EXPECT_FLOAT_EQ((*out)[0].as<float>()[0], h1);
  EXPECT_FLOAT_EQ((*out)[0].as<float>()[1], h2);
  EXPECT_FLOAT_EQ((*out)[1].as<float>()[0], h2);
}

// Reverse direction = forward direction over the time-reversed sequence (Y reversed back).
TEST(RnnCpuKernel, ReverseEqualsForwardOnReversedSequence) {
  const int64_t seq = 3, batch = 2, in = 2, H = 3;
  Tensor x = Ramp({seq, batch, in}, 1), xr(compiler::DataType::kFloat32, {seq, batch, in});
  for (int64_t t = 0; t < seq; ++t) {
    std::copy_n(x.as<float>() + t * batch * in, batch * in, xr.as<float>() + (seq - 1 - t) * batch * in);
  }
  const Tensor w = Ramp({1, 4 * H, in}, 2), r = Ramp({1, 4 * H, H}, 3), b = Ramp({1, 8 * H}, 4);
  Node n;
  n.name = "lstm";
  n.op_type = "LSTM";
  n.inputs = {"X", "W", "R", "B"};
  n.outputs = {"Y", "Y_h", "Y_c"};
  n.attrs["direction"] = std::string("reverse");
  absl::StatusOr<std::vector<Tensor>> rev = RunCpuKernel(n, {&x, &w, &r, &b});
  n.attrs["direction"] = std::string("forward");
  absl::StatusOr<std::vector<Tensor>> fwd = RunCpuKernel(n, {&xr, &w, &r, &b});
  ASSERT_TRUE(rev.ok() && fwd.ok());
  for (int64_t t = 0; t < seq; ++t) {
    for (int64_t k = 0; k < batch * H; ++k) {
      EXPECT_EQ((*rev)[0].as<float>()[t * batch * H + k], (*fwd)[0].as<float>()[(seq - 1 - t) * batch * H + k]);
    }
  }
  for (int64_t k = 0; k < batch * H; ++k) EXPECT_EQ((*rev)[1].as<float>()[k], (*fwd)[1].as<float>()[k]);
}

// Every feature at once on the TPU (no fallback) against the CPU kernel: bidirectional, batch-first,
// bias, initial states, peepholes, clip; GRU with linear_before_reset. Tolerance: highest precision is
// about fp32 (6-pass bf16); the vector unit's sigmoid/tanh are fp32 functions of isa numerics, so the
// two agree to a few fp32 ulps per step: 1e-4 absolute on values in (-1, 1) over 4 steps.
struct Case {
  std::string op;
  std::map<std::string, compiler::Attribute> attrs;
};

class RnnTpuVsCpu : public ::testing::TestWithParam<int> {};

TEST_P(RnnTpuVsCpu, AllFeaturesMatchTheCpuKernel) {
  const std::vector<Case> cases = {
      {"LSTM", {{"direction", std::string("bidirectional")}, {"layout", int64_t{1}}, {"clip", 2.5f}}},
      {"GRU", {{"direction", std::string("bidirectional")}, {"linear_before_reset", int64_t{1}}}},
      {"GRU", {{"direction", std::string("reverse")}}},
      {"RNN", {{"direction", std::string("bidirectional")}, {"layout", int64_t{1}}}},
  };
  const Case& c = cases[GetParam()];
  const int64_t seq = 4, batch = 2, in = 3, H = 5, G = c.op == "LSTM" ? 4 : c.op == "GRU" ? 3 : 1;
  const int64_t D = 2;  // the reverse-only case slices direction 0 of two-direction tensors below
  const bool bi = std::get<std::string>(c.attrs.at("direction")) == "bidirectional";
  const int64_t dirs = bi ? D : 1;
  const bool bf = c.attrs.count("layout") != 0;
  const Shape state = bf ? Shape{batch, dirs, H} : Shape{dirs, batch, H};
  std::vector<std::pair<std::string, Shape>> inputs = {{"X", bf ? Shape{batch, seq, in} : Shape{seq, batch, in}},
                                                       {"W", {dirs, G * H, in}},
                                                       {"R", {dirs, G * H, H}},
                                                       {"B", {dirs, 2 * G * H}},
                                                       {"initial_h", state}};
  if (c.op == "LSTM") {
    inputs.push_back({"initial_c", state});
    inputs.push_back({"P", {dirs, 3 * H}});
  }
  Graph g = OneNode(c.op, c.attrs, inputs);
  std::map<std::string, Tensor> feeds;
  int seed = 10;
  for (const auto& [name, shape] : inputs) feeds[name] = Ramp(shape, seed++);
  absl::StatusOr<std::map<std::string, Tensor>> cpu = RunOn(g, feeds, "cpu");
  absl::StatusOr<std::map<std::string, Tensor>> tpu = RunOn(g, feeds, "tpu");
  ASSERT_TRUE(cpu.ok()) << cpu.status();
  ASSERT_TRUE(tpu.ok()) << tpu.status();
  for (const std::string& out : g.outputs) {
    const Tensor& a = cpu->at(out);
    const Tensor& b = tpu->at(out);
    ASSERT_EQ(a.shape(), b.shape()) << out;
    for (int64_t i = 0; i < a.num_elements(); ++i) {
      EXPECT_NEAR(a.as<float>()[i], b.as<float>()[i], 1e-4) << out << "[" << i << "]";
    }
  }
}

INSTANTIATE_TEST_SUITE_P(Cases, RnnTpuVsCpu, ::testing::Range(0, 4));

// sequence_lens shorter than the sequence: the TPU refuses with the reason, the CPU kernel runs it.
TEST(RnnPlacement, ShortSequenceLensIsCompiledOnlyWhenFull) {
  Graph g = OneNode("GRU", {}, {{"X", {3, 2, 2}}, {"W", {1, 9, 2}}, {"R", {1, 9, 3}}, {"sequence_lens", {2}}});
  std::map<std::string, Tensor> feeds = {{"X", Ramp({3, 2, 2}, 1)}, {"W", Ramp({1, 9, 2}, 2)}, {"R", Ramp({1, 9, 3}, 3)}};
  Tensor lens(compiler::DataType::kInt32, {2});
  lens.as<int32_t>()[0] = 3;
  lens.as<int32_t>()[1] = 2;
  feeds["sequence_lens"] = lens;
  absl::StatusOr<std::map<std::string, Tensor>> tpu = RunOn(g, feeds, "tpu");
  ASSERT_FALSE(tpu.ok());
  EXPECT_NE(tpu.status().message().find("sequence_lens[1] = 2 shorter than the sequence length 3"), std::string::npos)
      << tpu.status();
  absl::StatusOr<std::map<std::string, Tensor>> cpu = RunOn(g, feeds, "cpu");
  ASSERT_TRUE(cpu.ok()) << cpu.status();
  // Batch entry 1 stops after 2 steps: Y[2, 0, 1, :] is zero.
  for (int64_t j = 0; j < 3; ++j) EXPECT_EQ(cpu->at("Y").as<float>()[((2 * 1 + 0) * 2 + 1) * 3 + j], 0.0f);
  lens.as<int32_t>()[1] = 3;
  feeds["sequence_lens"] = lens;
  tpu = RunOn(g, feeds, "tpu");
  ASSERT_TRUE(tpu.ok()) << tpu.status();
}

TEST(RnnPlacement, InputForgetFallsBackToNothingWithAClearReason) {
  Graph g = OneNode("LSTM", {{"input_forget", int64_t{1}}}, {{"X", {1, 1, 1}}, {"W", {1, 4, 1}}, {"R", {1, 4, 1}}});
  const compiler::Node& n = g.nodes[0];
  absl::Status st = compiler::CheckTpuSupport(n, g);
  EXPECT_TRUE(absl::IsUnimplemented(st)) << st;
  EXPECT_NE(st.message().find("input_forget=1"), std::string::npos) << st;
}

}  // namespace
}  // namespace tpusim::runtime
