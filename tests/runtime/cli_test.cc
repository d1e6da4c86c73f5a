// The `tpusim` command-line contract (issue 2, item 8), checked by running the built binary.
// Expected tensors come from the ONNX test data shipped by libonnx-testdata.
#include <gmock/gmock.h>
#include <gtest/gtest.h>
#include <onnx/onnx_pb.h>
#include <sys/wait.h>

#include <fstream>
#include <sstream>

#include "cli_test_util.h"
#include "onnx_test_data.h"
#include "tpusim/compiler_backend/onnx_frontend.h"
#include "tpusim/isa/program.h"
#include "tpusim/runtime/tensor_io.h"

namespace tpusim::runtime {
namespace {

using ::testing::HasSubstr;
using ::testing::StartsWith;
using testing::AllCloseMismatch;
using testing::OnnxNodeTestDir;

// Instruction lines of an assembly listing (comment lines dropped).
std::vector<std::string> InstructionLines(const std::string& text) {
  std::vector<std::string> out;
  for (const std::string& line : Lines(text)) {
    if (!line.empty() && line[0] != '#') out.push_back(line);
  }
  return out;
}

// Input names of an ONNX node test, in order.
std::vector<std::string> InputNames(const std::string& test) {
  absl::StatusOr<compiler::Graph> g = compiler::ImportOnnxFile(OnnxNodeTestDir(test) + "/model.onnx");
  EXPECT_TRUE(g.ok()) << g.status();
  return g.ok() ? g->inputs : std::vector<std::string>{};
}

std::string OutputName(const std::string& test) {
  absl::StatusOr<compiler::Graph> g = compiler::ImportOnnxFile(OnnxNodeTestDir(test) + "/model.onnx");
  EXPECT_TRUE(g.ok()) << g.status();
  return g.ok() && !g->outputs.empty() ? g->outputs[0] : "";
}

// "--input a=DIR/input_0.pb --input b=DIR/input_1.pb" for data set 0 of a node test.
std::string InputFlags(const std::string& test) {
  const std::string set = OnnxNodeTestDir(test) + "/test_data_set_0";
  std::string flags;
  const std::vector<std::string> names = InputNames(test);
  for (size_t k = 0; k < names.size(); ++k) {
    absl::StrAppend(&flags, " --input '", names[k], "=", set, "/input_", k, ".pb'");
  }
  return flags;
}

void ExpectOutputMatches(const std::string& written, const std::string& test) {
  absl::StatusOr<compiler::Tensor> got = compiler::ReadTensorProtoFile(written);
  ASSERT_TRUE(got.ok()) << got.status();
  absl::StatusOr<compiler::Tensor> want =
      compiler::ReadTensorProtoFile(OnnxNodeTestDir(test) + "/test_data_set_0/output_0.pb");
  ASSERT_TRUE(want.ok()) << want.status();
  EXPECT_EQ(AllCloseMismatch(*got, *want), "");
}

constexpr char kMatmul[] = "test_matmul_2d";

TEST_F(CliTest, RunWritesEachOutputAsTensorProtoMatchingOnnxTestData) {
  // Inputs before the model: --input must take exactly one value per occurrence.
  const CliResult r = Run(absl::StrCat("run", InputFlags(kMatmul), " '", OnnxNodeTestDir(kMatmul),
                                       "/model.onnx' --arch tiny --precision highest --output-dir '",
                                       Path("out"), "'"));
  ASSERT_EQ(r.exit_code, 0) << r.err;
  ExpectOutputMatches(Path("out/" + SafeFileName(OutputName(kMatmul)) + ".pb"), kMatmul);
}

TEST_F(CliTest, RunAcceptsNpyInputs) {
  const std::string set = OnnxNodeTestDir(kMatmul) + "/test_data_set_0";
  std::string flags;
  const std::vector<std::string> names = InputNames(kMatmul);
  for (size_t k = 0; k < names.size(); ++k) {
    absl::StatusOr<compiler::Tensor> t =
        compiler::ReadTensorProtoFile(absl::StrCat(set, "/input_", k, ".pb"));
    ASSERT_TRUE(t.ok()) << t.status();
    const std::string npy = Path(absl::StrCat("in", k, ".npy"));
    std::ofstream(npy, std::ios::binary) << SerializeNpy(*t);
    absl::StrAppend(&flags, " --input '", names[k], "=", npy, "'");
  }
  const CliResult r = Run(absl::StrCat("run '", OnnxNodeTestDir(kMatmul), "/model.onnx'", flags,
                                       " --arch tiny --precision highest --output-dir '", Path("out"), "'"));
  ASSERT_EQ(r.exit_code, 0) << r.err;
  ExpectOutputMatches(Path("out/" + SafeFileName(OutputName(kMatmul)) + ".pb"), kMatmul);
}

TEST_F(CliTest, ReportJsonHoldsTheRequiredKeys) {
  const CliResult r = Run(absl::StrCat("run '", OnnxNodeTestDir(kMatmul),
                                       "/model.onnx' --arch tiny --report '", Path("report.json"), "'"));
  ASSERT_EQ(r.exit_code, 0) << r.err;
  const std::string json = ReadAll(Path("report.json"));
  for (const char* key : {"\"engine\": \"functional\"", "\"arch\": \"tiny\"", "\"device\": \"tpu\"",
                          "\"precision\": \"bf16\"", "\"wall_seconds\"", "\"instructions\"", "\"by_opcode\"",
                          "\"LOAD\"", "\"MATMUL\"", "\"HALT\": 1", "\"macs\"", "\"bytes_moved\"",
                          "\"dram_to_ub\"", "\"ub_to_dram\"", "\"dram_to_weights\"", "\"placements\""}) {
    EXPECT_THAT(json, HasSubstr(key));
  }
  EXPECT_THAT(json, ::testing::ContainsRegex("\"MATMUL\": [1-9]"));
}

TEST_F(CliTest, MalformedModelIsOneLineErrorExitOne) {
  std::ofstream(Path("bad.onnx"), std::ios::binary) << "this is not a protobuf \xff\xff\xff\xff";
  ExpectOneLineError(Run(absl::StrCat("run '", Path("bad.onnx"), "' --arch tiny")), 1, "bad.onnx");
}

TEST_F(CliTest, TruncatedModelIsOneLineErrorExitOne) {
  const std::string model = ReadAll(OnnxNodeTestDir(kMatmul) + "/model.onnx");
  std::ofstream(Path("cut.onnx"), std::ios::binary) << model.substr(0, model.size() / 2);
  ExpectOneLineError(Run(absl::StrCat("run '", Path("cut.onnx"), "' --arch tiny")), 1, "cut.onnx");
}

TEST_F(CliTest, NonexistentModelIsOneLineErrorExitOne) {
  ExpectOneLineError(Run(absl::StrCat("run '", Path("missing.onnx"), "'")), 1, "missing.onnx");
}

TEST_F(CliTest, UnknownArchIsOneLineErrorExitOne) {
  ExpectOneLineError(Run(absl::StrCat("run '", OnnxNodeTestDir(kMatmul), "/model.onnx' --arch no-such-arch")),
                     1, "no-such-arch");
}

TEST_F(CliTest, UnknownPrecisionIsUsageErrorExitTwo) {
  ExpectOneLineError(Run(absl::StrCat("run '", OnnxNodeTestDir(kMatmul), "/model.onnx' --precision fp8")), 2,
                     "fp8");
}

TEST_F(CliTest, SerialAndTokenSchedulesWriteTheSameOutputs) {
  for (const char* schedule : {"tokens", "serial"}) {
    const CliResult r = Run(absl::StrCat("run", InputFlags(kMatmul), " '", OnnxNodeTestDir(kMatmul),
                                         "/model.onnx' --arch tiny --engine cycle --schedule ", schedule,
                                         " --output-dir '", Path(schedule), "'"));
    ASSERT_EQ(r.exit_code, 0) << r.err;
  }
  const std::string name = SafeFileName(OutputName(kMatmul)) + ".pb";
  const std::string tokens = ReadAll(Path("tokens/" + name));
  ASSERT_FALSE(tokens.empty());
  EXPECT_EQ(tokens, ReadAll(Path("serial/" + name)));
}

TEST_F(CliTest, UnknownScheduleIsUsageErrorExitTwo) {
  ExpectOneLineError(Run(absl::StrCat("run '", OnnxNodeTestDir(kMatmul), "/model.onnx' --schedule eager")), 2,
                     "eager");
}

TEST_F(CliTest, MissingSubcommandIsUsageErrorExitTwo) { ExpectOneLineError(Run(""), 2, "subcommand"); }

TEST_F(CliTest, InputNameNotInModelIsAnError) {
  ExpectOneLineError(Run(absl::StrCat("run '", OnnxNodeTestDir(kMatmul),
                                      "/model.onnx' --arch tiny --input nosuch='", Path("x.pb"), "'")),
                     1, "nosuch");
}

TEST_F(CliTest, OpWithoutTpuSupportFallsBackToCpuAndIsLogged) {
  const std::string test = "test_argmax_default_axis_example";
  const CliResult r =
      Run(absl::StrCat("run '", OnnxNodeTestDir(test), "/model.onnx'", InputFlags(test),
                       " --arch tiny --log-device-placement --output-dir '", Path("out"), "'"));
  ASSERT_EQ(r.exit_code, 0) << r.err;
  EXPECT_THAT(r.out, HasSubstr("ArgMax"));
  EXPECT_THAT(r.out, HasSubstr("device:CPU:0"));
  ExpectOutputMatches(Path("out/" + SafeFileName(OutputName(test)) + ".pb"), test);
}

TEST_F(CliTest, DeviceCpuRunsEveryOpOnTheCpu) {
  const CliResult r =
      Run(absl::StrCat("run '", OnnxNodeTestDir(kMatmul), "/model.onnx'", InputFlags(kMatmul),
                       " --device cpu --log-device-placement --output-dir '", Path("out"), "'"));
  ASSERT_EQ(r.exit_code, 0) << r.err;
  EXPECT_THAT(r.out, HasSubstr("MatMul"));
  EXPECT_THAT(r.out, HasSubstr("device:CPU:0"));
  EXPECT_THAT(r.out, ::testing::Not(HasSubstr("device:TPU:0")));
  ExpectOutputMatches(Path("out/" + SafeFileName(OutputName(kMatmul)) + ".pb"), kMatmul);
}

// A model with two op types no device can run: one error lists both.
std::string TwoUnknownOpsModel() {
  onnx::ModelProto model;
  model.set_ir_version(8);
  model.add_opset_import()->set_version(13);
  onnx::GraphProto* g = model.mutable_graph();
  g->set_name("unknown_ops");
  onnx::ValueInfoProto* x = g->add_input();
  x->set_name("x");
  x->mutable_type()->mutable_tensor_type()->set_elem_type(onnx::TensorProto::FLOAT);
  x->mutable_type()->mutable_tensor_type()->mutable_shape()->add_dim()->set_dim_value(4);
  onnx::NodeProto* a = g->add_node();
  a->set_name("first");
  a->set_op_type("FrobnicateA");
  a->add_input("x");
  a->add_output("y");
  onnx::NodeProto* b = g->add_node();
  b->set_name("second");
  b->set_op_type("FrobnicateB");
  b->add_input("y");
  b->add_output("z");
  onnx::ValueInfoProto* z = g->add_output();
  z->set_name("z");
  z->mutable_type()->mutable_tensor_type()->set_elem_type(onnx::TensorProto::FLOAT);
  return model.SerializeAsString();
}

TEST_F(CliTest, OpsWithNoKernelAnywhereAreListedInOneError) {
  std::ofstream(Path("unknown.onnx"), std::ios::binary) << TwoUnknownOpsModel();
  const CliResult r = Run(absl::StrCat("run '", Path("unknown.onnx"), "' --arch tiny"));
  ExpectOneLineError(r, 1, "FrobnicateA");
  EXPECT_THAT(r.err, HasSubstr("FrobnicateB"));
}

TEST_F(CliTest, CompileRejectsOpsTheTpuCannotRun) {
  const std::string test = "test_argmax_default_axis_example";
  ExpectOneLineError(Run(absl::StrCat("compile '", OnnxNodeTestDir(test), "/model.onnx' --arch tiny -o '",
                                      Path("p.tpb"), "'")),
                     1, "ArgMax");
}

TEST_F(CliTest, CompileDisasmAsmRoundTripKeepsTheCode) {
  const std::string model = OnnxNodeTestDir(kMatmul) + "/model.onnx";
  CliResult r = Run(absl::StrCat("compile '", model, "' --arch tiny -o '", Path("p.tpb"), "'"));
  ASSERT_EQ(r.exit_code, 0) << r.err;
  r = Run(absl::StrCat("disasm '", Path("p.tpb"), "'"));
  ASSERT_EQ(r.exit_code, 0) << r.err;
  const std::string listing = r.out;
  std::ofstream(Path("p.s")) << listing;
  r = Run(absl::StrCat("asm '", Path("p.s"), "' --arch tiny -o '", Path("q.tpb"), "'"));
  ASSERT_EQ(r.exit_code, 0) << r.err;
  absl::StatusOr<isa::Program> p = isa::ReadProgramFile(Path("p.tpb"));
  absl::StatusOr<isa::Program> q = isa::ReadProgramFile(Path("q.tpb"));
  ASSERT_TRUE(p.ok()) << p.status();
  ASSERT_TRUE(q.ok()) << q.status();
  EXPECT_FALSE(p->code().empty());
  EXPECT_EQ(p->code(), q->code());
  EXPECT_EQ(q->arch().name(), "tiny");
  r = Run(absl::StrCat("disasm '", Path("q.tpb"), "'"));
  ASSERT_EQ(r.exit_code, 0) << r.err;
  EXPECT_EQ(InstructionLines(r.out), InstructionLines(listing));

  // Raw code (no Program container) disassembles to the same instructions.
  std::ofstream(Path("raw.bin"), std::ios::binary) << p->code();
  r = Run(absl::StrCat("disasm '", Path("raw.bin"), "'"));
  ASSERT_EQ(r.exit_code, 0) << r.err;
  EXPECT_EQ(InstructionLines(r.out), InstructionLines(listing));
}

TEST_F(CliTest, AsmErrorNamesTheLine) {
  std::ofstream(Path("bad.s")) << "HALT\nNOT_AN_OPCODE x=1\n";
  ExpectOneLineError(Run(absl::StrCat("asm '", Path("bad.s"), "' --arch tiny -o '", Path("x.tpb"), "'")), 1,
                     "line 2");
}

TEST_F(CliTest, DisasmOfTruncatedCodeIsAnError) {
  std::ofstream(Path("raw.bin"), std::ios::binary) << std::string(40, '\0');
  ExpectOneLineError(Run(absl::StrCat("disasm '", Path("raw.bin"), "'")), 1, "raw.bin");
}

}  // namespace
}  // namespace tpusim::runtime
