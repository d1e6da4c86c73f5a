// How well compiled schedules use the hardware (issue 5 item 4), on the cycle engine, tpu-v4, bf16,
// token schedule: the figures are simulated, so one iteration each; wall time is incidental.
//   gemm/N          a [N,N] x [N,N] MatMul (random fp32 input and weights) compiled with the token and
//                   with the serial schedule. Counters: simulated_cycles, mxu_utilization_all =
//                   useful MACs / (cycles x R x C x mxu_count) (every MXU, metrics.h: the token
//                   schedule drives all of them), and the serial schedule's cycles (one MXU).
//   model/<name>    a model zoo network (examples/model_zoo.h, full size, batch 1) run by a Session
//                   (every op on the TPU). Counters: simulated_cycles, roofline_cycles (RooflineCycles of
//                   the run's useful MACs and DRAM bytes, metrics.h), roofline_fraction (= roofline
//                   cycles / cycles, what `tpusim profile` prints as FLOPS utilization) and the cycle
//                   buckets as fractions.
//   build/benchmarks/bm_schedule                       # all (minutes: ResNet-50 simulates 1.2 M cycles)
//   build/benchmarks/bm_schedule --benchmark_filter=gemm/2048
// TPUSIM_BM_ARCH=<preset or .textproto> replaces tpu-v4 (e.g. to compare weight FIFO depths).
#include <benchmark/benchmark.h>

#include <cstdio>
#include <cstdlib>
#include <map>
#include <memory>
#include <string>

#include "model_zoo.h"
#include "tpusim/compiler_backend/onnx_frontend.h"
#include "tpusim/isa/status_macros.h"
#include "tpusim/isa/arch_config.h"
#include "tpusim/runtime/builder.h"
#include "tpusim/runtime/metrics.h"
#include "tpusim/runtime/session.h"
#include "tpusim/runtime/tensor_io.h"

namespace {

using tpusim::compiler::DataType;
using tpusim::compiler::Tensor;
namespace rt = tpusim::runtime;

tpusim::isa::ArchConfig BenchArch() {
  const char* env = std::getenv("TPUSIM_BM_ARCH");
  absl::StatusOr<tpusim::isa::ArchConfig> arch = tpusim::isa::LoadArch(env != nullptr ? env : "tpu-v4");
  if (!arch.ok()) {
    std::fprintf(stderr, "bm_schedule: %s\n", std::string(arch.status().message()).c_str());
    std::exit(2);
  }
  return *arch;
}

// One cycle-engine run of `graph` on BenchArch() with every op on the TPU; fills `stats` (the run's TPU
// counters, accumulated over its launches).
absl::Status RunOnce(tpusim::compiler::Graph graph, tpusim::compiler::Schedule schedule,
                     const std::map<std::string, Tensor>& feeds, tpusim::simulator::RunStats& stats) {
  rt::SessionOptions options;
  options.arch = BenchArch();
  options.engine = "cycle";
  options.precision = tpusim::compiler::Precision::kBf16;
  options.schedule = schedule;
  options.allow_cpu_fallback = false;
  TPUSIM_ASSIGN_OR_RETURN(std::unique_ptr<rt::Session> session, rt::Session::Create(std::move(graph), options));
  rt::RunReport report;
  TPUSIM_RETURN_IF_ERROR(session->Run(feeds, &report).status());
  stats = report.tpu;
  return absl::OkStatus();
}

void BM_Gemm(benchmark::State& state) {
  const int64_t n = state.range(0);
  const tpusim::isa::ArchConfig arch = BenchArch();
  rt::GraphBuilder b;
  rt::Output x = b.Placeholder("x", {n, n});
  absl::StatusOr<tpusim::compiler::Graph> graph =
      b.Build({b.MatMul(x, b.Variable("w", rt::RandomTensor(DataType::kFloat32, {n, n}, 2)))});
  const std::map<std::string, Tensor> feeds = {{"x", rt::RandomTensor(DataType::kFloat32, {n, n}, 1)}};
  tpusim::simulator::RunStats tokens, serial;
  for (auto _ : state) {
    absl::Status s = graph.ok() ? RunOnce(*graph, tpusim::compiler::Schedule::kTokens, feeds, tokens) : graph.status();
    if (s.ok()) s = RunOnce(*graph, tpusim::compiler::Schedule::kSerial, feeds, serial);
    if (!s.ok()) {
      state.SkipWithError(s.ToString().c_str());
      return;
    }
  }
  state.counters["simulated_cycles"] = static_cast<double>(tokens.cycles);
  state.counters["serial_cycles"] = static_cast<double>(serial.cycles);
  state.counters["mxu_utilization_all"] = rt::MxuUtilization(tokens.useful_macs, tokens.cycles, arch);
}

void BM_Model(benchmark::State& state, const std::string& name) {
  const tpusim::isa::ArchConfig arch = BenchArch();
  std::string bytes;
  for (const tpusim::models::NamedModel& m : tpusim::models::AllModels(true)) {
    if (m.name == name) bytes = m.model.SerializeAsString();
  }
  absl::StatusOr<tpusim::compiler::Graph> graph = tpusim::compiler::ImportOnnxModel(bytes);
  if (!graph.ok()) {
    state.SkipWithError(graph.status().ToString().c_str());
    return;
  }
  std::map<std::string, Tensor> feeds;
  for (const std::string& in : graph->inputs) {
    const tpusim::compiler::Value* v = graph->FindValue(in);
    feeds[in] = rt::RandomTensor(v->dtype, v->shape.value_or(tpusim::compiler::Shape{}), 1);
  }
  tpusim::simulator::RunStats stats;
  for (auto _ : state) {
    if (absl::Status s = RunOnce(*graph, tpusim::compiler::Schedule::kTokens, feeds, stats); !s.ok()) {
      state.SkipWithError(s.ToString().c_str());
      return;
    }
  }
  const rt::RunMetrics m = rt::ComputeRunMetrics(stats, arch);
  state.counters["simulated_cycles"] = static_cast<double>(m.cycles);
  state.counters["roofline_cycles"] = m.roofline_cycles;
  state.counters["roofline_fraction"] = m.flops_utilization;
  for (size_t i = 0; i < m.bucket_fractions.size(); ++i) {
    state.counters["bucket_" + std::string(rt::kBucketNames[i])] = m.bucket_fractions[i];
  }
}

BENCHMARK(BM_Gemm)->Name("gemm")->Arg(512)->Arg(2048)->Unit(benchmark::kSecond)->Iterations(1);
BENCHMARK_CAPTURE(BM_Model, resnet50, std::string("resnet50"))->Name("model/resnet50")
    ->Unit(benchmark::kSecond)->Iterations(1);
BENCHMARK_CAPTURE(BM_Model, resnet18, std::string("resnet18"))->Name("model/resnet18")
    ->Unit(benchmark::kSecond)->Iterations(1);
BENCHMARK_CAPTURE(BM_Model, bert_layer, std::string("bert_layer"))->Name("model/bert_layer")
    ->Unit(benchmark::kSecond)->Iterations(1);

}  // namespace

BENCHMARK_MAIN();
