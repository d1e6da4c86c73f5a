// Run reports: JSON keys, values, escaping and syntactic validity; the text summary.
#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include <cctype>
#include <cstring>

#include "absl/strings/str_cat.h"
#include "tpusim/isa/arch_config.h"
#include "tpusim/isa/isa.h"
#include "json_checker.h"
#include "tpusim/runtime/report.h"

namespace tpusim::runtime {
namespace {

using ::testing::HasSubstr;

struct Fixture {
  RunReport report;
  std::vector<Placement> placements;
  ReportInfo info;
};

Fixture MakeFixture() {
  Fixture f;
  f.report.wall_seconds = 0.25;
  f.report.compile_seconds = 0.125;
  f.report.tpu_launches = 1;
  simulator::RunStats& s = f.report.tpu;
  s.engine = "functional";
  s.by_opcode[isa::OpcodeIndex(isa::Opcode::LOAD)] = 3;
  s.by_opcode[isa::OpcodeIndex(isa::Opcode::MATMUL)] = 2;
  s.by_opcode[isa::OpcodeIndex(isa::Opcode::HALT)] = 1;
  s.instructions = 6;
  s.macs = 1024;
  s.useful_macs = 768;
  s.dram_to_ub_bytes = 4096;
  s.ub_to_dram_bytes = 512;
  s.dram_to_weights_bytes = 2048;
  s.op_instructions = {5, 1};
  s.op_macs = {1024, 0};
  f.report.tpu_op_names = {"fc1", "relu"};
  f.placements = {{"fc1", "MatMul", kTpuDeviceName, ""},
                  {"pick", "ArgMax", kCpuDeviceName, "ArgMax is not supported on the TPU: \"x\"\n"}};
  f.info.model = "m\\odel.onnx";
  f.info.engine = "functional";
  f.info.arch = "tiny";
  f.info.device = "tpu";
  f.info.precision = "bf16";
  return f;
}

TEST(ReportJson, IsValidJsonWithEveryRequiredKey) {
  const Fixture f = MakeFixture();
  const std::string json = ReportToJson(f.report, f.placements, f.info);
  EXPECT_TRUE(JsonChecker(json).Valid()) << json;
  for (const char* key : {"\"engine\": \"functional\"", "\"arch\": \"tiny\"", "\"device\": \"tpu\"",
                          "\"precision\": \"bf16\"", "\"wall_seconds\": 0.25", "\"compile_seconds\": 0.125",
                          "\"total\": 6", "\"macs\": 1024", "\"useful_macs\": 768", "\"dram_to_ub\": 4096",
                          "\"ub_to_dram\": 512", "\"dram_to_weights\": 2048", "\"cycles\": null"}) {
    EXPECT_THAT(json, HasSubstr(key));
  }
}

TEST(ReportJson, ListsEveryOpcodeEvenWhenZero) {
  const Fixture f = MakeFixture();
  const std::string json = ReportToJson(f.report, f.placements, f.info);
  for (isa::Opcode op : isa::AllOpcodes()) {
    EXPECT_THAT(json, HasSubstr(absl::StrCat("\"", std::string(isa::Mnemonic(op)), "\": ")));
  }
  EXPECT_THAT(json, HasSubstr("\"LOAD\": 3"));
  EXPECT_THAT(json, HasSubstr("\"MATMUL\": 2"));
  EXPECT_THAT(json, HasSubstr("\"STORE\": 0"));
}

TEST(ReportJson, HasPerOpTableAndEscapedPlacements) {
  const Fixture f = MakeFixture();
  const std::string json = ReportToJson(f.report, f.placements, f.info);
  EXPECT_THAT(json, HasSubstr("\"op\": \"fc1\""));
  EXPECT_THAT(json, HasSubstr("\"op_type\": \"ArgMax\""));
  EXPECT_THAT(json, HasSubstr("\"model\": \"m\\\\odel.onnx\""));
  EXPECT_THAT(json, HasSubstr("the TPU: \\\"x\\\"\\n\""));
}

TEST(ReportJson, TimingEngineCyclesAreANumberAndControlCharactersAreEscaped) {
  Fixture f = MakeFixture();
  f.report.tpu.cycles = 12345;
  f.info.model = std::string("a\x01" "b\tc");
  const std::string json = ReportToJson(f.report, f.placements, f.info);
  EXPECT_TRUE(JsonChecker(json).Valid()) << json;
  EXPECT_THAT(json, HasSubstr("\"cycles\": 12345"));
  EXPECT_THAT(json, HasSubstr("\"a\\u0001b\\tc\""));
}

TEST(ReportText, SummarizesPlacementOpcodesAndBytes) {
  const Fixture f = MakeFixture();
  const std::string text = ReportToText(f.report, f.placements, f.info);
  EXPECT_THAT(text, HasSubstr("1 op(s) on the TPU, 1 on the CPU: pick (ArgMax)"));
  EXPECT_THAT(text, HasSubstr("instructions: 6 (LOAD 3, MATMUL 2, HALT 1)"));
  EXPECT_THAT(text, HasSubstr("DRAM->UB 4.10 kB"));
  EXPECT_THAT(text, HasSubstr("fc1"));
}

// A cycle-engine run on tiny (64 MACs and 16 DRAM bytes per cycle, 1 GHz): 1000 cycles, 24000 useful
// MACs, 4000 DRAM bytes -> MXU utilization 24000 / 64000 = 0.375; roofline max(375, 250) = 375 cycles
// -> FLOPS utilization 0.375; bandwidth 4000 / 16000 = 0.25; intensity 6 >= ridge 4: compute-bound.
Fixture TimedFixture() {
  Fixture f = MakeFixture();
  absl::StatusOr<isa::ArchConfig> tiny = isa::LoadPreset("tiny");
  EXPECT_TRUE(tiny.ok()) << tiny.status();
  if (tiny.ok()) f.info.arch_config = *tiny;
  f.info.engine = "cycle";
  simulator::RunStats& s = f.report.tpu;
  s.engine = "cycle";
  s.cycles = 1000;
  s.useful_macs = 24000;
  s.dram_to_ub_bytes = 2000;
  s.dram_to_weights_bytes = 1000;
  s.ub_to_dram_bytes = 1000;
  s.ub_to_array_bytes = 3000;
  s.accumulator_bytes = 5000;
  s.buckets = {500, 100, 50, 50, 200, 0, 100};
  s.op_cycles = {900, 10};
  f.report.tpu_seconds = 0.5;  // 2000 simulated cycles per wall second
  return f;
}

TEST(ReportJson, TimedRunAddsSimulatedTimeBucketsTrafficAndUtilizations) {
  const Fixture f = TimedFixture();
  const std::string json = ReportToJson(f.report, f.placements, f.info);
  EXPECT_TRUE(JsonChecker(json).Valid()) << json;
  for (const char* key :
       {"\"cycles\": 1000", "\"simulated_seconds\": 1e-06", "\"simulated_cycles_per_second\": 2000",
        "\"ub_to_array\": 3000", "\"accumulators\": 5000", "\"mxu_utilization\": 0.375",
        "\"flops_utilization_roofline\": 0.375", "\"memory_bandwidth_utilization\": 0.25",
        "\"bound\": \"compute\"", "\"roofline_cycles\": 375", "\"ridge_macs_per_byte\": 4",
        "\"dram_bytes\": 4000", "\"cycles\": 900"}) {
    EXPECT_THAT(json, HasSubstr(key));
  }
  EXPECT_THAT(json, HasSubstr("\"active\": {\n      \"cycles\": 500,\n      \"percent\": 50\n"));
  EXPECT_THAT(json, HasSubstr("\"non_matrix\": {\n      \"cycles\": 200,\n      \"percent\": 20\n"));
}

TEST(ReportJson, UntimedRunHasNullTimingValues) {
  const Fixture f = MakeFixture();
  const std::string json = ReportToJson(f.report, f.placements, f.info);
  for (const char* key : {"\"cycle_buckets\": null", "\"simulated_seconds\": null",
                          "\"mxu_utilization\": null", "\"achieved_flops\": null"}) {
    EXPECT_THAT(json, HasSubstr(key));
  }
}

TEST(ReportText, TimedRunShowsUtilizationsAndBuckets) {
  const Fixture f = TimedFixture();
  const std::string text = ReportToText(f.report, f.placements, f.info);
  EXPECT_THAT(text, HasSubstr("cycles: 1000 (1 us simulated at 1000 MHz; 2000 simulated cycles per wall second)"));
  EXPECT_THAT(text, HasSubstr("MXU utilization 37.50%, FLOPS utilization (roofline) 37.50%, "
                              "HBM/DRAM bandwidth utilization 25.00%"));
  EXPECT_THAT(text, HasSubstr("6 MACs per DRAM byte vs ridge 4 -> compute-bound; the roofline allows 375.0 cycles"));
  EXPECT_THAT(text, HasSubstr("cycle buckets: active 50.0%, weight_load_stall 10.0%, weight_shift 5.0%, "
                              "input_stall 5.0%, non_matrix 20.0%, sync_wait 0.0%, idle 10.0%"));
  EXPECT_THAT(text, HasSubstr("UB->array 3.00 kB, accumulators 5.00 kB"));
}

}  // namespace
}  // namespace tpusim::runtime
