// The generated SystemVerilog packages carry the table's facts (expected values typed from the
// bit diagrams in opcodes.def and from configs/tiny.textproto, not from the generator).
#include "tpusim/rtl/package_gen.h"

#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include "tpusim/isa/arch_config.h"

namespace tpusim::rtl {
namespace {

using ::testing::HasSubstr;

TEST(IsaPackage, CarriesOpcodesFromTheTable) {
  const std::string pkg = GenerateIsaPackage();
  EXPECT_THAT(pkg, HasSubstr("package isa_pkg;"));
  EXPECT_THAT(pkg, HasSubstr("localparam logic [7:0] OP_LOAD = 8'h01;"));
  EXPECT_THAT(pkg, HasSubstr("localparam logic [7:0] OP_MATMUL = 8'h10;"));
  EXPECT_THAT(pkg, HasSubstr("localparam logic [7:0] OP_HALT = 8'h3F;"));
  EXPECT_THAT(pkg, HasSubstr("localparam int INSTRUCTION_BITS = 256;"));
}

TEST(IsaPackage, CarriesFieldPositions) {
  const std::string pkg = GenerateIsaPackage();
  EXPECT_THAT(pkg, HasSubstr("localparam int DMA_DRAM_ADDR_LSB = 16;"));
  EXPECT_THAT(pkg, HasSubstr("localparam int DMA_DRAM_ADDR_WIDTH = 48;"));
  EXPECT_THAT(pkg, HasSubstr("localparam int MATMUL_ACCUMULATE_LSB = 11;"));
  EXPECT_THAT(pkg, HasSubstr("localparam int VECTOR_IMM_LSB = 128;"));
  EXPECT_THAT(pkg, HasSubstr("localparam int VOP_REDUCE_MAX = 49;"));
  EXPECT_THAT(pkg, HasSubstr("localparam int DTYPE_BF16 = 1;"));
}

TEST(ArchPackage, CarriesTinyPresetParameters) {
  auto tiny = isa::LoadPreset("tiny");
  ASSERT_TRUE(tiny.ok()) << tiny.status();
  const std::string pkg = GenerateArchPackage(*tiny);
  EXPECT_THAT(pkg, HasSubstr("localparam int ARRAY_ROWS = 8;"));
  EXPECT_THAT(pkg, HasSubstr("localparam int ACC_ENTRIES = 64;"));
  // 16384 UB bytes / (8 lanes * 4 bytes) = 512 rows.
  EXPECT_THAT(pkg, HasSubstr("localparam int UB_ROWS = 512;"));
  // tiny: 16384 B / 8 lanes = 2048 int8 rows; 2 banks; 8-entry queues (configs/tiny.textproto).
  EXPECT_THAT(pkg, HasSubstr("localparam int UB_ROWS_INT8 = 2048;"));
  EXPECT_THAT(pkg, HasSubstr("localparam int UB_BANKS = 2;"));
  EXPECT_THAT(pkg, HasSubstr("localparam int INSTRUCTION_QUEUE_DEPTH = 8;"));
  EXPECT_THAT(pkg, HasSubstr("do not edit"));
}

}  // namespace
}  // namespace tpusim::rtl
