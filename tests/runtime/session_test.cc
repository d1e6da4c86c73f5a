// Session: placement (rules and the TensorFlow-style log), the one unsupported-ops error, CPU fallback
// inside TPU graphs, feed validation and the compile cache. Values are small integers, exact in bf16,
// so TPU results equal the hand/naive-loop expectations bit for bit.
#include "tpusim/runtime/session.h"

#include <sstream>

#include "gmock/gmock.h"
#include "gtest/gtest.h"
#include "tpusim/isa/arch_config.h"
#include "tpusim/runtime/builder.h"

namespace tpusim::runtime {
namespace {

using compiler::DataType;
using compiler::Tensor;
using ::testing::ElementsAre;
using ::testing::HasSubstr;

SessionOptions TinyOptions() {
  SessionOptions options;
  absl::StatusOr<isa::ArchConfig> arch = isa::LoadPreset("tiny");
  EXPECT_TRUE(arch.ok()) << arch.status();
  if (arch.ok()) options.arch = *arch;
  options.precision = compiler::Precision::kHighest;
  return options;
}

// x [3,4] -> MatMul w [4,5] -> Add b [5] -> Relu -> ArgMax(axis 1); outputs Relu and ArgMax.
// Entries are small integers: every product and sum is exact in bf16/fp32.
struct SmallMlp {
  compiler::Graph graph;
  Tensor x, w, b;
};

SmallMlp MakeSmallMlp() {
  SmallMlp m;
  std::vector<float> xv(12), wv(20), bv(5);
  for (int i = 0; i < 12; ++i) xv[i] = static_cast<float>((i * 7) % 5 - 2);
  for (int i = 0; i < 20; ++i) wv[i] = static_cast<float>((i * 3) % 7 - 3);
  for (int i = 0; i < 5; ++i) bv[i] = static_cast<float>(i - 2);
  m.x = Tensor::FromFloats({3, 4}, xv);
  m.w = Tensor::FromFloats({4, 5}, wv);
  m.b = Tensor::FromFloats({5}, bv);
  GraphBuilder g;
  Output x = g.Placeholder("x", {3, 4});
  Output h = g.Relu(g.Add(g.MatMul(x, g.Variable("w", m.w)), g.Variable("b", m.b)));
  Output cls = g.ArgMax(h, 1);
  absl::StatusOr<compiler::Graph> graph = g.Build({h, cls});
  EXPECT_TRUE(graph.ok()) << graph.status();
  if (graph.ok()) m.graph = *graph;
  return m;
}

// relu(x w + b) and its row-wise argmax (first maximum), by naive loops.
void Reference(const SmallMlp& m, std::vector<float>& h, std::vector<int64_t>& cls) {
  h.assign(15, 0);
  cls.assign(3, 0);
  for (int i = 0; i < 3; ++i) {
    for (int j = 0; j < 5; ++j) {
      float s = m.b.as<float>()[j];
      for (int k = 0; k < 4; ++k) s += m.x.as<float>()[i * 4 + k] * m.w.as<float>()[k * 5 + j];
      h[i * 5 + j] = s > 0 ? s : 0;
      if (h[i * 5 + j] > h[i * 5 + cls[i]]) cls[i] = j;
    }
  }
}

std::vector<float> Floats(const Tensor& t) { return {t.as<float>(), t.as<float>() + t.num_elements()}; }
std::vector<int64_t> Ints(const Tensor& t) { return {t.as<int64_t>(), t.as<int64_t>() + t.num_elements()}; }

TEST(SessionTest, PlacementLogIsOneTensorFlowLinePerOpInNodeOrder) {
  SmallMlp m = MakeSmallMlp();
  std::ostringstream log;
  SessionOptions options = TinyOptions();
  options.log_device_placement = true;
  options.log = &log;
  absl::StatusOr<std::unique_ptr<Session>> s = Session::Create(m.graph, options);
  ASSERT_TRUE(s.ok()) << s.status();
  EXPECT_EQ(log.str(),
            "MatMul: /job:localhost/replica:0/task:0/device:TPU:0\n"
            "Add: /job:localhost/replica:0/task:0/device:TPU:0\n"
            "Relu: /job:localhost/replica:0/task:0/device:TPU:0\n"
            "ArgMax: /job:localhost/replica:0/task:0/device:CPU:0\n");
  const std::vector<Placement>& p = (*s)->placements();
  ASSERT_EQ(p.size(), 4u);
  EXPECT_EQ(p[3].op_type, "ArgMax");
  EXPECT_THAT(p[3].reason, HasSubstr("ArgMax"));
  EXPECT_EQ(p[0].reason, "");
}

TEST(SessionTest, NoLogUnlessRequested) {
  SmallMlp m = MakeSmallMlp();
  std::ostringstream log;
  SessionOptions options = TinyOptions();
  options.log = &log;
  ASSERT_TRUE(Session::Create(m.graph, options).ok());
  EXPECT_EQ(log.str(), "");
}

TEST(SessionTest, UnsupportedOpsWithoutCpuKernelAreListedInOneError) {
  compiler::Graph g;
  g.AddValue("x", DataType::kFloat32, compiler::Shape{2, 2});
  g.inputs = {"x"};
  compiler::Node foo;
  foo.name = "a";
  foo.op_type = "Foo";
  foo.inputs = {"x"};
  foo.outputs = {"y"};
  compiler::Node relu;
  relu.name = "r";
  relu.op_type = "Relu";
  relu.inputs = {"y"};
  relu.outputs = {"z"};
  compiler::Node bar;
  bar.name = "b";
  bar.op_type = "Bar";
  bar.inputs = {"z"};
  bar.outputs = {"out"};
  g.nodes = {foo, relu, bar};
  g.AddValue("y", DataType::kFloat32);
  g.AddValue("z", DataType::kFloat32);
  g.AddValue("out", DataType::kFloat32);
  g.outputs = {"out"};
  for (const std::string device : {"tpu", "cpu"}) {
    SessionOptions options = TinyOptions();
    options.device = device;
    absl::StatusOr<std::unique_ptr<Session>> s = Session::Create(g, options);
    EXPECT_TRUE(absl::IsUnimplemented(s.status())) << s.status();
    EXPECT_THAT(s.status().message(), HasSubstr("unsupported ops: Foo (node 'a'), Bar (node 'b')")) << device;
  }
}

TEST(SessionTest, ArgMaxFallsBackToCpuInsideTpuGraph) {
  SmallMlp m = MakeSmallMlp();
  absl::StatusOr<std::unique_ptr<Session>> s = Session::Create(m.graph, TinyOptions());
  ASSERT_TRUE(s.ok()) << s.status();
  RunReport report;
  absl::StatusOr<std::map<std::string, Tensor>> out = (*s)->Run({{"x", m.x}}, &report);
  ASSERT_TRUE(out.ok()) << out.status();
  std::vector<float> h;
  std::vector<int64_t> cls;
  Reference(m, h, cls);
  EXPECT_EQ(Floats(out->at("Relu")), h);
  EXPECT_EQ(out->at("ArgMax").dtype(), DataType::kInt64);
  EXPECT_EQ(Ints(out->at("ArgMax")), cls);
  EXPECT_EQ(report.tpu_launches, 1);  // MatMul, Add, Relu: one segment
  EXPECT_EQ(report.cpu_kernels, 1);   // ArgMax
  EXPECT_GT(report.tpu.macs, 0u);
  EXPECT_GT(report.tpu.instructions, 0u);
  EXPECT_THAT(report.tpu_op_names, ::testing::Contains("MatMul"));
  EXPECT_EQ(report.tpu.op_instructions.size(), report.tpu_op_names.size());
  EXPECT_NE((*s)->tpu_device(), nullptr);
}

TEST(SessionTest, CpuSessionRunsEverythingOnTheCpu) {
  SmallMlp m = MakeSmallMlp();
  SessionOptions options;
  options.device = "cpu";
  absl::StatusOr<std::unique_ptr<Session>> s = Session::Create(m.graph, options);
  ASSERT_TRUE(s.ok()) << s.status();
  for (const Placement& p : (*s)->placements()) EXPECT_EQ(p.device, kCpuDeviceName) << p.node;
  EXPECT_EQ((*s)->tpu_device(), nullptr);
  RunReport report;
  absl::StatusOr<std::map<std::string, Tensor>> out = (*s)->Run({{"x", m.x}}, &report);
  ASSERT_TRUE(out.ok()) << out.status();
  std::vector<float> h;
  std::vector<int64_t> cls;
  Reference(m, h, cls);
  EXPECT_EQ(Floats(out->at("Relu")), h);
  EXPECT_EQ(Ints(out->at("ArgMax")), cls);
  EXPECT_EQ(report.cpu_kernels, 4);
  EXPECT_EQ(report.tpu_launches, 0);
}

TEST(SessionTest, CpuFallbackDisabledIsAnError) {
  SmallMlp m = MakeSmallMlp();
  SessionOptions options = TinyOptions();
  options.allow_cpu_fallback = false;
  absl::StatusOr<std::unique_ptr<Session>> s = Session::Create(m.graph, options);
  EXPECT_TRUE(absl::IsUnimplemented(s.status()));
  EXPECT_THAT(s.status().message(), HasSubstr("unsupported ops: ArgMax (node 'ArgMax')"));
  EXPECT_THAT(s.status().message(), HasSubstr("fallback is disabled"));
}

TEST(SessionTest, RequestedCpuDeviceSplitsTheTpuWork) {
  SmallMlp m = MakeSmallMlp();
  GraphBuilder g;
  Output x = g.Placeholder("x", {3, 4});
  Output h = g.MatMul(x, g.Variable("w", m.w));
  {
    auto cpu = g.Device("/cpu:0");
    h = g.Add(h, g.Variable("b", m.b));
  }
  Output y = g.Relu(h);
  absl::StatusOr<compiler::Graph> graph = g.Build({y});
  ASSERT_TRUE(graph.ok()) << graph.status();
  absl::StatusOr<std::unique_ptr<Session>> s = Session::Create(*graph, TinyOptions());
  ASSERT_TRUE(s.ok()) << s.status();
  const std::vector<Placement>& p = (*s)->placements();
  EXPECT_EQ(p[0].device, kTpuDeviceName);
  EXPECT_EQ(p[1].device, kCpuDeviceName);
  EXPECT_EQ(p[1].reason, "requested");
  EXPECT_EQ(p[2].device, kTpuDeviceName);
  RunReport report;
  absl::StatusOr<std::map<std::string, Tensor>> out = (*s)->Run({{"x", m.x}}, &report);
  ASSERT_TRUE(out.ok()) << out.status();
  std::vector<float> h_ref;
  std::vector<int64_t> cls;
  Reference(m, h_ref, cls);
  EXPECT_EQ(Floats(out->at("Relu")), h_ref);
  EXPECT_EQ(report.tpu_launches, 2);
  EXPECT_EQ(report.cpu_kernels, 1);
}

TEST(SessionTest, TpuRequestForAnUnsupportedOpIsSoftPlacedOnTheCpu) {
  SmallMlp m = MakeSmallMlp();
  for (compiler::Node& node : m.graph.nodes) node.requested_device = "/tpu:0";
  absl::StatusOr<std::unique_ptr<Session>> s = Session::Create(m.graph, TinyOptions());
  ASSERT_TRUE(s.ok()) << s.status();
  const Placement& argmax = (*s)->placements().back();
  EXPECT_EQ(argmax.node, "ArgMax");
  EXPECT_EQ(argmax.device, kCpuDeviceName);
  EXPECT_THAT(argmax.reason, HasSubstr("not supported on the TPU"));
  EXPECT_EQ((*s)->placements().front().device, kTpuDeviceName);
}

TEST(SessionTest, FeedErrorsNameTheInput) {
  SmallMlp m = MakeSmallMlp();
  absl::StatusOr<std::unique_ptr<Session>> s = Session::Create(m.graph, TinyOptions());
  ASSERT_TRUE(s.ok()) << s.status();
  Session& session = **s;
  auto message = [&](const std::map<std::string, Tensor>& feeds) {
    absl::StatusOr<std::map<std::string, Tensor>> out = session.Run(feeds);
    EXPECT_TRUE(absl::IsInvalidArgument(out.status())) << out.status();
    return std::string(out.status().message());
  };
  EXPECT_THAT(message({}), HasSubstr("graph input 'x' is not fed"));
  EXPECT_THAT(message({{"x", m.x}, {"y", m.x}}), HasSubstr("feed 'y' is not a graph input"));
  EXPECT_THAT(message({{"x", Tensor(DataType::kFloat32, {4, 3})}}), HasSubstr("input 'x': shape [4,3]"));
  EXPECT_THAT(message({{"x", Tensor(DataType::kInt64, {3, 4})}}), HasSubstr("input 'x': dtype int64"));
  // The session still works after rejected feeds.
  EXPECT_TRUE(session.Run({{"x", m.x}}).ok());
}

TEST(SessionTest, SecondRunHitsTheCompileCache) {
  SmallMlp m = MakeSmallMlp();
  absl::StatusOr<std::unique_ptr<Session>> s = Session::Create(m.graph, TinyOptions());
  ASSERT_TRUE(s.ok()) << s.status();
  RunReport first, second;
  ASSERT_TRUE((*s)->Run({{"x", m.x}}, &first).ok());
  EXPECT_EQ(first.programs_compiled, 1);
  EXPECT_EQ(first.program_cache_hits, 0);
  absl::StatusOr<std::map<std::string, Tensor>> out = (*s)->Run({{"x", m.x}}, &second);
  ASSERT_TRUE(out.ok()) << out.status();
  EXPECT_EQ(second.programs_compiled, 0);
  EXPECT_EQ(second.program_cache_hits, 1);
  EXPECT_EQ(second.compile_seconds, 0.0);
  EXPECT_EQ(second.tpu.instructions, first.tpu.instructions);
}

TEST(SessionTest, BadOptionsAndGraphsAreRejected) {
  SmallMlp m = MakeSmallMlp();
  SessionOptions options = TinyOptions();
  options.device = "gpu";
  EXPECT_TRUE(absl::IsInvalidArgument(Session::Create(m.graph, options).status()));
  compiler::Graph bad = m.graph;
  bad.nodes[0].requested_device = "/gpu:0";
  absl::StatusOr<std::unique_ptr<Session>> s = Session::Create(bad, TinyOptions());
  EXPECT_TRUE(absl::IsInvalidArgument(s.status()));
  EXPECT_THAT(s.status().message(), HasSubstr("node 'MatMul'"));
  bad = m.graph;
  bad.nodes[1].inputs[0] = "nope";
  EXPECT_FALSE(Session::Create(bad, TinyOptions()).ok());
}

TEST(SessionTest, GraphOutputMayBeAGraphInputOrConstant) {
  GraphBuilder g;
  Output x = g.Placeholder("x", {2});
  Output c = g.Constant(Tensor::FromFloats({2}, {5, 6}));
  absl::StatusOr<compiler::Graph> graph = g.Build({x, c, g.Relu(x)});
  ASSERT_TRUE(graph.ok()) << graph.status();
  absl::StatusOr<std::unique_ptr<Session>> s = Session::Create(*graph, TinyOptions());
  ASSERT_TRUE(s.ok()) << s.status();
  absl::StatusOr<std::map<std::string, Tensor>> out = (*s)->Run({{"x", Tensor::FromFloats({2}, {-1, 2})}});
  ASSERT_TRUE(out.ok()) << out.status();
  EXPECT_THAT(Floats(out->at("x")), ElementsAre(-1, 2));
  EXPECT_THAT(Floats(out->at("Const")), ElementsAre(5, 6));
  EXPECT_THAT(Floats(out->at("Relu")), ElementsAre(0, 2));
}

TEST(SessionTest, UnknownInputShapeCompilesPerFedShape) {
  // x has no declared shape: each distinct fed shape compiles (and caches) its own program.
  compiler::Graph g;
  g.AddValue("x", DataType::kFloat32);
  g.inputs = {"x"};
  g.AddValue("w", DataType::kFloat32, compiler::Shape{2, 2}).constant = Tensor::FromFloats({2, 2}, {1, 2, 3, 4});
  compiler::Node mm;
  mm.name = "mm";
  mm.op_type = "MatMul";
  mm.inputs = {"x", "w"};
  mm.outputs = {"y"};
  g.nodes = {mm};
  g.AddValue("y", DataType::kFloat32);
  g.outputs = {"y"};
  absl::StatusOr<std::unique_ptr<Session>> s = Session::Create(g, TinyOptions());
  ASSERT_TRUE(s.ok()) << s.status();
  EXPECT_EQ((*s)->placements()[0].device, kTpuDeviceName);
  RunReport report;
  // [1,1] x [[1,2],[3,4]] = [4,6]
  absl::StatusOr<std::map<std::string, Tensor>> out = (*s)->Run({{"x", Tensor::FromFloats({1, 2}, {1, 1})}}, &report);
  ASSERT_TRUE(out.ok()) << out.status();
  EXPECT_THAT(Floats(out->at("y")), ElementsAre(4, 6));
  EXPECT_EQ(report.programs_compiled, 1);
  // [[1,0],[0,1],[2,0]] x w = [[1,2],[3,4],[2,4]]
  out = (*s)->Run({{"x", Tensor::FromFloats({3, 2}, {1, 0, 0, 1, 2, 0})}}, &report);
  ASSERT_TRUE(out.ok()) << out.status();
  EXPECT_THAT(Floats(out->at("y")), ElementsAre(1, 2, 3, 4, 2, 4));
  EXPECT_EQ(report.programs_compiled, 1);
  out = (*s)->Run({{"x", Tensor::FromFloats({1, 2}, {0, 1})}}, &report);
  ASSERT_TRUE(out.ok()) << out.status();
  EXPECT_EQ(report.program_cache_hits, 1);
}

}  // namespace
}  // namespace tpusim::runtime
