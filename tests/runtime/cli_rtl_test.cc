// `tpusim run|profile --engine rtl --vcd FILE --vcd-window W`: the usage errors of the waveform
// options (exit code 2, one line, checked at parse time: no engine needed), the refusal of an arch
// without an RTL core model, and a run on the RTL core (skipped when the build has no core models).
#include "cli_test_util.h"
#include "onnx_test_data.h"
#include "tpusim/isa/arch_config.h"
#include "tpusim/rtl/rtl_engine.h"

namespace tpusim::runtime {
namespace {

using ::testing::HasSubstr;
using testing::OnnxNodeTestDir;

constexpr char kMatmul[] = "test_matmul_2d";

std::string Model(const std::string& test) { return absl::StrCat("'", OnnxNodeTestDir(test), "/model.onnx'"); }

bool HaveTinyCoreModel() {
  absl::StatusOr<isa::ArchConfig> tiny = isa::LoadPreset("tiny");
  return !rtl::CoreModelNames().empty() && tiny.ok() && rtl::CheckRtlArch(*tiny).ok();
}

TEST_F(CliTest, HelpListsTheRtlEngineAndTheWaveformOptions) {
  const CliResult r = Run("run --help");
  ASSERT_EQ(r.exit_code, 0) << r.err;
  EXPECT_THAT(r.out, HasSubstr("rtl"));
  EXPECT_THAT(r.out, HasSubstr("--vcd"));
  EXPECT_THAT(r.out, HasSubstr("--vcd-window"));
}

TEST_F(CliTest, VcdWithAnotherEngineIsAUsageError) {
  const std::string vcd = absl::StrCat(" --vcd '", Path("w.vcd"), "'");
  ExpectOneLineError(Run(absl::StrCat("run ", Model(kMatmul), " --arch tiny", vcd)), 2,
                     "--vcd needs --engine rtl (waveforms come from the RTL core); this run uses --engine "
                     "functional");
  ExpectOneLineError(Run(absl::StrCat("run ", Model(kMatmul), " --arch tiny --engine cycle", vcd)), 2,
                     "this run uses --engine cycle");
  // profile's engine defaults to cycle.
  ExpectOneLineError(Run(absl::StrCat("profile ", Model(kMatmul), " --arch tiny", vcd)), 2,
                     "this run uses --engine cycle");
  ExpectOneLineError(Run(absl::StrCat("run ", Model(kMatmul), " --device cpu --engine rtl", vcd)), 2,
                     "--vcd needs the TPU with --engine rtl; this run uses the cpu device");
  EXPECT_FALSE(std::filesystem::exists(Path("w.vcd")));
}

TEST_F(CliTest, VcdWindowWithoutVcdIsAUsageError) {
  ExpectOneLineError(Run(absl::StrCat("run ", Model(kMatmul), " --arch tiny --engine rtl --vcd-window 0:100")), 2,
                     "--vcd-window needs --vcd FILE");
  ExpectOneLineError(Run(absl::StrCat("profile ", Model(kMatmul), " --arch tiny --engine rtl --vcd-window i0:i3")),
                     2, "--vcd-window needs --vcd FILE");
}

TEST_F(CliTest, MalformedVcdWindowsAreUsageErrors) {
  const std::string prefix =
      absl::StrCat("run ", Model(kMatmul), " --arch tiny --engine rtl --vcd '", Path("w.vcd"), "' --vcd-window=");
  struct Case {
    const char* window;
    const char* why;
  };
  const Case cases[] = {
      {"10:5", "END (5) must be greater than START (10)"},
      {"5:5", "END (5) must be greater than START (5)"},
      {"i7:i2", "END (2) must be greater than START (7)"},
      {"a:b", "expected START:END (cycles) or iSTART:iEND (instruction indices)"},
      {"100", "expected START:END"},
      {"1:2:3", "expected START:END"},
      {":5", "expected START:END"},
      {"5:", "expected START:END"},
      {"-1:5", "expected START:END"},
      {"0x10:0x20", "expected START:END"},
      {"i:i5", "expected START:END"},
      {"99999999999999999999:1", "expected START:END"},  // > 2^64 - 1
      {"i0:5", "START and END must both be cycles or both instruction indices"},
      {"0:i5", "START and END must both be cycles or both instruction indices"},
  };
  for (const Case& c : cases) {  // "--vcd-window=W": a W starting with '-' stays a value
    SCOPED_TRACE(c.window);
    const CliResult r = Run(absl::StrCat(prefix, "'", c.window, "'"));
    ExpectOneLineError(r, 2, absl::StrCat("--vcd-window '", c.window, "': ", c.why));
  }
  EXPECT_FALSE(std::filesystem::exists(Path("w.vcd")));
}

TEST_F(CliTest, RtlEngineOnAnArchWithoutCoreModelIsAOneLineError) {
  // Well-formed options pass parsing; tpu-v4 (128x128) has no RTL core model: exit 1, not 2.
  const CliResult r = Run(absl::StrCat("run ", Model(kMatmul), " --arch tpu-v4 --engine rtl --vcd '",
                                       Path("w.vcd"), "' --vcd-window i0:i4"));
  ExpectOneLineError(r, 1, "cannot open with engine 'rtl' for arch 'tpu-v4'");
}

TEST_F(CliTest, RunOnTheRtlEngineMatchesTheFunctionalEngineAndWritesTheWaveform) {
  if (!HaveTinyCoreModel()) GTEST_SKIP() << "this build has no RTL core model for tiny (Verilator)";
  const std::string set = OnnxNodeTestDir(kMatmul) + "/test_data_set_0";
  const std::string feeds = absl::StrCat(" --input 'a=", set, "/input_0.pb' --input 'b=", set, "/input_1.pb'");
  const CliResult functional =
      Run(absl::StrCat("run", feeds, " ", Model(kMatmul), " --arch tiny --output-dir '", Path("f"), "'"));
  ASSERT_EQ(functional.exit_code, 0) << functional.err;
  const CliResult rtl = Run(absl::StrCat("run", feeds, " ", Model(kMatmul),
                                         " --arch tiny --engine rtl --no-progress --output-dir '", Path("r"),
                                         "' --report '", Path("run.json"), "' --vcd '", Path("w.vcd"),
                                         "' --vcd-window 0:200"));
  ASSERT_EQ(rtl.exit_code, 0) << rtl.err;
  // Same output bytes as the functional engine (the output file name is the graph output's).
  int compared = 0;
  for (const auto& entry : std::filesystem::directory_iterator(Path("f"))) {
    const std::string name = entry.path().filename().string();
    EXPECT_EQ(ReadAll(Path("r/" + name)), ReadAll(entry.path().string())) << name;
    ++compared;
  }
  EXPECT_EQ(compared, 1);
  EXPECT_THAT(ReadAll(Path("run.json")), HasSubstr("\"engine\": \"rtl\""));
  EXPECT_THAT(ReadAll(Path("w.vcd")), HasSubstr("$enddefinitions"));
}

}  // namespace
}  // namespace tpusim::runtime
