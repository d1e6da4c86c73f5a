// The cosimulation gate (issue 4, item 4): every corpus program (cosim_corpus.h) runs on the
// `functional`, `cycle` and `rtl` engines from identical fresh devices, and
//   (i)   rtl leaves the functional engine's bytes: DRAM over the frame, UB and accumulators;
//   (ii)  rtl takes exactly the cycle engine's RunStats::cycles;
//   (iii) cycle leaves the functional engine's bytes too.
// A mismatch names the first diverging instruction (cosim_gate.h): for bytes the shortest program
// prefix whose devices differ, with the first differing byte or word; for cycles the first
// instruction whose trace slices differ, with both slices. Each corpus program is one ctest entry.
//
// Without the rtl engine's core models (no Verilator, or no model for the arch) the rtl part is
// skipped with the reason, after (iii) has been checked.
#include <gtest/gtest.h>

#include "absl/strings/str_cat.h"

#include "cosim_corpus.h"
#include "cosim_gate.h"
#include "cosim_report.h"
#include "tpusim/rtl/rtl_engine.h"

namespace tpusim::rtl::cosim {
namespace {

class CosimGate : public ::testing::TestWithParam<CosimSpec> {};

// True when a failed rtl run says the build has no core model for it (rtl_engine.h: "a clear
// FailedPrecondition saying the build has no RTL core models").
bool SaysNoModel(const absl::Status& s) {
  return s.code() == absl::StatusCode::kFailedPrecondition &&
         s.message().find("model") != std::string_view::npos;
}

TEST_P(CosimGate, RtlMatchesFunctionalBytesAndCycleCounts) {
  const CosimSpec& spec = GetParam();
  absl::StatusOr<CosimCase> built = BuildCase(spec);
  ASSERT_TRUE(built.ok()) << built.status();
  const CosimCase& c = *built;

  auto functional = FreshState(c);
  ASSERT_TRUE(functional.ok()) << functional.status();
  absl::StatusOr<simulator::RunStats> f = RunOn(c, "functional", c.code, **functional);
  ASSERT_TRUE(f.ok()) << "the corpus made a program the functional engine rejects: " << f.status();

  auto cycle_state = FreshState(c);
  ASSERT_TRUE(cycle_state.ok()) << cycle_state.status();
  absl::StatusOr<simulator::RunStats> cycle = RunOn(c, "cycle", c.code, **cycle_state);
  ASSERT_TRUE(cycle.ok()) << "cycle: " << cycle.status();
  RecordProperty("instructions", static_cast<int>(c.code.size()));
  RecordProperty("cycles", std::to_string(cycle->cycles));
  if (auto d = FirstStateDifference(**functional, "functional", **cycle_state, "cycle", 0,
                                    c.frame_bytes)) {
    ADD_FAILURE() << "cycle vs functional bytes: "
                  << ByteMismatchReport(c, "functional", "cycle", *d);
  }

  if (std::optional<std::string> why = RtlUnavailable(c.arch)) {
    GTEST_SKIP() << "rtl not compared: " << *why << " (functional vs cycle compared: "
                 << c.code.size() << " instructions, " << cycle->cycles << " cycles)";
  }
  if (absl::Status support = CheckRtlSupport(c.code, c.mode); !support.ok()) {
    if (spec.kind == CosimKind::kCompiled) {
      GTEST_SKIP() << "the compiled layer uses an instruction the RTL core lacks: " << support;
    }
    FAIL() << "the random program left the RTL subset: " << support;
  }
  auto rtl_state = FreshState(c);
  ASSERT_TRUE(rtl_state.ok()) << rtl_state.status();
  absl::StatusOr<simulator::RunStats> rtl = RunOn(c, "rtl", c.code, **rtl_state);
  if (!rtl.ok() && SaysNoModel(rtl.status())) GTEST_SKIP() << "rtl: " << rtl.status();
  ASSERT_TRUE(rtl.ok()) << "rtl: " << rtl.status();

  if (auto d = FirstStateDifference(**functional, "functional", **rtl_state, "rtl", 0,
                                    c.frame_bytes)) {
    ADD_FAILURE() << "rtl vs functional bytes: " << ByteMismatchReport(c, "functional", "rtl", *d);
  }
  if (rtl->cycles != cycle->cycles) {
    ADD_FAILURE() << "rtl vs cycle cycles: "
                  << CycleMismatchReport(c, "cycle", cycle->cycles, "rtl", rtl->cycles);
  }
  // The core's per-cycle bucket output (a performance counter in the RTL) against the cycle
  // engine's accounting of the same run.
  const simulator::CycleBuckets& a = cycle->buckets;
  const simulator::CycleBuckets& b = rtl->buckets;
  EXPECT_EQ(b.total(), rtl->cycles) << "rtl buckets do not sum to its cycles";
  const auto row = [](const simulator::CycleBuckets& x) {
    return absl::StrCat(x.active, "/", x.weight_load_stall, "/", x.weight_shift, "/",
                        x.input_stall, "/", x.non_matrix, "/", x.sync_wait, "/", x.idle);
  };
  EXPECT_EQ(row(b), row(a)) << "rtl vs cycle buckets (active/weight_load_stall/weight_shift/"
                               "input_stall/non_matrix/sync_wait/idle)";
}

std::string ParamName(const ::testing::TestParamInfo<CosimSpec>& info) {
  return SpecName(info.param);
}

INSTANTIATE_TEST_SUITE_P(CosimRandom, CosimGate, ::testing::ValuesIn(RandomSpecs()), ParamName);
INSTANTIATE_TEST_SUITE_P(CosimCompiled, CosimGate, ::testing::ValuesIn(CompiledSpecs()), ParamName);

}  // namespace
}  // namespace tpusim::rtl::cosim
