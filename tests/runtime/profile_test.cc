// The per-layer profile (profile.h) of a hand-made run report: rows in node order, CPU rows without
// TPU counters, the per-op utilization and roofline figures by hand, the total, the CSV form.
#include "tpusim/runtime/profile.h"

#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include "tpusim/isa/arch_config.h"

namespace tpusim::runtime {
namespace {

using ::testing::HasSubstr;

// Graph: fc (MatMul, [4,8]) on the TPU, pick (ArgMax, [4]) on the CPU. tiny arch: 64 MACs and 16 DRAM
// bytes per cycle, ridge 4 MACs per byte.
// fc: 1280 useful MACs, 160 DRAM bytes (intensity 8: compute-bound), 40 cycles:
//   MXU utilization 1280 / (40 * 64) = 0.5; roofline max(1280 / 64, 160 / 16) = 20 cycles.
// <program>: 0 MACs, 64 bytes, 5 cycles: memory-bound, roofline 4 cycles.
// total: 1280 MACs, 224 bytes (intensity 5.71: compute), 50 cycles: utilization 0.4, roofline 20.
struct Case {
  compiler::Graph graph;
  std::vector<Placement> placements;
  RunReport report;
  isa::ArchConfig arch;
};

Case MakeCase() {
  Case c;
  c.graph.AddValue("x", compiler::DataType::kFloat32, compiler::Shape{4, 16});
  c.graph.AddValue("w", compiler::DataType::kFloat32, compiler::Shape{16, 8});
  c.graph.AddValue("y", compiler::DataType::kFloat32, compiler::Shape{4, 8});
  c.graph.AddValue("k", compiler::DataType::kInt64, compiler::Shape{4});
  compiler::Node fc;
  fc.name = "fc";
  fc.op_type = "MatMul";
  fc.inputs = {"x", "w"};
  fc.outputs = {"y"};
  compiler::Node pick;
  pick.name = "pick";
  pick.op_type = "ArgMax";
  pick.inputs = {"y"};
  pick.outputs = {"k"};
  c.graph.nodes = {fc, pick};
  c.placements = {{"fc", "MatMul", kTpuDeviceName, ""}, {"pick", "ArgMax", kCpuDeviceName, "not on the TPU"}};
  c.report.tpu_op_names = {"fc", "<program>"};
  c.report.tpu_op_useful_macs = {1280, 0};
  c.report.tpu_op_dram_bytes = {160, 64};
  c.report.tpu.op_cycles = {40, 5};
  c.report.tpu.cycles = 50;
  c.report.tpu.useful_macs = 1280;
  c.report.tpu.dram_to_ub_bytes = 128;
  c.report.tpu.dram_to_weights_bytes = 64;
  c.report.tpu.ub_to_dram_bytes = 32;
  absl::StatusOr<isa::ArchConfig> arch = isa::LoadPreset("tiny");
  EXPECT_TRUE(arch.ok()) << arch.status();
  if (arch.ok()) c.arch = *arch;
  return c;
}

TEST(Profile, RowsFollowTheGraphWithFiguresByHand) {
  const Case c = MakeCase();
  const Profile p = BuildProfile(c.report, c.graph, c.placements, c.arch);
  ASSERT_EQ(p.layers.size(), 3u);
  const LayerProfile& fc = p.layers[0];
  EXPECT_EQ(fc.op, "fc");
  EXPECT_EQ(fc.device, "TPU");
  EXPECT_EQ(fc.shape, "[4,8]");
  EXPECT_EQ(fc.macs, 1280u);
  EXPECT_EQ(fc.cycles, 40u);
  EXPECT_DOUBLE_EQ(fc.mxu_utilization, 0.5);
  EXPECT_EQ(fc.bound, Bound::kCompute);
  EXPECT_DOUBLE_EQ(fc.roofline_cycles, 20.0);
  const LayerProfile& pick = p.layers[1];
  EXPECT_EQ(pick.device, "CPU");
  EXPECT_FALSE(pick.on_tpu);
  EXPECT_EQ(pick.macs, 0u);
  const LayerProfile& program = p.layers[2];
  EXPECT_EQ(program.op, "<program>");
  EXPECT_EQ(program.bound, Bound::kMemory);
  EXPECT_DOUBLE_EQ(program.roofline_cycles, 4.0);
  EXPECT_EQ(p.total.cycles, 50u);
  EXPECT_EQ(p.total.dram_bytes, 224u);
  EXPECT_DOUBLE_EQ(p.total.mxu_utilization, 0.4);
  EXPECT_EQ(p.total.bound, Bound::kCompute);
  EXPECT_DOUBLE_EQ(p.total.roofline_cycles, 20.0);
}

TEST(Profile, CsvHasAHeaderOneRowPerLayerAndATotal) {
  const Case c = MakeCase();
  const std::string csv = ProfileToCsv(BuildProfile(c.report, c.graph, c.placements, c.arch));
  EXPECT_EQ(csv,
            "op,op_type,device,output_shape,macs,dram_bytes,cycles,mxu_utilization,bound,roofline_bound_cycles\n"
            "fc,MatMul,TPU,\"[4,8]\",1280,160,40,0.500000,compute,20.0\n"
            "pick,ArgMax,CPU,[4],,,,,,\n"
            "<program>,,TPU,,0,64,5,0.000000,memory,4.0\n"
            "total,,,,1280,224,50,0.400000,compute,20.0\n");
}

TEST(Profile, TextTableShowsPercentAndDashesForUntimedCells) {
  Case c = MakeCase();
  const std::string timed = ProfileToText(BuildProfile(c.report, c.graph, c.placements, c.arch));
  EXPECT_THAT(timed, HasSubstr("50.00%"));
  EXPECT_THAT(timed, HasSubstr("40.00%"));
  c.report.tpu.cycles = 0;  // an untimed engine
  c.report.tpu.op_cycles = {0, 0};
  const Profile untimed = BuildProfile(c.report, c.graph, c.placements, c.arch);
  EXPECT_FALSE(untimed.total.timed);
  const std::string text = ProfileToText(untimed);
  EXPECT_THAT(text, ::testing::Not(HasSubstr("%")));
  EXPECT_THAT(ProfileToCsv(untimed), HasSubstr("fc,MatMul,TPU,\"[4,8]\",1280,160,,,compute,20.0\n"));
}

}  // namespace
}  // namespace tpusim::runtime
