// The performance metrics (metrics.h): machine constants checked against the TPU v1 paper's
// arithmetic, run metrics against hand computation, and the static per-op costs of a hand-written
// program against hand counts.
#include "tpusim/runtime/metrics.h"

#include <cmath>

#include "gtest/gtest.h"
#include "tpusim/isa/arch_config.h"
#include "tpusim/isa/isa.h"

namespace tpusim::runtime {
namespace {

isa::ArchConfig Preset(const char* name) {
  absl::StatusOr<isa::ArchConfig> arch = isa::LoadPreset(name);
  EXPECT_TRUE(arch.ok()) << arch.status();
  return arch.ok() ? *arch : isa::ArchConfig();
}

// Jouppi et al. 2017: 256x256 MACs at 700 MHz = 92 TOPS; 34 GB/s; ridge ~1350 MACs per byte.
TEST(MachineConstants, TpuV1MatchesThePaper) {
  const isa::ArchConfig v1 = Preset("tpu-v1");
  EXPECT_NEAR(DramBytesPerCycle(v1), 34e9 / 700e6, 1e-9);             // 48.571 B/cycle
  EXPECT_EQ(isa::PeakMacsPerCycle(v1), 65536u);
  EXPECT_NEAR(PeakFlopsPerSecond(v1), 91.75e12, 1e9);                  // "92 TOPS"
  EXPECT_NEAR(RidgeMacsPerByte(v1), 65536.0 / (34e9 / 700e6), 1e-6);  // 1349.27
  EXPECT_EQ(std::lround(RidgeMacsPerByte(v1)), 1349);
}

TEST(MachineConstants, PeakCountsEveryMxu) {
  const isa::ArchConfig v4 = Preset("tpu-v4");
  EXPECT_EQ(isa::PeakMacsPerCycle(v4), 128u * 128u * v4.mxu_count());
  EXPECT_DOUBLE_EQ(PeakFlopsPerSecond(v4), 2.0 * 128 * 128 * v4.mxu_count() * v4.clock_mhz() * 1e6);
}

// tiny: 8x8, one MXU, 1000 MHz, 16 GB/s -> 64 MACs and 16 bytes per cycle; ridge 4 MACs per byte.
simulator::RunStats TimedStats(uint64_t useful_macs) {
  simulator::RunStats s;
  s.cycles = 1000;
  s.useful_macs = useful_macs;
  s.dram_to_ub_bytes = 2000;
  s.dram_to_weights_bytes = 1000;
  s.ub_to_dram_bytes = 1000;  // 4000 DRAM bytes
  s.buckets = {500, 100, 50, 50, 200, 0, 100};
  return s;
}

TEST(RunMetrics, ComputeBoundRunByHand) {
  const RunMetrics m = ComputeRunMetrics(TimedStats(24000), Preset("tiny"));
  ASSERT_TRUE(m.timed);
  EXPECT_DOUBLE_EQ(m.simulated_seconds, 1e-6);         // 1000 cycles at 1 GHz
  EXPECT_EQ(m.dram_bytes, 4000u);
  EXPECT_DOUBLE_EQ(m.operational_intensity, 6.0);      // 24000 / 4000
  EXPECT_DOUBLE_EQ(m.ridge_macs_per_byte, 4.0);        // 64 / 16
  EXPECT_EQ(m.bound, Bound::kCompute);
  EXPECT_DOUBLE_EQ(m.roofline_cycles, 375.0);          // max(24000 / 64, 4000 / 16)
  EXPECT_DOUBLE_EQ(m.mxu_utilization, 0.375);          // 24000 / (1000 * 64)
  EXPECT_DOUBLE_EQ(m.peak_flops, 1.28e11);             // 2 * 64 * 1e9
  EXPECT_DOUBLE_EQ(m.attainable_flops, 1.28e11);       // min(peak, 2 * 6 * 16e9)
  EXPECT_DOUBLE_EQ(m.achieved_flops, 4.8e10);          // 2 * 24000 / 1e-6
  EXPECT_DOUBLE_EQ(m.flops_utilization, 0.375);        // = roofline cycles / cycles
  EXPECT_DOUBLE_EQ(m.memory_bandwidth_utilization, 0.25);  // 4000 / (1000 * 16)
  const double want[7] = {0.5, 0.1, 0.05, 0.05, 0.2, 0.0, 0.1};
  double sum = 0;
  for (int i = 0; i < 7; ++i) {
    EXPECT_DOUBLE_EQ(m.bucket_fractions[i], want[i]) << kBucketNames[i];
    sum += m.bucket_fractions[i];
  }
  EXPECT_DOUBLE_EQ(sum, 1.0);
}

TEST(RunMetrics, MemoryBoundRunByHand) {
  const RunMetrics m = ComputeRunMetrics(TimedStats(8000), Preset("tiny"));
  EXPECT_DOUBLE_EQ(m.operational_intensity, 2.0);  // below the ridge of 4
  EXPECT_EQ(m.bound, Bound::kMemory);
  EXPECT_DOUBLE_EQ(m.roofline_cycles, 250.0);      // max(8000 / 64, 4000 / 16)
  EXPECT_DOUBLE_EQ(m.attainable_flops, 6.4e10);    // 2 * 2 MACs/B * 16e9 B/s
  EXPECT_DOUBLE_EQ(m.flops_utilization, 0.25);     // 1.6e10 / 6.4e10 = 250 / 1000
  EXPECT_DOUBLE_EQ(m.mxu_utilization, 0.125);      // 8000 / 64000
}

TEST(RunMetrics, UntimedRunHasNoUtilizations) {
  simulator::RunStats s = TimedStats(8000);
  s.cycles = 0;
  s.buckets = {};
  const RunMetrics m = ComputeRunMetrics(s, Preset("tiny"));
  EXPECT_FALSE(m.timed);
  EXPECT_EQ(m.mxu_utilization, 0.0);
  EXPECT_EQ(m.simulated_seconds, 0.0);
  EXPECT_EQ(m.bound, Bound::kMemory);  // the roofline needs no timing
  EXPECT_DOUBLE_EQ(m.roofline_cycles, 250.0);
}

TEST(Roofline, ClassifiesAtAndAroundTheRidge) {
  const isa::ArchConfig tiny = Preset("tiny");  // ridge 4 MACs per byte
  EXPECT_EQ(Classify(400, 100, tiny), Bound::kCompute);
  EXPECT_EQ(Classify(399, 100, tiny), Bound::kMemory);
  EXPECT_EQ(Classify(1, 0, tiny), Bound::kCompute);  // no DRAM traffic at all
  EXPECT_EQ(Classify(0, 1, tiny), Bound::kMemory);
  EXPECT_EQ(Classify(0, 0, tiny), Bound::kNone);
  EXPECT_EQ(BoundName(Bound::kNone), "-");
  EXPECT_DOUBLE_EQ(RooflineCycles(640, 32, tiny), 10.0);  // 640 / 64 vs 32 / 16 = 2
  EXPECT_DOUBLE_EQ(MxuUtilization(640, 20, tiny), 0.5);
  EXPECT_EQ(MxuUtilization(640, 0, tiny), 0.0);
}

// op 0: LOAD 4 rows x 8 lanes f32 (128 B); LOAD_WEIGHTS 5x3 bf16 (30 B); MATMUL pop, 4 rows (4*5*3 = 60
// useful MACs). op 1: LOAD_WEIGHTS 2x2 i8 (4 B); MATMUL without pop, 2 rows (still the 5x3 tile: 30);
// MATMUL pop, 1 row (the 2x2 tile: 4); STORE 2 rows x 3 lanes f32 (24 B). HALT: unattributed (op 7).
TEST(ProgramOpCosts, CountsBytesAndUsefulMacsPerOp) {
  using isa::Opcode;
  auto dma = [](Opcode op, isa::DType t, uint64_t rows, uint64_t lanes) {
    isa::Instruction i = isa::Make(op);
    auto& a = i.as<isa::DmaArgs>();
    a.dtype = static_cast<uint64_t>(t);
    a.rows = rows;
    a.lanes = lanes;
    return i;
  };
  auto weights = [](isa::DType t, uint64_t rows, uint64_t cols) {
    isa::Instruction i = isa::Make(Opcode::LOAD_WEIGHTS);
    auto& a = i.as<isa::WeightsArgs>();
    a.dtype = static_cast<uint64_t>(t);
    a.rows = rows;
    a.cols = cols;
    return i;
  };
  auto matmul = [](bool pop, uint64_t rows) {
    isa::Instruction i = isa::Make(Opcode::MATMUL);
    i.as<isa::MatmulArgs>().pop_weights = pop;
    i.as<isa::MatmulArgs>().rows = rows;
    return i;
  };
  const std::vector<isa::Instruction> code = {
      dma(Opcode::LOAD, isa::DType::F32, 4, 8), weights(isa::DType::BF16, 5, 3), matmul(true, 4),
      weights(isa::DType::I8, 2, 2),            matmul(false, 2),                matmul(true, 1),
      dma(Opcode::STORE, isa::DType::F32, 2, 3), isa::Make(Opcode::HALT)};
  isa::Program program;
  program.add_op_names("fc");
  program.add_op_names("fc2");
  for (uint32_t op : {0, 0, 0, 1, 1, 1, 1, 7}) program.add_inst_op(op);
  const std::vector<OpCost> costs = ProgramOpCosts(program, code);
  ASSERT_EQ(costs.size(), 2u);
  EXPECT_EQ(costs[0].dram_to_ub_bytes, 128u);
  EXPECT_EQ(costs[0].dram_to_weights_bytes, 30u);
  EXPECT_EQ(costs[0].ub_to_dram_bytes, 0u);
  EXPECT_EQ(costs[0].useful_macs, 60u);
  EXPECT_EQ(costs[1].dram_to_weights_bytes, 4u);
  EXPECT_EQ(costs[1].ub_to_dram_bytes, 24u);
  EXPECT_EQ(costs[1].useful_macs, 34u);  // 30 + 4
  EXPECT_EQ(costs[1].dram_bytes(), 28u);
}

}  // namespace
}  // namespace tpusim::runtime
