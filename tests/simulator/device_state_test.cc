// Dram, DeviceState, RunStats::Accumulate and the engine registry.
#include <algorithm>
#include <cstdint>
#include <vector>

#include "sim_test_util.h"

namespace tpusim::simulator {
namespace {

using testing::SimTest;

TEST(DramTest, UnwrittenBytesReadZeroAndNoPageIsAllocated) {
  Dram dram(1 << 20);
  std::vector<uint8_t> buf(100, 0xAB);
  ASSERT_TRUE(dram.Read(5000, buf.data(), buf.size()).ok());
  EXPECT_EQ(buf, std::vector<uint8_t>(100, 0));
  EXPECT_EQ(dram.touched_bytes(), 0u);
}

TEST(DramTest, WriteAcrossPageBoundaryReadsBack) {
  Dram dram(1 << 20);
  std::vector<uint8_t> data(300);
  for (size_t i = 0; i < data.size(); ++i) data[i] = static_cast<uint8_t>(i * 7 + 1);
  const uint64_t addr = Dram::kPageBytes - 100;  // 100 bytes in page 0, 200 in page 1
  ASSERT_TRUE(dram.Write(addr, data.data(), data.size()).ok());
  EXPECT_EQ(dram.touched_bytes(), 2 * Dram::kPageBytes);
  std::vector<uint8_t> back(300);
  ASSERT_TRUE(dram.Read(addr, back.data(), back.size()).ok());
  EXPECT_EQ(back, data);
  uint8_t before = 0xFF;  // the byte just before the write stays zero
  ASSERT_TRUE(dram.Read(addr - 1, &before, 1).ok());
  EXPECT_EQ(before, 0);
}

TEST(DramTest, LargeSparseDramCostsOnlyTouchedPages) {
  Dram dram(uint64_t{32} << 30);  // 32 GiB
  const uint32_t v = 0xDEADBEEF;
  ASSERT_TRUE(dram.Write((uint64_t{32} << 30) - 4, &v, 4).ok());
  EXPECT_EQ(dram.touched_bytes(), Dram::kPageBytes);
}

TEST(DramTest, OutOfRangeNamesRangeAndSize) {
  Dram dram(4096);
  uint8_t b[16] = {};
  const absl::Status s = dram.Write(4090, b, 16);
  EXPECT_EQ(s.code(), absl::StatusCode::kOutOfRange);
  EXPECT_NE(std::string(s.message()).find("0xffa"), std::string::npos) << s;   // 4090
  EXPECT_NE(std::string(s.message()).find("0x100a"), std::string::npos) << s;  // 4106
  EXPECT_NE(std::string(s.message()).find("4096"), std::string::npos) << s;
  EXPECT_EQ(dram.touched_bytes(), 0u);  // nothing written
  // addr + n wraps 64 bits: still an error, not a small range.
  EXPECT_EQ(dram.Read(UINT64_MAX - 2, b, 16).code(), absl::StatusCode::kOutOfRange);
  EXPECT_TRUE(dram.CheckRange(4096, 0).ok());
  EXPECT_TRUE(dram.CheckRange(0, 4096).ok());
  EXPECT_FALSE(dram.CheckRange(1, 4096).ok());
}

TEST_F(SimTest, DeviceStateIsSizedFromTheArchAndMode) {
  // tiny: 8 lanes; 16384 UB bytes / (8 lanes * 4 bytes) = 512 rows in BF16_FP32 mode.
  EXPECT_EQ(state_.lanes, 8u);
  EXPECT_EQ(state_.ub_rows, 512u);
  EXPECT_EQ(state_.ub.size(), 512u * 8);
  EXPECT_EQ(state_.acc.size(), 64u * 8);
  EXPECT_EQ(state_.dram.size(), 268435456u);
  // INT8_INT32: one byte per element, so 16384 / 8 = 2048 rows.
  state_.ub[3] = 7;
  state_.semaphores[2] = 1;
  const uint32_t v = 42;
  ASSERT_TRUE(state_.dram.Write(64, &v, 4).ok());
  state_.ResetOnChip(isa::INT8_INT32);
  EXPECT_EQ(state_.ub_rows, 2048u);
  EXPECT_EQ(state_.ub.size(), 2048u * 8);
  EXPECT_EQ(state_.ub[3], 0u);
  EXPECT_EQ(state_.semaphores[2], 0u);
  EXPECT_EQ(Get<uint32_t>(64, 1)[0], 42u);  // DRAM is kept
}

TEST(RunStatsTest, AccumulateAddsEveryCounterAndOpVectors) {
  RunStats a, b;
  a.engine = "functional";
  a.instructions = 3;
  a.by_opcode[isa::OpcodeIndex(isa::Opcode::MATMUL)] = 2;
  a.macs = 10;
  a.op_macs = {1, 2};
  a.op_instructions = {1};
  b.instructions = 4;
  b.by_opcode[isa::OpcodeIndex(isa::Opcode::MATMUL)] = 1;
  b.macs = 5;
  b.useful_macs = 4;
  b.vector_elements = 6;
  b.dram_to_ub_bytes = 7;
  b.ub_to_dram_bytes = 8;
  b.dram_to_weights_bytes = 9;
  b.cycles = 11;
  b.op_macs = {10, 20, 30};
  b.op_instructions = {2, 3};
  a.Accumulate(b);
  EXPECT_EQ(a.engine, "functional");
  EXPECT_EQ(a.instructions, 7u);
  EXPECT_EQ(a.count(isa::Opcode::MATMUL), 3u);
  EXPECT_EQ(a.macs, 15u);
  EXPECT_EQ(a.useful_macs, 4u);
  EXPECT_EQ(a.vector_elements, 6u);
  EXPECT_EQ(a.dram_to_ub_bytes, 7u);
  EXPECT_EQ(a.ub_to_dram_bytes, 8u);
  EXPECT_EQ(a.dram_to_weights_bytes, 9u);
  EXPECT_EQ(a.cycles, 11u);
  EXPECT_EQ(a.op_macs, (std::vector<uint64_t>{11, 22, 30}));
  EXPECT_EQ(a.op_instructions, (std::vector<uint64_t>{3, 3}));
}

TEST(EngineRegistryTest, FunctionalIsAlwaysRegistered) {
  const std::vector<std::string> names = EngineNames();
  EXPECT_NE(std::find(names.begin(), names.end(), "functional"), names.end());
  auto arch = isa::LoadPreset("tiny");
  ASSERT_TRUE(arch.ok()) << arch.status();
  auto engine = CreateEngine("functional", *arch);
  ASSERT_TRUE(engine.ok()) << engine.status();
  EXPECT_EQ((*engine)->name(), "functional");
}

TEST(EngineRegistryTest, UnknownNameIsNotFoundListingRegisteredEngines) {
  auto arch = isa::LoadPreset("tiny");
  ASSERT_TRUE(arch.ok());
  auto engine = CreateEngine("warp-drive", *arch);
  EXPECT_STATUS(engine.status(), absl::StatusCode::kNotFound, "warp-drive");
  EXPECT_STATUS(engine.status(), absl::StatusCode::kNotFound, "functional");
}

TEST(EngineRegistryTest, RegisteredFactoryIsFoundByName) {
  RegisterEngine("functional-alias", [](const isa::ArchConfig& arch) {
    auto e = CreateEngine("functional", arch);
    return e.ok() ? std::move(*e) : nullptr;
  });
  auto arch = isa::LoadPreset("tiny");
  ASSERT_TRUE(arch.ok());
  EXPECT_TRUE(CreateEngine("functional-alias", *arch).ok());
  RegisterEngine("broken", [](const isa::ArchConfig&) { return std::unique_ptr<Engine>(); });
  EXPECT_EQ(CreateEngine("broken", *arch).status().code(), absl::StatusCode::kInternal);
}

}  // namespace
}  // namespace tpusim::simulator
