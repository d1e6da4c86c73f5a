// The tpu backend on the `rtl` engine (the Verilated SystemVerilog core): a hand-assembled MATMUL
// program against a hand reference, the functional engine's bits and the cycle engine's cycles; the
// refusals (an arch without a core model, an instruction the core lacks, waveform options on another
// engine) and the per-launch VCD files. Tests that run the core skip when the build has no RTL core
// models (no Verilator).
#include <unistd.h>

#include <algorithm>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <sstream>
#include <vector>

#include "absl/strings/str_cat.h"
#include "driver_test_util.h"
#include "gmock/gmock.h"
#include "tpusim/isa/isa.h"
#include "tpusim/rtl/rtl_engine.h"

namespace tpusim::driver::testing {
namespace {

using ::testing::Contains;
using ::testing::HasSubstr;

// Skips the test unless this build has an RTL core model for `arch` (none without Verilator).
#define SKIP_WITHOUT_CORE_MODEL(arch)                                                             \
  do {                                                                                            \
    if (rtl::CoreModelNames().empty()) GTEST_SKIP() << "this build has no RTL core models (Verilator)"; \
    if (const absl::Status why_ = rtl::CheckRtlArch(arch); !why_.ok()) GTEST_SKIP() << why_;      \
  } while (0)

isa::ArchConfig Rtl16Arch() {
  absl::StatusOr<isa::ArchConfig> arch =
      isa::LoadArchConfigFile(std::string(TPUSIM_SOURCE_DIR) + "/configs/rtl-16x16.textproto");
  EXPECT_TRUE(arch.ok()) << arch.status();
  return arch.ok() ? *arch : isa::ArchConfig();
}

absl::StatusOr<std::unique_ptr<Device>> OpenWith(const std::string& engine, const isa::ArchConfig& arch,
                                                 const std::string& vcd_path = "",
                                                 simulator::VcdWindow window = {}) {
  absl::StatusOr<Platform*> p = GetPlatform("tpu");
  if (!p.ok()) return p.status();
  DeviceOptions options;
  options.engine = engine;
  options.arch = arch;
  options.vcd_path = vcd_path;
  options.vcd_window = window;
  return (*p)->OpenDevice(0, options);
}

// An N x N array (N = arch.array_rows() = array_cols()); frame of 2N + 2N + N*N fp32 words:
// input x = [2, N] at 0, output y = [2, N] at 8N bytes, constant w = [N, N] at 16N bytes.
// y = relu(x . w) + 0.5, through LOAD, LOAD_WEIGHTS, MATMUL, ACTIVATE relu, VECTOR add_imm, STORE.
std::string MatmulBody(int n) {
  const std::string io = absl::StrCat(" rows=2 lanes=", n, " row_stride=", n, " lane_stride=1\n");
  return absl::StrCat(
      "LOAD dtype=f32 dram_addr=0x0 ub_row=0", io,                                                 //
      "LOAD_WEIGHTS dtype=f32 dram_addr=", Hex(16 * n), " rows=", n, " cols=", n, " row_stride=", n,  //
      " col_stride=1\n",                                                                          //
      "SYNC\n",                                                                                   //
      "MATMUL dtype=bf16 accumulate=0 pop_weights=1 ub_row=0 acc_row=0 rows=2\n",                 //
      "ACTIVATE func=relu has_bias=0 acc_row=0 ub_row=2 rows=2 bias_row=0\n",                     //
      "VECTOR op=add_imm dst_row=2 a_row=2 b_row=2 rows=2 imm=0.5\n",                             //
      "SYNC\n",                                                                                   //
      "STORE dtype=f32 dram_addr=", Hex(8 * n), " ub_row=2", io);
}

// x[r][k] = 0.5 * ((r*N + k) % 7) - 1.5, in {-1.5, ..., 1.5}: exact in bf16.
std::vector<float> InputX(int n) {
  std::vector<float> x(2 * n);
  for (int i = 0; i < 2 * n; ++i) x[i] = 0.5f * static_cast<float>(i % 7) - 1.5f;
  return x;
}

// w[k][c] = ((k + 2c) % 5) - 2, integers in [-2, 2]: exact in bf16.
std::vector<float> WeightW(int n) {
  std::vector<float> w(n * n);
  for (int k = 0; k < n; ++k) {
    for (int c = 0; c < n; ++c) w[k * n + c] = static_cast<float>((k + 2 * c) % 5 - 2);
  }
  return w;
}

absl::StatusOr<isa::Program> MakeProgram(const std::string& body, const isa::ArchConfig& arch) {
  const int64_t n = arch.array_rows();
  absl::StatusOr<isa::Program> p =
      AssembledProgram(body + "HALT\n", arch, {{"x", 0, {2, n}}}, {{"y", static_cast<uint64_t>(8 * n), {2, n}}},
                       16 * n + 4 * n * n, "matmul_relu");
  if (!p.ok()) return p.status();
  const std::vector<float> w = WeightW(static_cast<int>(n));
  isa::Segment* seg = p->add_constants();
  seg->set_name("w");
  seg->set_dram_offset(16 * n);
  seg->set_data(std::string(reinterpret_cast<const char*>(w.data()), w.size() * sizeof(float)));
  return p;
}

// One launch's results: the output, the whole frame afterwards, and the statistics.
struct LaunchResult {
  std::vector<float> y;
  std::string frame;
  simulator::RunStats stats;
};

absl::StatusOr<LaunchResult> LaunchOnce(const std::string& engine, const isa::ArchConfig& arch) {
  const int n = static_cast<int>(arch.array_rows());
  absl::StatusOr<std::unique_ptr<Device>> dev = OpenWith(engine, arch);
  if (!dev.ok()) return dev.status();
  absl::StatusOr<isa::Program> program = MakeProgram(MatmulBody(n), arch);
  if (!program.ok()) return program.status();
  absl::StatusOr<std::unique_ptr<Executable>> exe = (*dev)->LoadProgram(*program);
  if (!exe.ok()) return exe.status();
  absl::StatusOr<DeviceMemory> x = (*dev)->Allocate(8 * n), y = (*dev)->Allocate(8 * n);
  if (!x.ok()) return x.status();
  if (!y.ok()) return y.status();
  absl::StatusOr<std::unique_ptr<Stream>> stream = (*dev)->CreateStream();
  if (!stream.ok()) return stream.status();
  const std::vector<float> in = InputX(n);
  LaunchResult r;
  r.y.assign(2 * n, -1.0f);
  (*stream)->MemcpyHostToDevice(*x, in.data(), 8 * n);
  (*stream)->Launch(**exe, {*x}, {*y}, &r.stats);
  (*stream)->MemcpyDeviceToHost(r.y.data(), *y, 8 * n);
  if (absl::Status s = (*stream)->Synchronize(); !s.ok()) return s;
  r.frame.resize((*exe)->frame().size);
  if (absl::Status s = (*dev)->CopyFromDevice(r.frame.data(), (*exe)->frame(), r.frame.size()); !s.ok()) return s;
  return r;
}

class RtlLaunch : public ::testing::TestWithParam<std::string> {
 protected:
  isa::ArchConfig Arch() const { return GetParam() == "tiny" ? TinyArch() : Rtl16Arch(); }
};

TEST_P(RtlLaunch, MatmulReluMatchesHandReferenceAndFunctionalEngineBytes) {
  SKIP_WITHOUT_CORE_MODEL(Arch());
  const isa::ArchConfig arch = Arch();
  const int n = static_cast<int>(arch.array_rows());
  DRV_ASSIGN_OR_FAIL(LaunchResult rtl, LaunchOnce("rtl", arch));
  DRV_ASSIGN_OR_FAIL(LaunchResult functional, LaunchOnce("functional", arch));
  // Reference: every product and partial sum is a multiple of 0.5 below 2^8, exact in fp32 whatever
  // the order, so y = relu(x . w) + 0.5 exactly.
  const std::vector<float> x = InputX(n), w = WeightW(n);
  for (int r = 0; r < 2; ++r) {
    for (int c = 0; c < n; ++c) {
      float dot = 0.0f;
      for (int k = 0; k < n; ++k) dot += x[r * n + k] * w[k * n + c];
      EXPECT_EQ(rtl.y[r * n + c], std::max(dot, 0.0f) + 0.5f) << "row " << r << " col " << c;
    }
  }
  EXPECT_EQ(std::memcmp(rtl.y.data(), functional.y.data(), rtl.y.size() * sizeof(float)), 0);
  EXPECT_TRUE(rtl.frame == functional.frame) << "the frames differ";
  EXPECT_EQ(rtl.stats.engine, "rtl");
  EXPECT_EQ(rtl.stats.instructions, functional.stats.instructions);
  EXPECT_EQ(rtl.stats.count(isa::Opcode::MATMUL), 1u);
  EXPECT_GT(rtl.stats.cycles, 0u);
}

TEST_P(RtlLaunch, CyclesEqualTheCycleEngines) {
  SKIP_WITHOUT_CORE_MODEL(Arch());
  DRV_ASSIGN_OR_FAIL(LaunchResult rtl, LaunchOnce("rtl", Arch()));
  DRV_ASSIGN_OR_FAIL(LaunchResult cycle, LaunchOnce("cycle", Arch()));
  EXPECT_EQ(rtl.stats.cycles, cycle.stats.cycles);
  EXPECT_TRUE(rtl.frame == cycle.frame) << "the frames differ";
}

// The two sizes the core is Verilated at (rtl::CoreModelNames()).
INSTANTIATE_TEST_SUITE_P(CoreModels, RtlLaunch, ::testing::Values("tiny", "rtl-16x16"),
                         [](const ::testing::TestParamInfo<std::string>& info) {
                           return info.param == "tiny" ? std::string("tiny") : std::string("rtl16x16");
                         });

TEST(RtlDevice, TpuPlatformRegistersTheRtlEngine) {
  DRV_ASSIGN_OR_FAIL(Platform * tpu, GetPlatform("tpu"));
  (void)tpu;
  EXPECT_THAT(simulator::EngineNames(), Contains("rtl"));
}

TEST(RtlDevice, ArchWithoutCoreModelFailsAtOpenWithCheckRtlArchMessage) {
  DRV_ASSIGN_OR_FAIL(isa::ArchConfig v4, isa::LoadPreset("tpu-v4"));  // 128x128: no core model
  const absl::Status why = rtl::CheckRtlArch(v4);
  ASSERT_FALSE(why.ok());
  absl::StatusOr<std::unique_ptr<Device>> dev = OpenWith("rtl", v4);
  ASSERT_FALSE(dev.ok());
  EXPECT_EQ(dev.status().code(), why.code());
  EXPECT_THAT(dev.status().message(), HasSubstr("engine 'rtl'"));
  EXPECT_THAT(dev.status().message(), HasSubstr("tpu-v4"));
  EXPECT_THAT(dev.status().message(), HasSubstr(std::string(why.message())));
}

TEST(RtlDevice, UnsupportedInstructionIsRefusedAtLoadNamingIt) {
  SKIP_WITHOUT_CORE_MODEL(TinyArch());
  DRV_ASSIGN_OR_FAIL(auto dev, OpenWith("rtl", TinyArch()));
  // Instruction 1 is VECTOR exp, which the RTL core does not implement.
  DRV_ASSIGN_OR_FAIL(isa::Program program,
                     MakeProgram("LOAD dtype=f32 dram_addr=0x0 ub_row=0 rows=2 lanes=8 row_stride=8 lane_stride=1\n"
                                 "VECTOR op=exp dst_row=0 a_row=0 b_row=0 rows=2\n",
                                 TinyArch()));
  absl::StatusOr<std::unique_ptr<Executable>> exe = dev->LoadProgram(program);
  ASSERT_FALSE(exe.ok());
  EXPECT_EQ(exe.status().code(), absl::StatusCode::kUnimplemented) << exe.status();
  EXPECT_THAT(exe.status().message(), HasSubstr("instruction 1 (VECTOR exp)"));
  // The functional engine runs the same program.
  DRV_ASSIGN_OR_FAIL(auto functional, OpenWith("functional", TinyArch()));
  EXPECT_TRUE(functional->LoadProgram(program).ok());
}

TEST(RtlDevice, VcdOptionsNeedTheRtlEngineAndAWindowWithEndAfterStart) {
  absl::StatusOr<std::unique_ptr<Device>> dev = OpenWith("cycle", TinyArch(), "wave.vcd");
  ASSERT_FALSE(dev.ok());
  EXPECT_EQ(dev.status().code(), absl::StatusCode::kInvalidArgument);
  EXPECT_THAT(dev.status().message(), HasSubstr("vcd_path ('wave.vcd') needs the rtl engine"));

  simulator::VcdWindow empty;
  empty.start = 10;
  empty.end = 10;
  dev = OpenWith("rtl", TinyArch(), "wave.vcd", empty);
  ASSERT_FALSE(dev.ok());
  EXPECT_EQ(dev.status().code(), absl::StatusCode::kInvalidArgument);
  EXPECT_THAT(dev.status().message(), HasSubstr("vcd_window: end (10) must be greater than start (10)"));
}

std::string ReadFile(const std::filesystem::path& path) {
  std::ifstream in(path, std::ios::binary);
  std::ostringstream buf;
  buf << in.rdbuf();
  return buf.str();
}

TEST(RtlDevice, EachLaunchWritesItsOwnVcdFile) {
  SKIP_WITHOUT_CORE_MODEL(TinyArch());
  const std::filesystem::path dir =
      std::filesystem::path(::testing::TempDir()) / ("tpusim_rtl_vcd_" + std::to_string(::getpid()));
  std::filesystem::remove_all(dir);
  std::filesystem::create_directories(dir);
  simulator::VcdWindow window;  // instructions 0..3: LOAD to MATMUL
  window.unit = simulator::VcdWindow::Unit::kInstructions;
  window.start = 0;
  window.end = 4;
  DRV_ASSIGN_OR_FAIL(auto dev, OpenWith("rtl", TinyArch(), (dir / "wave.vcd").string(), window));
  DRV_ASSIGN_OR_FAIL(isa::Program program, MakeProgram(MatmulBody(8), TinyArch()));
  DRV_ASSIGN_OR_FAIL(std::unique_ptr<Executable> exe, dev->LoadProgram(program));
  DRV_ASSIGN_OR_FAIL(DeviceMemory x, dev->Allocate(64));
  DRV_ASSIGN_OR_FAIL(DeviceMemory y, dev->Allocate(64));
  DRV_ASSIGN_OR_FAIL(auto stream, dev->CreateStream());
  const std::vector<float> in = InputX(8);
  stream->MemcpyHostToDevice(x, in.data(), 64);
  stream->Launch(*exe, {x}, {y}, nullptr);
  stream->Launch(*exe, {x}, {y}, nullptr);
  DRV_ASSERT_OK(stream->Synchronize());
  // Launch 0 writes wave.vcd, launch 1 wave.1.vcd (DeviceOptions::vcd_path); both are VCD files.
  for (const char* name : {"wave.vcd", "wave.1.vcd"}) {
    ASSERT_TRUE(std::filesystem::exists(dir / name)) << name;
    EXPECT_THAT(ReadFile(dir / name), HasSubstr("$enddefinitions")) << name;
  }
  EXPECT_FALSE(std::filesystem::exists(dir / "wave.2.vcd"));
  std::filesystem::remove_all(dir);
}

}  // namespace
}  // namespace tpusim::driver::testing
