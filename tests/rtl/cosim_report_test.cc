// The gate's failure reports name the right instruction, byte and values: the formatters on states
// and traces made to differ on purpose, and the whole search against two deliberately wrong
// engines registered here (one drops the first STORE, one delays the MXU by a cycle).
#include <gtest/gtest.h>

#include <cstring>
#include <memory>

#include "cosim_gate.h"
#include "cosim_report.h"
#include "tpusim/isa/arch_config.h"

namespace tpusim::rtl::cosim {
namespace {

using isa::Opcode;
using simulator::DeviceState;
using simulator::TraceSlice;

isa::ArchConfig Tiny() { return isa::LoadPreset("tiny").value(); }

TEST(CosimReport, EqualStatesHaveNoDifference) {
  DeviceState a(Tiny(), isa::BF16_FP32), b(Tiny(), isa::BF16_FP32);
  EXPECT_EQ(FirstStateDifference(a, "functional", b, "rtl", 0, 0x1000), std::nullopt);
}

TEST(CosimReport, StateDifferenceNamesTheFirstDramByteAndBothValues) {
  DeviceState a(Tiny(), isa::BF16_FP32), b(Tiny(), isa::BF16_FP32);
  const uint8_t x = 0x3f, y = 0x7f;
  ASSERT_TRUE(a.dram.Write(0x4012, &x, 1).ok());
  ASSERT_TRUE(a.dram.Write(0x4100, &y, 1).ok());
  a.ub_row(3)[1] = 5;  // DRAM is reported first
  EXPECT_EQ(FirstStateDifference(a, "functional", b, "rtl", 0, 0x6000),
            "DRAM byte 0x4012: functional 0x3f, rtl 0x00 (2 bytes differ in [0x0, 0x6000))");
  // Outside the compared range nothing differs in DRAM.
  EXPECT_EQ(FirstStateDifference(a, "functional", b, "rtl", 0, 0x4000),
            "UB row 3 lane 1: functional 0x00000005, rtl 0x00000000 (1 word differs)");
}

TEST(CosimReport, StateDifferenceNamesUbAndAccumulatorWords) {
  DeviceState a(Tiny(), isa::BF16_FP32), b(Tiny(), isa::BF16_FP32);
  b.ub_row(5)[3] = 0x3f800000;
  b.ub_row(9)[0] = 1;
  EXPECT_EQ(FirstStateDifference(a, "cycle", b, "rtl", 0, 64),
            "UB row 5 lane 3: cycle 0x00000000, rtl 0x3f800000 (2 words differ)");
  b.ub = a.ub;
  a.acc_row(2)[7] = 0xffc00000;  // tiny: 8 accumulator columns
  EXPECT_EQ(FirstStateDifference(a, "cycle", b, "rtl", 0, 64),
            "accumulator row 2 column 7: cycle 0xffc00000, rtl 0x00000000 (1 word differs)");
}

std::vector<isa::Instruction> SmallProgram() {
  auto code = isa::AssembleProgram(
      "LOAD dtype=f32 dram_addr=0x0 ub_row=0 rows=1 lanes=8 row_stride=8 lane_stride=1\n"
      "LOAD_WEIGHTS dtype=f32 dram_addr=0x0 rows=8 cols=8 row_stride=8 col_stride=1\n"
      "SIGNAL queue=load channel=0\n"
      "WAIT queue=compute channel=0\n"
      "MATMUL dtype=bf16 accumulate=0 pop_weights=1 ub_row=0 acc_row=0 rows=8\n"
      "HALT\n");
  EXPECT_TRUE(code.ok()) << code.status();
  return code.ok() ? *code : std::vector<isa::Instruction>{};
}

TEST(CosimReport, TraceDifferenceNamesTheFirstInstructionWithBothSlices) {
  const std::vector<isa::Instruction> code = SmallProgram();
  const std::vector<TraceSlice> cycle = {{"load DMA", 0, 1, 43}, {"weight DMA", 1, 43, 99},
                                         {"MXU", 4, 107, 129}};
  std::vector<TraceSlice> rtl = cycle;
  EXPECT_EQ(FirstTraceDifference(cycle, "cycle", rtl, "rtl", code), std::nullopt);
  rtl[2].end = 130;
  rtl[1].end = 100;  // instruction 1 comes first in program order
  std::swap(rtl[0], rtl[2]);  // slice order does not matter, instruction order does
  EXPECT_EQ(FirstTraceDifference(cycle, "cycle", rtl, "rtl", code),
            "first diverging instruction 1 (LOAD_WEIGHTS dtype=f32 dram_addr=0x0 rows=8 cols=8 "
            "row_stride=8 col_stride=1 mxu=0): cycle weight DMA [43, 99); rtl weight DMA [43, 100)");
  rtl[1].end = 99;
  const std::optional<std::string> d = FirstTraceDifference(cycle, "cycle", rtl, "rtl", code);
  ASSERT_TRUE(d.has_value());
  EXPECT_NE(d->find("first diverging instruction 4 (MATMUL dtype=bf16"), std::string::npos) << *d;
  EXPECT_NE(d->find("cycle MXU [107, 129); rtl MXU [107, 130)"), std::string::npos) << *d;
  // A slice only one side has.
  rtl.push_back({"controller", 3, 5, 6});
  rtl[0].end = 129;
  EXPECT_EQ(FirstTraceDifference(cycle, "cycle", rtl, "rtl", code),
            "first diverging instruction 3 (WAIT queue=compute channel=0): cycle no slice; rtl "
            "controller [5, 6)");
}

TEST(CosimReport, PrefixEndsWithSyncAndHaltAndDropsTheProgramsHalt) {
  const std::vector<isa::Instruction> code = SmallProgram();
  const std::vector<isa::Instruction> p = Prefix(code, 2);
  ASSERT_EQ(p.size(), 4u);
  EXPECT_EQ(p[1], code[1]);
  EXPECT_EQ(p[2].opcode, Opcode::SYNC);
  EXPECT_EQ(p[3].opcode, Opcode::HALT);
  EXPECT_EQ(Prefix(code, 100).size(), code.size() + 1);  // 5 instructions, SYNC, HALT
}

TEST(CosimReport, PrefixSearchFindsTheFirstDivergingPrefixLinearlyAndByBisection) {
  int calls = 0;
  auto differs_from = [&](size_t first) {
    return [&calls, first](size_t k) -> absl::StatusOr<std::optional<std::string>> {
      ++calls;
      if (k >= first) return std::optional<std::string>("DRAM byte 0x10");
      return std::optional<std::string>();
    };
  };
  auto linear = FirstDivergingPrefix(40, differs_from(5));
  ASSERT_TRUE(linear.ok() && linear->has_value());
  EXPECT_EQ((*linear)->k, 5u);
  EXPECT_EQ((*linear)->detail, "DRAM byte 0x10");
  EXPECT_EQ(calls, 5);

  calls = 0;
  auto bisected = FirstDivergingPrefix(1000, differs_from(637), /*linear_limit=*/0);
  ASSERT_TRUE(bisected.ok() && bisected->has_value());
  EXPECT_EQ((*bisected)->k, 637u);
  EXPECT_LE(calls, 11);  // the full program, then ceil(log2(1000)) halvings

  auto none = FirstDivergingPrefix(40, differs_from(41));
  ASSERT_TRUE(none.ok());
  EXPECT_FALSE(none->has_value());
  auto failed = FirstDivergingPrefix(
      3, [](size_t) -> absl::StatusOr<std::optional<std::string>> {
        return absl::InternalError("rtl: boom");
      });
  EXPECT_EQ(failed.status().message(), "rtl: boom");
}

TEST(CosimReport, PrefixDivergenceNamesInstructionKMinusOne) {
  const std::vector<isa::Instruction> code = SmallProgram();
  EXPECT_EQ(FormatPrefixDivergence(code, {5, "UB row 0 lane 0: functional 0x1, rtl 0x2"}),
            "first diverging instruction 4 (MATMUL dtype=bf16 accumulate=0 pop_weights=1 ub_row=0 "
            "acc_row=0 rows=8 mxu=0): after the first 5 instructions + SYNC + HALT, UB row 0 lane 0: "
            "functional 0x1, rtl 0x2");
}

// ---- The whole report path against deliberately wrong engines -----------------------------------

// Runs `inner` on the code with the first STORE replaced by a SYNC.
class DropsFirstStore : public simulator::Engine {
 public:
  explicit DropsFirstStore(std::unique_ptr<simulator::Engine> inner) : inner_(std::move(inner)) {}
  std::string_view name() const override { return "cosim_test_drops_first_store"; }
  absl::StatusOr<simulator::RunStats> Run(const simulator::Launch& launch,
                                          DeviceState& state) override {
    std::vector<isa::Instruction> code = *launch.code;
    for (isa::Instruction& inst : code) {
      if (inst.opcode == Opcode::STORE) {
        inst = isa::Make(Opcode::SYNC);
        break;
      }
    }
    simulator::Launch changed = launch;
    changed.code = &code;
    return inner_->Run(changed, state);
  }

 private:
  std::unique_ptr<simulator::Engine> inner_;
};

// Runs `inner` and reports every MATMUL slice, and everything after the first, one cycle later.
class LateMxu : public simulator::Engine {
 public:
  explicit LateMxu(std::unique_ptr<simulator::Engine> inner) : inner_(std::move(inner)) {}
  std::string_view name() const override { return "cosim_test_late_mxu"; }
  absl::StatusOr<simulator::RunStats> Run(const simulator::Launch& launch,
                                          DeviceState& state) override {
    absl::StatusOr<simulator::RunStats> stats = inner_->Run(launch, state);
    if (!stats.ok()) return stats;
    std::optional<uint64_t> from;
    for (const TraceSlice& s : stats->trace) {
      if (s.unit == "MXU" && (!from || s.start < *from)) from = s.start;
    }
    for (TraceSlice& s : stats->trace) {
      if (from && s.start >= *from) {
        ++s.start;
        ++s.end;
      }
    }
    ++stats->cycles;
    return stats;
  }

 private:
  std::unique_ptr<simulator::Engine> inner_;
};

CosimCase HandCase() {
  CosimCase c;
  c.name = "hand";
  c.arch = Tiny();
  c.mode = isa::BF16_FP32;
  c.frame_bytes = 0x200;
  c.program.set_frame_bytes(c.frame_bytes);
  auto code = isa::AssembleProgram(
      "LOAD dtype=f32 dram_addr=0x0 ub_row=0 rows=1 lanes=8 row_stride=8 lane_stride=1\n"
      "LOAD_WEIGHTS dtype=f32 dram_addr=0x0 rows=8 cols=8 row_stride=8 col_stride=1\n"
      "SIGNAL queue=load channel=0\n"
      "WAIT queue=store channel=0\n"
      "STORE dtype=f32 dram_addr=0x100 ub_row=0 rows=1 lanes=8 row_stride=8 lane_stride=1\n"
      "MATMUL dtype=bf16 accumulate=0 pop_weights=1 ub_row=0 acc_row=0 rows=8\n"
      "HALT\n");
  EXPECT_TRUE(code.ok()) << code.status();
  c.code = *code;
  std::string bytes(0x100, '\0');
  for (size_t i = 0; i < bytes.size(); ++i) bytes[i] = static_cast<char>(0x11 + i);
  c.dram.push_back({0, bytes});
  return c;
}

TEST(CosimReport, ByteMismatchReportNamesTheDroppedStoreAndItsFirstByte) {
  simulator::RegisterEngine("cosim_test_drops_first_store", [](const isa::ArchConfig& arch) {
    return std::make_unique<DropsFirstStore>(simulator::CreateEngine("functional", arch).value());
  });
  const CosimCase c = HandCase();
  auto full = CompareBytes(c, "functional", "cosim_test_drops_first_store", c.code);
  ASSERT_TRUE(full.ok()) << full.status();
  ASSERT_TRUE(full->has_value());
  // The STORE copies DRAM bytes [0, 32) (0x11, 0x12, ...) to 0x100: 32 bytes differ from 0x100.
  EXPECT_EQ(ByteMismatchReport(c, "functional", "cosim_test_drops_first_store", **full),
            "first diverging instruction 4 (STORE dtype=f32 dram_addr=0x100 ub_row=0 rows=1 "
            "lanes=8 row_stride=8 lane_stride=1): after the first 5 instructions + SYNC + HALT, "
            "DRAM byte 0x100: functional 0x11, cosim_test_drops_first_store 0x00 (32 bytes differ "
            "in [0x0, 0x200))");
}

TEST(CosimReport, CycleMismatchReportNamesTheFirstLateSlice) {
  simulator::RegisterEngine("cosim_test_late_mxu", [](const isa::ArchConfig& arch) {
    return std::make_unique<LateMxu>(simulator::CreateEngine("cycle", arch).value());
  });
  CosimCase c = HandCase();
  c.code.erase(c.code.begin(), c.code.begin() + 5);           // MATMUL, HALT
  c.code.insert(c.code.begin(), HandCase().code[1]);         // LOAD_WEIGHTS first
  // docs/timing.md on tiny: LOAD_WEIGHTS of 256 B starts at 1 and completes at 1 + 256/16 + 40 =
  // 57; the tile shifts in over R = 8 cycles, so the MATMUL of 8 rows runs [65, 65 + 8 + 8 + 8 -
  // 2) = [65, 87): 87 cycles, the table's 1 + T + R + B + R + C - 2.
  EXPECT_EQ(CycleMismatchReport(c, "cycle", 87, "cosim_test_late_mxu", 88),
            "cycle 87 cycles, cosim_test_late_mxu 88 cycles; first diverging instruction 1 "
            "(MATMUL dtype=bf16 accumulate=0 pop_weights=1 ub_row=0 acc_row=0 rows=8 mxu=0): cycle MXU "
            "[65, 87); cosim_test_late_mxu MXU [66, 88)");
}

// The gate skips the rtl comparison, saying why, for an arch no core model was built for.
TEST(CosimReport, RtlUnavailableNamesTheArchWithoutACoreModel) {
  const std::optional<std::string> why = RtlUnavailable(isa::LoadPreset("tpu-v1").value());
  ASSERT_TRUE(why.has_value());
  if (why->find("no RTL core models") == std::string::npos) {  // a build with models
    EXPECT_NE(why->find("no RTL core model for arch 'tpu-v1'"), std::string::npos) << *why;
  }
}

}  // namespace
}  // namespace tpusim::rtl::cosim
