// What a Session::Run reports beyond its outputs: per-op static costs that agree with the engines'
// own counts, one launch record per TPU launch, timelines (collect_trace) and per-op cycles on the
// cycle engine.
#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include <set>

#include "tpusim/isa/arch_config.h"
#include "tpusim/isa/isa.h"
#include "tpusim/runtime/builder.h"
#include "tpusim/runtime/metrics.h"
#include "tpusim/runtime/session.h"
#include "tpusim/runtime/tensor_io.h"
#include "tpusim/runtime/trace.h"

namespace tpusim::runtime {
namespace {

using compiler::DataType;
using ::testing::HasSubstr;

// x [20,30] -> MatMul [30,12] + bias -> Relu -> ArgMax (CPU) -> two TPU ops and a CPU op; then a second
// TPU segment (Sigmoid of the Relu output, after the CPU op) so the run has two launches.
compiler::Graph TwoSegments() {
  GraphBuilder b;
  Output x = b.Placeholder("x", {20, 30});
  Output h = b.Relu(b.Add(b.MatMul(x, b.Variable("w", RandomTensor(DataType::kFloat32, {30, 12}, 3)), false, false,
                                   "fc"),
                          b.Variable("b", RandomTensor(DataType::kFloat32, {12}, 4)), "bias"),
                    "relu");
  Output cls = b.ArgMax(h, 1, "pick");
  Output s = b.Sigmoid(h, "squash");
  absl::StatusOr<compiler::Graph> g = b.Build({cls, s});
  EXPECT_TRUE(g.ok()) << g.status();
  return g.ok() ? *g : compiler::Graph{};
}

absl::StatusOr<RunReport> RunWith(const std::string& engine, bool collect_trace) {
  SessionOptions options;
  options.engine = engine;
  options.arch = *isa::LoadPreset("tiny");
  options.collect_trace = collect_trace;
  absl::StatusOr<std::unique_ptr<Session>> session = Session::Create(TwoSegments(), options);
  if (!session.ok()) return session.status();
  RunReport report;
  absl::StatusOr<std::map<std::string, compiler::Tensor>> out =
      (*session)->Run({{"x", RandomTensor(DataType::kFloat32, {20, 30}, 5)}}, &report);
  if (!out.ok()) return out.status();
  return report;
}

// The unit that runs an opcode (docs/timing.md, Structure); "" for the control instructions.
std::string UnitOf(isa::Opcode op) {
  switch (op) {
    case isa::Opcode::MATMUL: return "MXU";
    case isa::Opcode::LOAD: return "load DMA";
    case isa::Opcode::LOAD_WEIGHTS: return "weight DMA";
    case isa::Opcode::STORE: return "store DMA";
    case isa::Opcode::ACTIVATE:
    case isa::Opcode::VECTOR: return "vector unit";
    default: return "";
  }
}

uint64_t Sum(const std::vector<uint64_t>& v) {
  uint64_t s = 0;
  for (uint64_t x : v) s += x;
  return s;
}

TEST(SessionReport, StaticOpCostsAddUpToTheEngineCounts) {
  for (const char* engine : {"functional", "cycle"}) {
    absl::StatusOr<RunReport> r = RunWith(engine, false);
    ASSERT_TRUE(r.ok()) << engine << ": " << r.status();
    EXPECT_EQ(r->tpu_op_useful_macs.size(), r->tpu_op_names.size());
    EXPECT_EQ(Sum(r->tpu_op_useful_macs), r->tpu.useful_macs) << engine;
    EXPECT_EQ(Sum(r->tpu_op_dram_bytes), DramBytes(r->tpu)) << engine;
    EXPECT_GT(r->tpu.useful_macs, 0u);
  }
}

TEST(SessionReport, OneLaunchRecordPerTpuLaunch) {
  absl::StatusOr<RunReport> r = RunWith("functional", true);
  ASSERT_TRUE(r.ok()) << r.status();
  ASSERT_EQ(r->tpu_launches, 2);
  ASSERT_EQ(r->launches.size(), 2u);
  EXPECT_THAT(r->launches[0].label, HasSubstr("fc"));
  EXPECT_THAT(r->launches[1].label, HasSubstr("squash"));
  EXPECT_TRUE(r->launches[0].trace.empty());  // the functional engine has no timeline
  EXPECT_EQ(r->launches[0].cycles, 0u);
}

TEST(SessionReport, CycleEngineTimelineCoversEveryInstructionOnItsUnit) {
  absl::StatusOr<RunReport> r = RunWith("cycle", true);
  ASSERT_TRUE(r.ok()) << r.status();
  ASSERT_EQ(r->launches.size(), 2u);
  uint64_t cycles = 0;
  for (const LaunchRecord& launch : r->launches) {
    cycles += launch.cycles;
    ASSERT_FALSE(launch.trace.empty());
    ASSERT_EQ(launch.opcodes.size(), launch.inst_op.size());
    std::set<uint32_t> seen;
    for (const simulator::TraceSlice& slice : launch.trace) {
      ASSERT_LT(slice.instruction, launch.opcodes.size());
      EXPECT_LE(slice.start, slice.end);
      EXPECT_LE(slice.end, launch.cycles);
      seen.insert(slice.instruction);
      // Each unit runs the instructions its queue holds (docs/timing.md, Structure).
      const std::string want = UnitOf(launch.opcodes[slice.instruction]);
      if (!want.empty()) {
        EXPECT_EQ(slice.unit, want) << isa::Mnemonic(launch.opcodes[slice.instruction]);
      }
    }
    // Every instruction that occupies a unit has a slice; SIGNAL, WAIT and HALT take no time.
    for (size_t i = 0; i < launch.opcodes.size(); ++i) {
      const isa::Opcode op = launch.opcodes[i];
      const bool timeless = op == isa::Opcode::SIGNAL || op == isa::Opcode::WAIT || op == isa::Opcode::HALT;
      EXPECT_EQ(seen.count(static_cast<uint32_t>(i)), timeless ? 0u : 1u) << "instruction " << i;
    }
  }
  EXPECT_EQ(cycles, r->tpu.cycles);
  // Per-op cycles: every op with instructions of its own took some (bias and relu are fused into fc's
  // instructions), none more than the run.
  for (size_t i = 0; i < r->tpu_op_names.size(); ++i) {
    if (r->tpu_op_names[i] == "<program>" || r->tpu.op_instructions.at(i) == 0) continue;  // HALTs; fused
    EXPECT_GT(r->tpu.op_cycles.at(i), 0u) << r->tpu_op_names[i];
    EXPECT_LE(r->tpu.op_cycles.at(i), r->tpu.cycles) << r->tpu_op_names[i];
  }
  const std::string doc = ChromeTraceJson(r->launches, *isa::LoadPreset("tiny"), "TPU:0");
  EXPECT_THAT(doc, HasSubstr("\"name\": \"MATMUL\""));
  EXPECT_THAT(doc, HasSubstr("\"op\": \"fc\""));
}

}  // namespace
}  // namespace tpusim::runtime
