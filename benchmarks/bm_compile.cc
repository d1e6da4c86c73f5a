// Compile time of the model zoo's full-size models (examples/model_zoo.h) for tpu-v4: ONNX import,
// shape inference and compiler::Compile (placement-free: every op must be TPU-supported, otherwise the
// benchmark reports the compiler's error). Issue 5's target: ResNet-50 (224x224, batch 1) under 2 s.
// Counters: graph nodes, emitted instructions, constant (weight) bytes.
//   build/benchmarks/bm_compile --benchmark_filter=resnet50
#include <benchmark/benchmark.h>

#include <map>
#include <string>

#include "model_zoo.h"
#include "tpusim/compiler_backend/compiler.h"
#include "tpusim/compiler_backend/onnx_frontend.h"
#include "tpusim/isa/arch_config.h"

namespace {

// The serialized full-size model `name` (built once).
const std::string& ModelBytes(const std::string& name) {
  static auto* cache = new std::map<std::string, std::string>();
  auto it = cache->find(name);
  if (it != cache->end()) return it->second;
  for (const tpusim::models::NamedModel& m : tpusim::models::AllModels(true)) {
    (*cache)[m.name] = m.model.SerializeAsString();
  }
  return (*cache)[name];
}

void BM_CompileModel(benchmark::State& state, const std::string& name, const std::string& precision) {
  absl::StatusOr<tpusim::isa::ArchConfig> arch = tpusim::isa::LoadPreset("tpu-v4");
  if (!arch.ok()) {
    state.SkipWithError(arch.status().ToString().c_str());
    return;
  }
  tpusim::compiler::CompileOptions options;
  options.arch = *arch;
  options.precision = *tpusim::compiler::ParsePrecision(precision);
  const std::string& bytes = ModelBytes(name);
  size_t nodes = 0, instructions = 0, constant_bytes = 0;
  for (auto _ : state) {
    absl::StatusOr<tpusim::compiler::Graph> graph = tpusim::compiler::ImportOnnxModel(bytes);
    if (!graph.ok()) {
      state.SkipWithError(graph.status().ToString().c_str());
      return;
    }
    absl::StatusOr<tpusim::isa::Program> program = tpusim::compiler::Compile(*graph, options);
    if (!program.ok()) {
      state.SkipWithError(program.status().ToString().c_str());
      return;
    }
    nodes = graph->nodes.size();
    instructions = program->code().size() / 32;  // 256-bit instructions
    constant_bytes = 0;
    for (const tpusim::isa::Segment& s : program->constants()) constant_bytes += s.data().size();
    benchmark::DoNotOptimize(program->code().data());
  }
  state.counters["nodes"] = static_cast<double>(nodes);
  state.counters["instructions"] = static_cast<double>(instructions);
  state.counters["constant_MiB"] = static_cast<double>(constant_bytes) / (1 << 20);
}

BENCHMARK_CAPTURE(BM_CompileModel, resnet50_224_bf16, std::string("resnet50"), std::string("bf16"))
    ->Unit(benchmark::kMillisecond)->Iterations(3);
BENCHMARK_CAPTURE(BM_CompileModel, resnet50_224_highest, std::string("resnet50"), std::string("highest"))
    ->Unit(benchmark::kMillisecond)->Iterations(1);
BENCHMARK_CAPTURE(BM_CompileModel, resnet18_224_bf16, std::string("resnet18"), std::string("bf16"))
    ->Unit(benchmark::kMillisecond)->Iterations(3);
BENCHMARK_CAPTURE(BM_CompileModel, mobilenet_block_224_bf16, std::string("mobilenet_block"), std::string("bf16"))
    ->Unit(benchmark::kMillisecond)->Iterations(3);
BENCHMARK_CAPTURE(BM_CompileModel, bert_layer_128_bf16, std::string("bert_layer"), std::string("bf16"))
    ->Unit(benchmark::kMillisecond)->Iterations(3);
BENCHMARK_CAPTURE(BM_CompileModel, lstm_classifier_32_bf16, std::string("lstm_classifier"), std::string("bf16"))
    ->Unit(benchmark::kMillisecond)->Iterations(3);

}  // namespace

BENCHMARK_MAIN();
