// Chrome trace-event timelines (trace.h): structure, units as tracks, time in microseconds of
// simulated time, launches laid end to end. Expected values are computed by hand in the comments.
#include "tpusim/runtime/trace.h"

#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include <sstream>

#include "json_checker.h"
#include "tpusim/isa/isa.h"

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

}  // namespace
}  // namespace tpusim::runtime
