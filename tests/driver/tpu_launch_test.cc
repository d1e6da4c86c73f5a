// Loading and launching hand-assembled ISA programs on the tpu backend (tiny arch, functional engine).
#include <vector>

#include "driver_test_util.h"
#include "gmock/gmock.h"
#include "tpusim/isa/isa.h"

namespace tpusim::driver::testing {
namespace {

using ::testing::HasSubstr;

// A program over a 128-byte frame: input x = [2, 8] f32 at offset 0, output y = [2, 8] f32 at 64.
// `body` is its assembly text; HALT is appended.
absl::StatusOr<isa::Program> FrameProgram(const std::string& body, const isa::ArchConfig& arch) {
  return AssembledProgram(body + "HALT\n", arch, {{"x", 0, {2, 8}}}, {{"y", 64, {2, 8}}}, 128, "add_one");
}

// y = x + 1: two rows of eight lanes through the vector unit.
constexpr char kAddOne[] =
    "LOAD dtype=f32 dram_addr=0x0 ub_row=0 rows=2 lanes=8 row_stride=8 lane_stride=1\n"
    "VECTOR op=add_imm dst_row=0 a_row=0 b_row=0 rows=2 imm=1\n"
    "STORE dtype=f32 dram_addr=0x40 ub_row=0 rows=2 lanes=8 row_stride=8 lane_stride=1\n";

std::vector<float> Iota16() {
  std::vector<float> v(16);
  for (int i = 0; i < 16; ++i) v[i] = 0.5f * static_cast<float>(i) - 3.0f;  // -3.0, -2.5, ..., 4.5
  return v;
}

TEST(TpuLaunch, AddOneProgramProducesInputPlusOneAndCountsInstructions) {
  DRV_ASSIGN_OR_FAIL(auto dev, Open("tpu"));
  DRV_ASSIGN_OR_FAIL(isa::Program program, FrameProgram(kAddOne, TinyArch()));
  DRV_ASSIGN_OR_FAIL(std::unique_ptr<Executable> exe, dev->LoadProgram(program));
  EXPECT_EQ(exe->program().frame_bytes(), 128u);
  DRV_ASSIGN_OR_FAIL(auto stream, dev->CreateStream());
  DRV_ASSIGN_OR_FAIL(DeviceMemory x, dev->Allocate(64));
  DRV_ASSIGN_OR_FAIL(DeviceMemory y, dev->Allocate(64));
  const std::vector<float> in = Iota16();
  std::vector<float> out(16, 0.0f);
  simulator::RunStats stats;
  std::unique_ptr<Event> before = dev->CreateEvent(), after = dev->CreateEvent();
  stream->MemcpyHostToDevice(x, in.data(), 64);
  stream->RecordEvent(*before);
  stream->Launch(*exe, {x}, {y}, &stats);
  stream->RecordEvent(*after);
  stream->MemcpyDeviceToHost(out.data(), y, 64);
  DRV_ASSERT_OK(stream->Synchronize());
  // Each value is a multiple of 0.5 in [-3, 4.5]; adding 1 is exact in fp32.
  for (int i = 0; i < 16; ++i) EXPECT_EQ(out[i], in[i] + 1.0f) << i;
  EXPECT_EQ(stats.count(isa::Opcode::LOAD), 1u);
  EXPECT_EQ(stats.count(isa::Opcode::VECTOR), 1u);
  EXPECT_EQ(stats.count(isa::Opcode::STORE), 1u);
  EXPECT_EQ(stats.count(isa::Opcode::MATMUL), 0u);
  EXPECT_EQ(stats.dram_to_ub_bytes, 64u);  // 2 rows x 8 lanes x 4 bytes
  EXPECT_EQ(stats.ub_to_dram_bytes, 64u);
  EXPECT_LE(before->cycles(), after->cycles());
  EXPECT_EQ(after->cycles() - before->cycles(), stats.cycles);
}

TEST(TpuLaunch, RepeatedLaunchesOfOneExecutableReuseItsFrame) {
  DRV_ASSIGN_OR_FAIL(auto dev, Open("tpu"));
  DRV_ASSIGN_OR_FAIL(isa::Program program, FrameProgram(kAddOne, TinyArch()));
  DRV_ASSIGN_OR_FAIL(std::unique_ptr<Executable> exe, dev->LoadProgram(program));
  DRV_ASSIGN_OR_FAIL(auto stream, dev->CreateStream());
  DRV_ASSIGN_OR_FAIL(DeviceMemory a, dev->Allocate(64));
  DRV_ASSIGN_OR_FAIL(DeviceMemory b, dev->Allocate(64));
  const std::vector<float> in = Iota16();
  std::vector<float> out(16, 0.0f);
  stream->MemcpyHostToDevice(a, in.data(), 64);
  stream->Launch(*exe, {a}, {b}, nullptr);  // b = in + 1
  stream->Launch(*exe, {b}, {a}, nullptr);  // a = in + 2
  stream->Launch(*exe, {a}, {b}, nullptr);  // b = in + 3
  stream->MemcpyDeviceToHost(out.data(), b, 64);
  DRV_ASSERT_OK(stream->Synchronize());
  for (int i = 0; i < 16; ++i) EXPECT_EQ(out[i], in[i] + 3.0f) << i;
}

TEST(TpuLaunch, OutOfRangeLoadIsAStickyErrorNamingTheInstruction) {
  DRV_ASSIGN_OR_FAIL(auto dev, Open("tpu"));
  // Instruction 1 reads 4 GiB past the frame base, beyond tiny's 256 MiB of DRAM.
  DRV_ASSIGN_OR_FAIL(isa::Program program,
                     FrameProgram("VECTOR op=fill dst_row=0 a_row=0 b_row=0 rows=1 imm=0\n"
                                  "LOAD dtype=f32 dram_addr=0x100000000 ub_row=0 rows=1 lanes=8 "
                                  "row_stride=8 lane_stride=1\n",
                                  TinyArch()));
  DRV_ASSIGN_OR_FAIL(std::unique_ptr<Executable> exe, dev->LoadProgram(program));
  DRV_ASSIGN_OR_FAIL(auto stream, dev->CreateStream());
  DRV_ASSIGN_OR_FAIL(DeviceMemory x, dev->Allocate(64));
  DRV_ASSIGN_OR_FAIL(DeviceMemory y, dev->Allocate(64));
  std::vector<uint8_t> host(64, 0xaa);
  stream->Launch(*exe, {x}, {y}, nullptr);
  stream->MemcpyDeviceToHost(host.data(), y, 64);  // skipped after the failure
  absl::Status s = stream->Synchronize();
  ASSERT_FALSE(s.ok());
  EXPECT_THAT(s.message(), HasSubstr("instruction 1"));
  EXPECT_THAT(s.message(), HasSubstr("LOAD"));
  EXPECT_EQ(stream->status(), s);
  EXPECT_EQ(host, std::vector<uint8_t>(64, 0xaa));
}

TEST(TpuLaunch, WrongBindingSizesOrCountsAreStickyInvalidArgument) {
  DRV_ASSIGN_OR_FAIL(auto dev, Open("tpu"));
  DRV_ASSIGN_OR_FAIL(isa::Program program, FrameProgram(kAddOne, TinyArch()));
  DRV_ASSIGN_OR_FAIL(std::unique_ptr<Executable> exe, dev->LoadProgram(program));
  DRV_ASSIGN_OR_FAIL(DeviceMemory small, dev->Allocate(32));
  DRV_ASSIGN_OR_FAIL(DeviceMemory y, dev->Allocate(64));
  {
    DRV_ASSIGN_OR_FAIL(auto stream, dev->CreateStream());
    stream->Launch(*exe, {small}, {y}, nullptr);  // x needs 2 x 8 x 4 = 64 bytes
    absl::Status s = stream->Synchronize();
    EXPECT_EQ(s.code(), absl::StatusCode::kInvalidArgument);
    EXPECT_THAT(s.message(), HasSubstr("'x'"));
    EXPECT_THAT(s.message(), HasSubstr("64"));
  }
  {
    DRV_ASSIGN_OR_FAIL(auto stream, dev->CreateStream());
    stream->Launch(*exe, {y}, {}, nullptr);
    absl::Status s = stream->Synchronize();
    EXPECT_EQ(s.code(), absl::StatusCode::kInvalidArgument);
    EXPECT_THAT(s.message(), HasSubstr("y"));
  }
}

TEST(TpuLaunch, ProgramForADifferentArchIsRejectedAtLoad) {
  DRV_ASSIGN_OR_FAIL(auto dev, Open("tpu"));
  DRV_ASSIGN_OR_FAIL(isa::ArchConfig v1, isa::LoadPreset("tpu-v1"));
  DRV_ASSIGN_OR_FAIL(isa::Program program, FrameProgram(kAddOne, v1));
  absl::StatusOr<std::unique_ptr<Executable>> exe = dev->LoadProgram(program);
  ASSERT_EQ(exe.status().code(), absl::StatusCode::kFailedPrecondition);
  EXPECT_THAT(exe.status().message(), HasSubstr("array_rows"));
  EXPECT_THAT(exe.status().message(), HasSubstr("256"));  // tpu-v1's array
  EXPECT_THAT(exe.status().message(), HasSubstr("8"));    // tiny's array
}

TEST(TpuLaunch, PrecisionTheArchDoesNotSupportIsRejectedAtLoad) {
  isa::ArchConfig int8_only = TinyArch();
  int8_only.clear_matmul_types();
  int8_only.add_matmul_types(isa::INT8_INT32);
  DRV_ASSIGN_OR_FAIL(auto dev, Open("tpu", int8_only));
  DRV_ASSIGN_OR_FAIL(isa::Program program, FrameProgram(kAddOne, int8_only));  // precision bf16
  absl::StatusOr<std::unique_ptr<Executable>> exe = dev->LoadProgram(program);
  ASSERT_EQ(exe.status().code(), absl::StatusCode::kFailedPrecondition);
  EXPECT_THAT(exe.status().message(), HasSubstr("BF16_FP32"));
}

TEST(TpuLaunch, MalformedProgramIsRejectedAtLoad) {
  DRV_ASSIGN_OR_FAIL(auto dev, Open("tpu"));
  DRV_ASSIGN_OR_FAIL(isa::Program program, FrameProgram(kAddOne, TinyArch()));
  program.set_code(program.code().substr(0, 40));  // one and a quarter instructions
  EXPECT_FALSE(dev->LoadProgram(program).ok());
}

TEST(TpuLaunch, ExecutableHoldsItsFrameUntilDestroyed) {
  DRV_ASSIGN_OR_FAIL(auto dev, Open("tpu"));
  DRV_ASSIGN_OR_FAIL(isa::Program program, FrameProgram(kAddOne, TinyArch()));
  const uint64_t before = dev->bytes_in_use();
  DRV_ASSIGN_OR_FAIL(std::unique_ptr<Executable> exe, dev->LoadProgram(program));
  EXPECT_EQ(dev->bytes_in_use(), before + 256);  // the 128-byte frame, one 256-byte granule
  exe.reset();
  EXPECT_EQ(dev->bytes_in_use(), before);
}

TEST(TpuLaunch, ExecutableOfAnotherDeviceIsRejected) {
  DRV_ASSIGN_OR_FAIL(auto dev, Open("tpu"));
  DRV_ASSIGN_OR_FAIL(auto other, Open("tpu"));
  DRV_ASSIGN_OR_FAIL(isa::Program program, FrameProgram(kAddOne, TinyArch()));
  DRV_ASSIGN_OR_FAIL(std::unique_ptr<Executable> foreign, other->LoadProgram(program));
  DRV_ASSIGN_OR_FAIL(DeviceMemory x, dev->Allocate(64));
  DRV_ASSIGN_OR_FAIL(DeviceMemory y, dev->Allocate(64));
  DRV_ASSIGN_OR_FAIL(auto stream, dev->CreateStream());
  stream->Launch(*foreign, {x}, {y}, nullptr);
  EXPECT_EQ(stream->Synchronize().code(), absl::StatusCode::kInvalidArgument);
}

// A stand-in for an executable; the cpu backend must refuse to launch anything.
class FakeExecutable : public Executable {
 public:
  const isa::Program& program() const override { return program_; }

 private:
  isa::Program program_;
};

TEST(CpuLaunch, LoadProgramIsUnimplementedAndLaunchFailsSticky) {
  DRV_ASSIGN_OR_FAIL(auto dev, Open("cpu"));
  DRV_ASSIGN_OR_FAIL(isa::Program program, FrameProgram(kAddOne, TinyArch()));
  EXPECT_EQ(dev->LoadProgram(program).status().code(), absl::StatusCode::kUnimplemented);
  DRV_ASSIGN_OR_FAIL(auto stream, dev->CreateStream());
  FakeExecutable fake;
  stream->Launch(fake, {}, {}, nullptr);
  EXPECT_EQ(stream->Synchronize().code(), absl::StatusCode::kUnimplemented);
}

}  // namespace
}  // namespace tpusim::driver::testing
