// A launched program may only touch its own DRAM frame: other allocations on the device are safe.
#include <gtest/gtest.h>

#include "tpusim/isa/arch_config.h"
#include "tpusim/isa/isa.h"
#include "tpusim/simulator/engine.h"

namespace tpusim::simulator {
namespace {

TEST(FunctionalEngine, AccessOutsideTheProgramFrameIsADeviceError) {
  auto arch = isa::LoadPreset("tiny");
  ASSERT_TRUE(arch.ok());
  DeviceState state(*arch, isa::BF16_FP32);
  // Frame [0x1000, 0x1000 + 256). The STORE writes 8 f32 = 32 bytes at frame offset 0x100 = 256,
  // i.e. just past the frame: inside the DRAM but outside the program's frame.
  auto code = isa::AssembleProgram(
      "STORE dtype=f32 dram_addr=0x100 ub_row=0 rows=1 lanes=8 row_stride=8 lane_stride=1\nHALT\n");
  ASSERT_TRUE(code.ok()) << code.status();
  isa::Program program;
  program.set_frame_bytes(256);
  const uint32_t sentinel = 0xDEADBEEF;
  ASSERT_TRUE(state.dram.Write(0x1100, &sentinel, 4).ok());
  auto engine = CreateEngine("functional", *arch);
  ASSERT_TRUE(engine.ok());
  auto stats = (*engine)->Run(Launch{&program, &*code, 0x1000}, state);
  ASSERT_FALSE(stats.ok());
  EXPECT_NE(stats.status().message().find("instruction 0 (STORE)"), std::string::npos)
      << stats.status();
  EXPECT_NE(stats.status().message().find("256-byte frame"), std::string::npos) << stats.status();
  uint32_t after = 0;
  ASSERT_TRUE(state.dram.Read(0x1100, &after, 4).ok());
  EXPECT_EQ(after, sentinel);
}

}  // namespace
}  // namespace tpusim::simulator
