// Chrome trace-event timelines (trace.h): structure, units as tracks, time in microseconds of
// simulated time, launches laid end to end. Expected values are computed by hand in the comments.
#include "tpusim/runtime/trace.h"

#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include <sstream>

#include "json_checker.h"
#include "tpusim/isa/arch_config.h"
#include "tpusim/isa/isa.h"
#include "tpusim/simulator/device_state.h"
#include "tpusim/simulator/engine.h"

namespace tpusim::runtime {
namespace {

using ::testing::HasSubstr;

std::vector<std::string> Lines(const std::string& text) {
  std::vector<std::string> lines;
  std::istringstream in(text);
  for (std::string line; std::getline(in, line);) lines.push_back(line);
  return lines;
}

// The one line (event) containing every needle; "" if none or several.
std::string EventWith(const std::string& doc, const std::vector<std::string>& needles) {
  std::string found;
  int count = 0;
  for (const std::string& line : Lines(doc)) {
    bool all = true;
    for (const std::string& n : needles) all &= line.find(n) != std::string::npos;
    if (all) {
      found = line;
      ++count;
    }
  }
  return count == 1 ? found : "";
}

// Clock 2 MHz: one cycle is 0.5 us.
// Launch 0 (10 cycles): LOAD on the load DMA [1, 5), MATMUL on the MXU [5, 9), HALT on the controller
// [9, 9). Launch 1 (4 cycles) starts at cycle 10: STORE [0, 3) -> ts (10 + 0) * 0.5 = 5 us, dur 1.5 us;
// a slice on a unit the writer does not know ("DRAM") gets the next track, 7.
std::vector<LaunchRecord> TwoLaunches() {
  LaunchRecord a;
  a.label = "TPU segment 0 (fc)";
  a.cycles = 10;
  a.op_names = {"fc", "<program>"};
  a.inst_op = {0, 0, 1};
  a.opcodes = {isa::Opcode::LOAD, isa::Opcode::MATMUL, isa::Opcode::HALT};
  a.trace = {{"load DMA", 0, 1, 5}, {"MXU", 1, 5, 9}, {"controller", 2, 9, 9}};
  LaunchRecord b;
  b.label = "TPU segment 1 (out)";
  b.cycles = 4;
  b.op_names = {"out"};
  b.inst_op = {0, 0};
  b.opcodes = {isa::Opcode::STORE, isa::Opcode::HALT};
  b.trace = {{"store DMA", 0, 0, 3}, {"DRAM", 0, 1, 2}};
  return {a, b};
}

isa::ArchConfig TwoMhz() {
  isa::ArchConfig arch;
  arch.set_clock_mhz(2);
  return arch;
}

TEST(ChromeTrace, IsValidJsonWithTraceEvents) {
  const std::string doc = ChromeTraceJson(TwoLaunches(), TwoMhz(), "TPU:0 tiny (cycle engine)");
  EXPECT_TRUE(JsonChecker(doc).Valid()) << doc;
  EXPECT_THAT(doc, HasSubstr("\"traceEvents\": ["));
  EXPECT_NE(EventWith(doc, {"\"process_name\"", "\"TPU:0 tiny (cycle engine)\""}), "");
}

TEST(ChromeTrace, OneNamedTrackPerUnit) {
  const std::string doc = ChromeTraceJson(TwoLaunches(), TwoMhz(), "p");
  const char* units[] = {"launches", "load DMA", "weight DMA", "MXU", "vector unit", "store DMA", "controller",
                         "DRAM"};
  for (int tid = 0; tid < 8; ++tid) {
    EXPECT_NE(EventWith(doc, {"\"thread_name\"", absl::StrCat("\"tid\": ", tid, ","),
                              absl::StrCat("\"name\": \"", units[tid], "\"}")}),
              "")
        << units[tid];
  }
}

TEST(ChromeTrace, OneCompleteEventPerInstructionInMicroseconds) {
  const std::string doc = ChromeTraceJson(TwoLaunches(), TwoMhz(), "p");
  const std::string load = EventWith(doc, {"\"ph\": \"X\"", "\"name\": \"LOAD\""});
  EXPECT_THAT(load, HasSubstr("\"tid\": 1,"));
  EXPECT_THAT(load, HasSubstr("\"ts\": 0.500000,"));   // cycle 1
  EXPECT_THAT(load, HasSubstr("\"dur\": 2.000000,"));  // 4 cycles
  EXPECT_THAT(load, HasSubstr("\"args\": {\"instruction\": 0,\"op\": \"fc\",\"launch\": 0}"));
  const std::string matmul = EventWith(doc, {"\"name\": \"MATMUL\""});
  EXPECT_THAT(matmul, HasSubstr("\"tid\": 3,"));
  EXPECT_THAT(matmul, HasSubstr("\"ts\": 2.500000,"));
  const std::string halt = EventWith(doc, {"\"name\": \"HALT\"", "\"launch\": 0"});
  EXPECT_THAT(halt, HasSubstr("\"tid\": 6,"));
  EXPECT_THAT(halt, HasSubstr("\"dur\": 0.000000,"));
  EXPECT_THAT(halt, HasSubstr("\"op\": \"<program>\""));
}

TEST(ChromeTrace, LaunchesAreLaidOutOneAfterAnother) {
  const std::string doc = ChromeTraceJson(TwoLaunches(), TwoMhz(), "p");
  const std::string store = EventWith(doc, {"\"name\": \"STORE\"", "\"tid\": 5,"});
  EXPECT_THAT(store, HasSubstr("\"ts\": 5.000000,"));
  EXPECT_THAT(store, HasSubstr("\"dur\": 1.500000,"));
  EXPECT_THAT(store, HasSubstr("\"launch\": 1}"));
  const std::string second = EventWith(doc, {"\"name\": \"TPU segment 1 (out)\""});
  EXPECT_THAT(second, HasSubstr("\"tid\": 0,"));
  EXPECT_THAT(second, HasSubstr("\"ts\": 5.000000,"));
  EXPECT_THAT(second, HasSubstr("\"dur\": 2.000000,"));
  const std::string dram = EventWith(doc, {"\"tid\": 7,", "\"ph\": \"X\""});
  EXPECT_THAT(dram, HasSubstr("\"ts\": 5.500000,"));  // (10 + 1) * 0.5
}

TEST(ChromeTrace, NoLaunchesIsStillAValidDocument) {
  const std::string doc = ChromeTraceJson({}, TwoMhz(), "p");
  EXPECT_TRUE(JsonChecker(doc).Valid()) << doc;
}

// Overlapping slices of one unit go to sub-tracks, lowest free lane at the slice's start. Load DMA
// slices (cycles) [0, 10) -> lane 0 (busy to 10); [5, 15): lane 0 busy -> lane 1 (to 15); [12, 20):
// lane 0 free (10 <= 12) -> lane 0 (to 20); [13, 14): lanes 0 and 1 busy -> lane 2. New tracks take
// the next tids: "load DMA #1" 7, "load DMA #2" 8; they are displayed right after "load DMA":
// sort index 0 launches, 1 load DMA, 2 #1, 3 #2, 4 weight DMA, 5 MXU, 6 vector unit, 7 store DMA,
// 8 controller.
TEST(ChromeTrace, OverlappingSlicesOfAUnitGoToTheLowestFreeSubTrack) {
  LaunchRecord a;
  a.label = "l";
  a.cycles = 20;
  a.opcodes = {isa::Opcode::LOAD, isa::Opcode::LOAD, isa::Opcode::LOAD, isa::Opcode::LOAD};
  a.trace = {{"load DMA", 0, 0, 10}, {"load DMA", 1, 5, 15}, {"load DMA", 2, 12, 20},
             {"load DMA", 3, 13, 14}};
  const std::string doc = ChromeTraceJson({a}, TwoMhz(), "p");
  EXPECT_TRUE(JsonChecker(doc).Valid()) << doc;
  const int want_tid[] = {1, 7, 1, 8};
  for (int i = 0; i < 4; ++i) {
    EXPECT_THAT(EventWith(doc, {"\"ph\": \"X\"", absl::StrCat("\"instruction\": ", i, ",")}),
                HasSubstr(absl::StrCat("\"tid\": ", want_tid[i], ",")))
        << i;
  }
  EXPECT_NE(EventWith(doc, {"\"thread_name\"", "\"tid\": 7,", "\"name\": \"load DMA #1\"}"}), "");
  EXPECT_NE(EventWith(doc, {"\"thread_name\"", "\"tid\": 8,", "\"name\": \"load DMA #2\"}"}), "");
  const std::pair<int, int> sort_index[] = {{0, 0}, {1, 1}, {7, 2}, {8, 3}, {2, 4},
                                            {3, 5}, {4, 6}, {5, 7}, {6, 8}};
  for (const auto& [tid, index] : sort_index) {
    EXPECT_NE(EventWith(doc, {"\"thread_sort_index\"", absl::StrCat("\"tid\": ", tid, ","),
                              absl::StrCat("\"sort_index\": ", index, "}")}),
              "")
        << tid;
  }
}

isa::Instruction Load(uint64_t addr, uint64_t ub_row, uint64_t rows) {
  isa::Instruction i = isa::Make(isa::Opcode::LOAD);
  auto& d = i.as<isa::DmaArgs>();
  d.dtype = static_cast<uint64_t>(isa::DType::F32);
  d.dram_addr = addr;
  d.ub_row = ub_row;
  d.rows = rows;
  d.lanes = 8;
  d.row_stride = 8;
  d.lane_stride = 1;
  return i;
}

// The cycle engine on tiny: two LOADs back to back are in flight together (docs/timing.md rule 3:
// the second takes the channel when the first leaves it, while the first is still in its 40-cycle
// latency), so their slices overlap and go to "load DMA" (tid 1) and "load DMA #1" (tid 7). A LOAD
// after a SYNC starts once both are done and goes back to lane 0.
TEST(ChromeTrace, PipelinedLoadsOnTinyGoToTwoSubTracks) {
  const isa::ArchConfig arch = isa::LoadPreset("tiny").value();
  simulator::DeviceState state(arch, isa::BF16_FP32);
  auto engine = simulator::CreateEngine("cycle", arch);
  ASSERT_TRUE(engine.ok()) << engine.status();
  const std::vector<isa::Instruction> code = {Load(0, 0, 6), Load(0x400, 10, 3),
                                              isa::Make(isa::Opcode::SYNC), Load(0x800, 20, 2),
                                              isa::Make(isa::Opcode::HALT)};
  simulator::Launch launch;
  launch.code = &code;
  launch.collect_trace = true;
  auto stats = (*engine)->Run(launch, state);
  ASSERT_TRUE(stats.ok()) << stats.status();
  LaunchRecord record;
  record.label = "loads";
  record.cycles = stats->cycles;
  for (const isa::Instruction& inst : code) record.opcodes.push_back(inst.opcode);
  record.trace = stats->trace;
  const std::string doc = ChromeTraceJson({record}, arch, "p");
  EXPECT_TRUE(JsonChecker(doc).Valid()) << doc;
  auto load = [&](int i) {
    return EventWith(doc, {"\"name\": \"LOAD\"", absl::StrCat("\"instruction\": ", i, ",")});
  };
  EXPECT_THAT(load(0), HasSubstr("\"tid\": 1,"));
  EXPECT_THAT(load(1), HasSubstr("\"tid\": 7,"));
  EXPECT_THAT(load(3), HasSubstr("\"tid\": 1,"));
  EXPECT_NE(EventWith(doc, {"\"thread_name\"", "\"tid\": 7,", "\"name\": \"load DMA #1\"}"}), "");
  EXPECT_EQ(EventWith(doc, {"\"thread_name\"", "\"load DMA #2\""}), "");
}

}  // namespace
}  // namespace tpusim::runtime
