// Speed of the cycle-accurate engine on GEMM-heavy compiled programs, against the functional engine on
// the same programs (README, "Speed of the cycle engine").
//
// Programs (fp32 graphs compiled at precision bf16, one pass): matmul512 = a [512,512] x [512,512]
// MatMul; mlp = x [256,512] -> MatMul 512x512 + bias -> Relu -> MatMul 512x256 + bias; matmul64 = a
// [64,64] x [64,64] MatMul (the ctest smoke run). Arrays: tiny (8x8), tpu-v4 (128x128, 4 MXUs of
// which the code uses one) and tpu-v1-bf16 (the tpu-v1 preset, 256x256 at 700 MHz, with BF16_FP32
// added to matmul_types so fp32 graphs compile for it; built in code).
//
// Only Engine::Run is timed (compilation, loading and the per-run on-chip reset are not), in wall time
// (the cycle engine runs on the process's SystemC kernel thread, so CPU time of the calling thread
// would miss it). Counters, per wall second: simulated_cycles_per_second (simulated cycles of one run x
// runs / time) and pe_updates_per_second (that x array_rows x array_cols: every PE of the array
// advances once per simulated cycle); items_per_second = useful MACs per second, for both engines.
//   build/benchmarks/bm_cycle --benchmark_filter='matmul512'
#include <benchmark/benchmark.h>

#include <memory>
#include <string>

#include "tpusim/compiler_backend/compiler.h"
#include "tpusim/isa/arch_config.h"
#include "tpusim/isa/program.h"
#include "tpusim/runtime/builder.h"
#include "tpusim/runtime/tensor_io.h"
#include "tpusim/simulator/engine.h"

namespace {

using tpusim::compiler::DataType;
using tpusim::compiler::Tensor;
namespace rt = tpusim::runtime;

absl::StatusOr<tpusim::isa::ArchConfig> Arch(const std::string& name) {
  if (name != "tpu-v1-bf16") return tpusim::isa::LoadPreset(name);
  absl::StatusOr<tpusim::isa::ArchConfig> arch = tpusim::isa::LoadPreset("tpu-v1");
  if (!arch.ok()) return arch;
  arch->set_name("tpu-v1-bf16");
  arch->clear_matmul_types();
  arch->add_matmul_types(tpusim::isa::BF16_FP32);
  arch->add_matmul_types(tpusim::isa::INT8_INT32);
  if (absl::Status s = tpusim::isa::ValidateArchConfig(*arch, "tpu-v1-bf16"); !s.ok()) return s;
  return arch;
}

absl::StatusOr<tpusim::compiler::Graph> Graph(const std::string& program) {
  rt::GraphBuilder b;
  if (program == "mlp") {
    rt::Output x = b.Placeholder("x", {256, 512});
    rt::Output h = b.Relu(b.Add(b.MatMul(x, b.Variable("w1", rt::RandomTensor(DataType::kFloat32, {512, 512}, 11))),
                                b.Variable("b1", rt::RandomTensor(DataType::kFloat32, {512}, 12))));
    rt::Output y = b.Add(b.MatMul(h, b.Variable("w2", rt::RandomTensor(DataType::kFloat32, {512, 256}, 13))),
                         b.Variable("b2", rt::RandomTensor(DataType::kFloat32, {256}, 14)));
    return b.Build({y});
  }
  const int64_t n = program == "matmul512" ? 512 : 64;
  rt::Output a = b.Placeholder("x", {n, n});
  return b.Build({b.MatMul(a, b.Variable("w", rt::RandomTensor(DataType::kFloat32, {n, n}, 2)))});
}

// A compiled program loaded into a device state at frame base 0, with an engine to run it.
struct Loaded {
  tpusim::isa::ArchConfig arch;
  tpusim::isa::Program program;
  std::vector<tpusim::isa::Instruction> code;
  std::unique_ptr<tpusim::simulator::DeviceState> state;
  std::unique_ptr<tpusim::simulator::Engine> engine;
};

absl::StatusOr<Loaded> Load(const std::string& program, const std::string& arch_name, const std::string& engine) {
  Loaded l;
  absl::StatusOr<tpusim::isa::ArchConfig> arch = Arch(arch_name);
  if (!arch.ok()) return arch.status();
  l.arch = *arch;
  absl::StatusOr<tpusim::compiler::Graph> graph = Graph(program);
  if (!graph.ok()) return graph.status();
  if (absl::Status s = tpusim::compiler::InferShapes(*graph); !s.ok()) return s;
  tpusim::compiler::CompileOptions options;
  options.arch = l.arch;
  options.precision = tpusim::compiler::Precision::kBf16;
  absl::StatusOr<tpusim::isa::Program> compiled = tpusim::compiler::Compile(*graph, options);
  if (!compiled.ok()) return compiled.status();
  l.program = *std::move(compiled);
  absl::StatusOr<std::vector<tpusim::isa::Instruction>> code = tpusim::isa::DecodeCode(l.program);
  if (!code.ok()) return code.status();
  l.code = *std::move(code);
  l.state = std::make_unique<tpusim::simulator::DeviceState>(l.arch, tpusim::isa::BF16_FP32);
  for (const tpusim::isa::Segment& seg : l.program.constants()) {
    if (absl::Status s = l.state->dram.Write(seg.dram_offset(), seg.data().data(), seg.data().size()); !s.ok()) {
      return s;
    }
  }
  for (const tpusim::isa::Binding& in : l.program.inputs()) {
    const Tensor t = rt::RandomTensor(DataType::kFloat32, {in.shape().begin(), in.shape().end()}, 1);
    if (absl::Status s = l.state->dram.Write(in.dram_offset(), t.data(), t.byte_size()); !s.ok()) return s;
  }
  absl::StatusOr<std::unique_ptr<tpusim::simulator::Engine>> e = tpusim::simulator::CreateEngine(engine, l.arch);
  if (!e.ok()) return e.status();
  l.engine = *std::move(e);
  return l;
}

void BM_Engine(benchmark::State& state, const std::string& engine, const std::string& program,
               const std::string& arch) {
  absl::StatusOr<Loaded> l = Load(program, arch, engine);
  if (!l.ok()) {
    state.SkipWithError(std::string(l.status().ToString()).c_str());
    return;
  }
  tpusim::simulator::Launch launch;
  launch.program = &l->program;
  launch.code = &l->code;
  tpusim::simulator::RunStats last;
  for (auto _ : state) {
    state.PauseTiming();
    l->state->ResetOnChip(tpusim::isa::BF16_FP32);
    state.ResumeTiming();
    absl::StatusOr<tpusim::simulator::RunStats> stats = l->engine->Run(launch, *l->state);
    if (!stats.ok()) {
      state.SkipWithError(std::string(stats.status().ToString()).c_str());
      return;
    }
    last = *std::move(stats);
  }
  using benchmark::Counter;
  const double pes = static_cast<double>(l->arch.array_rows()) * l->arch.array_cols();
  state.SetItemsProcessed(state.iterations() * static_cast<int64_t>(last.useful_macs));
  state.counters["instructions"] = static_cast<double>(last.instructions);
  if (last.cycles > 0) {
    state.counters["simulated_cycles"] = static_cast<double>(last.cycles);
    state.counters["simulated_cycles_per_second"] =
        Counter(static_cast<double>(last.cycles), Counter::kIsIterationInvariantRate);
    state.counters["pe_updates_per_second"] =
        Counter(static_cast<double>(last.cycles) * pes, Counter::kIsIterationInvariantRate);
  }
}

void RegisterAll() {
  for (const char* program : {"matmul64", "matmul512", "mlp"}) {
    for (const char* arch : {"tiny", "tpu-v4", "tpu-v1-bf16"}) {
      for (const char* engine : {"cycle", "functional"}) {
        benchmark::RegisterBenchmark(
            (std::string("BM_") + engine + "/" + program + "/" + arch).c_str(),
            [=](benchmark::State& s) { BM_Engine(s, engine, program, arch); })
            ->UseRealTime()
            ->Unit(benchmark::kMillisecond);
      }
    }
  }
}

}  // namespace

int main(int argc, char** argv) {
  RegisterAll();
  benchmark::Initialize(&argc, argv);
  if (benchmark::ReportUnrecognizedArguments(argc, argv)) return 1;
  benchmark::RunSpecifiedBenchmarks();
  benchmark::Shutdown();
  return 0;
}
