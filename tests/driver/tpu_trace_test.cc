// What a tpu device passes to its engine beyond the program: the timeline request
// (DeviceOptions::collect_trace) and the frame it exposes (Executable::frame), on the cycle engine.
#include <cstring>
#include <vector>

#include "driver_test_util.h"
#include "gmock/gmock.h"
#include "tpusim/isa/isa.h"

namespace tpusim::driver::testing {
namespace {

absl::StatusOr<std::unique_ptr<Device>> OpenCycle(bool collect_trace) {
  DeviceOptions options;
  options.engine = "cycle";
  options.arch = TinyArch();
  options.collect_trace = collect_trace;
  absl::StatusOr<Platform*> p = GetPlatform("tpu");
  if (!p.ok()) return p.status();
  return (*p)->OpenDevice(0, options);
}

// Launches AddOneProgram once on `dev`; returns its stats and (through `out`) y.
simulator::RunStats LaunchOnce(Device& dev, std::vector<float>& out, DeviceMemory* frame = nullptr) {
  simulator::RunStats stats;
  absl::StatusOr<isa::Program> program = AddOneProgram();
  EXPECT_TRUE(program.ok()) << program.status();
  absl::StatusOr<std::unique_ptr<Executable>> exe = dev.LoadProgram(*program);
  EXPECT_TRUE(exe.ok()) << exe.status();
  if (!exe.ok()) return stats;
  absl::StatusOr<std::unique_ptr<Stream>> stream = dev.CreateStream();
  absl::StatusOr<DeviceMemory> x = dev.Allocate(64), y = dev.Allocate(64);
  EXPECT_TRUE(stream.ok() && x.ok() && y.ok());
  std::vector<float> in(16);
  for (int i = 0; i < 16; ++i) in[i] = static_cast<float>(i);
  out.assign(16, 0.0f);
  (*stream)->MemcpyHostToDevice(*x, in.data(), 64);
  (*stream)->Launch(**exe, {*x}, {*y}, &stats);
  (*stream)->MemcpyDeviceToHost(out.data(), *y, 64);
  EXPECT_TRUE((*stream)->Synchronize().ok());
  if (frame != nullptr) {
    *frame = (*exe)->frame();
    std::vector<uint8_t> bytes(frame->size);
    EXPECT_TRUE(dev.CopyFromDevice(bytes.data(), *frame, frame->size).ok());
    // The output slot of the frame holds what the launch copied out.
    EXPECT_EQ(std::memcmp(bytes.data() + 64, out.data(), 64), 0);
  }
  return stats;
}

TEST(TpuTrace, CycleEngineFillsTheTimelineWhenTheDeviceAsks) {
  DRV_ASSIGN_OR_FAIL(auto dev, OpenCycle(/*collect_trace=*/true));
  std::vector<float> out;
  const simulator::RunStats stats = LaunchOnce(*dev, out);
  for (int i = 0; i < 16; ++i) EXPECT_EQ(out[i], static_cast<float>(i) + 1.0f) << i;
  ASSERT_GT(stats.cycles, 0u);
  std::vector<std::string> units;
  for (const simulator::TraceSlice& s : stats.trace) {
    units.push_back(s.unit);
    EXPECT_LE(s.end, stats.cycles);
  }
  EXPECT_THAT(units, ::testing::ElementsAre("load DMA", "controller", "vector unit", "controller", "store DMA"));
  // docs/timing.md: LOAD dispatched at 0 starts at 1 and takes ceil(64 B / 16 B per cycle) + 40 latency.
  ASSERT_FALSE(stats.trace.empty());
  EXPECT_EQ(stats.trace[0].instruction, 0u);
  EXPECT_EQ(stats.trace[0].start, 1u);
  EXPECT_EQ(stats.trace[0].end, 45u);
}

TEST(TpuTrace, NoTimelineUnlessAsked) {
  DRV_ASSIGN_OR_FAIL(auto dev, OpenCycle(/*collect_trace=*/false));
  std::vector<float> out;
  const simulator::RunStats stats = LaunchOnce(*dev, out);
  EXPECT_GT(stats.cycles, 0u);
  EXPECT_TRUE(stats.trace.empty());
}

TEST(TpuTrace, ExecutableFrameIsReadableAfterALaunch) {
  DRV_ASSIGN_OR_FAIL(auto dev, Open("tpu"));
  std::vector<float> out;
  DeviceMemory frame;
  LaunchOnce(*dev, out, &frame);
  EXPECT_GE(frame.size, 128u);
  EXPECT_FALSE(frame.is_null());
}

}  // namespace
}  // namespace tpusim::driver::testing
