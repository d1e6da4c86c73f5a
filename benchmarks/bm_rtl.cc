// Speed of the `rtl` engine (the Verilated SystemVerilog core) against the `cycle` engine on the same
// program (README, "Speed of the rtl engine").
//
// Program: matmul64 of bm_cycle, a [64,64] x [64,64] fp32 MatMul compiled at precision bf16 with the
// default token schedule, on `tiny` (8x8) and on `rtl-16x16` (configs/rtl-16x16.textproto): the two
// sizes the core is Verilated at. Only Engine::Run is timed (compilation, loading and the per-run
// on-chip reset are not), in wall time.
//   BM_rtl/<arch>, BM_cycle/<arch>: one engine each; counter simulated_cycles_per_second (simulated
//       cycles of one run x runs / wall seconds, kIsIterationInvariantRate).
//   BM_rtl_vs_cycle/<arch>: both engines in each iteration, each timed alone: counters
//       rtl_cycles_per_second, cycle_cycles_per_second, cycle_over_rtl (how many times faster the
//       cycle engine simulates) and cycles_match (1 when both engines counted the same cycles).
// Without RTL core models (no Verilator) the rtl benchmarks are skipped with an error saying so.
//   build/benchmarks/bm_rtl --benchmark_filter=tiny
#include <benchmark/benchmark.h>

#include <chrono>
#include <memory>
#include <string>
#include <vector>

#include "absl/strings/str_cat.h"
#include "tpusim/compiler_backend/compiler.h"
#include "tpusim/isa/arch_config.h"
#include "tpusim/isa/program.h"
#include "tpusim/rtl/rtl_engine.h"
#include "tpusim/runtime/builder.h"
#include "tpusim/runtime/tensor_io.h"
#include "tpusim/simulator/engine.h"

namespace {

using tpusim::compiler::DataType;
using tpusim::compiler::Tensor;
namespace rt = tpusim::runtime;
namespace sim = tpusim::simulator;

absl::StatusOr<tpusim::isa::ArchConfig> Arch(const std::string& name) {
  if (name == "rtl-16x16") {
    return tpusim::isa::LoadArchConfigFile(std::string(TPUSIM_SOURCE_DIR) + "/configs/rtl-16x16.textproto");
  }
  return tpusim::isa::LoadPreset(name);
}

// OK when this build's RTL core can run `arch`; else the reason, for SkipWithError.
absl::Status RtlAvailable(const tpusim::isa::ArchConfig& arch) {
  if (tpusim::rtl::CoreModelNames().empty()) {
    return absl::FailedPreconditionError(
        "skipped: this build has no RTL core models (Verilator 5 was not found at configure time)");
  }
  absl::Status s = tpusim::rtl::CheckRtlArch(arch);
  if (!s.ok()) return absl::FailedPreconditionError(absl::StrCat("skipped: ", s.message()));
  return absl::OkStatus();
}

// matmul64 compiled for `arch`, loaded into a device state at frame base 0, with an engine to run it.
struct Loaded {
  tpusim::isa::ArchConfig arch;
  tpusim::isa::Program program;
  std::vector<tpusim::isa::Instruction> code;
  std::unique_ptr<sim::DeviceState> state;
  std::unique_ptr<sim::Engine> engine;
  sim::Launch launch;  // points into this struct: keep it where it was made (heap-allocated)
};

absl::StatusOr<std::unique_ptr<Loaded>> Load(const std::string& arch_name, const std::string& engine) {
  auto l = std::make_unique<Loaded>();
  absl::StatusOr<tpusim::isa::ArchConfig> arch = Arch(arch_name);
  if (!arch.ok()) return arch.status();
  l->arch = *arch;
  if (engine == "rtl") {
    if (absl::Status s = RtlAvailable(l->arch); !s.ok()) return s;
  }
  rt::GraphBuilder b;
  rt::Output a = b.Placeholder("x", {64, 64});
  absl::StatusOr<tpusim::compiler::Graph> graph =
      b.Build({b.MatMul(a, b.Variable("w", rt::RandomTensor(DataType::kFloat32, {64, 64}, 2)))});
  if (!graph.ok()) return graph.status();
  if (absl::Status s = tpusim::compiler::InferShapes(*graph); !s.ok()) return s;
  tpusim::compiler::CompileOptions options;
  options.arch = l->arch;
  options.precision = tpusim::compiler::Precision::kBf16;
  options.schedule = tpusim::compiler::Schedule::kTokens;
  absl::StatusOr<tpusim::isa::Program> compiled = tpusim::compiler::Compile(*graph, options);
  if (!compiled.ok()) return compiled.status();
  l->program = *std::move(compiled);
  absl::StatusOr<std::vector<tpusim::isa::Instruction>> code = tpusim::isa::DecodeCode(l->program);
  if (!code.ok()) return code.status();
  l->code = *std::move(code);
  if (engine == "rtl") {
    if (absl::Status s = tpusim::rtl::CheckRtlSupport(l->code, tpusim::isa::BF16_FP32); !s.ok()) return s;
  }
  l->state = std::make_unique<sim::DeviceState>(l->arch, tpusim::isa::BF16_FP32);
  for (const tpusim::isa::Segment& seg : l->program.constants()) {
    if (absl::Status s = l->state->dram.Write(seg.dram_offset(), seg.data().data(), seg.data().size()); !s.ok()) {
      return s;
    }
  }
  for (const tpusim::isa::Binding& in : l->program.inputs()) {
    const Tensor t = rt::RandomTensor(DataType::kFloat32, {in.shape().begin(), in.shape().end()}, 1);
    if (absl::Status s = l->state->dram.Write(in.dram_offset(), t.data(), t.byte_size()); !s.ok()) return s;
  }
  absl::StatusOr<std::unique_ptr<sim::Engine>> e = sim::CreateEngine(engine, l->arch);
  if (!e.ok()) return e.status();
  l->engine = *std::move(e);
  l->launch.program = &l->program;
  l->launch.code = &l->code;
  return l;
}

// Resets the on-chip state (untimed), runs once; the wall seconds of Engine::Run go to `seconds`.
absl::StatusOr<sim::RunStats> RunOnce(Loaded& l, double& seconds) {
  l.state->ResetOnChip(tpusim::isa::BF16_FP32);
  const auto start = std::chrono::steady_clock::now();
  absl::StatusOr<sim::RunStats> stats = l.engine->Run(l.launch, *l.state);
  seconds += std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count();
  return stats;
}

void BM_Engine(benchmark::State& state, const std::string& engine, const std::string& arch) {
  absl::StatusOr<std::unique_ptr<Loaded>> l = Load(arch, engine);
  if (!l.ok()) {
    state.SkipWithError(std::string(l.status().message()).c_str());
    return;
  }
  sim::RunStats last;
  for (auto _ : state) {
    state.PauseTiming();
    (*l)->state->ResetOnChip(tpusim::isa::BF16_FP32);
    state.ResumeTiming();
    absl::StatusOr<sim::RunStats> stats = (*l)->engine->Run((*l)->launch, *(*l)->state);
    if (!stats.ok()) {
      state.SkipWithError(std::string(stats.status().ToString()).c_str());
      return;
    }
    last = *std::move(stats);
  }
  using benchmark::Counter;
  state.counters["instructions"] = static_cast<double>(last.instructions);
  state.counters["simulated_cycles"] = static_cast<double>(last.cycles);
  state.counters["simulated_cycles_per_second"] =
      Counter(static_cast<double>(last.cycles), Counter::kIsIterationInvariantRate);
}

void BM_RtlVsCycle(benchmark::State& state, const std::string& arch) {
  absl::StatusOr<std::unique_ptr<Loaded>> rtl = Load(arch, "rtl");
  if (!rtl.ok()) {
    state.SkipWithError(std::string(rtl.status().message()).c_str());
    return;
  }
  absl::StatusOr<std::unique_ptr<Loaded>> cycle = Load(arch, "cycle");
  if (!cycle.ok()) {
    state.SkipWithError(std::string(cycle.status().ToString()).c_str());
    return;
  }
  double rtl_seconds = 0, cycle_seconds = 0;
  uint64_t rtl_cycles = 0, cycle_cycles = 0;
  for (auto _ : state) {
    absl::StatusOr<sim::RunStats> c = RunOnce(**cycle, cycle_seconds);
    absl::StatusOr<sim::RunStats> r = RunOnce(**rtl, rtl_seconds);
    if (!c.ok() || !r.ok()) {
      state.SkipWithError(std::string((c.ok() ? r.status() : c.status()).ToString()).c_str());
      return;
    }
    cycle_cycles = c->cycles;
    rtl_cycles = r->cycles;
  }
  const double runs = static_cast<double>(state.iterations());
  const double rtl_rate = rtl_seconds > 0 ? static_cast<double>(rtl_cycles) * runs / rtl_seconds : 0;
  const double cycle_rate = cycle_seconds > 0 ? static_cast<double>(cycle_cycles) * runs / cycle_seconds : 0;
  state.counters["simulated_cycles"] = static_cast<double>(rtl_cycles);
  state.counters["rtl_cycles_per_second"] = rtl_rate;
  state.counters["cycle_cycles_per_second"] = cycle_rate;
  state.counters["cycle_over_rtl"] = rtl_rate > 0 ? cycle_rate / rtl_rate : 0;
  state.counters["cycles_match"] = rtl_cycles == cycle_cycles ? 1 : 0;
}

void RegisterAll() {
  for (const char* arch : {"tiny", "rtl-16x16"}) {
    for (const char* engine : {"rtl", "cycle"}) {
      benchmark::RegisterBenchmark(absl::StrCat("BM_", engine, "/matmul64/", arch).c_str(),
                                   [=](benchmark::State& s) { BM_Engine(s, engine, arch); })
          ->UseRealTime()
          ->Unit(benchmark::kMillisecond);
    }
    benchmark::RegisterBenchmark(absl::StrCat("BM_rtl_vs_cycle/matmul64/", arch).c_str(),
                                 [=](benchmark::State& s) { BM_RtlVsCycle(s, arch); })
        ->UseRealTime()
        ->Unit(benchmark::kMillisecond);
  }
}

}  // namespace

int main(int argc, char** argv) {
  tpusim::rtl::RegisterRtlEngine();
  RegisterAll();
  benchmark::Initialize(&argc, argv);
  if (benchmark::ReportUnrecognizedArguments(argc, argv)) return 1;
  benchmark::RunSpecifiedBenchmarks();
  benchmark::Shutdown();
  return 0;
}
