// `tpusim run --engine cycle` (timing in the report, the --trace timeline) and `tpusim profile`,
// checked by running the built binary on ONNX node tests (libonnx-testdata).
#include "cli_test_util.h"
#include "json_checker.h"
#include "onnx_test_data.h"

namespace tpusim::runtime {
namespace {

using ::testing::ContainsRegex;
using ::testing::HasSubstr;
using ::testing::StartsWith;
using testing::OnnxNodeTestDir;

// Gemm (y = alpha a b^T + beta c) plus Relu via another test: a model with a MatMul-class op.
constexpr char kGemm[] = "test_gemm_all_attributes";

std::string Model(const std::string& test) { return absl::StrCat("'", OnnxNodeTestDir(test), "/model.onnx'"); }

TEST_F(CliTest, RunOnTheCycleEngineReportsCyclesBucketsTrafficAndUtilizations) {
  const CliResult r = Run(absl::StrCat("run ", Model(kGemm), " --arch tiny --engine cycle --report '",
                                       Path("report.json"), "'"));
  ASSERT_EQ(r.exit_code, 0) << r.err;
  EXPECT_EQ(r.err, "");  // a short run prints no progress line
  const std::string json = ReadAll(Path("report.json"));
  EXPECT_TRUE(JsonChecker(json).Valid()) << json;
  EXPECT_THAT(json, HasSubstr("\"engine\": \"cycle\""));
  EXPECT_THAT(json, ContainsRegex("\"cycles\": [1-9][0-9]*,"));
  EXPECT_THAT(json, ContainsRegex("\"simulated_seconds\": [0-9]"));
  for (const char* key : {"\"cycle_buckets\": {", "\"active\": {", "\"weight_load_stall\": {", "\"idle\": {",
                          "\"ub_to_array\": ", "\"accumulators\": ", "\"dram_to_weights\": ",
                          "\"mxu_utilization\": 0", "\"flops_utilization_roofline\": 0",
                          "\"memory_bandwidth_utilization\": 0", "\"ridge_macs_per_byte\": 4"}) {
    EXPECT_THAT(json, HasSubstr(key));
  }
  EXPECT_THAT(r.out, HasSubstr("MXU utilization "));
  EXPECT_THAT(r.out, HasSubstr("cycle buckets: active "));
}

TEST_F(CliTest, TraceIsChromeTraceEventJsonWithOneTrackPerUnit) {
  const CliResult r =
      Run(absl::StrCat("run ", Model(kGemm), " --arch tiny --engine cycle --trace '", Path("t.json"), "'"));
  ASSERT_EQ(r.exit_code, 0) << r.err;
  EXPECT_THAT(r.out, HasSubstr("trace: "));
  const std::string doc = ReadAll(Path("t.json"));
  EXPECT_TRUE(JsonChecker(doc).Valid());
  EXPECT_THAT(doc, StartsWith("{\"displayTimeUnit\": \"ns\", \"traceEvents\": ["));
  for (const char* unit : {"load DMA", "weight DMA", "MXU", "vector unit", "store DMA", "controller"}) {
    EXPECT_THAT(doc, HasSubstr(absl::StrCat("\"name\": \"thread_name\",\"args\": {\"name\": \"", unit, "\"}")));
  }
  EXPECT_THAT(doc, ContainsRegex("\"ph\": \"X\",\"pid\": 1,\"tid\": 3,\"name\": \"MATMUL\",\"ts\": [0-9.]+,"
                                 "\"dur\": [0-9.]+,\"args\": \\{\"instruction\": [0-9]+,\"op\": \"Gemm\""));
}

TEST_F(CliTest, TraceNeedsATimingEngine) {
  ExpectOneLineError(Run(absl::StrCat("run ", Model(kGemm), " --arch tiny --trace '", Path("t.json"), "'")), 1,
                     "--trace needs a timing engine");
}

TEST_F(CliTest, ProfilePrintsOneRowPerLayerAndATotal) {
  const std::string test = "test_argmax_default_axis_example";  // ArgMax runs on the CPU
  const CliResult r = Run(absl::StrCat("profile ", Model(kGemm), " --arch tiny --csv '", Path("p.csv"), "'"));
  ASSERT_EQ(r.exit_code, 0) << r.err;
  const std::vector<std::string> lines = Lines(r.out);
  auto row = [&](const std::string& first) {
    for (const std::string& l : lines) {
      if (l.rfind(first + " ", 0) == 0) return l;
    }
    return std::string();
  };
  EXPECT_THAT(row("op"), ContainsRegex("MACs +DRAM bytes +cycles +MXU util +bound +roofline bound"));
  EXPECT_THAT(row("Gemm"), ContainsRegex("^Gemm +Gemm +TPU +\\[3,5\\] +60 +[0-9]+ +[1-9][0-9]* +[0-9.]+% +memory"));
  EXPECT_THAT(row("total"), ContainsRegex("^total +60 +[0-9]+ +[1-9][0-9]* +[0-9.]+% +memory +[0-9.]+$"));
  EXPECT_THAT(r.out, HasSubstr("engine: cycle"));
  EXPECT_THAT(r.out, HasSubstr("FLOPS utilization (roofline)"));
  const std::vector<std::string> csv = Lines(ReadAll(Path("p.csv")));
  ASSERT_GE(csv.size(), 3u);
  EXPECT_EQ(csv[0], "op,op_type,device,output_shape,macs,dram_bytes,cycles,mxu_utilization,bound,"
                    "roofline_bound_cycles");
  EXPECT_THAT(csv[1], ContainsRegex("^Gemm,Gemm,TPU,\"\\[3,5\\]\",60,[0-9]+,[1-9][0-9]*,0\\.[0-9]+,memory,"));
  EXPECT_THAT(csv.back(), StartsWith("total,,,,60,"));

  const CliResult cpu = Run(absl::StrCat("profile ", Model(test), " --arch tiny"));
  ASSERT_EQ(cpu.exit_code, 0) << cpu.err;
  EXPECT_THAT(cpu.out, ContainsRegex("\nArgMax +ArgMax +CPU +\\[1,2\\] +- +- +- +- +- +-\n"));
}

TEST_F(CliTest, ProfileWithAnUnknownEngineListsTheEngines) {
  ExpectOneLineError(Run(absl::StrCat("profile ", Model(kGemm), " --arch tiny --engine warp")), 1,
                     "unknown engine 'warp' (registered: cycle, functional");
}

}  // namespace
}  // namespace tpusim::runtime
