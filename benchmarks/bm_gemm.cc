// GEMM throughput: the functional engine running a compiled N x N x N MatMul (tpu-v4 preset: 128x128
// bf16 -> fp32 array, precision bf16) against Eigen's fp32 GEMM on the same shapes, single-threaded.
// items_processed = N^3 multiply-accumulates per iteration, so the items/s columns compare directly.
// Only the engine run is timed (compilation, loading and the per-run on-chip reset are not).
//   build/benchmarks/bm_gemm --benchmark_filter='/(256|512)$'
#include <benchmark/benchmark.h>

#include <Eigen/Dense>
#include <memory>

#include "tpusim/compiler_backend/compiler.h"
#include "tpusim/isa/arch_config.h"
#include "tpusim/isa/program.h"
#include "tpusim/runtime/tensor_io.h"
#include "tpusim/simulator/engine.h"

namespace {

using tpusim::compiler::DataType;

// A program computing y = a * w for a [n, n] input a and a [n, n] constant w, loaded into a device
// state at frame base 0, ready to run.
struct LoadedGemm {
  tpusim::isa::Program program;
  std::vector<tpusim::isa::Instruction> code;
  std::unique_ptr<tpusim::simulator::DeviceState> state;
  std::unique_ptr<tpusim::simulator::Engine> engine;
};

absl::StatusOr<LoadedGemm> CompileAndLoad(int64_t n) {
  absl::StatusOr<tpusim::isa::ArchConfig> arch = tpusim::isa::LoadPreset("tpu-v4");
  if (!arch.ok()) return arch.status();
  tpusim::compiler::Graph graph;
  graph.AddValue("a", DataType::kFloat32, tpusim::compiler::Shape{n, n});
  graph.AddValue("w", DataType::kFloat32, tpusim::compiler::Shape{n, n}).constant =
      tpusim::runtime::RandomTensor(DataType::kFloat32, {n, n}, 2);
  graph.AddValue("y", DataType::kFloat32);
  tpusim::compiler::Node matmul;
  matmul.name = "gemm";
  matmul.op_type = "MatMul";
  matmul.inputs = {"a", "w"};
  matmul.outputs = {"y"};
  graph.nodes.push_back(matmul);
  graph.inputs = {"a"};
  graph.outputs = {"y"};
  if (absl::Status s = tpusim::compiler::InferShapes(graph); !s.ok()) return s;
  tpusim::compiler::CompileOptions options;
  options.arch = *arch;
  options.precision = tpusim::compiler::Precision::kBf16;
  LoadedGemm g;
  absl::StatusOr<tpusim::isa::Program> program = tpusim::compiler::Compile(graph, options);
  if (!program.ok()) return program.status();
  g.program = *std::move(program);
  absl::StatusOr<std::vector<tpusim::isa::Instruction>> code = tpusim::isa::DecodeCode(g.program);
  if (!code.ok()) return code.status();
  g.code = *std::move(code);
  g.state = std::make_unique<tpusim::simulator::DeviceState>(*arch, tpusim::isa::BF16_FP32);
  for (const tpusim::isa::Segment& seg : g.program.constants()) {
    if (absl::Status s = g.state->dram.Write(seg.dram_offset(), seg.data().data(), seg.data().size());
        !s.ok()) {
      return s;
    }
  }
  const tpusim::compiler::Tensor a = tpusim::runtime::RandomTensor(DataType::kFloat32, {n, n}, 1);
  if (absl::Status s = g.state->dram.Write(g.program.inputs(0).dram_offset(), a.data(), a.byte_size());
      !s.ok()) {
    return s;
  }
  absl::StatusOr<std::unique_ptr<tpusim::simulator::Engine>> engine =
      tpusim::simulator::CreateEngine("functional", *arch);
  if (!engine.ok()) return engine.status();
  g.engine = *std::move(engine);
  return g;
}

void BM_FunctionalEngineGemm(benchmark::State& state) {
  const int64_t n = state.range(0);
  absl::StatusOr<LoadedGemm> gemm = CompileAndLoad(n);
  if (!gemm.ok()) {
    state.SkipWithError(std::string(gemm.status().ToString()).c_str());
    return;
  }
  const tpusim::simulator::Launch launch{&gemm->program, &gemm->code, 0};
  tpusim::simulator::RunStats last;
  for (auto _ : state) {
    state.PauseTiming();
    gemm->state->ResetOnChip(tpusim::isa::BF16_FP32);
    state.ResumeTiming();
    absl::StatusOr<tpusim::simulator::RunStats> stats = gemm->engine->Run(launch, *gemm->state);
    if (!stats.ok()) {
      state.SkipWithError(std::string(stats.status().ToString()).c_str());
      return;
    }
    last = *stats;
  }
  state.SetItemsProcessed(state.iterations() * n * n * n);
  state.counters["array_macs"] = static_cast<double>(last.macs);  // incl. padding to 128x128 tiles
  state.counters["instructions"] = static_cast<double>(last.instructions);
}

void BM_EigenGemm(benchmark::State& state) {
  const int64_t n = state.range(0);
  const Eigen::MatrixXf a = Eigen::MatrixXf::Random(n, n);
  const Eigen::MatrixXf w = Eigen::MatrixXf::Random(n, n);
  Eigen::MatrixXf y(n, n);
  for (auto _ : state) {
    y.noalias() = a * w;
    benchmark::DoNotOptimize(y.data());
    benchmark::ClobberMemory();
  }
  state.SetItemsProcessed(state.iterations() * n * n * n);
}

BENCHMARK(BM_FunctionalEngineGemm)->Arg(64)->Arg(256)->Arg(512)->Arg(1024)->Unit(benchmark::kMillisecond);
BENCHMARK(BM_EigenGemm)->Arg(64)->Arg(256)->Arg(512)->Arg(1024)->Unit(benchmark::kMillisecond);

}  // namespace

BENCHMARK_MAIN();
